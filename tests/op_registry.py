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
    A hypothesis strategy of ``Inputs(arrays, extra)`` (``tests/strategies.py``, section "op
    inputs"): the float64 input arrays and the extras, drawn together (an axis must exist
    in the drawn shape). It encodes the op's input domain: ``positive`` (log, sqrt),
    ``away from kinks`` (relu, abs, clamp), ``away from ties`` (max, min), ``any`` reals,
    ``extreme`` magnitudes, index arrays.
``examples``
    Fixed ``Inputs`` that every consumer runs besides the drawn ones (the inputs the
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
from typing import Callable

import numpy as np
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor, fused, ops
from tinygrad_attn import functional as F

from . import strategies as S
from .strategies import Inputs, args, away_from, away_from_ties, extreme, on_grid, shapes


class _LazyTorch:
    """``torch``, imported on first attribute access (the gradient checks never need it)."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)


torch = _LazyTorch()


# ------------------------------------------------------------------------ the entry types
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


def _lstm_example():
    """The fixed LSTMSequence inputs (N, T, D, H = 2, 4, 3, 5) of the first gradient check."""
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s) * 0.7 for s in
            [(2, 4, 3), (2, 5), (2, 5), (20, 3), (20, 5), (20,), (20,)]]


def _gru_example():
    """The fixed GRUSequence inputs (N, T, D, H = 2, 4, 3, 5) of the first gradient check."""
    rng = np.random.default_rng(2)
    return [rng.standard_normal(s) * 0.7 for s in
            [(2, 4, 3), (2, 5), (15, 3), (15, 5), (15,), (15,)]]


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
    """Each row's first ``lengths[n]`` steps reversed, row by row."""
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


def _torch_gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU cell stepped over time: (N, T, H) hidden states."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = torch.gru_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
        hs.append(h)
    return torch.stack(hs, 1)


def _split_concat(cat, parts):
    """The pieces scaled by 1, 2, 3, ... and joined again by ``cat``."""
    return cat([p * (k + 1) for k, p in enumerate(parts)])


def _unsqueeze_then_squeeze(x, unsqueeze, squeeze):
    """x with an axis inserted, then one (or every) size-1 axis dropped, times 2."""
    y = x.unsqueeze(unsqueeze)
    return (y.squeeze() if squeeze is None else y.squeeze(squeeze)) * 2


# ------------------------------------------------------------------------ the entries
_ELEMENTWISE = [
    Op("add", ("Add",), lambda a, b: a + b, lambda a, b: a + b, S.two_arrays(),
       examples=(args(_r(3, 1, 4), _r(2, 1)),)),
    Op("sub", ("Sub",), lambda a, b: a - b, lambda a, b: a - b, S.two_arrays(),
       examples=(args(_r(3, 4), _r(4)),)),
    Op("mul", ("Mul",), lambda a, b: a * b, lambda a, b: a * b, S.two_arrays(),
       examples=(args(_r(2, 3), _r(1, 3)),)),
    Op("div", ("Div",), lambda a, b: a / b, lambda a, b: a / b,
       S.two_arrays(S.alternate_signs, lo_b=0.5, hi_b=2.0),
       examples=(args(_r(2, 3), _r(2, 3, lo=0.5)),)),
    Op("pow", ("Pow",), lambda a, b: a ** b, lambda a, b: a ** b,
       S.two_arrays(lo=0.5, hi=2.0, lo_b=-1.5, hi_b=1.5),
       examples=(args(_r(2, 3, lo=0.5), _r(2, 3)),)),
    Op("pow_scalar_operands", ("Pow", "Div", "Sub", "Mul", "Add"),   # x ** p, 2 / x, 1 - x
       lambda x, p: x ** p + 2.0 / x - (1.0 - x) * 3.0,
       lambda x, p: x ** p + 2.0 / x - (1.0 - x) * 3.0, S.pow_scalar_inputs()),
    Op("pow_int", ("Pow",), lambda x, p: x ** p, lambda x, p: x ** p,   # negative bases too
       S.pow_int_inputs(), examples=(args(_r(4), p=3),)),
    Op("maximum", ("Maximum",), lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b),
       S.two_arrays(S.off_zero_then_shift), examples=(args(_r(3, 4), _r(4)),)),
    Op("minimum", ("Minimum",), lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b),
       S.two_arrays(S.off_zero_then_shift), examples=(args(_r(3, 4), _r(3, 1)),)),
    Op("where", ("Where", "Mul"), lambda a, b, cond: tg.where(cond, a, b * b),
       lambda a, b, cond: torch.where(_tt(cond), a, b * b), S.where_inputs(),
       examples=(args(_r(2, 3), _r(3), cond=np.array([[True, False, True]])),)),
    Op("masked_fill", ("MaskedFill", "Mul"),
       lambda x, mask, value: x.masked_fill(mask, value) * x,
       lambda x, mask, value: x.masked_fill(_tt(mask), value) * x, S.masked_fill_inputs(),
       examples=(args(_r(2, 3), mask=np.array([False, True, False]), value=-1.5),)),
    Op("cast", ("Cast",), lambda x: ops.Cast.apply(x, dtype=np.float64),  # float32 -> 64 too
       lambda x: x.to(torch.float64), S.one_array(-2.0, 2.0)),
    Op("neg", ("Neg",), lambda x: -x, lambda x: -x, S.one_array(-3, 3), examples=(args(_r(5)),)),
    Op("exp", ("Exp",), lambda x: x.exp(), lambda x: x.exp(), S.one_array(-3, 3),
       examples=(args(_r(2, 3)),)),
    Op("log", ("Log",), lambda x: x.log(), lambda x: x.log(), S.one_array(0.2, 4),
       examples=(args(_r(2, 3, lo=0.1)),)),
    Op("tanh", ("Tanh",), lambda x: x.tanh(), lambda x: x.tanh(), S.one_array(-3, 3),
       examples=(args(_r(2, 3)),)),
    Op("sigmoid", ("Sigmoid",), lambda x: x.sigmoid(), lambda x: x.sigmoid(), S.one_array(-6, 6),
       examples=(args(_r(2, 3) * 5),)),
    Op("relu", ("ReLU",), lambda x: x.relu(), lambda x: x.relu(),
       S.one_array(-2, 2, fix=lambda a: away_from(a, [0.0], 1e-3, 0.5)),
       examples=(args(_r(2, 3)),)),
    Op("abs", ("Abs",), lambda x: x.abs(), lambda x: x.abs(), S.one_array(-2, 2, fix=S.off_kinks),
       examples=(args(_r(2, 3)),)),
    Op("sqrt", ("Sqrt", "Abs"), lambda x: x.abs().sqrt(), lambda x: x.abs().sqrt(),
       S.one_array(-2, 2, fix=S.off_kinks), examples=(args(_r(2, 3, lo=0.1)),)),
    Op("clamp", ("Clamp", "Add", "Mul"),
       lambda x, lo=-1.0, hi=1.0: x.clamp(lo, hi) + x.clamp(min=0.0) * x.clamp(max=0.0),
       lambda x, lo=-1.0, hi=1.0: x.clamp(lo, hi) + x.clamp(min=0.0) * x.clamp(max=0.0),
       S.one_array(-2, 2, fix=S.off_kinks), examples=(args(_r(3, 4), lo=-0.5, hi=0.7),)),
]

_REDUCTIONS = [
    Op("sum", ("Sum",), lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.sum(dim=_dims(x, axis), keepdim=keepdims), S.reduction_inputs(),
       examples=(args(_r(2, 3, 4), axis=(0, 2), keepdims=True),)),
    Op("mean", ("Mean",), lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.mean(dim=_dims(x, axis), keepdim=keepdims), S.reduction_inputs(),
       examples=(args(_r(2, 3, 4), axis=1, keepdims=False),)),
    Op("max", ("Max",), lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.amax(dim=_dims(x, axis), keepdim=keepdims),
       S.reduction_inputs(fix=away_from_ties),
       examples=(args(_r(3, 5), axis=-1, keepdims=False),)),
    Op("min", ("Min",), lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.amin(dim=_dims(x, axis), keepdim=keepdims),
       S.reduction_inputs(fix=away_from_ties),
       examples=(args(_r(3, 5), axis=0, keepdims=False),)),
    Op("max_dim", ("Gather",), lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim).values,
       lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim).values, S.max_dim_inputs()),
    Op("min_dim", ("Gather",), lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim).values,
       lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim).values, S.max_dim_inputs()),
    Op("logsumexp", ("LogSumExp",),
       lambda x, axis, keepdims: x.logsumexp(axis=axis, keepdims=keepdims),
       lambda x, axis, keepdims: x.logsumexp(dim=_dims(x, axis), keepdim=keepdims),
       S.reduction_inputs(), examples=(args(_r(3, 5) * 4, axis=1, keepdims=False),)),
    Op("var", ("Mean", "Sub", "Mul", "Sum", "Div"),       # composed from primitive ops
       lambda x, axis, keepdims, correction: x.var(axis=axis, correction=correction,
                                                   keepdims=keepdims),
       lambda x, axis, keepdims, correction: x.var(dim=_dims(x, axis), correction=correction,
                                                   keepdim=keepdims),
       S.reduction_inputs(correction=True),
       examples=(args(_r(3, 5), axis=1, keepdims=False, correction=1),)),
]

_SHAPES = [
    Op("reshape", ("Reshape",), lambda x, shape: x.reshape(-1).reshape(shape) * 2,
       lambda x, shape: x.reshape(-1).reshape(shape) * 2,
       S.reshape_inputs(),
       examples=(args(_r(2, 6), shape=(4, -1)),)),
    Op("permute", ("Permute",), lambda x, dims: x.permute(dims) * 2,
       lambda x, dims: x.permute(*dims) * 2, S.permute_inputs(),
       examples=(args(_r(2, 3, 4), dims=(2, 0, 1)),)),
    Op("transpose", ("Permute",), lambda x, dim0, dim1: x.transpose(dim0, dim1) * 2,
       lambda x, dim0, dim1: x.transpose(dim0, dim1) * 2,
       S.transpose_inputs(), examples=(args(_r(2, 3), dim0=0, dim1=1),)),
    Op("getitem_int", ("GetItem",), lambda x, i: x[i], lambda x, i: x[i], S.int_index_inputs()),
    Op("getitem_slices", ("GetItem",), lambda x: x[1:, ::2] * 2, lambda x: x[1:, ::2] * 2,
       S.one_array(-2, 2, S.MATRIX_SHAPES), examples=(args(_r(3, 5)),)),
    Op("getitem_reversed", ("GetItem",), lambda x: x[::-1, 1:],   # a negative step
       lambda x: x.flip(0)[:, 1:], S.one_array(-2, 2, S.MATRIX_SHAPES)),
    Op("getitem_ellipsis", ("GetItem",), lambda x: x[..., -1], lambda x: x[..., -1],
       S.one_array(-2, 2, S.MATRIX_SHAPES)),
    Op("getitem_newaxis", ("GetItem",), lambda x: x[None, ..., 1:], lambda x: x[None, ..., 1:],
       S.one_array(-2, 2, S.SMALL_SHAPES)),
    Op("getitem_int_array", ("GetItem", "Mul"), lambda x, idx: x[:, idx] * x[:, idx],
       lambda x, idx: x[:, _tt(idx)] * x[:, _tt(idx)], S.column_index_inputs()),
    Op("getitem_rows", ("GetItem",), lambda x, idx: x[idx] * 3, lambda x, idx: x[_tt(idx)] * 3,
       S.row_index_inputs(), examples=(args(_r(3, 2), idx=np.array([0, 2, 0])),)),
    Op("getitem_bool_mask", ("GetItem",), lambda x, mask: x[mask] * 2,
       lambda x, mask: x[_tt(mask)] * 2, S.bool_index_inputs()),
    Op("index_add", ("IndexAdd",),
       lambda g, shape, index, unique: ops.IndexAdd.apply(g, shape=shape, index=index,
                                                          unique=unique),
       _torch_index_add, S.index_add_inputs()),
    Op("unsqueeze_squeeze", ("Reshape", "Mul"),
       lambda x, axis: x.unsqueeze(axis).squeeze(axis) * x,
       lambda x, axis: x.unsqueeze(axis).squeeze(axis) * x, S.unsqueeze_squeeze_inputs()),
    Op("squeeze", ("Reshape",), _unsqueeze_then_squeeze, _unsqueeze_then_squeeze,
       S.squeeze_inputs(),
       examples=(args(_r(3, 1, 2), unsqueeze=0, squeeze=2),)),
    Op("unsqueeze_expand", ("Reshape", "BroadcastTo"),
       lambda x, lead: x.unsqueeze(0).expand((lead,) + tuple(x.shape)),
       lambda x, lead: x.unsqueeze(0).expand((lead,) + tuple(x.shape)),
       S.unsqueeze_expand_inputs()),
    Op("expand", ("BroadcastTo",), lambda x, shape: x.expand(*shape),
       lambda x, shape: x.expand(*shape), S.expand_inputs(),
       examples=(args(_r(1, 2, 3), shape=(3, -1, -1)),)),
    Op("flip", ("Flip", "Mul"), lambda x, axis: x.flip(axis) * x,
       lambda x, axis: x.flip(_dims(x, axis)) * x, S.flip_inputs(),
       examples=(args(_r(2, 4), axis=1),)),
    Op("split", ("GetItem", "Concat"),
       lambda x, size, axis: _split_concat(lambda ps: tg.concat(ps, axis), x.split(size, axis)),
       lambda x, size, axis: _split_concat(lambda ps: torch.cat(ps, axis),
                                           x.split(size, dim=axis)),
       S.split_inputs(), examples=(args(_r(2, 4), size=[1, 3], axis=1),)),
    Op("chunk", ("GetItem",), lambda x, chunks, axis, piece: x.chunk(chunks, axis)[piece] * 2,
       lambda x, chunks, axis, piece: x.chunk(chunks, dim=axis)[piece] * 2, S.chunk_inputs(),
       examples=(args(_r(5, 2), chunks=2, axis=0, piece=1),)),
    Op("gather", ("Gather",), lambda x, axis, index: x.gather(axis, index),
       lambda x, axis, index: x.gather(axis, _tt(index)), S.gather_inputs(),
       examples=(args(_r(2, 3), axis=1, index=np.array([[0, 2], [1, 1]])),)),
    Op("scatter_add", ("ScatterAdd",),
       lambda g, index, axis, shape: ops.ScatterAdd.apply(g, Tensor(index), axis=axis,
                                                          shape=shape),
       lambda g, index, axis, shape: torch.zeros(shape, dtype=g.dtype).scatter_add(
           axis, _tt(index), g), S.gather_inputs(scatter=True)),
    Op("concat", ("Concat",), lambda a, b, axis: tg.concat([a, b, a], axis=axis),
       lambda a, b, axis: torch.cat([a, b, a], dim=axis), S.concat_inputs(),
       examples=(args(_r(2, 3), _r(2, 1), axis=1),)),
    Op("stack", ("Stack",), lambda a, b, axis: tg.stack([a, b], axis=axis),
       lambda a, b, axis: torch.stack([a, b], dim=axis), S.stack_inputs(),
       examples=(args(_r(2, 3), _r(2, 3), axis=-1),)),
    Op("reverse_padded", ("ReversePadded",),
       lambda x, lengths: ops.ReversePadded.apply(x, lengths=lengths),
       _torch_reverse_padded, S.reverse_padded_inputs()),
]

_LINEAR_AND_LOSSES = [
    Op("matmul", ("MatMul",), lambda a, b: a @ b, lambda a, b: a @ b, S.matmul_inputs(),
       examples=(args(_r(2, 1, 3, 4), _r(3, 4, 5)),)),
    Op("matmul_vector", ("MatMul", "Reshape"), lambda a, b: a @ b, lambda a, b: a @ b,
       S.matmul_inputs(right="vector")),
    Op("vector_matmul", ("MatMul", "Reshape"), lambda a, b: a @ b, lambda a, b: a @ b,
       S.matmul_inputs(left="vector"), examples=(args(_r(4), _r(4, 3)),)),
    Op("embedding", ("Embedding",), lambda w, ids: F.embedding(ids, w),
       lambda w, ids: torch.nn.functional.embedding(_tt(ids), w), S.embedding_inputs(),
       examples=(args(_r(4, 3), ids=np.array([[0, 3], [3, 1]])),)),
    Op("softmax", ("Softmax",), lambda x, axis: x.softmax(axis),
       lambda x, axis: torch.softmax(x, axis), S.along_axis_inputs(),
       examples=(args(_r(2, 5, 3) * 3, axis=1),)),
    Op("log_softmax", ("LogSoftmax",), lambda x, axis: x.log_softmax(axis),
       lambda x, axis: torch.log_softmax(x, axis), S.along_axis_inputs(),
       examples=(args(_r(4, 6) * 3, axis=-1),)),
    Op("cross_entropy", ("LogSoftmax", "NLLLoss"),
       lambda x, target, ignore_index: F.cross_entropy(x, target, ignore_index=ignore_index),
       _torch_cross_entropy, S.cross_entropy_inputs(),
       examples=(args(_r(6, 5) * 3, target=np.array([1, 4, -100, 0, -100, 2]),
                      ignore_index=-100),)),
    Op("layer_norm", ("Mean", "Sub", "Mul", "Add", "Sqrt", "Div"),   # composed
       lambda x, *wb: F.layer_norm(x, x.shape[-1], *wb),
       lambda x, *wb: torch.nn.functional.layer_norm(x, x.shape[-1:], *wb), S.layer_norm_inputs(),
       examples=(args(_r(3, 4)),)),
    Op("dropout", ("Mul",),
       lambda x, p, seed, training=True: F.dropout(
           x, p, training=training, rng=np.random.default_rng(seed)) * 2,
       _torch_dropout, S.dropout_inputs(),
       examples=(args(_r(3), p=0.3, seed=0, training=False), args(_r(2, 3), p=0.0, seed=0),
                 args(_r(2, 3), p=1.0, seed=0))),
    Op("lstm_sequence", ("LSTMSequence",), lambda *a: fused.LSTMSequence.apply(*a),
       _torch_lstm_sequence, S.lstm_inputs(), max_order=1,
       examples=(args(*_lstm_example()),)),
    Op("gru_sequence", ("GRUSequence",), lambda *a: fused.GRUSequence.apply(*a),
       _torch_gru_sequence, S.gru_inputs(), max_order=1,
       examples=(args(*_gru_example()),)),
]

_BY = {op.name: op for op in _ELEMENTWISE + _REDUCTIONS + _SHAPES + _LINEAR_AND_LOSSES}

# the same ops where the domain is the point: huge magnitudes (stability) and, with
# smooth=False, inputs on kinks and ties (the subgradients PyTorch takes)
_VARIANTS = [
    variant(_BY["softmax"], "softmax_extreme", S.along_axis_inputs(1.0, values=extreme)),
    variant(_BY["log_softmax"], "log_softmax_extreme", S.along_axis_inputs(1.0, values=extreme)),
    variant(_BY["logsumexp"], "logsumexp_extreme", S.reduction_inputs(values=extreme)),
    variant(_BY["sigmoid"], "sigmoid_extreme", shapes().flatmap(extreme).map(args)),
    variant(_BY["tanh"], "tanh_extreme", shapes().flatmap(extreme).map(args)),
    variant(_BY["relu"], "relu_kinks", shapes().flatmap(on_grid).map(args), smooth=False),
    variant(_BY["abs"], "abs_kinks", shapes().flatmap(on_grid).map(args), smooth=False),
    variant(_BY["clamp"], "clamp_kinks",
            shapes().flatmap(on_grid).map(lambda a: args(a, lo=-0.5, hi=0.5)), smooth=False),
    variant(_BY["max"], "max_ties", S.reduction_inputs(values=on_grid), smooth=False),
    variant(_BY["min"], "min_ties", S.reduction_inputs(values=on_grid), smooth=False),
    variant(_BY["maximum"], "maximum_ties", S.grid_pair(), smooth=False),
    variant(_BY["minimum"], "minimum_ties", S.grid_pair(), smooth=False),
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
