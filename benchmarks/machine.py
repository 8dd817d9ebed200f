"""What the benchmarks say about the machine they ran on, and two tools they share
(issue 17, item 1: a figure means little without the CPU, its vector instructions, the
BLAS and kernel each library runs, and the GEMM rate each reaches in the same run).

- :func:`machine_info`, :func:`numpy_blas`: the summary ``transformer_torch.py`` prints;
- :func:`parse_cpuinfo`, :func:`cpu_info`: the CPU model and the ISA extensions that matter
  for float32 GEMMs (AVX2/FMA, AVX-512, its BF16/VNNI parts, AMX; NEON/SVE on ARM);
- :func:`blas_libraries`, :func:`torch_cpu`, :func:`kernel_note`: numpy's BLAS libraries
  (``threadpoolctl``) and PyTorch's CPU build (its dispatch capability, MKL);
- :func:`gemm_gflops`, :func:`faster_rate`: a measured GEMM rate at given shapes and thread
  counts, and the faster of several (a time floor comes from that rate, never a constant);
- :func:`busy_processes`: N spinning processes for measuring under load, killed for sure.

Standard library, numpy and ``threadpoolctl`` only at import; PyTorch is imported by the
functions that describe it, so the CPU parser and the load tool work without it.
"""
from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: x86 flags (as /proc/cpuinfo spells them) that decide how fast a float32 GEMM can go,
#: narrowest first; then ARM's (the ``Features`` line)
ISA_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
             "asimd", "asimdhp", "sve", "sve2", "bf16", "i8mm")

#: OpenBLAS kernel names (lower-case) -> the widest x86 flag that kernel uses
OPENBLAS_KERNEL_ISA = {"sandybridge": "avx", "haswell": "avx2", "zen": "avx2",
                       "skylakex": "avx512f", "cooperlake": "avx512_bf16",
                       "sapphirerapids": "amx_tile"}

#: widest first: the vector width a float32 GEMM kernel may use on this CPU
_WIDEST = ("amx_tile", "avx512f", "avx2", "avx", "sse4_2", "sve", "asimd")


# -- the summary transformer_torch.py prints --------------------------------------------------
def numpy_blas() -> str:
    """The BLAS libraries loaded in this process, their versions, kernels and threads
    (threadpoolctl), or numpy's build configuration without it. Returns one line, e.g.
    ``openblas 0.3.31 Haswell, 2 threads (libscipy_openblas64_.so)``."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (numpy build; threads unknown)"
    return "; ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture', '')}, "
                     f"{i['num_threads']} threads ({Path(i['filepath']).name})"
                     for i in threadpool_info() if i.get("user_api") == "blas") or "none"


def machine_info() -> dict:
    """CPU model (/proc/cpuinfo), cores, usable cores, load average, versions, threads.
    Imports torch and numba (both must be installed). Returns a JSON-ready dict."""
    import numba
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    torch_cfg = re.findall(r"CPU capability usage: \w+|BLAS_INFO=\w+", torch.__config__.show())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "torch_build": torch_cfg,
            "numpy_blas": numpy_blas(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


# -- the CPU --------------------------------------------------------------------------------
def parse_cpuinfo(text: str) -> dict:
    """The CPU as the text of ``/proc/cpuinfo`` describes it (Linux; x86 or ARM).

    Returns ``{"model": str or None, "vendor": str or None, "processors": int, "isa":
    [flags of ISA_FLAGS present, in that order], "widest": str or None}``: the model and
    vendor of the first processor listed, the number of ``processor`` entries, and the
    widest vector extension a float32 GEMM could use (``amx_tile``, ``avx512f``, ``avx2``,
    ...). Flags are read from the first ``flags`` (x86) or ``Features`` (ARM) line. Text
    without such lines gives ``None`` / ``[]`` / 0, never an error."""
    fields: dict[str, str] = {}
    processors = 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        processors += key == "processor"
        fields.setdefault(key, value.strip())
    present = set(fields.get("flags", fields.get("features", "")).split())
    isa = [f for f in ISA_FLAGS if f in present]
    model = fields.get("model name") or fields.get("cpu model") or fields.get("hardware")
    vendor = fields.get("vendor_id") or fields.get("cpu implementer")
    return {"model": model or None, "vendor": vendor or None, "processors": processors,
            "isa": isa, "widest": next((f for f in _WIDEST if f in isa), None)}


def cpu_info(path: str = "/proc/cpuinfo") -> dict:
    """:func:`parse_cpuinfo` of ``path`` (an unreadable file: the fields of an empty text)
    plus ``cores`` (``os.cpu_count()``), ``usable_cores`` (``os.sched_getaffinity``: the
    cores this process may run on; None where the OS has no such call) and the model from
    ``platform`` when the file names none."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        text = ""
    info = parse_cpuinfo(text)
    info["model"] = info["model"] or platform.processor() or platform.machine()
    info["cores"] = os.cpu_count()
    info["usable_cores"] = (len(os.sched_getaffinity(0))
                            if hasattr(os, "sched_getaffinity") else None)
    return info


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (runnable processes), rounded to 0.01."""
    return [round(x, 2) for x in os.getloadavg()]


# -- the libraries --------------------------------------------------------------------------
def blas_libraries() -> list[dict]:
    """numpy's (and any other loaded) BLAS libraries, from ``threadpoolctl.threadpool_info()``:
    a list of ``{"internal_api", "version", "architecture", "num_threads", "filepath",
    "threading_layer"}`` (``architecture``: the OpenBLAS/BLIS kernel, e.g. ``Haswell``;
    None for MKL). Empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "filepath",
            "threading_layer")
    return [{k: i.get(k) for k in keys} for i in threadpool_info() if i.get("user_api") == "blas"]


def torch_cpu() -> dict:
    """PyTorch's CPU build: ``capability`` (the ISA its kernels dispatch to,
    ``torch.backends.cpu.get_cpu_capability()``, e.g. ``AVX512``), ``mkl`` (is MKL there),
    ``mkldnn`` (oneDNN), ``blas`` (``BLAS_INFO`` of ``torch.__config__.show()``), ``threads``
    (intra-op). Imports torch."""
    import torch
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return {"capability": torch.backends.cpu.get_cpu_capability(),
            "mkl": torch.backends.mkl.is_available(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "blas": blas.group(1) if blas else None, "threads": torch.get_num_threads()}


def kernel_note(cpu: dict, blas: list[dict]) -> str | None:
    """A warning when an OpenBLAS kernel uses a narrower ISA than the CPU has (e.g. the
    ``Haswell`` AVX2 kernel on a CPU with ``avx512f``), else None. ``cpu``: as
    :func:`cpu_info`; ``blas``: as :func:`blas_libraries`."""
    for lib in blas:
        used = OPENBLAS_KERNEL_ISA.get(str(lib.get("architecture")).lower())
        if used is None or cpu.get("widest") not in _WIDEST or used not in _WIDEST:
            continue
        if _WIDEST.index(cpu["widest"]) < _WIDEST.index(used):
            return (f"{lib['internal_api']} runs its {lib['architecture']} kernel ({used}) on "
                    f"a CPU with {cpu['widest']}")
    return None


_OWN_KERNEL = ("import json; from threadpoolctl import threadpool_info; print(json.dumps("
               "[i.get('architecture') for i in threadpool_info() if i.get('internal_api') == "
               "'openblas']))")


def openblas_own_kernel() -> str | None:
    """The kernel numpy's OpenBLAS picks on this CPU by itself: its ``architecture`` in a
    child Python started without ``OPENBLAS_CORETYPE`` (None when the child fails or finds
    no OpenBLAS)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", "import numpy; " + _OWN_KERNEL],
                         capture_output=True, text=True, env=env)
    try:
        return (json.loads(out.stdout.strip().splitlines()[-1]) or [None])[0]
    except (ValueError, IndexError):
        return None


def coretype_note(forced: str | None, own: str | None) -> str | None:
    """The line that says the environment chose numpy's OpenBLAS kernel: ``forced`` is
    ``OPENBLAS_CORETYPE`` (None: not set), ``own`` what OpenBLAS picks without it."""
    if not forced:
        return None
    return (f"OPENBLAS_CORETYPE={forced} is set in the environment: numpy's OpenBLAS runs the "
            f"kernel it names; without it OpenBLAS would pick {own or 'an unknown kernel'} on "
            f"this CPU (the figures below are with the environment as it is)")


def describe() -> dict:
    """What a benchmark's figures depend on, as a JSON-ready dict: ``cpu``
    (:func:`cpu_info`), ``load_average_start``, ``numpy_blas`` (:func:`blas_libraries`),
    ``torch`` (:func:`torch_cpu`), versions, ``OMP_WAIT_POLICY``, ``note``
    (:func:`kernel_note`), ``coretype_note`` (:func:`coretype_note`: a kernel forced by
    ``OPENBLAS_CORETYPE``) and ``heap_kept`` (``tinygrad_attn.heap.applied``: freed memory
    stays in glibc's heap, for every engine in the process). Imports torch and numba."""
    import numba
    import torch

    from tinygrad_attn import heap
    cpu, blas = cpu_info(), blas_libraries()
    return {"cpu": cpu, "load_average_start": load_average(), "numpy_blas": blas,
            "torch": torch_cpu(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "torch_version": torch.__version__,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "heap_kept": heap.applied(),
            "note": kernel_note(cpu, blas),
            "coretype_note": coretype_note(os.environ.get("OPENBLAS_CORETYPE"),
                                           openblas_own_kernel()
                                           if os.environ.get("OPENBLAS_CORETYPE") else None)}


def print_description(info: dict) -> None:
    """Print :func:`describe`'s dict as the lines a benchmark report starts with."""
    cpu, tc = info["cpu"], info["torch"]
    print(f"machine: {cpu['model']}, {cpu['cores']} cores ({cpu['usable_cores']} usable); "
          f"ISA: {' '.join(cpu['isa']) or 'unknown'} (widest: {cpu['widest']}); load "
          f"average at the start {info['load_average_start']}")
    print(f"Python {info['python']}, numpy {info['numpy']}, numba {info['numba']}, torch "
          f"{info['torch_version']}; OMP_WAIT_POLICY={info['omp_wait_policy']}; freed memory "
          f"kept in the heap (tinygrad_attn.heap, every engine in the process): "
          f"{'yes' if info.get('heap_kept') else 'no'}")
    for b in info["numpy_blas"] or [{"internal_api": "unknown (no threadpoolctl)"}]:
        print(f"numpy BLAS: {b['internal_api']} {b.get('version')}, kernel "
              f"{b.get('architecture')}, {b.get('num_threads')} threads "
              f"({b.get('threading_layer')}), {b.get('filepath')}")
    print(f"torch: CPU capability {tc['capability']}, BLAS {tc['blas']} (MKL "
          f"{'yes' if tc['mkl'] else 'no'}, oneDNN {'yes' if tc['mkldnn'] else 'no'}), "
          f"{tc['threads']} threads")
    for key in ("note", "coretype_note"):
        if info.get(key):
            print(f"note: {info[key]}")


# -- GEMM rates -----------------------------------------------------------------------------
def _numpy_product(a, b, out, threads):
    from threadpoolctl import threadpool_limits
    limits = threadpool_limits(limits=threads, user_api="blas")
    return (lambda: np.matmul(a, b, out=out)), limits.restore_original_limits


def _torch_product(a, b, out, threads):
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b, out = (torch.from_numpy(x) for x in (a, b, out))
    return (lambda: torch.matmul(a, b, out=out)), (lambda: torch.set_num_threads(before))


def gemm_gflops(lib: str, shape: tuple, threads: int, repeats: int = 7,
                min_seconds: float = 0.005, seed: int = 0) -> float:
    """The float32 GEMM rate of ``lib`` (``"numpy"`` or ``"torch"``) at ``shape`` with
    ``threads`` threads, in GFLOP/s (2 M K N flops per product, per batch entry): the median
    over ``repeats`` timed repeats, each of enough products to last ``min_seconds``, after
    one untimed product. ``shape``: ``(M, K, N)`` or ``(B, M, K, N)`` (a batched product).
    Thread counts are restored afterwards. Raises ValueError for another ``lib``, a
    non-positive dimension or ``threads`` < 1."""
    if lib not in ("numpy", "torch"):
        raise ValueError(f"lib must be 'numpy' or 'torch', got {lib!r}")
    if threads < 1 or len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"need threads >= 1 and a shape (M, K, N) or (B, M, K, N) of positive "
                         f"sizes, got threads {threads}, shape {shape}")
    *batch, M, K, N = shape
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, M, K), dtype=np.float32)
    b = rng.standard_normal((*batch, K, N), dtype=np.float32)
    out = np.empty((*batch, M, N), dtype=np.float32)
    product, restore = (_numpy_product if lib == "numpy" else _torch_product)(a, b, out, threads)
    try:
        t0 = time.perf_counter()
        product()
        inner = max(1, math.ceil(min_seconds / max(time.perf_counter() - t0, 1e-7)))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                product()
            times.append((time.perf_counter() - t0) / inner)
    finally:
        restore()
    return 2.0 * math.prod(shape) / statistics.median(times) / 1e9


def faster_rate(rates: dict) -> tuple:
    """The fastest of ``rates`` ({label: GFLOP/s}): ``(label, rate)``. Raises ValueError when
    no rate is a finite number > 0 (a floor from it would be meaningless)."""
    good = {k: v for k, v in rates.items()
            if isinstance(v, (int, float)) and math.isfinite(v) and v > 0}
    if not good:
        raise ValueError(f"no measured GEMM rate is a finite number > 0: {rates}")
    label = max(good, key=good.get)
    return label, good[label]


def gemm_configs(torch_threads: int) -> list:
    """The (library, threads) pairs a benchmark measures: numpy and torch each with 1
    thread and with the thread count it has in this run (numpy's BLAS pool as
    :func:`blas_libraries` reports it, torch's intra-op ``torch_threads``)."""
    numpy_threads = max((b["num_threads"] or 1 for b in blas_libraries()), default=1)
    return [(lib, k) for lib, n in (("numpy", numpy_threads), ("torch", torch_threads))
            for k in sorted({1, n})]


def measure_products(products: list, configs: list, repeats: int = 7) -> dict:
    """:func:`gemm_gflops` of every product in ``products`` (``(label, shape, count)``:
    ``count`` such products per step) for every ``(lib, threads)`` of ``configs``, product
    by product with the configurations interleaved (drift falls on all alike), and each
    configuration's rate over the mix (all the products' flops / the time they take at the
    measured rates). Returns ``{"products": [{"label", "shape", "count", "share" (of the
    flops), "gflops": {"numpy 1t": ..., ...}}], "mix": {"numpy 1t": GFLOP/s, ...}}``."""
    flops = [2.0 * math.prod(shape) * count for _, shape, count in products]
    total = sum(flops)
    keys = [f"{lib} {k}t" for lib, k in configs]
    rows = []
    for (label, shape, count), f in zip(products, flops):
        rates = {key: gemm_gflops(lib, shape, k, repeats=repeats)
                 for key, (lib, k) in zip(keys, configs)}
        rows.append({"label": label, "shape": list(shape), "count": count,
                     "share": f / total, "gflops": rates})
    mix = {key: total / sum(f / (r["gflops"][key] * 1e9) for f, r in zip(flops, rows)) / 1e9
           for key in keys}
    return {"products": rows, "mix": mix}


def print_gemm_table(res: dict, mix_label: str) -> None:
    """Print :func:`measure_products`' result: a row per product with >= 1 % of the flops
    (label, shape, count, share, GFLOP/s per configuration), one line for the rest, and
    the mix's rate per configuration (``mix_label``)."""
    keys = list(res["mix"])
    head = f"{'product':<24}{'shape':>20}{'x/step':>7}{'share':>7}" + "".join(
        f"{k:>11}" for k in keys)
    print(head + "\n" + "-" * len(head))
    small = [p for p in res["products"] if p["share"] < 0.01]
    for p in res["products"]:
        if p["share"] >= 0.01:
            shape = "x".join(map(str, p["shape"]))
            print(f"{p['label']:<24}{shape:>20}{p['count']:>7}{p['share']:>7.1%}" + "".join(
                f"{p['gflops'][k]:>11.1f}" for k in keys))
    if small:
        print(f"{f'+ {len(small)} smaller products':<44}"
              f"{sum(p['share'] for p in small):>14.1%}")
    print(f"{mix_label:<58}" + "".join(f"{res['mix'][k]:>11.1f}" for k in keys))


# -- load -----------------------------------------------------------------------------------
#: a busy process: spins in pure Python while the first byte of the flag file (argv[2]) is
#: non-zero, else naps 2 ms at a time; stops by itself once its parent (the pid in argv[1],
#: so a parent that died before the child started is noticed too) is gone, so even a
#: parent killed with SIGKILL leaves no spinner behind
_SPIN = """
import mmap, os, sys, time
parent = int(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    flag = mmap.mmap(f.fileno(), 1, access=mmap.ACCESS_READ)
try:
    while os.getppid() == parent:
        if flag[0]:
            for _ in range(100000):
                pass
        else:
            time.sleep(0.002)
except KeyboardInterrupt:      # Ctrl-C reaches the whole process group: leave quietly
    pass
"""


class BusyProcesses:
    """The processes of :func:`busy_processes`: ``procs`` (``subprocess.Popen`` list),
    ``pause()`` (each naps instead of spinning, within ~5 ms), ``resume()`` (spin again),
    ``spinning`` (bool). ``flag`` is the one-byte shared file they all read."""

    def __init__(self, procs: list, flag):
        self.procs, self.flag = procs, flag
        self.spinning = True

    def set(self, on: bool, settle: float = 0.02):
        """Spin (``on``) or nap; when that changes, wait ``settle`` seconds (they follow the
        flag within ~5 ms)."""
        if on != self.spinning:
            self.flag[0] = 1 if on else 0
            self.spinning = on
            time.sleep(settle)

    def pause(self):
        """Stop the spinning (the processes stay, napping 2 ms at a time)."""
        self.set(False, 0)

    def resume(self):
        """Spin again."""
        self.set(True, 0)


def load_states(busy) -> tuple:
    """The load states a benchmark times: without (False) and, given ``busy``
    (:class:`BusyProcesses`), with (True)."""
    return (False,) if busy is None else (False, True)


#: the environment of a child process timed on one core: one BLAS and one OpenMP thread
ONE_CORE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: Python source that such a child runs first, before numpy loads its BLAS: the process
#: pinned to the last CPU of its set (where the OS has CPU affinity)
PIN_ONE_CPU = ("import os\nif hasattr(os, 'sched_setaffinity'):\n"
               "    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})\n")


def solo_states(busy) -> tuple:
    """The states in which a benchmark times each engine alone in fresh processes:
    :func:`load_states`, and given ``busy`` also "one core" (no load; the child runs
    :data:`PIN_ONE_CPU` with :data:`ONE_CORE_ENV` and one torch thread)."""
    return load_states(busy) + (("one core",) if busy is not None else ())


def load_parts(alone: dict, loaded: dict, one_core: dict) -> dict:
    """Each engine's slowdown under load (time under load / time alone) and its two
    factors: loaded / one core (what the load costs beyond a one-core run) and one core /
    alone (what the second core had given). Arguments: {engine: s/step}, the same engines.
    Returns {engine: {"slowdown", "loaded_over_one_core", "one_core_over_two"}}."""
    return {name: {"slowdown": loaded[name] / t, "loaded_over_one_core": loaded[name]
                   / one_core[name], "one_core_over_two": one_core[name] / t}
            for name, t in alone.items()}


def print_load_parts(parts: dict, n: int) -> None:
    """Print :func:`load_parts`' slowdowns and factors under ``--load n``."""
    print(f"slowdown under --load {n} (alone; time under load / time without, both from this "
          f"run): " + ", ".join(f"{name} {p['slowdown']:.2f}x" for name, p in parts.items()))
    print("the alone slowdown in two factors, (time under load / time on one core) x (time "
          "on one core / time on two cores, what the second core gave): "
          + ", ".join(f"{name} {p['loaded_over_one_core']:.2f} x {p['one_core_over_two']:.2f}"
                      for name, p in parts.items()))


@contextlib.contextmanager
def started_busy(n: int):
    """:func:`busy_processes` of ``n``, napping, after half a second to start; raises
    RuntimeError if one of them ended at start. Prints that they started."""
    with busy_processes(n) as busy:
        busy.pause()
        time.sleep(0.5)                                 # let them start
        dead = [p.pid for p in busy.procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"busy processes {dead} ended at start (see their messages)")
        print(f"\n--load {n}: {n} busy process(es) started (a pure-Python spin loop each, "
              f"spinning only in the loaded turns); load average {load_average()}")
        yield busy


@contextlib.contextmanager
def busy_processes(n: int):
    """Start ``n`` processes that each keep one core busy (a pure-Python spin loop), yield
    them as a :class:`BusyProcesses` (spinning; ``pause()`` / ``resume()`` switch them off
    and on without a new process), and kill them on leaving the block, whether it ends
    normally, by an exception or by Ctrl-C (KeyboardInterrupt). They inherit this process's
    CPU affinity and are pinned to no core in it (the scheduler places them, as another
    user's work would be), and its niceness (``nice -n 5 python ...`` nices them too). If
    this process dies without unwinding (SIGTERM, SIGKILL), each spinner sees its parent
    change and exits within milliseconds. ``n`` = 0 starts nothing. Raises ValueError for
    ``n`` < 0."""
    if n < 0:
        raise ValueError(f"the number of busy processes must be >= 0, got {n}")
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spin")
        with open(path, "wb") as f:
            f.write(b"\x01")
        with open(path, "r+b") as f:
            flag = mmap.mmap(f.fileno(), 1)
        try:
            for _ in range(n):
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", _SPIN, str(os.getpid()), path],
                    stdin=subprocess.DEVNULL))
            yield BusyProcesses(procs, flag)
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
            flag.close()
