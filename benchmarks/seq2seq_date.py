"""The reference workload of issue 6, side by side: the attention seq2seq of Deep Learning
from Scratch 2, chapter 8, on the book's ``date.txt`` (D = 16, H = 256, batch 128, Adam 1e-3,
clip 5, float32), one training step at a time in

- ``ours``: ``models.attention_seq2seq.AttentionSeq2Seq`` as ``tinygrad-attn train`` builds it;
- ``torch nn.LSTM``: the same model in PyTorch eager with the fused ``nn.LSTM``;
- ``torch cell``: the same model in PyTorch eager stepping ``nn.LSTMCell``;

all three from the same initial weights (our state dict, loaded into torch; the first
batch's losses are checked equal before any timing), on the same batches.

    python benchmarks/seq2seq_date.py                 # training steps, start-up, inference
    python benchmarks/seq2seq_date.py --load 1        # ... and again beside 1 busy process
    python benchmarks/seq2seq_date.py --sweep         # time per token over T and batch size

Printed, in this order (issue 17, item 1: the figures hold on any machine):

1. the machine (``machine.py``): CPU model and the ISA extensions that bound a float32 GEMM
   (AVX2, AVX-512 and its BF16 part, AMX), usable cores, load average; numpy's BLAS library,
   version, kernel and threads (``threadpoolctl``); PyTorch's CPU capability, BLAS, MKL;
2. numpy's and PyTorch's GEMM rates (GFLOP/s) at the step's own products (:func:`step_gemms`)
   with 1 thread and with the run's threads, their mix as a step has it, and the floor:
   the step's matmuls at the fastest of those measured rates (s/step, s/epoch);
3. THE PRIMARY FIGURE: each engine alone in a fresh process, ``--rounds`` rounds of
   ``--steps`` steps, the engines' order reversed every other round; ratios ours / torch;
4. beside it, the engines alternated step by step in one process (A B C, C B A, ...): the
   forward / backward / optimizer split, s/epoch, GFLOP/s, x floor, paired ratios;
5. with ``--load N``: N busy processes (``machine.busy_processes``) live through 3 and 4,
   whose every round and step then runs twice, with them napping and spinning (the two
   interleaved, so drift falls on both; 4 in blocks of 10 steps, each after a second in
   its state so that ours' thread adapter has read it); the figures under load and each
   engine's slowdown (time under load / time without); and each engine alone on ONE core (one
   thread, pinned, no load), so the slowdown splits into what the load costs against a
   one-core run and what the second core had given (one-core time / two-core time);
6. peak memory (a child process per engine), start-up (import, first step with a warm and
   a cold numba cache), inference (greedy and beam decoding of the 5,000 test items).

PyTorch (``pip install torch==2.13.0``, CPU) is a benchmark reference only.
``OMP_WAIT_POLICY=PASSIVE`` keeps torch's OpenMP threads from spinning while the numpy
steps run (DESIGN.md: spin-waiting made the comparison measure contention).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:        # machine.py sits next to this file (tests load it by path)
    sys.path.append(HERE)

import machine  # noqa: E402
import tinygrad_attn as tg  # noqa: E402
from models.char_dataset import load_dataset  # noqa: E402
from models.cli_types import OneLineParser, int_at_least  # noqa: E402
from models.train import TrainConfig, build_model  # noqa: E402
from tinygrad_attn.fileio import atomic_open  # noqa: E402
from tinygrad_attn.threads import ThreadAdapter, available_cores  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dlfs2" / "date.txt"
PROG = "seq2seq_date.py"


# -- the same model in torch ------------------------------------------------------------------
class TorchDate(nn.Module):
    """The date model in PyTorch with our parameter names (so our state dict loads as is):
    embedding -> LSTM encoder -> LSTM decoder from (h_S, 0) -> dot attention -> Linear.
    ``cell=True`` steps ``nn.LSTMCell``s with the same weights one time step at a time
    (the per-step model, as the book's code runs), else the fused ``nn.LSTM``."""

    def __init__(self, V, D, H, cell=False):
        super().__init__()
        self.cell, self.H = cell, H
        rnn = (lambda: nn.LSTMCell(D, H)) if cell else (lambda: nn.LSTM(D, H, batch_first=True))
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(V, D)
        self.encoder.lstm = rnn()
        self.decoder_embedding = nn.Embedding(V, D)
        self.decoder = rnn()
        self.out = nn.Linear(2 * H, V)

    def load_ours(self, state: dict):
        """Load our state dict (``weight_ih_l0`` ... become ``weight_ih`` for the cells)."""
        if self.cell:
            state = {k.replace("_l0", ""): v for k, v in state.items()}
        self.load_state_dict(state)

    def _run(self, rnn, x, h, c):
        """x (N, T, D), initial h, c (N, H) -> outputs (N, T, H) and the final h."""
        if not self.cell:
            out, (h, _) = rnn(x, (h[None], c[None]))
            return out, h[0]
        hs = []
        for t in range(x.shape[1]):
            h, c = rnn(x[:, t], (h, c))
            hs.append(h)
        return torch.stack(hs, dim=1), h

    def loss(self, src, tgt):
        """Mean cross-entropy (float32 scalar) of the next character: src (N, S), tgt
        (N, T + 1) int64 ids; the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]."""
        zeros = torch.zeros(src.shape[0], self.H)
        hs, h = self._run(self.encoder.lstm, self.encoder.embedding(src), zeros, zeros)
        dec, _ = self._run(self.decoder, self.decoder_embedding(tgt[:, :-1]), h, zeros)
        weights = (dec @ hs.transpose(1, 2)).softmax(dim=-1)            # (N, T, S)
        logits = self.out(torch.cat([weights @ hs, dec], dim=-1))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))


# -- the step's matmuls and the GEMM rates at their shapes -------------------------------------
def step_gemms(N, S, T, D, H, V) -> list:
    """The matrix products of one training step, as ``(label, shape, count)``: ``shape``
    (M, K, N) or (B, M, K, N) for a batched product, ``count`` how many per step. Forward:
    the LSTM step h_{t-1} W_hh^T (N, H) x (H, 4H) at each of the S + T steps, the input
    projections of all steps in one product each, the attention scores and context
    (batched over N), the output layer (N T, 2H) x (2H, V). Backward: for each forward
    product C = A B both dA = dC B^T and dB = A^T dC (the recurrent weight gradient as one
    product over all steps, as ``tinygrad_attn.fused.LSTMSequence`` computes it), so the
    backward has twice the forward's flops. Sizes are positive ints."""
    G = 4 * H
    out = [("h W_hh^T, LSTM step", (N, H, G), S + T), ("dz W_hh, LSTM step bwd", (N, G, H), S + T)]
    for part, L in (("enc", S), ("dec", T)):
        out += [(f"dW_hh {part}", (G, N * L, H), 1), (f"x W_ih^T {part}", (N * L, D, G), 1),
                (f"dz W_ih {part}", (N * L, G, D), 1), (f"dW_ih {part}", (G, N * L, D), 1)]
    out += [("scores q k^T", (N, T, H, S), 1), ("d scores k", (N, T, S, H), 1),
            ("d keys", (N, S, T, H), 1), ("context a v", (N, T, S, H), 1),
            ("d weights", (N, T, H, S), 1), ("d values", (N, S, T, H), 1),
            ("output layer", (N * T, 2 * H, V), 1), ("d output input", (N * T, V, 2 * H), 1),
            ("d output weight", (V, N * T, 2 * H), 1)]
    return out


def matmul_flops(N, S, T, D, H, V) -> float:
    """Multiply-adds x 2 of one training step's matmuls (:func:`step_gemms`): the LSTM gates
    of every encoder and decoder step, the attention scores and context, the output layer;
    forward once, backward twice that (a gradient for each operand)."""
    return float(sum(2 * math.prod(shape) * n for _, shape, n in step_gemms(N, S, T, D, H, V)))


def report_gemms(dims: dict, steps_per_epoch: int, torch_threads: int) -> dict:
    """Measure (``machine.measure_products`` of :func:`step_gemms`: numpy and torch with
    1 thread and with their threads in this run) and print the GEMM table and the floor:
    the step's matmul flops at the fastest measured mix rate (``machine.faster_rate``).
    Returns the measurement with ``floor`` {"rate_of", "gflops", "s_per_step",
    "s_per_epoch"}. Takes a few seconds (every product, 7 repeats, 4 configurations)."""
    flops = matmul_flops(**dims)
    res = machine.measure_products(step_gemms(**dims), machine.gemm_configs(torch_threads))
    print(f"workload: {', '.join(f'{k}={v}' for k, v in dims.items())}; {flops / 1e9:.2f} "
          f"GFLOP of matmuls per step, {steps_per_epoch} steps per epoch = "
          f"{flops * steps_per_epoch / 1e12:.2f} TFLOP")
    print("\nGEMM rates at the step's products, float32, GFLOP/s (median of 7 repeats; "
          "'1t': 1 thread):")
    machine.print_gemm_table(res, "the step (its mix)")
    which, rate = machine.faster_rate(res["mix"])
    res["floor"] = {"rate_of": which, "gflops": rate, "s_per_step": flops / (rate * 1e9),
                    "s_per_epoch": flops * steps_per_epoch / (rate * 1e9)}
    print(f"floor: the step's matmuls at the fastest measured rate ({which}, {rate:.1f} "
          f"GFLOP/s): {res['floor']['s_per_step']:.4f} s per step, "
          f"{res['floor']['s_per_epoch']:.1f} s per epoch")
    return res


# -- one training step in each engine ---------------------------------------------------------
class Ours:
    name = "ours"

    def __init__(self, model, lr, clip):
        self.model, self.clip = model, clip
        self.opt = tg.optim.Adam(model.parameters(), lr=lr)
        self.threads = ThreadAdapter()      # as models.train's loop: BLAS threads follow load

    def step(self, src, tgt):
        """One training step on src (N, S), tgt (N, T + 1) int64 arrays, as the training
        loop takes it (its BLAS threads adapted to the free cores first): returns the loss
        and the (forward, backward, clip + Adam) seconds."""
        t0 = time.perf_counter()
        self.threads.update()
        loss = self.model.loss(src, tgt)
        t1 = time.perf_counter()
        self.opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        tg.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        t3 = time.perf_counter()
        return loss.item(), (t1 - t0, t2 - t1, t3 - t2)


class Torch:
    def __init__(self, model, lr, clip, name):
        self.model, self.clip, self.name = model, clip, name
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, src, tgt):
        """As ``Ours.step`` (the arrays become tensors before the clock starts)."""
        src, tgt = torch.from_numpy(src), torch.from_numpy(tgt)
        t0 = time.perf_counter()
        loss = self.model.loss(src, tgt)
        t1 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        t3 = time.perf_counter()
        return loss.item(), (t1 - t0, t2 - t1, t3 - t2)


ENGINES = ("ours", "torch nn.LSTM", "torch cell")


def build(data, cfg, names=ENGINES):
    """Our model and the two torch models (those in ``names``), all from our initial
    weights."""
    ours = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
    state = {k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()}
    V, D, H = len(data.src_vocab), cfg.wordvec_size, cfg.hidden_size
    engines = [Ours(ours, cfg.lr, cfg.max_grad_norm)] if "ours" in names else []
    for cell, name in ((False, "torch nn.LSTM"), (True, "torch cell")):
        if name in names:
            m = TorchDate(V, D, H, cell=cell)
            m.load_ours(state)
            engines.append(Torch(m, cfg.lr, cfg.max_grad_norm, name))
    return engines


def batches(data, batch_size, seed=0):
    """The training batches of ``train()``: a seeded permutation, cut in order; epoch
    after epoch (seeds ``seed``, ``seed + 1``, ...), so any number of steps can be timed."""
    for epoch in range(seed, sys.maxsize):
        order = np.random.default_rng(epoch).permutation(len(data.src_train))
        for b in range(len(order) // batch_size):
            idx = order[b * batch_size:(b + 1) * batch_size]
            yield data.src_train[idx], data.tgt_train[idx]


def fmt_s(xs):
    """Seconds ``xs`` as "median (min-max)", 4 decimals."""
    return f"{statistics.median(xs):.4f} ({min(xs):.4f}-{max(xs):.4f})"


def check_first_batch(data, cfg) -> dict:
    """The first batch's loss in each engine from the same initial weights (no step
    taken); exits with a one-line error when they differ by more than 1e-3 (the timing
    would not be of the same model)."""
    src, tgt = next(batches(data, cfg.batch_size))
    losses = {}
    for e in build(data, cfg):
        if isinstance(e, Ours):
            losses[e.name] = e.model.loss(src, tgt).item()
        else:
            with torch.no_grad():
                losses[e.name] = e.model.loss(torch.from_numpy(src),
                                              torch.from_numpy(tgt)).item()
    print("first batch loss: " + ", ".join(f"{n} {v:.6f}" for n, v in losses.items()))
    if max(losses.values()) - min(losses.values()) > 1e-3:
        sys.exit("error: the engines do not compute the same loss from the same weights; "
                 "the comparison would not be of the same model")
    return losses


#: steps per block of the alternated run under --load, and the seconds the machine is left
#: in a block's load state before it is timed: two readings of ours' thread adapter
#: (``ThreadAdapter``'s 0.5 s interval), so ours runs with the threads that state gives it
#: (switched at every step, faster than the adapter reads, ours ran loaded turns with two
#: threads and quiet ones with one)
LOAD_BLOCK, LOAD_SETTLE = 10, 1.0


def train_steps(data, cfg, steps, warmup, busy=None):
    """Alternate the engines step by step in this process (who goes first swaps every
    step, so the machine's drift falls on all alike); return {"base": {name: list of
    (fwd, bwd, opt) seconds}}, ``steps`` per engine after ``warmup``. With ``busy``
    (``machine.BusyProcesses``) the steps go in blocks of :data:`LOAD_BLOCK` batches, each
    block run twice, with the busy processes napping and spinning (which first alternating
    between blocks; :data:`LOAD_SETTLE` seconds in the new state before a block), and
    "loaded" holds the second list: every batch is timed in both states."""
    engines = build(data, cfg)
    states = machine.load_states(busy)
    times = {on: {e.name: [] for e in engines} for on in states}
    it = batches(data, cfg.batch_size)
    total = warmup + steps
    block = LOAD_BLOCK if busy is not None else total
    for b, start in enumerate(range(0, total, block)):
        run = [next(it) for _ in range(min(block, total - start))]
        for on in (states if b % 2 == 0 else states[::-1]):
            if busy is not None:
                busy.set(on)
                time.sleep(LOAD_SETTLE)
            for k, (src, tgt) in enumerate(run, start):
                for e in (engines if k % 2 == 0 else engines[::-1]):
                    _, split = e.step(src, tgt)
                    if k >= warmup:
                        times[on][e.name].append(split)
    return {("loaded" if on else "base"): t for on, t in times.items()}


def report_training(times, flops, steps_per_epoch, floor, title):
    """Print the alternated run's table (s/step, split, s/epoch, GFLOP/s, x ``floor``: the
    floor's s/step, None: no column) and the paired ratios ours / torch. Returns
    {"s_per_step": {name: median}, "steps": {name: totals}, "paired_ratio": {ref: median}}."""
    print(f"\n{title}")
    head = (f"{'engine':<15}{'s/step median (min-max)':>28}{'fwd':>8}{'bwd':>8}{'opt':>8}"
            f"{'s/epoch':>9}{'GFLOP/s':>9}" + (f"{'x floor':>8}" if floor else ""))
    print(head + "\n" + "-" * len(head))
    total, med = {}, {}
    for name, splits in times.items():
        total[name] = [sum(s) for s in splits]
        med[name] = m = statistics.median(total[name])
        f, b, o = (statistics.median(s[i] for s in splits) for i in range(3))
        print(f"{name:<15}{fmt_s(total[name]):>28}{f:>8.4f}{b:>8.4f}{o:>8.4f}"
              f"{m * steps_per_epoch:>9.1f}{flops / m / 1e9:>9.1f}"
              + (f"{m / floor:>8.2f}" if floor else ""))
    paired = {}
    for ref in ("torch nn.LSTM", "torch cell"):
        ratios = [a / b for a, b in zip(total["ours"], total[ref])]
        paired[ref] = statistics.median(ratios)
        print(f"paired ratio ours / {ref}: median {paired[ref]:.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f}, {len(ratios)} pairs)")
    return {"s_per_step": med, "steps": total, "paired_ratio": paired}


# -- start-up, memory, inference -----------------------------------------------------------------
def _child(code, env=None):
    """Run ``code`` in a fresh Python; return its last stdout line parsed as JSON. Raises
    RuntimeError with the child's last stderr line when it fails."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, **(env or {})})
    if out.returncode:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"a benchmark child process failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


_STARTUP = """
import time, json
t0 = time.perf_counter()
import tinygrad_attn
t1 = time.perf_counter()
from models.char_dataset import load_dataset
from models.train import TrainConfig, build_model
data = load_dataset({path!r})
model = build_model(TrainConfig(), len(data.src_vocab), len(data.tgt_vocab))
opt = tinygrad_attn.optim.Adam(model.parameters(), lr=1e-3)
t2 = time.perf_counter()
loss = model.loss(data.src_train[:128], data.tgt_train[:128])
loss.backward()
tinygrad_attn.clip_grad_norm_(model.parameters(), 5.0)
opt.step()
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_step": t3 - t2}}))
"""

# the start of every child that times one engine alone: build it, and its batches
_ONE_ENGINE = """
import json, resource, statistics, sys, time
sys.argv = ["x"]
sys.path.insert(0, "benchmarks")
import seq2seq_date as b
from models.char_dataset import load_dataset
from models.train import TrainConfig
data = load_dataset({path!r})
cfg = TrainConfig()
engine, = b.build(data, cfg, names=({name!r},))
it = b.batches(data, cfg.batch_size)
"""

_MEMORY = _ONE_ENGINE + """
def peak_kib():
    # VmHWM: the peak RSS of this address space (ru_maxrss would also count the parent's
    # RSS at fork time, before exec)
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = peak_kib()
src, tgt = next(it)
engine.step(src, tgt)
first = peak_kib()
for _ in range(10):
    src, tgt = next(it)
    engine.step(src, tgt)
after = peak_kib()
print(json.dumps({{"peak_mib": after / 1024, "step_mib": (after - before) / 1024,
                  "growth_mib": (after - first) / 1024}}))
"""


_SOLO = _ONE_ENGINE + """
import torch
torch.set_num_threads({threads})
times = []
for k in range({warmup} + {steps}):
    src, tgt = next(it)
    t0 = time.perf_counter()
    engine.step(src, tgt)
    if k >= {warmup}:
        times.append(time.perf_counter() - t0)
print(json.dumps({{"median": statistics.median(times), "min": min(times)}}))
"""


def solo_rounds(path, steps, warmup, rounds, threads, busy=None) -> dict:
    """Each engine alone in a fresh process of its own (no alternation, so neither pays for
    the other's threads waking up), one process per engine per round, the order of the
    engines reversed every other round (A B C, C B A, ...) so that drift falls on all.
    With ``busy`` (``machine.BusyProcesses``) every round runs three times: with the busy
    processes napping, spinning, and napping again with each engine on one core (one BLAS
    and one torch thread, pinned to the last CPU of this process's set), the order of the
    three reversed between rounds. ``threads``: torch's intra-op threads in the children
    (numpy keeps its default). Returns {"base": R} or {"base": R, "loaded": R, "one_core":
    R}, R = {"rounds": {name: [{"median", "min"} per round]}, "median": {name: median of the
    rounds' medians, s/step}}."""
    states = machine.solo_states(busy)
    res = {on: {name: [] for name in ENGINES} for on in states}
    for r in range(rounds):
        forward = r % 2 == 0
        for on in (states if forward else states[::-1]):
            one = on == "one core"
            if busy is not None:
                busy.set(on is True)
            for name in (ENGINES if forward else ENGINES[::-1]):
                code = _SOLO.format(path=str(path), name=name, steps=steps, warmup=warmup,
                                    threads=1 if one else threads)
                res[on][name].append(_child(machine.PIN_ONE_CPU + code, machine.ONE_CORE_ENV)
                                     if one else _child(code))
    key = {False: "base", True: "loaded", "one core": "one_core"}
    return {key[on]: {"rounds": runs, "median": {
        n: statistics.median(r["median"] for r in rs) for n, rs in runs.items()}}
        for on, runs in res.items()}


def report_solo(args, busy=None) -> dict:
    """Run :func:`solo_rounds` with the command line's settings and print the medians and
    the ratios ours / torch: first the benchmark's primary figure (no load), then, with
    ``busy``, the same under load and on one core. Returns solo_rounds' dict, each part
    with ``ratio`` {ref: ours / ref}."""
    res = solo_rounds(args.data, args.steps, args.warmup, args.rounds, args.threads, busy)
    for key, tag in (("base", "PRIMARY FIGURE"), ("loaded", f"UNDER --load {args.load}"),
                     ("one_core", "ON ONE CORE (1 thread, pinned, no load)")):
        if key not in res:
            continue
        med = res[key]["median"]
        res[key]["ratio"] = {ref: med["ours"] / med[ref] for ref in ENGINES[1:]}
        print(f"\n{tag}: each engine alone in a fresh process ({args.rounds} round(s) of "
              f"{args.steps} steps, the order reversed every other round"
              + ("; rounds without the load, with it and on one core interleaved"
                 if busy else "") + "): "
              + ", ".join(f"{n} {m:.4f} s/step" for n, m in med.items()))
        print(f"{tag}, ratio of the medians (alone): ours / torch nn.LSTM "
              f"{res[key]['ratio']['torch nn.LSTM']:.3f}, ours / torch cell "
              f"{res[key]['ratio']['torch cell']:.3f}")
    return res


def report_startup(path, repeats=3):
    """Print and return start-up seconds in fresh processes: ``import tinygrad_attn`` and
    the first training step with a warm numba cache (medians of ``repeats``), and the first
    step with a cold cache (a new, empty ``NUMBA_CACHE_DIR``: compiling)."""
    warm = [_child(_STARTUP.format(path=str(path))) for _ in range(repeats)]
    with tempfile.TemporaryDirectory() as cache:
        cold = _child(_STARTUP.format(path=str(path)), env={"NUMBA_CACHE_DIR": cache})
    imp = statistics.median(w["import"] for w in warm)
    first = statistics.median(w["first_step"] for w in warm)
    print(f"\nstart-up (fresh processes, medians of {repeats}): import tinygrad_attn "
          f"{imp:.2f} s (goal < 0.5 s); first training step with a warm numba cache "
          f"{first:.2f} s (goal < 2 s); with a cold cache (compiling) {cold['first_step']:.2f} s")
    return {"import": imp, "first_step_warm": first, "first_step_cold": cold["first_step"]}


def report_memory(path):
    """Print and return, per engine (a child process each), the peak RSS after 11 training
    steps, what the steps added to it and its growth over the last 10, in MiB."""
    print("\nmemory (a child process per engine, each importing both libraries and building "
          "only its model): peak RSS after 11 training steps; what the training steps added "
          "to the peak (the working memory of a step); and the growth over the last 10 "
          "steps (a leak if it keeps growing):")
    res = {}
    for name in ENGINES:
        r = _child(_MEMORY.format(path=str(path), name=name))
        res[name] = r
        print(f"  {name:<15} peak RSS {r['peak_mib']:7.1f} MiB, training steps "
              f"+{r['step_mib']:6.1f} MiB, growth over the last 10 {r['growth_mib']:5.1f} MiB")
    return res


def report_inference(data, cfg, widths=(1, 2, 4), repeats=3):
    """Seconds to decode every test item (``models.predict.predict``, batches of 500
    sentences), median of ``repeats`` runs alternated over the beam widths, each width
    with predict's default threads (one per CPU, one-thread BLAS each) and with one
    thread (``workers=1``)."""
    from models.predict import predict
    model = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
    predict(model, data.src_test[:100], data)                  # warm the kernels
    modes = [(w, workers) for w in widths for workers in (None, 1)]
    times = {m: [] for m in modes}
    for _ in range(repeats):
        for width, workers in modes:
            t0 = time.perf_counter()
            predict(model, data.src_test, data, beam=width, workers=workers)
            times[width, workers].append(time.perf_counter() - t0)
    res = {m: statistics.median(t) for m, t in times.items()}
    print(f"\ninference on the {len(data.src_test)} test items (batches of 500, median of "
          f"{repeats}; {available_cores()} threads / 1 thread): " +
          ", ".join(("greedy" if w == 1 else f"beam width {w}") +
                    f" {res[w, None]:.2f} / {res[w, 1]:.2f} s" for w in widths) +
          " (goal < 2 s; the book's item-at-a-time loop: 20-28 s here)")
    return {w: res[w, None] for w in widths} | {f"{w}, one thread": res[w, 1] for w in widths}


# -- the sweep -------------------------------------------------------------------------------------
def sweep(cfg, steps):
    """Time per token over the sequence length (S = T) and the batch size, ours against
    torch nn.LSTM, on random token ids (the time does not depend on the values)."""
    V = 60
    rng = np.random.default_rng(0)

    def measure(N, S, T):
        data = _Synthetic(rng, N, S, T, V)
        engines = build(data, TrainConfig(**{**cfg.__dict__, "batch_size": N}))[:2]
        times = {e.name: [] for e in engines}
        for k in range(steps + 1):
            src, tgt = data.src_train[:N], data.tgt_train[:N]
            for e in (engines if k % 2 == 0 else engines[::-1]):
                _, split = e.step(src, tgt)
                if k:
                    times[e.name].append(sum(split))
        return {n: statistics.median(t) for n, t in times.items()}

    print(f"{'N':>5}{'S=T':>6}{'ours us/token':>15}{'torch us/token':>16}{'ratio':>8}")
    rows = []
    for N, L in [(128, L) for L in (8, 16, 32, 64, 128)] + [(N, 16) for N in (8, 32, 128, 512)]:
        m = measure(N, L, L)
        tokens = N * 2 * L
        ours, ref = 1e6 * m["ours"] / tokens, 1e6 * m["torch nn.LSTM"] / tokens
        rows.append({"N": N, "L": L, "ours_us_per_token": ours, "torch_us_per_token": ref})
        print(f"{N:>5}{L:>6}{ours:>15.2f}{ref:>16.2f}{ours / ref:>8.2f}")
    return rows


class _Synthetic:
    """Random ids shaped like the date data: src (N, S), tgt (N, T + 1)."""

    def __init__(self, rng, N, S, T, V):
        self.src_train = rng.integers(0, V, (N, S)).astype(np.int64)
        self.tgt_train = rng.integers(0, V, (N, T + 1)).astype(np.int64)
        self.src_vocab = self.tgt_vocab = range(V)


# -- the run, the command line ----------------------------------------------------------------
def workload(data, cfg) -> dict:
    """The step's sizes: N batch, S source and T target steps, D, H, V (output vocabulary)."""
    return {"N": cfg.batch_size, "S": data.src_train.shape[1],
            "T": data.tgt_train.shape[1] - 1, "D": cfg.wordvec_size, "H": cfg.hidden_size,
            "V": len(data.tgt_vocab)}


def report_shared_prefixes(data, cfg, n_batches=20) -> float:
    """Print and return the fraction of the encoder's row-steps that our fused LSTM runs on
    the first ``n_batches`` batches: rows that start from the zero state and have read the
    same characters share a state, and ``fused.LSTMSequence`` steps each distinct prefix
    once until more than 3/4 of the rows are distinct (``fused._shared_prefixes``)."""
    from tinygrad_attn.fused import _shared_prefixes
    run = total = 0
    it = batches(data, cfg.batch_size)
    for _ in range(n_batches):
        src, _ = next(it)
        N, S = src.shape
        for _, first, _ in _shared_prefixes(N, True, S, lambda t: src[:, t]):
            run += N if first is None else len(first)
        total += N * S
    print(f"shared prefixes: ours steps {run / total:.1%} of the encoder's row-steps on the "
          f"first {n_batches} batches (rows from the zero state that read the same "
          f"characters share a state); the flops, floor and GFLOP/s figures count every row")
    return run / total


def time_engines(args, data, cfg, gemm, busy=None) -> dict:
    """The primary figure (each engine alone, unless ``--skip solo``), the engines
    alternated in this process beside it, and with ``busy`` (``machine.BusyProcesses``)
    both under load too and the slowdowns. Returns {"alone", "alternated"[, "load"]}."""
    res, loaded = {}, {}
    if "solo" not in args.skip:
        solo = report_solo(args, busy)
        res["alone"], loaded["alone"] = solo["base"], solo.get("loaded")
        if "one_core" in solo:
            res["one_core"] = solo["one_core"]
    flops = matmul_flops(**workload(data, cfg))
    times = train_steps(data, cfg, args.steps, args.warmup, busy)
    for key, tag in (("base", "beside it"), ("loaded", f"beside it, UNDER --load {args.load}")):
        if key in times:
            out = res if key == "base" else loaded
            out["alternated"] = report_training(
                times[key], flops, len(data.src_train) // cfg.batch_size,
                gemm["floor"]["s_per_step"], f"{tag}: the engines alternated step by step in "
                f"one process (who goes first swaps every step)")
    if busy is not None:
        res["load"] = {"busy_processes": len(busy.procs), **loaded,
                       "slowdown": report_slowdowns(res, loaded, args.load)}
    return res


def report_slowdowns(base: dict, loaded: dict, n: int) -> dict:
    """Print and return each engine's slowdown (time under load / without): "alternated",
    the median of the per-step (same batch) ratios; with the alone figures, "parts" (the
    alone slowdown and its two factors, ``machine.load_parts``, against the one-core
    figures that come with them) and "alone", the ratio of the medians."""
    slow = {}
    if "alternated" in base:
        slow["alternated"] = {name: statistics.median(
            a / b for a, b in zip(loaded["alternated"]["steps"][name], steps))
            for name, steps in base["alternated"]["steps"].items()}
        print(f"slowdown under --load {n} (alternated; time under load / time without, both "
              f"from this run): " + ", ".join(f"{name} {x:.2f}x"
                                              for name, x in slow["alternated"].items()))
    if base.get("alone") and loaded.get("alone"):
        slow["parts"] = machine.load_parts(base["alone"]["median"], loaded["alone"]["median"],
                                           base["one_core"]["median"])
        slow["alone"] = {name: p["slowdown"] for name, p in slow["parts"].items()}
        machine.print_load_parts(slow["parts"], n)
    return slow


def timing(args, data, cfg, gemm) -> dict:
    """:func:`time_engines`, with ``--load``'s busy processes running (napping between
    the loaded turns) for its whole duration; killed when it ends, however it ends."""
    if not args.load:
        return time_engines(args, data, cfg, gemm)
    with machine.started_busy(args.load) as busy:
        return time_engines(args, data, cfg, gemm, busy)


def run(args) -> dict:
    """The whole benchmark (the module docstring's order); returns the results dict that
    ``--out`` stores."""
    if args.threads is None:
        args.threads = machine.cpu_info()["usable_cores"] or os.cpu_count() or 1
    torch.set_num_threads(args.threads)
    results = {"args": {**vars(args), "skip": sorted(args.skip)}, "machine": machine.describe()}
    machine.print_description(results["machine"])
    cfg = TrainConfig()
    if args.sweep:
        results["sweep"] = sweep(cfg, max(3, args.steps // 8))
    else:
        data = load_dataset(args.data)
        print(f"data: {data.source}; {len(data.src_train)} training items")
        results["first_batch_loss"] = check_first_batch(data, cfg)
        results["shared_prefix_fraction"] = report_shared_prefixes(data, cfg)
        dims = workload(data, cfg)
        results["workload"] = dims
        results["gemm"] = report_gemms(dims, len(data.src_train) // cfg.batch_size,
                                       torch.get_num_threads())
        results.update(timing(args, data, cfg, results["gemm"]))
        if "startup" not in args.skip:
            results["startup"] = report_startup(args.data)
        if "memory" not in args.skip:
            results["memory"] = report_memory(args.data)
        if "inference" not in args.skip:
            results["inference"] = report_inference(data, cfg)
    results["load_average_end"] = machine.load_average()
    print(f"\nload average at the end: {results['load_average_end']} (this run's own "
          f"processes count in it)")
    if args.out:
        with atomic_open(args.out, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return results


SKIPPABLE = ("solo", "startup", "memory", "inference")


def skip_list(text: str) -> frozenset:
    """An argparse type: comma-separated parts of the run to skip (:data:`SKIPPABLE`)."""
    parts = frozenset(p.strip() for p in text.split(",") if p.strip())
    bad = sorted(parts - set(SKIPPABLE))
    if bad:
        raise argparse.ArgumentTypeError(f"unknown part {bad[0]!r:.40} (choose from "
                                         f"{', '.join(SKIPPABLE)})")
    return parts


def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring); bad values are one-line errors."""
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the book's date.txt")
    p.add_argument("--steps", type=int_at_least(1, 100_000), default=40,
                   help="timed steps per engine")
    p.add_argument("--warmup", type=int_at_least(0, 1000), default=3)
    p.add_argument("--rounds", type=int_at_least(1, 100), default=2,
                   help="rounds of fresh processes, one per engine, for the primary figure")
    p.add_argument("--threads", type=int_at_least(1, 1024), default=None,
                   help="torch.set_num_threads (default: the usable cores, as many as "
                   "numpy's BLAS starts; numpy keeps its default)")
    p.add_argument("--load", type=int_at_least(0, 64), default=0,
                   help="time the engines again (alone and alternated) beside N busy "
                   "processes and print each engine's slowdown (0: no)")
    p.add_argument("--sweep", action="store_true", help="time per token over T and N")
    p.add_argument("--skip", type=skip_list, default=frozenset(),
                   help=f"comma-separated: {','.join(SKIPPABLE)}")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    return p


def check_args(args) -> None:
    """Checks that need more than one option or the file system; raises ValueError with
    the one-line message (and a fix)."""
    if args.load and args.sweep:
        raise ValueError("--load applies to the training-step timing, not --sweep (fix: drop "
                         "--load or --sweep)")
    if not args.sweep and not Path(args.data).is_file():
        raise ValueError(f"--data {args.data}: no such file (fix: pass the book's date.txt, "
                         f"e.g. {DEFAULT_DATA})")
    if args.out and (Path(args.out).is_dir() or not Path(args.out).parent.is_dir()):
        raise ValueError(f"--out {args.out}: not a file in an existing folder (fix: e.g. "
                         f"--out report.json)")


def main(argv=None) -> int:
    """Parse and check the options (a bad one: one line on stderr, exit status 2, before
    any work), then :func:`run`. Returns 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_args(args)
    except ValueError as e:
        parser.error(str(e))
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
