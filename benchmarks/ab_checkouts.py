"""Before and after a change: the date model's training step in two checkouts of this
repository, each in fresh processes, alternated A B A B ..., with medians.

    git worktree add ../before <commit>      # the checkout to compare against
    python benchmarks/ab_checkouts.py ../before .  [--rounds 6] [--steps 30]

Each round starts one fresh Python per checkout (which one goes first alternates), builds
the attention seq2seq of the book's chapter 8 as ``tinygrad-attn train`` does (D = 16,
H = 256, batch 128, Adam 1e-3, clip 5, float32, seed 0), runs ``--warmup`` steps and times
``--steps`` training steps (forward, backward, clip, Adam). Printed per checkout: the median
step time of each round, the median over rounds, and the ratio after / before of the
medians; and whether the two computed the same losses (bit for bit) on the same batches,
which says the change kept the arithmetic. Speed figures depend on the CPU: the script
prints its model name (check /proc/cpuinfo).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dlfs2" / "date.txt"

_CHILD = """
import json, statistics, sys, time
sys.path.insert(0, {repo!r})
import numpy as np
import tinygrad_attn as tg
try:
    from models.char_dataset import load_dataset
except ImportError:                 # a checkout from before the data modules were split
    from models.data import load_dataset
from models.train import TrainConfig, build_model
tg.manual_seed(0)
data = load_dataset({data!r})
cfg = TrainConfig()
model = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
opt = tg.optim.Adam(model.parameters(), lr=cfg.lr)
order = np.random.default_rng(0).permutation(len(data.src_train))
times, losses = [], []
for k in range({warmup} + {steps}):
    idx = order[k * cfg.batch_size:(k + 1) * cfg.batch_size]
    t0 = time.perf_counter()
    loss = model.loss(data.src_train[idx], data.tgt_train[idx])
    opt.zero_grad()
    loss.backward()
    tg.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    opt.step()
    if k >= {warmup}:
        times.append(time.perf_counter() - t0)
    losses.append(float(loss.item()))
print(json.dumps({{"median": statistics.median(times), "losses": losses}}))
"""


def run_child(repo: Path, data: Path, steps: int, warmup: int) -> dict:
    """One fresh process in ``repo``: {"median": s/step, "losses": [...]}."""
    code = _CHILD.format(repo=str(repo), data=str(data), steps=steps, warmup=warmup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=repo, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args(argv)
    if not a.data.is_file():
        p.error(f"{a.data}: no such file (fix: pass --data PATH to the book's date.txt)")
    print(f"CPU: {cpu_name()}; {a.rounds} rounds x {a.steps} steps after {a.warmup} warm-up")
    res = {"before": [], "after": []}
    for r in range(a.rounds):
        names = ("before", "after") if r % 2 == 0 else ("after", "before")
        for name in names:
            res[name].append(run_child(getattr(a, name).resolve(), a.data.resolve(),
                                       a.steps, a.warmup))
        print(f"round {r + 1}: " + ", ".join(f"{n} {res[n][-1]['median']:.4f} s/step"
                                             for n in ("before", "after")), flush=True)
    med = {n: statistics.median(x["median"] for x in v) for n, v in res.items()}
    same = all(b["losses"] == c["losses"] for b, c in zip(res["before"], res["after"]))
    print(f"median of the rounds: before {med['before']:.4f} s/step, after "
          f"{med['after']:.4f} s/step, ratio after / before {med['after'] / med['before']:.3f}")
    print(f"same losses bit for bit in every round: {same}")


if __name__ == "__main__":
    main()
