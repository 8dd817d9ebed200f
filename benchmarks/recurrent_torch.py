"""Our recurrent translation models against PyTorch twins of the same size (issue 17, item
4): the time of one training step (forward, backward, global-norm clip, Adam) of
``--model bahdanau`` (``BahdanauSeq2Seq``: bidirectional encoder, additive attention, a
decoder cell stepped once per target token) or ``--model attention`` (``AttentionSeq2Seq``:
Luong's attention, ``--score general`` by default), each with ``--cell lstm`` or ``gru``,
on the same batches.

    python benchmarks/recurrent_torch.py --model bahdanau --cell gru [--data F | --synthetic
        S,T,V] [--steps 30 --warmup 3 --rounds 3] [--threads K] [--load N] [--out J]

Ours is built as ``tinygrad-attn train`` builds it (``models.train.build_model`` of a
``TrainConfig`` of these options); the twin (``recurrent_twin.py`` next to this file) holds
our initial weights, and the first batch's loss is checked equal (relative 1e-5, dropout
off) before any timing: a twin that is not our model ends the run with a one-line error
naming where the two part. The batches are the first of an epoch of our pipeline (loader,
validation split, batches by length) of a sentence-pair file, by default
``../shared/data/eng-fra/fra.tutorial-filter.txt`` (into English: fra-eng; a relative path
absent here is taken from the repository root), or ``--synthetic S,T,V`` random ones of
``--batch-size`` rows. Defaults: embedding and hidden 256, batch 64 (the issue's workload),
float32, Adam 1e-3 at a constant rate, clip 5, no dropout, no label smoothing.

Printed: the machine (``machine.describe``: CPU model and ISA, cores, load, numpy's BLAS
library, kernel and threads, PyTorch's capability, BLAS and threads); the workload; (1)
the engines alternated step by step in this process, the first swapped at every step:
seconds per step, our forward / backward / optimizer split, tokens per second (real source
plus real target tokens), and the paired ratio per step; (2) THE PRIMARY FIGURE, each
engine alone in a fresh process, ``--rounds`` rounds, the order alternating: the medians
and their ratio. Ratios of time are ours / torch (<= 1: ours is faster); ratios of
tokens per second are ours / torch too (>= 1: ours is faster). With ``--load N`` every round
of (2) also runs beside N busy processes (``machine.busy_processes``) and with each engine
on one core (one thread, pinned, no load): each engine's slowdown under load and its two
factors, the load's cost beyond a one-core run and what the second core had given.

The bench's building blocks are ``transformer_torch.py``'s (the batches, the alternation,
the summary, the workload file, the threads) and ``transformer_twin.Step``. PyTorch
(``pip install torch==2.13.0``, CPU) is a benchmark reference only;
``OMP_WAIT_POLICY=PASSIVE`` keeps its OpenMP threads from spinning while numpy runs. Run it
niced on a shared machine, the lead's numbers on a quiet one.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:        # the modules next to this file (tests load it by path)
    sys.path.append(HERE)

import machine  # noqa: E402
import transformer_torch as tt  # noqa: E402
from models.base import CELLS, INITS  # noqa: E402
from models.cli_options import config_type  # noqa: E402
from models.cli_types import OneLineParser, int_at_least  # noqa: E402
from models.train import TrainConfig, build_model  # noqa: E402
from recurrent_twin import MODELS, first_batch_check, twin_of  # noqa: E402
from transformer_twin import Step  # noqa: E402

PROG = "recurrent_torch.py"
SAMPLE = "samples/eng-fra/fra.tutorial-filter.sample.txt"

#: options of transformer_torch's shared set that have no meaning here: (dest, default)
_TRANSFORMER_ONLY = (("heads", 4), ("ff_size", 512), ("share_embeddings", False),
                     ("max_decode_len", None), ("average_last", None), ("max_minutes", None))

#: the bench's own counts: (option, lowest, highest, default, help)
_COUNTS = (("--steps", 1, 100_000, 30, "timed steps per engine"),
           ("--warmup", 0, 1000, 3, "untimed steps first, per engine"),
           ("--rounds", 0, 100, 3, "rounds of fresh processes, one per engine (0: none)"),
           ("--load", 0, 64, 0, "busy processes beside each round of fresh processes, which "
            "then also runs under them and on one core (0: none)"))


# -- the command line -------------------------------------------------------------------------
class _Parser(OneLineParser):
    """A :class:`OneLineParser` whose ``parse_args`` also runs :func:`check_args`, so a
    bad combination of options is the same one-line error as a bad value."""

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        try:
            check_args(parsed)
        except ValueError as e:
            self.error(str(e))
        return parsed


def build_parser() -> argparse.ArgumentParser:
    """The options: the model's, then transformer_torch's data, size, optimizer, threads
    and --out options (with this workload's defaults), then the bench's. Its
    ``parse_args`` checks them (:class:`_Parser`)."""
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bahdanau", choices=MODELS)
    p.add_argument("--cell", default="lstm", choices=tuple(CELLS),
                   help="the encoder's and the decoder's cell")
    p.add_argument("--score", default=None, choices=("dot", "general", "concat"),
                   help="Luong's score of --model attention (default general)")
    p.add_argument("--bidirectional", action="store_true",
                   help="bidirectional encoder of --model attention (always on for bahdanau)")
    p.add_argument("--wordvec-size", type=config_type("wordvec_size"), default=256)
    p.add_argument("--init", default="book", choices=INITS,
                   help="our initial weights (the twin copies them)")
    tt.add_shared_options(p)
    for action in p._actions:     # refused by check_args; kept out of --help
        if action.dest in dict(_TRANSFORMER_ONLY):
            action.help = argparse.SUPPRESS
    p.set_defaults(num_layers=1, dropout=0.0, label_smoothing=0.0, lr=1e-3,
                   lr_schedule="constant", epochs=TrainConfig.epochs)
    for flag, low, high, default, text in _COUNTS:
        p.add_argument(flag, type=int_at_least(low, high), default=default, help=text)
    p.add_argument("--synthetic", type=tt.synthetic_shape, default=None, metavar="S,T,V",
                   help="random batches of --batch-size x S source and T target ids below "
                   "V (no padding) instead of a data file, e.g. 12,12,4000")
    return p


def check_args(args) -> None:
    """The checks that need more than one option or the file system. Raises ValueError
    naming the fix; sets the default --data."""
    for name, default in _TRANSFORMER_ONLY:
        if getattr(args, name) != default:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} does not apply to the recurrent models (fix: drop "
                             f"{flag}; the Transformer's benchmark is transformer_torch.py)")
    if args.score is not None and args.model != "attention":
        raise ValueError(f"--score applies to --model attention only, not {args.model} (fix: "
                         f"drop --score)")
    if args.warmup_steps is not None and args.lr_schedule != "inverse-sqrt":
        raise ValueError("--warmup-steps applies to --lr-schedule inverse-sqrt only (fix: "
                         "drop --warmup-steps)")
    if args.synthetic:
        for name, default in tt.DATA_OPTIONS:
            if getattr(args, name) != default:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} applies to a data file, not --synthetic (fix: drop "
                                 f"{flag} or --synthetic)")
    else:
        args.data = args.data or tt.DEFAULT_DATA
        if not tt.resolve(args.data).is_file():
            raise ValueError(f"--data {args.data}: no such file (fix: pass a sentence-pair "
                             f"file, e.g. {SAMPLE}, or --synthetic S,T,V for random batches)")
        tt.check_data_options(args)
    tt.check_load(args)
    if args.out is not None and (Path(args.out).is_dir()
                                 or not Path(args.out).resolve().parent.is_dir()):
        raise ValueError(f"--out {args.out}: not a file in an existing folder (fix: e.g. "
                         f"--out report.json)")


def make_config(args) -> TrainConfig:
    """The TrainConfig that ``tinygrad-attn train`` would make of these options."""
    return TrainConfig(
        model=args.model, cell=args.cell, score=args.score or "general",
        bidirectional=args.bidirectional, wordvec_size=args.wordvec_size,
        hidden_size=args.hidden_size, num_layers=args.num_layers, init=args.init,
        batch_size=args.batch_size, dropout=args.dropout, label_smoothing=args.label_smoothing,
        lr=args.lr, lr_schedule=args.lr_schedule, warmup_steps=args.warmup_steps,
        epochs=args.epochs, max_grad_norm=args.clip, seed=args.seed,
        valid_fraction=args.valid_fraction, bucket=args.bucket)


# -- the bench ----------------------------------------------------------------------------------
def describe_model(config: TrainConfig, ours, twin, vocab) -> str:
    """One line: the model, its sizes and parameter counts (both engines')."""
    dirs = 2 if config.model == "bahdanau" or config.bidirectional else 1
    kind = f"{config.model} ({config.cell}" + (
        f", score {config.score})" if config.model == "attention" else ", additive)")
    return (f"{kind}, D {config.wordvec_size}, H {config.hidden_size} x {dirs} direction(s), "
            f"{config.num_layers} encoder layer(s), V {vocab[0]} -> {vocab[1]}, "
            f"{sum(p.numel() for p in twin.parameters()):,} parameters (ours "
            f"{ours.num_parameters():,})")


def time_ratios(times: dict) -> dict:
    """Per step (the same batch): ours' seconds / torch's; median, min, max, pairs."""
    r = [sum(o[:3]) / sum(t[:3]) for o, t in zip(times["ours"], times["torch"])]
    return {"median": statistics.median(r), "min": min(r), "max": max(r), "pairs": len(r)}


def run_bench(args) -> dict:
    """The benchmark (the module docstring); returns the report ``--out`` stores."""
    tt.set_threads(args.threads)
    config = make_config(args)
    report = {"args": vars(args), "config": config.__dict__, "machine": machine.describe()}
    machine.print_description(report["machine"])
    batches, vocab, pad_id, what = tt.bench_batches(args, config)
    ours = build_model(config, *vocab)
    twin = twin_of(ours)
    report["first_batch"] = first = first_batch_check(ours, twin, batches[0], pad_id,
                                                      config.label_smoothing)
    print(f"workload: {what}\nmodel: {describe_model(config, ours, twin, vocab)}; first batch "
          f"loss ours {first['ours']:.6f}, torch {first['torch']:.6f}")
    engines = [Step(ours, config, len(batches)), Step(twin, config, len(batches))]
    times = tt.run_steps(engines, batches, pad_id, args.warmup)
    report["alternated"] = tt.report_alternated(times)
    ratio = report["alternated"]["time_ratio"] = time_ratios(times)
    print(f"alternated in one process: time per step ours / torch, paired per step: median "
          f"{ratio['median']:.3f} (min {ratio['min']:.3f}, max {ratio['max']:.3f})")
    if args.rounds:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "workload.npz"
            tt.save_workload(path, config, build_model(config, *vocab), batches, pad_id,
                             len(batches))
            busy = machine.started_busy(args.load) if args.load else contextlib.nullcontext()
            with busy as busy:
                report["alone"] = tt.solo_rounds(path, args.rounds, args.warmup, args.threads,
                                                 busy, module="recurrent_torch")
    report["load_average_end"] = machine.load_average()
    print(f"load average at the end: {report['load_average_end']} (this run's own threads "
          f"count in it)")
    tt.write_json(args.out, report)
    return report


def solo(engine: str, path, warmup: int, threads: int | None) -> dict:
    """One engine alone (in a fresh process of ``transformer_torch.solo_rounds``): ours
    rebuilt from the workload file's config and initial weights (``tt.save_workload``), or
    its twin; every batch taken; returns ``tt.summarize`` of the steps after ``warmup``."""
    tt.set_threads(threads)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        state = {k[len("state."):]: z[k] for k in z.files if k.startswith("state.")}
        batches = [tuple(z[f"{part}.{k}"] if f"{part}.{k}" in z.files else None
                         for part in ("src", "tgt", "mask")) for k in range(meta["batches"])]
    config = TrainConfig(**meta["config"])
    ours = build_model(config, meta["model"]["src_vocab_size"], meta["model"]["tgt_vocab_size"])
    ours.load_state_dict(state)
    step = Step(twin_of(ours) if engine == "torch" else ours, config, meta["n_batches"])
    return tt.summarize(tt.run_steps([step], batches, meta["pad_id"], warmup)[step.name])


def main(argv=None) -> int:
    """Parse and check the options (:class:`_Parser`: a bad one is one line on stderr,
    exit status 2, before any work), then :func:`run_bench`. Returns 0; exits with status
    2 after a one-line error (data that cannot be read, a twin that does not compute our
    loss, a failed child process)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run_bench(args)
    except (ValueError, OSError) as e:
        parser.exit(2, f"{PROG}: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
