"""Which tensors and ops a computation graph holds: the walk from a root tensor back
through the nodes that ``Function.apply`` recorded, and the step labels of their scopes.

The walk is breadth first with an explicit queue (never recursion), so a 2,000-step
unrolled RNN is fine. After ``backward()`` a tensor may be seen through several released
records of one op; the walk keeps one representative per op, a live Tensor when there is
one, since only it still holds values and a gradient.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from tinygrad_attn import Tensor


def check_root(root, what: str) -> None:
    """Raise TypeError (naming ``what`` and the fix) if ``root`` is not a Tensor."""
    if not isinstance(root, Tensor):
        raise TypeError(f"{what}: root must be a Tensor, got {type(root).__name__} "
                        f"(fix: pass the loss tensor, e.g. {what}(loss))")


def check_limit(arg: str, v, what: str) -> None:
    """``max_nodes`` / ``max_depth`` of function ``what``: None or an int >= 1. Raises
    TypeError for a bool, float (NaN included), str or other type, ValueError below 1."""
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: {arg} must be an int >= 1 or None (no limit), got "
                        f"{type(v).__name__} {v!r:.40} (fix: e.g. {arg}=100)")
    if v < 1:
        raise ValueError(f"{what}: {arg} must be >= 1 (or None for no limit), got {v} "
                         f"(fix: e.g. {arg}=100, or leave it out to draw everything)")


def is_step(label) -> bool:
    """True for a scope label that numbers a time step: an int (numpy ints too), not a
    bool. ``scope(t)`` with such a label marks the nodes of step t of a recurrence."""
    return isinstance(label, (int, np.integer)) and not isinstance(label, bool)


def _ident(t):
    """A tensor's identity in the graph: the op that made it, or the leaf itself."""
    return id(t.grad_fn) if t.grad_fn is not None else id(t)


class GraphWalk:
    """Every tensor reachable from ``root``, breadth first from the root (each op's inputs
    in order), with the depth of each (ops between it and the root).

    Attributes
    ----------
    tensors : list
        One representative per tensor of the graph (a Tensor, or a released record of one
        when no live Tensor was seen), the root first.
    depth : dict {id(representative): int}
        0 for the root, 1 for the inputs of its op, and so on (the shortest distance).
    """

    def __init__(self, root: Tensor):
        key = _ident(root)
        self._rep, depth, order = {key: root}, {key: 0}, [key]
        queue = deque([root])
        while queue:
            t = queue.popleft()
            if t.grad_fn is None:
                continue
            for inp in t.grad_fn.inputs:
                k = _ident(inp)
                if k not in depth:
                    depth[k] = depth[_ident(t)] + 1
                    self._rep[k] = inp
                    order.append(k)
                    queue.append(inp)
                elif isinstance(inp, Tensor) and not isinstance(self._rep[k], Tensor):
                    self._rep[k] = inp
        self.tensors = [self._rep[k] for k in order]
        self.depth = {id(self._rep[k]): d for k, d in depth.items()}

    def canonical(self, t):
        """The representative of ``t`` (any record of a tensor of this graph)."""
        return self._rep[_ident(t)]

    def ops(self) -> list:
        """The op of every tensor made by one, in walk order (nearest the root first)."""
        return [t.grad_fn for t in self.tensors if t.grad_fn is not None]


def retain_grads(root: Tensor) -> int:
    """Ask every intermediate tensor of ``root``'s graph to keep its ``.grad`` (and so its
    value) through the next ``backward()``, so that :func:`viz.draw_graph` can show them
    all.

    Call it after the forward pass and before ``backward()``. Memory: every intermediate
    result and gradient of that graph stays alive while the graph does.
    Returns the number of tensors marked. Raises TypeError if ``root`` is not a Tensor.
    """
    check_root(root, "retain_grads")
    marked = 0
    for t in GraphWalk(root).tensors:
        if isinstance(t, Tensor) and t.grad_fn is not None and t.requires_grad:
            t.retain_grad()
            marked += 1
    return marked


__all__ = ["GraphWalk", "check_limit", "check_root", "is_step", "retain_grads"]
