"""Codecs: user text in, model ids out, and back, the way the training data was encoded.

A codec is what a checkpoint keeps of its data (the vocabularies and the encoding
options, never the corpus), so that ``tinygrad-attn translate`` can encode a new input
and decode the model's answer without re-reading any file:

- :class:`CharCodec` for the book's character tasks (fixed width, input reversed or not);
- :class:`TranslationCodec` for translation: a tokenizer per language
  (``models.tokenizers``: words by ``models.text.tokenize``, characters, or sentencepiece
  bpe/unigram pieces), vocabularies with ``<pad> <sos> <eos> <unk>``, source reversed or
  not, following Sutskever, Vinyals & Le (2014), "Sequence to Sequence Learning with
  Neural Networks", section 3.3.

Each has ``encode_source(texts) -> (N, S) int64``, ``decode_target(ids) -> str``,
``source_tokens(text)``, ``start_id``, ``eos_id``, ``pad_id`` and ``metadata()``-style
round trips through JSON.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import pad_sequences
from .tokenizers import (SENTENCEPIECE_KINDS, CharTokenizer, SentencePieceTokenizer,
                         Tokenizer, WordTokenizer, sha256)
from .vocab import Vocab

__all__ = ["CharCodec", "encode_questions", "TranslationCodec",
           "translation_codec_from_metadata"]


# -- character tasks ----------------------------------------------------------------------------

@dataclass
class CharCodec:
    """Turns user text into model input and model output into text, the way the training
    data was encoded (for ``tinygrad-attn translate`` without re-reading the data).

    Attributes
    ----------
    vocab : Vocab
        The character vocabulary (``kind="char"``).
    reversed : bool
        Inputs are reversed along the time axis.
    source_width, answer_length : int
        S, the input width, and T, the answer length after the start symbol.
    start_id : int
        The id of ``_``, the decoder's start symbol.
    pad_id, eos_id : None
        Fixed-width rows: nothing is padding, no answer ends early.
    """

    vocab: Vocab
    reversed: bool
    source_width: int
    answer_length: int
    start_id: int
    pad_id = None
    eos_id = None

    @classmethod
    def from_metadata(cls, meta: dict) -> "CharCodec":
        """The codec of ``Dataset.metadata()`` (extra keys ignored). Raises KeyError for a
        missing key, ValueError for a vocabulary that is not a character one."""
        return cls(Vocab.from_dict(meta["vocab"], kind="char"), bool(meta["reversed"]),
                   int(meta["source_width"]), int(meta["answer_length"]), int(meta["start_id"]))

    def encode_source(self, texts) -> np.ndarray:
        """``texts`` (str or list of str) -> int64 (N, source_width), see
        :func:`encode_questions` (ValueError for a text too long or an unknown character)."""
        return encode_questions(texts, self.vocab, self.source_width, self.reversed)

    def decode_target(self, ids) -> str:
        """One row of answer ids (L,) -> its characters as a str (``Vocab.decode``)."""
        return self.vocab.decode(ids)

    def source_tokens(self, text: str) -> list[str]:
        """The input's tokens in model order (reversed if the model reads it reversed)."""
        chars = list(text.ljust(self.source_width))
        return chars[::-1] if self.reversed else chars


def encode_questions(questions, vocab: Vocab, width: int, reverse: bool) -> np.ndarray:
    """Encode user inputs for translation the same way training inputs were encoded.

    Parameters
    ----------
    questions : str or iterable of str
        One question or several; each is left-justified and padded with spaces to ``width``.
    vocab : Vocab
        A character vocabulary.
    width : int
        Input width S of the training data (``src_train.shape[1]``).
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


# -- translation --------------------------------------------------------------------------------

#: The metadata kinds: words in two vocabularies (every checkpoint written before the
#: tokenizer could be chosen), and any tokenizer (a ``tokenizer`` section; a program that
#: predates it refuses the kind instead of misreading the data as words).
_METADATA_KIND, _TOKENIZER_KIND = "word-translation", "translation"
#: The checkpoint arrays of a sentencepiece codec: the serialized models as uint8.
SRC_ARRAY, TGT_ARRAY = "tokenizer.src", "tokenizer.tgt"


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
        The tokenizer options used for both languages (``split_punctuation``: words only).
    src_tokenizer, tgt_tokenizer : models.tokenizers.Tokenizer
        Default (None): ``WordTokenizer(lower, split_punctuation)``, the word-level codec
        of every checkpoint written before tokenizers could be chosen. The same object
        (and ``src_vocab == tgt_vocab``) for a joint vocabulary.

    Raises ValueError when the two tokenizers are of different kinds.
    """

    src_vocab: Vocab
    tgt_vocab: Vocab
    src_lang: str
    tgt_lang: str
    reversed: bool
    lower: bool = True
    split_punctuation: bool = True
    src_tokenizer: Tokenizer | None = None
    tgt_tokenizer: Tokenizer | None = None

    pad_id = Vocab.PAD_ID
    start_id = Vocab.SOS_ID
    eos_id = Vocab.EOS_ID
    unk_id = Vocab.UNK_ID

    def __post_init__(self):
        word = WordTokenizer(bool(self.lower), bool(self.split_punctuation))
        self.src_tokenizer = self.src_tokenizer or word
        self.tgt_tokenizer = self.tgt_tokenizer or word
        if self.src_tokenizer.kind != self.tgt_tokenizer.kind:
            raise ValueError(f"the source tokenizer is {self.src_tokenizer.kind} but the "
                             f"target's is {self.tgt_tokenizer.kind} (fix: one kind for both)")

    @property
    def tokenizer(self) -> str:
        """The tokenizer kind: "word", "bpe", "unigram" or "char"."""
        return self.src_tokenizer.kind

    @property
    def joint(self) -> bool:
        """True if source and target share one tokenizer and one vocabulary."""
        return self.src_tokenizer == self.tgt_tokenizer and self.src_vocab == self.tgt_vocab

    def tokenized_text(self, text: str) -> str:
        """``text`` as the model would write it: ``detokenize(tokenize(text))`` of the target
        tokenizer (words: space-joined tokens; char, bpe, unigram: the normalised text).

        Use it on references supplied from elsewhere before ``corpus_bleu``.
        """
        return self.tgt_tokenizer.normalize(text)

    def source_tokens(self, text: str) -> list[str]:
        """The tokens of one source sentence in model order (reversed if ``reversed``).

        Position ``j`` of the result is column ``j`` of ``encode_source(text)`` (tokens
        unknown to the vocabulary are shown as themselves, not as ``<unk>``).

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.
        """
        tokens = self.src_tokenizer.tokenize(text)
        return tokens[::-1] if self.reversed else tokens

    def encode_source(self, texts) -> np.ndarray:
        """Encode source sentences exactly as the training sources were encoded.

        Parameters
        ----------
        texts : str or sequence of str, N sentences

        Returns
        -------
        np.ndarray, int64, shape (N, S)
            S is the longest sentence in tokens; unknown tokens are ``<unk>`` (3); reversed
            if ``self.reversed``; right-padded with ``<pad>`` (0).  No ``<sos>``/``<eos>``.

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
            ``<pad>``/``<sos>`` dropped, ``<unk>`` kept (as ``"<unk>"``). Words:
            space-joined tokens (``models.text.detokenize``); char, bpe and unigram: the
            detokenized text (``"je suis là."``).

        Raises
        ------
        ValueError, TypeError
            As ``Vocab.decode`` (e.g. a 2-D array: decode one row at a time).
        """
        if isinstance(self.tgt_tokenizer, WordTokenizer):
            return self.tgt_vocab.decode(ids, strip_special=True)
        tokens = []
        for token in self.tgt_vocab.lookup_tokens(ids):
            if token == Vocab.EOS:
                break
            if token not in (Vocab.PAD, Vocab.SOS):
                tokens.append(token)
        return self.tgt_tokenizer.detokenize(tokens)

    def arrays(self) -> dict:
        """The checkpoint arrays of this codec: ``{"tokenizer.src": uint8 (B,)}`` and,
        unless joint, ``"tokenizer.tgt"`` (the serialized sentencepiece models); ``{}``
        for word and char, whose vocabularies in :meth:`metadata` are all they learnt."""
        if self.tokenizer not in SENTENCEPIECE_KINDS:
            return {}
        out = {SRC_ARRAY: np.frombuffer(self.src_tokenizer.to_bytes(), np.uint8).copy()}
        if not self.joint:
            out[TGT_ARRAY] = np.frombuffer(self.tgt_tokenizer.to_bytes(), np.uint8).copy()
        return out

    def metadata(self) -> dict:
        """JSON-safe description; ``translation_codec_from_metadata`` inverts it (with
        :meth:`arrays` for bpe and unigram).

        Returns
        -------
        dict
            ``kind``, ``version``, ``src_vocab``, ``tgt_vocab`` (``Vocab.to_dict``),
            ``src_lang``, ``tgt_lang``, ``reversed``, ``lower``, ``split_punctuation``.
            ``kind`` is "word-translation" for the word tokenizer with two vocabularies
            (as before tokenizers could be chosen), else "translation" with
            ``tokenizer``: ``{"kind", "joint"}`` and, for bpe and unigram, ``"sha256":
            {"src": hex[, "tgt": hex]}`` of the arrays.
        """
        meta = {"kind": _METADATA_KIND, "version": 1,
                "src_vocab": self.src_vocab.to_dict(), "tgt_vocab": self.tgt_vocab.to_dict(),
                "src_lang": self.src_lang, "tgt_lang": self.tgt_lang,
                "reversed": bool(self.reversed), "lower": bool(self.lower),
                "split_punctuation": bool(self.split_punctuation)}
        if self.tokenizer != "word" or self.joint:
            tok = {"kind": self.tokenizer, "joint": self.joint}
            if self.tokenizer in SENTENCEPIECE_KINDS:
                tok["sha256"] = {k.split(".")[1]: sha256(a.tobytes())
                                 for k, a in self.arrays().items()}
            meta.update(kind=_TOKENIZER_KIND, tokenizer=tok)
        return meta


def translation_codec_from_metadata(meta: dict, arrays: dict | None = None) -> TranslationCodec:
    """Rebuild the encoder/decoder of a trained model without re-reading its corpus.

    Parameters
    ----------
    meta : dict
        ``TranslationCodec.metadata()`` or ``TranslationData.metadata()`` (extra keys are
        ignored), possibly after a JSON round trip.
    arrays : dict, optional
        ``TranslationCodec.arrays()`` (a checkpoint's ``tokenizer.*`` arrays): needed for
        bpe and unigram.

    Returns
    -------
    TranslationCodec

    Raises
    ------
    ValueError
        If ``meta`` was not written by ``metadata()``, lacks a key or an array, or a
        sentencepiece model does not match its vocabulary (``models.model_io`` checks a
        checkpoint's fields first, with messages that name them).
    """
    if not isinstance(meta, dict) or meta.get("kind") not in (_METADATA_KIND,
                                                                _TOKENIZER_KIND):
        kind = meta.get("kind") if isinstance(meta, dict) else None
        raise ValueError(f"not translation metadata (kind={kind!r}). Fix: pass what "
                         "TranslationData.metadata() returned")
    try:
        src_vocab = Vocab.from_dict(meta["src_vocab"], kind="word")
        tgt_vocab = Vocab.from_dict(meta["tgt_vocab"], kind="word")
        lower, split = bool(meta["lower"]), bool(meta["split_punctuation"])
        tok = meta["tokenizer"] if meta["kind"] == _TOKENIZER_KIND else None
        src_tok, tgt_tok = _tokenizers_from_metadata(tok, arrays or {}, lower, split)
        for vocab, tok in ((src_vocab, src_tok), (tgt_vocab, tgt_tok)):
            if isinstance(tok, SentencePieceTokenizer) and vocab.itos != tok.pieces:
                raise ValueError("a sentencepiece model's pieces differ from its vocabulary")
        return TranslationCodec(
            src_vocab=src_vocab, tgt_vocab=tgt_vocab,
            src_lang=str(meta["src_lang"]), tgt_lang=str(meta["tgt_lang"]),
            reversed=bool(meta["reversed"]), lower=lower, split_punctuation=split,
            src_tokenizer=src_tok, tgt_tokenizer=tgt_tok)
    except KeyError as e:
        raise ValueError(f"translation metadata lacks the key {e.args[0]!r}. Fix: pass what "
                         "TranslationData.metadata() returned") from None


def _tokenizers_from_metadata(tok: dict | None, arrays: dict, lower: bool, split: bool):
    """(source tokenizer, target tokenizer) of a ``metadata()["tokenizer"]`` section (None:
    words); KeyError for a missing key or array."""
    kind = "word" if tok is None else tok["kind"]
    if kind == "word":
        word = WordTokenizer(lower, split)
        return word, word
    if kind == "char":
        char = CharTokenizer(lower)
        return char, char
    if kind not in SENTENCEPIECE_KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    src = SentencePieceTokenizer(np.asarray(arrays[SRC_ARRAY], np.uint8).tobytes(), lower)
    tgt = src if tok["joint"] else \
        SentencePieceTokenizer(np.asarray(arrays[TGT_ARRAY], np.uint8).tobytes(), lower)
    if src.kind != kind or tgt.kind != kind:
        raise ValueError(f"the metadata says {kind} but a stored model is "
                         f"{src.kind if src.kind != kind else tgt.kind}")
    return src, tgt
