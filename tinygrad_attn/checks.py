"""The checks of the engine core (:mod:`tinygrad_attn.autograd`), one named helper each,
so that the core's loop reads as the chain rule: the arguments of ``grad()``, the seed
gradient of ``backward()``, saved values that were freed or went stale, and the dtype of a
gradient. Each error is one line naming the fix."""
from __future__ import annotations

import numpy as np


def grad_arguments(outputs, inputs, grad_outputs) -> None:
    """RuntimeError unless ``grad_outputs`` has one entry per output and every input
    requires grad (``autograd.grad``)."""
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs "
                           f"(fix: pass one per output, None for a scalar output)")
    for k, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {k} (shape {t.shape}) does not require grad, so "
                               f"it has no gradient (fix: create it with requires_grad=True)")


def as_gradient(ig, inp, as_tensor: bool):
    """A rule's result for ``inp`` as a gradient of ``inp``'s dtype: an ndarray, or a Tensor
    (recorded when it is one already) with ``as_tensor``."""
    if not as_tensor:
        return np.asarray(ig, dtype=inp.dtype)
    if not isinstance(ig, Tensor):
        return Tensor(np.asarray(ig, dtype=inp.dtype))
    return dual.astype(ig, inp.dtype)


def saved_values(fn, out) -> None:
    """RuntimeError when ``fn``'s rule would read freed values (an earlier backward released
    the graph) or stale ones (an input's or the output's ``.data`` was assigned since)."""
    if getattr(fn, "released", False):
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time (node {fn.name}); "
            f"its saved values were freed after the first backward (fix: call "
            f"backward(retain_graph=True) the first time)")
    stale = [(f"input {i}", t) for i, (t, v) in enumerate(zip(fn.inputs, fn.input_versions))
             if t._version != v] + ([("the output", out)] if out._version else [])
    if stale:
        raise RuntimeError(
            f"backward: {stale[0][0]} of {fn.name} (shape {stale[0][1].shape}) was modified "
            f"after the forward pass (its .data was assigned, e.g. by optimizer.step() or "
            f"load_state_dict), so its saved value is stale and the gradient would be wrong "
            f"(fix: compute the forward pass again after the update)")


def seed_gradient(self, gradient, create_graph: bool = False):
    """``dL/dself`` for the backward of the Tensor ``self``: ones for a one-element tensor
    when ``gradient`` is None, else ``gradient`` as an array of self's dtype and shape (a
    Tensor with ``create_graph``; a Tensor ``gradient`` that requires grad is kept as it is).
    Raises RuntimeError (no graph, a non-scalar without gradient, a gradient of another
    shape) and TypeError (a gradient that is not numbers), each naming the fix."""
    if not self.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph (fix: create "
            "the leaves with requires_grad=True and do not compute inside no_grad())")
    if gradient is None:
        if self.data.size != 1:
            raise RuntimeError(
                f"backward: the tensor has shape {self.shape}, not a scalar, so the "
                f"gradient is ambiguous (fix: reduce it first, e.g. loss.sum() or "
                f"loss.mean(), or pass gradient= of shape {self.shape})")
        return Tensor(np.ones_like(self.data)) if create_graph else np.ones_like(self.data)
    if create_graph and isinstance(gradient, Tensor) and gradient.requires_grad:
        if gradient.shape != self.shape:
            raise RuntimeError(f"backward: gradient has shape {gradient.shape} but the "
                               f"tensor has shape {self.shape} (fix: pass a gradient of the "
                               f"tensor's shape)")
        return gradient
    try:
        arr = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient)
    except ValueError:                     # ragged lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":       # None, strings: numpy would make NaN of None
        raise TypeError(f"backward: gradient must be numbers of the tensor's shape "
                        f"{self.shape}, got {_describe(gradient)} (fix: pass an array "
                        f"like np.ones({self.shape}))")
    if arr.shape != self.shape:
        raise RuntimeError(
            f"backward: gradient has shape {arr.shape} but the tensor has shape "
            f"{self.shape} (fix: pass a gradient of the tensor's shape)")
    arr = arr.astype(self.data.dtype, copy=False)
    return Tensor(arr) if create_graph else arr


from .tensor import Tensor, _describe  # noqa: E402  (tensor imports autograd, which imports this)
from . import dual  # noqa: E402  (loaded with tensor's ops)
