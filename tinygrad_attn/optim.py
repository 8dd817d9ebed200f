"""Optimizers (PyTorch's ``torch.optim`` names and update rules): ``SGD`` and ``Adam``,
and the learning-rate schedules ``CosineAnnealingLR`` and ``InverseSqrtLR`` (warm-up, then
1/sqrt decay; PyTorch has no class for it, its ``LambdaLR`` expresses it), also as
``optim.lr_scheduler``.

Each has PyTorch's ``state_dict()`` / ``load_state_dict()``: an optimizer's is
``{"state": {index: {...}}, "param_groups": [{"lr": ..., ..., "params": [0, 1, ...]}]}``
(one group here), with numpy arrays where PyTorch has tensors; a scheduler's is a flat
dict (``T_max``, ``eta_min`` or ``warmup_steps``, ``base_lrs``, ``last_epoch``).
Checkpoints hold these.
"""
from __future__ import annotations

import math
import numbers
import types
from typing import ClassVar

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


def _check_lr(owner: str, lr) -> float:
    """A learning rate: a finite number >= 0 (see ``_check_number``)."""
    return _check_number(owner, "learning rate", lr, 0.0, fix="a small positive number, "
                         "e.g. 1e-3")


def _check_weight_decay(owner: str, value) -> float:
    """A weight decay: a finite number >= 0 (see ``_check_number``)."""
    return _check_number(owner, "weight_decay value", value, 0.0,
                         fix="e.g. 1e-4; 0 turns it off")


def _check_schedule(T_max, eta_min) -> tuple:
    """(T_max, eta_min) of a cosine schedule as (int >= 1, finite float >= 0).
    Raises ValueError otherwise, naming the value and a fix."""
    if isinstance(T_max, bool) or not isinstance(T_max, numbers.Integral) or T_max < 1:
        raise ValueError(f"CosineAnnealingLR: T_max={T_max} must be at least 1 (fix: "
                         f"pass the number of scheduler steps, e.g. epochs * batches)")
    if not isinstance(eta_min, numbers.Real) or not 0 <= eta_min < math.inf:
        raise ValueError(f"CosineAnnealingLR: eta_min={eta_min} is negative or not "
                         f"finite (fix: use 0)")
    return int(T_max), float(eta_min)


def _whole_number(what: str, value) -> int:
    """``value`` (an int, a whole float, or a 0-d array or tensor of one) as an int >= 0.
    Raises ValueError naming ``what`` otherwise."""
    try:
        number = np.asarray(value).item()
    except (TypeError, ValueError):
        number = None
    if isinstance(number, bool) or not isinstance(number, numbers.Real) \
            or not (math.isfinite(number) and number >= 0 and number == int(number)):
        raise ValueError(f"{what} must be a whole number >= 0, got {value!r} (fix: pass a "
                         f"state_dict() as written)")
    return int(number)


def _one_group(owner: str, state_dict, n_params: int) -> dict:
    """The one parameter group of an optimizer ``state_dict``, checked to list
    ``n_params`` parameters. Raises TypeError / ValueError (see ``load_state_dict``)."""
    if not hasattr(state_dict, "get") or "state" not in state_dict \
            or "param_groups" not in state_dict:
        raise TypeError(f"{owner}.load_state_dict: expected a dict with 'state' and "
                        f"'param_groups', got {type(state_dict).__name__} (fix: pass "
                        f"optimizer.state_dict())")
    groups = state_dict["param_groups"]
    if not isinstance(groups, (list, tuple)) or len(groups) != 1 \
            or not hasattr(groups[0], "get"):
        raise ValueError(f"{owner}.load_state_dict: expected one parameter group, got "
                         f"{len(groups) if isinstance(groups, (list, tuple)) else groups!r} "
                         f"(fix: this optimizer has one group; load a state of the same kind)")
    params = groups[0].get("params", [])
    if len(params) != n_params:
        raise ValueError(f"{owner}.load_state_dict: the loaded parameter group has "
                         f"{len(params)} parameters, this optimizer {n_params} (fix: build "
                         f"the optimizer over the same parameters)")
    return groups[0]


def _entries(owner: str, state, n_params: int) -> dict:
    """The per-parameter ``state`` of a state dict as {index: entry dict}; keys may be ints
    or their strings (as after a JSON round trip). Raises TypeError / ValueError."""
    if not hasattr(state, "items"):
        raise TypeError(f"{owner}.load_state_dict: 'state' must be a dict of parameter index "
                        f"-> entries, got {type(state).__name__}")
    entries = {}
    for key, entry in state.items():
        k = int(key) if isinstance(key, (int, np.integer, str)) and str(key).isdigit() else -1
        if not 0 <= k < n_params or not hasattr(entry, "get"):
            raise ValueError(f"{owner}.load_state_dict: state key {key!r} is not a parameter "
                             f"index in [0, {n_params}) with a dict of entries (fix: pass "
                             f"optimizer.state_dict())")
        entries[k] = entry
    return entries


class Optimizer:
    """Base class: holds the parameters; ``zero_grad()`` clears their ``.grad``.

    Raises ValueError on an empty parameter list, a parameter listed twice (it would be
    updated twice per step) or a learning rate that is negative, NaN or infinite
    (``"Invalid learning rate: ..."``, PyTorch's wording); TypeError when ``params`` is not
    an iterable of Tensors (a Module, say).
    """

    # PyTorch's param_group keys, in its order: the hyperparameters this class holds as
    # attributes, and those whose value is fixed here (features it does not have)
    HYPERPARAMETERS: ClassVar[tuple] = ("lr",)
    FIXED: ClassVar[dict] = {}

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
        self.lr = _check_lr(name, lr)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (PyTorch's default ``set_to_none``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """PyTorch's layout: ``{"state": {i: {name: value}}, "param_groups": [group]}``.

        ``state`` is keyed by the parameter's index in ``params`` (see the subclass for
        the per-parameter entries; arrays are copies, in the parameter's dtype); the one
        group holds the hyperparameters under PyTorch's names (``lr``, ...), the fixed
        values of features this class lacks (e.g. ``amsgrad: False``) and ``params``,
        the indices ``[0, ..., n-1]``.
        """
        group = {k: getattr(self, k) for k in self.HYPERPARAMETERS}
        group.update(self.FIXED)
        group["params"] = list(range(len(self.params)))
        return {"state": self._state(), "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Set the hyperparameters and per-parameter state from ``state_dict``, as written
        by ``state_dict()`` (or by PyTorch's same optimizer, its tensors turned into arrays
        or left as CPU tensors).

        Everything is checked before anything changes. Arrays are copied and cast to the
        parameter's dtype. A parameter without an entry in ``state`` starts afresh (zero
        moments), as one PyTorch never stepped. Keys of the group that choose PyTorch's
        implementation (``foreach``, ``fused``, ``capturable``, ``differentiable``) are
        ignored.

        Raises
        ------
        ValueError
            Not one parameter group, a group whose number of parameters differs, a
            hyperparameter out of range (the constructor's message), a feature this class
            lacks (e.g. ``amsgrad=True``), a state entry that is not a parameter index or
            whose array's shape differs from the parameter's.
        TypeError
            ``state_dict`` is not a mapping with ``state`` and ``param_groups``.
        """
        name = type(self).__name__
        group = _one_group(name, state_dict, len(self.params))
        for key, value in self.FIXED.items():
            if key in group and group[key] != value:
                raise ValueError(f"{name}.load_state_dict: {key}={group[key]!r} is not "
                                 f"supported here ({key}={value!r} only) (fix: load a state "
                                 f"of an optimizer built without {key})")
        hyper = self._check_hyperparameters(
            {k: group[k] if k in group else getattr(self, k) for k in self.HYPERPARAMETERS})
        state = self._check_state(_entries(name, state_dict["state"], len(self.params)))
        for key, value in hyper.items():
            setattr(self, key, value)
        self._set_state(state)

    def _check_hyperparameters(self, values: dict) -> dict:
        """The group's hyperparameters, checked as the constructor checks them."""
        return {"lr": _check_lr(type(self).__name__, values["lr"])}

    def _state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_state(self, entries: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, state) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _array(self, k: int, key: str, value) -> np.ndarray:
        """State entry ``key`` of parameter ``k`` as a copy in the parameter's dtype.
        Raises ValueError when it is not numbers of the parameter's shape."""
        p = self.params[k]
        try:
            a = np.asarray(value)
        except (TypeError, ValueError, RuntimeError):    # RuntimeError: a tensor with grad
            a = None
        if a is None or a.dtype.kind not in "biuf" or a.shape != p.shape:
            got = "not numbers" if a is None or a.dtype.kind not in "biuf" else \
                f"of shape {a.shape}"
            raise ValueError(f"{type(self).__name__}.load_state_dict: state[{k}][{key!r}] is "
                             f"{got}, but parameter {k} has shape {p.shape} (fix: load the "
                             f"state of an optimizer over the same parameters, in order)")
        return a.astype(p.dtype, copy=True)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (PyTorch's formulation):
    ``v = momentum * v + g`` (``g`` including ``weight_decay * p``), ``p -= lr * v``.
    Parameters without a gradient are skipped.

    ``state_dict()``: PyTorch's, ``state[i] = {"momentum_buffer": v}`` for each parameter
    that has a velocity (none before its first step with momentum), ``param_groups[0]``
    with ``lr``, ``momentum``, ``weight_decay`` and ``dampening=0``, ``nesterov=False``,
    ``maximize=False``.

    Raises ValueError for lr, momentum or weight_decay that are negative, NaN or infinite
    (PyTorch's wording, ``"Invalid momentum value: ..."``); see ``Optimizer``."""

    HYPERPARAMETERS = ("lr", "momentum", "weight_decay")
    FIXED: ClassVar[dict] = {"dampening": 0, "nesterov": False, "maximize": False}

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        checked = self._check_hyperparameters({"lr": self.lr, "momentum": momentum,
                                               "weight_decay": weight_decay})
        self.momentum, self.weight_decay = checked["momentum"], checked["weight_decay"]
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

    def _check_hyperparameters(self, values: dict) -> dict:
        return {"lr": _check_lr("SGD", values["lr"]),
                "momentum": _check_number("SGD", "momentum value", values["momentum"], 0.0,
                                          fix="0.9 is usual; 0 turns it off"),
                "weight_decay": _check_weight_decay("SGD", values["weight_decay"])}

    def _state(self) -> dict:
        return {k: {"momentum_buffer": v.copy()} for k, v in enumerate(self.velocity)
                if v is not None}

    def _check_state(self, entries: dict) -> list:
        velocity = [None] * len(self.params)
        for k, entry in entries.items():
            if entry.get("momentum_buffer") is not None:
                velocity[k] = self._array(k, "momentum_buffer", entry["momentum_buffer"])
        return velocity

    def _set_state(self, velocity: list) -> None:
        self.velocity = velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1),
    as PyTorch computes it: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    Moments are kept in the parameter's dtype; parameters without a gradient are skipped.
    A NaN/inf gradient makes the moments and the parameter NaN, as in PyTorch: check the
    norm that ``clip_grad_norm_`` returns before ``step()``.

    ``state_dict()``: PyTorch's, ``state[i] = {"step": t, "exp_avg": m, "exp_avg_sq": v}``
    for every parameter (from the start: step 0 and zero moments before the first step,
    where PyTorch's state starts empty), ``param_groups[0]`` with ``lr``, ``betas``,
    ``eps``, ``weight_decay`` and ``amsgrad=False``, ``maximize=False``,
    ``decoupled_weight_decay=False``. One step count serves every parameter (a parameter
    without a gradient is skipped but the count goes on), so ``load_state_dict`` refuses
    entries whose steps differ.

    Raises ValueError (PyTorch's wording, ``"Invalid beta parameter at index 0: ..."``) for
    betas that are not two numbers in [0, 1), an eps or weight_decay that is negative, NaN
    or infinite; see ``Optimizer`` for lr and params.
    """

    HYPERPARAMETERS = ("lr", "betas", "eps", "weight_decay")
    FIXED: ClassVar[dict] = {"amsgrad": False, "maximize": False,
                             "decoupled_weight_decay": False}

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        checked = self._check_hyperparameters({"lr": self.lr, "betas": betas, "eps": eps,
                                               "weight_decay": weight_decay})
        self.betas, self.eps = checked["betas"], checked["eps"]
        self.weight_decay = checked["weight_decay"]
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

    def _check_hyperparameters(self, values: dict) -> dict:
        betas = values["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r} "
                             f"(fix: betas=(0.9, 0.999))")
        return {"lr": _check_lr("Adam", values["lr"]),
                "betas": tuple(_check_number("Adam", f"beta parameter at index {i}", b, 0.0,
                                             1.0, high_open=True, fix="betas=(0.9, 0.999)")
                               for i, b in enumerate(betas)),
                "eps": _check_number("Adam", "epsilon value", values["eps"], 0.0,
                                     fix="eps=1e-8"),
                "weight_decay": _check_weight_decay("Adam", values["weight_decay"])}

    def _state(self) -> dict:
        return {k: {"step": self.t, "exp_avg": m.copy(), "exp_avg_sq": v.copy()}
                for k, (m, v) in enumerate(zip(self.m, self.v))}

    def _check_state(self, entries: dict) -> tuple:
        steps = {_whole_number(f"Adam.load_state_dict: state[{k}]['step']", e.get("step"))
                 for k, e in entries.items()}
        if len(steps) > 1:
            raise ValueError(f"Adam.load_state_dict: the parameters' step counts differ "
                             f"({sorted(steps)}); this Adam keeps one count for all (fix: "
                             f"load a state whose parameters were all stepped together)")
        m = [np.zeros_like(p.data) for p in self.params]
        v = [np.zeros_like(p.data) for p in self.params]
        for k, entry in entries.items():
            m[k] = self._array(k, "exp_avg", entry.get("exp_avg"))
            v[k] = self._array(k, "exp_avg_sq", entry.get("exp_avg_sq"))
        return m, v, steps.pop() if steps else 0

    def _set_state(self, state: tuple) -> None:
        self.m, self.v, self.t = state


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
    ``state_dict()``: PyTorch's keys ``T_max``, ``eta_min``, ``base_lrs`` (a list of one
    rate), ``last_epoch`` and ``_last_lr`` (a list of one rate); ``load_state_dict`` sets
    the schedule from them (a partial dict sets only its keys, as in PyTorch; ``_last_lr``
    and PyTorch's other private keys are ignored) and, as in PyTorch, leaves the
    optimizer's ``lr`` to the optimizer's own ``load_state_dict``.

    Raises ValueError if T_max is not an int >= 1 or eta_min is not a finite number >= 0.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        self.optimizer = optimizer
        self.T_max, self.eta_min = _check_schedule(T_max, eta_min)
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

    def state_dict(self) -> dict:
        """PyTorch's keys: ``{"T_max", "eta_min", "base_lrs": [lr], "last_epoch",
        "_last_lr": [lr]}`` (rates in the optimizer's unit, counts in steps)."""
        return {"T_max": self.T_max, "eta_min": self.eta_min, "base_lrs": [self.base_lr],
                "last_epoch": self.last_epoch, "_last_lr": [self.get_last_lr()]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Set the schedule from ``state_dict`` (see the class docstring); all checked first.

        Raises ValueError for a T_max / eta_min as the constructor refuses, ``base_lrs`` that
        is not a list of one finite rate >= 0, a ``last_epoch`` that is not a whole number
        >= 0, or an unknown public key; TypeError when ``state_dict`` is not a mapping.
        """
        _check_state_keys("CosineAnnealingLR", "a", state_dict, ("T_max", "eta_min"))
        T_max, eta_min = _check_schedule(state_dict.get("T_max", self.T_max),
                                         state_dict.get("eta_min", self.eta_min))
        base_lr, last_epoch = _base_lr_and_epoch("CosineAnnealingLR", self, state_dict)
        self.T_max, self.eta_min, self.base_lr, self.last_epoch = \
            T_max, eta_min, base_lr, last_epoch


def _check_state_keys(name: str, article: str, state_dict, own_keys: tuple) -> None:
    """The checks every scheduler's ``load_state_dict`` starts with: ``state_dict`` is a
    mapping (else TypeError) whose public keys are the schedule's ``own_keys`` or the
    shared ``base_lrs``, ``last_epoch``, ``verbose`` (else ValueError naming them)."""
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"{name}.load_state_dict: expected a dict, got "
                        f"{type(state_dict).__name__} (fix: pass scheduler.state_dict())")
    known = own_keys + ("base_lrs", "last_epoch", "verbose")
    unknown = [k for k in state_dict if not str(k).startswith("_") and k not in known]
    if unknown:
        raise ValueError(f"{name}.load_state_dict: unknown keys {unknown} (fix: pass "
                         f"{article} {name}'s state_dict())")


def _base_lr_and_epoch(name: str, scheduler, state_dict) -> tuple:
    """``(base_lr, last_epoch)`` of a scheduler's ``state_dict``, checked (ValueError: not a
    list of one finite rate >= 0, or not a whole number >= 0); a missing key keeps the
    ``scheduler``'s own value."""
    base_lrs = state_dict.get("base_lrs", [scheduler.base_lr])
    if not isinstance(base_lrs, (list, tuple)) or len(base_lrs) != 1:
        raise ValueError(f"{name}.load_state_dict: base_lrs must be a list of one rate (one "
                         f"parameter group), got {base_lrs!r}")
    base_lr = _check_lr(name, base_lrs[0])
    last_epoch = _whole_number(f"{name}.load_state_dict: last_epoch",
                               state_dict.get("last_epoch", scheduler.last_epoch))
    return base_lr, last_epoch


def _check_warmup(warmup_steps) -> int:
    """``warmup_steps`` of an inverse-square-root schedule as an int >= 1. Raises ValueError
    otherwise (a bool, a float such as 2.0 or NaN, a string), naming the value and a fix."""
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Integral) \
            or warmup_steps < 1:
        raise ValueError(f"InverseSqrtLR: warmup_steps={warmup_steps!r} must be a whole number "
                         f"at least 1 (fix: pass the optimizer steps of the warm-up, e.g. a "
                         f"few epochs' batches; Vaswani et al. used 4000)")
    return int(warmup_steps)


class InverseSqrtLR:
    """Linear warm-up, then inverse-square-root decay (Vaswani et al. 2017, "Attention Is
    All You Need", sec. 5.3, eq. 3), scaled so that its peak is the optimizer's ``lr``.

    The paper's rate at step ``s`` (1, 2, ...) is ``d_model^-0.5 * min(s^-0.5, s *
    warmup^-1.5)``; written as ``lr * min(s / warmup, sqrt(warmup / s))`` it is the same
    curve with the peak ``lr`` reached at ``s = warmup_steps`` (the paper's is ``lr =
    (d_model * warmup_steps)^-0.5``, 7.0e-4 for d_model 512 and 4000 steps). The rate rises
    linearly from ``lr / warmup_steps`` and then falls as ``1 / sqrt(s)``, never to 0.
    PyTorch has no class for it; ``torch.optim.lr_scheduler.LambdaLR`` with
    ``lr_lambda = lambda t: min((t + 1) / w, (w / (t + 1)) ** 0.5)`` gives the same rates
    (tested). As in PyTorch's schedulers, after ``t`` calls of ``step()`` the optimizer's
    ``lr`` is the rate of its next step, the paper's ``s = t + 1`` (so the first step is
    not taken at rate 0).

    optimizer : an ``Optimizer``; its ``lr`` (the peak) is read at construction and its
        rate set then (t = 0) and by every ``step()``. warmup_steps : int >= 1, in
        ``step()`` calls (optimizer steps when stepped per batch).
    ``state_dict()``: ``warmup_steps``, ``base_lrs`` (a list of one rate), ``last_epoch``
    and ``_last_lr``, the layout of ``CosineAnnealingLR``'s; ``load_state_dict`` also takes
    ``LambdaLR``'s (its ``lr_lambdas`` and private keys are ignored) and, as PyTorch does,
    leaves the optimizer's ``lr`` to the optimizer's own ``load_state_dict``.

    Raises ValueError if warmup_steps is not a whole number >= 1.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int):
        self.optimizer = optimizer
        self.warmup_steps = _check_warmup(warmup_steps)
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.get_last_lr()

    def lr_lambda(self, t: int) -> float:
        """The factor of the base rate after ``t`` steps: ``min(s / w, sqrt(w / s))`` with
        ``s = t + 1`` (dimensionless, in (0, 1])."""
        s, w = t + 1, self.warmup_steps
        return min(s / w, math.sqrt(w / s))

    def get_last_lr(self) -> float:
        """The rate after ``last_epoch`` steps (float, the optimizer's unit)."""
        return self.base_lr * self.lr_lambda(self.last_epoch)

    def step(self) -> None:
        """Advance the schedule by one step and set the optimizer's ``lr``."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_last_lr()

    def state_dict(self) -> dict:
        """``{"warmup_steps", "base_lrs": [lr], "last_epoch", "_last_lr": [lr]}`` (rates in
        the optimizer's unit, counts in steps)."""
        return {"warmup_steps": self.warmup_steps, "base_lrs": [self.base_lr],
                "last_epoch": self.last_epoch, "_last_lr": [self.get_last_lr()]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Set the schedule from ``state_dict`` (see the class docstring); all checked first;
        a partial dict sets only its keys, as in PyTorch.

        Raises ValueError for a warmup_steps the constructor refuses, ``base_lrs`` that is
        not a list of one finite rate >= 0, a ``last_epoch`` that is not a whole number
        >= 0, or an unknown public key; TypeError when ``state_dict`` is not a mapping.
        """
        _check_state_keys("InverseSqrtLR", "an", state_dict, ("warmup_steps", "lr_lambdas"))
        warmup = _check_warmup(state_dict.get("warmup_steps", self.warmup_steps))
        base_lr, last_epoch = _base_lr_and_epoch("InverseSqrtLR", self, state_dict)
        self.warmup_steps, self.base_lr, self.last_epoch = warmup, base_lr, last_epoch


# PyTorch keeps its schedules in ``torch.optim.lr_scheduler``; the same path works here.
lr_scheduler = types.SimpleNamespace(CosineAnnealingLR=CosineAnnealingLR,
                                     InverseSqrtLR=InverseSqrtLR)
