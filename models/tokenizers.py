"""Tokenizers of translation data: one sentence -> tokens -> one sentence.

Four kinds, one interface (:class:`Tokenizer`: ``normalize``, ``tokenize``,
``detokenize``, ``to_bytes``), chosen with ``--tokenizer``:

- ``word`` (the default, and every checkpoint written before this module): the rules of
  ``models.text`` (character mapping, NFC, punctuation split off); ``detokenize`` joins the
  words with single spaces (``models.text.detokenize``).  Lossy by design: its
  ``normalize`` is that canonical form, ``"Va !"`` and ``"va!"`` both become ``"va !"``.
- ``char``: every character of the normalised text is a token, the space written
  ``"▁"`` (U+2581, sentencepiece's mark) so that it stays visible in tables.
- ``bpe`` and ``unigram``: sentencepiece (Kudo & Richardson 2018, "SentencePiece: A
  simple and language independent subword tokenizer and detokenizer for Neural Text
  Processing") trained on the training split's text: byte-pair encoding (Sennrich, Haddow
  & Birch 2016, "Neural Machine Translation of Rare Words with Subword Units") or the
  unigram language model (Kudo 2018, "Subword Regularization").  A trained model is the
  serialized ``ModelProto`` bytes (:meth:`SentencePieceTokenizer.to_bytes`); a checkpoint
  stores them as a uint8 array, and :func:`check_model_proto` checks such bytes as
  untrusted input before sentencepiece parses them.

Normalisation of ``char``, ``bpe`` and ``unigram`` (:func:`normalize`)
--------------------------------------------------------------------
Unicode NFC after optional lower-casing; ``"▁"`` (U+2581) becomes a space; every run of
ASCII whitespace (space, tab, CR, LF, VT, FF) becomes one space, and the ends are
stripped; lone surrogates (only possible in text that came from undecodable bytes) become
U+FFFD.  Nothing else changes: NO-BREAK SPACE U+00A0, NARROW NO-BREAK SPACE U+202F, THIN
SPACE U+2009, curly quotes, guillemets and Hangul are kept as the writer typed them, so
``detokenize(tokenize(s)) == normalize(s)`` exactly.  sentencepiece is trained with its
``identity`` rule: its default ``nmt_nfkc`` rule would turn, measured on the corpora in
``../shared/data``, U+202F, U+00A0, U+2009 and U+200B into spaces, ``₂`` into ``2`` and
``…`` into ``...`` (66 of 23,644 sentences of ``fra.tutorial-filter.txt``, 7,358 of
285,574 of ``fra.txt``, none of ``kor.txt``).

Special tokens: ids 0-3 are ``<pad> <sos> <eos> <unk>`` for every kind (the ids of
``models.vocab.Vocab``), so a sentencepiece id is the model's id.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

from .text import detokenize as _join_words
from .text import tokenize as _word_tokenize
from .vocab import Vocab

__all__ = ["TOKENIZERS", "SENTENCEPIECE_KINDS", "DEFAULT_SUBWORD_VOCAB", "MAX_MODEL_BYTES",
           "SPACE_MARK", "normalize", "Tokenizer", "WordTokenizer", "CharTokenizer",
           "SentencePieceTokenizer", "fit_tokenizer", "train_sentencepiece",
           "check_model_proto", "sha256"]

TOKENIZERS = ("word", "bpe", "unigram", "char")
SENTENCEPIECE_KINDS = ("bpe", "unigram")
#: ``--vocab-size`` of bpe/unigram when none is given (a soft limit: small data gets fewer).
DEFAULT_SUBWORD_VOCAB = 4000
#: Largest serialized sentencepiece model accepted (an 8,000-piece model is ~150 kB).
MAX_MODEL_BYTES = 64 * 2 ** 20
SPACE_MARK = "\u2581"            # ▁, sentencepiece's visible space
_ASCII_SPACE = re.compile(r"[ \t\n\r\v\f]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize(text: str, lower: bool = True) -> str:
    """The normalisation of the ``char``, ``bpe`` and ``unigram`` tokenizers (module
    docstring): NFC after optional ``str.lower``, ``▁`` -> space, ASCII whitespace runs ->
    one space, ends stripped, lone surrogates -> U+FFFD. Idempotent.

    Raises TypeError if ``text`` is not a str."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text.lower() if lower else text)
    return _ASCII_SPACE.sub(" ", text.replace(SPACE_MARK, " ")).strip(" ")


def _token_list(tokens) -> list:
    if isinstance(tokens, str):
        raise TypeError("detokenize takes a list of tokens, not a str. Fix: "
                        "tokenizer.detokenize(tokenizer.tokenize(text))")
    return list(tokens)


class Tokenizer:
    """The interface of every tokenizer: ``kind`` (one of TOKENIZERS), ``lower``, and

    - ``normalize(text) -> str``: the text as this tokenizer reproduces it;
    - ``tokenize(text) -> list[str]``: non-empty tokens (``[]`` for a blank text);
    - ``detokenize(tokens) -> str``: the inverse, ``detokenize(tokenize(s)) ==
      normalize(s)`` for every str ``s``;
    - ``to_bytes() -> bytes``: what a checkpoint must store beside the vocabulary
      (``b""`` for ``word`` and ``char``, whose vocabulary is all they learn).

    ``tokenize`` raises TypeError for a non-str, ``detokenize`` for a single str.
    """

    kind = ""
    lower = True

    def normalize(self, text: str) -> str:
        """``text`` as this tokenizer reproduces it (str -> str)."""
        return self.detokenize(self.tokenize(text))

    def tokenize(self, text: str) -> list[str]:
        """One sentence (str) -> its tokens (list of non-empty str)."""
        raise NotImplementedError

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Tokens (a list of str, never one str) -> the sentence."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """What a checkpoint stores of this tokenizer (``b""``: nothing but the vocabulary)."""
        return b""


@dataclass(frozen=True)
class WordTokenizer(Tokenizer):
    """``models.text.tokenize`` with these options; ``detokenize`` joins with spaces."""

    lower: bool = True
    split_punctuation: bool = True
    kind = "word"

    def tokenize(self, text: str) -> list[str]:
        """``models.text.tokenize(text, lower, split_punctuation)``."""
        return _word_tokenize(text, self.lower, self.split_punctuation)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """The words joined by single spaces (``models.text.detokenize``)."""
        return _join_words(_token_list(tokens))


@dataclass(frozen=True)
class CharTokenizer(Tokenizer):
    """One token per character of :func:`normalize`'s text, spaces as ``▁``."""

    lower: bool = True
    kind = "char"

    def normalize(self, text: str) -> str:
        """:func:`normalize` with this tokenizer's ``lower``."""
        return normalize(text, self.lower)

    def tokenize(self, text: str) -> list[str]:
        """The characters of the normalised text, ``" "`` as ``"▁"``."""
        return [SPACE_MARK if c == " " else c for c in normalize(text, self.lower)]

    def detokenize(self, tokens: Iterable[str]) -> str:
        """The tokens joined, ``"▁"`` as ``" "`` (``"<unk>"`` stays as it is)."""
        return "".join(" " if t == SPACE_MARK else t for t in _token_list(tokens))


class SentencePieceTokenizer(Tokenizer):
    """A trained sentencepiece model (bpe or unigram) over :func:`normalize`'s text.

    Parameters
    ----------
    model : bytes
        A serialized ``ModelProto`` as :func:`train_sentencepiece` writes it; checked by
        :func:`check_model_proto` before sentencepiece parses it.
    lower : bool
        Lower-case before tokenising (the data's ``lower`` option).

    Attributes: ``kind`` ("bpe" or "unigram", read from the model), ``pieces`` (list of
    str in id order, ``<pad> <sos> <eos> <unk>`` first), ``lower``.

    Raises ValueError (one line) for bytes that are not such a model.
    """

    def __init__(self, model: bytes, lower: bool = True):
        import sentencepiece as spm
        model = bytes(model)
        self.kind, self.pieces = check_model_proto(model)
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(model)
        except (RuntimeError, OSError, ValueError) as e:
            raise ValueError(f"sentencepiece cannot load the model ({_short(e)})") from None
        if processor.GetPieceSize() != len(self.pieces):
            raise ValueError("sentencepiece reads a different number of pieces than the "
                             "model holds")
        self._model, self._sp, self.lower = model, processor, bool(lower)

    def normalize(self, text: str) -> str:
        """:func:`normalize` with this tokenizer's ``lower``."""
        return normalize(text, self.lower)

    def tokenize(self, text: str) -> list[str]:
        """The pieces of the normalised text (``"▁"`` marks a word start); a run of
        characters the model never saw is one piece, whose id is ``<unk>``."""
        return self._sp.EncodeAsPieces(normalize(text, self.lower))

    def detokenize(self, tokens: Iterable[str]) -> str:
        """sentencepiece's decoding of the pieces (``<unk>`` as ``"<unk>"``)."""
        return self._sp.DecodePieces(_token_list(tokens))

    def to_bytes(self) -> bytes:
        """The serialized ``ModelProto`` (what :func:`check_model_proto` accepts)."""
        return self._model

    def vocab(self) -> Vocab:
        """The word-kind :class:`Vocab` of the pieces (same ids as sentencepiece's)."""
        return Vocab(self.pieces[len(Vocab.SPECIALS):])

    def __eq__(self, other) -> bool:
        return isinstance(other, SentencePieceTokenizer) and \
            (self._model, self.lower) == (other._model, other.lower)

    __hash__ = None

    def __reduce__(self):
        return SentencePieceTokenizer, (self._model, self.lower)

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer({self.kind}, {len(self.pieces)} pieces, " \
            f"lower={self.lower})"


def _short(e: Exception, limit: int = 120) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + "..."


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data`` (stored in a checkpoint beside a tokenizer's bytes)."""
    return hashlib.sha256(data).hexdigest()


# -- training ---------------------------------------------------------------------------

def fit_tokenizer(kind: str, texts: Sequence[str], *, lower: bool = True,
                  split_punctuation: bool = True, vocab_size: int | None = None,
                  min_freq: int = 1, token_lists=None) -> tuple[Tokenizer, Vocab]:
    """A tokenizer of ``kind`` and its vocabulary, learnt from ``texts`` (the training
    split's sentences of one language, or of both for a joint vocabulary).

    word / char: ``Vocab.build`` of the tokens, words seen fewer than ``min_freq`` times
    dropped, at most ``vocab_size`` entries counting the 4 specials (None: no limit).
    ``token_lists`` (optional) are the texts already tokenised by this tokenizer.
    bpe / unigram: :func:`train_sentencepiece` (``vocab_size`` None:
    DEFAULT_SUBWORD_VOCAB; ``min_freq`` must be 1).

    Returns (tokenizer, vocab). Raises ValueError for an unknown kind, a ``vocab_size``
    below 5, a ``min_freq`` with bpe/unigram, or no text.
    """
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {kind!r} (fix: one of {', '.join(TOKENIZERS)})")
    if vocab_size is not None and (isinstance(vocab_size, bool) or
                                   not isinstance(vocab_size, int) or vocab_size < 5):
        raise ValueError(f"vocab_size={vocab_size!r} must be an integer >= 5 (the 4 special "
                         f"tokens and at least one more) or None (fix: e.g. --vocab-size 4000)")
    if kind in SENTENCEPIECE_KINDS:
        if min_freq != 1:
            raise ValueError(f"min_freq={min_freq!r} applies to the word and char tokenizers; "
                             f"sentencepiece chooses its pieces by vocab_size (fix: drop "
                             f"--min-freq)")
        tok = train_sentencepiece(texts, kind, vocab_size or DEFAULT_SUBWORD_VOCAB, lower)
        return tok, tok.vocab()
    tok = WordTokenizer(lower, split_punctuation) if kind == "word" else CharTokenizer(lower)
    if token_lists is None:
        token_lists = (tok.tokenize(t) for t in texts)
    return tok, Vocab.build(token_lists, min_freq=min_freq, max_size=vocab_size)


def train_sentencepiece(texts: Sequence[str], kind: str, vocab_size: int,
                        lower: bool = True) -> SentencePieceTokenizer:
    """Train a sentencepiece ``kind`` ("bpe" or "unigram") model on ``texts``.

    The texts are normalised (:func:`normalize`) first and the model keeps every
    character it saw (``character_coverage=1.0``, rule ``identity``); ``vocab_size`` is
    an upper limit (``hard_vocab_limit=false``: a small corpus gets fewer pieces); ids
    0-3 are ``<pad> <sos> <eos> <unk>`` and an unknown piece decodes as ``<unk>``. One
    thread, so the same texts always give the same bytes.

    Raises ValueError when there is no text, or ``vocab_size`` is smaller than the
    distinct characters plus the 4 specials (naming the size that works).
    """
    import sentencepiece as spm
    if kind not in SENTENCEPIECE_KINDS:
        raise ValueError(f"train_sentencepiece: kind must be bpe or unigram, not {kind!r}")
    sentences = [s for s in (normalize(t, lower) for t in texts) if s]
    if not sentences:
        raise ValueError("the training split has no text to learn a tokenizer from (fix: "
                         "use a data file with sentences)")
    chars = {SPACE_MARK} | {c for s in sentences for c in s if c != " "}
    need = len(chars) + len(Vocab.SPECIALS)
    if vocab_size < need:
        raise ValueError(f"--vocab-size {vocab_size} is smaller than the {len(chars):,} "
                         f"distinct characters of the training text plus the 4 special tokens "
                         f"(fix: --vocab-size {need} or more, since every character is a "
                         f"piece; or --tokenizer char)")
    out = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=out, model_type=kind,
            vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
            normalization_rule_name="identity", pad_id=0, bos_id=1, eos_id=2, unk_id=3,
            pad_piece=Vocab.PAD, bos_piece=Vocab.SOS, eos_piece=Vocab.EOS,
            unk_piece=Vocab.UNK, unk_surface=Vocab.UNK, num_threads=1, minloglevel=2)
    except RuntimeError as e:
        raise ValueError(f"sentencepiece could not train a {kind} model of {vocab_size} "
                         f"pieces ({_short(e)}) (fix: another --vocab-size)") from None
    return SentencePieceTokenizer(out.getvalue(), lower)


# -- the serialized model as untrusted input ---------------------------------------------
# sentencepiece_model.proto (0.2): ModelProto {1 pieces, 2 trainer_spec, 3 normalizer_spec,
# 4 self_test_data, 5 denormalizer_spec}; SentencePiece {1 piece, 2 score (float), 3 type:
# 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE}; TrainerSpec {3
# model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR; ...}; NormalizerSpec {1 name, 2
# precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5
# escape_whitespaces, 6 normalization_rule_tsv}.
_MODEL_TYPES = {1: "unigram", 2: "bpe"}
_NORMAL, _UNKNOWN, _CONTROL = 1, 2, 3


class _ProtoError(ValueError):
    pass


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _ProtoError("it is truncated (a number runs past the end)")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: memoryview):
    """Yield (field number, wire type, value) of one protobuf message: an int for a
    varint, a memoryview for the other wire types. Raises _ProtoError when malformed."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _ProtoError("it has a field numbered 0, which protobuf never writes")
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i:i + n], i + n
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise _ProtoError(f"field {number} has wire type {wire}, which it never has")
        if i > len(buf):
            raise _ProtoError("it is truncated (a field runs past the end)")
        yield number, wire, value


def _expect(ok: bool, problem: str) -> None:
    if not ok:
        raise _ProtoError(problem)


def _piece(buf: memoryview, index: int) -> str:
    """The string of one SentencePiece message, its score and type checked."""
    text, kind = None, _NORMAL
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 2:
            try:
                text = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise _ProtoError(f"piece {index} is not UTF-8 text") from None
        elif number == 2 and wire == 5:
            _expect(math.isfinite(struct.unpack("<f", value)[0]),
                    f"piece {index} has a score that is not finite")
        elif number == 3 and wire == 0:
            kind = value
        else:
            raise _ProtoError(f"piece {index} has an unexpected field {number}")
    special = index < len(Vocab.SPECIALS)
    want = (_UNKNOWN if index == Vocab.UNK_ID else _CONTROL) if special else _NORMAL
    _expect(bool(text) and kind == want and (not special or text == Vocab.SPECIALS[index])
            and len(text) <= 1000, f"piece {index} is not what this program writes there")
    return text


def _model_type(buf: memoryview) -> str:
    model_type = 1                              # the proto's default: UNIGRAM
    for number, wire, value in _fields(buf):
        if number == 3:
            _expect(wire == 0, "its model type is not a number")
            model_type = value
    _expect(model_type in _MODEL_TYPES, f"its model type {model_type} is neither unigram "
            f"nor bpe")
    return _MODEL_TYPES[model_type]


def _check_normalizer(buf: memoryview, label: str) -> None:
    """The identity rule only: no character map, no rules, default whitespace handling."""
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 2:
            _expect(bytes(value) == b"identity", f"its {label} is not the identity rule")
        elif number in (2, 6) and wire == 2:
            _expect(len(value) == 0, f"its {label} carries a character map or rules")
        elif number in (3, 4, 5) and wire == 0:
            _expect(value == 1, f"its {label} changes how spaces are handled")
        else:
            raise _ProtoError(f"its {label} has an unexpected field {number}")


def check_model_proto(data: bytes) -> tuple[str, list[str]]:
    """Check serialized sentencepiece bytes as untrusted input, without sentencepiece.

    Accepted: what :func:`train_sentencepiece` writes: a well-formed ``ModelProto`` of at
    most MAX_MODEL_BYTES with at most ``models.model_io.MAX_VOCAB``-sized piece lists,
    pieces that are non-empty UTF-8 with finite scores, ids 0-3 the control/unknown
    pieces ``<pad> <sos> <eos> <unk>`` and every other piece a normal one, the model type
    bpe or unigram, the ``identity`` normaliser without a character map, and nothing else
    (no self-test data).

    Returns (kind, pieces). Raises ValueError (one line, saying what is wrong).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"check_model_proto takes bytes, not {type(data).__name__}")
    buf = memoryview(bytes(data))
    try:
        _expect(0 < len(buf) <= MAX_MODEL_BYTES, f"it has {len(buf):,} bytes (at most "
                f"{MAX_MODEL_BYTES:,})")
        pieces, kind = [], None
        for number, wire, value in _fields(buf):
            _expect(wire == 2, f"its field {number} is not a message")
            if number == 1:
                pieces.append(_piece(value, len(pieces)))
                _expect(len(pieces) <= 1_000_000, "it has more than 1,000,000 pieces")
            elif number == 2:
                kind = _model_type(value)
            elif number in (3, 5):
                _check_normalizer(value, "normalizer" if number == 3 else "denormalizer")
            else:
                raise _ProtoError(f"it has an unexpected field {number}")
        _expect(kind is not None, "it has no trainer settings")
        _expect(len(pieces) > len(Vocab.SPECIALS), "it has no pieces besides the specials")
        _expect(len(set(pieces)) == len(pieces), "a piece repeats")
    except _ProtoError as e:
        raise ValueError(f"not a sentencepiece model of this program: {e}") from None
    return kind, pieces
