"""Time tinygrad_attn's numba kernels against their numpy twins and the default dispatch.

What it measures
----------------
For every op of ``tinygrad_attn.kernels`` (2-D matmul, batched matmul, softmax and
log_softmax forward/backward on the last axis) and for the shapes of the reference model
(book ch. 8 attention seq2seq on the date task: N=128, S=29, T=10, D=16, H=256, V=59,
float32), three implementations are timed in one interleaved loop (numba, numpy,
dispatch, numba, numpy, dispatch, ...) so that machine noise hits all three alike:

- ``numba``    the ``@njit`` kernel alone, on C-contiguous inputs (softmax rows
  pre-reshaped to 2-D; ``bmm bT`` rows, where b is a transposed view as in the
  attention scores, time ``matmul_batched_nt_numba`` on b's storage);
- ``numpy``    its numpy twin;
- ``dispatch`` the public function (``kernels.matmul``, ``kernels.softmax`` ...), i.e.
  what the engine runs by default, including its reshaping overhead.

How to read it
--------------
Times are medians in microseconds. ``nb/np`` < 1 means the numba kernel beat numpy;
``dp/np`` is the dispatch relative to numpy. ``path`` is the implementation the dispatch
actually called (observed, not guessed). ``SLOWER`` flags a dispatch >10% slower than
numpy; ``MISSED`` flags a shape routed to numpy although numba was >10% faster. The
summary at the end gives the data behind the dispatch thresholds in
``tinygrad_attn/kernels.py``. Every result is also checked against the numpy twin (rtol 1e-4,
atol 1e-4 * max|twin|); a mismatch is printed loudly. The first call of each kernel
(numba compile, or load from numba's on-disk cache) is timed once and reported apart.

Run from the repo root: ``python benchmarks/kernels.py [--quick] [--only SUBSTRING]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_attn import kernels as K  # noqa: E402

N, S, T, D, H, V = 128, 29, 10, 16, 256, 59
MATMUL_2D = [((N, H), (H, 4 * H)), ((N * S, D), (D, 4 * H)), ((N * T, 2 * H), (2 * H, V)),
             ((V, N * T), (N * T, 2 * H)), ((4 * H, N * S), (N * S, H)), ((N * T, V), (V, 2 * H))]
# batched: (a, b, layout); layout "" = both C-contiguous, "bT" = b is a transposed view of
# a C-contiguous (B, N, K) array (scores q @ hs^T, and d(attn) = d(ctx) @ hs^T), "aT" = a is
# a transposed view (the weight-side backward products). The model runs the views.
MATMUL_BATCHED = [((N, 1, H), (N, H, S), ""), ((N, 1, H), (N, H, S), "bT"),
                  ((N, T, H), (N, H, S), ""), ((N, T, H), (N, H, S), "bT"),
                  ((N, T, S), (N, S, H), ""), ((N, S, T), (N, T, H), ""),
                  ((N, S, T), (N, T, H), "aT"), ((N, H, T), (N, T, S), ""),
                  ((N, H, T), (N, T, S), "aT"), ((N, 1, S), (N, S, H), ""),
                  ((1000, 1, H), (1000, H, S), ""), ((1000, 1, H), (1000, H, S), "bT"),
                  ((1000, 1, S), (1000, S, H), "")]

SOFTMAX_SHAPES = [(N, T, S), (N, 1, S), (N * T, V), (N, 4 * H)]
GROUP_SUMS_GROUPS = [2, 14, 40, 90]            # distinct prefixes among N rows (date batches)
LSTM_STEP_SHAPES = [(N, S, H), (1000, S, H)]   # (N, T, H): training batch, evaluation batch
KERNEL_NAMES = ["lstm_step_forward_numba", "lstm_step_forward_numpy",
                "lstm_step_backward_numba", "lstm_step_backward_numpy", "matmul2d_numba",
                "matmul_batched_numba", "matmul_batched_nt_numba", "group_sums_numba",
                "softmax_rows_numba", "softmax_backward_rows_numba", "log_softmax_rows_numba",
                "log_softmax_backward_rows_numba", "matmul_numpy", "softmax_numpy",
                "softmax_backward_numpy", "log_softmax_numpy", "log_softmax_backward_numpy"]


def rows(x):
    return x.reshape(-1, x.shape[-1])


def make_cases(rng):
    """(op, shape label, numba kernel name, numba call, numpy call, dispatch call, flops)."""
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    cases = []
    for sa, sb in MATMUL_2D:
        a, b = f32(*sa), f32(*sb)
        cases.append(("matmul", f"{sa}x{sb}".replace(" ", ""), "matmul2d_numba",
                      (lambda a=a, b=b: K.matmul2d_numba(a, b)),
                      (lambda a=a, b=b: K.matmul_numpy(a, b)),
                      (lambda a=a, b=b: K.matmul(a, b)), 2 * sa[0] * sa[1] * sb[1]))
    for sa, sb, layout in MATMUL_BATCHED:
        if layout == "bT" and not hasattr(K, "matmul_batched_nt_numba"):
            continue
        a_c, b_c = f32(*sa), f32(*sb)                   # contiguous operands for the kernel
        a = np.swapaxes(a_c.swapaxes(1, 2).copy(), 1, 2) if layout == "aT" else a_c
        b = np.swapaxes(b_c.swapaxes(1, 2).copy(), 1, 2) if layout == "bT" else b_c
        if layout == "bT":                              # rows of b^T, read contiguously
            kern, nb = "matmul_batched_nt_numba", (
                lambda a=a_c, bt=np.swapaxes(b, 1, 2): K.matmul_batched_nt_numba(a, bt))
        else:
            kern, nb = "matmul_batched_numba", (
                lambda a=a_c, b=b_c: K.matmul_batched_numba(a, b))
        cases.append((("bmm " + layout).strip(), f"{sa}x{sb}".replace(" ", ""), kern, nb,
                      (lambda a=a, b=b: K.matmul_numpy(a, b)),
                      (lambda a=a, b=b: K.matmul(a, b)), 2 * sa[1] * sa[2] * sb[2]))
    for shape in SOFTMAX_SHAPES:
        x, g = f32(*shape) * 3, f32(*shape)
        y_sm, y_ls = K.softmax_numpy(x), K.log_softmax_numpy(x)
        label = str(shape).replace(" ", "")
        for op, kern, args in (("softmax", "softmax_rows_numba", (x,)),
                               ("softmax_bwd", "softmax_backward_rows_numba", (y_sm, g)),
                               ("log_softmax", "log_softmax_rows_numba", (x,)),
                               ("log_softmax_bwd", "log_softmax_backward_rows_numba", (y_ls, g))):
            twin, disp = getattr(K, op.replace("_bwd", "_backward") + "_numpy"), \
                getattr(K, op.replace("_bwd", "_backward"))
            r = tuple(rows(a) for a in args)
            cases.append((op, label, kern,
                          (lambda r=r, f=getattr(K, kern), s=shape: f(*r).reshape(s)),
                          (lambda a=args, f=twin: f(*a)), (lambda a=args, f=disp: f(*a)),
                          shape[-1]))
    for n, t_len, h in LSTM_STEP_SHAPES:
        g_h, g_c = f32(n, t_len, h), f32(n, t_len, h)
        gates = rng.random((n, 4 * h)).astype(np.float32)
        tanh_c, c_prev, dh, dc0 = (f32(n, h) for _ in range(4))

        def step(fn, g_h=g_h, g_c=g_c, gates=gates, tanh_c=tanh_c, c_prev=c_prev, dh=dh, dc0=dc0):
            dc, dz = dc0.copy(), np.empty_like(gates)     # the same fresh carry every call
            fn(t_len - 1, g_h, g_c, gates, tanh_c, c_prev, dh, dc, dz)
            return np.concatenate([dz, dc], axis=1)
        cases.append(("lstm_step_bwd", f"({n},{h})", "lstm_step_backward_numba",
                      (lambda step=step: step(K.lstm_step_backward_numba)),
                      (lambda step=step: step(K.lstm_step_backward_numpy)),
                      (lambda step=step: step(K.lstm_step_backward)), h))

        def fwd(fn, tanh_z=np.tanh(f32(n, 4 * h)), c_prev=c_prev):
            gates, c_new = tanh_z.copy(), np.empty_like(c_prev)   # fresh input every call
            fn(gates, c_prev, c_new)
            return np.concatenate([gates, c_new], axis=1)
        cases.append(("lstm_step_fwd", f"({n},{h})", "lstm_step_forward_numba",
                      (lambda fwd=fwd: fwd(K.lstm_step_forward_numba)),
                      (lambda fwd=fwd: fwd(K.lstm_step_forward_numpy)),
                      (lambda fwd=fwd: fwd(K.lstm_step_forward)), h))
    for groups in GROUP_SUMS_GROUPS:          # dz rows of one encoder step, summed by prefix
        dz = f32(N, 4 * H)
        group = np.arange(N) % groups
        cases.append(("group_sums", f"({N},{4 * H})/{groups}", "group_sums_numba",
                      (lambda g=group, r=dz, k=groups: K.group_sums_numba(g, r, k)),
                      (lambda g=group, r=dz, k=groups: K.group_sums_numpy(g, r, k)),
                      (lambda g=group, r=dz: K.group_sums(g, r)), N * 4 * H))
    return cases


def observed_path(call):
    """Call the dispatch once with every kernel wrapped, and return which one ran."""
    seen, saved = [], {n: getattr(K, n) for n in KERNEL_NAMES if hasattr(K, n)}

    def spy(name, fn):
        return lambda *a, **k: (seen.append(name), fn(*a, **k))[1]
    try:
        for n, fn in saved.items():
            setattr(K, n, spy(n, fn))
        call()
    finally:
        for n, fn in saved.items():
            setattr(K, n, fn)
    return "numba" if any(s.endswith("_numba") for s in seen) else "numpy" if seen else "?"


def check(name, got, ref):
    ok = got.shape == ref.shape and np.allclose(
        got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max() or 1.0))
    if not ok:
        err = np.abs(got.astype(np.float64) - ref).max() if got.shape == ref.shape else "shape"
        print(f"!!!!!! MISMATCH {name}: max abs error {err} (shape {got.shape} vs {ref.shape})")
    return ok


def bench(calls, budget, min_reps):
    """Interleave the calls (A B C A B C ...) and return median seconds per call."""
    t0 = time.perf_counter()
    for c in calls:                                     # one warm call each, estimates cost
        c()
    est = (time.perf_counter() - t0) / len(calls)
    reps = max(min_reps, min(20000, int(budget / max(est, 1e-7))))
    times = [[] for _ in calls]
    for _ in range(reps):
        for c, ts in zip(calls, times):
            t = time.perf_counter()
            c()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times], reps


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="~0.03 s per shape per impl, 3 reps min")
    p.add_argument("--only", default="", help="run only ops/shapes whose name contains this")
    args = p.parse_args()
    budget, min_reps = (0.03, 3) if args.quick else (0.2, 5)

    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), cpu)
    print(f"machine: {os.cpu_count()} cpus, {cpu or '?'}, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    print(f"kernels.BACKEND={K.BACKEND!r}  BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX="
          f"{K.BATCHED_MATMUL_MAX_FLOPS_PER_MATRIX}  BATCHED_MATMUL_MIN_BATCH="
          f"{K.BATCHED_MATMUL_MIN_BATCH}  SOFTMAX_BACKWARD_NUMBA={K.SOFTMAX_BACKWARD_NUMBA}")
    if K.BACKEND != "auto":
        print("!!!!!! TINYGRAD_ATTN_KERNELS is set: the dispatch column is not the default")
    print(f"budget {budget} s per shape per impl, at least {min_reps} repeats, interleaved\n")

    cases = [c for c in make_cases(np.random.default_rng(0)) if args.only in f"{c[0]} {c[1]}"]
    compile_s, table, bad = {}, [], 0
    print(f"{'op':<16}{'shape':<28}{'numba us':>11}{'numpy us':>11}{'disp us':>11}"
          f"{'nb/np':>7}{'dp/np':>7}  {'path':<6}{'reps':>6}  flags")
    for op, label, kern, nb, npy, disp, key in cases:
        if kern not in compile_s:                       # first call: compile or cache load
            t = time.perf_counter()
            nb()
            compile_s[kern] = time.perf_counter() - t
        ref = npy()
        bad += not check(f"{op} {label} numba", nb(), ref)
        bad += not check(f"{op} {label} dispatch", disp(), ref)
        path = observed_path(disp)
        (t_nb, t_np, t_dp), reps = bench([nb, npy, disp], budget, min_reps)
        flags = ("SLOWER " if t_dp > 1.1 * t_np else "") + \
                ("MISSED" if path == "numpy" and t_nb < 0.9 * t_np else "")
        table.append((op, label, key, t_nb, t_np, t_dp, path))
        print(f"{op:<16}{label:<28}{t_nb * 1e6:>11.1f}{t_np * 1e6:>11.1f}{t_dp * 1e6:>11.1f}"
              f"{t_nb / t_np:>7.2f}{t_dp / t_np:>7.2f}  {path:<6}{reps:>6}  {flags}", flush=True)

    print("\nfirst call per kernel (compile on a cache miss, load on a hit; the first one "
          "also pays numba's one-off start-up in this process):")
    for kern, s in compile_s.items():
        st = getattr(getattr(K, kern), "stats", None)
        cache = (f"cache hits {sum(st.cache_hits.values())}, misses {sum(st.cache_misses.values())}"
                 if st is not None else "no numba stats")
        print(f"  {kern:<34}{s * 1e3:9.1f} ms   {cache}")

    print("\nsummary (numba kernel vs numpy twin, medians):")
    bmm = sorted((key, t_nb / t_np) for op, _, key, t_nb, t_np, _, _ in table
                 if op.startswith("bmm"))
    for flops in sorted({f for f, _ in bmm}):
        rs = [r for f, r in bmm if f == flops]
        print(f"  bmm  2*M*K*N = {flops:>9}: nb/np {', '.join(f'{r:.2f}' for r in rs)}  "
              f"-> numba {'wins at all' if max(rs) < 1 else 'LOSES at some'}")
    sm = [(key, op, t_nb / t_np) for op, _, key, t_nb, t_np, _, _ in table if "softmax" in op]
    for row in sorted({k for k, _, _ in sm}):
        rs = [r for k, _, r in sm if k == row]
        print(f"  softmax family, row {row:>5}: worst nb/np {max(rs):.2f} over {len(rs)} cases "
              f"-> numba {'wins at all' if max(rs) < 1 else 'LOSES at some'}")
    print(f"\n{'!!!!!! ' + str(bad) + ' MISMATCHES (see above)' if bad else 'all results match'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
