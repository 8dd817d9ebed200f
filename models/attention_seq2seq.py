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

With ``input_feeding=True`` the decoder is Luong's full one (sec. 3.1 eq. 5-6 and sec. 3.3):

    attentional vector  h~_t = tanh(W_c [c_t; h_t])            (N, H)   eq. 5
    logits              = W_s h~_t                             (N, V)   eq. 6
    decoder input       = [Embedding(y_{t-1}); h~_{t-1}]       h~_0 = 0, sec. 3.3

so the decoder LSTM itself sees what the attention read at the previous step (in the
book's model only the output layer sees the context). The input then depends on the
previous step, so the decoder runs step by step, like Bahdanau's.
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import Tensor, concat, nn, scope, stack

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
    input_feeding : bool
        False (default, the book's model): logits = Linear([context; h]). True: Luong's
        attentional layer and input feeding (see the module docstring); adds ``W_c``
        (H x 2H, no bias, as in the paper) and the decoder LSTM's input grows to D + H.

    ``forward(src, tgt_in, src_padding_mask=None, return_attention=True)`` returns logits
    (N, T, V) float32 and the attention weights (N, T, S).
    """

    MODEL_NAME = "attention"
    GROUPED_BEAMS = True

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256, *,
                 score: str = "dot", input_feeding: bool = False, **kwargs):
        super().__init__(src_vocab_size, wordvec_size, hidden_size, score=score,
                         input_feeding=bool(input_feeding), **kwargs)
        H, V = self.dec_hidden, self.config["tgt_vocab_size"]
        self.input_feeding = bool(input_feeding)
        self.decoder = self._decoder_layer(wordvec_size + (H if input_feeding else 0))
        self.attention = nn.LuongAttention(score, H, H)
        if input_feeding:
            self.W_c = nn.Linear(2 * H, H, bias=False)
            self.out = nn.Linear(H, V)
        else:
            self.out = nn.Linear(2 * H, V)
        self._initialise(self.config["init"], kwargs.get("seed"))

    def init_decoder(self, memory: dict) -> dict:
        state = super().init_decoder(memory)
        if self.input_feeding:                          # h~_0 = 0
            h = state["h"]
            state["feed"] = Tensor(np.zeros(h.shape, dtype=h.dtype))
        return state

    def _decode(self, tgt_in, state):
        if self.input_feeding:
            return self._decode_input_feeding(tgt_in, state)
        dec_hs, state = self._lstm(self.embed_target(tgt_in), state)
        context, weights = self._attend(dec_hs, state)
        return self.project(concat([context, dec_hs], axis=-1)), weights, state

    def _decode_input_feeding(self, tgt_in, state):
        embedded = self.embed_target(tgt_in)                       # (N, T, D)
        feeds, ws = [], []
        for t in range(tgt_in.shape[1]):
            with scope(t):
                x = concat([embedded[:, t], state["feed"]], axis=-1).unsqueeze(1)
                h, state = self._lstm(x, state)                         # (N, 1, H)
                context, w = self._attend(h, state)
                feed = self.W_c(concat([context, h], axis=-1)).tanh()   # h~_t, eq. 5
                state = {**state, "feed": feed[:, 0]}
            feeds.append(feed[:, 0])
            ws.append(w[:, 0])
        return self.project(stack(feeds, axis=1)), stack(ws, axis=1), state
