"""Draw docs/pictures/masks.png: a padded batch's padding mask (N, S), the causal mask
(T, T), and the attention weights that ``tinygrad_attn.functional.masked_softmax`` gives
with them (exactly 0 on masked keys, each row summing to 1 over the others).

    python docs/scripts/masks.py [--out FILE] [--lengths 5 3 4] [--sentence 1]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from viz.masks import plot_masks  # noqa: E402

OUT = ROOT / "docs" / "pictures" / "masks.png"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(OUT), help="the picture (.png, .svg, .pdf)")
    p.add_argument("--lengths", type=int, nargs="+", default=[5, 3, 4],
                   help="the sentence lengths of the batch")
    p.add_argument("--sentence", type=int, default=1, help="the sentence drawn in detail")
    args = p.parse_args(argv)
    print(plot_masks(args.out, args.lengths, args.sentence))
    return 0


if __name__ == "__main__":
    sys.exit(main())
