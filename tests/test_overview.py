"""A whole model a person can read (issue 15, point 2): ``viz.draw_overview`` draws one box
per module (or fused node) of a training step's graph with the tensor shapes on the edges,
time steps collapsed, and a legend of every mark it uses (English or Korean); ``tinygrad-attn
graph`` draws it by default for every model, the op-level picture with ``--detail ops``.

The pictures are checked in their DOT source (boxes by their first label line, edges by
the boxes they join and their shape labels); the literal-text check runs the real ``dot``
(skipped with a reason when it is missing).
"""
import re

import numpy as np
import pytest

import viz
from models import (AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq, Transformer,
                    graphs)
from models.cli import main
from tests.test_hostile_graphs import Outer, shows, svg_texts
from tinygrad_attn import Tensor, scope
from viz.overview import MARK_KEYS, MARKS, legend_label

needs_dot = pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not "
                               "installed (apt-get install graphviz)")


# -- reading the DOT source ----------------------------------------------------------------------
def boxes(src: str) -> dict:
    """{node id: its whole label} of every box (the legend excluded)."""
    return {n: lab for n, lab in re.findall(r'^\t*(\w+) \[label="((?:[^"\\]|\\.)*)"', src,
                                           re.M)}


def titles(src: str) -> list:
    """The first label line of every box."""
    return [lab.split("\n")[0] for lab in boxes(src).values()]


def edges(src: str) -> set:
    """{(source box title, target box title, edge label)}."""
    first = {n: lab.split("\n")[0] for n, lab in boxes(src).items()}
    return {(first[a], first[b], lab) for a, b, lab in
            re.findall(r'^\t*(\w+) -> (\w+) \[label="((?:[^"\\]|\\.)*)"', src, re.M)}


def legend_rows(src: str) -> list:
    """The sample text of each row of the legend (its first cell), in order."""
    table = re.search(r"legend \[label=<(.*)> ", src, re.S).group(1)
    return re.findall(r"<TR><TD(?: [A-Z]+=\"[^\"]*\")*>([^<]*)</TD><TD ALIGN", table)


def samples(lang="en") -> dict:
    """{legend sample text (HTML-escaped as drawn): mark key}."""
    import html
    return {html.escape(sample[lang]): key for key, sample, *_ in MARKS}


def marks_seen(src: str) -> set:
    """The marks a picture uses, read from its boxes and edges (independently of the
    legend): what each mark looks like in the DOT source."""
    labels = list(boxes(src).values())
    edge_labels = [lab for *_, lab in edges(src)]
    body = src.split("\tlegend [")[0]
    seen = {
        "cluster": "subgraph cluster_" in body, "fused": "peripheries=2" in body,
        "loss": "penwidth=2" in body, "edge": bool(edge_labels),
        "many": any(re.search(r"\) x \d+", lab) for lab in edge_labels),
        "input": any(lab.startswith(("input\n", "입력\n")) for lab in labels),
        "own": any(lab.startswith("own ops of ") or "의 자체 연산\n" in lab for lab in labels),
        "code": any(re.match(r"\S+ (code|코드)\n", lab) for lab in labels),
        "module": any(re.match(r"[^\n]+ \(\w+\)\n", lab) and not lab.startswith("own ops of ")
                      and "의 자체 연산" not in lab for lab in labels),
        "steps": any(re.search(r"\nx \d+ (steps|단계)\n", lab) for lab in labels),
        "ops": any(re.search(r"\n(\d+ ops?|연산 \d+개): ", lab) for lab in labels),
        "params": any(re.search(r"\n(params|매개변수) \d", lab) for lab in labels),
        "grad": any("|grad| " in lab or "|기울기| " in lab for lab in labels),
        "backward": any(re.search(r"\n(backward|역전파) #\d", lab) for lab in labels),
    }
    return {k for k, v in seen.items() if v}


# -- the models ----------------------------------------------------------------------------------
T = 4                                   # decoder steps (the target has T + 1 tokens)


def _transformer(vocab, wordvec_size, hidden_size, seed):
    return Transformer(vocab, vocab, d_model=hidden_size, nhead=2, num_encoder_layers=1,
                       num_decoder_layers=1, dim_feedforward=8, dropout=0.0, seed=seed)


def training_loss(make, fused=False):
    """(model, loss after backward) of one step on a batch of 2: source length 5,
    T decoder steps, vocabulary 13, D = 4, H = 6 (8 for the Transformer)."""
    model = make(13, wordvec_size=4, hidden_size=8 if make is _transformer else 6, seed=0)
    graphs.use_fused(model, fused)
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(0, 13, (2, 5)), rng.integers(0, 13, (2, T + 1))
    loss = model.loss(src, tgt)
    loss.backward()
    return model, loss


RNN_BOXES = ["encoder.embedding (Embedding)", "encoder.lstm (LSTM)",
             "own ops of encoder (RNNEncoder)", "decoder_embedding (Embedding)",
             "out (Linear)", "loss"]
RNN_EDGES = [("input", "encoder.embedding (Embedding)", "(2, 5)"),
             ("encoder.embedding (Embedding)", "encoder.lstm (LSTM)", "(2, 5, 4)"),
             ("input", "loss", "(8,)")]
EXPECTED = {   # model: (boxes, edges (source, target, shape label)) beyond the shared ones
    Seq2Seq: (RNN_BOXES + ["decoder (LSTM)", "Seq2Seq code"],
              RNN_EDGES + [("decoder_embedding (Embedding)", "decoder (LSTM)", "(2, 4, 4)"),
                           ("decoder (LSTM)", "out (Linear)", "(2, 4, 6)"),
                           ("out (Linear)", "loss", "(2, 4, 13)")]),
    PeekySeq2Seq: (RNN_BOXES + ["decoder (LSTM)", "PeekySeq2Seq code"],
                   RNN_EDGES + [("PeekySeq2Seq code", "decoder (LSTM)", "(1, 2, 6)\n(2, 4, 10)"),
                                ("PeekySeq2Seq code", "out (Linear)", "(2, 4, 12)")]),
    AttentionSeq2Seq: (RNN_BOXES + ["decoder (LSTM)", "attention (LuongAttention)"],
                       RNN_EDGES + [("encoder.lstm (LSTM)", "attention (LuongAttention)",
                                     "(2, 5, 6)"),
                                    ("decoder (LSTM)", "attention (LuongAttention)",
                                     "(2, 4, 6)"),
                                    ("out (Linear)", "loss", "(2, 4, 13)")]),
    BahdanauSeq2Seq: (RNN_BOXES + ["decoder (LSTMCell)", "attention.U_a (Linear)",
                                   "attention.W_a (Linear)", "attention.v_a (Linear)",
                                   "own ops of attention (BahdanauAttention)"],
                      RNN_EDGES + [("encoder.lstm (LSTM)", "attention.U_a (Linear)",
                                    "(2, 5, 12)"),
                                   ("input", "decoder_embedding (Embedding)", f"(2,) x {T}"),
                                   # the output layer once over all steps
                                   ("out (Linear)", "loss", f"(2, {T}, 13)")]),
    _transformer: (["src_embedding (Embedding)", "tgt_embedding (Embedding)",
                    "positional_encoding (PositionalEncoding)",
                    "own ops of encoder.layers.0.self_attn (MultiheadAttention)",
                    "encoder.layers.0.self_attn.out_proj (Linear)",
                    "own ops of decoder.layers.0.multihead_attn (MultiheadAttention)",
                    "encoder.norm (LayerNorm)", "decoder.norm (LayerNorm)", "out (Linear)",
                    "loss"],
                   [("input", "src_embedding (Embedding)", "(2, 5)"),
                    ("encoder.norm (LayerNorm)",
                     "own ops of decoder.layers.0.multihead_attn (MultiheadAttention)",
                     "(2, 5, 8)"),
                    ("decoder.norm (LayerNorm)", "out (Linear)", "(2, 4, 8)"),
                    ("out (Linear)", "loss", "(2, 4, 13)")]),
}
MODELS = list(EXPECTED)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("make", MODELS)
def test_every_model_has_its_module_boxes_and_shapes_on_the_edges(make, fused):
    model, loss = training_loss(make, fused)
    src = viz.draw_overview(loss, model=model).source
    want_boxes, want_edges = EXPECTED[make]
    assert set(want_boxes) <= set(titles(src))
    assert set(want_edges) <= edges(src)
    assert titles(src).count("loss") == 1 and "shape=ellipse" not in src   # no op nodes
    assert len(boxes(src)) < 40                      # a page, not the 100s of ops


@pytest.mark.parametrize("make", [Seq2Seq, AttentionSeq2Seq, BahdanauSeq2Seq])
def test_time_steps_are_collapsed_and_fused_nodes_say_so(make):
    model, loss = training_loss(make, fused=False)
    labels = list(boxes(viz.draw_overview(loss, model=model).source).values())
    lstm = next(lab for lab in labels if lab.startswith("encoder.lstm (LSTM)\n"))
    assert "\nx 5 steps\n" in lstm and "fused" not in lstm
    decoder = next(lab for lab in labels if lab.startswith("decoder (LSTM"))
    assert f"\nx {T} steps\n" in decoder
    model, loss = training_loss(make, fused=True)
    src = viz.draw_overview(loss, model=model).source
    lstm = next(lab for lab in boxes(src).values() if lab.startswith("encoder.lstm (LSTM)\n"))
    assert "\nLSTMSequence: fused (composed twin: lstm_cell)\n" in lstm
    assert "steps" not in lstm and "peripheries=2" in src
    assert "fused (composed twin: tinygrad_attn." in src        # the tooltip's full name


def test_a_box_counts_its_ops_params_and_gradient():
    model, loss = training_loss(AttentionSeq2Seq)
    src = viz.draw_overview(loss, model=model).source
    out = next(lab for lab in boxes(src).values() if lab.startswith("out (Linear)\n"))
    n = model.out.weight.data.size + model.out.bias.data.size
    norm = np.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum())
                       for p in (model.out.weight, model.out.bias)))
    assert f"\nparams {n:,}  |grad| {norm:.3g}\n" in out
    assert re.search(r"\n3 ops: (MatMul|Permute|Add), ", out)
    assert re.search(r"\nbackward #\d+\.\.#\d+$", out)
    forward = viz.draw_overview(loss, model=model, backward=False).source
    assert "|grad|" not in forward and "backward #" not in forward


def test_depth_boxes_only_the_modules_that_high_up():
    model, loss = training_loss(_transformer)
    src = viz.draw_overview(loss, model=model, depth=2).source
    assert "encoder.layers.0 (TransformerEncoderLayer)" in titles(src)
    assert not any(".self_attn" in t or ".norm1" in t for t in titles(src))
    assert len(boxes(src)) < len(boxes(viz.draw_overview(loss, model=model).source))


def test_the_same_step_gives_the_same_source():
    model, loss = training_loss(BahdanauSeq2Seq)
    assert viz.draw_overview(loss, model=model).source == \
        viz.draw_overview(loss, model=model).source


# -- the legend ---------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("make, fused, backward", [
    (Seq2Seq, False, True), (AttentionSeq2Seq, True, True), (BahdanauSeq2Seq, False, False),
    (_transformer, False, True)])
def test_the_legend_lists_every_mark_used_and_no_other(make, fused, backward, lang):
    model, loss = training_loss(make, fused)
    src = viz.draw_overview(loss, model=model, backward=backward, lang=lang).source
    rows = [samples(lang)[r] for r in legend_rows(src)]
    assert rows == [k for k in MARK_KEYS if k in rows]              # in the legend's order
    assert set(rows) == marks_seen(src)
    assert "legend" not in viz.draw_overview(loss, model=model, legend=False).source


def test_every_mark_is_used_by_some_model():
    used = set()
    for make, fused in [(Seq2Seq, False), (AttentionSeq2Seq, True), (BahdanauSeq2Seq, False)]:
        model, loss = training_loss(make, fused)
        used |= marks_seen(viz.draw_overview(loss, model=model).source)
    assert used == set(MARK_KEYS)


def test_the_korean_legend_and_boxes_are_korean():
    model, loss = training_loss(AttentionSeq2Seq, fused=True)
    src = viz.draw_overview(loss, model=model, lang="ko").source
    words = src.replace('<BR ALIGN="LEFT"/>', " ")            # the legend's wrapped lines
    for word in ("범례", "모듈", "텐서 모양", "매개변수", "기울기", "역전파", "입력", "손실",
                 "융합", "합성 쌍둥이"):
        assert word in words, word
    assert "the gradient flows back" not in src and "params " not in src and "\nloss" not in src
    assert "의 자체 연산" in src and "encoder.lstm (LSTM)" in titles(src)  # code names stay
    en = legend_label(MARK_KEYS, "en")
    ko = legend_label(MARK_KEYS, "ko")
    assert en.count("<TR>") == ko.count("<TR>") == len(MARK_KEYS) + 1
    with pytest.raises(ValueError, match="lang must be one of en, ko"):
        legend_label(MARK_KEYS, "fr")
    with pytest.raises(ValueError, match="unknown marks"):
        legend_label(["nope"])


# -- hostile inputs ------------------------------------------------------------------------------
def test_a_leaf_or_not_a_tensor_is_a_one_line_error():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"root is a leaf tensor .*\(fix: pass the loss") as e:
        viz.draw_overview(w)
    assert "\n" not in str(e.value)
    with pytest.raises(TypeError, match="root must be a Tensor"):
        viz.draw_overview(np.ones(3))


@pytest.mark.parametrize("kwargs, error, words", [
    ({"model": "model"}, TypeError, "model must be an nn.Module or None"),
    ({"lang": "fr"}, ValueError, "lang must be 'en' or 'ko'"),
    ({"lang": ["ko"]}, ValueError, "lang must be 'en' or 'ko'"),
    ({"rankdir": "XY"}, ValueError, "rankdir must be TB, BT, LR or RL"),
    ({"depth": 0}, ValueError, "depth must be >= 1"),
    ({"depth": 1.5}, TypeError, "depth must be an int"),
    ({"backward": "yes"}, TypeError, "backward must be True, False or None"),
    ({"legend": None}, TypeError, "legend True or False"),
    ({"title": 3}, TypeError, "title must be a str or None")])
def test_bad_arguments_get_a_one_line_error(kwargs, error, words):
    x = Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(error, match=re.escape(words)) as e:
        viz.draw_overview(x * 2, **kwargs)
    assert "\n" not in str(e.value)


def test_a_graph_with_no_module_is_one_loss_box():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    x = Tensor(np.arange(3, dtype=np.float32))
    with scope("a user's label"):
        loss = ((w * x).tanh() ** 2).sum()
    loss.backward()
    src = viz.draw_overview(loss).source
    assert titles(src) == ["loss", "input"]
    assert edges(src) == {("input", "loss", "(3,)")}
    assert "\n4 ops: " in boxes(src)["g0"] and "\nparams 3  |grad| " in boxes(src)["g0"]


def test_model_none_names_modules_by_their_class():
    model, loss = training_loss(AttentionSeq2Seq, fused=True)
    found = titles(viz.draw_overview(loss).source)
    assert {"Embedding (Embedding)", "Embedding #2 (Embedding)", "LSTM (LSTM)",
            "LSTM #2 (LSTM)", "LuongAttention (LuongAttention)", "Linear (Linear)",
            "model code", "loss"} <= set(found)


def test_a_model_of_another_graph_still_draws():
    model, loss = training_loss(Seq2Seq)
    other, _ = training_loss(AttentionSeq2Seq)
    found = titles(viz.draw_overview(loss, model=other).source)   # no names match: classes
    assert "LSTM (LSTM)" in found and "Seq2Seq code" not in found and "loss" in found


@needs_dot
def test_any_module_name_is_drawn_literally(tmp_path):
    name = 'a\\N <b>&amp; "q"\n\x00'
    model = Outer(name)
    loss = (model(Tensor(np.ones(2, np.float32))) ** 2).sum()
    loss.backward()
    texts = svg_texts(viz.render(viz.draw_overview(loss, model=model, title=name),
                                 tmp_path / "o.svg"))
    assert shows(texts, f"blocks.{name} (Inner)") and shows(texts, name)


# -- the command line ---------------------------------------------------------------------------
SMALL = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "4", "--ff-size", "8",
         "--heads", "2"]


@pytest.mark.parametrize("model, box", [
    ("seq2seq", "decoder (LSTM)"), ("peeky", "PeekySeq2Seq code"),
    ("attention", "attention (LuongAttention)"), ("bahdanau", "attention.v_a (Linear)"),
    ("transformer", "encoder.layers.0.self_attn.out_proj (Linear)")])
def test_graph_command_draws_the_overview_by_default(tmp_path, capsys, model, box):
    out = tmp_path / "g.gv"
    assert main(["graph", "--model", model, *SMALL, "-o", str(out)]) == 0
    src = out.read_text()
    assert box in titles(src) and "loss" in titles(src) and "shape=ellipse" not in src
    note = "LSTM layers fused, as training runs them"
    assert "Legend" in src and (note in src) == (model != "transformer")   # no LSTM in it
    err = capsys.readouterr().err
    assert "\n" not in err.strip() and "--detail ops" in err


@needs_dot
@pytest.mark.parametrize("model", ["seq2seq", "peeky", "attention", "bahdanau", "transformer"])
def test_graph_command_default_finishes(tmp_path, model):
    assert main(["graph", "--model", model, *SMALL, "-o", str(tmp_path / "g.svg")]) == 0
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_graph_command_options_of_the_overview(tmp_path):
    out = tmp_path / "g.gv"
    assert main(["graph", "--model", "attention", *SMALL, "--lang", "ko", "--no-fused",
                 "--no-backward", "--depth", "1", "-o", str(out)]) == 0
    src = out.read_text()
    assert "범례" in src and "단계별 합성" in src and "\nx 29 단계\n" in src
    assert "역전파 #" not in src and "encoder (RNNEncoder)" in titles(src)
    assert main(["graph", "--model", "attention", *SMALL, "--detail", "ops", "-o",
                 str(out)]) == 0
    assert "shape=ellipse" in out.read_text() and "Legend" not in out.read_text()


@pytest.mark.parametrize("args, words", [
    (["--detail", "overview", "--max-nodes", "5"], "--max-nodes applies to --detail ops"),
    (["--detail", "overview", "--collapse-steps"], "--collapse-steps applies to --detail ops"),
    (["--detail", "ops", "--lang", "ko"], "--lang applies to the overview"),
    (["--collapse-steps", "--depth", "2"], "--depth applies to the overview"),
    (["--model", "neuron", "--detail", "overview"], "the neuron has none"),
    (["--depth", "0"], "--depth"), (["--detail", "boxes"], "--detail"),
    (["--lang", "fr"], "--lang")])
def test_graph_command_refuses_options_the_picture_would_ignore(tmp_path, capsys, args, words):
    assert main(["graph", *args, "-o", str(tmp_path / "g.gv")]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
    assert not (tmp_path / "g.gv").exists()
