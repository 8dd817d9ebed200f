"""Every differentiable op: one small ``Function`` class each, forward beside backward.

Notation in the docstrings: ``y`` is the op's output, ``g = dL/dy`` the incoming
gradient, and each rule gives ``dL/dx`` for an input ``x``. Products are elementwise
unless written ``@``. Broadcasting is not handled here: a backward may return a gradient
of the broadcast shape and the engine (:func:`tinygrad_attn.autograd.unbroadcast`) sums it
back to the input's shape.

Each ``backward(self, g, *inputs, out)`` receives the op's input and output values (``out``
is ``y``) and is written once for every order of derivative: with operators and
:mod:`tinygrad_attn.dual` it runs on arrays in a first-order pass and on Tensors, recording
the derivative's own graph, with ``create_graph=True``. Masks and signs are constants of
the derivative: they are computed from ``dual.value(...)``, the arrays. Where a numba
kernel computes a rule on arrays, the composed expression stands beside it and is what runs
on Tensors (``tests/test_kernels.py`` holds the two together).

Fused ops (one node for a whole layer, with a hand-written backward) live apart, in
:mod:`tinygrad_attn.fused`.
"""
from __future__ import annotations

import numpy as np

from . import dual, kernels
from .autograd import Function
from .dual import value


def _check_float(op: str, *arrays) -> None:
    """Raise a TypeError naming ``op`` unless every array is float32 or float64: the float
    ops (matmul, softmax, log_softmax and those built on them) run on those two only
    (numba has no float16, and integers would be silently promoted or overflow)."""
    for a in arrays:
        if a.dtype.char not in "fd":        # 'f' float32, 'd' float64: one string test
            ids = "; token ids go through an Embedding" if a.dtype.kind in "iub" else ""
            raise TypeError(
                f"{op}: dtype {a.dtype} is not supported, {op} runs on float32 or float64 "
                f"only (fix: convert the input first, x.float() or x.double(){ids})")


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + e^-x) = (1 + tanh(x/2)) / 2; the tanh form never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# ---------------------------------------------------------------- elementwise, two inputs
class Add(Function):
    """y = a + b.   dL/da = g,  dL/db = g."""

    def forward(self, a, b):
        return a + b

    def backward(self, g, a, b, out):
        return g, g


class Sub(Function):
    """y = a - b.   dL/da = g,  dL/db = -g."""

    def forward(self, a, b):
        return a - b

    def backward(self, g, a, b, out):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.   dL/da = g * b,  dL/db = g * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, g, a, b, out):
        da = g * b if self.needs_input_grad[0] else None
        db = g * a if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b.   dL/da = g / b,  dL/db = -g * a / b^2 = -g * y / b."""

    def forward(self, a, b):
        return a / b

    def backward(self, g, a, b, out):
        da = g / b if self.needs_input_grad[0] else None
        db = -g * out / b if self.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """y = a ** b.   dL/da = g * b * a^(b-1),  dL/db = g * y * ln(a)  (for a > 0)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, g, a, b, out):
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:                         # d(a^0)/da = 0
                da = dual.where(value(b) == 0, 0, g * b * a ** (b - 1))
            if self.needs_input_grad[1]:
                positive = value(a) > 0
                db = g * out * dual.where(positive, dual.log(dual.where(positive, a, 1)), 0)
        return da, db


class Maximum(Function):
    """y = max(a, b) elementwise.   dL/da = g where a > b, dL/db = g where b > a; where
    a == b each gets g / 2 (PyTorch's rule for ``torch.maximum``)."""

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, a, b, out):
        a, b = value(a), value(b)
        w = (a > b) + 0.5 * (a == b)               # share of the gradient that goes to a
        return g * w, g * (1 - w)


class Minimum(Function):
    """y = min(a, b) elementwise.   dL/da = g where a < b, dL/db = g where b < a; ties
    split g / 2 each."""

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, a, b, out):
        a, b = value(a), value(b)
        w = (a < b) + 0.5 * (a == b)
        return g * w, g * (1 - w)


class Where(Function):
    """y = a where ``cond`` else b (``cond`` a constant boolean array, broadcast).
    dL/da = g * cond,  dL/db = g * (1 - cond)."""

    def forward(self, cond, a, b):
        return np.where(cond.astype(bool), a, b)

    def backward(self, g, cond, a, b, out):
        cond = value(cond).astype(bool)
        return None, dual.where(cond, g, 0), dual.where(cond, 0, g)


# ---------------------------------------------------------------- elementwise, one input
class Cast(Function):
    """y = x converted to ``dtype`` (``Tensor.float()``, ``Tensor.double()``).
    dL/dx = g converted back to x's dtype (an identity up to rounding)."""

    def forward(self, x, dtype=np.float32):
        return x.astype(dtype)

    def backward(self, g, x, out):
        return dual.astype(g, x.dtype) if x.dtype.kind == "f" else None


class Neg(Function):
    """y = -x.   dL/dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, g, x, out):
        return -g


class Exp(Function):
    """y = e^x.   dL/dx = g * y."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, x, out):
        return g * out


class Log(Function):
    """y = ln x.   dL/dx = g / x."""

    def forward(self, x):
        return np.log(x)

    def backward(self, g, x, out):
        return g / x


class Tanh(Function):
    """y = tanh x.   dL/dx = g * (1 - y^2)."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, x, out):
        return g * (1 - out * out)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2.   dL/dx = g * y * (1 - y)."""

    def forward(self, x):
        return _stable_sigmoid(x)

    def backward(self, g, x, out):
        return g * out * (1 - out)


class ReLU(Function):
    """y = max(x, 0).   dL/dx = g * [x > 0]  (the subgradient 0 is taken at x = 0)."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, x, out):
        return g * (value(x) > 0)


class Abs(Function):
    """y = |x|.   dL/dx = g * sign(x)  (0 at x = 0, PyTorch's subgradient)."""

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, x, out):
        return g * np.sign(value(x))


class Sqrt(Function):
    """y = sqrt(x).   dL/dx = g / (2 y)  (inf at x = 0, as the derivative is)."""

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, x, out):
        with np.errstate(divide="ignore"):
            return g / (2 * out)


class Clamp(Function):
    """y = min(max(x, lo), hi) (either bound may be None).
    dL/dx = g where lo <= x <= hi, else 0 (PyTorch's rule: the bounds pass the gradient)."""

    def forward(self, x, lo=None, hi=None):
        self.lo, self.hi = lo, hi
        return np.clip(x, lo, hi)

    def backward(self, g, x, out):
        x = value(x)
        inside = (x >= (-np.inf if self.lo is None else self.lo)) & \
            (x <= (np.inf if self.hi is None else self.hi))
        return g * inside


class MaskedFill(Function):
    """y = where(mask, value, x) for a constant boolean ``mask``.   dL/dx = g * (1 - mask)."""

    def forward(self, x, mask, value=0.0):
        mask = np.broadcast_to(mask, np.broadcast_shapes(x.shape, mask.shape))
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    def backward(self, g, x, mask, out):
        return dual.where(value(mask), 0, g), None


# ---------------------------------------------------------------- reductions
def _axes(axis, ndim, op="reduction"):
    """Normalise ``axis`` (None, int or tuple, negatives allowed) to a sorted tuple;
    raise an AxisError naming ``op`` for an axis that does not exist and a TypeError for
    an axis that is not an int (a float, a bool, a string)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else \
        tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, (bool, np.bool_)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r} "
                            f"(fix: e.g. axis=-1)")
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(
                f"{op}: axis {a} is out of range for a tensor with {ndim} dims "
                f"(fix: use an axis in [-{ndim}, {ndim - 1}])")
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out)))


def _kept(g, axes, keepdims):
    """``g`` with the reduced ``axes`` re-inserted as size 1 (if the op dropped them)."""
    return g if keepdims or not axes else dual.expand_dims(g, axes)


class Sum(Function):
    """y = sum of x over ``axis``.   dL/dx = g broadcast back over the summed axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = _axes(axis, x.ndim, "sum"), keepdims
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, x, out):
        return dual.broadcast_to(_kept(g, self.axes, self.keepdims), x.shape)


class Mean(Function):
    """y = mean of x over ``axis`` (n elements each).   dL/dx = g / n broadcast back."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = _axes(axis, x.ndim, "mean"), keepdims
        self.n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, x, out):
        return dual.broadcast_to(_kept(g / max(self.n, 1), self.axes, self.keepdims), x.shape)


class Max(Function):
    """y = max of x over ``axis``.

    dL/dx = g at the position of the maximum, 0 elsewhere; when several elements tie
    for the maximum the gradient is split equally among them (the subgradient that
    keeps the gradient check symmetric; ``numpy.amax``-style semantics).
    """
    reduce = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"{self.name.lower()}: cannot reduce an empty tensor of shape "
                             f"{x.shape} (fix: check the axis lengths)")
        self.axes = _axes(axis, x.ndim, self.name.lower())
        self.keepdims = keepdims
        return self.reduce(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, x, out):
        hit = value(x) == _kept(value(out), self.axes, self.keepdims)   # the extremes
        share = hit / hit.sum(axis=self.axes, keepdims=True)            # ties split g
        return _kept(g, self.axes, self.keepdims) * share


class Min(Max):
    """y = min of x over ``axis``.   dL/dx = g at the minimum, split equally among ties
    (the rule of ``Max``, whose code it shares)."""
    reduce = staticmethod(np.min)


class LogSumExp(Function):
    """y = log sum_i e^(x_i) over ``axis``, computed as m + log sum e^(x - m), m = max x
    (finite for any finite x).   dL/dx = g * softmax(x) = g * e^(x - y)."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = _axes(axis, x.ndim, "logsumexp"), keepdims
        m = np.max(x, axis=self.axes, keepdims=True) if x.size else np.zeros(())
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(under="ignore", divide="ignore"):
            y = m + np.log(np.exp(x - m).sum(axis=self.axes, keepdims=True))
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g, x, out):
        with np.errstate(under="ignore", invalid="ignore"):
            softmax = dual.exp(x - _kept(out, self.axes, self.keepdims))
            return _kept(g, self.axes, self.keepdims) * softmax


# ---------------------------------------------------------------- shape ops
class Reshape(Function):
    """y = x viewed with a new shape.   dL/dx = g reshaped to x's shape."""

    def forward(self, x, shape=()):
        return x.reshape(shape)

    def backward(self, g, x, out):
        return g.reshape(x.shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``.   dL/dx = g with the inverse order."""

    def forward(self, x, dims=()):
        self.dims = tuple(dims)
        return np.transpose(x, self.dims)

    def backward(self, g, x, out):
        return dual.permute(g, np.argsort(self.dims))


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer or boolean arrays).

    dL/dx = zeros with g scattered back to the indexed positions (``IndexAdd``, the
    adjoint); positions selected more than once (repeated integer indices) receive the sum
    of their gradients.
    """

    def forward(self, x, index=None):
        self.index = index
        return x[index]

    def backward(self, g, x, out):
        return dual.adjoint(IndexAdd, g, shape=x.shape, index=self.index)


class IndexAdd(Function):
    """y = zeros(``shape``) with g added at ``index`` (numpy's ``np.add.at``; PyTorch's
    ``index_put_(..., accumulate=True)``): the adjoint of ``GetItem``, so GetItem's
    gradient, and its own gradient is GetItem again.   dL/dg = G[index] for dL/dy = G.
    ``unique=True`` promises no position is indexed twice (a plain assignment then)."""

    def forward(self, g, shape=(), index=None, unique=False):
        self.index = index
        dx = np.zeros(shape, dtype=g.dtype)
        idx = index if isinstance(index, tuple) else (index,)
        if not unique and any(isinstance(i, (np.ndarray, list)) for i in idx):
            np.add.at(dx, index, g)   # accumulates repeated indices
        else:
            dx[index] = g
        return dx

    def backward(self, G, g, out):
        return G[self.index]


class BroadcastTo(Function):
    """y = x broadcast to ``shape`` (a read-only view).   dL/dx = g summed over the
    broadcast axes, which the engine's ``unbroadcast`` does: backward returns g as is."""

    def forward(self, x, shape=()):
        return np.broadcast_to(x, shape)

    def backward(self, g, x, out):
        return g


class Flip(Function):
    """y = x reversed along ``axes``.   dL/dx = g reversed along the same axes."""

    def forward(self, x, axes=()):
        self.axes = axes
        return np.flip(x, axes)

    def backward(self, g, x, out):
        return dual.flip(g, self.axes)


class ReversePadded(Function):
    """Reverse each row's first ``lengths[n]`` steps along axis 1 and leave its padding in
    place: y[n, t] = x[n, L_n - 1 - t] for t < L_n, else x[n, t]. x (N, T, ...), lengths
    (N,) int. It is how a backward-direction RNN reads right-padded sentences (PyTorch does
    the same with packed sequences). The map is its own inverse, so dL/dx = the same
    reversal applied to g."""

    @staticmethod
    def permutation(lengths, T):
        t = np.arange(T)[None, :]
        L = np.asarray(lengths)[:, None]
        return np.where(t < L, L - 1 - t, t)             # (N, T) source index of each y[n, t]

    def forward(self, x, lengths=None):
        self.lengths = lengths
        return x[np.arange(x.shape[0])[:, None], self.permutation(lengths, x.shape[1])]

    def backward(self, g, x, out):
        return dual.adjoint(ReversePadded, g, lengths=self.lengths)


class Gather(Function):
    """y = take_along_axis(x, index, axis) (PyTorch's ``torch.gather``): for axis 1,
    y[i, j] = x[i, index[i, j]].   dL/dx = zeros with g scatter-added back to the gathered
    positions (``ScatterAdd``, the adjoint; repeated indices accumulate)."""

    def forward(self, x, index, axis=0):
        self.axis = axis
        return np.take_along_axis(x, index, axis=axis)

    def backward(self, g, x, index, out):
        index = value(index)
        return dual.adjoint(ScatterAdd, g, index, axis=self.axis, shape=x.shape), None


class ScatterAdd(Function):
    """y = zeros(``shape``) with g[..., j, ...] added at index[..., j, ...] along ``axis``
    (PyTorch's ``torch.zeros(shape).scatter_add(axis, index, g)``): the adjoint of
    ``Gather``, whose gradient it is.   dL/dg = gather(G, index, axis) for dL/dy = G."""

    def forward(self, g, index, axis=0, shape=()):
        self.axis = axis
        y = np.zeros(shape, dtype=g.dtype)
        where = list(np.indices(index.shape, sparse=True))
        where[axis] = index
        np.add.at(y, tuple(where), g)
        return y

    def backward(self, G, g, index, out):
        return dual.adjoint(Gather, G, value(index), axis=self.axis), None


class Concat(Function):
    """y = concatenate(x_1, ..., x_k) along ``axis``.   dL/dx_i = the matching slice of g."""

    def forward(self, *xs, axis=0):
        self.axis = axis % xs[0].ndim
        return np.concatenate(xs, axis=axis)

    def backward(self, g, *xs, out):
        lead, start, pieces = (slice(None),) * self.axis, 0, []
        for x in xs:
            pieces.append(g[lead + (slice(start, start + x.shape[self.axis]),)])
            start += x.shape[self.axis]
        return tuple(pieces)


class Stack(Function):
    """y = stack(x_1, ..., x_k) along a new ``axis``.   dL/dx_i = g taken at index i."""

    def forward(self, *xs, axis=0):
        self.axis = axis % (xs[0].ndim + 1)
        return np.stack(xs, axis=axis)

    def backward(self, g, *xs, out):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(len(xs)))


# ---------------------------------------------------------------- linear algebra
class MatMul(Function):
    """y = a @ b, with NumPy's matmul rules for batch axes (both inputs >= 2-D).

    dL/da = g @ b^T,  dL/db = a^T @ g  (transposing the last two axes). Batch axes that
    were broadcast are summed away by the engine.
    """

    def forward(self, a, b):
        _check_float("matmul", a, b)
        return kernels.matmul(a, b)         # np.matmul(a, b), on the measured fastest path

    def backward(self, g, a, b, out):
        da = dual.matmul(g, dual.mT(b)) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            if len(b.shape) == 2 and len(a.shape) > 2:   # (..., M, K) @ (K, N): one 2-D GEMM
                a, g = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            db = dual.matmul(dual.mT(a), g)
        return da, db


class Embedding(Function):
    """y = W[ids]: row ``ids[...]`` of the (V, D) table for each id; y has shape ids.shape + (D,).

    dL/dW = zeros (V, D) with row v = sum of g over the positions whose id is v
    (a scatter-add). The ids get no gradient.
    """

    def forward(self, weight, ids):
        return weight[ids]

    def backward(self, g, weight, ids, out):
        rows = g.reshape(-1, g.shape[-1])                    # (M, D), one per id
        return dual.adjoint(IndexAdd, rows, shape=weight.shape,
                            index=value(ids).reshape(-1)), None


# ---------------------------------------------------------------- softmax family
class Softmax(Function):
    """y_i = e^(x_i - max x) / sum_j e^(x_j - max x) along ``axis``.

    dL/dx = y * (g - sum(g * y, axis))   (the softmax Jacobian diag(y) - y y^T applied to g).
    """

    def forward(self, x, axis=-1):
        _check_float("softmax", x)
        self.axis = axis
        return kernels.softmax(x, axis)     # e = np.exp(x - x.max(axis)); e / e.sum(axis)

    def backward(self, g, x, out):
        if isinstance(g, np.ndarray):       # the line below, fused (kernels.softmax_backward)
            return kernels.softmax_backward(out, g, self.axis)
        return out * (g - (g * out).sum(self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - max x - log(sum e^(x - max x)) along ``axis`` (never overflows).

    dL/dx = g - softmax(x) * sum(g, axis),  with softmax(x) = e^y.
    """

    def forward(self, x, axis=-1):
        _check_float("log_softmax", x)
        self.axis = axis
        return kernels.log_softmax(x, axis)   # z = x - x.max(axis); z - log(exp(z).sum(axis))

    def backward(self, g, x, out):
        if isinstance(g, np.ndarray):       # the line below, fused (kernels.log_softmax_backward)
            return kernels.log_softmax_backward(out, g, self.axis)
        return g - dual.exp(out) * g.sum(self.axis, keepdims=True)


class NLLLoss(Function):
    """Mean negative log-likelihood of the targets given log-probabilities.

    Forward: ``logp`` (M, C), ``target`` (M,) int; ``L = -(1/n) * sum_{m: t_m != ignore}
    logp[m, t_m]`` with ``n`` the number of non-ignored targets.
    Backward: dL/dlogp[m, t_m] = -g / n for each non-ignored row, 0 everywhere else.
    A batch with no non-ignored target gives L = 0 and a zero gradient (n is taken as
    1), so an all-padding batch contributes nothing instead of NaN.
    """

    def forward(self, logp, target, ignore_index=-100):
        keep = target != ignore_index
        self.n = max(int(keep.sum()), 1)
        rows = np.nonzero(keep)[0]
        self.index = (rows, target[rows])
        return np.asarray(-logp[self.index].sum() / self.n, dtype=logp.dtype)

    def backward(self, g, logp, target, out):
        picked = dual.broadcast_to(-g / self.n, self.index[0].shape)   # one per kept row
        return dual.adjoint(IndexAdd, picked, shape=logp.shape, index=self.index,
                            unique=True), None


