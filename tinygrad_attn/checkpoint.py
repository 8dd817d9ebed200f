"""Checkpoints: a state dict (name -> array) plus JSON metadata in one ``.npz`` file.

No pickle is written or read: arrays are stored as plain ``.npy`` members and the
metadata as a JSON string. Saving is atomic: the file is written to a temporary name in
the same folder and moved over the target with ``os.replace``, so an interrupted save
never destroys the previous checkpoint.

A checkpoint is untrusted input (it may come from anywhere), so :func:`load` checks the
whole file before it allocates a single array, in the manner of
``torch.load(weights_only=True)``: the path must be a regular file (a folder, FIFO or
device is refused without being read, so nothing hangs); the zip's end record and central
directory must be sane (at most :data:`MAX_MEMBERS` members, no duplicate or path-like
names, no encryption, only stored or deflated members compressed at most
:data:`MAX_COMPRESSION_RATIO` : 1, members that together hold no more bytes than the file);
every member's ``.npy`` header is read on its own (a few hundred bytes) and must declare a
plain numeric, bool or string dtype and a shape whose size, ``prod(shape) * itemsize``, is
exactly the member's stored size minus its header; and all arrays together must fit in
``max_bytes``. A crafted file therefore costs milliseconds and a few MiB, never the
gigabytes its headers claim. Every problem is one :class:`CheckpointError` line that names
the path, the problem and a fix, and quotes at most a short excerpt of the file.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from .fileio import NotRegularFileError, atomic_open, open_regular, quote_path
from .fileio import excerpt as _excerpt

_META = "__metadata__"
MAX_MEMBERS = 16_384                 # a 64-layer Transformer's training state has ~6,000
MAX_METADATA_BYTES = 16 * 2 ** 20    # as stored: 4 bytes per character (numpy's "<U")
DEFAULT_MAX_BYTES = 2 * 2 ** 30      # all arrays together, as declared by their headers
MAX_COMPRESSION_RATIO = 50           # deflated float weights shrink ~1.1x; bombs ~1000x
MAX_NAME_CHARS = 256
_MAX_NDIM = 32                       # numpy's own limit is 64
_MAX_HEADER_CHARS = 10_000           # numpy's max_header_size default
_MAX_CD_BYTES = MAX_MEMBERS * 512    # the central directory: ~46 bytes + name per member
_ALLOWED_KINDS = "biufcSU"           # bool, ints, floats, complex, bytes, str: no object/void
_CHUNK = 2 ** 20
_FIX_RESAVE = "pass a checkpoint written by tinygrad_attn.checkpoint.save, e.g. the model.npz " \
              "of a training run's output folder"


class CheckpointError(Exception):
    """A file is missing, unreadable, truncated, crafted, or not a checkpoint of this engine.

    The message is one line: it names the path (``repr``, shortened when very long), what
    is wrong and a fix, and never quotes more than a short excerpt of the file.
    """


def _error(where: str, problem: str, fix: str = _FIX_RESAVE) -> CheckpointError:
    return CheckpointError(f"checkpoint {where} {problem} (fix: {fix})")


def _storable_name(key) -> bool:
    """True if ``key`` can be a member name: a str of 1..MAX_NAME_CHARS characters with
    no path separator, no ``..`` and no control character."""
    return (isinstance(key, str) and 0 < len(key) <= MAX_NAME_CHARS and "/" not in key
            and "\\" not in key and ".." not in key
            and not any(ord(c) < 32 or ord(c) == 127 for c in key))


def save(state_dict: dict, path, metadata: dict | None = None) -> None:
    """Write ``state_dict`` ({name: ndarray or Tensor}) and JSON-serialisable ``metadata``
    (a dict) to ``path`` atomically (:func:`tinygrad_attn.fileio.atomic_open`).

    Refuses what :func:`load` would refuse, so a saved file always loads back.

    Raises
    ------
    ValueError
        A key is the reserved name ``__metadata__``, is not a plain name (empty, longer
        than ``MAX_NAME_CHARS``, holds ``/``, ``\\``, ``..`` or a control character), an
        array's dtype is object, structured or otherwise not a number, bool or string,
        there are more than ``MAX_MEMBERS`` arrays, or the metadata's JSON is larger than
        ``MAX_METADATA_BYTES`` as stored.
    TypeError
        ``metadata`` is not a dict or is not JSON-serialisable.
    """
    arrays = {}
    for k, v in state_dict.items():
        a = v if isinstance(v, np.ndarray) else np.asarray(getattr(v, "data", v))
        if k == _META or not _storable_name(k) or a.dtype.kind not in _ALLOWED_KINDS \
                or a.dtype.fields is not None or a.dtype.subdtype is not None:
            raise ValueError(f"checkpoint.save: key {_excerpt(k)} is reserved or not a plain "
                             f"name, or holds a {a.dtype} array that load() refuses (fix: "
                             f"rename it / store numbers only)")
        arrays[k] = a
    if len(arrays) >= MAX_MEMBERS:
        raise ValueError(f"checkpoint.save: {len(arrays)} arrays, more than load() accepts "
                         f"({MAX_MEMBERS - 1}) (fix: stack them into fewer arrays)")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"checkpoint.save: metadata must be a dict, not "
                        f"{type(metadata).__name__} (fix: wrap it, e.g. {{'value': ...}})")
    arrays[_META] = np.array(json.dumps(metadata or {}))
    if arrays[_META].nbytes > MAX_METADATA_BYTES:
        raise ValueError(f"checkpoint.save: the metadata is {arrays[_META].nbytes:,} bytes as "
                         f"stored, more than load() accepts ({MAX_METADATA_BYTES:,}) (fix: "
                         f"store large data as arrays)")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def _open_regular_file(path: str, where: str):
    """Open ``path`` for reading if it is a regular file (symlinks followed); never opens
    a FIFO, device or folder (so nothing blocks: :func:`fileio.open_regular`). Returns
    (binary file, size in bytes)."""
    try:
        fd, st = open_regular(path)
    except NotRegularFileError as e:
        problem = "changed into something other than a regular file while it was opened" \
            if e.changed else f"is {e.kind}, not a checkpoint file"
        raise _error(where, problem, "name the model.npz file itself") from None
    except FileNotFoundError:
        raise _error(where, "does not exist", "check the path; training writes model.npz in "
                     "its --out folder") from None
    except OSError as e:
        raise _error(where, f"cannot be read ({e.strerror or type(e).__name__})",
                     "check the path and its permissions") from None
    return os.fdopen(fd, "rb"), st.st_size


def _zip_end_record(f, size: int, where: str) -> tuple[int, int]:
    """Parse the zip end record (zip64 too) at the end of ``f``: returns (members claimed,
    central directory bytes). Reads at most 64 KiB + 98 bytes."""
    tail_len = min(size, 22 + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        raise _error(where, "is truncated or not a complete .npz file (it has no zip end "
                     "record)", "copy or re-save the whole file")
    _, _, _, _, count, cd_bytes, cd_offset, _ = struct.unpack_from("<4s4H2LH", tail, i)
    eocd_at = size - tail_len + i
    if (count == 0xFFFF or cd_bytes == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF) and eocd_at >= 20:
        f.seek(eocd_at - 20)
        locator = f.read(20)
        if locator[:4] == b"PK\x06\x07":
            z64_at = struct.unpack_from("<Q", locator, 8)[0]
            if z64_at + 56 <= size:
                f.seek(z64_at)
                record = f.read(56)
                if record[:4] == b"PK\x06\x06":
                    count, cd_bytes = struct.unpack_from("<QQ", record, 32)
    if count > MAX_MEMBERS or cd_bytes > _MAX_CD_BYTES:
        raise _error(where, f"claims {count:,} members in a {cd_bytes:,}-byte directory, more "
                     f"than a checkpoint has (at most {MAX_MEMBERS:,})",
                     "this is not a model checkpoint; " + _FIX_RESAVE)
    return count, cd_bytes


def _check_members(infos: list, size: int, where: str) -> None:
    """Refuse members that no :func:`save` writes: too many, duplicate or path-like names,
    encrypted, an unknown compression, a bomb's ratio, or more bytes than the file holds."""
    if len(infos) > MAX_MEMBERS:
        raise _error(where, f"has {len(infos):,} members, more than a checkpoint has "
                     f"(at most {MAX_MEMBERS:,})")
    seen = set()
    for info in infos:
        name = info.filename
        label = f"member {_excerpt(name)}"
        if name in seen:
            raise _error(where, f"has two members named {_excerpt(name)}; the file is crafted "
                         f"or corrupt")
        seen.add(name)
        if not name.endswith(".npy") or not _storable_name(name[:-4]):
            raise _error(where, f"has a {label} that is not a plain array name (a path, "
                         f"a folder, a control character or not .npy); the file is crafted "
                         f"or not a checkpoint")
        if info.flag_bits & 0x1:
            raise _error(where, f"has an encrypted {label}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _error(where, f"has a {label} compressed with method {info.compress_type}, "
                         f"which checkpoints never use")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _error(where, f"has a stored (uncompressed) {label} whose sizes disagree "
                         f"({info.compress_size:,} stored, {info.file_size:,} claimed)")
        if info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 4096:
            raise _error(where, f"has a {label} that would expand {info.compress_size:,} bytes "
                         f"into {info.file_size:,} (more than {MAX_COMPRESSION_RATIO}:1, a zip "
                         f"bomb)")
    if sum(i.compress_size for i in infos) > size:
        raise _error(where, f"has members that together claim more bytes than the file's "
                     f"{size:,} (overlapping or lying members)")


def _read_header(member, info, where: str):
    """Read one ``.npy`` header from the open ``member`` stream: returns (shape tuple,
    fortran_order, dtype, header bytes). Never reads more than the header."""
    label = f"member {_excerpt(info.filename)}"
    prefix = member.read(8)
    if len(prefix) < 8 or prefix[:6] != b"\x93NUMPY" or prefix[6] not in (1, 2):
        raise _error(where, f"has a {label} that is not a version 1 or 2 .npy array (it "
                     f"starts with {_excerpt(prefix, 12)})")
    width = 2 if prefix[6] == 1 else 4
    raw_len = member.read(width)
    header_len = int.from_bytes(raw_len, "little") if len(raw_len) == width else -1
    if not 0 <= header_len <= _MAX_HEADER_CHARS + 64:
        raise _error(where, f"has a {label} whose .npy header length is missing or larger "
                     f"than {_MAX_HEADER_CHARS:,} bytes")
    header = member.read(header_len)
    if len(header) < header_len:
        raise _error(where, f"has a truncated {label}", "copy or re-save the whole file")
    read = npy_format.read_array_header_1_0 if width == 2 else npy_format.read_array_header_2_0
    try:
        shape, fortran, dtype = read(io.BytesIO(raw_len + header),
                                     max_header_size=_MAX_HEADER_CHARS)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, OverflowError):
        raise _error(where, f"has a {label} with a broken .npy header (it reads "
                     f"{_excerpt(header)})") from None
    return shape, fortran, dtype, 8 + width + header_len


def _check_array_header(info, shape, dtype, header_bytes: int, where: str) -> int:
    """Check a declared dtype and shape against the member's stored size; returns the
    array's size in bytes."""
    label = f"member {_excerpt(info.filename)}"
    if dtype.hasobject:
        raise _error(where, f"has a {label} that holds object arrays, which only pickle can "
                     f"load, and this engine never loads pickle",
                     "save numeric arrays with tinygrad_attn.checkpoint.save")
    if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise _error(where, f"has a {label} of dtype {_excerpt(str(dtype), 40)}; a checkpoint "
                     f"holds only plain numbers, bools and strings")
    if len(shape) > _MAX_NDIM or any(d < 0 for d in shape):
        raise _error(where, f"has a {label} with an impossible shape "
                     f"{_excerpt(str(shape), 80)}")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_bytes + nbytes != info.file_size:
        raise _error(where, f"has a {label} whose header declares {dtype} {shape} "
                     f"({nbytes:,} bytes) but which stores "
                     f"{max(info.file_size - header_bytes, 0):,} bytes; the file is crafted "
                     f"or corrupt")
    if math.prod(max(d, 1) for d in shape) * max(dtype.itemsize, 1) >= 2 ** 62:
        raise _error(where, f"has an empty {label} with an impossible shape "
                     f"{_excerpt(str(shape), 80)}")      # numpy cannot even reshape to it
    return nbytes


def _read_array(member, shape, fortran: bool, dtype, nbytes: int, where: str, name: str):
    """Read ``nbytes`` of array data from ``member`` (after its header) in 1 MiB chunks
    into a new array of ``dtype`` and ``shape`` (native byte order)."""
    flat = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(flat.view(np.uint8)) if nbytes else memoryview(b"")
    done = 0
    while done < nbytes:
        chunk = member.read(min(_CHUNK, nbytes - done))
        if not chunk:
            raise _error(where, f"has a truncated member {_excerpt(name)}",
                         "copy or re-save the whole file")
        view[done:done + len(chunk)] = chunk
        done += len(chunk)
    array = flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _plan(zf, infos: list, where: str, max_bytes: int) -> list:
    """Read and check every member's header (nothing else): returns one (info, shape,
    fortran_order, dtype, header bytes, data bytes) per member."""
    plans, total = [], 0
    for info in infos:
        with zf.open(info) as member:
            shape, fortran, dtype, header_bytes = _read_header(member, info, where)
        nbytes = _check_array_header(info, shape, dtype, header_bytes, where)
        total += nbytes
        if total > max_bytes:
            raise _error(where, f"declares more than {max_bytes:,} bytes of arrays (the "
                         f"member {_excerpt(info.filename)} brings it to {total:,})",
                         "load it with a larger max_bytes if you trust it; otherwise " +
                         _FIX_RESAVE)
        if info.filename == _META + ".npy" and (dtype.kind != "U" or shape != ()
                                                or nbytes > MAX_METADATA_BYTES):
            raise _error(where, f"has metadata that is not one JSON string of at most "
                         f"{MAX_METADATA_BYTES:,} bytes (it is {dtype} {shape}, "
                         f"{nbytes:,} bytes)")
        plans.append((info, shape, fortran, dtype, header_bytes, nbytes))
    return plans


def _read_planned(zf, plans: list, where: str) -> dict:
    """Read the arrays :func:`_plan` checked: {member name without .npy: array}."""
    arrays = {}
    for info, shape, fortran, dtype, header_bytes, nbytes in plans:
        with zf.open(info) as member:
            member.read(header_bytes)
            arrays[info.filename[:-4]] = _read_array(member, shape, fortran, dtype, nbytes,
                                                     where, info.filename)
    return arrays


def _parse_metadata(text: str, where: str) -> dict:
    """The metadata JSON text -> dict."""
    try:
        metadata = json.loads(text)
    except (ValueError, RecursionError) as e:       # JSONDecodeError is a ValueError
        raise _error(where, f"has metadata that is not valid JSON ({type(e).__name__} at "
                     f"{getattr(e, 'pos', '?')}; it starts {_excerpt(text, 40)})") from None
    if not isinstance(metadata, dict):
        raise _error(where, f"has metadata that is a JSON {type(metadata).__name__}, not an "
                     f"object (it starts {_excerpt(text, 40)})")
    return metadata


def load(path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[dict, dict]:
    """Read a checkpoint written by :func:`save`: returns ``(state_dict, metadata)``, where
    ``state_dict`` maps each name to a new writable ndarray (native byte order) and
    ``metadata`` is the JSON dict.

    Everything is checked before any array is allocated (see the module docstring); the
    arrays together may declare at most ``max_bytes`` bytes (default 2 GiB), and never
    more than the file stores (with at most ``MAX_COMPRESSION_RATIO`` : 1 for deflated
    members). Only ``path`` is read; pickle never is.

    Raises
    ------
    CheckpointError
        The path is missing, unreadable, a folder, FIFO, device or socket (symlinks are
        followed first); the file is empty, truncated, corrupt, crafted, not an ``.npz``,
        would need pickle, holds arrays over ``max_bytes``, has no ``__metadata__`` or its
        metadata is not a JSON object. One line naming the path, the problem and a fix.
    TypeError, ValueError
        ``max_bytes`` is not an int >= 0.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"checkpoint.load: max_bytes must be an int >= 0, got "
                         f"{max_bytes!r} (fix: pass a byte count such as 2 * 2**30)")
    path = os.fspath(path)
    where = quote_path(path)
    f, size = _open_regular_file(path, where)
    with f:
        try:
            return _load_open(f, size, where, max_bytes)
        except CheckpointError:
            raise
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError,
                NotImplementedError, RuntimeError, struct.error) as e:
            raise _error(where, f"is truncated or corrupt ({type(e).__name__}: "
                         f"{_excerpt(str(e), 80)})", "copy or re-save the whole file") from None


def _load_open(f, size: int, where: str, max_bytes: int) -> tuple[dict, dict]:
    """:func:`load` on an open regular file of ``size`` bytes."""
    magic = f.read(4)
    if size == 0:
        raise _error(where, "is empty (0 bytes)", "re-save it; a save interrupted by a crash "
                     "never leaves an empty file, so something else wrote it")
    if magic != b"PK\x03\x04":
        raise _error(where, f"is not an .npz file (it does not start with the zip signature "
                     f"but with {_excerpt(magic, 4)})", "pass the model.npz that training "
                     "wrote")
    _zip_end_record(f, size, where)
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        _check_members(infos, size, where)
        plans = _plan(zf, infos, where, min(max_bytes, MAX_COMPRESSION_RATIO * size))
        if _META + ".npy" not in {i.filename for i in infos}:
            raise _error(where, f"has no {_META} entry, so it was not written by "
                         f"tinygrad_attn.checkpoint.save", "re-save it with save()")
        arrays = _read_planned(zf, plans, where)
    return arrays, _parse_metadata(str(arrays.pop(_META)[()]), where)
