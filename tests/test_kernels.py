"""Every numba kernel agrees with its numpy twin, including 0-size dimensions, and the
whole engine runs on the twins when TINYGRAD_ATTN_KERNELS=numpy."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_attn import kernels as K

from .conftest import ROOT
from .strategies import FLOAT_DTYPES as dtypes
from .strategies import broadcastable_shapes, float32_exact, shapes

dims = st.integers(0, 7)


@pytest.fixture(autouse=True)
def restore_backend():
    saved = K.BACKEND
    yield
    K.BACKEND = saved


def close(a, b, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def arr(data, shape, dtype, lo=-3, hi=3):
    return data.draw(float32_exact(shape, dtype, lo, hi))


@given(data=st.data(), M=dims, Kd=dims, N=dims, dtype=dtypes)
def test_matmul2d(data, M, Kd, N, dtype):
    a, b = arr(data, (M, Kd), dtype), arr(data, (Kd, N), dtype)
    close(K.matmul2d_numba(a, b), K.matmul_numpy(a, b), dtype)


@given(data=st.data(), B=st.integers(0, 5), M=dims, Kd=dims, N=dims, dtype=dtypes)
def test_matmul_batched(data, B, M, Kd, N, dtype):
    a, b = arr(data, (B, M, Kd), dtype), arr(data, (B, Kd, N), dtype)
    close(K.matmul_batched_numba(a, b), K.matmul_numpy(a, b), dtype)


@given(data=st.data(), B=st.integers(0, 5), M=dims, Kd=dims, N=dims, dtype=dtypes)
def test_matmul_batched_with_transposed_b(data, B, M, Kd, N, dtype):
    a, bt = arr(data, (B, M, Kd), dtype), arr(data, (B, N, Kd), dtype)
    close(K.matmul_batched_nt_numba(a, bt), K.matmul_numpy(a, np.swapaxes(bt, 1, 2)), dtype)


@pytest.mark.parametrize("backend", ["auto", "numba"])
@given(data=st.data(), dtype=dtypes)
def test_matmul_dispatch_with_broadcast_batch_axes(backend, data, dtype):
    K.BACKEND = backend   # read at call time; restored by the autouse fixture
    batch_a, batch_b = data.draw(broadcastable_shapes(max_dims=3, max_side=4))
    M, Kd, N = (data.draw(st.integers(1, 5)) for _ in range(3))
    a = arr(data, batch_a + (M, Kd), dtype)
    b = arr(data, batch_b + (Kd, N), dtype)
    close(K.matmul(a, b), np.matmul(a, b), dtype)


rows = st.tuples(st.integers(0, 6), st.integers(0, 9))


@given(data=st.data(), shape=rows, dtype=dtypes)
def test_softmax_kernels(data, shape, dtype):
    x = arr(data, shape, dtype, -50, 50)
    g = arr(data, shape, dtype)
    y = K.softmax_numpy(x)
    close(K.softmax_rows_numba(x), y, dtype)
    close(K.softmax_backward_rows_numba(y, g), K.softmax_backward_numpy(y, g), dtype)
    ly = K.log_softmax_numpy(x)
    close(K.log_softmax_rows_numba(x), ly, dtype)
    close(K.log_softmax_backward_rows_numba(ly, g), K.log_softmax_backward_numpy(ly, g), dtype)


@pytest.mark.parametrize("backend", ["auto", "numba"])
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
       dtype=dtypes)
def test_softmax_dispatch_on_any_axis(backend, data, shape, dtype):
    K.BACKEND = backend
    x, g = arr(data, shape, dtype), arr(data, shape, dtype)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    y = K.softmax(x, axis)
    close(y, K.softmax_numpy(x, axis), dtype)
    close(K.softmax_backward(y, g, axis), K.softmax_backward_numpy(y, g, axis), dtype)
    ly = K.log_softmax(x, axis)
    close(ly, K.log_softmax_numpy(x, axis), dtype)
    close(K.log_softmax_backward(ly, g, axis), K.log_softmax_backward_numpy(ly, g, axis), dtype)


def test_engine_runs_on_numpy_twins_without_numba():
    code = (
        "import sys, numpy as np, tinygrad_attn as tg\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
        "x = tg.Tensor(np.arange(6.0).reshape(1, 2, 3), requires_grad=True)\n"
        "y = (x @ x.transpose(1, 2)).softmax(-1).sum()\n"
        "y.backward(); print(repr(float(y.item())), repr(float(x.grad.sum())))\n")
    env = dict(os.environ, TINYGRAD_ATTN_KERNELS="numpy", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    env["TINYGRAD_ATTN_KERNELS"] = "numba"  # every dispatch on the numba kernels
    out2 = subprocess.run([sys.executable, "-c", code.replace(
        "assert 'numba' not in sys.modules, 'numba was imported'", "")], env=env,
        capture_output=True, text=True)
    assert out2.returncode == 0, out2.stderr
    a, b = map(float, out.stdout.split()), map(float, out2.stdout.split())
    np.testing.assert_allclose(list(a), list(b), rtol=1e-12)


@given(data=st.data(), N=st.integers(0, 5), T=st.integers(1, 4), H=st.integers(0, 6), dtype=dtypes)
def test_lstm_step_backward_kernel(data, N, T, H, dtype):
    t = data.draw(st.integers(0, T - 1))
    g_h, g_c = arr(data, (N, T, H), dtype), arr(data, (N, T, H), dtype)
    gates = arr(data, (N, 4 * H), dtype, 0, 1)
    tanh_c, c_prev, dh, dc = (arr(data, (N, H), dtype) for _ in range(4))
    results = []
    for fn in (K.lstm_step_backward_numba, K.lstm_step_backward_numpy):
        dc_k, dz = dc.copy(), np.empty_like(gates)
        fn(t, g_h, g_c, gates, tanh_c, c_prev, dh, dc_k, dz)
        results.append((dz, dc_k))
    close(results[0][0], results[1][0], dtype)
    close(results[0][1], results[1][1], dtype)


@given(data=st.data(), N=st.integers(0, 5), T=st.integers(1, 4), H=st.integers(0, 6), dtype=dtypes)
def test_gru_step_backward_kernel(data, N, T, H, dtype):
    t = data.draw(st.integers(0, T - 1))
    g_h = arr(data, (N, T, H), dtype)
    gates = arr(data, (N, 3 * H), dtype, 0, 1)
    ghn, h_prev, dh = (arr(data, (N, H), dtype) for _ in range(3))
    results = []
    for fn in (K.gru_step_backward_numba, K.gru_step_backward_numpy):
        dh_k, dgi, dgh = dh.copy(), np.empty_like(gates), np.empty_like(gates)
        fn(t, g_h, gates, ghn, h_prev, dh_k, dgi, dgh)
        results.append((dgi, dgh, dh_k))
    for a, b in zip(*results):
        close(a, b, dtype)


@given(data=st.data(), n=st.integers(0, 300), dtype=dtypes)
def test_sum_of_squares_kernel_accumulates_in_float64(data, n, dtype):
    x = arr(data, (n,), dtype)
    want = math.fsum(float(v) ** 2 for v in x)
    for fn in (K.sum_of_squares_numba, K.sum_of_squares_numpy):
        assert fn(x) == pytest.approx(want, rel=1e-12, abs=1e-300)


@given(data=st.data(), n=st.integers(1, 40), c=st.integers(1, 9), dtype=dtypes)
def test_group_sums_kernel_equals_its_twin_and_the_sums(data, n, c, dtype):
    rows = arr(data, (n, c), dtype)
    group = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    want = np.zeros((group.max() + 1, c))
    for k, g in enumerate(group):
        want[g] += rows[k]
    for fn in (K.group_sums_numba, K.group_sums_numpy):
        got = fn(group, rows, group.max() + 1)
        assert got.dtype == dtype and got.shape == want.shape
        close(got, want.astype(dtype), dtype)


def test_group_sums_keep_nan_and_run_numpy_on_strided_rows():
    rows = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]], np.float32)
    got = K.group_sums(np.array([1, 0, 1]), rows)
    np.testing.assert_array_equal(got, np.array([[2.0, 3.0], [5.0, np.nan]], np.float32))
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    assert _called(K.group_sums, np.array([0, 0, 1]), strided) == "numpy"
    np.testing.assert_array_equal(K.group_sums(np.array([0, 0, 1]), strided),
                                  [[4.0, 8.0], [8.0, 10.0]])


def test_sum_of_squares_keeps_nan_and_inf_and_float32_magnitudes():
    big = np.full(4, 3e38, np.float32)                 # each square overflows float32
    assert K.sum_of_squares(big) == pytest.approx(4 * float(np.float32(3e38)) ** 2)
    assert math.isnan(K.sum_of_squares(np.array([1.0, np.nan], np.float32)))
    assert K.sum_of_squares(np.array([1.0, -np.inf], np.float32)) == math.inf
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]   # not contiguous
    assert K.sum_of_squares(strided) == float((strided.astype(np.float64) ** 2).sum())


@given(data=st.data(), N=st.integers(0, 5), H=st.integers(0, 6), dtype=dtypes)
def test_lstm_step_forward_kernel(data, N, H, dtype):
    # the kernels' input: tanh of [z_i / 2, z_f / 2, z_g, z_o / 2]; the gates must come out
    # as [sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)] and c_new = f c_prev + i g
    z = arr(data, (N, 4 * H), dtype)
    c_prev = arr(data, (N, H), dtype)
    sig = lambda v: 1 / (1 + np.exp(-v.astype(np.float64)))                    # noqa: E731
    want_gates = np.concatenate([sig(z[:, :2 * H]), np.tanh(z[:, 2 * H:3 * H].astype(np.float64)),
                                 sig(z[:, 3 * H:])], axis=1)
    want_c = want_gates[:, H:2 * H] * c_prev + want_gates[:, :H] * want_gates[:, 2 * H:3 * H]
    halved = z.copy()
    halved[:, :2 * H] /= 2
    halved[:, 3 * H:] /= 2
    for fn in (K.lstm_step_forward_numba, K.lstm_step_forward_numpy):
        gates, c_new = np.tanh(halved), np.empty_like(c_prev)
        fn(gates, c_prev, c_new)
        close(gates, want_gates.astype(dtype), dtype)
        close(c_new, want_c.astype(dtype), dtype)


def test_a_compile_is_announced_once_and_cached_where_numba_cache_dir_says(tmp_path):
    code = ("import numpy as np, tinygrad_attn.kernels as K\n"
            "g = np.tanh(np.ones((2, 8), np.float32)); c = np.ones((2, 2), np.float32)\n"
            "K.lstm_step_forward_numba(g, c, c)\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("TINYGRAD_ATTN_KERNELS", None)
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    assert "compiled the numba kernel lstm_step_forward_numba for float32" in runs[0].stderr
    assert any(p.suffix == ".nbc" for p in tmp_path.rglob("*"))      # the cache is there
    assert "compiled" not in runs[1].stderr                             # and loaded silently


def _called(fn, *args):
    """Run ``fn`` with every kernel and twin of the module wrapped; return "numba" or
    "numpy" by which one ran (the way benchmarks/kernels.py observes the dispatch)."""
    names = [n for n in vars(K) if n.endswith(("_numba", "_numpy")) and n != "_use_numba"]
    seen, saved = [], {n: getattr(K, n) for n in names}
    try:
        for n, f in saved.items():
            setattr(K, n, lambda *a, _n=n, _f=f, **k: (seen.append(_n), _f(*a, **k))[1])
        fn(*args)
    finally:
        for n, f in saved.items():
            setattr(K, n, f)
    assert seen, "no kernel or twin ran"
    return "numba" if any(s.endswith("_numba") for s in seen) else "numpy"


def _lstm_args(N, H, T=3, dtype=np.float32):
    rng = np.random.default_rng(0)
    f = lambda *s: rng.random(s).astype(dtype)                       # noqa: E731
    forward = (np.tanh(f(N, 4 * H)), f(N, H), np.empty((N, H), dtype))
    backward = (T - 1, f(N, T, H), f(N, T, H), f(N, 4 * H), f(N, H), f(N, H), f(N, H),
                f(N, H), np.empty((N, 4 * H), dtype))
    return forward, backward


@pytest.mark.parametrize("shape_a,shape_b,transposed_b,want_class", [
    ((128, 256), (256, 1024), False, "matmul_2d"),
    ((128, 10, 512), (512, 59), False, "matmul_folded"),
    ((128, 10, 256), (128, 256, 29), False, "matmul_batched_large"),
    ((128, 1, 256), (128, 256, 29), True, "matmul_batched_few"),
    ((1000, 1, 256), (1000, 256, 29), False, "matmul_batched_many"),
    ((1000, 1, 256), (1000, 256, 29), True, "matmul_batched_many"),
    ((1000, 1, 29), (1000, 29, 256), False, "matmul_batched_many"),
    ((2, 300, 1, 8), (300, 8, 3), False, "matmul_batched_many"),      # broadcast batch axes
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dispatch_table_is_what_matmul_runs(shape_a, shape_b, transposed_b, want_class, dtype):
    K.BACKEND = "auto"
    a = np.ones(shape_a, dtype)
    b = np.ones(shape_b[:-2] + shape_b[:-3:-1], dtype).swapaxes(-1, -2) if transposed_b \
        else np.ones(shape_b, dtype)
    assert K.matmul_shape_class(a, b) == want_class
    assert _called(K.matmul, a, b) == K.DISPATCH[want_class].auto


@pytest.mark.parametrize("shape", [(128, 10, 29), (128, 1, 29), (1280, 59), (128, 1024)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_dispatch_table_is_what_the_softmax_family_runs(shape, op):
    K.BACKEND = "auto"
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    y = getattr(K, op + "_numpy")(x)
    assert _called(getattr(K, op), x) == K.DISPATCH[op].auto
    assert _called(getattr(K, op + "_backward"), y, x) == K.DISPATCH[op + "_backward"].auto


@pytest.mark.parametrize("N,H", [(128, 256), (1000, 256), (3, 5)])
def test_dispatch_table_is_what_the_lstm_steps_run(N, H):
    K.BACKEND = "auto"
    forward, backward = _lstm_args(N, H)
    assert _called(K.lstm_step_forward, *forward) == K.DISPATCH["lstm_step_forward"].auto
    assert _called(K.lstm_step_backward, *backward) == K.DISPATCH["lstm_step_backward"].auto
    rng = np.random.default_rng(0)
    f = lambda *s: rng.random(s).astype(np.float32)                  # noqa: E731
    gru = (2, f(N, 3, H), f(N, 3 * H), f(N, H), f(N, H), f(N, H), np.empty((N, 3 * H),
           np.float32), np.empty((N, 3 * H), np.float32))
    assert _called(K.gru_step_backward, *gru) == K.DISPATCH["gru_step_backward"].auto
    assert _called(K.sum_of_squares, f(N, H)) == K.DISPATCH["sum_of_squares"].auto
    assert _called(K.group_sums, np.arange(N) % 3, f(N, 4 * H)) == K.DISPATCH["group_sums"].auto


def test_dispatch_settings_override_the_table_and_the_docstring_states_it():
    backward = _lstm_args(4, 3)[1]
    x = np.ones((4, 6), np.float32)
    for setting in ("numba", "numpy"):
        K.BACKEND = setting
        assert _called(K.softmax, x) == _called(K.lstm_step_backward, *backward) == setting
        assert _called(K.matmul, x, x.T) == setting
    K.BACKEND = "auto"
    assert set(K.DISPATCH) == {"matmul_2d", "matmul_folded", "matmul_batched_large",
                               "matmul_batched_few", "matmul_batched_many", "softmax",
                               "softmax_backward", "log_softmax", "log_softmax_backward",
                               "lstm_step_forward", "lstm_step_backward", "gru_step_backward",
                               "sum_of_squares", "group_sums"}
    # the module docstring's table gives each row's choice: it must be the table's
    table = K.__doc__.split("auto   why")[1].split("\n====")[1]
    rows = [[]]
    for line in table.strip("\n").splitlines()[1:]:
        if line.strip() and not line.startswith(" ") and rows[-1]:
            rows.append([])
        rows[-1].append(line)
    stated = {}
    for row in rows:
        text = " ".join(row)
        key = text.split("(")[-1].split(")")[0] if text.startswith("matmul") else row[0].split()[0]
        stated[key] = row[0][36:41]
    assert stated == {op: route.auto for op, route in K.DISPATCH.items()}
