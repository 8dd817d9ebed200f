"""The Tensor, the Function node, and reverse-mode automatic differentiation.

A ``Tensor`` wraps a ``numpy.ndarray``. Every operation on tensors goes through
``Function.apply``: it runs the op's ``forward`` on the arrays and, when a gradient
may be needed, records the ``Function`` instance as the node that made the result.
``Tensor.backward`` then walks those nodes in reverse topological order and calls each
node's ``backward`` once (the chain rule, one node at a time).

The math is the standard reverse-mode derivation (e.g. Griewank & Walther,
"Evaluating Derivatives", 2008, ch. 3): for ``y = f(x)`` and a scalar loss ``L``,
``dL/dx = (dy/dx)^T dL/dy``; each ``backward`` computes that vector-Jacobian product.

The ops themselves live in :mod:`tinygrad_attn.ops`; this module holds only the engine.
"""
from __future__ import annotations

import functools
import itertools
import threading

import numpy as np


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
_anomaly_users = 0
_creation = itertools.count()      # numbers the recorded nodes in the order they are made


class no_grad:
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

    def __enter__(self):
        self._prev = _state.grad_enabled
        _state.grad_enabled = False
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (in this thread)."""
    return _state.grad_enabled


class scope:
    """Context manager that labels every node recorded inside it (for pictures of the graph).

    Each recorded ``Function`` keeps ``fn.scope``, the tuple of labels of the ``scope``
    blocks around its creation, outermost first. The engine uses two kinds of label:
    a ``Module`` (``Module.__call__`` opens a scope for itself, so a node knows which layer
    made it) and an ``int``, a time step (the unrolled recurrent layers open ``scope(t)``
    around step ``t``). Any other hashable label (a string, say) is allowed too. Labels
    change nothing in the math; ``viz.draw_graph`` groups and collapses nodes by them.
    Costs one tuple per block; inside ``no_grad()`` nothing is recorded, so nothing is
    labelled.

    Examples
    --------
    >>> from tinygrad_attn import Tensor, scope
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with scope("neuron"):
    ...     y = x * 2
    >>> y._ctx.scope
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


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo NumPy broadcasting on a gradient: the ONE place the engine does it.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, each
    element of ``x`` was used once per copy, so its gradient is the sum of the copies'
    gradients: sum over the leading axes that broadcasting added, then over the axes
    where ``x`` had size 1 (keeping them), and reshape to ``shape``.

    Parameters
    ----------
    grad : ndarray, the gradient w.r.t. the broadcast value, shape ``B``.
    shape : tuple, the input's shape, broadcastable to ``B``.

    Returns
    -------
    ndarray of shape ``shape`` and ``grad.dtype``.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad.reshape(shape)


class Function:
    """A node of the computation graph: one op, its forward and its backward.

    Subclasses implement

    - ``forward(self, *arrays, **kwargs) -> ndarray``: compute the result from the input
      arrays, saving on ``self`` whatever ``backward`` needs;
    - ``backward(self, grad) -> tuple``: given ``dL/dout`` (same shape as the output),
      return ``dL/dinput`` for each input, in order (``None`` for an input that needs
      none). A gradient may have the broadcast shape: the engine un-broadcasts it.

    ``self.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so a backward
    may skip work. It is set before ``forward`` runs: when no input wants one (inside
    ``no_grad()``, or with no input requiring grad), ``forward`` may skip saving anything.

    What a recorded node also keeps, for pictures of the graph (``viz.draw_graph``):
    ``created`` (an int; nodes made later have larger numbers), ``scope`` (the labels of
    the enclosing :class:`scope` blocks) and, once a backward pass has run through it,
    ``backward_order`` (0 for the first node whose backward ran, then 1, 2, ...).
    """

    def __init__(self):
        self.inputs: tuple = ()
        self.needs_input_grad: tuple = ()
        self.input_versions: tuple = ()

    @classmethod
    def apply(cls, *inputs, **kwargs) -> "Tensor":
        """Run the op on tensors (or array-likes), recording the node if needed.

        Non-tensor inputs (Python numbers, float arrays) are converted to the dtype of the
        first float tensor input, so ``x * 2`` and ``x * np.ones(3)`` keep ``x``'s dtype.
        """
        like = next((t for t in inputs if isinstance(t, Tensor)), None)
        tensors = tuple(t if isinstance(t, Tensor) else Tensor._const(t, like) for t in inputs)
        fn = cls()
        needs = _state.grad_enabled and any(t.requires_grad for t in tensors)
        # known before forward, so an op may skip saving what only its backward would read
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
            fn.inputs = tensors
            fn.input_versions = tuple(t._version for t in tensors)
            fn.created, fn.scope = next(_creation), _state.scope
            result._ctx = fn
        if _anomaly_users and _state.anomaly:   # outside detect_anomaly(): one global load
            _anomaly.forward_hook(fn, tensors, kwargs, out, needs)
        return result

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def _release(self):
        """Drop what forward saved (called after backward unless ``retain_graph``).

        The node keeps the graph's structure but no arrays: leaf inputs (parameters) stay,
        and so do inputs whose gradient was asked for (``retain_grad``: their value and
        ``.grad`` stay readable); other non-leaf inputs are replaced by a
        :class:`_Released` record of their place in the graph, so the intermediate results
        can be freed once the caller lets go of them. What the pictures read (``created``,
        ``scope``, ``backward_order``) is kept.
        """
        inputs = tuple(t if t._ctx is None or getattr(t, "_retains_grad", False)
                       else _Released(t) for t in self.inputs)
        kept = {k: self.__dict__[k] for k in ("needs_input_grad", "input_versions", "created",
                                               "scope", "backward_order", "anomaly_trace")
                if k in self.__dict__}
        self.__dict__.clear()
        self.__dict__.update(kept)
        self.inputs, self.released = inputs, True


class _Released:
    """What a released node keeps of a non-leaf input: shape, dtype, name and the node
    that made it (the graph's structure), without the data."""

    __slots__ = ("shape", "dtype", "name", "requires_grad", "_ctx", "_version")

    def __init__(self, t):
        self.shape, self.dtype, self.name = t.shape, t.dtype, t.name
        self.requires_grad, self._ctx, self._version = t.requires_grad, t._ctx, t._version


def _toposort(root: "Tensor") -> list:
    """Tensors reachable from ``root`` through recorded nodes, inputs before outputs.

    Iterative depth-first search with an explicit stack (an unrolled RNN is thousands
    of nodes deep; recursion would hit Python's limit).
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        t, children_done = stack.pop()
        if children_done:
            order.append(t)            # post-order: after everything it depends on
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            for p in t._ctx.inputs:
                if p.requires_grad and id(p) not in visited:
                    stack.append((p, False))
    return order


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array-like or ndarray
        Python floats (and lists of them) become float32, Python ints become int64;
        an ndarray keeps its dtype (so float64 arrays give float64 tensors, which the
        gradient checks use).
    requires_grad : bool
        Record operations on this tensor so ``backward`` can compute ``.grad``.
        Only floating-point tensors may require grad.
    dtype : numpy dtype, optional
        Cast the data to this dtype.

    Raises
    ------
    TypeError
        ``requires_grad=True`` on a non-float dtype (token ids never require grad), or data
        that are not numbers (strings, None, objects, complex numbers, Python ints beyond
        int64): a Tensor holds bool, integer or float values only.
    ValueError
        Ragged nested lists (rows of different lengths).
    """

    __array_ufunc__ = None  # ``ndarray op Tensor`` defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, (np.ndarray, np.generic)):  # numpy arrays and scalars keep dtype
            arr = np.asarray(data) if dtype is None else np.asarray(data).astype(dtype, copy=False)
        else:
            arr = _from_python(data, dtype)
            if dtype is None and arr.dtype == np.float64:
                arr = arr.astype(np.float32)
        kind = arr.dtype.kind
        if kind not in "biuf":              # (op results skip this: see ``_result``)
            raise TypeError(
                f"Tensor: cannot hold {_describe(data)} (numpy dtype {arr.dtype}): a tensor "
                f"holds bool, integer (up to int64) or float numbers only (fix: convert the "
                f"data to numbers first, e.g. token ids via a vocabulary; join Tensors with "
                f"tinygrad_attn.stack)")
        if requires_grad and kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require grad, got dtype {arr.dtype}; "
                f"token ids and other integers never need gradients (fix: pass a float array "
                f"or requires_grad=False)")
        self._data: np.ndarray = arr
        self._version = 0  # bumped whenever ``data`` is assigned (see the property below)
        self.requires_grad: bool = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._ctx: Function | None = None
        self.name: str | None = None

    @property
    def data(self) -> np.ndarray:
        """The values (an ndarray). Assigning to it, including ``t.data -= lr * g`` (which
        Python runs as an assignment), bumps the tensor's version, so a graph that saved
        the old values refuses to backpropagate instead of giving a wrong gradient.
        Writing into the array's elements (``t.data[0] = 1``) is not tracked."""
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = value
        self._version += 1

    @staticmethod
    def _result(out, requires_grad: bool) -> "Tensor":
        """The tensor an op returns (``Function.apply``): ``out``, an array an op computed
        from numbers, wrapped without the constructor's checks of user data."""
        t = Tensor.__new__(Tensor)
        t._data = out if type(out) is np.ndarray else np.asarray(out)
        if requires_grad and t._data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require grad, got dtype "
                            f"{t._data.dtype} (fix: pass a float array or requires_grad=False)")
        t._version, t.requires_grad, t.grad, t._ctx, t.name = 0, requires_grad, None, None, None
        return t

    @staticmethod
    def _const(value, like: "Tensor | None") -> "Tensor":
        """A constant operand (a Python number or array) for an op with ``like``."""
        dtype = like.data.dtype if like is not None and like.data.dtype.kind == "f" else None
        if isinstance(value, np.ndarray):   # a float array adopts the tensor's float dtype
            return Tensor(value.astype(dtype) if dtype and value.dtype.kind == "f" else value)
        return Tensor(np.asarray(value, dtype=dtype) if dtype else value)

    # ----- basic properties -----
    shape = property(lambda self: self.data.shape, doc="Tuple of axis lengths.")
    ndim = property(lambda self: self.data.ndim, doc="Number of axes.")
    dtype = property(lambda self: self.data.dtype, doc="The numpy dtype.")
    size = property(lambda self: self.data.size, doc="Number of elements.")
    is_leaf = property(lambda self: self._ctx is None,
                       doc="True for tensors not made by a recorded op (parameters, inputs).")

    def float(self) -> "Tensor":
        """This tensor as float32 (PyTorch's ``x.float()``); the cast is differentiable
        (``ops.Cast``) and a float32 tensor is returned as it is."""
        return self if self.dtype == np.float32 else _ops.Cast.apply(self, dtype=np.float32)

    def double(self) -> "Tensor":
        """This tensor as float64 (PyTorch's ``x.double()``; gradient checks use it);
        differentiable, a float64 tensor is returned as it is."""
        return self if self.dtype == np.float64 else _ops.Cast.apply(self, dtype=np.float64)

    def long(self) -> "Tensor":
        """This tensor as int64 (PyTorch's ``x.long()``), e.g. token ids; floats are
        truncated toward zero. Integers carry no gradient, so the result has no graph."""
        return Tensor(self.data.astype(np.int64))

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number.
        Raises ValueError for a tensor of another size (naming its shape)."""
        if self.data.size != 1:
            raise ValueError(f"item: a tensor of shape {self.shape} has {self.size} elements, "
                             f"not 1, so it is not one number (fix: reduce it first, e.g. "
                             f".sum() or .mean(), or index one element)")
        return self.data.item()

    def __bool__(self) -> bool:
        """The truth of a one-element tensor (PyTorch's rule); RuntimeError for any other
        size, whose truth would be ambiguous (``if t:`` used to be True for ``[0.0]``)."""
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor of shape {self.shape} is "
                               f"ambiguous (fix: test its values explicitly, e.g. "
                               f"bool(t.data.any()) or bool(t.data.all()))")
        return bool(self.data.item())

    def __float__(self) -> float:
        """``float(t)`` of a one-element tensor (see :meth:`item`)."""
        return float(self.item())

    def __int__(self) -> int:
        """``int(t)`` of a one-element tensor (see :meth:`item`)."""
        return int(self.item())

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph (``requires_grad=False``)."""
        return Tensor(self.data)

    def __len__(self):
        """Length of the first axis; TypeError for a 0-d tensor (as PyTorch)."""
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor (fix: use .item() for its value or .size "
                            "for the number of elements)")
        return len(self.data)

    def __repr__(self):
        extra = ", requires_grad=True" if self.requires_grad else ""
        node = f", grad_fn={self._ctx.name}" if self._ctx is not None else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{extra}{node})"

    # ----- autograd -----
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute the gradient of this tensor w.r.t. every leaf that requires grad.

        Gradients are accumulated (added) into each leaf's ``.grad``, as PyTorch does.
        Every node's ``backward`` runs once; a tensor used by several ops gets the sum of
        the gradients from all its uses.

        Parameters
        ----------
        gradient : array-like, optional
            ``dL/dself``, same shape as ``self``. May be omitted only for a one-element
            tensor (a scalar loss), where it is 1.
        retain_graph : bool
            Keep what the nodes saved so ``backward`` can run through the graph again.

        Raises
        ------
        RuntimeError
            ``self`` does not require grad; ``self`` is not a scalar and no ``gradient``
            was given; or the graph was already freed by an earlier backward.
        """
        grads = {id(self): self._seed_gradient(gradient)}
        order = itertools.count()
        anomaly = _anomaly_users and _state.anomaly
        for t in reversed(_toposort(self)):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            fn = t._ctx
            if fn is None or getattr(t, "_retains_grad", False):
                t.grad = g.copy() if t.grad is None else t.grad + g
            if fn is None:
                continue
            if getattr(fn, "released", False):
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time (node "
                    f"{fn.name}); its saved values were freed after the first backward (fix: "
                    f"call backward(retain_graph=True) the first time)")
            changed = [i for i, (inp, v) in enumerate(zip(fn.inputs, fn.input_versions))
                       if inp._version != v]
            if changed:
                inp = fn.inputs[changed[0]]
                raise RuntimeError(
                    f"backward: input {changed[0]} of {fn.name} (shape {inp.shape}) was "
                    f"modified after the forward pass (its .data was assigned, e.g. by "
                    f"optimizer.step() or load_state_dict), so its saved value is stale and "
                    f"the gradient would be wrong (fix: compute the forward pass again after "
                    f"the update)")
            in_grads = fn.backward(g)
            fn.backward_order = next(order)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if anomaly:
                _anomaly.backward_hook(fn, g, in_grads)
            for inp, ig in zip(fn.inputs, in_grads):
                if ig is None or not inp.requires_grad:
                    continue
                ig = unbroadcast(np.asarray(ig, dtype=inp.data.dtype), inp.shape)
                key = id(inp)
                # out-of-place sum: an array handed out by one backward is never mutated
                grads[key] = ig if key not in grads else grads[key] + ig
            if not retain_graph:
                fn._release()

    def _seed_gradient(self, gradient) -> np.ndarray:
        """``dL/dself`` for ``backward``: ones for a one-element tensor when ``gradient`` is
        None, else ``gradient`` as an array of self's dtype and shape. Raises RuntimeError
        (no graph, a non-scalar without gradient, a gradient of another shape) and
        TypeError (a gradient that is not numbers), each naming the fix."""
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
            return np.ones_like(self.data)
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
        return arr.astype(self.data.dtype, copy=False)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (PyTorch's name)."""
        self._retains_grad = True

    def zero_grad(self) -> None:
        """Set ``.grad`` to None."""
        self.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: dtype {self.dtype} is not floating point")
        self.requires_grad = requires_grad
        return self

    # ----- operators and methods: each is one op of tinygrad_attn.ops -----
    def __add__(self, other): return _ops.Add.apply(self, other)
    def __radd__(self, other): return _ops.Add.apply(other, self)
    def __sub__(self, other): return _ops.Sub.apply(self, other)
    def __rsub__(self, other): return _ops.Sub.apply(other, self)
    def __mul__(self, other): return _ops.Mul.apply(self, other)
    def __rmul__(self, other): return _ops.Mul.apply(other, self)
    def __truediv__(self, other): return _ops.Div.apply(self, other)
    def __rtruediv__(self, other): return _ops.Div.apply(other, self)
    def __pow__(self, other): return _ops.Pow.apply(self, other)
    def __rpow__(self, other): return _ops.Pow.apply(other, self)
    def __neg__(self): return _ops.Neg.apply(self)
    def __matmul__(self, other): return self.matmul(other)
    def __rmatmul__(self, other): return Tensor._const(other, self).matmul(self)
    def __getitem__(self, index): return _ops.GetItem.apply(self, index=_plain_index(index))

    def exp(self) -> "Tensor":
        """Elementwise e^x (``ops.Exp``)."""
        return _ops.Exp.apply(self)

    def log(self) -> "Tensor":
        """Elementwise natural log (``ops.Log``); -inf at 0, NaN below."""
        return _ops.Log.apply(self)

    def tanh(self) -> "Tensor":
        """Elementwise tanh (``ops.Tanh``)."""
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        """Elementwise logistic sigmoid, overflow-free (``ops.Sigmoid``)."""
        return _ops.Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        """Elementwise max(x, 0) (``ops.ReLU``)."""
        return _ops.ReLU.apply(self)

    def neg(self) -> "Tensor":
        """Elementwise -x."""
        return _ops.Neg.apply(self)

    def masked_fill(self, mask, value: float) -> "Tensor":
        """Where the boolean ``mask`` (broadcastable to self) is True, ``value``; else self."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        return _ops.MaskedFill.apply(self, Tensor(mask), value=value)

    def sum(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> "Tensor":
        """Sum over ``axis`` (None: all; int or tuple; negatives allowed). PyTorch's
        ``dim`` / ``keepdim`` are accepted for ``axis`` / ``keepdims``."""
        axis, keepdims = _torch_names("sum", axis, keepdims, dim, keepdim)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> "Tensor":
        """Mean over ``axis`` (None: all; int or tuple); ``dim`` / ``keepdim`` as in PyTorch."""
        axis, keepdims = _torch_names("mean", axis, keepdims, dim, keepdim)
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum over ``axis``; ties share the gradient equally (``ops.Max``)."""
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape) -> "Tensor":
        """The same elements in a new shape (one axis may be -1)."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
            raise TypeError(f"reshape: the new shape must be ints, got {shape} (fix: e.g. "
                            f"x.reshape(2, -1))")
        try:
            return _ops.Reshape.apply(self, shape=shape)
        except ValueError:
            raise ValueError(f"reshape: a tensor of shape {self.shape} ({self.size} elements) "
                             f"cannot be viewed as {shape} (fix: the new shape must hold "
                             f"{self.size} elements; one axis may be -1)") from None

    def permute(self, *dims) -> "Tensor":
        """Reorder the axes: ``y.shape[i] == x.shape[dims[i]]``."""
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if any(not -self.ndim <= d < self.ndim for d in dims) or \
                sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {self.ndim} "
                             f"axes of a tensor of shape {self.shape}")
        return _ops.Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> "Tensor":
        """Swap two axes (default: the last two, as for a batch of matrices)."""
        for d in (dim0, dim1):
            _int_axis("transpose", d)
            if not -self.ndim <= d < self.ndim:
                raise ValueError(f"transpose: axis {d} is out of range for shape {self.shape} "
                                 f"(fix: use an axis in [-{self.ndim}, {self.ndim - 1}])")
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self) -> "Tensor":
        """All axes reversed (the matrix transpose for 2-D)."""
        return self.permute(tuple(reversed(range(self.ndim))))

    def matmul(self, other) -> "Tensor":
        """Matrix product with numpy's rules: 1-D operands are promoted and the added
        axis removed; batch axes broadcast. (N..., M, K) @ (N..., K, P) -> (N..., M, P).

        Raises ValueError when the inner dimensions differ (``kernels.matmul``).
        """
        other = other if isinstance(other, Tensor) else Tensor._const(other, self)
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dim, got shapes "
                             f"{self.shape} and {other.shape} (fix: use * for scalars)")
        a = self.reshape(1, -1) if self.ndim == 1 else self
        b = other.reshape(-1, 1) if other.ndim == 1 else other
        out = _ops.MatMul.apply(a, b)
        if self.ndim == 1:
            out = out.reshape(out.shape[:-2] + out.shape[-1:])
        if other.ndim == 1:
            out = out.reshape(out.shape[:-1])
        return out

    def abs(self) -> "Tensor":
        """Elementwise |x| (``ops.Abs``)."""
        return _ops.Abs.apply(self)

    def sqrt(self) -> "Tensor":
        """Elementwise square root (``ops.Sqrt``)."""
        return _ops.Sqrt.apply(self)

    def clamp(self, min=None, max=None) -> "Tensor":
        """Limit every element to [min, max] (either may be None) (``ops.Clamp``)."""
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        return _ops.Clamp.apply(self, lo=min, hi=max)

    def maximum(self, other) -> "Tensor":
        """Elementwise max with ``other`` (broadcast); ties share the gradient."""
        return _ops.Maximum.apply(self, other)

    def minimum(self, other) -> "Tensor":
        """Elementwise min with ``other`` (broadcast); ties share the gradient."""
        return _ops.Minimum.apply(self, other)

    def min(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Minimum over ``axis``; ties share the gradient equally (``ops.Min``)."""
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, correction: int = 1, keepdims: bool = False, *, dim=None,
            keepdim=None) -> "Tensor":
        """Variance over ``axis``: sum((x - mean)^2) / (n - correction); ``correction=1``
        is the unbiased estimate (PyTorch's default). Composed from primitive ops.
        ``dim`` / ``keepdim`` as in PyTorch."""
        axis, keepdims = _torch_names("var", axis, keepdims, dim, keepdim)
        axes = _ops._axes(axis, self.ndim, "var")
        n = int(np.prod([self.shape[a] for a in axes])) if self.ndim else 1
        centered = self - self.mean(axis=axes, keepdims=True)
        return (centered * centered).sum(axis=axes, keepdims=keepdims) / max(n - correction, 0)

    def logsumexp(self, axis=None, keepdims: bool = False, *, dim=None,
                  keepdim=None) -> "Tensor":
        """log(sum(exp(x))) over ``axis``, stable for any magnitude (``ops.LogSumExp``);
        ``dim`` / ``keepdim`` as in PyTorch."""
        axis, keepdims = _torch_names("logsumexp", axis, keepdims, dim, keepdim)
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> "Tensor":
        """Index of the largest element over ``axis`` (one int or None; int64; no gradient);
        ``dim`` / ``keepdim`` as in PyTorch. Raises AxisError for an axis that does not
        exist, ValueError for an empty tensor."""
        axis, keepdims = _torch_names("argmax", axis, keepdims, dim, keepdim)
        if axis is not None:
            if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
                raise TypeError(f"argmax: axis must be one int or None, got {axis!r} (fix: "
                                f"reduce one axis at a time)")
            _ops._axes(axis, self.ndim, "argmax")
        if self.size == 0:
            raise ValueError(f"argmax: the tensor of shape {self.shape} is empty, so it has no "
                             f"largest element (fix: check the axis lengths)")
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def broadcast_to(self, *shape) -> "Tensor":
        """A read-only broadcast of self to ``shape`` (``ops.BroadcastTo``)."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {self.shape} cannot be broadcast to {shape} "
                             f"(fix: only size-1 axes and missing leading axes can grow)") from None
        return _ops.BroadcastTo.apply(self, shape=shape)

    def expand(self, *shape) -> "Tensor":
        """PyTorch's name for ``broadcast_to``; -1 keeps an axis's size."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return self.broadcast_to(shape)

    def squeeze(self, axis=None) -> "Tensor":
        """Drop size-1 axes (all, or the given one(s))."""
        axes = range(self.ndim) if axis is None else _ops._axes(axis, self.ndim, "squeeze")
        keep = [n for i, n in enumerate(self.shape) if not (i in axes and n == 1)]
        return self.reshape(tuple(keep))

    def unsqueeze(self, axis: int) -> "Tensor":
        """Insert a size-1 axis at ``axis`` (negative counts from the new end)."""
        _int_axis("unsqueeze", axis)
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for shape {self.shape} "
                             f"(fix: use an axis in [-{self.ndim + 1}, {self.ndim}])")
        axis = axis % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def flip(self, axis) -> "Tensor":
        """Reverse the order of elements along ``axis`` (int or tuple) (``ops.Flip``)."""
        return _ops.Flip.apply(self, axes=_ops._axes(axis, self.ndim, "flip"))

    def split(self, split_size_or_sections, axis: int = 0) -> list:
        """Pieces along ``axis``: of size ``split_size`` each (the last may be smaller) or
        of the listed sizes (PyTorch's ``torch.split``). Each piece is a slice (GetItem).
        Raises AxisError for a missing axis, ValueError for sizes that are not positive
        or sections that do not add up to the axis length."""
        n = self.shape[_ops._axes(axis, self.ndim, "split")[0]]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = split_size_or_sections
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size} (fix: "
                                 f"pass the length of each piece, >= 1)")
            sizes = [min(size, n - i) for i in range(0, n, size)]
        else:
            sizes = list(split_size_or_sections)
            if any(k < 0 for k in sizes) or sum(sizes) != n:
                raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but axis {axis} "
                                 f"has length {n} (fix: make them add up to {n})")
        pieces, start = [], 0
        lead = (slice(None),) * (axis % self.ndim)
        for k in sizes:
            pieces.append(self[lead + (slice(start, start + k),)])
            start += k
        return pieces

    def chunk(self, chunks: int, axis: int = 0) -> list:
        """Split into ``chunks`` pieces of size ceil(n / chunks) along ``axis``.
        Raises ValueError when chunks < 1."""
        if not isinstance(chunks, (int, np.integer)) or chunks < 1:
            raise ValueError(f"chunk: chunks must be an int >= 1, got {chunks!r} (fix: the "
                             f"number of pieces, e.g. 2)")
        n = self.shape[_ops._axes(axis, self.ndim, "chunk")[0]]
        return self.split(max(-(-n // chunks), 1), axis)

    def gather(self, axis: int, index) -> "Tensor":
        """PyTorch's ``torch.gather``: out[..., j, ...] = self[..., index[..., j, ...], ...]
        along ``axis``; ``index`` is an int array of self's ndim (``ops.Gather``)."""
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        if index.dtype.kind not in "iu" or index.ndim != self.ndim:
            raise ValueError(f"gather: index must be an integer array with {self.ndim} dims, "
                             f"got {index.dtype} with shape {index.shape}")
        axis = _ops._axes(axis, self.ndim, "gather")[0]
        n = self.shape[axis]
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"gather: index values must be in [-{n}, {n - 1}] for axis {axis} "
                             f"of shape {self.shape}, got [{index.min()}, {index.max()}] (fix: "
                             f"check the ids against the axis length)")
        return _ops.Gather.apply(self, Tensor(index), axis=axis)

    def softmax(self, axis: int = -1, *, dim=None) -> "Tensor":
        """Softmax along ``axis`` (``ops.Softmax``); PyTorch's ``dim`` is accepted."""
        axis, _ = _torch_names("softmax", axis if dim is None else None, False, dim, None)
        axis = -1 if axis is None else axis
        _ops._axes(axis, self.ndim, "softmax")
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1, *, dim=None) -> "Tensor":
        """Log-softmax along ``axis`` (``ops.LogSoftmax``); PyTorch's ``dim`` is accepted."""
        axis, _ = _torch_names("log_softmax", axis if dim is None else None, False, dim, None)
        axis = -1 if axis is None else axis
        _ops._axes(axis, self.ndim, "log_softmax")
        return _ops.LogSoftmax.apply(self, axis=axis)


def _torch_names(op: str, axis, keepdims, dim, keepdim):
    """(axis, keepdims) from numpy's names or PyTorch's ``dim`` / ``keepdim`` (either, not
    both). Raises TypeError when both name the same thing."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r} (fix: pass one)")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{op}: got both keepdims and keepdim (fix: pass one)")
        keepdims = keepdim
    return axis, bool(keepdims)


def _int_axis(op: str, axis) -> None:
    """TypeError naming ``op`` unless ``axis`` is an int (not a bool, float or string)."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__} {axis!r} "
                        f"(fix: e.g. -1 for the last axis)")


def _describe(data) -> str:
    """A short description of a constructor argument for error messages."""
    text = repr(data)
    return f"{type(data).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def _from_python(data, dtype) -> np.ndarray:
    """``np.asarray(data)`` for Python data, then cast to ``dtype`` when one is given, with
    one-line errors for ragged lists (ValueError) and for values that are not numbers
    (TypeError: numpy would turn ``None`` into NaN and ``"1"`` into 1.0 under a float
    dtype, silently)."""
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError(f"Tensor: the nested lists of {_describe(data)} are ragged (rows "
                             f"of different lengths), so they do not form an array (fix: pad "
                             f"every row to the same length)") from None
        raise TypeError(f"Tensor: cannot convert {_describe(data)} to an array ({e}) (fix: "
                        f"pass numbers)") from None
    if dtype is None or arr.dtype.kind not in "biuf":
        return arr                          # a non-number is refused by the caller
    return arr.astype(dtype, copy=False)


def _plain_index(index):
    """Turn Tensors and lists inside an index into ndarrays (numpy semantics)."""
    def conv(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``); all other axes must agree.

    Raises ValueError naming the shapes when they do not fit together.
    """
    tensors = list(tensors)
    shapes = [t.shape for t in tensors]
    if tensors and (tensors[0].ndim == 0 or not -tensors[0].ndim <= axis < tensors[0].ndim):
        raise ValueError(f"concat: axis {axis} does not exist in tensors of shapes {shapes} "
                         f"(fix: 0-d tensors cannot be joined: use stack, or pick an axis in "
                         f"[-ndim, ndim - 1])")
    if not tensors or len({len(s) for s in shapes}) != 1 or len(
            {s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}) != 1:
        raise ValueError(f"concat: shapes {shapes} cannot be joined along axis {axis}: every "
                         f"other axis must match (fix: reshape or slice the inputs)")
    return _ops.Concat.apply(*tensors, axis=axis)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` else ``b`` (all broadcast; ``ops.Where``)."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    like = next((v for v in (a, b) if isinstance(v, Tensor)), None)
    a = a if isinstance(a, Tensor) else Tensor._const(a, like)
    b = b if isinstance(b, Tensor) else Tensor._const(b, like)
    return _ops.Where.apply(Tensor(cond), a, b)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis (``torch.stack``)."""
    tensors = list(tensors)
    if tensors and not -tensors[0].ndim - 1 <= axis <= tensors[0].ndim:
        raise ValueError(f"stack: axis {axis} is out of range for the new {tensors[0].ndim + 1}-d "
                         f"result (fix: use an axis in [-{tensors[0].ndim + 1}, {tensors[0].ndim}])")
    if not tensors or len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in tensors]} "
                         f"(fix: pad or reshape the inputs)")
    return _ops.Stack.apply(*tensors, axis=axis)


from . import anomaly as _anomaly  # noqa: E402  (anomaly imports _state from this module)
from . import ops as _ops  # noqa: E402  (ops imports Function and Tensor from this module)
