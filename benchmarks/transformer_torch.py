"""Our Transformer against ``torch.nn.Transformer`` of the same size (issue 16, item 4):
tokens per second of a training step on the same batches, and the PyTorch twin trained on
a translation file for the same minutes as ``tinygrad-attn train --model transformer``.

The twin (:class:`TorchTransformer`, ours built around ``torch.nn.Transformer`` and
loaded with our initial weights) and one training step of either engine (:class:`Step`)
live in ``transformer_twin.py`` next to this file; the first batch's loss is checked equal
(dropout off) before any timing or training.

    python benchmarks/transformer_torch.py bench [--data FILE | --synthetic] [--out J]
    python benchmarks/transformer_torch.py train --data FILE --max-minutes 60 --out J

``bench``: one training step (forward, backward, global-norm clip, Adam, the schedule) of
each engine on the SAME batches (the first batches of an epoch of our pipeline: loader,
validation split, batches by length; or ``--synthetic`` ones), (1) in one process, the
engine that goes first swapped at every step (a paired ratio per step), (2) each engine
alone in a fresh process, one per engine per round, the order alternating between rounds
(medians over rounds); with ``--load N`` each round also beside N busy processes and on one
core (each engine's slowdown and its two factors). Tokens are the real source tokens plus
the real target tokens the loss is over. It prints the CPU model, cores, load, threads,
torch's and numpy's BLAS.

``train``: the twin trained as ``models.train.train`` trains ours: the same data options,
validation split and batches (the same seeded generator), Adam with the same schedule
(inverse square root as ``LambdaLR``), clip, label smoothing; greedy decoding of the
validation split after each epoch, the first epoch with the best lower-cased BLEU chosen
(``--average-last K``: the average of the last K epochs is one more candidate);
``--max-minutes`` covers training and validation; the test split is scored once at the
end with the chosen and the last weights (``translation_score(confidence=True)``). It
prints the ``tinygrad-attn train`` command that trains ours with the same settings.

PyTorch (``pip install torch==2.13.0``, CPU) is a benchmark reference only.
``OMP_WAIT_POLICY=PASSIVE`` keeps torch's OpenMP threads from spinning while numpy runs
(DESIGN.md: spin-waiting made the comparison measure contention). Run it niced on a
shared machine, the lead's numbers on a quiet one.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.batching import epoch_batches, pad_fraction, sequence_lengths  # noqa: E402
from models.cli_options import config_type  # noqa: E402
from models.cli_types import OneLineParser, int_at_least  # noqa: E402
from models.model_io import MAX_VOCAB  # noqa: E402
from models.task_loading import is_translation_file, load_task  # noqa: E402
from models.tokenizers import SENTENCEPIECE_KINDS, TOKENIZERS  # noqa: E402
from models.decode_length import default_max_decode_len  # noqa: E402
from models.predict import _trim  # noqa: E402
from models.train import (LR_SCHEDULES, TrainConfig, _by_length,  # noqa: E402
                          build_model, format_score, training_batch, translation_score,
                          with_validation)
from models.transformer import Transformer  # noqa: E402
from tinygrad_attn.fileio import atomic_open  # noqa: E402

# transformer_twin sits next to this file: on sys.path when run as a script (sys.path[0])
# and in the bench's children (_CHILD), not when loaded from its path (the tests)
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.append(HERE)

from transformer_twin import (Step, TorchTransformer, batch_tokens,  # noqa: E402
                              first_batch_check, twin_of)
import machine  # noqa: E402
from machine import machine_info, numpy_blas  # noqa: E402,F401

DEFAULT_DATA = "../shared/data/eng-fra/fra.tutorial-filter.txt"
PROG = "transformer_torch.py"


# -- the machine (numpy_blas, machine_info: benchmarks/machine.py) ----------------------------
def set_threads(threads: int | None) -> None:
    """``threads`` for torch's intra-op pool and every BLAS pool (threadpoolctl); None:
    each library's default."""
    if threads is not None:
        torch.set_num_threads(threads)
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads, user_api="blas")


# -- bench ------------------------------------------------------------------------------------
def bench_batches(args, config: TrainConfig):
    """The timed batches: (list of ``warmup + steps`` (src, tgt, mask) batches, (V_src,
    V_tgt), pad_id, a description). From ``--data``: the first batches of our first epoch
    (``epoch_batches`` with the seed's generator, as ``train`` draws them; cycled if the
    epoch is shorter). ``--synthetic S,T,V``: random ids, N = batch size, no padding (pad
    id 0, ids >= 4, the targets start with 1)."""
    n = args.warmup + args.steps
    rng = np.random.default_rng(config.seed)
    if args.synthetic:
        N, (S, T, V) = config.batch_size, args.synthetic
        batches = []
        for _ in range(n):
            tgt = rng.integers(4, V, (N, T + 1))
            tgt[:, 0] = 1
            batches.append((rng.integers(4, V, (N, S)), tgt, None))
        return batches, (V, V), 0, f"synthetic: N={N}, S={S}, T={T}, V={V}, no padding"
    data = with_validation(load_data(args), config)
    idx = epoch_batches(data, config.batch_size, rng, _by_length(config, data))
    idx = [idx[k % len(idx)] for k in range(n)]
    pads = pad_fraction(idx, *sequence_lengths(data))
    return ([training_batch(data, i) for i in idx], (len(data.src_vocab), len(data.tgt_vocab)),
            data.pad_id, f"{data.source}; {n} batches of {config.batch_size} "
            f"({'by length' if _by_length(config, data) else 'at random'}, pad fraction "
            f"{pads:.3f})")


def run_steps(engines, batches, pad_id, warmup: int) -> dict:
    """Each batch through every engine, the first engine swapped at every step. Returns
    {name: [(forward, backward, optimizer seconds, tokens), ...]} for the steps after the
    ``warmup`` first."""
    out = {e.name: [] for e in engines}
    for k, (src, tgt, mask) in enumerate(batches):
        for e in (engines if k % 2 == 0 else engines[::-1]):
            _, _, split = e.step(src, tgt, mask, pad_id)
            if k >= warmup:
                out[e.name].append((*split, batch_tokens(src, tgt, pad_id)))
    return out


def summarize(rows) -> dict:
    """[(fwd, bwd, opt, tokens)] -> seconds per step (median, min, max), the split's
    medians, tokens per second (all tokens / all seconds)."""
    total = [f + b + o for f, b, o, _ in rows]
    return {"step_median": statistics.median(total), "step_min": min(total),
            "step_max": max(total), "forward": statistics.median(r[0] for r in rows),
            "backward": statistics.median(r[1] for r in rows),
            "optimizer": statistics.median(r[2] for r in rows),
            "tokens_per_second": sum(r[3] for r in rows) / sum(total)}


def report_alternated(times: dict) -> dict:
    """Print the one-process table and the paired ratio ours / torch of tokens per second
    (per step: torch's seconds / ours', the same tokens); return the numbers."""
    res = {name: summarize(rows) for name, rows in times.items()}
    print(f"\n{'engine':<8}{'s/step median (min-max)':>28}{'fwd':>8}{'bwd':>8}{'opt':>8}"
          f"{'tokens/s':>10}")
    for name, r in res.items():
        print(f"{name:<8}{r['step_median']:>12.4f} ({r['step_min']:.4f}-{r['step_max']:.4f})"
              f"{r['forward']:>8.4f}{r['backward']:>8.4f}{r['optimizer']:>8.4f}"
              f"{r['tokens_per_second']:>10.0f}")
    ratios = [sum(t[:3]) / sum(o[:3]) for o, t in zip(times["ours"], times["torch"])]
    res["paired_ratio"] = {"median": statistics.median(ratios), "min": min(ratios),
                           "max": max(ratios), "pairs": len(ratios)}
    print(f"alternated in one process: tokens/s ours / torch, paired per step: median "
          f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}, "
          f"{len(ratios)} pairs)")
    return res


def save_workload(path, config, ours, batches, pad_id, n_batches) -> None:
    """The children's inputs as one .npz without pickle: our initial weights
    (``state.*``), the batches (``src.k``, ``tgt.k``, ``mask.k``) and a JSON ``meta``."""
    arrays = {f"state.{k}": v for k, v in ours.state_dict().items()}
    for k, (src, tgt, mask) in enumerate(batches):
        arrays[f"src.{k}"], arrays[f"tgt.{k}"] = src, tgt
        if mask is not None:
            arrays[f"mask.{k}"] = mask
    meta = {"config": asdict(config), "model": ours.config, "pad_id": pad_id,
            "n_batches": n_batches, "batches": len(batches)}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def solo(engine: str, path, warmup: int, threads: int | None) -> dict:
    """One engine alone (run in a fresh process by :func:`solo_rounds`): build it from the
    workload file, take every batch, return ``summarize`` of the steps after ``warmup``."""
    set_threads(threads)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        state = {k[6:]: z[k] for k in z.files if k.startswith("state.")}
        batches = [(z[f"src.{k}"], z[f"tgt.{k}"], z[f"mask.{k}"] if f"mask.{k}" in z.files
                    else None) for k in range(meta["batches"])]
    config = TrainConfig(**meta["config"])
    model = Transformer(**meta["model"])
    model.load_state_dict(state)
    step = Step(twin_of(model) if engine == "torch" else model, config, meta["n_batches"])
    return summarize(run_steps([step], batches, meta["pad_id"], warmup)[step.name])


_CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import {module} as b
print(json.dumps(b.solo({engine!r}, {path!r}, {warmup!r}, {threads!r})))
"""


def alone(engine: str, path, warmup: int, threads, one_core: bool = False,
          module: str = "transformer_torch") -> dict:
    """``module.solo`` of ``engine`` (this file's or ``recurrent_torch``'s) in a fresh Python;
    with ``one_core``, pinned to one CPU with one BLAS and one torch thread
    (``machine.PIN_ONE_CPU``, ``machine.ONE_CORE_ENV``). Raises ValueError with the child's
    last error line."""
    code = _CHILD.format(bench=HERE, module=module, engine=engine, path=str(path),
                         warmup=warmup, threads=1 if one_core else threads)
    done = subprocess.run([sys.executable, "-c", (machine.PIN_ONE_CPU if one_core else "")
                           + code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(machine.ONE_CORE_ENV if one_core else {})})
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ValueError(f"the {engine} process alone failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def solo_rounds(path, rounds: int, warmup: int, threads: int | None, busy=None,
                module: str = "transformer_torch") -> dict:
    """``rounds`` rounds, each running both engines alone in fresh processes (:func:`alone`;
    ours first in even rounds, torch first in odd ones). Prints and returns the medians
    over the rounds of s/step and tokens/s per engine, and the ratios ours / torch of those
    medians ("time_ratio", "ratio"). With ``busy`` (``machine.BusyProcesses``) every round
    also runs with them spinning and, with them napping, on one core
    (``machine.solo_states``; the order of the three reversed every other round): then
    also "loaded" and "one_core", each with its medians and ratios, and "parts"
    (``machine.load_parts``)."""
    states = machine.solo_states(busy)
    runs = {on: {"ours": [], "torch": []} for on in states}
    for r in range(rounds):
        for on in (states if r % 2 == 0 else states[::-1]):
            if busy is not None:
                busy.set(on is True)
            for engine in (("ours", "torch") if r % 2 == 0 else ("torch", "ours")):
                runs[on][engine].append(alone(engine, path, warmup, threads, on == "one core",
                                              module))
    tags = {False: ("PRIMARY FIGURE, each engine alone", "alone"),
            True: ("UNDER --load: each engine alone", "under --load"),
            "one core": ("ON ONE CORE (1 thread, pinned, no load): each engine alone",
                         "on one core")}
    parts = {on: _medians(runs[on], rounds, *tags[on]) for on in states}
    res = parts[False]
    if busy is not None:
        res["loaded"], res["one_core"] = parts[True], parts["one core"]
        res["parts"] = machine.load_parts(*(parts[on]["step_median"] for on in states))
        machine.print_load_parts(res["parts"], len(busy.procs))
    return res


def _medians(runs: dict, rounds: int, tag: str, label: str) -> dict:
    """Print (headed ``tag``, then ``label``) and return one state's medians over the
    rounds (s/step, tokens/s) and the ratios ours / torch of those medians."""
    step = {n: statistics.median(x["step_median"] for x in rs) for n, rs in runs.items()}
    tps = {n: statistics.median(x["tokens_per_second"] for x in rs) for n, rs in runs.items()}
    res = {"rounds": runs, "step_median": step, "tokens_per_second": tps,
           "time_ratio": step["ours"] / step["torch"], "ratio": tps["ours"] / tps["torch"]}
    print(f"{tag} in a fresh process ({rounds} round(s), order alternating; medians): "
          + ", ".join(f"{n} {step[n]:.4f} s/step ({tps[n]:.0f} tokens/s)" for n in runs))
    print(f"{label}, ratio of the medians: time per step ours / torch "
          f"{res['time_ratio']:.3f}; tokens/s ours / torch {res['ratio']:.3f}")
    return res


def check_load(args) -> None:
    """--load needs rounds of fresh processes to run beside. Raises ValueError naming the
    fix."""
    if args.load and not args.rounds:
        raise ValueError("--load applies to the rounds of fresh processes, and --rounds is 0 "
                         "(fix: --rounds 1 or more, or drop --load)")


def print_machine(info: dict) -> None:
    """The machine lines every report starts with."""
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"load average {info['load_average']}; Python {info['python']}, numpy "
          f"{info['numpy']}, numba {info['numba']}, torch {info['torch']} "
          f"({info['torch_threads']} threads; {'; '.join(info['torch_build'])}); numpy "
          f"BLAS: {info['numpy_blas']}; OMP_WAIT_POLICY={info['omp_wait_policy']}")


def run_bench(args) -> dict:
    """The ``bench`` command: see the module docstring. Returns the report."""
    set_threads(args.threads)
    config = make_config(args)
    report = {"command": "bench", "args": vars(args), "machine": machine_info()}
    print_machine(report["machine"])
    batches, (vs, vt), pad_id, what = bench_batches(args, config)
    ours = build_model(config, vs, vt)
    twin = twin_of(ours)
    report["first_batch"] = first_batch_check(ours, twin, batches[0], pad_id,
                                              config.label_smoothing)
    n_params = sum(p.numel() for p in twin.parameters())
    print(f"workload: {what}; d_model {config.hidden_size}, {config.heads} heads, ff "
          f"{config.ff_size}, {config.num_layers}+{config.num_layers} layers, V {vs} -> {vt}, "
          f"{n_params:,} parameters (ours {ours.num_parameters():,}); first batch loss ours "
          f"{report['first_batch']['ours']:.6f}, torch {report['first_batch']['torch']:.6f}")
    n_batches = len(batches)
    engines = [Step(ours, config, n_batches), Step(twin, config, n_batches)]
    report["alternated"] = report_alternated(run_steps(engines, batches, pad_id, args.warmup))
    if args.rounds:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "workload.npz"
            save_workload(path, config, build_model(config, vs, vt), batches, pad_id,
                          n_batches)
            busy = machine.started_busy(args.load) if args.load else contextlib.nullcontext()
            with busy as busy:
                report["alone"] = solo_rounds(path, args.rounds, args.warmup, args.threads,
                                              busy)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {report['load_average_end']} (this run's own threads "
          f"count in it)")
    write_json(args.out, report)
    return report


# -- train ------------------------------------------------------------------------------------
@torch.no_grad()
def translate(model: TorchTransformer, data, split: str, max_len: int,
              batch_size: int = 500) -> list[str]:
    """Greedy decoding of ``data``'s ``split`` ("valid" or "test") as
    ``models.decoding.greedy_decode`` (stop at <eos>, batches of 500, the encoder once per
    batch, the decoder over the whole prefix at each step as ours) -> detokenized text.
    Leaves the model in training mode."""
    model.eval()
    src_all, codec, hyps = (data.src_test if split == "test" else data.src_valid), \
        data.codec(), []
    for i in range(0, len(src_all), batch_size):
        src, mask = _trim(src_all[i:i + batch_size], data.pad_id)  # as predict
        src, mask = torch.from_numpy(src), torch.from_numpy(mask)
        memory = model.encode(src, mask)
        tokens = torch.full((len(src), 1), data.start_id, dtype=torch.int64)
        done = torch.zeros(len(src), dtype=torch.bool)
        for _ in range(max_len):
            nxt = model.decode(tokens, memory, mask)[:, -1].argmax(dim=-1)
            nxt = nxt.masked_fill(done, data.eos_id)
            done |= nxt == data.eos_id
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            if done.all():
                break
        hyps += [codec.decode_target(row) for row in tokens[:, 1:].numpy()]
    model.train()
    return hyps


def train_epoch(step: Step, data, config: TrainConfig, rng, deadline) -> dict:
    """One epoch of ``epoch_batches`` (the generator ``rng``, as ours) -> the record's
    training part; stops after the batch that passes ``deadline``. Raises ValueError at a
    NaN/inf loss or gradient norm (as ``nonfinite="stop"``)."""
    batches = epoch_batches(data, config.batch_size, rng, _by_length(config, data))
    losses, tokens, t0 = [], 0, time.perf_counter()
    for b, idx in enumerate(batches):
        src, tgt, mask = training_batch(data, idx)
        value, applied, _ = step.step(src, tgt, mask, data.pad_id)
        if not applied:
            raise ValueError(f"torch: a non-finite loss or gradient norm at step {b + 1} "
                             f"(fix: lower --lr)")
        losses.append(value)
        tokens += batch_tokens(src, tgt, data.pad_id)
        if deadline is not None and time.perf_counter() > deadline:
            break
    seconds = time.perf_counter() - t0
    return {"loss": float(np.mean(losses)), "steps": len(losses),
            "lr": step.optimizer.param_groups[0]["lr"], "train_seconds": seconds,
            "tokens": tokens, "tokens_per_second": tokens / seconds,
            "pad_fraction": pad_fraction(batches[:len(losses)], *sequence_lengths(data))}


def state_copy(model) -> dict:
    """A detached copy of ``model.state_dict()``."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def average_candidate(model, data, config, recent: list, best: dict, log=print):
    """Checkpoint averaging as ``models.recipe.average_candidate``: the mean of the
    ``recent`` [(epoch, state)] scored on validation; it becomes ``best`` ("avg A-B")
    if strictly better. The model keeps its last weights. Returns (best, record or None)."""
    if len(recent) < 2:
        return best, None
    last, epochs = state_copy(model), [e for e, _ in recent]
    avg = {k: sum(s[k] for _, s in recent) / len(recent) for k in recent[0][1]}
    model.load_state_dict(avg)
    score = translation_score(data, translate(model, data, "valid", config.max_decode_len),
                              "valid")
    model.load_state_dict(last)
    chosen = score["bleu"] > best["score"]
    log(f"average of epochs {epochs[0]}-{epochs[-1]}: {format_score(score, 'validation')}; "
        + ("chosen" if chosen else f"epoch {best['epoch']} stays chosen"))
    if chosen:
        best = {"epoch": f"avg {epochs[0]}-{epochs[-1]}", "score": score["bleu"], "state": avg}
    return best, {"epochs": epochs, "chosen": chosen,
                  **{f"valid_{k}": v for k, v in score.items()}}


def train_loop(step: Step, data, config: TrainConfig, report: dict) -> dict:
    """Epochs until ``config.epochs`` or ``max_minutes`` (training + validation); the first
    epoch with the best validation BLEU is kept. Returns best {"epoch", "score", "state"}."""
    model, history = step.model, report["history"]
    rng = np.random.default_rng(config.seed)
    best, recent, start = {"epoch": 0, "score": None, "state": None}, [], time.perf_counter()
    deadline = None if config.max_minutes is None else start + 60 * config.max_minutes
    for epoch in range(1, config.epochs + 1):
        rec = {"epoch": epoch, **train_epoch(step, data, config, rng, deadline)}
        t1 = time.perf_counter()
        score = translation_score(data, translate(model, data, "valid",
                                                  config.max_decode_len), "valid")
        rec.update({f"valid_{k}": v for k, v in score.items()}, eval_seconds=
                   time.perf_counter() - t1, elapsed_seconds=time.perf_counter() - start)
        history.append(rec)
        if best["score"] is None or score["bleu"] > best["score"]:
            best = {"epoch": epoch, "score": score["bleu"], "state": state_copy(model)}
        if config.average_last:
            recent = (recent + [(epoch, state_copy(model))])[-config.average_last:]
        print(f"epoch {epoch}: loss {rec['loss']:.4f}, {format_score(score, 'validation')}, "
              f"{rec['train_seconds']:.1f} s train ({rec['steps']} steps, "
              f"{rec['tokens_per_second']:.0f} tokens/s), {rec['eval_seconds']:.1f} s eval; "
              f"elapsed {rec['elapsed_seconds']:.1f} s", flush=True)
        write_json(report["args"]["out"], report)
        if deadline is not None and time.perf_counter() > deadline:
            print(f"stopping: the time limit of {config.max_minutes} minutes is reached")
            break
    best, report["average"] = average_candidate(model, data, config, recent, best)
    return best


def finish(model, data, config, report: dict, best: dict) -> None:
    """Score the test split with the last and with the chosen weights (confidence=True);
    print both; store them in ``report["results"]`` (the keys of our results.json)."""
    last_epoch = report["history"][-1]["epoch"]
    last = translation_score(data, translate(model, data, "test", config.max_decode_len),
                             "test", confidence=True)
    chosen = last
    if best["epoch"] != last_epoch:
        model.load_state_dict(best["state"])
        chosen = translation_score(data, translate(model, data, "test",
                                                   config.max_decode_len), "test",
                                   confidence=True)
    report["results"] = {"chosen_epoch": best["epoch"], "last_epoch": last_epoch,
                         "chosen_on": "validation", "valid_items": len(data.src_valid),
                         "test_items": len(data.src_test), "test_chosen": chosen,
                         "test_last": last}
    print(f"torch: test ({len(data.src_test)} items, scored once): {format_score(chosen)} "
          f"with the weights of epoch {best['epoch']} (chosen on validation); "
          f"{format_score(last)} after the last epoch, {last_epoch}")
    print(f"BLEU: {last['bleu_description']}; sacreBLEU signature {last['bleu_signature']}")


def run_train(args) -> dict:
    """The ``train`` command: see the module docstring. Returns the report."""
    set_threads(args.threads)
    config = make_config(args)
    report = {"command": "train", "engine": "torch", "args": vars(args),
              "machine": machine_info(), "history": []}
    print_machine(report["machine"])
    print("ours, the same settings: " + ours_command(args))
    data = with_validation(load_data(args), config)
    ours = build_model(config, len(data.src_vocab), len(data.tgt_vocab))
    if config.max_decode_len is None:          # resolved from the data as ours resolves it
        config = replace(config, max_decode_len=default_max_decode_len(data, ours))
    report["config"] = asdict(config)
    twin = twin_of(ours)
    first = training_batch(data, epoch_batches(data, config.batch_size, np.random.
                                               default_rng(config.seed),
                                               _by_length(config, data))[0])
    report["first_batch"] = first_batch_check(ours, twin, first, data.pad_id,
                                              config.label_smoothing)
    report["validation"] = data.validation
    print(f"data: {data.source}; vocabulary {len(data.src_vocab)} -> {len(data.tgt_vocab)}; "
          f"{sum(p.numel() for p in twin.parameters()):,} parameters; first batch loss "
          f"ours {report['first_batch']['ours']:.6f}, torch {report['first_batch']['torch']:.6f}")
    del ours
    n = len(data.src_train)
    step = Step(twin, config, -(-n // config.batch_size) if _by_length(config, data)
                     else n // config.batch_size)
    best = train_loop(step, data, config, report)
    finish(twin, data, config, report, best)
    write_json(args.out, report)
    return report


# -- the command line -------------------------------------------------------------------------
def load_data(args):
    """Our translation data as ``tinygrad-attn train`` loads it from these options."""
    return load_task(resolve(args.data), direction=args.direction, max_len=args.max_len,
                     lower=args.lower, min_freq=args.min_freq, max_pairs=args.max_pairs,
                     tokenizer=args.tokenizer, vocab_size=args.vocab_size,
                     joint_vocab=args.joint_vocab)


def resolve(path: str) -> Path:
    """``path``, or (relative and absent here) the same path from the repository root."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else ROOT / p


#: the TrainConfig fields that an option of the same name sets
_CONFIG_FIELDS = ("epochs", "batch_size", "hidden_size", "heads", "ff_size", "num_layers",
                  "dropout", "lr", "lr_schedule", "warmup_steps", "label_smoothing", "seed",
                  "valid_fraction", "max_minutes", "max_decode_len", "bucket",
                  "share_embeddings", "average_last")


def make_config(args) -> TrainConfig:
    """The TrainConfig of ours with these options (the Transformer; d_model = hidden)."""
    return TrainConfig(model="transformer", max_grad_norm=args.clip,
                       **{name: getattr(args, name) for name in _CONFIG_FIELDS})


#: the switches of tinygrad-attn train and their defaults there
_SWITCHES = {"lower": True, "bucket": None, "joint_vocab": False, "share_embeddings": False}


def ours_command(args) -> str:
    """The ``tinygrad-attn train`` command line that trains ours with these settings (the
    options have tinygrad-attn's names; those at their default there are left out)."""
    parts = ["tinygrad-attn train --model transformer"]
    for name in ("data", "direction", "max_len", "max_pairs", "tokenizer", "vocab_size",
                 *_CONFIG_FIELDS, "clip", "min_freq", "lower", "joint_vocab"):
        value, flag = getattr(args, name), "--" + name.replace("_", "-")
        if name in _SWITCHES:       # --lower / --no-lower, --bucket / --no-bucket, flags
            if value != _SWITCHES[name]:
                parts.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None and not (name == "min_freq" and value == 1):
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def write_json(path, report: dict) -> None:
    """``report`` as JSON to ``path`` (atomically), if a path was given."""
    if path:
        with atomic_open(path, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)


def add_shared_options(p) -> None:
    """The options of both commands: the model, the optimizer and the data (public:
    ``recurrent_torch.py`` builds its command line on them)."""
    p.add_argument("--data", default=None, help=f"sentence-pair file (default {DEFAULT_DATA}; "
                   "a relative path absent here is taken from the repository root)")
    p.add_argument("--direction", default=None, help="e.g. fra-eng (default: into English)")
    p.add_argument("--max-len", type=int_at_least(1), default=None)
    p.add_argument("--min-freq", type=int_at_least(1), default=1)
    p.add_argument("--max-pairs", type=int_at_least(1), default=None)
    p.add_argument("--lower", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tokenizer", default="word", choices=TOKENIZERS)
    p.add_argument("--vocab-size", type=int_at_least(5, MAX_VOCAB), default=None)
    p.add_argument("--joint-vocab", action="store_true")
    p.add_argument("--bucket", action=argparse.BooleanOptionalAction, default=None,
                   help="batches by length (default) or at random")
    for name, default in (("hidden_size", 256), ("heads", 4), ("ff_size", 512),
                          ("num_layers", 2), ("batch_size", 64), ("dropout", 0.1),
                          ("label_smoothing", 0.1), ("lr", 5e-4), ("warmup_steps", None),
                          ("epochs", 1000), ("seed", 0), ("valid_fraction", 0.1),
                          ("max_decode_len", None), ("average_last", None),
                          ("max_minutes", None)):
        p.add_argument("--" + name.replace("_", "-"), type=config_type(name), default=default)
    p.add_argument("--clip", type=config_type("max_grad_norm"), default=5.0)
    p.add_argument("--lr-schedule", default="inverse-sqrt", choices=LR_SCHEDULES)
    p.add_argument("--share-embeddings", action="store_true")
    p.add_argument("--threads", type=int_at_least(1, 1024), default=None,
                   help="torch's threads and every BLAS pool's (default: each library's)")
    p.add_argument("--out", default=None, help="write the report as JSON here")


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``bench`` and ``train`` (see the module docstring)."""
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="tokens per second of a training step, both engines")
    add_shared_options(bench)
    bench.add_argument("--steps", type=int_at_least(1, 100_000), default=30,
                       help="timed steps per engine")
    bench.add_argument("--warmup", type=int_at_least(0, 1000), default=3)
    bench.add_argument("--rounds", type=int_at_least(0, 100), default=3,
                       help="rounds of fresh processes, one per engine (0: none)")
    bench.add_argument("--load", type=int_at_least(0, 64), default=0,
                       help="busy processes beside each round of fresh processes, which then "
                       "also runs under them and on one core (0: none)")
    bench.add_argument("--synthetic", type=synthetic_shape, default=None, metavar="S,T,V",
                       help="random batches of --batch-size x S source and T target ids "
                       "below V (no padding) instead of a data file, e.g. 16,16,4000")
    train = sub.add_parser("train", help="train the twin for --max-minutes")
    add_shared_options(train)
    return p


#: the data options: (name, default); refused with --synthetic (recurrent_torch.py too)
DATA_OPTIONS = (("data", None), ("direction", None), ("max_len", None), ("min_freq", 1),
                 ("max_pairs", None), ("lower", True), ("tokenizer", "word"),
                 ("vocab_size", None), ("joint_vocab", False), ("bucket", None))


def synthetic_shape(text: str) -> tuple:
    """argparse type of --synthetic: "S,T,V" -> (S, T, V), 1 <= S <= 256, 1 <= T <= 255
    (the positions of ``max_len`` 256 with <sos>), 5 <= V <= MAX_VOCAB."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not three integers S,T,V (e.g. "
                                         f"16,16,4000)")
    (S, T, V), high = map(int, parts), (256, 255, MAX_VOCAB)
    if not (1 <= S <= high[0] and 1 <= T <= high[1] and 5 <= V <= high[2]):
        raise argparse.ArgumentTypeError(f"S,T,V must be 1-256, 1-255 and 5-{MAX_VOCAB:,}, "
                                         f"got {text}")
    return S, T, V


def check_args(args) -> None:
    """The checks that need more than one option. Raises ValueError naming the fix; sets
    the default --data."""
    if getattr(args, "synthetic", None):
        for name, default in DATA_OPTIONS:
            if getattr(args, name) != default:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} applies to a data file, not --synthetic (fix: drop "
                                 f"{flag} or --synthetic)")
    else:
        check_data_options(args)
    if args.hidden_size % args.heads:
        raise ValueError(f"--hidden-size {args.hidden_size} is not divisible by --heads "
                         f"{args.heads} (fix: e.g. --heads 4 with --hidden-size 256)")
    if args.warmup_steps is not None and args.lr_schedule != "inverse-sqrt":
        raise ValueError("--warmup-steps applies to --lr-schedule inverse-sqrt only (fix: "
                         "drop --warmup-steps)")
    if args.command == "bench":
        check_load(args)
    if args.average_last is not None and args.command != "train":
        raise ValueError("--average-last applies to the train command only (fix: drop it)")
    if args.average_last is not None and args.average_last > args.epochs:
        raise ValueError(f"--average-last {args.average_last} is more than --epochs "
                         f"{args.epochs} (fix: average at most the epochs trained)")
    if args.command == "train" and args.valid_fraction == 0:
        raise ValueError("--valid-fraction 0: the train command chooses the epoch on a "
                         "validation split (fix: e.g. --valid-fraction 0.1)")
    if args.out is not None and (Path(args.out).is_dir()
                                 or not Path(args.out).resolve().parent.is_dir()):
        raise ValueError(f"--out {args.out}: not a file in an existing folder (fix: e.g. "
                         f"--out report.json)")


def check_data_options(args) -> None:
    """--data exists; the tokenizer options agree (as tinygrad-attn's checks)."""
    args.data = args.data or DEFAULT_DATA
    path = resolve(args.data)
    if not path.is_file():
        raise ValueError(f"--data {args.data}: no such file (fix: pass a sentence-pair file, "
                         f"e.g. samples/eng-fra/fra.tutorial-filter.sample.txt)")
    if not is_translation_file(path):
        raise ValueError(f"--data {args.data} holds no tab-separated sentence pairs (fix: "
                         f"pass a translation file, e.g. samples/eng-fra/"
                         f"fra.tutorial-filter.sample.txt)")
    if args.min_freq != 1 and args.tokenizer in SENTENCEPIECE_KINDS:
        raise ValueError("--min-freq applies to --tokenizer word and char only (fix: drop "
                         "--min-freq; sentencepiece chooses its pieces by --vocab-size)")
    if args.share_embeddings and not args.joint_vocab:
        raise ValueError("--share-embeddings needs one vocabulary for both languages (fix: "
                         "add --joint-vocab)")


def main(argv=None) -> int:
    """Parse and check the options (a bad one: one line on stderr, exit status 2, before
    any work), then run ``bench`` or ``train``. Returns 0, or 2 after a one-line error
    (data that cannot be read, a twin that does not compute our loss)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_args(args)
    except ValueError as e:
        parser.exit(2, f"{PROG} {args.command}: error: {e} (see {PROG} {args.command} "
                       f"--help)\n")
    try:
        (run_bench if args.command == "bench" else run_train)(args)
    except (ValueError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
