"""The plain encoder-decoder (Sutskever, Vinyals & Le 2014; Deep Learning from Scratch 2,
ch. 7 ``Seq2seq``): the decoder sees the source only through its initial state.

    source ids (N, S) -> Embedding -> encoder LSTM -> final state h_S (N, H)
    target ids (N, T) -> Embedding -> decoder LSTM, initial state (h_S, 0) -> (N, T, H)
                      -> Linear -> logits (N, T, V)

Everything the decoder knows about the source must pass through the fixed-size vector h_S,
which is why it struggles with long inputs: the bottleneck attention removes.
"""
from __future__ import annotations

from tinygrad_attn import nn

from .base import RecurrentSeq2Seq


class Seq2Seq(RecurrentSeq2Seq):
    """The vanilla seq2seq. Arguments: see :class:`models.base.RecurrentSeq2Seq`.

    ``forward(src, tgt_in, src_padding_mask=None)`` -> logits (N, T, V) float32; no attention
    weights (``decode_step`` returns None for them).
    """

    MODEL_NAME = "seq2seq"
    GROUPED_BEAMS = True          # the decoder never reads the memory

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256,
                 **kwargs):
        super().__init__(src_vocab_size, wordvec_size, hidden_size, **kwargs)
        H, V = self.dec_hidden, self.config["tgt_vocab_size"]
        self.decoder = self._decoder_layer(wordvec_size)
        self.out = nn.Linear(H, V)
        self._initialise(self.config["init"], kwargs.get("seed"))

    def _decode(self, tgt_in, state):
        dec_hs, state = self._lstm(self.embed_target(tgt_in), state)
        return self.project(dec_hs), None, state
