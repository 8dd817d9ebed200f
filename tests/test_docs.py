"""The walkthrough in docs/: every code block runs, every picture it shows is drawn by its
own code (and is in the repository), and the Korean walkthrough matches the English one
section for section with the same code. The facts its prose states are measured here: the
backward order (a reverse topological order, and the #k column of its tables), the zero
gradients (w2, the forget gate, weight_hh) against no gradient (x1, x2), the names and
zero states of the LSTM picture, which boxes are blue, where the '-' of a date look, and
the sizes of the training step's picture."""
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import viz

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import run_docs  # noqa: E402

EN, KO = DOCS / "walkthrough.md", DOCS / "ko" / "walkthrough.md"


def _pictures(path):
    """Picture files a Markdown file shows or links, relative to docs/pictures/."""
    text = path.read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\]\((?:\.\./)?pictures/([^)\s]+)\)", text)))


def test_korean_walkthrough_matches_the_english_one_section_for_section():
    en, ko = run_docs.headings(EN), run_docs.headings(KO)
    assert len(en) >= 6
    assert [h.split(" ")[0] for h in en] == [h.split(" ")[0] for h in ko]      # levels
    numbered = [h.split(" ")[1] for h in en if h.startswith("## ")]
    assert numbered == [h.split(" ")[1] for h in ko if h.startswith("## ")]    # 1. .. 5.
    assert run_docs.code_blocks(EN) == run_docs.code_blocks(KO)
    assert _pictures(EN) == _pictures(KO)
    assert "한국어" in EN.read_text(encoding="utf-8") or "Korean" in EN.read_text(
        encoding="utf-8")


def test_every_picture_in_the_docs_is_in_the_repository():
    for name in _pictures(EN):
        assert (DOCS / "pictures" / name).stat().st_size > 1000, name


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_every_code_block_of_the_walkthrough_runs_and_draws_its_pictures(tmp_path):
    namespace = run_docs.run(EN, tmp_path)
    for name in _pictures(EN):                 # each picture is made by the docs' own code
        assert (tmp_path / "pictures" / name).stat().st_size > 1000, name
    assert namespace["history"].results["test_chosen"]["accuracy"] > 0.9   # it learned the task
    assert namespace["answer"].count("-") == 2
    assert len(namespace["history"]) == 4            # "this trains 4" (the book: 10)
    # the '-' look at the field written before them or the one written next (section 5),
    # less sharply than the digits
    looks, largest = namespace["dash_looks"], namespace["largest"]
    for t in (4, 7):
        assert np.mean(looks[t], axis=0).sum() > 0.7, t
    assert largest[[4, 7]].max() < np.median(largest[[0, 1, 2, 3, 5, 6, 8, 9]])
    # the collapsed graph of one training step: the sizes section 5 states (update the
    # text in both languages if the picture changes), far larger than a page (A4: 595 x 842)
    assert viz.graph_size(namespace["graph"]) == (144, 243)
    width, height = _svg_size(tmp_path / "pictures" / "date_graph.svg")
    assert abs(width / 3401 - 1) < 0.15 and abs(height / 6830 - 1) < 0.15, (width, height)
    assert width > 5 * 595 and height > 8 * 842


def _svg_size(path) -> tuple[float, float]:
    """(width, height) in pt of an SVG that graphviz wrote."""
    head = path.read_text(encoding="utf-8")[:2000]
    width, height = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', head).groups()
    return float(width), float(height)


def _section_blocks(path, number: int) -> list[str]:
    """The ```python blocks of section ``## {number}.`` of a walkthrough."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    end = text.find("\n## ", start + 1)
    return run_docs._FENCE.findall(text[start:end if end != -1 else None])


def _backward_table(path, number: int) -> dict:
    """{k: op name} from the rows ``| #k | Op |`` of section ``number``'s table."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    section = text[start:text.find("\n## ", start + 1)]
    return {int(k): op for k, op in re.findall(r"^\| #(\d+) \| (\w+) \|", section, re.M)}


def _ops(root) -> list:
    """Every recorded op below ``root`` (each once)."""
    ops, seen, todo = [], set(), [root]
    while todo:
        fn = todo.pop().grad_fn
        if fn is not None and id(fn) not in seen:
            seen.add(id(fn))
            ops.append(fn)
            todo.extend(fn.inputs)
    return ops


@pytest.fixture(scope="module")
def small_sections(tmp_path_factory):
    """Sections 1-4 run as a reader would in an empty folder with no ``pictures/`` in it
    (the first block makes it): the namespace after each section."""
    workdir = tmp_path_factory.mktemp("walkthrough")
    namespace, after = {"__name__": "__docs__"}, {}
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for number in (1, 2, 3, 4):
            for block in _section_blocks(EN, number):
                exec(compile(block, f"walkthrough section {number}", "exec"), namespace)
            after[number] = dict(namespace)
    finally:
        os.chdir(old)
    return workdir, after


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_the_small_sections_run_in_any_folder_and_draw_their_pictures(small_sections):
    workdir, _ = small_sections
    for name in ("scalar.svg", "neuron.svg", "lstm_step.svg", "attention_step.svg"):
        assert (workdir / "pictures" / name).stat().st_size > 1000, name


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_backward_order_is_reverse_topological_not_reverse_creation(small_sections):
    ns = small_sections[1][3]
    o, tanh_c, loss = ns["o"], ns["tanh_c"], ns["loss"]
    assert (o.grad_fn.backward_order + 1, tanh_c.grad_fn.backward_order + 1) == (4, 6)
    assert o.grad_fn.created < tanh_c.grad_fn.created            # o's op was made first
    ops = _ops(loss)
    by_creation = sorted(ops, key=lambda fn: -fn.created)
    by_backward = sorted(ops, key=lambda fn: fn.backward_order)
    assert by_backward != by_creation
    for fn in ops:                    # every op runs after every op that uses its output
        for user in ops:
            if any(t.grad_fn is fn for t in user.inputs):
                assert user.backward_order < fn.backward_order
    # the #k column of the tables, in both languages, is the order the engine ran
    measured = {fn.backward_order + 1: fn.name for fn in ops}
    assert _backward_table(EN, 3) == measured == _backward_table(KO, 3)


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_zero_gradients_are_gradients(small_sections):
    ns2, ns3 = small_sections[1][2], small_sections[1][3]
    assert ns2["w2"].grad is not None and ns2["w2"].grad == 0          # exactly 0, not None
    assert ns2["x1"].grad is None and ns2["x2"].grad is None           # no gradient at all
    cell, f, z, H = ns3["cell"], ns3["f"], ns3["z"], ns3["H"]
    assert (f.grad == 0).all() and (z.grad[:, H:2 * H] == 0).all()     # forget gate, c = 0
    assert (z.grad[:, :H] != 0).all() and (z.grad[:, 2 * H:] != 0).all()
    assert cell.weight_hh.grad is not None and (cell.weight_hh.grad == 0).all()   # h = 0


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_lstm_step_picture_names_every_gate_and_both_zero_states(small_sections):
    workdir, after = small_sections
    svg = (workdir / "pictures" / "lstm_step.svg").read_text(encoding="utf-8")
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for name in ("z", "i", "f", "g", "o", "c&#39;", "h&#39;", "h", "c", "x"):
        assert name in labels, name
    ns = after[3]
    assert ns["h"] is not ns["c"]                      # two zero tensors, two boxes
    assert labels.count("data [0, 0, 0]") >= 2
    f_box = labels.index("f")
    assert labels[f_box + 3] == "grad [0, 0, 0]"       # the forget gate's zero gradient


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_legend_colours_every_leaf_that_asks_for_a_gradient_blue(small_sections):
    ns = small_sections[1][4]
    source = ns["graph"].source                         # the attention step's picture
    blue = viz.graph.COLORS["param"]
    for name in ("query h_t", "keys h_s"):
        start = source.index(f'[label="{name}')
        node = source[start:source.index("]", source.index('" ', start))]   # its attributes
        assert f'fillcolor="{blue}"' in node, node
    assert ns["query"].grad_fn is None and ns["query"].requires_grad   # a leaf, not a weight


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_the_fused_training_step_is_the_smaller_picture_section_5_names(tmp_path):
    from models import graphs
    from models.char_dataset import load_dataset
    from models.train import TrainConfig, build_model
    data = load_dataset(None)
    model = build_model(TrainConfig(), len(data.src_vocab), len(data.tgt_vocab))
    loss = graphs.training_step(model, data, batch_size=128, fused=True)
    graph = viz.draw_graph(loss, model=model, collapse_steps=True)
    assert viz.graph_size(graph) == (63, 102)          # as section 5 says, both languages
    width, height = _svg_size(Path(viz.render(graph, tmp_path / "fused.svg")))
    assert abs(width / 1645 - 1) < 0.15 and abs(height / 3558 - 1) < 0.15, (width, height)
