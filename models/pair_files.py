"""Parsing the two kinds of data file into (input text, output text) pairs.

- ``question_answer`` lines, the format of *Deep Learning from Scratch 2*
  (``dataset/date.txt`` and ``dataset/addition.txt``, MIT, (c) 2018 Koki Saitoh; see
  ``../shared/data/SOURCES.md``): one example per line, fixed width, space padded; the
  first ``_`` separates the input from the answer, and the ``_`` is kept as the first
  answer character so that it doubles as the decoder's start symbol.  Only trailing blank
  lines are ignored (a blank line inside a fixed-width file is a lost example and an
  error).  :func:`load_question_answer`.
- TAB-separated sentence pairs, the Tatoeba files distributed by manythings.org: one pair
  per line, ``english<TAB>other`` and, in newer releases, a third attribution column;
  blank lines anywhere are skipped; the languages of the columns come from the file name.
  :func:`load_pairs`.

Both read the file with ``models.data_files.read_text_file`` (which refuses folders, pipes,
huge, archived or non-UTF-8 files) and answer every bad line with a one-line
``DataError`` naming the file, the line and a fix.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from .data_files import DataError, check_path, read_text_file

__all__ = ["SEPARATOR", "parse_question_answer", "load_question_answer", "TranslationDataError",
           "check_columns", "load_pairs"]

SEPARATOR = "_"


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


def parse_question_answer(lines: list[str], source) -> tuple[list[str], list[str]]:
    """Split ``question_answer`` lines (newlines removed) into (questions, answers), as
    :func:`load_question_answer` describes; ``source`` (a path or a description) is what
    a DataError names.  Raises DataError for a bad line."""
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
    return parse_question_answer(text.split("\n"), path)


# -- TAB-separated sentence pairs ---------------------------------------------------------------

_PAIR_FIX = ("each line must be `sentence<TAB>sentence` (a third TAB column, Tatoeba's "
             "attribution, is ignored); "
             "separate the two sentences with a TAB character, not spaces")


class TranslationDataError(DataError):
    """A sentence-pair file, or the languages asked of it, cannot be used.

    A ``ValueError`` (via ``models.data_files.DataError``), so ``except DataError`` catches
    it.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    lineno : int or None
        1-based line number, None for a problem with the whole file.
    line : str or None
        The offending line without its newline (shown as a ``repr`` cut at 60 chars).
    problem : str
        What is wrong.
    fix : str
        One way to fix it.
    """

    def __init__(self, path, lineno: int | None, line: str | None, problem: str, fix: str):
        super().__init__(path, lineno, line, problem, fix)


def check_columns(columns) -> tuple[str, str]:
    """``columns`` (two language codes, column 1 and column 2 of a pair file) lower-cased
    and stripped; ValueError unless they are two different non-empty codes without ``-``."""
    if (isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) != 2
            or not all(isinstance(c, str) and c.strip() and "-" not in c for c in columns)
            or columns[0].strip().lower() == columns[1].strip().lower()):
        raise ValueError(f"columns must be two different language codes naming column 1 and "
                         f"column 2 of the file, e.g. ('eng', 'deu'); got {columns!r}")
    return columns[0].strip().lower(), columns[1].strip().lower()


def _infer_columns(path: Path) -> tuple[str, str]:
    """Tatoeba/manythings names: ``<code>[.anything].txt`` holds (eng, code);
    ``<a>-<b>[.anything].txt`` (the PyTorch tutorial's ``eng-fra.txt``) holds (a, b)."""
    stem = path.name.split(".")[0].lower()
    if re.fullmatch(r"[a-z]{2,3}", stem) and stem != "eng":
        return "eng", stem
    m = re.fullmatch(r"([a-z]{2,3})-([a-z]{2,3})", stem)
    if m and m.group(1) != m.group(2):
        return m.group(1), m.group(2)
    raise TranslationDataError(
        path, None, None,
        f"cannot tell the languages of the two columns from the file name {path.name!r}",
        "name the file `<lang1>-<lang2>.txt` after its columns (e.g. eng-deu.txt) or like "
        "Tatoeba's `<code>.txt` (English in column 1, e.g. fra.txt), or pass "
        "columns=('eng', 'deu') in Python")


def _parse_direction(path: Path, columns: tuple[str, str], direction) -> tuple[str, str]:
    """Return (src_lang, tgt_lang); the default is the non-English column -> English."""
    c1, c2 = columns
    if direction is None:
        return (c2, c1) if c1 == "eng" else (c1, c2)
    parts = direction.split("-") if isinstance(direction, str) else list(direction)
    if len(parts) != 2 or not all(isinstance(p, str) and p.strip() for p in parts):
        raise ValueError(f"direction must look like 'fra-eng' (source-target), got "
                         f"{direction!r} (fix: name the source and target languages, e.g. "
                         f"'{c2}-{c1}')")
    src, tgt = (p.strip().lower() for p in parts)
    if {src, tgt} != {c1, c2}:
        raise TranslationDataError(
            path, None, None,
            f"direction {direction!r} asks for {src}->{tgt} but the file's columns are "
            f"{c1} (column 1) and {c2} (column 2)",
            f"pass --direction {c2}-{c1} or {c1}-{c2} (direction= in Python); if the file "
            "name says the wrong languages, rename it `<lang1>-<lang2>.txt` (or pass "
            "columns=(lang1, lang2))")
    return src, tgt


def load_pairs(path, direction=None, *, columns: Sequence[str] | None = None):
    """Read a tab-separated sentence-pair file.

    Steps: read the text (:func:`_read_pair_text`), name the columns (``columns``, else
    from the file name), choose the direction, then split each line (:func:`_pairs_of`).

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text (a BOM is removed, ``\\r\\n`` accepted; read by
        ``models.data_files.read_text_file``), one pair per line: column 1 TAB column 2,
        and optionally a third TAB column (Tatoeba's attribution), ignored; blank lines
        anywhere are skipped.
    direction : str or (str, str), optional
        ``"fra-eng"`` (source French, target English) or ``("fra", "eng")``; both languages
        must be the file's columns.  Default: the non-English column is the source and
        English the target; a file without English goes column 1 -> column 2.
    columns : (str, str), optional
        Language codes of column 1 and column 2, e.g. ``("eng", "deu")``.  Default: from the
        file name, manythings style: ``fra.txt``, ``fra.tutorial-filter.txt`` -> ``("eng",
        "fra")``, ``kor.txt`` -> ``("eng", "kor")``; ``eng-fra.txt`` -> ``("eng", "fra")``.

    Returns
    -------
    src_texts, tgt_texts : list of str
        Raw sentences (surrounding whitespace stripped), paired by index, in file order.
    src_lang, tgt_lang : str
        Lower-case language codes.

    Raises
    ------
    models.data_files.DataFileNotFoundError
        (a ``FileNotFoundError`` and a ``DataError``) if ``path`` does not exist.
    TranslationDataError
        (a ``DataError``, a ``ValueError``) naming the file, line number, line, problem and
        a fix: a line with fewer than 2 or more than 3 TAB columns, an empty sentence, a
        header line naming the columns (``English<TAB>French``), bytes that are not UTF-8
        (line and byte offset); or, for the whole file: a folder, a pipe or device, a file
        that is empty, too large or an archive, languages not inferable from the name, a
        ``direction`` whose languages are not the file's columns.
    ValueError
        If ``columns`` or ``direction`` is malformed.
    """
    check_path(path, "a tab-separated pair file such as fra.txt")
    path = Path(path)
    text = _read_pair_text(path)
    cols = check_columns(columns) if columns is not None else _infer_columns(path)
    src_lang, tgt_lang = _parse_direction(path, cols, direction)
    src_texts, tgt_texts = _pairs_of(path, text, cols, src_col=cols.index(src_lang))
    return src_texts, tgt_texts, src_lang, tgt_lang


def _read_pair_text(path: Path) -> str:
    """The text of a pair file; a DataError of the reader comes back as a
    TranslationDataError (a DataFileNotFoundError stays what it is)."""
    try:
        return read_text_file(path, what="sentence pairs", example="a tab-separated pair "
                              "file such as ../shared/data/eng-fra/fra.tutorial-filter.txt")
    except DataError as e:
        if type(e) is not DataError:      # DataFileNotFoundError stays a FileNotFoundError
            raise
        raise TranslationDataError(e.path, e.lineno, e.line, e.problem, e.fix) from None


def _pairs_of(path, text: str, cols: tuple[str, str], src_col: int):
    """(source sentences, target sentences) of the non-blank lines of ``text``, column
    ``src_col`` the source; TranslationDataError for a bad line or a header line."""
    src_texts, tgt_texts = [], []
    # split("\n"), not splitlines(): U+2028, U+0085, ... may occur inside a sentence.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        pair = _split_pair(path, lineno, line, cols)
        if not src_texts and _is_header(pair, cols):
            raise TranslationDataError(
                path, lineno, line, "looks like a header line naming the columns, not a "
                "sentence pair", "delete this line: the file must hold only sentence pairs")
        src_texts.append(pair[src_col])
        tgt_texts.append(pair[1 - src_col])
    return src_texts, tgt_texts


def _split_pair(path, lineno: int, line: str, cols) -> tuple[str, str]:
    """The two sentences of one line (stripped); TranslationDataError for fewer than 2 or
    more than 3 TAB columns, or an empty sentence."""
    parts = line.split("\t")
    if len(parts) < 2:
        raise TranslationDataError(path, lineno, line,
                                   "only 1 TAB-separated column, need at least 2", _PAIR_FIX)
    if len(parts) > 3:
        raise TranslationDataError(
            path, lineno, line, f"{len(parts)} TAB-separated columns, expected 2 (sentence, "
            "sentence) or 3 (with Tatoeba's attribution)", "remove the extra TAB characters "
            "(a TAB inside a sentence splits it into two columns)")
    pair = parts[0].strip(), parts[1].strip()
    for k in (0, 1):
        if not pair[k]:
            raise TranslationDataError(path, lineno, line, f"column {k + 1} ({cols[k]}) is "
                                       "empty", "remove the line or fill in the missing "
                                       "sentence")
    return pair


# What a header line of a pair file calls its columns: a language's code or English name,
# or a generic column name.  Only the first pair is checked.
_LANGUAGE_NAMES = {
    "eng": ("en", "english"), "fra": ("fr", "french", "français", "francais"),
    "deu": ("de", "german", "deutsch"), "spa": ("es", "spanish", "español", "espanol"),
    "ita": ("it", "italian", "italiano"), "por": ("pt", "portuguese", "português"),
    "nld": ("nl", "dutch"), "rus": ("ru", "russian"), "kor": ("ko", "korean", "한국어"),
    "jpn": ("ja", "japanese", "日本語"), "cmn": ("zh", "chinese", "mandarin", "中文"),
    "tur": ("tr", "turkish"), "ara": ("ar", "arabic"), "pol": ("pl", "polish"),
    "ukr": ("uk", "ukrainian"), "hin": ("hi", "hindi"), "vie": ("vi", "vietnamese"),
}
_COLUMN_WORDS = {"source", "target", "src", "tgt", "input", "output", "text", "sentence",
                 "translation", "question", "answer", "lang1", "lang2", "language"}


def _is_header(pair: tuple[str, str], cols: tuple[str, str]) -> bool:
    """True if both cells of ``pair`` name a column: the column's language (code or name)
    or a generic word such as ``source``; a real pair never does both."""
    def names(cell, lang):
        word = cell.strip().strip("#").strip().lower()
        return word in _COLUMN_WORDS or word == lang or word in _LANGUAGE_NAMES.get(lang, ())
    return all(names(cell, lang) for cell, lang in zip(pair, cols))
