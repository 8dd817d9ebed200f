"""Codecs: user text in, model ids out, and back, the way the training data was encoded.

A codec is what a checkpoint keeps of its data (the vocabularies and the encoding
options, never the corpus), so that ``tinygrad-attn translate`` can encode a new input
and decode the model's answer without re-reading any file:

- :class:`CharCodec` for the book's character tasks (fixed width, input reversed or not);
- :class:`TranslationCodec` for word-level translation (``models.text.tokenize``, word
  vocabularies with ``<pad> <sos> <eos> <unk>``, source reversed or not, following
  Sutskever, Vinyals & Le (2014), "Sequence to Sequence Learning with Neural Networks",
  section 3.3).

Each has ``encode_source(texts) -> (N, S) int64``, ``decode_target(ids) -> str``,
``source_tokens(text)``, ``start_id``, ``eos_id``, ``pad_id`` and ``metadata()``-style
round trips through JSON.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import pad_sequences
from .text import detokenize, tokenize
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


# -- word-level translation ---------------------------------------------------------------------

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
        return self.tgt_vocab.decode(ids, strip_special=True)

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
            src_vocab=Vocab.from_dict(meta["src_vocab"], kind="word"),
            tgt_vocab=Vocab.from_dict(meta["tgt_vocab"], kind="word"),
            src_lang=str(meta["src_lang"]), tgt_lang=str(meta["tgt_lang"]),
            reversed=bool(meta["reversed"]), lower=bool(meta["lower"]),
            split_punctuation=bool(meta["split_punctuation"]))
    except KeyError as e:
        raise ValueError(f"translation metadata lacks the key {e.args[0]!r}. Fix: pass what "
                         "TranslationData.metadata() returned") from None
