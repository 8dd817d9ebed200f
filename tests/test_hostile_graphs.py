"""Hostile inputs, category "graphs and pictures" (issue 13, point 6): any text in a
computation graph (titles, parameter, tensor, op and module names, tooltips) or in a
matplotlib picture (tokens, titles, legend names, file paths with ``$``) is drawn
literally; ``tinygrad-attn graph`` with default options draws a readable graph of every
model in seconds and ``dot`` runs under a timeout; every output path is checked before
any work and written atomically, with one-line errors that name the path and a fix.

The graph texts are checked in the SVG the real ``dot`` writes (skipped with a reason when
``dot`` is missing), the matplotlib texts in an SVG written with ``svg.fonttype = none``
(each text element holds the characters drawn; math-text would split them into glyphs).
"""
import errno
import os
import re
import stat
import sys
import time
import warnings
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import viz
from models import graphs
from models.cli import main
from tinygrad_attn import Function, Tensor, nn, scope
from viz import curves
from viz import graph_render
from viz.curves import OutputPathError, display_text

needs_dot = pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not "
                               "installed (apt-get install graphviz)")


# -- helpers ----------------------------------------------------------------------------------
def svg_texts(path) -> list[str]:
    """Every text element of an SVG file (parsed as XML, so the file must be well formed),
    entities decoded, no-break spaces read as spaces (dot writes a run of spaces so)."""
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()).replace("\xa0", " ") for el in root.iter()
            if el.tag.endswith("}text")]


def shows(texts, text) -> bool:
    """``text`` (as display_text shows it) is one text element of the SVG, or inside one."""
    want = display_text(text).replace("\xa0", " ")
    return any(want in t for t in texts)


class Inner(nn.Module):
    def __init__(self):
        self.weight = nn.Parameter(np.ones(2))

    def forward(self, x):
        return x * self.weight


class Outer(nn.Module):
    """A model whose sub-module is named by any string (a dict key)."""

    def __init__(self, name):
        self.blocks = {name: Inner()}

    def forward(self, x):
        return next(iter(self.blocks.values()))(x)


def named_graph(title, param, module, label, op_name="Weird", op_doc="y = x"):
    """A graph with ``title``, a tensor named ``param`` (params=), a module cluster named
    ``blocks.<module> (Inner)``, a scope cluster named ``label`` and an op class named
    ``op_name`` whose docstring (the op's tooltip) is ``op_doc``; backward has run."""
    op = type("Op", (Function,), {"name": property(lambda self: op_name),
                                  "forward": lambda self, x: x.copy(),
                                  "backward": lambda self, g, x, out: g})
    op.__doc__ = op_doc                 # (type() itself refuses a lone surrogate here)
    model = Outer(module)
    w = Tensor([1.0, 2.0], requires_grad=True)
    with scope(label):
        y = op.apply(model(w) * w).sum()
    y.backward()
    return viz.draw_graph(y, model=model, params={param: w}, title=title), model


def svg_tooltips(path) -> list[str]:
    root = ET.parse(path).getroot()
    tips = (el.get("{http://www.w3.org/1999/xlink}title") for el in root.iter())
    return [t.replace("\xa0", " ") for t in tips if t is not None]


def render_svg(graph, tmp_path, name="g.svg"):
    return svg_texts(viz.render(graph, tmp_path / name))


# -- 1. any text in a computation graph --------------------------------------------------------
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)   # surrogates included


@needs_dot
@settings(max_examples=60)
@given(title=ANY_TEXT, param=ANY_TEXT, module=ANY_TEXT, label=ANY_TEXT, op_name=ANY_TEXT,
       op_doc=ANY_TEXT)
def test_any_string_renders_verbatim_with_the_real_dot(tmp_path_factory, title, param, module,
                                                       label, op_name, op_doc):
    graph, _ = named_graph(title, param, module, label, op_name, op_doc)
    path = viz.render(graph, tmp_path_factory.mktemp("g") / "g.svg")
    texts = svg_texts(path)                          # dot parsed the source; the SVG is XML
    if title:
        assert shows(texts, title)
    assert shows(texts, param)
    assert shows(texts, f"blocks.{module} (Inner)")
    assert shows(texts, label)
    assert shows(texts, op_name)
    tip = (op_doc.strip().splitlines() or ["Op"])[0]         # the docstring's first line
    if tip:                                                  # (dot omits an empty tooltip)
        assert display_text(tip).replace("\xa0", " ") in svg_tooltips(path)


# each of these broke the DOT source or was drawn as something else before
SPECIAL = [r"\N", r"\G", r"\E \T \H \L", r"a\lb\rc\nd", "ends in a backslash\\", r"\"q\"",
           "two \\\\ backslashes", "<b>bold</b>", "<<table>>", "AT&amp;T", "&lt;tag&gt;",
           "&#65;&#x42;", "NUL\x00here", "line\nbreak", "esc\x1b[31m", "bell\x07",
           "bad byte \udcff", "lone \ud800", "nonchar \ufffe", "x" * 100_000]


@needs_dot
@pytest.mark.parametrize("text", SPECIAL, ids=[repr(s[:20]) for s in SPECIAL])
def test_special_text_as_title_name_and_cluster_is_drawn_literally(tmp_path, text):
    graph, _ = named_graph(text, text, text, text)
    texts = render_svg(graph, tmp_path)
    for shown in (text, f"blocks.{text} (Inner)"):
        assert shows(texts, shown), (display_text(shown), texts)
    if len(text) > 1000:            # cut, saying how long it was
        assert any("… (100,000 characters)" in t for t in texts)


class Weird(Function):
    r"""dy/dx = 1 \N \l <b> &amp; "q" \\ (a tooltip with every special character)"""

    def forward(self, x):
        return x.copy()

    def backward(self, g, x, out):
        return g


@needs_dot
def test_op_tooltip_op_name_and_tensor_name_are_literal(tmp_path):
    x = Tensor([1.0], requires_grad=True)
    y = Weird.apply(x)
    y.name = r"tensor \G <i>&quot;</i>"
    loss = (y * y).sum()
    loss.backward()
    path = viz.render(viz.draw_graph(loss), tmp_path / "w.svg")
    assert Weird.__doc__ in svg_tooltips(path)
    assert shows(svg_texts(path), y.name)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(params={1: "w"}), TypeError, "params must map str names to Tensors"),
    (dict(params={"w": np.ones(2)}), TypeError, "params must map str names to Tensors"),
    (dict(params=["w"]), TypeError, "params must be a dict"),
    (dict(title=123), TypeError, "title must be a str"),
    (dict(max_nodes=2.5), TypeError, "max_nodes must be an int"),
    (dict(max_nodes=float("nan")), TypeError, "max_nodes must be an int"),
    (dict(max_nodes=True), TypeError, "max_nodes must be an int"),
    (dict(max_nodes="10"), TypeError, "max_nodes must be an int"),
    (dict(max_depth=0), ValueError, "max_depth must be >= 1"),
    (dict(show_values="8"), ValueError, "show_values must be an int >= 0"),
    (dict(model="m"), TypeError, "model must be an nn.Module"),
])
def test_bad_draw_graph_arguments_get_a_one_line_error_with_a_fix(kwargs, error, words):
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(error, match=re.escape(words)) as e:
        viz.draw_graph(x * 2, **kwargs)
    assert "fix:" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [0, -1])
def test_max_nodes_below_one_is_a_value_error_naming_the_fix(bad):
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"max_nodes must be >= 1 .*fix: e\.g\. max_nodes=100"):
        viz.draw_graph(x * 2, max_nodes=bad)


# -- 2. matplotlib: tokens and titles drawn literally ------------------------------------------
TOKENS = ["$", "$a$", "$\\frac$", "\\frac", "_", "^", "%", "$x_1^2$", "$$", "a$b$c"]


def _fonttype_none():
    return matplotlib.rc_context({"svg.fonttype": "none"})


@pytest.mark.parametrize("tok", TOKENS)
def test_attention_tokens_and_a_title_with_dollars_are_literal(tmp_path, tok):
    title = f"runs/a$b$/{tok}/{tok}.txt"            # an even number of $: math-text before
    with _fonttype_none():
        p = viz.plot_attention(np.full((1, 2), 0.5), [tok, "q"], [tok], tmp_path / "a.svg",
                               title=title)
    texts = svg_texts(p)
    assert texts.count(tok) >= 2 and title in texts


def test_curves_title_is_a_data_path_with_dollars(tmp_path):
    hist = [dict(epoch=1, loss=1.0, accuracy=0.5), dict(epoch=2, loss=0.5, accuracy=0.9)]
    with _fonttype_none():              # what save_pictures passes: title=str(data.source)
        p = viz.plot_history(hist, tmp_path / "c.svg", name="m", title="data/a$b$.txt")
    assert "data/a$b$.txt" in svg_texts(p)
    assert viz.plot_history(hist, tmp_path / "c.png", title="$\\frac$_{x") == \
        str(tmp_path / "c.png")


def test_legend_names_are_literal_even_with_an_underscore_first(tmp_path):
    hist = [dict(epoch=1, loss=1.0, bleu=10.0)]
    with _fonttype_none():
        p = viz.plot_compare({"$\\frac$": hist, "_private": hist}, tmp_path / "m.svg",
                             title="$_$")
    texts = svg_texts(p)
    assert texts.count("$\\frac$") == 2 and texts.count("_private") == 2 and "$_$" in texts


def test_grid_and_heads_titles_are_literal(tmp_path):
    w = np.full((2, 1, 2), 0.5)
    with _fonttype_none():
        p = viz.plot_attention_heads(w, ["a", "b"], ["c"], tmp_path / "h.svg", title="$^$")
        q = viz.plot_attention_grid([(w[0], ["$_$", "b"], ["c"], "$\\frac$")],
                                    tmp_path / "g.svg", title="$x_$")
    assert "$^$" in svg_texts(p)
    assert {"$_$", "$\\frac$", "$x_$"} <= set(svg_texts(q))


def test_control_characters_and_bad_bytes_in_tokens_are_spelled_out(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no "Glyph 0 missing from font"
        with _fonttype_none():
            p = viz.plot_attention(np.full((1, 3), 0.3), ["\x00", "\udcff", "a\tb"], ["\x85"],
                                   tmp_path / "c.svg", title="from \udcfe")
    texts = svg_texts(p)
    assert {"\\x00", "\\xff", "a\\tb", "\\x85", "from \\xfe"} <= set(texts)


def test_a_very_long_token_is_cut_and_the_picture_stays_small(tmp_path):
    p = viz.plot_attention(np.full((1, 1), 1.0), ["w" * 20_000], ["x"], tmp_path / "l.png")
    from PIL import Image
    with Image.open(p) as im:
        assert max(im.size) < 3000


def test_tokens_that_are_not_strings_are_shown_as_text(tmp_path):
    with _fonttype_none():
        p = viz.plot_attention(np.full((1, 2), 0.5), [1, 2.5], [None], tmp_path / "n.svg")
    assert {"1", "2.5", "None"} <= set(svg_texts(p))


def test_a_token_list_that_is_no_list_is_named(tmp_path):
    with pytest.raises(TypeError, match="src_tokens must be a list of tokens.*fix:"):
        viz.plot_attention(np.ones((1, 1)), None, ["x"], tmp_path / "x.png")


# -- 3. output paths: checked first, written atomically ----------------------------------------
def _fig_call(kind, path):
    hist = [dict(epoch=1, loss=1.0, accuracy=0.5)]
    if kind == "history":
        return viz.plot_history(hist, path)
    if kind == "attention":
        return viz.plot_attention(np.ones((1, 1)), ["a"], ["b"], path)
    x = Tensor([1.0], requires_grad=True)
    return viz.render(viz.draw_graph(x * 2), path)


@pytest.mark.parametrize("kind", ["history", "attention", "graph"])
def test_an_output_path_that_is_a_folder_is_refused_and_nothing_is_left(tmp_path, kind):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OutputPathError, match=r"is a folder \(fix: name a file inside it"):
        _fig_call(kind, tmp_path / "out.png")
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


@pytest.mark.parametrize("kind", ["history", "attention", "graph"])
def test_a_missing_folder_is_named_with_the_fix(tmp_path, kind):
    with pytest.raises(OutputPathError, match=r"folder .*nope.* does not exist \(fix: create"):
        _fig_call(kind, tmp_path / "nope" / "x.svg")


@pytest.mark.parametrize("name", ["curves", "curves.xyz"])
def test_an_unknown_picture_format_is_named_before_drawing(tmp_path, name):
    with pytest.raises(OutputPathError, match=r"unknown picture format .*\(fix: end the name "
                                              r"in one of \.png, \.svg, \.pdf"):
        viz.plot_history([dict(epoch=1, loss=1.0, accuracy=0.5)], tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_a_read_only_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(ro, os.W_OK):                   # root ignores permissions: as a user sees it
        real = os.access
        monkeypatch.setattr(curves.os, "access",
                            lambda p, m: False if os.fspath(p) == str(ro) else real(p, m))
    try:
        with pytest.raises(OutputPathError, match=r"is not writable \(fix: choose a folder"):
            _fig_call("history", ro / "c.png")
    finally:
        ro.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("kind", ["history", "graph"])
def test_a_symlink_planted_at_the_old_temporary_name_is_not_followed(tmp_path, kind):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    name = "out.svg"
    for planted in ("out.svg.tmp", "out.tmp.svg"):          # the old fixed temporary names
        os.symlink(victim, tmp_path / planted)
    _fig_call(kind, tmp_path / name)
    assert victim.read_text() == "precious"
    assert "<svg" in (tmp_path / name).read_text()


def test_a_full_disk_keeps_the_old_picture_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "c.png"
    path.write_bytes(b"old picture")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr("tinygrad_attn.fileio.os.fsync", full)
    with pytest.raises(OutputPathError, match=r"No space left on device \(fix: check the "
                                              r"folder's permissions and the free disk space"):
        _fig_call("history", path)
    assert path.read_bytes() == b"old picture" and os.listdir(tmp_path) == ["c.png"]


# -- 4. dot under a timeout, and its failures in one line ----------------------------------------
def _fake_dot(tmp_path, monkeypatch, script):
    """Put a fake ``dot`` first on the PATH (a shell script)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    dot = bindir / "dot"
    formats = ('if [ "$1" = "-T?" ]; then echo \'Format: "?" not recognized. Use one of: '
               'png svg\' >&2; exit 1; fi')
    dot.write_text(f"#!/bin/sh\n{formats}\n{script}\n")
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    graph_render._dot_formats.cache_clear()
    return dot


def test_a_slow_dot_is_stopped_with_the_graph_size_and_the_fix(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "exec sleep 30")
    x = Tensor([1.0], requires_grad=True)
    out = tmp_path / "g.svg"
    t0 = time.monotonic()
    with pytest.raises(viz.RenderError, match=r"dot did not finish laying out a graph of 4 "
                                              r"nodes and 3 edges in 0\.5 s .*fix: .*max_nodes"):
        viz.render(viz.draw_graph(x * 2), out, timeout=0.5)
    assert time.monotonic() - t0 < 10 and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]


def test_a_failing_dot_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, 'echo "Error: something broke\nmore" >&2; exit 3')
    out = tmp_path / "g.svg"
    out.write_text("old")
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(viz.RenderError, match=r"dot failed on a graph of 4 nodes .* as svg: "
                                              r"Error: something broke \(fix:") as e:
        viz.render(viz.draw_graph(x * 2), out)
    assert "\n" not in str(e.value) and out.read_text() == "old"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "5"])
def test_a_bad_timeout_is_refused(tmp_path, timeout):
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        viz.render(viz.draw_graph(x * 2), tmp_path / "g.gv", timeout=timeout)


def test_graph_command_dot_timeout_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    _fake_dot(tmp_path, monkeypatch, "exec sleep 30")
    assert main(["graph", "--model", "neuron", "--dot-timeout", "0.5", "-o",
                 str(tmp_path / "n.svg")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "dot did not finish" in err and "21 nodes" in err
    assert "--max-nodes" in err


# -- 5. the graph command: paths checked first, a readable default, seconds per model ----------
@pytest.mark.parametrize("output, words", [
    ("{tmp}", "is a folder"), ("{tmp}/no/such/g.svg", "does not exist"),
    ("{tmp}/g.xyz", "unknown picture format .xyz"), ("", "is empty")])
def test_graph_command_checks_the_output_before_any_work(tmp_path, monkeypatch, capsys,
                                                         output, words):
    def no_work(*a, **k):
        raise AssertionError("the training step ran before the output path was checked")
    monkeypatch.setattr(graphs, "training_step", no_work)
    assert main(["graph", "-o", output.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "fix:" in err and "\n" not in err


SMALL = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "4", "--ff-size", "8",
         "--heads", "2"]


@pytest.mark.parametrize("model, collapsed, cut", [
    ("seq2seq", True, False), ("peeky", True, False), ("attention", True, False),
    ("bahdanau", True, True), ("transformer", False, True)])
def test_graph_command_default_is_readable_and_says_how_to_get_more(tmp_path, capsys, model,
                                                                    collapsed, cut):
    out = tmp_path / "g.gv"            # the op-level picture (the default is the overview)
    assert main(["graph", "--model", model, *SMALL, "--detail", "ops", "-o", str(out)]) == 0
    src = out.read_text()
    assert src.count("shape=ellipse") <= graphs.AUTO_MAX_NODES
    err = capsys.readouterr().err
    assert "to draw more, pass" in err and "--max-nodes" in err
    assert ("each recurrence once" in err) == collapsed
    assert ("ops nearest the loss" in err) == cut
    if collapsed and not cut:
        assert "x 29 steps" in src                  # the whole model, each step drawn once
    if model == "seq2seq":                          # an explicit --max-nodes is obeyed as is
        assert main(["graph", "--model", model, *SMALL, "--max-nodes", "2000",
                     "-o", str(out)]) == 0
        assert out.read_text().count("shape=ellipse") > 800
        assert "note" not in capsys.readouterr().err


@needs_dot
@pytest.mark.parametrize("model", ["neuron", "seq2seq", "peeky", "attention", "bahdanau",
                                   "transformer"])
def test_graph_command_default_finishes_in_seconds(tmp_path, model):
    t0 = time.monotonic()
    assert main(["graph", "--model", model, *SMALL, "-o", str(tmp_path / "g.svg")]) == 0
    assert time.monotonic() - t0 < 30           # under load; minutes before
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_count_ops_matches_what_is_drawn():
    rnn = nn.RNN(2, 3)
    out, _ = rnn(Tensor(np.ones((1, 7, 2), np.float32)))
    loss = (out * out).mean()
    loss.backward()
    for collapse in (False, True):
        src = viz.draw_graph(loss, model=rnn, collapse_steps=collapse).source
        assert viz.count_ops(loss, collapse_steps=collapse) == src.count("shape=ellipse")
    assert viz.count_ops(loss) > 7 * viz.count_ops(loss, collapse_steps=True) / 2


# -- 6. display_text: the documented spelling ---------------------------------------------------
@pytest.mark.parametrize("text, shown", [
    ("\x00", "\\x00"), ("a\tb\nc\r", "a\\tb\\nc\\r"), ("\x7f\x9f", "\\x7f\\x9f"),
    ("name \udcff", "name \\xff"), ("\ud800", "\\ud800"), ("\uffff", "\\uffff"),
    ("$\\frac{a}{b}$ <b>&amp;", "$\\frac{a}{b}$ <b>&amp;"), (12, "12")])
def test_display_text_spells_out_what_cannot_be_shown(text, shown):
    assert display_text(text) == shown


def test_display_text_cuts_long_text_and_says_how_long():
    assert display_text("é" * 500) == "é" * 200 + "… (500 characters)"
    assert display_text("x" * 50, max_chars=10) == "x" * 10 + "… (50 characters)"


if __name__ == "__main__":      # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
