"""Word-level translation data: tab-separated sentence pairs -> padded int64 id arrays.

The files are the Tatoeba sentence pairs distributed by manythings.org (see
``../shared/data/SOURCES.md``): one pair per line, ``english<TAB>other`` and, in newer
releases, a third attribution column.  The pipeline is

    text --normalize--> text --tokenize--> tokens --Vocab.encode--> ids --pad--> (N, S)

and ``load_translation`` runs it on a whole file: read, tokenise, length filter, seeded
shuffle and split, vocabularies from the training split only, padded arrays.

Tokenisation rules (one rule for every language, no language-specific code)
---------------------------------------------------------------------------
1. character mapping: every Unicode space separator (NO-BREAK SPACE U+00A0, NARROW
   NO-BREAK SPACE U+202F, THIN SPACE U+2009, IDEOGRAPHIC SPACE U+3000, ...) becomes
   ``" "``; zero-width and soft-hyphen characters (U+200B, U+2060, U+FEFF, U+00AD) are
   deleted; curly single quotes and apostrophes (``‘ ’ ‚ ‛ ′ ʼ``) become ``'``; curly
   double quotes and guillemets (``“ ” „ ‟ ″ « » ‹ ›``) become ``"``; the Unicode hyphens
   U+2010/U+2011 become ``-``; ``…`` becomes ``...``; full-width ASCII (U+FF01-U+FF5E)
   becomes ASCII.
2. optional lower-casing (``str.lower``; scripts without case, such as Hangul, are
   unchanged).
3. Unicode NFC (composes ``e`` + combining acute into ``é``; never decomposes Hangul
   syllables, and composes conjoining jamo sequences into syllables).  NFKC is *not*
   used: it keeps precomposed syllables such as ``가`` but turns compatibility jamo into
   conjoining jamo (``ㅋㅋ`` -> ``ᄏᄏ``, ``ㄱㅏ`` -> ``가``), which changes what a Korean
   writer typed; the few compatibility mappings worth having are step 1.  NFC comes last
   so that the result is stable: normalising twice changes nothing.
4. split on whitespace, then (optional) split punctuation off: a character is part of a
   word if ``str.isalnum()`` is true or it is a combining mark (Unicode category ``M*``),
   so Hangul, accented Latin, Cyrillic, ... stay whole.  Every other character is a token
   of its own, with two exceptions that keep a word in one piece:

   - ``'`` and ``-`` *between two word characters* stay inside the word:
     ``don't``, ``i'm``, ``l'homme``, ``aujourd'hui``, ``arrête-toi`` are single tokens
     (sacreBLEU's ``13a`` tokenizer keeps them too); a leading or trailing quote is split
     off: ``'hello'`` -> ``'``, ``hello``, ``'``.
   - ``.``, ``,`` and ``:`` *between two digits* stay inside the number: ``3.5``,
     ``1,000``, ``10:30``.

``detokenize`` joins tokens with single spaces, so ``tokenize(detokenize(t)) == t`` for
any ``t`` that ``tokenize`` produced with the same options; BLEU is computed on exactly
those space-joined tokens.

Sentence reversal of the source follows Sutskever, Vinyals & Le (2014), "Sequence to
Sequence Learning with Neural Networks", section 3.3.
"""
from __future__ import annotations

import operator
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import sacrebleu

from .data import DataError, check_path, read_text_file, validation_indices

__all__ = ["TranslationDataError", "normalize", "tokenize", "detokenize", "Vocab",
           "load_pairs", "TranslationCodec", "TranslationData", "load_translation",
           "translation_codec_from_metadata", "src_padding_mask", "pad_sequences",
           "corpus_bleu", "corpus_chrf", "bleu_report", "format_bleu_report"]

# ---------------------------------------------------------------------------------------
# Text normalisation and tokenisation
# ---------------------------------------------------------------------------------------

# Every character of Unicode category Zs (space separator), plus line/paragraph separators.
_SPACES = ("\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
           "\u200a\u202f\u205f\u3000\u2028\u2029\u0085\t\r\n\v\f")
_DELETED = "\u200b\u2060\ufeff\u00ad"  # zero width space, word joiner, BOM, soft hyphen
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u02bc"  # ‘ ’ ‚ ‛ ′ ʼ
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a"  # “ ” „ ‟ ″ « » ‹ ›

_CHAR_MAP: dict[int, str] = {}
_CHAR_MAP.update({ord(c): " " for c in _SPACES})
_CHAR_MAP.update({ord(c): "" for c in _DELETED})
_CHAR_MAP.update({ord(c): "'" for c in _SINGLE_QUOTES})
_CHAR_MAP.update({ord(c): '"' for c in _DOUBLE_QUOTES})
_CHAR_MAP.update({0x2010: "-", 0x2011: "-", 0x2026: "..."})
_CHAR_MAP.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)})  # full-width ASCII

_WORD_JOINERS = "'-"      # kept inside a word when between two word characters
_NUMBER_JOINERS = ".,:"   # kept inside a number when between two digits


def normalize(text: str, lower: bool = True) -> str:
    """Normalise one sentence: character mapping, lower-casing, NFC (module docstring).

    Parameters
    ----------
    text : str
    lower : bool
        Lower-case the result with ``str.lower``.

    Returns
    -------
    str
        NFC text with Unicode spaces as ``" "``, zero-width characters removed, curly
        quotes as ASCII ``'``/``"``; whitespace is not collapsed.  Idempotent.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.translate(_CHAR_MAP)
    if lower:
        text = text.lower()
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=None)
def _is_word_char(c: str) -> bool:
    """Letters and digits of any script (``str.isalnum``) and combining marks (``M*``)."""
    return c.isalnum() or unicodedata.category(c).startswith("M")


def _split_chunk(chunk: str) -> list[str]:
    """Split one whitespace-free chunk into words and single punctuation characters."""
    out, word = [], []
    last = len(chunk) - 1
    for i, c in enumerate(chunk):
        if _is_word_char(c):
            word.append(c)
            continue
        if word and i < last:
            prev, nxt = chunk[i - 1], chunk[i + 1]
            if ((c in _WORD_JOINERS and _is_word_char(prev) and _is_word_char(nxt))
                    or (c in _NUMBER_JOINERS and prev.isdigit() and nxt.isdigit())):
                word.append(c)
                continue
        if word:
            out.append("".join(word))
            word = []
        out.append(c)
    if word:
        out.append("".join(word))
    return out


def tokenize(text: str, lower: bool = True, split_punctuation: bool = True) -> list[str]:
    """Split one sentence into word tokens (rules in the module docstring).

    Parameters
    ----------
    text : str
        One sentence, any script.
    lower : bool
        Lower-case before splitting.
    split_punctuation : bool
        Make punctuation and symbols separate tokens (``"Va !"`` and ``"Go!"`` both end in
        the token ``"!"``); if False, only whitespace separates tokens.

    Returns
    -------
    list of str
        Non-empty tokens without whitespace; ``[]`` for a blank sentence.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> tokenize("Je n\u2019ai pas l\u2019argent\u202f!")
    ['je', "n'ai", 'pas', "l'argent", '!']
    >>> tokenize("고양이는 귀여워.")
    ['고양이는', '귀여워', '.']
    """
    chunks = normalize(text, lower).split()
    if not split_punctuation:
        return chunks
    tokens: list[str] = []
    for chunk in chunks:
        if chunk.isalnum():  # fast path: most chunks are plain words
            tokens.append(chunk)
        else:
            tokens.extend(_split_chunk(chunk))
    return tokens


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens with single spaces (the inverse of ``tokenize`` on its own output).

    Punctuation is deliberately not re-attached: the result is the text BLEU is scored on,
    and ``tokenize(detokenize(t), ...) == t`` for any ``t`` made by ``tokenize`` with the
    same options.

    Parameters
    ----------
    tokens : iterable of str

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``tokens`` is a single ``str`` (it would be joined character by character).
    """
    if isinstance(tokens, str):
        raise TypeError("detokenize takes a list of tokens, not a str. Fix: "
                        "detokenize(tokenize(text)) or pass the list")
    return " ".join(tokens)


# ---------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------

class Vocab:
    """Bijection between word tokens and integer ids, with four special tokens first.

    ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3, then the ordinary tokens in
    the order given.  Unknown tokens encode to ``<unk>``.

    Parameters
    ----------
    tokens : iterable of str
        Ordinary tokens in id order (ids 4, 5, ...).

    Attributes
    ----------
    PAD, SOS, EOS, UNK : str
        The special token strings ``"<pad>"``, ``"<sos>"``, ``"<eos>"``, ``"<unk>"``.
    PAD_ID, SOS_ID, EOS_ID, UNK_ID : int
        Their ids 0, 1, 2, 3.
    SPECIALS : tuple of str
        ``(PAD, SOS, EOS, UNK)``, in id order.
    id_to_token : list of str
        ``id_to_token[i]`` is the token with id ``i`` (specials included).
    token_to_id : dict[str, int]
        The inverse of ``id_to_token``; use ``lookup`` for ``<unk>`` fallback.

    Raises
    ------
    ValueError
        If a token is not a non-empty ``str``, is a special token, or repeats.
    """

    PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
    PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
    SPECIALS = (PAD, SOS, EOS, UNK)

    def __init__(self, tokens: Iterable[str] = ()):
        tokens = list(tokens)
        bad = [t for t in tokens if not isinstance(t, str) or not t or t in self.SPECIALS]
        if bad:
            raise ValueError(f"vocabulary tokens must be non-empty strings other than the "
                             f"specials {self.SPECIALS}; got {bad[:5]!r}. Fix: build it with "
                             "Vocab.build(token_lists)")
        self.id_to_token = list(self.SPECIALS) + tokens
        self.token_to_id = {t: i for i, t in enumerate(self.id_to_token)}
        if len(self.token_to_id) != len(self.id_to_token):
            dup = [t for t, n in Counter(tokens).items() if n > 1]
            raise ValueError(f"vocabulary tokens repeat: {dup[:5]!r}. Fix: list each token once")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None) -> "Vocab":
        """Count tokens and keep the frequent ones, in a deterministic order.

        Order: frequency descending, ties broken by first appearance (sentence order, then
        token order).  The same input always gives the same ids.

        Parameters
        ----------
        token_lists : iterable of sequences of str
            Tokenised sentences, e.g. ``[tokenize(s) for s in sentences]``.
        min_freq : int
            Keep tokens seen at least this many times (>= 1).
        max_size : int, optional
            Upper bound on ``len(vocab)`` *including* the 4 specials (>= 4), i.e. on the
            embedding/softmax size V; the least frequent tokens are dropped.

        Returns
        -------
        Vocab

        Raises
        ------
        TypeError
            If an element of ``token_lists`` is a ``str`` (a sentence that was not tokenised).
        ValueError
            If ``min_freq < 1`` or ``max_size < 4``.
        """
        if isinstance(min_freq, bool) or operator.index(min_freq) < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if max_size is not None and operator.index(max_size) < len(cls.SPECIALS):
            raise ValueError(f"max_size counts the {len(cls.SPECIALS)} special tokens and must "
                             f"be >= {len(cls.SPECIALS)}, got {max_size}")
        counts: Counter = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError(f"Vocab.build takes tokenised sentences (lists of str); got the "
                                f"str {tokens[:40]!r}. Fix: Vocab.build([tokenize(s) for s in "
                                "sentences])")
            counts.update(tokens)
        for special in cls.SPECIALS:
            counts.pop(special, None)
        # Counter keeps first-appearance order and sorted() is stable: ties stay in it.
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        if max_size is not None:
            kept = kept[:max_size - len(cls.SPECIALS)]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token) -> bool:
        return token in self.token_to_id

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.id_to_token == other.id_to_token

    __hash__ = None  # mutable lists inside; equal vocabs need not hash equal

    def __repr__(self) -> str:
        head = ", ".join(self.id_to_token[4:12])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 12 else ''})"

    def lookup(self, token: str) -> int:
        """Id of ``token``, or ``UNK_ID`` (3) if it is not in the vocabulary."""
        return self.token_to_id.get(token, self.UNK_ID)

    def encode(self, tokens: Sequence[str], add_sos: bool = False,
               add_eos: bool = False) -> np.ndarray:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : sequence of str, length L
        add_sos, add_eos : bool
            Prepend ``<sos>`` / append ``<eos>``.

        Returns
        -------
        np.ndarray, int64, shape (L + add_sos + add_eos,)
            Unknown tokens become ``UNK_ID``.

        Raises
        ------
        TypeError
            If ``tokens`` is a ``str`` (fix: ``tokenize`` it first).
        """
        if isinstance(tokens, str):
            raise TypeError(f"encode takes a list of tokens, not the str {tokens[:40]!r}. "
                            "Fix: vocab.encode(tokenize(text))")
        get, unk = self.token_to_id.get, self.UNK_ID
        ids = [get(t, unk) for t in tokens]
        if add_sos:
            ids.insert(0, self.SOS_ID)
        if add_eos:
            ids.append(self.EOS_ID)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids, strip_special: bool = True) -> list[str]:
        """Map ids back to tokens.

        Parameters
        ----------
        ids : 1-D integer array or iterable of int, shape (L,)
        strip_special : bool
            If True: stop at the first ``<eos>`` and drop ``<pad>`` and ``<sos>``;
            ``<unk>`` is kept (as the string ``"<unk>"``) so unknown words stay visible.
            If False: every id is decoded, specials and anything after ``<eos>`` included.

        Returns
        -------
        list of str

        Raises
        ------
        ValueError
            If ``ids`` is not 1-D or an id is outside ``[0, len(self))``.
        TypeError
            If an id is not an integer.
        """
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"decode takes one sequence (1-D ids), got shape {ids.shape}. "
                                 "Fix: [vocab.decode(row) for row in ids]")
            ids = ids.tolist()
        out = []
        for i in ids:
            i = operator.index(i)  # TypeError for floats and other non-integers
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside the vocabulary [0, {len(self)}). Fix: "
                                 "decode with the vocabulary the ids were encoded with")
            if strip_special:
                if i == self.EOS_ID:
                    break
                if i in (self.PAD_ID, self.SOS_ID):
                    continue
            out.append(self.id_to_token[i])
        return out

    def to_dict(self) -> dict:
        """JSON-safe form: ``{"id_to_token": [all tokens in id order, specials first]}``."""
        return {"id_to_token": list(self.id_to_token)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        """Inverse of ``to_dict``.

        Raises
        ------
        ValueError
            If ``d`` is not ``{"id_to_token": [...]}`` starting with the four specials in
            order, or its tokens are invalid (see ``Vocab``).
        """
        tokens = d.get("id_to_token") if isinstance(d, dict) else None
        if not isinstance(tokens, list) or tuple(tokens[:4]) != cls.SPECIALS:
            raise ValueError('a vocabulary dict must look like {"id_to_token": ["<pad>", '
                             '"<sos>", "<eos>", "<unk>", ...]}. Fix: pass what Vocab.to_dict() '
                             "returned")
        return cls(tokens[4:])


# ---------------------------------------------------------------------------------------
# Reading sentence-pair files
# ---------------------------------------------------------------------------------------

_PAIR_FIX = ("each line must be `sentence<TAB>sentence` (a third TAB column, Tatoeba's "
             "attribution, is ignored); "
             "separate the two sentences with a TAB character, not spaces")


class TranslationDataError(DataError):
    """A sentence-pair file, or the languages asked of it, cannot be used.

    A ``ValueError`` (via ``models.data.DataError``), so ``except DataError`` catches it.

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


def _check_columns(columns) -> tuple[str, str]:
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

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text (a BOM is removed, ``\r\n`` accepted; read by
        ``models.data.read_text_file``), one pair per line: column 1 TAB column 2, and
        optionally a third TAB column (Tatoeba's attribution), ignored; blank lines anywhere
        are skipped.
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
    models.data.DataFileNotFoundError
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
    try:
        text = read_text_file(path, what="sentence pairs", example="a tab-separated pair "
                              "file such as ../shared/data/eng-fra/fra.tutorial-filter.txt")
    except DataError as e:
        if type(e) is not DataError:      # DataFileNotFoundError stays a FileNotFoundError
            raise
        raise TranslationDataError(e.path, e.lineno, e.line, e.problem, e.fix) from None
    cols = _check_columns(columns) if columns is not None else _infer_columns(path)
    src_lang, tgt_lang = _parse_direction(path, cols, direction)
    src_col = cols.index(src_lang)
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
    return src_texts, tgt_texts, src_lang, tgt_lang


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


# ---------------------------------------------------------------------------------------
# Padding, the codec, the data set
# ---------------------------------------------------------------------------------------

def pad_sequences(rows: Sequence[np.ndarray], pad_id: int = Vocab.PAD_ID,
                  width: int | None = None) -> np.ndarray:
    """Right-pad 1-D id arrays into one matrix.

    Parameters
    ----------
    rows : sequence of 1-D integer arrays, N of them
    pad_id : int
    width : int, optional
        Number of columns; default the longest row (0 if ``rows`` is empty).

    Returns
    -------
    np.ndarray, int64, shape (N, width)

    Raises
    ------
    ValueError
        If a row is longer than ``width``.
    """
    longest = max((len(r) for r in rows), default=0)
    width = longest if width is None else width
    if longest > width:
        raise ValueError(f"a row has {longest} ids but width is {width}")
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def src_padding_mask(src, pad_id: int = Vocab.PAD_ID) -> np.ndarray:
    """Where the source is padding, for masking attention scores.

    Parameters
    ----------
    src : integer array, shape (N, S)
    pad_id : int

    Returns
    -------
    np.ndarray, bool, shape (N, S)
        True at padded positions (to be excluded), False at real tokens.

    Raises
    ------
    ValueError
        If ``src`` is not a 2-D integer array.
    """
    src = np.asarray(src)
    if src.ndim != 2 or not np.issubdtype(src.dtype, np.integer):
        raise ValueError(f"src must be a 2-D integer array (N, S), got {src.dtype} "
                         f"shape {src.shape}")
    return src == pad_id


_METADATA_KIND = "word-translation"


@dataclass
class TranslationCodec:
    """What is needed to turn user text into model input and model output into text.

    Built by ``load_translation`` (as ``TranslationData.codec()``) or from a checkpoint's
    metadata by ``translation_codec_from_metadata``; it never reads the corpus.

    Attributes
    ----------
    src_vocab, tgt_vocab : Vocab
    src_lang, tgt_lang : str
    reversed : bool
        Source tokens are reversed before padding (Sutskever et al. 2014, section 3.3).
    lower, split_punctuation : bool
        The ``tokenize`` options used for both languages.
    """

    src_vocab: Vocab
    tgt_vocab: Vocab
    src_lang: str
    tgt_lang: str
    reversed: bool
    lower: bool = True
    split_punctuation: bool = True

    pad_id = Vocab.PAD_ID
    start_id = Vocab.SOS_ID
    eos_id = Vocab.EOS_ID
    unk_id = Vocab.UNK_ID

    def tokenized_text(self, text: str) -> str:
        """``text`` as the model sees it: tokenised with these options, space-joined.

        Use it on references supplied from elsewhere before ``corpus_bleu``.
        """
        return detokenize(tokenize(text, self.lower, self.split_punctuation))

    def source_tokens(self, text: str) -> list[str]:
        """The tokens of one source sentence in model order (reversed if ``reversed``).

        Position ``j`` of the result is column ``j`` of ``encode_source(text)`` (words
        unknown to the vocabulary are shown as themselves, not as ``<unk>``).

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.
        """
        tokens = tokenize(text, self.lower, self.split_punctuation)
        return tokens[::-1] if self.reversed else tokens

    def encode_source(self, texts) -> np.ndarray:
        """Encode source sentences exactly as the training sources were encoded.

        Parameters
        ----------
        texts : str or sequence of str, N sentences

        Returns
        -------
        np.ndarray, int64, shape (N, S)
            S is the longest sentence in tokens; unknown words are ``<unk>`` (3); reversed if
            ``self.reversed``; right-padded with ``<pad>`` (0).  No ``<sos>``/``<eos>``.

        Raises
        ------
        ValueError
            If a sentence has no tokens (an all-padding source cannot be attended to).
        TypeError
            If a sentence is not a ``str``.
        """
        if isinstance(texts, str):
            texts = [texts]
        rows = []
        for i, text in enumerate(texts):
            tokens = self.source_tokens(text)
            if not tokens:
                raise ValueError(f"source sentence {i} ({text!r}) has no tokens. Fix: pass a "
                                 "sentence with at least one word")
            rows.append(self.src_vocab.encode(tokens))
        return pad_sequences(rows, self.pad_id)

    def decode_target(self, ids) -> str:
        """Turn one row of target ids into text.

        Parameters
        ----------
        ids : 1-D integer array or sequence of int, shape (T,)
            May start with ``<sos>``; everything from the first ``<eos>`` on is ignored.

        Returns
        -------
        str
            Space-joined tokens (see ``detokenize``), ``<pad>``/``<sos>`` dropped,
            ``<unk>`` kept.

        Raises
        ------
        ValueError, TypeError
            As ``Vocab.decode`` (e.g. a 2-D array: decode one row at a time).
        """
        return detokenize(self.tgt_vocab.decode(ids, strip_special=True))

    def metadata(self) -> dict:
        """JSON-safe description; ``translation_codec_from_metadata`` inverts it.

        Returns
        -------
        dict
            ``kind``, ``version``, ``src_vocab``, ``tgt_vocab`` (``Vocab.to_dict``),
            ``src_lang``, ``tgt_lang``, ``reversed``, ``lower``, ``split_punctuation``.
        """
        return {"kind": _METADATA_KIND, "version": 1,
                "src_vocab": self.src_vocab.to_dict(), "tgt_vocab": self.tgt_vocab.to_dict(),
                "src_lang": self.src_lang, "tgt_lang": self.tgt_lang,
                "reversed": bool(self.reversed), "lower": bool(self.lower),
                "split_punctuation": bool(self.split_punctuation)}


def translation_codec_from_metadata(meta: dict) -> TranslationCodec:
    """Rebuild the encoder/decoder of a trained model without re-reading its corpus.

    Parameters
    ----------
    meta : dict
        ``TranslationCodec.metadata()`` or ``TranslationData.metadata()`` (extra keys are
        ignored), possibly after a JSON round trip.

    Returns
    -------
    TranslationCodec

    Raises
    ------
    ValueError
        If ``meta`` was not written by ``metadata()`` or lacks a key.
    """
    if not isinstance(meta, dict) or meta.get("kind") != _METADATA_KIND:
        kind = meta.get("kind") if isinstance(meta, dict) else None
        raise ValueError(f"not word-translation metadata (kind={kind!r}). Fix: pass what "
                         "TranslationData.metadata() returned")
    try:
        return TranslationCodec(
            src_vocab=Vocab.from_dict(meta["src_vocab"]),
            tgt_vocab=Vocab.from_dict(meta["tgt_vocab"]),
            src_lang=str(meta["src_lang"]), tgt_lang=str(meta["tgt_lang"]),
            reversed=bool(meta["reversed"]), lower=bool(meta["lower"]),
            split_punctuation=bool(meta["split_punctuation"]))
    except KeyError as e:
        raise ValueError(f"translation metadata lacks the key {e.args[0]!r}. Fix: pass what "
                         "TranslationData.metadata() returned") from None


@dataclass(eq=False)
class TranslationData:
    """Tokenised, filtered, split and encoded sentence pairs.

    Attributes
    ----------
    src_train, src_test : np.ndarray, int64, shape (N, S)
        Source ids right-padded with ``pad_id`` (0); no ``<sos>``/``<eos>``.  With
        ``reversed`` each sentence's tokens are reversed *before* padding, so padding stays
        on the right.  Train and test are each padded to their own longest sentence.
    tgt_train, tgt_test : np.ndarray, int64, shape (N, T + 1)
        ``<sos> w_1 ... w_k <eos> <pad> ...``: column 0 is always ``start_id``, each row has
        exactly one ``eos_id``.  T is the longest target in tokens plus one.
    src_vocab, tgt_vocab : Vocab
        Built from the training split only; test words unseen in training are ``<unk>``.
    src_lang, tgt_lang : str
    reversed : bool
    lower, split_punctuation : bool
        Tokeniser options.
    source : str
        Human-readable description (file, direction, pair counts, seed).
    path : str or None
        Absolute path of the file read.
    test_pairs : list of (str, str)
        Raw (source, target) sentences of the test split, in the row order of
        ``src_test``/``tgt_test``.
    options : dict
        The keyword arguments of ``load_translation`` (JSON-safe), so that
        ``load_translation(path, f"{src_lang}-{tgt_lang}", **options)`` rebuilds this data.
    counts : dict
        ``{"read": pairs in the file, "used": after filter and max_pairs, "train", "test"}``,
        and ``"valid"`` after :meth:`split_validation`.
    train_pairs : list of (str, str)
        Raw (source, target) sentences of the training split, in the row order of
        ``src_train``/``tgt_train``.
    src_valid, tgt_valid : np.ndarray or None
        The validation split (layout of the training arrays), None until
        :meth:`split_validation` made one; ``valid_pairs`` holds its raw sentences.
    validation : dict or None
        ``{"fraction": f, "seed": s}`` of :meth:`split_validation`, else None.
    metric : str
        ``"bleu"``: the metric to report (``corpus_bleu(hyps, data.references())``).
    pad_id, start_id, eos_id, unk_id : int
        0, 1, 2, 3 (identical in both vocabularies).
    """

    src_train: np.ndarray
    tgt_train: np.ndarray
    src_test: np.ndarray
    tgt_test: np.ndarray
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_lang: str
    tgt_lang: str
    reversed: bool
    lower: bool
    split_punctuation: bool
    source: str
    path: str | None
    test_pairs: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    metric: str = "bleu"
    train_pairs: list = field(default_factory=list)
    src_valid: np.ndarray | None = None
    tgt_valid: np.ndarray | None = None
    valid_pairs: list = field(default_factory=list)
    validation: dict | None = None

    pad_id = Vocab.PAD_ID
    start_id = Vocab.SOS_ID
    eos_id = Vocab.EOS_ID
    unk_id = Vocab.UNK_ID

    def codec(self) -> TranslationCodec:
        """The vocabularies and tokeniser options, without the arrays (a new object)."""
        return TranslationCodec(self.src_vocab, self.tgt_vocab, self.src_lang, self.tgt_lang,
                                self.reversed, self.lower, self.split_punctuation)

    def encode_source(self, texts) -> np.ndarray:
        """Encode user sentences like ``src_test``; see ``TranslationCodec.encode_source``.

        Returns ``np.ndarray``, int64, shape (N, S), right-padded; raises ``ValueError`` for a
        sentence without tokens.
        """
        return self.codec().encode_source(texts)

    def decode_target(self, ids) -> str:
        """One row of target ids -> space-joined text, stopping at ``<eos>``; see
        ``TranslationCodec.decode_target`` (raises ``ValueError`` for 2-D input)."""
        return self.codec().decode_target(ids)

    def references(self) -> list[str]:
        """Test targets as tokenised, space-joined text (len ``len(tgt_test)``).

        Built from the raw test sentences, not from ``tgt_test``, so words missing from the
        training vocabulary are the real words (a model cannot match them), and compared
        like with like against ``decode_target`` output by ``corpus_bleu``.
        """
        codec = self.codec()
        return [codec.tokenized_text(tgt) for _, tgt in self.test_pairs]

    def valid_references(self) -> list[str]:
        """Validation targets as tokenised, space-joined text (len ``len(tgt_valid)``),
        from the raw sentences like :meth:`references`.

        Raises
        ------
        ValueError
            If there is no validation split (fix: ``split_validation`` first).
        """
        if self.src_valid is None:
            raise ValueError("this TranslationData has no validation split (fix: "
                             "data = data.split_validation(0.1, seed=0))")
        codec = self.codec()
        return [codec.tokenized_text(tgt) for _, tgt in self.valid_pairs]

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> "TranslationData":
        """A new TranslationData whose training pairs are split into training and validation.

        ``int(len(src_train) * fraction)`` training pairs, drawn with
        ``np.random.default_rng(seed).permutation``, become ``src_valid``/``tgt_valid`` (and
        ``valid_pairs``, their raw sentences, for :meth:`valid_references`); the rest stay
        the training pairs in their order.  The test split, ``self`` and the vocabularies
        are unchanged: they were built on the whole training split, so a checkpoint's
        vocabulary still matches ``load_translation`` with the stored options, and no
        validation word is ``<unk>`` (validation BLEU is therefore a little optimistic
        next to test BLEU; use it to choose, the test split to report).

        Parameters
        ----------
        fraction : float in (0, 1)
        seed : int >= 0

        Returns
        -------
        TranslationData
            With ``src_valid``, ``tgt_valid``, ``valid_pairs``, ``counts["valid"]``,
            ``validation`` set and ``source`` naming the split.

        Raises
        ------
        TranslationDataError
            If the validation or the remaining training split would be empty (with the
            counts), a validation split exists already, or ``train_pairs`` is missing.
        ValueError
            If ``fraction`` is not in (0, 1) or ``seed`` is not an integer >= 0.
        """
        if len(self.train_pairs) != len(self.src_train):
            raise TranslationDataError(self.path or self.source, None, None,
                                       "holds no raw training sentences (train_pairs)",
                                       "make the data with load_translation")
        train, valid = validation_indices(self, len(self.src_train), fraction, seed)
        counts = {**self.counts, "train": len(train), "valid": len(valid)}
        source = self.source.replace(f"{self.counts.get('train')} train /",
                                     f"{len(train)} train / {len(valid)} valid "
                                     f"(seed {seed}) /")
        return replace(self, src_train=self.src_train[train], tgt_train=self.tgt_train[train],
                       src_valid=self.src_train[valid], tgt_valid=self.tgt_train[valid],
                       train_pairs=[self.train_pairs[i] for i in train.tolist()],
                       valid_pairs=[self.train_pairs[i] for i in valid.tolist()],
                       counts=counts, source=source,
                       validation={"fraction": float(fraction), "seed": int(seed)})

    def metadata(self) -> dict:
        """JSON-safe description for a checkpoint.

        Returns
        -------
        dict
            ``TranslationCodec.metadata()`` plus ``direction`` (``"fra-eng"``),
            ``options`` (``load_translation`` keyword arguments), ``counts``, ``metric``,
            ``data_path``, ``data_source`` and ``validation`` (None, or the fraction and
            seed of :meth:`split_validation`).  ``translation_codec_from_metadata`` rebuilds
            the codec from it, ``load_translation(meta["data_path"], meta["direction"],
            **meta["options"])`` rebuilds the data, and ``.split_validation(**meta[
            "validation"])`` on it the validation split.
        """
        meta = self.codec().metadata()
        meta.update(direction=f"{self.src_lang}-{self.tgt_lang}", options=dict(self.options),
                    counts=dict(self.counts), metric=self.metric, data_path=self.path,
                    data_source=self.source, validation=self.validation)
        return meta


def load_translation(path, direction=None, *, max_len: int | None = None, min_len: int = 1,
                     lower: bool = True, split_punctuation: bool = True,
                     reverse_source: bool = False, test_fraction: float = 0.1,
                     seed: int = 1984, min_freq: int = 1, max_pairs: int | None = None,
                     columns: Sequence[str] | None = None) -> TranslationData:
    """Load a sentence-pair file as padded, split word-id arrays.

    Steps: ``load_pairs`` -> ``tokenize`` both sides -> length filter -> shuffle with
    ``np.random.default_rng(seed).permutation`` (numpy's global state is untouched) ->
    keep the first ``max_pairs`` -> the last ``int(n * test_fraction)`` pairs are the test
    split -> ``Vocab.build`` on the training split only -> encode and right-pad.

    Parameters
    ----------
    path : str or os.PathLike
        See ``load_pairs``.
    direction : str, optional
        ``"fra-eng"`` = French source, English target; default non-English -> English.
    max_len : int, optional
        Drop pairs where either side has more than ``max_len`` tokens.  Counted in
        ``tokenize`` tokens, *without* ``<sos>``/``<eos>`` (so targets are at most
        ``max_len + 2`` ids wide).
    min_len : int
        Drop pairs where either side has fewer than ``min_len`` (>= 1) tokens.
    lower, split_punctuation : bool
        ``tokenize`` options (stored, and reused by ``encode_source``).
    reverse_source : bool
        Reverse each source sentence before padding.
    test_fraction : float
        In ``[0, 1)``.
    seed : int
        Shuffle seed.
    min_freq : int
        ``Vocab.build`` threshold, applied to each language separately.
    max_pairs : int, optional
        Use at most this many pairs (a random subset, taken after filtering and shuffling,
        before splitting).
    columns : (str, str), optional
        Languages of column 1 and 2 when the file name does not tell; see ``load_pairs``.

    Returns
    -------
    TranslationData
        Split sizes in ``counts``; :meth:`TranslationData.split_validation` carves a
        validation split from the training pairs.

    Raises
    ------
    FileNotFoundError, TranslationDataError
        As ``load_pairs``; also ``TranslationDataError`` if no pair survives the length
        filter (the message gives the limits that would keep some), if no pair is left for
        training, if ``test_fraction > 0`` leaves the test split empty (with the counts),
        or if ``max_len``, ``min_len``, ``max_pairs`` or ``min_freq`` is not an integer
        >= 1 (``max_len``/``max_pairs`` may be None).
    ValueError
        If ``test_fraction`` is not in [0, 1) or ``min_len > max_len``.
    """
    _check_int_option(path, "max_len", max_len, "--max-len", none_ok=True)
    _check_int_option(path, "min_len", min_len, None)
    _check_int_option(path, "max_pairs", max_pairs, "--max-pairs", none_ok=True)
    _check_int_option(path, "min_freq", min_freq, "--min-freq")
    if max_len is not None and min_len > max_len:
        raise ValueError(f"min_len={min_len} is larger than max_len={max_len} (fix: keep "
                         "min_len <= max_len)")
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float))
            or not 0 <= test_fraction < 1):
        raise ValueError(f"test_fraction must be a number in [0, 1), got {test_fraction!r} "
                         "(fix: e.g. 0.1 holds out 10 % of the pairs for testing)")

    src_texts, tgt_texts, src_lang, tgt_lang = load_pairs(path, direction, columns=columns)
    n_read = len(src_texts)
    upper = max_len if max_len is not None else float("inf")
    kept = []  # (src_text, tgt_text, src_tokens, tgt_tokens)
    shortest, longest_short = float("inf"), 0   # in tokens: smallest longer side, largest
    for s, t in zip(src_texts, tgt_texts):       # shorter side (for the error message)
        s_tok = tokenize(s, lower, split_punctuation)
        t_tok = tokenize(t, lower, split_punctuation)
        short, long = min(len(s_tok), len(t_tok)), max(len(s_tok), len(t_tok))
        shortest, longest_short = min(shortest, long), max(longest_short, short)
        if min_len <= short and long <= upper:
            kept.append((s, t, s_tok, t_tok))
    if not kept:
        raise _all_filtered(path, n_read, min_len, max_len, shortest, longest_short)
    n_filtered = len(kept)
    order = np.random.default_rng(seed).permutation(len(kept))
    kept = [kept[i] for i in order.tolist()]
    if max_pairs is not None:
        kept = kept[:max_pairs]
    n_test = int(len(kept) * test_fraction)
    train, test = kept[:len(kept) - n_test], kept[len(kept) - n_test:]
    if not train or (test_fraction > 0 and not test):
        raise _split_error(path, n_read, n_filtered, len(kept), len(train), len(test),
                           test_fraction, max_pairs)

    src_vocab = Vocab.build((p[2] for p in train), min_freq=min_freq)
    tgt_vocab = Vocab.build((p[3] for p in train), min_freq=min_freq)

    def encode(pairs):
        src = pad_sequences([src_vocab.encode(p[2][::-1] if reverse_source else p[2])
                             for p in pairs])
        tgt = pad_sequences([tgt_vocab.encode(p[3], add_sos=True, add_eos=True)
                             for p in pairs], width=None if pairs else 2)
        return src, tgt

    src_train, tgt_train = encode(train)
    src_test, tgt_test = encode(test)
    abspath = os.path.abspath(path)
    source = (f"{abspath} ({src_lang}->{tgt_lang}; {n_read} pairs read, "
              f"{len(kept)} used: {len(train)} train / {len(test)} test; seed {seed})")
    options = {"max_len": max_len, "min_len": int(min_len), "lower": bool(lower),
               "split_punctuation": bool(split_punctuation),
               "reverse_source": bool(reverse_source), "test_fraction": float(test_fraction),
               "seed": int(seed), "min_freq": int(min_freq), "max_pairs": max_pairs,
               "columns": None if columns is None else list(_check_columns(columns))}
    counts = {"read": n_read, "used": len(kept), "train": len(train), "test": len(test)}
    return TranslationData(
        src_train=src_train, tgt_train=tgt_train, src_test=src_test, tgt_test=tgt_test,
        src_vocab=src_vocab, tgt_vocab=tgt_vocab, src_lang=src_lang, tgt_lang=tgt_lang,
        reversed=bool(reverse_source), lower=bool(lower),
        split_punctuation=bool(split_punctuation), source=source, path=abspath,
        test_pairs=[(p[0], p[1]) for p in test], options=options, counts=counts,
        train_pairs=[(p[0], p[1]) for p in train])


def _check_int_option(path, name: str, value, flag: str | None, none_ok: bool = False):
    """DataError unless ``value`` is an integer >= 1 (or None when ``none_ok``)."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        flag_text = f" ({flag})" if flag else ""
        raise TranslationDataError(
            path, None, None, f"{name}={value!r}{flag_text} would leave no pair to use",
            f"pass an integer {name} >= 1" + (" or None for no limit" if none_ok else ""))


def _all_filtered(path, n_read: int, min_len: int, max_len, shortest: int,
                  longest_short: int) -> TranslationDataError:
    """The error for a length filter that drops every pair (with the limits that keep some)."""
    need = []
    if max_len is not None and shortest > max_len:
        need.append(f"max_len (--max-len) >= {shortest}")
    if longest_short < min_len:
        need.append(f"min_len <= {longest_short}")
    return TranslationDataError(
        path, None, None, f"none of the {n_read} pairs has {min_len}..{max_len} tokens on "
        f"both sides (the shortest pair's longer side has {shortest} tokens)",
        "pass " + (" and ".join(need) or "wider length limits") + ", or no limit (leave out "
        "--max-len; max_len=None)")


def _split_error(path, n_read, n_filtered, n_used, n_train, n_test, test_fraction,
                 max_pairs) -> TranslationDataError:
    """The error for a split with no training pair or (with test_fraction > 0) no test pair."""
    need = 1
    while ((test_fraction > 0 and int(need * test_fraction) < 1)
           or need - int(need * test_fraction) < 1):
        need += 1
    why = [f"{n_read} pairs read", f"{n_filtered} kept by the length filter"]
    if max_pairs is not None:
        why.append(f"{n_used} used (max_pairs={max_pairs})")
    empty = "training" if not n_train else "test"
    return TranslationDataError(
        path, None, None, f"the {empty} split is empty: {', '.join(why)}, split "
        f"{n_train} train / {n_test} test at test_fraction={test_fraction:g}",
        f"use at least {need} pairs (more data, a larger --max-pairs or --max-len)")


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------

# tokenize="none": both sides are already our tokens joined by single spaces, so BLEU's
# n-grams are exactly the model's tokens.  '13a' is meant for detokenised text; on ours it
# is nearly the identity but re-splits a few of our tokens (e.g. "10:30" -> "10 : 30").
# force=True: sacrebleu warns that tokenised input "may hurt your score"; here it is
# tokenised on purpose, so that check is switched off.
_BLEU = sacrebleu.BLEU(tokenize="none", force=True)
# chrF (beta=2, character 6-grams, word_order=0); spaces are removed before counting
# character n-grams, so how punctuation was split does not change the score.
_CHRF = sacrebleu.CHRF()


def _check_corpus(hypotheses, references) -> tuple[list[str], list[str]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references are lists of sentences, not one str. "
                        "Fix: wrap a single sentence in a list")
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references; they must be "
                         "paired one to one")
    if not hyps:
        raise ValueError("cannot score an empty corpus")
    if not all(isinstance(s, str) for s in hyps + refs):
        raise TypeError("every hypothesis and reference must be a str")
    return hyps, refs


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (Papineni et al. 2002) via sacreBLEU (Post 2018), one reference each.

    sacreBLEU's defaults except ``tokenize="none"``: both sides must already be
    tokenised, space-joined text (``decode_target`` output and ``references()``), so the
    n-grams are the model's own tokens.  Exponential smoothing, case-sensitive (our
    tokeniser lower-cases by default).

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1

    Returns
    -------
    float
        In [0, 100]; 100 for identical corpora, 0 when no 4-gram (or no unigram) matches.

    Raises
    ------
    ValueError
        If the lengths differ or N == 0.
    TypeError
        If either argument is a single ``str`` or holds non-strings.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    return float(min(max(_BLEU.corpus_score(hyps, [refs]).score, 0.0), 100.0))


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (Popović 2015) via ``sacrebleu.CHRF()``: character 6-gram F-score, beta 2.

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1

    Returns
    -------
    float
        In [0, 100]; 100 for identical corpora, 0 when no character n-gram matches.

    Raises
    ------
    ValueError, TypeError
        As ``corpus_bleu``.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    return float(min(max(_CHRF.corpus_score(hyps, [refs]).score, 0.0), 100.0))


def bleu_report(hypotheses: Sequence[str], references: Sequence[str], *,
                n_bootstrap: int = 1000, seed: int = 12345, lowercased: bool = True) -> dict:
    """Corpus BLEU with sacreBLEU's signature and its bootstrap 95 % confidence interval.

    What is computed, exactly: sacreBLEU's corpus BLEU (Papineni et al. 2002; Post 2018)
    with one reference per sentence, ``tokenize="none"`` (both sides are this project's
    tokens joined by single spaces: ``decode_target`` output and ``references()``), the
    default exponential smoothing, and ``lowercase=lowercased``.  Our tokeniser lower-cases
    by default (``load_translation(lower=True)``), so pass ``lowercased=data.lower``: the
    score is then case-insensitive and the signature says ``case:lc``.  The interval is
    sacreBLEU's own (``corpus_score(..., n_bootstrap=N)``, Koehn 2004): ``N`` resamples of
    the test sentences with replacement, drawn by ``np.random.default_rng(seed)``; sacreBLEU
    reports their mean ``mu`` and half the width ``h`` of their 2.5-97.5 percentile range,
    and the interval here is ``[mu - h, mu + h]`` (clipped to [0, 100]).

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1
    n_bootstrap : int >= 2
        Resamples (sacreBLEU's default for ``--confidence`` is 1000).
    seed : int >= 0
        The resampling seed (sacreBLEU reads it from ``SACREBLEU_SEED``, which is set for
        the call and restored; it appears in the signature).
    lowercased : bool
        Whether the texts were lower-cased (sets ``lowercase`` and so the signature).

    Returns
    -------
    dict
        ``bleu`` (the corpus score, 0-100, as ``corpus_bleu``), ``ci_low``, ``ci_high``
        (0-100), ``mean`` (bootstrap mean), ``n_bootstrap``, ``seed``, ``n_sentences``,
        ``signature`` (sacreBLEU's, e.g. ``nrefs:1|bs:1000|seed:12345|case:lc|eff:no|
        tok:none|smooth:exp|version:2.6.0``) and ``description`` (one sentence saying the
        above).

    Raises
    ------
    ValueError, TypeError
        As ``corpus_bleu``; ValueError if ``n_bootstrap`` < 2 or ``seed`` < 0.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    for name, value, low in (("n_bootstrap", n_bootstrap, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"bleu_report: {name} must be an integer >= {low}, got {value!r} "
                             f"(fix: n_bootstrap=1000, seed=12345 are sacreBLEU's defaults)")
    metric = sacrebleu.BLEU(tokenize="none", force=True, lowercase=bool(lowercased))
    if len(hyps) * n_bootstrap <= BOOTSTRAP_BUDGET:
        score, mean, half = _sacrebleu_bootstrap(metric, hyps, refs, int(n_bootstrap), int(seed))
        how = "sacreBLEU's corpus_score(n_bootstrap)"
    else:
        score, mean, half = _bounded_bootstrap(metric, hyps, refs, int(n_bootstrap), int(seed))
        how = "sacreBLEU's statistics and estimator, resampled in O(N) memory"
    clip = lambda v: float(min(max(v, 0.0), 100.0))   # noqa: E731
    case = "case-insensitive (lower-cased text)" if lowercased else "case-sensitive"
    return {"bleu": clip(score), "ci_low": clip(mean - half), "ci_high": clip(mean + half),
            "mean": mean, "n_bootstrap": int(n_bootstrap), "seed": int(seed),
            "n_sentences": len(hyps), "signature": str(metric.get_signature()),
            "description": f"corpus BLEU on the project's tokens (tokenize=none), {case}, "
                           f"1 reference per sentence, {len(hyps)} sentences; 95 % interval "
                           f"from {n_bootstrap} bootstrap resamples (seed {seed}; {how})"}


#: Largest sentences x resamples handed to sacreBLEU's own bootstrap, which holds them all
#: at once (~50 bytes each: 4e6 is ~200 MB); larger corpora use ``_bounded_bootstrap``.
BOOTSTRAP_BUDGET = 4_000_000


def _sacrebleu_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """(score, bootstrap mean, CI half-width) from sacreBLEU's ``corpus_score(...,
    n_bootstrap)``; its seed comes from ``SACREBLEU_SEED``, set for the call and restored."""
    saved = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        score = metric.corpus_score(hyps, [refs], n_bootstrap=n_bootstrap)
    finally:
        if saved is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = saved
    return float(score.score), float(score._mean), float(score._ci)   # its estimate_ci


def _bounded_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """The estimator of ``_sacrebleu_bootstrap`` (mean and half the 2.5-97.5 percentile
    width of the resampled corpus scores) with each resample drawn as multinomial counts
    over the N sentences (``np.random.default_rng(seed)``), so memory is O(N), not
    O(N * n_bootstrap); the sentence statistics and the score from summed statistics are
    sacreBLEU's own (the functions its bootstrap uses)."""
    stats = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    score = float(metric._compute_score_from_stats(stats.sum(0)).score)
    rng = np.random.default_rng(seed)
    n = len(stats)
    scores = np.sort([metric._compute_score_from_stats(
        rng.multinomial(n, np.full(n, 1.0 / n)) @ stats).score for _ in range(n_bootstrap)])
    low = n_bootstrap // 40
    metric.n_bootstrap, metric.seed = n_bootstrap, str(seed)     # for the signature
    return score, float(scores.mean()), 0.5 * float(scores[n_bootstrap - low - 1] - scores[low])


def format_bleu_report(report: dict) -> str:
    """One line for a ``bleu_report`` dict, e.g. ``BLEU 23.41 (95 % CI 21.90-24.93)
    nrefs:1|bs:1000|seed:12345|case:lc|eff:no|tok:none|smooth:exp|version:2.6.0``."""
    return (f"BLEU {report['bleu']:.2f} (95 % CI {report['ci_low']:.2f}-{report['ci_high']:.2f})"
            f" {report['signature']}")
