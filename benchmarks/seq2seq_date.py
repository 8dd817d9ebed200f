"""The reference workload of issue 6, side by side: the attention seq2seq of Deep Learning
from Scratch 2, chapter 8, on the book's ``date.txt`` (D = 16, H = 256, batch 128, Adam 1e-3,
clip 5, float32), one training step at a time in

- ``ours``: ``models.attention_seq2seq.AttentionSeq2Seq`` as ``tinygrad-attn train`` builds it;
- ``torch nn.LSTM``: the same model in PyTorch eager with the fused ``nn.LSTM``;
- ``torch cell``: the same model in PyTorch eager stepping ``nn.LSTMCell``;

all three from the same initial weights (our state dict, loaded into torch; the first
batch's losses are checked equal), on the same batches, alternating A B C A B C ... in one
process so that the machine's drift falls on all three alike; then each engine alone in a
fresh process of its own, in turn (no alternation: a check that neither engine's numbers
come from sharing a process with the other).

    python benchmarks/seq2seq_date.py                 # training steps, start-up, inference
    python benchmarks/seq2seq_date.py --sweep         # time per token over T and batch size

Printed: seconds per step (median, min-max), the forward / backward / optimizer split,
seconds per epoch (median step x steps per epoch), the ratio ours / torch per step pair
(median), achieved GFLOP/s of the matmuls against the 15 s-per-epoch floor that the
machine's ~190 GFLOP/s float32 peak sets, peak memory (each engine in a child process of
its own: the peak RSS, what the training steps add to it, and its growth over 10 steps),
start-up (``import tinygrad_attn``, the first step of a fresh process with a warm and a
cold numba cache) and inference (batched greedy and beam decoding of the 5,000 test items).

PyTorch (``pip install torch==2.13.0``, CPU) is a benchmark reference only, never an
engine dependency. ``OMP_WAIT_POLICY=PASSIVE`` keeps torch's OpenMP threads from spinning
while the numpy steps run (DESIGN.md: spin-waiting made the comparison measure contention).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
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

import tinygrad_attn as tg  # noqa: E402
from models.char_dataset import load_dataset  # noqa: E402
from models.train import TrainConfig, build_model  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dlfs2" / "date.txt"
PEAK_GFLOPS = 190.0          # the machine's float32 matmul peak (DESIGN.md, issue 6)


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
        zeros = torch.zeros(src.shape[0], self.H)
        hs, h = self._run(self.encoder.lstm, self.encoder.embedding(src), zeros, zeros)
        dec, _ = self._run(self.decoder, self.decoder_embedding(tgt[:, :-1]), h, zeros)
        weights = (dec @ hs.transpose(1, 2)).softmax(dim=-1)            # (N, T, S)
        logits = self.out(torch.cat([weights @ hs, dec], dim=-1))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))


def matmul_flops(N, S, T, D, H, V) -> float:
    """Multiply-adds x 2 of one training step's matmuls: the LSTM gates of every encoder
    and decoder step, the attention scores and context, the output layer; forward once,
    backward twice that (a gradient for each operand)."""
    forward = 2 * N * (S + T) * (D + H) * 4 * H + 2 * 2 * N * T * S * H + 2 * N * T * 2 * H * V
    return 3.0 * forward


# -- one training step in each engine ---------------------------------------------------------
class Ours:
    name = "ours"

    def __init__(self, model, lr, clip):
        self.model, self.clip = model, clip
        self.opt = tg.optim.Adam(model.parameters(), lr=lr)

    def step(self, src, tgt):
        t0 = time.perf_counter()
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
    """The training batches of ``train()``: a seeded permutation, cut in order."""
    order = np.random.default_rng(seed).permutation(len(data.src_train))
    for b in range(len(order) // batch_size):
        idx = order[b * batch_size:(b + 1) * batch_size]
        yield data.src_train[idx], data.tgt_train[idx]


def fmt_s(xs):
    return f"{statistics.median(xs):.4f} ({min(xs):.4f}-{max(xs):.4f})"


def train_steps(data, cfg, steps, warmup):
    """Alternate the engines step by step; return {name: list of (fwd, bwd, opt)}."""
    engines = build(data, cfg)
    times = {e.name: [] for e in engines}
    losses = {e.name: [] for e in engines}
    it = batches(data, cfg.batch_size)
    for k in range(warmup + steps):
        src, tgt = next(it)
        order = engines if k % 2 == 0 else engines[::-1]      # alternate who goes first
        for e in order:
            loss, split = e.step(src, tgt)
            losses[e.name].append(loss)
            if k >= warmup:
                times[e.name].append(split)
        if k == 0:
            first = [losses[e.name][0] for e in engines]
            print("first batch loss: " + ", ".join(f"{e.name} {v:.6f}"
                                                   for e, v in zip(engines, first)))
            if max(first) - min(first) > 1e-3:
                sys.exit("error: the engines do not compute the same loss from the same "
                         "weights; the comparison would not be of the same model")
    return times, losses


def report_training(data, cfg, times):
    N = cfg.batch_size
    S, T = data.src_train.shape[1], data.tgt_train.shape[1] - 1
    V = len(data.src_vocab)
    flops = matmul_flops(N, S, T, cfg.wordvec_size, cfg.hidden_size, V)
    steps_per_epoch = len(data.src_train) // N
    floor = flops * steps_per_epoch / (PEAK_GFLOPS * 1e9)
    print(f"\nworkload: N={N}, S={S}, T={T}, D={cfg.wordvec_size}, H={cfg.hidden_size}, "
          f"V={V}; {flops / 1e9:.2f} GFLOP of matmuls per step, {steps_per_epoch} steps per "
          f"epoch = {flops * steps_per_epoch / 1e12:.2f} TFLOP; floor at {PEAK_GFLOPS:.0f} "
          f"GFLOP/s: {floor:.1f} s per epoch\n")
    head = (f"{'engine':<15}{'s/step median (min-max)':>28}{'fwd':>8}{'bwd':>8}{'opt':>8}"
            f"{'s/epoch':>9}{'GFLOP/s':>9}{'x floor':>8}")
    print(head)
    print("-" * len(head))
    total = {}
    for name, splits in times.items():
        tot = [sum(s) for s in splits]
        total[name] = tot
        med = statistics.median(tot)
        f, b, o = (statistics.median(s[i] for s in splits) for i in range(3))
        print(f"{name:<15}{fmt_s(tot):>28}{f:>8.4f}{b:>8.4f}{o:>8.4f}"
              f"{med * steps_per_epoch:>9.1f}{flops / med / 1e9:>9.1f}"
              f"{med * steps_per_epoch / floor:>8.2f}")
    print()
    for ref in ("torch nn.LSTM", "torch cell"):
        ratios = [a / b for a, b in zip(total["ours"], total[ref])]
        print(f"paired ratio ours / {ref}: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {len(ratios)} pairs)")
    return total


# -- start-up, memory, inference -----------------------------------------------------------------
def _child(code, env=None):
    """Run ``code`` in a fresh Python; return its last stdout line parsed as JSON."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, **(env or {})}, check=True)
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
times = []
for k in range({warmup} + {steps}):
    src, tgt = next(it)
    t0 = time.perf_counter()
    engine.step(src, tgt)
    if k >= {warmup}:
        times.append(time.perf_counter() - t0)
print(json.dumps({{"median": statistics.median(times), "min": min(times)}}))
"""


def report_solo(path, steps, warmup, rounds=2):
    """Each engine alone in a fresh process (no alternation, so neither pays for the
    other's threads waking up), ``rounds`` times in turn; medians of the per-step times."""
    res = {name: [] for name in ENGINES}
    for _ in range(rounds):
        for name in ENGINES:
            res[name].append(_child(_SOLO.format(path=str(path), name=name, steps=steps,
                                                 warmup=warmup)))
    med = {n: statistics.median(r["median"] for r in runs) for n, runs in res.items()}
    print(f"\neach engine alone in a fresh process ({rounds} rounds of {steps} steps, in turn): "
          + ", ".join(f"{n} {m:.4f} s/step" for n, m in med.items()))
    for ref in ("torch nn.LSTM", "torch cell"):
        print(f"ratio of the medians ours / {ref}: {med['ours'] / med[ref]:.3f}")
    return med


def report_startup(path, repeats=3):
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
    """Seconds to decode every test item (``models.train.predict``, batches of 500
    sentences), median of ``repeats`` runs alternated over the beam widths, each width
    with predict's default threads (one per CPU, one-thread BLAS each) and with one
    thread (``workers=1``)."""
    from models.train import _cpu_count, predict
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
          f"{repeats}; {_cpu_count()} threads / 1 thread): " +
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--steps", type=int, default=40, help="timed steps per engine")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--sweep", action="store_true", help="time per token over T and N")
    p.add_argument("--skip", default="", help="comma-separated: solo,startup,memory,inference")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import numba
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    cfg = TrainConfig()
    results = {}
    if args.sweep:
        results["sweep"] = sweep(cfg, max(3, args.steps // 8))
    else:
        data = load_dataset(args.data)
        print(f"data: {data.source}; {len(data.src_train)} training items")
        times, _ = train_steps(data, cfg, args.steps, args.warmup)
        results["steps"] = report_training(data, cfg, times)
        skip = set(args.skip.split(","))
        if "solo" not in skip:
            results["solo"] = report_solo(args.data, args.steps, args.warmup)
        if "startup" not in skip:
            results["startup"] = report_startup(args.data)
        if "memory" not in skip:
            results["memory"] = report_memory(args.data)
        if "inference" not in skip:
            results["inference"] = report_inference(data, cfg)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
