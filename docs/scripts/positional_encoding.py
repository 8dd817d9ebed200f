"""Draw docs/pictures/positional_encoding.png: the sinusoidal positional encodings of the
Transformer (Vaswani et al. 2017, sec. 3.5), the table of
``tinygrad_attn.nn.sinusoidal_positions`` as a heatmap and four of its dimensions as curves.

    python docs/scripts/positional_encoding.py [--out FILE] [--length 100] [--d-model 64]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from viz.positions import plot_positional_encoding  # noqa: E402

OUT = ROOT / "docs" / "pictures" / "positional_encoding.png"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(OUT), help="the picture (.png, .svg, .pdf)")
    p.add_argument("--length", type=int, default=100, help="positions drawn")
    p.add_argument("--d-model", type=int, default=64, help="the model width d_model")
    args = p.parse_args(argv)
    # dims: a sine and its cosine (period 11.2: a quarter period apart), slower sines (35, 199)
    print(plot_positional_encoding(args.out, args.length, args.d_model, dims=(4, 5, 12, 24)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
