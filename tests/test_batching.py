"""``models.batching``: batches of similar-length sentences (every item once per epoch, the
same seed the same batches, fewer pad tokens than random batches on real sentence
lengths), the book's random batches unchanged, and the pad fraction as training cuts the
batches."""
import numpy as np
import pytest

from models.batching import (BUCKET_CHUNK_BATCHES, batches_per_epoch, epoch_batches,
                             length_batches, pad_fraction, pad_report, random_batches,
                             sequence_lengths)
from models.train import training_batch
from models.translation_dataset import load_translation
from tests.conftest import DATA, SAMPLES, whole_or_sample


def _lengths(n, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(1, 30, n)
    return src, src + rng.integers(-2, 5, n).clip(min=0) + 2


@pytest.mark.parametrize("n,batch", [(1000, 32), (1000, 7), (5, 8), (6401, 64), (128, 128)])
def test_every_item_is_in_exactly_one_batch(n, batch):
    src, tgt = _lengths(n)
    batches = length_batches(src, tgt, batch, np.random.default_rng(1))
    together = np.concatenate(batches)
    assert sorted(together.tolist()) == list(range(n))
    assert len(batches) == batches_per_epoch(n, batch, True) == -(-n // batch)
    assert sum(len(b) < batch for b in batches) <= 1       # only the last chunk's end


def test_the_same_seed_gives_the_same_batches_and_another_seed_others():
    src, tgt = _lengths(3000)

    def batches(seed):
        return length_batches(src, tgt, 16, np.random.default_rng(seed))

    a, b, c = batches(5), batches(5), batches(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_batches_are_sorted_within_chunks_and_shuffled_between_them():
    src, tgt = _lengths(16 * BUCKET_CHUNK_BATCHES * 3)
    batches = length_batches(src, tgt, 16, np.random.default_rng(0))
    spans = [int(src[b].max() - src[b].min()) for b in batches]
    assert np.mean(spans) < 1.0                     # a batch is (nearly) one source length
    firsts = [int(src[b].min()) for b in batches]
    assert firsts != sorted(firsts)                 # the batches come in shuffled order


def test_random_batches_are_the_books_permutation_slices():
    order = np.random.default_rng(3).permutation(100)
    batches = random_batches(100, 30, np.random.default_rng(3))
    assert len(batches) == batches_per_epoch(100, 30, False) == 3
    for k, b in enumerate(batches):
        np.testing.assert_array_equal(b, order[30 * k:30 * (k + 1)])


def test_pad_fraction_counts_what_training_batch_cuts():
    data = load_translation(SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt")
    src_len, tgt_len = sequence_lengths(data)
    batches = random_batches(len(src_len), 50, np.random.default_rng(0))
    pads = total = 0
    for idx in batches:
        src, tgt, _ = training_batch(data, idx)
        pads += int((src == data.pad_id).sum() + (tgt == data.pad_id).sum())
        total += src.size + tgt.size
    assert pad_fraction(batches, src_len, tgt_len) == pytest.approx(pads / total, abs=1e-12)
    assert pad_fraction([], src_len, tgt_len) == 0.0
    assert pad_fraction([np.array([0])], np.array([3]), np.array([5])) == 0.0


def test_a_length_batch_is_cut_narrower_than_a_random_one():
    data = load_translation(SAMPLES / "kor-eng" / "kor.sample.txt")
    widths = {}
    for by_length in (False, True):
        batches = epoch_batches(data, 32, np.random.default_rng(0), by_length)
        widths[by_length] = np.mean([training_batch(data, b)[0].shape[1] for b in batches])
    assert widths[True] < widths[False]


@pytest.mark.parametrize("path", [
    *whole_or_sample(DATA / "eng-fra" / "fra.tutorial-filter.txt",
                     SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"),
    *whole_or_sample(DATA / "kor-eng" / "kor.txt", SAMPLES / "kor-eng" / "kor.sample.txt")])
def test_batches_by_length_pad_less_than_random_batches_on_real_sentences(path):
    data = load_translation(path).split_validation(0.1, seed=0)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    report = pad_report(data, 32, rng)
    assert rng.bit_generator.state == before                 # the run's generator untouched
    assert report["by_length"] < 0.6 * report["random"], report
    lengths = sequence_lengths(data)
    first = epoch_batches(data, 32, np.random.default_rng(0), True)   # the run's 1st epoch
    assert report["by_length"] == pad_fraction(first, *lengths)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="must be two"):
        length_batches(np.ones(3), np.ones(4), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="must be at least 1"):
        length_batches(np.ones(3), np.ones(3), 0, np.random.default_rng(0))
