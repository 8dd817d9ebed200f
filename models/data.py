"""Character-level seq2seq data in the ``question_answer`` format.

The format is the one used by *Deep Learning from Scratch 2* (``dataset/date.txt`` and
``dataset/addition.txt``, MIT, (c) 2018 Koki Saitoh; see ``../shared/data/SOURCES.md``):
one example per line, fixed width, space padded; the first ``_`` separates the input
from the answer, and the ``_`` is kept as the first answer character so that it doubles
as the decoder's start symbol.  ``generate_date_task`` builds an equivalent date task
locally, so no download is needed.
"""
from __future__ import annotations

import datetime
import json
import operator
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["DataError", "load_question_answer", "CharVocab", "CharCodec", "Dataset", "split_train_test",
           "generate_date_task", "load_dataset", "encode_questions"]

SEPARATOR = "_"
DATE_INPUT_WIDTH = 29  # width of the input column in the book's date.txt
_FORMAT_FIX = "each line must be `question_answer`: the input, then `_`, then the answer"


class DataError(ValueError):
    """A line of a ``question_answer`` file could not be used.

    Parameters
    ----------
    path : str or os.PathLike
        File (or data-source description) the line came from.
    lineno : int
        1-based line number.
    line : str
        The offending line without its newline; shown as a ``repr`` truncated to 60 chars.
    problem : str
        What is wrong.
    fix : str
        One way to fix it.
    """

    def __init__(self, path, lineno: int, line: str, problem: str, fix: str = _FORMAT_FIX):
        shown = repr(line[:60]) + ("..." if len(line) > 60 else "")
        super().__init__(f"{path}, line {lineno}: {problem}: {shown}. Fix: {fix}.")
        self.path, self.lineno, self.line = str(path), lineno, line


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
            problem = "blank line" if not line.strip() else "no `_` separator"
            raise DataError(source, lineno, line, problem)
        a = SEPARATOR + a
        if questions and (len(q), len(a)) != (len(questions[0]), len(answers[0])):
            what, got, want = (("input", len(q), len(questions[0])) if len(q) != len(questions[0])
                               else ("answer (with its `_`)", len(a), len(answers[0])))
            raise DataError(source, lineno, line,
                            f"{what} is {got} characters wide but line 1 sets the width to {want}",
                            f"the format is fixed width: pad every {what.split()[0]} with "
                            f"spaces to {want} characters")
        questions.append(q)
        answers.append(a)
    return questions, answers


def load_question_answer(path) -> tuple[list[str], list[str]]:
    """Read a ``question_answer`` file such as the book's ``date.txt`` or ``addition.txt``.

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text file, one example per line.

    Returns
    -------
    questions : list of str
        Text before the first ``_`` on each line, spaces kept (padding is vocabulary).
    answers : list of str
        ``"_"`` followed by the rest of the line; only the trailing ``"\\n"``/``"\\r\\n"`` is
        stripped.  All questions have one width and all answers another.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataError
        For a non-blank line without ``_``, a blank line before the end, a width that
        differs from line 1, or a file with no lines.  Blank lines at the end are ignored.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"question_answer file not found: {str(path)!r}. Pass the path of a file such as "
            "date.txt or addition.txt, or use load_dataset(None) for the built-in date task"
        ) from None
    lines = [ln[:-2] if ln.endswith("\r\n") else ln[:-1] if ln.endswith("\n") else ln
             for ln in raw.splitlines(keepends=True)]
    return _parse_lines(lines, path)


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
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    vocab: CharVocab
    reversed: bool
    source: str
    path: str | None = None

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
    tgt_train = property(lambda self: self.t_train, doc="= t_train")
    tgt_test = property(lambda self: self.t_test, doc="= t_test")
    src_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")
    tgt_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")

    def metadata(self) -> dict:
        """JSON-safe description for a checkpoint: what :class:`CharCodec` needs, plus where
        the data came from."""
        return {"kind": "char", "vocab": self.vocab.to_dict(), "reversed": self.reversed,
                "source_width": int(self.x_train.shape[1]),
                "answer_length": int(self.t_train.shape[1] - 1), "start_id": int(self.start_id),
                "data_path": self.path, "data_source": self.source}

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
    for field, outputs in fields:
        positions = set(spans[field])
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
        appearance wins), as the book's loader does; 90 % train / 10 % test.

    Raises
    ------
    FileNotFoundError, DataError
        As ``load_question_answer``.
    """
    if path is None:
        source = f"built-in date task (n={n_generated}, seed={generator_seed})"
        questions, answers = _parse_lines(generate_date_task(n_generated, generator_seed), source)
    else:
        source = str(path)
        questions, answers = load_question_answer(path)
    vocab = CharVocab.from_texts(s for pair in zip(questions, answers) for s in pair)
    x, t = _encode_all(questions, vocab), _encode_all(answers, vocab)
    x_train, t_train, x_test, t_test = split_train_test(x, t, seed=seed)
    if reverse:
        x_train, x_test = (np.ascontiguousarray(a[:, ::-1]) for a in (x_train, x_test))
    return Dataset(x_train, t_train, x_test, t_test, vocab, reverse, source,
                   None if path is None else os.path.abspath(path))


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
