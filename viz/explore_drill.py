"""Drill-down in the backward explorer (:mod:`viz.explore`): the page of a whole model opens
on its overview (:mod:`viz.overview`: one box per module or fused node, the shapes on the
edges), every box leads to its own ops in the op picture (the stepping restricted to the
backward steps of those ops), and a fused node's box also to its composed twin: one step
of the cell built from primitive ops, an explorer of its own.

What this module adds to the page's JSON (``viz/explorer.js`` reads it):

- ``overview``: {"boxes": {overview box id (the DOT name, ``g0``, ``g1``, ...): {"lines":
  the box's words as the overview writes them, "ops": the op ids of the op picture that
  stand for its ops, "nodes": those ops, the tensors they make and the parameters they
  read, "steps": the page's backward steps (1 ran first) of its ops, "count": the number
  of ops it made, "drawn": how many of them the op picture draws, "twin": the view id of
  its composed twin or None}}};
- ``twins``: {view id (``twin0``, ...): the record of the twin's own explorer (steps,
  tensors, ops, paths, root, as :func:`viz.explore_data._page_data`) with "name" (the
  twin's function), "title", "note" and "box" (the overview box it belongs to)}.

The composed twin of a fused op is the function its class names in ``composed``
(:func:`viz.graph_text.composed_twin`); :data:`TWIN_STEPS` says how to take one step of
it from the fused node's record. For ``LSTMSequence`` (twin ``lstm_cell``): item 0 of the
batch at the layer's last time step, the first step the backward pass reaches, with the
layer's own weights, its state before that step and, as a stand-in loss,
``sum(h' * dL/dh') + sum(c' * dL/dc')`` with the gradient the fused node received for that
step: so every gradient in the twin is the one the fused backward computes at that step
for that item (a test holds the twin's dL/dx to the fused node's).
"""
from __future__ import annotations

import importlib
import inspect
import re

import numpy as np

from tinygrad_attn import Tensor, enable_grad

from .explore_data import _Index, drawn_steps
from .graph_text import composed_twin
from .graph_walk import GraphWalk
from .overview import WORDS, Overview, _Writer, box_lines, draw_overview


def drill_views(root, model, nodes, record, data: dict, names: dict, rankdir: str,
                make_view, svg_of) -> list:
    """The overview of ``root``'s graph and the composed twins of its fused boxes, as extra
    views of the page: adds ``data["overview"]`` and ``data["twins"]`` (module docstring)
    and returns [(view id, SVG text)], the overview first.

    ``nodes`` and ``record`` are the op picture's (:class:`viz.graph_build.GraphNodes`) and
    the replayed backward pass (``viz.explore._replay``); ``names`` {id(tensor): name};
    ``make_view(loss, names)`` draws a small explorer and returns (SVG text, its data);
    ``svg_of(digraph)`` lays a picture out with ``dot`` and returns its SVG text.
    Raises RuntimeError / ``viz.RenderError`` as ``viz.explore`` when ``dot`` fails.
    """
    index = _Index(nodes)
    # the boxes' "backward #a..#b" count every op; they are the page's step numbers only
    # when the op picture draws every op, so they are shown only then
    backward = len(drawn_steps(record, index)) == len(record["steps"])
    dot = draw_overview(root, model=model, backward=backward, rankdir=rankdir)
    ov = Overview(GraphWalk(root), model, None)            # the same boxes, by the same code
    ids = _Writer(ov, WORDS["en"], backward).ids
    boxes = _boxes(ov, ids, nodes, index, record, backward)
    views, twins = [("overview", _prefixed(svg_of(dot), "ov-"))], {}
    traced = {id(fn): (out, g) for fn, out, g, _ in record["steps"]}
    for key, group in ov.groups.items():
        twin = _twin_of(group, traced, names)
        if twin is None:
            continue
        loss, twin_names, words = twin
        view = f"twin{len(twins)}"
        svg, twin_data = make_view(loss, twin_names)
        twin_data.update(words, box=ids[key])
        twins[view] = twin_data
        boxes[ids[key]]["twin"] = view
        views.append((view, _prefixed(svg, f"{view}-")))
    data["overview"], data["twins"] = {"boxes": boxes}, twins
    return views


def _boxes(ov, ids: dict, nodes, index: _Index, record, backward: bool) -> dict:
    """{overview box id: words, op ids, op and made-tensor ids, page steps, op counts}."""
    step_of = {id(fn): k for k, (fn, *_) in enumerate(drawn_steps(record, index), 1)}
    boxes = {}
    for key, group in ov.groups.items():
        drawn = [fn for fn in group.ops if id(fn) in index.op]
        ops = list(dict.fromkeys(index.op[id(fn)] for fn in drawn))
        made = [index.ids.get(("out",) + nodes.groups.key[id(fn)]) for fn in drawn]
        made += [index.tensor.get(id(p)) for p in group.params.values()] if ops else []
        boxes[ids[key]] = {
            "lines": box_lines(ov, group, WORDS["en"], backward, set()), "ops": ops,
            "nodes": ops + [m for m in dict.fromkeys(made) if m is not None],
            "steps": sorted(step_of[id(fn)] for fn in drawn if id(fn) in step_of),
            "count": len(group.ops), "drawn": len(drawn), "twin": None}
    return boxes


def _prefixed(svg: str, prefix: str) -> str:
    """``svg`` with every ``id="..."`` prefixed, so that several pictures in one page keep
    their ids apart (graphviz's SVG refers to no id), and without graphviz's comments."""
    return re.sub(r'\bid="', f'id="{prefix}', re.sub(r"<!--.*?-->\n", "", svg))


# -- composed twins ------------------------------------------------------------------------
def _last_step_of_sequence(fn, out, g) -> tuple:
    """One step of a fused recurrence with inputs (x (N, T, D), h0, c0, weights...) and
    output (2, N, T, H) [hidden states, cell states] (``LSTMSequence``): item 0 at the last
    time step. Returns (the twin's arguments as arrays, which of them need a gradient,
    the gradients the fused node received for the step's outputs h' and c', T)."""
    x, h0, c0, *weights = (np.asarray(i.data) for i in fn.inputs)
    T = x.shape[1]
    states = (h0[:1], c0[:1]) if T == 1 else (out.data[0, :1, T - 2], out.data[1, :1, T - 2])
    needs = [fn.inputs[0].requires_grad] + (
        [i.requires_grad for i in fn.inputs[1:3]] if T == 1 else [True, True])
    needs += [i.requires_grad for i in fn.inputs[3:]]
    return ((x[:1, T - 1], *states, *weights), needs,
            (g[0, :1, T - 1], g[1, :1, T - 1]), T)


#: {composed twin (dotted name): how to take one step of it from the fused node's record,
#: and the names of its outputs}.
TWIN_STEPS = {"tinygrad_attn.nn.recurrent.lstm_cell": (_last_step_of_sequence, ("h'", "c'"))}


def _resolve(dotted: str):
    """The engine's function named ``dotted`` (only names inside ``tinygrad_attn``)."""
    module, _, attr = dotted.rpartition(".")
    if not module.startswith("tinygrad_attn"):
        return None
    return getattr(importlib.import_module(module), attr, None)


def _twin_of(group, traced: dict, names: dict):
    """One step of the composed twin of the first fused op of ``group`` that the backward
    pass reaches: (stand-in loss, {name: tensor}, {"name", "title", "note"}: the twin's
    short name and the words the page shows), or None when the box has no fused op with
    a known twin. The step is recorded even inside ``no_grad()``."""
    fused = [fn for fn in group.ops if id(fn) in traced
             and composed_twin(type(fn)) in TWIN_STEPS]
    func = None if not fused else _resolve(composed_twin(type(fused[0])))
    if func is None:
        return None
    fn = min(fused, key=lambda f: f.backward_order)
    dotted = composed_twin(type(fn))
    take, out_names = TWIN_STEPS[dotted]
    out, g = traced[id(fn)]
    arrays, needs, grads, t = take(fn, out, g)
    leaves = [Tensor(np.array(a), requires_grad=bool(n)) for a, n in zip(arrays, needs)]
    seeds, loss = [Tensor(np.array(s)) for s in grads], None
    with enable_grad():
        outs = func(*leaves)
        for o, s in zip(outs, seeds):
            term = (o * s).sum()
            loss = term if loss is None else loss + term
    twin_names = {}
    for arg, leaf, inp in zip(inspect.signature(func).parameters, leaves, fn.inputs):
        known = names.get(id(inp)) if inp.grad_fn is None and inp.requires_grad else None
        twin_names[f"{arg} ({known})" if known else arg] = leaf
    for name, o, s in zip(out_names, outs, seeds):
        twin_names[name], twin_names[f"dL/d{name}"] = o, s
    short = dotted.rsplit(".", 1)[-1]
    return loss, twin_names, {"name": short, "note": _twin_note(fn.name, dotted, out_names, t),
                              "title": f"composed twin of {fn.name}: one step of {short}"}


def _twin_note(fused: str, dotted: str, out_names, t: int) -> str:
    """What the twin view shows, in words (the panel shows it above the twin)."""
    short = dotted.rsplit(".", 1)[-1]
    loss = " + ".join(f"sum({n} * dL/d{n})" for n in out_names)
    return (f"{short} ({dotted}) is the math of the fused {fused} built from primitive "
            f"ops. Shown: the first item of the batch at time step {t} of {t}, the first "
            f"step the backward pass reaches, with the layer's own weights and state. The "
            f"stand-in loss {loss} feeds it the gradient the fused node received for that "
            f"step, so every gradient here is what the fused backward computes at that "
            f"step for that item (the weights' gradients sum such terms over every item "
            f"and step).")


__all__ = ["TWIN_STEPS", "drill_views"]
