"""The Transformer encoder-decoder of Vaswani et al. 2017, "Attention Is All You Need".

    source ids (N, S) -> Embedding (V_src x D) * sqrt(D) + PE -> dropout
                      -> encoder: L_enc x [self-attention (source padding masked), FFN]
                      -> LayerNorm -> memory (N, S, D)
    target ids (N, T) -> Embedding (V_tgt x D) * sqrt(D) + PE -> dropout
                      -> decoder: L_dec x [causal self-attention, attention over memory, FFN]
                      -> LayerNorm -> Linear (D -> V_tgt) -> logits (N, T, V_tgt)

With ``share_embeddings`` (one joint vocabulary, V_src = V_tgt) the source embedding, the
target embedding and the output layer's weight are one matrix (sec. 3.4, after Press &
Wolf 2017, "Using the Output Embedding to Improve Language Models").

Math: sec. 3.1 (the stacks, residual + LayerNorm around every sublayer), 3.2 (scaled
dot-product and multi-head attention, the decoder's mask of future positions), 3.4
(embeddings multiplied by sqrt(d_model)), 3.5 (sinusoidal positions), 5.4 (dropout on
every sublayer output and on the embedding sums). The encoder and decoder are PyTorch's
``nn.TransformerEncoder`` / ``nn.TransformerDecoder`` layout with the final LayerNorm
that ``torch.nn.Transformer`` has, so their state dict loads into ``torch.nn.Transformer``
(tested).
"""
from __future__ import annotations

import math

import numpy as np

from tinygrad_attn import Tensor, nn
from tinygrad_attn.nn.module import _uniform

from .base import Seq2SeqModel
from .transformer_cache import cached_decode_step


class Transformer(Seq2SeqModel):
    """A Transformer sequence-to-sequence model, with separate source and target vocabularies
or one joint vocabulary whose embedding both sides and the output layer share.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int, V_src and V_tgt.
    d_model : int, D, the width of every layer (divisible by ``nhead``).
    nhead : int, attention heads per layer.
    num_encoder_layers, num_decoder_layers : int, >= 1.
    dim_feedforward : int, the hidden width of the position-wise feed-forward nets.
    dropout : float, on embeddings + positions, attention weights and sublayer outputs.
    max_len : int, the longest source or target the position table covers.
    norm_first : bool, pre-norm layers (Xiong et al. 2020) instead of the paper's post-norm.
    share_embeddings : bool, one (V, D) matrix for ``src_embedding.weight``,
        ``tgt_embedding.weight`` and ``out.weight`` (sec. 3.4; needs V_src = V_tgt, a joint
        vocabulary): it is one Parameter, listed once by ``named_parameters()`` and the
        state dict (as ``src_embedding.weight``; ``out.bias`` stays), whose gradient sums
        its three uses.
    seed : int or None, seeds the engine's generator (``nn.manual_seed``) before the
        weights are drawn.

    Weights: embeddings N(0, 1/D) (so that scaled by sqrt(D) they have unit variance, as
    fairseq does); every matrix of the encoder and decoder Xavier-uniform, each layer drawn
    separately (as ``torch.nn.Transformer`` does); LayerNorms 1 and 0; the output layer
    PyTorch's ``Linear`` default. Submodules: ``src_embedding``, ``tgt_embedding``,
    ``positional_encoding``, ``encoder`` (``layers.{i}``, ``norm``), ``decoder``
    (``layers.{i}``, ``norm``), ``out``. ``config`` holds the constructor arguments.

    The model interface (see ``models.base``):

    - ``encode(src (N, S) int, src_padding_mask (N, S) bool or None) -> memory``, a dict
      ``{"memory": Tensor (N, S, D), "src_padding_mask": bool ndarray (N, S)}``.
    - ``init_decoder(memory) -> state``: the memory dict plus ``"tokens"``, the (N, 0)
      int64 array of target tokens read so far.
    - ``decode_step(prev_ids (N,), state) -> (logits (N, V_tgt), state, weights (N, S))``:
      appends ``prev_ids`` to the tokens and runs the decoder over all of them (the
      Transformer has no recurrent state; recomputing is simple and exact).
    - ``decode(tgt_in (N, T) int, memory) -> (logits (N, T, V_tgt), weights (N, T, S))``,
      one causal pass.

    The attention weights are the last decoder layer's encoder-decoder attention,
    averaged over the heads (``decoder.layers[-1].cross_attn_weights``).

    Raises
    ------
    ValueError  d_model not divisible by nhead, layer counts < 1, sequences longer than
        ``max_len``, a padding mask of the wrong shape, ``share_embeddings`` with two
        vocabulary sizes.
    """

    MODEL_NAME = "transformer"
    MEMORY_KEYS = ("memory", "src_padding_mask")

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 128,
                 nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 256, dropout: float = 0.1, max_len: int = 256,
                 norm_first: bool = False, share_embeddings: bool = False,
                 seed: int | None = None):
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(f"Transformer: share_embeddings needs one joint vocabulary, got "
                             f"src_vocab_size={src_vocab_size} and tgt_vocab_size="
                             f"{tgt_vocab_size} (fix: build the data with a joint vocabulary, "
                             f"or share_embeddings=False)")
        if seed is not None:
            nn.manual_seed(seed)
        self.config = dict(src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size,
                           d_model=d_model, nhead=nhead, num_encoder_layers=num_encoder_layers,
                           num_decoder_layers=num_decoder_layers,
                           dim_feedforward=dim_feedforward, dropout=dropout, max_len=max_len,
                           norm_first=norm_first, share_embeddings=share_embeddings,
                           seed=seed)
        self.d_model = d_model
        self.src_embedding = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model)
        for emb in (self.src_embedding, self.tgt_embedding):
            emb.weight.data = (emb.weight.data / math.sqrt(d_model)).astype(np.float32)
        self.positional_encoding = nn.PositionalEncoding(d_model, dropout, max_len)
        layer_args = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                          dropout=dropout, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_args),
                                             num_encoder_layers, norm=nn.LayerNorm(d_model))
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_args),
                                             num_decoder_layers, norm=nn.LayerNorm(d_model))
        for part in (self.encoder, self.decoder):      # Glorot & Bengio 2010, per matrix
            for p in part.parameters():
                if p.ndim > 1:
                    p.data = _uniform(p.shape, math.sqrt(6.0 / (p.shape[0] + p.shape[1])))
        self.out = nn.Linear(d_model, tgt_vocab_size)
        if share_embeddings:     # drawn as without sharing (the same stream), then tied
            self.tgt_embedding.weight = self.out.weight = self.src_embedding.weight

    def _embed(self, embedding: nn.Embedding, ids) -> Tensor:
        """ids (N, L) int -> (N, L, D): embedding * sqrt(D) + positions, then dropout."""
        return self.positional_encoding(embedding(ids) * math.sqrt(self.d_model))

    def encode(self, src, src_padding_mask=None) -> dict:
        """src (N, S) int, src_padding_mask bool (N, S) (True at padding) or None ->
        ``{"memory": Tensor (N, S, D), "src_padding_mask": bool (N, S)}``."""
        src = np.asarray(src.data if isinstance(src, Tensor) else src)
        if src.ndim != 2:
            raise ValueError(f"Transformer.encode: src must be (N, S) token ids, got shape "
                             f"{src.shape}")
        if src_padding_mask is None:
            mask = np.zeros(src.shape, dtype=bool)
        else:
            mask = np.asarray(src_padding_mask, dtype=bool)
            if mask.shape != src.shape:
                raise ValueError(f"Transformer.encode: src_padding_mask must have the shape of "
                                 f"src {src.shape}, got {mask.shape} (fix: src == pad_id)")
        memory = self.encoder(self._embed(self.src_embedding, src),
                              src_key_padding_mask=mask)
        return {"memory": memory, "src_padding_mask": mask}

    def init_decoder(self, memory: dict) -> dict:
        """The state before the first step: the memory dict and no tokens yet (N, 0)."""
        N = memory["memory"].shape[0]
        return {"memory": memory["memory"], "src_padding_mask": memory["src_padding_mask"],
                "tokens": np.zeros((N, 0), dtype=np.int64)}

    def decode(self, tgt_in, memory: dict):
        """Teacher-forced decoder: tgt_in (N, T) int -> logits (N, T, V_tgt) and the last
        layer's encoder-decoder attention weights (N, T, S) (mean over heads), one causal
        pass (position t sees target tokens 0..t and every unpadded source token)."""
        tgt_in = np.asarray(tgt_in.data if isinstance(tgt_in, Tensor) else tgt_in)
        x = self.decoder(self._embed(self.tgt_embedding, tgt_in), memory["memory"],
                         memory_key_padding_mask=memory["src_padding_mask"],
                         tgt_is_causal=True)
        return self.out(x), self.decoder.layers[-1].cross_attn_weights

    def decode_step(self, prev_ids, state: dict):
        """prev_ids (N,) int -> logits (N, V_tgt) for the next token, the new state (tokens
        extended by prev_ids, and the key/value cache) and the weights over the source
        (N, S). FAST PATH: only the newest position goes through the decoder, with the
        earlier positions' keys and values cached (``models.transformer_cache``); the
        composed path is :meth:`decode_prefix_step`, and a test holds the two equal.
        Inference only (no graph is recorded). Raises ValueError past ``max_len``."""
        prev = np.asarray(prev_ids.data if isinstance(prev_ids, Tensor) else prev_ids)
        return cached_decode_step(self, prev, state)

    def decode_prefix_step(self, prev_ids, state: dict):
        """The composed (teaching) path of :meth:`decode_step`: the whole decoder over every
        token so far (:meth:`decode`, causal), of which the last position's logits are
        kept. prev_ids (N,) int -> logits (N, V_tgt), the new state (tokens extended by
        prev_ids) and the weights over the source (N, S). O(t) positions at step t."""
        prev = np.asarray(prev_ids.data if isinstance(prev_ids, Tensor) else prev_ids)
        tokens = np.concatenate([state["tokens"], prev.astype(np.int64).reshape(-1, 1)], axis=1)
        logits, weights = self.decode(tokens, state)
        return logits[:, -1], {**state, "tokens": tokens}, weights[:, -1]
