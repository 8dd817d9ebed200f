"""Draw docs/pictures/compare_curves.png: the validation exact match and the training loss
per epoch of the seq2seq, peeky and attention models on the built-in date task, from the
measured run committed as docs/data/compare_date.csv (chapter 9.8 of the walkthrough,
docs/decoders.md).

    python docs/scripts/compare_curves.py [--csv FILE] [--out FILE]

The CSV is the ``compare.csv`` that ``tinygrad-attn compare`` writes (one row per model
and epoch, then one row per model with its test scores), preceded by ``#`` comment lines
that say how it was measured. To replace it with a new run:

    tinygrad-attn compare --models seq2seq,peeky,attention --epochs 4 --out /tmp/compare_date
    python docs/scripts/compare_curves.py --from /tmp/compare_date/compare.csv \\
        --note "command: ..." --note "measured: <date>, <CPU>"

Drawing reuses ``viz.plot_compare`` (the picture ``compare`` itself draws), so nothing is
trained here and the picture takes about a second.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import reporting  # noqa: E402
from viz import plot_compare  # noqa: E402

CSV = ROOT / "docs" / "data" / "compare_date.csv"
OUT = ROOT / "docs" / "pictures" / "compare_curves.png"
TITLE = "seq2seq, peeky and attention on the built-in date task (docs/data/compare_date.csv)"


def read_compare_csv(path=CSV) -> tuple[dict, dict, list]:
    """Read a ``compare.csv`` with optional leading ``#`` comment lines (through
    ``models.reporting.read_compare_csv``, which reads ``compare``'s own files back).

    Returns ``(histories, tests, notes)``: ``histories`` {model: [per-epoch dict]} in file
    order (keys as ``models.train`` writes them: ``epoch`` int, ``loss`` nats/token,
    ``valid_accuracy`` 0-1, ``epoch_seconds`` s, ...), ``tests`` {model: its test row}
    (``test_chosen_accuracy``, ``test_last_accuracy`` 0-1, ``chosen_epoch``), and the
    comment lines without their ``#``. Empty cells are left out of a row.

    Raises ValueError for a missing or unreadable file, one without ``model`` and
    ``epoch`` columns, or one with no epoch rows.
    """
    comments, _, rows = reporting.read_compare_csv(path, columns=("model", "epoch"))
    notes = [line.lstrip("#").strip() for line in comments]
    histories, tests = {}, {}
    for row in rows:
        record = {k: reporting.csv_cell(v) for k, v in row.items() if v not in ("", None)}
        name = record.pop("model")
        if record.get("epoch") == "test":
            tests[name] = record
        else:
            histories.setdefault(name, []).append(record)
    if not histories:
        raise ValueError(f"{path}: no per-epoch rows (fix: pass the compare.csv that "
                         f"'tinygrad-attn compare' wrote)")
    return histories, tests, notes


def plot_compare_csv(path=CSV, out=OUT, title: str | None = TITLE) -> str:
    """Draw the curves of the run in ``path`` (see :func:`read_compare_csv`) with
    ``viz.plot_compare``: the validation exact match (%) per epoch, one line per model,
    beside the training loss (nats/token). Returns the picture's path (.png/.svg/.pdf).
    Raises as :func:`read_compare_csv` and ``viz.plot_compare``."""
    histories, _, _ = read_compare_csv(path)
    return plot_compare(histories, out, title=title)


def import_run(run_csv, notes, path=CSV) -> str:
    """Write ``path``: each of ``notes`` as a ``# `` line, then the run's ``compare.csv``
    (``run_csv``) unchanged. Returns ``path``. Raises FileNotFoundError for a missing
    ``run_csv``."""
    body = Path(run_csv).read_text(encoding="utf-8")
    header = "".join(f"# {note}\n" for note in notes)
    Path(path).write_text(header + body, encoding="utf-8")
    return str(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(CSV), help="the measured compare.csv to draw")
    p.add_argument("--out", default=str(OUT), help="the picture (.png, .svg, .pdf)")
    p.add_argument("--from", dest="run_csv", default=None,
                   help="first copy this compare.csv to --csv, with the --note lines")
    p.add_argument("--note", action="append", default=[],
                   help="a comment line for --from (the command, the date, the CPU)")
    args = p.parse_args(argv)
    if args.run_csv:
        print(import_run(args.run_csv, args.note, args.csv))
    print(plot_compare_csv(args.csv, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
