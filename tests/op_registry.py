"""The op registry: one entry per differentiable op, driving the gradient checks
(``test_ops_gradcheck.py``), the PyTorch parity tests (``test_torch_parity.py``), the
non-contiguous layout tests (``test_structure.py``) and the higher-order tests
(``test_higher_order.py``); ``test_op_registry.py`` checks that every ``Function`` subclass
of the engine has an entry.

An entry (:class:`Op`) has these fields:

``name``
    A unique id (the pytest id of its cases), e.g. ``"matmul"``, ``"max_ties"``.
``functions``
    The names of the ``Function`` classes the entry is for (``("MatMul",)``); every call
    of ``engine`` runs each of them (a test walks the graph to check).
``engine``
    ``engine(*tensors, **extra) -> Tensor``: the op in this engine. ``tensors`` are the
    differentiable inputs, in the order of ``Case.arrays``; ``extra`` holds the inputs that
    are not differentiated (axes, shapes, exponents, index arrays, masks, seeds) as
    keywords. The output is one float Tensor of any shape.
``torch``
    ``torch(*torch_tensors, **extra) -> torch.Tensor``: the same op in PyTorch (the oracle),
    taking torch tensors in place of Tensors and the same ``extra`` (numpy arrays, which it
    converts itself). torch is imported on first use only.
``domain``
    A hypothesis strategy of :class:`Inputs` ``(arrays, extra)``: the float64 input arrays
    and the extras, drawn together (an axis must exist in the drawn shape). It encodes the
    op's input domain: ``positive`` (log, sqrt), ``away from kinks`` (relu, abs, clamp),
    ``away from ties`` (max, min), ``any`` reals, ``extreme`` magnitudes, index arrays.
``examples``
    Fixed :class:`Inputs` that every consumer runs besides the drawn ones (the inputs the
    parity tests were first written with).
``smooth``
    ``False`` when the domain puts inputs on kinks or ties on purpose (``on_grid``): the
    subgradient is what the entry tests against PyTorch, so numerical gradient checks and
    higher-order tests skip it; parity and layout tests run it.
``max_order``
    ``None``: derivatives of every order; ``1``: first-order only (the fused ops, whose
    backward is hand-written).

Drawing a case inside a hypothesis test::

    @given(data=st.data())
    def test_something(data):
        case = entry.inputs(data)                 # Case: .arrays (float64), .extra
        xs = [Tensor(a, requires_grad=True) for a in case.arrays]
        y = case.engine(*xs)                      # entry.engine(*xs, **case.extra)
        yt = case.torch(*(torch.tensor(a, requires_grad=True) for a in case.arrays))

``entry.inputs(data, dtype=np.float32)`` gives the same draw as float32 arrays;
``entry.example_cases()`` the fixed examples as Cases. ``REGISTRY`` is the tuple of all
entries, ``BY_NAME`` maps names to entries, ``engine_functions()`` lists the engine's
``Function`` classes and ``missing_entries()`` those that no entry names.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor, fused, ops
from tinygrad_attn import functional as F

from .strategies import (array_and_axis, away_from, away_from_ties, binary_inputs,
                         broadcastable_shapes, extreme, floats, index_arrays, masks, on_grid,
                         shapes)


class _LazyTorch:
    """``torch``, imported on first attribute access (the gradient checks never need it)."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)


torch = _LazyTorch()


# ------------------------------------------------------------------------ the entry types
class Inputs(NamedTuple):
    """What a domain draws: ``arrays`` (float64 ndarrays, the differentiable inputs) and
    ``extra`` (a dict of keyword arguments that are not differentiated)."""
    arrays: tuple
    extra: dict


def args(*arrays, **extra) -> Inputs:
    """``Inputs(arrays, extra)``, written as a call."""
    return Inputs(tuple(np.asarray(a, dtype=np.float64) for a in arrays), extra)


@dataclasses.dataclass(frozen=True)
class Case:
    """One drawn (or fixed) input of an entry: ``arrays`` in the requested float dtype,
    ``extra`` the keywords; ``engine``/``torch`` call the entry's functions with them."""
    op: "Op"
    arrays: tuple
    extra: dict

    def engine(self, *tensors):
        """``op.engine(*tensors, **extra)``."""
        return self.op.engine(*tensors, **self.extra)

    def torch(self, *tensors):
        """``op.torch(*tensors, **extra)``."""
        return self.op.torch(*tensors, **self.extra)


@dataclasses.dataclass(frozen=True)
class Op:
    """One registry entry; the fields are described in the module docstring."""
    name: str
    functions: tuple
    engine: Callable
    torch: Callable
    domain: st.SearchStrategy
    examples: tuple = ()
    smooth: bool = True
    max_order: int | None = None

    def case(self, inputs: Inputs, dtype=np.float64) -> Case:
        """``inputs`` as a Case with its arrays converted to ``dtype``."""
        return Case(self, tuple(np.asarray(a, dtype=dtype) for a in inputs.arrays),
                    dict(inputs.extra))

    def inputs(self, data, dtype=np.float64) -> Case:
        """Draw a Case from ``domain`` with hypothesis's ``data`` (``st.data()``)."""
        return self.case(data.draw(self.domain, label=self.name), dtype)

    def example_cases(self, dtype=np.float64) -> list:
        """The fixed ``examples`` as Cases."""
        return [self.case(e, dtype) for e in self.examples]

    def __repr__(self):
        return f"Op({self.name})"


def variant(op: Op, name: str, domain, smooth=True) -> Op:
    """``op`` under a new ``name`` with another input ``domain`` and no fixed examples."""
    return dataclasses.replace(op, name=name, domain=domain, examples=(), smooth=smooth)


# ------------------------------------------------------------------------ torch helpers
def _tt(a):
    """A numpy array (index, mask) as a torch tensor."""
    return torch.as_tensor(np.asarray(a))


def _dims(t, axis):
    """An engine ``axis`` (None, int or tuple) as PyTorch's tuple ``dim`` for ``t``."""
    if axis is None:
        return tuple(range(t.ndim))
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


_rng = np.random.default_rng(0)


def _r(*shape, lo=-2.0, hi=2.0):
    """Uniform values in [lo, hi) of ``shape`` from the registry's seeded generator (the
    fixed examples; the same numbers on every run)."""
    return _rng.uniform(lo, hi, size=shape)


# ------------------------------------------------------------------------ domains
def _one(lo, hi, shape=None, fix=None):
    """One float64 array of a drawn shape (default 0-4 dims, sides 0-3) in [lo, hi],
    passed through ``fix`` (a function of the array) if given."""
    arrays = (shape if shape is not None else shapes()).flatmap(lambda s: floats(s, lo, hi))
    return arrays.map(lambda a: args(fix(a) if fix else a))


def _two(fix=None, **ranges):
    """Two float64 arrays of mutually broadcastable shapes (``binary_inputs(**ranges)``),
    passed through ``fix(a, b) -> (a, b)`` if given."""
    return binary_inputs(**ranges).map(lambda ab: args(*(fix(*ab) if fix else ab)))


def _alternate_signs(a, b):
    """b with every other element negated: |b| stays away from 0, both signs occur."""
    return a, (b * np.where(np.arange(b.size).reshape(b.shape) % 2, 1, -1) if b.ndim else b)


def _off_zero_then_shift(a, b):
    """b moved off 0 and shifted by 0.37: a tie a == b happens only where drawn exactly."""
    return a, b + 1e-3 * (np.abs(b) < 1e-9) + 0.37


def _off_kinks(a):
    """a with values near 0 and near +-1 moved away (the kinks of abs, sqrt|x|, clamp)."""
    return away_from(away_from(a, [0.0], 1e-2, 0.5), [1.0, -1.0], 1e-2, 0.7)


@st.composite
def _reduction(draw, fix=None, values=None, correction=False):
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
def _along_axis(draw, scale=3.0, values=None):
    """(a * scale, axis=int): an array of >= 1 dims and one axis of it (the softmax
    family); ``values(shape)`` replaces the drawn values when given."""
    a, axis, _ = draw(array_and_axis(min_dims=1))
    if values is not None:
        a = draw(values(a.shape)) / scale
    return args(a * scale, axis=axis if isinstance(axis, int) else -1)


def _grid_pair():
    """Two arrays of broadcastable shapes with values on the grid (ties, zeros)."""
    return broadcastable_shapes(min_side=0).flatmap(
        lambda s: st.tuples(on_grid(s[0]), on_grid(s[1]))).map(lambda ab: args(*ab))


_MATRICES = shapes(min_dims=2, max_dims=3, min_side=2, max_side=4)   # for indexing
_SMALL = shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@st.composite
def _pow_scalar(draw):
    a = draw(shapes().flatmap(lambda s: floats(s, 0.3, 2.0)))
    return args(a, p=draw(st.sampled_from([2, 3, 0.5, -1.0])))


@st.composite
def _pow_int(draw):
    return args(draw(shapes().flatmap(floats)), p=draw(st.sampled_from([2, 3])))


@st.composite
def _where(draw):
    a, b = draw(binary_inputs())
    return args(a, b, cond=draw(masks(np.broadcast_shapes(a.shape, b.shape))))


@st.composite
def _masked_fill(draw):
    a = draw(shapes().flatmap(floats))
    lead = draw(st.integers(0, a.ndim))                  # mask: a suffix of a's shape,
    ones = draw(st.lists(st.booleans(), min_size=a.ndim - lead, max_size=a.ndim - lead))
    shape = tuple(1 if one else n for one, n in zip(ones, a.shape[lead:]))   # some axes 1
    return args(a, mask=draw(masks(shape)), value=-5.0)


@st.composite
def _permutation(draw):
    a = draw(shapes(min_dims=1, min_side=1).flatmap(floats))
    return args(a, dims=tuple(draw(st.permutations(range(a.ndim)))))


@st.composite
def _two_axes(draw):
    a = draw(shapes(min_dims=1, min_side=1).flatmap(floats))
    axis = st.integers(-a.ndim, a.ndim - 1)
    return args(a, dim0=draw(axis), dim1=draw(axis))


@st.composite
def _int_index(draw):
    a = draw(_MATRICES.flatmap(floats))
    return args(a, i=draw(st.integers(-a.shape[0], a.shape[0] - 1)))


@st.composite
def _column_index(draw):
    a = draw(_MATRICES.flatmap(floats))
    return args(a, idx=draw(index_arrays(st.integers(1, 5), a.shape[1])))   # repeats too


@st.composite
def _row_index(draw):
    a = draw(_SMALL.flatmap(floats))
    idx_shape = shapes(min_dims=1, max_dims=2, min_side=0, max_side=4)
    return args(a, idx=draw(index_arrays(idx_shape, a.shape[0])))


@st.composite
def _bool_index(draw):
    a = draw(shapes(min_dims=1, max_dims=3).flatmap(floats))
    return args(a, mask=draw(masks(a.shape)))


@st.composite
def _index_add(draw):
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
def _gather_index(draw, scatter=False):
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
def _concat(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[axis] = draw(st.integers(1, 3))
    return args(draw(floats(shape)), draw(floats(tuple(other))), axis=axis)


@st.composite
def _stack(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return args(draw(floats(shape)), draw(floats(shape)), axis=axis)


@st.composite
def _matmul(draw, left="matrix", right="matrix"):
    """Operands of ``@``: batched matrices with broadcast batch axes, or a vector on one
    side; inner sizes 1-4."""
    M, K, N = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    a = (K,) if left == "vector" else batch_a + (M, K)
    b = (K,) if right == "vector" else batch_b + (K, N)
    return args(draw(floats(a)), draw(floats(b)))


@st.composite
def _embedding(draw):
    V, D = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    ids = draw(index_arrays(shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), V))
    return args(draw(floats((V, D))), ids=ids)


@st.composite
def _cross_entropy(draw):
    shape = draw(st.sampled_from([(4,), (2, 3)]))
    C = draw(st.integers(2, 6))
    logits = draw(floats(shape + (C,), -4, 4))
    return args(logits, target=draw(index_arrays(shape, C, low=-1)), ignore_index=-1)


@st.composite
def _unsqueeze_squeeze(draw):
    a = draw(_SMALL.flatmap(floats))
    return args(a, axis=draw(st.integers(-a.ndim, a.ndim - 1)))


@st.composite
def _unsqueeze_expand(draw):
    return args(draw(_SMALL.flatmap(floats)), lead=draw(st.integers(1, 3)))


@st.composite
def _expand(draw):
    """(a, shape=): a target shape for ``expand``: 0-1 new leading axes, size-1 axes
    grown to 1-3, other axes kept or written -1."""
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=2).flatmap(floats))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    kept = tuple(draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1]))
                 for n in a.shape)
    return args(a, shape=lead + kept)


@st.composite
def _squeeze(draw):
    a = draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=2).flatmap(floats))
    new = st.integers(-a.ndim - 1, a.ndim)               # axes of the unsqueezed shape
    return args(a, unsqueeze=draw(new), squeeze=draw(st.none() | new))


@st.composite
def _flip(draw):
    a = draw(_SMALL.flatmap(floats))
    one = st.integers(-a.ndim, a.ndim - 1)
    several = st.sets(st.integers(0, a.ndim - 1), min_size=1).map(tuple)
    return args(a, axis=draw(one | several))


@st.composite
def _split(draw):
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
def _chunk(draw):
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5).flatmap(floats))
    return args(a, chunks=draw(st.integers(1, 3)), axis=draw(st.integers(0, a.ndim - 1)),
                piece=draw(st.sampled_from([0, -1])))


@st.composite
def _layer_norm(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    a = draw(floats(shape)) + np.arange(int(np.prod(shape))).reshape(shape) * 0.3  # not constant
    return args(a, draw(floats(shape[-1:])), draw(floats(shape[-1:])))


@st.composite
def _dropout(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    return args(draw(floats(shape)), p=draw(st.sampled_from([0.4, 0.0, 0.75, 1.0])),
                seed=draw(st.integers(0, 100)))


@st.composite
def _reverse_padded(draw):
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rest = draw(shapes(max_dims=1, min_side=1, max_side=3))
    return args(draw(floats((N, T) + rest)), lengths=draw(index_arrays((N,), T + 1)))


@st.composite
def _lstm(draw):
    """The 7 inputs of ``LSTMSequence``: x (N, T, D), h0, c0 (N, H), w_ih (4H, D),
    w_hh (4H, H), b_ih, b_hh (4H,)."""
    N, T, D, H = (draw(st.integers(1, n)) for n in (3, 4, 3, 3))
    shapes_ = [(N, T, D), (N, H), (N, H), (4 * H, D), (4 * H, H), (4 * H,), (4 * H,)]
    return args(*(draw(floats(s, -1.5, 1.5)) for s in shapes_))


@st.composite
def _max_dim(draw):
    a = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=3).flatmap(
        lambda s: floats(s, unique=True)))
    return args(away_from_ties(a), dim=draw(st.integers(-a.ndim, a.ndim - 1)),
                keepdim=draw(st.booleans()))


def _lstm_example():
    """The fixed LSTMSequence inputs (N, T, D, H = 2, 4, 3, 5) of the first gradient check."""
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s) * 0.7 for s in
            [(2, 4, 3), (2, 5), (2, 5), (20, 3), (20, 5), (20,), (20,)]]


# ------------------------------------------------------------------------ torch twins
def _torch_index_add(g, shape, index, unique=False):
    """zeros(shape) with g added at ``index``, by flat positions (an oracle that is not
    np.add.at): ``arange(size).reshape(shape)[index]`` names the target of each g."""
    size = int(np.prod(shape))
    pos = np.arange(size).reshape(shape)[index]
    flat = torch.zeros(size, dtype=g.dtype).index_add(0, _tt(pos.reshape(-1)), g.reshape(-1))
    return flat.reshape(shape)


def _torch_cross_entropy(x, target, ignore_index):
    """PyTorch's cross_entropy summed over the kept targets and divided by their number,
    at least 1: the engine's documented convention (an all-ignored batch gives 0, where
    PyTorch's mean gives nan)."""
    C, t = x.shape[-1], _tt(target).reshape(-1)
    total = torch.nn.functional.cross_entropy(x.reshape(-1, C), t, ignore_index=ignore_index,
                                              reduction="sum")
    return total / max(int((t != ignore_index).sum()), 1)


def _torch_dropout(x, p, seed, training=True):
    """Dropout with the engine's mask (``rng.random(shape) >= p`` from ``default_rng(seed)``;
    PyTorch cannot draw numpy's numbers), times 2; PyTorch's own dropout where no mask is
    drawn (evaluation, p = 0, p = 1)."""
    if not training or p in (0.0, 1.0):
        return torch.nn.functional.dropout(x, p, training=training) * 2
    keep = np.random.default_rng(seed).random(tuple(x.shape)) >= p
    return x * torch.as_tensor(keep, dtype=x.dtype) / (1 - p) * 2


def _torch_reverse_padded(x, lengths):
    rows = [torch.cat([x[n, :L].flip(0), x[n, L:]]) for n, L in enumerate(lengths.tolist())]
    return torch.stack(rows)


def _torch_lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's LSTM cell stepped over time: (2, N, T, H) hidden and cell states."""
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c = torch.lstm_cell(x[:, t], (h, c), w_ih, w_hh, b_ih, b_hh)
        hs.append(h)
        cs.append(c)
    return torch.stack([torch.stack(hs, 1), torch.stack(cs, 1)])


def _split_concat(cat, parts):
    return cat([p * (k + 1) for k, p in enumerate(parts)])


def _unsqueeze_then_squeeze(x, unsqueeze, squeeze):
    y = x.unsqueeze(unsqueeze)
    return (y.squeeze() if squeeze is None else y.squeeze(squeeze)) * 2


# ------------------------------------------------------------------------ the entries
_ELEMENTWISE = [
    Op("add", ("Add",), lambda a, b: a + b, lambda a, b: a + b, _two(),
       examples=(args(_r(3, 1, 4), _r(2, 1)),)),
    Op("sub", ("Sub",), lambda a, b: a - b, lambda a, b: a - b, _two(),
       examples=(args(_r(3, 4), _r(4)),)),
    Op("mul", ("Mul",), lambda a, b: a * b, lambda a, b: a * b, _two(),
       examples=(args(_r(2, 3), _r(1, 3)),)),
    Op("div", ("Div",), lambda a, b: a / b, lambda a, b: a / b,
       _two(_alternate_signs, lo_b=0.5, hi_b=2.0),
       examples=(args(_r(2, 3), _r(2, 3, lo=0.5)),)),
    Op("pow", ("Pow",), lambda a, b: a ** b, lambda a, b: a ** b,
       _two(lo=0.5, hi=2.0, lo_b=-1.5, hi_b=1.5),
       examples=(args(_r(2, 3, lo=0.5), _r(2, 3)),)),
    Op("pow_scalar_operands", ("Pow", "Div", "Sub", "Mul", "Add"),   # x ** p, 2 / x, 1 - x
       lambda x, p: x ** p + 2.0 / x - (1.0 - x) * 3.0,
       lambda x, p: x ** p + 2.0 / x - (1.0 - x) * 3.0, _pow_scalar()),
    Op("pow_int", ("Pow",), lambda x, p: x ** p, lambda x, p: x ** p,   # negative bases too
       _pow_int(), examples=(args(_r(4), p=3),)),
    Op("maximum", ("Maximum",), lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b),
       _two(_off_zero_then_shift), examples=(args(_r(3, 4), _r(4)),)),
    Op("minimum", ("Minimum",), lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b),
       _two(_off_zero_then_shift), examples=(args(_r(3, 4), _r(3, 1)),)),
    Op("where", ("Where", "Mul"), lambda a, b, cond: tg.where(cond, a, b * b),
       lambda a, b, cond: torch.where(_tt(cond), a, b * b), _where(),
       examples=(args(_r(2, 3), _r(3), cond=np.array([[True, False, True]])),)),
    Op("masked_fill", ("MaskedFill", "Mul"),
       lambda x, mask, value: x.masked_fill(mask, value) * x,
       lambda x, mask, value: x.masked_fill(_tt(mask), value) * x, _masked_fill(),
       examples=(args(_r(2, 3), mask=np.array([False, True, False]), value=-1.5),)),
    Op("cast", ("Cast",), lambda x: ops.Cast.apply(x, dtype=np.float64),  # float32 -> 64 too
       lambda x: x.to(torch.float64), _one(-2.0, 2.0)),
    Op("neg", ("Neg",), lambda x: -x, lambda x: -x, _one(-3, 3), examples=(args(_r(5)),)),
    Op("exp", ("Exp",), lambda x: x.exp(), lambda x: x.exp(), _one(-3, 3),
       examples=(args(_r(2, 3)),)),
    Op("log", ("Log",), lambda x: x.log(), lambda x: x.log(), _one(0.2, 4),
       examples=(args(_r(2, 3, lo=0.1)),)),
    Op("tanh", ("Tanh",), lambda x: x.tanh(), lambda x: x.tanh(), _one(-3, 3),
       examples=(args(_r(2, 3)),)),
    Op("sigmoid", ("Sigmoid",), lambda x: x.sigmoid(), lambda x: x.sigmoid(), _one(-6, 6),
       examples=(args(_r(2, 3) * 5),)),
    Op("relu", ("ReLU",), lambda x: x.relu(), lambda x: x.relu(),
       _one(-2, 2, fix=lambda a: away_from(a, [0.0], 1e-3, 0.5)), examples=(args(_r(2, 3)),)),
    Op("abs", ("Abs",), lambda x: x.abs(), lambda x: x.abs(), _one(-2, 2, fix=_off_kinks),
       examples=(args(_r(2, 3)),)),
    Op("sqrt", ("Sqrt", "Abs"), lambda x: x.abs().sqrt(), lambda x: x.abs().sqrt(),
       _one(-2, 2, fix=_off_kinks), examples=(args(_r(2, 3, lo=0.1)),)),
    Op("clamp", ("Clamp", "Add", "Mul"),
       lambda x, lo=-1.0, hi=1.0: x.clamp(lo, hi) + x.clamp(min=0.0) * x.clamp(max=0.0),
       lambda x, lo=-1.0, hi=1.0: x.clamp(lo, hi) + x.clamp(min=0.0) * x.clamp(max=0.0),
       _one(-2, 2, fix=_off_kinks), examples=(args(_r(3, 4), lo=-0.5, hi=0.7),)),
]

_REDUCTIONS = [
    Op("sum", ("Sum",), lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.sum(dim=_dims(x, axis), keepdim=keepdims), _reduction(),
       examples=(args(_r(2, 3, 4), axis=(0, 2), keepdims=True),)),
    Op("mean", ("Mean",), lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.mean(dim=_dims(x, axis), keepdim=keepdims), _reduction(),
       examples=(args(_r(2, 3, 4), axis=1, keepdims=False),)),
    Op("max", ("Max",), lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.amax(dim=_dims(x, axis), keepdim=keepdims),
       _reduction(fix=away_from_ties),
       examples=(args(_r(3, 5), axis=-1, keepdims=False),)),
    Op("min", ("Min",), lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.amin(dim=_dims(x, axis), keepdim=keepdims),
       _reduction(fix=away_from_ties),
       examples=(args(_r(3, 5), axis=0, keepdims=False),)),
    Op("max_dim", ("Gather",), lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim).values,
       lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim).values, _max_dim()),
    Op("min_dim", ("Gather",), lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim).values,
       lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim).values, _max_dim()),
    Op("logsumexp", ("LogSumExp",),
       lambda x, axis, keepdims: x.logsumexp(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.logsumexp(dim=_dims(x, axis), keepdim=keepdims),
       _reduction(), examples=(args(_r(3, 5) * 4, axis=1, keepdims=False),)),
    Op("var", ("Mean", "Sub", "Mul", "Sum", "Div"),       # composed from primitive ops
       lambda x, axis, keepdims, correction: x.var(axis=axis, correction=correction,
                                                   keepdims=keepdims),
       lambda x, axis, keepdims, correction: x.var(dim=_dims(x, axis), correction=correction,
                                                   keepdim=keepdims),
       _reduction(correction=True),
       examples=(args(_r(3, 5), axis=1, keepdims=False, correction=1),)),
]

_SHAPES = [
    Op("reshape", ("Reshape",), lambda x, shape: x.reshape(-1).reshape(shape) * 2,
       lambda x, shape: x.reshape(-1).reshape(shape) * 2,
       shapes(min_dims=1, min_side=1).flatmap(floats).map(lambda a: args(a, shape=a.shape[::-1])),
       examples=(args(_r(2, 6), shape=(4, -1)),)),
    Op("permute", ("Permute",), lambda x, dims: x.permute(dims) * 2,
       lambda x, dims: x.permute(*dims) * 2, _permutation(),
       examples=(args(_r(2, 3, 4), dims=(2, 0, 1)),)),
    Op("transpose", ("Permute",), lambda x, dim0, dim1: x.transpose(dim0, dim1) * 2,
       lambda x, dim0, dim1: x.transpose(dim0, dim1) * 2,
       _two_axes(), examples=(args(_r(2, 3), dim0=0, dim1=1),)),
    Op("getitem_int", ("GetItem",), lambda x, i: x[i], lambda x, i: x[i], _int_index()),
    Op("getitem_slices", ("GetItem",), lambda x: x[1:, ::2] * 2, lambda x: x[1:, ::2] * 2,
       _MATRICES.flatmap(floats).map(args), examples=(args(_r(3, 5)),)),
    Op("getitem_reversed", ("GetItem",), lambda x: x[::-1, 1:],   # a negative step
       lambda x: x.flip(0)[:, 1:], _MATRICES.flatmap(floats).map(args)),
    Op("getitem_ellipsis", ("GetItem",), lambda x: x[..., -1], lambda x: x[..., -1],
       _MATRICES.flatmap(floats).map(args)),
    Op("getitem_newaxis", ("GetItem",), lambda x: x[None, ..., 1:], lambda x: x[None, ..., 1:],
       _SMALL.flatmap(floats).map(args)),
    Op("getitem_int_array", ("GetItem", "Mul"), lambda x, idx: x[:, idx] * x[:, idx],
       lambda x, idx: x[:, _tt(idx)] * x[:, _tt(idx)], _column_index()),
    Op("getitem_rows", ("GetItem",), lambda x, idx: x[idx] * 3, lambda x, idx: x[_tt(idx)] * 3,
       _row_index(), examples=(args(_r(3, 2), idx=np.array([0, 2, 0])),)),
    Op("getitem_bool_mask", ("GetItem",), lambda x, mask: x[mask] * 2,
       lambda x, mask: x[_tt(mask)] * 2, _bool_index()),
    Op("index_add", ("IndexAdd",),
       lambda g, shape, index, unique: ops.IndexAdd.apply(g, shape=shape, index=index,
                                                          unique=unique),
       _torch_index_add, _index_add()),
    Op("unsqueeze_squeeze", ("Reshape", "Mul"), lambda x, axis: x.unsqueeze(axis).squeeze(axis) * x,
       lambda x, axis: x.unsqueeze(axis).squeeze(axis) * x, _unsqueeze_squeeze()),
    Op("squeeze", ("Reshape",), _unsqueeze_then_squeeze, _unsqueeze_then_squeeze, _squeeze(),
       examples=(args(_r(3, 1, 2), unsqueeze=0, squeeze=2),)),
    Op("unsqueeze_expand", ("Reshape", "BroadcastTo"),
       lambda x, lead: x.unsqueeze(0).expand((lead,) + tuple(x.shape)),
       lambda x, lead: x.unsqueeze(0).expand((lead,) + tuple(x.shape)), _unsqueeze_expand()),
    Op("expand", ("BroadcastTo",), lambda x, shape: x.expand(*shape),
       lambda x, shape: x.expand(*shape), _expand(),
       examples=(args(_r(1, 2, 3), shape=(3, -1, -1)),)),
    Op("flip", ("Flip", "Mul"), lambda x, axis: x.flip(axis) * x,
       lambda x, axis: x.flip(_dims(x, axis)) * x, _flip(), examples=(args(_r(2, 4), axis=1),)),
    Op("split", ("GetItem", "Concat"),
       lambda x, size, axis: _split_concat(lambda ps: tg.concat(ps, axis), x.split(size, axis)),
       lambda x, size, axis: _split_concat(lambda ps: torch.cat(ps, axis),
                                           x.split(size, dim=axis)),
       _split(), examples=(args(_r(2, 4), size=[1, 3], axis=1),)),
    Op("chunk", ("GetItem",), lambda x, chunks, axis, piece: x.chunk(chunks, axis)[piece] * 2,
       lambda x, chunks, axis, piece: x.chunk(chunks, dim=axis)[piece] * 2, _chunk(),
       examples=(args(_r(5, 2), chunks=2, axis=0, piece=1),)),
    Op("gather", ("Gather",), lambda x, axis, index: x.gather(axis, index),
       lambda x, axis, index: x.gather(axis, _tt(index)), _gather_index(),
       examples=(args(_r(2, 3), axis=1, index=np.array([[0, 2], [1, 1]])),)),
    Op("scatter_add", ("ScatterAdd",),
       lambda g, index, axis, shape: ops.ScatterAdd.apply(g, Tensor(index), axis=axis,
                                                          shape=shape),
       lambda g, index, axis, shape: torch.zeros(shape, dtype=g.dtype).scatter_add(
           axis, _tt(index), g), _gather_index(scatter=True)),
    Op("concat", ("Concat",), lambda a, b, axis: tg.concat([a, b, a], axis=axis),
       lambda a, b, axis: torch.cat([a, b, a], dim=axis), _concat(),
       examples=(args(_r(2, 3), _r(2, 1), axis=1),)),
    Op("stack", ("Stack",), lambda a, b, axis: tg.stack([a, b], axis=axis),
       lambda a, b, axis: torch.stack([a, b], dim=axis), _stack(),
       examples=(args(_r(2, 3), _r(2, 3), axis=-1),)),
    Op("reverse_padded", ("ReversePadded",),
       lambda x, lengths: ops.ReversePadded.apply(x, lengths=lengths),
       _torch_reverse_padded, _reverse_padded()),
]

_LINEAR_AND_LOSSES = [
    Op("matmul", ("MatMul",), lambda a, b: a @ b, lambda a, b: a @ b, _matmul(),
       examples=(args(_r(2, 1, 3, 4), _r(3, 4, 5)),)),
    Op("matmul_vector", ("MatMul", "Reshape"), lambda a, b: a @ b, lambda a, b: a @ b,
       _matmul(right="vector")),
    Op("vector_matmul", ("MatMul", "Reshape"), lambda a, b: a @ b, lambda a, b: a @ b,
       _matmul(left="vector"), examples=(args(_r(4), _r(4, 3)),)),
    Op("embedding", ("Embedding",), lambda w, ids: F.embedding(ids, w),
       lambda w, ids: torch.nn.functional.embedding(_tt(ids), w), _embedding(),
       examples=(args(_r(4, 3), ids=np.array([[0, 3], [3, 1]])),)),
    Op("softmax", ("Softmax",), lambda x, axis: x.softmax(axis),
       lambda x, axis: torch.softmax(x, axis), _along_axis(),
       examples=(args(_r(2, 5, 3) * 3, axis=1),)),
    Op("log_softmax", ("LogSoftmax",), lambda x, axis: x.log_softmax(axis),
       lambda x, axis: torch.log_softmax(x, axis), _along_axis(),
       examples=(args(_r(4, 6) * 3, axis=-1),)),
    Op("cross_entropy", ("LogSoftmax", "NLLLoss"),
       lambda x, target, ignore_index: F.cross_entropy(x, target, ignore_index=ignore_index),
       _torch_cross_entropy, _cross_entropy(),
       examples=(args(_r(6, 5) * 3, target=np.array([1, 4, -100, 0, -100, 2]),
                      ignore_index=-100),)),
    Op("layer_norm", ("Mean", "Sub", "Mul", "Add", "Sqrt", "Div"),   # composed
       lambda x, *wb: F.layer_norm(x, x.shape[-1], *wb),
       lambda x, *wb: torch.nn.functional.layer_norm(x, x.shape[-1:], *wb), _layer_norm(),
       examples=(args(_r(3, 4)),)),
    Op("dropout", ("Mul",),
       lambda x, p, seed, training=True: F.dropout(
           x, p, training=training, rng=np.random.default_rng(seed)) * 2,
       _torch_dropout, _dropout(), examples=(args(_r(3), p=0.3, seed=0, training=False),)),
    Op("lstm_sequence", ("LSTMSequence",), lambda *a: fused.LSTMSequence.apply(*a),
       _torch_lstm_sequence, _lstm(), max_order=1,
       examples=(args(*_lstm_example()),)),
]

_BY = {op.name: op for op in _ELEMENTWISE + _REDUCTIONS + _SHAPES + _LINEAR_AND_LOSSES}

# the same ops where the domain is the point: huge magnitudes (stability) and, with
# smooth=False, inputs on kinks and ties (the subgradients PyTorch takes)
_VARIANTS = [
    variant(_BY["softmax"], "softmax_extreme", _along_axis(scale=1.0, values=extreme)),
    variant(_BY["log_softmax"], "log_softmax_extreme", _along_axis(scale=1.0, values=extreme)),
    variant(_BY["logsumexp"], "logsumexp_extreme", _reduction(values=extreme)),
    variant(_BY["sigmoid"], "sigmoid_extreme", shapes().flatmap(extreme).map(args)),
    variant(_BY["tanh"], "tanh_extreme", shapes().flatmap(extreme).map(args)),
    variant(_BY["relu"], "relu_kinks", shapes().flatmap(on_grid).map(args), smooth=False),
    variant(_BY["abs"], "abs_kinks", shapes().flatmap(on_grid).map(args), smooth=False),
    variant(_BY["clamp"], "clamp_kinks",
            shapes().flatmap(on_grid).map(lambda a: args(a, lo=-0.5, hi=0.5)), smooth=False),
    variant(_BY["max"], "max_ties", _reduction(values=on_grid), smooth=False),
    variant(_BY["min"], "min_ties", _reduction(values=on_grid), smooth=False),
    variant(_BY["maximum"], "maximum_ties", _grid_pair(), smooth=False),
    variant(_BY["minimum"], "minimum_ties", _grid_pair(), smooth=False),
]

REGISTRY = tuple(_BY.values()) + tuple(_VARIANTS)
BY_NAME = {op.name: op for op in REGISTRY}
assert len(BY_NAME) == len(REGISTRY), "registry names must be unique"


# ------------------------------------------------------------------------ coverage
def engine_functions(root=None) -> dict:
    """``{class name: class}`` of every subclass (at any depth) of ``root`` (default
    ``tinygrad_attn.Function``) defined in the engine, i.e. whose ``__module__`` starts
    with ``tinygrad_attn``, after importing every module of the package (so an op in a
    module that nothing imports yet is found too). Classes defined in tests are left out."""
    for info in pkgutil.walk_packages(tg.__path__, prefix="tinygrad_attn."):
        importlib.import_module(info.name)
    found, stack = {}, [root or tg.Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.split(".")[0] == "tinygrad_attn":
                found[sub.__name__] = sub
    return found


def missing_entries(registry=REGISTRY, root=None) -> list:
    """Sorted names of the engine's ``Function`` classes that no entry of ``registry``
    lists in its ``functions``."""
    named = {name for op in registry for name in op.functions}
    return sorted(set(engine_functions(root)) - named)
