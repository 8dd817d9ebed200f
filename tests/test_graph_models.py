"""Pictures of the models' graphs honour the fused/composed choice (issue 14, point 3): a
fused node says which composed teaching twin it stands for, ``graphs.training_step`` and
``tinygrad-attn graph`` set the choice on every layer that has one (Bahdanau's decoder
cell included), and every decoder loop opens a ``scope(t)`` per step."""
import re

import numpy as np
import pytest

import viz
from models import AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq, graphs
from models.cli import main
from tinygrad_attn import Tensor, nn
from viz.graph_walk import GraphWalk, is_step


def _ops(loss) -> list:
    return GraphWalk(loss).ops()


def _lstm_loss(fused: bool):
    nn.manual_seed(0)
    lstm = nn.LSTM(3, 4, fused=fused)
    out, _ = lstm(Tensor(np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)))
    loss = (out * out).mean()
    loss.backward()
    return lstm, loss


def _fused_class():
    """The Function class of nn.LSTM's fused node (wherever the engine keeps it)."""
    _, loss = _lstm_loss(fused=True)
    return next(type(fn) for fn in _ops(loss) if type(fn).__name__ == "LSTMSequence")


def _op_labels(src: str) -> list[str]:
    return re.findall(r'\[label="((?:[^"\\]|\\.)*)" [^\]]*shape=ellipse', src)


# -- a fused node says so ----------------------------------------------------------------------
def test_a_fused_lstm_node_names_its_composed_twin():
    composed = getattr(_fused_class(), "composed", None)
    if composed is None:
        pytest.skip("LSTMSequence has no `composed` attribute yet")
    lstm, loss = _lstm_loss(fused=True)
    src = viz.draw_graph(loss, model=lstm).source
    short = composed.rsplit(".", 1)[-1]
    fused = [lab for lab in _op_labels(src) if lab.startswith("LSTMSequence")]
    assert fused and all(f"\nfused (composed twin: {short})\n" in lab for lab in fused)
    assert f"fused (composed twin: {composed})" in src                  # the tooltip
    other = [lab for lab in _op_labels(src) if not lab.startswith("LSTMSequence")]
    assert other and not any("fused" in lab for lab in other)


def test_any_composed_name_is_shown_literally(monkeypatch):
    monkeypatch.setattr(_fused_class(), "composed", "pkg.mod.twin_<b>&amp;", raising=False)
    lstm, loss = _lstm_loss(fused=True)
    src = viz.draw_graph(loss, model=lstm, collapse_steps=True).source
    assert "fused (composed twin: twin_<b>&amp;amp;)" in src            # & escaped for dot
    assert "pkg.mod.twin_<b>&amp;amp;" in src


def test_the_composed_path_has_no_fused_node():
    lstm, loss = _lstm_loss(fused=False)
    assert all(getattr(type(fn), "composed", None) is None for fn in _ops(loss))
    assert "fused (" not in viz.draw_graph(loss, model=lstm).source


# -- every model honours the choice --------------------------------------------------------------
def _input_feeding(*args, **kwargs):
    return AttentionSeq2Seq(*args, input_feeding=True, **kwargs)


RNN_MODELS = [Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq, _input_feeding, BahdanauSeq2Seq]
T = 4                                   # decoder steps (the target has T + 1 tokens)


def _loss(model, teacher_forcing=1.0):
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(0, 13, (2, 5)), rng.integers(0, 13, (2, T + 1))
    loss = model.loss(src, tgt, teacher_forcing_ratio=teacher_forcing)
    loss.backward()
    return loss


@pytest.mark.parametrize("make", RNN_MODELS)
def test_use_fused_sets_every_layer_with_a_choice(make):
    model = make(13, wordvec_size=4, hidden_size=6, seed=0)
    layers = [m for _, m in model.named_modules() if isinstance(m, (nn.LSTM, nn.LSTMCell))]
    assert graphs.use_fused(model, False) == len(layers) == 2     # encoder and decoder
    fused_ops = [fn for fn in _ops(_loss(model)) if type(fn).__name__ == "LSTMSequence"]
    assert fused_ops == []
    graphs.use_fused(model, True)
    fused_ops = [fn for fn in _ops(_loss(model)) if type(fn).__name__ == "LSTMSequence"]
    stepped = make in (BahdanauSeq2Seq, _input_feeding)        # a cell or a layer per step
    assert len(fused_ops) == model.encoder.lstm.directions + (T if stepped else 1)


@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5])
@pytest.mark.parametrize("make", RNN_MODELS)
def test_every_decoder_loop_labels_its_steps(make, teacher_forcing):
    model = make(13, wordvec_size=4, hidden_size=6, seed=0)
    graphs.use_fused(model, False)
    steps = {lab for fn in _ops(_loss(model, teacher_forcing)) if model.decoder in fn.scope
             for lab in fn.scope if is_step(lab)}
    assert steps == set(range(T))


SMALL = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "4"]


@pytest.mark.parametrize("model", ["bahdanau", "attention"])
def test_graph_command_draws_composed_or_fused_as_asked(tmp_path, model):
    out = tmp_path / "g.gv"
    assert main(["graph", "--model", model, *SMALL, "--collapse-steps", "-o", str(out)]) == 0
    src = out.read_text()
    assert "fused (" not in src and "LSTMSequence" not in src and "x 29 steps" in src
    assert main(["graph", "--model", model, *SMALL, "--fused", "-o", str(out)]) == 0
    src = out.read_text()
    assert "LSTMSequence" in src
    if getattr(_fused_class(), "composed", None) is not None:
        assert "fused (composed twin: " in src


def test_level_of_detail_uses_the_whole_budget_after_collapsing():
    model = BahdanauSeq2Seq(13, wordvec_size=4, hidden_size=6, seed=0)
    graphs.use_fused(model, False)
    loss = _loss(model)
    collapsed = viz.count_ops(loss, collapse_steps=True)
    limit = collapsed - 2                        # one recurrence more than fits
    collapse, cut, note = graphs.level_of_detail(loss, None, False, limit=limit)
    assert collapse and cut is not None and note
    drawn = viz.draw_graph(loss, model=model, collapse_steps=True, max_nodes=cut).source
    assert drawn.count("shape=ellipse") <= limit
    assert viz.count_ops(loss, collapse_steps=True, max_nodes=cut + 1) > limit   # the largest
    assert f"--collapse-steps --max-nodes {viz.count_ops(loss)}" in note
