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

Values of intermediate tensors survive ``backward()`` only if the graph was kept
(``backward(retain_graph=True)``) or their gradients were asked for; call
:func:`retain_grads` before ``backward()`` to keep every value and gradient, as micrograd's
pictures show them.
"""
from __future__ import annotations

import shutil
from collections import defaultdict, deque

import numpy as np

try:
    import graphviz
except ImportError as e:  # pragma: no cover - graphviz is a dependency of the project
    raise ImportError("viz.graph needs the graphviz Python package (fix: pip install graphviz)"
                      ) from e

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

INSTALL_HINT = ("the graphviz 'dot' program is not installed, so only the DOT source can be "
                "made (fix: 'apt-get install graphviz' on Debian/Ubuntu, 'brew install "
                "graphviz' on macOS, or see graphviz.org/download)")

COLORS = {"loss": "#f4a582", "param": "#92c5de", "input": "#e0e0e0", "value": "#ffffff",
          "op": "#fff2cc", "backward": "#b2182b", "accumulate": "#e66101",
          "recurrent": "#2166ac", "truncated": "#f0f0f0"}


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
    Returns the number of tensors marked.
    """
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
    params : dict {name: Tensor}, optional
        More names (e.g. ``{"w1": w1, "x1": x1}`` for a hand-made neuron); a tensor's own
        ``.name`` is used when it has one.
    backward : bool, optional
        Draw the backward pass (gradients, "backward #k" on each op, red numbered edges
        from each op to the inputs it sends gradients to). Default: whether a backward
        pass has run through the graph. False draws the forward graph only.
    rankdir : {"TB", "BT", "LR", "RL"}
        Graphviz layout direction (inputs at the top for "TB").
    max_nodes : int, optional
        Draw at most this many op nodes (those nearest the root); what is cut off is
        shown as one grey "... more" box per cut edge.
    max_depth : int, optional
        Draw only ops at most this many ops away from the root.
    group_modules : bool
        A graphviz cluster per module (and per time step) that made the nodes.
    collapse_steps : bool
        Draw every unrolled recurrence (nodes inside ``scope(t)`` for int ``t``) once:
        the k-th op of every step becomes one op, its box says "x T steps", and edges
        that carry a state from step t to t+1 are drawn in blue as "to step t+1".
    show_values : int
        Tensors with at most this many elements show their values (and gradients).
    title : str, optional
        A caption for the picture.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text; ``.render()`` / ``.pipe()`` need the ``dot`` program
        (see :func:`render`). In Jupyter the Digraph shows itself inline.

    Raises
    ------
    TypeError
        ``root`` is not a Tensor.
    ValueError
        ``rankdir`` is not one of TB, BT, LR, RL, or ``max_nodes`` / ``max_depth`` < 1.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, got {type(root).__name__} "
                        f"(fix: pass the loss tensor, e.g. draw_graph(loss))")
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"draw_graph: rankdir must be TB, BT, LR or RL, got {rankdir!r}")
    for arg, v in (("max_nodes", max_nodes), ("max_depth", max_depth)):
        if v is not None and v < 1:
            raise ValueError(f"draw_graph: {arg} must be >= 1 or None, got {v}")

    names, module_names = {}, {}
    if model is not None:
        for mname, mod in model.named_modules():
            module_names[id(mod)] = mname
        for pname, p in model.named_parameters():
            names[id(p)] = pname
    for pname, p in (params or {}).items():
        names[id(p)] = pname

    tensors, depth, canonical = _walk(root)
    if backward is None:
        backward = any(hasattr(t._ctx, "backward_order") for t in tensors)

    # -- which ops are drawn: nearest the root first (max_depth, max_nodes) ----------------
    drawn_ops = [t._ctx for t in tensors if t._ctx is not None
                 and (max_depth is None or depth[id(t)] < max_depth)]
    if max_nodes is not None:
        drawn_ops = drawn_ops[:max_nodes]
    drawn = {id(fn) for fn in drawn_ops}

    # -- keys: the identity of each drawn node, shared by the steps of a recurrence -------
    def norm_path(path):
        """A node's cluster path: its scope labels, without the model itself (the model is
        the whole picture), with every step number replaced by "*" when collapsing."""
        path = tuple(path)
        if model is not None and path and path[0] is model:
            path = path[1:]
        if collapse_steps:
            path = tuple("*" if _is_step(lab) else lab for lab in path)
        return path if group_modules else ()

    op_key, step_of, steps_seen = {}, {}, defaultdict(set)
    if collapse_steps:
        # rank the ops of each step instance by creation, so the k-th op of every step
        # of the same recurrence gets the same key
        by_instance = defaultdict(list)
        for fn in drawn_ops:
            path = getattr(fn, "scope", ())
            cut = max((i for i, lab in enumerate(path) if _is_step(lab)), default=None)
            if cut is not None:
                by_instance[path[:cut + 1]].append(fn)
        for inst, fns in by_instance.items():
            fns.sort(key=lambda f: getattr(f, "created", 0))
            generic = norm_path(inst)
            steps_seen[generic].add(inst)
            for k, fn in enumerate(fns):
                op_key[id(fn)] = ("step", generic, k, fn.name)
                step_of[id(fn)] = inst
    for fn in drawn_ops:
        op_key.setdefault(id(fn), ("op", id(fn)))

    # -- build the nodes --------------------------------------------------------------------
    op_nodes, tensor_nodes = {}, {}
    order_of = {}                                          # key -> first-seen position

    def tnode(t, consumer=None, slot=None):
        if t._ctx is not None and id(t._ctx) in drawn:
            key, kind = ("out",) + op_key[id(t._ctx)], "value"
        elif t._ctx is not None:
            key, kind = ("cut", id(t)), "truncated"
        elif not t.requires_grad and consumer is not None and consumer[0] == "step" \
                and id(t) not in names and not t.name:
            key, kind = ("const", consumer, slot), "input"   # a constant made in each step
        else:
            key, kind = ("leaf", id(t)), ("param" if t.requires_grad else "input")
        if t is root:
            kind = "loss"
        node = tensor_nodes.get(key)
        if node is None:
            node = tensor_nodes[key] = _TensorNode(key, kind)
            order_of.setdefault(key, len(order_of))
        if all(m is not t for m in node.members):
            node.members.append(t)
        return node

    edges = defaultdict(int)          # (src key, dst key, style) -> count
    for t in tensors:
        fn = t._ctx
        if fn is None or id(fn) not in drawn:
            continue
        okey = op_key[id(fn)]
        op = op_nodes.get(okey)
        if op is None:
            op = op_nodes[okey] = _OpNode(okey, fn.name, _first_doc_line(fn))
            order_of.setdefault(okey, len(order_of))
            op.cluster = norm_path(getattr(fn, "scope", ()))
        op.members.append(fn)
        out = tnode(t)
        edges[(okey, out.key, "fwd")] += 1
        for slot, inp in enumerate(fn.inputs):
            inp = canonical(inp)
            src = tnode(inp, okey, slot)
            if inp.requires_grad:
                src.uses += 1
            recurrent = (inp._ctx is not None and id(inp._ctx) in step_of and id(fn) in step_of
                         and step_of[id(inp._ctx)] != step_of[id(fn)]
                         and op_key[id(inp._ctx)][1] == okey[1])
            edges[(src.key, okey, "rec" if recurrent else "fwd")] += 1
            if backward and inp.requires_grad and hasattr(fn, "backward_order"):
                edges[(okey, src.key, "bwd")] += 1

    # a collapsed tensor counts each use once per step, not once per member
    for node in tensor_nodes.values():
        if len(node.members) > 1:
            node.uses = -(-node.uses // len(node.members))

    # -- emit -------------------------------------------------------------------------------
    dot = graphviz.Digraph("computation_graph", graph_attr={
        "rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11", "newrank": "true",
        **({"label": title, "labelloc": "t", "fontsize": "14"} if title else {})},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    ids = {}

    def nid(key):
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    for key in sorted(list(op_nodes) + list(tensor_nodes), key=order_of.__getitem__):
        nid(key)

    def tensor_label(node):
        t = node.members[0]
        lines = []
        name = next((names[id(m)] for m in node.members if id(m) in names), None) or \
            next((m.name for m in node.members if m.name), None)
        if node.kind == "loss":
            lines.append(f"loss{'' if not name else ' ' + name}")
        elif name:
            lines.append(name)
        if node.kind == "truncated":
            lines.append(f"... more ({_shape(t)})")
            return "\n".join(lines)
        lines.append(f"{_shape(t) if t.shape else 'scalar'} {t.dtype}")
        many = len(node.members)
        if many > 1:
            lines.append(f"x {many} steps")
        data = [m.data for m in node.members if isinstance(m, Tensor)]
        if len(data) == 1 and data[0].size <= show_values:
            lines.append(f"data {_fmt_values(data[0])}")
        if backward:
            grads = [m.grad for m in node.members if isinstance(m, Tensor) and
                     m.grad is not None]
            if len(grads) == 1 and grads[0].size <= show_values:
                lines.append(f"grad {_fmt_values(grads[0])}")
            elif grads:
                norms = [float(np.linalg.norm(g)) for g in grads]
                lo, hi = min(norms), max(norms)
                rng = f"{lo:.3g}" if len(norms) == 1 else f"{lo:.3g}..{hi:.3g}"
                lines.append(f"grad {_shape(grads[0])} |g| {rng}")
        if node.uses > 1 and backward:
            lines.append(f"grad = sum over {node.uses} uses")
        return "\n".join(lines)

    def op_label(op):
        lines = [op.name]
        if len(op.members) > 1:
            lines[0] += f" (x{len(op.members)})"
        if backward:
            orders = [fn.backward_order for fn in op.members if hasattr(fn, "backward_order")]
            if orders:
                lines.append(f"backward #{min(orders) + 1}" if len(orders) == 1 else
                             f"backward #{min(orders) + 1}..#{max(orders) + 1}")
        return "\n".join(lines)

    # clusters: a tree of scope paths; a parameter sits in the box of the layer owning it
    owner = {}
    if model is not None:
        mods = dict(model.named_modules())
        for pname, p in model.named_parameters():
            prefix = pname.rsplit(".", 1)[0] if "." in pname else ""
            if prefix and prefix in mods:
                owner[id(p)] = mods[prefix]
    tree = defaultdict(list)                               # path -> node keys directly in it
    for key in sorted(op_nodes, key=order_of.__getitem__):
        tree[op_nodes[key].cluster].append(key)
    module_path = {}                                       # module -> the first path ending in it
    for path in list(tree):
        for i, lab in enumerate(path):
            if isinstance(lab, Module):
                module_path.setdefault(id(lab), path[:i + 1])
    for key, node in sorted(tensor_nodes.items(), key=lambda kv: order_of[kv[0]]):
        if key[0] == "out":
            path = op_nodes[key[1:]].cluster
        elif key[0] == "const":
            path = op_nodes[key[1]].cluster
        elif node.kind == "param" and id(node.members[0]) in owner:
            path = module_path.get(id(owner[id(node.members[0])]), ())
        else:
            path = ()
        tree[path].append(key)
    first = {}                                             # path -> first order of its subtree
    for path, keys in tree.items():
        for i in range(len(path) + 1):
            sub = path[:i]
            first[sub] = min(first.get(sub, len(order_of)), *(order_of[k] for k in keys))

    def emit_node(g, key):
        if key in op_nodes:
            op = op_nodes[key]
            g.node(nid(key), op_label(op), shape="ellipse", style="filled",
                   fillcolor=COLORS["op"], tooltip=op.doc)
            return
        node = tensor_nodes[key]
        attrs = dict(shape="box", style="rounded,filled", fillcolor=COLORS[node.kind])
        if node.kind == "loss":
            attrs.update(penwidth="2")
        if node.uses > 1 and backward:
            attrs.update(color=COLORS["accumulate"], penwidth="2")
        g.node(nid(key), tensor_label(node), **attrs)

    children = defaultdict(list)
    for path in sorted(first, key=lambda p: (len(p), first[p])):
        if path:
            children[path[:-1]].append(path)

    def emit_cluster(g, path):
        for key in tree.get(path, []):
            emit_node(g, key)
        for child in children[path]:
            with g.subgraph(name=f"cluster_{first[child]}_{len(child)}") as sub:
                lab = child[-1]
                if lab == "*":
                    n = len(steps_seen.get(child, ())) or 1
                    sub.attr(label=f"one step, drawn once for all {n} (x {n} steps)",
                             style="rounded,dashed", color=COLORS["recurrent"])
                else:
                    sub.attr(label=_scope_label(lab, module_names), style="rounded",
                             color="#999999")
                emit_cluster(sub, child)

    emit_cluster(dot, ())

    for (src, dst, style), count in sorted(edges.items(),
                                           key=lambda kv: (order_of[kv[0][0]], order_of[kv[0][1]],
                                                           kv[0][2])):
        attrs = {}
        if style == "bwd":
            fns = op_nodes[src].members
            orders = sorted(fn.backward_order + 1 for fn in fns if hasattr(fn, "backward_order"))
            attrs = dict(color=COLORS["backward"], style="dashed", fontcolor=COLORS["backward"],
                         constraint="false", arrowsize="0.6",
                         label=str(orders[0]) if len(orders) == 1 else
                         f"{orders[0]}..{orders[-1]}")
        elif style == "rec":
            attrs = dict(color=COLORS["recurrent"], fontcolor=COLORS["recurrent"],
                         penwidth="1.5", label="to step t+1", constraint="false")
        else:
            node = tensor_nodes.get(src)
            if node is not None and node.uses > 1 and backward:
                attrs = dict(color=COLORS["accumulate"], penwidth="1.5")
            if count > 1 and (_step_group(src) is None or _step_group(src) != _step_group(dst)):
                attrs["label"] = f"x{count}"      # inside a collapsed step the box says it
        dot.edge(nid(src), nid(dst), **attrs)
    return dot


def _step_group(key):
    """The collapsed recurrence a node key belongs to (its generic scope path), or None."""
    if key[0] in ("out", "const"):
        key = key[1:] if key[0] == "out" else key[1]
    return key[1] if key[0] == "step" else None


def _is_step(label) -> bool:
    return isinstance(label, (int, np.integer)) and not isinstance(label, bool)


def _shape(t) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")" if len(t.shape) != 1 else f"({t.shape[0]},)"


def has_dot() -> bool:
    """True if the graphviz ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def render(graph: "graphviz.Digraph", path: str) -> str:
    """Write ``graph`` to ``path``; the format is the file's extension (.svg, .png, .pdf,
    or .dot / .gv for the DOT source, which needs no graphviz program).

    Returns the path written. Raises RuntimeError with install instructions (and writes
    the DOT source beside ``path`` as ``.gv``) when ``dot`` is missing, ValueError for an
    extension graphviz does not know.
    """
    import os
    base, ext = os.path.splitext(str(path))
    fmt = ext.lstrip(".").lower()
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(graph.source)
        return str(path)
    if fmt not in graphviz.FORMATS:
        raise ValueError(f"render: unknown picture format {ext!r} for {path!r} (fix: end the "
                         f"name in .svg, .png, .pdf or .gv)")
    if not has_dot():
        with open(base + ".gv", "w", encoding="utf-8") as f:
            f.write(graph.source)
        raise RuntimeError(f"render: {INSTALL_HINT}; the DOT source was written to {base}.gv")
    data = graph.pipe(format=fmt)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return str(path)


def _draw(self, **kwargs):
    """``viz.draw_graph(self, **kwargs)``: this tensor's computation graph as a
    ``graphviz.Digraph`` (shown inline in Jupyter). Attached to Tensor by ``import viz``."""
    return draw_graph(self, **kwargs)


Tensor.draw = _draw
