"""Functions on tensors that are not methods: the ``torch.nn.functional`` of this engine.

Import as ``import tinygrad_attn.functional as F``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import ops
from .random import generator
from .tensor import Tensor, concat, stack, where  # noqa: F401  (re-exported)


def _check_probability(op: str, name: str, p) -> float:
    """``p`` as a float, checked to be a real number in [0, 1] (NaN is not).

    Raises TypeError for a non-number (a string, a bool, None) and ValueError for a value
    outside [0, 1], both one line naming ``op`` and ``name``.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number in [0, 1], got {type(p).__name__} "
                        f"{p!r} (fix: e.g. {name}=0.1)")
    if not 0 <= p <= 1:                   # also False for NaN
        raise ValueError(f"{op}: {name} must be in [0, 1], got {p} (fix: a probability, "
                         f"e.g. 0.1; 0 turns it off)")
    return float(p)


def softmax(x: Tensor, axis: int = -1, *, dim=None) -> Tensor:
    """Softmax along ``axis``: same shape and dtype as ``x``, non-negative, sums to 1.

    Math: Bridle (1990); computed as e^(x - max x) / sum e^(x - max x), which cannot
    overflow. Backward: ``ops.Softmax``.

    Non-finite inputs propagate as in PyTorch: a -inf entry gets weight 0, a row whose
    entries are all -inf, or that holds +inf or NaN, is all NaN. To mask, prefer
    :func:`masked_softmax` (a fully masked row is zeros); to find where a NaN came from,
    run under :func:`tinygrad_attn.detect_anomaly`. Raises TypeError for a dtype other
    than float32/float64 and AxisError for a missing axis. ``dim``: PyTorch's name for
    ``axis``.
    """
    return x.softmax(axis, dim=dim)


def log_softmax(x: Tensor, axis: int = -1, *, dim=None) -> Tensor:
    """log(softmax(x)) along ``axis``, computed as x - max - log sum e^(x - max)
    (stable for any magnitude; never takes the log of a rounded-to-zero probability).
    Same shape and dtype as ``x``; non-finite inputs give PyTorch's results (-inf where
    x is -inf, NaN rows as in :func:`softmax`). Raises TypeError for a dtype other than
    float32/float64. ``dim``: PyTorch's name for ``axis``."""
    return x.log_softmax(axis, dim=dim)


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


def _class_targets(logits, target, ignore_index: int, label_smoothing: float) -> np.ndarray:
    """Check the arguments of :func:`cross_entropy` and return the targets as a flat int64
    array (M,). Raises the errors listed there, each one line with a fix."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing} (fix: 0.1 is the usual value; 0 turns it off)")
    if not isinstance(logits, Tensor) or logits.ndim == 0:
        raise TypeError(f"cross_entropy: logits must be a float Tensor (M, C) or (N, T, C), "
                        f"got {type(logits).__name__} (fix: pass the model's output scores)")
    ops._check_float("cross_entropy", logits.data)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    C = logits.shape[-1]
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class ids, got dtype "
                        f"{t.dtype} (fix: targets.astype(np.int64), or .long() on a Tensor)")
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: logits {logits.shape} need integer targets of shape "
                         f"{logits.shape[:-1]}, got {t.shape} {t.dtype} (fix: targets are class "
                         f"ids, one per row of logits)")
    t = t.reshape(-1).astype(np.int64)
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        k = int(np.argmax(bad))
        raise IndexError(f"cross_entropy: target {int(t[k])} at flat position {k} is out of "
                         f"range: class ids must be in [0, {C - 1}] (C = {C}) or ignore_index="
                         f"{ignore_index} (fix: check the vocabulary size or the padding id)")
    return t


def cross_entropy(logits: Tensor, target, ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy between class scores and integer targets (PyTorch's semantics).

    Parameters
    ----------
    logits : Tensor, float, shape (M, C) or (N, T, C); unnormalised class scores.
    target : int array-like, shape (M,) or (N, T); class ids in [0, C) or ``ignore_index``.
    ignore_index : int
        Targets equal to it (padding) get zero gradient and are left out of the mean,
        which is over the real targets only. If every target is ignored the loss is 0.
    label_smoothing : float in [0, 1]
        eps: the target distribution becomes ``(1 - eps) * onehot(t) + eps / C`` (Szegedy
        et al. 2016, "Rethinking the Inception Architecture", sec. 7; Vaswani et al. 2017,
        sec. 5.4 use eps = 0.1), so the loss is ``(1 - eps) * nll + eps * smooth`` with
        ``smooth = -(1/n) sum_m (1/C) sum_c log softmax(logits)[m, c]`` over the same real
        targets (PyTorch's semantics). 0 (default) is the plain loss, computed as before.

    Returns
    -------
    Tensor, scalar, dtype of ``logits``: ``-(1/n) sum log softmax(logits)[m, t_m]`` in nats
    (with ``label_smoothing``, the cross-entropy against the smoothed targets above).

    Raises
    ------
    TypeError
        The logits are not float32/float64 (float16, integers), or the targets are not
        integers.
    ValueError
        The shapes do not match, or ``label_smoothing`` is outside [0, 1].
    IndexError
        A target is outside [0, C) and not ``ignore_index`` (PyTorch raises IndexError
        too); the message names the target, its position and the range.

    NaN/inf logits give a NaN/inf loss, as in PyTorch (not an error: the training loop
    checks the loss, and ``detect_anomaly()`` finds the op that made them).

    Math: negative log-likelihood of a softmax (Goodfellow et al., Deep Learning, 6.2.2.3);
    computed from ``log_softmax`` so it stays finite for large logits. The smoothing term
    is composed from primitive ops (sum, masked_fill), so its backward is theirs.
    """
    t = _class_targets(logits, target, ignore_index, label_smoothing)
    C = logits.shape[-1]
    logp = log_softmax(logits.reshape(-1, C), axis=-1)
    nll = ops.NLLLoss.apply(logp, Tensor(t), ignore_index=ignore_index)
    if label_smoothing == 0.0:
        return nll
    ignored = t == ignore_index
    n = max(int((~ignored).sum()), 1)                 # as NLLLoss: an all-padding batch gives 0
    smooth = logp.sum(axis=-1).masked_fill(ignored, 0.0).sum() * (-1.0 / n)
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / C)


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

    Raises IndexError naming the id and its position when an id is outside [0, C),
    TypeError for ids that are not integers, ValueError for num_classes < 1.
    """
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: ids must be integers, got dtype {ids.dtype} (fix: "
                        f"ids.astype(np.int64))")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be an int >= 1, got {num_classes!r} "
                         f"(fix: the vocabulary size)")
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

    Raises ValueError for p outside [0, 1] or NaN, TypeError for a p that is not a number.
    """
    p = _check_probability("dropout", "p", p)
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

    Raises ValueError when x's trailing shape is not ``normalized_shape`` or eps is negative
    or NaN; TypeError when x is not float32/float64.
    """
    ops._check_float("layer_norm", x.data)
    if not eps >= 0 or not math.isfinite(eps):
        raise ValueError(f"layer_norm: eps must be a finite number >= 0, got {eps} (fix: the "
                         f"usual value is 1e-5)")
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


def logsumexp(x: Tensor, axis=None, keepdims: bool = False, *, dim=None,
              keepdim=None) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable (see ``ops.LogSumExp``); ``dim`` /
    ``keepdim`` as in PyTorch."""
    return x.logsumexp(axis=axis, keepdims=keepdims, dim=dim, keepdim=keepdim)


def _bool_mask(mask, op: str, what: str) -> np.ndarray:
    """A mask argument (ndarray, Tensor or nested lists of bools) as a bool ndarray;
    a TypeError naming ``op`` for any other dtype (an additive float mask, say)."""
    arr = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"{op}: {what} must be a bool array (True = masked out), got dtype "
                        f"{arr.dtype} (fix: for PyTorch's additive float masks use "
                        f"mask == -np.inf; for 0/1 ints use mask.astype(bool))")
    return arr


def _attention_mask(T: int, S: int, batch: tuple = (), attn_mask=None, key_padding_mask=None,
                   is_causal: bool = False, op: str = "_attention_mask"):
    """Join the three ways of masking attention into one bool array (True = masked out).

    Parameters
    ----------
    T, S : int, the query and key lengths.
    batch : tuple, the leading (batch) axes of the scores, which have shape batch + (T, S).
    attn_mask : bool, shape (T, S) or any shape broadcastable to batch + (T, S); True where
        query t may not look at key s.
    key_padding_mask : bool, (N, S) with N = batch[0] (or (S,) when batch is ()); True
        where key s is padding (PyTorch's convention). Broadcast over the other axes.
    is_causal : bool, mask key s > query t (the upper triangle, aligned at the top left as
        PyTorch's ``is_causal`` is when T != S).
    op : str, the op named in error messages.

    Returns
    -------
    bool ndarray broadcastable to batch + (T, S), or None when nothing is masked.

    Raises
    ------
    TypeError  a mask is not bool.
    ValueError a mask's shape does not fit; the message gives the expected shape.
    """
    full = tuple(batch) + (T, S)
    mask = np.triu(np.ones((T, S), dtype=bool), k=1) if is_causal else None
    if attn_mask is not None:
        m = _bool_mask(attn_mask, op, "attn_mask")
        try:
            ok = m.ndim >= 2 and np.broadcast_shapes(m.shape, full) == full
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{op}: attn_mask has shape {m.shape}, but the scores have shape "
                             f"{full} (batch + (T, S)) (fix: pass a ({T}, {S}) mask, or one "
                             f"broadcastable to {full})")
        mask = m if mask is None else mask | m
    if key_padding_mask is not None:
        m = _bool_mask(key_padding_mask, op, "key_padding_mask")
        want = (batch[0], S) if batch else (S,)
        if m.shape != want:
            raise ValueError(f"{op}: key_padding_mask has shape {m.shape}, expected {want} "
                             f"(batch, S), True where the key is padding (fix: build it from "
                             f"the padded keys, e.g. ids == pad_id)")
        m = m.reshape(want[:1] + (1,) * (len(batch) - 1) + (1, S)) if batch else m[None, :]
        mask = m if mask is None else mask | m
    return mask


def masked_softmax(scores: Tensor, mask=None, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` along ``dim`` over the positions the mask leaves in: the one
    masked softmax of this project (attention layers, ``scaled_dot_product_attention``).

    Parameters
    ----------
    scores : Tensor float32/float64, any shape, e.g. attention scores (N, T, S).
    mask : optional bool array or Tensor, broadcastable to ``scores.shape`` by numpy's
        (and PyTorch's) rule, trailing axes aligned: **True = masked out** (the position
        gets weight 0), False = kept. This is the meaning of a bool ``key_padding_mask`` /
        ``attn_mask`` in PyTorch's ``nn.MultiheadAttention`` and of ``torch._masked_softmax``
        (the opposite of ``F.scaled_dot_product_attention``'s bool ``attn_mask`` and of
        ``torch.masked``, where True = kept). A key padding mask (N, S) for scores (N, T, S)
        is passed as ``mask[:, None, :]``. ``None``: a plain softmax.
    dim : int, the axis the weights sum over (default the last, the keys).

    Returns
    -------
    Tensor of the shape and dtype of ``scores``: non-negative, exactly 0 where masked, each
    slice along ``dim`` summing to 1 over its kept positions. **A fully masked slice is
    all zeros** (where PyTorch's masked softmaxes give NaN), so a padded query contributes
    nothing and never NaN; its gradient is zero too.

    Raises
    ------
    ValueError  ``mask`` does not broadcast to ``scores.shape`` (a mask that would widen
        the result is refused too).
    TypeError  ``scores`` is not float32/float64 (from softmax).

    Math: masked scores are set to the dtype's most negative finite number before the
    softmax (e^(min - max) underflows to 0, and no inf - inf = NaN appears), then the
    weights there are set to 0. Composed from ``masked_fill`` and ``softmax``, so its
    backward is theirs.
    """
    if mask is None:
        return scores.softmax(dim)
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
    try:
        fits = np.broadcast_shapes(mask.shape, scores.shape) == scores.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"masked_softmax: the mask's shape {mask.shape} does not broadcast to "
                         f"the scores' shape {scores.shape} (fix: give it the scores' trailing "
                         f"axes, True where masked; e.g. a key padding mask (N, S) for scores "
                         f"(N, T, S) as mask[:, None, :])")
    scores = scores.masked_fill(mask, float(np.finfo(scores.dtype).min))
    return scores.softmax(dim).masked_fill(mask, 0.0)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 key_padding_mask=None, is_causal: bool = False,
                                 dropout_p: float = 0.0, training: bool = False, rng=None):
    """Scaled dot-product attention, ``softmax(Q K^T / sqrt(d)) V`` (Vaswani et al. 2017,
    "Attention Is All You Need", sec. 3.2.1, eq. 1), with masks.

    Unlike PyTorch's ``F.scaled_dot_product_attention`` it returns the attention weights
    too (this project always shows them), and a bool ``attn_mask`` means True = masked
    out (the convention of PyTorch's ``nn.MultiheadAttention``, the opposite of PyTorch's
    ``F.scaled_dot_product_attention``).

    Parameters
    ----------
    query : Tensor float (..., T, d).
    key : Tensor float (..., S, d).
    value : Tensor float (..., S, dv). The leading axes of the three broadcast together.
    attn_mask : optional bool, (T, S) or broadcastable to (..., T, S); True = not allowed.
    key_padding_mask : optional bool (N, S), N the first leading axis (or (S,) for 2-D
        inputs); True where the key is padding.
    is_causal : bool, also mask every key s > t (query t sees keys 0..t). Combined with
        ``attn_mask`` (a position masked by either is masked).
    dropout_p, training : dropout on the weights before they multiply V (Vaswani sec. 5.4),
        only when ``training``; ``rng`` is the numpy Generator it draws from (see
        :func:`dropout`).

    Returns
    -------
    output : Tensor (..., T, dv), ``weights @ value`` (with dropout applied to the weights
        when training).
    weights : Tensor (..., T, S), the attention distribution before dropout: non-negative,
        each row sums to 1 over its unmasked keys, masked keys get exactly 0, and a row
        whose keys are all masked is all zeros (its output is 0, never NaN).

    Raises
    ------
    ValueError  shapes that do not fit (d or S differ, rank < 2, batch axes that do not
        broadcast), a mask of the wrong shape, or dropout_p outside [0, 1]; TypeError  a
        mask that is not bool, or inputs that are not float32/float64 (from matmul).

    Masked scores are set to ``finfo(dtype).min`` before the softmax and the weights of
    masked keys are then set to 0, so a fully masked row gives zeros instead of NaN (the
    same approach as :class:`tinygrad_attn.nn.LuongAttention`). Backward: that of the
    primitive ops (matmul, masked_fill, softmax).
    """
    op = "scaled_dot_product_attention"
    dropout_p = _check_probability(op, "dropout_p", dropout_p)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"{op}: query, key and value need at least 2 axes (..., T, d), got "
                         f"{query.shape}, {key.shape}, {value.shape} (fix: unsqueeze a "
                         f"single vector to (1, d))")
    T, d = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != d or value.shape[-2] != S or d == 0:
        raise ValueError(f"{op}: query (..., T, d) {query.shape}, key (..., S, d) {key.shape} "
                         f"and value (..., S, dv) {value.shape} must share d >= 1 (query, key) "
                         f"and S (key, value) (fix: project them to the same size first)")
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the leading (batch) axes of query {query.shape}, key "
                         f"{key.shape} and value {value.shape} do not broadcast (fix: give "
                         f"them the same batch and head axes)") from None
    mask = _attention_mask(T, S, batch, attn_mask, key_padding_mask, is_causal, op)
    scores = (query @ key.transpose(-2, -1)) * (1.0 / np.sqrt(d))      # (..., T, S)
    weights = masked_softmax(scores, mask)
    used = dropout(weights, dropout_p, training, rng) if training and dropout_p > 0 else weights
    return used @ value, weights
