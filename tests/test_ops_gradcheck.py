"""Float64 central-difference gradient check of every op on hypothesis-drawn shapes.

Binary ops get mutually broadcastable shape pairs (0-4 dims, size-1 axes), so the one
un-broadcasting path of the engine is exercised by every op.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_attn as tg
from tinygrad_attn import Tensor, concat, stack
from tinygrad_attn import functional as F

TOL = dict(eps=1e-6, atol=1e-5, rtol=1e-3)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3)  # 0-size axes too
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                          max_side=3)


def arrays(shape, lo=-2.0, hi=2.0, unique=False):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi), unique=unique)


@st.composite
def binary_inputs(draw, lo=-2.0, hi=2.0, lo_b=None, hi_b=None):
    s = draw(pairs).input_shapes
    a = draw(arrays(s[0], lo, hi))
    b = draw(arrays(s[1], lo if lo_b is None else lo_b, hi if hi_b is None else hi_b))
    return a, b


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
], ids=["add", "sub", "mul"])
@given(ab=binary_inputs())
def test_binary(op, ab):
    assert tg.gradcheck(op, ab, **TOL)


@given(ab=binary_inputs(lo_b=0.5, hi_b=2.0))
def test_div(ab):
    a, b = ab
    b = b * np.where(np.arange(b.size).reshape(b.shape) % 2, 1, -1) if b.ndim else b
    assert tg.gradcheck(lambda x, y: x / y, (a, b), **TOL)


@given(ab=binary_inputs(lo=0.5, hi=2.0, lo_b=-1.5, hi_b=1.5))
def test_pow_tensor_exponent(ab):
    assert tg.gradcheck(lambda x, y: x ** y, ab, **TOL)


@given(a=shapes.flatmap(lambda s: arrays(s, 0.3, 2.0)), p=st.sampled_from([2, 3, 0.5, -1.0]))
def test_pow_scalar_exponent_and_scalars_on_either_side(a, p):
    assert tg.gradcheck(lambda x: x ** p + 2.0 / x - (1.0 - x) * 3.0, (a,), **TOL)


UNARY = {
    "neg": (lambda x: -x, -3, 3),
    "exp": (lambda x: x.exp(), -3, 3),
    "log": (lambda x: x.log(), 0.2, 4),
    "tanh": (lambda x: x.tanh(), -3, 3),
    "sigmoid": (lambda x: x.sigmoid(), -6, 6),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary(name, data):
    fn, lo, hi = UNARY[name]
    a = data.draw(shapes.flatmap(lambda s: arrays(s, lo, hi)))
    assert tg.gradcheck(fn, (a,), **TOL)


@given(a=shapes.flatmap(lambda s: arrays(s, -2, 2)))
def test_relu_away_from_the_kink(a):
    a = np.where(np.abs(a) < 1e-3, 0.5, a)
    assert tg.gradcheck(lambda x: x.relu(), (a,), **TOL)


@st.composite
def array_and_axis(draw, unique=False, min_dims=0):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=3))
    a = draw(arrays(shape, unique=unique))
    if shape == () or draw(st.booleans()):
        axis = None
    elif draw(st.booleans()):
        axis = draw(st.integers(-len(shape), len(shape) - 1))
    else:
        axis = tuple(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    return a, axis, draw(st.booleans())


@pytest.mark.parametrize("red", ["sum", "mean", "max"])
@given(a_axis=array_and_axis(unique=True))
def test_reductions(red, a_axis):
    a, axis, keepdims = a_axis
    if red == "max":  # keep elements >> eps apart: max is not differentiable at a tie
        a = np.argsort(np.argsort(a, axis=None)).reshape(a.shape) * 0.1 + a * 1e-3
    assert tg.gradcheck(lambda x: getattr(x, red)(axis=axis, keepdims=keepdims), (a,), **TOL)


@given(a=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3).flatmap(arrays))
def test_reshape_and_permute(a):
    perm = tuple(np.random.default_rng(a.size).permutation(a.ndim))
    assert tg.gradcheck(lambda x: x.reshape(-1).reshape(a.shape[::-1]), (a,), **TOL)
    assert tg.gradcheck(lambda x: x.permute(perm), (a,), **TOL)
    assert tg.gradcheck(lambda x: x.transpose(0, -1) * 2, (a,), **TOL)


@given(a=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4).flatmap(arrays),
       data=st.data())
def test_getitem_ints_slices_and_integer_arrays(a, data):
    i = data.draw(st.integers(-a.shape[0], a.shape[0] - 1))
    idx = data.draw(hnp.arrays(np.int64, st.integers(1, 5),
                               elements=st.integers(0, a.shape[1] - 1)))  # repeats allowed
    assert tg.gradcheck(lambda x: x[i], (a,), **TOL)
    assert tg.gradcheck(lambda x: x[1:, ::2], (a,), **TOL)
    assert tg.gradcheck(lambda x: x[:, idx] * x[:, idx], (a,), **TOL)
    assert tg.gradcheck(lambda x: x[..., -1], (a,), **TOL)


@given(data=st.data())
def test_concat_and_stack(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = data.draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[axis] = data.draw(st.integers(1, 3))
    a, b = data.draw(arrays(shape)), data.draw(arrays(tuple(other)))
    c = data.draw(arrays(shape))
    assert tg.gradcheck(lambda x, y: concat([x, y, x], axis=axis), (a, b), **TOL)
    assert tg.gradcheck(lambda x, y: stack([x, y], axis=axis), (a, c), **TOL)


@given(data=st.data())
def test_matmul_2d_batched_broadcast_and_1d(data):
    M, K, N = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    a = data.draw(arrays(batch.input_shapes[0] + (M, K)))
    b = data.draw(arrays(batch.input_shapes[1] + (K, N)))
    assert tg.gradcheck(lambda x, y: x @ y, (a, b), **TOL)
    v = data.draw(arrays((K,)))
    assert tg.gradcheck(lambda x, y: x @ y, (a, v), **TOL)


@given(data=st.data())
def test_embedding(data):
    V, D = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    w = data.draw(arrays((V, D)))
    ids = data.draw(hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=4),
                               elements=st.integers(0, V - 1)))
    assert tg.gradcheck(lambda weight: F.embedding(ids, weight), (w,), **TOL)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@given(a_axis=array_and_axis(min_dims=1))
def test_softmax_family(fn, a_axis):
    a, axis, _ = a_axis
    axis = axis if isinstance(axis, int) else -1
    assert tg.gradcheck(lambda x: getattr(x, fn)(axis), (a * 3,), **TOL)


@given(data=st.data())
def test_cross_entropy_with_ignore_index(data):
    shape = data.draw(st.sampled_from([(4,), (2, 3)]))
    C = data.draw(st.integers(2, 6))
    logits = data.draw(arrays(shape + (C,), -4, 4))
    target = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-1, C - 1)))
    assert tg.gradcheck(lambda x: F.cross_entropy(x, target, ignore_index=-1), (logits,), **TOL)


@given(a=shapes.flatmap(arrays), data=st.data())
def test_masked_fill(a, data):
    mask = data.draw(hnp.arrays(bool, a.shape))
    assert tg.gradcheck(lambda x: x.masked_fill(mask, -5.0) * x, (a,), **TOL)


def test_gradcheck_reports_worst_element():
    class Wrong(tg.Function):
        def forward(self, x):
            return x * x

        def backward(self, g, x, out):
            return g * 3.0     # wrong: should be 2x

    with pytest.raises(tg.GradcheckError, match=r"element \(0,\): analytic .* vs numeric"):
        tg.gradcheck(lambda x: Wrong.apply(x), (np.array([1.0, 2.0]),))


# ------------------------------------------------------------- the rest of the op set
@pytest.mark.parametrize("op", ["maximum", "minimum"])
@given(ab=binary_inputs())
def test_maximum_minimum_broadcast(op, ab):
    a, b = ab
    b = b + 1e-3 * (np.abs(b) < 1e-9)   # keep a tie at most where a == b exactly
    assert tg.gradcheck(lambda x, y: getattr(x, op)(y), (a, b + 0.37), **TOL)


@given(ab=binary_inputs(), data=st.data())
def test_where_broadcast(ab, data):
    a, b = ab
    shape = np.broadcast_shapes(a.shape, b.shape)
    cond = data.draw(hnp.arrays(bool, shape))
    assert tg.gradcheck(lambda x, y: tg.where(cond, x, y * y), (a, b), **TOL)


@given(a=shapes.flatmap(lambda s: arrays(s, -2, 2)))
def test_abs_sqrt_clamp_away_from_kinks(a):
    a = np.where(np.abs(a) < 1e-2, 0.5, a)
    a = np.where(np.abs(np.abs(a) - 1) < 1e-2, 0.7, a)
    assert tg.gradcheck(lambda x: x.abs(), (a,), **TOL)
    assert tg.gradcheck(lambda x: x.abs().sqrt(), (a,), **TOL)
    assert tg.gradcheck(lambda x: x.clamp(-1.0, 1.0) + x.clamp(min=0.0) * x.clamp(max=0.0), (a,), **TOL)


@pytest.mark.parametrize("red", ["min", "logsumexp", "var"])
@given(a_axis=array_and_axis(unique=True))
def test_more_reductions(red, a_axis):
    a, axis, keepdims = a_axis
    if red == "min":
        a = np.argsort(np.argsort(a, axis=None)).reshape(a.shape) * 0.1 + a * 1e-3
    if red == "var":
        assert tg.gradcheck(lambda x: x.var(axis=axis, keepdims=keepdims, correction=0), (a,), **TOL)
    else:
        assert tg.gradcheck(lambda x: getattr(x, red)(axis=axis, keepdims=keepdims), (a,), **TOL)


@given(a=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3).flatmap(arrays), data=st.data())
def test_expand_squeeze_unsqueeze_flip(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    lead = data.draw(st.integers(1, 3))
    assert tg.gradcheck(lambda x: x.unsqueeze(0).expand((lead,) + a.shape), (a,), **TOL)
    assert tg.gradcheck(lambda x: x.unsqueeze(axis).squeeze(axis) * x, (a,), **TOL)
    assert tg.gradcheck(lambda x: x.flip(axis) * x, (a,), **TOL)


@given(a=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5).flatmap(arrays), data=st.data())
def test_split_chunk_gather(a, data):
    axis = data.draw(st.integers(0, a.ndim - 1))
    n = a.shape[axis]
    size = data.draw(st.integers(1, n))
    assert tg.gradcheck(lambda x: concat([p * (k + 1) for k, p in enumerate(x.split(size, axis))], axis),
                        (a,), **TOL)
    chunks = data.draw(st.integers(1, 3))
    assert tg.gradcheck(lambda x: x.chunk(chunks, axis)[0], (a,), **TOL)
    idx_shape = list(a.shape)
    idx_shape[axis] = data.draw(st.integers(1, 4))
    index = data.draw(hnp.arrays(np.int64, tuple(idx_shape), elements=st.integers(0, n - 1)))
    assert tg.gradcheck(lambda x: x.gather(axis, index), (a,), **TOL)


@given(data=st.data())
def test_layer_norm_and_dropout(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    a = data.draw(arrays(shape))
    a = a + np.arange(a.size).reshape(a.shape) * 0.3       # a non-constant row
    w, b = data.draw(arrays(shape[-1:])), data.draw(arrays(shape[-1:]))
    assert tg.gradcheck(lambda x, wt, bs: F.layer_norm(x, shape[-1], wt, bs), (a, w, b), **TOL)
    seed = data.draw(st.integers(0, 100))
    assert tg.gradcheck(lambda x: F.dropout(x, 0.4, rng=np.random.default_rng(seed)), (a,), **TOL)


def test_dropout_train_eval_and_scaling():
    x = Tensor(np.ones((200, 100), dtype=np.float32))
    y = F.dropout(x, 0.25, rng=np.random.default_rng(0)).data
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.25, training=False) is x
    layer = tg.nn.Dropout(0.5).eval()
    assert layer(x) is x


def test_one_hot_argmax_and_their_errors():
    np.testing.assert_array_equal(F.one_hot(np.array([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(IndexError, match=r"id 3 at position \(1,\)"):
        F.one_hot(np.array([0, 3]), 3)
    t = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(t.argmax(axis=1).data, [1, 0])
    assert not t.argmax().requires_grad
