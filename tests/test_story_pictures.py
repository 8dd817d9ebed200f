"""Pictures of the attention story (issue 15, point 3), each tested for what it must show:

- the beam-search tree (``beam_search(..., trace=[])``, ``viz.beam``): its answer is
  beam_search's, at most K hypotheses are kept per step, every log P is the sum of the
  token log-probabilities along its path (and those are the model's), the pruned ones are
  no better than the kept ones, the length-penalised scores are log P / lp, the answer
  without the penalty is beam_search's with alpha = 0, and the trace changes nothing;
- the positional encodings (``viz.positions``): the drawn numbers are
  sin(pos / 10000^(2i/d)) and cos(...) of Vaswani et al. 2017, sec. 3.5;
- the masks (``viz.masks``): the drawn weights are exactly 0 where masked and each row
  sums to 1 over the rest; the causal mask is the engine's ``is_causal``;
- each script in docs/scripts/ runs and writes its picture.

Each property check is a helper, and a test shows that the helper fails on broken data
(sin and cos swapped, weights not renormalised, scores not cumulative).
"""
import importlib.util
import math
import types
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import viz
from models import AttentionSeq2Seq, BahdanauSeq2Seq, Seq2Seq, Transformer
from models.decoding import beam_search, length_penalty
from tinygrad_attn import Tensor
from tinygrad_attn import functional as F
from viz.beam import beam_tree, draw_beam_tree, hypothesis
from viz.masks import draw_masks, mask_example
from viz.positions import draw_positional_encoding

SCRIPTS = Path(__file__).resolve().parents[1] / "docs" / "scripts"
needs_dot = pytest.mark.skipif(not viz.has_dot(), reason="graphviz 'dot' is not installed "
                               "(apt-get install graphviz)")
EOS, SOS, V = 2, 1, 6


def script(name):
    """Import docs/scripts/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(f"story_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the beam-search tree -------------------------------------------------------------------
def tiny_model(kind: str, seed: int, eos_bias: float):
    if kind == "transformer":
        model = Transformer(7, V, d_model=8, nhead=2, num_encoder_layers=1,
                            num_decoder_layers=1, dim_feedforward=16, dropout=0.0, seed=seed)
        model.eval()
    else:
        cls = {"attention": AttentionSeq2Seq, "bahdanau": BahdanauSeq2Seq,
               "seq2seq": Seq2Seq}[kind]
        model = cls(7, 3, 4, tgt_vocab_size=V, seed=seed, init="pytorch")
    model.out.bias.data[EOS] += eos_bias       # hypotheses end at different lengths
    return model


def source(seed: int, N: int = 3, S: int = 5):
    rng = np.random.default_rng(seed)
    src = rng.integers(3, 7, (N, S))
    lengths = rng.integers(1, S + 1, N)
    mask = np.arange(S)[None, :] >= lengths[:, None]
    src[mask] = 0
    return src, mask


def model_logp(model, src, mask, n, ids):
    """log p of each token of ``ids`` given the ones before, by teacher forcing (float64)."""
    tgt_in = np.array([[SOS] + list(ids[:-1])])
    logits = model(src[n:n + 1], tgt_in, mask[n:n + 1]).data[0].astype(np.float64)
    z = logits - logits.max(-1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return lp[np.arange(len(ids)), ids]


def check_tree(trace, ids, scores, K, alpha, eos):
    """The recorded search agrees with beam_search's answer and with its own arithmetic."""
    for n in range(len(ids)):
        tree = beam_tree(trace, n)
        by_id = {nd["id"]: nd for nd in tree["nodes"]}
        alive = True    # a sentence whose every beam has finished keeps none after that
        for step in range(len(trace)):
            kept = [nd for nd in tree["nodes"] if nd["step"] == step and nd["kept"]]
            assert len(kept) <= K and bool(kept) == alive
            alive = any(not nd["finished"] for nd in kept)
            pruned = [nd for nd in tree["nodes"] if nd["step"] == step and not nd["kept"]]
            if pruned:   # nothing pruned beats a kept hypothesis
                assert max(p["logp"] for p in pruned) <= min(k["logp"] for k in kept)
        for nd in tree["nodes"][1:]:
            parent = by_id[nd["parent"]]
            assert parent["kept"] and parent["step"] == nd["step"] - 1
            assert not parent["finished"]          # a finished hypothesis grows no further
            np.testing.assert_allclose(nd["logp"], parent["logp"] + nd["token_logp"],
                                       rtol=1e-12, atol=1e-12)        # cumulative
            assert nd["token_logp"] <= 0
            if nd["ends"]:
                lp = length_penalty(nd["step"] + 1, alpha)
                np.testing.assert_allclose(nd["score"], nd["logp"] / lp, rtol=1e-12)
        answer = hypothesis(tree, tree["chosen"])
        assert tree["chosen"] is not None and by_id[tree["chosen"]]["chosen"]
        np.testing.assert_array_equal(ids[n, :len(answer)], answer)
        rest = ids[n, len(answer):]
        assert (rest == (eos if eos is not None else 0)).all()
        assert by_id[tree["chosen"]]["score"] == scores[n]
        assert [nd["token"] for nd in tree["nodes"] if nd["on_path"]][1:] == answer
    return True


@given(kind=st.sampled_from(["attention", "bahdanau", "seq2seq", "transformer"]),
       seed=st.integers(0, 2 ** 16), K=st.integers(1, 5),
       alpha=st.sampled_from([0.0, 0.6, 1.5]), eos=st.sampled_from([None, EOS]),
       eos_bias=st.sampled_from([0.0, 1.0, 2.5]), max_len=st.integers(1, 6))
def test_the_recorded_tree_agrees_with_beam_search(kind, seed, K, alpha, eos, eos_bias,
                                                   max_len):
    model = tiny_model(kind, seed, eos_bias)
    src, mask = source(seed)
    kw = dict(start_id=SOS, max_len=max_len, eos_id=eos, beam_width=K, alpha=alpha)
    plain_ids, plain_scores = beam_search(model, src, mask, **kw)
    trace = []
    ids, scores = beam_search(model, src, mask, trace=trace, **kw)
    np.testing.assert_array_equal(ids, plain_ids)              # the hook changes nothing
    np.testing.assert_array_equal(scores, plain_scores)
    assert 1 <= len(trace) <= max_len
    assert all(r["parent"].shape == r["token"].shape == (len(src), K) for r in trace)
    assert check_tree(trace, ids, scores, K, alpha, eos)


@pytest.mark.parametrize("kind", ["attention", "transformer"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_token_scores_are_the_models_log_probabilities(kind, seed):
    """Every kept hypothesis's token log-probabilities are what the model gives that token
    after that prefix, computed independently by teacher forcing."""
    model = tiny_model(kind, seed, 1.0)
    src, mask = source(seed)
    trace = []
    beam_search(model, src, mask, start_id=SOS, max_len=4, eos_id=EOS, beam_width=3,
                trace=trace)
    for n in range(len(src)):
        tree = beam_tree(trace, n)
        for nd in tree["nodes"][1:]:
            path = hypothesis(tree, nd["id"])
            by_id = {x["id"]: x for x in tree["nodes"]}
            want = model_logp(model, src, mask, n, path)
            np.testing.assert_allclose(want[-1], nd["token_logp"], rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(want.sum(), by_id[nd["id"]]["logp"], rtol=1e-4,
                                       atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.6, 1.5])
def test_the_answer_by_log_p_alone_is_beam_search_with_alpha_zero(seed, alpha):
    model = tiny_model("attention", seed, 1.5)
    src, mask = source(seed)
    kw = dict(start_id=SOS, max_len=6, eos_id=EOS, beam_width=3)
    trace = []
    beam_search(model, src, mask, alpha=alpha, trace=trace, **kw)
    zero, _ = beam_search(model, src, mask, alpha=0.0, **kw)
    for n in range(len(src)):
        tree = beam_tree(trace, n)
        want = hypothesis(tree, tree["by_logp"])
        np.testing.assert_array_equal(zero[n, :len(want)], want)


class TableModel:
    """A decoder whose next-token probabilities are a table keyed by the prefix (the start
    symbol left out), so the search can be followed by hand. Ids: 0 pad, 1 start, 2 eos,
    3 'a', 4 'b'."""
    MEMORY_KEYS, GROUPED_BEAMS = (), False
    TABLE = {(): {2: 0.5, 3: 0.45, 4: 0.05},       # eos now: log P -0.69 (the best alone)
             (3,): {4: 0.9, 2: 0.05, 3: 0.05},
             (3, 4): {2: 0.9, 3: 0.05, 4: 0.05}}   # a b eos: log P -1.01, 3 tokens

    def encode(self, src, src_padding_mask=None):
        return len(src)

    def init_decoder(self, N):
        return {"prefix": np.zeros((N, 0), np.int64)}

    def decode_step(self, prev, state):
        prefix = np.concatenate([state["prefix"], np.asarray(prev)[:, None]], axis=1)
        probs = np.full((len(prefix), 5), 1e-12)
        for row, p in enumerate(prefix):
            for token, q in self.TABLE.get(tuple(int(i) for i in p[1:]), {2: 1.0}).items():
                probs[row, token] = q
        return Tensor(np.log(probs)), {"prefix": prefix}, None

    def reorder_state(self, state, index, keep=()):
        return {"prefix": state["prefix"][np.asarray(index)]}


def test_the_length_penalty_changes_the_answer_and_the_tree_says_so():
    """By hand: 'eos' alone has log P = log 0.5 = -0.69, 'a b eos' has log 0.45 + 2 log 0.9
    = -1.01. Without a penalty the short one wins; with alpha = 1.5, lp(3) = (8/6)^1.5 =
    1.54 and -1.01 / 1.54 = -0.66 > -0.69, so the long one does."""
    model, src = TableModel(), np.zeros((1, 1), np.int64)
    kw = dict(start_id=SOS, max_len=4, eos_id=EOS, beam_width=2)
    trace = []
    ids, scores = beam_search(model, src, alpha=1.5, trace=trace, **kw)
    zero, _ = beam_search(model, src, alpha=0.0, **kw)
    np.testing.assert_array_equal(ids[0], [3, 4, 2, 2])
    np.testing.assert_array_equal(zero[0], [2, 2, 2, 2])
    tree = beam_tree(trace, 0)
    assert hypothesis(tree, tree["chosen"]) == [3, 4, 2]
    assert hypothesis(tree, tree["by_logp"]) == [2]
    by_id = {nd["id"]: nd for nd in tree["nodes"]}
    long_, short = by_id[tree["chosen"]], by_id[tree["by_logp"]]
    np.testing.assert_allclose(long_["logp"], math.log(0.45) + 2 * math.log(0.9), rtol=1e-9)
    np.testing.assert_allclose(long_["score"], long_["logp"] / (8 / 6) ** 1.5, rtol=1e-9)
    np.testing.assert_allclose(short["logp"], math.log(0.5), rtol=1e-9)
    assert short["finished"] and long_["finished"] and long_["score"] == scores[0]
    pruned = {(nd["step"], nd["token"]) for nd in tree["nodes"] if not nd["kept"]}
    assert (0, 4) in pruned                      # 'b' first (p 0.05) is pruned at once
    g = draw_beam_tree(trace, ["<pad>", "<sos>", "<eos>", "a", "b"], 0)
    assert "the penalty changed the answer" in g.source and "'a b <eos>'" in g.source
    assert "alpha = 1.5" in g.source
    trace0 = []
    beam_search(model, src, alpha=0.0, trace=trace0, **kw)
    assert "by log P alone (alpha = 0): the same" in draw_beam_tree(
        trace0, ["<pad>", "<sos>", "<eos>", "a", "b"], 0).source


def test_a_corrupted_trace_fails_the_tree_check():
    """Break-the-code: scores that are not cumulative, or a wrong parent, are caught."""
    model = tiny_model("attention", 3, -1.0)
    src, mask = source(3)
    kw = dict(start_id=SOS, max_len=5, eos_id=EOS, beam_width=3, alpha=0.6)
    trace = []
    ids, scores = beam_search(model, src, mask, trace=trace, **kw)
    assert len(trace) >= 3
    assert check_tree(trace, ids, scores, 3, 0.6, EOS)
    for corrupt in (lambda r: r.update(logp=r["token_logp"].copy()),       # not cumulative
                    lambda r: r.update(parent=(r["parent"] + 1) % 3),       # wrong parents
                    lambda r: r.update(token=(r["token"] + 1) % V)):        # wrong tokens
        broken = [dict(r) for r in trace]
        for r in broken[1:]:
            corrupt(r)
        with pytest.raises((AssertionError, KeyError)):
            check_tree(broken, ids, scores, 3, 0.6, EOS)


def test_the_drawing_marks_kept_pruned_and_chosen_boxes():
    model = tiny_model("attention", 0, 1.0)
    src, mask = source(0)
    trace = []
    beam_search(model, src, mask, start_id=SOS, max_len=4, eos_id=EOS, beam_width=2,
                alpha=0.6, trace=trace)
    tree = beam_tree(trace, 1)
    g = draw_beam_tree(trace, ["<pad>", "<sos>", "<eos>", "a<b>&", "x\\y", "c"], 1)
    assert viz.graph_size(g)[0] == len(tree["nodes"])
    src_text = g.source
    assert "length penalty alpha = 0.6" in src_text and "width K = 2" in src_text
    chosen = [line for line in g.body if line.lstrip().startswith(tree["chosen"] + " ")]
    assert chosen and "penwidth=4" in chosen[0] and viz.beam.CHOSEN_FILL in chosen[0]
    pruned = [nd["id"] for nd in tree["nodes"] if not nd["kept"]]
    assert pruned
    for nid in pruned:
        line = next(b for b in g.body if b.lstrip().startswith(nid + " "))
        assert "dashed" in line and viz.beam.PRUNED in line
    for nid in (nd["id"] for nd in tree["nodes"] if nd["kept"]):
        line = next(b for b in g.body if b.lstrip().startswith(nid + " "))
        assert "bold" in line


@needs_dot
def test_the_tree_renders_tokens_literally(tmp_path):
    model = tiny_model("attention", 0, 0.0)
    src, mask = source(0)
    trace = []
    beam_search(model, src, mask, start_id=SOS, max_len=3, eos_id=EOS, beam_width=6,
                trace=trace)
    out = draw_beam_tree(trace, ["<pad>", "<sos>", "<eos>", "a<b>&amp;", "x\\y", "c"], 0,
                         path=tmp_path / "t.svg", title="src: <i>&")
    svg = (tmp_path / "t.svg").read_text(encoding="utf-8")
    assert out is not None and "a&lt;b&gt;&amp;amp;" in svg and "x\\y" in svg
    assert "src: &lt;i&gt;&amp;" in svg


def test_beam_tree_refuses_what_is_not_a_trace():
    with pytest.raises(ValueError, match="non-empty list"):
        beam_tree([], 0)
    with pytest.raises(ValueError, match="lacks"):
        beam_tree([{"token": np.zeros((1, 1))}], 0)
    trace = []
    beam_search(tiny_model("attention", 0, 0.0), *source(0), start_id=SOS, max_len=2,
                beam_width=2, trace=trace)
    with pytest.raises(ValueError, match="not in 0..2"):
        beam_tree(trace, 3)


# -- positional encodings --------------------------------------------------------------------
def check_formula(pe, d_model, dims=None):
    """Column j of ``pe`` is dimension ``dims[j]`` (default: all of them) of
    PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...), d = d_model: each
    value computed here one by one, and a few known by heart."""
    dims = list(range(d_model)) if dims is None else list(dims)
    assert pe.shape[1] == len(dims)
    for j, dim in enumerate(dims):
        for pos in range(pe.shape[0]):
            angle = pos / 10000 ** (2 * (dim // 2) / d_model)
            want = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, j] - want) < 1e-12, (pos, dim, pe[pos, j], want)
        assert pe[0, j] == (0 if dim % 2 == 0 else 1)            # sin(0) = 0, cos(0) = 1
        if dim in (0, 1):                                          # sin(1), cos(1)
            assert abs(pe[1, j] - (0.8414709848078965, 0.5403023058681398)[dim]) < 1e-12


@pytest.mark.parametrize("length,d_model", [(50, 16), (30, 7), (100, 64)])
def test_the_positional_picture_draws_the_formula(length, d_model):
    fig, (a, b) = plt.subplots(2, 1)
    dims = (0, 1, d_model - 1)
    try:
        drawn = draw_positional_encoding(a, b, length, d_model, dims)
        image = np.asarray(drawn["image"].get_array(), dtype=np.float64)
        assert image.shape == (length, d_model)
        check_formula(image, d_model)
        lines = np.column_stack([line.get_ydata() for line in drawn["lines"]])
        check_formula(lines, d_model, dims)
        for line in drawn["lines"]:
            np.testing.assert_array_equal(line.get_xdata(), np.arange(length))
    finally:
        plt.close(fig)


def test_swapped_sin_and_cos_fail_the_formula_check(monkeypatch):
    """Break-the-code: an encoding with sin and cos swapped is caught."""
    import viz.positions as positions

    def swapped(length, d_model, dtype=np.float32):        # d_model even here
        angle = np.arange(length)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
        out = np.empty((length, d_model))
        out[:, 0::2], out[:, 1::2] = np.cos(angle), np.sin(angle)
        return out.astype(dtype)

    monkeypatch.setattr(positions, "sinusoidal_positions", swapped)
    fig, (a, b) = plt.subplots(2, 1)
    try:
        image = np.asarray(draw_positional_encoding(a, b, 20, 8, (0,))["image"].get_array())
        with pytest.raises(AssertionError):
            check_formula(image, 8)
    finally:
        plt.close(fig)


def test_bad_dims_are_refused():
    fig, (a, b) = plt.subplots(2, 1)
    try:
        with pytest.raises(ValueError, match="dims must be"):
            draw_positional_encoding(a, b, 10, 8, (8,))
    finally:
        plt.close(fig)


# -- masks ---------------------------------------------------------------------------------
def check_weights(weights, mask):
    """Exactly 0 where masked; each row with a kept key sums to 1 over the kept keys."""
    weights, mask = np.asarray(weights, dtype=np.float64), np.broadcast_to(mask, weights.shape)
    assert (weights[mask] == 0).all()
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1)[(~mask).any(-1)], 1, rtol=1e-6)


@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4), seed=st.integers(0, 99))
def test_masked_weights_are_zero_where_masked_and_rows_sum_to_one(lengths, seed):
    ex = mask_example(lengths, seed)
    N, S = len(lengths), max(lengths)
    assert ex["padding_mask"].shape == (N, S) and ex["causal_mask"].shape == (S, S)
    assert (ex["padding_mask"].sum(1) == S - np.array(lengths)).all()
    pad = ex["padding_mask"][:, None, :]
    check_weights(ex["weights"], pad)
    check_weights(ex["causal_weights"], pad | ex["causal_mask"])
    # the causal mask is the engine's is_causal: scaled_dot_product_attention agrees
    q = Tensor((ex["scores"] * np.sqrt(S)).astype(np.float64))
    k = Tensor(np.broadcast_to(np.eye(S), (N, S, S)).copy())
    _, w = F.scaled_dot_product_attention(q, k, k, key_padding_mask=ex["padding_mask"],
                                          is_causal=True)
    np.testing.assert_allclose(w.data, ex["causal_weights"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_the_masks_picture_draws_those_weights(n):
    ex = mask_example((5, 3, 4), 0)
    fig = plt.figure()
    try:
        images = draw_masks(fig, ex, n)["images"]
        both = ex["padding_mask"][n][None, :] | ex["causal_mask"]
        for name, mask in (("weights", np.broadcast_to(ex["padding_mask"][n], (5, 5))),
                           ("causal_weights", both)):
            drawn = images[name].get_array()
            np.testing.assert_array_equal(np.ma.getmaskarray(drawn), mask)   # grey cells
            np.testing.assert_array_equal(drawn.data, ex[name][n])
            check_weights(drawn.data, mask)
        np.testing.assert_array_equal(images["padding_mask"].get_array(), ex["padding_mask"])
        np.testing.assert_array_equal(images["causal_mask"].get_array(), ex["causal_mask"])
        np.testing.assert_array_equal(images["combined_mask"].get_array(), both)
    finally:
        plt.close(fig)


def test_weights_that_are_not_renormalised_fail_the_check(monkeypatch):
    """Break-the-code: a softmax over all keys with the masked ones zeroed afterwards (no
    renormalisation) is caught by the row sums."""
    import viz.masks as masks

    def zeroed_after(scores, mask=None, dim=-1):
        w = scores.softmax(dim).data
        return Tensor(np.where(np.broadcast_to(mask, w.shape), 0, w).astype(w.dtype))

    monkeypatch.setattr(masks, "F", types.SimpleNamespace(masked_softmax=zeroed_after))
    ex = mask_example((5, 3, 4), 0)
    with pytest.raises(AssertionError):
        check_weights(ex["weights"], ex["padding_mask"][:, None, :])


def test_mask_example_refuses_bad_lengths():
    for bad in ([], [0, 2], [2.5]):
        with pytest.raises(ValueError, match="lengths must be"):
            mask_example(bad)


# -- the scripts -----------------------------------------------------------------------------
def test_the_positional_encoding_script_writes_its_picture(tmp_path):
    out = tmp_path / "pe.png"
    assert script("positional_encoding").main(["--out", str(out), "--length", "20",
                                               "--d-model", "32"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_the_masks_script_writes_its_picture(tmp_path):
    out = tmp_path / "masks.png"
    assert script("masks").main(["--out", str(out), "--lengths", "4", "2"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


@needs_dot
def test_the_beam_tree_script_writes_its_picture(tmp_path):
    out = tmp_path / "beam.svg"
    assert script("beam_tree").main(["--out", str(out), "--epochs", "1"]) == 0
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "length penalty alpha = 0.6" in svg
    assert "chosen (gold)" in svg


def test_the_pictures_in_the_repository_exist():
    pictures = SCRIPTS.parent / "pictures"
    for name in ("beam_tree.svg", "positional_encoding.png", "masks.png"):
        assert (pictures / name).stat().st_size > 10_000, name
