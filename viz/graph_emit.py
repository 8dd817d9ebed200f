"""The DOT text of a computation-graph picture: a ``graphviz.Digraph`` made from the
nodes, edges and boxes of :class:`viz.graph_build.GraphNodes`, with the colours, shapes and
edge styles the picture's legend (the :mod:`viz.graph` docstring) describes.

Everything is emitted in drawing order (the order of the walk from the root), so the same
graph gives byte-identical DOT source.
"""
from __future__ import annotations

import graphviz

from . import graph_text as text
from .graph_build import GraphNodes
from .graph_group import ANY_STEP, cluster_children, cluster_tree, step_group

COLORS = {"loss": "#f4a582", "param": "#92c5de", "input": "#e0e0e0", "value": "#ffffff",
          "op": "#fff2cc", "backward": "#b2182b", "accumulate": "#e66101",
          "recurrent": "#2166ac", "truncated": "#f0f0f0"}


def new_digraph(rankdir: str, title: str | None) -> "graphviz.Digraph":
    """An empty picture: layout direction ``rankdir``, Helvetica, and ``title`` (drawn
    literally) at the top when given."""
    graph_attr = {"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11",
                  "newrank": "true"}
    if title:
        graph_attr.update(label=text.label([title]), labelloc="t", fontsize="14")
    return graphviz.Digraph("computation_graph", graph_attr=graph_attr,
                            node_attr={"fontname": "Helvetica", "fontsize": "10"},
                            edge_attr={"fontname": "Helvetica", "fontsize": "9"})


class Emitter:
    """Writes one :class:`GraphNodes` into a Digraph.

    ``model`` names the module boxes (``model.named_modules()``) and places parameters in
    the box of their layer; ``show_values`` and ``backward`` are :func:`viz.draw_graph`'s.
    """

    def __init__(self, nodes: GraphNodes, model, show_values: int, backward: bool):
        self.nodes, self.model = nodes, model
        self.show_values, self.backward = show_values, backward
        self.module_names = {} if model is None else {
            id(m): n for n, m in model.named_modules()}
        self.ids = nodes.node_ids()

    def emit(self, dot: "graphviz.Digraph") -> None:
        """Every box, node and edge, into ``dot``."""
        nodes = self.nodes
        tree, first = cluster_tree(self.model, nodes.op_nodes, nodes.tensor_nodes,
                                   nodes.order_of)
        self.emit_cluster(dot, (), tree, first, cluster_children(first))
        order_of = nodes.order_of
        for (src, dst, style), count in sorted(
                nodes.edges.items(), key=lambda kv: (order_of[kv[0][0]], order_of[kv[0][1]],
                                                     kv[0][2])):
            dot.edge(self.ids[src], self.ids[dst], **self.edge_attrs(src, dst, style, count))

    def emit_cluster(self, g, path, tree, first, children) -> None:
        """The nodes directly in box ``path``, then each sub-box (a graphviz cluster named
        by its drawing order and depth) with its own nodes, recursively (as deep as the
        scopes nest)."""
        for key in tree.get(path, []):
            self.emit_node(g, key)
        for child in children[path]:
            with g.subgraph(name=f"cluster_{first[child]}_{len(child)}") as sub:
                lab = child[-1]
                if lab is ANY_STEP:
                    n = len(self.nodes.groups.steps_seen.get(child, ())) or 1
                    sub.attr(label=text.steps_box_label(n), style="rounded,dashed",
                             color=COLORS["recurrent"])
                else:
                    sub.attr(label=text.label([text.scope_label(lab, self.module_names)]),
                             style="rounded", color="#999999")
                self.emit_cluster(sub, child, tree, first, children)

    def emit_node(self, g, key) -> None:
        """An op ellipse (label, tooltip) or a tensor box (coloured by kind; outlined in
        orange when its gradient is summed over several uses)."""
        nodes = self.nodes
        if key in nodes.op_nodes:
            op = nodes.op_nodes[key]
            g.node(self.ids[key], text.op_label(op, self.backward), shape="ellipse",
                   style="filled", fillcolor=COLORS["op"], tooltip=text.op_tooltip(op))
            return
        node = nodes.tensor_nodes[key]
        attrs = dict(shape="box", style="rounded,filled", fillcolor=COLORS[node.kind])
        if node.kind == "loss":
            attrs.update(penwidth="2")
        if node.uses > 1 and self.backward:
            attrs.update(color=COLORS["accumulate"], penwidth="2")
        label = text.tensor_label(node, nodes.names, self.show_values, self.backward)
        g.node(self.ids[key], label, **attrs)

    def edge_attrs(self, src, dst, style: str, count: int) -> dict:
        """An edge's look: backward (red, dashed, numbered by backward step), recurrent
        (blue, "to step t+1"), or forward (orange into a summed gradient; "xk" when it
        stands for k edges, except inside a collapsed step whose box says so)."""
        if style == "bwd":
            return dict(color=COLORS["backward"], style="dashed", fontcolor=COLORS["backward"],
                        constraint="false", arrowsize="0.6",
                        label=text.backward_steps(self.nodes.op_nodes[src]))
        if style == "rec":
            return dict(color=COLORS["recurrent"], fontcolor=COLORS["recurrent"],
                        penwidth="1.5", label="to step t+1", constraint="false")
        attrs = {}
        node = self.nodes.tensor_nodes.get(src)
        if node is not None and node.uses > 1 and self.backward:
            attrs = dict(color=COLORS["accumulate"], penwidth="1.5")
        if count > 1 and (step_group(src) is None or step_group(src) != step_group(dst)):
            attrs["label"] = f"x{count}"
        return attrs


__all__ = ["COLORS", "Emitter", "new_digraph"]
