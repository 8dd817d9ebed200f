"""Sequence models built on tinygrad_attn, their data, decoding, training loop and command
line. Each model is one file: ``seq2seq.py``, ``peeky_seq2seq.py``, ``attention_seq2seq.py``,
``bahdanau_seq2seq.py``, ``transformer.py``; ``base.py`` holds what they share."""
from .attention_seq2seq import AttentionSeq2Seq
from .bahdanau_seq2seq import BahdanauSeq2Seq
from .base import Seq2SeqModel
from .peeky_seq2seq import PeekySeq2Seq
from .seq2seq import Seq2Seq
from .transformer import Transformer

__all__ = ["Seq2SeqModel", "Seq2Seq", "PeekySeq2Seq", "AttentionSeq2Seq", "BahdanauSeq2Seq",
           "Transformer"]
