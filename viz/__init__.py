"""Pictures of engine objects and training runs: computation graphs (graphviz), attention
maps and training curves (matplotlib). Nothing in ``tinygrad_attn`` imports this package;
matplotlib and graphviz are imported only here. Importing it gives every Tensor a
``draw(**kwargs)`` method (``draw_graph(tensor, **kwargs)``).

Every picture shows user text (tokens, titles, file paths, names) literally
(:func:`display_text`), checks its output path before drawing (:func:`check_output_path`,
:class:`OutputPathError`) and writes its file atomically.
"""
from .attention import (draw_attention, plot_attention, plot_attention_grid,
                        plot_attention_heads)
from .curves import (OutputPathError, check_output_path, display_text, plot_compare,
                     plot_history, save_figure)
from .explore import Explorer, explore
from .graph import draw_graph
from .graph_group import count_ops
from .graph_render import RenderError, check_graph_path, graph_size, has_dot, render
from .graph_walk import retain_grads
from .overview import draw_overview
from .beam import beam_tree, draw_beam_tree
from .masks import draw_masks, mask_example, plot_masks
from .positions import draw_positional_encoding, plot_positional_encoding
from .saliency import draw_source_gradients, plot_source_gradients

__all__ = ["explore", "Explorer", "plot_compare", "plot_history", "draw_graph", "render",
           "draw_overview", "retain_grads", "has_dot",
           "draw_attention", "plot_attention", "plot_attention_grid", "plot_attention_heads",
           "count_ops", "graph_size", "check_graph_path", "check_output_path", "display_text",
           "save_figure", "OutputPathError", "RenderError",
           "beam_tree", "draw_beam_tree", "mask_example", "draw_masks", "plot_masks",
           "draw_positional_encoding", "plot_positional_encoding",
           "draw_source_gradients", "plot_source_gradients"]
