"""Translation data: a sentence-pair file -> padded, split int64 id arrays.

The pipeline (:func:`load_translation`) is

    pair file --load_pairs--> sentences --words (models.text.tokenize)--> length filter
    --> shuffle, split --fit_tokenizer (training split only)--> tokenizers and
    vocabularies --tokenize, encode, pad--> (N, S)

with the pieces in their own modules: ``models.pair_files`` (reading the file),
``models.text`` (words), ``models.tokenizers`` (the word, char, bpe and unigram
tokenizers), ``models.vocab``, ``models.datasets`` (padding) and ``models.codecs``
(encoding user text like the training data).  The length filter always counts words, so
every tokenizer sees the same pairs and the same split.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from .codecs import TranslationCodec
from .datasets import pad_sequences, validation_indices
from .pair_files import TranslationDataError, check_columns, load_pairs
from .text import tokenize
from .tokenizers import SENTENCEPIECE_KINDS, TOKENIZERS, Tokenizer, fit_tokenizer
from .vocab import Vocab

__all__ = ["TranslationData", "load_translation", "load_translation_for"]


@dataclass(eq=False)
class TranslationData:
    """Tokenised, filtered, split and encoded sentence pairs (a ``models.datasets.Seq2SeqData``).

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
        For char, bpe and unigram, from the training split left after
        :meth:`split_validation` (the word vocabularies keep today's rule: the whole
        training split).
    src_tokenizer, tgt_tokenizer : models.tokenizers.Tokenizer or None
        The tokenizers (None: ``WordTokenizer(lower, split_punctuation)``); one object for
        a joint vocabulary.
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
        ``"bleu"``: the metric that chooses the epoch, the lower-cased BLEU of
        ``models.metrics.translation_report`` (which also gives the cased sacreBLEU and
        chrF) against ``data.references()``.
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
    src_tokenizer: Tokenizer | None = None
    tgt_tokenizer: Tokenizer | None = None

    pad_id = Vocab.PAD_ID
    start_id = Vocab.SOS_ID
    eos_id = Vocab.EOS_ID
    unk_id = Vocab.UNK_ID

    def codec(self) -> TranslationCodec:
        """The tokenizers and vocabularies, without the arrays (a new object)."""
        return TranslationCodec(self.src_vocab, self.tgt_vocab, self.src_lang, self.tgt_lang,
                                self.reversed, self.lower, self.split_punctuation,
                                self.src_tokenizer, self.tgt_tokenizer)

    def codec_arrays(self) -> dict:
        """The arrays a checkpoint stores beside :meth:`metadata`:
        ``TranslationCodec.arrays()`` (the sentencepiece models as uint8; ``{}`` for word
        and char)."""
        return self.codec().arrays()

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
        """Test targets as the model would write them (len ``len(tgt_test)``):
        ``TranslationCodec.tokenized_text``, i.e. space-joined words for the word
        tokenizer, the normalised text for char, bpe and unigram.

        Built from the raw test sentences, not from ``tgt_test``, so words missing from the
        training vocabulary are the real words (a model cannot match them), and compared
        like with like against ``decode_target`` output by ``models.metrics.corpus_bleu``.
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
        the training pairs in their order.  The test split and ``self`` are unchanged.

        Word tokenizer: the vocabularies are unchanged too: they were built on the whole
        training split, so a checkpoint's vocabulary still matches ``load_translation``
        with the stored options, and no validation word is ``<unk>`` (validation BLEU is
        therefore a little optimistic next to test BLEU; use it to choose, the test split
        to report).  Char, bpe and unigram: the tokenizers and vocabularies are learnt
        again on the remaining training pairs only (never on validation or test), and
        every split is encoded with them; a checkpoint stores them, and
        :func:`load_translation_for` reuses them.

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
        out = replace(self, src_train=self.src_train[train], tgt_train=self.tgt_train[train],
                      src_valid=self.src_train[valid], tgt_valid=self.tgt_train[valid],
                      train_pairs=[self.train_pairs[i] for i in train.tolist()],
                      valid_pairs=[self.train_pairs[i] for i in valid.tolist()],
                      counts=counts, source=source,
                      validation={"fraction": float(fraction), "seed": int(seed)})
        return out if self.codec().tokenizer == "word" else _refit(out)

    def metadata(self) -> dict:
        """JSON-safe description for a checkpoint.

        Returns
        -------
        dict
            ``TranslationCodec.metadata()`` plus ``direction`` (``"fra-eng"``),
            ``options`` (``load_translation`` keyword arguments), ``counts``, ``metric``,
            ``data_path``, ``data_source`` and ``validation`` (None, or the fraction and
            seed of :meth:`split_validation`).
            ``models.codecs.translation_codec_from_metadata`` rebuilds the codec from it,
            ``load_translation(meta["data_path"], meta["direction"], **meta["options"])``
            rebuilds the data, and ``.split_validation(**meta["validation"])`` on it the
            validation split.
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
                     columns: Sequence[str] | None = None, tokenizer: str = "word",
                     vocab_size: int | None = None,
                     joint_vocab: bool = False) -> TranslationData:
    """Load a sentence-pair file as padded, split token-id arrays.

    Steps: ``load_pairs`` -> ``tokenize`` both sides into words -> length filter ->
    shuffle with ``np.random.default_rng(seed)`` (numpy's global state is untouched) ->
    keep the first ``max_pairs`` -> the last ``int(n * test_fraction)`` pairs are the test
    split -> ``models.tokenizers.fit_tokenizer`` on the training split only -> tokenize,
    encode and right-pad.

    Parameters
    ----------
    path, direction, columns
        As ``load_pairs``: the file; ``"fra-eng"`` = French source, English target
        (default non-English -> English); the column languages if the name does not tell.
    max_len, min_len : int
        Drop pairs where either side has more than ``max_len`` (None: no limit) or fewer
        than ``min_len`` (>= 1) tokens, counted in ``tokenize`` tokens *without*
        ``<sos>``/``<eos>`` (so targets are at most ``max_len + 2`` ids wide).
    lower, split_punctuation, reverse_source : bool
        ``tokenize`` options (stored, and reused by ``encode_source``); whether to reverse
        each source sentence before padding.
    test_fraction, seed : float in [0, 1), int
        The share of the pairs held out for testing; the shuffle seed.
    min_freq : int
        ``Vocab.build`` threshold, applied to each language separately (word and char
        tokenizers only).
    max_pairs : int, optional
        Use at most this many pairs (a random subset, taken after filtering and shuffling,
        before splitting).
    tokenizer : {"word", "bpe", "unigram", "char"}
        ``models.tokenizers``: words (today's rule), sentencepiece pieces, or characters.
    vocab_size : int, optional
        At most this many tokens per vocabulary, counting the 4 specials (>= 5): the most
        frequent words or characters, or sentencepiece's (soft) vocabulary size. None: no
        limit for word and char, ``DEFAULT_SUBWORD_VOCAB`` for bpe and unigram.
    joint_vocab : bool
        One tokenizer and one vocabulary learnt from both languages (``src_vocab ==
        tgt_vocab``, so that source and target embeddings can be shared).

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
        If ``test_fraction`` is not in [0, 1) or ``min_len > max_len``; an unknown
        ``tokenizer``, a ``vocab_size`` below 5, ``min_freq`` with bpe or unigram, a
        ``joint_vocab`` that is not a bool; a ``vocab_size`` smaller than the training
        text's characters need (bpe, unigram: the message names the size that works).
    """
    _check_options(path, max_len, min_len, max_pairs, min_freq, test_fraction)
    _check_tokenizer_options(tokenizer, vocab_size, joint_vocab, min_freq)
    src_texts, tgt_texts, src_lang, tgt_lang = load_pairs(path, direction, columns=columns)
    kept = _length_filter(path, src_texts, tgt_texts, lower, split_punctuation, min_len, max_len)
    train, test = _shuffle_and_split(path, kept, seed, max_pairs, test_fraction,
                                     len(src_texts))
    options = {"max_len": max_len, "min_len": int(min_len), "lower": bool(lower),
               "split_punctuation": bool(split_punctuation),
               "reverse_source": bool(reverse_source), "test_fraction": float(test_fraction),
               "seed": int(seed), "min_freq": int(min_freq), "max_pairs": max_pairs,
               "columns": None if columns is None else list(check_columns(columns)),
               "tokenizer": tokenizer, "vocab_size": vocab_size,
               "joint_vocab": bool(joint_vocab)}
    return _translation_data(path, (src_lang, tgt_lang), len(src_texts), train, test, options,
                             _fit(train, options))


def load_translation_for(codec: TranslationCodec, path, direction=None,
                         **options) -> TranslationData:
    """:func:`load_translation` with the tokenizers and vocabularies of ``codec`` (a
    checkpoint's) instead of learning them, for evaluating a trained model on a file.

    Word tokenizer: nothing is reused (the vocabularies are rebuilt from ``path`` as
    :func:`load_translation` does; ``models.task_loading.load_checkpoint_data`` compares
    them with the checkpoint's). Char, bpe and unigram: ``codec``'s tokenizers and
    vocabularies encode every split, so the arrays are those the model was trained on
    (and another file is encoded as the model would read it). ``options`` are
    :func:`load_translation`'s; ``tokenizer`` and ``joint_vocab`` must agree with
    ``codec``. Raises as :func:`load_translation`, and ValueError when they disagree.
    """
    options = {**options, "tokenizer": options.get("tokenizer", "word")}
    if codec.tokenizer == "word" or options["tokenizer"] == "word":
        return load_translation(path, direction, **options)
    if options["tokenizer"] != codec.tokenizer or \
            bool(options.get("joint_vocab", False)) != codec.joint:
        raise ValueError(f"the options say tokenizer={options['tokenizer']!r}, joint_vocab="
                         f"{options.get('joint_vocab', False)!r} but the codec is "
                         f"{codec.tokenizer}, joint={codec.joint} (fix: pass the "
                         f"checkpoint's own options)")
    _check_tokenizer_options(options["tokenizer"], options.get("vocab_size"),
                             options.get("joint_vocab", False), options.get("min_freq", 1))
    # read, filter and split as load_translation does (its word vocabularies are cheap and
    # thrown away), then encode with the codec's tokenizers
    data = load_translation(path, direction, **{**options, "tokenizer": "word",
                                                 "vocab_size": None, "joint_vocab": False,
                                                 "min_freq": 1})
    return _refit(replace(data, options={**data.options, **options}), codec)


# -- the steps of load_translation -------------------------------------------------------

def _check_options(path, max_len, min_len, max_pairs, min_freq, test_fraction) -> None:
    """The argument checks of :func:`load_translation` (its Raises section)."""
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


def _check_tokenizer_options(tokenizer, vocab_size, joint_vocab, min_freq) -> None:
    """The tokenizer arguments of :func:`load_translation` (ValueError, with the fix)."""
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"tokenizer={tokenizer!r} is not one of {', '.join(TOKENIZERS)} "
                         f"(fix: e.g. --tokenizer bpe)")
    if vocab_size is not None and (isinstance(vocab_size, bool) or
                                   not isinstance(vocab_size, (int, np.integer))
                                   or vocab_size < 5):
        raise ValueError(f"vocab_size={vocab_size!r} must be an integer >= 5 (the 4 special "
                         f"tokens and one more) or None (fix: e.g. --vocab-size 4000)")
    if not isinstance(joint_vocab, bool):
        raise ValueError(f"joint_vocab={joint_vocab!r} must be true or false")
    if tokenizer in SENTENCEPIECE_KINDS and min_freq != 1:
        raise ValueError(f"--min-freq {min_freq} applies to the word and char tokenizers; "
                         f"sentencepiece chooses its pieces by --vocab-size (fix: drop "
                         f"--min-freq)")


def _check_int_option(path, name: str, value, flag: str | None, none_ok: bool = False):
    """DataError unless ``value`` is an integer >= 1 (or None when ``none_ok``)."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        flag_text = f" ({flag})" if flag else ""
        raise TranslationDataError(
            path, None, None, f"{name}={value!r}{flag_text} would leave no pair to use",
            f"pass an integer {name} >= 1" + (" or None for no limit" if none_ok else ""))


def _length_filter(path, src_texts, tgt_texts, lower: bool, split_punctuation: bool,
                   min_len: int, max_len: int | None) -> list[tuple]:
    """The pairs with ``min_len``..``max_len`` tokens on both sides, each as (source text,
    target text, source tokens, target tokens), in file order; TranslationDataError (with
    the limits that would keep some) if none is left."""
    upper = max_len if max_len is not None else float("inf")
    kept = []
    shortest, longest_short = float("inf"), 0   # in tokens: smallest longer side, largest
    for s, t in zip(src_texts, tgt_texts):       # shorter side (for the error message)
        s_tok = tokenize(s, lower, split_punctuation)
        t_tok = tokenize(t, lower, split_punctuation)
        short, long = min(len(s_tok), len(t_tok)), max(len(s_tok), len(t_tok))
        shortest, longest_short = min(shortest, long), max(longest_short, short)
        if min_len <= short and long <= upper:
            kept.append((s, t, s_tok, t_tok))
    if not kept:
        raise _all_filtered(path, len(src_texts), min_len, max_len, shortest, longest_short)
    return kept


def _shuffle_and_split(path, kept: list, seed: int, max_pairs, test_fraction: float,
                       n_read: int):
    """(train, test): ``kept`` shuffled with ``np.random.default_rng(seed)``, cut to
    ``max_pairs``, the last ``int(n * test_fraction)`` the test split;
    TranslationDataError if a split that must hold pairs is empty."""
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
    return train, test


def _fit(train: list, options: dict) -> tuple:
    """(source tokenizer, target tokenizer, source vocab, target vocab) learnt from the
    training pairs (source text, target text, source words, target words) with
    ``options`` (load_translation's); the word tokenizer reuses the words."""
    kind = options.get("tokenizer", "word")
    kw = dict(lower=options["lower"], split_punctuation=options["split_punctuation"],
              vocab_size=options.get("vocab_size"), min_freq=options["min_freq"])
    src, tgt = [p[0] for p in train], [p[1] for p in train]
    src_words = [p[2] for p in train] if kind == "word" else None
    tgt_words = [p[3] for p in train] if kind == "word" else None
    if options.get("joint_vocab"):
        tok, vocab = fit_tokenizer(kind, src + tgt, token_lists=None if src_words is None
                                   else src_words + tgt_words, **kw)
        return tok, tok, vocab, vocab
    src_tok, src_vocab = fit_tokenizer(kind, src, token_lists=src_words, **kw)
    tgt_tok, tgt_vocab = fit_tokenizer(kind, tgt, token_lists=tgt_words, **kw)
    return src_tok, tgt_tok, src_vocab, tgt_vocab


def _refit(data: TranslationData, codec: TranslationCodec | None = None) -> TranslationData:
    """``data`` with its tokenizers and vocabularies learnt again from its training pairs
    (or taken from ``codec``) and every split encoded with them."""
    if codec is None:
        fitted = _fit([(s, t, None, None) for s, t in data.train_pairs], data.options)
    else:
        fitted = (codec.src_tokenizer, codec.tgt_tokenizer, codec.src_vocab, codec.tgt_vocab)
    src_tok, tgt_tok, src_vocab, tgt_vocab = fitted
    arrays = {}
    for split, pairs in (("train", data.train_pairs), ("test", data.test_pairs),
                         ("valid", data.valid_pairs if data.src_valid is not None else None)):
        if pairs is not None:
            words = [(s, t, src_tok.tokenize(s), tgt_tok.tokenize(t)) for s, t in pairs]
            arrays[f"src_{split}"], arrays[f"tgt_{split}"] = _encode_pairs(
                words, src_vocab, tgt_vocab, data.reversed)
    return replace(data, src_vocab=src_vocab, tgt_vocab=tgt_vocab, src_tokenizer=src_tok,
                   tgt_tokenizer=tgt_tok, **arrays)


def _translation_data(path, langs: tuple[str, str], n_read: int, train: list, test: list,
                      options: dict, fitted: tuple) -> TranslationData:
    """The TranslationData of the ``train`` and ``test`` pairs (source text, target text,
    source words, target words): encoded with ``fitted`` (:func:`_fit`), padded arrays,
    counts and a description of the source; ``options`` are the keyword arguments of
    load_translation."""
    src_tok, tgt_tok, src_vocab, tgt_vocab = fitted
    if options.get("tokenizer", "word") != "word":
        train, test = ([(s, t, src_tok.tokenize(s), tgt_tok.tokenize(t)) for s, t, *_ in ps]
                       for ps in (train, test))
    reverse = options["reverse_source"]
    src_train, tgt_train = _encode_pairs(train, src_vocab, tgt_vocab, reverse)
    src_test, tgt_test = _encode_pairs(test, src_vocab, tgt_vocab, reverse)
    abspath = os.path.abspath(path)
    n_used = len(train) + len(test)
    source = (f"{abspath} ({langs[0]}->{langs[1]}; {n_read} pairs read, "
              f"{n_used} used: {len(train)} train / {len(test)} test; seed {options['seed']})")
    return TranslationData(
        src_train=src_train, tgt_train=tgt_train, src_test=src_test, tgt_test=tgt_test,
        src_vocab=src_vocab, tgt_vocab=tgt_vocab, src_lang=langs[0], tgt_lang=langs[1],
        reversed=reverse, lower=options["lower"],
        split_punctuation=options["split_punctuation"], source=source, path=abspath,
        test_pairs=[(p[0], p[1]) for p in test], options=options,
        counts={"read": n_read, "used": n_used, "train": len(train), "test": len(test)},
        train_pairs=[(p[0], p[1]) for p in train], src_tokenizer=src_tok,
        tgt_tokenizer=tgt_tok)


def _encode_pairs(pairs: list, src_vocab: Vocab, tgt_vocab: Vocab, reverse_source: bool):
    """(src (N, S), tgt (N, T + 1)) int64: sources right-padded (reversed first if
    ``reverse_source``), targets ``<sos> ... <eos>`` right-padded (2 columns if N = 0)."""
    src = pad_sequences([src_vocab.encode(p[2][::-1] if reverse_source else p[2])
                         for p in pairs])
    tgt = pad_sequences([tgt_vocab.encode(p[3], add_sos=True, add_eos=True)
                         for p in pairs], width=None if pairs else 2)
    return src, tgt


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
