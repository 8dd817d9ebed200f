"""A training run's output folder: chosen, checked and locked before any work starts.

One folder holds one run's files (``model.npz``, ``last.npz``, ``config.json``,
``history.json``, ``results.json``, the pictures), consistent with each other:

- with no ``--out``, every run gets a new folder ``runs/TASK/version_N`` (PyTorch
  Lightning's scheme), claimed with ``os.mkdir``, which only one process can win, so two
  runs started together never share one and running a command twice keeps both results;
- a folder that holds a trained model is refused unless the user says ``--overwrite``
  (the old run's files are removed once the new run is under way) or ``--resume``;
- a lock (``.lock``, held by the ``filelock`` package through the OS, so it is released
  when the process dies, even by SIGKILL) refuses a second run into a folder in use;
- a path that is a file, a folder that cannot be written, a name the OS refuses: one-line
  :class:`RunDirError` naming the path and a fix, before training starts.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile

from filelock import FileLock, Timeout

from tinygrad_attn.fileio import quote_path as _show
from tinygrad_attn.fileio import remove_stale_temps

# The files a run writes; --overwrite removes exactly these (never anything else).
RUN_FILES = ("model.npz", "last.npz", "config.json", "history.json", "results.json",
             "curves.png", "attention.png", "compare.csv", "compare.png")
LOCK_NAME = ".lock"


class RunDirError(ValueError):
    """An output folder cannot be used; the message names it and a fix."""


def next_version_dir(parent) -> str:
    """Claim and return a new folder ``parent/version_N`` (N one more than the largest
    taken; ``os.mkdir`` is atomic, so concurrent runs get different folders)."""
    parent = os.fspath(parent)
    _make_folder(parent)
    taken = [int(m.group(1)) for name in os.listdir(parent)
             if (m := re.fullmatch(r"version_(\d+)", name))]
    n = max(taken, default=-1) + 1
    while True:
        path = os.path.join(parent, f"version_{n}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            n += 1


def _make_folder(path) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f"output folder {_show(path)} is a file (fix: choose another --out, "
                          f"or move the file away)")
    try:
        os.makedirs(path, exist_ok=True)
    except (OSError, ValueError) as e:
        raise RunDirError(f"cannot create the output folder {_show(path)}: "
                          f"{getattr(e, 'strerror', None) or e} (fix: choose another --out)"
                          ) from None


def _check_writable(path) -> None:
    """Create and remove a temporary file in ``path``: the only sure test (permissions,
    read-only mounts, ACLs) that a run can write there."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-probe.", dir=path)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        raise RunDirError(f"cannot write in the output folder {_show(path)}: {e.strerror} "
                          f"(fix: choose another --out, or make the folder writable)") from None


def has_trained_model(path) -> bool:
    """True if ``path`` holds a model or a training state from an earlier run."""
    return any(os.path.lexists(os.path.join(path, f)) for f in ("model.npz", "last.npz"))


class RunDir:
    """The locked output folder of one run; use as a context manager.

    path : the folder. mode : "new" (refuse a folder that holds a trained model),
    "overwrite" (allow it; :meth:`clear_old_run` removes the old run's files) or "resume"
    (the folder must hold ``last.npz``). claimed : the folder was just made for this run
    (:func:`next_version_dir`); such a folder, like one that did not exist, is removed again
    if the run writes nothing into it. A folder the user made is never removed.

    Raises RunDirError (in ``__enter__``): the path is a file, cannot be created or
    written, is in use by another run, holds a trained model in mode "new", or holds no
    training state in mode "resume".
    """

    def __init__(self, path, mode: str = "new", *, claimed: bool = False):
        if mode not in ("new", "overwrite", "resume"):
            raise ValueError(f"RunDir: mode must be new, overwrite or resume, not {mode!r}")
        self.path, self.mode = os.fspath(path), mode
        self._lock = None
        self._created = claimed

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def __enter__(self) -> "RunDir":
        self._created = self._created or not os.path.exists(self.path)
        _make_folder(self.path)
        _check_writable(self.path)
        self._lock = FileLock(self.file(LOCK_NAME), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise RunDirError(f"output folder {_show(self.path)} is in use by another training "
                              f"run (fix: wait for it to finish, or choose another --out)"
                              ) from None
        try:
            self._check_mode()
        except BaseException:
            self._lock.release()
            raise
        remove_stale_temps(self.path)
        return self

    def _check_mode(self) -> None:
        trained = has_trained_model(self.path)
        if self.mode == "new" and trained:
            raise RunDirError(f"output folder {_show(self.path)} already holds a trained model "
                              f"(fix: --resume to continue it, --overwrite to replace it, or "
                              f"choose another --out)")
        if self.mode == "resume" and not os.path.isfile(self.file("last.npz")):
            raise RunDirError(f"cannot resume: {_show(self.path)} holds no last.npz (fix: "
                              f"start a new run without --resume, or name the folder of an "
                              f"earlier run)")

    def clear_old_run(self) -> None:
        """Remove the files an earlier run left (only the names in RUN_FILES; folders of
        a compare run's models are left to their own RunDir)."""
        if self.mode != "overwrite":
            return
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                if not os.path.isdir(self.file(name)):
                    os.remove(self.file(name))

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._created:                 # a run that wrote nothing leaves no empty folder
            with contextlib.suppress(OSError):
                if set(os.listdir(self.path)) <= {LOCK_NAME}:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.file(LOCK_NAME))
                    os.rmdir(self.path)
