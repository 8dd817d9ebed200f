"""Hot-path kernels: numba ``@njit(cache=True)`` loops, each beside its plain-numpy twin.

Ops call the dispatching functions at the bottom of this module (``matmul``,
``softmax``, ``softmax_backward``, ``log_softmax``, ``log_softmax_backward``,
``lstm_step_forward``, ``lstm_step_backward``, ``gru_step_backward``,
``sum_of_squares``, ``group_sums``). Which implementation each one runs is
decided in ONE table, ``DISPATCH``, beside the measurements behind it
(``python benchmarks/kernels.py``, its output quoted in ``benchmarks/RESULTS.md``: 2 cores,
OpenBLAS, numba without SVML). What the default (``auto``) runs:

==================================  =====  ==========================================
op (``DISPATCH`` key)               auto   why (measured; nb/np = numba time / numpy's)
==================================  =====  ==========================================
matmul, 2-D @ 2-D (matmul_2d)       numpy  OpenBLAS runs near the machine's peak; the
                                           loop is 3-7x slower at every model shape
matmul, (..., M, K) @ (K, N)        numpy  one 2-D product after a reshape: as above
  (matmul_folded)
matmul, batched, a product of more  numpy  the loop is 2.2-6.4x slower at the training
  than 2*1*256*64 flops                    shapes (M = T = 10)
  (matmul_batched_large)
matmul, batched, tiny products,     numpy  decoding at batch 128: nb/np 0.85-1.56 by
  fewer than 512 of them                   memory layout, no stable win
  (matmul_batched_few)
matmul, batched, tiny products,     numba  greedy decoding of the evaluation batch
  at least 512 of them                     (1000): numpy's per-matrix BLAS calls cost
  (matmul_batched_many)                    more; the loop is 1.2-2.4x faster
softmax                             numpy  calls exp, scalar in numba (no SVML): 1.3-2.7x
                                           slower at rows of 59 and 1024, 0.7-1.03 of
                                           numpy's time at rows of 29 (not stable)
softmax_backward                    numba  no transcendental, three passes fused into
                                           one: 2-3.6x faster at every row length
log_softmax                         numpy  exp and log: as softmax
log_softmax_backward                numpy  exp: 1.05-2.4x slower in numba
lstm_step_forward                   numba  the gates' arithmetic after numpy's one
                                           ``tanh``: one pass instead of five and two
                                           temporaries, about 2.2x faster
lstm_step_backward                  numba  about fifteen numpy passes over (N, H) fused
                                           into one, no transcendental: 2.2-3x faster
gru_step_backward                   numba  the GRU's, the same kind of fusion (about
                                           fourteen passes into one): 4-5x faster
sum_of_squares                      numba  the gradient norm's sum of squares: one
                                           pass, no float64 copy: 12-50x faster
group_sums                          numba  the rows of each group summed (the fused
                                           layers' shared prefixes): one pass instead
                                           of a product with a 0/1 matrix, 6-11x faster
==================================  =====  ==========================================

Guards that hold before the table, in every setting: mixed or non-float dtypes
(matmul, softmax family), 0-size arrays (softmax family) and empty batched products
(matmul) run numpy; the LSTM steps run numpy when their arrays' dtypes differ.

The environment variable ``TINYGRAD_ATTN_KERNELS`` chooses the setting, read at import
(and ``kernels.BACKEND`` at every call): ``auto`` (the default) follows the table;
``numpy`` runs the whole engine on the numpy twins (numba is then never imported nor
compiled); ``numba`` sends every call past the guards to its kernel (tests and
benchmarks use it). numba is imported only in this module.

The math is the standard one: matmul ``C[i, j] = sum_k A[i, k] B[k, j]``; softmax and its
backward as written in :mod:`tinygrad_attn.ops`; the LSTM step as in
``fused.LSTMSequence`` (whose composed twin is ``nn.lstm_cell``), the GRU step as in
``fused.GRUSequence`` (composed twin ``nn.gru_cell``).
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

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
    """The elementwise part of one LSTM step (fused.LSTMSequence) after its one ``tanh``.

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
    """One step of the LSTM backward (fused.LSTMSequence), fused into one pass.

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


@njit(cache=True, fastmath=FASTMATH)
def gru_step_backward_numba(t, g_h, gates, ghn, h_prev, dh, dgi_t, dgh_t):
    """One step of the GRU backward (fused.GRUSequence), fused into one pass.

    Reads the activated gates (N, 3H) [r, z, n], ghn = h_{t-1} W_hn^T + b_hn and h_{t-1}
    (N, H), the output gradient g_h (N, T, H) at step ``t`` and the carried dh (N, H).
    Writes dgi_t (N, 3H), the gradient of the input part x W_ih^T + b_ih of the gates'
    pre-activations, and dgh_t (N, 3H), that of the hidden part h W_hh^T + b_hh, and
    replaces dh by the direct part of the carry to step t-1, dh_t * z (the caller adds
    dgh_t W_hh). With h' = (1 - z) n + z h, n = tanh(a_n), a_n = gi_n + r ghn:
    dn = dh (1 - z), dz = dh (h - n), da_n = dn (1 - n^2), da_r = da_n ghn r (1 - r),
    da_z = dz z (1 - z); dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r].
    Pure arithmetic, row views in the inner loop (as ``lstm_step_backward_numba``).
    """
    N, H = dh.shape
    for n in range(N):
        gr, gz, gn = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:]
        ir, iz, i_n = dgi_t[n, :H], dgi_t[n, H:2 * H], dgi_t[n, 2 * H:]
        hr, hz, h_n = dgh_t[n, :H], dgh_t[n, H:2 * H], dgh_t[n, 2 * H:]
        gh, ghnr, hp, dhr = g_h[n, t], ghn[n], h_prev[n], dh[n]
        for j in range(H):
            r, z, nv = gr[j], gz[j], gn[j]
            dhv = dhr[j] + gh[j]
            dan = dhv * (1 - z) * (1 - nv * nv)
            dar = dan * ghnr[j] * r * (1 - r)
            daz = dhv * (hp[j] - nv) * z * (1 - z)
            ir[j] = dar
            iz[j] = daz
            i_n[j] = dan
            hr[j] = dar
            hz[j] = daz
            h_n[j] = dan * r
            dhr[j] = dhv * z


@njit(cache=True, fastmath=FASTMATH)
def sum_of_squares_numba(x):
    """sum(x_i^2) of a 1-D array, accumulated in float64 in one pass (the global gradient
    norm of ``nn.clip_grad_norm_``); numpy's version copies x to float64 first."""
    total = 0.0
    for i in range(x.shape[0]):
        xi = np.float64(x[i])
        total += xi * xi
    return total


@njit(cache=True, fastmath=FASTMATH)
def group_sums_numba(group, rows, n_groups):
    """(n_groups, C) sums of the rows (N, C) in each group (``group`` (N,) int ids in
    0..n_groups-1), in one pass over the rows."""
    out = np.zeros((n_groups, rows.shape[1]), dtype=rows.dtype)
    for n in range(rows.shape[0]):
        o, r = out[group[n]], rows[n]
        for j in range(rows.shape[1]):
            o[j] += r[j]
    return out


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


def gru_step_backward_numpy(t, g_h, gates, ghn, h_prev, dh, dgi_t, dgh_t):
    """The numpy twin of ``gru_step_backward_numba`` (same arguments, same effect)."""
    H = dh.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dhv = dh + g_h[:, t]
    dan = dhv * (1 - z) * (1 - n * n)
    dgi_t[:, :H] = dgh_t[:, :H] = dan * ghn * r * (1 - r)
    dgi_t[:, H:2 * H] = dgh_t[:, H:2 * H] = dhv * (h_prev - n) * z * (1 - z)
    dgi_t[:, 2 * H:] = dan
    dgh_t[:, 2 * H:] = dan * r
    np.multiply(dhv, z, out=dh)


def sum_of_squares_numpy(x) -> float:
    """The numpy twin of ``sum_of_squares_numba``: sum(x^2) in float64."""
    return float(np.square(x.astype(np.float64)).sum())


def group_sums_numpy(group, rows, n_groups):
    """The numpy twin of ``group_sums_numba``: one product with the (n_groups, N) matrix
    whose entry (g, n) is 1 where row n is in group g."""
    onehot = np.zeros((n_groups, len(group)), dtype=rows.dtype)
    onehot[group, np.arange(len(group))] = 1
    return onehot @ rows


# ============================================================ dispatch
# ONE table: for each op (and, for matmul, each shape class) the implementation that the
# default setting ``auto`` runs, and the measurement behind the choice. The numbers are
# ``nb/np``, the numba kernel's median time over its numpy twin's, from the run of
# ``python benchmarks/kernels.py`` quoted in benchmarks/RESULTS.md (2 cores, OpenBLAS,
# float32, the date model's shapes: N=128, S=29, T=10, H=256, V=59); < 1 means numba is
# faster. ``TINYGRAD_ATTN_KERNELS=numba`` overrides every "numpy" below, ``=numpy`` every
# "numba"; the guards named in the module docstring hold in every setting.
NUMBA, NUMPY = "numba", "numpy"


class Route(NamedTuple):
    """One row of ``DISPATCH``: what ``auto`` runs (``"numba"`` or ``"numpy"``) and why."""
    auto: str
    why: str


BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX = 2 * 1 * 256 * 64   # 2*M*K*N of one product
BATCHED_MATMUL_MIN_BATCH = 512                            # number of products

DISPATCH: dict[str, Route] = {
    "matmul_2d": Route(NUMPY, "numpy's @ runs OpenBLAS near the machine's peak; the "
                       "i-k-j loop: nb/np 3.03-7.16 at the six model shapes"),
    "matmul_folded": Route(NUMPY, "(..., M, K) @ (K, N) is one 2-D product after a "
                           "reshape (one BLAS call): as matmul_2d"),
    "matmul_batched_large": Route(NUMPY, "products of more than "
                                  "BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX flops (the training "
                                  "shapes, M = T = 10): nb/np 2.15-6.42"),
    "matmul_batched_few": Route(NUMPY, "tiny products, fewer than BATCHED_MATMUL_MIN_BATCH "
                                "of them (greedy decoding at batch 128): nb/np 0.85-1.56 by "
                                "layout (the query-key product: 0.64-0.89 with transposed "
                                "keys, 1.5-1.8 in the plain layout over runs): no stable win"),
    "matmul_batched_many": Route(NUMBA, "tiny products, at least BATCHED_MATMUL_MIN_BATCH of "
                                 "them (greedy decoding of the evaluation batch, 1000): "
                                 "numpy's per-matrix BLAS calls cost more; nb/np 0.41-0.83"),
    "softmax": Route(NUMPY, "calls exp, which is scalar in numba here (no SVML): nb/np 1.33 "
                     "at rows of 59, 2.74 at 1024; 0.7-1.03 at rows of 29 over five runs"),
    "softmax_backward": Route(NUMBA, "no transcendental, three passes fused into one: "
                              "nb/np 0.28-0.51 at every row length (29, 59, 1024)"),
    "log_softmax": Route(NUMPY, "calls exp and log (scalar in numba): nb/np 1.44 at rows of "
                         "59, 2.55 at 1024; 0.74-0.94 at rows of 29, not stable"),
    "log_softmax_backward": Route(NUMPY, "calls exp (scalar in numba): nb/np 1.05-2.42"),
    "lstm_step_forward": Route(NUMBA, "pure arithmetic after numpy's one tanh, one pass "
                               "instead of five and two temporaries: nb/np 0.44-0.46 at "
                               "(128, 256) and (1000, 256)"),
    "lstm_step_backward": Route(NUMBA, "about fifteen numpy passes over (N, H) fused into "
                                "one, no transcendental: nb/np 0.33-0.45 at (128, 256) and "
                                "(1000, 256)"),
    "gru_step_backward": Route(NUMBA, "about fourteen numpy passes over (N, H) fused into "
                               "one, no transcendental (as lstm_step_backward): nb/np "
                               "0.21-0.24 at (64, 256) and (128, 256)"),
    "group_sums": Route(NUMBA, "one pass over the rows where numpy multiplies by a 0/1 "
                        "matrix: nb/np 0.09-0.17 at (128, 1024) rows in 2-90 groups"),
    "sum_of_squares": Route(NUMBA, "one pass, float64 accumulator, where numpy first copies the "
                            "gradient to float64: nb/np 0.02-0.08 at 0.26 M and 3.1 M "
                            "floats"),
}
# benchmarks/kernels.py prints this one in its header line
SOFTMAX_BACKWARD_NUMBA = DISPATCH["softmax_backward"].auto == NUMBA


def _use_numba() -> bool:
    return BACKEND != "numpy"


def numba_for(op: str) -> bool:
    """Whether ``op`` (a key of ``DISPATCH``) runs its numba kernel in the current setting
    (``BACKEND``, read at every call), once past the guards of its dispatching function."""
    return BACKEND == NUMBA or (BACKEND == "auto" and DISPATCH[op].auto == NUMBA)


def matmul_shape_class(a: np.ndarray, b: np.ndarray) -> str:
    """The ``DISPATCH`` key of ``a @ b`` (a, b: >= 2-D arrays whose inner sizes agree).

    Raises ValueError (numpy's) when batched operands' batch axes do not broadcast and their
    products are tiny (the only case where the batch size is needed)."""
    if b.ndim == 2:
        return "matmul_2d" if a.ndim == 2 else "matmul_folded"
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if 2 * M * K * N > BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX:
        return "matmul_batched_large"
    if math.prod(_batch_shape(a, b)) < BATCHED_MATMUL_MIN_BATCH:
        return "matmul_batched_few"
    return "matmul_batched_many"


def _batch_shape(a, b) -> tuple:
    """The broadcast batch axes of ``a @ b`` (numpy's rule; a fast path for equal 3-D)."""
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0]:
        return a.shape[:1]
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])


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


def _rows_kernel(x, op: str) -> bool:
    """Run the numba row kernel of ``op`` on ``x``? The guards (numpy setting, 0-size,
    non-float), then the table."""
    if not _use_numba() or x.size == 0 or x.dtype.kind != "f":
        return False
    return numba_for(op)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for >= 2-D float arrays with numpy's broadcasting of batch axes.

    Dispatch: ``DISPATCH`` by ``matmul_shape_class`` (numba only for at least
    ``BATCHED_MATMUL_MIN_BATCH`` tiny batched products), after the guards: mixed or
    non-float dtypes and empty batched products run numpy.

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
    shape_class = matmul_shape_class(a, b) if BACKEND == "auto" else None
    if shape_class is not None and DISPATCH[shape_class].auto == NUMPY:
        if shape_class == "matmul_folded":     # (..., M, K) @ (K, N): one 2-D GEMM
            K, N = b.shape
            return matmul_numpy(a.reshape(-1, K), b).reshape(a.shape[:-1] + (N,))
        return matmul_numpy(a, b)
    if a.ndim == 2 and b.ndim == 2:
        return matmul2d_numba(np.ascontiguousarray(a), np.ascontiguousarray(b))
    return _matmul_batched(a, b)


def _matmul_batched(a, b):
    """``a @ b`` on the batched numba kernels (numpy for an empty product)."""
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = _batch_shape(a, b)
    if math.prod(batch) == 0 or M * N == 0:
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
    """Softmax along ``axis`` (shape and dtype of ``x``); ``DISPATCH["softmax"]``."""
    if _rows_kernel(x, "softmax"):
        rows, back = _rows(x, axis)
        return back(softmax_rows_numba(rows))
    return softmax_numpy(x, axis)


def softmax_backward(y: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """dL/dx from y = softmax(x) and g = dL/dy; ``DISPATCH["softmax_backward"]``."""
    if _rows_kernel(y, "softmax_backward"):
        rows, back = _rows(y, axis)
        return back(softmax_backward_rows_numba(rows, _rows(g, axis)[0]))
    return softmax_backward_numpy(y, g, axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``; ``DISPATCH["log_softmax"]``."""
    if _rows_kernel(x, "log_softmax"):
        rows, back = _rows(x, axis)
        return back(log_softmax_rows_numba(rows))
    return log_softmax_numpy(x, axis)


def log_softmax_backward(y: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """dL/dx from y = log_softmax(x) and g = dL/dy; ``DISPATCH["log_softmax_backward"]``."""
    if _rows_kernel(y, "log_softmax_backward"):
        rows, back = _rows(y, axis)
        return back(log_softmax_backward_rows_numba(rows, _rows(g, axis)[0]))
    return log_softmax_backward_numpy(y, g, axis)


def lstm_step_forward(gates, c_prev, c_new) -> None:
    """The elementwise part of one LSTM step (see ``lstm_step_forward_numba``), in place;
    ``DISPATCH["lstm_step_forward"]`` (numpy when the three dtypes differ)."""
    if _use_numba() and gates.dtype == c_prev.dtype == c_new.dtype \
            and numba_for("lstm_step_forward"):
        lstm_step_forward_numba(gates, c_prev, c_new)
    else:
        lstm_step_forward_numpy(gates, c_prev, c_new)


def lstm_step_backward(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t) -> None:
    """One LSTM backward step (see ``lstm_step_backward_numba``), in place;
    ``DISPATCH["lstm_step_backward"]`` (numpy when the dtypes of gates, dh, g_h differ)."""
    if _use_numba() and gates.dtype == dh.dtype == g_h.dtype \
            and numba_for("lstm_step_backward"):
        lstm_step_backward_numba(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t)
    else:
        lstm_step_backward_numpy(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz_t)


def gru_step_backward(t, g_h, gates, ghn, h_prev, dh, dgi_t, dgh_t) -> None:
    """One GRU backward step (see ``gru_step_backward_numba``), in place;
    ``DISPATCH["gru_step_backward"]`` (numpy when the dtypes of gates, dh, g_h differ)."""
    if _use_numba() and gates.dtype == dh.dtype == g_h.dtype \
            and numba_for("gru_step_backward"):
        gru_step_backward_numba(t, g_h, gates, ghn, h_prev, dh, dgi_t, dgh_t)
    else:
        gru_step_backward_numpy(t, g_h, gates, ghn, h_prev, dh, dgi_t, dgh_t)


def sum_of_squares(x: np.ndarray) -> float:
    """sum(x^2) in float64 (see ``sum_of_squares_numba``); ``DISPATCH["sum_of_squares"]``
    (numpy for a non-float, empty or non-contiguous array)."""
    if _use_numba() and numba_for("sum_of_squares") and x.size and x.dtype.kind == "f" \
            and x.flags.c_contiguous:
        return float(sum_of_squares_numba(x.reshape(-1)))
    return sum_of_squares_numpy(x)


def group_sums(group: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(G, C) sums of the rows (N, C) of each group; ``group`` (N,) int ids 0..G-1 (G =
    max + 1), each id used at least once in practice (an unused id gives a zero row).
    ``DISPATCH["group_sums"]`` (numpy for a non-float or non-contiguous ``rows``)."""
    n_groups = int(group.max()) + 1 if len(group) else 0
    if _use_numba() and numba_for("group_sums") and rows.dtype.kind == "f" \
            and rows.flags.c_contiguous and len(group):
        return group_sums_numba(group, rows, n_groups)
    return group_sums_numpy(group, rows, n_groups)
