"""Functions on tensors that are not methods: the ``torch.nn.functional`` of this engine.

Import as ``import tinygrad_attn.functional as F``.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .random import generator
from .tensor import Tensor, concat, stack, where  # noqa: F401  (re-exported)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Softmax along ``axis``: same shape and dtype as ``x``, non-negative, sums to 1.

    Math: Bridle (1990); computed as e^(x - max x) / sum e^(x - max x), which cannot
    overflow. Backward: ``ops.Softmax``.
    """
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis``, computed as x - max - log sum e^(x - max)
    (stable for any magnitude; never takes the log of a rounded-to-zero probability)."""
    return x.log_softmax(axis)


def embedding(ids, weight: Tensor) -> Tensor:
    """Look up rows of ``weight`` (V, D) for integer ``ids`` of any shape -> ids.shape + (D,).

    Raises
    ------
    TypeError
        ``ids`` are not integers (fix: ``ids.astype(np.int64)``).
    IndexError
        An id is negative or >= V; the message names V, the id and its position.
    """
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: token ids must be integers, got dtype {ids.dtype} "
                        f"(fix: convert with ids.astype(np.int64))")
    V = weight.shape[0]
    bad = (ids < 0) | (ids >= V)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"embedding: id {int(ids[pos])} at position {pos} is out of range for "
                         f"a vocabulary of size {V} (ids must be in [0, {V - 1}]; fix: build "
                         f"the vocabulary from the same data or enlarge num_embeddings)")
    return ops.Embedding.apply(weight, Tensor(ids))


def cross_entropy(logits: Tensor, target, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy between class scores and integer targets (PyTorch's semantics).

    Parameters
    ----------
    logits : Tensor, float, shape (M, C) or (N, T, C); unnormalised class scores.
    target : int array-like, shape (M,) or (N, T); class ids in [0, C) or ``ignore_index``.
    ignore_index : int
        Targets equal to it (padding) get zero gradient and are left out of the mean,
        which is over the real targets only. If every target is ignored the loss is 0.

    Returns
    -------
    Tensor, scalar, dtype of ``logits``: ``-(1/n) sum log softmax(logits)[m, t_m]`` in nats.

    Raises
    ------
    ValueError
        The shapes do not match, or a target is outside [0, C) and not ``ignore_index``.

    Math: negative log-likelihood of a softmax (Goodfellow et al., Deep Learning, 6.2.2.3);
    computed from ``log_softmax`` so it stays finite for large logits.
    """
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    C = logits.shape[-1]
    if t.shape != logits.shape[:-1] or t.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: logits {logits.shape} need integer targets of shape "
                         f"{logits.shape[:-1]}, got {t.shape} {t.dtype} (fix: targets are class "
                         f"ids, one per row of logits)")
    t = t.reshape(-1).astype(np.int64)
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"cross_entropy: target {int(t[k])} at flat position {k} is not in "
                         f"[0, {C}) and not ignore_index={ignore_index} (fix: check the "
                         f"vocabulary size or the padding id)")
    logp = log_softmax(logits.reshape(-1, C), axis=-1)
    return ops.NLLLoss.apply(logp, Tensor(t), ignore_index=ignore_index)


def sigmoid(x: Tensor) -> Tensor:
    """Elementwise logistic sigmoid (stable form); see ``ops.Sigmoid``."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Elementwise tanh; see ``ops.Tanh``."""
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    """Elementwise max(x, 0); see ``ops.ReLU``."""
    return x.relu()


def one_hot(ids, num_classes: int) -> Tensor:
    """ids (any shape, int) -> int64 Tensor ids.shape + (num_classes,) with a 1 at each id.

    Raises IndexError naming the id and its position when an id is outside [0, C).
    """
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    bad = (ids < 0) | (ids >= num_classes)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"one_hot: id {int(ids[pos])} at position {pos} is not in "
                         f"[0, {num_classes}) (fix: raise num_classes)")
    return Tensor((ids[..., None] == np.arange(num_classes)).astype(np.int64))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014; PyTorch's scaling): in training each
    element is zeroed with probability ``p`` and the rest scaled by 1 / (1 - p), so the
    expectation is unchanged; in evaluation (or p = 0) x is returned unchanged.
    dL/dx = g * mask / (1 - p) (a product with a constant mask).

    ``rng``: a numpy Generator; default the engine's (seeded by ``manual_seed``).

    Raises ValueError for p outside [0, 1].
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    rng = rng if rng is not None else generator()
    keep = (rng.random(x.shape) >= p).astype(x.dtype) / np.asarray(1 - p, dtype=x.dtype)
    return x * keep


def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last ``len(normalized_shape)`` axes (Ba, Kiros &
    Hinton 2016, eq. 4): (x - mean) / sqrt(var + eps) * weight + bias, with the biased
    variance (as PyTorch). Composed from primitive ops, so its backward is theirs.

    Raises ValueError when x's trailing shape is not ``normalized_shape``.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input {x.shape} does not end with normalized_shape "
                         f"{shape} (fix: pass the trailing axes' sizes)")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    y = centered / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable (see ``ops.LogSumExp``)."""
    return x.logsumexp(axis=axis, keepdims=keepdims)
