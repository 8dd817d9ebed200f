"""Pictures of engine objects and training runs (computation graphs, attention maps,
training curves). Nothing in ``tinygrad_attn`` imports this package; matplotlib and
graphviz are imported only here.
"""
from .curves import plot_compare

__all__ = ["plot_compare"]
