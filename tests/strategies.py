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
"""
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
