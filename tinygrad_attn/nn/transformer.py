"""The Transformer's layers (Vaswani et al. 2017, "Attention Is All You Need"), with
PyTorch's class names, arguments, submodule names and state-dict layout, so that weights
move between this engine and ``torch.nn`` unchanged:

- ``MultiheadAttention``: multi-head scaled dot-product attention (sec. 3.2.2);
- ``TransformerEncoderLayer``, ``TransformerDecoderLayer``: self-attention (and, in the
  decoder, encoder-decoder attention) and the position-wise feed-forward net (sec. 3.3),
  each sublayer wrapped as ``LayerNorm(x + Dropout(sublayer(x)))`` (sec. 3.1, 5.4);
- ``TransformerEncoder``, ``TransformerDecoder``: stacks of those layers, with an
  optional final LayerNorm (PyTorch's containers);
- ``sinusoidal_positions``, ``PositionalEncoding``: the fixed position signal (sec. 3.5).

Shapes (batch first): N batch, T target (query) length, S source (key) length,
E = d_model the model width.

Attention pictures: the layers keep the head-averaged weights of their last forward call
in attributes (``self_attn_weights``, and ``cross_attn_weights`` in the decoder), so a
model can show them without changing the PyTorch-shaped return values.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers import Dropout, LayerNorm, Linear
from .module import Module, Parameter, _check_size, _uniform


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017, sec. 3.2.2; PyTorch's ``nn.MultiheadAttention``).

    ``MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O`` with
    ``head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)``, the scaled dot-product attention of
    eq. 1 (:func:`tinygrad_attn.functional.scaled_dot_product_attention`); each head has
    width ``d = embed_dim / num_heads``.

    Parameters (PyTorch's names and layout)
    ---------------------------------------
    in_proj_weight : (3E, E), the rows of W^Q, W^K, W^V stacked (head i uses rows
        ``i*d:(i+1)*d`` of each); Xavier-uniform initialised (Glorot & Bengio 2010).
    in_proj_bias : (3E,), zeros (None when ``bias=False``).
    out_proj : ``Linear(E, E)``, W^O; its bias starts at zero.

    Arguments
    ---------
    embed_dim : int, E. num_heads : int, h, must divide E.
    dropout : float, dropout on the attention weights in training mode.
    bias : bool, learn the input and output projection biases.
    batch_first : must be True (inputs are (N, T, E)).
    kdim, vdim : must be None or E (different key / value sizes are not implemented).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)
        query (N, T, E), key (N, S, E), value (N, S, E) float.
        key_padding_mask : bool (N, S), True where the key is padding.
        attn_mask : bool (T, S) or (N * h, T, S), True = not allowed (PyTorch's layout).
        is_causal : mask key s > query t. Unlike PyTorch (where it is only a hint that
        ``attn_mask`` is causal) it builds the causal mask itself; it may also be combined
        with ``attn_mask``.
        Returns ``(output, weights)``: output (N, T, E); weights (N, T, S) averaged over the
        heads, or (N, h, T, S) when ``average_attn_weights=False``, or None when
        ``need_weights=False``. The weights are the attention distribution before dropout
        (PyTorch returns them after dropout in training mode; in eval mode they agree).
        A query whose keys are all masked gets all-zero weights and output ``out_proj.bias``
        (PyTorch gives NaN there).

    Raises
    ------
    ValueError  E not divisible by h, E or h < 1, dropout outside [0, 1], wrong input ranks
        or sizes, a mask of the wrong shape.
    TypeError  E or h not an int.
    NotImplementedError  ``batch_first=False`` or kdim / vdim different from E.
    TypeError  a mask that is not bool.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, kdim: int | None = None, vdim: int | None = None):
        embed_dim = _check_size("MultiheadAttention", "embed_dim", embed_dim)
        num_heads = _check_size("MultiheadAttention", "num_heads", num_heads)
        dropout = F._check_probability("MultiheadAttention", "dropout", dropout)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads} (each head has embed_dim / num_heads "
                             f"dimensions; fix: pick num_heads among the divisors of "
                             f"embed_dim, or embed_dim a multiple of num_heads)")
        if not batch_first:
            raise NotImplementedError(
                "MultiheadAttention: only batch_first=True is implemented (fix: pass "
                "batch_first=True and give (N, T, E) inputs, e.g. x.transpose(0, 1) of a "
                "(T, N, E) tensor)")
        if (kdim is not None and kdim != embed_dim) or (vdim is not None and vdim != embed_dim):
            raise NotImplementedError(
                f"MultiheadAttention: kdim={kdim} / vdim={vdim} different from embed_dim="
                f"{embed_dim} is not implemented (fix: project keys and values to embed_dim "
                f"with a Linear first)")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.kdim = self.vdim = embed_dim
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))          # Xavier uniform, (3E, E)
        self.in_proj_weight = Parameter(_uniform((3 * embed_dim, embed_dim), bound))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data = np.zeros(embed_dim, dtype=np.float32)

    def _project(self, x: Tensor, part: slice) -> Tensor:
        """x (N, L, E) @ rows ``part`` of in_proj_weight (+ bias) -> (N, L, len(part))."""
        y = x @ self.in_proj_weight[part].T
        return y + self.in_proj_bias[part] if self.in_proj_bias is not None else y

    def _heads(self, x: Tensor) -> Tensor:
        """(N, L, E) -> (N, h, L, d): split the last axis into the heads."""
        N, L, _ = x.shape
        return x.reshape(N, L, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        E, h = self.embed_dim, self.num_heads
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3 \
                or {query.shape[2], key.shape[2], value.shape[2]} != {E} \
                or key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"MultiheadAttention(E={E}): query must be (N, T, {E}) and key, "
                             f"value (N, S, {E}), got {query.shape}, {key.shape}, {value.shape} "
                             f"(fix: batch-first inputs of width embed_dim)")
        N, T, S = query.shape[0], query.shape[1], key.shape[1]
        if key_padding_mask is not None:
            key_padding_mask = F._bool_mask(key_padding_mask, "MultiheadAttention",
                                            "key_padding_mask")
            if key_padding_mask.shape != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask has shape "
                                 f"{key_padding_mask.shape}, expected (N, S) = {(N, S)}, True "
                                 f"where the key is padding (fix: e.g. src_ids == pad_id)")
        if attn_mask is not None:
            attn_mask = F._bool_mask(attn_mask, "MultiheadAttention", "attn_mask")
            if attn_mask.shape == (N * h, T, S):            # PyTorch's per-head layout
                attn_mask = attn_mask.reshape(N, h, T, S)
            elif attn_mask.shape != (T, S):
                raise ValueError(f"MultiheadAttention: attn_mask has shape {attn_mask.shape}, "
                                 f"expected (T, S) = {(T, S)} or (N * num_heads, T, S) = "
                                 f"{(N * h, T, S)}, True = not allowed")
        if query is key and key is value:                   # self-attention: one projection
            q, k, v = self._project(query, slice(None)).split(E, axis=-1)
        else:
            q = self._project(query, slice(0, E))
            k = self._project(key, slice(E, 2 * E))
            v = self._project(value, slice(2 * E, 3 * E))
        out, weights = F.scaled_dot_product_attention(
            self._heads(q), self._heads(k), self._heads(v), attn_mask=attn_mask,
            key_padding_mask=key_padding_mask, is_causal=is_causal, dropout_p=self.dropout,
            training=self.training)                         # (N, h, T, d), (N, h, T, S)
        out = self.out_proj(out.transpose(1, 2).reshape(N, T, E))
        if not need_weights:
            return out, None
        return out, (weights.mean(axis=1) if average_attn_weights else weights)


def _activation(activation, owner: str):
    """'relu' -> F.relu; a callable is used as it is."""
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    raise ValueError(f"{owner}: activation must be 'relu' or a callable Tensor -> Tensor, got "
                     f"{activation!r} (the engine has no erf, so no exact 'gelu'; fix: pass "
                     f"'relu' or your own function)")


def _check_layer_sizes(owner: str, d_model, nhead, dim_feedforward) -> None:
    """The sizes of a Transformer layer, checked with the layer's name in the message:
    ints >= 1, ``d_model`` divisible by ``nhead`` (TypeError / ValueError)."""
    d_model = _check_size(owner, "d_model", d_model)
    nhead = _check_size(owner, "nhead", nhead)
    _check_size(owner, "dim_feedforward", dim_feedforward)
    if d_model % nhead:
        raise ValueError(f"{owner}: d_model {d_model} must be divisible by nhead {nhead} "
                         f"(fix: pick nhead among the divisors of d_model)")


class TransformerEncoderLayer(Module):
    """One encoder layer (Vaswani et al. 2017, sec. 3.1; PyTorch's ``nn.TransformerEncoderLayer``):
    multi-head self-attention, then the position-wise feed-forward net
    ``FFN(x) = linear2(dropout(relu(linear1(x))))`` (sec. 3.3, eq. 2).

    Post-norm (``norm_first=False``, the paper's): ``x = norm1(x + dropout1(SA(x)))``,
    ``x = norm2(x + dropout2(FFN(x)))``. Pre-norm (``norm_first=True``; Xiong et al. 2020):
    ``x = x + dropout1(SA(norm1(x)))``, ``x = x + dropout2(FFN(norm2(x)))``.

    Arguments: d_model (E), nhead, dim_feedforward, dropout, activation ('relu' or a
    callable), layer_norm_eps, batch_first (must be True), norm_first, bias (for the
    Linear and LayerNorm layers), as PyTorch's. Submodules: ``self_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)
        src (N, S, E) float; src_mask bool (S, S) or (N * nhead, S, S), True = not
        allowed; src_key_padding_mask bool (N, S), True at padding; is_causal: mask the
        future. Returns (N, S, E).

    Attribute ``self_attn_weights``: the self-attention weights of the last forward call,
    Tensor (N, S, S) averaged over the heads (None before the first call).

    Raises: see :class:`MultiheadAttention`; ValueError for an unknown activation.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False, bias: bool = True):
        _check_layer_sizes("TransformerEncoderLayer", d_model, nhead, dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")
        self.self_attn_weights: Tensor | None = None

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x, self.self_attn_weights = self.self_attn(x, x, x, key_padding_mask=key_padding_mask,
                                                   attn_mask=attn_mask, is_causal=is_causal)
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(Module):
    """One decoder layer (Vaswani et al. 2017, sec. 3.1; PyTorch's ``nn.TransformerDecoderLayer``):
    masked multi-head self-attention, multi-head attention over the encoder output
    ("encoder-decoder attention", sec. 3.2.3), then the feed-forward net (sec. 3.3).

    Post-norm (default): ``x = norm1(x + dropout1(SA(x)))``, ``x = norm2(x +
    dropout2(MHA(x, memory)))``, ``x = norm3(x + dropout3(FFN(x)))``; ``norm_first=True``
    puts each norm on the sublayer's input instead (``x = x + dropout(sublayer(norm(x)))``).

    Arguments as :class:`TransformerEncoderLayer`. Submodules: ``self_attn``,
    ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``,
    ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
        tgt (N, T, E), memory (N, S, E) float; tgt_mask bool (T, T), memory_mask bool
        (T, S) (or the (N * nhead, ., .) layouts), True = not allowed; the key padding
        masks bool (N, T) and (N, S), True at padding; ``tgt_is_causal=True`` masks the
        future in the self-attention (it builds the mask; ``tgt_mask`` may be omitted).
        Returns (N, T, E).

    Attributes, set by each forward call (Tensors averaged over the heads, part of the
    graph; None before the first call): ``self_attn_weights`` (N, T, T) and
    ``cross_attn_weights`` (N, T, S), the encoder-decoder attention a model shows as
    its alignment picture, and ``cross_attn_head_weights`` (N, nhead, T, S), the same per
    head (one panel per head in ``viz.plot_attention_heads``).

    Raises: see :class:`MultiheadAttention`; ValueError for an unknown activation.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False, bias: bool = True):
        _check_layer_sizes("TransformerDecoderLayer", d_model, nhead, dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")
        self.self_attn_weights: Tensor | None = None
        self.cross_attn_weights: Tensor | None = None
        self.cross_attn_head_weights: Tensor | None = None

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x, self.self_attn_weights = self.self_attn(x, x, x, key_padding_mask=key_padding_mask,
                                                   attn_mask=attn_mask, is_causal=is_causal)
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x, self.cross_attn_head_weights = self.multihead_attn(
            x, memory, memory, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
            is_causal=is_causal, average_attn_weights=False)
        self.cross_attn_weights = self.cross_attn_head_weights.mean(axis=1)
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` and an optional final ``norm``
    (PyTorch's ``nn.TransformerEncoder``; state-dict names ``layers.{i}.*``, ``norm.*``).

    The copies start with equal weights, as in PyTorch (re-initialise them, as
    ``models.transformer.Transformer`` does, to break the symmetry).

    forward(src, mask=None, src_key_padding_mask=None, is_causal=False)
        src (N, S, E); masks as :class:`TransformerEncoderLayer`. Returns (N, S, E).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm=None):
        num_layers = _check_size("TransformerEncoder", "num_layers", num_layers)
        self.layers = [copy.deepcopy(encoder_layer) for _ in range(num_layers)]
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer`` and an optional final ``norm``
    (PyTorch's ``nn.TransformerDecoder``; state-dict names ``layers.{i}.*``, ``norm.*``).

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
        tgt (N, T, E), memory (N, S, E); masks as :class:`TransformerDecoderLayer`, passed
        to every layer. Returns (N, T, E). ``layers[-1].cross_attn_weights`` holds the last
        layer's encoder-decoder attention (N, T, S).
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm=None):
        num_layers = _check_size("TransformerDecoder", "num_layers", num_layers)
        self.layers = [copy.deepcopy(decoder_layer) for _ in range(num_layers)]
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


def sinusoidal_positions(length: int, d_model: int, dtype=np.float32) -> np.ndarray:
    """The sinusoidal position encodings of Vaswani et al. 2017, sec. 3.5:
    ``PE[pos, 2i] = sin(pos / 10000^(2i / d_model))``, ``PE[pos, 2i+1] = cos(same)``.

    Returns an ndarray (length, d_model) of ``dtype`` (computed in float64), values in
    [-1, 1]; row 0 is [0, 1, 0, 1, ...]. An odd d_model drops the last cosine column.

    Raises ValueError for a negative length or a d_model < 1; TypeError when either is
    not an int.
    """
    length = _check_size("sinusoidal_positions", "length", length, minimum=0)
    d_model = _check_size("sinusoidal_positions", "d_model", d_model)
    pos = np.arange(length, dtype=np.float64)[:, None]                  # (length, 1)
    inv_freq = 10000.0 ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.empty((length, d_model + d_model % 2))
    pe[:, 0::2] = np.sin(pos * inv_freq)
    pe[:, 1::2] = np.cos(pos * inv_freq)
    return pe[:, :d_model].astype(dtype)


class PositionalEncoding(Module):
    """Add the sinusoidal position encodings, then dropout (Vaswani et al. 2017, sec. 3.5
    and 5.4): ``forward(x (N, T, d_model)) -> dropout(x + PE[:T])``, same shape and dtype.

    The table ``pe`` (max_len, d_model) is a fixed float64 ndarray, not a Parameter (it is
    not in the state dict); it is cast to x's dtype when added, so a float64 model gets
    float64 positions. Raises ValueError when x's last axis is not d_model or T > max_len;
    at construction TypeError / ValueError for sizes that are not ints >= 1 and dropout
    outside [0, 1].
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        d_model = _check_size("PositionalEncoding", "d_model", d_model)
        max_len = _check_size("PositionalEncoding", "max_len", max_len)
        self.d_model, self.max_len = d_model, max_len
        self.pe = sinusoidal_positions(max_len, d_model, dtype=np.float64)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ValueError(f"PositionalEncoding(d_model={self.d_model}, max_len="
                             f"{self.max_len}): input must be (..., T, {self.d_model}) with "
                             f"T <= {self.max_len}, got {x.shape} (fix: build it with a "
                             f"larger max_len, or shorten the sequences)")
        return self.dropout(x + self.pe[:x.shape[-2]])

    def extra_repr(self) -> str:
        """``d_model=8, max_len=5000`` (PositionalEncoding is not in PyTorch)."""
        return f"d_model={self.d_model}, max_len={self.max_len}"
