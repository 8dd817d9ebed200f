"""The "peeky" seq2seq of Deep Learning from Scratch 2, ch. 7.3.2 (after Cho et al. 2014,
whose decoder also reads the summary vector c at every step): the encoder's final state
h_S joins every decoder input and the output layer's input, so the decoder does not have
to carry it through its own state.

    source ids (N, S) -> Embedding -> encoder LSTM -> h_S (N, H)
    target ids (N, T) -> Embedding (N, T, D) ; [embedding; h_S] (N, T, D + H)
                      -> decoder LSTM, initial state (h_S, 0) -> dec_hs (N, T, H)
                      -> Linear([dec_hs; h_S]) -> logits (N, T, V)
"""
from __future__ import annotations

from tinygrad_attn import concat, nn

from .base import RecurrentSeq2Seq


class PeekySeq2Seq(RecurrentSeq2Seq):
    """Seq2seq whose decoder "peeks" at the context vector at every step. Arguments: see
    :class:`models.base.RecurrentSeq2Seq`. forward -> logits (N, T, V) float32; no
    attention weights."""

    MODEL_NAME = "peeky"
    MEMORY_KEYS = ("hs", "mask", "peek")

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256,
                 **kwargs):
        super().__init__(src_vocab_size, wordvec_size, hidden_size, **kwargs)
        H, V = self.dec_hidden, self.config["tgt_vocab_size"]
        self.decoder = self._decoder_layer(wordvec_size + H)
        self.out = nn.Linear(2 * H, V)
        self._initialise(self.config["init"], kwargs.get("seed"))

    def init_decoder(self, memory: dict) -> dict:
        return {**super().init_decoder(memory), "peek": memory["h"]}

    def _decode(self, tgt_in, state):
        N, T = tgt_in.shape
        peek = state["peek"].unsqueeze(1).broadcast_to((N, T, self.dec_hidden))   # h_S per step
        dec_hs, state = self._lstm(concat([self.embed_target(tgt_in), peek], axis=-1), state)
        return self.project(concat([dec_hs, peek], axis=-1)), None, state
