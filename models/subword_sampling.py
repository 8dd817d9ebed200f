"""Subword regularisation: the training sentences re-segmented at random every epoch.

A sentencepiece model segments a sentence one way; with sampling it draws one of the many
segmentations of the same text, so a model trained on a few thousand pairs sees each word
cut into pieces in several ways and leans less on any one cut. Two samplers, chosen by the
data's tokenizer (``--tokenizer``), both through sentencepiece's
``encode(text, enable_sampling=True, alpha=ALPHA, nbest_size=-1)``:

- ``bpe``: BPE-dropout (Provilkov, Emelianenko & Voita 2020, "BPE-Dropout: Simple and
  Effective Subword Regularization", ACL): each merge is skipped with probability ALPHA,
  in [0, 1); sentencepiece skips every merge at ALPHA >= 1 (characters, not subwords).
- ``unigram``: a segmentation drawn from the unigram language model's lattice with
  probability proportional to ``P(x)^ALPHA`` (Kudo 2018, "Subword Regularization:
  Improving Neural Network Translation Models with Multiple Subword Candidates", ACL,
  sec. 3.3; ``nbest_size=-1``: from every segmentation, by forward-filtering
  backward-sampling). ALPHA is an inverse temperature: the smaller, the wider the
  samples. sentencepiece checks no range; 1 is the model's own distribution, and above
  it the samples approach the deterministic segmentation, so this project takes (0, 1].

``--subword-alpha 0`` (the default) is off: the training arrays are those of the loaded
data, untouched (:func:`epoch_training_data` returns the data itself). Validation, test,
decoding and scoring always use the deterministic segmentation.

Reproducibility: sentencepiece draws from its own ``std::mt19937``, one per thread
(``src/util.cc``, ``random::GetRandomGenerator``), seeded when a thread first draws
from the process-wide seed of ``sentencepiece.set_random_generator_seed`` (or from
``std::random_device`` if none was set). Measured with sentencepiece 0.2.3: setting the
seed also reseeds the calling thread's generator, but not that of a thread that has
drawn before (a reused worker thread keeps its stream). Each epoch therefore samples in
a new thread that sets the seed itself and then draws, one sentence at a time (a list
handed to ``encode`` is spread over sentencepiece's own threads); a lock keeps two
samplings of one process from setting the global seed under each other. The seed is
derived from the run's seed and the epoch (:func:`sampling_seed`), so a resumed run
re-segments its remaining epochs exactly as an uninterrupted one.

No text is copied: the raw training sentences are the data's ``train_pairs`` (which the
data keeps for validation splits and scoring anyway), read again every sampled epoch.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from .datasets import pad_sequences
from .tokenizers import SENTENCEPIECE_KINDS

__all__ = ["check_subword_alpha", "sampling_seed", "sample_ids", "sampled_training_arrays",
           "epoch_training_data", "sampling_note"]

#: sentencepiece's "no seed set" value: ``set_random_generator_seed`` ignores it.
_UNSET_SEED = 2 ** 32 - 1
_SEED_LOCK = threading.Lock()
#: Mixed into the seed sequence so the sampler never shares a stream with another use of
#: the run's seed (shuffling, initialisation).
_STREAM = 0x5B3D


def check_subword_alpha(alpha, data, where: str = "train") -> None:
    """Refuse an ``alpha`` that ``data``'s tokenizers cannot sample with (0 is always
    fine: off). ``alpha`` > 0 needs data whose tokenizers are sentencepiece's (``bpe`` or
    ``unigram``, ``data.src_tokenizer.kind``) and, for ``bpe``, ``alpha`` < 1 (at 1 every
    merge is dropped). The range [0, 1] itself is ``models.train.CONFIG_RANGES``'.

    Raises ValueError (``"{where}: subword_alpha=... (fix: ...)"``, one line)."""
    if not alpha:
        return
    kind = getattr(getattr(data, "src_tokenizer", None), "kind", None) or "word"
    if kind not in SENTENCEPIECE_KINDS:
        what = f"the data's tokenizer is {kind}" if hasattr(data, "src_tokenizer") else \
            "the data is not sentence pairs"
        raise ValueError(f"{where}: subword_alpha={alpha!r} re-segments sentencepiece pieces, "
                         f"but {what} (fix: load translation data with tokenizer 'bpe' or "
                         f"'unigram', or subword_alpha=0)")
    if kind == "bpe" and alpha >= 1:
        raise ValueError(f"{where}: subword_alpha={alpha!r} drops every merge of the bpe "
                         f"tokenizer, leaving characters (fix: a value below 1, e.g. 0.1)")


def sampling_seed(seed: int, epoch: int) -> int:
    """The sentencepiece seed of ``epoch`` (int >= 1) of a run seeded with ``seed`` (int
    >= 0): a uint32 drawn from ``np.random.SeedSequence((seed, epoch, stream tag))``, never
    2**32 - 1 (which sentencepiece takes for "unset")."""
    state = np.random.SeedSequence((int(seed), int(epoch), _STREAM)).generate_state(1)[0]
    return int(state) % _UNSET_SEED


def sample_ids(tokenizer, texts, alpha: float, seed: int) -> list:
    """Sampled segmentations of ``texts`` (sequence of str) by ``tokenizer`` (a
    ``models.tokenizers.SentencePieceTokenizer``): one list of piece ids per text (the
    ids of ``tokenizer.vocab()``; a piece the model never saw is ``<unk>``, 3), each
    detokenizing to ``tokenizer.normalize(text)``. ``alpha`` > 0: see the module docstring;
    ``alpha`` 0: the deterministic segmentation. ``seed`` : uint32, as
    :func:`sampling_seed` gives; the same arguments give the same ids.

    Runs in a new thread (module docstring). Raises ValueError for a ``tokenizer`` that
    is not sentencepiece's."""
    import sentencepiece as spm
    if getattr(tokenizer, "kind", None) not in SENTENCEPIECE_KINDS:
        raise ValueError(f"sample_ids: a bpe or unigram tokenizer is needed, not "
                         f"{type(tokenizer).__name__}")
    processor = spm.SentencePieceProcessor(model_proto=tokenizer.to_bytes())
    normalized = [tokenizer.normalize(t) for t in texts]

    def draw() -> list:
        spm.set_random_generator_seed(seed)
        return [processor.encode(t, enable_sampling=alpha > 0, alpha=float(alpha),
                                 nbest_size=-1) for t in normalized]

    with _SEED_LOCK, ThreadPoolExecutor(max_workers=1) as fresh:
        return fresh.submit(draw).result()


def _longest(model) -> int | None:
    """The longest sequence ``model`` takes (a Transformer's position table), or None."""
    positions = getattr(getattr(model, "positional_encoding", None), "max_len", None)
    return positions if isinstance(positions, int) else None


def sampled_training_arrays(data, alpha: float, seed: int, longest: int | None = None):
    """``data``'s training split segmented by :func:`sample_ids` in the layout of
    ``data.src_train`` / ``data.tgt_train``: sources (N, S') right-padded with
    ``pad_id`` (reversed first when ``data.reversed``), targets (N, T'+1) ``<sos> ...
    <eos> <pad>...``, int64, row i from ``data.train_pairs[i]``. The widths are the
    sampled longest (a sampled segmentation is usually longer than the deterministic
    one); no pair is dropped or cut. ``longest`` (a model's position table, or None): a
    sampled source of more than ``longest`` pieces, or target of more than
    ``longest - 1``, keeps its deterministic segmentation instead (counted).

    Returns (src, tgt, stats): ``stats`` = ``{"subword_tokens": sampled / deterministic
    non-padding ids of both sides (``<sos>``/``<eos>`` counted), "subword_kept": sides
    kept deterministic}``.
    Raises ValueError when ``train_pairs`` does not match the training rows."""
    pairs = data.train_pairs
    if len(pairs) != len(data.src_train):
        raise ValueError(f"subword sampling: {len(pairs)} raw training pairs for "
                         f"{len(data.src_train)} training rows (fix: data from "
                         f"models.translation_dataset.load_translation)")
    texts = ([s for s, _ in pairs], [t for _, t in pairs])
    src = sample_ids(data.src_tokenizer, texts[0], alpha, seed)
    tgt = sample_ids(data.tgt_tokenizer, texts[1], alpha, (seed + 1) % _UNSET_SEED)
    kept = 0
    if longest is not None:
        src, kept_src = _within(src, data.src_tokenizer, texts[0], longest)
        tgt, kept_tgt = _within(tgt, data.tgt_tokenizer, texts[1], longest - 1)
        kept = kept_src + kept_tgt
    sos, eos = data.start_id, data.eos_id
    src_rows = [np.asarray(r[::-1] if data.reversed else r, np.int64) for r in src]
    tgt_rows = [np.asarray([sos, *r, eos], np.int64) for r in tgt]
    src_arr, tgt_arr = pad_sequences(src_rows, data.pad_id), pad_sequences(tgt_rows, data.pad_id)
    before = int((data.src_train != data.pad_id).sum() + (data.tgt_train != data.pad_id).sum())
    after = int((src_arr != data.pad_id).sum() + (tgt_arr != data.pad_id).sum())
    return src_arr, tgt_arr, {"subword_tokens": after / before if before else 1.0,
                              "subword_kept": kept}


def _within(rows: list, tokenizer, texts: list, limit: int) -> tuple[list, int]:
    """``rows`` (lists of ids of ``texts``) with each row longer than ``limit`` replaced by
    the deterministic segmentation of its text; returns (rows, how many were replaced)."""
    long = [i for i, row in enumerate(rows) if len(row) > limit]
    if not long:
        return rows, 0
    rows = list(rows)
    for i, ids in zip(long, sample_ids(tokenizer, [texts[i] for i in long], 0.0, 0)):
        rows[i] = ids
    return rows, len(long)


def epoch_training_data(data, config, epoch: int, model=None):
    """The data that epoch ``epoch`` (>= 1) of a run with ``config`` (a
    ``models.train.TrainConfig``) trains on: ``data`` itself when
    ``config.subword_alpha`` is 0 (nothing drawn, nothing copied), else a shallow copy
    whose ``src_train`` / ``tgt_train`` are :func:`sampled_training_arrays` with
    :func:`sampling_seed` ``(config.seed, epoch)`` (every other field, validation and
    test included, shared with ``data``). ``model``: its position table limits the
    sampled lengths (a Transformer's).

    Returns (data, stats): ``stats`` ``{}`` when off, else the arrays' stats."""
    if not config.subword_alpha:
        return data, {}
    src, tgt, stats = sampled_training_arrays(data, config.subword_alpha,
                                              sampling_seed(config.seed, epoch),
                                              _longest(model))
    return replace(data, src_train=src, tgt_train=tgt), stats


def sampling_note(config, data) -> str:
    """One log line saying the training sentences are re-segmented, with what."""
    kind = data.src_tokenizer.kind
    how = "BPE-dropout, merge dropped with probability" if kind == "bpe" else \
        "unigram lattice sampling, smoothing exponent"
    return (f"subword regularisation: the training sentences are re-segmented every epoch "
            f"({how} {config.subword_alpha:g}; seeded by --seed and the epoch); "
            f"validation and test keep the deterministic segmentation")
