"""Attention of an RNN decoder over the encoder states: Luong's global attention with the
``dot``, ``general`` and ``concat`` scores (Luong, Pham & Manning 2015) and Bahdanau's
additive attention (Bahdanau, Cho & Bengio 2014).

Every layer takes ``key_padding_mask`` (bool (N, S), True where the source is padding,
PyTorch's convention) and returns its weights: non-negative, summing to 1 over the
unmasked source positions, exactly 0 on masked ones (a fully masked row is all zeros).
"""
from __future__ import annotations

import numpy as np

from ..functional import masked_softmax
from ..tensor import Tensor
from .layers import Linear
from .module import Module, _check_size


def _padding_mask(scores: Tensor, key_padding_mask):
    """``key_padding_mask`` bool (N, S), True = padding, as a mask for
    :func:`tinygrad_attn.functional.masked_softmax` over ``scores`` (N, ..., S): (N, 1, ..., S)
    (None stays None). Raises ValueError if the mask's shape is not (N, S)."""
    if key_padding_mask is None:
        return None
    mask = np.asarray(key_padding_mask, dtype=bool)
    N, S = scores.shape[0], scores.shape[-1]
    if mask.shape != (N, S):
        raise ValueError(f"attention: key_padding_mask must be (N, S) = ({N}, {S}) for scores "
                         f"{scores.shape}, got {mask.shape} (fix: one row per sentence, True "
                         f"where the source is padding)")
    return mask.reshape((N,) + (1,) * (scores.ndim - 2) + (S,))


class LuongAttention(Module):
    """Global attention of Luong, Pham & Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation", sec. 3.1, eq. 8:

    - ``dot``:     score(h_t, h_s) = h_t . h_s                      (needs query_size == key_size)
    - ``general``: score(h_t, h_s) = h_t . (W_a h_s)                W_a (query_size, key_size)
    - ``concat``:  score(h_t, h_s) = v_a . tanh(W_a [h_t; h_s])     W_a (attn_size, query + key),
      computed as tanh(W_q h_t + W_k h_s) with W_a = [W_q, W_k] split, so no (T, S) concat
      is built; v_a (attn_size,).

    Parameters: ``W_a`` (a bias-free ``Linear``) for general and concat, ``v_a`` for concat
    (the paper's names). ``dot`` has none. Init: ``Linear``'s U(-1/sqrt(fan_in), ...).

    forward(query, keys, key_padding_mask=None)
        query : (N, T, Hq) decoder states h_t.  keys : (N, S, Hk) encoder states h_s (also
        the values). key_padding_mask : optional bool (N, S), True where the source is padding.
        Returns ``context`` (N, T, Hk) = sum_s a_ts h_s and ``weights`` a (N, T, S) =
        softmax over S of the scores (:func:`tinygrad_attn.functional.masked_softmax`).

    Raises ValueError for an unknown score, missing sizes, sizes < 1 or inputs of the wrong
    shape; TypeError for sizes that are not ints.
    """

    SCORES = ("dot", "general", "concat")

    def __init__(self, score: str = "dot", query_size: int | None = None,
                 key_size: int | None = None, attn_size: int | None = None):
        if score not in self.SCORES:
            raise ValueError(f"LuongAttention: score must be one of {self.SCORES}, got {score!r}")
        if score != "dot" and query_size is None:
            raise ValueError(f"LuongAttention({score!r}) has weights, so it needs query_size "
                             f"(the decoder's hidden size) (fix: pass query_size=H)")
        for name, size in (("query_size", query_size), ("key_size", key_size),
                           ("attn_size", attn_size)):
            if size is not None:
                _check_size("LuongAttention", name, size)
        key_size = key_size if key_size is not None else query_size
        self.score, self.query_size, self.key_size = score, query_size, key_size
        if score == "general":
            self.W_a = Linear(key_size, query_size, bias=False)
        elif score == "concat":
            self.attn_size = attn_size if attn_size is not None else query_size
            self.W_a = Linear(query_size + key_size, self.attn_size, bias=False)
            self.v_a = Linear(self.attn_size, 1, bias=False)

    def extra_repr(self) -> str:
        """``score=general`` (the layers themselves print as sub-modules)."""
        return f"score={self.score}"

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """The unnormalised scores (N, T, S) of eq. 8."""
        if self.score == "dot":
            return query @ keys.transpose(1, 2)
        if self.score == "general":
            return query @ self.W_a(keys).transpose(1, 2)
        Hq = query.shape[-1]
        W_q, W_k = self.W_a.weight[:, :Hq], self.W_a.weight[:, Hq:]     # W_a = [W_q, W_k]
        e = ((query @ W_q.T).unsqueeze(2) + (keys @ W_k.T).unsqueeze(1)).tanh()  # (N, T, S, A)
        return self.v_a(e).squeeze(-1)

    def forward(self, query: Tensor, keys: Tensor, key_padding_mask=None):
        if query.ndim != 3 or keys.ndim != 3 or query.shape[0] != keys.shape[0] or (
                self.score == "dot" and query.shape[2] != keys.shape[2]) or (
                self.score != "dot" and (query.shape[2], keys.shape[2])
                != (self.query_size, self.key_size)):
            want = "share N and H" if self.score == "dot" else \
                f"have H = {self.query_size} and {self.key_size}"
            raise ValueError(f"LuongAttention({self.score!r}): query (N, T, H) and keys "
                             f"(N, S, H) must {want}, got {query.shape} and {keys.shape} (fix: "
                             f"build the layer with the decoder's and encoder's sizes)")
        scores = self.scores(query, keys)                                      # (N, T, S)
        weights = masked_softmax(scores, _padding_mask(scores, key_padding_mask))
        return weights @ keys, weights


class BahdanauAttention(Module):
    """Additive attention of Bahdanau, Cho & Bengio (2014), "Neural Machine Translation by
    Jointly Learning to Align and Translate", eq. 6 and appendix A.1.2:

        e_ij = v_a . tanh(W_a s_{i-1} + U_a h_j),   a_ij = softmax_j(e_ij),   c_i = sum_j a_ij h_j

    The query is the decoder's *previous* state s_{i-1} (the attention runs before the RNN
    step, and c_i is fed into that step's input). Parameters (the paper's names): ``W_a``
    (attn_size, query_size), ``U_a`` (attn_size, key_size) with a bias, ``v_a`` (attn_size,),
    as ``Linear`` layers.

    forward(query, keys, key_padding_mask=None, projected_keys=None)
        query : (N, Hq) the previous decoder state. keys : (N, S, Hk) encoder states h_j.
        key_padding_mask : optional bool (N, S), True = padding. projected_keys : optional
        ``project_keys(keys)`` (N, S, A), computed once per sentence instead of every step.
        Returns ``context`` (N, Hk) and ``weights`` (N, S) (masked as in ``LuongAttention``).

    Raises ValueError for inputs of the wrong shape or sizes < 1; TypeError for sizes that
    are not ints.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int | None = None):
        query_size = _check_size("BahdanauAttention", "query_size", query_size)
        key_size = _check_size("BahdanauAttention", "key_size", key_size)
        if attn_size is not None:
            attn_size = _check_size("BahdanauAttention", "attn_size", attn_size)
        self.query_size, self.key_size = query_size, key_size
        self.attn_size = attn_size if attn_size is not None else query_size
        self.W_a = Linear(query_size, self.attn_size, bias=False)
        self.U_a = Linear(key_size, self.attn_size)
        self.v_a = Linear(self.attn_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """U_a h_j for every source position: keys (N, S, Hk) -> (N, S, A)."""
        return self.U_a(keys)

    def forward(self, query: Tensor, keys: Tensor, key_padding_mask=None, projected_keys=None):
        if query.ndim != 2 or keys.ndim != 3 or query.shape[0] != keys.shape[0] or \
                query.shape[1] != self.query_size or keys.shape[2] != self.key_size:
            raise ValueError(f"BahdanauAttention: query must be (N, {self.query_size}) and keys "
                             f"(N, S, {self.key_size}), got {query.shape} and {keys.shape} (fix: "
                             f"pass one decoder state per sentence, the previous one)")
        uh = projected_keys if projected_keys is not None else self.project_keys(keys)
        e = self.v_a((self.W_a(query).unsqueeze(1) + uh).tanh()).squeeze(-1)      # (N, S)
        weights = masked_softmax(e, _padding_mask(e, key_padding_mask))
        context = (weights.unsqueeze(1) @ keys).squeeze(1)                         # (N, Hk)
        return context, weights
