"""The words of a computation-graph picture: the labels of tensor boxes, op ellipses and
cluster boxes, the op tooltips, and how any text is escaped so that ``dot`` draws it
literally.

Every piece of text first goes through :func:`viz.curves.display_text` (control
characters and lone surrogates spelled out, more than 200 characters cut), then is
escaped for dot: ``&`` -> ``&amp;`` (dot decodes entities in every label and tooltip),
backslashes doubled and ``<...>`` kept out of HTML-like labels (``graphviz.escape``); a
tooltip's backslashes are doubled twice, as dot reads them twice.

The node objects read here are :class:`viz.graph_build.TensorNode` and
:class:`viz.graph_build.OpNode`.
"""
from __future__ import annotations

import graphviz
import numpy as np

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

from .curves import display_text
from .graph_walk import is_step


# -- escaping ------------------------------------------------------------------------------
def dot_text(text: str) -> str:
    """``text`` (already :func:`display_text`-ed) as a dot escString that dot draws
    verbatim: ``&`` -> ``&amp;`` (dot decodes entities), backslashes doubled and ``<...>``
    kept out of HTML-like labels (``graphviz.escape``)."""
    return graphviz.escape(text.replace("&", "&amp;"))


def label(lines) -> str:
    """Lines of text as one dot label, each line shown literally (display_text)."""
    return dot_text("\n".join(display_text(line) for line in lines))


def tooltip(text) -> str:
    """``text`` as a dot tooltip drawn verbatim. dot reads a tooltip's backslashes twice
    (once as an escString, once more when it substitutes ``\\N`` and the like for the
    SVG), so they are doubled twice; checked with the real dot in the tests."""
    return graphviz.escape(label([text]))


# -- pieces --------------------------------------------------------------------------------
def fmt_values(a: np.ndarray) -> str:
    """An array's values on one line: ``0.5`` for one element, ``[1, 2.5]`` for more
    (4 significant digits for one value, 3 for several; -0.0 shown as 0)."""
    flat = [float(v) + 0.0 for v in a.reshape(-1)]          # + 0.0 turns -0.0 into 0.0
    if a.ndim == 0 or a.size == 1:
        return f"{flat[0]:.4g}"
    return "[" + ", ".join(f"{v:.3g}" for v in flat) + "]"


def shape_text(t) -> str:
    """A shape as Python writes a tuple: ``(2, 3)``, ``(4,)``, ``()``."""
    return "(" + ", ".join(str(n) for n in t.shape) + ")" if len(t.shape) != 1 \
        else f"({t.shape[0]},)"


def first_doc_line(function: type) -> str:
    """The first line of a Function class's docstring (its derivative rule, by the house
    convention), or the class's name when it has no docstring."""
    doc = (function.__doc__ or "").strip().splitlines()
    return doc[0] if doc else function.__name__


def composed_twin(function: type) -> str | None:
    """The dotted name of a fused Function's composed teaching twin (its class attribute
    ``composed``, e.g. ``"tinygrad_attn.nn.recurrent.lstm_cell"``), or None for an op
    that is not fused."""
    composed = getattr(function, "composed", None)
    return None if composed is None else str(composed)


def fused_note(composed: str, full: bool = False) -> str:
    """``"fused (composed twin: lstm_cell)"``: the last part of the dotted name, or the
    whole name with ``full=True`` (for the tooltip)."""
    return f"fused (composed twin: {composed if full else composed.rsplit('.', 1)[-1]})"


def scope_label(lab, module_names: dict) -> str:
    """The caption of a scope's cluster: ``"decoder (LSTM)"`` for a module named by the
    model (the class name alone otherwise), ``"step 3"`` for a step label, else the
    label itself."""
    if isinstance(lab, Module):
        name = module_names.get(id(lab))
        kind = type(lab).__name__
        return kind if not name else f"{name} ({kind})"
    if is_step(lab):
        return f"step {int(lab)}"
    return str(lab)


def steps_box_label(n: int) -> str:
    """The caption of a collapsed recurrence's box (its steps drawn once)."""
    return label([f"one step, drawn once for all {n} (x {n} steps)"])


# -- node labels ---------------------------------------------------------------------------
def _tensor_name(node, names: dict):
    """A box's name: the first member named by ``names`` (``{id: name}``), else the first
    member's own ``.name``, else None."""
    name = next((names[id(m)] for m in node.members if id(m) in names), None) or \
        next((m.name for m in node.members if m.name), None)
    return None if name is None else str(name)


def tensor_label(node, names: dict, show_values: int, backward: bool) -> str:
    """The label of a tensor box: its name ("loss ..." for the root), shape and dtype, the
    number of steps it stands for, its values when it has at most ``show_values``
    elements, and with ``backward`` its gradient (:func:`grad_lines`)."""
    t, name = node.members[0], _tensor_name(node, names)
    lines = []
    if node.kind == "loss":
        lines.append(f"loss{'' if not name else ' ' + name}")
    elif name:
        lines.append(name)
    if node.kind == "truncated":
        lines.append(f"... more ({shape_text(t)})")
        return label(lines)
    lines.append(f"{shape_text(t) if t.shape else 'scalar'} {t.dtype}")
    if len(node.members) > 1:
        lines.append(f"x {len(node.members)} steps")
    data = [m.data for m in node.members if isinstance(m, Tensor)]
    if len(data) == 1 and data[0].size <= show_values:
        lines.append(f"data {fmt_values(data[0])}")
    if backward:
        lines += grad_lines(node, show_values)
    return label(lines)


def grad_lines(node, show_values: int) -> list:
    """The gradient lines of a tensor box: the values when small, else the shape and the
    L2 norm (its range over the steps of a collapsed box), and "grad = sum over k uses"
    when the gradient is summed over several uses."""
    lines = []
    grads = [m.grad for m in node.members if isinstance(m, Tensor) and m.grad is not None]
    if len(grads) == 1 and grads[0].size <= show_values:
        lines.append(f"grad {fmt_values(grads[0])}")
    elif grads:
        norms = [float(np.linalg.norm(g)) for g in grads]
        lo, hi = min(norms), max(norms)
        rng = f"{lo:.3g}" if len(norms) == 1 else f"{lo:.3g}..{hi:.3g}"
        lines.append(f"grad {shape_text(grads[0])} |g| {rng}")
    if node.uses > 1:
        lines.append(f"grad = sum over {node.uses} uses")
    return lines


def op_label(op, backward: bool) -> str:
    """The label of an op ellipse: its name ("(xk)" when it stands for k ops), "fused
    (composed twin: ...)" for a fused op, and with ``backward`` its place in the backward
    pass ("backward #1" ran first; a range for a collapsed op)."""
    lines = [str(op.name)]
    if len(op.members) > 1:
        lines[0] += f" (x{len(op.members)})"
    composed = composed_twin(op.function)
    if composed is not None:
        lines.append(fused_note(composed))
    if backward:
        orders = [fn.backward_order for fn in op.members if hasattr(fn, "backward_order")]
        if orders:
            lines.append(f"backward #{min(orders) + 1}" if len(orders) == 1 else
                         f"backward #{min(orders) + 1}..#{max(orders) + 1}")
    return label(lines)


def op_tooltip(op) -> str:
    """An op's tooltip: the first line of its docstring (the derivative rule), and for a
    fused op the full dotted name of its composed twin."""
    text = first_doc_line(op.function)
    composed = composed_twin(op.function)
    if composed is not None:
        text = f"{text}; {fused_note(composed, full=True)}"
    return tooltip(text)


def backward_steps(op) -> str:
    """The label of an op's backward edges: the backward step that sends the gradient
    (1 ran first), a range for a collapsed op."""
    orders = sorted(fn.backward_order + 1 for fn in op.members if hasattr(fn, "backward_order"))
    return str(orders[0]) if len(orders) == 1 else f"{orders[0]}..{orders[-1]}"


__all__ = ["backward_steps", "composed_twin", "dot_text", "first_doc_line", "fmt_values",
           "fused_note", "grad_lines", "label", "op_label", "op_tooltip", "scope_label",
           "shape_text", "steps_box_label", "tensor_label", "tooltip"]
