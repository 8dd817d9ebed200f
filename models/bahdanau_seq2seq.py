"""The RNNsearch model of Bahdanau, Cho & Bengio (2014), "Neural Machine Translation by
Jointly Learning to Align and Translate": additive attention computed from the decoder's
*previous* state, before the RNN step, and the context fed into that step.

    source ids (N, S) -> Embedding -> encoder LSTM (bidirectional by default, as in the
                      paper) -> h_j (N, S, H)
    for each target step i, from the previous state s_{i-1} and token y_{i-1}:
        e_ij = v_a . tanh(W_a s_{i-1} + U_a h_j)      (eq. 6; padding masked)
        a_i = softmax_j(e_i) (N, S),  c_i = sum_j a_ij h_j (N, H)
        s_i = LSTMCell([Embedding(y_{i-1}); c_i], s_{i-1})   (or GRUCell: cell="gru")
        logits_i = Linear([s_i; c_i]) (N, V)

Unlike Luong's models, the decoder input depends on the state, so the decoder is a loop of
cells even when the whole target is known (teacher forcing). The paper uses a gated unit
of the GRU's kind (its appendix A.1.1) and a maxout output layer; here an LSTM cell by
default (the project's other models use LSTMs), a GRU cell with ``cell="gru"``, and a
linear output layer. The initial state is the encoder's final state (the paper
uses a tanh layer over the backward encoder's first state).
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import concat, nn, scope, stack

from .base import RecurrentSeq2Seq


class BahdanauSeq2Seq(RecurrentSeq2Seq):
    """Encoder-decoder with Bahdanau (additive) attention. Arguments: see
    :class:`models.base.RecurrentSeq2Seq`; ``bidirectional`` defaults to True here, and
    ``attn_size`` (default H) is the size of the additive layer.

    ``forward(src, tgt_in, src_padding_mask=None, return_attention=True)`` returns logits
    (N, T, V) float32 and the attention weights (N, T, S).

    The decoder cell runs fused (``nn.LSTMCell(fused=True)`` or ``nn.GRUCell(fused=True)``:
    one node per step, for speed); pictures of the
    graph draw it composed unless asked otherwise (``models.graphs.training_step(
    fused=...)``, ``tinygrad-attn graph --fused``). Each
    decoder step runs in ``scope(t)``.
    """

    MODEL_NAME = "bahdanau"
    MEMORY_KEYS = ("hs", "mask", "keys")

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256, *,
                 bidirectional: bool = True, attn_size: int | None = None, **kwargs):
        super().__init__(src_vocab_size, wordvec_size, hidden_size, bidirectional=bidirectional,
                         attn_size=attn_size, **kwargs)
        H, V = self.dec_hidden, self.config["tgt_vocab_size"]
        self.attention = nn.BahdanauAttention(H, H, attn_size)
        self.decoder = nn.LSTMCell(wordvec_size + H, H, fused=True) if self.cell == "lstm" \
            else nn.GRUCell(wordvec_size + H, H, fused=True)
        self.out = nn.Linear(2 * H, V)
        self._initialise(self.config["init"], kwargs.get("seed"))

    def init_decoder(self, memory: dict) -> dict:
        state = super().init_decoder(memory)
        return {**state, "keys": self.attention.project_keys(state["hs"])}   # U_a h_j, once

    def _recur(self, prev_ids, state):
        """The recurrent part of one step: attention from the previous state, then the cell.
        Returns the output layer's input [s_i; c_i] (N, 2H) (:meth:`drop_features`), the
        new state and the weights (N, S)."""
        context, weights = self.attention(state["h"], state["hs"], state["mask"], state["keys"])
        x = concat([self.embed_target(prev_ids), context], axis=-1)
        if self.cell == "gru":
            h = self.decoder(x, state["h"])
            new = {**state, "h": h}
        else:
            h, c = self.decoder(x, (state["h"], state["c"]))
            new = {**state, "h": h, "c": c}
        return self.drop_features(concat([h, context], axis=-1)), new, weights

    def decode_step(self, prev_ids, state):
        features, new, weights = self._recur(prev_ids, state)
        return self.out(features), new, weights

    def decode(self, tgt_in, memory):
        """Teacher forcing: the recurrence step by step (each step in ``scope(t)``), then the
        output layer once over all steps, (N, T, 2H) -> (N, T, V): one matrix product (and
        one for each gradient) instead of T small ones, the same logits as T calls of
        :meth:`decode_step`."""
        state, features, ws = self.init_decoder(memory), [], []
        for t in range(np.asarray(tgt_in).shape[1]):
            with scope(t):                    # one cluster per step in the graph picture
                f, state, w = self._recur(np.asarray(tgt_in)[:, t], state)
            features.append(f)
            ws.append(w)
        return self.out(stack(features, axis=1)), stack(ws, axis=1)
