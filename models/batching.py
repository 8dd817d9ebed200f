"""The batches of a training epoch: random (the book's), or of sentences of similar length.

A batch is cut to its longest source and target (``models.train.training_batch``), so a
random batch of translation pairs carries the padding of its longest sentence in every
row. Batching by length (``length_batches``) shuffles the training items, cuts the order
into large chunks (``BUCKET_CHUNK_BATCHES`` batches each), sorts each chunk by source and
then target length (ties keep their shuffled order), cuts it into batches and shuffles
the batches: the rows of a batch have nearly the same length, and which items meet and
in what order the batches come still changes every epoch. It is the recipe of the
(legacy) torchtext ``BucketIterator``, whose sorted pool is also 100 batches.

Every batch list here is drawn from the training generator only (``rng``), so the same
seed gives the same batches and a resumed run (whose generator state is restored) the
batches of an uninterrupted one. ``pad_fraction`` measures what a list of batches pads.
"""
from __future__ import annotations

import copy

import numpy as np

#: Batches per sorted chunk: large enough that a chunk holds every common length many
#: times over, small enough that a batch's members change from epoch to epoch.
BUCKET_CHUNK_BATCHES = 100


def random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list:
    """The book's batches: one permutation of ``n`` items cut into ``n // batch_size``
    full batches (the remainder sits the epoch out). Returns a list of int64 index
    arrays (batch_size,). Draws exactly one ``rng.permutation(n)``."""
    order = rng.permutation(n)
    return [order[b * batch_size:(b + 1) * batch_size] for b in range(n // batch_size)]


def length_batches(src_len, tgt_len, batch_size: int, rng: np.random.Generator,
                   chunk_batches: int = BUCKET_CHUNK_BATCHES) -> list:
    """Batches of similar-length items (see the module docstring).

    src_len, tgt_len : int arrays (N,), each item's token count (padding excluded).
    batch_size : int >= 1, items per batch; every item is in exactly one batch, so at most
        one batch (the end of the last chunk) is smaller. chunk_batches : int >= 1.
    Returns a list of ``ceil(N / batch_size)`` int64 index arrays, in shuffled order.
    Raises ValueError for lengths of two sizes or a batch_size / chunk_batches below 1.
    """
    src_len, tgt_len = np.asarray(src_len), np.asarray(tgt_len)
    if src_len.shape != tgt_len.shape or src_len.ndim != 1:
        raise ValueError(f"length_batches: src_len and tgt_len must be two (N,) arrays, got "
                         f"shapes {src_len.shape} and {tgt_len.shape}")
    if batch_size < 1 or chunk_batches < 1:
        raise ValueError(f"length_batches: batch_size={batch_size} and chunk_batches="
                         f"{chunk_batches} must be at least 1")
    order = rng.permutation(len(src_len))
    chunk = batch_size * chunk_batches
    batches = []
    for start in range(0, len(order), chunk):
        idx = order[start:start + chunk]
        idx = idx[np.lexsort((tgt_len[idx], src_len[idx]))]     # stable: ties stay shuffled
        batches.extend(idx[i:i + batch_size] for i in range(0, len(idx), batch_size))
    return [batches[k] for k in rng.permutation(len(batches))]


def batches_per_epoch(n: int, batch_size: int, by_length: bool) -> int:
    """How many batches an epoch of ``n`` items has: ``ceil(n / batch_size)`` by length
    (every item), ``n // batch_size`` at random (full batches only)."""
    return -(-n // batch_size) if by_length else n // batch_size


def sequence_lengths(data) -> tuple:
    """(src_len, tgt_len), int64 (N,): the tokens of each training item that are not
    padding (the target's count includes its start and end symbols), as
    ``training_batch`` counts them. ``data`` has ``src_train``, ``tgt_train``, ``pad_id``
    (not None)."""
    return ((data.src_train != data.pad_id).sum(axis=1),
            (data.tgt_train != data.pad_id).sum(axis=1))


def pad_fraction(batches, src_len, tgt_len) -> float:
    """Padding tokens / all tokens of ``batches`` (index arrays into the lengths), each
    batch's source cut to its longest source (at least 1) and its target to its longest
    target (at least 2), as ``models.train.training_batch`` cuts them. A fraction in
    [0, 1); 0.0 for no batches."""
    total = real = 0
    for idx in batches:
        s, t = src_len[idx], tgt_len[idx]
        total += len(idx) * (max(1, int(s.max())) + max(2, int(t.max())))
        real += int(s.sum()) + int(t.sum())
    return (total - real) / total if total else 0.0


def epoch_batches(data, batch_size: int, rng: np.random.Generator, by_length: bool) -> list:
    """One epoch's batches of ``data``'s training items: ``length_batches`` when
    ``by_length`` (data with padding only), else ``random_batches``."""
    if by_length:
        return length_batches(*sequence_lengths(data), batch_size, rng)
    return random_batches(len(data.src_train), batch_size, rng)


def pad_report(data, batch_size: int, rng: np.random.Generator) -> dict:
    """The pad fraction of one epoch of random batches and of one of batches by length,
    each drawn from its own copy of ``rng`` (left untouched), so that the one the run uses
    is its first epoch's: ``{"random": f, "by_length": f}``."""
    lengths = sequence_lengths(data)
    out = {}
    for kind, by_length in (("random", False), ("by_length", True)):
        batches = epoch_batches(data, batch_size, copy.deepcopy(rng), by_length)
        out[kind] = pad_fraction(batches, *lengths)
    return out
