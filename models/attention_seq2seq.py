"""The attention seq2seq of Deep Learning from Scratch 2, chapter 8 (the reference model).

    source ids (N, S) -> Embedding (V x D) -> encoder LSTM (H) -> hs (N, S, H), h_S
    target ids (N, T) -> Embedding (V x D) -> decoder LSTM (H), initial state (h_S, 0)
                      -> dec_hs (N, T, H)
    Luong dot attention of every decoder state over hs:  a = softmax_S(dec_hs hs^T),
                      context = a hs (N, T, H)
    logits = Linear(concat(context, dec_hs)) (N, T, V)

Math: Luong, Pham & Manning (2015), sec. 3.1 (global attention, ``dot`` score, the
attentional hidden state fed to the output layer; here without the tanh layer, as in
the book); the encoder-decoder of Sutskever, Vinyals & Le (2014).
Training uses teacher forcing: the decoder input is ``answer[:, :-1]`` and the target
``answer[:, 1:]`` (the answer starts with the start symbol ``_``).
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import Tensor, concat, no_grad, nn
from tinygrad_attn import functional as F


class AttentionSeq2Seq(nn.Module):
    """Encoder-decoder with Luong dot attention.

    Parameters
    ----------
    vocab_size : int, V (one vocabulary shared by source and target, as in the book).
    wordvec_size : int, D, embedding size (book: 16).
    hidden_size : int, H, LSTM size (book: 256).
    init : {"book", "pytorch"}
        "book" (default): the book's initialisation, embeddings N(0, 0.01^2), LSTM and
        output weights N(0, 1/fan_in), biases 0 (Xavier-style; Glorot & Bengio 2010).
        "pytorch": the layers' own PyTorch-style uniform initialisation.
    """

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256,
                 init: str = "book", seed: int | None = None):
        if seed is not None:
            nn.manual_seed(seed)
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.config = dict(vocab_size=V, wordvec_size=D, hidden_size=H, init=init)
        self.encoder_embedding = nn.Embedding(V, D)
        self.encoder = nn.LSTM(D, H, batch_first=True)
        self.decoder_embedding = nn.Embedding(V, D)
        self.decoder = nn.LSTM(D, H, batch_first=True)
        self.attention = nn.LuongAttention("dot")
        self.out = nn.Linear(2 * H, V)
        if init == "book":
            self._book_init(seed)
        elif init != "pytorch":
            raise ValueError(f"AttentionSeq2Seq: init must be 'book' or 'pytorch', got {init!r}")

    def _book_init(self, seed):
        rng = np.random.default_rng(seed)
        for name, p in self.named_parameters():
            if "embedding" in name:
                p.data = (rng.standard_normal(p.shape) / 100).astype(np.float32)
            elif "bias" in name:
                p.data = np.zeros(p.shape, dtype=np.float32)
            else:  # weights stored (out, in): fan_in is the second axis
                p.data = (rng.standard_normal(p.shape) / np.sqrt(p.shape[1])).astype(np.float32)

    def encode(self, src, src_padding_mask=None):
        """src (N, S) int -> hs (N, S, H) and the last hidden state h (1, N, H).

        ``src_padding_mask`` is accepted for a uniform signature but not used here: the
        encoder runs over every position (the book's fixed-width character tasks pad
        with spaces that are real tokens). The attention does mask it.
        """
        hs, (h, _) = self.encoder(self.encoder_embedding(src))
        return hs, h

    def decode(self, tgt_in, hs, state, src_padding_mask=None):
        """One call of the decoder over ``tgt_in`` (N, T) int, given the encoder states.

        Returns logits (N, T, V), attention weights (N, T, S), and the LSTM state (h, c)
        to continue from (each (1, N, H)).
        """
        dec_hs, state = self.decoder(self.decoder_embedding(tgt_in), state)
        context, weights = self.attention(dec_hs, hs, src_padding_mask)
        logits = self.out(concat([context, dec_hs], axis=-1))
        return logits, weights, state

    def _initial_state(self, h):
        return h, Tensor(np.zeros(h.shape, dtype=h.dtype))

    def forward(self, src, tgt_in, src_padding_mask=None, return_attention: bool = False):
        """Teacher-forced pass: src (N, S), tgt_in (N, T) int -> logits (N, T, V)
        [and attention weights (N, T, S) if ``return_attention``]."""
        hs, h = self.encode(src, src_padding_mask)
        logits, weights, _ = self.decode(tgt_in, hs, self._initial_state(h), src_padding_mask)
        return (logits, weights) if return_attention else logits

    def loss(self, src, answer, src_padding_mask=None, ignore_index: int = -100) -> Tensor:
        """Mean cross-entropy (nats per target token) of ``answer[:, 1:]`` given
        ``answer[:, :-1]`` (teacher forcing). src (N, S), answer (N, T+1) int."""
        answer = np.asarray(answer)
        logits = self.forward(src, answer[:, :-1], src_padding_mask)
        return F.cross_entropy(logits, answer[:, 1:], ignore_index=ignore_index)

    @no_grad()
    def generate(self, src, start_id: int, length: int, src_padding_mask=None):
        """Batched greedy decoding: feed back the argmax token ``length`` times.

        Returns ids (N, length) int64 and attention weights (N, length, S) float32.
        """
        src = np.asarray(src)
        hs, h = self.encode(src, src_padding_mask)
        state = self._initial_state(h)
        token = np.full((src.shape[0], 1), start_id, dtype=np.int64)
        ids, weights = [], []
        for _ in range(length):
            logits, w, state = self.decode(token, hs, state, src_padding_mask)
            token = logits.data[:, -1].argmax(axis=-1)[:, None]
            ids.append(token[:, 0])
            weights.append(w.data[:, -1])
        return np.stack(ids, axis=1), np.stack(weights, axis=1)
