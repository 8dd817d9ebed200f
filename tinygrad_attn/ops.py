"""Every differentiable op: one small ``Function`` class each, forward beside backward.

Notation in the docstrings: ``y`` is the op's output, ``g = dL/dy`` the incoming
gradient, and each rule gives ``dL/dx`` for an input ``x``. Products are elementwise
unless written ``@``. Broadcasting is not handled here: a backward may return a gradient
of the broadcast shape and the engine (:func:`tinygrad_attn.tensor.unbroadcast`) sums it
back to the input's shape.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .tensor import Function, Tensor


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

    def backward(self, g):
        return g, g


class Sub(Function):
    """y = a - b.   dL/da = g,  dL/db = -g."""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.   dL/da = g * b,  dL/db = g * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        da = g * self.b if self.needs_input_grad[0] else None
        db = g * self.a if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b.   dL/da = g / b,  dL/db = -g * a / b^2 = -g * y / b."""

    def forward(self, a, b):
        self.b = b
        self.y = a / b
        return self.y

    def backward(self, g):
        da = g / self.b if self.needs_input_grad[0] else None
        db = -g * self.y / self.b if self.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """y = a ** b.   dL/da = g * b * a^(b-1),  dL/db = g * y * ln(a)  (for a > 0)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, g):
        da = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.where(self.b == 0, 0, g * self.b * self.a ** (self.b - 1))  # d(a^0)/da = 0
        db = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                db = g * self.y * np.where(self.a > 0, np.log(np.where(self.a > 0, self.a, 1)), 0)
        return da, db


class Maximum(Function):
    """y = max(a, b) elementwise.   dL/da = g where a > b, dL/db = g where b > a; where
    a == b each gets g / 2 (PyTorch's rule for ``torch.maximum``)."""

    def forward(self, a, b):
        self.w = (a > b) + 0.5 * (a == b)          # share of the gradient that goes to a
        return np.maximum(a, b)

    def backward(self, g):
        return g * self.w, g * (1 - self.w)


class Minimum(Function):
    """y = min(a, b) elementwise.   dL/da = g where a < b, dL/db = g where b < a; ties
    split g / 2 each."""

    def forward(self, a, b):
        self.w = (a < b) + 0.5 * (a == b)
        return np.minimum(a, b)

    def backward(self, g):
        return g * self.w, g * (1 - self.w)


class Where(Function):
    """y = a where ``cond`` else b (``cond`` a constant boolean array, broadcast).
    dL/da = g * cond,  dL/db = g * (1 - cond)."""

    def forward(self, cond, a, b):
        self.cond = cond.astype(bool)
        return np.where(self.cond, a, b)

    def backward(self, g):
        return None, np.where(self.cond, g, 0), np.where(self.cond, 0, g)


# ---------------------------------------------------------------- elementwise, one input
class Cast(Function):
    """y = x converted to ``dtype`` (``Tensor.float()``, ``Tensor.double()``).
    dL/dx = g converted back to x's dtype (an identity up to rounding)."""

    def forward(self, x, dtype=np.float32):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype) if self.in_dtype.kind == "f" else None


class Neg(Function):
    """y = -x.   dL/dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    """y = e^x.   dL/dx = g * y."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    """y = ln x.   dL/dx = g / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return g / self.x


class Tanh(Function):
    """y = tanh x.   dL/dx = g * (1 - y^2)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2.   dL/dx = g * y * (1 - y)."""

    def forward(self, x):
        self.y = _stable_sigmoid(x)
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)


class ReLU(Function):
    """y = max(x, 0).   dL/dx = g * [x > 0]  (the subgradient 0 is taken at x = 0)."""

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, g):
        return g * self.mask


class Abs(Function):
    """y = |x|.   dL/dx = g * sign(x)  (0 at x = 0, PyTorch's subgradient)."""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, g):
        return g * self.sign


class Sqrt(Function):
    """y = sqrt(x).   dL/dx = g / (2 y)  (inf at x = 0, as the derivative is)."""

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        with np.errstate(divide="ignore"):
            return g / (2 * self.y)


class Clamp(Function):
    """y = min(max(x, lo), hi) (either bound may be None).
    dL/dx = g where lo <= x <= hi, else 0 (PyTorch's rule: the bounds pass the gradient)."""

    def forward(self, x, lo=None, hi=None):
        self.inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            self.inside &= x >= lo
        if hi is not None:
            self.inside &= x <= hi
        return np.clip(x, lo, hi)

    def backward(self, g):
        return g * self.inside


class MaskedFill(Function):
    """y = where(mask, value, x) for a constant boolean ``mask``.   dL/dx = g * (1 - mask)."""

    def forward(self, x, mask, value=0.0):
        self.mask = np.broadcast_to(mask, np.broadcast_shapes(x.shape, mask.shape))
        return np.where(self.mask, np.asarray(value, dtype=x.dtype), x)

    def backward(self, g):
        return np.where(self.mask, 0, g), None


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


def _expand_back(g, in_shape, axes, keepdims):
    """Re-insert the reduced axes of ``g`` (if dropped) so it broadcasts to ``in_shape``."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return np.broadcast_to(g, in_shape)


class Sum(Function):
    """y = sum of x over ``axis``.   dL/dx = g broadcast back over the summed axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, _axes(axis, x.ndim, "sum"), keepdims
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return _expand_back(g, self.shape, self.axes, self.keepdims)


class Mean(Function):
    """y = mean of x over ``axis`` (n elements each).   dL/dx = g / n broadcast back."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, _axes(axis, x.ndim, "mean"), keepdims
        self.n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return _expand_back(g / max(self.n, 1), self.shape, self.axes, self.keepdims)


class Max(Function):
    """y = max of x over ``axis``.

    dL/dx = g at the position of the maximum, 0 elsewhere; when several elements tie
    for the maximum the gradient is split equally among them (the subgradient that
    keeps the gradient check symmetric; ``numpy.amax``-style semantics).
    """

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {x.shape} "
                             f"(fix: check the axis lengths)")
        self.axes, self.keepdims = _axes(axis, x.ndim, "max"), keepdims
        y = np.max(x, axis=self.axes, keepdims=True)
        self.mask = x == y
        self.mask = self.mask / self.mask.sum(axis=self.axes, keepdims=True)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        if not self.keepdims:
            g = np.expand_dims(g, self.axes)
        return g * self.mask


class Min(Function):
    """y = min of x over ``axis``.   The gradient of ``-max(-x)``: g at the minimum,
    split equally among ties (see ``Max``)."""

    def forward(self, x, axis=None, keepdims=False):
        _axes(axis, x.ndim, "min")
        self.max = Max()
        return -self.max.forward(-x, axis=axis, keepdims=keepdims)

    def backward(self, g):
        return self.max.backward(g)


class LogSumExp(Function):
    """y = log sum_i e^(x_i) over ``axis``, computed as m + log sum e^(x - m), m = max x
    (finite for any finite x).   dL/dx = g * softmax(x) = g * e^(x - y)."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axes, self.keepdims = x, _axes(axis, x.ndim, "logsumexp"), keepdims
        m = np.max(x, axis=self.axes, keepdims=True) if x.size else np.zeros(())
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(under="ignore", divide="ignore"):
            self.y = m + np.log(np.exp(x - m).sum(axis=self.axes, keepdims=True))
        return self.y if keepdims else np.squeeze(self.y, axis=self.axes)

    def backward(self, g):
        if not self.keepdims:
            g = np.expand_dims(g, self.axes)
        with np.errstate(under="ignore", invalid="ignore"):
            return g * np.exp(self.x - self.y)


# ---------------------------------------------------------------- shape ops
class Reshape(Function):
    """y = x viewed with a new shape.   dL/dx = g reshaped to x's shape."""

    def forward(self, x, shape=()):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``.   dL/dx = g with the inverse order."""

    def forward(self, x, dims=()):
        self.dims = tuple(dims)
        return np.transpose(x, self.dims)

    def backward(self, g):
        return np.transpose(g, np.argsort(self.dims))


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer or boolean arrays).

    dL/dx = zeros with g scattered back to the indexed positions; positions selected
    more than once (repeated integer indices) receive the sum of their gradients.
    """

    def forward(self, x, index=None):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        idx = self.index if isinstance(self.index, tuple) else (self.index,)
        if any(isinstance(i, (np.ndarray, list)) for i in idx):
            np.add.at(dx, self.index, g)   # accumulates repeated indices
        else:
            dx[self.index] = g
        return dx


class BroadcastTo(Function):
    """y = x broadcast to ``shape`` (a read-only view).   dL/dx = g summed over the
    broadcast axes, which the engine's ``unbroadcast`` does: backward returns g as is."""

    def forward(self, x, shape=()):
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return g


class Flip(Function):
    """y = x reversed along ``axes``.   dL/dx = g reversed along the same axes."""

    def forward(self, x, axes=()):
        self.axes = axes
        return np.flip(x, axes)

    def backward(self, g):
        return np.flip(g, self.axes)


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
        self.index = self.permutation(lengths, x.shape[1])
        return x[np.arange(x.shape[0])[:, None], self.index]

    def backward(self, g):
        return g[np.arange(g.shape[0])[:, None], self.index]


class Gather(Function):
    """y = take_along_axis(x, index, axis) (PyTorch's ``torch.gather``): for axis 1,
    y[i, j] = x[i, index[i, j]].   dL/dx = zeros with g scatter-added back to the gathered
    positions (repeated indices accumulate)."""

    def forward(self, x, index, axis=0):
        self.shape, self.index, self.axis = x.shape, index, axis
        return np.take_along_axis(x, index, axis=axis)

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        where = list(np.indices(self.index.shape, sparse=True))
        where[self.axis] = self.index
        np.add.at(dx, tuple(where), g)
        return dx, None


class Concat(Function):
    """y = concatenate(x_1, ..., x_k) along ``axis``.   dL/dx_i = the matching slice of g."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.splits, axis=self.axis))


class Stack(Function):
    """y = stack(x_1, ..., x_k) along a new ``axis``.   dL/dx_i = g taken at index i."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


# ---------------------------------------------------------------- linear algebra
class MatMul(Function):
    """y = a @ b, with NumPy's matmul rules for batch axes (both inputs >= 2-D).

    dL/da = g @ b^T,  dL/db = a^T @ g  (transposing the last two axes). Batch axes that
    were broadcast are summed away by the engine.
    """

    def forward(self, a, b):
        _check_float("matmul", a, b)
        self.a, self.b = a, b
        return kernels.matmul(a, b)

    def backward(self, g):
        da = kernels.matmul(g, np.swapaxes(self.b, -1, -2)) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            a = self.a
            if self.b.ndim == 2 and a.ndim > 2:   # (..., M, K) @ (K, N): one 2-D GEMM
                a, g = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            db = kernels.matmul(np.swapaxes(a, -1, -2), g)
        return da, db


class Embedding(Function):
    """y = W[ids]: row ``ids[...]`` of the (V, D) table for each id; y has shape ids.shape + (D,).

    dL/dW = zeros (V, D) with row v = sum of g over the positions whose id is v
    (a scatter-add). The ids get no gradient.
    """

    def forward(self, weight, ids):
        self.V, self.ids = weight.shape[0], ids
        return weight[ids]

    def backward(self, g):
        dw = np.zeros((self.V, g.shape[-1]), dtype=g.dtype)
        np.add.at(dw, self.ids.reshape(-1), g.reshape(-1, g.shape[-1]))
        return dw, None


# ---------------------------------------------------------------- softmax family
class Softmax(Function):
    """y_i = e^(x_i - max x) / sum_j e^(x_j - max x) along ``axis``.

    dL/dx = y * (g - sum(g * y, axis))   (the softmax Jacobian diag(y) - y y^T applied to g).
    """

    def forward(self, x, axis=-1):
        _check_float("softmax", x)
        self.axis = axis
        self.y = kernels.softmax(x, axis)
        return self.y

    def backward(self, g):
        return kernels.softmax_backward(self.y, g, self.axis)


class LogSoftmax(Function):
    """y = x - max x - log(sum e^(x - max x)) along ``axis`` (never overflows).

    dL/dx = g - softmax(x) * sum(g, axis),  with softmax(x) = e^y.
    """

    def forward(self, x, axis=-1):
        _check_float("log_softmax", x)
        self.axis = axis
        self.y = kernels.log_softmax(x, axis)
        return self.y

    def backward(self, g):
        return kernels.log_softmax_backward(self.y, g, self.axis)


class NLLLoss(Function):
    """Mean negative log-likelihood of the targets given log-probabilities.

    Forward: ``logp`` (M, C), ``target`` (M,) int; ``L = -(1/n) * sum_{m: t_m != ignore}
    logp[m, t_m]`` with ``n`` the number of non-ignored targets.
    Backward: dL/dlogp[m, t_m] = -g / n for each non-ignored row, 0 everywhere else.
    A batch with no non-ignored target gives L = 0 and a zero gradient (n is taken as
    1), so an all-padding batch contributes nothing instead of NaN.
    """

    def forward(self, logp, target, ignore_index=-100):
        self.shape, self.target = logp.shape, target
        self.keep = target != ignore_index
        self.n = max(int(self.keep.sum()), 1)
        rows = np.nonzero(self.keep)[0]
        self.rows, self.cols = rows, target[rows]
        return np.asarray(-logp[rows, self.cols].sum() / self.n, dtype=logp.dtype)

    def backward(self, g):
        d = np.zeros(self.shape, dtype=g.dtype)
        d[self.rows, self.cols] = -g / self.n
        return d, None


def _row_ids(a: np.ndarray) -> np.ndarray:
    """(N,) int64 ids of the rows of a 2-D array: equal rows (bit for bit) get equal ids."""
    a = np.ascontiguousarray(a)
    rows = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).reshape(-1)
    return np.unique(rows, return_inverse=True)[1].reshape(-1)


class LSTMSequence(Function):
    """A whole LSTM layer over a sequence as ONE node, with a hand-written backward.

    Inputs: ``x`` (N, T, D), ``h0`` (N, H), ``c0`` (N, H), ``w_ih`` (4H, D),
    ``w_hh`` (4H, H), ``b_ih`` (4H,), ``b_hh`` (4H,); gate order i, f, g, o (PyTorch's).
    Output: (2, N, T, H): ``[0]`` the hidden states h_1..h_T, ``[1]`` the cell states.

    Forward (Hochreiter & Schmidhuber 1997; the form of PyTorch's ``nn.LSTM`` docs):
        z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   [i, f, g, o] = split(z_t)
        i, f, o = sigmoid(.),  g = tanh(.),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
    Backward through time, t = T..1, with dh, dc carried from step t+1:
        dh_t += g_h[t];  dc_t = g_c[t] + dc_{t+1}-carry + dh_t * o * (1 - tanh(c_t)^2)
        do = dh_t * tanh(c_t) * o(1-o);  di = dc_t * g * i(1-i);  dg = dc_t * i * (1-g^2)
        df = dc_t * c_{t-1} * f(1-f);    carry dc = dc_t * f;  carry dh = dz_t @ W_hh
    and then, in one GEMM each over all steps: [dW_ih, db] = dZ^T [X, 1] (db = sum dZ, the
    bias riding along as a column of ones, as in the forward), dW_hh = dZ^T H_prev,
    dx = dZ W_ih. The composed path (``nn.LSTMCell`` from primitive ops) gives the same
    gradients; a test holds the two together.
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        _check_float("LSTM", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        N, T, D = x.shape
        H = h0.shape[1]
        dt = x.dtype
        # sigmoid(z) = (1 + tanh(z / 2)) / 2: with the i, f, o rows of the weights halved
        # (exact in floating point), one tanh over all 4H columns serves every gate
        half = np.ones((4 * H, 1), dtype=dt)
        half[:2 * H] = half[3 * H:] = 0.5
        if not any(self.needs_input_grad):
            return self._forward_inference(x, h0, c0, w_ih * half, w_hh * half,
                                           (b_ih + b_hh) * half[:, 0])
        # input projection of all time steps in one GEMM, time-major (T, N, 4H); the biases
        # ride along as a column of ones in x and a column b_ih + b_hh in W_ih
        x_tm = np.empty((T * N, D + 1), dtype=dt)
        x_tm[:, :D] = x.transpose(1, 0, 2).reshape(T * N, D)
        x_tm[:, D] = 1
        w_b = np.concatenate([w_ih, (b_ih + b_hh)[:, None]], axis=1) * half     # (4H, D + 1)
        z = kernels.matmul(x_tm, w_b.T).reshape(T, N, 4 * H)
        hs = np.empty((T + 1, N, H), dtype=dt)
        cs = np.empty((T + 1, N, H), dtype=dt)
        tanh_c = np.empty((T, N, H), dtype=dt)
        hs[0], cs[0] = h0, c0
        w_hh_t = (w_hh * half).T
        for t in range(T):
            z[t] += hs[t] @ w_hh_t
            self._activate(z[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1])
        self.x_tm, self.w_ih, self.w_hh = x_tm, w_ih, w_hh
        self.gates, self.hs, self.cs, self.tanh_c = z, hs, cs, tanh_c  # z now holds activations
        out = np.empty((2, N, T, H), dtype=dt)
        out[0] = hs[1:].transpose(1, 0, 2)
        out[1] = cs[1:].transpose(1, 0, 2)
        return out

    @staticmethod
    def _activate(z, c_prev, c_new, tanh_c, h_new):
        """One step's elementwise part, in place: z (N, 4H) holds the pre-activations with
        the i, f, o columns halved and becomes the gates [i, f, g, o]; writes c_new =
        f * c_prev + i * g, tanh_c = tanh(c_new) and h_new = o * tanh_c (each (N, H);
        c_new may be c_prev)."""
        np.tanh(z, out=z)
        kernels.lstm_step_forward(z, c_prev, c_new)
        np.tanh(c_new, out=tanh_c)
        np.multiply(z[:, 3 * h_new.shape[1]:], tanh_c, out=h_new)

    @staticmethod
    def _forward_inference(x, h0, c0, w_ih, w_hh, b):
        """The same forward when no gradient is needed (decoding, evaluation): nothing is
        kept for a backward, so each step is one GEMM of the rows [x_t, h, 1] with
        [W_ih, W_hh, b] (no (T, N, 4H) array). Weights and bias arrive with the i, f, o rows
        halved (see ``forward``).

        Shared prefixes: rows that start from one common state (an encoder's zero state)
        and have read equal inputs so far are in equal states. While at most 3/4 of the
        rows are distinct in that sense, a step runs once per distinct prefix and its
        result is copied to the rows that share it (the same arithmetic per row, so the
        same numbers). The book's reversed character tasks begin with the same padding
        spaces: of the date test set's 5,000 x 29 encoder row-steps, 32 % are distinct
        (44 % are run in batches of 500)."""
        N, T, D = x.shape
        H = h0.shape[1]
        w = np.concatenate([w_ih, w_hh, b[:, None]], axis=1).T      # (D + H + 1, 4H)
        out = np.empty((2, N, T, H), dtype=x.dtype)
        # group[n]: the distinct prefix of row n, whose state is row group[n] of (h, c)
        one_start = N > 1 and (h0 == h0[0]).all() and (c0 == c0[0]).all()
        group = np.zeros(N, dtype=np.int64) if one_start else None
        h, c = (h0[:1], c0[:1]) if one_start else (h0, c0)
        for t in range(T):
            rows = slice(None)
            if group is not None:
                key = group * N + _row_ids(x[:, t])       # (prefix so far, this input)
                _, first, new_group = np.unique(key, return_index=True, return_inverse=True)
                if len(first) <= 3 * N // 4:
                    h, c, rows = h[group[first]], c[group[first]], first
                    group = new_group.reshape(-1)
                else:                                   # mostly distinct from here on
                    h, c, group = h[group], c[group], None
            xh = np.empty((len(h), D + H + 1), dtype=x.dtype)
            xh[:, :D], xh[:, D:D + H], xh[:, D + H] = x[rows, t], h, 1
            z = xh @ w
            h, c_new, tanh_c = (np.empty_like(h) for _ in range(3))
            LSTMSequence._activate(z, c, c_new, tanh_c, h)
            c = c_new
            out[0, :, t], out[1, :, t] = (h, c) if group is None else (h[group], c[group])
        return out

    def backward(self, grad):
        gates, hs, cs, tanh_c = self.gates, self.hs, self.cs, self.tanh_c
        T, N, H4 = gates.shape
        H = H4 // 4
        grad = np.ascontiguousarray(grad)
        g_h, g_c = grad[0], grad[1]        # (N, T, H), C-contiguous
        dz = np.empty_like(gates)
        dh = np.zeros((N, H), dtype=grad.dtype)   # recurrent part: dz_{t+1} W_hh
        dc = np.zeros((N, H), dtype=grad.dtype)   # carry: dc_{t+1} * f_{t+1}
        for t in reversed(range(T)):
            # the elementwise rules of the docstring, fused (kernels.lstm_step_backward)
            kernels.lstm_step_backward(t, g_h, g_c, gates[t], tanh_c[t], cs[t], dh, dc, dz[t])
            dh = dz[t] @ self.w_hh
        dz2 = dz.reshape(T * N, H4)           # time-major rows, like x_tm and hs[:-1]
        need = self.needs_input_grad
        dx = dw_ih = db = None
        if need[0]:
            dx = kernels.matmul(dz2, self.w_ih).reshape(T, N, -1).transpose(1, 0, 2)
        if need[3] or need[5] or need[6]:     # [dW_ih, db] = dZ^T [X, 1]: db is the last column
            dw_b = kernels.matmul(dz2.T, self.x_tm)
            dw_ih, db = dw_b[:, :-1], dw_b[:, -1]
        dw_hh = kernels.matmul(dz2.T, hs[:-1].reshape(T * N, H)) if need[4] else None
        return dx, dh, dc, dw_ih, dw_hh, db, db
