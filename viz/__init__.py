"""Pictures of engine objects and training runs: computation graphs (graphviz), attention
maps and training curves (matplotlib). Nothing in ``tinygrad_attn`` imports this package;
matplotlib and graphviz are imported only here. Importing it gives every Tensor a
``draw(**kwargs)`` method (``draw_graph(tensor, **kwargs)``).
"""
from .curves import plot_compare
from .graph import draw_graph, has_dot, render, retain_grads

__all__ = ["plot_compare", "draw_graph", "render", "retain_grads", "has_dot"]
