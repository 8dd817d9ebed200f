"""Optimizers (PyTorch's ``torch.optim`` names and update rules): ``SGD`` and ``Adam``,
and the learning-rate schedule ``CosineAnnealingLR`` (also as ``optim.lr_scheduler``)."""
from __future__ import annotations

import math
import types

import numpy as np


class Optimizer:
    """Base class: holds the parameters; ``zero_grad()`` clears their ``.grad``.

    Raises ValueError on an empty parameter list or a negative learning rate.
    """

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list "
                             f"(fix: pass model.parameters())")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: learning rate {lr} is negative")
        self.lr = lr

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (PyTorch's default ``set_to_none``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (PyTorch's formulation):
    ``v = momentum * v + g`` (``g`` including ``weight_decay * p``), ``p -= lr * v``.
    Parameters without a gradient are skipped."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
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
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
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
    Raises ValueError if T_max < 1 or eta_min < 0.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if int(T_max) < 1:
            raise ValueError(f"CosineAnnealingLR: T_max={T_max} must be at least 1 (fix: "
                             f"pass the number of scheduler steps, e.g. epochs * batches)")
        if eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min={eta_min} is negative (fix: use 0)")
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
