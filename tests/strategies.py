"""Hypothesis strategies and layout helpers shared by the tests.

Shapes are small on purpose (sides 0-3 by default, 0-size axes included) so that a float64
central-difference gradient check stays cheap. Value domains:

- ``floats(shape, lo, hi)``: float arrays in [lo, hi] (the safe domain of most ops);
- ``float32_exact(shape, dtype)``: values float32 holds exactly, as float32 or float64, so
  one draw compares the two dtypes (the kernel tests);
- ``extreme(shape)``: ordinary values mixed with magnitudes of 1e3-1e4, where a naive
  ``exp`` overflows (the stability domain of softmax, logsumexp, sigmoid, tanh);
- ``on_grid(shape)``: values on a coarse grid {-1, -0.5, 0, 0.5, 1}: many ties and zeros,
  the kinks of relu/abs/clamp and the ties of max/maximum (subgradient tests);
- ``away_from_ties(a)`` and ``away_from(a, points)`` move drawn values off the points where
  an op is not differentiable, for the numerical gradient checks.

Index arrays (``index_arrays``), boolean masks (``masks``), broadcastable shape pairs
(``broadcastable_shapes``, ``binary_inputs``), an array with a reduction axis
(``array_and_axis``) and non-contiguous views of an array (``noncontiguous``) complete the
set. Strategies return numpy arrays; the tests wrap them in Tensors themselves.

The last section holds the input domains of the op registry (``tests/op_registry.py``):
strategies of ``Inputs(arrays, extra)``, the float64 arrays an op differentiates and its
other arguments (axes, shapes, index arrays, masks), drawn together.
"""
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])
NONCONTIGUOUS_KINDS = ("transposed", "stepped", "negative")


# ------------------------------------------------------------------------ shapes
def shapes(min_dims=0, max_dims=4, min_side=0, max_side=3):
    """Array shapes (tuples of ints) with ``min_dims``-``max_dims`` axes of
    ``min_side``-``max_side`` each; the default includes 0-d and 0-size shapes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3):
    """Tuples of ``num_shapes`` shapes that broadcast together under NumPy's rules
    (size-1 axes and missing leading axes); ``min_side=0`` adds 0-size axes."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda s: s.input_shapes)


# ------------------------------------------------------------------------ values
def floats(shape, lo=-2.0, hi=2.0, unique=False, dtype=np.float64):
    """Float arrays of ``shape`` (a tuple or a strategy of tuples) with values in
    [lo, hi]; ``unique=True`` draws distinct values."""
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi), unique=unique)


def float32_exact(shape, dtype, lo=-3.0, hi=3.0):
    """Arrays of ``dtype`` (float32 or float64) with values in [lo, hi] that float32
    represents exactly: the same draw is the same numbers in either dtype."""
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=32))


def extreme(shape, dtype=np.float64):
    """Float arrays mixing ordinary values in [-3, 3] with huge ones (+-1e3 to +-1e4):
    e^x overflows float64 past ~709, so an op that exponentiates without shifting by the
    maximum first gives inf or nan here."""
    huge = st.floats(1e3, 1e4) | st.floats(-1e4, -1e3)
    return hnp.arrays(dtype, shape, elements=st.floats(-3.0, 3.0) | huge)


def on_grid(shape, dtype=np.float64):
    """Float arrays with values in {-1, -0.5, 0, 0.5, 1}: ties, zeros and the points +-1,
    the kinks of relu, abs and clamp and the ties of max, min, maximum and minimum."""
    return hnp.arrays(dtype, shape, elements=st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]))


def index_arrays(shape, n, low=0):
    """int64 arrays of ``shape`` with values in [low, n - 1] (repeats allowed)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(low, n - 1))


def masks(shape):
    """Boolean arrays of ``shape``."""
    return hnp.arrays(bool, shape)


@st.composite
def binary_inputs(draw, lo=-2.0, hi=2.0, lo_b=None, hi_b=None, max_dims=4):
    """(a, b): float64 arrays of mutually broadcastable shapes (0-``max_dims`` axes, sides
    0-3, size-1 axes), a in [lo, hi] and b in [lo_b, hi_b] (default: a's range)."""
    sa, sb = draw(broadcastable_shapes(max_dims=max_dims, min_side=0))
    a = draw(floats(sa, lo, hi))
    b = draw(floats(sb, lo if lo_b is None else lo_b, hi if hi_b is None else hi_b))
    return a, b


@st.composite
def array_and_axis(draw, unique=False, min_dims=0, lo=-2.0, hi=2.0):
    """(a, axis, keepdims): a float64 array (sides 1-3) and a reduction axis for it: None,
    one int (negatives too) or a tuple of distinct axes; keepdims a bool."""
    shape = draw(shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=3))
    a = draw(floats(shape, lo, hi, unique=unique))
    if shape == () or draw(st.booleans()):
        axis = None
    elif draw(st.booleans()):
        axis = draw(st.integers(-len(shape), len(shape) - 1))
    else:
        axis = tuple(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    return a, axis, draw(st.booleans())


# ------------------------------------------------------------------------ fix-ups
def away_from_ties(a, gap=0.1):
    """``a`` with every value moved to its rank times ``gap`` (plus ``a * 1e-3``): the
    order is kept and no two values are closer than ~``gap``, so max/min over any axis
    have one winner each, far beyond a gradient check's step."""
    return np.argsort(np.argsort(a, axis=None)).reshape(a.shape) * gap + a * 1e-3


def away_from(a, points, gap, fill):
    """``a`` with every value within ``gap`` of one of ``points`` replaced by ``fill``."""
    for p in points:
        a = np.where(np.abs(a - p) < gap, fill, a)
    return a


# ------------------------------------------------------------------------ layouts
def noncontiguous(a, kind):
    """The same values as ``a`` in a layout that is not C-contiguous.

    ``kind``: ``"transposed"`` (a transposed copy, transposed back), ``"stepped"`` (every
    other element of a buffer twice as long) or ``"negative"`` (negative strides). An array
    of fewer than 2 elements is C-contiguous in any layout (NumPy ignores the strides of
    size-1 axes) and is returned as it is; when ``transposed`` cannot make ``a``
    non-contiguous (fewer than two axes longer than 1) the stepped layout is used.
    """
    if kind not in NONCONTIGUOUS_KINDS:
        raise ValueError(f"noncontiguous: kind must be one of {NONCONTIGUOUS_KINDS}, "
                         f"got {kind!r}")
    if a.ndim == 0:
        return a
    if kind == "transposed":
        out = np.ascontiguousarray(a.T).T
    elif kind == "stepped":
        out = np.repeat(a, 2, axis=-1)[..., ::2]
    else:
        out = np.flip(np.ascontiguousarray(np.flip(a)))
    if a.size >= 2 and out.flags.c_contiguous:
        out = noncontiguous(a, "stepped")
    return out


# ------------------------------------------------------------------------ op inputs
# The input domains of the op registry (tests/op_registry.py): strategies of Inputs, the
# differentiable float64 arrays of one call of an op and its other arguments, drawn together.


class Inputs(NamedTuple):
    """What a domain draws: ``arrays`` (float64 ndarrays, the differentiable inputs) and
    ``extra`` (a dict of keyword arguments that are not differentiated)."""
    arrays: tuple
    extra: dict


def args(*arrays, **extra) -> Inputs:
    """``Inputs(arrays, extra)``, written as a call."""
    return Inputs(tuple(np.asarray(a, dtype=np.float64) for a in arrays), extra)


def one_array(lo, hi, shape=None, fix=None):
    """One float64 array of a drawn shape (default 0-4 dims, sides 0-3) in [lo, hi],
    passed through ``fix`` (a function of the array) if given."""
    arrays = (shape if shape is not None else shapes()).flatmap(lambda s: floats(s, lo, hi))
    return arrays.map(lambda a: args(fix(a) if fix else a))


def two_arrays(fix=None, **ranges):
    """Two float64 arrays of mutually broadcastable shapes (``binary_inputs(**ranges)``),
    passed through ``fix(a, b) -> (a, b)`` if given."""
    return binary_inputs(**ranges).map(lambda ab: args(*(fix(*ab) if fix else ab)))


def alternate_signs(a, b):
    """b with every other element negated: |b| stays away from 0, both signs occur."""
    return a, (b * np.where(np.arange(b.size).reshape(b.shape) % 2, 1, -1) if b.ndim else b)


def off_zero_then_shift(a, b):
    """b moved off 0 and shifted by 0.37: a tie a == b happens only where drawn exactly."""
    return a, b + 1e-3 * (np.abs(b) < 1e-9) + 0.37


def off_kinks(a):
    """a with values near 0 and near +-1 moved away (the kinks of abs, sqrt|x|, clamp)."""
    return away_from(away_from(a, [0.0], 1e-2, 0.5), [1.0, -1.0], 1e-2, 0.7)


@st.composite
def reduction_inputs(draw, fix=None, values=None, correction=False):
    """(a, axis=..., keepdims=...): distinct values (``array_and_axis``) or, with
    ``values(shape)`` given, values from that strategy; ``fix`` applied to a. With
    ``correction=True`` a ``correction`` of 0, or 1 when more than one element is reduced."""
    a, axis, keepdims = draw(array_and_axis(unique=True))
    if values is not None:
        a = draw(values(a.shape))
    a = fix(a) if fix else a
    extra = dict(axis=axis, keepdims=keepdims)
    if correction:
        axes = range(a.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        n = int(np.prod([a.shape[i] for i in axes]))
        extra["correction"] = draw(st.sampled_from([0, 1] if n > 1 else [0]))
    return args(a, **extra)


@st.composite
def along_axis_inputs(draw, scale=3.0, values=None):
    """(a * scale, axis=int): an array of >= 1 dims and one axis of it (the softmax
    family); ``values(shape)`` replaces the drawn values when given."""
    a, axis, _ = draw(array_and_axis(min_dims=1))
    if values is not None:
        a = draw(values(a.shape)) / scale
    return args(a * scale, axis=axis if isinstance(axis, int) else -1)


def grid_pair():
    """Two arrays of broadcastable shapes with values on the grid (ties, zeros)."""
    return broadcastable_shapes(min_side=0).flatmap(
        lambda s: st.tuples(on_grid(s[0]), on_grid(s[1]))).map(lambda ab: args(*ab))


MATRIX_SHAPES = shapes(min_dims=2, max_dims=3, min_side=2, max_side=4)   # for indexing
SMALL_SHAPES = shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@st.composite
def pow_scalar_inputs(draw):
    """(x, p=): x in [0.3, 2] (positive: x ** 0.5 and 1 / x), p one of 2, 3, 0.5, -1."""
    a = draw(shapes().flatmap(lambda s: floats(s, 0.3, 2.0)))
    return args(a, p=draw(st.sampled_from([2, 3, 0.5, -1.0])))


@st.composite
def pow_int_inputs(draw):
    """(x, p=): x in [-2, 2] (negative bases too), an integer power p of 2 or 3."""
    return args(draw(shapes().flatmap(floats)), p=draw(st.sampled_from([2, 3])))


@st.composite
def where_inputs(draw):
    """(a, b, cond=): broadcastable arrays and a boolean condition of their broadcast shape."""
    a, b = draw(binary_inputs())
    return args(a, b, cond=draw(masks(np.broadcast_shapes(a.shape, b.shape))))


@st.composite
def masked_fill_inputs(draw):
    """(x, mask=, value=-5): a boolean mask of a suffix of x's shape, some axes 1."""
    a = draw(shapes().flatmap(floats))
    lead = draw(st.integers(0, a.ndim))                  # mask: a suffix of a's shape,
    ones = draw(st.lists(st.booleans(), min_size=a.ndim - lead, max_size=a.ndim - lead))
    shape = tuple(1 if one else n for one, n in zip(ones, a.shape[lead:]))   # some axes 1
    return args(a, mask=draw(masks(shape)), value=-5.0)


def reshape_inputs():
    """(a, shape=a's shape reversed): a float64 array of 1-4 dims, sides 1-3."""
    return shapes(min_dims=1, min_side=1).flatmap(floats).map(
        lambda a: args(a, shape=a.shape[::-1]))


@st.composite
def permute_inputs(draw):
    """(x, dims=): an array of 1-4 dims (sides 1-3) and a permutation of its axes."""
    a = draw(shapes(min_dims=1, min_side=1).flatmap(floats))
    return args(a, dims=tuple(draw(st.permutations(range(a.ndim)))))


@st.composite
def transpose_inputs(draw):
    """(x, dim0=, dim1=): an array of 1-4 dims and two of its axes (negatives, equal too)."""
    a = draw(shapes(min_dims=1, min_side=1).flatmap(floats))
    axis = st.integers(-a.ndim, a.ndim - 1)
    return args(a, dim0=draw(axis), dim1=draw(axis))


@st.composite
def int_index_inputs(draw):
    """(x, i=): a 2-3 dim array (sides 2-4) and an int index of its first axis."""
    a = draw(MATRIX_SHAPES.flatmap(floats))
    return args(a, i=draw(st.integers(-a.shape[0], a.shape[0] - 1)))


@st.composite
def column_index_inputs(draw):
    """(x, idx=): a 2-3 dim array and 1-5 column ids (repeats allowed)."""
    a = draw(MATRIX_SHAPES.flatmap(floats))
    return args(a, idx=draw(index_arrays(st.integers(1, 5), a.shape[1])))   # repeats too


@st.composite
def row_index_inputs(draw):
    """(x, idx=): a 1-3 dim array and a 1-2 dim array of row ids (repeats, 0-size)."""
    a = draw(SMALL_SHAPES.flatmap(floats))
    idx_shape = shapes(min_dims=1, max_dims=2, min_side=0, max_side=4)
    return args(a, idx=draw(index_arrays(idx_shape, a.shape[0])))


@st.composite
def bool_index_inputs(draw):
    """(x, mask=): an array of 1-3 dims and a boolean mask of its shape."""
    a = draw(shapes(min_dims=1, max_dims=3).flatmap(floats))
    return args(a, mask=draw(masks(a.shape)))


@st.composite
def index_add_inputs(draw):
    """(g, shape=, index=, unique=): g scattered into zeros(shape) at an integer index:
    rows with repeats, (all rows, columns) with repeats, or distinct (row, column) pairs."""
    shape = draw(shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["rows", "columns", "pairs"]))
    unique = False
    if kind == "rows":
        index = draw(index_arrays(st.integers(0, 5), shape[0]))
        g_shape = index.shape + shape[1:]
    elif kind == "columns":
        idx = draw(index_arrays(st.integers(0, 5), shape[1]))
        index, g_shape = (slice(None), idx), shape[:1] + idx.shape + shape[2:]
    else:
        flat = draw(st.sets(st.integers(0, shape[0] * shape[1] - 1), max_size=6))
        rows, cols = np.divmod(np.array(sorted(flat), dtype=np.int64), shape[1])
        index, g_shape, unique = (rows, cols), rows.shape + shape[2:], True
    g = draw(floats(g_shape))
    return args(g, shape=shape, index=index, unique=unique)


@st.composite
def gather_inputs(draw, scatter=False):
    """(x, axis=, index=): PyTorch's gather index (x's shape with the axis resized to
    1-4, values along the axis); for ``scatter`` the array is the source g of the index's
    shape and ``shape`` the shape scattered into."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    axis = draw(st.integers(0, len(shape) - 1))
    idx_shape = list(shape)
    idx_shape[axis] = draw(st.integers(1, 4))
    index = draw(index_arrays(tuple(idx_shape), shape[axis]))
    if scatter:
        return args(draw(floats(index.shape)), index=index, axis=axis, shape=shape)
    return args(draw(floats(shape)), axis=axis, index=index)


@st.composite
def concat_inputs(draw):
    """(a, b, axis=): two arrays of 1-3 dims equal but along ``axis``."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[axis] = draw(st.integers(1, 3))
    return args(draw(floats(shape)), draw(floats(tuple(other))), axis=axis)


@st.composite
def stack_inputs(draw):
    """(a, b, axis=): two arrays of one shape and a new axis for them (negatives too)."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return args(draw(floats(shape)), draw(floats(shape)), axis=axis)


@st.composite
def matmul_inputs(draw, left="matrix", right="matrix"):
    """Operands of ``@``: batched matrices with broadcast batch axes, or a vector on one
    side; inner sizes 1-4."""
    M, K, N = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    a = (K,) if left == "vector" else batch_a + (M, K)
    b = (K,) if right == "vector" else batch_b + (K, N)
    return args(draw(floats(a)), draw(floats(b)))


@st.composite
def embedding_inputs(draw):
    """(weight, ids=): a (V, D) table, V 1-5, D 1-4, and 1-2 dim ids in [0, V)."""
    V, D = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    ids = draw(index_arrays(shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), V))
    return args(draw(floats((V, D))), ids=ids)


@st.composite
def cross_entropy_inputs(draw):
    """(logits, target=, ignore_index=-1): logits (4, C) or (2, 3, C), C 2-6, targets
    in [-1, C) (-1 ignored, so a batch may ignore every target)."""
    shape = draw(st.sampled_from([(4,), (2, 3)]))
    C = draw(st.integers(2, 6))
    logits = draw(floats(shape + (C,), -4, 4))
    return args(logits, target=draw(index_arrays(shape, C, low=-1)), ignore_index=-1)


@st.composite
def unsqueeze_squeeze_inputs(draw):
    """(x, axis=): an array of 1-3 dims and one of its axes."""
    a = draw(SMALL_SHAPES.flatmap(floats))
    return args(a, axis=draw(st.integers(-a.ndim, a.ndim - 1)))


@st.composite
def unsqueeze_expand_inputs(draw):
    """(x, lead=): an array of 1-3 dims and the length 1-3 of a new leading axis."""
    return args(draw(SMALL_SHAPES.flatmap(floats)), lead=draw(st.integers(1, 3)))


@st.composite
def expand_inputs(draw):
    """(a, shape=): a target shape for ``expand``: 0-1 new leading axes, size-1 axes
    grown to 1-3, other axes kept or written -1."""
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=2).flatmap(floats))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    kept = tuple(draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1]))
                 for n in a.shape)
    return args(a, shape=lead + kept)


@st.composite
def squeeze_inputs(draw):
    """(x, unsqueeze=, squeeze=): an array of 0-3 dims with sides 1-2 (many size-1
    axes), an axis to insert and an axis of the result to squeeze (None: all)."""
    a = draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=2).flatmap(floats))
    new = st.integers(-a.ndim - 1, a.ndim)               # axes of the unsqueezed shape
    return args(a, unsqueeze=draw(new), squeeze=draw(st.none() | new))


@st.composite
def flip_inputs(draw):
    """(x, axis=): an array of 1-3 dims and one axis or a tuple of distinct axes."""
    a = draw(SMALL_SHAPES.flatmap(floats))
    one = st.integers(-a.ndim, a.ndim - 1)
    several = st.sets(st.integers(0, a.ndim - 1), min_size=1).map(tuple)
    return args(a, axis=draw(one | several))


@st.composite
def split_inputs(draw):
    """(x, size=, axis=): a piece length, or sections that add up to the axis length."""
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5).flatmap(floats))
    axis = draw(st.integers(0, a.ndim - 1))
    n = a.shape[axis]
    if draw(st.booleans()):
        size = draw(st.integers(1, n))
    else:                                                # sections that add up to n
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
        size = list(np.diff([0] + cuts + [n]).tolist())
    return args(a, size=size, axis=axis)


@st.composite
def chunk_inputs(draw):
    """(x, chunks=, axis=, piece=): 1-3 chunks along an axis; the first or the last."""
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5).flatmap(floats))
    return args(a, chunks=draw(st.integers(1, 3)), axis=draw(st.integers(0, a.ndim - 1)),
                piece=draw(st.sampled_from([0, -1])))


@st.composite
def layer_norm_inputs(draw):
    """(x, weight, bias): rows of 2-4 (shifted by 0.3 per element: never constant)
    and the affine parameters of the last axis."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    a = draw(floats(shape)) + np.arange(int(np.prod(shape))).reshape(shape) * 0.3  # not constant
    return args(a, draw(floats(shape[-1:])), draw(floats(shape[-1:])))


@st.composite
def dropout_inputs(draw):
    """(x, p=, seed=): a drop probability 0.4 or 0.75 and a seed for the mask."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    return args(draw(floats(shape)), p=draw(st.sampled_from([0.4, 0.75])),
                seed=draw(st.integers(0, 100)))


@st.composite
def reverse_padded_inputs(draw):
    """(x, lengths=): x (N, T) or (N, T, K) and one length in [0, T] per row."""
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rest = draw(shapes(max_dims=1, min_side=1, max_side=3))
    return args(draw(floats((N, T) + rest)), lengths=draw(index_arrays((N,), T + 1)))


@st.composite
def lstm_inputs(draw):
    """The 7 inputs of ``LSTMSequence``: x (N, T, D), h0, c0 (N, H), w_ih (4H, D),
    w_hh (4H, H), b_ih, b_hh (4H,)."""
    N, T, D, H = (draw(st.integers(1, n)) for n in (3, 4, 3, 3))
    shapes_ = [(N, T, D), (N, H), (N, H), (4 * H, D), (4 * H, H), (4 * H,), (4 * H,)]
    return args(*(draw(floats(s, -1.5, 1.5)) for s in shapes_))


@st.composite
def gru_inputs(draw):
    """The 6 inputs of ``GRUSequence``: x (N, T, D), h0 (N, H), w_ih (3H, D), w_hh (3H, H),
    b_ih, b_hh (3H,)."""
    N, T, D, H = (draw(st.integers(1, n)) for n in (3, 4, 3, 3))
    shapes_ = [(N, T, D), (N, H), (3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]
    return args(*(draw(floats(s, -1.5, 1.5)) for s in shapes_))


@st.composite
def max_dim_inputs(draw):
    """(x, dim=, keepdim=): distinct values far apart (no ties) and one axis."""
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3).flatmap(
        lambda s: floats(s, unique=True)))
    return args(away_from_ties(a), dim=draw(st.integers(-a.ndim, a.ndim - 1)),
                keepdim=draw(st.booleans()))
