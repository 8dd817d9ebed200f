"""PyTorch reference for the translation acceptance point: the attention seq2seq trained on
eng-fra/fra.tutorial-filter.txt (French -> English) for a fixed wall-clock budget, with the
epoch chosen on a validation split and the test split scored once.

What it measures: the test BLEU / chrF that the SAME model reaches in PyTorch (eager,
CPU) in the same time as ``tinygrad-attn train`` does. "Same" means:

- the same data: ``models.translation_dataset.load_translation`` with the command line's
  default options (same split, vocabularies and id arrays), then the same validation split
  as ``models.train.train``: ``models.train.with_validation`` with ``TrainConfig``'s
  ``valid_fraction`` (0.1) and ``--seed``, so both engines train on the same items;
- the same initial weights: our ``AttentionSeq2Seq`` is built as ``models.train.build_model``
  builds it, and its ``state_dict`` (identical parameter names) is loaded into the torch
  module; the loss of the first batch is checked against ours at start-up;
- the same training: seeded permutation per epoch, batches trimmed like ``train()``,
  cross-entropy over real tokens, Adam, global-norm clip, a deadline counted from the start
  of training that covers training and evaluation, checked after every batch and after
  each epoch's evaluation;
- the same selection and evaluation: greedy decoding in batches of 500, stopping at <eos>,
  ``data.decode_target`` and ``corpus_bleu`` / ``corpus_chrf``; validation BLEU / chrF
  after every epoch, the first epoch with the highest validation BLEU is chosen (its
  weights kept as a ``state_dict`` copy), and after the last epoch the test split is
  scored once with the chosen epoch's weights and once with the last epoch's (BLEU with
  sacreBLEU's signature and bootstrap 95 % interval, ``models.metrics.bleu_report``).
  No test score is computed during training, so none can be picked on the test set.

The lead's command (from the repo root, beside the tinygrad_attn run with the same sizes):

    python benchmarks/translate_fra_torch.py --minutes 20 --out torch_fra.json
    tinygrad-attn train --data ../shared/data/eng-fra/fra.tutorial-filter.txt \\
        --direction fra-eng --score general --wordvec-size 256 --hidden-size 256 \\
        --batch-size 64 --epochs 1000 --max-minutes 20

Run the two one after the other on a quiet machine (see DESIGN.md on timing torch).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # torch's OpenMP spin-wait: DESIGN.md

import argparse
import json
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

from models.predict import _trim  # noqa: E402
from models.train import (TrainConfig, build_model, format_score,  # noqa: E402
                          training_batch, translation_score, with_validation)
from models.translation_dataset import load_translation  # noqa: E402
from tinygrad_attn.fileio import atomic_open  # noqa: E402

DEFAULT_DATA = "../shared/data/eng-fra/fra.tutorial-filter.txt"


class Encoder(nn.Module):
    def __init__(self, V, D, H):
        super().__init__()
        self.embedding = nn.Embedding(V, D)
        self.lstm = nn.LSTM(D, H, batch_first=True)


class LuongGeneral(nn.Module):
    """score(h_t, h_s) = h_t . (W_a h_s), as ``tinygrad_attn.nn.LuongAttention('general')``."""

    def __init__(self, H):
        super().__init__()
        self.W_a = nn.Linear(H, H, bias=False)

    def forward(self, query, keys, mask):
        """query (N, T, H), keys (N, S, H), mask (N, S) bool (True = padding) ->
        context (N, T, H)."""
        scores = query @ self.W_a(keys).transpose(1, 2)                    # (N, T, S)
        m = mask[:, None, :]
        scores = scores.masked_fill(m, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1).masked_fill(m, 0.0)
        return weights @ keys


class TorchAttentionSeq2Seq(nn.Module):
    """models.attention_seq2seq.AttentionSeq2Seq (score 'general', one-layer encoder) in
    torch, with the same parameter names so that our state_dict loads as is."""

    def __init__(self, V_src, D, H, V_tgt):
        super().__init__()
        self.encoder = Encoder(V_src, D, H)
        self.decoder_embedding = nn.Embedding(V_tgt, D)
        self.decoder = nn.LSTM(D, H, batch_first=True)
        self.attention = LuongGeneral(H)
        self.out = nn.Linear(2 * H, V_tgt)

    def encode(self, src, mask):
        """src (N, S) int64, mask (N, S) bool -> state: encoder outputs hs (N, S, H), the
        decoder's initial (h, c) = (h_S after the last real token, zeros), the mask."""
        lengths = (~mask).sum(dim=1)
        packed = pack_padded_sequence(self.encoder.embedding(src), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, (h, _) = self.encoder.lstm(packed)
        hs, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return {"hs": hs, "hc": (h, torch.zeros_like(h)), "mask": mask}

    def decode(self, tgt_in, state):
        """tgt_in (N, T) int64 -> logits (N, T, V) and the state after the last step."""
        dec, hc = self.decoder(self.decoder_embedding(tgt_in), state["hc"])
        context = self.attention(dec, state["hs"], state["mask"])
        return self.out(torch.cat([context, dec], dim=-1)), {**state, "hc": hc}

    def loss(self, src, tgt, mask, pad_id):
        logits, _ = self.decode(tgt[:, :-1], self.encode(src, mask))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=pad_id)


@torch.no_grad()
def evaluate(model, data, max_len, split="test", batch_size=500, confidence=False):
    """Greedy decoding (models.decoding.greedy_decode semantics) of ``data``'s ``split``
    ("test" or "valid") -> {"bleu", "chrf"} (0-100, corpus level, against the raw reference
    text, as ``models.train.evaluate``); with ``confidence`` also ``bleu_ci`` ([low, high],
    bootstrap 95 %), ``bleu_signature`` and ``bleu_description`` (``bleu_report``).
    Leaves the model in training mode."""
    model.eval()
    src_all = data.src_test if split == "test" else data.src_valid
    hyps = []
    for i in range(0, len(src_all), batch_size):
        src, mask = _trim(src_all[i:i + batch_size], data.pad_id)
        state = model.encode(torch.from_numpy(src), torch.from_numpy(mask))
        prev = torch.full((len(src),), data.start_id, dtype=torch.int64)
        done = torch.zeros(len(src), dtype=torch.bool)
        ids = []
        for _ in range(max_len):
            logits, state = model.decode(prev[:, None], state)
            prev = logits[:, 0].argmax(dim=-1).masked_fill(done, data.eos_id)
            done |= prev == data.eos_id
            ids.append(prev)
            if done.all():
                break
        hyps += [data.decode_target(row) for row in torch.stack(ids, dim=1).numpy()]
    model.train()
    return translation_score(data, hyps, split, confidence)


def check_first_batch(ours, model, data, args):
    """Loss and gradient norm of the first training batch in both engines (no update)."""
    import tinygrad_attn as tg
    n = len(data.src_train)
    idx = np.random.default_rng(args.seed).permutation(n)[:args.batch_size]
    src, tgt, mask = training_batch(data, idx)
    loss_ours = ours.loss(src, tgt, mask, pad_id=data.pad_id)
    loss_ours.backward()
    norm_ours = tg.clip_grad_norm_(ours.parameters(), float("inf"))
    loss_torch = model.loss(torch.from_numpy(src), torch.from_numpy(tgt),
                            torch.from_numpy(mask), data.pad_id)
    loss_torch.backward()
    norm_torch = float(nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
    model.zero_grad(set_to_none=True)
    a, b = loss_ours.item(), loss_torch.item()
    print(f"first batch: loss tinygrad_attn {a:.6f}, torch {b:.6f} (|diff| {abs(a - b):.2e}); "
          f"grad norm {norm_ours:.6f} vs {norm_torch:.6f}")
    if abs(a - b) > 1e-4:
        sys.exit(f"error: the torch model's first-batch loss differs from ours by {abs(a - b):.2e}")
    return {"loss_tinygrad_attn": a, "loss_torch": b, "grad_norm_tinygrad_attn": norm_ours,
            "grad_norm_torch": norm_torch}


def parse_args(argv=None):
    """The command line; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="sentence-pair file; a relative path "
                   "that does not exist from the current directory is taken from the repo root")
    p.add_argument("--direction", default="fra-eng")
    p.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget of training "
                   "plus evaluation")
    p.add_argument("--wordvec-size", type=int, default=256)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0, help="initial weights, batch order and the "
                   "validation split (as tinygrad-attn train --seed)")
    p.add_argument("--valid-fraction", type=float, default=TrainConfig.valid_fraction,
                   help="share of the training pairs held out to choose the epoch, as "
                   "tinygrad-attn train --valid-fraction (default %(default)s; 0: none, the "
                   "last epoch is chosen)")
    p.add_argument("--score", default="general", choices=("general",))
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--max-decode-len", type=int, default=40)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads "
                   "(default: torch's own choice)")
    p.add_argument("--out", default=None, help="write the history as JSON here (every epoch, "
                   "and the test results at the end)")
    return p.parse_args(argv)


def setup(args):
    """Data (with the validation split ``train()`` carves), our model and the torch twin
    holding our initial weights. Returns (data, ours, model)."""
    path = Path(args.data)
    if not path.is_absolute() and not path.exists():
        path = ROOT / path
    # the same call as models.cli_options.load_data with the command line's defaults
    data = load_translation(path, args.direction, max_len=None, lower=True,
                            reverse_source=False, min_freq=1, max_pairs=None)
    config = TrainConfig(model="attention", batch_size=args.batch_size,
                         wordvec_size=args.wordvec_size, hidden_size=args.hidden_size,
                         lr=args.lr, max_grad_norm=args.clip, seed=args.seed, score=args.score,
                         valid_fraction=args.valid_fraction)
    data = with_validation(data, config)        # as models.train.train does, first of all
    ours = build_model(config, len(data.src_vocab), len(data.tgt_vocab))
    model = TorchAttentionSeq2Seq(len(data.src_vocab), args.wordvec_size, args.hidden_size,
                                  len(data.tgt_vocab))
    state = ours.state_dict()
    assert set(state) == set(model.state_dict()), (sorted(state), sorted(model.state_dict()))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32).copy())
                           for k, v in state.items()})
    return data, ours, model


def has_valid(data):
    """True if ``data`` carries a validation split."""
    return getattr(data, "src_valid", None) is not None


def train_epoch(model, data, optimizer, rng, args, deadline):
    """One epoch of minibatch steps (seeded permutation, trimmed batches, clip, Adam) ->
    the losses of the steps taken; stops after the batch that passes ``deadline``."""
    model.train()
    n = len(data.src_train)
    order = rng.permutation(n)
    losses = []
    for b in range(n // args.batch_size):
        rows = order[b * args.batch_size:(b + 1) * args.batch_size]
        src, tgt, mask = training_batch(data, rows)
        loss = model.loss(torch.from_numpy(src), torch.from_numpy(tgt),
                          torch.from_numpy(mask), data.pad_id)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        losses.append(loss.item())
        if time.perf_counter() > deadline:
            break
    return losses


def write_json(args, report):
    """``report`` as JSON to ``--out`` (atomically), if one was given."""
    if args.out:
        with atomic_open(args.out, "w") as f:
            json.dump(report, f, indent=1)


def run(model, data, args, report):
    """Train until ``--epochs`` or the time limit; choose the first epoch with the highest
    validation BLEU (the last epoch without a validation split). Returns (chosen epoch,
    a copy of its state_dict, start time)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    history, chosen, best_bleu, best_state = report["history"], 0, None, None
    start = time.perf_counter()
    deadline = start + 60 * args.minutes
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        losses = train_epoch(model, data, optimizer, rng, args, deadline)
        t1 = time.perf_counter()
        score = evaluate(model, data, args.max_decode_len, split="valid") \
            if has_valid(data) else {}
        t2 = time.perf_counter()
        rec = dict(epoch=epoch, steps=len(losses), loss=float(np.mean(losses)),
                   **{f"valid_{k}": v for k, v in score.items()}, train_seconds=t1 - t0,
                   eval_seconds=t2 - t1, epoch_seconds=t2 - t0, elapsed_seconds=t2 - start)
        history.append(rec)
        if best_bleu is None or (score and score["bleu"] > best_bleu):
            chosen, best_bleu = epoch, score.get("bleu", float("-inf"))
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        text = format_score(score, "validation") if score else "no validation split"
        print(f"epoch {epoch}: {rec['steps']} steps, loss {rec['loss']:.4f}, {text}, "
              f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f}, eval "
              f"{rec['eval_seconds']:.1f}; elapsed {rec['elapsed_seconds']:.1f})", flush=True)
        write_json(args, report)
        if time.perf_counter() > deadline:
            print(f"stopping: the time limit of {args.minutes} minutes is reached")
            break
    if not has_valid(data):
        chosen, best_state = history[-1]["epoch"], None
    return chosen, best_state, start


def finish(model, data, args, report, chosen, best_state):
    """Score the test split once after the last epoch and once with the chosen epoch's
    weights (the same numbers when they are one epoch); print both; store them in
    ``report["results"]`` (the keys of ``models.train``'s ``history.results``)."""
    last_epoch = report["history"][-1]["epoch"]
    last = evaluate(model, data, args.max_decode_len, confidence=True)
    if best_state is not None and chosen != last_epoch:
        model.load_state_dict(best_state)
        test_chosen = evaluate(model, data, args.max_decode_len, confidence=True)
    else:
        test_chosen = last
    report["results"] = {"chosen_epoch": chosen, "last_epoch": last_epoch,
                         "chosen_on": "validation" if has_valid(data) else "last epoch",
                         "valid_items": len(data.src_valid) if has_valid(data) else 0,
                         "test_items": len(data.src_test),
                         "test_chosen": test_chosen, "test_last": last}
    on = "chosen on validation" if has_valid(data) else "no validation split: the last"
    print(f"torch: test ({len(data.src_test)} items, scored once): {format_score(test_chosen)} "
          f"with the weights of epoch {chosen} ({on}); {format_score(last)} after the last "
          f"epoch, {last_epoch}")
    print(f"BLEU: {last['bleu_description']}; sacreBLEU signature {last['bleu_signature']}")


def main(argv=None):
    """Run the benchmark (see the module docstring); prints per-epoch validation scores and
    the once-scored test results, and writes ``--out`` if given."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data, ours, model = setup(args)
    n_valid = len(data.src_valid) if has_valid(data) else 0
    versions = {"torch": torch.__version__, "numpy": np.__version__,
                "threads": torch.get_num_threads()}
    print(f"data: {data.source}; {len(data.src_train)} train / {n_valid} validation (carved "
          f"from the training data, seed {args.seed}) / {len(data.src_test)} test pairs; "
          f"vocabulary {len(data.src_vocab)} -> {len(data.tgt_vocab)}; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(data.src_train) // args.batch_size} batches of {args.batch_size} per epoch; "
          f"{versions}")
    check = check_first_batch(ours, model, data, args)
    del ours
    report = {"engine": "torch", "args": vars(args), "versions": versions,
              "validation": data.validation, "first_batch": check, "history": []}
    chosen, best_state, start = run(model, data, args, report)
    finish(model, data, args, report, chosen, best_state)
    write_json(args, report)
    print(f"torch: {report['history'][-1]['epoch']} epochs, "
          f"{time.perf_counter() - start:.0f} s; versions: torch {versions['torch']}, "
          f"numpy {versions['numpy']}, threads {versions['threads']}")


if __name__ == "__main__":
    main()
