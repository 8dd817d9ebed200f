"""Recurrent layers: the cells (``lstm_cell``, ``gru_cell``, ``rnn_cell`` and their
``LSTMCell``, ``GRUCell``, ``RNNCell`` modules) and the sequence layers ``LSTM``, ``GRU``,
``RNN`` (stacked, bidirectional, dropout between layers), with PyTorch's argument names
and state-dict layout."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import fused, ops
from ..tensor import Tensor, scope, stack
from .module import Module, Parameter, _check_size, _uniform


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


def _gate_parameters(gates: int, input_size: int, hidden_size: int, owner: str = "RNN"):
    """W_ih (gH, D), W_hh (gH, H), b_ih, b_hh (gH,), all U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's).
    Raises TypeError / ValueError (naming ``owner``) for sizes that are not ints >= 1."""
    input_size = _check_size(owner, "input_size", input_size)
    hidden_size = _check_size(owner, "hidden_size", hidden_size)
    k, G = 1 / math.sqrt(hidden_size), gates * hidden_size
    return (Parameter(_uniform((G, input_size), k)), Parameter(_uniform((G, hidden_size), k)),
            Parameter(_uniform((G,), k)), Parameter(_uniform((G,), k)))


class _Cell(Module):
    """One step of a recurrent cell with ``GATES`` gates (RNN 1, GRU 3, LSTM 4): PyTorch's
    ``weight_ih`` (gH, D), ``weight_hh`` (gH, H), ``bias_ih``, ``bias_hh`` (gH,) (none with
    ``bias=False``). forward(x (N, D), hx (N, H) or None for zeros) -> h' (N, H)."""

    GATES = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        name = type(self).__name__
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias must be True or False, got {bias!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        w_ih, w_hh, b_ih, b_hh = _gate_parameters(self.GATES, input_size, hidden_size, name)
        self.weight_ih, self.weight_hh = w_ih, w_hh
        if self.bias:
            self.bias_ih, self.bias_hh = b_ih, b_hh

    def extra_repr(self) -> str:
        """PyTorch's text: the sizes, then ``bias=False`` when there is no bias (``4, 8``)."""
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _args(self, x: Tensor, hx):
        h = hx if hx is not None else Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        if self.bias:
            return x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        zeros = Tensor(np.zeros(self.weight_hh.shape[0], dtype=x.dtype))
        return x, h, self.weight_ih, self.weight_hh, zeros, zeros


class _FusableCell(_Cell):
    """A cell with a fused path beside its composed one (``LSTMCell``, ``GRUCell``): the
    keyword ``fused`` (default False: the composed cell, step by step), shown in the repr
    when True."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 fused: bool = False):
        super().__init__(input_size, hidden_size, bias)
        self.fused = fused

    def extra_repr(self) -> str:
        """PyTorch's text, and ``fused=True`` (not in PyTorch) when set."""
        return super().extra_repr() + (", fused=True" if self.fused else "")


class LSTMCell(_FusableCell):
    """One LSTM step (PyTorch's ``nn.LSTMCell``).

    ``LSTMCell(input_size, hidden_size, bias=True, *, fused=False)``: parameters
    ``weight_ih`` (4H, D), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh`` (4H,) (none with
    ``bias=False``), gate order i, f, g, o; init U(-1/sqrt(H), 1/sqrt(H)).
    forward(x (N, D), hx = (h, c) each (N, H), or None for zeros) -> (h', c').

    ``fused=False`` (default) composes the step from primitive ops (:func:`lstm_cell`, the
    path a learner can follow op by op); ``fused=True`` runs it as one node with a
    hand-written backward (:class:`tinygrad_attn.fused.LSTMSequence` over one time step), the
    same values and gradients with fewer nodes and passes (for decoders that step a cell).
    """

    GATES = 4

    def forward(self, x: Tensor, hx=None):
        if hx is None:
            z = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
            hx = (z, z)
        weights = self._args(x, hx[0])[2:]
        if not self.fused:
            return lstm_cell(x, hx[0], hx[1], *weights)
        hc = fused.LSTMSequence.apply(x.unsqueeze(1), hx[0], hx[1], *weights)   # (2, N, 1, H)
        return hc[0, :, 0], hc[1, :, 0]


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


class RNNCell(_Cell):
    """One Elman RNN step (PyTorch's ``nn.RNNCell(input_size, hidden_size, bias=True,
    nonlinearity='tanh')``): parameters ``weight_ih`` (H, D), ``weight_hh`` (H, H),
    ``bias_ih``, ``bias_hh`` (H,). forward(x (N, D), hx (N, H) or None) -> (N, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def forward(self, x: Tensor, hx=None) -> Tensor:
        return rnn_cell(*self._args(x, hx), self.nonlinearity)

    def extra_repr(self) -> str:
        """PyTorch's text: ``4, 8, nonlinearity=relu`` when not tanh."""
        relu = ", nonlinearity=relu" if self.nonlinearity != "tanh" else ""
        return super().extra_repr() + relu


class GRUCell(_FusableCell):
    """One GRU step (PyTorch's ``nn.GRUCell(input_size, hidden_size, bias=True)``):
    ``weight_ih`` (3H, D), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,), gate
    order r, z, n. forward(x (N, D), hx (N, H) or None) -> (N, H).

    ``fused=False`` (default) composes the step from primitive ops (:func:`gru_cell`);
    ``fused=True`` runs it as one node with a hand-written backward
    (:class:`tinygrad_attn.fused.GRUSequence` over one time step): the same values and
    gradients with fewer nodes (for decoders that step a cell), as ``LSTMCell``."""

    GATES = 3

    def forward(self, x: Tensor, hx=None) -> Tensor:
        args = self._args(x, hx)
        if not self.fused:
            return gru_cell(*args)
        return fused.GRUSequence.apply(x.unsqueeze(1), *args[1:])[:, 0]


class _StackedRecurrent(Module):
    """Shared body of ``RNN``, ``GRU`` and ``LSTM``: ``num_layers`` layers, optionally
    bidirectional, dropout between layers in training mode; by default each layer is
    unrolled from the subclass's cell function with primitive ops (``LSTM`` overrides
    ``_run`` to use its fused node). PyTorch's parameter names: ``weight_ih_l{k}[_reverse]`` etc.

    forward(x (N, T, D), hx (L * dirs, N, H) or None, lengths=None) -> output (N, T, dirs * H)
    and h_n (L * dirs, N, H), ordered layer by layer, forward direction first (PyTorch's).

    ``lengths`` (N,) int, optional: the real length of each right-padded sequence (this
    project's stand-in for PyTorch's ``pack_padded_sequence``). The final states are then
    taken at step ``lengths[n] - 1``, and the reverse direction reads each sequence from its
    last real step (``ops.ReversePadded``), so padding changes neither the final states nor
    the outputs at real steps. Outputs at padded steps are not meaningful.

    ``residual=True`` (not in PyTorch) adds each layer's input to its output from the second
    layer on, ``x_{k+1} = layer_k(x_k) + x_k``: the residual connections between stacked
    LSTM layers of GNMT (Wu et al. 2016, sec. 3.1), which help deep stacks train.

    Raises TypeError / ValueError at construction for sizes or ``num_layers`` that are
    not ints >= 1 and for ``dropout`` outside [0, 1] (or NaN).
    """

    GATES = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, *, residual: bool = False):
        name = type(self).__name__
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias must be True or False, got {bias!r}")
        if not batch_first:
            raise NotImplementedError(f"{name}: only batch_first=True (fix: pass (N, T, D) "
                                      f"inputs, e.g. x.transpose(0, 1) of a (T, N, D) tensor)")
        input_size = _check_size(name, "input_size", input_size)
        hidden_size = _check_size(name, "hidden_size", hidden_size)
        num_layers = _check_size(name, "num_layers", num_layers)
        dropout = F._check_probability(name, "dropout", dropout)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.batch_first = bidirectional, dropout, batch_first
        self.residual, self.bias = residual, bool(bias)
        self.directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size * self.directions
            for suffix in ("", "_reverse")[:self.directions]:
                w_ih, w_hh, b_ih, b_hh = _gate_parameters(self.GATES, d_in, hidden_size, name)
                setattr(self, f"weight_ih_l{layer}{suffix}", w_ih)
                setattr(self, f"weight_hh_l{layer}{suffix}", w_hh)
                if self.bias:           # bias=False: no bias parameters (as in PyTorch)
                    setattr(self, f"bias_ih_l{layer}{suffix}", b_ih)
                    setattr(self, f"bias_hh_l{layer}{suffix}", b_hh)

    def _weights(self, layer: int, suffix: str, dtype) -> list:
        """[W_ih, W_hh, b_ih, b_hh] of one layer and direction; without bias the biases are
        constant zeros (no parameters, no gradient)."""
        w = [getattr(self, f"{n}_l{layer}{suffix}") for n in ("weight_ih", "weight_hh")]
        if self.bias:
            return w + [getattr(self, f"{n}_l{layer}{suffix}") for n in ("bias_ih", "bias_hh")]
        zeros = Tensor(np.zeros(w[1].shape[0], dtype=dtype))
        return w + [zeros, zeros]

    def extra_repr(self) -> str:
        """PyTorch's text: the sizes, then each argument that differs from PyTorch's default
        (``4, 8, num_layers=2, batch_first=True``; PyTorch's ``batch_first`` default is
        False, so it always shows), then ``residual=True`` (not in PyTorch) when set."""
        parts = [str(self.input_size), str(self.hidden_size)]
        for name, shown in (("num_layers", self.num_layers != 1), ("bias", not self.bias),
                            ("batch_first", bool(self.batch_first)),
                            ("dropout", self.dropout != 0),
                            ("bidirectional", bool(self.bidirectional)),
                            ("residual", bool(self.residual))):
            if shown:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts)

    def _cell(self, x, h, *weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(self, x, state, weights):
        """One layer in one direction, forward in time: x (N, T, D_in) -> a tuple of state
        sequences, each (N, T, H); the first is the output (for LSTM: (hs, cs))."""
        hs, h = [], state
        for t in range(x.shape[1]):
            with scope(t):                 # time step t, for pictures of the graph
                h = self._cell(x[:, t], h, *weights)
            hs.append(h)
        return (stack(hs, axis=1),)

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
        return stack([s[0] for s in states], axis=0)

    def forward(self, x: Tensor, hx=None, lengths=None):
        name = type(self).__name__
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{name}: input must be (N, T, {self.input_size}), got {x.shape} "
                             f"(fix: batch_first layout, last axis = input_size)")
        N, T = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError(f"{name}: the input {x.shape} has no time steps (T = 0), so there "
                             f"is no final state (fix: drop empty sequences before the layer)")
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (N,) or lengths.dtype.kind not in "iu" or \
                    (lengths < 1).any() or (lengths > T).any():
                raise ValueError(f"{name}: lengths must be {N} integers in [1, {T}], got "
                                 f"{lengths!r} (fix: count the real tokens of each row)")
        def reverse(a):         # time reversed, each row's padding left in place
            return a.flip(1) if lengths is None else ops.ReversePadded.apply(a, lengths=lengths)
        last = (slice(None), T - 1) if lengths is None else (np.arange(N), lengths - 1)
        states = self._states(hx, N, x.dtype)
        layer_in, finals = x, []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self.directions]):
                weights = self._weights(layer, suffix, x.dtype)
                seqs = self._run(reverse(layer_in) if d else layer_in,
                                 states[layer * self.directions + d], weights)
                finals.append(tuple(s[last] for s in seqs))
                outs.append(reverse(seqs[0]) if d else seqs[0])
            out = outs[0] if self.directions == 1 else F.concat(outs, axis=-1)
            layer_in = out + layer_in if self.residual and layer > 0 else out
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        return layer_in, self._final(finals)


class _FusableStacked(_StackedRecurrent):
    """Stacked layers with a fused node per layer and direction beside the composed cells
    (``LSTM``, ``GRU``): the keyword ``fused`` (default True), shown in the repr when
    False."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, *, fused: bool = True, residual: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, residual=residual)
        self.fused = fused

    def extra_repr(self) -> str:
        """PyTorch's text (see ``_StackedRecurrent``), and ``fused=False`` when set."""
        return super().extra_repr() + ("" if self.fused else ", fused=False")


class LSTM(_FusableStacked):
    """LSTM layers over whole sequences (PyTorch's ``nn.LSTM``, ``batch_first=True``).

    Parameters ``weight_ih_l{k}`` (4H, D), ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (4H,) (and ``..._reverse`` when bidirectional), gate order i, f, g, o:
    PyTorch's names and layout; init U(-1/sqrt(H), 1/sqrt(H)).

    forward(x, hx=None, lengths=None)
        x : Tensor (N, T, D) float. hx : optional (h0, c0), each (L * dirs, N, H); zeros if
        None. lengths : optional (N,) real lengths of right-padded rows (see
        ``_StackedRecurrent``). Returns ``output`` (N, T, dirs * H) (every hidden state of
        the last layer) and ``(h_n, c_n)``, each (L * dirs, N, H).

    ``fused=True`` (default) runs each layer and direction as one node with a hand-written
    backward (:class:`tinygrad_attn.fused.LSTMSequence`; the reverse direction runs on the
    time-flipped input); ``fused=False`` unrolls :func:`lstm_cell` from primitive ops, which
    a learner can follow op by op. Both give the same values and gradients. ``residual``:
    see ``_StackedRecurrent``. Math: Hochreiter & Schmidhuber (1997), with a forget gate
    (Gers et al. 2000).

    Raises ValueError for a non-3-D or empty input, a wrong input size, state shape or
    lengths.
    """

    GATES = 4

    def _states(self, hx, N, dtype):
        if hx is None:
            return [(h, h) for h in super()._states(None, N, dtype)]
        hs, cs = super()._states(hx[0], N, dtype), super()._states(hx[1], N, dtype)
        return list(zip(hs, cs))

    def _run(self, x, state, weights):
        if not self.fused:   # the teaching path: one lstm_cell per step
            (h, c), hs, cs = state, [], []
            for t in range(x.shape[1]):
                with scope(t):             # time step t, for pictures of the graph
                    h, c = lstm_cell(x[:, t], h, c, *weights)
                hs.append(h)
                cs.append(c)
            return stack(hs, axis=1), stack(cs, axis=1)
        hc = fused.LSTMSequence.apply(x, state[0], state[1], *weights)   # (2, N, T, H)
        return hc[0], hc[1]

    def _final(self, states):
        return stack([h for h, _ in states], axis=0), stack([c for _, c in states], axis=0)


class RNN(_StackedRecurrent):
    """Elman RNN layers (PyTorch's ``nn.RNN``, batch first); see ``_StackedRecurrent``.
    ``nonlinearity`` is 'tanh' (default) or 'relu'. Math: Elman (1990)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, *, residual: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, residual=residual)

    def _cell(self, x, h, *weights):
        return rnn_cell(x, h, *weights, nonlinearity=self.nonlinearity)


class GRU(_FusableStacked):
    """GRU layers (PyTorch's ``nn.GRU``, batch first; gate order r, z, n); see
    ``_StackedRecurrent`` and :func:`gru_cell`. Math: Cho et al. (2014).

    ``fused=True`` (default) runs each layer and direction as one node with a hand-written
    backward (:class:`tinygrad_attn.fused.GRUSequence`); ``fused=False`` unrolls
    :func:`gru_cell` from primitive ops, the path a learner can follow op by op. Both give
    the same values and gradients (tested)."""

    GATES = 3

    def _cell(self, x, h, *weights):
        return gru_cell(x, h, *weights)

    def _run(self, x, state, weights):
        if not self.fused:   # the teaching path: one gru_cell per step
            return super()._run(x, state, weights)
        return (fused.GRUSequence.apply(x, state, *weights),)

