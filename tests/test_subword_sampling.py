"""Subword regularisation (issue 16, ``models/subword_sampling.py``, ``--subword-alpha``):
the option's hostile values (one exact line, nothing written), alpha 0 leaves the training
arrays as they are, alpha > 0 re-segments the training split every epoch (reproducibly,
detokenizing to the same text) and nothing else, a resumed run samples as an
uninterrupted one, and a run's checkpoint records the option, loads and translates.
Everything runs on ``samples/`` (a few seconds)."""
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import models.train as T
from models.cli import main
from models.model_io import load_model
from models.subword_sampling import (epoch_training_data, sample_ids, sampled_training_arrays,
                                     sampling_seed)
from models.train import TrainConfig, train
from models.train_state import check_resume, load_state
from models.translation_dataset import load_translation
from tests.conftest import SAMPLES, only_error_line
from tinygrad_attn import checkpoint

KOR = SAMPLES / "kor-eng" / "kor.sample.txt"
FRA = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"     # shorter: the training runs
ADDS = SAMPLES / "dlfs2" / "addition.sample.txt"
QUIET = dict(log=lambda *_: None)
TINY = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "32"]
BPE = ["--tokenizer", "bpe", "--vocab-size", "800", "--no-lower"]   # 504 characters + merges
FRA_BPE = ["--tokenizer", "bpe", "--vocab-size", "200", "--no-lower"]
_LOADED = {}


def _data(tokenizer="bpe", **kw):
    """kor.sample.txt (380 pairs) with a sentencepiece tokenizer, and a validation split."""
    key = (tokenizer, tuple(sorted(kw.items())))
    if key not in _LOADED:
        _LOADED[key] = load_translation(KOR, tokenizer=tokenizer, vocab_size=800, lower=False,
                                        **kw).split_validation(0.1, seed=0)
    return _LOADED[key]


# ------------------------------------------------------------------ hostile values
RANGE = "must be a number in [0, 1], got"


@pytest.mark.parametrize("command", ["train", "compare"])
@pytest.mark.parametrize("value,message", [
    ("nan", "'nan' is not a finite number (fix: pass a value such as 0.001)"),
    ("inf", "'inf' is not a finite number (fix: pass a value such as 0.001)"),
    ("-0.1", f"{RANGE} -0.1"), ("1.5", f"{RANGE} 1.5"), ("1e9", f"{RANGE} 1e9"),
    ("often", "'often' is not a number"), ("", "'' is not a number"),
])
def test_a_bad_alpha_is_one_exact_line_before_any_work(tmp_path, monkeypatch, capsys, command,
                                                       value, message):
    monkeypatch.chdir(tmp_path)
    assert main([command, "--data", str(KOR), *BPE, f"--subword-alpha={value}"]) == 2
    assert only_error_line(capsys) == (f"tinygrad-attn {command}: error: argument --subword-alpha: "
                                   f"{message} (see tinygrad-attn {command} --help)")
    assert list(tmp_path.iterdir()) == []


NOT_SUBWORDS = ("--subword-alpha applies to --tokenizer bpe and unigram only (it re-segments "
                "their training sentences) (fix: drop --subword-alpha)")


@pytest.mark.parametrize("command", ["train", "compare"])
@pytest.mark.parametrize("extra,message", [
    (["--data", str(KOR), "--subword-alpha", "0.1"], NOT_SUBWORDS),
    (["--data", str(KOR), "--tokenizer", "char", "--subword-alpha", "0.1"], NOT_SUBWORDS),
    (["--data", str(ADDS), "--subword-alpha", "0.1"], NOT_SUBWORDS),
    (["--data", str(KOR), *BPE, "--subword-alpha", "1"], "--subword-alpha 1 drops every "
     "merge of --tokenizer bpe, leaving characters (fix: a value below 1, e.g. 0.1, or "
     "--tokenizer char)"),
])
def test_an_alpha_the_tokenizer_cannot_use_is_refused_before_any_work(
        tmp_path, monkeypatch, capsys, command, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main([command, *extra]) == 2
    assert only_error_line(capsys) == f"tinygrad-attn {command}: error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_the_graph_command_has_no_such_option(capsys):
    assert main(["graph", "--subword-alpha", "0.1"]) == 2
    assert only_error_line(capsys) == ("tinygrad-attn: error: unrecognized arguments: "
                                   "--subword-alpha 0.1 (see tinygrad-attn --help)")


@pytest.mark.parametrize("tokenizer,alpha,message", [
    ("word", 0.1, "train: subword_alpha=0.1 re-segments sentencepiece pieces, but the data's "
     "tokenizer is word (fix: load translation data with tokenizer 'bpe' or 'unigram', or "
     "subword_alpha=0)"),
    ("char", 0.5, "train: subword_alpha=0.5 re-segments sentencepiece pieces, but the data's "
     "tokenizer is char (fix: load translation data with tokenizer 'bpe' or 'unigram', or "
     "subword_alpha=0)"),
    ("bpe", 1.0, "train: subword_alpha=1.0 drops every merge of the bpe tokenizer, leaving "
     "characters (fix: a value below 1, e.g. 0.1)"),
    ("bpe", float("nan"), "train: subword_alpha=nan must be a number in [0, 1] (fix: see "
     "TrainConfig)"),
    ("unigram", -0.5, "train: subword_alpha=-0.5 must be a number in [0, 1] (fix: see "
     "TrainConfig)"),
    ("unigram", 2.0, "train: subword_alpha=2.0 must be a number in [0, 1] (fix: see "
     "TrainConfig)"),
    ("unigram", "0.1", "train: subword_alpha='0.1' must be a number in [0, 1] (fix: see "
     "TrainConfig)"),
    ("unigram", True, "train: subword_alpha=True must be a number in [0, 1] (fix: see "
     "TrainConfig)"),
])
def test_train_checks_alpha_in_the_api_before_any_folder(tmp_path, tokenizer, alpha, message):
    data = load_translation(KOR, tokenizer=tokenizer, vocab_size=800 if tokenizer in
                            ("bpe", "unigram") else None, lower=False)
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, epochs=1, batch_size=32,
                      subword_alpha=alpha)
    with pytest.raises(ValueError) as e:
        train(data, cfg, out_dir=tmp_path / "run", **QUIET)
    assert str(e.value) == message
    assert not (tmp_path / "run").exists()


def test_a_character_task_refuses_alpha_in_the_api(tmp_path):
    from models.char_dataset import load_dataset
    with pytest.raises(ValueError) as e:
        train(load_dataset(n_generated=200), TrainConfig(subword_alpha=0.2),
              out_dir=tmp_path / "run", **QUIET)
    assert str(e.value) == ("train: subword_alpha=0.2 re-segments sentencepiece pieces, but "
                            "the data is not sentence pairs (fix: load translation data with "
                            "tokenizer 'bpe' or 'unigram', or subword_alpha=0)")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ the arrays
@pytest.mark.parametrize("tokenizer,kw", [("bpe", {}), ("unigram", {}),
                                          ("bpe", {"reverse_source": True}),
                                          ("unigram", {"joint_vocab": True})])
def test_alpha_zero_leaves_the_training_arrays_as_they_are(tokenizer, kw):
    data = _data(tokenizer, **kw)
    same, stats = epoch_training_data(data, TrainConfig(), 1)
    assert same is data and stats == {}
    # and the layout the sampler writes is the loader's, bit for bit, when it samples nothing
    src, tgt, stats = sampled_training_arrays(data, 0.0, sampling_seed(0, 1))
    assert src.dtype == tgt.dtype == np.int64
    np.testing.assert_array_equal(src, data.src_train)
    np.testing.assert_array_equal(tgt, data.tgt_train)
    assert stats == {"subword_tokens": 1.0, "subword_kept": 0}


@pytest.mark.parametrize("tokenizer,alpha", [("bpe", 0.1), ("unigram", 0.2), ("unigram", 1.0)])
def test_alpha_resegments_the_training_split_every_epoch_and_nothing_else(tokenizer, alpha):
    data = _data(tokenizer)
    cfg = TrainConfig(subword_alpha=alpha, seed=3)
    one, stats = epoch_training_data(data, cfg, 1)
    two, _ = epoch_training_data(data, cfg, 2)
    again, _ = epoch_training_data(data, cfg, 1)
    other, _ = epoch_training_data(data, replace(cfg, seed=4), 1)
    rows = lambda d: [tuple(r[r != 0]) for r in d.tgt_train]  # noqa: E731
    changed = sum(a != b for a, b in zip(rows(one), rows(two)))
    assert 0 < changed < len(data.tgt_train)                  # some, between epochs
    assert sum(a != b for a, b in zip(rows(data), rows(one))) > 0
    assert rows(one) == rows(again) and np.array_equal(one.src_train, again.src_train)
    assert rows(one) != rows(other)                           # the seed matters
    assert stats["subword_tokens"] > 1.0 if tokenizer == "bpe" else stats["subword_tokens"] > 0
    for d in (one, two):                                     # every row: <sos> ... <eos> <pad>*
        assert (d.tgt_train[:, 0] == data.start_id).all()
        assert ((d.tgt_train == data.eos_id).sum(axis=1) == 1).all()
        assert len(d.src_train) == len(data.src_train)
        for name in ("src_valid", "tgt_valid", "src_test", "tgt_test", "train_pairs",
                     "valid_pairs", "test_pairs", "src_vocab", "tgt_vocab"):
            assert getattr(d, name) is getattr(data, name), name


@given(st.sampled_from(["bpe", "unigram"]), st.floats(0.01, 0.9),
       st.integers(0, 2 ** 32 - 2), st.lists(st.integers(0, 300), min_size=1, max_size=8))
def test_every_sampled_segmentation_detokenizes_to_the_deterministic_text(
        tokenizer, alpha, seed, rows):
    data = _data(tokenizer)
    for side, tok, vocab in ((0, data.src_tokenizer, data.src_vocab),
                             (1, data.tgt_tokenizer, data.tgt_vocab)):
        texts = [data.train_pairs[i][side] for i in rows]
        for text, ids in zip(texts, sample_ids(tok, texts, alpha, seed)):
            pieces = vocab.lookup_tokens(ids)
            assert tok.detokenize(pieces) == tok.detokenize(tok.tokenize(text)) == \
                tok.normalize(text)


def test_a_sampled_sentence_longer_than_the_position_table_keeps_its_own_segmentation():
    """A Transformer takes at most ``longest`` source pieces and ``longest`` decoder inputs
    (<sos> + target pieces); a longer sample falls back to the deterministic segmentation
    (which the model takes, or the run would fail without sampling too)."""
    data = _data("bpe")
    src_len, tgt_len = (data.src_train != 0).sum(axis=1), (data.tgt_train != 0).sum(axis=1)
    longest = int(max(src_len.max(), tgt_len.max() - 1))
    src, tgt, stats = sampled_training_arrays(data, 0.5, sampling_seed(0, 1), longest=longest)
    new_src, new_tgt = (src != 0).sum(axis=1), (tgt != 0).sum(axis=1)
    assert (new_src <= longest).all() and (new_tgt - 1 <= longest).all()
    assert stats["subword_kept"] > 0
    free_src, free_tgt, free = sampled_training_arrays(data, 0.5, sampling_seed(0, 1))
    assert free["subword_kept"] == 0 and free["subword_tokens"] > stats["subword_tokens"]
    too_long = ((free_src != 0).sum(axis=1) > longest) | ((free_tgt != 0).sum(axis=1) - 1 >
                                                          longest)
    assert too_long.sum() > 0
    for i in np.flatnonzero(too_long):       # that side is the loader's row, the other sampled
        a, b = (src[i][src[i] != 0], data.src_train[i][data.src_train[i] != 0]), \
            (tgt[i][tgt[i] != 0], data.tgt_train[i][data.tgt_train[i] != 0])
        assert any(np.array_equal(x, y) for x, y in (a, b))


# ------------------------------------------------------------------ training runs
def test_training_samples_each_epoch_and_evaluates_the_deterministic_split(monkeypatch):
    seen, scored = [], []
    real_epoch, real_eval = T._train_epoch, T.evaluate_output     # evaluate calls it too

    def spy_epoch(model, d, *args):
        seen.append(d.tgt_train.copy())
        return real_epoch(model, d, *args)

    def spy_eval(model, d, **kw):
        scored.append((d.src_valid, d.tgt_valid, d.src_test, d.src_train))
        return real_eval(model, d, **kw)

    monkeypatch.setattr(T, "_train_epoch", spy_epoch)
    monkeypatch.setattr(T, "evaluate_output", spy_eval)
    cfg = TrainConfig(model="bahdanau", cell="gru", hidden_size=8, wordvec_size=4, epochs=2,
                      batch_size=32, subword_alpha=0.1, valid_fraction=0.1)
    _, history = train(load_translation(FRA, tokenizer="bpe", vocab_size=200, lower=False),
                       cfg, **QUIET)
    first, second = seen
    assert first.shape != second.shape or not np.array_equal(first, second)
    assert all(h["subword_tokens"] > 1.0 and h["subword_kept"] == 0 for h in history)
    deterministic = load_translation(FRA, tokenizer="bpe", vocab_size=200, lower=False) \
        .split_validation(0.1, seed=0)     # the run's split: seed 0, fraction 0.1
    for src_valid, tgt_valid, src_test, src_train in scored:
        np.testing.assert_array_equal(src_valid, deterministic.src_valid)
        np.testing.assert_array_equal(tgt_valid, deterministic.tgt_valid)
        np.testing.assert_array_equal(src_test, deterministic.src_test)
        np.testing.assert_array_equal(src_train, deterministic.src_train)


def test_a_run_records_alpha_its_checkpoint_translates_and_resume_keeps_it(tmp_path, capsys):
    argv = ["train", "--model", "bahdanau", "--cell", "gru", "--data", str(FRA), *FRA_BPE,
            *TINY, "--max-pairs", "200", "--subword-alpha", "0.1"]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main(argv + ["--epochs", "2", "--out", a]) == 0
    assert "subword regularisation: the training sentences are re-segmented every epoch " \
           "(BPE-dropout, merge dropped with probability 0.1" in capsys.readouterr().out
    _, meta, _ = load_model(tmp_path / "a" / "model.npz")
    assert meta["train_config"]["subword_alpha"] == 0.1
    assert json.loads((tmp_path / "a" / "config.json").read_text())["subword_alpha"] == 0.1
    assert main(["translate", str(tmp_path / "a" / "model.npz"), "Je suis là.", "--quiet"]) == 0
    assert capsys.readouterr().out.count("\n") == 1      # one line (a tiny model: maybe empty)
    # stopped after epoch 1 and resumed: the same weights as the uninterrupted run
    assert main(argv + ["--epochs", "1", "--out", b]) == 0
    assert main(argv + ["--epochs", "2", "--out", b, "--resume"]) == 0
    wa, _ = checkpoint.load(tmp_path / "a" / "last.npz")
    wb, _ = checkpoint.load(tmp_path / "b" / "last.npz")
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    # resuming with another alpha is refused, naming it
    _, state = load_state(tmp_path / "a" / "last.npz")
    data = load_translation(FRA, tokenizer="bpe", vocab_size=200, lower=False, max_pairs=200)
    cfg = TrainConfig(**{**state["train_config"], "subword_alpha": 0.2})
    with pytest.raises(ValueError, match=r"subword_alpha=0\.2 \(the run has 0\.1\)"):
        check_resume(state, cfg, data)
