"""Freed array memory stays in the process's heap, so the next step's arrays reuse it
instead of page-faulting fresh memory from the kernel (issue 17, point 2).

A training step allocates its arrays fresh (activations, gradients, the (T, N, 4H) gates of
a fused LSTM: megabytes each) and frees them by its end. glibc's ``malloc`` serves blocks
above a threshold with ``mmap`` and gives them back with ``munmap``, and it returns the free
top of its heap to the kernel above a second threshold; the threshold adapts to the
program (it rises to the size of a freed mmapped block, the trim threshold to twice that),
but a step's mix of sizes keeps it returning memory that the next step maps again. Every
page of it then costs a page fault and the kernel's zeroing on first touch: in the date
model's step (``benchmarks/seq2seq_date.py``) one 5 MB product took 2 ms in the step
against 0.23 ms alone, and the whole step took 0.063 s instead of 0.073-0.076 s once
freed memory stayed (GLIBC_TUNABLES, AMD EPYC, 2026-11-30).

:func:`keep_freed_memory` fixes glibc's two thresholds with ``mallopt``: blocks up to
``MMAP_THRESHOLD`` (32 MiB, the largest value glibc accepts on 64-bit) come from the heap,
and up to ``TRIM_THRESHOLD`` (64 MiB, glibc's own ratio of twice the mmap threshold) of free
heap top is kept for reuse. The cost: the process holds on to up to that much freed memory
(its peak does not grow). ``import tinygrad_attn`` applies it once per process
(:func:`apply_from_env`); it changes how fast memory comes, never a value. It does
nothing where the C library is not glibc (macOS, musl, Windows).

Set ``TINYGRAD_ATTN_KEEP_FREED_MEMORY=0`` to leave glibc's own behaviour (see
:func:`env_enabled`).
"""
from __future__ import annotations

import ctypes
import platform
import warnings

from .envflags import switch

#: Environment variable that turns the setting off ("0").
ENV_FLAG = "TINYGRAD_ATTN_KEEP_FREED_MEMORY"
#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: bytes; glibc refuses an mmap threshold above 32 MiB on 64-bit (HEAP_MAX_SIZE / 2)
MMAP_THRESHOLD = 32 * 2**20
#: bytes of free heap top kept before glibc returns it to the kernel
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

_applied = False


def env_enabled() -> bool:
    """Whether ``TINYGRAD_ATTN_KEEP_FREED_MEMORY`` lets :func:`apply_from_env` work: unset,
    1, true, on, yes (any case) -> True; 0, false, off, no -> False. Raises ValueError (one
    line, with the fix) for anything else."""
    return switch(ENV_FLAG, "set it to 0 to keep glibc's own malloc thresholds, 1 to keep "
                  "freed memory for reuse")


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (``MMAP_THRESHOLD``, ``TRIM_THRESHOLD``, bytes)
    for this whole process. Returns True when both were set; False where the C library is
    not glibc or refuses a value (nothing is changed then, nothing raised)."""
    global _applied
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success, 0 on a refused value
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


def apply_from_env() -> bool:
    """:func:`keep_freed_memory` unless ``TINYGRAD_ATTN_KEEP_FREED_MEMORY`` turns it off.
    An unreadable value leaves glibc's behaviour and warns (``RuntimeWarning``, one line;
    ``tinygrad-attn train`` refuses it before any work). Returns whether it applied."""
    try:
        on = env_enabled()
    except ValueError as e:
        warnings.warn(f"{e}; glibc's own thresholds are kept", RuntimeWarning, stacklevel=2)
        return False
    return keep_freed_memory() if on else False


def applied() -> bool:
    """Whether this process runs with the thresholds set (:func:`keep_freed_memory`)."""
    return _applied
