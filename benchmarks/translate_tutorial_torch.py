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
epoch, the test split once at the end).

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

import argparse
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

from models.train import TrainConfig, format_score, translation_score, with_validation  # noqa: E402
from models.translation_dataset import load_translation  # noqa: E402
from tinygrad_attn.fileio import atomic_open  # noqa: E402

DEFAULT_DATA = "../shared/data/eng-fra/fra.tutorial-filter.txt"


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


def train_epoch(model, optimizer, train, data, opts, rng) -> tuple[float, int]:
    """One epoch over a seeded permutation in batches of ``--batch-size`` (the last partial
    batch kept, as the tutorial's DataLoader) -> (mean loss, steps)."""
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
    return float(np.mean(losses)), len(losses)


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
    """Train ``--epochs`` epochs, printing the validation BLEU / chrF and the seconds of
    each; score the test split once at the end (the last epoch's weights). Returns the
    report (also written to ``--out``)."""
    data, train, width, model = setup(opts)
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    rng = np.random.default_rng(opts.seed)
    report = {"args": vars(opts), "max_length": width, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "history": []}
    print(f"data: {data.source}; MAX_LENGTH {width}; vocabulary {len(data.src_vocab)} -> "
          f"{len(data.tgt_vocab)}; {sum(p.numel() for p in model.parameters()):,} "
          f"parameters; {math.ceil(len(train[0]) / opts.batch_size)} batches of "
          f"{opts.batch_size}; torch {torch.__version__}, {torch.get_num_threads()} threads",
          flush=True)
    for epoch in range(1, opts.epochs + 1):
        t0 = time.perf_counter()
        loss, steps = train_epoch(model, optimizer, train, data, opts, rng)
        t1 = time.perf_counter()
        score = translation_score(data, translate(model, data, "valid", width), "valid")
        rec = dict(epoch=epoch, loss=loss, steps=steps,
                   **{f"valid_{k}": v for k, v in score.items()}, train_seconds=t1 - t0,
                   epoch_seconds=time.perf_counter() - t0)
        report["history"].append(rec)
        print(f"epoch {epoch}: loss {loss:.4f}, {format_score(score, 'validation')}, "
              f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f} s, {steps} "
              f"steps)", flush=True)
        write_json(opts.out, report)
    test = translation_score(data, translate(model, data, "test", width), "test",
                             confidence=True)
    report["test_last"] = test
    print(f"test ({len(data.src_test)} items, scored once, the last epoch's weights): "
          f"{format_score(test)}; BLEU: {test['bleu_description']}")
    write_json(opts.out, report)
    return report


def write_json(path, report) -> None:
    """``report`` as JSON to ``path`` (atomically), if a path was given."""
    if path:
        with atomic_open(path, "w") as f:
            json.dump(report, f, indent=1)


def parse_args(argv=None):
    """The command line (defaults: the tutorial's settings); see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="sentence-pair file (a relative path "
                   "that does not exist here is taken from the repo root)")
    p.add_argument("--direction", default="fra-eng")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="weights, batch order, validation split")
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--wordvec-size", type=int, default=None, help="default: --hidden-size")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=None, help="global-norm clip (default none)")
    p.add_argument("--dropout", type=float, default=0.1, help="on both embeddings")
    p.add_argument("--cell", default="gru", choices=("gru", "lstm"))
    p.add_argument("--init", default="pytorch", choices=("pytorch", "book"))
    p.add_argument("--ignore-pad", action="store_true", help="loss over real tokens only")
    p.add_argument("--mask", action="store_true", help="packed encoder, masked attention")
    p.add_argument("--out-context", action="store_true", help="logits from [h; context]")
    p.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
    p.add_argument("--min-freq", type=int, default=1, help="our loader's --min-freq")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--out", default=None, help="write the per-epoch history as JSON here")
    opts = p.parse_args(argv)
    for name in ("epochs", "hidden_size", "batch_size", "min_freq"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return opts


def main(argv=None) -> None:
    """Run the benchmark with the command line's options."""
    opts = parse_args(argv)
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    run(opts)


if __name__ == "__main__":
    main()
