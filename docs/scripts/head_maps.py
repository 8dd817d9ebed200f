"""Draw docs/pictures/head_maps.png: the per-head encoder-decoder attention of a trained
Korean -> English Transformer for one sentence, one panel per head of one decoder layer
(source tokens across, output tokens down) and the mean of the heads.

    python docs/scripts/head_maps.py CHECKPOINT [--text "난 내일 갈 수 있어."] [--layer -1]
                                     [--out FILE]

CHECKPOINT is the ``model.npz`` of a run of ``tinygrad-attn train --model transformer``
(benchmarks/RESULTS.md, "Korean -> English from the command line"); default
``runs/kor_transformer/model.npz``. The sentence is decoded greedily, then one
teacher-forced pass over the output gives every head's weights (decoding is causal, so
they are the weights of the greedy steps). Without the checkpoint the script stops with a
one-line message. Hangul needs a CJK font (Debian: fonts-nanum or fonts-noto-cjk).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tinygrad_attn import CheckpointError, no_grad  # noqa: E402
from viz.heads import plot_head_maps  # noqa: E402

OUT = ROOT / "docs" / "pictures" / "head_maps.png"
CHECKPOINT = ROOT / "runs" / "kor_transformer" / "model.npz"
TEXT = "난 내일 갈 수 있어."
TRAIN = ("tinygrad-attn train --model transformer --data ../shared/data/kor-eng/kor.txt "
         "--direction kor-eng --hidden-size 256 --heads 4 --ff-size 512 --num-layers 2 "
         "--dropout 0.1 --label-smoothing 0.1 --lr 5e-4 --batch-size 64 --epochs 1000 "
         "--max-minutes 8 --out runs/kor_transformer")


def head_maps(model, src, out_ids, start_id: int, src_padding_mask=None, layer: int = -1):
    """The encoder-decoder attention of every head of decoder layer ``layer``.

    model : a ``models.transformer.Transformer`` (or any model whose ``decoder.layers[i]``
        keep ``cross_attn_head_weights``). src : int (N, S) source ids; src_padding_mask :
        bool (N, S), True at padding, or None. out_ids : int (N, L), the output tokens
        (without the start symbol); the decoder reads ``[start_id] + out_ids[:, :-1]``.
    Returns float32 (N, h, L, S): row t of head k is output token t's distribution over
    the source (0 at padded keys). Raises ValueError for a model without such layers or
    a ``layer`` out of range.
    """
    layers = getattr(getattr(model, "decoder", None), "layers", None)
    if not layers or not hasattr(layers[0], "cross_attn_head_weights"):
        raise ValueError(f"head_maps: {type(model).__name__} has no multi-head "
                         f"encoder-decoder attention (fix: pass a Transformer)")
    if not -len(layers) <= layer < len(layers):
        raise ValueError(f"head_maps: layer {layer} is not one of the decoder's "
                         f"{len(layers)} layers (fix: 0..{len(layers) - 1} or -1)")
    out_ids = np.asarray(out_ids)
    tgt_in = np.concatenate([np.full((len(out_ids), 1), start_id), out_ids[:, :-1]], axis=1)
    with no_grad():
        model.decode(tgt_in, model.encode(src, src_padding_mask))
    return layers[layer].cross_attn_head_weights.data


def draw(model, codec, text: str, path, layer: int = -1, max_len: int = 40) -> dict:
    """Translate ``text`` greedily with ``model`` and save its head maps to ``path``.
    Returns ``{"path", "weights" (h, L', S') in reading order, "src", "out" (tokens,
    ``<eos>`` included), "translation"}``."""
    from models.decoding import greedy_decode
    from models.reporting import attention_view
    x = codec.encode_source([text])
    ids, _ = greedy_decode(model, x, start_id=codec.start_id, max_len=max_len,
                           eos_id=codec.eos_id)
    heads = head_maps(model, x, ids, codec.start_id, layer=layer)[0]
    src, out, w = attention_view(codec, text, ids[0], heads)
    translation = codec.decode_target(ids[0])
    n = len(model.decoder.layers)
    title = (f"{text}  ->  {translation}   (encoder-decoder attention of decoder layer "
             f"{layer % n + 1} of {n}, per head)")
    return {"path": plot_head_maps(path, w, src, out, title=title), "weights": w, "src": src,
            "out": out, "translation": translation}


def strongest(result) -> list[str]:
    """One line per head (and the mean): each output token with the source token it puts
    the most weight on and that weight, ``i<-난 0.99``: what the picture shows, in text."""
    w = result["weights"]
    maps = [(f"head {k + 1}", w[k]) for k in range(len(w))] + [("mean", w.mean(axis=0))]
    return [f"{name:>7}: " + ", ".join(f"{out}<-{result['src'][int(row.argmax())]} "
                                       f"{row.max():.2f}" for out, row in zip(result["out"], m))
            for name, m in maps]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", default=str(CHECKPOINT),
                   help="model.npz of a trained Transformer")
    p.add_argument("--text", default=TEXT, help="the Korean sentence to translate")
    p.add_argument("--layer", type=int, default=-1, help="decoder layer (default: the last)")
    p.add_argument("--out", default=str(OUT), help="the picture (.png, .svg, .pdf)")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        print(f"head_maps.py: no checkpoint at {args.checkpoint} (fix: train one with "
              f"'{TRAIN}' and pass its model.npz)", file=sys.stderr)
        return 2
    from models.model_io import load_model
    try:
        model, meta, codec = load_model(args.checkpoint)
        if meta["model_name"] != "transformer":
            raise ValueError(f"{args.checkpoint} holds a {meta['model_name']} model, not a "
                             f"transformer (fix: pass a --model transformer run's model.npz)")
        result = draw(model, codec, args.text, args.out, args.layer)
    except (CheckpointError, ValueError) as e:
        print(f"head_maps.py: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"{args.text} -> {result['translation']}; saved {result['path']}")
    print("the source token each output token looks at most, per head:")
    print("\n".join(strongest(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
