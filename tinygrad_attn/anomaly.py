"""Anomaly detection: find the op that first made a NaN or an infinity (PyTorch's
``torch.autograd.detect_anomaly`` idea).

Inside ``with detect_anomaly():`` every op's forward output and every node's input
gradients in ``backward()`` are checked. The first op whose forward turns finite inputs
into NaN/inf, or whose backward turns a finite incoming gradient into a NaN/inf gradient,
raises :class:`AnomalyError`, a one-line message naming the op, the pass (forward or
backward) and the line of user code that created the op (``file:line in function:
source``). The line is looked up only while the mode is on (the first stack frame outside
this package), so outside the block the engine does nothing but test one per-thread flag
per op. The mode belongs to the thread that enters it, as ``no_grad`` does.

What counts as "finite inputs": every float input array is finite and no float keyword
argument (a ``masked_fill`` value, a ``clamp`` bound) is NaN or infinite. So an op fed a
NaN is not blamed for passing it on, and ``masked_fill(mask, -inf)`` is not an anomaly;
the op that made the first NaN is.
"""
from __future__ import annotations

import functools
import linecache
import math
import os
import sys
import threading

import numpy as np

from . import grad_mode as _grad_mode
from .grad_mode import _state

_users_lock = threading.Lock()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# What usually fixes a NaN/inf out of each op (the default for the others is generic).
_HINTS = {
    "Log": "keep the input > 0, e.g. x.clamp(min=1e-12).log(), or use log_softmax",
    "Sqrt": "keep the input away from 0, e.g. (x + 1e-12).sqrt()",
    "Div": "keep the denominator away from 0, e.g. a / (b + 1e-12)",
    "Pow": "keep the base > 0 for negative or fractional exponents",
    "Exp": "the input is too large: work in log space (logsumexp, log_softmax) or scale it",
    "MatMul": "the operands are too large: lower the learning rate or clip gradients",
}
_DEFAULT_HINT = "lower the learning rate, clip gradients, or keep the op's input in its domain"


class AnomalyError(FloatingPointError):
    """An op made NaN or inf from finite values inside :class:`detect_anomaly`; the message
    names the op, forward or backward, and the user line that created the op."""


class detect_anomaly:
    """Context manager and decorator: raise at the first op that makes a NaN or inf
    (PyTorch's ``torch.autograd.detect_anomaly``).

    Parameters
    ----------
    check_nan : bool
        True (default): check every op's forward output and every backward input gradient
        and raise :class:`AnomalyError` at the first non-finite one made from finite values.
        False: only record where each op was created (no checks), as PyTorch's flag does.

    Costs a ``np.isfinite`` pass over every op's output and gradient and a stack walk per
    op while on: use it to debug a NaN loss, not to train. Per thread (as ``no_grad``).

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_attn import Tensor, detect_anomaly, AnomalyError
    >>> x = Tensor(np.array([1.0, 0.0]), requires_grad=True)
    >>> with detect_anomaly():
    ...     try:
    ...         x.log()
    ...     except AnomalyError as e:
    ...         print(str(e).split(" (")[0])
    detect_anomaly: Log forward produced -inf from finite inputs
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self._prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = True, self.check_nan
        with _users_lock:           # lets the engine skip the per-thread flag when 0
            _grad_mode.anomaly_users += 1
        return self

    def __exit__(self, *exc):
        _state.anomaly, _state.anomaly_check_nan = self._prev
        with _users_lock:
            _grad_mode.anomaly_users -= 1
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` (in this thread)."""
    return _state.anomaly


def _user_frame() -> tuple | None:
    """(file, line, function) of the innermost stack frame outside this package: the user
    (or ``models``) code that called into the engine. None if there is none."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name


def _where(trace) -> str:
    """'path:line in function: `source`' for a recorded frame, path relative to the working
    directory when it is inside it."""
    if trace is None:
        return ("an unknown place (the node was created outside detect_anomaly(): run the "
                "forward pass inside the block too to get its line)")
    path, line, func = trace
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:          # another drive on Windows
        pass
    source = linecache.getline(trace[0], line).strip()
    return f"{path}:{line} in {func}" + (f": `{source}`" if source else "")


def _non_finite(a) -> tuple:
    """(count, first index, first value) of the NaN/inf elements of a float array, or None
    when every element is finite (or the array is not float)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
    return int(bad.sum()), first, a[first]


def _finite_inputs(arrays, kwargs) -> bool:
    """Whether every float array and every float keyword argument of an op is finite."""
    for v in kwargs.values():
        if isinstance(v, (float, np.floating)) and not math.isfinite(v):
            return False
    return all(_non_finite(a) is None for a in arrays)


def _raise(fn, direction: str, what: str, array, found: tuple, trace) -> None:
    """Raise the one-line AnomalyError for ``found`` (see ``_non_finite``) in ``array``."""
    count, first, value = found
    where = f", first at index {first}" if first else ""
    raise AnomalyError(
        f"detect_anomaly: {fn.name} {direction} produced {value} {what} ({count} of "
        f"{np.size(array)} values{where}); the op was created at {_where(trace)} (fix: "
        f"{_HINTS.get(fn.name, _DEFAULT_HINT)})")


def forward_hook(fn, tensors, kwargs, out, recorded: bool) -> None:
    """Called by ``Function.apply`` after an op's forward while the mode is on: remember
    where the op was created (when it is recorded) and check its output.

    Raises AnomalyError when ``out`` has a NaN/inf and every input is finite.
    """
    trace = _user_frame()
    if recorded:
        fn.anomaly_trace = trace
    if not _state.anomaly_check_nan:
        return
    found = _non_finite(out)
    if found is not None and _finite_inputs([t.data for t in tensors], kwargs):
        _raise(fn, "forward", "from finite inputs", out, found, trace)


def backward_hook(fn, grad, in_grads) -> None:
    """Called by ``autograd.backward`` after a node's backward while the mode is on.

    Raises AnomalyError when the incoming gradient ``grad`` is finite and one of the
    gradients ``in_grads`` (one per input) has a NaN/inf.
    """
    if not _state.anomaly_check_nan or _non_finite(grad) is not None:
        return
    for k, ig in enumerate(in_grads):
        found = None if ig is None else _non_finite(ig)
        if found is not None:
            _raise(fn, "backward", f"in the gradient of input {k} (shape {np.shape(ig)}) "
                   f"from a finite incoming gradient", ig, found,
                   getattr(fn, "anomaly_trace", None))
