"""Run the Python code blocks of a Markdown walkthrough, in order, in one namespace.

    python docs/run_docs.py                  # runs docs/walkthrough.md inside docs/, which
                                             # (re)draws every picture in docs/pictures/
    python docs/run_docs.py FILE.md --in DIR # runs FILE.md with DIR as working directory

``tests/test_docs.py`` runs the same blocks in a temporary folder, so every code block in
the docs is executed by the test suite, and checks that each Korean chapter
(``docs/ko/NAME.md``) has the same sections and the same code as the English one
(:func:`chapters` lists them).
A block fenced as ```` ```python ```` runs; any other fence (``text``, ``bash``) is only
shown.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

#: the chapters of the story in reading order (file names in docs/ and docs/ko/); each
#: links the one before and the one after it. Other chapters (higher_order.md) stand aside.
STORY = ("walkthrough.md", "decoder_step.md", "decoders.md", "transformer.md", "glossary.md")


def chapters() -> list[tuple[Path, Path]]:
    """``(English, Korean)`` paths of every chapter: each ``docs/NAME.md`` whose Korean twin
    ``docs/ko/NAME.md`` exists, the story's chapters (:data:`STORY`) first, in reading
    order, then any other such file by name. A chapter without its twin is not listed
    (``tests/test_docs.py`` fails on one)."""
    names = [n for n in STORY if (DOCS / n).is_file()]
    names += sorted(p.name for p in DOCS.glob("*.md") if p.name not in names)
    return [(DOCS / n, DOCS / "ko" / n) for n in names if (DOCS / "ko" / n).is_file()]


def code_blocks(path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return _FENCE.findall(Path(path).read_text(encoding="utf-8"))


def headings(path) -> list[str]:
    """The section headings (lines starting with '#') of a Markdown file, outside code."""
    text = _FENCE.sub("", Path(path).read_text(encoding="utf-8"))
    return [line for line in text.splitlines() if line.startswith("#")]


def run(path, workdir, echo=False) -> dict:
    """Execute every code block of ``path`` in one namespace with ``workdir`` as the working
    directory (``pictures/`` is created there). Returns the namespace. An exception names
    the block that raised it."""
    path, workdir = Path(path).resolve(), Path(workdir)      # path: before the chdir
    (workdir / "pictures").mkdir(parents=True, exist_ok=True)
    namespace = {"__name__": "__docs__"}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with _chdir(workdir):
        for i, block in enumerate(code_blocks(path), 1):
            t0 = time.perf_counter()
            try:
                exec(compile(block, f"{Path(path).name}, code block {i}", "exec"), namespace)
            except Exception as e:
                raise RuntimeError(f"{path}: code block {i} failed: {e!r}\n{block}") from e
            if echo:
                print(f"block {i}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return namespace


@contextlib.contextmanager
def _chdir(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", default=str(DOCS / "walkthrough.md"))
    p.add_argument("--in", dest="workdir", default=str(DOCS),
                   help="working directory (pictures go to its pictures/)")
    args = p.parse_args(argv)
    run(args.file, args.workdir, echo=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
