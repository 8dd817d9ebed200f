"""Make the Jupyter notebooks in docs/notebooks/ from the Markdown chapters.

    python docs/make_notebooks.py           # (re)writes every notebook in docs/notebooks/
    python docs/make_notebooks.py --check   # exit 1, naming them, if any notebook is stale

Each notebook is its Markdown file cut into cells: the prose into Markdown cells (a new
cell at each heading), every ```` ```python ```` block (as ``run_docs.code_blocks`` finds
them) into a code cell, in order. Three things are added:

- a first code cell that sets up what ``run_docs.run`` sets up: the repository on
  ``sys.path`` (found upward from the kernel's working directory, which Jupyter sets to the
  notebook's folder) and a ``pictures/`` folder there for the blocks to draw into;
- after a block that writes ``"pictures/NAME.svg"`` or ``.png``, a cell that shows that
  picture inline (``IPython.display``). It stands where the Markdown shows the picture as
  an image (that image line is dropped), or right after the block if the Markdown only
  links to it or does not show it. A block that saves a page, ``page.save("pictures/
  NAME.html")`` (``viz.explore``), is followed by ``display(page)``: the page inline;
- relative links and images are rewritten to be relative to docs/notebooks/.

The notebooks are written without outputs and with fixed cell ids, so the same Markdown
always gives the same file; ``tests/test_notebooks.py`` checks that the committed notebooks
are what this script makes now, and runs them.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

DOCS = Path(__file__).resolve().parent
if str(DOCS) not in sys.path:
    sys.path.insert(0, str(DOCS))
from run_docs import chapters, code_blocks  # noqa: E402

NOTEBOOKS = DOCS / "notebooks"


def _sources() -> dict:
    """Notebook file name -> its Markdown file: ``NAME.ipynb`` and ``NAME.ko.ipynb`` for each
    chapter of ``run_docs.chapters()`` that has code (the glossary has none)."""
    sources = {}
    for en, ko in chapters():
        if code_blocks(en):
            sources[f"{en.stem}.ipynb"] = en
            sources[f"{en.stem}.ko.ipynb"] = ko
    return sources


#: notebook file name in docs/notebooks/ -> the Markdown file it is made from
SOURCES = _sources()

_PICTURE = re.compile(r"""["'](pictures/[^"'\s]+\.(?:svg|png))["']""")
_PAGE = re.compile(r"""^(\w+)\.save\(["'](pictures/[^"'\s]+\.html?)["']""", re.M)
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_LINK = re.compile(r"(!?\[[^\]]*\])\(([^)\s]+)\)")

_SETUP = {
    "en": """\
# Set-up (added by docs/make_notebooks.py; the Markdown walkthrough has no such cell).
# Jupyter starts the kernel in this notebook's folder, docs/notebooks/: the repository root
# is found above it and put on sys.path, and the pictures are drawn into pictures/ here.
""",
    "ko": """\
# 준비 (docs/make_notebooks.py 가 넣은 셀입니다. Markdown 판에는 없습니다).
# Jupyter 는 이 노트북이 있는 폴더 docs/notebooks/ 에서 커널을 시작합니다. 그 위에서 저장소의
# 루트를 찾아 sys.path 에 넣고, 그림은 이 폴더의 pictures/ 에 그립니다.
""",
}
_SETUP_CODE = """\
import os
import sys
from pathlib import Path
{display_import}
ROOT = next((p for p in (Path.cwd(), *Path.cwd().parents)
             if (p / "tinygrad_attn" / "__init__.py").is_file()), None)
if ROOT is not None and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.makedirs("pictures", exist_ok=True)"""


def _language(md_path: Path) -> str:
    """'ko' for a Markdown file under docs/ko/, else 'en'."""
    return "ko" if md_path.resolve().parent.name == "ko" else "en"


def split_markdown(md_path) -> list[tuple[str, str]]:
    """``md_path`` (a Markdown file) as ``[("markdown", prose), ("code", block), ...]`` in
    order: the code parts are exactly ``run_docs.code_blocks(md_path)``.

    Raises ValueError if a block cannot be found back in the text (it cannot, unless the
    fence syntax of ``run_docs`` changes)."""
    text = Path(md_path).read_text(encoding="utf-8")
    parts, pos = [], 0
    for block in code_blocks(md_path):
        fence = "```python\n" + block + "```"
        start = text.find(fence, pos)
        if start < 0:
            raise ValueError(f"{md_path}: a code block was not found back in the text")
        parts += [("markdown", text[pos:start]), ("code", block)]
        pos = start + len(fence)
    parts.append(("markdown", text[pos:]))
    return parts


def pictures_written(block: str) -> list[str]:
    """The ``"pictures/NAME.svg"`` / ``.png`` string literals of a code block, in order,
    each once: the pictures it draws (relative to its working directory)."""
    return list(dict.fromkeys(_PICTURE.findall(block)))


def pages_saved(block: str) -> list[tuple[str, str]]:
    """``(variable, "pictures/NAME.html")`` for each line of a code block that starts with
    ``variable.save("pictures/NAME.html")``: a page (an ``viz.Explorer``) that Jupyter can
    show inline itself."""
    return _PAGE.findall(block)


def _shown(picture: str) -> str:
    """The expression that shows the picture file ``picture`` (.svg or .png) inline."""
    return f'{"SVG" if picture.endswith(".svg") else "Image"}(filename="{picture}")'


def _relink(line: str, md_dir: Path) -> str:
    """``line`` with every relative link or image target made relative to docs/notebooks/
    (targets with a scheme, absolute paths and #anchors are left as they are)."""
    def fix(m):
        target = m.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", target, re.I):
            return m.group(0)
        path, sep, anchor = target.partition("#")
        new = os.path.relpath(os.path.normpath(md_dir / path), NOTEBOOKS).replace(os.sep, "/")
        return f"{m.group(1)}({new}{sep}{anchor})"
    return _LINK.sub(fix, line)


def _display_cell(shown: list[tuple[str, str]]) -> str:
    """The source of a cell that displays each ``(expression, alt text)``."""
    lines = []
    for expression, alt in shown:
        if alt:
            lines.append(f"# {alt}")
        lines.append(f"display({expression})")
    return "\n".join(lines)


def _prose_cells(prose: str, md_dir: Path, drawn: dict) -> tuple[list, set]:
    """Cut Markdown ``prose`` into cells: ``[("markdown", text) | ("display", source)]``.
    A new Markdown cell starts at each heading outside a fence; an image line showing a
    picture in ``drawn`` (its resolved path -> the expression that shows it) becomes a
    display cell in its place (consecutive ones share a cell). Returns the cells and the shown
    resolved paths."""
    cells, lines, pics, shown, in_fence = [], [], [], set(), False

    def flush():
        text = "\n".join(lines).strip("\n")
        if text.strip():
            cells.append(("markdown", text))
        lines.clear()
        if pics:
            cells.append(("display", _display_cell(pics)))
            pics.clear()

    for line in prose.split("\n"):
        image = None if in_fence else _IMAGE_LINE.match(line)
        key = os.path.normpath(md_dir / image.group(2)) if image else None
        if key in drawn:
            if "\n".join(lines).strip():
                flush()
            pics.append((drawn[key], image.group(1)))
            shown.add(key)
            continue
        if pics and line.strip():
            flush()
        if line.startswith("```"):
            in_fence = not in_fence
        elif line.startswith("#") and not in_fence:
            flush()
        lines.append(line if in_fence else _relink(line, md_dir))
    flush()
    return cells, shown


def _link_text(prose: str, md_dir: Path, key: str) -> str:
    """The text of the first link in ``prose`` to the resolved path ``key``, or ''."""
    for m in _LINK.finditer(prose):
        if os.path.normpath(md_dir / m.group(2)) == key:
            return m.group(1).lstrip("!")[1:-1]
    return ""


def notebook_cells(md_path) -> list[tuple[str, str]]:
    """The cells of the notebook made from ``md_path``: ``(kind, source)`` with kind
    "markdown", "setup" (the first code cell), "code" (a block, verbatim) or "display"."""
    md_path = Path(md_path).resolve()
    md_dir, cells, drawn, setup = md_path.parent, [], {}, "setup"
    for kind, text in split_markdown(md_path):
        if kind == "code":
            cells.append(("code", text.rstrip("\n")))
            drawn = {os.path.normpath(DOCS / p): _shown(p) for p in pictures_written(text)}
            drawn.update({os.path.normpath(DOCS / p): var for var, p in pages_saved(text)})
            continue
        prose, shown = _prose_cells(text, md_dir, drawn)
        unshown = [(p, _link_text(text, md_dir, k)) for k, p in drawn.items() if k not in shown]
        if unshown:
            cells.append(("display", _display_cell(unshown)))
        if setup is not None:                         # after the title's cell
            prose[1:1] = [("setup", setup)]
            setup = None
        cells += prose
        drawn = {}
    return [(kind, _setup_source(md_path, cells) if kind == "setup" else text)
            for kind, text in cells]


def _setup_source(md_path: Path, cells) -> str:
    """The first code cell's source: it imports the display classes the cells use."""
    shows = "\n".join(text for kind, text in cells if kind == "display")
    names = [name for name in ("SVG", "Image") if f"display({name}(" in shows]
    line = f"\nfrom IPython.display import {', '.join(names)}, display\n" if names else ""
    return _SETUP[_language(md_path)] + _SETUP_CODE.format(display_import=line)


def make_notebook(md_path) -> nbformat.NotebookNode:
    """The notebook (nbformat 4) made from ``md_path``: no outputs, no execution counts,
    cell ids ``cell-000``, ``cell-001``, ... so that it depends on the Markdown alone."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(notebook_cells(md_path)):
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(new(source, id=f"cell-{i:03d}"))
    nbformat.validate(nb)
    return nb


def notebook_text(md_path) -> str:
    """The notebook made from ``md_path`` as the text of its .ipynb file (JSON, UTF-8,
    ending in a newline)."""
    return nbformat.writes(make_notebook(md_path)).rstrip("\n") + "\n"


def stale_notebooks() -> list[str]:
    """Names of the notebooks in docs/notebooks/ that are missing or differ from what
    :func:`notebook_text` makes from their Markdown now."""
    stale = []
    for name, md in SOURCES.items():
        path = NOTEBOOKS / name
        if not path.is_file() or path.read_text(encoding="utf-8") != notebook_text(md):
            stale.append(name)
    return stale


def write_notebooks() -> list[Path]:
    """(Re)write every notebook of :data:`SOURCES` into docs/notebooks/; returns the paths."""
    NOTEBOOKS.mkdir(exist_ok=True)
    written = []
    for name, md in SOURCES.items():
        path = NOTEBOOKS / name
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(notebook_text(md))
        written.append(path)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a notebook is missing or stale")
    args = p.parse_args(argv)
    if args.check:
        stale = stale_notebooks()
        for name in stale:
            print(f"stale: docs/notebooks/{name} (run: python docs/make_notebooks.py)")
        return 1 if stale else 0
    for path in write_notebooks():
        print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
