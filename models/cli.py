"""The ``tinygrad-attn`` command line: ``train``, ``translate``, ``eval``, ``compare`` and
``graph``."""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shlex
import sys
import warnings

import numpy as np

from tinygrad_attn import CheckpointError
from tinygrad_attn.fileio import excerpt, quote_path

from .cli_types import OneLineParser, float_in, int_at_least
from .data import DataError, load_dataset, sniff_format
from .model_io import load_model
from .run_dir import RunDir, RunDirError, next_version_dir
from .train import (LR_SCHEDULES, MODEL_NAMES, NONFINITE, NonFiniteError, TrainConfig,
                    TrainingInterrupted, evaluate, format_score, predict, selection_metric,
                    train)

MAX_SIZE = 16_384         # embedding / hidden sizes (a 16k LSTM already needs ~8 GiB)
MAX_BEAM = 256
MAX_DECODE = 10_000
MAX_TEXT = 5_000           # characters of one input to translate


# -- data -------------------------------------------------------------------------------
def is_translation_file(path) -> bool:
    """True if ``path`` is tab-separated sentence pairs (Tatoeba format), False for the
    book's ``question_answer`` character tasks (and for the built-in task, path None).
    Raises DataError for a path that is no readable text data file (a folder, a pipe,
    non-UTF-8 bytes, ...: see ``models.data.sniff_format``)."""
    return path is not None and sniff_format(path) == "pairs"


def load_data(args):
    """The dataset named by the command line's --data and its options."""
    if is_translation_file(args.data):
        from .translation_data import load_translation
        return load_translation(args.data, args.direction, max_len=args.max_len,
                                lower=args.lower, reverse_source=bool(args.reverse),
                                min_freq=args.min_freq, max_pairs=args.max_pairs)
    return load_dataset(args.data, reverse=True if args.reverse is None else args.reverse)


def config_from_args(args, model: str | None = None) -> TrainConfig:
    return TrainConfig(
        model=model or args.model, epochs=args.epochs, batch_size=args.batch_size,
        wordvec_size=args.wordvec_size, hidden_size=args.hidden_size, lr=args.lr,
        lr_schedule=args.lr_schedule,
        max_grad_norm=args.clip, seed=args.seed, score=args.score,
        input_feeding=args.input_feeding, num_layers=args.num_layers,
        bidirectional=args.bidirectional, residual=args.residual, dropout=args.dropout,
        teacher_forcing=args.teacher_forcing, label_smoothing=args.label_smoothing,
        heads=args.heads, ff_size=args.ff_size, beam=args.beam, max_minutes=args.max_minutes,
        max_decode_len=args.max_decode_len, valid_fraction=args.valid_fraction,
        nonfinite=args.nonfinite)


def _print_examples(data, src, tgt, pred, n=5):
    codec = data.codec()
    for i in range(min(n, len(src))):
        if data.metric == "exact_match":
            q = _source_text(data, i, src)
            ok = np.array_equal(tgt[i, 1:], pred[i])
            print(f"  [{'ok ' if ok else 'BAD'}] {q!r:34} -> {codec.decode_target(pred[i])}"
                  f"   (answer {codec.decode_target(tgt[i, 1:])})")
        else:
            s, t = data.test_pairs[i]
            print(f"  {s}\n    -> {codec.decode_target(pred[i])}\n    (reference: {t})")


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
        pictures = save_pictures(model, data, history, run.path, max_len=cfg.max_decode_len)
    pred = predict(model, data.src_test[:5], data, beam=cfg.beam, max_len=cfg.max_decode_len)
    print("examples from the test set (the chosen epoch's weights):")
    _print_examples(data, data.src_test, data.tgt_test, pred)
    res = history.results
    print(f"final: {format_score(res['test_chosen'])} (epoch {res['chosen_epoch']}, chosen on "
          f"{res['chosen_on']}); {format_score(res['test_last'])} after epoch "
          f"{res['last_epoch']}; {np.mean([h['epoch_seconds'] for h in history]):.1f} s per "
          f"epoch. Saved {run.file('model.npz')}, " + ", ".join(pictures))
    example = "september 27, 1994" if args.data is None else _source_text(data, 0)
    print(f"try: tinygrad-attn translate {shlex.quote(run.file('model.npz'))} "
          f"{shlex.quote(example)}")
    return 0


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


def _cmd_translate(args) -> int:
    if not args.text.strip():
        raise ValueError("the input text is empty (fix: pass the sentence or date to "
                         "translate, in quotes)")
    if len(args.text) > MAX_TEXT:
        raise ValueError(f"the input text is {len(args.text):,} characters long; translate "
                         f"takes one sentence of at most {MAX_TEXT:,} (fix: split it into "
                         f"sentences)")
    if args.plot is not None:                  # checked before the model is loaded
        from viz import OutputPathError, check_output_path
        try:
            check_output_path(args.plot, ("png", "svg", "pdf"), "attention map")
        except OutputPathError as e:
            raise ValueError(f"--plot: {e}") from None
    if args.beam > 1 and args.plot:
        raise ValueError("--plot draws the attention of greedy decoding (fix: drop --beam "
                         "or --plot)")
    model, meta, codec = load_model(args.checkpoint)
    x = codec.encode_source([args.text])
    if args.beam > 1:
        from .decoding import beam_search
        ids, _ = beam_search(model, x, start_id=codec.start_id, max_len=_max_len(codec, args),
                             eos_id=codec.eos_id, beam_width=args.beam, alpha=args.alpha)
        print(codec.decode_target(ids[0]))
        return 0
    from .decoding import greedy_decode
    ids, weights = greedy_decode(model, x, start_id=codec.start_id, max_len=_max_len(codec, args),
                                 eos_id=codec.eos_id)
    print(codec.decode_target(ids[0]))
    if weights is not None and not args.quiet:
        _print_attention(codec, args.text, ids[0], weights[0])
    if args.plot:
        if weights is None:
            raise ValueError(f"translate --plot: the {meta['model_name']} model has no "
                             f"attention to draw (fix: use an attention, bahdanau or "
                             f"transformer checkpoint)")
        _plot_translation(args.plot, model, codec, args.text, x, ids, weights)
    return 0


def _max_len(codec, args):
    return codec.answer_length if codec.eos_id is None else args.max_decode_len


def attention_view(codec, text, ids, weights):
    """One sentence's attention in reading order, for a table or a heatmap.

    text : the source as typed; ids : the output ids (L,); weights : (L, S) or (h, L, S) in
    the model's source order. Returns (source tokens, output tokens up to and including
    <eos>, weights (L', S') or (h, L', S')): columns in reading order, whitespace-only
    character columns (the fixed-width padding of the book's tasks) dropped.
    """
    src_tokens = codec.source_tokens(text)                 # in the model's order
    order = list(range(len(src_tokens)))
    if codec.reversed:
        order = order[::-1]
    cols = [j for j in order if src_tokens[j].strip()]
    out_tokens = []
    for i in ids:
        if codec.eos_id is not None and i == codec.eos_id:
            out_tokens.append("<eos>")
            break
        out_tokens.append(codec.decode_target(np.array([i])) or "?")
    w = np.asarray(weights)[..., :len(out_tokens), :][..., cols]
    return [src_tokens[j] for j in cols], out_tokens, w


def _print_attention(codec, text, ids, weights):
    """Attention table: rows = output tokens, columns = input tokens in reading order."""
    src, out, w = attention_view(codec, text, ids, weights)
    width = max(4, *(len(t) for t in src)) + 1
    print("\nattention weights (rows: output tokens; columns: input tokens):")
    print(" " * 8 + "".join(f"{t:>{width}}" for t in src))
    for r, tok in enumerate(out):
        print(f"{tok[:7]:>7} " + "".join(f"{w[r, j]:>{width}.2f}" for j in range(len(src))))


def head_weights(model, src, ids, start_id):
    """Per-head encoder-decoder attention of a Transformer for the output ``ids`` (N, L):
    one teacher-forced pass over ``[start] + ids[:, :-1]``, which gives the same weights as
    the greedy steps (decoding is causal). Returns (N, h, L, S), or None for a model
    without heads."""
    layers = getattr(getattr(model, "decoder", None), "layers", None)
    if not layers or not hasattr(layers[-1], "cross_attn_head_weights"):
        return None
    from tinygrad_attn import no_grad
    tgt_in = np.concatenate([np.full((len(ids), 1), start_id), ids[:, :-1]], axis=1)
    with no_grad():
        model.decode(tgt_in, model.encode(src))
    return layers[-1].cross_attn_head_weights.data


def _plot_translation(path, model, codec, text, x, ids, weights):
    """Save the attention map of one translated input (one panel per head for a
    Transformer)."""
    import viz
    title = f"{text}  ->  {codec.decode_target(ids[0])}"
    heads = head_weights(model, x, ids, codec.start_id)
    src, out, w = attention_view(codec, text, ids[0], weights[0] if heads is None else heads[0])
    plot = viz.plot_attention if heads is None else viz.plot_attention_heads
    plot(w, src, out, path, title=title)
    print(f"saved the attention map to {path}")


def save_pictures(model, data, history, out_dir, n_items: int = 4,
                  max_len: int = 40) -> list[str]:
    """What ``train`` leaves for a person to look at: ``curves.png`` (training loss and test
    score per epoch) and, for a model with attention, ``attention.png`` (the maps of the
    first ``n_items`` test items, decoded greedily, at most ``max_len`` tokens for
    translation). Returns the paths written."""
    import viz
    from .decoding import greedy_decode
    from .train import _trim
    written = [viz.plot_history(history, os.path.join(out_dir, "curves.png"),
                                name=model.MODEL_NAME, title=str(data.source))]
    codec = data.codec()
    texts = [_source_text(data, i) for i in range(min(n_items, len(data.src_test)))]
    if not texts:
        return written
    x, mask = _trim(np.asarray(data.src_test[:len(texts)]), data.pad_id)
    max_len = codec.answer_length if codec.eos_id is None else max_len
    ids, weights = greedy_decode(model.eval(), x, mask, start_id=codec.start_id,
                                 max_len=max_len, eos_id=codec.eos_id)
    if weights is None:
        return written
    items = []
    for i, text in enumerate(texts):
        src, out, w = attention_view(codec, text, ids[i], weights[i])
        items.append((w, src, out, text if len(text) < 40 else text[:37] + "..."))
    written.append(viz.plot_attention_grid(items, os.path.join(out_dir, "attention.png"),
                                           title=f"attention of {type(model).__name__}"))
    return written


def _source_text(data, i, src=None):
    """Test item ``i``'s source as a person typed it (``src``: the encoded test sources,
    default ``data.src_test``)."""
    if data.metric == "exact_match":
        row = (data.src_test if src is None else src)[i]
        return data.codec().vocab.decode(row[::-1] if data.reversed else row).rstrip()
    return data.test_pairs[i][0]


def _cmd_eval(args) -> int:
    model, meta, codec = load_model(args.checkpoint)
    dmeta = meta["data"]
    stored = dmeta.get("data_path")
    if args.data is None and stored is not None:
        # never open a file that only the checkpoint names: the user names it
        raise ValueError(f"this model was trained on the file {quote_path(str(stored))}; "
                        f"pass it (or another file of the same format) with --data (fix: "
                        f"tinygrad-attn eval CKPT --data PATH)")
    if dmeta["kind"] == "char":
        data = load_dataset(args.data, reverse=dmeta["reversed"])
        same = data.vocab == codec.vocab
    else:
        from .translation_data import load_translation
        opts = dmeta.get("options", {})
        data = load_translation(args.data, dmeta.get("direction"), **opts)
        same = data.src_vocab == codec.src_vocab and data.tgt_vocab == codec.tgt_vocab
    if not same:
        raise ValueError(f"the vocabulary of {quote_path(data.source)} differs from the "
                        f"checkpoint's, which was trained on "
                        f"{quote_path(str(dmeta.get('data_source', '?')))} (fix: pass that file "
                        f"with --data)")
    score = evaluate(model, data, beam=args.beam, max_len=args.max_decode_len,
                     confidence=True)
    print(f"{format_score(score)} on {len(data.src_test)} test items of {data.source}")
    if "bleu_signature" in score:
        print(f"BLEU: {score['bleu_description']}; sacreBLEU signature "
              f"{score['bleu_signature']}")
    pred = predict(model, data.src_test[:args.examples], data, beam=args.beam,
                   max_len=args.max_decode_len)
    _print_examples(data, data.src_test, data.tgt_test, pred, args.examples)
    return 0


def _cmd_compare(args) -> int:
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in MODEL_NAMES]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"compare: --models {excerpt(args.models, 80)} must name each model "
                         f"once, from {', '.join(MODEL_NAMES)} (fix: e.g. --models "
                         f"seq2seq,attention)")
    check_applicable(args, names)
    out = _out_dir(args, "compare")
    # the models' own folders hold the models: each is checked (new, overwrite, resume) by
    # its own run; this one holds the table and the picture
    with RunDir(out, "new" if _run_mode(args) == "new" else "overwrite",
                claimed=args.out is None) as run:
        data = load_data(args)
        histories = {}
        for name in names:
            print(f"\n=== {name} ===")
            with _resume_hint("compare", out):
                sub = os.path.join(out, name)     # --resume: models not begun start anew
                resume = args.resume and os.path.isfile(os.path.join(sub, "last.npz"))
                _, histories[name] = train(data, config_from_args(args, name), out_dir=sub,
                                           resume=resume, overwrite=args.overwrite)
        metric = selection_metric(data)
        what = "exact match (%)" if metric == "accuracy" else "BLEU"
        print(f"\n{data.source}: validation {what} after each epoch; test scored once, "
              f"with the epoch chosen on validation and after the last epoch (seed "
              f"{args.seed}, same split and batches for every model)\n")
        print(comparison_table(histories, metric))
        csv_path = _write_compare_csv(histories, run.file("compare.csv"))
        from viz import plot_compare
        png = plot_compare(histories, run.file("compare.png"), title=str(data.source))
    print(f"\nsaved {csv_path} and {png}")
    return 0


def _write_compare_csv(histories: dict, path) -> str:
    """One row per model and epoch (validation scores), then one per model with its test
    scores (epoch chosen on validation, last epoch); written atomically."""
    from tinygrad_attn.fileio import atomic_open
    rows = [dict(model=name, **h) for name, hist in histories.items() for h in hist]
    for name, hist in histories.items():
        r = hist.results
        rows.append({"model": name, "epoch": "test", **{f"test_chosen_{k}": v for k, v in
                     r["test_chosen"].items()}, **{f"test_last_{k}": v for k, v in
                     r["test_last"].items()}, "chosen_epoch": r["chosen_epoch"]})
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


def _cmd_graph(args) -> int:
    from . import graphs
    return graphs.command(args)


def comparison_table(histories: dict, metric: str) -> str:
    """A plain-text table: one row per model; the validation score after each epoch, the
    epoch chosen on validation, the test score with that epoch's weights and after the
    last epoch (each scored once), mean seconds per epoch and parameter count."""
    epochs = max(len(h) for h in histories.values())
    scale = 100.0 if metric == "accuracy" else 1.0
    head = f"{'model':<12}" + "".join(f"{'valid ' + str(e + 1):>10}" for e in range(epochs)) \
        + f"{'chosen':>8}{'test@chosen':>13}{'test@last':>11}{'s/epoch':>9}{'params':>12}"
    lines = [head, "-" * len(head)]
    for name, hist in histories.items():
        cells = [f"{_cell(h.get('valid_' + metric), scale):>10}" for h in hist] \
            + [f"{'':>10}"] * (epochs - len(hist))
        r = hist.results
        lines.append(f"{name:<12}" + "".join(cells) + f"{r['chosen_epoch']:>8}"
                     + f"{scale * r['test_chosen'][metric]:>13.2f}"
                     + f"{scale * r['test_last'][metric]:>11.2f}"
                     + f"{np.mean([h['epoch_seconds'] for h in hist]):>9.1f}"
                     + f"{hist[-1]['parameters']:>12,}")
    return "\n".join(lines)


def _cell(value, scale) -> str:
    return "-" if value is None else f"{scale * value:.2f}"


# -- parser -----------------------------------------------------------------------------
def _add_training_options(t):
    t.add_argument("--data", default=None, help="a question_answer file (e.g. "
                   "samples/dlfs2/date.sample.txt) or a tab-separated sentence-pair file "
                   "(e.g. samples/eng-fra/fra.tutorial-filter.sample.txt); default: the "
                   "built-in date task")
    t.add_argument("--direction", default=None, help="translation direction, e.g. fra-eng "
                   "(default: the non-English column into English)")
    t.add_argument("--score", default="dot", choices=("dot", "general", "concat"),
                   help="Luong score of --model attention")
    t.add_argument("--input-feeding", action="store_true", help="--model attention with "
                   "Luong's attentional layer tanh(W_c[c;h]) fed into the next decoder input "
                   "(Luong et al. 2015, sec. 3.3; the book's model feeds only the output layer)")
    t.add_argument("--epochs", type=int_at_least(1, 100_000), default=4)
    t.add_argument("--seed", type=int_at_least(0, 2**32 - 1), default=0,
                   help="initialisation, shuffling and validation-split seed")
    t.add_argument("--batch-size", type=int_at_least(1, 1_000_000), default=128)
    t.add_argument("--wordvec-size", type=int_at_least(1, MAX_SIZE), default=16)
    t.add_argument("--hidden-size", type=int_at_least(1, MAX_SIZE), default=256,
                   help="LSTM size (per direction); d_model of the Transformer")
    t.add_argument("--num-layers", type=int_at_least(1, 64), default=1,
                   help="encoder layers (Transformer: "
                   "encoder and decoder layers)")
    t.add_argument("--bidirectional", action="store_true", help="bidirectional encoder "
                   "(always on for bahdanau)")
    t.add_argument("--residual", action="store_true", help="residual connections between "
                   "stacked encoder layers")
    t.add_argument("--dropout", type=float_in(0, 1, high_open=True), default=0.0)
    t.add_argument("--heads", type=int_at_least(1, 1024), default=4,
                   help="Transformer attention heads")
    t.add_argument("--ff-size", type=int_at_least(1, 4 * MAX_SIZE), default=512,
                   help="Transformer feed-forward width")
    t.add_argument("--lr", type=float_in(0, low_open=True), default=1e-3,
                   help="Adam learning rate")
    t.add_argument("--lr-schedule", default="constant", choices=LR_SCHEDULES,
                   help="constant (the book's) or cosine: the rate falls to 0 over training")
    t.add_argument("--clip", type=float_in(0, low_open=True), default=5.0,
                   help="global gradient-norm clip")
    t.add_argument("--teacher-forcing", type=float_in(0, 1), default=1.0,
                   help="probability of feeding "
                   "the true previous token (below 1: scheduled sampling)")
    t.add_argument("--label-smoothing", type=float_in(0, 1, high_open=True), default=0.0)
    t.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=None,
                   help="reverse the input sequence (default: on for the character tasks, "
                   "off for translation)")
    t.add_argument("--max-len", type=int_at_least(1), default=None,
                   help="translation: drop pairs with a "
                   "side longer than this many tokens")
    t.add_argument("--min-freq", type=int_at_least(1), default=1,
                   help="translation: words seen fewer "
                   "times become <unk>")
    t.add_argument("--max-pairs", type=int_at_least(1), default=None,
                   help="translation: use only the "
                   "first pairs of the file")
    t.add_argument("--lower", action=argparse.BooleanOptionalAction, default=True,
                   help="translation: lower-case the text")
    t.add_argument("--beam", type=int_at_least(1, MAX_BEAM), default=1,
                   help="beam width of the evaluation")
    t.add_argument("--max-decode-len", type=int_at_least(1, MAX_DECODE), default=40,
                   help="translation: longest output in tokens")
    t.add_argument("--valid-fraction", type=float_in(0, 0.9), default=0.1,
                   help="share of the training items held out (seeded) to choose the epoch; "
                   "0: none, the last epoch is chosen")
    t.add_argument("--nonfinite", default="stop", choices=NONFINITE,
                   help="at a NaN/inf loss or gradient norm: stop training, or skip the step")
    t.add_argument("--max-minutes", type=float_in(0, low_open=True), default=None,
                   help="stop training after this many minutes, then evaluate")


def _add_run_options(t):
    how = t.add_mutually_exclusive_group()
    how.add_argument("--overwrite", action="store_true", help="replace the trained model "
                     "in --out (default: refuse to)")
    how.add_argument("--resume", action="store_true", help="continue the interrupted run in "
                     "--out from its last.npz, with the same options")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tinygrad-attn`` (defaults = the book's hyperparameters)."""
    p = OneLineParser(prog="tinygrad-attn", description=(
        "Train, compare and use the seq2seq and attention models of Deep Learning from "
        "Scratch 2 (and the Transformer) on a CPU with the tinygrad_attn autograd engine."))
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    t = sub.add_parser("train", help="train one model", formatter_class=fmt)
    t.add_argument("--model", default="attention", choices=MODEL_NAMES)
    _add_training_options(t)
    t.add_argument("--out", default=None, help="output folder (default: a new "
                   "runs/date/version_N for the built-in task, else runs/MODEL/version_N)")
    _add_run_options(t)
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="train several models on the same split and seed and "
                       "print their scores side by side", formatter_class=fmt)
    c.add_argument("--models", default="seq2seq,peeky,attention",
                   help=f"comma-separated, from {', '.join(MODEL_NAMES)}")
    _add_training_options(c)
    c.add_argument("--out", default=None, help="output folder (default: a new "
                   "runs/compare/version_N): one sub-folder per model, compare.csv and "
                   "compare.png")
    _add_run_options(c)
    c.set_defaults(func=_cmd_compare)

    tr = sub.add_parser("translate", help="answer / translate one input with a checkpoint",
                        formatter_class=fmt)
    tr.add_argument("checkpoint", help="model.npz written by train")
    tr.add_argument("text", help='the input, e.g. "september 27, 1994"')
    tr.add_argument("--beam", type=int_at_least(1, MAX_BEAM), default=1,
                    help="beam width (1: greedy, and the "
                    "attention table is printed)")
    tr.add_argument("--alpha", type=float_in(0, 10), default=0.6,
                    help="beam length-penalty exponent")
    tr.add_argument("--max-decode-len", type=int_at_least(1, MAX_DECODE), default=40)
    tr.add_argument("--quiet", action="store_true", help="print only the output")
    tr.add_argument("--plot", default=None, metavar="PATH", help="save the attention map as "
                    "a picture (.png, .svg, .pdf); a Transformer gets one panel per head")
    tr.set_defaults(func=_cmd_translate)

    g = sub.add_parser("graph", help="draw the computation graph of one training step (or of a "
                       "single neuron) with graphviz", formatter_class=fmt)
    g.add_argument("--model", default="attention", choices=("neuron",) + MODEL_NAMES,
                   help="'neuron': a 2-input neuron; otherwise one training step of that model")
    _add_training_options(g)
    g.add_argument("--collapse-steps", action="store_true", help="draw each unrolled "
                   "recurrence once, in a box that counts its time steps")
    g.add_argument("--backward", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the backward pass: gradients, backward order, reverse edges")
    g.add_argument("--fused", action="store_true", help="keep each LSTM layer as one fused "
                   "node (default: the composed cells, step by step)")
    g.add_argument("--rankdir", default="TB", choices=("TB", "BT", "LR", "RL"))
    g.add_argument("--max-nodes", type=int_at_least(1), default=None, help="draw at most "
                   "this many ops (default: a readable picture of at most 100: each "
                   "recurrence drawn once, then the ops nearest the loss; a note says what "
                   "was left out)")
    g.add_argument("--dot-timeout", type=float_in(0, low_open=True), default=60.0,
                   metavar="SECONDS", help="stop graphviz's dot after this many seconds")
    g.add_argument("-o", "--output", default="graph.svg", help="picture file: .svg, .png, "
                   ".pdf, or .gv for the DOT source")
    g.set_defaults(func=_cmd_graph)

    e = sub.add_parser("eval", help="test-set score of a checkpoint", formatter_class=fmt)
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="file to evaluate on (default: the data the "
                   "checkpoint was trained on)")
    e.add_argument("--beam", type=int_at_least(1, MAX_BEAM), default=1)
    e.add_argument("--max-decode-len", type=int_at_least(1, MAX_DECODE), default=40)
    e.add_argument("--examples", type=int_at_least(0, 10_000), default=5, help="examples to print")
    e.set_defaults(func=_cmd_eval)
    return p


def check_applicable(args, models: list[str]) -> None:
    """Refuse options that the data or every model of ``models`` would ignore (a value
    other than the default): a one-line ValueError naming the option and the fix."""
    translation = is_translation_file(args.data)
    rules = [
        (("direction", "max_len", "min_freq", "max_pairs", "lower"), not translation,
         "applies to translation data (a tab-separated sentence-pair --data file) only"),
        (("max_decode_len",), not translation,
         "applies to translation only (the character tasks' answers have a fixed width)"),
        (("score", "input_feeding"), "attention" not in models,
         "applies to --model attention only"),
        (("heads", "ff_size"), "transformer" not in models,
         "applies to --model transformer only"),
        (("bidirectional", "residual", "wordvec_size"), set(models) <= {"transformer"},
         "does not apply to the Transformer"),
        (("residual",), args.num_layers < 2, "needs --num-layers 2 or more"),
    ]
    defaults = build_parser().parse_args([args.command])
    for names, ignored, why in rules:
        for name in names:
            if ignored and getattr(args, name) != getattr(defaults, name):
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} {why} (fix: drop {flag})")
    if "transformer" in models and args.hidden_size % args.heads:
        raise ValueError(f"--hidden-size {args.hidden_size} is not divisible by --heads "
                         f"{args.heads} (fix: e.g. --heads 4 with --hidden-size 256)")


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
            return args.func(args)
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
