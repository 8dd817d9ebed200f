"""Checkpoints: a state dict (name -> array) plus JSON metadata in one ``.npz`` file.

No pickle is written or read: arrays are stored as plain ``.npy`` members and the
metadata as a JSON string, and loading uses ``allow_pickle=False``. Saving is atomic: the
file is written to a temporary name in the same folder and moved over the target with
``os.replace``, so an interrupted save never destroys the previous checkpoint.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .fileio import atomic_open

_META = "__metadata__"


class CheckpointError(Exception):
    """A file is missing, truncated, or not a checkpoint of this engine; names the path."""


def save(state_dict: dict, path, metadata: dict | None = None) -> None:
    """Write ``state_dict`` ({name: ndarray}) and JSON-serialisable ``metadata`` to ``path``.

    Raises
    ------
    ValueError
        A key is the reserved name ``__metadata__``, or an array has dtype object.
    TypeError
        ``metadata`` is not JSON-serialisable.
    """
    arrays = {}
    for k, v in state_dict.items():
        a = np.asarray(v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v)
        if k == _META or a.dtype == object:
            raise ValueError(f"checkpoint.save: key {k!r} is reserved or holds an object array "
                             f"(fix: rename it / store numbers only)")
        arrays[k] = a
    arrays[_META] = np.array(json.dumps(metadata or {}))
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def load(path) -> tuple[dict, dict]:
    """Read a checkpoint written by :func:`save`: returns ``(state_dict, metadata)``.

    Raises
    ------
    CheckpointError
        The file does not exist, is truncated or corrupt, is not an ``.npz`` made by
        :func:`save`, or would need pickle to load. The message names the path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist (fix: check the path; "
                              f"training writes model.npz in its --out folder)")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise CheckpointError(f"checkpoint {path!r} is not an .npz file (it does not start "
                              f"with the zip signature); fix: pass the model.npz that "
                              f"training wrote")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e):
            raise CheckpointError(f"checkpoint {path!r} holds object arrays, which only pickle "
                                  f"can load, and this engine never loads pickle (fix: save "
                                  f"numeric arrays with tinygrad_attn.checkpoint.save)") from None
        raise CheckpointError(f"checkpoint {path!r} is truncated or not a tinygrad_attn .npz "
                              f"checkpoint (ValueError: {e}); fix: re-save it") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"checkpoint {path!r} is truncated or not a tinygrad_attn .npz "
                              f"checkpoint ({type(e).__name__}: {e}); fix: re-save it") from None
    if _META not in arrays:
        raise CheckpointError(f"checkpoint {path!r} has no {_META} entry, so it was not written "
                              f"by tinygrad_attn.checkpoint.save (fix: re-save it with save())")
    try:
        metadata = json.loads(str(arrays.pop(_META)))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {path!r}: its metadata is not valid JSON ({e})") from None
    return arrays, metadata
