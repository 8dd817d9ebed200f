"""The PyTorch tutorial's translation model, re-implemented from its facts and trained on
this project's split of ``eng-fra/fra.tutorial-filter.txt``, so that its learning speed can
be set beside ours epoch by epoch (issue 16, item 3).

The tutorial is "NLP From Scratch: Translation with a Sequence to Sequence Network and
Attention" (pytorch/tutorials, ``intermediate_source/seq2seq_translation_tutorial.py``, the
2023 rewrite with batches and Bahdanau attention). Its model and settings, as its source
states them (the code here is written from these facts, not copied):

- encoder: ``Embedding(V_src, H)`` -> dropout 0.1 -> one unidirectional ``GRU(H, H)``; the
  source is the words plus ``EOS``, right-padded with token 0 to ``MAX_LENGTH``, read whole
  (no packing: the final state comes after the padding);
- decoder: ``Embedding(V_tgt, H)`` -> dropout 0.1; Bahdanau attention with the previous
  hidden state as query, ``scores = Va(tanh(Wa q + Ua k))`` (all three ``Linear`` layers with
  a bias, ``Va``: H -> 1), softmax over every source position (no mask), context = weights
  @ encoder outputs; the GRU's input is ``[embedded; context]`` (2H) and its initial state
  the encoder's final state; logits = ``Linear(H, V_tgt)`` of the GRU output alone; it runs
  ``MAX_LENGTH`` steps, the first input ``SOS``, then always the true previous target
  (teacher forcing on every step in training; greedy in evaluation);
- loss: ``log_softmax`` + ``NLLLoss`` averaged over every one of the N x MAX_LENGTH target
  positions, padding included (the model learns to emit the pad token after ``EOS``);
- PyTorch's default initialisation (``Embedding`` N(0, 1); ``Linear`` and ``GRU``
  U(-1/sqrt(fan_in or H), +1/sqrt(...))); ``hidden_size = 128``, ``batch_size = 32``
  (a shuffled ``DataLoader``, the last partial batch kept), Adam lr 1e-3 (one per module,
  the same as one over all), 80 epochs, ``MAX_LENGTH = 10`` (pairs of fewer than 10 words
  a side; ``EOS`` makes 10 ids);
- gradients: ``loss.backward()`` then ``optimizer.step()``: **no clipping** (the issue's
  "batch 64, clip 1" is not what the tutorial does).

What is ours, not the tutorial's: the data and its split (``load_translation`` with the
command line's defaults, the validation split of ``models.train.train``), our word
tokens and vocabularies (built on the training split; unseen words are ``<unk>``), our
``<pad>`` id 0 as the padding token (the tutorial's is ``SOS`` = 0, the same role),
``MAX_LENGTH`` = the longest sentence of the data plus ``EOS`` (our tokens split
punctuation and apostrophes, so sentences run to 13 tokens), and the scoring
(``models.train.translation_score``: corpus BLEU / chrF on the validation split after each
epoch; the epoch with the highest validation lower-cased BLEU is chosen, as ``train``
chooses, and the test split is scored once, with its weights: cased and lower-cased BLEU
with 95 % intervals, chrF, and BLEU on the test items whose source is unseen). The tokens
stay lower-cased words (no subwords: the tutorial has none, and that is part of what a
comparison with our models measures).

As a row of ``tinygrad-attn compare``'s French table (issue 16): ``--max-minutes M`` gives
it the minutes our models got (training and the validation after each epoch, the clock
checked after every batch; the epoch it cuts short is not scored), the result is printed
as one row of compare's translation table (``models.reporting.comparison_table``, model
``pytorch-tutorial``), and ``--compare-csv PATH`` adds its rows to the ``compare.csv`` of
that compare run (same columns; the file and its header are checked before training):

    nice -n 5 python benchmarks/translate_tutorial_torch.py --epochs 1000 --max-minutes 20 \
        --compare-csv runs/compare/version_0/compare.csv

The options move the tutorial's model towards ours one difference at a time (for the
measurements in ``benchmarks/RESULTS.md``, "Why the tutorial's model learned faster"):
``--cell lstm``, ``--init book`` (``models.base.book_init``'s rule), ``--clip``,
``--dropout``, ``--batch-size``, ``--lr``, ``--wordvec-size``, ``--ignore-pad`` (the loss
over real tokens only), ``--mask`` (packed encoder, masked attention), ``--out-context``
(logits from ``[h; context]``), ``--bidirectional``, ``--min-freq``.

    nice -n 5 python benchmarks/translate_tutorial_torch.py --epochs 5
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # torch's OpenMP spin-wait: DESIGN.md

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.cli_options import MAX_SIZE, config_type  # noqa: E402
from models.cli_types import OneLineParser, float_in, int_at_least  # noqa: E402
from models.reporting import (append_compare_csv, comparison_table,  # noqa: E402
                              histories_from_csv, read_compare_csv, signature_lines)
from models.train import (History, TrainConfig, format_score, translation_score,  # noqa: E402
                          with_validation)
from models.translation_dataset import load_translation  # noqa: E402
from tinygrad_attn.fileio import atomic_open, quote_path  # noqa: E402

DEFAULT_DATA = "../shared/data/eng-fra/fra.tutorial-filter.txt"

#: The row's name in compare's table and compare.csv.
MODEL_NAME = "pytorch-tutorial"


# -- the data in the tutorial's layout ---------------------------------------------------
def tutorial_layout(src, tgt, pad_id: int, eos_id: int, width: int):
    """Our arrays -> the tutorial's: ``src`` (N, S) ids without ``<eos>`` and ``tgt``
    (N, T + 1) ``<sos> w.. <eos> <pad>..`` -> source (N, width) ``w.. <eos> <pad>..``,
    target (N, width) ``w.. <eos> <pad>..`` (no ``<sos>``: the decoder starts from it), and
    the source lengths (N,) counting ``<eos>``; int64 numpy arrays. Raises ValueError if a
    sentence plus ``<eos>`` is wider than ``width``."""
    lengths = (src != pad_id).sum(axis=1) + 1
    tgt = tgt[:, 1:]
    if lengths.max(initial=0) > width or (tgt[:, width:] != pad_id).any():
        raise ValueError(f"a sentence is longer than MAX_LENGTH = {width} with <eos>")
    source = np.full((len(src), width), pad_id, np.int64)
    target = np.full((len(src), width), pad_id, np.int64)
    source[:, :min(width, src.shape[1])] = src[:, :width]
    source[np.arange(len(src)), lengths - 1] = eos_id
    target[:, :min(width, tgt.shape[1])] = tgt[:, :width]
    return source, target, lengths


def max_length(data) -> int:
    """The tutorial's MAX_LENGTH for our data: the longest sentence of any split, in ids
    with ``<eos>`` (source) or without ``<sos>`` (target)."""
    widths = [(a != data.pad_id).sum(axis=1).max() + 1 for a in
              (data.src_train, data.src_valid, data.src_test)]
    widths += [(a != data.pad_id).sum(axis=1).max() - 1 for a in
               (data.tgt_train, data.tgt_valid, data.tgt_test)]
    return int(max(widths))


# -- the model -----------------------------------------------------------------------------
class Attention(nn.Module):
    """The tutorial's additive attention: scores = Va(tanh(Wa q + Ua k)), each a Linear
    with a bias (Bahdanau et al. 2014, eq. 6). forward(query (N, 1, H), keys (N, S, H),
    mask (N, S) bool, True = padding, or None) -> context (N, 1, H), weights (N, 1, S)."""

    def __init__(self, H: int, key_size: int):
        super().__init__()
        self.Wa, self.Ua, self.Va = nn.Linear(H, H), nn.Linear(key_size, H), nn.Linear(H, 1)

    def forward(self, query, keys, mask=None):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
        if mask is not None:
            scores = scores.masked_fill(mask[:, None, :], float("-inf"))
        weights = F.softmax(scores, dim=-1)
        return weights @ keys, weights


class TutorialSeq2Seq(nn.Module):
    """EncoderRNN + AttnDecoderRNN of the tutorial in one module, with the switches of the
    module docstring (``opts``: the parsed options). ``cell`` "gru" (the tutorial's) or
    "lstm" (a zero initial cell state, as ours)."""

    def __init__(self, V_src: int, V_tgt: int, opts):
        super().__init__()
        D, H, self.opts = opts.wordvec_size or opts.hidden_size, opts.hidden_size, opts
        rnn = nn.GRU if opts.cell == "gru" else nn.LSTM
        dirs = 2 if opts.bidirectional else 1
        self.enc_embedding = nn.Embedding(V_src, D)
        self.encoder = rnn(D, H, batch_first=True, bidirectional=opts.bidirectional)
        self.dec_embedding = nn.Embedding(V_tgt, D)
        self.attention = Attention(dirs * H, dirs * H)
        self.decoder = rnn(D + dirs * H, dirs * H, batch_first=True)
        self.out = nn.Linear(dirs * H * (2 if opts.out_context else 1), V_tgt)
        self.dropout = nn.Dropout(opts.dropout)

    def encode(self, source, lengths):
        """source (N, W) int64, lengths (N,) -> keys (N, W, H'), initial decoder state,
        padding mask (N, W) bool or None (without ``--mask``: the tutorial's whole read)."""
        x = self.dropout(self.enc_embedding(source))
        if not self.opts.mask:
            keys, final = self.encoder(x)
            mask = None
        else:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            keys, final = self.encoder(packed)
            keys, _ = pad_packed_sequence(keys, batch_first=True, total_length=source.shape[1])
            mask = torch.arange(source.shape[1])[None, :] >= lengths[:, None]
        h = final if self.opts.cell == "gru" else final[0]
        if self.opts.bidirectional:                     # both directions joined
            h = torch.cat([h[0], h[1]], dim=-1)[None]
        return keys, (h if self.opts.cell == "gru" else (h, torch.zeros_like(h))), mask

    def step(self, prev, state, keys, mask):
        """One decoder step: prev (N, 1) int64 -> logits (N, 1, V), the new state."""
        embedded = self.dropout(self.dec_embedding(prev))
        h = state if self.opts.cell == "gru" else state[0]
        context, _ = self.attention(h.permute(1, 0, 2), keys, mask)
        out, state = self.decoder(torch.cat([embedded, context], dim=2), state)
        if self.opts.out_context:
            out = torch.cat([out, context], dim=2)
        return self.out(out), state

    def forward(self, source, lengths, target, start_id: int):
        """Teacher-forced log-probabilities (N, W, V) of ``target`` (N, W)."""
        keys, state, mask = self.encode(source, lengths)
        prev = torch.full((len(source), 1), start_id, dtype=torch.int64)
        steps = []
        for i in range(target.shape[1]):
            logits, state = self.step(prev, state, keys, mask)
            steps.append(logits)
            prev = target[:, i:i + 1]
        return F.log_softmax(torch.cat(steps, dim=1), dim=-1)


def book_init(model: nn.Module, seed: int) -> None:
    """``models.base.book_init``'s rule on a torch module: embeddings N(0, 0.01^2), biases
    0, other weights N(0, 1/fan_in), drawn from ``torch.Generator`` seeded ``seed``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=g) / 100)
            elif "bias" in name or p.ndim < 2:
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))


# -- training and evaluation ----------------------------------------------------------------
def loss_of(model, batch, data, opts):
    """NLLLoss of one batch (source, target, lengths tensors): averaged over every target
    position (the tutorial's), or over the real tokens with ``--ignore-pad``."""
    source, target, lengths = batch
    logp = model(source, lengths, target, data.start_id)
    return F.nll_loss(logp.reshape(-1, logp.shape[-1]), target.reshape(-1),
                      ignore_index=data.pad_id if opts.ignore_pad else -100)


@torch.no_grad()
def translate(model, data, split: str, width: int, batch_size: int = 500) -> list[str]:
    """Greedy decoding of ``split`` ("valid" or "test"), ``width`` steps, in eval mode
    (dropout off) -> text per item (``data.decode_target``: up to the first ``<eos>``)."""
    model.eval()
    src, tgt = (data.src_valid, data.tgt_valid) if split == "valid" else \
        (data.src_test, data.tgt_test)
    source, _, lengths = tutorial_layout(src, tgt, data.pad_id, data.eos_id, width)
    hyps = []
    for i in range(0, len(source), batch_size):
        s = torch.from_numpy(source[i:i + batch_size])
        keys, state, mask = model.encode(s, torch.from_numpy(lengths[i:i + batch_size]))
        prev, ids = torch.full((len(s), 1), data.start_id, dtype=torch.int64), []
        for _ in range(width):
            logits, state = model.step(prev, state, keys, mask)
            prev = logits.argmax(dim=-1)
            ids.append(prev)
        hyps += [data.decode_target(row) for row in torch.cat(ids, dim=1).numpy()]
    model.train()
    return hyps


def train_epoch(model, optimizer, train, data, opts, rng, deadline=None):
    """One epoch over a seeded permutation in batches of ``--batch-size`` (the last partial
    batch kept, as the tutorial's DataLoader) -> (mean loss, steps, finished). With a
    ``deadline`` (``time.perf_counter`` seconds) the clock is checked after every batch;
    past it the epoch stops there and ``finished`` is False."""
    source, target, lengths = train
    order = rng.permutation(len(source))
    losses = []
    for b in range(0, len(order), opts.batch_size):
        rows = torch.from_numpy(order[b:b + opts.batch_size])
        loss = loss_of(model, (source[rows], target[rows], lengths[rows]), data, opts)
        optimizer.zero_grad()
        loss.backward()
        if opts.clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), opts.clip)
        optimizer.step()
        losses.append(loss.item())
        if deadline is not None and time.perf_counter() > deadline \
                and b + opts.batch_size < len(order):
            return float(np.mean(losses)), len(losses), False
    return float(np.mean(losses)), len(losses), True


def setup(opts):
    """Our data with its validation split, the tutorial's layout of the training split, and
    the model (seeded). Returns (data, train tensors, width, model)."""
    path = Path(opts.data)
    if not path.is_absolute() and not path.exists():
        path = ROOT / path
    data = load_translation(path, opts.direction, min_freq=opts.min_freq)
    data = with_validation(data, TrainConfig(seed=opts.seed,
                                             valid_fraction=TrainConfig.valid_fraction))
    width = max_length(data)
    train = tuple(torch.from_numpy(a) for a in
                  tutorial_layout(data.src_train, data.tgt_train, data.pad_id, data.eos_id,
                                  width))
    torch.manual_seed(opts.seed)
    model = TutorialSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), opts)
    if opts.init == "book":
        book_init(model, opts.seed)
    return data, train, width, model


def run(opts) -> dict:
    """Train up to ``--epochs`` epochs within ``--max-minutes`` (if given), printing the
    validation scores and seconds of each; choose the epoch on validation (lower-cased
    BLEU, as ``models.train``); score the test split once with the chosen epoch's weights
    (cased and lower-cased BLEU with 95 % intervals, chrF, unseen sources); print the
    result as one row of ``compare``'s translation table and, with ``--compare-csv``, add
    it to that file. Returns the report (also written to ``--out``). Raises ValueError
    (one line) for a ``--compare-csv`` that cannot take the row (checked before training
    too) and when no epoch ended within ``--max-minutes``."""
    check_paths(opts)
    data, train, width, model = setup(opts)
    params = sum(p.numel() for p in model.parameters())
    report = {"args": vars(opts), "max_length": width, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "parameters": params, "history": []}
    print(f"data: {data.source}; MAX_LENGTH {width}; vocabulary {len(data.src_vocab)} -> "
          f"{len(data.tgt_vocab)}; {params:,} parameters; "
          f"{math.ceil(len(train[0]) / opts.batch_size)} batches of {opts.batch_size}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    chosen, state = train_epochs(model, train, data, width, opts, report)
    model.load_state_dict(state)
    test = translation_score(data, translate(model, data, "test", width), "test",
                             confidence=True)
    last = report["history"][-1]["epoch"]
    report.update(chosen_epoch=chosen, chosen_on="validation", test_chosen=test,
                  test_last=test if chosen == last else None)
    print(f"test ({len(data.src_test)} items, scored once, the weights of epoch {chosen}, "
          f"chosen on validation): {format_score(test)}; BLEU: {test['bleu_description']}")
    write_json(opts.out, report)
    history = as_history(report)
    print("\n" + comparison_table({MODEL_NAME: history}, "bleu"))
    print("\n".join(signature_lines(test, describe=False)))
    if opts.compare_csv:
        path = append_compare_csv(opts.compare_csv, MODEL_NAME, history)
        print(f"\nadded the {MODEL_NAME} rows to {path}; its table now:\n")
        print(comparison_table(histories_from_csv(read_compare_csv(path)[2]), "bleu"))
    return report


def train_epochs(model, train, data, width, opts, report) -> tuple[int, dict]:
    """The epochs of :func:`run`, each followed by validation, all within the deadline of
    ``--max-minutes`` (counted from here); an epoch cut short by it is not scored. Appends
    each epoch's record to ``report["history"]`` (``report["stopped"]`` says why training
    ended early). Returns (the epoch with the highest validation lower-cased BLEU, the
    first on ties; a copy of its ``state_dict``). Raises ValueError if no epoch ended."""
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    rng = np.random.default_rng(opts.seed)
    deadline = None if opts.max_minutes is None else time.perf_counter() + 60 * opts.max_minutes
    best, best_state = None, None
    for epoch in range(1, opts.epochs + 1):
        t0 = time.perf_counter()
        loss, steps, finished = train_epoch(model, optimizer, train, data, opts, rng, deadline)
        if not finished:
            report["stopped"] = (f"the time limit of {opts.max_minutes} minutes was reached in "
                                 f"epoch {epoch}, after {steps} steps; that epoch is not scored")
            print(f"stopping: {report['stopped']}", flush=True)
            break
        t1 = time.perf_counter()
        score = translation_score(data, translate(model, data, "valid", width), "valid")
        rec = epoch_record(epoch, loss, steps, score, opts, t0, t1, report["parameters"])
        report["history"].append(rec)
        print(f"epoch {epoch}: loss {loss:.4f}, {format_score(score, 'validation')}, "
              f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f} s, {steps} "
              f"steps)", flush=True)
        if best is None or score["bleu"] > best[1]:
            best = (epoch, score["bleu"])
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        write_json(opts.out, report)
        if deadline is not None and time.perf_counter() > deadline and epoch < opts.epochs:
            report["stopped"] = f"the time limit of {opts.max_minutes} minutes was reached"
            print(f"stopping: {report['stopped']} after epoch {epoch}", flush=True)
            break
    if best is None:
        raise ValueError(f"no epoch ended within --max-minutes {opts.max_minutes}, so there "
                         f"is nothing to score (fix: give it more minutes)")
    return best[0], best_state


def epoch_record(epoch, loss, steps, score, opts, t0, t1, parameters) -> dict:
    """One epoch's record, with the keys of ``models.train``'s history that apply (the
    validation scores ``valid_*``, seconds of training, validation and both)."""
    t2 = time.perf_counter()
    return dict(epoch=epoch, loss=loss, **{f"valid_{k}": v for k, v in score.items()},
                lr=opts.lr, train_seconds=t1 - t0, eval_seconds=t2 - t1,
                epoch_seconds=t2 - t0, steps=steps, parameters=parameters)


def as_history(report) -> History:
    """The report as a ``models.train.History`` (per-epoch records and ``results``), as
    ``compare`` holds each model's."""
    history = History(report["history"])
    history.results = {k: report.get(k) for k in ("chosen_epoch", "chosen_on", "test_chosen",
                                                  "test_last")}
    history.results["last_epoch"] = report["history"][-1]["epoch"]
    return history


def check_paths(opts) -> None:
    """Before any work: ``--compare-csv`` is a translation ``compare.csv``
    (``models.reporting.read_compare_csv``) and the files ``--compare-csv`` and ``--out``
    name can be written (not a folder; an existing, writable folder). Raises ValueError
    (one line naming the fix)."""
    if opts.compare_csv:
        read_compare_csv(opts.compare_csv)
    for option, path in (("--compare-csv", opts.compare_csv), ("--out", opts.out)):
        if not path:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        problem = "is a folder" if os.path.isdir(path) else \
            "is in a folder that does not exist" if not os.path.isdir(folder) else \
            "is in a folder this process cannot write to" \
            if not os.access(folder, os.W_OK | os.X_OK) else None
        if problem:
            raise ValueError(f"{option} {quote_path(path)} {problem} (fix: name a file in an "
                             f"existing folder you can write to)")


def write_json(path, report) -> None:
    """``report`` as JSON to ``path`` (atomically), if a path was given."""
    if path:
        with atomic_open(path, "w") as f:
            json.dump(report, f, indent=1)


def parse_args(argv=None):
    """The command line (defaults: the tutorial's settings); see the module docstring. A
    bad value is one line on stderr and exit status 2 (``models.cli_types``)."""
    size = int_at_least(1, MAX_SIZE)
    p = OneLineParser(prog="translate_tutorial_torch.py",
                      description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="sentence-pair file (a relative path "
                   "that does not exist here is taken from the repo root)")
    p.add_argument("--direction", default="fra-eng")
    p.add_argument("--epochs", type=config_type("epochs"), default=5,
                   help="at most this many (with --max-minutes, a cap)")
    p.add_argument("--max-minutes", type=config_type("max_minutes"), default=None,
                   help="time budget for training and the validation after each epoch, "
                   "checked after every batch; the epoch it cuts short is not scored")
    p.add_argument("--seed", type=config_type("seed"), default=0,
                   help="weights, batch order, validation split")
    p.add_argument("--hidden-size", type=size, default=128)
    p.add_argument("--wordvec-size", type=size, default=None, help="default: --hidden-size")
    p.add_argument("--batch-size", type=config_type("batch_size"), default=32)
    p.add_argument("--lr", type=config_type("lr"), default=1e-3)
    p.add_argument("--clip", type=float_in(0, low_open=True), default=None,
                   help="global-norm clip (default none)")
    p.add_argument("--dropout", type=float_in(0, 1, high_open=True), default=0.1,
                   help="on both embeddings")
    p.add_argument("--cell", default="gru", choices=("gru", "lstm"))
    p.add_argument("--init", default="pytorch", choices=("pytorch", "book"))
    p.add_argument("--ignore-pad", action="store_true", help="loss over real tokens only")
    p.add_argument("--mask", action="store_true", help="packed encoder, masked attention")
    p.add_argument("--out-context", action="store_true", help="logits from [h; context]")
    p.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
    p.add_argument("--min-freq", type=int_at_least(1, 1_000_000), default=1,
                   help="our loader's --min-freq")
    p.add_argument("--threads", type=int_at_least(1, 1024), default=None,
                   help="torch.set_num_threads")
    p.add_argument("--out", default=None, help="write the per-epoch history as JSON here")
    p.add_argument("--compare-csv", default=None, metavar="PATH", help="add the "
                   f"{MODEL_NAME} rows (per epoch, and the test row) to this compare.csv of "
                   "'tinygrad-attn compare' (same data and seed; checked before training)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Run the benchmark with the command line's options. Exit status 0, or 2 with one
    line on stderr for a bad option, data file or ``--compare-csv``."""
    try:
        opts = parse_args(argv)
    except SystemExit as e:                     # --help (0) or a bad option (2, one line)
        return e.code
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    try:
        run(opts)
    except ValueError as e:                     # DataError is a ValueError
        print(f"translate_tutorial_torch.py: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:                        # a full disk, a vanished folder
        where = f" {quote_path(e.filename)}" if e.filename else ""
        print(f"translate_tutorial_torch.py: error: cannot read or write{where}: "
              f"{e.strerror or e} (fix: check the path, its permissions and the free disk "
              f"space)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
