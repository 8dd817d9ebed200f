"""The record that the explorer page (:mod:`viz.explore`) shows, as JSON-ready data: the
backward steps in order, each tensor box's value, gradient and creating line, and for each
leaf the paths from the loss to it with the chain-rule product along each.

Node ids are the DOT node names of the picture (``n0``, ``n1``, ...; ``GraphNodes.node_ids``),
which graphviz writes as each SVG group's ``<title>``.
"""
from __future__ import annotations

import numpy as np

from .graph_text import composed_twin, first_doc_line, fmt_values, shape_text

MAX_PATHS = 24          # paths listed per leaf (a deep graph has exponentially many)


def _fmt(a, show_values: int) -> str:
    """Values on one line when there are at most ``show_values``, else a summary."""
    a = np.asarray(a)
    if a.size <= max(show_values, 1):
        return fmt_values(a)
    a64 = a.astype(np.float64)
    return (f"{shape_text(a)}: min {a64.min():.3g}, max {a64.max():.3g}, "
            f"norm {np.linalg.norm(a64):.3g}")


def _where(trace) -> str | None:
    """'file:line in function' of a node created inside detect_anomaly(), else None."""
    if trace is None:
        return None
    path, line, func = trace
    return f"{path}:{line} in {func}"


class _Index:
    """Which drawn box shows each op and each tensor: {id(fn): op node id} and
    {id(tensor): tensor node id}."""

    def __init__(self, nodes):
        self.ids = nodes.node_ids()
        self.op = {id(fn): self.ids[k] for k, o in nodes.op_nodes.items() for fn in o.members}
        self.tensor = {id(m): self.ids[k] for k, t in nodes.tensor_nodes.items()
                       for m in t.members}


def _page_data(nodes, record: dict, names: dict, show_values: int) -> dict:
    """{"steps", "tensors", "ops", "paths", "root"}: everything the page's script reads."""
    index = _Index(nodes)
    steps = _steps(record, index, show_values)
    return {"steps": steps, "tensors": _tensors(nodes, index, record, names, show_values),
            "ops": _ops(nodes, index), "paths": _paths(nodes, index, record),
            "root": index.tensor[id(nodes.root)]}


def _slots(fn, sent) -> list:
    """The input slot of each (input, grad) pair a rule sent (a tensor used twice by one
    op, as in x * x, takes its slots in order)."""
    slots, start = [], 0
    for inp, _ in sent:
        k = next(k for k in range(start, len(fn.inputs)) if fn.inputs[k] is inp)
        slots.append(k)
        start = k + 1
    return slots


def drawn_steps(record, index: _Index) -> list:
    """The replayed backward steps (fn, out, g, sent) of the ops the picture draws, in
    backward order: the page's step k is item k - 1."""
    return [step for step in record["steps"] if id(step[0]) in index.op]


def _steps(record, index: _Index, show_values: int) -> list:
    """The backward steps of the drawn ops in order: the op's box, rule, incoming gradient
    and, per input, the gradient sent and the receiving box's running sum."""
    running, count, steps = {}, {}, []
    uses = {}
    for _fn, _out, _g, sent in record["steps"]:
        for inp, _ in sent:
            uses[id(inp)] = uses.get(id(inp), 0) + 1
    for fn, out, g, sent in drawn_steps(record, index):
        sends = []
        for slot, (inp, ig) in zip(_slots(fn, sent), sent):
            running[id(inp)] = ig if id(inp) not in running else running[id(inp)] + ig
            count[id(inp)] = count.get(id(inp), 0) + 1
            sends.append({"to": index.tensor.get(id(inp)), "slot": slot,
                          "grad": _fmt(ig, show_values),
                          "local": record["local"].get((id(fn), slot)),
                          "sum": _fmt(running[id(inp)], show_values),
                          "count": count[id(inp)], "uses": uses[id(inp)]})
        steps.append({"op": index.op[id(fn)], "name": fn.name, "order": fn.backward_order,
                      "rule": first_doc_line(type(fn)), "out": index.tensor.get(id(out)),
                      "incoming": _fmt(g, show_values), "sends": sends})
    return steps


def _tensors(nodes, index: _Index, record, names: dict, show_values: int) -> dict:
    """{box id: name, kind, shape, dtype, value, grad (the total from the replay), created}
    for every tensor box (the first tensor of a box that stands for several steps)."""
    out = {}
    for key, node in nodes.tensor_nodes.items():
        t = node.members[0]
        name = next((names[id(m)] for m in node.members if id(m) in names), None) or t.name
        grad = record["total"].get(id(t))
        data = getattr(t, "data", None)
        fn = t.grad_fn
        out[index.ids[key]] = {
            "name": name, "kind": node.kind, "shape": shape_text(t), "dtype": str(t.dtype),
            "steps": len(node.members),
            "value": None if data is None else _fmt(data, show_values),
            "grad": None if grad is None else _fmt(grad, show_values),
            "created": _where(getattr(fn, "anomaly_trace", None)) if fn else None}
    return out


def _ops(nodes, index: _Index) -> dict:
    """{op box id: name, rule (the docstring's first line), composed twin or None, the
    number of ops it stands for}."""
    return {index.ids[key]: {"name": op.name, "rule": first_doc_line(op.function),
                             "composed": composed_twin(op.function),
                             "members": len(op.members)}
            for key, op in nodes.op_nodes.items()}


def _forward_edges(nodes, index: _Index) -> dict:
    """{box id: [box ids it feeds]} over the forward (and step-to-step) edges."""
    succ = {}
    for (src, dst, style), _ in nodes.edges.items():
        if style != "bwd":
            succ.setdefault(index.ids[src], []).append(index.ids[dst])
    return succ


def _paths(nodes, index: _Index, record) -> dict:
    """{leaf box id: {"edges": [[src, dst], ...] on any path to the loss, "paths": up to
    MAX_PATHS paths (box ids, leaf first) with "product", the product of the local
    derivatives along it (None unless every step is scalar), "more": paths left out}}."""
    succ = _forward_edges(nodes, index)
    root = index.tensor[id(nodes.root)]
    reaches = _reaching(succ, root)
    local = _box_locals(nodes, index, record)
    result = {}
    for key, node in nodes.tensor_nodes.items():
        leaf = index.ids[key]
        if node.kind not in ("param", "input") or leaf not in reaches or \
                not node.members[0].requires_grad:          # a constant gets no gradient
            continue
        on = _reachable(succ, leaf) & reaches             # on some path leaf -> loss
        edges = sorted({(a, b) for a in on for b in succ.get(a, ()) if b in on})
        paths, more = _enumerate(succ, reaches, leaf, root)
        result[leaf] = {"edges": [list(e) for e in edges], "more": more,
                        "paths": [{"nodes": p, "product": _product(p, local)} for p in paths]}
    return result


def _reachable(succ: dict, start: str) -> set:
    seen, stack = {start}, [start]
    while stack:
        for nxt in succ.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _reaching(succ: dict, root: str) -> set:
    """Every box from which ``root`` can be reached (the root included)."""
    pred = {}
    for a, bs in succ.items():
        for b in bs:
            pred.setdefault(b, []).append(a)
    return _reachable(pred, root)


def _enumerate(succ: dict, reaches: set, leaf: str, root: str) -> tuple:
    """Up to MAX_PATHS paths leaf -> root (depth first) and how many more there are
    (counted up to 10,000)."""
    paths, more, stack = [], 0, [(leaf, [leaf])]
    while stack and more < 10_000:
        node, path = stack.pop()
        if node == root:
            if len(paths) < MAX_PATHS:
                paths.append(path)
            else:
                more += 1
            continue
        for nxt in reversed(succ.get(node, ())):
            if nxt in reaches and nxt not in path:
                stack.append((nxt, path + [nxt]))
    return paths, more


def _box_locals(nodes, index: _Index, record) -> dict:
    """{(tensor box, op box): d out / d input} for ops drawn as one op (summed over the
    slots where the same tensor enters twice), when the replay measured it (scalars)."""
    local = {}
    for key, op in nodes.op_nodes.items():
        if len(op.members) != 1:
            continue
        fn = op.members[0]
        for k, inp in enumerate(fn.inputs):
            d = record["local"].get((id(fn), k))
            box = index.tensor.get(id(inp))
            if d is None or box is None:
                continue
            pair = (box, index.ids[key])
            local[pair] = local.get(pair, 0.0) + d
    return local


def _product(path: list, local: dict):
    """The product of the local derivatives along ``path`` (tensor, op, tensor, ...), with
    the factors, or None when one is unknown (a non-scalar step)."""
    factors = []
    for a, b in zip(path[0::2], path[1::2]):
        if (a, b) not in local:
            return None
        factors.append(local[(a, b)])
    return {"factors": factors, "value": float(np.prod(factors)) if factors else 1.0}
