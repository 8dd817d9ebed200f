"""Incremental Transformer decoding with a key/value cache: the FAST PATH of
``Transformer.decode_step``.

The composed (teaching) path, ``Transformer.decode_prefix_step``, runs the whole decoder
over every token so far at each step: step t costs t positions through every layer, so a
sentence of L tokens costs O(L^2) position-passes (and O(L^3) attention work). Nothing of
an earlier position changes when a token is appended, because the decoder's
self-attention is causal (Vaswani et al. 2017, sec. 3.2.3: position t sees 0..t). So this
path feeds only the newest position through each layer and keeps, per layer,

- the self-attention keys and values of the positions so far, (N, h, t, d), to which the
  newest position's are appended, and
- the encoder-decoder attention keys and values of the memory, (N, h, S, d), projected
  once at the first step,

which is the cache every production decoder keeps (e.g. fairseq's incremental state).
The two paths give the same logits to rounding (tests/test_transformer_cache.py).

Every array of the cache is a numpy array with the batch on axis 0, so beam search's
``reorder_state`` follows the surviving hypotheses without knowing about the cache.
Inference only: no graph is recorded (``no_grad``), and it is meant for eval mode.
"""
from __future__ import annotations

import math

import numpy as np

from tinygrad_attn import Tensor, no_grad
from tinygrad_attn import functional as F

__all__ = ["cached_decode_step"]


def cached_decode_step(model, prev: np.ndarray, state: dict):
    """One decoder step of ``model`` (a ``models.transformer.Transformer``) for the newest
    token only.

    prev : int (N,), the token fed at position t = ``state["tokens"].shape[1]``.
    state : the dict of ``Transformer.init_decoder`` (``memory`` (N, S, D) Tensor,
        ``src_padding_mask`` bool (N, S), ``tokens`` int (N, t)) plus, after the first
        step, ``self_k{i}`` / ``self_v{i}`` (N, h, t, d) and ``memory_k{i}`` /
        ``memory_v{i}`` (N, h, S, d) for each decoder layer i (the model's dtype).

    Returns (logits Tensor (N, V_tgt), the new state (tokens extended by ``prev``, each
    ``self_*`` one position longer), the last layer's encoder-decoder attention weights
    Tensor (N, S), mean over heads), as ``Transformer.decode_prefix_step``.

    Raises ValueError when position t is beyond the model's position table (``max_len``).
    """
    tokens = np.concatenate([state["tokens"], prev.astype(np.int64).reshape(-1, 1)], axis=1)
    t = tokens.shape[1] - 1
    pe = model.positional_encoding
    if t >= pe.max_len:
        raise ValueError(f"Transformer: decoding step {t + 1} is beyond the model's "
                         f"{pe.max_len} positions (fix: a --max-decode-len of at most "
                         f"{pe.max_len})")
    new = {**state, "tokens": tokens}
    with no_grad():
        x = model.tgt_embedding(tokens[:, t:]) * math.sqrt(model.d_model)   # (N, 1, D)
        x = pe.dropout(x + pe.pe[t:t + 1])
        for i, layer in enumerate(model.decoder.layers):
            x, weights = _layer_step(layer, x, new, i)
        if model.decoder.norm is not None:
            x = model.decoder.norm(x)
        logits = model.out(x)
    return logits[:, 0], new, weights[:, 0]


def _layer_step(layer, x: Tensor, state: dict, i: int):
    """Decoder layer ``i`` (``TransformerDecoderLayer``, post- or pre-norm) for one new
    position x (N, 1, D); appends to / fills the layer's cache in ``state`` (in place).
    Returns (x (N, 1, D), encoder-decoder weights (N, 1, S), mean over heads)."""
    memory, mask = state["memory"], state["src_padding_mask"]
    if layer.norm_first:
        x = x + layer.dropout1(_self_attention(layer.self_attn, layer.norm1(x), state, i))
        out, w = _memory_attention(layer.multihead_attn, layer.norm2(x), memory, mask, state, i)
        x = x + layer.dropout2(out)
        return x + layer._ff_block(layer.norm3(x)), w
    x = layer.norm1(x + layer.dropout1(_self_attention(layer.self_attn, x, state, i)))
    out, w = _memory_attention(layer.multihead_attn, x, memory, mask, state, i)
    x = layer.norm2(x + layer.dropout2(out))
    return layer.norm3(x + layer._ff_block(x)), w


def _self_attention(attn, x: Tensor, state: dict, i: int) -> Tensor:
    """Causal self-attention of the newest position over every position so far: its key
    and value are appended to ``state["self_k{i}"]`` / ``["self_v{i}"]``. -> (N, 1, E)."""
    E = attn.embed_dim
    q, k, v = attn._project(x, slice(None)).split(E, axis=-1)
    k_all = _append(state, f"self_k{i}", attn._heads(k).data)
    v_all = _append(state, f"self_v{i}", attn._heads(v).data)
    out, _ = F.scaled_dot_product_attention(attn._heads(q), Tensor(k_all), Tensor(v_all))
    return attn.out_proj(out.transpose(1, 2).reshape(x.shape[0], 1, E))


def _memory_attention(attn, x: Tensor, memory: Tensor, mask, state: dict, i: int):
    """The newest position's attention over the memory, whose keys and values are
    projected at the first step and kept in ``state["memory_k{i}"]`` / ``["memory_v{i}"]``.
    -> (output (N, 1, E), weights (N, 1, S) mean over heads)."""
    E = attn.embed_dim
    if f"memory_k{i}" not in state:
        state[f"memory_k{i}"] = attn._heads(attn._project(memory, slice(E, 2 * E))).data
        state[f"memory_v{i}"] = attn._heads(attn._project(memory, slice(2 * E, 3 * E))).data
    q = attn._heads(attn._project(x, slice(0, E)))
    out, weights = F.scaled_dot_product_attention(
        q, Tensor(state[f"memory_k{i}"]), Tensor(state[f"memory_v{i}"]),
        key_padding_mask=mask)
    out = attn.out_proj(out.transpose(1, 2).reshape(x.shape[0], 1, E))
    return out, weights.mean(axis=1)


def _append(state: dict, key: str, new: np.ndarray) -> np.ndarray:
    """``state[key]`` (N, h, t, d) with ``new`` (N, h, 1, d) appended on the position axis
    (created at the first step); stored back and returned."""
    state[key] = new if key not in state else np.concatenate([state[key], new], axis=2)
    return state[key]
