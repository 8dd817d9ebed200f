"""Draw docs/pictures/why_attention.png: for one date and one output digit, the norm of the
gradient that digit's loss sends to each source character, in the seq2seq, peeky and
attention models of the book's date task (Deep Learning from Scratch 2, ch. 7-8), trained
briefly here (a small hidden size; about a minute on a quiet 2-core machine).

    python docs/scripts/why_attention.py [--out FILE] [--data FILE] [--text TEXT]
        [--digit 8] [--steps 800] [--hidden 64] [--save-weights FILE] [--weights FILE]

The data is the book's ``date.txt`` from ``../shared/data/dlfs2/`` when it is there, else
the built-in generator of the same task (``models.date_task``); inputs are reversed, as
the book feeds them. ``--save-weights`` also writes the three trained models (float16,
with their vocabulary and scores; tests/data/why_attention.npz is that file, which
tests/test_saliency.py checks); ``--weights`` draws from such a file in seconds:

    python docs/scripts/why_attention.py --weights tests/data/why_attention.npz
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tinygrad_attn as tg  # noqa: E402
from models import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq  # noqa: E402
from models.char_dataset import load_dataset  # noqa: E402
from models.codecs import CharCodec  # noqa: E402
from models.date_task import date_alignment  # noqa: E402
from models.pair_files import SEPARATOR  # noqa: E402
from models.saliency import date_step_span, source_gradient_norms  # noqa: E402
from models.vocab import Vocab  # noqa: E402
from viz.saliency import plot_source_gradients  # noqa: E402

OUT = ROOT / "docs" / "pictures" / "why_attention.png"
BOOK_DATA = ROOT.parent / "shared" / "data" / "dlfs2" / "date.txt"
MODELS = {"seq2seq": Seq2Seq, "peeky": PeekySeq2Seq, "attention": AttentionSeq2Seq}
TEXT, ISO = "tuesday, september 27, 1994", "1994-09-27"
PANEL = {"seq2seq": "seq2seq: the source reaches the decoder only through h_S",
         "peeky": "peeky: h_S at every decoder step, but the same encoder",
         "attention": "attention: every encoder state reaches the decoder"}


def train_model(name: str, data, steps: int, hidden: int, lr: float, seed: int, log=print):
    """``MODELS[name]`` (D = 16, H = ``hidden``, the book's init, seeded), trained for
    ``steps`` minibatches of 128 random training items (teacher forcing, Adam ``lr``,
    global-norm clip 5, as the book's ch. 8 script). Returns the model."""
    model = MODELS[name](len(data.vocab), 16, hidden, seed=seed)
    opt = tg.optim.Adam(model.parameters(), lr=lr)
    rng, t0 = np.random.default_rng(seed), time.perf_counter()
    for _ in range(steps):
        idx = rng.integers(0, len(data.src_train), 128)
        loss = model.loss(data.src_train[idx], data.tgt_train[idx])
        opt.zero_grad()
        loss.backward()
        tg.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    log(f"{name}: {steps} steps in {time.perf_counter() - t0:.0f} s, last loss "
        f"{loss.item():.3f}")
    return model


def scores(model, data, n: int = 300):
    """(exact match, attention alignment or None) of ``model`` on the first ``n`` test
    items; the alignment is the share of typed output digits whose largest attention
    weight falls on their source (``models.date_task.date_alignment``)."""
    src, tgt = data.src_test[:n], data.tgt_test[:n]
    n = len(src)
    with tg.no_grad():
        ids, weights = model.generate(src, data.start_id, tgt.shape[1] - 1)
    exact = float((ids == tgt[:, 1:]).all(axis=1).mean())
    if weights is None:
        return exact, None
    codec, checks = data.codec(), []
    for i in range(n):
        text = data.vocab.decode(src[i][::-1] if data.reversed else src[i]).rstrip()
        iso = data.vocab.decode(tgt[i, 1:])
        checks += date_alignment(codec, text, iso, np.asarray(weights.data)[i])
    return exact, float(np.mean(checks))


def save_weights(models: dict, codec, exact: dict, path) -> None:
    """Write the three models' weights (float16, keys ``name/param``), the vocabulary, the
    sizes and each model's exact match (``exact``) to ``path`` (.npz, compressed, no
    pickle); :func:`load_weights` reads it back."""
    arrays = {f"{name}/{k}": v.astype(np.float16) for name, m in models.items()
              for k, v in m.state_dict().items()}
    meta = {"vocab": codec.vocab.to_dict(), "reversed": bool(codec.reversed),
            "source_width": codec.source_width, "answer_length": codec.answer_length,
            "wordvec_size": 16, "hidden_size": models["attention"].config["hidden_size"],
            "exact_match": exact}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load_weights(path):
    """The models, codec and metadata :func:`save_weights` wrote: ``({name: model with
    float32 weights}, CharCodec, meta dict)``. Raises OSError / KeyError / ValueError for
    a file that is not one."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {k: f[k].astype(np.float32) for k in f.files if k != "meta"}
    vocab = Vocab.from_dict(meta["vocab"], kind="char")
    codec = CharCodec(vocab, meta["reversed"], meta["source_width"], meta["answer_length"],
                      vocab.stoi[SEPARATOR])
    models = {}
    for name, cls in MODELS.items():
        state = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(name + "/")}
        if state:
            models[name] = cls(len(vocab), meta["wordvec_size"], meta["hidden_size"])
            models[name].load_state_dict(state)
    return models, codec, meta


def picture(models: dict, codec, text: str, iso: str, digit: int, out, exact=None) -> str:
    """Compute each model's source gradient norms for ``digit`` of ``text`` (encoded with
    ``codec``) and draw them in typed order; ``exact`` ({name: exact match}) goes into the
    panel titles. Returns the picture's path."""
    src, tgt = codec.encode_source(text)[0], codec.vocab.encode(SEPARATOR + iso)
    S = len(src)
    span = date_step_span(text, iso, digit, S, codec.reversed)
    order = np.arange(S)[::-1] if codec.reversed else np.arange(S)     # typed position
    exact = exact or {}
    norms = {PANEL[name] + (f" (exact match {exact[name]:.0%})" if name in exact else ""):
             source_gradient_norms(m, src, tgt, digit)[order] for name, m in models.items()}
    shown = "".join(f"[{c}]" if k == digit else c for k, c in enumerate(iso))
    title = (f"The gradient of one output digit's loss at each source character:\n"
             f"'{text}' -> {shown}; shaded: the characters it comes from; each panel has "
             f"its own scale")
    return plot_source_gradients(
        norms, list(text.ljust(S)), out, span=[order[s] for s in span], title=title,
        xlabel="source characters as typed (the encoder reads them right to left: the "
               "input is reversed, as in the book)" if codec.reversed else
               "source characters as typed and read",
        read_first="right" if codec.reversed else "left")


def trained_models(args):
    """Train the three models on ``args.data`` and print their scores. Returns
    ``(models, codec, exact matches)``."""
    data = load_dataset(args.data)
    models = {name: train_model(name, data, args.steps, args.hidden, args.lr, args.seed)
              for name in MODELS}
    exact = {}
    for name, m in models.items():
        exact[name], aligned = scores(m, data)
        print(f"{name}: exact match {exact[name]:.1%} on {min(300, len(data.src_test))} test "
              f"dates" +
              ("" if aligned is None else f", attention on the digit's source {aligned:.1%}"))
    return models, data.codec(), exact


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(OUT), help="the picture (.png, .svg, .pdf)")
    p.add_argument("--data", default=str(BOOK_DATA) if BOOK_DATA.exists() else None,
                   help="a date.txt (default: the book's if present, else generated)")
    p.add_argument("--text", default=TEXT, help="the date drawn, as typed")
    p.add_argument("--iso", default=ISO, help="its answer YYYY-MM-DD")
    p.add_argument("--digit", type=int, default=8, help="output position 0-9 of YYYY-MM-DD")
    p.add_argument("--steps", type=int, default=800, help="training minibatches per model")
    p.add_argument("--hidden", type=int, default=64, help="hidden size H")
    p.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-weights", default=None, help="also write the trained weights here")
    p.add_argument("--weights", default=None,
                   help="draw from weights --save-weights wrote instead of training (seconds)")
    args = p.parse_args(argv)
    if args.weights:
        models, codec, meta = load_weights(args.weights)
        exact = meta["exact_match"]
    else:
        models, codec, exact = trained_models(args)
    if args.save_weights:
        save_weights(models, codec, exact, args.save_weights)
    print(picture(models, codec, args.text, args.iso, args.digit, args.out, exact))
    return 0


if __name__ == "__main__":
    sys.exit(main())
