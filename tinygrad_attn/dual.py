"""The few numpy functions the derivative rules call, for ndarrays AND for Tensors.

Each op's ``backward`` (:mod:`tinygrad_attn.ops`) is written once, with operators
(``+ - * / **``, indexing, ``.sum``, ``.reshape``, which ndarrays and Tensors share) and the
functions below. In a first-order pass the rule receives arrays and these run numpy (or a
kernel); with ``create_graph=True`` it receives Tensors and these run engine ops, so the
derivative is itself recorded and can be differentiated again. Same expression, two kinds
of value: no rule is written twice.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .tensor import Tensor, where as _tensor_where


def value(x):
    """The array behind ``x`` (a Tensor's ``.data``; an array as it is): for the parts of a
    rule that are constants of the derivative (masks, signs, shapes)."""
    return x.data if isinstance(x, Tensor) else x


def where(cond, a, b):
    """``np.where(cond, a, b)`` for a constant boolean ``cond``."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _tensor_where(cond, a, b)
    return np.where(cond, a, b)


def exp(x):
    """Elementwise e^x."""
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x):
    """Elementwise natural log."""
    return x.log() if isinstance(x, Tensor) else np.log(x)


def expand_dims(x, axes: tuple):
    """``np.expand_dims(x, axes)`` (``axes`` sorted, of the result) as a reshape."""
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(tuple(shape))


def broadcast_to(x, shape: tuple):
    """``np.broadcast_to(x, shape)``."""
    return x.broadcast_to(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def permute(x, dims):
    """``np.transpose(x, dims)``: axis ``i`` of the result is axis ``dims[i]`` of ``x``."""
    if isinstance(x, Tensor):
        return x.permute(tuple(int(d) for d in dims))
    return np.transpose(x, dims)


def mT(x):
    """The last two axes swapped (``np.swapaxes(x, -1, -2)``; PyTorch's ``x.mT``)."""
    return x.transpose(-1, -2) if isinstance(x, Tensor) else np.swapaxes(x, -1, -2)


def matmul(a, b):
    """``a @ b`` (both >= 2-D): the engine's matmul kernel on arrays (``kernels.matmul``)."""
    return a @ b if isinstance(a, Tensor) or isinstance(b, Tensor) else kernels.matmul(a, b)


def flip(x, axes):
    """``np.flip(x, axes)``."""
    return x.flip(axes) if isinstance(x, Tensor) else np.flip(x, axes)


def astype(x, dtype):
    """``x`` converted to the float ``dtype`` (differentiable for Tensors: ``ops.Cast``)."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.double() if dtype == np.float64 else x.float()
    return x.astype(dtype)


def adjoint(op, g, *constants, **settings):
    """Run the Function class ``op`` on ``g`` (and constant arrays): its ``forward`` on an
    array, ``op.apply`` on a Tensor. The gradient of a linear op is another linear op (the
    adjoint: GetItem's is IndexAdd, Gather's is ScatterAdd, and back), so a rule hands ``g``
    to that op and both orders of derivative follow."""
    if isinstance(g, Tensor):
        return op.apply(g, *constants, **settings)
    return op().forward(g, *constants, **settings)
