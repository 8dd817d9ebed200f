"""Basic layers: ``Linear``, ``Embedding``, ``Dropout``, ``LayerNorm``, and
``clip_grad_norm_`` (PyTorch's names, arguments and state-dict layouts)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import functional as F
from .. import kernels
from ..random import generator
from ..tensor import Tensor
from .module import Module, Parameter, _check_size, _uniform


class Linear(Module):
    """y = x W^T + b (PyTorch's ``nn.Linear``; Rosenblatt's affine layer).

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,), both
    initialised U(-1/sqrt(in), 1/sqrt(in)) as PyTorch does. Input (..., in) float32,
    output (..., out).

    Raises TypeError / ValueError for sizes that are not ints >= 1; ValueError for an
    input whose last axis is not ``in_features``; TypeError for a non-float input.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        in_features = _check_size("Linear", "in_features", in_features)
        out_features = _check_size("Linear", "out_features", out_features)
        bound = 1 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform((out_features, in_features), bound))
        self.bias = Parameter(_uniform((out_features,), bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): input has last "
                             f"axis {x.shape[-1]} (shape {x.shape}), expected "
                             f"{self.in_features} (fix: check the previous layer's size)")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        """``in_features=4, out_features=8, bias=True`` (PyTorch's text)."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table (PyTorch's ``nn.Embedding``): ids (any shape, int) -> ids.shape + (D,).

    Parameter ``weight`` (num_embeddings V, embedding_dim D), initialised N(0, 1).
    Errors on float or out-of-range ids: see :func:`tinygrad_attn.functional.embedding`;
    TypeError / ValueError for sizes that are not ints >= 1.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        num_embeddings = _check_size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = _check_size("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(generator().standard_normal((num_embeddings, embedding_dim)))

    def forward(self, ids) -> Tensor:
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        """``10, 4``: num_embeddings, embedding_dim (PyTorch's text)."""
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode, identity in eval mode
    (PyTorch's ``nn.Dropout``; see :func:`tinygrad_attn.functional.dropout`).
    Raises ValueError for p outside [0, 1] or NaN, TypeError for a p that is not a number."""

    def __init__(self, p: float = 0.5):
        self.p = F._check_probability("Dropout", "p", p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        """``p=0.1, inplace=False`` (PyTorch's text; this Dropout never works in place)."""
        return f"p={self.p}, inplace=False"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (Ba et al. 2016),
    with learnable ``weight`` (ones) and ``bias`` (zeros) of that shape (PyTorch's
    ``nn.LayerNorm``; see :func:`tinygrad_attn.functional.layer_norm`). Neither with
    ``elementwise_affine=False``; no ``bias`` with ``bias=False``, as in PyTorch.
    Raises TypeError / ValueError for sizes that are not ints >= 1, ValueError for an eps
    that is negative or not finite."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        shape = (normalized_shape,) if not isinstance(normalized_shape, (tuple, list)) \
            else tuple(normalized_shape)
        shape = tuple(_check_size("LayerNorm", "normalized_shape", n) for n in shape)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 <= eps < math.inf:
            raise ValueError(f"LayerNorm: eps must be a finite number >= 0, got {eps!r} (fix: "
                             f"the usual value is 1e-5)")
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """``(8,), eps=1e-05, elementwise_affine=True, bias=True`` (PyTorch's text)."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
                f"{self.weight is not None}, bias={self.bias is not None}")


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global norm is at most ``max_norm``
    (PyTorch's ``torch.nn.utils.clip_grad_norm_``: same arguments, same result).

    The global norm is the ``norm_type``-norm of all gradients joined into one vector
    (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training RNNs", alg. 1), computed
    in float64. Every gradient is multiplied by ``min(1, max_norm / (norm + 1e-6))``, so
    a NaN norm makes every gradient NaN and an infinite one zeroes the finite ones, as in
    PyTorch; ``error_if_nonfinite=True`` raises instead.

    Parameters
    ----------
    parameters : an iterable of Tensors (``model.parameters()``) or a single Tensor; those
        without ``.grad`` are skipped.
    max_norm : float > 0 (inf: only measure the norm).
    norm_type : float > 0, or ``math.inf`` for the largest absolute value.
    error_if_nonfinite : bool, raise when the total norm is NaN or inf.

    Returns
    -------
    float: the total norm before clipping (0.0 when no parameter has a gradient). A
    training loop can test ``math.isfinite`` of it to catch a NaN/inf gradient at no
    extra cost.

    Raises
    ------
    RuntimeError
        The norm is NaN or inf and ``error_if_nonfinite`` is True; the message names the
        first parameter (index, shape) whose gradient holds NaN/inf. Nothing is scaled.
    ValueError
        ``max_norm`` is not > 0 (a negative one would turn descent into ascent) or is NaN;
        ``norm_type`` is not > 0.
    """
    _check_clip_args(max_norm, norm_type)
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max((float(np.abs(g).max()) for g in grads if g.size), default=0.0)
    elif norm_type == 2:                  # the usual case: one fused pass per gradient
        total = math.sqrt(sum(kernels.sum_of_squares(g) for g in grads))
    else:
        total = float(sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum())
                          for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm (order {norm_type}) is "
                           f"{total}: {_first_nonfinite(params)} (fix: run the step inside "
                           f"tinygrad_attn.detect_anomaly() to find the op that made it, lower "
                           f"the learning rate, or skip this step)")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1:                     # also for NaN: PyTorch scales by clamp(coef, max=1)
        with np.errstate(invalid="ignore"):      # inf * 0 = NaN, as in PyTorch
            for g in grads:
                g *= coef
    return total


def _check_clip_args(max_norm, norm_type) -> None:
    """ValueError unless max_norm and norm_type are numbers > 0 (inf allowed; not NaN)."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) or not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number > 0, got {max_norm!r} "
                         f"(a negative max_norm flips the gradients; fix: e.g. max_norm=5.0, "
                         f"or math.inf to measure the norm only)")
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a number > 0 or math.inf, got "
                         f"{norm_type!r} (fix: 2.0 for the Euclidean norm)")


def _first_nonfinite(params) -> str:
    """Which parameter's gradient first holds NaN/inf (for clip_grad_norm_'s message)."""
    for k, p in enumerate(params):
        if p.grad is not None and not np.isfinite(p.grad).all():
            bad = int((~np.isfinite(p.grad)).sum())
            return (f"the gradient of parameter {k} of {len(params)} (shape {p.shape}) holds "
                    f"{bad} NaN/inf value(s)")
    return "no gradient holds NaN/inf: their norm overflowed"
