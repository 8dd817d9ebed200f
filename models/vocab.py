"""The vocabulary: one bijection between tokens and integer ids, for both kinds of task.

- ``kind="char"``, the book's character tasks (``question_answer`` files): a token is one
  character, ids in order of first appearance (:meth:`Vocab.from_texts`), no special
  tokens (the ``_`` that starts every answer is the decoder's start symbol, and the spaces
  of the fixed-width layout are real tokens).  The alphabet is closed: an unknown
  character is an error.  Decoded ids are joined with ``""``.
- ``kind="word"``, sentence pairs: a token is a word of ``models.text.tokenize``; ids 0-3
  are ``<pad> <sos> <eos> <unk>``, then the words by frequency (:meth:`Vocab.build`); an
  unknown word becomes ``<unk>``.  Decoded ids are joined with ``" "`` (the text BLEU is
  scored on, ``models.text.detokenize``).

The names are torchtext's where it has one: ``itos`` (id -> token), ``stoi`` (token -> id),
``len(vocab)``, ``token in vocab``, ``vocab[token]``, ``lookup_indices``,
``lookup_tokens`` and ``default_index`` (the id an unknown token gets; None: an error).
On disk (``to_dict``) a character vocabulary is ``{"id_to_char": [...]}`` and a word
vocabulary ``{"id_to_token": [...]}``, the layout of every checkpoint written so far.
"""
from __future__ import annotations

import json
import operator
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["Vocab"]

#: The key of the token list in ``Vocab.to_dict()``, per kind.
_DICT_KEYS = {"char": "id_to_char", "word": "id_to_token"}


class Vocab:
    """Bijection between tokens (characters or words) and integer ids.

    Parameters
    ----------
    tokens : iterable of str
        The ordinary tokens in id order, after the kind's special tokens: for
        ``kind="word"`` ids 4, 5, ... (``<pad> <sos> <eos> <unk>`` come first), for
        ``kind="char"`` ids 0, 1, ... (single characters; there are no specials).
    kind : {"word", "char"}

    Attributes
    ----------
    kind : str
    itos : list of str
        ``itos[i]`` is the token with id ``i`` (specials included).
    stoi : dict[str, int]
        The inverse of ``itos``.
    specials : tuple of str
        ``SPECIALS`` for words, ``()`` for characters.
    default_index : int or None
        The id of an unknown token: ``UNK_ID`` for words, None (an error) for characters.
    PAD, SOS, EOS, UNK : str
        The special token strings ``"<pad>"``, ``"<sos>"``, ``"<eos>"``, ``"<unk>"``.
    PAD_ID, SOS_ID, EOS_ID, UNK_ID : int
        Their ids 0, 1, 2, 3 in a word vocabulary.
    SPECIALS : tuple of str
        ``(PAD, SOS, EOS, UNK)``, in id order.

    Raises
    ------
    ValueError
        If ``kind`` is unknown; for words, if a token is not a non-empty ``str``, is a
        special token, or repeats; for characters, if an entry is not one character or
        repeats.
    """

    PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
    PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
    SPECIALS = (PAD, SOS, EOS, UNK)

    def __init__(self, tokens: Iterable[str] = (), *, kind: str = "word"):
        if kind not in _DICT_KEYS:
            raise ValueError(f"kind must be 'word' or 'char', got {kind!r}")
        tokens = list(tokens)
        (_check_words if kind == "word" else _check_chars)(tokens)
        self.kind = kind
        self.specials = self.SPECIALS if kind == "word" else ()
        self.default_index = self.UNK_ID if kind == "word" else None
        self.itos = list(self.specials) + tokens
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self._sep = " " if kind == "word" else ""

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Vocab":
        """A character vocabulary, ids in order of first appearance (texts in order,
        characters in order), the book's rule; pass ``[q0, a0, q1, a1, ...]`` to match its
        line-by-line loop."""
        return cls(dict.fromkeys(c for text in texts for c in text), kind="char")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None) -> "Vocab":
        """A word vocabulary of the frequent tokens, in a deterministic order.

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
            ``kind="word"``.

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
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token``: ``default_index`` if it is unknown (ValueError if that is
        None, as in a character vocabulary)."""
        return self.lookup_indices([token])[0]

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (self.kind, self.itos) == (other.kind, other.itos)

    __hash__ = None  # mutable lists inside; equal vocabs need not hash equal

    def __repr__(self) -> str:
        if self.kind == "char":
            return f"Vocab({len(self)} characters: {''.join(self.itos)!r})"
        head = ", ".join(self.itos[4:12])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 12 else ''})"

    def lookup_indices(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens`` (a character vocabulary also takes a ``str``: its
        characters); an unknown token gets ``default_index``.

        Raises
        ------
        ValueError
            For an unknown character (naming it and its 0-based position).
        TypeError
            If a word vocabulary is given a ``str`` (fix: ``tokenize`` it first).
        """
        self._check_not_text(tokens, "lookup_indices")
        if self.default_index is not None:
            get, unk = self.stoi.get, self.default_index
            return [get(t, unk) for t in tokens]
        if not isinstance(tokens, (str, list, tuple)):
            tokens = list(tokens)
        try:
            return [self.stoi[t] for t in tokens]
        except KeyError as e:
            raise self._unknown(tokens, e.args[0]) from None

    def lookup_tokens(self, ids) -> list[str]:
        """The tokens of ``ids`` (1-D integer array or iterable of int), specials included.

        Raises ValueError (2-D array, id outside ``[0, len(self))``), TypeError (not an
        integer)."""
        return [self.itos[i] for i in self._checked_ids(ids)]

    def encode(self, tokens: Sequence[str], add_sos: bool = False,
               add_eos: bool = False) -> np.ndarray:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : sequence of str, length L
            Words (a list; never a ``str``) or characters (a ``str`` or a list).
        add_sos, add_eos : bool
            Prepend ``<sos>`` / append ``<eos>`` (word vocabularies only).

        Returns
        -------
        np.ndarray, int64, shape (L + add_sos + add_eos,)
            Unknown words become ``UNK_ID``.

        Raises
        ------
        TypeError
            If a word vocabulary is given a ``str`` (fix: ``tokenize`` it first).
        ValueError
            For an unknown character, or ``add_sos``/``add_eos`` on a character vocabulary.
        """
        self._check_not_text(tokens, "encode")
        ids = self.lookup_indices(tokens)
        if (add_sos or add_eos) and not self.specials:
            raise ValueError("a character vocabulary has no <sos> or <eos>. Fix: a character "
                             "task's answers start with their own `_`; encode them as they are")
        if add_sos:
            ids.insert(0, self.SOS_ID)
        if add_eos:
            ids.append(self.EOS_ID)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids, strip_special: bool = True) -> str:
        """Map ids back to text: the tokens joined by ``""`` (characters) or ``" "`` (words).

        Parameters
        ----------
        ids : 1-D integer array or iterable of int, shape (L,)
        strip_special : bool
            Word vocabularies: if True, stop at the first ``<eos>`` and drop ``<pad>`` and
            ``<sos>``; ``<unk>`` is kept (as the string ``"<unk>"``) so unknown words stay
            visible. If False, every id is decoded, specials and anything after ``<eos>``
            included (:meth:`lookup_tokens` gives them as a list).

        Returns
        -------
        str

        Raises
        ------
        ValueError
            If ``ids`` is not 1-D or an id is outside ``[0, len(self))``.
        TypeError
            If an id is not an integer.
        """
        out = []
        strip = strip_special and bool(self.specials)
        for i in self._checked_ids(ids):
            if strip:
                if i == self.EOS_ID:
                    break
                if i in (self.PAD_ID, self.SOS_ID):
                    continue
            out.append(self.itos[i])
        return self._sep.join(out)

    def to_dict(self) -> dict:
        """JSON-safe form: ``{"id_to_char": [...]}`` or ``{"id_to_token": [all tokens in id
        order, specials first]}``."""
        return {_DICT_KEYS[self.kind]: list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict, kind: str | None = None) -> "Vocab":
        """Inverse of ``to_dict``; ``kind`` (if given) is the kind ``d`` must hold.

        Raises
        ------
        ValueError
            If ``d`` is neither ``{"id_to_char": [...]}`` nor ``{"id_to_token": [...]}``
            starting with the four specials in order, is not of ``kind``, or its tokens are
            invalid (see ``Vocab``).
        """
        found = [k for k, key in _DICT_KEYS.items() if isinstance(d, dict) and key in d]
        items = d[_DICT_KEYS[found[0]]] if len(found) == 1 else None
        if (not isinstance(items, list) or kind not in (None, found[0])
                or (found[0] == "word" and tuple(items[:4]) != cls.SPECIALS)):
            raise ValueError('a vocabulary dict must look like {"id_to_char": ["a", "b", ...]} '
                             '(characters) or {"id_to_token": ["<pad>", "<sos>", "<eos>", '
                             '"<unk>", ...]} (words)' + (f", of kind {kind!r}" if kind else "")
                             + ". Fix: pass what Vocab.to_dict() returned")
        return cls(items[4:], kind="word") if found[0] == "word" else cls(items, kind="char")

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
    def load(cls, path) -> "Vocab":
        """Read a vocabulary written by ``save``."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    # -- helpers ------------------------------------------------------------------------

    def _check_not_text(self, tokens, name: str) -> None:
        """TypeError if a word vocabulary is given one ``str`` instead of a token list."""
        if isinstance(tokens, str) and self.kind == "word":
            raise TypeError(f"{name} takes a list of tokens, not the str {tokens[:40]!r}. "
                            f"Fix: vocab.{name}(tokenize(text))")

    def _unknown(self, text, c) -> ValueError:
        """The error for a character ``c`` of ``text`` that is not in the vocabulary."""
        shown = text if isinstance(text, str) else "".join(map(str, text))
        return ValueError(
            f"unknown character {c!r} at position {list(text).index(c)} of {shown!r}. Fix: use "
            f"only characters seen in training ({''.join(self.itos)!r}) or rebuild the "
            "vocabulary from texts that contain it")

    def _checked_ids(self, ids):
        """Yield the ids one by one as Python ints, each checked when it is reached."""
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"decode takes one sequence (1-D ids), got shape {ids.shape}. "
                                 "Fix: [vocab.decode(row) for row in ids]")
            ids = ids.tolist()
        n = len(self.itos)
        for i in ids:
            i = operator.index(i)  # TypeError for floats and other non-integers
            if not 0 <= i < n:
                raise ValueError(f"id {i} is outside the vocabulary [0, {n}). Fix: decode "
                                 "with the vocabulary the ids were encoded with")
            yield i


def _check_words(tokens: list) -> None:
    """ValueError unless ``tokens`` are distinct non-empty strings, none of them special."""
    bad = [t for t in tokens if not isinstance(t, str) or not t or t in Vocab.SPECIALS]
    if bad:
        raise ValueError(f"vocabulary tokens must be non-empty strings other than the "
                         f"specials {Vocab.SPECIALS}; got {bad[:5]!r}. Fix: build it with "
                         "Vocab.build(token_lists)")
    if len(set(tokens)) != len(tokens):
        dup = [t for t, n in Counter(tokens).items() if n > 1]
        raise ValueError(f"vocabulary tokens repeat: {dup[:5]!r}. Fix: list each token once")


def _check_chars(chars: list) -> None:
    """ValueError unless ``chars`` are distinct single characters."""
    bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
    if bad or len(set(chars)) != len(chars):
        raise ValueError(f"a character vocabulary must list distinct single characters; got "
                         f"bad entries {bad[:5]!r} or duplicates. Fix: rebuild it with "
                         "Vocab.from_texts")
