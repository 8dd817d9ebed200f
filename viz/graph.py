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
  after ``backward()`` its place in the backward pass ("backward #1" ran first).
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

Values of intermediate tensors survive ``backward()`` only if the graph was kept
(``backward(retain_graph=True)``) or their gradients were asked for; call
:func:`retain_grads` before ``backward()`` to keep every value and gradient, as micrograd's
pictures show them.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
from collections import defaultdict, deque

import numpy as np

try:
    import graphviz
except ImportError as e:  # pragma: no cover - graphviz is a dependency of the project
    raise ImportError("viz.graph needs the graphviz Python package (fix: pip install graphviz)"
                      ) from e

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

from .curves import OutputPathError, check_output_path, display_text, write_bytes

INSTALL_HINT = ("the graphviz 'dot' program is not installed, so only the DOT source can be "
                "made (fix: 'apt-get install graphviz' on Debian/Ubuntu, 'brew install "
                "graphviz' on macOS, or see graphviz.org/download)")

COLORS = {"loss": "#f4a582", "param": "#92c5de", "input": "#e0e0e0", "value": "#ffffff",
          "op": "#fff2cc", "backward": "#b2182b", "accumulate": "#e66101",
          "recurrent": "#2166ac", "truncated": "#f0f0f0"}

#: Seconds :func:`render` lets ``dot`` run before it stops it.
DOT_TIMEOUT = 60.0

#: Formats written without ``dot``: the DOT source itself.
SOURCE_FORMATS = ("gv", "dot")


class RenderError(RuntimeError):
    """``dot`` failed or did not finish in time; the message names the graph's size and a
    fix."""


def _dot_text(text: str) -> str:
    """``text`` (already :func:`display_text`-ed) as a dot escString that dot draws
    verbatim: ``&`` -> ``&amp;`` (dot decodes entities), backslashes doubled and ``<...>``
    kept out of HTML-like labels (``graphviz.escape``)."""
    return graphviz.escape(text.replace("&", "&amp;"))


def _label(lines) -> str:
    """Lines of text as one dot label, each line shown literally (display_text)."""
    return _dot_text("\n".join(display_text(line) for line in lines))


def _tooltip(text) -> str:
    """``text`` as a dot tooltip drawn verbatim. dot reads a tooltip's backslashes twice
    (once as an escString, once more when it substitutes ``\\N`` and the like for the
    SVG), so they are doubled twice; checked with the real dot in the tests."""
    return graphviz.escape(_label([text]))


class _TensorNode:
    """One tensor of the drawing (several tensors when steps are collapsed)."""

    def __init__(self, key, kind):
        self.key, self.kind, self.members, self.name = key, kind, [], None
        self.uses = 0                 # gradient-carrying uses (edges into ops)


class _OpNode:
    def __init__(self, key, name, doc):
        self.key, self.name, self.doc, self.members = key, name, doc, []
        self.cluster = ()


def retain_grads(root: Tensor) -> int:
    """Ask every intermediate tensor of ``root``'s graph to keep its ``.grad`` (and so its
    value) through the next ``backward()``, so that :func:`draw_graph` can show them all.

    Call it after the forward pass and before ``backward()``. Memory: every intermediate
    result and gradient of that graph stays alive while the graph does.
    Returns the number of tensors marked. Raises TypeError if ``root`` is not a Tensor.
    """
    _check_root(root, "retain_grads")
    marked = 0
    for t in _walk(root)[0]:
        if isinstance(t, Tensor) and t._ctx is not None and t.requires_grad:
            t.retain_grad()
            marked += 1
    return marked


def _walk(root):
    """Every tensor reachable from ``root`` (breadth first from the root, inputs in order)
    and the depth of each (ops between it and the root). Iterative: no recursion limit.

    A tensor made by an op is identified by that op (after ``backward()`` one tensor may be
    seen through several released records); the representative kept is a live Tensor when
    there is one, since only it still holds values and a gradient. Returns (tensors,
    {identity: depth}, canonical) where ``canonical(t)`` gives the representative of t.
    """
    def ident(t):
        return id(t._ctx) if t._ctx is not None else id(t)

    rep, depth, order = {ident(root): root}, {ident(root): 0}, [ident(root)]
    queue = deque([root])
    while queue:
        t = queue.popleft()
        fn = t._ctx
        if fn is None:
            continue
        for inp in fn.inputs:
            k = ident(inp)
            if k not in depth:
                depth[k] = depth[ident(t)] + 1
                rep[k] = inp
                order.append(k)
                queue.append(inp)
            elif isinstance(inp, Tensor) and not isinstance(rep[k], Tensor):
                rep[k] = inp
    return [rep[k] for k in order], {id(rep[k]): d for k, d in depth.items()}, \
        (lambda t: rep[ident(t)])


def _first_doc_line(fn) -> str:
    doc = (type(fn).__doc__ or "").strip().splitlines()
    return doc[0] if doc else type(fn).__name__


def _fmt_values(a: np.ndarray) -> str:
    flat = [float(v) + 0.0 for v in a.reshape(-1)]          # + 0.0 turns -0.0 into 0.0
    if a.ndim == 0 or a.size == 1:
        return f"{flat[0]:.4g}"
    return "[" + ", ".join(f"{v:.3g}" for v in flat) + "]"


def _scope_label(label, module_names) -> str:
    if isinstance(label, Module):
        name = module_names.get(id(label))
        kind = type(label).__name__
        return kind if not name else f"{name} ({kind})"
    if _is_step(label):
        return f"step {int(label)}"
    return str(label)


def _check_root(root, what):
    if not isinstance(root, Tensor):
        raise TypeError(f"{what}: root must be a Tensor, got {type(root).__name__} "
                        f"(fix: pass the loss tensor, e.g. {what}(loss))")


def _check_limit(arg, v, what="draw_graph"):
    """max_nodes / max_depth: None or an int >= 1 (bool, float, NaN and str refused)."""
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: {arg} must be an int >= 1 or None (no limit), got "
                        f"{type(v).__name__} {v!r:.40} (fix: e.g. {arg}=100)")
    if v < 1:
        raise ValueError(f"{what}: {arg} must be >= 1 (or None for no limit), got {v} "
                         f"(fix: e.g. {arg}=100, or leave it out to draw everything)")


def _check_args(root, model, params, backward, rankdir, max_nodes, max_depth, show_values,
                title):
    """Every argument of draw_graph, checked before any work; returns {id: name}."""
    _check_root(root, "draw_graph")
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"draw_graph: rankdir must be TB, BT, LR or RL, got {rankdir!r:.40} "
                         f"(fix: rankdir='LR' draws left to right)")
    _check_limit("max_nodes", max_nodes)
    _check_limit("max_depth", max_depth)
    if isinstance(show_values, bool) or not isinstance(show_values, (int, np.integer)) \
            or show_values < 0:
        raise ValueError(f"draw_graph: show_values must be an int >= 0, got {show_values!r:.40}"
                         f" (fix: e.g. show_values=8; 0 shows no values)")
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"draw_graph: model must be an nn.Module or None, got "
                        f"{type(model).__name__} (fix: pass the model whose loss this is)")
    if backward not in (None, True, False):
        raise TypeError(f"draw_graph: backward must be True, False or None, got "
                        f"{backward!r:.40}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw_graph: title must be a str or None, got {type(title).__name__} "
                        f"(fix: e.g. title=str(value))")
    if params is not None and not hasattr(params, "items"):
        raise TypeError(f"draw_graph: params must be a dict {{name: Tensor}}, got "
                        f"{type(params).__name__} (fix: e.g. params={{'w1': w1}})")
    names = {}
    if model is not None:
        names.update((id(p), n) for n, p in model.named_parameters())
    for pname, p in (params or {}).items():
        if not isinstance(pname, str) or not isinstance(p, Tensor):
            raise TypeError(f"draw_graph: params must map str names to Tensors, got "
                            f"{type(pname).__name__} -> {type(p).__name__} (fix: e.g. "
                            f"params={{'w1': w1}})")
        names[id(p)] = pname
    return names


def count_ops(root: Tensor, *, collapse_steps: bool = False) -> int:
    """How many op nodes (ellipses) :func:`draw_graph` draws for ``root`` with no
    ``max_nodes`` / ``max_depth`` limit, steps collapsed or not. Cheap: no DOT text is
    made. Raises TypeError if ``root`` is not a Tensor."""
    _check_root(root, "count_ops")
    ops = [t._ctx for t in _walk(root)[0] if t._ctx is not None]
    keys = _op_keys(ops, collapse_steps, lambda path: _generic_path(path, None,
                                                                     collapse_steps))[0]
    return len(set(keys.values()))


class _AnyStep:
    """The scope label of "every step of a recurrence" in a collapsed picture: an object of
    its own, so that no user's scope label (a string "*", say) can be taken for it."""

    def __repr__(self) -> str:
        return "ANY_STEP"


ANY_STEP = _AnyStep()


def _generic_path(path, model, collapse_steps):
    """A node's scope path without the model itself (the model is the whole picture), with
    every step number replaced by ``ANY_STEP`` when collapsing."""
    path = tuple(path)
    if model is not None and path and path[0] is model:
        path = path[1:]
    if collapse_steps:
        path = tuple(ANY_STEP if _is_step(lab) else lab for lab in path)
    return path


def _op_keys(drawn_ops, collapse_steps, generic):
    """The identity of each drawn op: its own, or, when collapsing, ("step", generic path,
    k, name) shared by the k-th op (in creation order) of every step of one recurrence.
    Returns ({id(fn): key}, {id(fn): its step instance}, {generic path: step instances})."""
    op_key, step_of, steps_seen = {}, {}, defaultdict(set)
    if collapse_steps:
        by_instance = defaultdict(list)
        for fn in drawn_ops:
            path = getattr(fn, "scope", ())
            cut = max((i for i, lab in enumerate(path) if _is_step(lab)), default=None)
            if cut is not None:
                by_instance[path[:cut + 1]].append(fn)
        for inst, fns in by_instance.items():
            fns.sort(key=lambda f: getattr(f, "created", 0))
            path = generic(inst)
            steps_seen[path].add(inst)
            for k, fn in enumerate(fns):
                op_key[id(fn)] = ("step", path, k, fn.name)
                step_of[id(fn)] = inst
    for fn in drawn_ops:
        op_key.setdefault(id(fn), ("op", id(fn)))
    return op_key, step_of, steps_seen


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

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text; ``.render()`` / ``.pipe()`` need the ``dot`` program
        (see :func:`render`). In Jupyter the Digraph shows itself inline.

    Raises
    ------
    TypeError
        ``root`` is not a Tensor; ``model``, ``params``, ``title``, ``max_nodes`` or
        ``max_depth`` has the wrong type.
    ValueError
        ``rankdir`` is not one of TB, BT, LR, RL, ``max_nodes`` / ``max_depth`` < 1, or
        ``show_values`` < 0.
    """
    names = _check_args(root, model, params, backward, rankdir, max_nodes, max_depth,
                        show_values, title)
    picture = _Picture(root, model, names, backward, max_nodes, max_depth, group_modules,
                       collapse_steps, show_values)
    graph_attr = {"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11",
                  "newrank": "true"}
    if title:
        graph_attr.update(label=_label([title]), labelloc="t", fontsize="14")
    dot = graphviz.Digraph("computation_graph", graph_attr=graph_attr,
                           node_attr={"fontname": "Helvetica", "fontsize": "10"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    picture.emit(dot)
    return dot


class _Picture:
    """The nodes, edges and clusters of one drawing (draw_graph's work, in steps)."""

    def __init__(self, root, model, names, backward, max_nodes, max_depth, group_modules,
                 collapse_steps, show_values):
        self.root, self.model, self.names, self.show_values = root, model, names, show_values
        self.module_names = {} if model is None else {
            id(m): n for n, m in model.named_modules()}
        self.group_modules, self.collapse_steps = group_modules, collapse_steps
        self.tensors, depth, self.canonical = _walk(root)
        self.backward = (any(hasattr(t._ctx, "backward_order") for t in self.tensors)
                         if backward is None else backward)
        # which ops are drawn: nearest the root first (max_depth, max_nodes)
        drawn_ops = [t._ctx for t in self.tensors if t._ctx is not None
                     and (max_depth is None or depth[id(t)] < max_depth)]
        if max_nodes is not None:
            drawn_ops = drawn_ops[:max_nodes]
        self.drawn = {id(fn) for fn in drawn_ops}
        self.op_key, self.step_of, self.steps_seen = _op_keys(
            drawn_ops, collapse_steps, self.generic)
        self.op_nodes, self.tensor_nodes, self.order_of = {}, {}, {}
        self.edges = defaultdict(int)          # (src key, dst key, style) -> count
        self._build()
        self.ids = {}
        for key in sorted(list(self.op_nodes) + list(self.tensor_nodes),
                          key=self.order_of.__getitem__):
            self.nid(key)

    def generic(self, path):
        return _generic_path(path, self.model, self.collapse_steps)

    def cluster_path(self, path):
        return self.generic(path) if self.group_modules else ()

    def nid(self, key):
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
        return self.ids[key]

    # -- nodes and edges ----------------------------------------------------------------
    def tnode(self, t, consumer=None, slot=None):
        if t._ctx is not None and id(t._ctx) in self.drawn:
            key, kind = ("out",) + self.op_key[id(t._ctx)], "value"
        elif t._ctx is not None:
            key, kind = ("cut", id(t)), "truncated"
        elif not t.requires_grad and consumer is not None and consumer[0] == "step" \
                and id(t) not in self.names and not t.name:
            key, kind = ("const", consumer, slot), "input"   # a constant made in each step
        else:
            key, kind = ("leaf", id(t)), ("param" if t.requires_grad else "input")
        if t is self.root:
            kind = "loss"
        node = self.tensor_nodes.get(key)
        if node is None:
            node = self.tensor_nodes[key] = _TensorNode(key, kind)
            self.order_of.setdefault(key, len(self.order_of))
        if all(m is not t for m in node.members):
            node.members.append(t)
        return node

    def _build(self):
        op_key, step_of, edges = self.op_key, self.step_of, self.edges
        for t in self.tensors:
            fn = t._ctx
            if fn is None or id(fn) not in self.drawn:
                continue
            okey = op_key[id(fn)]
            op = self.op_nodes.get(okey)
            if op is None:
                op = self.op_nodes[okey] = _OpNode(okey, fn.name, _first_doc_line(fn))
                self.order_of.setdefault(okey, len(self.order_of))
                op.cluster = self.cluster_path(getattr(fn, "scope", ()))
            op.members.append(fn)
            edges[(okey, self.tnode(t).key, "fwd")] += 1
            for slot, inp in enumerate(fn.inputs):
                inp = self.canonical(inp)
                src = self.tnode(inp, okey, slot)
                if inp.requires_grad:
                    src.uses += 1
                recurrent = (inp._ctx is not None and id(inp._ctx) in step_of
                             and id(fn) in step_of
                             and step_of[id(inp._ctx)] != step_of[id(fn)]
                             and op_key[id(inp._ctx)][1] == okey[1])
                edges[(src.key, okey, "rec" if recurrent else "fwd")] += 1
                if self.backward and inp.requires_grad and hasattr(fn, "backward_order"):
                    edges[(okey, src.key, "bwd")] += 1
        # a collapsed tensor counts each use once per step, not once per member
        for node in self.tensor_nodes.values():
            if len(node.members) > 1:
                node.uses = -(-node.uses // len(node.members))

    # -- labels -------------------------------------------------------------------------
    def tensor_label(self, node) -> str:
        t, names = node.members[0], self.names
        lines = []
        name = next((names[id(m)] for m in node.members if id(m) in names), None) or \
            next((m.name for m in node.members if m.name), None)
        name = None if name is None else str(name)
        if node.kind == "loss":
            lines.append(f"loss{'' if not name else ' ' + name}")
        elif name:
            lines.append(name)
        if node.kind == "truncated":
            lines.append(f"... more ({_shape(t)})")
            return _label(lines)
        lines.append(f"{_shape(t) if t.shape else 'scalar'} {t.dtype}")
        many = len(node.members)
        if many > 1:
            lines.append(f"x {many} steps")
        data = [m.data for m in node.members if isinstance(m, Tensor)]
        if len(data) == 1 and data[0].size <= self.show_values:
            lines.append(f"data {_fmt_values(data[0])}")
        if self.backward:
            lines += self.grad_lines(node)
        return _label(lines)

    def grad_lines(self, node) -> list:
        lines = []
        grads = [m.grad for m in node.members if isinstance(m, Tensor) and m.grad is not None]
        if len(grads) == 1 and grads[0].size <= self.show_values:
            lines.append(f"grad {_fmt_values(grads[0])}")
        elif grads:
            norms = [float(np.linalg.norm(g)) for g in grads]
            lo, hi = min(norms), max(norms)
            rng = f"{lo:.3g}" if len(norms) == 1 else f"{lo:.3g}..{hi:.3g}"
            lines.append(f"grad {_shape(grads[0])} |g| {rng}")
        if node.uses > 1:
            lines.append(f"grad = sum over {node.uses} uses")
        return lines

    def op_label(self, op) -> str:
        lines = [str(op.name)]
        if len(op.members) > 1:
            lines[0] += f" (x{len(op.members)})"
        if self.backward:
            orders = [fn.backward_order for fn in op.members if hasattr(fn, "backward_order")]
            if orders:
                lines.append(f"backward #{min(orders) + 1}" if len(orders) == 1 else
                             f"backward #{min(orders) + 1}..#{max(orders) + 1}")
        return _label(lines)

    # -- clusters -----------------------------------------------------------------------
    def cluster_tree(self):
        """(path -> node keys directly in it, path -> first order of its subtree); a
        parameter sits in the box of the layer owning it."""
        owner = {}
        if self.model is not None:
            mods = dict(self.model.named_modules())
            for pname, p in self.model.named_parameters():
                prefix = pname.rsplit(".", 1)[0] if "." in pname else ""
                if prefix and prefix in mods:
                    owner[id(p)] = mods[prefix]
        order_of, op_nodes = self.order_of, self.op_nodes
        tree = defaultdict(list)
        for key in sorted(op_nodes, key=order_of.__getitem__):
            tree[op_nodes[key].cluster].append(key)
        module_path = {}                       # module -> the first path ending in it
        for path in list(tree):
            for i, lab in enumerate(path):
                if isinstance(lab, Module):
                    module_path.setdefault(id(lab), path[:i + 1])
        for key, node in sorted(self.tensor_nodes.items(), key=lambda kv: order_of[kv[0]]):
            if key[0] == "out":
                path = op_nodes[key[1:]].cluster
            elif key[0] == "const":
                path = op_nodes[key[1]].cluster
            elif node.kind == "param" and id(node.members[0]) in owner:
                path = module_path.get(id(owner[id(node.members[0])]), ())
            else:
                path = ()
            tree[path].append(key)
        first = {}
        for path, keys in tree.items():
            for i in range(len(path) + 1):
                sub = path[:i]
                first[sub] = min(first.get(sub, len(order_of)), *(order_of[k] for k in keys))
        return tree, first

    # -- emit ---------------------------------------------------------------------------
    def emit_node(self, g, key):
        if key in self.op_nodes:
            op = self.op_nodes[key]
            g.node(self.nid(key), self.op_label(op), shape="ellipse", style="filled",
                   fillcolor=COLORS["op"], tooltip=_tooltip(op.doc))
            return
        node = self.tensor_nodes[key]
        attrs = dict(shape="box", style="rounded,filled", fillcolor=COLORS[node.kind])
        if node.kind == "loss":
            attrs.update(penwidth="2")
        if node.uses > 1 and self.backward:
            attrs.update(color=COLORS["accumulate"], penwidth="2")
        g.node(self.nid(key), self.tensor_label(node), **attrs)

    def emit(self, dot):
        tree, first = self.cluster_tree()
        children = defaultdict(list)
        for path in sorted(first, key=lambda p: (len(p), first[p])):
            if path:
                children[path[:-1]].append(path)

        def emit_cluster(g, path):
            for key in tree.get(path, []):
                self.emit_node(g, key)
            for child in children[path]:
                with g.subgraph(name=f"cluster_{first[child]}_{len(child)}") as sub:
                    lab = child[-1]
                    if lab is ANY_STEP:
                        n = len(self.steps_seen.get(child, ())) or 1
                        sub.attr(label=_label([f"one step, drawn once for all {n} "
                                               f"(x {n} steps)"]),
                                 style="rounded,dashed", color=COLORS["recurrent"])
                    else:
                        sub.attr(label=_label([_scope_label(lab, self.module_names)]),
                                 style="rounded", color="#999999")
                    emit_cluster(sub, child)

        emit_cluster(dot, ())
        order_of = self.order_of
        for (src, dst, style), count in sorted(
                self.edges.items(), key=lambda kv: (order_of[kv[0][0]], order_of[kv[0][1]],
                                                    kv[0][2])):
            dot.edge(self.nid(src), self.nid(dst), **self.edge_attrs(src, dst, style, count))

    def edge_attrs(self, src, dst, style, count) -> dict:
        if style == "bwd":
            fns = self.op_nodes[src].members
            orders = sorted(fn.backward_order + 1 for fn in fns if hasattr(fn, "backward_order"))
            return dict(color=COLORS["backward"], style="dashed", fontcolor=COLORS["backward"],
                        constraint="false", arrowsize="0.6",
                        label=str(orders[0]) if len(orders) == 1 else
                        f"{orders[0]}..{orders[-1]}")
        if style == "rec":
            return dict(color=COLORS["recurrent"], fontcolor=COLORS["recurrent"],
                        penwidth="1.5", label="to step t+1", constraint="false")
        attrs = {}
        node = self.tensor_nodes.get(src)
        if node is not None and node.uses > 1 and self.backward:
            attrs = dict(color=COLORS["accumulate"], penwidth="1.5")
        if count > 1 and (_step_group(src) is None or _step_group(src) != _step_group(dst)):
            attrs["label"] = f"x{count}"      # inside a collapsed step the box says it
        return attrs


def _step_group(key):
    """The collapsed recurrence a node key belongs to (its generic scope path), or None."""
    if key[0] in ("out", "const"):
        key = key[1:] if key[0] == "out" else key[1]
    return key[1] if key[0] == "step" else None


def _is_step(label) -> bool:
    return isinstance(label, (int, np.integer)) and not isinstance(label, bool)


def _shape(t) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")" if len(t.shape) != 1 \
        else f"({t.shape[0]},)"


# -- rendering ----------------------------------------------------------------------------
_NODE_STATEMENT = re.compile(r'\t*(?!(?:graph|node|edge)\b)(?:"(?:[^"\\]|\\.)*"|\w+) \[', re.S)
_EDGE_STATEMENT = re.compile(r'\t*(?:"(?:[^"\\]|\\.)*"|[\w.:]+) -[>-] ', re.S)


def graph_size(graph) -> tuple[int, int]:
    """(nodes, edges) of a ``graphviz`` graph: its node and edge statements, clusters
    included (each ``.node()`` / ``.edge()`` call is one statement)."""
    body = list(graph.body)
    return (sum(1 for s in body if _NODE_STATEMENT.match(s)),
            sum(1 for s in body if _EDGE_STATEMENT.match(s)))


def has_dot() -> bool:
    """True if the graphviz ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


@functools.lru_cache(maxsize=4)
def _dot_formats(dot_path: str) -> frozenset:
    """The output formats this ``dot`` knows (its answer to ``dot -T?``, base names)."""
    try:
        out = subprocess.run([dot_path, "-T?"], capture_output=True, text=True, timeout=5,
                             errors="replace")
    except (OSError, subprocess.SubprocessError):
        return frozenset()                       # unknown: every format is tried
    if "Use one of:" not in out.stderr:
        return frozenset()
    listed = out.stderr.split("Use one of:", 1)[1].split()
    return frozenset(f.split(":")[0] for f in listed)


def _render_formats() -> tuple:
    """Formats :func:`render` writes: the DOT source, and every format both the graphviz
    package and the installed ``dot`` know (svg, png, pdf first)."""
    dot_path = shutil.which("dot")
    known = _dot_formats(dot_path) if dot_path else frozenset()
    rest = sorted(f for f in graphviz.FORMATS if (not known or f in known)
                  and f not in SOURCE_FORMATS and f not in ("x11", "xlib"))   # windows
    first = [f for f in ("svg", "png", "pdf") if f in rest]
    return tuple(first + list(SOURCE_FORMATS) + [f for f in rest if f not in first])


def check_graph_path(path) -> tuple[str, str]:
    """:func:`viz.curves.check_output_path` for :func:`render`: returns (path, format).
    Raises TypeError / OutputPathError before any work."""
    return check_output_path(path, _render_formats(), what="graph picture")


def render(graph: "graphviz.Digraph", path, timeout: float = DOT_TIMEOUT) -> str:
    """Write ``graph`` to ``path``; the format is the file's extension (.svg, .png, .pdf,
    or .gv / .dot for the DOT source, which needs no graphviz program). The file is
    written atomically (``tinygrad_attn.fileio.atomic_open``): a failed or interrupted
    render leaves any previous file whole.

    timeout : seconds ``dot`` may run (> 0); then it is stopped.

    Returns the path written (a str).

    Raises
    ------
    OutputPathError (a ValueError)
        ``path`` cannot be written (a folder, a missing or read-only folder, an unknown
        extension), checked before ``dot`` runs; or the write itself failed.
    RuntimeError
        ``dot`` is missing (install instructions; the DOT source is written beside
        ``path`` as ``.gv``); :class:`RenderError`: ``dot`` ran longer than ``timeout``
        or failed (the message gives the number of nodes and edges and a fix).
    """
    path, fmt = check_graph_path(path)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"render: timeout must be a finite number of seconds > 0, got "
                         f"{timeout!r:.40} (fix: e.g. timeout=60)")
    source = graph.source.encode("utf-8", "replace")
    if fmt in SOURCE_FORMATS:
        return write_bytes(path, lambda f: f.write(source), "DOT source")
    dot_path = shutil.which("dot")
    if dot_path is None:
        gv = os.path.splitext(path)[0] + ".gv"
        write_bytes(gv, lambda f: f.write(source), "DOT source")
        raise RuntimeError(f"render: {INSTALL_HINT}; the DOT source was written to {gv}")
    data = _run_dot(dot_path, graph, source, fmt, timeout)
    return write_bytes(path, lambda f: f.write(data), "graph picture")


def _run_dot(dot_path, graph, source: bytes, fmt: str, timeout: float) -> bytes:
    nodes, edges = graph_size(graph)
    size = f"a graph of {nodes:,} nodes and {edges:,} edges"
    fix = ("draw fewer nodes: draw_graph(..., collapse_steps=True, max_nodes=100), "
           "e.g. tinygrad-attn graph --collapse-steps --max-nodes 100; or save the DOT "
           "source (a .gv file) and run dot on it yourself")
    try:
        done = subprocess.run([dot_path, f"-T{fmt}"], input=source, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"render: dot did not finish laying out {size} in {timeout:g} s "
                          f"and was stopped (fix: {fix})") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = display_text(err[0] if err else f"exit status {done.returncode}", 160)
        raise RenderError(f"render: dot failed on {size} as {fmt}: {why} (fix: {fix})")
    return done.stdout


def _draw(self, **kwargs):
    """``viz.draw_graph(self, **kwargs)``: this tensor's computation graph as a
    ``graphviz.Digraph`` (shown inline in Jupyter). Attached to Tensor by ``import viz``."""
    return draw_graph(self, **kwargs)


Tensor.draw = _draw

__all__ = ["COLORS", "DOT_TIMEOUT", "INSTALL_HINT", "OutputPathError", "RenderError",
           "check_graph_path", "count_ops", "draw_graph", "graph_size", "has_dot", "render",
           "retain_grads"]
