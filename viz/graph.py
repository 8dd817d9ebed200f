"""Computation graphs with graphviz: how a value is computed, and how its gradient gets
back from the loss to every weight.

``draw_graph(loss)`` walks the nodes that ``Function.apply`` recorded (an explicit queue,
never recursion, so a 2,000-step unrolled RNN is fine) and returns a ``graphviz.Digraph``:

- a box per tensor: its name (a parameter's dotted name when ``model`` is given), shape,
  dtype, its values when it is small, and after ``backward()`` its gradient (values when
  small, else shape and L2 norm). The loss, the parameters and the inputs are coloured
  apart; a tensor whose gradient is summed over several uses is outlined in orange and
  its outgoing edges say so (the multivariate chain rule adds one term per use).
- an ellipse per op: its name, the derivative rule from its docstring as a tooltip, and
  after ``backward()`` its place in the backward pass ("backward #1" ran first). A fused
  op (a Function class with a ``composed`` attribute naming its composed teaching twin)
  says so: "fused (composed twin: lstm_cell)", the twin's full name in the tooltip.
- with ``backward=True`` (the default once a backward pass has run) a second, red, dashed
  set of edges from each op back to the inputs it sends a gradient to, each numbered with
  the step of the backward pass that sends it.
- clusters: one box per module that made the nodes (from ``Module.__call__``'s scopes and
  ``model.named_modules()``), and one per time step of an unrolled recurrence;
  ``collapse_steps=True`` draws the steps of each recurrence once, in a box that says how
  many there were, with the recurrent edges ("to step t+1") looping back into it.

The output is deterministic: node names come from the order of the walk, never from
``id()``, so the same model gives byte-identical DOT source.

Any text is drawn literally. Titles, parameter, tensor, op and module names and tooltips
first go through :func:`viz.curves.display_text` (control characters and lone surrogates
spelled ``\\x00``, ``\\n``, ``\\udcff``; more than 200 characters cut), then are escaped
for dot: a backslash is doubled (``graphviz.escape``: ``\\N``, ``\\G``, ``\\l``, ``\\n``
stay two characters), ``<...>`` is never an HTML-like label (``graphviz.nohtml``), and
``&`` becomes ``&amp;``, because dot decodes entities in every label and tooltip (``&amp;``
typed by a user would otherwise be drawn as ``&``); a tooltip's backslashes are doubled
twice, as dot reads them twice. Tested against the real ``dot``: any
string comes out verbatim in the SVG text (where dot writes a run of spaces as a space
followed by no-break spaces, U+00A0, so that viewers keep them).

The work is in steps, one module each: :mod:`viz.graph_walk` (which tensors and ops the
graph holds), :mod:`viz.graph_group` (level of detail, collapsed steps, module and step
boxes), :mod:`viz.graph_build` (nodes and edges), :mod:`viz.graph_text` (labels, tooltips,
escaping), :mod:`viz.graph_emit` (the DOT text) and :mod:`viz.graph_render` (running
``dot``).

Values of intermediate tensors survive ``backward()`` only if the graph was kept
(``backward(retain_graph=True)``) or their gradients were asked for; call
:func:`retain_grads` before ``backward()`` to keep every value and gradient, as micrograd's
pictures show them.
"""
from __future__ import annotations

import numpy as np

try:
    import graphviz
except ImportError as e:  # pragma: no cover - graphviz is a dependency of the project
    raise ImportError("viz.graph needs the graphviz Python package (fix: pip install graphviz)"
                      ) from e

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

from .curves import OutputPathError
from .graph_build import GraphNodes
from .graph_emit import COLORS, Emitter, new_digraph
from .graph_group import count_ops
from .graph_render import (DOT_TIMEOUT, INSTALL_HINT, RenderError,  # noqa: F401
                           check_graph_path, graph_size, has_dot, render)
from .graph_walk import GraphWalk, check_limit, check_root, retain_grads


def draw_graph(root: Tensor, *, model: Module | None = None, params: dict | None = None,
               backward: bool | None = None, rankdir: str = "TB", max_nodes: int | None = None,
               max_depth: int | None = None, group_modules: bool = True,
               collapse_steps: bool = False, show_values: int = 8,
               title: str | None = None) -> "graphviz.Digraph":
    """The computation graph of ``root`` as a ``graphviz.Digraph``.

    Parameters
    ----------
    root : Tensor
        Usually the loss. Any tensor works; a leaf gives a single box.
    model : Module, optional
        Names parameters by ``model.named_parameters()`` and module clusters by
        ``model.named_modules()``.
    params : dict {name (str): Tensor}, optional
        More names (e.g. ``{"w1": w1, "x1": x1}`` for a hand-made neuron); a tensor's own
        ``.name`` is used when it has one.
    backward : bool, optional
        Draw the backward pass (gradients, "backward #k" on each op, red numbered edges
        from each op to the inputs it sends gradients to). Default: whether a backward
        pass has run through the graph. False draws the forward graph only.
    rankdir : {"TB", "BT", "LR", "RL"}
        Graphviz layout direction (inputs at the top for "TB").
    max_nodes : int >= 1, optional
        Draw at most this many op nodes (those nearest the root); what is cut off is
        shown as one grey "... more" box per cut edge. None: every op (a graph of more
        than a few hundred ops can take dot minutes: see :func:`count_ops`).
    max_depth : int >= 1, optional
        Draw only ops at most this many ops away from the root.
    group_modules : bool
        A graphviz cluster per module (and per time step) that made the nodes.
    collapse_steps : bool
        Draw every unrolled recurrence (nodes inside ``scope(t)`` for int ``t``) once:
        the k-th op of every step becomes one op, its box says "x T steps", and edges
        that carry a state from step t to t+1 are drawn in blue as "to step t+1".
    show_values : int >= 0
        Tensors with at most this many elements show their values (and gradients).
    title : str, optional
        A caption for the picture. Like every name, drawn literally (module docstring).

    Returns a ``graphviz.Digraph``: ``.source`` is the DOT text; ``.render()`` / ``.pipe()``
    need the ``dot`` program (see :func:`render`); in Jupyter it shows itself inline.

    Raises TypeError (``root`` is not a Tensor; ``model``, ``params``, ``title``,
    ``max_nodes`` or ``max_depth`` has the wrong type) or ValueError (``rankdir`` is not
    one of TB, BT, LR, RL; ``max_nodes`` / ``max_depth`` < 1; ``show_values`` < 0).
    """
    names = _check_args(root, model, params, backward, rankdir, max_nodes, max_depth,
                        show_values, title)
    return drawing(root, names, model, backward, rankdir, max_nodes, max_depth, group_modules,
                   collapse_steps, show_values, title)[1]


def drawing(root, names: dict, model, backward, rankdir, max_nodes, max_depth,
            group_modules, collapse_steps, show_values, title) -> tuple:
    """(nodes, dot): the :class:`GraphNodes` of ``root``'s picture and its Digraph, for
    checked arguments of :func:`draw_graph` (``names`` from its argument checks); the
    explorer (``viz.explore``) draws through it too. ``backward=None``: whether a backward
    pass has run through the graph."""
    walk = GraphWalk(root)
    if backward is None:
        backward = any(hasattr(t.grad_fn, "backward_order") for t in walk.tensors)
    nodes = GraphNodes(walk, names, model, backward=backward, max_nodes=max_nodes,
                       max_depth=max_depth, group_modules=group_modules,
                       collapse_steps=collapse_steps)
    dot = new_digraph(rankdir, title)
    Emitter(nodes, model, show_values, backward).emit(dot)
    return nodes, dot


def _check_args(root, model, params, backward, rankdir, max_nodes, max_depth, show_values,
                title, owner: str = "draw_graph"):
    """Every argument of draw_graph (or of ``owner``, which shares them: viz.explore),
    checked before any work; returns {id: name}. Errors name ``owner``."""
    check_root(root, owner)
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"{owner}: rankdir must be TB, BT, LR or RL, got {rankdir!r:.40} "
                         f"(fix: rankdir='LR' draws left to right)")
    check_limit("max_nodes", max_nodes, owner)
    check_limit("max_depth", max_depth, owner)
    if isinstance(show_values, bool) or not isinstance(show_values, (int, np.integer)) \
            or show_values < 0:
        raise ValueError(f"{owner}: show_values must be an int >= 0, got {show_values!r:.40}"
                         f" (fix: e.g. show_values=8; 0 shows no values)")
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be an nn.Module or None, got "
                        f"{type(model).__name__} (fix: pass the model whose loss this is)")
    if backward not in (None, True, False):
        raise TypeError(f"{owner}: backward must be True, False or None, got "
                        f"{backward!r:.40}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"{owner}: title must be a str or None, got {type(title).__name__} "
                        f"(fix: e.g. title=str(value))")
    if params is not None and not hasattr(params, "items"):
        raise TypeError(f"{owner}: params must be a dict {{name: Tensor}}, got "
                        f"{type(params).__name__} (fix: e.g. params={{'w1': w1}})")
    names = {}
    if model is not None:
        names.update((id(p), n) for n, p in model.named_parameters())
    for pname, p in (params or {}).items():
        if not isinstance(pname, str) or not isinstance(p, Tensor):
            raise TypeError(f"{owner}: params must map str names to Tensors, got "
                            f"{type(pname).__name__} -> {type(p).__name__} (fix: e.g. "
                            f"params={{'w1': w1}})")
        names[id(p)] = pname
    return names


def _draw(self, **kwargs):
    """``viz.draw_graph(self, **kwargs)``: this tensor's computation graph as a
    ``graphviz.Digraph`` (shown inline in Jupyter). Attached to Tensor by ``import viz``."""
    return draw_graph(self, **kwargs)


Tensor.draw = _draw

__all__ = ["COLORS", "DOT_TIMEOUT", "INSTALL_HINT", "OutputPathError", "RenderError",
           "check_graph_path", "count_ops", "draw_graph", "graph_size", "has_dot", "render",
           "retain_grads"]
