"""Attention layers (Luong et al. 2015; Bahdanau et al. 2014)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .module import Module


class LuongAttention(Module):
    """Global attention of Luong, Pham & Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation", sec. 3.1, with the ``dot`` score
    ``score(h_t, h_s) = h_t . h_s`` (eq. 8).

    forward(query, keys, key_padding_mask=None)
        query : (N, T, H) decoder states h_t.  keys : (N, S, H) encoder states h_s (also
        the values). key_padding_mask : optional bool (N, S), True where the source is
        padding (PyTorch's convention).
        Returns ``context`` (N, T, H) = sum_s a_ts h_s and ``weights`` a (N, T, S):
        softmax over S of the scores, non-negative, each row summing to 1 over the
        unmasked positions; masked positions get exactly 0, and a fully masked row is all
        zeros (so its context is zero).
    """

    def __init__(self, score: str = "dot"):
        if score != "dot":
            raise ValueError(f"LuongAttention: score {score!r} is not implemented yet; use 'dot'")
        self.score = score

    def forward(self, query: Tensor, keys: Tensor, key_padding_mask=None):
        if query.ndim != 3 or keys.ndim != 3 or query.shape[0] != keys.shape[0] \
                or query.shape[2] != keys.shape[2]:
            raise ValueError(f"LuongAttention: query (N, T, H) and keys (N, S, H) must share N "
                             f"and H, got {query.shape} and {keys.shape}")
        scores = query @ keys.transpose(1, 2)                       # (N, T, S)
        if key_padding_mask is not None:
            mask = np.asarray(key_padding_mask, dtype=bool)[:, None, :]   # (N, 1, S)
            scores = scores.masked_fill(mask, float(np.finfo(scores.dtype).min))
            weights = scores.softmax(axis=-1).masked_fill(mask, 0.0)
        else:
            weights = scores.softmax(axis=-1)
        return weights @ keys, weights
