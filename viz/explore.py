"""An interactive backward explorer: one self-contained HTML page in which a learner steps
through the backward pass of a computation graph.

``viz.explore(loss)`` replays the backward pass of ``loss`` (without touching any
``.grad``), draws the graph with graphviz (the picture of :func:`viz.draw_graph`) and writes
the SVG, the recorded pass as JSON, and a small script (``viz/explorer.js``) into one page:
no network, no CDN. In the page:

- next / previous / a slider walk the backward order: the current op lights up with its
  local derivative (the rule in its docstring), the incoming gradient ``g = dL/dy`` and
  what it sends to each input; a tensor that receives gradients from several ops shows
  the running sum so far;
- clicking a parameter (or any leaf) highlights every path from the loss to it and lists
  the chain-rule product along each (for scalar graphs: the local derivatives and their
  product; the products sum to the parameter's gradient);
- hovering any box shows its value, gradient, shape and dtype, and the line of code that
  created it when the forward pass ran inside ``tinygrad_attn.detect_anomaly()`` (the only
  time the engine records lines);
- a whole model's page (``model=`` given, or ``overview=True``) opens on the model's
  overview (:func:`viz.draw_overview`: one box per module or fused node, shapes on the
  edges); clicking a box (or an outlined module) shows its ops in the op picture,
  outlined, the rest faded, and the stepping walks only their backward steps; a fused
  node's box also offers its composed twin, one step of the cell from primitive ops in a
  small explorer of its own (:mod:`viz.explore_drill`); "back" (Escape) goes up a level.

The math is the reverse-mode chain rule of :mod:`tinygrad_attn.autograd`; the replay uses
its ``backward`` with a ``trace`` hook, so the numbers are the engine's own.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np

from tinygrad_attn import Tensor, autograd, checks

from .graph import _check_args, drawing
from .graph_render import DOT_TIMEOUT, INSTALL_HINT, _run_dot

_HERE = Path(__file__).resolve().parent


class Explorer:
    """The explorer page of one graph: ``html`` (str, a whole HTML document), ``save(path)``
    and ``_repr_html_()`` (Jupyter shows it inline, in an iframe). Made by :func:`explore`.
    Attributes ``steps`` (the number of backward steps drawn) and ``data`` (the JSON-ready
    record of the pass the page shows)."""

    def __init__(self, html_text: str, data: dict):
        self.html, self.data = html_text, data
        self.steps = len(data["steps"])

    def save(self, path) -> str:
        """Write the page to ``path`` (.html) atomically; returns the path as a str.
        Raises OutputPathError (a ValueError) when the path cannot be written."""
        from .curves import check_output_path, write_bytes
        path, _ = check_output_path(path, ("html", "htm"), "explorer page")
        return write_bytes(path, lambda f: f.write(self.html.encode("utf-8")), "explorer page")

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                f'style="width:100%;height:640px;border:1px solid #ccc"></iframe>')


def explore(root: Tensor, *, model=None, params: dict | None = None, rankdir: str = "TB",
            max_nodes: int | None = None, collapse_steps: bool = False,
            show_values: int = 8, title: str | None = None, overview: bool | None = None,
            timeout: float = DOT_TIMEOUT) -> Explorer:
    """The interactive backward explorer of ``root``'s graph (see the module docstring).

    Parameters are those of :func:`viz.draw_graph` (``model`` and ``params`` name the
    tensors; ``max_nodes`` and ``collapse_steps`` set the level of detail of the op
    picture), ``overview`` (open the page on the model's overview, one box per module or
    fused node, with drill-down into each box's ops and a fused node's composed twin:
    :mod:`viz.explore_drill`; None: when ``model`` is given) and ``timeout``, the seconds
    ``dot`` may take to lay out each picture.

    ``root`` must be a one-element tensor (a loss) whose graph is still whole: call
    ``explore`` before ``backward()``, or after ``backward(retain_graph=True)``. Nothing
    is accumulated into any ``.grad``.

    Raises TypeError / ValueError as ``draw_graph`` for the arguments (TypeError for an
    ``overview`` that is not None, True or False); RuntimeError when ``root`` is not a
    scalar with a graph, when the graph was freed by ``backward()``, or when graphviz's
    ``dot`` is missing; ``viz.RenderError`` when ``dot`` fails or times out.
    """
    names = _check_args(root, model, params, True, rankdir, max_nodes, None, show_values,
                        title, owner="explore")
    if overview not in (None, True, False):
        raise TypeError(f"explore: overview must be True, False or None (when a model is "
                        f"given), got {overview!r:.40}")
    _check_loss(root)
    nodes, record, svg, data = _view(root, names, model, rankdir, max_nodes, collapse_steps,
                                     show_values, title, timeout)
    views = [("ops", svg)]
    if overview or (overview is None and model is not None):
        def make_view(loss, twin_names):
            twin_ids = {id(t): n for n, t in twin_names.items()}
            return _view(loss, twin_ids, None, rankdir, None, False, show_values, None,
                         timeout)[2:]
        views += drill_views(root, model, nodes, record, data, names, rankdir, make_view,
                             lambda dot: _svg(dot, timeout))
    return Explorer(_page(views, data, title or "backward explorer"), data)


def _check_loss(root: Tensor) -> None:
    """RuntimeError unless ``root`` is a one-element tensor made by ops."""
    if root.grad_fn is None or root.size != 1:
        raise RuntimeError(f"explore: the root must be a one-element tensor made by ops (a "
                           f"loss), got shape {root.shape}"
                           f"{'' if root.grad_fn is None else ' with a graph'} (fix: pass "
                           f"the loss, e.g. loss = out.sum())")


def _view(root, names: dict, model, rankdir, max_nodes, collapse_steps, show_values, title,
          timeout) -> tuple:
    """(nodes, record, SVG text, page data) of the op picture of ``root``'s graph with its
    replayed backward pass: one stepping view of the page."""
    record = _replay(root)
    nodes, dot = drawing(root, names, model, True, rankdir, max_nodes, None, True,
                         collapse_steps, show_values, title)
    return nodes, record, _svg(dot, timeout), _page_data(nodes, record, names, show_values)


def _replay(root: Tensor) -> dict:
    """Run the backward pass of ``root`` through the engine with a trace: {"steps": [(fn,
    out, g, [(input, grad sent), ...])] in backward order, "total": {id(tensor): grad},
    "local": {(id(fn), slot): d out / d input} for scalar outputs and inputs}."""
    for t in autograd.toposort([root]):
        if getattr(t.grad_fn, "released", False):
            raise RuntimeError("explore: the graph was freed by an earlier backward() (fix: "
                               "call viz.explore(loss) before loss.backward(), or call "
                               "loss.backward(retain_graph=True))")
    steps, total, local = [], {}, {}

    def keep(t, g):
        total[id(t)] = g

    def trace(fn, out, g, sent):
        steps.append((fn, out, g, sent))
        if out.size == 1:
            local.update(_local_derivatives(fn, out))
    seed = checks.seed_gradient(root, None)
    autograd.backward([root], [seed], True, False, keep, trace)
    return {"steps": steps, "total": total, "local": local}


def _local_derivatives(fn, out) -> dict:
    """{(id(fn), slot): float} d out / d input for a one-element output and one-element
    inputs: the op's own rule applied to g = 1."""
    values = tuple(i.data for i in fn.inputs)
    in_grads = fn.backward(np.ones_like(out.data), *values, out=out.data)
    in_grads = in_grads if isinstance(in_grads, tuple) else (in_grads,)
    return {(id(fn), k): float(np.sum(ig)) for k, (inp, ig) in enumerate(zip(fn.inputs,
            in_grads)) if ig is not None and inp.size == 1}


def _svg(dot, timeout: float) -> str:
    """The picture as SVG text (``dot -Tsvg``), without the XML prolog."""
    dot_path = shutil.which("dot")
    if dot_path is None:
        raise RuntimeError(f"explore: {INSTALL_HINT}")
    svg = _run_dot(dot_path, dot, dot.source.encode("utf-8", "replace"), "svg", timeout)
    text = svg.decode("utf-8", "replace")
    return text[text.index("<svg"):]


def _page(views: list, data: dict, title: str) -> str:
    """The whole HTML document: each view [(view id, SVG text)] in a ``div.view`` (the
    first view shown, unless there is an overview, which the page opens on), the data as
    JSON and the explorer's script and style (read from viz/explorer.js and
    viz/explorer.css), all inline. One pass fills the template, so no text put in (a
    name in a picture, say) is read as a placeholder."""
    opening = "overview" if any(v == "overview" for v, _ in views) else views[0][0]
    parts = {"title": html.escape(title), "style": _template("explorer.css"),
             "views": "".join(f'<div class="view" data-view="{v}"'
                              f'{"" if v == opening else " hidden"}>{svg}</div>'
                              for v, svg in views),
             "data": json.dumps(data).replace("</", "<\\/"),    # never closes the script early
             "script": _template("explorer.js")}
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _template("explorer.html"))


def _template(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


from .explore_data import _page_data  # noqa: E402  (the JSON record, a module of its own)
from .explore_drill import drill_views  # noqa: E402  (the overview and the composed twins)

__all__ = ["Explorer", "explore"]
