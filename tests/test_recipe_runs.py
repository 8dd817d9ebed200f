"""The Transformer recipe in training runs (issue 16): the inverse-square-root schedule
(its rates, and resume), checkpoint averaging (the mean of K state dicts, chosen on the
validation split only, kept across resume), shared embeddings over a joint vocabulary,
and the hostile values of the new options (one line, the exact message)."""
import json
from dataclasses import replace

import numpy as np
import pytest

import models.train as T
from models.char_dataset import load_dataset
from models.cli import main
from models.model_io import load_model
from models.train import TrainConfig, train
from models.train_state import (average_state_dicts, check_resume, load_state,
                                recent_weights, save_state)
from models.translation_dataset import load_translation
from tests.conftest import SAMPLES, only_error_line
from tinygrad_attn import checkpoint

FRA = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"
QUIET = dict(log=lambda *_: None)
TINY = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64"]


# ------------------------------------------------------------------------ the schedule
def test_inverse_sqrt_rates_follow_the_closed_form_per_batch():
    data = load_dataset(n_generated=200)                  # 180 training items: 2 batches
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, batch_size=64, epochs=4, lr=0.01,
                      lr_schedule="inverse-sqrt", warmup_steps=3)
    _, history = train(data, cfg, **QUIET)
    for h in history:                                       # the rate of the next step
        s = 2 * h["epoch"] + 1
        assert h["lr"] == pytest.approx(0.01 * min(s / 3, (3 / s) ** 0.5), rel=1e-12)
    _, history = train(data, replace(cfg, warmup_steps=None), **QUIET)
    assert history[0]["lr"] == pytest.approx(0.01 * (2 / 3) ** 0.5)   # warm-up: 2 batches


# ------------------------------------------------------------------------ averaging
def test_average_state_dicts_is_the_elementwise_mean_in_each_dtype():
    states = [{"w": np.full((2, 3), v, np.float32), "b": np.array([v, 2 * v])}
              for v in (1.0, 2.0, 6.0)]
    avg = average_state_dicts(states)
    np.testing.assert_array_equal(avg["w"], np.full((2, 3), 3.0, np.float32))
    np.testing.assert_array_equal(avg["b"], [3.0, 6.0])
    assert avg["w"].dtype == np.float32 and avg["b"].dtype == np.float64
    with pytest.raises(ValueError, match="does not have the names and shapes"):
        average_state_dicts([states[0], {"w": np.zeros((3, 2)), "b": np.zeros(2)}])
    with pytest.raises(ValueError, match="no state dicts"):
        average_state_dicts([])


def _scripted(monkeypatch, valid_scores):
    """Replace models.train.evaluate_output (which evaluate calls too): the validation
    calls return ``valid_scores`` in order, the test calls 0; returns the list of splits
    asked for, in order."""
    calls, scores = [], iter(valid_scores)

    def evaluate_output(model, data, *, split="test", **kw):
        calls.append(split)
        return {"accuracy": next(scores) if split == "valid" else 0.0}, None
    monkeypatch.setattr(T, "evaluate_output", evaluate_output)
    return calls


@pytest.mark.parametrize("average_score,chosen", [(0.6, "avg 2-3"), (0.45, 2), (0.5, 2)])
def test_the_average_is_one_more_candidate_chosen_on_validation_only(
        tmp_path, monkeypatch, average_score, chosen):
    calls = _scripted(monkeypatch, [0.2, 0.5, 0.4, average_score])
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, batch_size=64, epochs=3, average_last=2)
    _, history = train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run", **QUIET)
    assert calls[:4] == ["valid"] * 4 and set(calls[4:]) == {"test"}   # test after choosing
    res = history.results
    assert res["chosen_epoch"] == chosen and res["average"]["epochs"] == [2, 3]
    assert res["average"]["chosen"] == (chosen != 2)
    arrays, meta = load_state(tmp_path / "run" / "last.npz")
    saved, _ = checkpoint.load(tmp_path / "run" / "model.npz")
    recent = recent_weights(arrays, meta)
    assert [e for e, _ in recent] == [2, 3]
    want = average_state_dicts([w for _, w in recent]) if chosen != 2 else \
        {k[len("best."):]: v for k, v in arrays.items() if k.startswith("best.")}
    assert saved.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(saved[k], want[k])


def test_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    """inverse-sqrt, batches by length and averaging, stopped after epoch 2 and resumed."""
    argv = ["train", "--model", "attention", "--data", str(FRA), *TINY, "--max-pairs", "200",
            "--lr-schedule", "inverse-sqrt", "--warmup-steps", "3", "--average-last", "2"]
    assert main(argv + ["--epochs", "3", "--out", str(tmp_path / "a")]) == 0
    assert main(argv + ["--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert main(argv + ["--epochs", "3", "--out", str(tmp_path / "b"), "--resume"]) == 0
    for name in ("last.npz", "model.npz"):
        a, _ = checkpoint.load(tmp_path / "a" / name)
        b, _ = checkpoint.load(tmp_path / "b" / name)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name
    ha, hb = (json.loads((tmp_path / r / "history.json").read_text()) for r in "ab")
    assert [h["lr"] for h in ha] == [h["lr"] for h in hb]
    assert [h["pad_fraction"] for h in ha] == [h["pad_fraction"] for h in hb]
    ra, rb = (json.loads((tmp_path / r / "results.json").read_text()) for r in "ab")
    assert ra["chosen_epoch"] == rb["chosen_epoch"] and ra["average"] == rb["average"]


def test_the_kept_weights_round_trip_through_the_training_state(tmp_path):
    from tinygrad_attn import optim
    model = T.build_model(TrainConfig(hidden_size=4, wordvec_size=2), 6, 6)
    opt = optim.Adam(model.parameters(), lr=0.1)
    earlier = {k: v + 1 for k, v in model.state_dict().items()}
    save_state(tmp_path / "s.npz", model=model, optimizer=opt, scheduler=None,
               rng=np.random.default_rng(0), epoch=5, history=[], best={"epoch": 5},
               config={}, data_meta={}, recent=[(4, earlier), (5, model.state_dict())])
    arrays, meta = load_state(tmp_path / "s.npz")
    assert meta["recent_epochs"] == [4]
    (e4, w4), (e5, w5) = recent_weights(arrays, meta)
    assert (e4, e5) == (4, 5)
    assert all(np.array_equal(w4[k], earlier[k]) for k in earlier)
    del arrays[next(k for k in arrays if k.startswith("recent.4."))]
    with pytest.raises(Exception, match="weights of epoch 4 .* missing or mis-shaped"):
        recent_weights(arrays, meta)


def test_a_run_written_before_the_new_fields_resumes_with_random_batches():
    data = load_dataset(n_generated=50)
    old = {k: v for k, v in vars(TrainConfig()).items()
           if k not in ("warmup_steps", "bucket", "share_embeddings", "average_last",
                        "length_penalty")}
    meta = {"train_config": old, "data": data.metadata()}
    check_resume(meta, TrainConfig(bucket=False), data)
    with pytest.raises(ValueError, match=r"bucket=None \(the run has False\)"):
        check_resume(meta, TrainConfig(), data)


# ------------------------------------------------------------------ shared embeddings
def _copy_file(tmp_path):
    """A joint vocabulary: an English<->"French" file whose two sides are the same."""
    lines = [ln.split("\t")[0] for ln in FRA.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "fra.txt"
    path.write_text("".join(f"{s}\t{s}\n" for s in lines), encoding="utf-8")
    return path


def test_shared_embeddings_train_over_a_joint_vocabulary(tmp_path):
    data = load_translation(_copy_file(tmp_path))
    assert data.src_vocab == data.tgt_vocab
    cfg = TrainConfig(model="transformer", hidden_size=8, heads=2, ff_size=16, epochs=1,
                      batch_size=64, share_embeddings=True)
    model, _ = train(data, cfg, out_dir=tmp_path / "run", **QUIET)
    assert model.out.weight is model.src_embedding.weight is model.tgt_embedding.weight
    loaded, _, _ = load_model(tmp_path / "run" / "model.npz")
    np.testing.assert_array_equal(loaded.tgt_embedding.weight.data,
                                  model.src_embedding.weight.data)


def test_shared_embeddings_over_two_vocabularies_are_refused_before_any_folder(tmp_path):
    cfg = TrainConfig(model="transformer", hidden_size=8, heads=2, epochs=1,
                      share_embeddings=True)
    with pytest.raises(ValueError) as e:
        train(load_translation(FRA), cfg, out_dir=tmp_path / "run", **QUIET)
    assert str(e.value) == ("train: share_embeddings needs one joint vocabulary, but the "
                            "source and target vocabularies differ (637 and 521 tokens) (fix: "
                            "--joint-vocab, or drop --share-embeddings)")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ hostile options
ARG = "tinygrad-attn train: error: argument "
HELP = " (see tinygrad-attn train --help)"


@pytest.mark.parametrize("option,value,message", [
    ("--warmup-steps", "0", "must be an integer from 1 to 10,000,000, got 0"),
    ("--warmup-steps", "-1", "must be an integer from 1 to 10,000,000, got -1"),
    ("--warmup-steps", "nan", "'nan' is not an integer"),
    ("--warmup-steps", "2.5", "'2.5' is not an integer"),
    ("--warmup-steps", "99999999", "must be an integer from 1 to 10,000,000, got 99999999"),
    ("--average-last", "0", "must be an integer from 2 to 1,000, got 0"),
    ("--average-last", "1", "must be an integer from 2 to 1,000, got 1"),
    ("--average-last", "-3", "must be an integer from 2 to 1,000, got -3"),
    ("--average-last", "1000000", "must be an integer from 2 to 1,000, got 1000000"),
    ("--average-last", "nan", "'nan' is not an integer"),
    ("--length-penalty", "-1", "must be a number in [0, 10], got -1"),
    ("--length-penalty", "11", "must be a number in [0, 10], got 11"),
    ("--length-penalty", "nan", "'nan' is not a finite number (fix: pass a value such as "
                                "0.001)"),
])
def test_a_bad_value_of_a_new_option_is_one_exact_line(tmp_path, monkeypatch, capsys, option,
                                                       value, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", f"{option}={value}"]) == 2
    assert only_error_line(capsys) == f"{ARG}{option}: {message}{HELP}"
    assert list(tmp_path.iterdir()) == []


ADDS = SAMPLES / "dlfs2" / "addition.sample.txt"


@pytest.mark.parametrize("data,extra,message", [
    (ADDS, ["--warmup-steps", "10"], "--warmup-steps applies to --lr-schedule inverse-sqrt "
     "only (fix: drop --warmup-steps)"),
    (ADDS, ["--warmup-steps", "10", "--lr-schedule", "cosine"], "--warmup-steps applies to "
     "--lr-schedule inverse-sqrt only (fix: drop --warmup-steps)"),
    (ADDS, ["--share-embeddings"], "--share-embeddings applies to --model transformer only "
     "(fix: drop --share-embeddings)"),
    (ADDS, ["--bucket"], "--bucket applies to translation data only (the character tasks' "
     "items all have one length) (fix: drop --bucket)"),
    (ADDS, ["--no-bucket"], "--bucket applies to translation data only (the character tasks' "
     "items all have one length) (fix: drop --bucket)"),
    (ADDS, ["--length-penalty", "1"], "--length-penalty applies to beam search only (--beam 2 "
     "or more) (fix: drop --length-penalty)"),
    (ADDS, ["--average-last", "2", "--valid-fraction", "0"], "--average-last needs a "
     "validation split to choose on (--valid-fraction above 0) (fix: drop --average-last)"),
    (ADDS, ["--average-last", "5", "--epochs", "3"], "--average-last 5 is more than --epochs 3 "
     "(fix: average at most the epochs trained)"),
])
def test_a_new_option_that_would_be_ignored_is_refused_before_any_work(
        tmp_path, monkeypatch, capsys, data, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", str(data), *extra]) == 2
    assert only_error_line(capsys) == f"tinygrad-attn train: error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_shared_embeddings_with_the_command_lines_joint_vocabulary(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--model", "transformer", "--data", str(FRA), "--joint-vocab",
                 "--share-embeddings", "--hidden-size", "8", "--heads", "2", "--ff-size", "16",
                 "--epochs", "1", "--out", str(out)]) == 0
    model, meta, _ = load_model(out / "model.npz")
    assert meta["config"]["share_embeddings"] is True
    assert model.out.weight is model.src_embedding.weight


@pytest.mark.parametrize("field,value,message", [
    ("warmup_steps", 0, "train: warmup_steps=0 must be an integer >= 1 (fix: pass one)"),
    ("warmup_steps", 2.0, "train: warmup_steps=2.0 must be an integer >= 1 (fix: pass one)"),
    ("warmup_steps", 5, "train: warmup_steps=5 applies to lr_schedule='inverse-sqrt' only "
     "(fix: choose it, or drop warmup_steps)"),
    ("average_last", 1, "train: average_last=1 must be an integer >= 2 (fix: pass one)"),
    ("average_last", 9, "train: average_last=9 is more than epochs=4 (fix: average at most "
     "the epochs trained)"),
    ("length_penalty", float("nan"), "train: length_penalty=nan must be a number in [0, 10] "
     "(fix: see TrainConfig)"),
    ("bucket", "yes", "train: bucket='yes' must be None or True or False"),
    ("share_embeddings", True, "train: share_embeddings applies to the Transformer only (fix: "
     "model='transformer', or drop share_embeddings)"),
])
def test_train_checks_the_new_fields_in_the_api_too(tmp_path, field, value, message):
    cfg = replace(TrainConfig(hidden_size=8, wordvec_size=4), **{field: value})
    with pytest.raises(ValueError) as e:
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run", **QUIET)
    assert str(e.value) == message
    assert not (tmp_path / "run").exists()


def test_averaging_without_a_validation_split_is_refused_in_the_api(tmp_path):
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, average_last=2, valid_fraction=0.0)
    with pytest.raises(ValueError, match=r"^train: average_last needs a validation split to "
                                         r"choose on \(fix: a valid_fraction above 0, e\.g\. "
                                         r"0\.1\)$"):
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run", **QUIET)
