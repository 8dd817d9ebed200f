"""Sequence models built on tinygrad_attn, their data, training loop and command line."""
from .attention_seq2seq import AttentionSeq2Seq

__all__ = ["AttentionSeq2Seq"]
