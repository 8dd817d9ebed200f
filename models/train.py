"""Training and evaluation of every seq2seq model on a character task or translation data.

A dataset (``models.data.Dataset`` or ``models.translation_data.TranslationData``) offers
``src_train / tgt_train / src_test / tgt_test`` (int64; targets start with the start
symbol), ``pad_id`` / ``start_id`` / ``eos_id`` (pad and eos are None for the fixed-width
character tasks), ``metric`` ("exact_match" or "bleu"), ``src_vocab`` / ``tgt_vocab``,
``metadata()`` and ``codec()``.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

import tinygrad_attn as tg

from .decoding import beam_search, greedy_decode
from .model_io import (MODEL_NAMES, RNN_MODELS, load_model,  # noqa: F401 (re-exported)
                       model_from_config, save_model)

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    """Hyperparameters. The defaults are the book's (DLFS2 ch. 8, ``train.py``): the
    attention model, D = 16, H = 256, batch 128, Adam 1e-3, gradient-norm clip 5.

    lr_schedule : "constant" (the book's) or "cosine": the rate falls from ``lr`` to 0 over
        all the training batches (``tg.optim.CosineAnnealingLR``, stepped per batch).
    model : one of MODEL_NAMES. score : Luong score of the attention model.
    input_feeding : the attention model with Luong's attentional layer and input feeding.
    num_layers, bidirectional, residual, dropout : the encoder's (the Transformer's layers).
    teacher_forcing : probability of feeding the true previous token (1 = always;
        below 1 = scheduled sampling, see ``Seq2SeqModel.forward``).
    label_smoothing : in [0, 1) (Szegedy et al. 2016); used by the Transformer recipe.
    heads, ff_size : the Transformer's attention heads and feed-forward width; its d_model
        is ``hidden_size``.
    beam : beam width of the evaluation (1 = greedy). max_minutes : stop training after this
        many minutes of wall time (checked after every batch), then evaluate.
    max_decode_len : longest output of the translation evaluation, in tokens.
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
    teacher_forcing: float = 1.0
    label_smoothing: float = 0.0
    heads: int = 4
    ff_size: int = 512
    beam: int = 1
    max_minutes: float | None = None
    max_decode_len: int = 40


def build_model(config: TrainConfig, src_vocab_size: int, tgt_vocab_size: int):
    """The model ``config.model`` with ``config``'s sizes, seeded with ``config.seed``.
    Raises ValueError for an unknown model name."""
    if config.model == "transformer":
        from .transformer import Transformer
        return Transformer(src_vocab_size, tgt_vocab_size, d_model=config.hidden_size,
                           nhead=config.heads, num_encoder_layers=config.num_layers,
                           num_decoder_layers=config.num_layers,
                           dim_feedforward=config.ff_size, dropout=config.dropout,
                           seed=config.seed)
    if config.model not in RNN_MODELS:
        raise ValueError(f"unknown model {config.model!r} (fix: choose one of "
                         f"{', '.join(MODEL_NAMES)})")
    kwargs = dict(tgt_vocab_size=tgt_vocab_size, num_layers=config.num_layers,
                  residual=config.residual, dropout=config.dropout, seed=config.seed)
    if config.model == "attention":
        kwargs["score"] = config.score
        kwargs["input_feeding"] = config.input_feeding
    if config.model != "bahdanau" or config.bidirectional:
        kwargs["bidirectional"] = config.bidirectional
    return RNN_MODELS[config.model](src_vocab_size, config.wordvec_size, config.hidden_size,
                                    **kwargs)


def _trim(src, pad_id):
    """Drop the columns that are padding in every row; return (src, mask or None)."""
    if pad_id is None:
        return src, None
    mask = src == pad_id
    width = max(1, int((~mask).sum(axis=1).max())) if len(src) else 1
    return src[:, :width], mask[:, :width]


def training_batch(data, idx):
    """The training batch of rows ``idx``: (src (N, S'), tgt (N, T'+1), mask (N, S') or
    None), with the columns that are padding in every row cut off (translation data; the
    fixed-width character tasks come back whole, mask None)."""
    src, mask = _trim(data.src_train[idx], data.pad_id)
    tgt = data.tgt_train[idx]
    if data.pad_id is not None:
        tgt = tgt[:, :max(2, int((tgt != data.pad_id).sum(axis=1).max()))]
    return src, tgt, mask


def predict(model, src, data_or_codec, *, beam: int = 1, max_len: int | None = None,
            batch_size: int = 500, alpha: float = 0.6, workers: int | None = None):
    """Decode ``src`` (N, S) in batches; returns ids (N, L) int64. For a character task
    (no ``eos_id``) the length is the answer width; for translation ``max_len`` tokens at
    most (stopping at ``<eos>``).

    ``workers`` threads (default: the CPUs this process may use, at most one per batch)
    decode batches side by side, each with a one-thread BLAS (``threadpoolctl``): a
    batch's elementwise numpy work, which runs on one core, then overlaps another batch's
    matrix products instead of leaving a core idle (measured on 2 cores: beam width 4 over
    the date test set 1.96 -> 1.57 s). The ids do not depend on it (tested)."""
    d = data_or_codec
    if d.eos_id is None:
        max_len = d.answer_length if hasattr(d, "answer_length") else d.tgt_train.shape[1] - 1
    model.eval()
    kw = dict(start_id=d.start_id, max_len=max_len, eos_id=d.eos_id)

    def decode(batch):
        x, mask = _trim(np.asarray(batch), d.pad_id)
        ids = greedy_decode(model, x, mask, **kw)[0] if beam == 1 else \
            beam_search(model, x, mask, beam_width=beam, alpha=alpha, **kw)[0]
        if ids.shape[1] < max_len:   # greedy stopped early: pad with eos
            ids = np.pad(ids, ((0, 0), (0, max_len - ids.shape[1])), constant_values=d.eos_id)
        return ids

    batches = [src[i:i + batch_size] for i in range(0, len(src), batch_size)]
    workers = min(workers or _cpu_count(), len(batches))
    if workers <= 1:
        out = [decode(b) for b in batches]
    else:
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            out = list(pool.map(decode, batches))
    return np.concatenate(out) if out else np.zeros((0, max_len or 0), np.int64)


def _cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def exact_match(model, x: np.ndarray, t: np.ndarray, start_id: int,
                batch_size: int = 1000) -> tuple[float, np.ndarray]:
    """Fraction of items whose greedy answer equals ``t[:, 1:]`` in every position.

    x (N, S), t (N, T+1) int. Returns (accuracy in [0, 1], predicted ids (N, T)).
    """
    preds = [greedy_decode(model, x[i:i + batch_size], start_id=start_id,
                           max_len=t.shape[1] - 1)[0] for i in range(0, len(x), batch_size)]
    pred = np.concatenate(preds) if preds else np.zeros((0, t.shape[1] - 1), dtype=np.int64)
    return float((pred == t[:, 1:]).all(axis=1).mean()) if len(x) else 0.0, pred


def evaluate(model, data, *, beam: int = 1, max_len: int = 40) -> dict:
    """Test-set score: ``{"accuracy": exact match 0-1}`` for a character task, or
    ``{"bleu": 0-100, "chrf": 0-100}`` (sacrebleu, corpus level) for translation."""
    pred = predict(model, data.src_test, data, beam=beam, max_len=max_len)
    if data.metric == "exact_match":
        acc = float((pred == data.tgt_test[:, 1:]).all(axis=1).mean()) if len(pred) else 0.0
        return {"accuracy": acc}
    from .translation_data import corpus_bleu, corpus_chrf
    hyps = [data.decode_target(row) for row in pred]
    refs = data.references()
    return {"bleu": corpus_bleu(hyps, refs), "chrf": corpus_chrf(hyps, refs)}


def format_score(score: dict) -> str:
    if "accuracy" in score:
        return f"test exact match {100 * score['accuracy']:.2f}%"
    return f"test BLEU {score['bleu']:.2f}, chrF {score['chrf']:.2f}"


def _write_json(obj, path):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
    os.replace(path + ".tmp", path)


def train(data, config: TrainConfig, out_dir=None, log=print, model=None):
    """Train ``config.model`` on ``data`` with Adam, global-norm clipping and
    ``config.lr_schedule``.

    Each epoch: a seeded shuffle, minibatches with a tqdm bar (loss, it/s), then batched
    decoding of the test items (greedy, or beam search with ``config.beam``) and their
    score (:func:`evaluate`). Batches of padded data are trimmed to their longest source.
    When ``out_dir`` is given, ``model.npz`` (weights + config + codec), ``config.json`` and
    ``history.json`` are written there after every epoch.

    Returns the model and the history: one dict per epoch with ``loss`` (mean training
    cross-entropy, nats/token), the score (``accuracy`` 0-1, or ``bleu`` and ``chrf``
    0-100), ``lr`` (the learning rate after the epoch's last step), ``train_seconds``,
    ``eval_seconds``, ``epoch_seconds``, ``steps`` and ``parameters``. Raises ValueError
    if there is less than one batch of training data or ``config.lr_schedule`` is unknown.
    """
    if model is None:
        model = build_model(config, len(data.src_vocab), len(data.tgt_vocab))
    optimizer = tg.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    n = len(data.src_train)
    n_batches = n // config.batch_size
    if n_batches == 0:
        raise ValueError(f"train: {n} training items are fewer than one batch of "
                         f"{config.batch_size} (fix: lower --batch-size)")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"train: unknown lr_schedule {config.lr_schedule!r} (fix: choose "
                         f"one of {', '.join(LR_SCHEDULES)})")
    scheduler = (tg.optim.CosineAnnealingLR(optimizer, T_max=config.epochs * n_batches)
                 if config.lr_schedule == "cosine" else None)
    history = []
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        _write_json(asdict(config), os.path.join(out_dir, "config.json"))
    log(f"data: {data.source}; {n} train / {len(data.src_test)} test items, vocabulary "
        f"{len(data.src_vocab)} -> {len(data.tgt_vocab)}, input "
        f"{'reversed' if data.reversed else 'as is'}; model: {config.model} "
        f"({type(model).__name__}), {model.num_parameters():,} parameters")
    deadline = None if config.max_minutes is None else time.perf_counter() + 60 * config.max_minutes
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(n)
        t0 = time.perf_counter()
        losses = []
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{config.epochs}", unit="it",
                   dynamic_ncols=True, leave=False)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            src, tgt, mask = training_batch(data, idx)
            loss = model.loss(src, tgt, mask, pad_id=data.pad_id,
                              teacher_forcing_ratio=config.teacher_forcing,
                              label_smoothing=config.label_smoothing, rng=rng)
            optimizer.zero_grad()
            loss.backward()
            tg.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if b % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
            if deadline is not None and time.perf_counter() > deadline:
                break
        bar.close()
        t1 = time.perf_counter()
        score = evaluate(model, data, beam=config.beam, max_len=config.max_decode_len)
        t2 = time.perf_counter()
        rec = dict(epoch=epoch, loss=float(np.mean(losses)), **score, lr=optimizer.lr,
                   train_seconds=t1 - t0,
                   eval_seconds=t2 - t1, epoch_seconds=t2 - t0, steps=len(losses),
                   parameters=model.num_parameters())
        history.append(rec)
        log(f"epoch {epoch}: loss {rec['loss']:.4f}, {format_score(score)}, "
            f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f} s, "
            f"{len(losses)} steps; eval {rec['eval_seconds']:.1f} s)")
        if out_dir is not None:
            save_model(model, data, os.path.join(out_dir, "model.npz"),
                       extra={"train_config": asdict(config), "epoch": epoch})
            _write_json(history, os.path.join(out_dir, "history.json"))
        if deadline is not None and time.perf_counter() > deadline:
            log(f"stopping: the time limit of {config.max_minutes} minutes is reached")
            break
    return model, history


def config_from_dict(d: dict) -> TrainConfig:
    """A TrainConfig from a dict (e.g. ``config.json``), ignoring unknown keys."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in d.items() if k in names})
