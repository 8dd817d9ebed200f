"""Basic layers: ``Linear``, ``Embedding``, ``Dropout``, ``LayerNorm``, and
``clip_grad_norm_`` (PyTorch's names, arguments and state-dict layouts)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..random import generator
from ..tensor import Tensor
from .module import Module, Parameter, _uniform


class Linear(Module):
    """y = x W^T + b (PyTorch's ``nn.Linear``; Rosenblatt's affine layer).

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,), both
    initialised U(-1/sqrt(in), 1/sqrt(in)) as PyTorch does. Input (..., in) float32,
    output (..., out).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
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


class Embedding(Module):
    """A lookup table (PyTorch's ``nn.Embedding``): ids (any shape, int) -> ids.shape + (D,).

    Parameter ``weight`` (num_embeddings V, embedding_dim D), initialised N(0, 1).
    Errors on float or out-of-range ids: see :func:`tinygrad_attn.functional.embedding`.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(generator().standard_normal((num_embeddings, embedding_dim)))

    def forward(self, ids) -> Tensor:
        return F.embedding(ids, self.weight)

class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode, identity in eval mode
    (PyTorch's ``nn.Dropout``; see :func:`tinygrad_attn.functional.dropout`)."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (Ba et al. 2016),
    with learnable ``weight`` (ones) and ``bias`` (zeros) of that shape (PyTorch's
    ``nn.LayerNorm``; see :func:`tinygrad_attn.functional.layer_norm`)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global norm is at most ``max_norm``.

    The global norm is the ``norm_type``-norm of all gradients joined into one vector
    (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training RNNs", alg. 1). If it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``.

    Returns the total norm before clipping (a Python float).

    Raises
    ------
    RuntimeError
        The norm is NaN or inf and ``error_if_nonfinite`` is True.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) for g in grads if g.size)
    else:
        total = float(sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum())
                          for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm is {total} (fix: lower "
                           f"the learning rate, or find the op that produced NaN/inf)")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return total
