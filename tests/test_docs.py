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


CHAPTERS = {en.name: (en, ko) for en, ko in run_docs.chapters()}
#: chapters whose blocks another test runs, with more checks: this file's walkthrough test
#: (it trains the date model) and tests/test_higher_order.py
RUN_ELSEWHERE = {"walkthrough.md", "higher_order.md"}
SCRIPTS = DOCS / "scripts"


def test_every_chapter_has_its_korean_twin_and_the_story_is_all_there():
    english = {p.name for p in DOCS.glob("*.md")}
    korean = {p.name for p in (DOCS / "ko").glob("*.md")}
    assert english == korean, f"without a twin: {sorted(english ^ korean)}"
    assert set(run_docs.STORY) <= english, sorted(set(run_docs.STORY) - english)


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_a_korean_chapter_matches_the_english_one_section_for_section(name):
    en, ko = CHAPTERS[name]
    he, hk = run_docs.headings(en), run_docs.headings(ko)
    assert len(he) >= 2
    assert [h.split(" ")[0] for h in he] == [h.split(" ")[0] for h in hk]      # levels
    assert _numbers(he) == _numbers(hk) and _numbers(he)            # 1., 2., ... 9.1 ...
    assert run_docs.code_blocks(en) == run_docs.code_blocks(ko)
    assert _pictures(en) == _pictures(ko)


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_a_chapter_links_its_twin_and_its_neighbours_in_the_story(name):
    en, ko = CHAPTERS[name]
    assert f"(ko/{name})" in en.read_text(encoding="utf-8"), "the English links the Korean"
    assert f"(../{name})" in ko.read_text(encoding="utf-8"), "the Korean links the English"
    if name in run_docs.STORY:
        story = [n for n in run_docs.STORY if n in CHAPTERS]
        i = story.index(name)
        for neighbour in story[max(i - 1, 0):i] + story[i + 1:i + 2]:
            for path in (en, ko):
                assert f"({neighbour})" in path.read_text(encoding="utf-8"), (path, neighbour)


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_picture_a_chapter_shows_is_in_the_repository_and_made_by_its_code(name):
    en, _ = CHAPTERS[name]
    drawn_by = "\n".join(run_docs.code_blocks(en)) + "".join(
        p.read_text(encoding="utf-8") for p in SCRIPTS.glob("*.py"))
    for picture in _pictures(en):
        assert (DOCS / "pictures" / picture).stat().st_size > 1000, picture
        assert Path(picture).stem in drawn_by, f"{picture}: no block or docs/scripts/ draws it"


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
@pytest.mark.parametrize("name", [n for n in CHAPTERS if n not in RUN_ELSEWHERE])
def test_every_code_block_of_a_chapter_runs_in_an_empty_folder(name, tmp_path):
    """As a reader runs it: in order, in a fresh folder, without ../shared."""
    en, _ = CHAPTERS[name]
    run_docs.run(en, tmp_path)
    for picture in _pictures(en):
        if f"pictures/{picture}" in "".join(run_docs.code_blocks(en)):
            assert (tmp_path / "pictures" / picture).stat().st_size > 1000, picture


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_every_code_block_of_the_walkthrough_runs_and_draws_its_pictures(tmp_path):
    namespace = run_docs.run(EN, tmp_path)
    for name in _pictures(EN):                 # each picture is made by the docs' own code
        assert (tmp_path / "pictures" / name).stat().st_size > 1000, name
    assert namespace["history"].results["test_chosen"]["accuracy"] > 0.9   # it learned the task
    assert namespace["answer"].count("-") == 2
    assert len(namespace["history"]) == 4            # "this trains 4" (the book: 10)
    # the '-' mostly look at the field written before them or the one written next
    # (section 5: over the two, in more than half of the dates; where exactly is what
    # training left, and changed with the order of the step's sums), less sharply than the
    # digits in every run
    looks, largest = namespace["dash_looks"], namespace["largest"]
    assert np.mean([np.mean(looks[t], axis=0).sum() for t in (4, 7)]) > 0.5
    assert largest[[4, 7]].max() < np.median(largest[[0, 1, 2, 3, 5, 6, 8, 9]])
    # the collapsed graph of one training step: the sizes section 5 states (update the
    # text in both languages if the picture changes), far larger than a page (A4: 595 x 842)
    assert viz.graph_size(namespace["graph"]) == (144, 243)
    width, height = _svg_size(tmp_path / "pictures" / "date_graph.svg")
    assert abs(width / 3401 - 1) < 0.15 and abs(height / 6830 - 1) < 0.15, (width, height)
    assert width > 5 * 595 and height > 8 * 842


def _numbers(headings) -> list[str]:
    """The section numbers (``5.``, ``9.3``) of the numbered headings, in order."""
    return [h.split(" ")[1] for h in headings
            if len(h.split(" ")) > 1 and re.fullmatch(r"\d+(\.\d+)*\.?", h.split(" ")[1])]


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


_GLOSSARY_ROOTS = {
    "tg": "tinygrad_attn", "tinygrad_attn": "tinygrad_attn", "nn": "tinygrad_attn.nn",
    "F": "tinygrad_attn.functional", "optim": "tinygrad_attn.optim", "ops": "tinygrad_attn.ops",
    "autograd": "tinygrad_attn.autograd", "models": "models", "viz": "viz",
    "Tensor": "tinygrad_attn.Tensor", "Function": "tinygrad_attn.Function",
    "Module": "tinygrad_attn.nn.Module", "Seq2SeqModel": "models.Seq2SeqModel",
    "TrainConfig": "models.train.TrainConfig", "CharCodec": "models.codecs.CharCodec",
    "LuongAttention": "tinygrad_attn.nn.LuongAttention",
}


def _resolve(dotted: str):
    """The object a glossary name such as ``nn.LSTM`` or ``Tensor.grad`` stands for; an
    attribute set in ``__init__`` (``nn.Linear.weight``) resolves to its class."""
    import importlib
    import inspect
    root, *rest = dotted.split(".")
    path = _GLOSSARY_ROOTS[root].split(".")
    obj = importlib.import_module(path[0])
    for part in path[1:] + rest:
        if not hasattr(obj, part) and inspect.isclass(obj) and \
                f"self.{part}" in inspect.getsource(obj):
            return obj
        if not hasattr(obj, part) and inspect.ismodule(obj):
            obj = importlib.import_module(f"{obj.__name__}.{part}")
            continue
        obj = getattr(obj, part)
    return obj


def test_every_name_in_the_glossary_is_in_the_code():
    """Each `dotted.name` (and the keywords of `name(..., kw=)`) of the glossary's code
    column exists, in both languages, and each --option is one of `tinygrad-attn train`."""
    import inspect

    from models.cli_options import build_parser
    options = build_parser().format_help() + "".join(
        a.format_help() for a in build_parser()._subparsers._group_actions[0].choices.values())
    for path in CHAPTERS["glossary.md"]:
        rows = [r for r in path.read_text(encoding="utf-8").splitlines() if r.startswith("| ")]
        assert len(rows) > 40, path
        for row in rows[2:]:
            for name in re.findall(r"`([^`]+)`", row.rsplit(" | ", 1)[-1]):
                if name.startswith("--"):
                    assert re.search(re.escape(name) + r"(?![\w-])", options), (path.name, name)
                    continue
                head = re.match(r"([A-Za-z_][\w.]*)(\(.*\))?$", name)
                if not head or "." not in head.group(1):
                    continue                    # a variable's name (h, hs, query)
                obj = _resolve(head.group(1))
                for keyword in re.findall(r"(\w+)=", head.group(2) or ""):
                    assert keyword in inspect.signature(obj).parameters, (name, keyword)
