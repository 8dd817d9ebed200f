"""Numerical gradient checking: analytic gradients against central differences."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message gives the worst element."""


def _check_tolerances(eps, atol, rtol) -> None:
    """ValueError unless eps is a finite number > 0 and atol, rtol finite numbers >= 0."""
    for name, value, positive in (("eps", eps, True), ("atol", atol, False),
                                  ("rtol", rtol, False)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise ValueError(f"gradcheck: {name} must be a finite number "
                             f"{'> 0' if positive else '>= 0'}, got {value!r} (fix: the "
                             f"defaults eps=1e-6, atol=1e-5, rtol=1e-3 suit float64)")


def _central_differences(loss_value, t: Tensor, eps: float) -> np.ndarray:
    """(L(x + eps) - L(x - eps)) / (2 eps) for each element of ``t`` (perturbed in place
    through a flat view of its contiguous data, then restored); an array of t's shape."""
    numeric = np.zeros_like(t.data)
    flat = t.data.reshape(-1)  # a view: perturb in place
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = loss_value()
        flat[i] = old - eps
        down = loss_value()
        flat[i] = old
        numeric.reshape(-1)[i] = (up - down) / (2 * eps)
    return numeric


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check ``fn``'s backward against float64 central differences.

    Parameters
    ----------
    fn : callable(*Tensor) -> Tensor
        Any function of the inputs built from engine ops; its output may have any shape
        (it is reduced with a fixed random weighting, ``L = sum(w * fn(...))``, so every
        output element's gradient path is exercised).
    inputs : sequence of Tensor or ndarray
        A float64 Tensor that requires grad (e.g. a model's parameter cast to float64)
        is used as it is, so ``fn`` may ignore its arguments and read it from a model;
        other float inputs are converted to float64 Tensors requiring grad; integer
        inputs are passed through as constants.
    eps, atol, rtol : float
        Step of the central difference ``(L(x + eps) - L(x - eps)) / (2 eps)`` and the
        tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    True when every element agrees.

    Raises
    ------
    GradcheckError
        Naming the input, the index of the worst element, the analytic and numeric values.
    ValueError
        ``eps`` is not > 0 (a zero step divides by zero, a negative one flips nothing but
        hides a typo) or ``atol``/``rtol`` are negative; any of them NaN or infinite.
    TypeError
        ``fn`` does not return a Tensor.
    """
    _check_tolerances(eps, atol, rtol)
    tensors = [_as_input(x) for x in inputs]
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__} (fix: "
                        f"build the result from the input Tensors with engine ops)")
    w = np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)

    def loss_value():
        return float((fn(*tensors).data.astype(np.float64) * w).sum())

    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any float input")
    (out * Tensor(w)).sum().backward()
    for k, t in enumerate(tensors):
        if t.requires_grad:
            analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
            _compare(k, t, analytic, _central_differences(loss_value, t, eps), atol, rtol)
    return True


def _as_input(x) -> Tensor:
    """An input of ``gradcheck``: a float64 Tensor requiring grad as it is (its data made
    contiguous, to be perturbed in place), other floats as new float64 Tensors requiring
    grad, anything else (integers) as a constant Tensor."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if isinstance(x, Tensor) and x.requires_grad and arr.dtype == np.float64:
        x.grad = None
        x.data = np.ascontiguousarray(x.data)   # perturbed in place through a flat view
        return x
    if arr.dtype.kind == "f":
        return Tensor(arr.astype(np.float64), requires_grad=True)
    return Tensor(arr)


def _compare(k: int, t: Tensor, analytic, numeric, atol: float, rtol: float) -> None:
    """GradcheckError naming input ``k``'s worst element unless every element satisfies
    ``|analytic - numeric| <= atol + rtol * |numeric|`` (a NaN on either side fails)."""
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    err = np.where(np.isnan(err), np.inf, err)
    if err.size and err.max() > 0:
        j = np.unravel_index(int(np.argmax(err)), err.shape)
        raise GradcheckError(
            f"gradcheck: input {k} (shape {t.shape}) element {tuple(int(i) for i in j)}: "
            f"analytic {analytic[j]!r} vs numeric {numeric[j]!r} "
            f"(atol={atol}, rtol={rtol})")
