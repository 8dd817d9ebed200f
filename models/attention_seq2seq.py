"""The attention seq2seq of Deep Learning from Scratch 2, chapter 8 (the reference model),
generalised over Luong's score functions and the encoder's shape.

    source ids (N, S) -> Embedding (V x D) -> encoder LSTM (H; optionally stacked,
                      bidirectional, residual) -> hs (N, S, H), h_S
    target ids (N, T) -> Embedding (V x D) -> decoder LSTM (H), initial state (h_S, 0)
                      -> dec_hs (N, T, H)
    attention of every decoder state over hs:  a = softmax_S(score(dec_hs, hs)) (N, T, S),
                      context = a hs (N, T, H)     (padding masked)
    logits = Linear([context; dec_hs]) (N, T, V)

Math: Luong, Pham & Manning (2015), sec. 3.1 (global attention; scores ``dot``, ``general``,
``concat``, eq. 8; the context and the decoder state feed the output layer, here without
the tanh layer of eq. 5, as in the book); the encoder-decoder of Sutskever et al. (2014).
Training uses teacher forcing: the decoder input is ``answer[:, :-1]`` and the target
``answer[:, 1:]`` (the answer starts with the start symbol).
"""
from __future__ import annotations

from tinygrad_attn import concat, nn

from .base import RecurrentSeq2Seq


class AttentionSeq2Seq(RecurrentSeq2Seq):
    """Encoder-decoder with Luong attention.

    Parameters
    ----------
    src_vocab_size, wordvec_size, hidden_size, tgt_vocab_size, num_layers, bidirectional,
    residual, dropout, init, seed
        See :class:`models.base.RecurrentSeq2Seq` (book defaults: D = 16, H = 256, "book"
        init: embeddings N(0, 0.01^2), weights N(0, 1/fan_in), biases 0).
    score : {"dot", "general", "concat"}
        Luong's score function (:class:`tinygrad_attn.nn.LuongAttention`); "dot" is the book's.

    ``forward(src, tgt_in, src_padding_mask=None, return_attention=True)`` returns logits
    (N, T, V) float32 and the attention weights (N, T, S).
    """

    MODEL_NAME = "attention"

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256, *,
                 score: str = "dot", **kwargs):
        super().__init__(src_vocab_size, wordvec_size, hidden_size, score=score, **kwargs)
        H, V = self.dec_hidden, self.config["tgt_vocab_size"]
        self.decoder = nn.LSTM(wordvec_size, H)
        self.attention = nn.LuongAttention(score, H, H)
        self.out = nn.Linear(2 * H, V)
        self._initialise(self.config["init"], kwargs.get("seed"))

    def _decode(self, tgt_in, state):
        dec_hs, state = self._lstm(self.decoder_embedding(tgt_in), state)
        context, weights = self.attention(dec_hs, state["hs"], state["mask"])
        return self.out(concat([context, dec_hs], axis=-1)), weights, state
