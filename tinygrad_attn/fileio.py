"""Atomic file writes: a file is either its old self or its whole new self, never half.

Every file this project writes (checkpoints, ``config.json``, ``history.json``, pictures,
CSV tables, DOT sources) goes through :func:`atomic_open`: the bytes go to a new, uniquely
named temporary file in the target's folder (``tempfile.mkstemp``: created with
``O_EXCL``, so a symlink planted under any name is never followed), are flushed to disk
(``fsync``), get the permissions the user's umask gives a new file, and only then replace
the target with ``os.replace`` (atomic on POSIX and Windows). If anything fails halfway
(an exception, Ctrl-C, a full disk) the temporary file is removed and the old target is
untouched. A process killed with SIGKILL can leave a ``.tmp-*`` file behind, never a
broken target; :func:`remove_stale_temps` clears such leftovers.
"""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import threading

_UMASK_LOCK = threading.Lock()
TEMP_PREFIX = ".tmp-"


def _umask() -> int:
    """The process's umask (os.umask can only be read by setting it, so set it back)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", newline=None):
    """Open a temporary file for writing that replaces ``path`` when the block ends
    without an exception.

    path : the target file (str or PathLike); its folder must exist. mode : "w" (text)
    or "wb" (bytes). The new file gets mode ``0o666 & ~umask``, as ``open`` would give.

    Raises
    ------
    IsADirectoryError
        ``path`` is an existing folder.
    OSError
        The folder is missing or read-only, or the disk is full; the old file is kept and
        no temporary file is left.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', not {mode!r}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a folder, not a file (fix: name a file)")
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}.", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write(path, data: bytes | str) -> str:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically (:func:`atomic_open`).
    Returns ``path`` as a str."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return os.fspath(path)


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class NotRegularFileError(OSError):
    """A path to read is not a regular file. ``kind``: what it is ("a folder", "a named
    pipe (FIFO)", "a character device", ...); ``changed``: it was a regular file when
    checked and something else once opened."""

    def __init__(self, path, kind: str, changed: bool = False):
        super().__init__(f"{quote_path(path)} is {kind}, not a regular file")
        self.filename, self.kind, self.changed = os.fspath(path), kind, changed


def file_kind(mode: int) -> str | None:
    """None for a regular file's ``st_mode``, else what the file is ("a folder", ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path) -> tuple[int, os.stat_result]:
    """Open ``path`` (symlinks followed) for reading only if it is a regular file: checked
    with ``stat`` before opening, opened non-blocking (a FIFO or device is never read, so
    nothing hangs), and checked again with ``fstat`` on the open descriptor (a file swapped
    after the first check is refused too). Returns (file descriptor, its stat); the caller
    closes the descriptor.

    Raises NotRegularFileError for a folder, FIFO, device or socket; the OSError of
    ``stat``/``open`` (FileNotFoundError, PermissionError, ...) otherwise.
    """
    kind = file_kind(os.stat(path).st_mode)
    if kind:
        raise NotRegularFileError(path, kind)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                 | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    st = os.fstat(fd)
    kind = file_kind(st.st_mode)
    if kind:
        os.close(fd)
        raise NotRegularFileError(path, kind, changed=True)
    return fd, st


def quote_path(path) -> str:
    """``repr`` of ``path`` (str or PathLike) for a one-line error message (control
    characters visible), shortened to about 200 characters (a crafted or absurd path never
    floods the terminal)."""
    text = repr(os.fspath(path))
    return text if len(text) <= 200 else f"{text[:120]}...{text[-60:]}"


def excerpt(text, limit: int = 60) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (a str or bytes, e.g. a line of
    a file), with ``...`` when cut: what an error message may quote of a file."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def remove_stale_temps(folder) -> list[str]:
    """Remove the temporary files an interrupted :func:`atomic_open` left in ``folder``
    (only regular files named ``.tmp-*``, never symlinks or folders). Returns their paths."""
    removed = []
    for p in sorted(glob.glob(os.path.join(glob.escape(os.fspath(folder)), TEMP_PREFIX + "*"))):
        if os.path.isfile(p) and not os.path.islink(p):
            with contextlib.suppress(OSError):
                os.remove(p)
                removed.append(p)
    return removed
