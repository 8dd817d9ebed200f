"""The engine core: the graph node (``Function``), the topological walk, the chain rule.

``Function.apply`` runs an op's ``forward`` and, when a gradient may be needed, records the
node as the result's ``grad_fn``. :func:`backward` walks the nodes from the output in
reverse topological order and calls each op's derivative rule once (reverse mode: for
``y = f(x)`` and a scalar loss ``L``, ``dL/dx = (dy/dx)^T dL/dy``; Griewank & Walther,
"Evaluating Derivatives", 2008, ch. 3), then un-broadcasts and adds each input's share.

One rule, every order: an op's ``backward(g, *inputs, out)`` is written with operators and
the functions of :mod:`tinygrad_attn.dual`, so the same expression runs on arrays (the
fast first-order pass) and, with ``create_graph=True``, on Tensors, where it records the
graph of the derivative itself: differentiate that again for second derivatives.
"""
from __future__ import annotations

import inspect
import itertools

from . import grad_mode

_creation = itertools.count()      # numbers the recorded nodes in the order they are made


def unbroadcast(grad, shape: tuple):
    """Undo broadcasting on a gradient: the ONE place the engine does it.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, each
    element of ``x`` was used once per copy, so its gradient is the sum of the copies'
    gradients: sum over the leading axes that broadcasting added, then over the axes where
    ``x`` had size 1 (keeping them), and reshape to ``shape``. ``grad`` is an ndarray or a
    Tensor (``create_graph``); the result is of the same kind, with shape ``shape``.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = len(grad.shape) - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad.reshape(tuple(shape))


class Function:
    """A node of the graph: one op, its ``forward`` beside its derivative rule.

    Subclasses write

    - ``forward(self, *arrays, **kwargs) -> ndarray``: the result from the input arrays
      (keyword arguments are the op's settings; keep on ``self`` those the rule needs);
    - ``backward(self, g, *inputs, out) -> tuple``: given ``g = dL/dout``, ``dL/dinput``
      for each input, in order (``None`` where none is needed). ``inputs`` and ``out`` are
      the op's input and output values: arrays in a first-order pass, Tensors with
      ``create_graph=True``, so write the rule with operators and :mod:`tinygrad_attn.dual`.
      A gradient may have the broadcast shape: the engine un-broadcasts it.

    ``self.needs_input_grad[i]``: does input ``i`` want a gradient (set before ``forward``).
    A recorded node keeps ``inputs`` (the input Tensors), ``created`` (larger for later
    nodes), ``scope`` (labels of the enclosing ``grad_mode.scope`` blocks) and, after a
    backward pass, ``backward_order`` (0 for the first node whose rule ran).
    """

    composed: str | None = None     # a fused op names its composed teaching twin here

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "out" not in inspect.signature(cls.backward).parameters:
            raise TypeError(f"{cls.__name__}.backward must take (self, g, *inputs, out): the "
                            f"input and output values are passed in (fix: add the parameters, "
                            f"e.g. def backward(self, g, x, out))")

    @classmethod
    def apply(cls, *inputs, **kwargs) -> "_tensor.Tensor":
        """Run the op on tensors (or array-likes), recording the node if needed.

        Non-tensor inputs (Python numbers, arrays) are converted to the dtype of the first
        float tensor input, so ``x * 2`` and ``x * np.ones(3)`` keep ``x``'s dtype.
        Raises ValueError naming the shapes when they cannot be broadcast together.
        """
        Tensor = _tensor.Tensor
        like = next((t for t in inputs if isinstance(t, Tensor)), None)
        tensors = tuple(t if isinstance(t, Tensor) else Tensor._const(t, like) for t in inputs)
        fn = cls()
        needs = grad_mode._state.grad_enabled and any(t.requires_grad for t in tensors)
        fn.needs_input_grad = tuple(needs and t.requires_grad for t in tensors)
        try:
            out = fn.forward(*(t.data for t in tensors), **kwargs)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ValueError(
                f"{cls.__name__}: shapes {[t.shape for t in tensors]} cannot be broadcast "
                f"together (NumPy rules: axes are compared from the right and must be equal "
                f"or 1; fix: reshape or unsqueeze an operand)") from None
        result = Tensor._result(out, needs)
        if needs:
            fn.inputs, fn.input_versions = tensors, tuple(t._version for t in tensors)
            fn.created, fn.scope = next(_creation), grad_mode._state.scope
            result.grad_fn = fn
        if grad_mode.anomaly_users and grad_mode._state.anomaly:
            _anomaly.forward_hook(fn, tensors, kwargs, out, needs)
        return result

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g, *inputs, out):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        """``((input.grad_fn, 0), ...)``, one pair per input, as PyTorch's; ``None`` for an
        input made by no recorded op (PyTorch shows an ``AccumulateGrad`` node there)."""
        return tuple((t.grad_fn, 0) for t in self.inputs)

    def _release(self):
        """Drop what forward kept (after backward unless ``retain_graph``): the node keeps
        the graph's structure (leaf and ``retain_grad`` inputs stay; other inputs become a
        :class:`_Released` record) and what the pictures read, but no arrays."""
        inputs = tuple(t if t.grad_fn is None or getattr(t, "_retains_grad", False)
                       else _Released(t) for t in self.inputs)
        kept = {k: v for k, v in self.__dict__.items() if k in _KEPT}
        self.__dict__.clear()
        self.__dict__.update(kept, inputs=inputs, released=True)


_KEPT = ("needs_input_grad", "input_versions", "created", "scope", "backward_order",
         "anomaly_trace")


class _Released:
    """What a released node keeps of a non-leaf input: shape, dtype, name and the node
    that made it (the graph's structure), without the data."""

    __slots__ = ("shape", "dtype", "name", "requires_grad", "grad_fn", "_version")

    def __init__(self, t):
        self.shape, self.dtype, self.name = t.shape, t.dtype, t.name
        self.requires_grad, self.grad_fn, self._version = t.requires_grad, t.grad_fn, t._version


def toposort(roots) -> list:
    """Tensors reachable from ``roots`` through recorded nodes, inputs before outputs.

    Iterative depth-first search with an explicit stack (an unrolled RNN is thousands of
    nodes deep; recursion would hit Python's limit).
    """
    order, visited = [], set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        t, children_done = stack.pop()
        if children_done:
            order.append(t)            # post-order: after everything it depends on
        elif id(t) not in visited:
            visited.add(id(t))
            stack.append((t, True))
            if t.grad_fn is not None:
                stack.extend((p, False) for p in t.grad_fn.inputs
                             if p.requires_grad and id(p) not in visited)
    return order


def backward(roots, seeds, retain_graph: bool, create_graph: bool, sink, trace=None) -> None:
    """The chain rule over the graph below ``roots`` (see the module docstring).

    ``seeds[i]`` is ``dL/droots[i]`` (arrays, or Tensors with ``create_graph``). Each
    tensor's total gradient is handed to ``sink(tensor, grad)`` once it is complete (the
    callers store it in ``.grad`` or return it); each node's rule runs once. ``trace(fn,
    out, g, [(input, grad sent), ...])``, if given, follows each rule (``viz.explore``).
    """
    grads = {}
    for r, s in zip(roots, seeds):
        grads[id(r)] = s if id(r) not in grads else grads[id(r)] + s
    order = itertools.count()
    with grad_mode.set_grad_enabled(create_graph):
        for t in reversed(toposort(roots)):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            sink(t, g)
            fn = t.grad_fn
            if fn is None:
                continue
            checks.saved_values(fn, t)
            values = fn.inputs if create_graph else tuple(i.data for i in fn.inputs)
            in_grads = fn.backward(g, *values, out=t if create_graph else t.data)
            in_grads = in_grads if isinstance(in_grads, tuple) else (in_grads,)
            fn.backward_order = next(order)
            if grad_mode.anomaly_users and grad_mode._state.anomaly:
                _anomaly.backward_hook(fn, _value(g), tuple(map(_value, in_grads)))
            sent = []
            for inp, ig in zip(fn.inputs, in_grads):
                if ig is not None and inp.requires_grad:
                    ig = unbroadcast(checks.as_gradient(ig, inp, create_graph), inp.shape)
                    # out-of-place sum: an array handed out by one rule is never mutated
                    grads[id(inp)] = ig if id(inp) not in grads else grads[id(inp)] + ig
                    sent.append((inp, ig))
            if trace is not None:
                trace(fn, t, g, sent)
            if not retain_graph:
                fn._release()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned as Tensors of the inputs'
    shapes and dtypes, not added to ``.grad`` (PyTorch's ``torch.autograd.grad``: the same
    arguments and semantics). ``outputs``/``inputs``: a Tensor or a sequence of them;
    ``grad_outputs``: one ``dL/doutput`` per output (None: 1 for a one-element output);
    ``retain_graph`` defaults to ``create_graph``, which records the derivative's graph so
    the results can be differentiated again; ``allow_unused``: None for an input the
    outputs do not use. Raises RuntimeError for an input that does not require grad or is
    unused (unless ``allow_unused``), and as ``Tensor.backward`` for the outputs.
    """
    outputs, inputs = _listed(outputs), _listed(inputs)
    grad_outputs = [None] * len(outputs) if grad_outputs is None else _listed(grad_outputs)
    checks.grad_arguments(outputs, inputs, grad_outputs)
    seeds = [checks.seed_gradient(o, g, create_graph) for o, g in zip(outputs, grad_outputs)]
    found = {id(t): None for t in inputs}

    def keep(t, g):
        if id(t) in found:
            found[id(t)] = g
    backward(outputs, seeds, create_graph if retain_graph is None else retain_graph,
             create_graph, keep)
    unused = [k for k, t in enumerate(inputs) if found[id(t)] is None]
    if unused and not allow_unused:
        raise RuntimeError(f"grad: input {unused[0]} was not used to compute the outputs, so "
                           f"its gradient is undefined (fix: pass allow_unused=True to get "
                           f"None for it)")
    return tuple(checks.as_gradient(found[id(t)], t, True) if found[id(t)] is not None else None
                 for t in inputs)


def _listed(x) -> list:
    return [x] if isinstance(x, _tensor.Tensor) or x is None else list(x)


def _value(x):
    """The array of a Tensor (a rule's value with ``create_graph``); an array as it is."""
    return x.data if isinstance(x, _tensor.Tensor) else x


from . import anomaly as _anomaly  # noqa: E402  (after Function: the modules import each other)
from . import checks  # noqa: E402
from . import tensor as _tensor  # noqa: E402
