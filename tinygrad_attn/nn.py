"""Layers: ``Module``, ``Parameter``, ``Linear``, ``Embedding``, ``LSTMCell``, ``LSTM``,
``LuongAttention``, and ``clip_grad_norm_``. Names, arguments and state-dict layouts
follow PyTorch's ``torch.nn`` so that learners (and weights) move between the two.

Shapes use the book's letters: N batch, T time (target), S source length, D input
size, H hidden size, V vocabulary.
"""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import ops
from .random import generator, manual_seed  # noqa: F401  (manual_seed re-exported)
from .tensor import Tensor, stack


def _uniform(shape, bound, dtype=np.float32):
    return generator().uniform(-bound, bound, size=shape).astype(dtype)


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
    module calls ``forward``.
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
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
            Listing every problem: missing or unexpected keys (only when ``strict``) and
            every shape mismatch (always).
        """
        own = dict(self.named_parameters())
        problems = []
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        for k, p in own.items():
            if k in state_dict and tuple(np.shape(state_dict[k])) != p.shape:
                problems.append(f"{k}: checkpoint shape {tuple(np.shape(state_dict[k]))} != "
                                f"model shape {p.shape}")
        if problems:
            raise ValueError(
                f"load_state_dict into {type(self).__name__}: " + "; ".join(problems) +
                " (fix: build the model with the same sizes as the checkpoint; the model "
                "was left unchanged)")
        for k, p in own.items():
            if k in state_dict:
                p.data = np.array(state_dict[k], dtype=p.dtype)

    def num_parameters(self) -> int:
        """Total number of scalar weights."""
        return sum(p.size for p in self.parameters())


class Linear(Module):
    """y = x W^T + b (PyTorch's ``nn.Linear``; Rosenblatt's affine layer).

    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,), both
    initialised U(-1/sqrt(in), 1/sqrt(in)) as PyTorch does. Input (..., in) float32,
    output (..., out).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        bound = 1 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform((out_features, in_features), bound))
        self.bias = Parameter(_uniform((out_features,), bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): input has last "
                             f"axis {x.shape[-1]} (shape {x.shape}), expected "
                             f"{self.in_features} (fix: check the previous layer's size)")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y


class Embedding(Module):
    """A lookup table (PyTorch's ``nn.Embedding``): ids (any shape, int) -> ids.shape + (D,).

    Parameter ``weight`` (num_embeddings V, embedding_dim D), initialised N(0, 1).
    Errors on float or out-of-range ids: see :func:`tinygrad_attn.functional.embedding`.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(generator().standard_normal((num_embeddings, embedding_dim)))

    def forward(self, ids) -> Tensor:
        return F.embedding(ids, self.weight)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One LSTM step composed from primitive ops (the readable, teaching path).

    x (N, D), h and c (N, H); weights as in :class:`LSTMCell`. Returns (h', c'), each (N, H).
    Math (gate order i, f, g, o, as PyTorch's ``nn.LSTM`` docs):
    ``z = x W_ih^T + b_ih + h W_hh^T + b_hh``; ``i, f, o = sigmoid``, ``g = tanh``;
    ``c' = f * c + i * g``; ``h' = o * tanh(c')``.
    """
    H = h.shape[-1]
    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f = z[:, :H].sigmoid(), z[:, H:2 * H].sigmoid()
    g, o = z[:, 2 * H:3 * H].tanh(), z[:, 3 * H:].sigmoid()
    c_new = f * c + i * g
    return o * c_new.tanh(), c_new


def _gate_parameters(gates: int, input_size: int, hidden_size: int):
    """W_ih (gH, D), W_hh (gH, H), b_ih, b_hh (gH,), all U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's)."""
    k, G = 1 / math.sqrt(hidden_size), gates * hidden_size
    return (Parameter(_uniform((G, input_size), k)), Parameter(_uniform((G, hidden_size), k)),
            Parameter(_uniform((G,), k)), Parameter(_uniform((G,), k)))


class LSTMCell(Module):
    """One LSTM step (PyTorch's ``nn.LSTMCell``), composed from primitive ops.

    Parameters ``weight_ih`` (4H, D), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh`` (4H,),
    gate order i, f, g, o; init U(-1/sqrt(H), 1/sqrt(H)).
    forward(x (N, D), (h, c) each (N, H) or None for zeros) -> (h', c').
    """

    def __init__(self, input_size: int, hidden_size: int):
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = _gate_parameters(
            4, input_size, hidden_size)

    def forward(self, x: Tensor, hx=None):
        if hx is None:
            z = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
            hx = (z, z)
        return lstm_cell(x, hx[0], hx[1], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode, identity in eval mode
    (PyTorch's ``nn.Dropout``; see :func:`tinygrad_attn.functional.dropout`)."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (Ba et al. 2016),
    with learnable ``weight`` (ones) and ``bias`` (zeros) of that shape (PyTorch's
    ``nn.LayerNorm``; see :func:`tinygrad_attn.functional.layer_norm`)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh"):
    """One Elman RNN step from primitive ops (PyTorch's ``nn.RNNCell``):
    ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu). x (N, D), h (N, H) -> (N, H)."""
    a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return a.tanh() if nonlinearity == "tanh" else a.relu()


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """One GRU step from primitive ops (Cho et al. 2014, eq. 5-8, in PyTorch's form with
    gate order r, z, n): ``r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)``, likewise z,
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``, ``h' = (1 - z) * n + z * h``.
    x (N, D), h (N, H) -> (N, H)."""
    H = h.shape[-1]
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    r = (gi[:, :H] + gh[:, :H]).sigmoid()
    z = (gi[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
    n = (gi[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
    return (1 - z) * n + z * h


class RNNCell(Module):
    """One Elman RNN step (PyTorch's ``nn.RNNCell``): parameters ``weight_ih`` (H, D),
    ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh`` (H,). forward(x (N, D), h (N, H) or None)."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = _gate_parameters(
            1, input_size, hidden_size)

    def forward(self, x: Tensor, h=None) -> Tensor:
        h = h if h is not None else Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        return rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                        self.nonlinearity)


class GRUCell(Module):
    """One GRU step (PyTorch's ``nn.GRUCell``): ``weight_ih`` (3H, D), ``weight_hh`` (3H, H),
    ``bias_ih``, ``bias_hh`` (3H,), gate order r, z, n. forward(x (N, D), h (N, H) or None)."""

    def __init__(self, input_size: int, hidden_size: int):
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh = _gate_parameters(
            3, input_size, hidden_size)

    def forward(self, x: Tensor, h=None) -> Tensor:
        h = h if h is not None else Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class _StackedRecurrent(Module):
    """Shared body of ``RNN``, ``GRU`` and ``LSTM``: ``num_layers`` layers, optionally
    bidirectional, dropout between layers in training mode; by default each layer is
    unrolled from the subclass's cell function with primitive ops (``LSTM`` overrides
    ``_run`` to use its fused node). PyTorch's parameter names: ``weight_ih_l{k}[_reverse]`` etc.

    forward(x (N, T, D), h0 (L * dirs, N, H) or None) -> output (N, T, dirs * H) and
    h_n (L * dirs, N, H), ordered layer by layer, forward direction first (PyTorch's).
    """

    GATES = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, batch_first: bool = True):
        if not batch_first:
            raise NotImplementedError(f"{type(self).__name__}: only batch_first=True")
        if num_layers < 1 or not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be >= 1 and dropout in "
                             f"[0, 1], got {num_layers} and {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.batch_first = bidirectional, dropout, batch_first
        self.directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size * self.directions
            for suffix in ("", "_reverse")[:self.directions]:
                w_ih, w_hh, b_ih, b_hh = _gate_parameters(self.GATES, d_in, hidden_size)
                setattr(self, f"weight_ih_l{layer}{suffix}", w_ih)
                setattr(self, f"weight_hh_l{layer}{suffix}", w_hh)
                setattr(self, f"bias_ih_l{layer}{suffix}", b_ih)
                setattr(self, f"bias_hh_l{layer}{suffix}", b_hh)

    def _cell(self, x, h, *weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(self, x, state, weights, reverse: bool):
        """One layer in one direction: x (N, T, D_in) -> outputs (N, T, H), final state."""
        T = x.shape[1]
        hs, h = [None] * T, state
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h = self._cell(x[:, t], h, *weights)
            hs[t] = h
        return stack(hs, axis=1), h

    def _states(self, h0, N, dtype):
        """The initial state of each (layer, direction), in PyTorch's order."""
        L, dirs, H = self.num_layers, self.directions, self.hidden_size
        if h0 is None:
            zeros = Tensor(np.zeros((N, H), dtype=dtype))
            return [zeros] * (L * dirs)
        if tuple(h0.shape) != (L * dirs, N, H):
            raise ValueError(f"{type(self).__name__}: h0 must be ({L * dirs}, {N}, {H}), got "
                             f"{h0.shape}")
        return [h0[i] for i in range(L * dirs)]

    def _final(self, states):
        return stack(states, axis=0)

    def forward(self, x: Tensor, h0=None):
        name = type(self).__name__
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{name}: input must be (N, T, {self.input_size}), got {x.shape} "
                             f"(fix: batch_first layout, last axis = input_size)")
        if x.shape[1] == 0:
            raise ValueError(f"{name}: the input {x.shape} has no time steps (T = 0), so there "
                             f"is no final state (fix: drop empty sequences before the layer)")
        states = self._states(h0, x.shape[0], x.dtype)
        layer_in, finals = x, []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self.directions]):
                weights = [getattr(self, f"{n}_l{layer}{suffix}")
                           for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                out, final = self._run(layer_in, states[layer * self.directions + d],
                                       weights, reverse=d == 1)
                outs.append(out)
                finals.append(final)
            layer_in = outs[0] if self.directions == 1 else F.concat(outs, axis=-1)
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        return layer_in, self._final(finals)


class LSTM(_StackedRecurrent):
    """LSTM layers over whole sequences (PyTorch's ``nn.LSTM``, ``batch_first=True``).

    Parameters ``weight_ih_l{k}`` (4H, D), ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (4H,) (and ``..._reverse`` when bidirectional), gate order i, f, g, o:
    PyTorch's names and layout; init U(-1/sqrt(H), 1/sqrt(H)).

    forward(x, hx=None)
        x : Tensor (N, T, D) float. hx : optional (h0, c0), each (L * dirs, N, H); zeros if
        None. Returns ``output`` (N, T, dirs * H) (every hidden state of the last layer) and
        ``(h_n, c_n)``, each (L * dirs, N, H).

    ``fused=True`` (default) runs each layer and direction as one node with a hand-written
    backward (:class:`tinygrad_attn.ops.LSTMSequence`; the reverse direction runs on the
    time-flipped input); ``fused=False`` unrolls :func:`lstm_cell` from primitive ops, which
    a learner can follow op by op. Both give the same values and gradients. Math:
    Hochreiter & Schmidhuber (1997), with a forget gate (Gers et al. 2000).

    Raises ValueError for a non-3-D or empty input, a wrong input size or state shape.
    """

    GATES = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 batch_first: bool = True, fused: bool = True, bidirectional: bool = False,
                 dropout: float = 0.0):
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout, batch_first)
        self.fused = fused

    def _states(self, hx, N, dtype):
        if hx is None:
            return [(h, h) for h in super()._states(None, N, dtype)]
        hs, cs = super()._states(hx[0], N, dtype), super()._states(hx[1], N, dtype)
        return list(zip(hs, cs))

    def _run(self, x, state, weights, reverse: bool):
        T = x.shape[1]
        if not self.fused:   # the teaching path: one lstm_cell per step
            (h, c), hs = state, [None] * T
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
                h, c = lstm_cell(x[:, t], h, c, *weights)
                hs[t] = h
            return stack(hs, axis=1), (h, c)
        hc = ops.LSTMSequence.apply(x.flip(1) if reverse else x, state[0], state[1], *weights)
        out, final = hc[0], (hc[0][:, T - 1], hc[1][:, T - 1])   # hc: (2, N, T, H)
        return (out.flip(1) if reverse else out), final

    def _final(self, states):
        return stack([h for h, _ in states], axis=0), stack([c for _, c in states], axis=0)


class RNN(_StackedRecurrent):
    """Elman RNN layers (PyTorch's ``nn.RNN``, batch first); see ``_StackedRecurrent``.
    ``nonlinearity`` is 'tanh' (default) or 'relu'. Math: Elman (1990)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bidirectional: bool = False, dropout: float = 0.0,
                 batch_first: bool = True):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout, batch_first)

    def _cell(self, x, h, *weights):
        return rnn_cell(x, h, *weights, nonlinearity=self.nonlinearity)


class GRU(_StackedRecurrent):
    """GRU layers (PyTorch's ``nn.GRU``, batch first; gate order r, z, n); see
    ``_StackedRecurrent`` and :func:`gru_cell`. Math: Cho et al. (2014)."""

    GATES = 3

    def _cell(self, x, h, *weights):
        return gru_cell(x, h, *weights)


class LuongAttention(Module):
    """Global attention of Luong, Pham & Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation", sec. 3.1, with the ``dot`` score
    ``score(h_t, h_s) = h_t . h_s`` (eq. 8).

    forward(query, keys, key_padding_mask=None)
        query : (N, T, H) decoder states h_t.  keys : (N, S, H) encoder states h_s (also
        the values). key_padding_mask : optional bool (N, S), True where the source is
        padding (PyTorch's convention).
        Returns ``context`` (N, T, H) = sum_s a_ts h_s and ``weights`` a (N, T, S):
        softmax over S of the scores, non-negative, each row summing to 1 over the
        unmasked positions; masked positions get exactly 0, and a fully masked row is all
        zeros (so its context is zero).
    """

    def __init__(self, score: str = "dot"):
        if score != "dot":
            raise ValueError(f"LuongAttention: score {score!r} is not implemented yet; use 'dot'")
        self.score = score

    def forward(self, query: Tensor, keys: Tensor, key_padding_mask=None):
        if query.ndim != 3 or keys.ndim != 3 or query.shape[0] != keys.shape[0] \
                or query.shape[2] != keys.shape[2]:
            raise ValueError(f"LuongAttention: query (N, T, H) and keys (N, S, H) must share N "
                             f"and H, got {query.shape} and {keys.shape}")
        scores = query @ keys.transpose(1, 2)                       # (N, T, S)
        if key_padding_mask is not None:
            mask = np.asarray(key_padding_mask, dtype=bool)[:, None, :]   # (N, 1, S)
            scores = scores.masked_fill(mask, float(np.finfo(scores.dtype).min))
            weights = scores.softmax(axis=-1).masked_fill(mask, 0.0)
        else:
            weights = scores.softmax(axis=-1)
        return weights @ keys, weights


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global norm is at most ``max_norm``.

    The global norm is the ``norm_type``-norm of all gradients joined into one vector
    (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training RNNs", alg. 1). If it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``.

    Returns the total norm before clipping (a Python float).

    Raises
    ------
    RuntimeError
        The norm is NaN or inf and ``error_if_nonfinite`` is True.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) for g in grads if g.size)
    else:
        total = float(sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum())
                          for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm is {total} (fix: lower "
                           f"the learning rate, or find the op that produced NaN/inf)")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return total
