"""Draw ``docs/pictures/date_overview.svg`` and ``.png``: the overview of one training step
of the date model, exactly as ``tinygrad-attn graph`` draws it by default.

    python docs/scripts/date_overview.py              # English, into docs/pictures/
    python docs/scripts/date_overview.py --lang ko --out /tmp    # Korean, elsewhere

The model is ``AttentionSeq2Seq`` with the book's sizes (D = 16, H = 256, batch 128) on the
built-in date task; its LSTM layers run fused, as training runs them. The picture has one
box per module (``viz.draw_overview``), the tensor shapes on the edges and a legend of
every mark it uses. Needs graphviz's ``dot`` for the pictures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.cli import main  # noqa: E402  (after the repository is on sys.path)


def draw(out_dir: Path, lang: str = "en") -> list[Path]:
    """Write ``date_overview.svg`` and ``date_overview.png`` (``date_overview_ko.*`` for
    ``lang="ko"``) into ``out_dir``; returns their paths. Raises RuntimeError when the
    command fails (its one-line error is on stderr)."""
    stem = "date_overview" if lang == "en" else f"date_overview_{lang}"
    paths = [out_dir / f"{stem}.{ext}" for ext in ("svg", "png")]
    for path in paths:
        code = main(["graph", "--model", "attention", "--lang", lang, "-o", str(path)])
        if code != 0:
            raise RuntimeError(f"tinygrad-attn graph exited with {code} for {path}")
    return paths


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lang", default="en", choices=("en", "ko"))
    p.add_argument("--out", default=str(ROOT / "docs" / "pictures"), help="output folder")
    args = p.parse_args()
    draw(Path(args.out), args.lang)
