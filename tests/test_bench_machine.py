"""What the benchmarks say about the machine (``benchmarks/machine.py``) and how
``benchmarks/seq2seq_date.py`` uses it (issue 17, item 1): the /proc/cpuinfo parser on fixed
texts (an Intel Xeon with AVX-512 and AMX, an AMD EPYC with AVX2 only, an ARM server), the
note on an OpenBLAS kernel narrower than the CPU, the floor from the faster measured GEMM
rate (never a constant), the primary figure (each engine alone) printed first, ``--load``'s
busy processes killed on every way out, and every bad option one line before any work.

Fast: no benchmark is timed (the heavy parts are replaced by fakes); the busy processes
live for well under a second each. Never needs ``../shared`` (the committed samples)."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = str(ROOT / "benchmarks")
if BENCH not in sys.path:
    sys.path.append(BENCH)

import machine  # noqa: E402

# made-up texts in the format of Linux's /proc/cpuinfo (two logical CPUs each, abridged)
INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel(R) Xeon(R) Platinum 8480+ @ 2.00GHz
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd \
avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 avx_vnni amx_bf16 amx_tile amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+ @ 2.00GHz
flags\t\t: fpu sse sse2
"""
AMD = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 sha_ni clzero

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 sha_ni clzero
"""
ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimdhp sve bf16 i8mm
CPU implementer\t: 0x41
"""


def test_cpuinfo_parser_reads_an_intel_avx512_cpu():
    cpu = machine.parse_cpuinfo(INTEL)
    assert cpu == {"model": "Intel(R) Xeon(R) Platinum 8480+ @ 2.00GHz",
                   "vendor": "GenuineIntel", "processors": 2,
                   "isa": ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl",
                           "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile",
                           "amx_bf16", "amx_int8"],
                   "widest": "amx_tile"}


def test_cpuinfo_parser_reads_an_amd_avx2_cpu():
    cpu = machine.parse_cpuinfo(AMD)
    assert cpu == {"model": "AMD EPYC 7B13", "vendor": "AuthenticAMD", "processors": 2,
                   "isa": ["sse4_2", "avx", "fma", "avx2"], "widest": "avx2"}


def test_cpuinfo_parser_reads_arm_features_and_survives_any_text():
    cpu = machine.parse_cpuinfo(ARM)
    assert cpu["isa"] == ["asimd", "asimdhp", "sve", "bf16", "i8mm"]
    assert cpu["widest"] == "sve" and cpu["vendor"] == "0x41" and cpu["model"] is None
    for text in ("", "no colon here\n\n", ":::\nflags:\n"):
        got = machine.parse_cpuinfo(text)
        assert got["isa"] == [] and got["widest"] is None and got["processors"] == 0


def test_cpu_info_of_a_missing_file_still_names_the_machine(tmp_path):
    info = machine.cpu_info(str(tmp_path / "no-cpuinfo"))
    assert info["model"] and info["isa"] == [] and info["cores"] == os.cpu_count()


def test_kernel_note_flags_an_openblas_kernel_narrower_than_the_cpu():
    blas = [{"internal_api": "openblas", "architecture": "Haswell"}]
    intel, amd = machine.parse_cpuinfo(INTEL), machine.parse_cpuinfo(AMD)
    assert machine.kernel_note(intel, blas) == ("openblas runs its Haswell kernel (avx2) on a "
                                                "CPU with amx_tile")
    assert machine.kernel_note(amd, blas) is None
    assert machine.kernel_note(intel, [{"internal_api": "mkl", "architecture": None}]) is None
    assert machine.kernel_note(intel, [{"internal_api": "openblas",
                                        "architecture": "SapphireRapids"}]) is None


def test_coretype_note_says_when_the_environment_forces_the_kernel():
    assert machine.coretype_note(None, "SkylakeX") is None
    assert machine.coretype_note("", "SkylakeX") is None
    assert machine.coretype_note("Haswell", "SkylakeX") == (
        "OPENBLAS_CORETYPE=Haswell is set in the environment: numpy's OpenBLAS runs the kernel "
        "it names; without it OpenBLAS would pick SkylakeX on this CPU (the figures below are "
        "with the environment as it is)")
    assert "pick an unknown kernel" in machine.coretype_note("Haswell", None)


def test_openblas_own_kernel_ignores_the_environments_coretype(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")       # an old, narrow kernel
    own = machine.openblas_own_kernel()
    if own is None:
        pytest.skip("numpy here has no OpenBLAS that threadpoolctl sees")
    assert own.lower() != "prescott"


def test_faster_rate_picks_the_fastest_finite_positive_rate():
    rates = {"numpy 1t": 60.0, "numpy 2t": 162.0, "torch 1t": 100.0, "torch 2t": 230.0}
    assert machine.faster_rate(rates) == ("torch 2t", 230.0)
    assert machine.faster_rate({"a": 5.0, "b": math.nan, "c": math.inf}) == ("a", 5.0)
    for bad in ({}, {"a": 0.0}, {"a": -3.0, "b": math.nan}):
        with pytest.raises(ValueError, match="^no measured GEMM rate is a finite number > 0"):
            machine.faster_rate(bad)


def test_gemm_gflops_measures_a_small_product_and_rejects_bad_input():
    rate = machine.gemm_gflops("numpy", (8, 16, 32), threads=1, repeats=2, min_seconds=1e-4)
    assert math.isfinite(rate) and rate > 0
    assert machine.gemm_gflops("numpy", (2, 4, 8, 4), 1, repeats=1, min_seconds=1e-4) > 0
    with pytest.raises(ValueError, match="lib must be 'numpy' or 'torch'"):
        machine.gemm_gflops("blis", (4, 4, 4), 1)
    with pytest.raises(ValueError, match="need threads >= 1"):
        machine.gemm_gflops("numpy", (4, 0, 4), 1)
    with pytest.raises(ValueError, match="need threads >= 1"):
        machine.gemm_gflops("numpy", (4, 4, 4), 0)


def test_measure_products_mixes_the_rates_by_flops(monkeypatch):
    fake = {("numpy", 1): 10.0, ("torch", 1): 40.0}
    monkeypatch.setattr(machine, "gemm_gflops",
                        lambda lib, shape, k, repeats: fake[lib, k] * (2 if shape[0] == 1 else 1))
    # flops: (1, 1, 1) x 3 -> 6; (2, 1, 1) x 1 -> 4
    res = machine.measure_products([("a", (1, 1, 1), 3), ("b", (2, 1, 1), 1)],
                                   [("numpy", 1), ("torch", 1)])
    assert [p["share"] for p in res["products"]] == [0.6, 0.4]
    assert res["products"][0]["gflops"] == {"numpy 1t": 20.0, "torch 1t": 80.0}
    assert res["mix"]["numpy 1t"] == pytest.approx(10 / (6 / 20 + 4 / 10))
    assert res["mix"]["torch 1t"] == pytest.approx(10 / (6 / 80 + 4 / 40))


# -- --load's busy processes are killed on every way out ------------------------------------
def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def _gone(pids, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@needs_proc
def test_busy_processes_spin_nap_and_die_when_the_block_ends():
    with machine.busy_processes(2) as busy:
        pids = [p.pid for p in busy.procs]
        assert len(pids) == 2 and all(_alive(p) for p in pids) and busy.spinning
        time.sleep(0.3)
        busy.pause()
        assert not busy.spinning
        time.sleep(0.05)
        napping = [_cpu_seconds(p) for p in pids]
        time.sleep(0.3)
        assert all(_cpu_seconds(p) - c < 0.1 for p, c in zip(pids, napping))
        busy.set(True)
        assert busy.spinning
        deadline = time.monotonic() + 10       # a niced test on a busy machine spins slowly
        while not all(_cpu_seconds(p) - c >= 0.02 for p, c in zip(pids, napping)):
            assert time.monotonic() < deadline, "the busy processes did not spin again"
            time.sleep(0.05)
    assert all(p.poll() is not None for p in busy.procs) and _gone(pids, 0)
    with machine.busy_processes(0) as busy:
        assert busy.procs == [] and machine.load_states(busy) == (False, True)
    assert machine.load_states(None) == (False,)
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        with machine.busy_processes(-1):
            pass


@needs_proc
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_busy_processes_die_on_an_exception_and_on_ctrl_c(error):
    with pytest.raises(error):
        with machine.busy_processes(1) as busy:
            busy.pause()                # a napping process is killed as well
            raise error("boom")
    assert busy.procs[0].poll() is not None and _gone([busy.procs[0].pid], 0)


# the holder restores Python's SIGINT handler: a suite run as a background job hands its
# children SIGINT ignored (a shell without job control does), and Ctrl-C is what is tested
_HOLDER = (f"import signal, sys, time; signal.signal(signal.SIGINT, "
           f"signal.default_int_handler); sys.path.insert(0, {BENCH!r}); import machine\n"
           "with machine.busy_processes(2) as busy:\n"
           "    print(' '.join(str(p.pid) for p in busy.procs), flush=True)\n"
           "    time.sleep(60)\n")


@needs_proc
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_busy_processes_die_with_a_benchmark_interrupted_or_killed(sig):
    """SIGINT (Ctrl-C) unwinds the block; SIGTERM and SIGKILL kill the holder without
    unwinding, and each spinner notices its parent is gone and stops by itself."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        pids = [int(p) for p in holder.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        holder.send_signal(sig)
        holder.wait(timeout=10)
        assert _gone(pids), f"busy processes {pids} survived {sig.name}"
    finally:
        holder.kill()
        holder.wait()


# -- seq2seq_date.py -------------------------------------------------------------------------
torch = pytest.importorskip("torch", reason="the benchmark needs PyTorch (torch==2.13.0)")
import seq2seq_date as bs  # noqa: E402

SAMPLE = ROOT / "samples" / "dlfs2" / "date.sample.txt"
PROG = bs.PROG
# (argv, the exact line on stderr, without " (see PROG --help)")
BAD = [
    (["--load", "-1"], "argument --load: must be an integer from 0 to 64, got -1"),
    (["--load", "65"], "argument --load: must be an integer from 0 to 64, got 65"),
    (["--load", "1.5"], "argument --load: '1.5' is not an integer"),
    (["--load", "two"], "argument --load: 'two' is not an integer"),
    (["--load", "nan"], "argument --load: 'nan' is not an integer"),
    (["--steps", "0"], "argument --steps: must be an integer from 1 to 100,000, got 0"),
    (["--warmup", "-1"], "argument --warmup: must be an integer from 0 to 1,000, got -1"),
    (["--rounds", "0"], "argument --rounds: must be an integer from 1 to 100, got 0"),
    (["--threads", "0"], "argument --threads: must be an integer from 1 to 1,024, got 0"),
    (["--skip", "solo,gemms"], "argument --skip: unknown part 'gemms' (choose from solo, "
     "startup, memory, inference)"),
    (["--load", "1", "--sweep"], "--load applies to the training-step timing, not --sweep "
     "(fix: drop --load or --sweep)"),
    (["--data", "no/such.txt"], f"--data no/such.txt: no such file (fix: pass the book's "
     f"date.txt, e.g. {bs.DEFAULT_DATA})"),
    (["--data", str(SAMPLE), "--out", "no/such/folder/r.json"], "--out no/such/folder/r.json: "
     "not a file in an existing folder (fix: e.g. --out report.json)"),
]


@pytest.mark.parametrize("argv, line", BAD, ids=[" ".join(a[:2]) for a, _ in BAD])
def test_bad_options_are_one_line_before_any_work(argv, line, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(bs, "run", lambda args: pytest.fail("work started"))
    with pytest.raises(SystemExit) as e:
        bs.main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert err == f"{PROG}: error: {line} (see {PROG} --help)\n" and out == ""


def test_the_step_flops_are_the_products_listed():
    dims = dict(N=128, S=29, T=10, D=16, H=256, V=59)
    N, S, T, D, H, V = dims.values()
    forward = 2 * N * (S + T) * (D + H) * 4 * H + 2 * 2 * N * T * S * H + 2 * N * T * 2 * H * V
    assert bs.matmul_flops(**dims) == 3.0 * forward
    gemms = bs.step_gemms(**dims)
    assert ("h W_hh^T, LSTM step", (128, 256, 1024), 39) in gemms


def test_the_floor_comes_from_the_faster_measured_rate(monkeypatch, capsys):
    assert not hasattr(bs, "PEAK_GFLOPS")            # no constant from another machine
    dims = dict(N=4, S=3, T=2, D=2, H=4, V=5)
    mix = {"numpy 1t": 50.0, "numpy 2t": 100.0, "torch 1t": 60.0, "torch 2t": 150.0}
    monkeypatch.setattr(machine, "measure_products", lambda products, configs: {
        "products": [{"label": label, "shape": list(s), "count": n, "share": 1 / len(products),
                      "gflops": mix} for label, s, n in products], "mix": mix})
    res = bs.report_gemms(dims, steps_per_epoch=10, torch_threads=2)
    flops = bs.matmul_flops(**dims)
    assert res["floor"] == {"rate_of": "torch 2t", "gflops": 150.0,
                            "s_per_step": flops / 150e9, "s_per_epoch": 10 * flops / 150e9}
    assert "fastest measured rate (torch 2t, 150.0 GFLOP/s)" in capsys.readouterr().out


def test_primary_figure_first_and_the_slowdown_under_load(monkeypatch, capsys, tmp_path):
    """The run's order and arithmetic with the timing replaced by fakes: the alone ratio
    is printed first and labelled primary, the alternated figure beside it, and under
    --load the loaded turns interleaved with the others and each engine's slowdown."""
    per_step = {"ours": 0.1, "torch nn.LSTM": 0.08, "torch cell": 0.12}
    seen = {"solo": [], "steps": [], "busy": []}

    def fake_child(code, env=None):  # one engine alone; 1.5x slower while the load spins,
        name = next(n for n in bs.ENGINES if f"names=({n!r},)" in code)   # 1.2x on one core
        one = env == machine.ONE_CORE_ENV
        assert one == code.startswith(machine.PIN_ONE_CPU) and (one or env is None)
        seen["solo"].append((name, "one core" if one else busy_now[0].spinning))
        scale = 1.2 if one else 1.5 if busy_now[0].spinning else 1.0
        return {"median": per_step[name] * scale, "min": 0}

    class FakeEngine:
        def __init__(self, name):
            self.name = name

        def step(self, src, tgt):  # 2x slower while the load spins
            seen["steps"].append((self.name, busy_now[0].spinning))
            t = per_step[self.name] * (2.0 if busy_now[0].spinning else 1.0)
            return 0.0, (t / 2, t / 2, 0.0)

    class FakeBusy:
        def __init__(self, n):
            self.procs, self.spinning = [SimpleNamespace(pid=1, poll=lambda: None)] * n, True
            busy_now[0] = self

        def set(self, on):
            self.spinning = on

        def pause(self):
            self.set(False)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            seen["busy"].append("killed")

    busy_now = [SimpleNamespace(spinning=False)]
    monkeypatch.setattr(bs, "_child", fake_child)
    monkeypatch.setattr(bs, "build", lambda data, cfg: [FakeEngine(n) for n in bs.ENGINES])
    monkeypatch.setattr(bs, "check_first_batch", lambda data, cfg: {})
    monkeypatch.setattr(machine, "measure_products", lambda products, configs: {
        "products": [], "mix": {"numpy 1t": 80.0}})
    monkeypatch.setattr(machine, "busy_processes", FakeBusy)
    monkeypatch.setattr(bs.time, "sleep", lambda s: seen["busy"].append(s))
    monkeypatch.setattr(bs, "LOAD_BLOCK", 2)
    out_json = tmp_path / "r.json"
    assert bs.main(["--data", str(SAMPLE), "--steps", "3", "--warmup", "0", "--rounds", "2",
                    "--threads", "1", "--load", "1", "--skip", "startup,memory,inference",
                    "--out", str(out_json)]) == 0
    out = capsys.readouterr().out
    first = out.index("PRIMARY FIGURE: each engine alone")
    assert "PRIMARY FIGURE, ratio of the medians (alone): ours / torch nn.LSTM 1.250" in out
    assert out.index("floor:") < first < out.index("UNDER --load 1: each engine alone") \
        < out.index("beside it: the engines alternated") \
        < out.index("beside it, UNDER --load 1: the engines") < out.index("slowdown under")
    assert "paired ratio" not in out[:first]
    assert ("slowdown under --load 1 (alone; time under load / time without, both from this "
            "run): ours 1.50x, torch nn.LSTM 1.50x, torch cell 1.50x") in out
    assert ("slowdown under --load 1 (alternated; time under load / time without, both from "
            "this run): ours 2.00x, torch nn.LSTM 2.00x, torch cell 2.00x") in out
    assert "ON ONE CORE (1 thread, pinned, no load): each engine alone" in out
    assert ("(time on one core / time on two cores, what the second core gave): ours 1.25 x "
            "1.20, torch nn.LSTM 1.25 x 1.20, torch cell 1.25 x 1.20") in out
    # interleaved: round 1 without the load, with it, on one core (A B C), round 2 the
    # other way (C B A); the alternated steps in blocks (of 2 here), each block's batches
    # without and with the load, which first swapping between blocks, a settling pause
    # before each
    states = [on for _, on in seen["solo"]]
    assert states == [False] * 3 + [True] * 3 + ["one core"] * 6 + [True] * 3 + [False] * 3
    assert [n for n, _ in seen["solo"][:3]] == list(bs.ENGINES)
    assert [on for _, on in seen["steps"]][::3] == [False, False, True, True, True, False]
    assert seen["busy"] == [0.5] + [bs.LOAD_SETTLE] * 4 + ["killed"]
    saved = json.loads(out_json.read_text())
    assert saved["alone"]["ratio"]["torch nn.LSTM"] == pytest.approx(1.25)
    assert saved["load"]["alone"]["ratio"]["torch nn.LSTM"] == pytest.approx(1.25)
    assert saved["load"]["slowdown"]["alternated"]["ours"] == pytest.approx(2.0)
    assert saved["load"]["slowdown"]["parts"]["ours"] == pytest.approx(
        {"slowdown": 1.5, "loaded_over_one_core": 1.25, "one_core_over_two": 1.2})
    assert saved["one_core"]["median"]["torch cell"] == pytest.approx(0.12 * 1.2)
    assert saved["load"]["busy_processes"] == 1 and saved["gemm"]["floor"]["gflops"] == 80.0
    assert saved["machine"]["cpu"]["model"] and "load_average_end" in saved
    assert isinstance(saved["machine"]["numpy_blas"], list)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_a_one_core_child_runs_on_one_cpu_with_one_blas_thread():
    """What a benchmark's one-core turn runs first (machine.PIN_ONE_CPU, in the
    ONE_CORE_ENV environment): pinned to one CPU of the parent's set before numpy loads,
    with one BLAS thread."""
    code = machine.PIN_ONE_CPU + (
        "import json, numpy\nfrom threadpoolctl import threadpool_info\n"
        "print(json.dumps([sorted(os.sched_getaffinity(0)), "
        "max(i['num_threads'] for i in threadpool_info())]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **machine.ONE_CORE_ENV}, check=True)
    assert json.loads(out.stdout) == [[max(os.sched_getaffinity(0))], 1]


def test_the_load_parts_multiply_to_the_slowdown(capsys):
    parts = machine.load_parts({"a": 0.05, "b": 0.05}, {"a": 0.075, "b": 0.07},
                               {"a": 0.074, "b": 0.065})
    for p in parts.values():
        assert p["loaded_over_one_core"] * p["one_core_over_two"] == pytest.approx(
            p["slowdown"])
    assert parts["a"]["slowdown"] == pytest.approx(1.5)
    assert parts["b"]["one_core_over_two"] == pytest.approx(1.3)
    machine.print_load_parts(parts, 1)
    out = capsys.readouterr().out
    assert "a 1.50x, b 1.40x" in out and "a 1.01 x 1.48, b 1.08 x 1.30" in out


def test_transformer_benchmark_uses_the_shared_machine_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("transformer_torch",
                                                  ROOT / "benchmarks" / "transformer_torch.py")
    tt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tt)
    assert tt.machine_info is machine.machine_info and tt.numpy_blas is machine.numpy_blas


@pytest.mark.parametrize("rows, want", [
    ("same", 1 / 8),           # eight equal rows: one state per step
    ("distinct", 1.0),         # eight different first characters: every row from step 1
    ("half", 5 / 32),          # two groups of four parting at the last of 4 steps: 1+1+1+2
])
def test_the_shared_prefix_fraction_is_what_the_fused_lstm_steps(rows, want, capsys):
    N, S = 8, 4
    src = {"same": np.zeros((N, S), np.int64),
           "distinct": np.tile(np.arange(N)[:, None], (1, S)),
           "half": np.repeat(np.array([[0, 0, 0, 1], [0, 0, 0, 2]]), N // 2, axis=0)}[rows]
    data = SimpleNamespace(src_train=src, tgt_train=np.zeros((N, 3), np.int64))
    frac = bs.report_shared_prefixes(data, SimpleNamespace(batch_size=N), n_batches=2)
    assert frac == pytest.approx(want)
    assert f"ours steps {want:.1%} of the encoder's row-steps" in capsys.readouterr().out
