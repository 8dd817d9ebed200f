"""The ``tinygrad-attn`` command line: ``train``, ``translate`` and ``eval``."""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from tinygrad_attn import CheckpointError

from .data import DataError, encode_questions, load_dataset
from .train import TrainConfig, exact_match, load_model, train


def _cmd_train(args) -> int:
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, wordvec_size=args.wordvec_size,
                      hidden_size=args.hidden_size, lr=args.lr, max_grad_norm=args.clip,
                      seed=args.seed)
    data = load_dataset(args.data, reverse=args.reverse)
    model, history = train(data, cfg, out_dir=args.out)
    model.eval()
    _, pred = exact_match(model, data.x_test[:5], data.t_test[:5], data.start_id)
    print("examples from the test set:")
    _print_examples(data.vocab, data.x_test[:5], data.t_test[:5], pred, data.reversed)
    last = history[-1]
    print(f"final test exact match {100 * last['accuracy']:.2f}% after {last['epoch']} epochs; "
          f"{np.mean([h['epoch_seconds'] for h in history]):.1f} s per epoch. "
          f"Saved {os.path.join(args.out, 'model.npz')}")
    print(f"try: tinygrad-attn translate {os.path.join(args.out, 'model.npz')} \"september 27, 1994\"")
    return 0


def _print_examples(vocab, x, t, pred, reversed_):
    for xi, ti, pi in zip(x, t, pred):
        q = vocab.decode(xi[::-1] if reversed_ else xi).rstrip()
        mark = "ok " if np.array_equal(ti[1:], pi) else "BAD"
        print(f"  [{mark}] {q!r:34} -> {vocab.decode(pi)}   (answer {vocab.decode(ti[1:])})")


def _cmd_translate(args) -> int:
    model, meta, vocab = load_model(args.checkpoint)
    x = encode_questions([args.text], vocab, meta["source_width"], meta["reversed"])
    ids, weights = model.generate(x, meta["start_id"], meta["answer_length"])
    answer = vocab.decode(ids[0])
    print(answer)
    # attention weights: rows = output characters, columns = input characters in reading order
    w = weights[0][:, ::-1] if meta["reversed"] else weights[0]
    src = args.text.ljust(meta["source_width"])
    cols = [j for j, ch in enumerate(src) if j < len(args.text.rstrip())]
    print("\nattention weights (rows: output characters; columns: input characters):")
    print("     " + " ".join(f"{src[j]:>4}" for j in cols))
    for i, ch in enumerate(answer):
        print(f"{ch!r:>4} " + " ".join(f"{w[i, j]:4.2f}" for j in cols))
    return 0


def _cmd_eval(args) -> int:
    model, meta, vocab = load_model(args.checkpoint)
    path = args.data if args.data is not None else meta.get("data_path")
    data = load_dataset(path, reverse=meta["reversed"])
    if data.vocab != vocab:
        print(f"tinygrad-attn eval: error: the vocabulary of {data.source} differs from the "
              f"checkpoint's, which was trained on {meta.get('data_source', '?')} (fix: pass "
              f"that file with --data)", file=sys.stderr)
        return 2
    acc, pred = exact_match(model, data.x_test, data.t_test, meta["start_id"])
    print(f"test exact match {100 * acc:.2f}% ({int(round(acc * len(data.x_test)))}/"
          f"{len(data.x_test)}) on {data.source}")
    _print_examples(vocab, data.x_test[:args.examples], data.t_test[:args.examples],
                    pred[:args.examples], meta["reversed"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tinygrad-attn`` (defaults = the book's hyperparameters)."""
    p = argparse.ArgumentParser(prog="tinygrad-attn", description=(
        "Train and use the attention seq2seq of Deep Learning from Scratch 2, ch. 8, on a "
        "CPU with the tinygrad_attn autograd engine."))
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the attention seq2seq on a question_answer task",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", default=None, help="a question_answer file (e.g. "
                   "../shared/data/dlfs2/date.txt); default: the built-in date task")
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--wordvec-size", type=int, default=16)
    t.add_argument("--hidden-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--clip", type=float, default=5.0, help="global gradient-norm clip")
    t.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=True,
                   help="reverse the input sequence")
    t.add_argument("--out", default="runs/date", help="output folder (checkpoint, vocabulary)")
    t.set_defaults(func=_cmd_train)

    tr = sub.add_parser("translate", help="answer one input with a trained checkpoint")
    tr.add_argument("checkpoint", help="model.npz written by train")
    tr.add_argument("text", help='the input, e.g. "september 27, 1994"')
    tr.set_defaults(func=_cmd_translate)

    e = sub.add_parser("eval", help="test-set exact match of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="question_answer file to evaluate on "
                   "(default: the data the checkpoint was trained on)")
    e.add_argument("--examples", type=int, default=5, help="examples to print")
    e.set_defaults(func=_cmd_eval)
    return p


def main(argv=None) -> int:
    """Entry point of the ``tinygrad-attn`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CheckpointError, DataError, FileNotFoundError, ValueError) as e:
        print(f"tinygrad-attn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
