"""Character-level seq2seq data in the ``question_answer`` format.

The format is the one used by *Deep Learning from Scratch 2* (``dataset/date.txt`` and
``dataset/addition.txt``, MIT, (c) 2018 Koki Saitoh; see ``../shared/data/SOURCES.md``):
one example per line, fixed width, space padded; the first ``_`` separates the input
from the answer, and the ``_`` is kept as the first answer character so that it doubles
as the decoder's start symbol.  ``generate_date_task`` builds an equivalent date task
locally, so no download is needed.

Every data file (this format and the sentence pairs of ``models/translation_data.py``) is
read by :func:`read_text_file`: only a regular file of at most ``MAX_DATA_BYTES`` is
opened, a UTF-8 BOM is removed, ``\r\n`` line endings are accepted, and anything else
(a folder, a pipe, a device, an archive, bytes that are not UTF-8, an empty file) is a
one-line :class:`DataError` naming the file, the line where there is one, and a fix.
Blank lines: in a ``question_answer`` file only trailing blank lines are ignored (a blank
line inside a fixed-width file is a lost example and an error); a sentence-pair file skips
blank lines anywhere.  :func:`sniff_format` tells the two formats apart.
"""
from __future__ import annotations

import datetime
import json
import operator
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from tinygrad_attn.fileio import NotRegularFileError, open_regular
from tinygrad_attn.fileio import excerpt as _excerpt

__all__ = ["DataError", "DataFileNotFoundError", "MAX_DATA_BYTES", "check_path",
           "read_text_file", "sniff_format", "validation_indices", "load_question_answer",
           "CharVocab", "CharCodec", "Dataset",
           "split_train_test", "generate_date_task", "load_dataset", "encode_questions"]

SEPARATOR = "_"
DATE_INPUT_WIDTH = 29  # width of the input column in the book's date.txt
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
                     "models.data.MAX_DATA_BYTES")


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


# -- the question_answer format -----------------------------------------------------------------

def _width_error(source, lines, lineno, line, q, a, questions, answers) -> DataError:
    """The DataError for a line whose widths differ from line 1's (a header if line 1 is
    the odd one out)."""
    if lineno == 2 and len(lines) > 2:
        q3, sep, a3 = lines[2].partition(SEPARATOR)
        if sep and (len(q3), len(a3) + 1) == (len(q), len(a)):
            return DataError(source, 1, lines[0], "looks like a title or header line: its "
                             f"widths ({len(questions[0])} + {len(answers[0])} characters) "
                             f"differ from those of lines 2 and 3 ({len(q)} + {len(a)})",
                             "delete line 1: the file must hold only `input_answer` examples")
    what, got, want = (("input", len(q), len(questions[0])) if len(q) != len(questions[0])
                       else ("answer (with its `_`)", len(a), len(answers[0])))
    return DataError(source, lineno, line,
                     f"{what} is {got} characters wide but line 1 sets the width to {want}",
                     f"the format is fixed width: pad every {what.split()[0]} with "
                     f"spaces to {want} characters")


def _parse_lines(lines: list[str], source) -> tuple[list[str], list[str]]:
    """Split ``question_answer`` lines (newlines already removed); see ``load_question_answer``."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]  # blank lines at the end are ignored
    if not lines:
        raise DataError(source, 1, "", "no `question_answer` lines found")
    questions, answers = [], []
    for lineno, line in enumerate(lines, start=1):
        q, sep, a = line.partition(SEPARATOR)
        if not sep:
            if not line.strip():
                raise DataError(source, lineno, line, "blank line (only blank lines at the "
                                "end of a question_answer file are ignored)",
                                "delete the blank line")
            if lineno == 1 and len(lines) > 1 and SEPARATOR in lines[1]:
                raise DataError(source, 1, line, "has no `_` and looks like a title or header "
                                "line (the lines after it are examples)",
                                "delete line 1: the file must hold only `input_answer` "
                                "examples")
            raise DataError(source, lineno, line, "no `_` separator")
        if "\r" in line:
            raise DataError(source, lineno, line, "holds a carriage return (\\r) inside the "
                            "line", "convert the file's line endings to \\n (e.g. dos2unix)")
        a = SEPARATOR + a
        if questions and (len(q), len(a)) != (len(questions[0]), len(answers[0])):
            raise _width_error(source, lines, lineno, line, q, a, questions, answers)
        questions.append(q)
        answers.append(a)
    return questions, answers


def load_question_answer(path) -> tuple[list[str], list[str]]:
    """Read a ``question_answer`` file such as the book's ``date.txt`` or ``addition.txt``.

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text file (a BOM is removed; ``\\r\\n`` line endings are accepted), one
        example per line.  Blank lines at the end are ignored; a blank line before the
        end is an error (in a fixed-width file it means a lost example).

    Returns
    -------
    questions : list of str
        Text before the first ``_`` on each line, spaces kept (padding is vocabulary).
    answers : list of str
        ``"_"`` followed by the rest of the line (without its line ending).  All questions
        have one width and all answers another.

    Raises
    ------
    DataFileNotFoundError
        (also a ``FileNotFoundError``) if ``path`` does not exist.
    DataError
        Everything :func:`read_text_file` refuses (a folder, a pipe or device, a huge,
        empty, archived or non-UTF-8 file), and per line: a line without ``_``, a title or
        header line, a blank line before the end, a ``\\r`` inside a line, a width that
        differs from line 1.
    """
    text = read_text_file(path, what="`question_answer` lines",
                          example="a file such as date.txt or addition.txt, or leave out "
                                  "--data for the built-in date task")
    return _parse_lines(text.split("\n"), path)


class CharVocab:
    """Bijection between characters and integer ids.

    Attributes
    ----------
    char_to_id : dict[str, int]
    id_to_char : list[str]
        ``id_to_char[i]`` is the character with id ``i``.
    """

    def __init__(self, id_to_char: Iterable[str]):
        self.id_to_char = list(id_to_char)
        self.char_to_id = {c: i for i, c in enumerate(self.id_to_char)}
        bad = [c for c in self.id_to_char if not isinstance(c, str) or len(c) != 1]
        if bad or len(self.char_to_id) != len(self.id_to_char):
            raise ValueError(f"id_to_char must list distinct single characters; got bad "
                             f"entries {bad[:5]!r} or duplicates. Fix: rebuild the vocabulary "
                             "with CharVocab.from_texts")

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "CharVocab":
        """Assign ids in order of first appearance (texts in order, characters in order),
        the book's rule; pass ``[q0, a0, q1, a1, ...]`` to match its line-by-line loop."""
        return cls(dict.fromkeys(c for text in texts for c in text))

    def __len__(self) -> int:
        return len(self.id_to_char)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and self.id_to_char == other.id_to_char

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars: {''.join(self.id_to_char)!r})"

    def encode(self, text: str) -> np.ndarray:
        """Return the ids of ``text`` as an int64 array of shape ``(len(text),)``.

        Raises
        ------
        ValueError
            If a character is not in the vocabulary (names it and its 0-based position).
        """
        try:
            return np.array([self.char_to_id[c] for c in text], dtype=np.int64)
        except KeyError as e:
            c = e.args[0]
            raise ValueError(
                f"unknown character {c!r} at position {text.index(c)} of {text!r}. Fix: use only "
                f"characters seen in training ({''.join(self.id_to_char)!r}) or rebuild the "
                "vocabulary from texts that contain it") from None

    def decode(self, ids) -> str:
        """Return the string for ``ids`` (any iterable of ints or a 1-D integer array).

        Raises
        ------
        ValueError
            If an id is outside ``[0, len(self))``.
        TypeError
            If an id is not an integer.
        """
        out = []
        for i in ids.reshape(-1).tolist() if isinstance(ids, np.ndarray) else ids:
            i = operator.index(i)  # TypeError for non-integers
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside the vocabulary [0, {len(self)}). Fix: decode "
                                 "with the vocabulary the ids were encoded with")
            out.append(self.id_to_char[i])
        return "".join(out)

    def to_dict(self) -> dict:
        """JSON-serialisable form: ``{"id_to_char": [...]}``."""
        return {"id_to_char": list(self.id_to_char)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocab":
        """Inverse of ``to_dict``; raises ``ValueError`` for a malformed dict."""
        if not isinstance(d, dict) or not isinstance(d.get("id_to_char"), list):
            raise ValueError('a vocabulary dict must look like {"id_to_char": ["a", "b", ...]}')
        return cls(d["id_to_char"])

    def save(self, path) -> None:
        """Write ``to_dict()`` as UTF-8 JSON atomically (temp file in the same folder,
        then ``os.replace``), so a crash never leaves a half-written file."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path) -> "CharVocab":
        """Read a vocabulary written by ``save``."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


@dataclass
class Dataset:
    """Encoded, split ``question_answer`` data.

    Attributes
    ----------
    x_train, x_test : np.ndarray, int64, shape (N, S)
        Encoded inputs (reversed along axis 1 if ``reversed``).
    t_train, t_test : np.ndarray, int64, shape (N, T + 1)
        Encoded answers; column 0 is ``start_id`` (the ``_``).
    vocab : CharVocab
    reversed : bool
    source : str
        File path, or a description of the built-in generator and its seed.
    path : str or None
        The absolute path of the file read, None for the built-in task.
    counts : dict
        ``{"read": examples in the file, "used", "train", "test"}`` and, after
        :meth:`split_validation`, ``"valid"``.
    x_valid, t_valid : np.ndarray or None
        The validation split (same layout as the training arrays), None until
        :meth:`split_validation` made one.
    validation : dict or None
        ``{"fraction": f, "seed": s}`` of :meth:`split_validation`, else None.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    vocab: CharVocab
    reversed: bool
    source: str
    path: str | None = None
    counts: dict = field(default_factory=dict)
    x_valid: np.ndarray | None = None
    t_valid: np.ndarray | None = None
    validation: dict | None = None

    # The names every dataset offers the trainer (see models/translation_data.py too):
    # src_/tgt_ arrays, pad/start/eos ids, the metric, and a codec for the translate command.
    pad_id = None            # fixed-width rows: the spaces are real tokens, nothing is masked
    eos_id = None            # answers have a fixed length instead of an end symbol
    metric = "exact_match"

    @property
    def start_id(self) -> int:
        """Id of ``_``, the decoder's start symbol."""
        return self.vocab.char_to_id[SEPARATOR]

    src_train = property(lambda self: self.x_train, doc="= x_train")
    src_test = property(lambda self: self.x_test, doc="= x_test")
    src_valid = property(lambda self: self.x_valid, doc="= x_valid")
    tgt_train = property(lambda self: self.t_train, doc="= t_train")
    tgt_test = property(lambda self: self.t_test, doc="= t_test")
    tgt_valid = property(lambda self: self.t_valid, doc="= t_valid")
    src_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")
    tgt_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> "Dataset":
        """A new Dataset whose training rows are split into training and validation rows.

        ``int(len(x_train) * fraction)`` training rows, drawn with
        ``np.random.default_rng(seed).permutation`` (numpy's global state is untouched),
        become ``x_valid``/``t_valid``; the rest stay the training rows, in their order.
        The test split, the vocabulary and ``self`` are unchanged; the same ``fraction`` and
        ``seed`` always give the same split.  Use the validation split to choose an epoch
        or a setting, the test split only to report.

        Parameters
        ----------
        fraction : float in (0, 1)
        seed : int

        Returns
        -------
        Dataset
            With ``x_valid``, ``t_valid``, ``counts["valid"]`` and ``validation`` set.

        Raises
        ------
        DataError
            If the validation split or the remaining training split would be empty (the
            message gives the counts), or a validation split exists already.
        ValueError
            If ``fraction`` is not a number in (0, 1) or ``seed`` is not an integer >= 0.
        """
        train, valid = validation_indices(self, len(self.x_train), fraction, seed)
        return replace(self, x_train=self.x_train[train], t_train=self.t_train[train],
                       x_valid=self.x_train[valid], t_valid=self.t_train[valid],
                       counts={**self.counts, "train": len(train), "valid": len(valid)},
                       validation={"fraction": float(fraction), "seed": int(seed)})

    def metadata(self) -> dict:
        """JSON-safe description for a checkpoint: what :class:`CharCodec` needs, plus where
        the data came from."""
        return {"kind": "char", "vocab": self.vocab.to_dict(), "reversed": self.reversed,
                "source_width": int(self.x_train.shape[1]),
                "answer_length": int(self.t_train.shape[1] - 1), "start_id": int(self.start_id),
                "data_path": self.path, "data_source": self.source,
                "counts": dict(self.counts), "validation": self.validation}

    def codec(self) -> "CharCodec":
        return CharCodec.from_metadata(self.metadata())


@dataclass
class CharCodec:
    """Turns user text into model input and model output into text, the way the training
    data was encoded (for ``tinygrad-attn translate`` without re-reading the data).

    encode_source(texts) -> int64 (N, source_width); decode_target(ids (L,)) -> str.
    """

    vocab: CharVocab
    reversed: bool
    source_width: int
    answer_length: int
    start_id: int
    pad_id = None
    eos_id = None

    @classmethod
    def from_metadata(cls, meta: dict) -> "CharCodec":
        return cls(CharVocab.from_dict(meta["vocab"]), bool(meta["reversed"]),
                   int(meta["source_width"]), int(meta["answer_length"]), int(meta["start_id"]))

    def encode_source(self, texts) -> np.ndarray:
        return encode_questions(texts, self.vocab, self.source_width, self.reversed)

    def decode_target(self, ids) -> str:
        return self.vocab.decode(ids)

    def source_tokens(self, text: str) -> list[str]:
        """The input's tokens in model order (reversed if the model reads it reversed)."""
        chars = list(text.ljust(self.source_width))
        return chars[::-1] if self.reversed else chars


def validation_indices(data, n: int, fraction: float, seed: int):
    """Rows of a training split of ``n`` rows to keep for training and to hold out for
    validation: ``int(n * fraction)`` rows drawn with ``np.random.default_rng(seed)``.

    Returns (train, valid): sorted int64 index arrays that partition ``range(n)``.
    Raises ValueError for a ``fraction`` outside (0, 1) or a bad ``seed``, DataError (naming
    ``data.path`` or ``data.source``, and the counts) if either part would be empty or
    ``data`` already has a validation split.
    """
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating))
            or not 0 < fraction < 1):
        raise ValueError(f"split_validation: fraction must be a number in (0, 1), got "
                         f"{fraction!r} (fix: e.g. fraction=0.1 holds out 10 % of the training "
                         "data)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"split_validation: seed must be an integer >= 0, got {seed!r} (fix: "
                         "e.g. seed=0)")
    where = getattr(data, "path", None) or data.source
    if getattr(data, "validation", None) is not None:
        raise DataError(where, None, None, f"already has a validation split "
                        f"({data.validation})", "call split_validation once, on the data "
                        "the loader returned")
    n_valid = int(n * fraction)
    if n_valid == 0 or n_valid == n:
        part = "validation" if n_valid == 0 else "training"
        raise DataError(where, None, None, f"a validation fraction of {fraction:g} of "
                        f"{n} training items leaves the {part} split empty ({n - n_valid} "
                        f"train / {n_valid} validation)", "use more data or a validation "
                        f"fraction between {1 / n if n else 1:.3g} and {1 - 1 / n if n else 0:.3g}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def split_train_test(x: np.ndarray, t: np.ndarray, seed: int = 1984, test_fraction: float = 0.1):
    """Shuffle rows exactly as the book does and hold out the last ``test_fraction``.

    Uses ``np.random.seed(seed)`` then ``np.random.shuffle`` on ``np.arange(len(x))``, so it
    **reseeds numpy's global generator** (and leaves it advanced); this is what makes the
    split identical to the book's.  The test set has ``int(len(x) * test_fraction)`` rows
    (``len(x) // 10`` for the default).

    Returns
    -------
    x_train, t_train, x_test, t_test : np.ndarray
        Row subsets of ``x`` and ``t``, same dtypes, train first.

    Raises
    ------
    ValueError
        If ``x`` and ``t`` differ in length or ``test_fraction`` is not in ``[0, 1)``.
    """
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} rows but t has {len(t)}; they must be paired row by row")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    indices = np.arange(len(x))
    np.random.seed(seed)
    np.random.shuffle(indices)
    x, t = x[indices], t[indices]
    split_at = len(x) - int(len(x) * test_fraction)
    return x[:split_at], t[:split_at], x[split_at:], t[split_at:]


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _fields(d: datetime.date) -> dict:
    month, weekday = _MONTHS[d.month - 1], _WEEKDAYS[d.weekday()]
    return dict(B=month, b=month[:3], A=weekday, a=weekday[:3], d=d.day, m=d.month,
                Y=d.year, y=d.year % 100)


# Each format is a str.format template over _fields(); comments show 1994-09-27.
_DATE_FORMATS = (
    "{B} {d}, {Y}",            # september 27, 1994
    "{b} {d}, {Y}",            # sep 27, 1994
    "{d} {B} {Y}",             # 27 september 1994
    "{m}/{d}/{y:02d}",         # 9/27/94
    "{m:02d}/{d:02d}/{Y}",     # 09/27/1994
    "{d:02d}.{m:02d}.{Y}",     # 27.09.1994
    "{Y}/{m:02d}/{d:02d}",     # 1994/09/27
    "{A}, {B} {d}, {Y}",       # tuesday, september 27, 1994
    "{b} {d} {Y}",             # sep 27 1994
    "{d} {b} {y:02d}",         # 27 sep 94
    "{a}, {b} {d}, {Y}",       # tue, sep 27, 1994
    "{d} {b} {Y}",             # 27 sep 1994
    "{Y}{m:02d}{d:02d}",       # 19940927
    "{a} {d} {B} {Y}",         # tue 27 september 1994
)
_CASES = (str.lower, str.title, str.upper)


def date_source_spans(text: str, iso: str) -> dict:
    """Where each field of the answer comes from in a date task's input.

    text : the input as typed (e.g. ``"september 27, 1994"``, ``"9/27/94"``,
        ``"19940927"``); iso : its answer ``YYYY-MM-DD``.
    Returns ``{"year": positions, "month": positions, "day": positions}``: the character
    indices of ``text`` that spell each field (the year's digits, the month's name or
    number, the day's number). A field that cannot be found gets an empty list. For a
    two-digit year the positions are those of the two digits (the century is not in the
    input). Used to check that attention aligns output digits with their source.
    """
    Y, m, d = iso[:4], int(iso[5:7]), int(iso[8:10])
    runs = [(mt.start(), mt.end(), mt.group()) for mt in re.finditer(r"\d+", text)]
    spans = {"year": [], "month": [], "day": []}
    for a, b, digits in runs:
        if len(digits) == 8 and digits[:4] == Y:            # YYYYMMDD
            return {"year": list(range(a, a + 4)), "month": list(range(a + 4, a + 6)),
                    "day": list(range(a + 6, a + 8))}
    year = [r for r in runs if r[2] == Y] or [r for r in runs if r[2] == Y[2:]]
    if year:
        spans["year"] = list(range(year[-1][0], year[-1][1]))
        runs = [r for r in runs if r is not year[-1]]
    name = _MONTHS[m - 1]
    word = re.search(rf"\b({name}|{name[:3]})\b", text, flags=re.IGNORECASE)
    if word:
        spans["month"] = list(range(word.start(), word.end()))
    else:
        month = [r for r in runs if int(r[2]) == m]
        if month:
            spans["month"] = list(range(month[0][0], month[0][1]))
            runs = [r for r in runs if r is not month[0]]
    day = [r for r in runs if int(r[2]) == d]
    if day:
        spans["day"] = list(range(day[0][0], day[0][1]))
    return spans


def date_alignment(codec: "CharCodec", text: str, iso: str, weights) -> list[bool]:
    """For each output digit whose source is in the input, whether its largest attention
    weight falls on that source (:func:`date_source_spans`).

    codec : the model's :class:`CharCodec`; weights : (10, S) attention of the 10 output
    characters ``YYYY-MM-DD`` over the model's source columns (reversed if the model reads
    reversed). Output digits that are not in the input are not checked: the century of a
    two-digit year ("94" -> 1994) and the leading zero of a one-digit day or month
    ("9/7/94" -> 09, 07); a month typed as a name is the source of both its digits.
    Returns one bool per checked digit (an empty list if no field was found).
    """
    spans = date_source_spans(text, iso)
    weights = np.asarray(weights)
    S = weights.shape[1]
    checks = []
    fields = (("year", range(0, 4)), ("month", range(5, 7)), ("day", range(8, 10)))
    for name, outputs in fields:
        positions = set(spans[name])
        if not positions:
            continue
        typed = min(len(outputs), len(positions))     # the last `typed` digits are typed
        for t in outputs[len(outputs) - typed:]:
            col = int(weights[t].argmax())
            pos = S - 1 - col if codec.reversed else col      # back to the typed order
            checks.append(pos in positions)
    return checks


def generate_date_task(n: int = 50000, seed: int = 0) -> list[str]:
    """Generate ``n`` lines of a date-normalisation task in the book's ``date.txt`` layout.

    Dates are uniform over 1970-01-01 .. 2029-12-31 (two-digit years are therefore
    unambiguous), rendered in one of 14 English/numeric formats with random lower, Title
    or UPPER case; weekday names are computed with ``datetime``.  Each line is the input
    left-justified to 29 characters, ``_``, and the ISO date ``YYYY-MM-DD`` (40 characters,
    no newline).  Deterministic given ``seed`` (uses ``np.random.default_rng(seed)``, not
    numpy's global state).

    Raises
    ------
    ValueError
        If ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    first = datetime.date(1970, 1, 1)
    span = (datetime.date(2029, 12, 31) - first).days + 1
    offsets = rng.integers(0, span, size=n).tolist()
    formats = rng.integers(0, len(_DATE_FORMATS), size=n).tolist()
    cases = rng.integers(0, len(_CASES), size=n).tolist()
    lines = []
    for off, fmt, case in zip(offsets, formats, cases):
        d = first + datetime.timedelta(days=off)
        text = _CASES[case](_DATE_FORMATS[fmt].format(**_fields(d)))
        assert len(text) <= DATE_INPUT_WIDTH, text
        lines.append(f"{text:<{DATE_INPUT_WIDTH}}{SEPARATOR}{d.isoformat()}")
    return lines


def _encode_all(texts: list[str], vocab: CharVocab) -> np.ndarray:
    return np.stack([vocab.encode(s) for s in texts]) if texts else np.zeros((0, 0), np.int64)


def load_dataset(path=None, *, reverse: bool = True, seed: int = 1984,
                 n_generated: int = 50000, generator_seed: int = 0) -> Dataset:
    """Load (or generate), encode and split a ``question_answer`` task.

    Parameters
    ----------
    path : str or os.PathLike, optional
        File to read with ``load_question_answer``; ``None`` uses
        ``generate_date_task(n_generated, generator_seed)``.
    reverse : bool
        Reverse the input sequences (``x[:, ::-1]``, contiguous), the book's trick.
    seed : int
        Shuffle seed for ``split_train_test`` (reseeds numpy's global generator).

    Returns
    -------
    Dataset
        Vocabulary built line by line (question characters, then answer characters, first
        appearance wins), as the book's loader does; 90 % train / 10 % test; the sizes in
        ``counts``.  :meth:`Dataset.split_validation` carves a validation split.

    Raises
    ------
    DataFileNotFoundError, DataError
        As ``load_question_answer``; also a DataError if there are fewer than 10 examples
        (the test split would be empty).
    """
    if path is None:
        source = f"built-in date task (n={n_generated}, seed={generator_seed})"
        questions, answers = _parse_lines(generate_date_task(n_generated, generator_seed), source)
    else:
        source = str(path)
        questions, answers = load_question_answer(path)
    n = len(questions)
    if int(n * 0.1) == 0:
        raise DataError(path if path is not None else source, None, None,
                        f"holds {n} example{'s' if n != 1 else ''}: the 10 % test split would "
                        "be empty", "use a file with at least 10 `input_answer` lines (a few "
                        "thousand to learn anything)")
    vocab = CharVocab.from_texts(s for pair in zip(questions, answers) for s in pair)
    x, t = _encode_all(questions, vocab), _encode_all(answers, vocab)
    x_train, t_train, x_test, t_test = split_train_test(x, t, seed=seed)
    if reverse:
        x_train, x_test = (np.ascontiguousarray(a[:, ::-1]) for a in (x_train, x_test))
    counts = {"read": n, "used": n, "train": len(x_train), "test": len(x_test)}
    return Dataset(x_train, t_train, x_test, t_test, vocab, reverse, source,
                   None if path is None else os.path.abspath(path), counts)


def encode_questions(questions, vocab: CharVocab, width: int, reverse: bool) -> np.ndarray:
    """Encode user inputs for translation the same way training inputs were encoded.

    Parameters
    ----------
    questions : str or iterable of str
        One question or several; each is left-justified and padded with spaces to ``width``.
    vocab : CharVocab
    width : int
        Input width S of the training data (``x_train.shape[1]``).
    reverse : bool
        Reverse each row, as ``Dataset.reversed`` says.

    Returns
    -------
    np.ndarray, int64, shape (len(questions), width)

    Raises
    ------
    ValueError
        If a question is longer than ``width`` or holds a character not in ``vocab``.
    """
    if isinstance(questions, str):
        questions = [questions]
    rows = []
    for q in questions:
        if len(q) > width:
            raise ValueError(f"question {q!r} is {len(q)} characters long but the model's input "
                             f"width is {width}. Fix: shorten it to at most {width} characters")
        rows.append(vocab.encode(q.ljust(width)))
    x = np.stack(rows) if rows else np.zeros((0, width), np.int64)
    return np.ascontiguousarray(x[:, ::-1]) if reverse else x
