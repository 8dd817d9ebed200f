"""Layers (``tinygrad_attn.nn``): names, arguments and state-dict layouts follow PyTorch's
``torch.nn`` so that learners (and weights) move between the two.

- ``module``: ``Module``, ``Parameter``
- ``layers``: ``Linear``, ``Embedding``, ``Dropout``, ``LayerNorm``, ``clip_grad_norm_``
- ``recurrent``: ``RNN``, ``GRU``, ``LSTM`` and their cells
- ``attention``: Luong (dot, general, concat) and Bahdanau (additive) attention
- ``transformer``: ``MultiheadAttention``, ``TransformerEncoderLayer``,
  ``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder``,
  ``PositionalEncoding``, ``sinusoidal_positions`` (Vaswani et al. 2017)

Shapes use the book's letters: N batch, T time (target), S source length, D input
size, H hidden size, V vocabulary.
"""
from ..random import manual_seed  # noqa: F401  (re-exported)
from .attention import BahdanauAttention, LuongAttention
from .layers import Dropout, Embedding, LayerNorm, Linear, clip_grad_norm_
from .module import Module, Parameter
from .recurrent import (GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, gru_cell, lstm_cell,
                        rnn_cell)
from .transformer import (MultiheadAttention, PositionalEncoding, TransformerDecoder,
                          TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
                          sinusoidal_positions)

__all__ = ["Module", "Parameter", "Linear", "Embedding", "Dropout", "LayerNorm",
           "clip_grad_norm_", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell",
           "rnn_cell", "gru_cell", "lstm_cell", "LuongAttention", "BahdanauAttention",
           "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder",
           "PositionalEncoding", "sinusoidal_positions"]
