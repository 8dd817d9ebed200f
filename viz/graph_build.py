"""The nodes and edges of one computation-graph picture, before any DOT text: a box per
tensor (several tensors when steps are collapsed), an ellipse per op (several ops when
collapsed), and the counted edges between them (forward, recurrent "to step t+1", and the
backward pass's edges from an op back to the inputs it sends a gradient to).

Node keys:

- ``("op", id(fn))`` or ``("step", path, k, name)``: an op (see :class:`OpGroups`);
- ``("out",) + op key``: the tensor an op made;
- ``("cut", id(t))``: a tensor whose op is not drawn (a "... more" box);
- ``("const", op key, slot)``: a nameless constant made afresh in each collapsed step;
- ``("leaf", id(t))``: any other leaf (a parameter or an input).
"""
from __future__ import annotations

from collections import defaultdict

from .graph_group import OpGroups, drawn_ops
from .graph_walk import GraphWalk


class TensorNode:
    """One tensor box: its key, kind ("loss", "param", "input", "value", "truncated"), the
    tensors it stands for (``members``) and ``uses``, the number of gradient-carrying
    uses (edges into ops) once per step."""

    def __init__(self, key, kind: str):
        self.key, self.kind, self.members = key, kind, []
        self.uses = 0


class OpNode:
    """One op ellipse: its key, ``name``, ``function`` (the Function class, whose
    docstring and ``composed`` attribute the picture shows), the op records it stands for
    (``members``) and ``cluster``, the scope path of the box it sits in."""

    def __init__(self, key, name: str, function: type, cluster: tuple):
        self.key, self.name, self.function, self.members = key, name, function, []
        self.cluster = cluster


class GraphNodes:
    """The nodes and edges of one drawing of ``root``'s graph.

    Parameters: the walk of the graph, ``names`` {id(tensor): name}, the ``model`` (or
    None), ``backward`` (collect the backward edges), ``max_nodes`` / ``max_depth`` (the
    level of detail), ``group_modules`` (cluster paths, or every node at the top) and
    ``collapse_steps``.

    Attributes: ``op_nodes`` {key: OpNode}, ``tensor_nodes`` {key: TensorNode},
    ``order_of`` {key: drawing order}, ``edges`` {(src key, dst key, style): count} with
    style "fwd", "rec" or "bwd", and ``groups`` (the :class:`OpGroups`).
    """

    def __init__(self, walk: GraphWalk, names: dict, model, *, backward: bool,
                 max_nodes, max_depth, group_modules: bool, collapse_steps: bool):
        self.walk, self.names, self.backward = walk, names, backward
        self.root = walk.tensors[0]
        self.group_modules = group_modules
        ops = drawn_ops(walk, max_nodes, max_depth)
        self.drawn = {id(fn) for fn in ops}
        self.groups = OpGroups(ops, collapse_steps, model)
        self.op_nodes, self.tensor_nodes, self.order_of = {}, {}, {}
        self.edges = defaultdict(int)
        for t in walk.tensors:
            if t.grad_fn is not None and id(t.grad_fn) in self.drawn:
                self._add_op(t)
        for node in self.tensor_nodes.values():   # a collapsed tensor: each use once per step
            if len(node.members) > 1:
                node.uses = -(-node.uses // len(node.members))

    def _tensor_key(self, t, consumer, slot):
        """(key, kind) of the box that shows tensor ``t`` (an input of op ``consumer`` at
        ``slot``, or the output of its op when ``consumer`` is None)."""
        if t.grad_fn is not None and id(t.grad_fn) in self.drawn:
            return ("out",) + self.groups.key[id(t.grad_fn)], "value"
        if t.grad_fn is not None:
            return ("cut", id(t)), "truncated"
        if not t.requires_grad and consumer is not None and consumer[0] == "step" \
                and id(t) not in self.names and not t.name:
            return ("const", consumer, slot), "input"   # a constant made in each step
        return ("leaf", id(t)), ("param" if t.requires_grad else "input")

    def tensor_node(self, t, consumer=None, slot=None) -> TensorNode:
        """The box of tensor ``t`` (made on first sight), with ``t`` among its members."""
        key, kind = self._tensor_key(t, consumer, slot)
        if t is self.root:
            kind = "loss"
        node = self.tensor_nodes.get(key)
        if node is None:
            node = self.tensor_nodes[key] = TensorNode(key, kind)
            self.order_of.setdefault(key, len(self.order_of))
        if all(m is not t for m in node.members):
            node.members.append(t)
        return node

    def _op_node(self, fn) -> OpNode:
        okey = self.groups.key[id(fn)]
        op = self.op_nodes.get(okey)
        if op is None:
            cluster = self.groups.generic(getattr(fn, "scope", ())) if self.group_modules \
                else ()
            op = self.op_nodes[okey] = OpNode(okey, fn.name, type(fn), cluster)
            self.order_of.setdefault(okey, len(self.order_of))
        op.members.append(fn)
        return op

    def _add_op(self, t) -> None:
        """The op that made ``t``: its node, its output's box and edge, and an edge from
        each input (recurrent when it carries a state between steps, and a backward edge
        when the input receives a gradient and the op's backward ran)."""
        fn, edges = t.grad_fn, self.edges
        okey = self._op_node(fn).key
        edges[(okey, self.tensor_node(t).key, "fwd")] += 1
        for slot, inp in enumerate(fn.inputs):
            inp = self.walk.canonical(inp)
            src = self.tensor_node(inp, okey, slot)
            if inp.requires_grad:
                src.uses += 1
            style = "rec" if self.groups.carries_state(fn, inp) else "fwd"
            edges[(src.key, okey, style)] += 1
            if self.backward and inp.requires_grad and hasattr(fn, "backward_order"):
                edges[(okey, src.key, "bwd")] += 1

    def node_ids(self) -> dict:
        """{key: DOT node name}: ``n0``, ``n1``, ... in drawing order (never from ``id()``,
        so the same model gives the same DOT source)."""
        keys = sorted(list(self.op_nodes) + list(self.tensor_nodes), key=self.order_of.__getitem__)
        return {key: f"n{i}" for i, key in enumerate(keys)}


__all__ = ["GraphNodes", "OpNode", "TensorNode"]
