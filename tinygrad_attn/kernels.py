"""Hot-path kernels: numba ``@njit(cache=True)`` loops, each beside its plain-numpy twin.

Ops call the dispatching functions at the bottom of this module (``matmul``,
``softmax``, ``softmax_backward``, ``log_softmax``, ``log_softmax_backward``,
``lstm_step_forward``, ``lstm_step_backward``). Each one
picks, per shape class, the implementation that ``benchmarks/kernels.py`` measured to
be faster on this project's reference machine (2 cores, OpenBLAS):

- 2-D matmul, and (..., M, K) @ (K, N) folded into one 2-D product, go to numpy's ``@``
  (OpenBLAS runs near the machine's peak there; a hand-written loop is 3-7x slower);
- batched matmul goes to the numba loop only for many tiny products (the greedy
  decoding step over a large batch), where numpy's per-matrix BLAS calls cost more;
- softmax backward goes to the numba row kernel (three passes fused into one, no
  transcendental), and so does one step of the LSTM backward (about fifteen numpy
  passes over (N, H) arrays fused into one); softmax / log_softmax forward and
  log_softmax backward stay on numpy, because ``exp`` inside numba is scalar on this
  machine (no SVML).

The measured reasons are next to the thresholds below. ``TINYGRAD_ATTN_KERNELS=numba``
sends every call to the kernels (used by tests and benchmarks).

Set the environment variable ``TINYGRAD_ATTN_KERNELS=numpy`` before importing to run the
whole engine on the numpy twins (the kernels are then never compiled). numba is imported
only in this module.

The math is the standard one: matmul ``C[i, j] = sum_k A[i, k] B[k, j]``; softmax and its
backward as written in :mod:`tinygrad_attn.ops`.
"""
from __future__ import annotations

import math
import os

import numpy as np

BACKEND = os.environ.get("TINYGRAD_ATTN_KERNELS", "auto").strip().lower()
if BACKEND not in ("auto", "numpy", "numba"):
    raise ValueError(f"TINYGRAD_ATTN_KERNELS={BACKEND!r} is not one of auto, numpy, numba "
                     f"(fix: unset it, or set it to 'numpy' to run the numpy twins)")

if BACKEND != "numpy":
    from numba import njit
else:  # the numpy twins only: never import numba
    def njit(*args, **kwargs):
        return (lambda f: f) if not (args and callable(args[0])) else args[0]


def _announce_compiles() -> None:
    """Say on stderr when a kernel of this module is compiled, and how long it took.

    The kernels are ``cache=True``: numba compiles each one once (the first run after an
    install or a change, one kernel and dtype at a time, 0.3-1 s each) and later processes
    load it from the cache silently. The cache lives in ``__pycache__`` beside this file, or,
    where that is not writable (a read-only install), in numba's per-user cache folder;
    ``NUMBA_CACHE_DIR`` chooses another folder. Uses numba's event API
    (``numba.core.event``: the "numba:compile" event fires on compiles, not on cache loads).
    """
    try:
        from numba.core import event
    except ImportError:            # pragma: no cover - an old or future numba: stay silent
        return
    import sys
    import time

    class CompileNotice(event.Listener):
        depth, started = 0, 0.0

        def on_start(self, ev):
            if ev.data["dispatcher"].py_func.__module__ == __name__:
                if self.depth == 0:
                    self.started = time.perf_counter()
                self.depth += 1

        def on_end(self, ev):
            dispatcher = ev.data["dispatcher"]
            if dispatcher.py_func.__module__ != __name__:
                return
            self.depth -= 1
            if self.depth == 0:            # a kernel, with the helpers it calls
                types = ", ".join(sorted({str(getattr(a, "dtype", a)) for a in ev.data["args"]}))
                print(f"tinygrad_attn: compiled the numba kernel {dispatcher.py_func.__name__}"
                      f" for {types} in {time.perf_counter() - self.started:.2f} s, once: it is "
                      f"cached for later runs", file=sys.stderr)

    event.register("numba:compile", CompileNotice())


if BACKEND != "numpy":
    _announce_compiles()

# ============================================================ numba kernels
# Reassociation lets LLVM vectorise the reductions (sums in a different order than a
# sequential loop: results agree with numpy to rounding). No 'nnan'/'ninf': masked
# scores of -inf must stay correct.
FASTMATH = {"reassoc", "contract", "nsz"}


@njit(cache=True, fastmath=FASTMATH)
def matmul2d_numba(a, b):
    """C (M, N) = A (M, K) @ B (K, N), i-k-j loop order (B and C read row-wise)."""
    M, K = a.shape
    N = b.shape[1]
    c = np.zeros((M, N), dtype=a.dtype)
    for i in range(M):
        for k in range(K):
            aik = a[i, k]
            for j in range(N):
                c[i, j] += aik * b[k, j]
    return c


@njit(cache=True, fastmath=FASTMATH)
def matmul_batched_numba(a, b):
    """C (B, M, N) = A (B, M, K) @ B (B, K, N), one small i-k-j loop per batch entry."""
    nb, M, K = a.shape
    N = b.shape[2]
    c = np.zeros((nb, M, N), dtype=a.dtype)
    for p in range(nb):
        for i in range(M):
            for k in range(K):
                aik = a[p, i, k]
                for j in range(N):
                    c[p, i, j] += aik * b[p, k, j]
    return c


@njit(cache=True, fastmath=FASTMATH)
def matmul_batched_nt_numba(a, bt):
    """C (B, M, N) = A (B, M, K) @ Bt (B, N, K)^T: dot products of rows, both read along
    their contiguous last axis (the attention scores q . k when Bt holds the keys)."""
    nb, M, K = a.shape
    N = bt.shape[1]
    c = np.empty((nb, M, N), dtype=a.dtype)
    for p in range(nb):
        for i in range(M):
            for j in range(N):
                acc = a.dtype.type(0)
                for k in range(K):
                    acc += a[p, i, k] * bt[p, j, k]
                c[p, i, j] = acc
    return c


@njit(cache=True, fastmath=FASTMATH)
def _row_max(x, r):
    """The largest element of row ``r`` (the row must be non-empty)."""
    m = x[r, 0]
    for j in range(1, x.shape[1]):
        if x[r, j] > m:
            m = x[r, j]
    return m


@njit(cache=True, fastmath=FASTMATH)
def softmax_rows_numba(x):
    """Softmax of each row of a 2-D array: max, exp and sum fused in one row pass."""
    R, C = x.shape
    y = np.empty_like(x)
    if C == 0:
        return y
    for r in range(R):
        m = _row_max(x, r)
        s = 0.0
        for j in range(C):
            e = np.exp(x[r, j] - m)
            y[r, j] = e
            s += e
        inv = 1.0 / s
        for j in range(C):
            y[r, j] *= inv
    return y


@njit(cache=True, fastmath=FASTMATH)
def softmax_backward_rows_numba(y, g):
    """dx = y * (g - sum(g * y)) for each row."""
    R, C = y.shape
    dx = np.empty_like(y)
    for r in range(R):
        s = 0.0
        for j in range(C):
            s += g[r, j] * y[r, j]
        for j in range(C):
            dx[r, j] = y[r, j] * (g[r, j] - s)
    return dx


@njit(cache=True, fastmath=FASTMATH)
def log_softmax_rows_numba(x):
    """x - max - log(sum exp(x - max)) for each row."""
    R, C = x.shape
    y = np.empty_like(x)
    if C == 0:
        return y
    for r in range(R):
        m = _row_max(x, r)
        s = 0.0
        for j in range(C):
            s += np.exp(x[r, j] - m)
        log_s = np.log(s)
        for j in range(C):
            y[r, j] = (x[r, j] - m) - log_s   # not x - (m + log s): m may dwarf log s
    return y


@njit(cache=True, fastmath=FASTMATH)
def log_softmax_backward_rows_numba(y, g):
    """dx = g - exp(y) * sum(g) for each row (y = log_softmax(x))."""
    R, C = y.shape
    dx = np.empty_like(y)
    for r in range(R):
        s = 0.0
        for j in range(C):
            s += g[r, j]
        for j in range(C):
            dx[r, j] = g[r, j] - np.exp(y[r, j]) * s
    return dx


@njit(cache=True, fastmath=FASTMATH)
def lstm_step_forward_numba(gates, c_prev, c_new):
    """The elementwise part of one LSTM step (ops.LSTMSequence) after its one ``tanh``.

    On entry ``gates`` (N, 4H) holds tanh of [z_i / 2, z_f / 2, z_g, z_o / 2]; since
    sigmoid(z) = (1 + tanh(z / 2)) / 2, one pass turns the i, f, o columns into their
    sigmoids (in place) and writes c_new = f * c_prev + i * g (N, H). Pure arithmetic: the
    transcendental stays in numpy's SIMD ``tanh``. The inner loop runs over 1-D row views
    (one per gate), a form LLVM vectorises (measured 1.7-2.5x faster than indexing the
    2-D arrays inside the loop).
    """
    N, H = c_prev.shape
    for n in range(N):
        gi, gf = gates[n, :H], gates[n, H:2 * H]
        gg, go = gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        cp, cn = c_prev[n], c_new[n]
        for j in range(H):
            i = 0.5 + 0.5 * gi[j]
            f = 0.5 + 0.5 * gf[j]
            gi[j] = i
            gf[j] = f
            go[j] = 0.5 + 0.5 * go[j]
            cn[j] = f * cp[j] + i * gg[j]


@njit(cache=True, fastmath=FASTMATH)
def lstm_step_backward_numba(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t):
    """One step of the LSTM backward (ops.LSTMSequence), fused into one pass.

    Reads the activated gates (N, 4H) [i, f, g, o], tanh(c_t) and c_{t-1} (N, H), the
    output gradients g_h, g_c (N, T, H) at step ``t``, the carried dh (N, H) (the
    recurrent part) and dc (N, H). Writes dz_t (N, 4H), the gradient of the gate
    pre-activations, and replaces dc by the carry to step t-1 (dc_t * f). Pure arithmetic
    (no transcendentals): the case where numba beats numpy's many passes. Row views in
    the inner loop, as in ``lstm_step_forward_numba`` (measured 2.9x faster).
    """
    N, H = dh.shape
    for n in range(N):
        gi, gf = gates[n, :H], gates[n, H:2 * H]
        gg, go = gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        zi, zf = dz_t[n, :H], dz_t[n, H:2 * H]
        zg, zo = dz_t[n, 2 * H:3 * H], dz_t[n, 3 * H:]
        gh, gc, tcr, cp, dhr, dcr = g_h[n, t], g_c[n, t], tanh_c[n], c_prev[n], dh[n], dc[n]
        for j in range(H):
            i, f, g, o, tc = gi[j], gf[j], gg[j], go[j], tcr[j]
            dhv = dhr[j] + gh[j]
            dcv = dcr[j] + gc[j] + dhv * o * (1 - tc * tc)
            zi[j] = dcv * g * i * (1 - i)
            zf[j] = dcv * cp[j] * f * (1 - f)
            zg[j] = dcv * i * (1 - g * g)
            zo[j] = dhv * tc * o * (1 - o)
            dcr[j] = dcv * f


# ============================================================ numpy twins


def matmul_numpy(a, b):
    """A @ B with numpy (OpenBLAS for float32/float64)."""
    return np.matmul(a, b)


def softmax_numpy(x, axis=-1):
    """e^(x - max) / sum e^(x - max) along ``axis``. exp underflowing to 0 is exact
    enough and not an error (so it passes under ``np.errstate(all='raise')``). A row
    whose max is +inf or that is all -inf gives NaN (inf - inf), silently, as in PyTorch
    and the numba kernel; a row with some -inf gives 0 there."""
    with np.errstate(under="ignore", invalid="ignore"):
        e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
        e /= e.sum(axis=axis, keepdims=True)
    return e


def softmax_backward_numpy(y, g, axis=-1):
    """y * (g - sum(g * y)) along ``axis``."""
    return y * (g - (g * y).sum(axis=axis, keepdims=True))


def log_softmax_numpy(x, axis=-1):
    """x - max - log(sum e^(x - max)) along ``axis``; NaN rows and -inf entries as
    ``softmax_numpy`` (PyTorch's results), without a warning."""
    if x.size == 0:
        return np.empty_like(x)
    with np.errstate(under="ignore", invalid="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward_numpy(y, g, axis=-1):
    """g - e^y * sum(g) along ``axis``."""
    with np.errstate(under="ignore"):
        return g - np.exp(y) * g.sum(axis=axis, keepdims=True)


def lstm_step_forward_numpy(gates, c_prev, c_new):
    """The numpy twin of ``lstm_step_forward_numba`` (same arguments, same effect)."""
    H = c_prev.shape[1]
    for sig in (gates[:, :2 * H], gates[:, 3 * H:]):      # i, f and o: (1 + tanh) / 2
        sig *= 0.5
        sig += 0.5
    np.multiply(gates[:, H:2 * H], c_prev, out=c_new)
    c_new += gates[:, :H] * gates[:, 2 * H:3 * H]


def lstm_step_backward_numpy(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t):
    """The numpy twin of ``lstm_step_backward_numba`` (same arguments, same effect)."""
    H = dh.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dhv = dh + g_h[:, t]
    dc += g_c[:, t]
    dc += dhv * o * (1 - tanh_c * tanh_c)
    np.multiply(dc * g, i * (1 - i), out=dz_t[:, :H])
    np.multiply(dc * c_prev, f * (1 - f), out=dz_t[:, H:2 * H])
    np.multiply(dc * i, 1 - g * g, out=dz_t[:, 2 * H:3 * H])
    np.multiply(dhv * tanh_c, o * (1 - o), out=dz_t[:, 3 * H:])
    dc *= f


# ============================================================ dispatch
# Decided by benchmarks/kernels.py on the reference machine (2 cores, OpenBLAS; its
# output is quoted in benchmarks/RESULTS.md). What it showed:
# - 2-D matmul: numpy's BLAS is 3-7x faster than the loop at every model shape -> numpy.
# - batched matmul at the training shapes (M = T = 10): numpy 2-7x faster -> numpy.
#   At the greedy-decoding shapes (M = 1, a tiny product per item) with a large batch
#   (1000, the evaluation batch) the numba loop is 1.3-2.5x faster -> numba; at batch
#   128 the two tie, so numpy keeps it.
# - softmax backward (no transcendental, three passes fused into one) is 2-3x faster in
#   numba at every row length -> numba. softmax / log_softmax forward and log_softmax
#   backward call exp, which is scalar in numba here (no SVML) -> numpy.
BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX = 2 * 1 * 256 * 64   # 2*M*K*N of one product
BATCHED_MATMUL_MIN_BATCH = 512                            # number of products
SOFTMAX_BACKWARD_NUMBA = True
LSTM_BACKWARD_NUMBA = True
LSTM_FORWARD_NUMBA = True


def _use_numba() -> bool:
    return BACKEND != "numpy"


def _rows(x, axis):
    """View ``x`` as a C-contiguous (rows, len(axis)) array; and a function mapping such
    rows back to ``x``'s layout. No copy when ``axis`` is last and ``x`` is contiguous."""
    if axis in (-1, x.ndim - 1) and x.flags.c_contiguous:
        shape = x.shape
        return x.reshape(-1, shape[-1]), (lambda r: r.reshape(shape))
    moved = np.moveaxis(x, axis, -1)
    shape = moved.shape
    return (np.ascontiguousarray(moved).reshape(-1, shape[-1]),
            lambda r: np.moveaxis(r.reshape(shape), -1, axis))


def _rows_kernel(x, axis, auto_choice: bool) -> bool:
    """Run a row kernel? ``auto_choice`` is the measured default for this op."""
    if not _use_numba() or x.size == 0 or x.dtype.kind != "f":
        return False
    return BACKEND == "numba" or auto_choice


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for >= 2-D float arrays with numpy's broadcasting of batch axes.

    Dispatch: numba for batched products of at least ``BATCHED_MATMUL_MIN_BATCH`` tiny
    matrices (``2*M*K*N <= BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX``), numpy's BLAS otherwise.

    Raises
    ------
    ValueError
        The inner dimensions differ; the message names both shapes.
    """
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis of the "
            f"first ({a.shape[-1]}) must equal the second-to-last of the second "
            f"({b.shape[-2]}) (fix: transpose one operand, e.g. b.transpose(-1, -2))")
    if not _use_numba() or a.dtype != b.dtype or a.dtype.kind != "f":
        return matmul_numpy(a, b)
    if a.ndim == 2 and b.ndim == 2:
        if BACKEND == "numba":
            return matmul2d_numba(np.ascontiguousarray(a), np.ascontiguousarray(b))
        return matmul_numpy(a, b)
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if BACKEND == "auto":  # cheap Python checks first: this runs for every matmul
        if b.ndim == 2:    # (..., M, K) @ (K, N): fold into one 2-D GEMM
            return matmul_numpy(a.reshape(-1, K), b).reshape(a.shape[:-1] + (N,))
        if 2 * M * K * N > BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX:
            return matmul_numpy(a, b)
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0]:
        batch = a.shape[:1]
    else:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    n_batch = math.prod(batch)
    if n_batch == 0 or M * N == 0 or (BACKEND == "auto" and n_batch < BATCHED_MATMUL_MIN_BATCH):
        return matmul_numpy(a, b)
    if a.ndim == 3 and a.shape[:-2] == b.shape[:-2]:
        if b.strides[-2] < b.strides[-1]:     # b is a transposed view (e.g. keys^T): the
            # numba kernels are compiled for C-contiguous arrays (SIMD inner loops), so
            # read the keys row-wise instead of copying them
            return matmul_batched_nt_numba(np.ascontiguousarray(a),
                                           np.ascontiguousarray(np.swapaxes(b, -1, -2)))
        return matmul_batched_numba(np.ascontiguousarray(a), np.ascontiguousarray(b))
    a3 = np.ascontiguousarray(np.broadcast_to(a, batch + (M, K))).reshape(-1, M, K)
    b3 = np.ascontiguousarray(np.broadcast_to(b, batch + (K, N))).reshape(-1, K, N)
    return matmul_batched_numba(a3, b3).reshape(batch + (M, N))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (shape and dtype of ``x``); numpy by default (measured)."""
    if _rows_kernel(x, axis, False):
        rows, back = _rows(x, axis)
        return back(softmax_rows_numba(rows))
    return softmax_numpy(x, axis)


def softmax_backward(y: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """dL/dx from y = softmax(x) and g = dL/dy; the numba row kernel by default."""
    if _rows_kernel(y, axis, SOFTMAX_BACKWARD_NUMBA):
        rows, back = _rows(y, axis)
        return back(softmax_backward_rows_numba(rows, _rows(g, axis)[0]))
    return softmax_backward_numpy(y, g, axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``; numpy by default (measured)."""
    if _rows_kernel(x, axis, False):
        rows, back = _rows(x, axis)
        return back(log_softmax_rows_numba(rows))
    return log_softmax_numpy(x, axis)


def log_softmax_backward(y: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """dL/dx from y = log_softmax(x) and g = dL/dy; numpy by default (measured)."""
    if _rows_kernel(y, axis, False):
        rows, back = _rows(y, axis)
        return back(log_softmax_backward_rows_numba(rows, _rows(g, axis)[0]))
    return log_softmax_backward_numpy(y, g, axis)


def lstm_step_forward(gates, c_prev, c_new) -> None:
    """The elementwise part of one LSTM step (see ``lstm_step_forward_numba``); numba by
    default (measured: one pass instead of five numpy passes and two temporaries)."""
    if _use_numba() and LSTM_FORWARD_NUMBA and gates.dtype == c_prev.dtype == c_new.dtype:
        lstm_step_forward_numba(gates, c_prev, c_new)
    else:
        lstm_step_forward_numpy(gates, c_prev, c_new)


def lstm_step_backward(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t) -> None:
    """One LSTM backward step (see ``lstm_step_backward_numba``); numba by default
    (measured: one fused pass instead of about fifteen numpy passes)."""
    if _use_numba() and LSTM_BACKWARD_NUMBA and gates.dtype == dh.dtype == g_h.dtype:
        lstm_step_backward_numba(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t)
    else:
        lstm_step_backward_numpy(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t)
