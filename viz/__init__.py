"""Pictures of engine objects and training runs: computation graphs (graphviz), attention
maps and training curves (matplotlib). Nothing in ``tinygrad_attn`` imports this package;
matplotlib and graphviz are imported only here. Importing it gives every Tensor a
``draw(**kwargs)`` method (``draw_graph(tensor, **kwargs)``).
"""
from .attention import (draw_attention, plot_attention, plot_attention_grid,
                        plot_attention_heads)
from .curves import plot_compare, plot_history
from .graph import draw_graph, has_dot, render, retain_grads

__all__ = ["plot_compare", "plot_history", "draw_graph", "render", "retain_grads", "has_dot",
           "draw_attention", "plot_attention", "plot_attention_grid", "plot_attention_heads"]
