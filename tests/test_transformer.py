"""The Transformer's pieces: scaled dot-product attention (masks, properties, gradients),
MultiheadAttention and the encoder / decoder layers (PyTorch parity with the same weights),
label smoothing in cross_entropy, and the Transformer seq2seq model (one causal pass equals
stepping, padding does not change a sentence's logits, its stack loads into torch)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor
from tinygrad_attn import functional as F
from tinygrad_attn.gradcheck import gradcheck

rng = np.random.default_rng(0)


def r(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def causal(T, S=None):
    """bool (T, S), True above the diagonal (key s > query t): the future."""
    return np.triu(np.ones((T, T if S is None else S), dtype=bool), k=1)


def assert_attention_weights(w, masked):
    """w (..., T, S) float; masked bool broadcastable to w, True = masked out."""
    masked = np.broadcast_to(masked, w.shape)
    assert np.all(w >= 0)
    assert np.all(w[masked] == 0), "masked keys must get exactly 0"
    live = (~masked).any(axis=-1)                              # rows with a key to look at
    np.testing.assert_allclose(w.sum(axis=-1)[live], 1.0, rtol=0, atol=1e-6)
    assert np.all(w[~live] == 0), "a fully masked row must be all zeros"


# ------------------------------------------------------------- properties (hypothesis)
@st.composite
def attention_case(draw):
    N, T, S = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    d, dv = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 16))
    scale = draw(st.sampled_from([1.0, 1e3]))                  # ordinary and extreme scores
    g = np.random.default_rng(seed)
    kpm = g.random((N, S)) < 0.3 if draw(st.booleans()) else None
    attn = g.random((T, S)) < 0.3 if draw(st.booleans()) else None
    return dict(q=g.standard_normal((N, T, d)) * scale, k=g.standard_normal((N, S, d)),
                v=g.standard_normal((N, S, dv)), kpm=kpm, attn=attn, causal=draw(st.booleans()))


def expected_mask(c, N, T, S):
    m = np.zeros((N, T, S), dtype=bool)
    if c["kpm"] is not None:
        m |= c["kpm"][:, None, :]
    if c["attn"] is not None:
        m |= c["attn"]
    if c["causal"]:
        m |= causal(T, S)
    return m


@given(attention_case())
def test_sdpa_weights_are_a_distribution_over_unmasked_keys(c):
    out, w = F.scaled_dot_product_attention(Tensor(c["q"]), Tensor(c["k"]), Tensor(c["v"]),
                                            attn_mask=c["attn"], key_padding_mask=c["kpm"],
                                            is_causal=c["causal"])
    N, T, S = w.shape
    masked = expected_mask(c, N, T, S)
    assert_attention_weights(w.data, masked)
    assert np.all(np.isfinite(out.data))
    np.testing.assert_array_equal(out.data[masked.all(axis=-1)], 0.0)
    np.testing.assert_allclose(out.data, w.data @ c["v"], rtol=1e-12, atol=1e-12)


@given(attention_case(), st.integers(1, 3))
def test_multihead_attention_weights_are_distributions_per_head_and_averaged(c, heads):
    N, T, S = c["q"].shape[0], c["q"].shape[1], c["k"].shape[1]
    E = heads * 2
    g = np.random.default_rng(S)
    mha = tg.nn.MultiheadAttention(E, heads)
    q, kv = Tensor(g.standard_normal((N, T, E))), Tensor(g.standard_normal((N, S, E)))
    masked = expected_mask(c, N, T, S)
    kwargs = dict(key_padding_mask=c["kpm"], attn_mask=c["attn"], is_causal=c["causal"])
    out, w_heads = mha(q, kv, kv, average_attn_weights=False, **kwargs)
    out2, w_mean = mha(q, kv, kv, **kwargs)
    assert w_heads.shape == (N, heads, T, S) and w_mean.shape == (N, T, S)
    assert_attention_weights(w_heads.data, masked[:, None])
    assert_attention_weights(w_mean.data, masked)
    assert np.all(np.isfinite(out.data))
    np.testing.assert_array_equal(out.data, out2.data)
    assert mha(q, kv, kv, need_weights=False, **kwargs)[1] is None


def test_causal_mask_is_zero_above_the_diagonal_and_a_fully_masked_row_gives_zeros():
    q, k, v = Tensor(r(2, 5, 3)), Tensor(r(2, 5, 3)), Tensor(r(2, 5, 4))
    _, w = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert np.all(w.data[:, causal(5)] == 0) and np.all(w.data[:, ~causal(5)] > 0)
    np.testing.assert_allclose(w.data[:, 0, 0], 1.0)               # the first query sees itself
    kpm = np.array([[False] * 5, [True] * 5])                      # sentence 1: all padding
    out, w = F.scaled_dot_product_attention(q, k, v, key_padding_mask=kpm)
    assert np.all(w.data[1] == 0) and np.all(out.data[1] == 0) and np.isfinite(out.data).all()
    x = Tensor(r(2, 5, 3), requires_grad=True)                     # and its gradient is finite
    F.scaled_dot_product_attention(x, x, x, key_padding_mask=kpm)[0].sum().backward()
    assert np.isfinite(x.grad).all() and np.all(x.grad[1] == 0)


def test_sdpa_broadcasts_head_axes_and_dropout_keeps_weights_before_dropout():
    q, k, v = Tensor(r(2, 3, 4, 5)), Tensor(r(2, 3, 6, 5)), Tensor(r(2, 3, 6, 2))
    kpm = np.zeros((2, 6), bool)
    kpm[0, 4:] = True
    out, w = F.scaled_dot_product_attention(q, k, v, key_padding_mask=kpm)
    assert out.shape == (2, 3, 4, 2) and np.all(w.data[0, :, :, 4:] == 0)
    out_d, w_d = F.scaled_dot_product_attention(q, k, v, key_padding_mask=kpm, dropout_p=0.5,
                                                training=True, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(w_d.data, w.data)                # the distribution is shown
    assert not np.allclose(out_d.data, out.data)                   # but the output is dropped
    out_e, _ = F.scaled_dot_product_attention(q, k, v, key_padding_mask=kpm, dropout_p=0.5)
    np.testing.assert_array_equal(out_e.data, out.data)            # training=False: no dropout


# ------------------------------------------------------------------------ errors
def test_errors_name_the_op_the_shapes_and_a_fix():
    q, k = Tensor(r(2, 3, 4)), Tensor(r(2, 5, 4))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 4, 3\)"):
        F.scaled_dot_product_attention(q, k, Tensor(r(2, 4, 3)))       # value's S is not key's
    with pytest.raises(ValueError, match=r"d >= 1"):
        F.scaled_dot_product_attention(q, Tensor(r(2, 5, 3)), Tensor(r(2, 5, 3)))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(3, 4\).*\(2, 3, 5\).*fix"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(2, 4\), expected \(2, 5\)"):
        F.scaled_dot_product_attention(q, k, k, key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(TypeError, match=r"attn_mask must be a bool array.*-np.inf"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"embed_dim 6 must be divisible by num_heads 4"):
        tg.nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match=r"batch_first=True.*transpose"):
        tg.nn.MultiheadAttention(4, 2, batch_first=False)
    with pytest.raises(NotImplementedError, match=r"kdim=3"):
        tg.nn.MultiheadAttention(4, 2, kdim=3)
    mha = tg.nn.MultiheadAttention(4, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*\(N \* num_heads, T, S\)"):
        mha(q, k, k, attn_mask=np.zeros((2, 3, 5), bool))
    with pytest.raises(ValueError, match=r"MultiheadAttention\(E=4\).*\(2, 3, 5\)"):
        mha(q, Tensor(r(2, 3, 5)), Tensor(r(2, 3, 5)))
    with pytest.raises(ValueError, match=r"max_len=4.*\(1, 5, 8\)"):
        tg.nn.PositionalEncoding(8, max_len=4)(Tensor(r(1, 5, 8)))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(Tensor(r(2, 3)), np.array([0, 1]), label_smoothing=1.5)


# ------------------------------------------------------------------ gradchecks
def test_sdpa_gradcheck_with_masks_and_a_fully_masked_row():
    kpm = np.array([[False, False, True, False], [True, True, True, True]])
    attn = np.array([[False, True, False, False], [False, False, False, True],
                     [True, False, False, False]])
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn, key_padding_mask=kpm, is_causal=True)[0],
        [r(2, 3, 2), r(2, 4, 2), r(2, 4, 3)])
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, key_padding_mask=kpm)[1], [r(2, 3, 2), r(2, 4, 2), r(2, 4, 3)])


def _float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def test_multihead_attention_gradcheck_inputs_and_parameters():
    mha = _float64(tg.nn.MultiheadAttention(4, 2))
    kpm = np.array([[False, False, True], [False, True, True]])
    x_kv = Tensor(r(2, 3, 4), requires_grad=True)

    def f(q, *params):
        out, w = mha(q, x_kv, x_kv, key_padding_mask=kpm, attn_mask=causal(2, 3))
        return out + w.sum(axis=-1, keepdims=True)
    assert gradcheck(f, [r(2, 2, 4), x_kv, *mha.parameters()])

    def self_attention(x):                                    # the one-projection path
        return mha(x, x, x, key_padding_mask=kpm, average_attn_weights=False)[0]
    assert gradcheck(self_attention, [r(2, 3, 4)])


def tiny_model(**kw):
    from models.transformer import Transformer
    args = dict(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                dim_feedforward=6, dropout=0.1, max_len=16, seed=0)
    args.update(kw)
    return Transformer(5, 6, **args)


def test_transformer_loss_gradcheck_with_label_smoothing_padding_and_masks():
    model = _float64(tiny_model()).eval()
    src = np.array([[1, 2, 3], [4, 1, 0]])
    tgt = np.array([[1, 2, 3, 4], [1, 5, 0, 0]])
    mask = src == 0
    names = ["src_embedding.weight", "encoder.layers.0.self_attn.in_proj_weight",
             "encoder.layers.0.linear1.bias", "encoder.norm.weight",
             "decoder.layers.0.self_attn.out_proj.weight",
             "decoder.layers.0.multihead_attn.in_proj_weight", "decoder.layers.0.norm2.bias",
             "tgt_embedding.weight", "out.weight"]
    params = dict(model.named_parameters())
    assert gradcheck(lambda *_: model.loss(src, tgt, mask, pad_id=0, label_smoothing=0.1),
                     [params[n] for n in names])


def test_label_smoothing_gradcheck():
    target = np.array([[2, 0, -1], [1, -1, -1]])
    assert gradcheck(lambda x: F.cross_entropy(x, target, ignore_index=-1, label_smoothing=0.2),
                     [r(2, 3, 4) * 3])


# ------------------------------------------------------------------ PyTorch parity
# Only the tests that call torch skip without it (a module-level importorskip here once
# hid the 13 tests of this file that need no torch).
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch parity tests need torch==2.13.0")
DTYPES = [(np.float64, 1e-9), (np.float32, 1e-5)]


def _to_torch(module_t, state, dtype):
    module_t = module_t.to(torch.float64 if dtype == np.float64 else torch.float32)
    assert list(module_t.state_dict()) == list(state), "parameter names or order differ"
    module_t.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=dtype))
                              for k, v in state.items()})
    return module_t


def _cast(module, dtype):
    for p in module.parameters():
        p.data = p.data.astype(dtype)
    return module


def _padding(N, L, g):
    """A random bool (N, L) key padding mask that leaves position 0 of every row free."""
    m = g.random((N, L)) < 0.4
    m[:, 0] = False
    return m


def _compare_grads(ours, theirs, tol):
    for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=tol * 10, atol=tol * 10,
                                   err_msg=name)


@needs_torch
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_multihead_attention_matches_torch_with_masks(dtype, tol):
    g = np.random.default_rng(1)
    N, T, S, E, h = 3, 4, 5, 6, 3
    ours = _cast(tg.nn.MultiheadAttention(E, h, dropout=0.2), dtype).eval()
    theirs = _to_torch(torch.nn.MultiheadAttention(E, h, dropout=0.2, batch_first=True),
                       ours.state_dict(), dtype).eval()
    kpm = _padding(N, S, g)
    attn = g.random((T, S)) < 0.3
    attn[:, 0] = False
    arrays = [g.standard_normal(s).astype(dtype) for s in ((N, T, E), (N, S, E), (N, S, E))]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    xts = [torch.tensor(a, requires_grad=True) for a in arrays]
    for average in (True, False):
        out, w = ours(*xs, key_padding_mask=kpm, attn_mask=attn, average_attn_weights=average)
        out_t, w_t = theirs(*xts, key_padding_mask=torch.tensor(kpm),
                            attn_mask=torch.tensor(attn), average_attn_weights=average)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(w.data, w_t.detach().numpy(), rtol=tol, atol=tol)
    ((out * out).sum() + (w * w).sum()).backward()
    ((out_t * out_t).sum() + (w_t * w_t).sum()).backward()
    for x, xt in zip(xs, xts):
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    _compare_grads(ours, theirs, tol)
    # PyTorch's per-head (N * h, T, S) attn_mask layout
    per_head = g.random((N * h, T, S)) < 0.3
    per_head[:, :, 0] = False
    out, _ = ours(xs[0], xs[1], xs[2], attn_mask=per_head)
    out_t, _ = theirs(*xts, attn_mask=torch.tensor(per_head))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=tol, atol=tol)


@needs_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_encoder_layer_matches_torch_in_eval_mode(norm_first, dtype, tol):
    g = np.random.default_rng(2)
    N, S, E, h, ff = 2, 5, 8, 2, 12
    ours = _cast(tg.nn.TransformerEncoderLayer(E, h, ff, dropout=0.1, norm_first=norm_first),
                 dtype).eval()
    theirs = _to_torch(torch.nn.TransformerEncoderLayer(E, h, ff, dropout=0.1, batch_first=True,
                                                        norm_first=norm_first),
                       ours.state_dict(), dtype).eval()
    kpm, src_mask = _padding(N, S, g), g.random((S, S)) < 0.3
    src_mask[:, 0] = False
    x_np = g.standard_normal((N, S, E)).astype(dtype)
    x, xt = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y = ours(x, src_mask=src_mask, src_key_padding_mask=kpm)
    yt = theirs(xt, src_mask=torch.tensor(src_mask), src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=tol, atol=tol)
    w = g.uniform(0.5, 1.5, y.shape).astype(dtype)
    (y * Tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    _compare_grads(ours, theirs, tol)
    assert ours.self_attn_weights.shape == (N, S, S)
    assert np.all(ours.self_attn_weights.data[np.broadcast_to(kpm[:, None], (N, S, S))] == 0)


@needs_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_decoder_layer_matches_torch_in_eval_mode(norm_first, dtype, tol):
    g = np.random.default_rng(3)
    N, T, S, E, h, ff = 2, 4, 5, 8, 4, 10
    ours = _cast(tg.nn.TransformerDecoderLayer(E, h, ff, norm_first=norm_first), dtype).eval()
    theirs = _to_torch(torch.nn.TransformerDecoderLayer(E, h, ff, batch_first=True,
                                                        norm_first=norm_first),
                       ours.state_dict(), dtype).eval()
    mem_kpm, tgt_kpm = _padding(N, S, g), _padding(N, T, g)
    memory_mask = g.random((T, S)) < 0.3
    memory_mask[:, 0] = False
    tgt_np, mem_np = (g.standard_normal(s).astype(dtype) for s in ((N, T, E), (N, S, E)))
    tgt, mem = Tensor(tgt_np, requires_grad=True), Tensor(mem_np, requires_grad=True)
    tgt_t = torch.tensor(tgt_np, requires_grad=True)
    mem_t = torch.tensor(mem_np, requires_grad=True)
    y = ours(tgt, mem, memory_mask=memory_mask, tgt_key_padding_mask=tgt_kpm,
             memory_key_padding_mask=mem_kpm, tgt_is_causal=True)   # builds the causal mask
    yt = theirs(tgt_t, mem_t, tgt_mask=torch.tensor(causal(T)),
                memory_mask=torch.tensor(memory_mask),
                tgt_key_padding_mask=torch.tensor(tgt_kpm),
                memory_key_padding_mask=torch.tensor(mem_kpm), tgt_is_causal=True)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=tol, atol=tol)
    w = g.uniform(0.5, 1.5, y.shape).astype(dtype)
    (y * Tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for a, at in ((tgt, tgt_t), (mem, mem_t)):
        np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    _compare_grads(ours, theirs, tol)
    assert ours.cross_attn_weights.shape == (N, T, S)
    assert_attention_weights(ours.cross_attn_weights.data, mem_kpm[:, None] | memory_mask)
    assert_attention_weights(ours.self_attn_weights.data, tgt_kpm[:, None] | causal(T))


@needs_torch
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.7])
def test_cross_entropy_label_smoothing_matches_torch_with_ignore_index(dtype, tol, eps):
    logits = (r(2, 4, 5) * 3).astype(dtype)
    target = np.array([[1, 4, 0, 0], [3, 2, 1, 0]])                # 0 is padding
    x, xt = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target, ignore_index=0, label_smoothing=eps)
    loss_t = torch.nn.functional.cross_entropy(xt.reshape(-1, 5), torch.tensor(target).reshape(-1),
                                               ignore_index=0, label_smoothing=eps)
    loss.backward()
    loss_t.backward()
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol, atol=tol)


def test_label_smoothing_zero_is_the_old_loss_and_all_padding_gives_zero():
    x, target = Tensor(r(4, 3), requires_grad=True), np.array([0, 2, -100, 1])
    plain, zero = F.cross_entropy(x, target), F.cross_entropy(x, target, label_smoothing=0.0)
    assert plain.item() == zero.item()
    assert type(zero.grad_fn).__name__ == "NLLLoss"                   # the same single node
    loss = F.cross_entropy(x, np.full(4, -100), label_smoothing=0.1)
    loss.backward()
    assert loss.item() == 0.0 and np.all(x.grad == 0)


# ------------------------------------------------------------------ the model
def small_model(**kw):
    from models.transformer import Transformer
    args = dict(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                dim_feedforward=24, max_len=32, seed=1)
    args.update(kw)
    return Transformer(11, 9, **args)


def test_sinusoidal_positions_follow_the_paper():
    pe = tg.nn.sinusoidal_positions(7, 6)
    assert pe.shape == (7, 6) and pe.dtype == np.float32
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert abs(pe[pos, 2 * i] - np.sin(angle)) < 1e-6
            assert abs(pe[pos, 2 * i + 1] - np.cos(angle)) < 1e-6
    odd = tg.nn.sinusoidal_positions(4, 5, dtype=np.float64)       # an odd width: last is a sine
    assert odd.shape == (4, 5)
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(4) / 10000 ** (4 / 5)), atol=1e-12)


def test_decode_in_one_pass_equals_stepping_decode_step():
    model = small_model().eval()
    g = np.random.default_rng(4)
    src, tgt = g.integers(1, 11, (3, 6)), g.integers(1, 9, (3, 5))
    mask = np.zeros((3, 6), bool)
    mask[1, 4:], mask[2, 2:] = True, True
    memory = model.encode(src, mask)
    logits, weights = model.decode(tgt, memory)
    assert logits.shape == (3, 5, 9) and weights.shape == (3, 5, 6)
    state = model.init_decoder(memory)
    for t in range(5):
        step, state, w = model.decode_step(tgt[:, t], state)
        assert step.shape == (3, 9) and w.shape == (3, 6)
        np.testing.assert_allclose(step.data, logits.data[:, t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(w.data, weights.data[:, t], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(state["tokens"], tgt)
    assert_attention_weights(weights.data, mask[:, None])
    # beam search reorders the state along axis 0
    swapped = model.reorder_state(state, np.array([2, 0]))
    step2, _, _ = model.decode_step(np.array([3, 3]), swapped)
    step_all, _, _ = model.decode_step(np.array([3, 3, 3]), state)
    np.testing.assert_allclose(step2.data, step_all.data[[2, 0]], rtol=1e-5, atol=1e-5)


def test_a_sentence_gives_the_same_logits_alone_and_batched_with_a_longer_one():
    model = small_model().eval()
    short_src, short_tgt = np.array([[3, 4, 5]]), np.array([[1, 2, 3, 4]])
    long_src, long_tgt = np.array([[6, 7, 8, 9, 10, 3]]), np.array([[1, 5, 6, 7, 8, 2, 3]])
    src = np.concatenate([np.pad(short_src, ((0, 0), (0, 3))), long_src])   # pad id 0
    tgt = np.concatenate([np.pad(short_tgt, ((0, 0), (0, 3))), long_tgt])
    alone_logits, alone_w = model(short_src, short_tgt, return_attention=True)
    logits, w = model(src, tgt, src_padding_mask=src == 0, return_attention=True)
    np.testing.assert_allclose(logits.data[0, :4], alone_logits.data[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.data[0, :4, :3], alone_w.data[0], rtol=1e-5, atol=1e-5)
    assert np.all(w.data[0, :, 3:] == 0)
    long_logits = model(long_src, long_tgt)
    np.testing.assert_allclose(logits.data[1], long_logits.data[0], rtol=1e-5, atol=1e-5)


@needs_torch
def test_model_loss_with_label_smoothing_matches_torch_and_config_rebuilds_the_model():
    from models.transformer import Transformer
    model = small_model(dropout=0.0)
    g = np.random.default_rng(5)
    src, tgt = g.integers(1, 11, (2, 5)), g.integers(1, 9, (2, 6))
    tgt[1, 4:] = 0
    loss = model.loss(src, tgt, pad_id=0, label_smoothing=0.1)
    logits = model(src, tgt[:, :-1]).data.astype(np.float64)
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits).reshape(-1, 9),
                                            torch.tensor(tgt[:, 1:]).reshape(-1),
                                            ignore_index=0, label_smoothing=0.1)
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    assert loss.item() > model.loss(src, tgt, pad_id=0).item() - 1.0
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    config = json.loads(json.dumps(model.config))
    assert model.MODEL_NAME == "transformer"
    twin = Transformer(**config)
    for (n, a), (m, b) in zip(model.state_dict().items(), twin.state_dict().items()):
        assert n == m and a.shape == b.shape
    layers = model.encoder.layers
    assert not np.array_equal(layers[0].linear1.weight.data, layers[1].linear1.weight.data)


@needs_torch
def test_model_stack_loads_into_torch_transformer_and_gives_the_same_logits():
    model = _float64(small_model(dropout=0.1)).eval()
    cfg = model.config
    ref = torch.nn.Transformer(cfg["d_model"], cfg["nhead"], cfg["num_encoder_layers"],
                               cfg["num_decoder_layers"], cfg["dim_feedforward"], dropout=0.1,
                               batch_first=True)
    stack = {k: v for k, v in model.state_dict().items() if k.startswith(("encoder.", "decoder."))}
    ref = _to_torch(ref, stack, np.float64).eval()
    g = np.random.default_rng(6)
    src, tgt = g.integers(1, 11, (2, 6)), g.integers(1, 9, (2, 5))
    src[0, 4:] = 0
    mask = src == 0
    ours = model(src, tgt, src_padding_mask=mask).data
    pe = tg.nn.sinusoidal_positions(6, 16, dtype=np.float64)

    def embed(weight, ids):
        return torch.tensor(weight[ids] * np.sqrt(16) + pe[:ids.shape[1]])
    sd = model.state_dict()
    h = ref(embed(sd["src_embedding.weight"], src), embed(sd["tgt_embedding.weight"], tgt),
            tgt_mask=torch.tensor(causal(5)), src_key_padding_mask=torch.tensor(mask),
            memory_key_padding_mask=torch.tensor(mask), tgt_is_causal=True).detach().numpy()
    theirs = h @ sd["out.weight"].T + sd["out.bias"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
