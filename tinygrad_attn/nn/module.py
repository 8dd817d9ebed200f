"""``Module`` and ``Parameter``: how a layer holds its weights and finds its sub-layers
(PyTorch's ``nn.Module`` semantics: named_parameters order, state_dict, train/eval)."""
from __future__ import annotations

import numbers

import numpy as np

from ..random import generator
from ..tensor import Tensor, scope


def _check_size(owner: str, name: str, value, minimum: int = 1) -> int:
    """``value`` as an int, checked to be a whole number >= ``minimum`` (a layer size, a
    number of layers or heads).

    Raises TypeError for a float (also NaN and 2.0: sizes are counted, never measured), a
    bool, None or a string; ValueError for a value below ``minimum``. Both are one line
    naming ``owner`` and ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int >= {minimum}, got "
                        f"{type(value).__name__} {value!r} (fix: pass a whole number >= {minimum}, "
                        f"e.g. int(...) of a computed size)")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value} (fix: pass a "
                         f"whole number >= {minimum})")
    return int(value)


def _uniform(shape, bound, dtype=np.float32):
    return generator().uniform(-bound, bound, size=shape).astype(dtype)


def _as_array(value):
    """A state-dict value (ndarray, Tensor, nested lists) as an ndarray; None when numpy
    cannot make one (ragged lists)."""
    if isinstance(value, Tensor):
        return value.data
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return None


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module: float32 and ``requires_grad=True``
    by default. Modules find their parameters by looking for instances of this class."""

    def __init__(self, data, requires_grad: bool = True, dtype=np.float32):
        super().__init__(np.array(data, dtype=dtype), requires_grad=requires_grad)


class Module:
    """Base class of layers and models (PyTorch's ``nn.Module``).

    Parameters are found through the instance's attributes, in the order they were
    set: a ``Parameter``, a ``Module`` (recursively), or a list / tuple / dict of them
    (named ``attr.0``, ``attr.key``). Subclasses implement ``forward``; calling the
    module calls ``forward`` inside ``scope(self)``, so every node it records knows which
    layer made it (``viz.draw_graph`` groups nodes by module with that).
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
        with scope(self):
            return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def _members(self):
        """(name, Parameter-or-Module) pairs directly held by this module."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, (Parameter, Module)):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, (Parameter, Module)):
                        yield f"{name}.{k}", v

    def named_modules(self, prefix: str = ""):
        """Yield (dotted name, module) for this module ("" for itself) and every submodule."""
        stack_ = [(prefix, self)]
        seen = set()
        while stack_:
            name, mod = stack_.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{n}" if name else n, m) for n, m in mod._members()
                        if isinstance(m, Module)]
            stack_.extend(reversed(children))

    def named_parameters(self, prefix: str = ""):
        """Yield (dotted name, Parameter), each parameter once, in definition order."""
        seen = set()
        for mname, mod in self.named_modules(prefix):
            for n, p in mod._members():
                if isinstance(p, Parameter) and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{n}" if mname else n), p

    def parameters(self):
        """Yield every Parameter once."""
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (affects dropout etc.) on this module and all submodules."""
        for _, m in self.named_modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def state_dict(self) -> dict:
        """{dotted name: ndarray copy} of every parameter, in definition order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters of the same names.

        All keys and shapes are checked first; on any problem nothing is changed and one
        error lists every missing key, unexpected key and shape mismatch.

        Raises
        ------
        ValueError
            Listing every problem: missing or unexpected keys (only when ``strict``), every
            shape mismatch and every value that is not numbers (always; numpy would turn
            ``None`` into NaN).
        TypeError
            ``state_dict`` is not a mapping of names to arrays.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict into {type(self).__name__}: expected a dict of "
                            f"name -> array, got {type(state_dict).__name__} (fix: pass "
                            f"model.state_dict() or the arrays a checkpoint loads)")
        own = dict(self.named_parameters())
        problems = []
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        values = {k: _as_array(state_dict[k]) for k in own if k in state_dict}
        for k, value in values.items():
            if value is None or value.dtype.kind not in "biuf":
                kind = "not an array" if value is None else f"dtype {value.dtype}"
                problems.append(f"{k}: {kind}, not numbers")
            elif value.shape != own[k].shape:
                problems.append(f"{k}: checkpoint shape {value.shape} != model shape "
                                f"{own[k].shape}")
        if problems:
            raise ValueError(
                f"load_state_dict into {type(self).__name__}: " + "; ".join(problems) +
                " (fix: build the model with the same sizes as the checkpoint; the model "
                "was left unchanged)")
        for k, value in values.items():
            own[k].data = np.array(value, dtype=own[k].dtype)

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (PyTorch's hook): empty
        here; layers return their constructor arguments, e.g. ``Linear``'s
        ``in_features=4, out_features=8, bias=True``. May span several lines."""
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)`` for a module without sub-modules, otherwise
        ``Name(`` then the lines of ``extra_repr()`` and one ``(attribute): child`` per
        sub-module, each indented by two spaces, then ``)``. A list, tuple or dict of
        modules prints as PyTorch's ``ModuleList`` / ``ModuleDict``, with runs of equal
        consecutive entries folded (``(0-1): 2 x Layer(...)``). Parameters are not shown."""
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        children = [f"({name}): {text}" for name, text in self._child_reprs()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({''.join(lines)})"
        return _block(type(self).__name__, lines + children)

    def _child_reprs(self):
        """(attribute, repr text) of each sub-module or container of sub-modules, in
        definition order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, repr(value)
            elif isinstance(value, (list, tuple)) and any(isinstance(v, Module) for v in value):
                yield name, _module_list_repr([(i, v) for i, v in enumerate(value)
                                               if isinstance(v, Module)])
            elif isinstance(value, dict) and any(isinstance(v, Module) for v in value.values()):
                yield name, _block("ModuleDict", [f"({k}): {v!r}" for k, v in value.items()
                                                  if isinstance(v, Module)])

    def num_parameters(self) -> int:
        """Total number of scalar weights."""
        return sum(p.size for p in self.parameters())


def _block(name: str, lines: list) -> str:
    """``name(`` + the lines indented by two spaces (each line of a multi-line entry) + ``)``."""
    body = "\n".join(lines).replace("\n", "\n  ")
    return f"{name}(\n  {body}\n)"


def _module_list_repr(items: list) -> str:
    """PyTorch's ``ModuleList`` text for (index, module) pairs: a run of consecutive entries
    with the same text prints once as ``(first-last): n x text``."""
    texts = [repr(m) for _, m in items]
    entries, k = [], 0
    while k < len(items):
        end = k + 1
        while end < len(items) and items[end][0] == items[end - 1][0] + 1 \
                and texts[end] == texts[k]:
            end += 1
        first, last = items[k][0], items[end - 1][0]
        entries.append(f"({first}): {texts[k]}" if end - k == 1 else
                       f"({first}-{last}): {end - k} x {texts[k]}")
        k = end
    return _block("ModuleList", entries)
