"""The options of the ``tinygrad-attn`` command line: the parser of every command, the
checks that need more than one option, and the mapping from options to a
:class:`models.train.TrainConfig` and a dataset.

The ranges of the training options are not written here: each option that sets a
``TrainConfig`` field takes its interval from ``models.train.CONFIG_RANGES`` (the table
that ``train`` checks an API caller's config against), and the command line adds only
upper ends of its own to the integer sizes (:data:`CLI_CAPS`), so that a typo is refused
before any memory is asked for. A bad value is a one-line error when the command line is
parsed (``models.cli_types``).
"""
from __future__ import annotations

import argparse

from .cli_types import OneLineParser, float_in, int_at_least
from .model_io import MAX_VOCAB, MODEL_NAMES
from .task_loading import is_translation_file, load_task
from .tokenizers import DEFAULT_SUBWORD_VOCAB, SENTENCEPIECE_KINDS, TOKENIZERS
from .train import (CONFIG_RANGES, DEFAULT_MAX_DECODE_LEN, LR_SCHEDULES, NONFINITE,
                    TrainConfig)

#: What ``compare --models`` takes: the trained models and the lookup baseline.
COMPARE_MODELS = MODEL_NAMES + ("lookup",)
MAX_SIZE = 16_384         # embedding / hidden sizes (a 16k LSTM already needs ~8 GiB)
MAX_BEAM = 256
MAX_DECODE = 10_000
MAX_TEXT = 5_000           # characters of one input to translate
MAX_ENSEMBLE = 64          # members of one compare --ensemble

#: Upper ends that only the command line puts on TrainConfig's integer fields (resource
#: guards, not validity: the API takes larger values).
CLI_CAPS = {"epochs": 100_000, "seed": 2**32 - 1, "init_seed": 2**32 - 1, "batch_size": 1_000_000,
            "wordvec_size": MAX_SIZE, "hidden_size": MAX_SIZE, "num_layers": 64,
            "heads": 1024, "ff_size": 4 * MAX_SIZE, "beam": MAX_BEAM,
            "max_decode_len": MAX_DECODE, "warmup_steps": 10_000_000, "average_last": 1_000}

_FMT = argparse.ArgumentDefaultsHelpFormatter

#: What ``graph --detail`` draws of a model: one box per module, or every op.
GRAPH_DETAILS = ("overview", "ops")


def config_type(field: str):
    """The argparse type of the option that sets TrainConfig field ``field``: its interval
    in ``models.train.CONFIG_RANGES``, an integer capped at ``CLI_CAPS[field]`` if any."""
    r = CONFIG_RANGES[field]
    if r.kind is int:
        return int_at_least(r.low, CLI_CAPS.get(field))
    return float_in(r.low, r.high, low_open=r.low_open, high_open=r.high_open)


# -- the options of train, compare and graph --------------------------------------------
def _add_task_options(t) -> None:
    """The data, and the attention variant of ``--model attention``."""
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


def _add_model_options(t) -> None:
    """Training length, seed and batch, and the sizes of the model."""
    t.add_argument("--epochs", type=config_type("epochs"), default=4)
    t.add_argument("--seed", type=config_type("seed"), default=0,
                   help="initialisation, shuffling and validation-split seed")
    t.add_argument("--init-seed", type=config_type("init_seed"), default=None,
                   help="seed of the model alone (initial weights, dropout; default: --seed): "
                   "runs that differ only in it share the split, vocabulary and batch order, "
                   "so eval can decode them as one ensemble")
    t.add_argument("--batch-size", type=config_type("batch_size"), default=128)
    t.add_argument("--wordvec-size", type=config_type("wordvec_size"), default=16)
    t.add_argument("--hidden-size", type=config_type("hidden_size"), default=256,
                   help="LSTM size (per direction); d_model of the Transformer")
    t.add_argument("--num-layers", type=config_type("num_layers"), default=1,
                   help="encoder layers (Transformer: encoder and decoder layers)")
    t.add_argument("--bidirectional", action="store_true", help="bidirectional encoder "
                   "(always on for bahdanau)")
    t.add_argument("--residual", action="store_true", help="residual connections between "
                   "stacked encoder layers")
    t.add_argument("--dropout", type=config_type("dropout"), default=0.0, help="in training: "
                   "recurrent models drop the embedded tokens, the output layer's input and "
                   "between stacked layers (Zaremba et al. 2014); the Transformer its "
                   "embeddings, attention weights and sublayer outputs (Vaswani et al. 2017)")
    t.add_argument("--cell", default="lstm", choices=("lstm", "gru"), help="the recurrent "
                   "models' cell, in the encoder and the decoder: lstm (the book's) or gru "
                   "(Cho et al. 2014)")
    t.add_argument("--init", default="book", choices=("book", "pytorch"), help="the recurrent "
                   "models' initial weights: book (embeddings N(0, 0.01^2), weights N(0, "
                   "1/fan_in)) or pytorch (the layers' own; learns faster on translation, see "
                   "benchmarks/RESULTS.md)")
    t.add_argument("--heads", type=config_type("heads"), default=4,
                   help="Transformer attention heads")
    t.add_argument("--ff-size", type=config_type("ff_size"), default=512,
                   help="Transformer feed-forward width")
    t.add_argument("--share-embeddings", action="store_true", help="Transformer: one matrix "
                   "for the source and target embeddings and the output layer (Vaswani et "
                   "al. 2017, sec. 3.4); needs one joint vocabulary: --joint-vocab for "
                   "translation (the character tasks have one already)")


def _add_optimizer_options(t) -> None:
    """The optimizer, its schedule and the training targets."""
    t.add_argument("--lr", type=config_type("lr"), default=1e-3, help="Adam learning rate")
    t.add_argument("--lr-schedule", default="constant", choices=LR_SCHEDULES,
                   help="constant (the book's); cosine: the rate falls to 0 over training; "
                   "inverse-sqrt: it rises linearly to --lr over --warmup-steps batches, then "
                   "falls as 1/sqrt(step) (Vaswani et al. 2017, sec. 5.3)")
    t.add_argument("--warmup-steps", type=config_type("warmup_steps"), default=None,
                   help="the warm-up of --lr-schedule inverse-sqrt, in batches (default: one "
                   "epoch's batches)")
    t.add_argument("--clip", type=config_type("max_grad_norm"), default=5.0,
                   help="global gradient-norm clip")
    t.add_argument("--teacher-forcing", type=config_type("teacher_forcing"), default=1.0,
                   help="probability of feeding the true previous token (below 1: "
                   "scheduled sampling)")
    t.add_argument("--label-smoothing", type=config_type("label_smoothing"), default=0.0)


def _add_translation_options(t) -> None:
    """How a data file is read (the input order for every task; the rest for translation)."""
    t.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=None,
                   help="reverse the input sequence (default: on for the character tasks, "
                   "off for translation)")
    t.add_argument("--max-len", type=int_at_least(1), default=None,
                   help="translation: drop pairs with a side longer than this many tokens")
    t.add_argument("--min-freq", type=int_at_least(1), default=1,
                   help="translation: words seen fewer times become <unk>")
    t.add_argument("--max-pairs", type=int_at_least(1), default=None,
                   help="translation: use only the first pairs of the file")
    t.add_argument("--lower", action=argparse.BooleanOptionalAction, default=True,
                   help="translation: lower-case the text")
    t.add_argument("--tokenizer", default="word", choices=TOKENIZERS,
                   help="translation: words (models.text), sentencepiece subword pieces (bpe "
                   "or unigram) or characters, learnt on the training split only")
    t.add_argument("--vocab-size", type=int_at_least(5, MAX_VOCAB), default=None,
                   help="translation: at most this many tokens per vocabulary, counting "
                   "<pad> <sos> <eos> <unk>; None: no limit for word and char, "
                   f"{DEFAULT_SUBWORD_VOCAB} for bpe and unigram")
    t.add_argument("--joint-vocab", action="store_true", help="translation: one tokenizer "
                   "and one vocabulary learnt from both languages (for --share-embeddings)")
    t.add_argument("--bucket", action=argparse.BooleanOptionalAction, default=None,
                   help="translation: batches of similar-length sentences (sorted within "
                   "shuffled chunks of 100 batches, the batches shuffled: fewer padding "
                   "tokens) or, --no-bucket, random batches (default: by length)")


def _add_evaluation_options(t) -> None:
    """Evaluation, the validation split, and when training stops."""
    t.add_argument("--beam", type=config_type("beam"), default=1,
                   help="beam width of the evaluation")
    t.add_argument("--max-decode-len", type=config_type("max_decode_len"), default=None,
                   help="translation: longest output in tokens (default: max(40, 1.5 x the "
                   "99th percentile of the training targets' lengths), recorded in the "
                   "checkpoint)")
    t.add_argument("--valid-fraction", type=config_type("valid_fraction"), default=0.1,
                   help="share of the training items held out (seeded) to choose the epoch; "
                   "0: none, the last epoch is chosen")
    t.add_argument("--nonfinite", default="stop", choices=NONFINITE,
                   help="at a NaN/inf loss or gradient norm: stop training, or skip the step")
    t.add_argument("--max-minutes", type=config_type("max_minutes"), default=None,
                   help="stop training after this many minutes, then evaluate")
    t.add_argument("--length-penalty", type=config_type("length_penalty"), default=0.6,
                   help="the beam's length-penalty exponent (GNMT's alpha; with --beam 2 or "
                   "more)")
    t.add_argument("--average-last", type=config_type("average_last"), default=None,
                   metavar="K", help="after training, score the average of the last K "
                   "epochs' weights on the validation split; it is chosen if it beats every "
                   "epoch (Vaswani et al. 2017, sec. 6.1)")


def add_training_options(t) -> None:
    """Every option of ``train`` that ``compare`` and ``graph`` share, in --help's order."""
    for add in (_add_task_options, _add_model_options, _add_optimizer_options,
                _add_translation_options, _add_evaluation_options):
        add(t)


def _add_subword_option(t) -> None:
    """``--subword-alpha`` (train and compare: it changes how the model is trained, not one
    step that ``graph`` draws)."""
    t.add_argument("--subword-alpha", type=config_type("subword_alpha"), default=0.0,
                   metavar="ALPHA", help="translation, --tokenizer bpe or unigram: re-segment "
                   "the training sentences at random every epoch (subword regularisation; "
                   "seeded by --seed and the epoch): bpe drops each merge with probability "
                   "ALPHA, below 1 (BPE-dropout, Provilkov et al. 2020); unigram samples a "
                   "segmentation with probability P^ALPHA (Kudo 2018); 0: off")


def _add_run_options(t) -> None:
    how = t.add_mutually_exclusive_group()
    how.add_argument("--overwrite", action="store_true", help="replace the trained model "
                     "in --out (default: refuse to)")
    how.add_argument("--resume", action="store_true", help="continue the interrupted run in "
                     "--out from its last.npz, with the same options")


# -- the commands -----------------------------------------------------------------------
def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train one model", formatter_class=_FMT)
    t.add_argument("--model", default="attention", choices=MODEL_NAMES)
    add_training_options(t)
    _add_subword_option(t)
    t.add_argument("--out", default=None, help="output folder (default: a new "
                   "runs/date/version_N for the built-in task, else runs/MODEL/version_N)")
    _add_run_options(t)


def _add_compare(sub) -> None:
    c = sub.add_parser("compare", help="train several models on the same split and seed and "
                       "print their scores side by side", formatter_class=_FMT)
    c.add_argument("--models", default="seq2seq,peeky,attention",
                   help=f"comma-separated, from {', '.join(COMPARE_MODELS)} (lookup: the "
                   f"TF-IDF nearest training sentence's translation, a floor for "
                   f"translation data; models/lookup.py)")
    add_training_options(c)
    _add_subword_option(c)
    c.add_argument("--ensemble", type=int_at_least(1, MAX_ENSEMBLE), default=1, metavar="M",
                   help="train each model M times (--init-seed, or --seed, plus 0..M-1; the "
                   "same split, vocabulary and batches) and add a row for the M decoded as "
                   "one ensemble (models/ensemble.py); M times the training time")
    c.add_argument("--out", default=None, help="output folder (default: a new "
                   "runs/compare/version_N): one sub-folder per model, compare.csv and "
                   "compare.png")
    _add_run_options(c)


def _add_translate(sub) -> None:
    tr = sub.add_parser("translate", help="answer / translate one input with a checkpoint",
                        formatter_class=_FMT)
    tr.add_argument("checkpoint", help="model.npz written by train")
    tr.add_argument("text", help='the input, e.g. "september 27, 1994"')
    tr.add_argument("--beam", type=config_type("beam"), default=1,
                    help="beam width (1: greedy, and the attention table is printed)")
    tr.add_argument("--alpha", "--length-penalty", dest="alpha", type=float_in(0, 10),
                    default=0.6, help="beam length-penalty exponent (GNMT's alpha)")
    tr.add_argument("--max-decode-len", type=config_type("max_decode_len"), default=None,
                    help="longest output in tokens (default: the checkpoint's, else "
                    f"{DEFAULT_MAX_DECODE_LEN})")
    tr.add_argument("--quiet", action="store_true", help="print only the output")
    tr.add_argument("--plot", default=None, metavar="PATH", help="save the attention map as "
                    "a picture (.png, .svg, .pdf); a Transformer gets one panel per head")
    tr.add_argument("--ensemble", nargs="+", default=None, metavar="CKPT", help="more "
                    "checkpoints decoded with the first as one ensemble (as eval with several "
                    "checkpoints); put it after the text")


def _add_graph(sub) -> None:
    g = sub.add_parser("graph", help="draw the computation graph of one training step (or of a "
                       "single neuron) with graphviz", formatter_class=_FMT)
    g.add_argument("--model", default="attention", choices=("neuron",) + MODEL_NAMES,
                   help="'neuron': a 2-input neuron; otherwise one training step of that model")
    add_training_options(g)
    g.add_argument("--detail", default=None, choices=GRAPH_DETAILS, help="what to draw of a "
                   "model: 'overview', one box per module with the tensor shapes on the "
                   "edges, or 'ops', every op (default: overview; ops for --model neuron and "
                   "with --collapse-steps or --max-nodes)")
    g.add_argument("--depth", type=int_at_least(1, 64), default=None, help="overview: box "
                   "only the modules at most this many levels below the model (default: "
                   "every module)")
    g.add_argument("--lang", default="en", choices=("en", "ko"), help="overview: the "
                   "language of the words in the boxes and of the legend")
    g.add_argument("--collapse-steps", action="store_true", help="ops: draw each unrolled "
                   "recurrence once, in a box that counts its time steps")
    g.add_argument("--backward", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the backward pass: gradients, backward order (and in the ops "
                   "picture the reverse edges)")
    g.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None,
                   help="run each LSTM or GRU layer as one fused node, as training does, or "
                   "(--no-fused) as its composed cells step by step (default: fused for the "
                   "overview, composed for --detail ops)")
    g.add_argument("--rankdir", default="TB", choices=("TB", "BT", "LR", "RL"))
    g.add_argument("--max-nodes", type=int_at_least(1), default=None, help="ops: draw at "
                   "most this many ops (default: a readable picture of at most 100: each "
                   "recurrence drawn once, then the ops nearest the loss; a note says what "
                   "was left out)")
    g.add_argument("--dot-timeout", type=float_in(0, low_open=True), default=60.0,
                   metavar="SECONDS", help="stop graphviz's dot after this many seconds")
    g.add_argument("-o", "--output", default="graph.svg", help="picture file: .svg, .png, "
                   ".pdf, or .gv for the DOT source")
    g.add_argument("--html", default=None, metavar="PATH", help="instead of a picture, write "
                   "the backward explorer: one self-contained .html page in which you step "
                   "through the backward pass op by op (the ops' level of detail; LSTM and "
                   "GRU layers fused unless --no-fused)")


def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="test-set score of a checkpoint, or of several decoded "
                       "as one ensemble", formatter_class=_FMT)
    e.add_argument("checkpoint", nargs="+", help="a model.npz; several: an ensemble, each "
                   "step's next-token probabilities the average of theirs (models trained on "
                   "the same data and options, e.g. differing only in --init-seed)")
    e.add_argument("--data", default=None, help="file to evaluate on (default: the data the "
                   "checkpoint was trained on)")
    e.add_argument("--beam", type=config_type("beam"), default=1)
    e.add_argument("--length-penalty", "--alpha", dest="alpha",
                   type=config_type("length_penalty"), default=0.6,
                   help="the beam's length-penalty exponent (GNMT's alpha; with --beam 2 or "
                   "more)")
    e.add_argument("--max-decode-len", type=config_type("max_decode_len"), default=None,
                   help="longest output in tokens (default: the checkpoint's, else "
                   f"{DEFAULT_MAX_DECODE_LEN})")
    e.add_argument("--examples", type=int_at_least(0, 10_000), default=5,
                   help="examples to print")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tinygrad-attn`` (defaults = the book's hyperparameters,
    except 4 epochs where the book trains 10): one sub-command per command, its name in
    ``args.command``."""
    p = OneLineParser(prog="tinygrad-attn", description=(
        "Train, compare and use the seq2seq and attention models of Deep Learning from "
        "Scratch 2 (and the Transformer) on a CPU with the tinygrad_attn autograd engine."))
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_compare, _add_translate, _add_graph, _add_eval):
        add(sub)
    return p


# -- from options to work ---------------------------------------------------------------
def config_from_args(args, model: str | None = None) -> TrainConfig:
    """The TrainConfig that the options of ``train``, ``compare`` or ``graph`` name
    (``model``: the model, default ``args.model``)."""
    return TrainConfig(
        model=model or args.model, epochs=args.epochs, batch_size=args.batch_size,
        wordvec_size=args.wordvec_size, hidden_size=args.hidden_size, lr=args.lr,
        lr_schedule=args.lr_schedule,
        max_grad_norm=args.clip, seed=args.seed, init_seed=args.init_seed, score=args.score,
        input_feeding=args.input_feeding, num_layers=args.num_layers,
        bidirectional=args.bidirectional, residual=args.residual, dropout=args.dropout,
        cell=args.cell, init=args.init, teacher_forcing=args.teacher_forcing,
        label_smoothing=args.label_smoothing,
        heads=args.heads, ff_size=args.ff_size, beam=args.beam, max_minutes=args.max_minutes,
        max_decode_len=args.max_decode_len, valid_fraction=args.valid_fraction,
        nonfinite=args.nonfinite, warmup_steps=args.warmup_steps, bucket=args.bucket,
        share_embeddings=args.share_embeddings and (model or args.model) == "transformer",
        average_last=args.average_last, length_penalty=args.length_penalty,
        subword_alpha=getattr(args, "subword_alpha", 0.0))


def load_data(args):
    """The dataset named by the command line's --data and its options (see
    ``models.task_loading.load_task``)."""
    return load_task(args.data, reverse=args.reverse, direction=args.direction,
                     max_len=args.max_len, lower=args.lower, min_freq=args.min_freq,
                     max_pairs=args.max_pairs, tokenizer=args.tokenizer,
                     vocab_size=args.vocab_size, joint_vocab=args.joint_vocab)


def compare_models(args) -> list[str]:
    """The model names of ``compare --models``; ValueError unless each is known
    (``COMPARE_MODELS``) and named once, and ``lookup`` only with translation data."""
    from tinygrad_attn.fileio import excerpt
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in COMPARE_MODELS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"compare: --models {excerpt(args.models, 80)} must name each model "
                         f"once, from {', '.join(COMPARE_MODELS)} (fix: e.g. --models "
                         f"seq2seq,attention)")
    if "lookup" in names and not is_translation_file(args.data):
        raise ValueError("compare: --models lookup needs translation data (a tab-separated "
                         "sentence-pair --data file) (fix: drop lookup from --models)")
    return names


def check_applicable(args, models: list[str]) -> None:
    """Refuse options that the data or every model of ``models`` would ignore (a value
    other than the default): a one-line ValueError naming the option and the fix."""
    translation = is_translation_file(args.data)
    rules = [
        (("direction", "max_len", "min_freq", "max_pairs", "lower", "tokenizer", "vocab_size",
          "joint_vocab"), not translation,
         "applies to translation data (a tab-separated sentence-pair --data file) only"),
        (("min_freq",), args.tokenizer in SENTENCEPIECE_KINDS, "applies to --tokenizer word "
         "and char only (sentencepiece chooses its pieces by --vocab-size)"),
        (("max_decode_len",), not translation,
         "applies to translation only (the character tasks' answers have a fixed width)"),
        (("score", "input_feeding"), "attention" not in models,
         "applies to --model attention only"),
        (("heads", "ff_size", "share_embeddings"), "transformer" not in models,
         "applies to --model transformer only"),
        (("bucket",), not translation, "applies to translation data only (the character "
         "tasks' items all have one length)"),
        (("warmup_steps",), args.lr_schedule != "inverse-sqrt",
         "applies to --lr-schedule inverse-sqrt only"),
        (("length_penalty",), args.beam == 1, "applies to beam search only (--beam 2 or more)"),
        (("average_last",), args.valid_fraction == 0, "needs a validation split to choose on "
         "(--valid-fraction above 0)"),
        (("bidirectional", "residual", "wordvec_size", "cell", "init"),
         set(models) <= {"transformer"},
         "does not apply to the Transformer"),
        (("residual",), args.num_layers < 2, "needs --num-layers 2 or more"),
        (("subword_alpha",), args.tokenizer not in SENTENCEPIECE_KINDS, "applies to "
         "--tokenizer bpe and unigram only (it re-segments their training sentences)"),
    ]
    defaults = build_parser().parse_args([args.command])
    for names, ignored, why in rules:
        for name in names:
            if ignored and getattr(args, name) != getattr(defaults, name):
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} {why} (fix: drop {flag})")
    if getattr(args, "ensemble", 1) > 1 and not models:
        raise ValueError("--ensemble applies to trained models only, and the lookup learns "
                         "nothing (fix: drop --ensemble, or add a model to --models)")
    # the character tasks have one vocabulary on both sides already; translation needs it
    if getattr(args, "share_embeddings", False) and "transformer" in models and \
            translation and not args.joint_vocab:
        raise ValueError("--share-embeddings needs one vocabulary for both languages (fix: "
                         "add --joint-vocab)")
    if args.tokenizer == "bpe" and getattr(args, "subword_alpha", 0.0) >= 1:
        raise ValueError(f"--subword-alpha {args.subword_alpha:g} drops every merge of "
                         f"--tokenizer bpe, leaving characters (fix: a value below 1, e.g. "
                         f"0.1, or --tokenizer char)")
    if args.average_last is not None and args.average_last > args.epochs:
        raise ValueError(f"--average-last {args.average_last} is more than --epochs "
                         f"{args.epochs} (fix: average at most the epochs trained)")
    if "transformer" in models and args.hidden_size % args.heads:
        raise ValueError(f"--hidden-size {args.hidden_size} is not divisible by --heads "
                         f"{args.heads} (fix: e.g. --heads 4 with --hidden-size 256)")


def checkpoint_max_decode_len(args, meta: dict, path) -> int:
    """The longest output of ``translate`` / ``eval`` in tokens: ``--max-decode-len`` if
    given, else the value the checkpoint's training recorded (``meta["train_config"]``,
    :func:`models.model_io.load_model`'s metadata), else DEFAULT_MAX_DECODE_LEN (a model
    saved outside a training run). Raises tinygrad_attn.CheckpointError for a recorded
    value that is not an integer in 1..MAX_DECODE."""
    if args.max_decode_len is not None:
        return args.max_decode_len
    config = meta.get("train_config", {})
    recorded = config.get("max_decode_len") if isinstance(config, dict) else config
    if recorded is None:
        return DEFAULT_MAX_DECODE_LEN
    if isinstance(recorded, bool) or not isinstance(recorded, int) or \
            not 1 <= recorded <= MAX_DECODE:
        from tinygrad_attn import CheckpointError
        from tinygrad_attn.fileio import quote_path
        field = "train_config.max_decode_len" if isinstance(config, dict) else "train_config"
        raise CheckpointError(f"checkpoint {quote_path(path)}: {field}={recorded!r:.40} is "
                              f"not an integer in 1..{MAX_DECODE:,} (fix: pass "
                              f"--max-decode-len N)")
    return recorded


def check_translate_options(args) -> None:
    """``translate``'s checks before a model is loaded: a non-empty input of at most
    MAX_TEXT characters, a picture path that can be written, no --plot with --beam.
    Raises ValueError."""
    if not args.text.strip():
        raise ValueError("the input text is empty (fix: pass the sentence or date to "
                         "translate, in quotes)")
    if len(args.text) > MAX_TEXT:
        raise ValueError(f"the input text is {len(args.text):,} characters long; translate "
                         f"takes one sentence of at most {MAX_TEXT:,} (fix: split it into "
                         f"sentences)")
    if args.plot is not None:
        from viz import OutputPathError, check_output_path
        try:
            check_output_path(args.plot, ("png", "svg", "pdf"), "attention map")
        except OutputPathError as e:
            raise ValueError(f"--plot: {e}") from None
    if args.beam > 1 and args.plot:
        raise ValueError("--plot draws the attention of greedy decoding (fix: drop --beam "
                         "or --plot)")
    if args.ensemble and args.plot:
        raise ValueError("--plot draws one model's attention (fix: drop --ensemble or "
                         "--plot)")
