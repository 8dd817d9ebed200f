"""The Tensor: an ndarray that records the ops applied to it, and its array API.

A ``Tensor`` wraps a ``numpy.ndarray``. Every operation on tensors goes through
``Function.apply`` (:mod:`tinygrad_attn.autograd`, the engine core), which records the node
that made the result as ``grad_fn``; ``Tensor.backward`` hands the graph to
``autograd.backward``. The ops themselves live in :mod:`tinygrad_attn.ops`; grad mode and
scopes in :mod:`tinygrad_attn.grad_mode`. This module is the user-facing array API: the
constructor and its checks, operators and methods, and ``concat``/``stack``/``where``.
"""
from __future__ import annotations

import collections
import functools

import numpy as np

from . import autograd, checks
from .autograd import Function, unbroadcast  # noqa: F401  (re-exported: tinygrad_attn.tensor.Function)
from .grad_mode import is_grad_enabled, no_grad, scope  # noqa: F401  (re-exported)


def _accepts_dim(name: str):
    """Let a function whose axis argument has numpy's name ``axis`` take PyTorch's name
    (``dim``, or ``dims`` for ``flip``) as a keyword too. Raises TypeError for both."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if name in kwargs:
                if "axis" in kwargs:
                    raise TypeError(f"{fn.__name__}: got both axis and {name} (fix: pass one)")
                kwargs["axis"] = kwargs.pop(name)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


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
        self.grad_fn: Function | None = None
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
        t._version, t.requires_grad, t.grad, t.grad_fn, t.name = 0, requires_grad, None, None, None
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
    is_leaf = property(lambda self: self.grad_fn is None,
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
        node = f", grad_fn={self.grad_fn.name}" if self.grad_fn is not None else ""
        values = np.array2string(self.data, precision=4, threshold=20)
        return f"Tensor({values}, dtype={self.dtype}{extra}{node})"

    # ----- autograd -----
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False) -> None:
        """Compute the gradient of this tensor w.r.t. every leaf that requires grad and add
        it into the leaf's ``.grad`` (PyTorch's ``Tensor.backward``).

        Every node's rule runs once; a tensor used by several ops gets the sum of the
        gradients from all its uses (:func:`tinygrad_attn.autograd.backward`).

        Parameters
        ----------
        gradient : array-like or Tensor, optional
            ``dL/dself``, same shape as ``self``. May be omitted only for a one-element
            tensor (a scalar loss), where it is 1.
        retain_graph : bool, optional
            Keep what the nodes saved so ``backward`` can run through the graph again
            (default: ``create_graph``).
        create_graph : bool
            Record the graph of the derivative: ``.grad`` is then a Tensor with a
            ``grad_fn`` that can be differentiated again (higher-order derivatives);
            otherwise ``.grad`` is an ndarray.

        Raises
        ------
        RuntimeError
            ``self`` does not require grad; ``self`` is not a scalar and no ``gradient``
            was given; or the graph was already freed by an earlier backward.
        """
        seed = checks.seed_gradient(self, gradient, create_graph)
        retain = create_graph if retain_graph is None else retain_graph
        autograd.backward([self], [seed], retain, create_graph, _accumulate)

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

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Maximum over ``axis`` (None: all; int or tuple); ties share the gradient equally
        (``ops.Max``). With PyTorch's ``dim`` (one int) the result is PyTorch's
        ``(values, indices)`` pair instead (see :meth:`_with_indices`)."""
        if dim is not None:
            return self._with_indices("max", axis, dim, keepdim)
        axis, keepdims = _torch_names("max", axis, keepdims, None, keepdim)
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Minimum over ``axis``; ties share the gradient equally (``ops.Min``). With
        ``dim``: PyTorch's ``(values, indices)`` pair (see :meth:`_with_indices`)."""
        if dim is not None:
            return self._with_indices("min", axis, dim, keepdim)
        axis, keepdims = _torch_names("min", axis, keepdims, None, keepdim)
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def _with_indices(self, op: str, axis, dim, keepdim) -> "ValuesIndices":
        """PyTorch's ``torch.max(x, dim)`` / ``torch.min(x, dim)``: ``values`` (a Tensor) and
        ``indices`` (int64, the first extreme along ``dim``); the gradient flows to the
        element at ``indices`` only (``gather``), as in PyTorch. Raises TypeError for
        ``axis`` and ``dim`` together or a ``dim`` that is not one int, AxisError for a
        missing axis, ValueError for an empty tensor."""
        if axis is not None:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r} (fix: pass one)")
        _int_axis(op, dim)
        dim = _ops._axes(dim, self.ndim, op)[0]
        if self.size == 0:
            raise ValueError(f"{op}: cannot reduce an empty tensor of shape {self.shape} "
                             f"(fix: check the axis lengths)")
        pick = np.argmax if op == "max" else np.argmin
        index = pick(self.data, axis=dim, keepdims=True)
        values = self.gather(dim, index)
        if not keepdim:
            values, index = values.squeeze(dim), np.squeeze(index, dim)
        return ValuesIndices(values, Tensor(index.astype(np.int64)))

    def reshape(self, *shape) -> "Tensor":
        """The same elements in a new shape (one axis may be -1)."""
        shape = _shape_args(shape)
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
        dims = _shape_args(dims)
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
        shape = _shape_args(shape)
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {self.shape} cannot be broadcast to {shape} "
                             f"(fix: only size-1 axes and missing leading axes can grow)") from None
        return _ops.BroadcastTo.apply(self, shape=shape)

    def expand(self, *shape) -> "Tensor":
        """PyTorch's name for ``broadcast_to``; -1 keeps an axis's size."""
        shape = _shape_args(shape)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return self.broadcast_to(shape)

    @_accepts_dim("dim")
    def squeeze(self, axis=None) -> "Tensor":
        """Drop size-1 axes (all, or the given one(s))."""
        axes = range(self.ndim) if axis is None else _ops._axes(axis, self.ndim, "squeeze")
        keep = [n for i, n in enumerate(self.shape) if not (i in axes and n == 1)]
        return self.reshape(tuple(keep))

    @_accepts_dim("dim")
    def unsqueeze(self, axis: int) -> "Tensor":
        """Insert a size-1 axis at ``axis`` (negative counts from the new end)."""
        _int_axis("unsqueeze", axis)
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for shape {self.shape} "
                             f"(fix: use an axis in [-{self.ndim + 1}, {self.ndim}])")
        axis = axis % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    @_accepts_dim("dims")
    def flip(self, axis) -> "Tensor":
        """Reverse the order of elements along ``axis`` (int or tuple) (``ops.Flip``)."""
        return _ops.Flip.apply(self, axes=_ops._axes(axis, self.ndim, "flip"))

    @_accepts_dim("dim")
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

    @_accepts_dim("dim")
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


ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "``(values, indices)`` of ``max``/``min`` with ``dim`` (PyTorch's pair)."


def _accumulate(t: Tensor, g) -> None:
    """``backward``'s sink: add a complete gradient into ``.grad`` of a leaf or of a tensor
    that called ``retain_grad()`` (an array is copied on first write: none is shared)."""
    if t.grad_fn is None or getattr(t, "_retains_grad", False):
        first = g.copy() if isinstance(g, np.ndarray) else g
        t.grad = first if t.grad is None else t.grad + g


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


def _shape_args(shape: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the shape given as several ints or as one
    tuple/list (PyTorch's reshape, expand, broadcast_to and permute accept both)."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


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


@_accepts_dim("dim")
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


@_accepts_dim("dim")
def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis (``torch.stack``)."""
    tensors = list(tensors)
    if tensors and not -tensors[0].ndim - 1 <= axis <= tensors[0].ndim:
        n = tensors[0].ndim
        raise ValueError(f"stack: axis {axis} is out of range for the new {n + 1}-d result "
                         f"(fix: use an axis in [-{n + 1}, {n}])")
    if not tensors or len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in tensors]} "
                         f"(fix: pad or reshape the inputs)")
    return _ops.Stack.apply(*tensors, axis=axis)


cat = concat            # PyTorch's name (torch.cat)

from . import ops as _ops  # noqa: E402  (ops imports Function and Tensor from this module)
