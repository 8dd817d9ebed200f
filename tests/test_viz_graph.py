"""Computation-graph pictures (viz.draw_graph): the values, gradients and backward order a
learner reads off them, clusters and collapsed steps, deep graphs, determinism, rendering."""
import math
import re

import numpy as np
import pytest

import viz
from models import graphs
from models.cli import main
from tinygrad_attn import Tensor, nn, scope
from viz import graph_render


def _labels(dot_source: str) -> list[str]:
    """The label of every node of a DOT source, in order."""
    return [m.group(1) for m in re.finditer(r'\[label="((?:[^"\\]|\\.)*)"', dot_source)]


def _node_label(dot_source: str, first_line: str) -> str:
    found = [lab for lab in _labels(dot_source) if lab.split("\n")[0] == first_line]
    assert len(found) == 1, (first_line, found)
    return found[0]


# -- the 2-input neuron, checked against a hand computation ---------------------------------
def test_neuron_graph_shows_every_value_grad_and_the_backward_order():
    loss, names = graphs.neuron()
    src = viz.draw_graph(loss, params=names).source

    # the hand computation (chain rule, one factor per op)
    x1, x2, w1, w2, b = 2.0, 0.0, -3.0, 1.0, 6.8813735870195432
    n = x1 * w1 + x2 * w2 + b
    o = math.tanh(n)
    L = (o - 1.0) ** 2
    dL_do = 2 * (o - 1.0)
    dL_dn = dL_do * (1 - o * o)
    expected = {  # name: (value, grad or None for inputs that need no gradient)
        "x1": (x1, None), "x2": (x2, None), "w1": (w1, dL_dn * x1), "w2": (w2, dL_dn * x2),
        "b": (b, dL_dn), "x1*w1": (x1 * w1, dL_dn), "x2*w2": (x2 * w2, dL_dn),
        "n": (n, dL_dn), "o": (o, dL_do)}
    for name, (value, grad) in expected.items():
        label = _node_label(src, name)
        assert f"data {value + 0.0:.4g}" in label, (name, label)
        if grad is None:
            assert "grad" not in label, label
        else:
            assert f"grad {grad + 0.0:.4g}" in label, (name, label)
    loss_label = _node_label(src, "loss")
    assert f"data {L:.4g}" in loss_label and "grad 1" in loss_label

    # every op is numbered once, 1..7, and in an order where each op's backward runs
    # after the backward of every op that uses its output (a reverse topological order)
    numbers = sorted(int(k) for k in re.findall(r"backward #(\d+)", src))
    assert numbers == list(range(1, 8))
    for t in [loss, *names.values()]:
        fn = t.grad_fn
        if fn is None:
            continue
        for inp in fn.inputs:
            if inp.grad_fn is not None:
                assert inp.grad_fn.backward_order > fn.backward_order
    assert re.search(r'label="Pow\nbackward #1"', src)          # the loss's op runs first
    assert re.search(r'label="Tanh\nbackward #3"', src)


def test_forward_only_draws_no_gradients_and_no_backward_edges():
    loss, names = graphs.neuron()
    src = viz.draw_graph(loss, params=names, backward=False).source
    assert "grad" not in src and "backward #" not in src and "dashed" not in src
    full = viz.draw_graph(loss, params=names).source
    # the backward pass adds one red edge per (op, input that needs a gradient)
    assert full.count("style=dashed") == 9


def test_a_tensor_used_twice_is_marked_as_summing_its_gradient():
    a = Tensor([1.0, 2.0], requires_grad=True)
    a.name = "a"
    loss = (a * a).sum()
    loss.backward()
    src = viz.draw_graph(loss).source
    assert "grad = sum over 2 uses" in _node_label(src, "a")
    assert 'label="grad [2, 4]' not in src                    # a.grad = 2a, shown as values
    assert "grad [2, 4]" in _node_label(src, "a")


# -- deep graphs, determinism, limits ---------------------------------------------------------
def _rnn_loss(T=2000, seed=0):
    nn.manual_seed(seed)
    rnn = nn.RNN(3, 4)
    x = Tensor(np.random.default_rng(seed).standard_normal((1, T, 3)).astype(np.float32))
    out, _ = rnn(x)
    loss = (out * out).mean()
    loss.backward()
    return rnn, loss


def test_a_2000_step_rnn_draws_without_recursion_error_and_deterministically():
    rnn, loss = _rnn_loss()
    first = viz.draw_graph(loss, model=rnn).source
    rnn2, loss2 = _rnn_loss()                 # the same model built again
    assert viz.draw_graph(loss2, model=rnn2).source == first
    assert viz.draw_graph(loss, model=rnn).source == first    # and the same graph twice
    assert first.count("Tanh") == 2000
    assert len(re.findall(r"cluster_", first)) >= 2000        # a box per time step


def test_collapsed_steps_draw_the_recurrence_once_with_its_count():
    rnn, loss = _rnn_loss(T=50)
    src = viz.draw_graph(loss, model=rnn, collapse_steps=True).source
    assert "x 50 steps" in src and "Tanh (x50)" in src
    assert src.count('"Tanh') == 1
    assert "to step t+1" in src                                # the recurrent edge
    assert "grad = sum over 50 uses" in _node_label(src, "weight_hh_l0")
    full = viz.draw_graph(loss, model=rnn).source
    assert len(src) < len(full) / 10


def test_max_nodes_and_max_depth_cut_the_graph_near_the_root():
    _, loss = _rnn_loss(T=30)
    src = viz.draw_graph(loss, max_nodes=5).source
    ops = [lab for lab in _labels(src) if "backward #" in lab]
    assert len(ops) == 5
    assert "... more" in src
    src = viz.draw_graph(loss, max_depth=1).source
    assert [lab.split("\n")[0] for lab in _labels(src) if "backward #" in lab] == ["Mean"]


def test_module_clusters_name_the_layers():
    from models.attention_seq2seq import AttentionSeq2Seq
    model = AttentionSeq2Seq(13, wordvec_size=4, hidden_size=6, seed=0)
    for _, m in model.named_modules():
        if isinstance(m, nn.LSTM):
            m.fused = False
    rng = np.random.default_rng(0)
    src_ids, tgt = rng.integers(0, 13, (2, 5)), rng.integers(0, 13, (2, 4))
    loss = model.loss(src_ids, tgt)
    viz.retain_grads(loss)
    loss.backward()
    dot = viz.draw_graph(loss, model=model, collapse_steps=True).source
    for label in ("encoder.lstm (LSTM)", "encoder.embedding (Embedding)",
                  "attention (LuongAttention)", "out (Linear)"):
        assert f'label="{label}"' in dot, label
    assert "drawn once for all 5 (x 5 steps)" in dot           # the encoder's 5 steps
    assert "drawn once for all 3 (x 3 steps)" in dot           # the decoder's 3
    assert "encoder.lstm.weight_hh_l0" in dot and "out.weight" in dot


def test_scope_labels_nodes_and_survives_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with scope("outer"):
        with scope(3):
            y = (x * 2).sum()
    assert y.grad_fn.scope == ("outer", 3)
    lin = nn.Linear(2, 1)
    z = lin(x)
    assert z.grad_fn.scope == (lin,)
    assert (x * 1).grad_fn.scope == ()
    y.backward()
    assert y.grad_fn.scope == ("outer", 3) and y.grad_fn.backward_order == 0
    assert y.grad_fn.inputs[0].grad_fn.backward_order == 1
    later = x * 1
    assert later.grad_fn.created > y.grad_fn.created     # creation order, kept after release


def test_retain_grads_keeps_intermediate_values_and_grads_after_backward():
    a = Tensor([1.0, -2.0], requires_grad=True)
    h = a * 3
    loss = h.tanh().sum()
    assert viz.retain_grads(loss) == 3
    loss.backward()
    kept = loss.grad_fn.inputs[0]
    assert isinstance(kept, Tensor) and kept.grad is not None
    np.testing.assert_allclose(h.grad, 1 - np.tanh(3 * a.data) ** 2, rtol=1e-6)


def test_bad_arguments_are_refused_with_a_fix():
    with pytest.raises(TypeError, match="draw_graph: root must be a Tensor"):
        viz.draw_graph(np.zeros(3))
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(x * 2, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes must be >= 1"):
        viz.draw_graph(x * 2, max_nodes=0)


def test_tensor_draw_helper():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2
    g = y.draw(rankdir="LR")
    assert g.source == viz.draw_graph(y, rankdir="LR").source
    assert "Mul" in g.source and "rankdir=LR" in g.source


# -- rendering ---------------------------------------------------------------------------------
@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_render_writes_real_svg_and_png(tmp_path):
    loss, names = graphs.neuron()
    g = viz.draw_graph(loss, params=names)
    svg = viz.render(g, tmp_path / "n.svg")
    png = viz.render(g, tmp_path / "n.png")
    assert open(svg, encoding="utf-8").read().lstrip().startswith("<?xml")
    assert "<svg" in open(svg, encoding="utf-8").read()
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".tmp-*"))   # atomic


def test_without_dot_the_source_is_kept_and_the_fix_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_render.shutil, "which", lambda name: None)
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.render(viz.draw_graph(x * 2), tmp_path / "g.svg")
    assert "digraph" in (tmp_path / "g.gv").read_text()
    assert viz.render(viz.draw_graph(x * 2), tmp_path / "g.gv") == str(tmp_path / "g.gv")
    with pytest.raises(ValueError, match="unknown picture format"):
        viz.render(viz.draw_graph(x * 2), tmp_path / "g.xyz")


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_graph_command_neuron_and_a_collapsed_training_step(tmp_path, capsys):
    assert main(["graph", "--model", "neuron", "-o", str(tmp_path / "neuron.svg")]) == 0
    assert "w1" in (tmp_path / "neuron.svg").read_text()
    assert main(["graph", "--collapse-steps", "--batch-size", "8", "--hidden-size", "8",
                 "-o", str(tmp_path / "date.png")]) == 0
    assert (tmp_path / "date.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["graph", "--collapse-steps", "--batch-size", "8", "--hidden-size", "8",
                 "-o", str(tmp_path / "date.gv")]) == 0
    dot = (tmp_path / "date.gv").read_text()
    assert "x 29 steps" in dot and "decoder (LSTM)" in dot
    assert "saved" in capsys.readouterr().out


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_the_readme_pictures_example_runs(tmp_path, monkeypatch):
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                 if "viz.draw_graph" in b)
    monkeypatch.chdir(tmp_path)
    exec(block, {})
    assert "<svg" in (tmp_path / "neuron.svg").read_text()
