"""Fused ops: one node for a whole layer, with a hand-written backward, for speed.

Each fused ``Function`` here stands beside its composed teaching twin, the same math built
from the one-screen primitive ops of :mod:`tinygrad_attn.ops`, and names it in its
``composed`` attribute (pictures of the graph show it). A test holds the two to the same
values and gradients. A fused op's backward is first-order only: with
``create_graph=True`` it raises a one-line error naming the option that builds the
composed path, whose derivative rules work for every order.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .autograd import Function
from .ops import _check_float


def _row_ids(a: np.ndarray) -> np.ndarray:
    """(N,) int64 ids of the rows of a 2-D array: equal rows (bit for bit) get equal ids."""
    a = np.ascontiguousarray(a)
    rows = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).reshape(-1)
    return np.unique(rows, return_inverse=True)[1].reshape(-1)


def _one_start(h0: np.ndarray, c0: np.ndarray | None = None) -> bool:
    """Whether all N > 1 rows start from one state (an encoder's zero state): then rows
    that read equal inputs stay in equal states (:func:`_next_groups`)."""
    return (len(h0) > 1 and bool((h0 == h0[0]).all())
            and (c0 is None or bool((c0 == c0[0]).all())))


def _next_groups(group: np.ndarray, ids_t: np.ndarray):
    """One step of the shared-prefix bookkeeping of a recurrent layer whose rows started
    from one state. ``group`` (N,): equal ids = equal prefixes so far (so equal states);
    ``ids_t`` (N,) int: equal ids = equal inputs at this step. Returns ``(first, group)``:
    the first row of each distinct new prefix and every row's new prefix id; or
    ``(None, None)`` once more than 3/4 of the rows are distinct (from there on, running
    every row costs less than the bookkeeping; distinct prefixes never merge again)."""
    key = group * (int(ids_t.max()) + 1) + ids_t
    _, first, new_group = np.unique(key, return_index=True, return_inverse=True)
    if len(first) > 3 * len(group) // 4:
        return None, None
    return first, new_group.reshape(-1)


def _shared_prefixes(n_rows: int, shared_start: bool, n_steps: int, step_ids):
    """The shared-prefix bookkeeping of a training forward, step by step: yields
    ``(t, first, group)`` for t = 0 .. n_steps - 1, where ``first``/``group`` are those of
    :func:`_next_groups` while the ``n_rows`` rows share prefixes and None from the step
    where they stop (or from the start when not ``shared_start``, :func:`_one_start`).
    ``step_ids(t)`` gives the (n_rows,) int ids of the inputs at step t; it is called only
    while rows share."""
    group = np.zeros(n_rows, dtype=np.int64) if shared_start else None
    for t in range(n_steps):
        first = None
        if group is not None:
            first, group = _next_groups(group, step_ids(t))
        yield t, first, group


def _weight_rows(groups: list, dz: np.ndarray, *prevs: np.ndarray) -> tuple:
    """The rows a weight gradient sums over, time-major: dz (T, N, C) and the arrays it
    multiplies, each (T, N, K) (the inputs x_t, the states h_{t-1}), as (R, C), (R, K), ...
    Every row-step (R = T N), except in the shared steps of the forward (``groups``: the
    (first, group) of steps 0, 1, ...): rows of one group there read the same x_t and
    h_{t-1}, so sum_rows dz_row^T prev_row = (sum_group dz)^T prev_group, one row a group."""
    T, N, C = dz.shape
    cut = len(groups)
    if not cut:
        return (dz.reshape(T * N, C),) + tuple(p.reshape(T * N, -1) for p in prevs)
    parts = [(kernels.group_sums(group, dz[t]),) + tuple(p[t][first] for p in prevs)
             for t, (first, group) in enumerate(groups)]
    parts.append((dz[cut:].reshape(-1, C),) + tuple(p[cut:].reshape(-1, p.shape[2])
                                                     for p in prevs))
    return tuple(np.concatenate(p) for p in zip(*parts))


class LSTMSequence(Function):
    """A whole LSTM layer over a sequence as ONE node, with a hand-written backward.

    The fused twin of :func:`tinygrad_attn.nn.recurrent.lstm_cell` unrolled over time
    (``nn.LSTM(..., fused=True)``, the default; ``fused=False`` runs the composed path).

    Inputs: ``x`` (N, T, D), ``h0`` (N, H), ``c0`` (N, H), ``w_ih`` (4H, D),
    ``w_hh`` (4H, H), ``b_ih`` (4H,), ``b_hh`` (4H,); gate order i, f, g, o (PyTorch's).
    Output: (2, N, T, H): ``[0]`` the hidden states h_1..h_T, ``[1]`` the cell states.

    Forward (Hochreiter & Schmidhuber 1997; the form of PyTorch's ``nn.LSTM`` docs):
        z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   [i, f, g, o] = split(z_t)
        i, f, o = sigmoid(.),  g = tanh(.),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
    Backward through time, t = T..1, with dh, dc carried from step t+1:
        dh_t += g_h[t];  dc_t = g_c[t] + dc_{t+1}-carry + dh_t * o * (1 - tanh(c_t)^2)
        do = dh_t * tanh(c_t) * o(1-o);  di = dc_t * g * i(1-i);  dg = dc_t * i * (1-g^2)
        df = dc_t * c_{t-1} * f(1-f);    carry dc = dc_t * f;  carry dh = dz_t @ W_hh
    and then, in one GEMM each over all steps: [dW_ih, db] = dZ^T [X, 1] (db = sum dZ, the
    bias riding along as a column of ones, as in the forward), dW_hh = dZ^T H_prev,
    dx = dZ W_ih. The composed path (``nn.LSTMCell`` from primitive ops) gives the same
    gradients; a test holds the two together.

    Shared prefixes: when all rows start from one state (an encoder's zero state), rows
    that have read equal inputs are in equal states. While at most 3/4 of the rows are
    distinct in that sense, a step runs once per distinct prefix and is copied to the rows
    that share it, and the weight gradients sum each group's dz first (its rows read the
    same x_t and h_{t-1}). The backward through time stays per row (dx, dh0, dc0 are every
    row's own). The book's reversed, space-padded date sources: 48 % of the encoder's
    row-steps run; the date step 0.054 -> 0.048 s (two A/B runs of 8 rounds, 0.94 each).
    """
    composed = "tinygrad_attn.nn.recurrent.lstm_cell"

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        _check_float("LSTM", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        N, T, D = x.shape
        H = h0.shape[1]
        dt = x.dtype
        # sigmoid(z) = (1 + tanh(z / 2)) / 2: with the i, f, o rows of the weights halved
        # (exact in floating point), one tanh over all 4H columns serves every gate
        half = np.ones((4 * H, 1), dtype=dt)
        half[:2 * H] = half[3 * H:] = 0.5
        if not any(self.needs_input_grad):
            return self._forward_inference(x, h0, c0, w_ih * half, w_hh * half,
                                           (b_ih + b_hh) * half[:, 0])
        # input projection of all time steps in one GEMM, time-major (T, N, 4H); the biases
        # ride along as a column of ones in x and a column b_ih + b_hh in W_ih
        x_tm = np.empty((T * N, D + 1), dtype=dt)
        x_tm[:, :D] = x.transpose(1, 0, 2).reshape(T * N, D)
        x_tm[:, D] = 1
        w_b = np.concatenate([w_ih, (b_ih + b_hh)[:, None]], axis=1) * half     # (4H, D + 1)
        z = kernels.matmul(x_tm, w_b.T).reshape(T, N, 4 * H)
        hs = np.empty((T + 1, N, H), dtype=dt)
        cs = np.empty((T + 1, N, H), dtype=dt)
        tanh_c = np.empty((T, N, H), dtype=dt)
        hs[0], cs[0] = h0, c0
        w_hh_t = (w_hh * half).T
        # rows that start from one state and read equal inputs share their states: run
        # each distinct prefix once (the reversed, space-padded date sources: 47 % of the
        # encoder's row-steps are distinct in a training batch)
        self.groups = []                    # (first, group) of the shared steps 0, 1, ...
        for t, first, group in _shared_prefixes(N, _one_start(h0, c0), T,
                                                lambda t: _row_ids(x[:, t])):
            if first is None:
                z[t] += hs[t] @ w_hh_t
                self._activate(z[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1])
            else:
                self._shared_step(z[t], hs[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1],
                                  first, group, w_hh_t)
                self.groups.append((first, group))
        self.x_tm, self.w_ih, self.w_hh = x_tm, w_ih, w_hh
        self.gates, self.hs, self.cs, self.tanh_c = z, hs, cs, tanh_c  # z now holds activations
        out = np.empty((2, N, T, H), dtype=dt)
        out[0] = hs[1:].transpose(1, 0, 2)
        out[1] = cs[1:].transpose(1, 0, 2)
        return out

    @staticmethod
    def _activate(z, c_prev, c_new, tanh_c, h_new):
        """One step's elementwise part, in place: z (N, 4H) holds the pre-activations with
        the i, f, o columns halved and becomes the gates [i, f, g, o]; writes c_new =
        f * c_prev + i * g, tanh_c = tanh(c_new) and h_new = o * tanh_c (each (N, H);
        c_new may be c_prev)."""
        np.tanh(z, out=z)
        kernels.lstm_step_forward(z, c_prev, c_new)   # i,f,o = (1 + z) / 2; c_new = f*c_prev + i*g
        np.tanh(c_new, out=tanh_c)
        np.multiply(z[:, 3 * h_new.shape[1]:], tanh_c, out=h_new)

    @staticmethod
    def _shared_step(z, h_prev, c_prev, c_new, tanh_c, h_new, first, group, w_hh_t):
        """One training step run once per distinct prefix: the recurrent product and the
        gates for the rows ``first`` only, then copied to every row of their ``group``
        (the same arithmetic per row as :meth:`_activate` on all rows)."""
        zd = z[first]
        zd += h_prev[first] @ w_hh_t
        cd, tcd, hd = (np.empty((len(first), h_new.shape[1]), dtype=z.dtype) for _ in range(3))
        LSTMSequence._activate(zd, c_prev[first], cd, tcd, hd)
        for dst, src in ((z, zd), (c_new, cd), (tanh_c, tcd), (h_new, hd)):
            np.take(src, group, axis=0, out=dst)

    @staticmethod
    def _forward_inference(x, h0, c0, w_ih, w_hh, b):
        """The same forward when no gradient is needed (decoding, evaluation): nothing is
        kept for a backward, so each step is one GEMM of the rows [x_t, h, 1] with
        [W_ih, W_hh, b] (no (T, N, 4H) array). Weights and bias arrive with the i, f, o rows
        halved (see ``forward``).

        Shared prefixes: rows that start from one common state (an encoder's zero state)
        and have read equal inputs so far are in equal states. While at most 3/4 of the
        rows are distinct in that sense, a step runs once per distinct prefix and its
        result is copied to the rows that share it (the same arithmetic per row, so the
        same numbers). The book's reversed character tasks begin with the same padding
        spaces: of the date test set's 5,000 x 29 encoder row-steps, 32 % are distinct
        (44 % are run in batches of 500)."""
        N, T, D = x.shape
        H = h0.shape[1]
        w = np.concatenate([w_ih, w_hh, b[:, None]], axis=1).T      # (D + H + 1, 4H)
        out = np.empty((2, N, T, H), dtype=x.dtype)
        # group[n]: the distinct prefix of row n, whose state is row group[n] of (h, c)
        one_start = _one_start(h0, c0)
        group = np.zeros(N, dtype=np.int64) if one_start else None
        h, c = (h0[:1], c0[:1]) if one_start else (h0, c0)
        for t in range(T):
            rows = slice(None)
            if group is not None:
                first, new_group = _next_groups(group, _row_ids(x[:, t]))
                if first is not None:
                    h, c, rows, group = h[group[first]], c[group[first]], first, new_group
                else:                                   # mostly distinct from here on
                    h, c, group = h[group], c[group], None
            xh = np.empty((len(h), D + H + 1), dtype=x.dtype)
            xh[:, :D], xh[:, D:D + H], xh[:, D + H] = x[rows, t], h, 1
            z = xh @ w
            h, c_new, tanh_c = (np.empty_like(h) for _ in range(3))
            LSTMSequence._activate(z, c, c_new, tanh_c, h)
            c = c_new
            out[0, :, t], out[1, :, t] = (h, c) if group is None else (h[group], c[group])
        return out

    def backward(self, grad, x, h0, c0, w_ih, w_hh, b_ih, b_hh, out):
        if not isinstance(grad, np.ndarray):
            raise RuntimeError(
                "LSTMSequence (the fused LSTM) has a first derivative only, so create_graph="
                "True cannot differentiate it again (fix: build the layer with nn.LSTM(..., "
                "fused=False), the composed lstm_cell path, for higher-order gradients)")
        gates, cs, tanh_c = self.gates, self.cs, self.tanh_c
        T, N, H4 = gates.shape
        H = H4 // 4
        grad = np.ascontiguousarray(grad)
        g_h, g_c = grad[0], grad[1]        # (N, T, H), C-contiguous
        dz = np.empty_like(gates)
        dh = np.zeros((N, H), dtype=grad.dtype)   # recurrent part: dz_{t+1} W_hh
        dc = np.zeros((N, H), dtype=grad.dtype)   # carry: dc_{t+1} * f_{t+1}
        need = self.needs_input_grad
        for t in reversed(range(T)):
            # the elementwise rules of the docstring, fused (kernels.lstm_step_backward; its
            # numpy twin, kernels.lstm_step_backward_numpy, spells them out)
            kernels.lstm_step_backward(t, g_h, g_c, gates[t], tanh_c[t], cs[t], dh, dc, dz[t])
            if t or need[1]:                  # dh_0 only for an h0 that wants it (a decoder's)
                dh = dz[t] @ self.w_hh
        dz2 = dz.reshape(T * N, H4)           # time-major rows, like x_tm and hs[:-1]
        dh = dh if need[1] else None
        dx = dw_ih = db = None
        if need[0]:
            dx = kernels.matmul(dz2, self.w_ih).reshape(T, N, -1).transpose(1, 0, 2)
        dw_hh = None
        if any(need[3:]):
            dz_w, x_w, h_w = _weight_rows(self.groups, dz, self.x_tm.reshape(T, N, -1),
                                          self.hs[:-1])
            if need[3] or need[5] or need[6]:  # [dW_ih, db] = dZ^T [X, 1]: db the last column
                dw_b = kernels.matmul(dz_w.T, x_w)
                dw_ih, db = dw_b[:, :-1], dw_b[:, -1]
            dw_hh = kernels.matmul(dz_w.T, h_w) if need[4] else None
        return dx, dh, dc, dw_ih, dw_hh, db, db


class GRUSequence(Function):
    """A whole GRU layer over a sequence as ONE node, with a hand-written backward.

    The fused twin of :func:`tinygrad_attn.nn.recurrent.gru_cell` unrolled over time
    (``nn.GRU(..., fused=True)``, the default; ``fused=False`` runs the composed path).

    Inputs: ``x`` (N, T, D), ``h0`` (N, H), ``w_ih`` (3H, D), ``w_hh`` (3H, H),
    ``b_ih``, ``b_hh`` (3H,); gate order r, z, n (PyTorch's). Output: the hidden states
    h_1..h_T (N, T, H).

    Forward (Cho et al. 2014, eq. 5-8, in the form of PyTorch's ``nn.GRU`` docs):
        gi_t = x_t W_ih^T + b_ih,  gh_t = h_{t-1} W_hh^T + b_hh  (each split r, z, n)
        r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),  n = tanh(gi_n + r * gh_n)
        h_t = (1 - z) * n + z * h_{t-1}
    Backward through time, t = T..1, with dh carried from step t+1 (the elementwise rules
    in ``kernels.gru_step_backward_numba``'s docstring): dgi_t and dgh_t, the gradients of
    gi_t and gh_t, then carry dh = dh_t * z + dgh_t W_hh. After the loop, one GEMM each
    over all steps: dW_ih = dGI^T X, dW_hh = dGH^T H_prev, dx = dGI W_ih; db_ih = sum dGI,
    db_hh = sum dGH. The composed path (``nn.GRUCell`` from primitive ops) gives the same
    values and gradients; a test holds the two together.
    """
    composed = "tinygrad_attn.nn.recurrent.gru_cell"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        _check_float("GRU", x, h0, w_ih, w_hh, b_ih, b_hh)
        N, T, D = x.shape
        H = h0.shape[1]
        # the input part of all time steps in one GEMM, time-major (T, N, 3H), then b_ih (no
        # column of ones folded in as LSTMSequence does: for a cell stepped once per call
        # the folded product was slower alone, 2.2 against 1.4 ms at (64, 768) x (768,
        # 1536); a Bahdanau training step is the same within noise either way)
        x_tm = x.transpose(1, 0, 2).reshape(T * N, D)
        gi = kernels.matmul(x_tm, w_ih.T).reshape(T, N, 3 * H)
        gi += b_ih
        hs = np.empty((T + 1, N, H), dtype=x.dtype)
        ghn = np.empty((T, N, H), dtype=x.dtype)
        hs[0] = h0
        w_hh_t, gh = w_hh.T, np.empty((N, 3 * H), dtype=x.dtype)
        self.groups = []                    # shared prefixes, as in LSTMSequence
        for t, first, group in _shared_prefixes(N, _one_start(h0), T,
                                                lambda t: _row_ids(x[:, t])):
            if first is None:
                np.matmul(hs[t], w_hh_t, out=gh)
                gh += b_hh
                self._activate(gi[t], gh, hs[t], ghn[t], hs[t + 1])
            else:
                self._shared_step(gi[t], hs[t], ghn[t], hs[t + 1], first, group, w_hh_t, b_hh)
                self.groups.append((first, group))
        if any(self.needs_input_grad):
            self.x_tm, self.w_ih, self.w_hh = x_tm, w_ih, w_hh
            self.gates, self.hs, self.ghn = gi, hs, ghn      # gi now holds [r, z, n]
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))

    @staticmethod
    def _shared_step(gi, h_prev, ghn, h_new, first, group, w_hh_t, b_hh):
        """One step run once per distinct prefix (the rows ``first``), then copied to every
        row of their ``group`` (see LSTMSequence's shared prefixes)."""
        gid = gi[first]
        ghd = h_prev[first] @ w_hh_t
        ghd += b_hh
        ghnd, hd = (np.empty((len(first), h_new.shape[1]), dtype=gi.dtype) for _ in range(2))
        GRUSequence._activate(gid, ghd, h_prev[first], ghnd, hd)
        for dst, src in ((gi, gid), (ghn, ghnd), (h_new, hd)):
            np.take(src, group, axis=0, out=dst)

    @staticmethod
    def _activate(gi, gh, h_prev, ghn, h_new):
        """One step's elementwise part, in place: gi (N, 3H) the input part of the
        pre-activations, becomes the gates [r, z, n]; gh (N, 3H) the hidden part. Writes
        ghn = gh's n block (what r multiplies) and h_new = n + z * (h_prev - n), (N, H).
        sigmoid(a) = (1 + tanh(a / 2)) / 2, so one tanh serves r and z."""
        H = h_prev.shape[1]
        rz, n = gi[:, :2 * H], gi[:, 2 * H:]
        rz += gh[:, :2 * H]
        rz *= 0.5
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        ghn[...] = gh[:, 2 * H:]
        n += rz[:, :H] * ghn
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=h_new)
        h_new *= rz[:, H:]
        h_new += n

    def backward(self, grad, x, h0, w_ih, w_hh, b_ih, b_hh, out):
        if not isinstance(grad, np.ndarray):
            raise RuntimeError(
                "GRUSequence (the fused GRU) has a first derivative only, so create_graph="
                "True cannot differentiate it again (fix: build the layer with nn.GRU(..., "
                "fused=False), the composed gru_cell path, for higher-order gradients)")
        gates, hs, ghn = self.gates, self.hs, self.ghn
        T, N, H3 = gates.shape
        g_h = np.ascontiguousarray(grad)                   # (N, T, H)
        dgi, dgh = np.empty_like(gates), np.empty_like(gates)
        dh = np.zeros((N, H3 // 3), dtype=grad.dtype)
        need = self.needs_input_grad
        for t in reversed(range(T)):
            kernels.gru_step_backward(t, g_h, gates[t], ghn[t], hs[t], dh, dgi[t], dgh[t])
            if t or need[1]:                  # dh_0 only for an h0 that wants it
                dh += dgh[t] @ self.w_hh
        dgi2, dgh2 = dgi.reshape(T * N, H3), dgh.reshape(T * N, H3)
        dh = dh if need[1] else None
        dx = dw_ih = db_ih = dw_hh = db_hh = None
        if need[0]:
            dx = kernels.matmul(dgi2, self.w_ih).reshape(T, N, -1).transpose(1, 0, 2)
        if need[2]:
            dgi_w, x_w = _weight_rows(self.groups, dgi, self.x_tm.reshape(T, N, -1))
            dw_ih = kernels.matmul(dgi_w.T, x_w)
        if need[4]:
            db_ih = dgi2.sum(axis=0)
        if need[3]:
            dgh_w, h_w = _weight_rows(self.groups, dgh, hs[:-1])
            dw_hh = kernels.matmul(dgh_w.T, h_w)
        if need[5]:
            db_hh = dgh2.sum(axis=0)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh
