"""The ``tinygrad-attn`` command line: ``train``, ``translate``, ``eval``, ``compare`` and
``graph``.

This module is the commands only: one short handler each, and :func:`main`. The options
and their checks are in ``models.cli_options``, loading a data file in
``models.task_loading``, what is printed or drawn in ``models.reporting``.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import warnings
from dataclasses import replace

from tinygrad_attn import CheckpointError
from tinygrad_attn.fileio import atomic_open, quote_path

from .cli_options import (build_parser, check_applicable, check_translate_options,
                          checkpoint_max_decode_len, compare_models, config_from_args,
                          load_data)
from .data_files import DataError
from .ensemble import ensemble_history, load_ensemble
from .model_io import load_model
from .reporting import (compare_floor, comparison_report, plot_translation, print_attention,
                        print_examples, save_pictures, score_report, source_text,
                        training_summary, write_compare_csv)
from .run_dir import RunDir, RunDirError, next_version_dir
from .task_loading import load_checkpoint_data
from .train import NonFiniteError, TrainingInterrupted, evaluate, predict, train


# -- the run folder ---------------------------------------------------------------------
@contextlib.contextmanager
def _resume_hint(command: str, out: str):
    """Add to Ctrl-C's message the command that resumes the run, when there is a state."""
    try:
        yield
    except TrainingInterrupted as e:
        if not e.saved_epoch:
            raise
        raise TrainingInterrupted(f"{e} (resume with: tinygrad-attn {command} --resume --out "
                                  f"{shlex.quote(out)} [the same options])",
                                  e.saved_epoch) from None


def _run_mode(args) -> str:
    return "resume" if args.resume else "overwrite" if args.overwrite else "new"


def _out_dir(args, task: str) -> str:
    """``--out``, or a new ``runs/TASK/version_N`` (claimed now, so concurrent runs never
    share one). --resume and --overwrite need a named folder."""
    if args.out is not None:
        return args.out
    if args.resume or args.overwrite:
        flag = "--resume" if args.resume else "--overwrite"
        raise RunDirError(f"{flag} needs --out naming the run's folder (fix: e.g. {flag} "
                          f"--out runs/{task}/version_0)")
    return next_version_dir(os.path.join("runs", task))


def _load_models(args, paths: list):
    """(model, codec, metadata list, longest output) of one checkpoint (``load_model``)
    or, for several, of their ensemble (``models.ensemble.load_ensemble``). The longest
    output is the largest of the checkpoints' (``checkpoint_max_decode_len``), or None
    for a character task (its answers have a fixed width)."""
    if len(paths) > 1:
        model, metas, codec = load_ensemble(paths)
    else:
        model, meta, codec = load_model(paths[0])
        metas = [meta]
    max_len = None if codec.eos_id is None else max(
        checkpoint_max_decode_len(args, meta, path) for meta, path in zip(metas, paths))
    return model, codec, metas, max_len


# -- commands ---------------------------------------------------------------------------
def _cmd_train(args) -> int:
    check_applicable(args, [args.model])
    out = _out_dir(args, "date" if args.data is None else args.model)
    # refuses a busy or trained folder first
    with RunDir(out, _run_mode(args), claimed=args.out is None) as run:
        data = load_data(args)
        cfg = config_from_args(args)
        with _resume_hint("train", out):
            model, history = train(data, cfg, out_dir=run)
        cfg = history.config                    # max_decode_len as the run resolved it
        pictures = save_pictures(model, data, history, run.path, max_len=cfg.max_decode_len)
    pred = predict(model, data.src_test[:5], data, beam=cfg.beam, max_len=cfg.max_decode_len)
    print("examples from the test set (the chosen epoch's weights):")
    print_examples(data, data.src_test, data.tgt_test, pred)
    print(training_summary(history, run.file("model.npz"), pictures))
    example = "september 27, 1994" if args.data is None else source_text(data, 0)
    print(f"try: tinygrad-attn translate {shlex.quote(run.file('model.npz'))} "
          f"{shlex.quote(example)}")
    return 0


def _cmd_translate(args) -> int:
    check_translate_options(args)              # before the model is loaded
    model, codec, metas, max_len = _load_models(args, [args.checkpoint] + (args.ensemble or []))
    x = codec.encode_source([args.text])
    max_len = codec.answer_length if max_len is None else max_len
    kw = {"start_id": codec.start_id, "max_len": max_len, "eos_id": codec.eos_id}
    if args.beam > 1:
        from .decoding import beam_search
        ids, _ = beam_search(model, x, beam_width=args.beam, alpha=args.alpha, **kw)
        print(codec.decode_target(ids[0]))
        return 0
    from .decoding import greedy_decode
    ids, weights = greedy_decode(model, x, **kw)
    print(codec.decode_target(ids[0]))
    if weights is not None and not args.quiet:
        print_attention(codec, args.text, ids[0], weights[0])
    if args.plot:
        if weights is None:
            raise ValueError(f"translate --plot: the {metas[0]['model_name']} model has no "
                             f"attention to draw (fix: use an attention, bahdanau or "
                             f"transformer checkpoint)")
        plot_translation(args.plot, model, codec, args.text, x, ids, weights)
    return 0


def _cmd_eval(args) -> int:
    paths = args.checkpoint
    model, codec, metas, max_len = _load_models(args, paths)   # max_len None: the width
    if len(paths) > 1:
        print(f"ensemble of {len(paths)} models: {', '.join(quote_path(p) for p in paths)}")
    data = load_checkpoint_data(args.data, metas[0], codec)
    score = evaluate(model, data, beam=args.beam, max_len=max_len, confidence=True,
                     alpha=args.alpha)
    print(score_report(score, data))
    pred = predict(model, data.src_test[:args.examples], data, beam=args.beam,
                   max_len=max_len, alpha=args.alpha)
    print_examples(data, data.src_test, data.tgt_test, pred, args.examples)
    return 0


def _cmd_compare(args) -> int:
    names = compare_models(args)
    check_applicable(args, [n for n in names if n != "lookup"])
    out = _out_dir(args, "compare")
    # the models' own folders hold the models: each is checked (new, overwrite, resume) by
    # its own run; this one holds the table and the picture
    with RunDir(out, "new" if _run_mode(args) == "new" else "overwrite",
                claimed=args.out is None) as run:
        data = load_data(args)
        histories = {}
        for name in names:
            print(f"\n=== {name} ===")
            if name == "lookup":                  # no epochs: fitted and scored anew
                from .lookup import run_lookup
                histories[name] = run_lookup(data, valid_fraction=args.valid_fraction,
                                             seed=args.seed, out_dir=os.path.join(out, name))
                continue
            runs = [_compare_member(args, data, out, name, k) for k in range(args.ensemble)]
            histories[name] = runs[0][1]
            if len(runs) > 1:
                print(f"\n=== {name} x{len(runs)}: the ensemble ===")
                histories[f"{name} x{len(runs)}"] = ensemble_history(
                    runs, data, runs[0][1].config)
        print(comparison_report(data, histories, args.seed))
        _print_paired(data, histories, run)
        csv_path = write_compare_csv(histories, run.file("compare.csv"))
        trained = {name: h for name, h in histories.items() if len(h)}   # lookup: no curve
        png = None
        if trained:
            from viz import plot_compare
            png = plot_compare(trained, run.file("compare.png"), title=str(data.source),
                               floor=compare_floor(histories))
    print(f"\nsaved {csv_path}" + (f" and {png}" if png else ""))
    return 0


def _compare_member(args, data, out, name: str, k: int):
    """Train member ``k`` of ``compare``'s model ``name`` (``k`` = 0: the model itself, in
    ``out/name``; then ``out/name-member-k`` with init seed (--init-seed, or --seed) + k);
    --resume continues a member whose folder holds a training state, others start anew.
    Returns (model, History)."""
    config = config_from_args(args, name)
    sub = os.path.join(out, name)
    if k:
        base = config.model_seed
        config = replace(config, init_seed=base + k)
        sub = os.path.join(out, f"{name}-member-{k}")
        print(f"\n=== {name}, member {k + 1} of {args.ensemble} (init seed {base + k}) ===")
    with _resume_hint("compare", out):
        resume = args.resume and os.path.isfile(os.path.join(sub, "last.npz"))
        return train(data, config, out_dir=sub, resume=resume, overwrite=args.overwrite)


def _print_paired(data, histories: dict, run) -> None:
    """With the lookup among the models: print each trained model's paired bootstrap
    against it (``models.significance``, on each history's test ``hypotheses``) and write
    them to ``paired.json``."""
    if "lookup" not in histories:
        return
    from .significance import format_paired, paired_bootstrap
    floor, refs = histories["lookup"].hypotheses, [t for _, t in data.test_pairs]
    results = {name: paired_bootstrap(floor, hist.hypotheses, refs)
               for name, hist in histories.items() if name != "lookup"}
    if not results:
        return
    first = next(iter(results.values()))
    print(f"\npaired bootstrap against the lookup on the same {first['n_sentences']} test "
          f"sentences (cased BLEU; {first['n_bootstrap']} resamples, seed {first['seed']}; "
          f"Koehn 2004):")
    width = max(12, *map(len, results))
    for name, result in results.items():
        print("  " + format_paired(name, result, width=width))
    with atomic_open(run.file("paired.json"), "w") as f:
        json.dump(results, f, indent=1)


def _cmd_graph(args) -> int:
    from . import graphs
    return graphs.command(args)


COMMANDS = {"train": _cmd_train, "compare": _cmd_compare, "translate": _cmd_translate,
            "graph": _cmd_graph, "eval": _cmd_eval}


def main(argv=None) -> int:
    """Entry point of the ``tinygrad-attn`` console script. Exit status: 0 done, 1 training
    stopped at a non-finite number, 2 a bad option, file or folder (one line on stderr),
    130 interrupted (Ctrl-C)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:                   # --help (0) or a bad option (2, one line)
        return e.code
    name = f"tinygrad-attn {args.command}"
    try:
        with warnings.catch_warnings():
            # numpy's overflow warnings would bury the one-line answer: training checks
            # every loss and gradient norm itself (NonFiniteError)
            warnings.simplefilter("ignore", RuntimeWarning)
            return COMMANDS[args.command](args)
    except TrainingInterrupted as e:
        print(f"\n{name}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; nothing was saved", file=sys.stderr)
        return 130
    except NonFiniteError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 1
    except (CheckpointError, DataError, RunDirError, ValueError) as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:                      # a full disk, a read-only or vanished folder
        where = f" {quote_path(e.filename)}" if e.filename else ""
        print(f"{name}: error: cannot read or write{where}: {e.strerror or e} (fix: check "
              f"the path, its permissions and the free disk space; finished files were "
              f"written whole or not at all)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
