"""The notebooks in docs/notebooks/ (made from the Markdown walkthroughs by
docs/make_notebooks.py): the committed files are what the script makes from the Markdown
now, they carry no outputs, and each one runs top to bottom in a Jupyter kernel (nbclient)
and shows at least one picture inline.

Running the walkthrough notebooks trains the date model (its section 5), as
tests/test_docs.py does for the Markdown: a few minutes each on two cores."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

import viz

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))
import make_notebooks  # noqa: E402

NAMES = list(make_notebooks.SOURCES)
CELL_TIMEOUT = 1800         # seconds one cell may run: the training cell takes 2-3 minutes on a
                            # quiet 2-core machine and timed out at 900 s with two other busy
                            # processes (load average 5-7)
PICTURES = ("image/svg+xml", "image/png")
SHOWN = PICTURES + ("text/html",)   # a display() call shows a picture or a page (an iframe)


def test_the_committed_notebooks_are_what_the_generator_makes_from_the_markdown():
    on_disk = sorted(p.name for p in make_notebooks.NOTEBOOKS.glob("*.ipynb"))
    assert on_disk == sorted(NAMES), "docs/notebooks/ holds a notebook no Markdown makes"
    stale = make_notebooks.stale_notebooks()
    assert not stale, (f"differ from their Markdown: {', '.join(stale)} in docs/notebooks/; "
                       "run `python docs/make_notebooks.py` and commit the result")


@pytest.mark.parametrize("name", NAMES)
def test_a_committed_notebook_has_no_outputs_and_no_execution_counts(name):
    nb = nbformat.read(make_notebooks.NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}, {cell.id}: committed with outputs; run `python docs/make_notebooks.py`")


@pytest.mark.parametrize("name", NAMES)
def test_the_generator_makes_each_python_block_a_code_cell_after_a_setup_cell(name):
    md = make_notebooks.SOURCES[name]
    code = [cell.source for cell in make_notebooks.make_notebook(md).cells
            if cell.cell_type == "code"]
    assert "sys.path.insert" in code[0] and 'os.makedirs("pictures"' in code[0]
    blocks = make_notebooks.code_blocks(md)
    assert [s for s in code[1:] if not _is_display(s)] == [b.rstrip("\n") for b in blocks]
    shows = "\n".join(s for s in code[1:] if _is_display(s))
    for block in blocks:                        # every picture a block draws is shown
        for picture in make_notebooks.pictures_written(block):
            assert f'(filename="{picture}"))' in shows, (name, picture)
        for variable, _ in make_notebooks.pages_saved(block):
            assert f"display({variable})" in shows, (name, variable)


def _is_display(source):
    """Is ``source`` a cell the generator added to show pictures (comments and display())?"""
    return all(line.startswith(("# ", "display(")) for line in source.splitlines())


def test_the_setup_cell_puts_the_repository_found_above_the_notebook_on_sys_path(tmp_path):
    """The first cell, run (without the editable install's import hook: python -S) two
    folders below a stand-in repository root, imports the packages from that root."""
    for package in ("tinygrad_attn", "viz", "models"):
        (tmp_path / package).symlink_to(ROOT / package, target_is_directory=True)
    here = tmp_path / "docs" / "notebooks"
    here.mkdir(parents=True)
    setup = nbformat.read(make_notebooks.NOTEBOOKS / NAMES[0], as_version=4).cells[1].source
    code = setup + "\nimport tinygrad_attn, viz, models\nprint(tinygrad_attn.__file__)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if "-packages" in p))
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=here, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(tmp_path)), out.stdout
    assert (here / "pictures").is_dir()


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_a_notebook_runs_in_a_kernel_and_shows_a_picture_inline(name, tmp_path):
    """Runs a copy in a temporary folder (its pictures/ goes there), every cell, in order;
    a cell that raises fails the test with the cell and the traceback."""
    shutil.copy(make_notebooks.NOTEBOOKS / name, tmp_path / name)
    nb = nbformat.read(tmp_path / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()
    print(f"{name}: ran in {time.perf_counter() - t0:.0f} s")
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    kinds = [kind for cell in code for out in cell.outputs for kind in out.get("data", {})]
    assert any(kind in PICTURES for kind in kinds), (name, sorted(set(kinds)))
    for cell in filter(lambda cell: _is_display(cell.source), code):   # one picture a call
        shown = [out for out in cell.outputs if set(SHOWN) & set(out.get("data", {}))]
        assert len(shown) == cell.source.count("display("), (name, cell.id, cell.outputs)
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors
    assert (tmp_path / "pictures").is_dir() and any((tmp_path / "pictures").iterdir())
