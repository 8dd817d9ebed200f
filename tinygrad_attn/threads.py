"""BLAS threads that follow the cores other processes leave free (issue 17, point 3).

A matrix product split over two BLAS threads waits for the slower one at its end. When
another process holds one of the two cores, the thread that shares that core gets a
time slice now and then, and every product waits for it: a GEMM + tanh loop at the date
model's shapes ran 3.6x slower with numpy's default 2 OpenBLAS threads and 1.3x slower
with 1 (DESIGN.md, measured). :class:`ThreadAdapter` samples how busy the cores this
process may run on are (Linux ``/proc/stat``, less this process's own CPU time) every
``interval`` seconds (0.5 by default: a reading costs tens of microseconds, a training
step of the date model about 0.1 s) and sets numpy's BLAS threads (``threadpoolctl``) to
the cores left free, never more than the BLAS had when it started (so
``OMP_NUM_THREADS=1`` or ``taskset`` still rule). Where ``/proc/stat`` is missing (macOS,
Windows) the 1-minute load average less this process's own CPU use stands in for it.

Set ``TINYGRAD_ATTN_ADAPT_THREADS=0`` to keep the BLAS's own thread count (see
:func:`env_enabled`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from threadpoolctl import ThreadpoolController

from .envflags import switch

#: Environment variable that turns the adaptation off ("0").
ENV_FLAG = "TINYGRAD_ATTN_ADAPT_THREADS"


def env_enabled() -> bool:
    """Whether ``TINYGRAD_ATTN_ADAPT_THREADS`` lets the adapter work: unset, 1, true, on,
    yes (any case) -> True; 0, false, off, no -> False. Raises ValueError (one line, with
    the fix) for anything else."""
    return switch(ENV_FLAG, "set it to 0 to keep the BLAS's own thread count, 1 to adapt it")


def _cpus() -> set[int]:
    """The CPUs this process may run on: its affinity mask where the OS has one
    (``taskset``, containers), else all ``os.cpu_count()`` of them."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def available_cores() -> int:
    """How many CPUs this process may run on (:func:`_cpus`); at least 1."""
    return max(1, len(_cpus()))


@dataclass(frozen=True)
class CpuSample:
    """One reading: ``wall`` (s, monotonic), ``busy`` (s of CPU time spent busy on this
    process's CPUs since boot, all processes; None where unknown), ``own`` (s of CPU time
    of this process, all its threads), ``load`` (1-minute load average, or None)."""
    wall: float
    busy: float | None
    own: float
    load: float | None


def _busy_seconds(stat_text: str, cpus: set[int]) -> float | None:
    """Busy CPU seconds of ``cpus`` from the text of ``/proc/stat`` (per-CPU lines
    ``cpuN user nice system idle iowait irq softirq steal ...`` in clock ticks; busy is all
    but idle and iowait; guest time is already inside user). None if no line matched."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, found = 0, False
    for line in stat_text.splitlines():
        name, *fields = line.split() or [""]
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        ticks = [int(f) for f in fields[:8]]
        total += sum(ticks) - ticks[3] - ticks[4]
        found = True
    return total / hz if found else None


def sample(stat_path: str = "/proc/stat") -> CpuSample:
    """Read the machine's and this process's CPU time now (see :class:`CpuSample`)."""
    busy = None
    try:
        with open(stat_path) as f:
            busy = _busy_seconds(f.read(), _cpus())
    except (OSError, ValueError):
        busy = None
    times = os.times()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return CpuSample(time.monotonic(), busy, times.user + times.system, load)


def others_busy(before: CpuSample, after: CpuSample) -> float | None:
    """Cores that other processes kept busy between two samples (float >= 0): this
    process's CPUs' busy time less its own, over the wall time. From the load average
    (less this process's own CPU rate) where ``busy`` is unknown; None if neither is known
    or no time passed."""
    wall = after.wall - before.wall
    if wall <= 0:
        return None
    own = (after.own - before.own) / wall
    if before.busy is not None and after.busy is not None:
        return max(0.0, (after.busy - before.busy) / wall - own)
    if after.load is not None:
        return max(0.0, after.load - own)
    return None


def threads_for(cores: int, others: float, ceiling: int) -> int:
    """BLAS threads for ``cores`` CPUs when other processes keep ``others`` of them busy:
    the cores left free, rounded to the nearest (a core busy half the time counts as taken),
    between 1 and ``ceiling``."""
    return max(1, min(ceiling, int(cores - others + 0.5)))


class ThreadAdapter:
    """Keeps numpy's BLAS thread count at the cores other processes leave free.

    ``ThreadAdapter(interval=0.5)``; call :meth:`update` often (every training step): at
    most once per ``interval`` seconds it samples the CPUs (:func:`sample`) and sets the
    BLAS threads to :func:`threads_for` (``threadpoolctl``; at most the count the BLAS had
    when the adapter was built). :meth:`restore` puts the original count back; the adapter
    is also a context manager that does so on exit. ``threads`` is the count in force,
    ``history`` the (seconds since start, others busy, threads) of every change.
    Disabled (``update`` does nothing) when ``TINYGRAD_ATTN_ADAPT_THREADS=0`` or
    ``enabled=False``. Raises ValueError for an interval that is not a finite number > 0
    and for a value of the environment variable that is neither on nor off.
    """

    def __init__(self, interval: float = 0.5, *, enabled: bool | None = None,
                 sampler=sample, controller: ThreadpoolController | None = None):
        if isinstance(interval, bool) or not (isinstance(interval, (int, float))
                                              and 0 < interval < float("inf")):
            raise ValueError(f"ThreadAdapter: interval must be a number of seconds > 0, got "
                             f"{interval!r} (fix: e.g. interval=0.5)")
        self.interval, self.sampler = float(interval), sampler
        self.enabled = env_enabled() if enabled is None else bool(enabled)
        self.controller = controller or ThreadpoolController()
        blas = self.controller.select(user_api="blas")
        self.original = max((lib.num_threads for lib in blas.lib_controllers), default=1)
        self.threads, self.cores, self.history = self.original, available_cores(), []
        self._last = self.sampler()
        self._start = self._last.wall

    def update(self) -> int:
        """Re-check (at most once per interval) and return the BLAS threads in force."""
        if not self.enabled:
            return self.threads
        now = self.sampler()
        if now.wall - self._last.wall < self.interval:
            return self.threads
        others, self._last = others_busy(self._last, now), now
        if others is not None:
            want = threads_for(self.cores, others, self.original)
            if want != self.threads:
                self._set(want)
                self.history.append((round(now.wall - self._start, 3), round(others, 2), want))
        return self.threads

    def _set(self, n: int) -> None:
        self.controller.select(user_api="blas").limit(limits=n)
        self.threads = n

    def restore(self) -> None:
        """Put the BLAS's original thread count back."""
        if self.threads != self.original:
            self._set(self.original)

    def __enter__(self) -> "ThreadAdapter":
        return self

    def __exit__(self, *exc) -> None:
        self.restore()
