"""Functions on tensors that are not methods: the ``torch.nn.functional`` of this engine.

Import as ``import tinygrad_attn.functional as F``.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .tensor import Tensor, concat, stack  # noqa: F401  (re-exported)


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
