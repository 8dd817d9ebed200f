"""Text normalisation and tokenisation: one sentence of any script -> word tokens.

The pipeline of word-level data (``models/translation_dataset.py``) is

    text --normalize--> text --tokenize--> tokens --Vocab.encode--> ids --pad--> (N, S)

and this module holds its first two steps, and ``detokenize``, their inverse for scoring.

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
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Iterable

__all__ = ["normalize", "tokenize", "detokenize"]

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

