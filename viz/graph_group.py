"""What a computation-graph picture draws, and in which boxes: the level of detail
(``max_depth`` / ``max_nodes`` keep the ops nearest the root), collapsed recurrences (the
k-th op of every step of one recurrence drawn as one op) and the cluster tree (one box per
module and per time step, from the scopes the engine records on each op).

A scope path is the tuple of labels of the ``scope(...)`` blocks an op was made in:
modules (``Module.__call__`` opens ``scope(self)``), step numbers (``scope(t)`` for int
``t``) and any other label a user opened.
"""
from __future__ import annotations

from collections import defaultdict

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

from .graph_walk import GraphWalk, check_limit, check_root, is_step


class _AnyStep:
    """The scope label of "every step of a recurrence" in a collapsed picture: an object of
    its own, so that no user's scope label (a string "*", say) can be taken for it."""

    def __repr__(self) -> str:
        return "ANY_STEP"


ANY_STEP = _AnyStep()


def generic_path(path, model, collapse_steps: bool) -> tuple:
    """A node's scope path without the model itself (the model is the whole picture), with
    every step number replaced by ``ANY_STEP`` when collapsing."""
    path = tuple(path)
    if model is not None and path and path[0] is model:
        path = path[1:]
    if collapse_steps:
        path = tuple(ANY_STEP if is_step(lab) else lab for lab in path)
    return path


def drawn_ops(walk: GraphWalk, max_nodes: int | None, max_depth: int | None) -> list:
    """The ops to draw, nearest the root first: those less than ``max_depth`` ops away
    from the root, then the first ``max_nodes`` of them (None: no limit)."""
    ops = [t.grad_fn for t in walk.tensors if t.grad_fn is not None
           and (max_depth is None or walk.depth[id(t)] < max_depth)]
    return ops if max_nodes is None else ops[:max_nodes]


class OpGroups:
    """The identity of each drawn op in the picture.

    Without collapsing every op is its own node, keyed ``("op", id(fn))``. With
    ``collapse_steps`` the ops made inside a step (the innermost ``scope(t)`` of their
    path) are grouped by step instance, and the k-th op (in creation order) of every step
    of one recurrence shares the key ``("step", generic path, k, name)``.

    Attributes: ``key`` {id(fn): key}; ``step_of`` {id(fn): its step instance (the scope
    path up to its innermost step label)}; ``steps_seen`` {generic path: step instances},
    which gives the step count of each collapsed recurrence.
    """

    def __init__(self, ops, collapse_steps: bool, model: Module | None = None):
        self.model, self.collapse_steps = model, collapse_steps
        self.key, self.step_of, self.steps_seen = {}, {}, defaultdict(set)
        if collapse_steps:
            self._group_steps(ops)
        for fn in ops:
            self.key.setdefault(id(fn), ("op", id(fn)))

    def generic(self, path) -> tuple:
        """:func:`generic_path` of ``path`` for this picture's model and collapsing."""
        return generic_path(path, self.model, self.collapse_steps)

    def _group_steps(self, ops) -> None:
        by_instance = defaultdict(list)
        for fn in ops:
            path = getattr(fn, "scope", ())
            cut = max((i for i, lab in enumerate(path) if is_step(lab)), default=None)
            if cut is not None:
                by_instance[path[:cut + 1]].append(fn)
        for inst, fns in by_instance.items():
            fns.sort(key=lambda f: getattr(f, "created", 0))
            path = self.generic(inst)
            self.steps_seen[path].add(inst)
            for k, fn in enumerate(fns):
                self.key[id(fn)] = ("step", path, k, fn.name)
                self.step_of[id(fn)] = inst

    def carries_state(self, fn, inp) -> bool:
        """True if the edge from ``inp`` into op ``fn`` carries a state from one step of a
        collapsed recurrence to the next (drawn as "to step t+1")."""
        src, step_of = inp.grad_fn, self.step_of
        return (src is not None and id(src) in step_of and id(fn) in step_of
                and step_of[id(src)] != step_of[id(fn)]
                and self.key[id(src)][1] == self.key[id(fn)][1])


def count_ops(root: Tensor, *, collapse_steps: bool = False, max_nodes: int | None = None,
              max_depth: int | None = None) -> int:
    """How many op nodes (ellipses) :func:`viz.draw_graph` draws for ``root`` with the
    same ``collapse_steps``, ``max_nodes`` and ``max_depth`` (None: no limit). Cheap: no
    DOT text is made. Raises TypeError if ``root`` is not a Tensor, TypeError /
    ValueError for a limit that is not None or an int >= 1."""
    check_root(root, "count_ops")
    check_limit("max_nodes", max_nodes, "count_ops")
    check_limit("max_depth", max_depth, "count_ops")
    groups = OpGroups(drawn_ops(GraphWalk(root), max_nodes, max_depth), collapse_steps)
    return len(set(groups.key.values()))


def step_group(key):
    """The collapsed recurrence a node key belongs to (its generic scope path), or None."""
    if key[0] in ("out", "const"):
        key = key[1:] if key[0] == "out" else key[1]
    return key[1] if key[0] == "step" else None


# -- clusters ----------------------------------------------------------------------------------
def _param_owners(model) -> dict:
    """{id(parameter): the module that owns it} for the parameters of ``model`` (None: {})."""
    if model is None:
        return {}
    mods, owner = dict(model.named_modules()), {}
    for pname, p in model.named_parameters():
        prefix = pname.rsplit(".", 1)[0] if "." in pname else ""
        if prefix and prefix in mods:
            owner[id(p)] = mods[prefix]
    return owner


def _module_paths(paths) -> dict:
    """{id(module): the first cluster path (of ``paths``) that ends in that module}."""
    module_path = {}
    for path in paths:
        for i, lab in enumerate(path):
            if isinstance(lab, Module):
                module_path.setdefault(id(lab), path[:i + 1])
    return module_path


def cluster_tree(model, op_nodes: dict, tensor_nodes: dict, order_of: dict):
    """The boxes of a picture and what sits directly in each.

    An op sits in the box of its cluster path; a tensor made by an op (or a constant made
    in a step) in that op's box; a parameter in the box of the layer owning it (by
    ``model.named_parameters()``); any other tensor at the top. Returns (tree, first):
    tree {path: node keys directly in it, in drawing order}, first {path: the first
    drawing order of its subtree} (every prefix of a path is a box too).
    """
    owner = _param_owners(model)
    tree = defaultdict(list)
    for key in sorted(op_nodes, key=order_of.__getitem__):
        tree[op_nodes[key].cluster].append(key)
    module_path = _module_paths(list(tree))
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
    first = {}
    for path, keys in tree.items():
        for i in range(len(path) + 1):
            sub = path[:i]
            first[sub] = min(first.get(sub, len(order_of)), *(order_of[k] for k in keys))
    return tree, first


def cluster_children(first: dict) -> dict:
    """{path: its sub-boxes}, each list in drawing order (``first`` of
    :func:`cluster_tree`)."""
    children = defaultdict(list)
    for path in sorted(first, key=lambda p: (len(p), first[p])):
        if path:
            children[path[:-1]].append(path)
    return children


__all__ = ["ANY_STEP", "OpGroups", "cluster_children", "cluster_tree", "count_ops",
           "drawn_ops", "generic_path", "step_group"]
