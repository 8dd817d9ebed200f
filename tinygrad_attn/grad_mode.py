"""Grad mode and scopes: the per-thread switches the engine reads while it records.

PyTorch keeps these in ``torch/autograd/grad_mode.py``; here they are:

- :class:`no_grad` / :class:`enable_grad` / :class:`set_grad_enabled` and
  :func:`is_grad_enabled`: whether ``Function.apply`` records a node (PyTorch's names and
  semantics; the mode belongs to the thread that sets it);
- :class:`scope`: labels every node recorded inside a block (for pictures of the graph);
- the anomaly flags that :mod:`tinygrad_attn.anomaly` sets.
"""
from __future__ import annotations

import functools
import threading


class _ThreadState(threading.local):
    """Per-thread recording state (as PyTorch's grad mode is per thread), so threads that
    decode under ``no_grad()`` beside each other do not switch each other's mode."""
    grad_enabled = True
    scope: tuple = ()       # the labels of the enclosing ``scope`` blocks, outermost first
    anomaly = False         # inside ``detect_anomaly()`` (tinygrad_attn.anomaly)
    anomaly_check_nan = True


_state = _ThreadState()
# How many ``detect_anomaly()`` blocks are open in any thread: a plain global, so the hot path
# outside anomaly mode costs one global load (the per-thread flag is read only when it is > 0).
anomaly_users = 0


class set_grad_enabled:
    """Context manager (and decorator) that sets grad mode to ``mode`` inside the block
    (PyTorch's ``torch.set_grad_enabled``). The mode belongs to the calling thread.

    Parameters
    ----------
    mode : bool
        True: ops on tensors that require grad record nodes; False: nothing is recorded.
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = _state.grad_enabled
        _state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """Context manager and decorator that records no graph (PyTorch's ``torch.no_grad``).

    Inside it every result has ``requires_grad=False`` and no node, so nothing is kept
    for a backward pass. Used for evaluation and decoding. The mode belongs to the thread
    that enters it (as in PyTorch): threads that decode side by side (``models.train.
    predict``) never switch it for each other or for the main thread.

    Examples
    --------
    >>> from tinygrad_attn import Tensor, no_grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = (w * 3).sum()
    >>> y.requires_grad
    False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator that records again inside a ``no_grad()`` block
    (PyTorch's ``torch.enable_grad``)."""

    def __init__(self):
        super().__init__(True)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (in this thread)."""
    return _state.grad_enabled


class scope:
    """Context manager that labels every node recorded inside it (for pictures of the graph).

    Each recorded ``Function`` keeps ``fn.scope``, the tuple of labels of the ``scope``
    blocks around its creation, outermost first. The engine uses two kinds of label:
    a ``Module`` (``Module.__call__`` opens a scope for itself, so a node knows which layer
    made it) and an ``int``, a time step (the unrolled recurrent layers and the decoders
    open ``scope(t)`` around step ``t``). Any other hashable label (a string, say) is
    allowed too. Labels change nothing in the math; ``viz.draw_graph`` groups and collapses
    nodes by them. Costs one tuple per block; inside ``no_grad()`` nothing is recorded, so
    nothing is labelled.

    Examples
    --------
    >>> from tinygrad_attn import Tensor, scope
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with scope("neuron"):
    ...     y = x * 2
    >>> y.grad_fn.scope
    ('neuron',)
    """

    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self._outer = _state.scope
        _state.scope = self._outer + (self.label,)
        return self

    def __exit__(self, *exc):
        _state.scope = self._outer
        return False
