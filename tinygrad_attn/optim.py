"""Optimizers (PyTorch's ``torch.optim`` names and update rules): ``SGD`` and ``Adam``,
and the learning-rate schedule ``CosineAnnealingLR`` (also as ``optim.lr_scheduler``)."""
from __future__ import annotations

import math
import numbers
import types

import numpy as np

from .tensor import Tensor


def _check_number(owner: str, what: str, value, low: float, high: float = math.inf,
                  high_open: bool = False, fix: str = "") -> float:
    """``value`` as a float, checked to be a finite real in [low, high] (or [low, high)).

    Raises ValueError with PyTorch's wording, ``"Invalid learning rate: -1"``, followed by
    the range and a fix (NaN and infinities are invalid too: they make every weight NaN);
    TypeError for a value that is not a number (a string, a bool, None).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {what} must be a number, got {type(value).__name__} "
                        f"{value!r} (fix: {fix})")
    inside = low <= value < high if high_open else low <= value <= high
    if not (inside and math.isfinite(value)):     # NaN fails every comparison
        want = f">= {low:g}" if high == math.inf else \
            f"in [{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: Invalid {what}: {value}, it must be a finite number {want} "
                         f"(fix: {fix})")
    return float(value)


class Optimizer:
    """Base class: holds the parameters; ``zero_grad()`` clears their ``.grad``.

    Raises ValueError on an empty parameter list, a parameter listed twice (it would be
    updated twice per step) or a learning rate that is negative, NaN or infinite
    (``"Invalid learning rate: ..."``, PyTorch's wording); TypeError when ``params`` is not
    an iterable of Tensors (a Module, say).
    """

    def __init__(self, params, lr: float):
        name = type(self).__name__
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            raise TypeError(f"{name}: params must be an iterable of Tensors, got "
                            f"{type(params).__name__} (fix: pass model.parameters())")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list "
                             f"(fix: pass model.parameters())")
        seen = set()
        for k, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params must be Tensors, item {k} is "
                                f"{type(p).__name__} (fix: pass model.parameters())")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {k} (shape {p.shape}) appears more than "
                                 f"once, so a step would update it twice (fix: pass each "
                                 f"parameter once, e.g. model.parameters())")
            seen.add(id(p))
        self.lr = _check_number(name, "learning rate", lr, 0.0, fix="a small positive "
                                "number, e.g. 1e-3")

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (PyTorch's default ``set_to_none``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (PyTorch's formulation):
    ``v = momentum * v + g`` (``g`` including ``weight_decay * p``), ``p -= lr * v``.
    Parameters without a gradient are skipped.

    Raises ValueError for lr, momentum or weight_decay that are negative, NaN or infinite
    (PyTorch's wording, ``"Invalid momentum value: ..."``); see ``Optimizer``."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _check_number("SGD", "momentum value", momentum, 0.0,
                                      fix="0.9 is usual; 0 turns it off")
        self.weight_decay = _check_number("SGD", "weight_decay value", weight_decay, 0.0,
                                          fix="e.g. 1e-4; 0 turns it off")
        self.velocity = [None] * len(self.params)

    def step(self) -> None:
        for k, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                v = self.velocity[k]
                self.velocity[k] = g.copy() if v is None else self.momentum * v + g
                g = self.velocity[k]
            p.data -= (self.lr * g).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1),
    as PyTorch computes it: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    Moments are kept in the parameter's dtype; parameters without a gradient are skipped.
    A NaN/inf gradient makes the moments and the parameter NaN, as in PyTorch: check the
    norm that ``clip_grad_norm_`` returns before ``step()``.

    Raises ValueError (PyTorch's wording, ``"Invalid beta parameter at index 0: ..."``) for
    betas that are not two numbers in [0, 1), an eps or weight_decay that is negative, NaN
    or infinite; see ``Optimizer`` for lr and params.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r} "
                             f"(fix: betas=(0.9, 0.999))")
        self.betas = tuple(_check_number("Adam", f"beta parameter at index {i}", b, 0.0, 1.0,
                                         high_open=True, fix="betas=(0.9, 0.999)")
                           for i, b in enumerate(betas))
        self.eps = _check_number("Adam", "epsilon value", eps, 0.0, fix="eps=1e-8")
        self.weight_decay = _check_number("Adam", "weight_decay value", weight_decay, 0.0,
                                          fix="e.g. 1e-4; 0 turns it off")
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v / c2)
            denom += self.eps
            p.data -= (self.lr / c1) * m / denom


class CosineAnnealingLR:
    """Cosine learning-rate schedule without restarts (Loshchilov & Hutter 2017, "SGDR",
    eq. 5; PyTorch's ``torch.optim.lr_scheduler.CosineAnnealingLR``, closed form):
    after ``t`` calls of ``step()``, ``lr = eta_min + (base_lr - eta_min) *
    (1 + cos(pi * t / T_max)) / 2``, so the rate falls from the optimizer's ``lr`` (the
    base) to ``eta_min`` at ``t = T_max``; past T_max the cosine goes on (the rate rises
    again), as in PyTorch, so step it T_max times.

    optimizer : an ``Optimizer``; its ``lr`` is set at construction (t = 0) and by every
        ``step()``. T_max : int >= 1, the number of ``step()`` calls (epochs, or batches
        when stepped per batch) of the descent. eta_min : float >= 0, the final rate.
    Raises ValueError if T_max is not an int >= 1 or eta_min is not a finite number >= 0.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if isinstance(T_max, bool) or not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max={T_max} must be at least 1 (fix: "
                             f"pass the number of scheduler steps, e.g. epochs * batches)")
        if not isinstance(eta_min, numbers.Real) or not 0 <= eta_min < math.inf:
            raise ValueError(f"CosineAnnealingLR: eta_min={eta_min} is negative or not "
                             f"finite (fix: use 0)")
        self.optimizer, self.T_max, self.eta_min = optimizer, int(T_max), float(eta_min)
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.get_last_lr()

    def get_last_lr(self) -> float:
        """The rate after ``last_epoch`` steps (float, the optimizer's unit)."""
        cosine = math.cos(math.pi * self.last_epoch / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + cosine) / 2

    def step(self) -> None:
        """Advance the schedule by one step and set the optimizer's ``lr``."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_last_lr()


# PyTorch keeps its schedules in ``torch.optim.lr_scheduler``; the same path works here.
lr_scheduler = types.SimpleNamespace(CosineAnnealingLR=CosineAnnealingLR)
