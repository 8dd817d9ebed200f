"""Training and evaluation of every seq2seq model on a character task or translation data.

A dataset is a ``models.datasets.Seq2SeqData`` (``models.char_dataset.Dataset`` or
``models.translation_dataset.TranslationData``): ``src_train / tgt_train / src_test /
tgt_test`` (int64; targets start with the start symbol), ``pad_id`` / ``start_id`` /
``eos_id`` (pad and eos are None for the fixed-width character tasks), ``metric``
("exact_match" or "bleu"), ``src_vocab`` / ``tgt_vocab``, ``metadata()`` and ``codec()``.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
from tqdm import tqdm

import tinygrad_attn as tg
from tinygrad_attn.fileio import atomic_open, quote_path
from tinygrad_attn import heap
from tinygrad_attn.threads import ThreadAdapter, env_enabled

from .base import INITS, check_cell, check_choice
from .batching import batches_per_epoch, epoch_batches, pad_fraction, pad_report, \
    sequence_lengths
from .decode_length import DEFAULT_MAX_DECODE_LEN, default_max_decode_len
from .predict import _trim, predict  # predict: also models.train.predict, its old home
from .model_io import MODEL_NAMES, RNN_MODELS, save_model
from .recipe import average_candidate, check_recipe, make_optimizer
from .run_dir import RunDir
from .subword_sampling import check_subword_alpha, epoch_training_data, sampling_note
from .train_state import (all_finite, check_resume, load_state, recent_weights,
                          restore_state, save_state)

LR_SCHEDULES = ("constant", "cosine", "inverse-sqrt")
NONFINITE = ("stop", "skip")


@dataclass
class TrainConfig:
    """Hyperparameters. The defaults are the book's (DLFS2 ch. 8, ``train.py``): the
    attention model, D = 16, H = 256, batch 128, Adam 1e-3, gradient-norm clip 5.

    lr_schedule : "constant" (the book's), "cosine": the rate falls from ``lr`` to 0 over
        all the training batches (``tg.optim.CosineAnnealingLR``, stepped per batch), or
        "inverse-sqrt": it rises linearly to ``lr`` over ``warmup_steps`` batches, then
        falls as 1/sqrt(step) (``tg.optim.InverseSqrtLR``; Vaswani et al. 2017, sec. 5.3).
    warmup_steps : the warm-up of "inverse-sqrt", in batches (None: one epoch's batches).
    model : one of MODEL_NAMES. score : Luong score of the attention model.
    input_feeding : the attention model with Luong's attentional layer and input feeding.
    num_layers, bidirectional, residual, dropout : the encoder's (the Transformer's layers).
    cell : the recurrent models' cell, "lstm" (the book's) or "gru" (Cho et al. 2014).
    init : the recurrent models' initialisation, "book" (``models.base.book_init``: the
        book's, embeddings N(0, 0.01^2)) or "pytorch" (the layers' own: embeddings N(0, 1),
        weights U(-1/sqrt(fan_in), 1/sqrt(fan_in))), which learns faster on translation.
    teacher_forcing : probability of feeding the true previous token (1 = always;
        below 1 = scheduled sampling, see ``Seq2SeqModel.forward``).
    label_smoothing : in [0, 1) (Szegedy et al. 2016); used by the Transformer recipe.
    heads, ff_size : the Transformer's attention heads and feed-forward width; its d_model
        is ``hidden_size``.
    beam : beam width of the evaluation (1 = greedy). max_minutes : stop training after this
        many minutes of wall time (checked after every batch), then evaluate.
    max_decode_len : longest output of the translation evaluation, in tokens; None (the
        default): resolved once by :func:`train` from the data
        (``models.decode_length.default_max_decode_len``; the checkpoint records it).
    valid_fraction : the share of the training items held out to choose the epoch (0: no
        validation split, the last epoch is chosen), in [0, 0.9].
    nonfinite : "stop" (raise at a NaN/inf loss or gradient norm) or "skip" (skip that step).
    bucket : batches of similar-length items (``models.batching.length_batches``: fewer
        padding tokens, every item once per epoch) or, False, random batches (the book's);
        None: by length for translation, random for the fixed-width character tasks.
    share_embeddings : the Transformer's source and target embeddings and output layer are
        one matrix (needs one joint vocabulary: ``data.src_vocab == data.tgt_vocab``).
    average_last : None, or K >= 2: the average of the last K epochs' weights is scored on
        validation after training and chosen if it beats every epoch (needs a validation
        split; K <= epochs). length_penalty : the beam search's GNMT exponent (``alpha``).
    subword_alpha : 0 (off) or, for bpe / unigram data, the subword regularisation of the
        training sentences every epoch (``models.subword_sampling``; bpe: below 1).
    init_seed : None (``seed``) or an integer >= 0 that seeds the model alone: its initial
        weights and its dropout. The validation split, the vocabulary and the batch order
        stay ``seed``'s, so runs that differ only in ``init_seed`` share one vocabulary
        and can be decoded together (``models.ensemble``).
    """
    model: str = "attention"
    epochs: int = 4
    batch_size: int = 128
    wordvec_size: int = 16
    hidden_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "constant"
    max_grad_norm: float = 5.0
    seed: int = 0
    score: str = "dot"
    input_feeding: bool = False
    num_layers: int = 1
    bidirectional: bool = False
    residual: bool = False
    dropout: float = 0.0
    cell: str = "lstm"
    init: str = "book"
    teacher_forcing: float = 1.0
    label_smoothing: float = 0.0
    heads: int = 4
    ff_size: int = 512
    beam: int = 1
    max_minutes: float | None = None
    max_decode_len: int | None = None
    valid_fraction: float = 0.1
    nonfinite: str = "stop"
    warmup_steps: int | None = None
    bucket: bool | None = None
    share_embeddings: bool = False
    average_last: int | None = None
    length_penalty: float = 0.6
    subword_alpha: float = 0.0
    init_seed: int | None = None

    @property
    def model_seed(self) -> int:
        """The seed of the model's initial weights and dropout: ``init_seed``, or ``seed``
        when it is None."""
        return self.seed if self.init_seed is None else self.init_seed


@dataclass(frozen=True)
class Interval:
    """The values a numeric :class:`TrainConfig` field may take: a ``kind`` (int or float)
    from ``low`` to ``high`` (None: no upper end), each end closed or open; with
    ``none_ok`` also None. A bool is never in it, nor NaN or inf. ``str()`` gives the
    interval as the error messages name it: ``>= 1``, ``> 0``, ``in [0, 1)``."""
    kind: type
    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none_ok: bool = False

    def __contains__(self, value) -> bool:
        if value is None:
            return self.none_ok
        kinds = (int, np.integer) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        if self.kind is float and not math.isfinite(float(value)):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else
                                      value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"


#: The one table of the numeric fields' ranges: :func:`train` checks a config against it,
#: and the command line builds its option types from it (``models.cli_options``, which adds
#: upper ends of its own to the integer sizes).
CONFIG_RANGES = {
    **{name: Interval(int, 1) for name in ("epochs", "batch_size", "wordvec_size",
                                           "hidden_size", "num_layers", "heads", "ff_size",
                                           "beam")},
    "max_decode_len": Interval(int, 1, none_ok=True),
    "seed": Interval(int, 0),
    "init_seed": Interval(int, 0, none_ok=True),
    "lr": Interval(float, 0, low_open=True),
    "max_grad_norm": Interval(float, 0, low_open=True),
    "dropout": Interval(float, 0, 1, high_open=True),
    "teacher_forcing": Interval(float, 0, 1),
    "label_smoothing": Interval(float, 0, 1, high_open=True),
    "valid_fraction": Interval(float, 0, 0.9),
    "max_minutes": Interval(float, 0, low_open=True, none_ok=True),
    "warmup_steps": Interval(int, 1, none_ok=True),
    "average_last": Interval(int, 2, none_ok=True),
    "length_penalty": Interval(float, 0, 10),
    "subword_alpha": Interval(float, 0, 1),
}


def build_model(config: TrainConfig, src_vocab_size: int, tgt_vocab_size: int):
    """The model ``config.model`` with ``config``'s sizes (and ``config.cell`` and
    ``config.init`` for a recurrent model), seeded with ``config.init_seed`` (None:
    ``config.seed``). Raises ValueError for an unknown model name, cell or init."""
    seed = config.model_seed
    if config.model == "transformer":
        from .transformer import Transformer
        return Transformer(src_vocab_size, tgt_vocab_size, d_model=config.hidden_size,
                           nhead=config.heads, num_encoder_layers=config.num_layers,
                           num_decoder_layers=config.num_layers,
                           dim_feedforward=config.ff_size, dropout=config.dropout,
                           share_embeddings=config.share_embeddings, seed=seed)
    if config.model not in RNN_MODELS:
        raise ValueError(f"unknown model {config.model!r} (fix: choose one of "
                         f"{', '.join(MODEL_NAMES)})")
    kwargs = dict(tgt_vocab_size=tgt_vocab_size, num_layers=config.num_layers,
                  residual=config.residual, dropout=config.dropout, cell=config.cell,
                  init=config.init, seed=seed)
    if config.model == "attention":
        kwargs["score"] = config.score
        kwargs["input_feeding"] = config.input_feeding
    if config.model != "bahdanau" or config.bidirectional:
        kwargs["bidirectional"] = config.bidirectional
    return RNN_MODELS[config.model](src_vocab_size, config.wordvec_size, config.hidden_size,
                                    **kwargs)


def training_batch(data, idx):
    """The training batch of rows ``idx``: (src (N, S'), tgt (N, T'+1), mask (N, S') or
    None), with the columns that are padding in every row cut off (translation data; the
    fixed-width character tasks come back whole, mask None)."""
    src, mask = _trim(data.src_train[idx], data.pad_id)
    tgt = data.tgt_train[idx]
    if data.pad_id is not None:
        tgt = tgt[:, :max(2, int((tgt != data.pad_id).sum(axis=1).max()))]
    return src, tgt, mask


def evaluate(model, data, *, beam: int = 1, max_len: int = DEFAULT_MAX_DECODE_LEN,
             split: str = "test", confidence: bool = False, alpha: float = 0.6) -> dict:
    """The score of :func:`evaluate_output` (see there), without the output."""
    return evaluate_output(model, data, beam=beam, max_len=max_len, split=split,
                           confidence=confidence, alpha=alpha)[0]


def evaluate_output(model, data, *, beam: int = 1, max_len: int = DEFAULT_MAX_DECODE_LEN,
                    split: str = "test", confidence: bool = False, alpha: float = 0.6):
    """Score of ``model`` on ``data``'s ``split`` ("test", or "valid" for a dataset from
    ``split_validation``): ``{"accuracy": exact match 0-1}`` for a character task (an item
    counts only if every answer position is right), or for translation the scores of
    ``models.metrics.translation_report`` against the raw reference text: ``bleu_cased``
    (sacreBLEU's defaults), ``bleu`` (lower-cased, the one that chooses the epoch),
    ``chrf``, all 0-100, and ``unseen_*`` (the items whose source is not in training); with
    ``confidence`` also each score's ``*_ci`` ([low, high], bootstrap 95 %, 1,000 paired
    resamples) and ``*_signature`` (sacreBLEU's). ``alpha``: the beam's length penalty.

    Returns (score, output): ``output`` is the detokenized text scored, one string per
    item (``decode_target``), for translation; None for a character task."""
    if split not in ("test", "valid"):
        raise ValueError(f"evaluate: split must be 'test' or 'valid', not {split!r}")
    src, tgt = (data.src_test, data.tgt_test) if split == "test" else \
        (data.src_valid, data.tgt_valid)
    pred = predict(model, src, data, beam=beam, max_len=max_len, alpha=alpha)
    if data.metric == "exact_match":
        acc = float((pred == tgt[:, 1:]).all(axis=1).mean()) if len(pred) else 0.0
        return {"accuracy": acc}, None
    hyps = [data.decode_target(row) for row in pred]
    return translation_score(data, hyps, split, confidence), hyps


def translation_score(data, hyps: list[str], split: str = "test",
                      confidence: bool = False) -> dict:
    """The scores of the hypotheses ``hyps`` (detokenized text, the codec's
    ``decode_target`` output, one per item of ``split``) against the reference sentences
    of ``data``'s ``split`` as the file has them (``data.test_pairs`` / ``valid_pairs``):
    ``bleu_cased`` (sacreBLEU's defaults, cased 13a), ``bleu`` (lower-cased, on the
    project's tokens; the score that chooses the epoch) and ``chrf``, 0-100 (see
    ``models.metrics.translation_report``). With ``confidence`` also their bootstrap 95 %
    intervals (``*_ci``), sacreBLEU signatures (``*_signature``) and ``bleu_description``,
    and for the test split the same scores (``unseen_*``) on the ``unseen_items`` test
    items whose source occurs in no training (or validation) pair
    (``models.metrics.unseen_report``). Raises ValueError for ``split="valid"`` without a
    validation split."""
    from .metrics import translation_report, unseen_report
    if split != "test" and getattr(data, "src_valid", None) is None:
        raise ValueError("this data has no validation split (fix: data = "
                         "data.split_validation(0.1, seed=0))")
    pairs = data.test_pairs if split == "test" else data.valid_pairs
    refs = [t for _, t in pairs]
    split_punctuation = getattr(data, "split_punctuation", True)
    score = translation_report(hyps, refs, confidence=confidence,
                               split_punctuation=split_punctuation)
    if confidence and split == "test":
        train_sources = [s for s, _ in list(data.train_pairs) + list(data.valid_pairs)]
        score.update(unseen_report(hyps, refs, [s for s, _ in pairs], train_sources,
                                   confidence=True, split_punctuation=split_punctuation))
    return score


def format_score(score: dict, split: str = "test") -> str:
    """``score`` from :func:`evaluate` as text, e.g. "test exact match 99.94%" or "test
    BLEU 30.12 (95 % CI 28.01-32.20), lower-cased BLEU 45.40 (...), chrF 50.11 (...)"
    (``models.metrics.format_translation_score``)."""
    if "accuracy" in score:
        return f"{split} exact match {100 * score['accuracy']:.2f}%"
    from .metrics import format_translation_score
    return format_translation_score(score, split)


def selection_metric(data) -> str:
    """The validation score that picks the best epoch: ``accuracy`` or ``bleu``."""
    return "accuracy" if data.metric == "exact_match" else "bleu"


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the message says what was saved. ``saved_epoch``: the
    epoch that ``last.npz`` holds (0: nothing to resume)."""

    def __init__(self, message: str, saved_epoch: int = 0):
        super().__init__(message)
        self.saved_epoch = saved_epoch


class NonFiniteError(ArithmeticError):
    """The loss or the gradient norm became NaN or inf; the message names epoch and step."""


class History(list):
    """The per-epoch records of :func:`train` (a list of dicts), ``results``: the test
    scores of the epoch chosen on the validation split and of the last epoch, and
    ``config``: the :class:`TrainConfig` the run used (``max_decode_len`` resolved; None
    until :func:`train` ends), and ``hypotheses``: the chosen weights' test output, one
    detokenized string per test item, as scored in ``results`` (None for a character task,
    and until :func:`train` ends)."""

    def __init__(self, records=()):
        super().__init__(records)
        self.results: dict = {}
        self.config: TrainConfig | None = None
        self.hypotheses: list[str] | None = None


def _check_config(config: TrainConfig) -> None:
    """Every numeric field in its CONFIG_RANGES interval (the command line checks them
    first, with its own messages), the named choices known (``lr_schedule``,
    ``nonfinite``, ``cell``, ``init``: checked for every model, before any folder is made);
    ValueError with the field and a fix."""
    for name, interval in CONFIG_RANGES.items():
        v = getattr(config, name)
        if v not in interval:
            what, fix = ("an integer", "pass one") if interval.kind is int else \
                ("a number", "see TrainConfig")
            raise ValueError(f"train: {name}={v!r} must be {what} {interval} (fix: {fix})")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"train: unknown lr_schedule {config.lr_schedule!r} (fix: choose "
                         f"one of {', '.join(LR_SCHEDULES)})")
    if config.nonfinite not in NONFINITE:
        raise ValueError(f"train: nonfinite={config.nonfinite!r} (fix: one of "
                         f"{', '.join(NONFINITE)})")
    check_cell("train", config.cell)
    check_choice("train", "init", config.init, INITS)
    check_recipe(config)


def with_validation(data, config: TrainConfig):
    """``data`` with a validation split carved from its training items
    (``config.valid_fraction``, seeded with ``config.seed``; the test split untouched), or
    ``data`` itself when the fraction is 0. Raises DataError (a ValueError) when a split
    would be empty."""
    if config.valid_fraction == 0:
        return data
    return data.split_validation(config.valid_fraction, seed=config.seed)


def _has_valid(data) -> bool:
    """True if ``data`` carries a validation split (``src_valid`` not None)."""
    return getattr(data, "src_valid", None) is not None


def _by_length(config: TrainConfig, data) -> bool:
    """True if the run's batches are of similar-length items (``config.bucket``; None: for
    data with padding, i.e. translation)."""
    return data.pad_id is not None and config.bucket is not False


def _train_epoch(model, data, config, optimizer, scheduler, rng, epoch, deadline):
    """One epoch of minibatch steps (``models.batching.epoch_batches``). Returns (losses
    of the steps taken, steps skipped, the batches taken). Raises NonFiniteError
    (config.nonfinite == "stop") at a NaN/inf loss or gradient norm, before the optimizer
    applies it."""
    batches = epoch_batches(data, config.batch_size, rng, _by_length(config, data))
    losses = []
    bar = tqdm(range(len(batches)), desc=f"epoch {epoch}/{config.epochs}", unit="it",
               dynamic_ncols=True, leave=False)
    with ThreadAdapter() as threads:          # BLAS threads follow the cores left free
        b, skipped = _take_steps(model, data, config, optimizer, scheduler, rng, epoch,
                                 deadline, batches, bar, losses, threads)
    bar.close()
    return losses, skipped, batches[:b + 1]


def _take_steps(model, data, config, optimizer, scheduler, rng, epoch, deadline, batches,
                bar, losses, threads) -> tuple[int, int]:
    """The steps of :func:`_train_epoch`; appends each applied step's loss to ``losses`` and
    returns (the index of the last batch taken, the number of steps skipped)."""
    n_batches, b, skipped = len(batches), -1, 0
    for b in bar:
        threads.update()
        src, tgt, mask = training_batch(data, batches[b])
        loss = model.loss(src, tgt, mask, pad_id=data.pad_id,
                          teacher_forcing_ratio=config.teacher_forcing,
                          label_smoothing=config.label_smoothing, rng=rng)
        optimizer.zero_grad()
        loss.backward()
        norm = tg.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        value = loss.item()
        if math.isfinite(value) and math.isfinite(norm):
            optimizer.step()
            losses.append(value)
        elif config.nonfinite == "stop":
            bar.close()
            what = f"the loss is {value}" if not math.isfinite(value) else \
                f"the gradient norm is {norm}"
            raise NonFiniteError(
                f"{what} at epoch {epoch}, step {b + 1} of {n_batches}; training stopped "
                f"and this epoch was not saved (fix: lower --lr, or --nonfinite skip to "
                f"skip such steps)")
        else:
            skipped += 1
        if scheduler is not None:               # the schedule follows the batches
            scheduler.step()
        if b % 10 == 0 and losses:
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
        if deadline is not None and time.perf_counter() > deadline:
            break
    return b, skipped


def train(data, config: TrainConfig, out_dir=None, log=print, model=None, *,
          resume: bool = False, overwrite: bool = False):
    """Train ``config.model`` on ``data`` with Adam, global-norm clipping and
    ``config.lr_schedule``; choose the epoch on a validation split; test once.

    A validation split (``config.valid_fraction`` of the training items, seeded with
    ``config.seed``) is carved from the training data first. Each epoch: seeded batches
    (of similar-length sentences for translation, see ``config.bucket`` and
    ``models.batching``) with a tqdm bar, then the validation score (:func:`evaluate`,
    greedy or beam ``config.beam``). The best validation epoch (the first, on ties) is the
    one chosen; with ``config.average_last`` the average of the last epochs' weights is
    one more candidate, scored on validation after the last epoch
    (``models.recipe.average_candidate``; ``chosen_epoch`` "avg A-B"). The model returned
    has the chosen weights. After the last epoch the test split is scored twice: with the
    chosen weights and with the last epoch's (``history.results``). With no validation
    split (fraction 0) the last epoch is chosen.

    out_dir : None, a folder, or an entered :class:`models.run_dir.RunDir`. A folder is
        locked for the run; after every epoch it gets ``last.npz`` (the whole training
        state: ``--resume`` continues from it bit for bit), ``model.npz`` (the chosen
        epoch's weights + config + codec), ``config.json`` and ``history.json``; at the
        end ``results.json``. resume / overwrite : see :class:`models.run_dir.RunDir`.

    Returns (model, history): ``history`` is a :class:`History`, one dict per epoch with
    ``loss`` (mean training cross-entropy, nats/token), ``valid_accuracy`` (0-1) or
    ``valid_bleu``/``valid_chrf`` (0-100), ``lr``, ``train_seconds``, ``eval_seconds``,
    ``epoch_seconds``, ``steps``, ``skipped_steps``, ``parameters``, ``pad_fraction``
    (padding / all tokens of the epoch's batches, 0-1).

    Raises ValueError for a config out of range, less than one batch of training data,
    ``share_embeddings`` over two vocabularies, a ``subword_alpha`` the data's tokenizer
    cannot sample with (``models.subword_sampling.check_subword_alpha``), or an unreadable
    ``TINYGRAD_ATTN_ADAPT_THREADS`` or ``TINYGRAD_ATTN_KEEP_FREED_MEMORY`` (their
    ``env_enabled``);
    RunDirError for an unusable folder; NonFiniteError for a NaN/inf loss or gradient;
    TrainingInterrupted on Ctrl-C (the message says what was saved).
    """
    _check_config(config)
    env_enabled()                   # a bad TINYGRAD_ATTN_ADAPT_THREADS fails before any work
    heap.env_enabled()              # ... and a bad TINYGRAD_ATTN_KEEP_FREED_MEMORY
    data = with_validation(data, config)
    n = len(data.src_train)
    if n // config.batch_size == 0:
        raise ValueError(f"train: {n} training items are fewer than one batch of "
                         f"{config.batch_size} (fix: lower --batch-size)")
    if config.share_embeddings and data.src_vocab != data.tgt_vocab:
        raise ValueError(f"train: share_embeddings needs one joint vocabulary, but the source "
                         f"and target vocabularies differ ({len(data.src_vocab):,} and "
                         f"{len(data.tgt_vocab):,} tokens) (fix: --joint-vocab, or drop "
                         f"--share-embeddings)")
    check_subword_alpha(config.subword_alpha, data)
    if out_dir is None or isinstance(out_dir, RunDir):
        return _train(data, config, out_dir, log, model)
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    with RunDir(out_dir, mode) as run:
        return _train(data, config, run, log, model)


def _train(data, config, run, log, model):
    model = model if model is not None else build_model(config, len(data.src_vocab),
                                                        len(data.tgt_vocab))
    resuming = run is not None and run.mode == "resume"
    if config.max_decode_len is None and not resuming:     # a resumed run keeps its own
        config = replace(config, max_decode_len=default_max_decode_len(data, model))
    optimizer, scheduler = make_optimizer(model, config, batches_per_epoch(
        len(data.src_train), config.batch_size, _by_length(config, data)))
    rng = np.random.default_rng(config.seed)
    history, best, start = History(), {"epoch": 0, "score": None}, 1
    best_state, recent = None, []
    if resuming:
        start, history, best, best_state, recent, config = _resume(
            run, data, config, model, optimizer, scheduler, rng, log)
    elif run is not None:
        run.clear_old_run()
        _write_json(asdict(config), run.file("config.json"))
    _log_start(data, config, model, log, rng)
    if config.subword_alpha:
        log(sampling_note(config, data))
    deadline = None if config.max_minutes is None else \
        time.perf_counter() + 60 * config.max_minutes
    saved = start - 1
    try:
        for epoch in range(start, config.epochs + 1):
            rec = _run_epoch(model, data, config, optimizer, scheduler, rng, epoch, deadline)
            history.append(rec)
            log(_epoch_line(rec, data))
            if _is_better(rec, best, data):
                best = {"epoch": epoch, "score": rec[f"valid_{selection_metric(data)}"]
                        if _has_valid(data) else None}
                best_state = {k: v.copy() for k, v in model.state_dict().items()}
            if config.average_last:             # the weights checkpoint averaging takes
                recent = (recent + [(epoch, model.state_dict())])[-config.average_last:]
            if run is not None:
                _save_epoch(run, model, data, config, optimizer, scheduler, rng, epoch,
                            history, best, best_state, recent if config.average_last else None)
                saved = epoch                   # last.npz holds it: resumable from here
                _write_json(list(history), run.file("history.json"))
            if deadline is not None and time.perf_counter() > deadline:
                log(f"stopping: the time limit of {config.max_minutes} minutes is reached")
                break
    except KeyboardInterrupt:
        raise TrainingInterrupted(_interrupted_message(run, saved), saved) from None
    best, best_state, average = average_candidate(model, data, config, run, recent, best,
                                                  best_state, log)
    return _finish(model, data, config, run, history, best, best_state, log, average)


def _run_epoch(model, data, config, optimizer, scheduler, rng, epoch, deadline) -> dict:
    model.train()
    t0 = time.perf_counter()
    train_data, sampled = epoch_training_data(data, config, epoch, model)  # subword_alpha
    losses, skipped, batches = _train_epoch(model, train_data, config, optimizer, scheduler,
                                            rng, epoch, deadline)
    t1 = time.perf_counter()
    score = evaluate(model, data, beam=config.beam, max_len=config.max_decode_len,
                     split="valid", alpha=config.length_penalty) if _has_valid(data) else {}
    t2 = time.perf_counter()
    return dict(epoch=epoch, loss=float(np.mean(losses)) if losses else float("nan"),
                **{f"valid_{k}": v for k, v in score.items()}, lr=optimizer.lr,
                train_seconds=t1 - t0, eval_seconds=t2 - t1, epoch_seconds=t2 - t0,
                steps=len(losses), skipped_steps=skipped, parameters=model.num_parameters(),
                pad_fraction=pad_fraction(batches, *sequence_lengths(train_data))
                if data.pad_id is not None else 0.0, **sampled)


def _is_better(rec: dict, best: dict, data) -> bool:
    """The first epoch, and after it an epoch with a strictly higher validation score (with
    no validation split: every epoch, so the last is chosen)."""
    if not _has_valid(data) or best["score"] is None:
        return True
    return rec[f"valid_{selection_metric(data)}"] > best["score"]


def _epoch_line(rec: dict, data) -> str:
    score = {k[len("valid_"):]: v for k, v in rec.items() if k.startswith("valid_")}
    text = format_score(score, "validation") if score else "no validation split"
    skipped = f", {rec['skipped_steps']} non-finite steps skipped" if rec["skipped_steps"] else ""
    return (f"epoch {rec['epoch']}: loss {rec['loss']:.4f}, {text}, "
            f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f} s, "
            f"{rec['steps']} steps{skipped}; eval {rec['eval_seconds']:.1f} s)")


def _log_start(data, config, model, log, rng) -> None:
    """The run's data line: the splits, vocabularies, input order, model and (data with
    padding) the batches and their pad fraction, by length and at random (``rng``'s
    next epoch, ``rng`` untouched)."""
    n_valid = len(data.src_valid) if _has_valid(data) else 0
    pads = ""
    if data.pad_id is not None:
        p = pad_report(data, config.batch_size, rng)
        pads = (f"; batches {'by length' if _by_length(config, data) else 'at random'}, pad "
                f"fraction {p['by_length']:.3f} by length / {p['random']:.3f} at random")
    log(f"data: {data.source}; {len(data.src_train)} train / {n_valid} validation (carved "
        f"from the training data, seed {config.seed}) / {len(data.src_test)} test items, "
        f"vocabulary {len(data.src_vocab)} -> {len(data.tgt_vocab)}, input "
        f"{'reversed' if data.reversed else 'as is'}{pads}; model: {config.model} "
        f"({type(model).__name__}), {model.num_parameters():,} parameters"
        f"{'' if config.init_seed is None else f', init seed {config.init_seed}'}")


def _interrupted_message(run, saved: int) -> str:
    if run is None:
        return "interrupted; nothing was saved (no output folder)"
    if saved == 0:
        return f"interrupted before the first epoch ended; nothing was saved in {run.path}"
    return f"interrupted; {os.path.join(run.path, 'last.npz')} holds epoch {saved}"


def _save_epoch(run, model, data, config, optimizer, scheduler, rng, epoch, history, best,
                best_state, recent=None) -> None:
    """After an epoch: refuse non-finite weights, then ``model.npz`` (the chosen epoch's
    weights, only when it changed) and ``last.npz`` (the whole state: weights of the last
    and the chosen epoch, and ``recent``, those kept for averaging), each written
    atomically."""
    if not all_finite(model):
        raise NonFiniteError(f"the weights hold NaN or inf after epoch {epoch}; they were not "
                             f"saved (fix: lower --lr)")
    meta = {"train_config": asdict(config), "epoch": best["epoch"],
            "selected_on": "validation" if _has_valid(data) else "last epoch"}
    if best["epoch"] == epoch:
        save_model(model, data, run.file("model.npz"), extra=meta)
    save_state(run.file("last.npz"), model=model, optimizer=optimizer, scheduler=scheduler,
               rng=rng, epoch=epoch, history=history, best=best, config=asdict(config),
               data_meta=data.metadata(), best_state=best_state, recent=recent)


def _resume(run, data, config, model, optimizer, scheduler, rng, log):
    """Load ``last.npz`` into the model, optimizer, scheduler and generators. Returns (next
    epoch, history, best, best weights, the weights kept for averaging, ``config`` with the
    run's recorded ``max_decode_len`` if it had None: runs before the default followed the
    data recorded 40). Raises CheckpointError / ValueError when the state does not belong
    to this data and config (``models.train_state.check_resume``)."""
    arrays, meta = load_state(run.file("last.npz"))
    if config.max_decode_len is None:           # the run's own (absent: None, then 40)
        recorded = meta["train_config"].get("max_decode_len")
        if recorded not in CONFIG_RANGES["max_decode_len"]:
            raise ValueError(f"resume: {quote_path(run.file('last.npz'))} records max_decode_len="
                             f"{recorded!r:.40}, not an integer >= 1 (fix: pass "
                             f"--max-decode-len)")
        config = replace(config, max_decode_len=recorded)
    check_resume(meta, config, data)
    if config.max_decode_len is None:
        config = replace(config, max_decode_len=DEFAULT_MAX_DECODE_LEN)
    restore_state(arrays, meta, model=model, optimizer=optimizer, scheduler=scheduler, rng=rng)
    best_state = {k[len("best."):]: v for k, v in arrays.items() if k.startswith("best.")}
    recent = recent_weights(arrays, meta)[-config.average_last:] if config.average_last else []
    log(f"resuming {run.path} after epoch {meta['epoch']} of {config.epochs}")
    return (int(meta["epoch"]) + 1, History(meta["history"]), meta["best"], best_state or None,
            recent, config)


def _finish(model, data, config, run, history, best, best_state, log, average=None):
    """Test the last epoch's and the chosen epoch's (or average's) weights; leave the
    chosen ones in the model; write results.json (with ``average``, the averaged weights'
    validation record of ``models.recipe.average_candidate``). Returns (model, history)."""
    if not history:
        raise ValueError("train: no epoch was trained (fix: --epochs must be larger than the "
                         "epochs already done when resuming)")
    kw = dict(beam=config.beam, max_len=config.max_decode_len, confidence=True,
              alpha=config.length_penalty)
    last, output = evaluate_output(model, data, **kw)
    if best_state is not None and best["epoch"] != history[-1]["epoch"]:
        model.load_state_dict(best_state)
        chosen, output = evaluate_output(model, data, **kw)
    else:
        chosen = last
    history.results = {"chosen_epoch": best["epoch"], "last_epoch": history[-1]["epoch"],
                       "chosen_on": "validation" if _has_valid(data) else "last epoch",
                       "valid_items": len(data.src_valid) if _has_valid(data) else 0,
                       "test_items": len(data.src_test),
                       "test_chosen": chosen, "test_last": last,
                       **({"average": average} if average else {})}
    log(f"test ({len(data.src_test)} items, scored once): {format_score(chosen)} with the "
        f"weights of epoch {best['epoch']} (chosen on {history.results['chosen_on']}); "
        f"{format_score(last)} "
        f"after the last epoch, {history[-1]['epoch']}")
    if "bleu_signature" in last:
        log(f"BLEU: {last['bleu_description']}; sacreBLEU signature {last['bleu_signature']}")
    if run is not None:
        _write_json(history.results, run.file("results.json"))
    history.config, history.hypotheses = config, output
    return model, history


def _write_json(obj, path) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (a unique temporary file, then
    ``os.replace``: see :mod:`tinygrad_attn.fileio`)."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
