"""Reading a data file safely, and telling the two data formats apart.

Every data file (the book's ``question_answer`` lines and the TAB-separated sentence pairs,
both parsed in ``models/pair_files.py``) is read by :func:`read_text_file`: only a regular
file of at most ``MAX_DATA_BYTES`` is opened, a UTF-8 BOM is removed, ``\\r\\n`` line
endings are accepted, and anything else (a folder, a pipe, a device, an archive, bytes
that are not UTF-8, an empty file) is a one-line :class:`DataError` naming the file, the
line where there is one, and a fix.  :func:`sniff_format` tells the two formats apart from
the first lines of a file.
"""
from __future__ import annotations

import os

from tinygrad_attn.fileio import NotRegularFileError, open_regular
from tinygrad_attn.fileio import excerpt as _excerpt

__all__ = ["DataError", "DataFileNotFoundError", "MAX_DATA_BYTES", "check_path",
           "read_text_file", "sniff_format"]

_FORMAT_FIX = "each line must be `question_answer`: the input, then `_`, then the answer"


def _show_path(path) -> str:
    """``path`` as text for a one-line message (``repr`` if it holds control characters)."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return text if text.isprintable() else repr(text)


class DataError(ValueError):
    """A data file, or a line of it, cannot be used; the message is one line.

    The message reads ``<file>[, line <n>]: <problem>[: '<line>']. Fix: <fix>.`` and the
    CLI prints it after ``tinygrad-attn <command>: error:``.

    Parameters
    ----------
    path : str or os.PathLike
        File (or data-source description) the problem is in.
    lineno : int or None
        1-based line number, None for a problem of the whole file.
    line : str or None
        The offending line without its newline, shown as a ``repr`` cut at 60 characters;
        None to show no line.
    problem : str
        What is wrong.
    fix : str
        One way to fix it (default: the ``question_answer`` format rule).

    Attributes
    ----------
    path : str; lineno : int or None; line : str or None; problem : str; fix : str
    """

    def __init__(self, path, lineno: int | None, line: str | None, problem: str,
                 fix: str = _FORMAT_FIX):
        where = _show_path(path) if lineno is None else f"{_show_path(path)}, line {lineno}"
        shown = "" if line is None else ": " + _excerpt(line)
        super().__init__(f"{where}: {problem}{shown}. Fix: {fix}.")
        self.path, self.lineno, self.line = str(path), lineno, line
        self.problem, self.fix = problem, fix


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file that does not exist: both a :class:`DataError` (one-line message with a
    fix) and a ``FileNotFoundError``, so either ``except`` clause catches it."""


# -- reading a data file safely -------------------------------------------------------------

#: Largest data file read, in bytes (128 MiB; the largest Tatoeba pair file is ~10 MiB).
#: Read at call time, so it can be changed on the module.
MAX_DATA_BYTES = 128 * 2 ** 20
_SNIFF_BYTES = 64 * 2 ** 10          # how much of a file sniff_format reads
_MAGIC = ((b"\x1f\x8b", "a gzip archive", "unpack it (gunzip) and pass the text file inside"),
          (b"PK\x03\x04", "a zip archive",
           "unzip it and pass the text file inside (e.g. fra.txt from fra-eng.zip)"),
          (b"\xff\xfe", "UTF-16 text", "re-save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8 "
           "OLD > NEW`)"),
          (b"\xfe\xff", "UTF-16 text", "re-save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8 "
           "OLD > NEW`)"))


def _files_in(folder: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` ``.txt`` files in ``folder`` (scanning at most 1000 entries)."""
    found = []
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= 1000 or len(found) >= limit:
                    break
                if entry.name.endswith(".txt") and entry.is_file():
                    found.append(os.path.join(folder, entry.name))
    except OSError:
        pass
    return sorted(found)


def _stat_error(path, e: OSError, example: str) -> DataError:
    """The DataError for an ``os.stat``/``os.open`` failure on a data file."""
    if isinstance(e, FileNotFoundError):
        if os.path.islink(path):
            return DataFileNotFoundError(
                path, None, None, f"is a symbolic link to {_show_path(os.readlink(path))}, "
                "which does not exist", f"point the link at a file, or pass {example}")
        return DataFileNotFoundError(path, None, None, "no such file",
                                     f"check the path, or pass {example}")
    if isinstance(e, NotADirectoryError):
        return DataFileNotFoundError(path, None, None, "a part of the path before the file "
                                     "name is a file, not a folder", f"check the path, or pass "
                                     f"{example}")
    if isinstance(e, PermissionError):
        return DataError(path, None, None, "cannot be read (permission denied)",
                         "make it readable (chmod u+r) or pass a copy you can read")
    return DataError(path, None, None, f"cannot be read ({e.strerror or e})",
                     f"pass a readable file such as {example}")


def _not_regular(path, e: NotRegularFileError) -> DataError:
    """The DataError for a folder (naming files inside it), a pipe, a device or a socket."""
    if e.kind == "a folder":
        link = " (a symbolic link to a folder)" if os.path.islink(path) else ""
        inside = _files_in(os.fspath(path))
        hint = ("pass one of the files inside it, e.g. " + ", ".join(map(_show_path, inside))
                if inside else "pass the path of a data file, not of a folder")
        return DataError(path, None, None, f"is a folder, not a file{link}", hint)
    return DataError(path, None, None, f"is {e.kind}, not a regular file (it is not read, "
                     "so it cannot hang or fill memory)", "save the data to a file first "
                     "and pass that file")


def _too_big(path, size: int, max_bytes: int) -> DataError:
    return DataError(path, None, None, f"is {size / 2 ** 20:.1f} MiB or more, above the limit "
                     f"of {max_bytes / 2 ** 20:g} MiB for a data file", "train on a sample "
                     "(e.g. `head -n 200000 FILE > sample.txt`) or raise "
                     "models.data_files.MAX_DATA_BYTES")


def _read_bytes(path, max_bytes: int, example: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file (at most ``limit`` of them if given), opened with
    ``tinygrad_attn.fileio.open_regular`` (a folder, pipe or device is refused, never read)
    and refused when larger than ``max_bytes``."""
    try:
        fd, st = open_regular(path)
    except NotRegularFileError as e:
        raise _not_regular(path, e) from None
    except OSError as e:
        raise _stat_error(path, e, example) from None
    try:
        if st.st_size > max_bytes:
            raise _too_big(path, st.st_size, max_bytes)
        want = max_bytes + 1 if limit is None else min(limit, max_bytes + 1)
        chunks, total = [], 0
        while total < want:
            chunk = os.read(fd, min(2 ** 20, want - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as e:
        raise _stat_error(path, e, example) from None
    finally:
        os.close(fd)
    if limit is None and total > max_bytes:   # the file grew after the size check
        raise _too_big(path, total, max_bytes)
    return b"".join(chunks)


def _decode(path, raw: bytes) -> str:
    """UTF-8 text of ``raw`` with a leading BOM removed and line endings as ``\\n``
    (``\\r\\n`` and old Mac ``\\r``-only files are accepted); DataError for an archive,
    UTF-16, bytes that are not UTF-8 (file, line, byte offset, fix) or a NUL byte."""
    for magic, what, fix in _MAGIC:
        if raw.startswith(magic):
            raise DataError(path, None, None, f"is {what}, not UTF-8 text", fix)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw.count(b"\n", 0, e.start) + 1
        start = raw.rfind(b"\n", 0, e.start) + 1
        end = raw.find(b"\n", e.start)
        line = raw[start:end if end >= 0 else len(raw)].decode("utf-8", "replace")
        guess = ("the file ends in the middle of a character: cut short?"
                 if e.reason == "unexpected end of data" else
                 "the file looks like Latin-1 or another 8-bit encoding")
        raise DataError(path, lineno, line, f"byte {raw[e.start]:#04x} at byte offset "
                        f"{e.start} (column {e.start - start + 1}) is not valid UTF-8 "
                        f"({guess})", "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t "
                        "utf-8 OLD > NEW`, naming the file's real encoding)") from None
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        at = text.index("\0")
        lineno = text.count("\n", 0, at) + 1
        line = text[text.rfind("\n", 0, at) + 1:].split("\n", 1)[0]
        raise DataError(path, lineno, line, "holds a NUL character (a binary file, not text)",
                        "pass a UTF-8 text file")
    text = text.replace("\r\n", "\n")
    if "\r" in text and "\n" not in text.rstrip("\n"):
        text = text.replace("\r", "\n")       # old Mac line endings
    return text


def check_path(path, example: str = "a data file") -> None:
    """TypeError unless ``path`` is a str or os.PathLike; DataFileNotFoundError if it is
    empty (``Path("")`` would silently mean the current folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a data file path must be a str or os.PathLike, got "
                        f"{type(path).__name__} (fix: pass the file's path as a str)")
    if isinstance(path, str) and not path:
        raise DataFileNotFoundError("''", None, None, "the path is empty", f"pass {example}")


def read_text_file(path, *, example: str = "a data file such as date.txt",
                   what: str = "examples") -> str:
    """Read a data file as text, refusing everything that is not a small UTF-8 text file.

    Nothing but a regular file is opened for reading (a folder, a symlink to a folder, a
    named pipe, ``/dev/zero`` are refused from ``stat``, so nothing hangs), and at most
    ``MAX_DATA_BYTES`` are read.  A UTF-8 byte-order mark is removed, ``\\r\\n`` and old Mac
    ``\\r`` line endings become ``\\n``.

    Parameters
    ----------
    path : str or os.PathLike
    example : str
        What to suggest instead, e.g. ``"a file such as date.txt"``.
    what : str
        What the file should hold, for the message about an empty file.

    Returns
    -------
    str
        The whole text (``"\\n"`` line endings, no BOM).

    Raises
    ------
    DataFileNotFoundError
        (a ``DataError`` and a ``FileNotFoundError``) if ``path`` or a symlink's target does
        not exist.
    DataError
        For a folder, a pipe/device/socket, a file over ``MAX_DATA_BYTES``, one that cannot
        be read, an archive or UTF-16 file, bytes that are not UTF-8 (line, byte offset),
        a NUL character, or a file with no non-blank line.
    TypeError
        If ``path`` is not a str or path.
    """
    check_path(path, example)
    text = _decode(path, _read_bytes(path, MAX_DATA_BYTES, example))
    if not text.strip():
        raise DataError(path, None, None, ("is empty" if not text else "holds only blank "
                                           "lines") + f": no {what} found", f"pass {example}")
    return text


def sniff_format(path) -> str:
    """Which kind of data file ``path`` is, from its first non-blank lines (up to 50, in the
    first 64 KiB, or the whole file if its first line is longer), after the checks of
    :func:`read_text_file`.

    Returns
    -------
    str
        ``"pairs"`` (tab-separated sentence pairs) if at least as many of those lines hold a
        TAB as hold a ``_`` without a TAB, else ``"question_answer"`` (the book's
        ``input_answer`` lines).  A header line does not change the answer; the loader then
        reports it with its line number.

    Raises
    ------
    DataError, DataFileNotFoundError, TypeError
        As :func:`read_text_file` (on the part read); a DataError if none of those lines holds
        a TAB or a ``_``.
    """
    example = "a question_answer file (date.txt) or a tab-separated pair file (fra.txt)"
    check_path(path, example)
    raw = _read_bytes(path, MAX_DATA_BYTES, example, limit=_SNIFF_BYTES + 1)
    cut = raw.rfind(b"\n", 0, _SNIFF_BYTES) + 1
    if len(raw) <= _SNIFF_BYTES:
        text = _decode(path, raw)
    elif cut:                          # cut at a line end: no half character, no half line
        text = _decode(path, raw[:cut])
    else:                              # a first line longer than 64 KiB: read it all
        text = read_text_file(path, example=example)
    lines = [ln for ln in text.split("\n") if ln.strip()][:50]
    if not lines:
        raise DataError(path, None, None, "is empty" if not text else "holds only blank lines",
                        f"pass {example}")
    tabs = sum("\t" in ln for ln in lines)
    underscores = sum("_" in ln and "\t" not in ln for ln in lines)
    if tabs and tabs >= underscores:
        return "pairs"
    if underscores:
        return "question_answer"
    raise DataError(path, None, None, f"none of its first {len(lines)} non-blank lines holds "
                    "a TAB (sentence pairs) or a `_` (question_answer)",
                    "write one example per line, either `sentence<TAB>translation` or "
                    "`input_answer`")
