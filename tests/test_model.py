"""The attention seq2seq: float64 gradient check, training lowers the loss, greedy
decoding, and the command line end to end on a small file."""
import numpy as np
import pytest

import tinygrad_attn as tg
from models import AttentionSeq2Seq
from models.cli import main
from models.char_dataset import load_dataset
from models.date_task import generate_date_task
from models.decoding import greedy_decode
from models.metrics import exact_match
from models.train import TrainConfig, predict, train


def tiny_batch(V=7, N=2, S=4, T=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (N, S)), rng.integers(0, V, (N, T + 1))


@pytest.mark.parametrize("masked", [False, True])
def test_full_model_passes_float64_gradcheck(masked):
    model = AttentionSeq2Seq(7, wordvec_size=3, hidden_size=4, seed=1, init="pytorch")
    params = list(model.parameters())
    for p in params:
        p.data = p.data.astype(np.float64)
    src, answer = tiny_batch()
    mask = np.array([[False, False, True, True], [False, False, False, False]]) if masked else None
    assert tg.gradcheck(lambda *_: model.loss(src, answer, src_padding_mask=mask), params)


def test_forward_returns_attention_weights_over_the_source():
    model = AttentionSeq2Seq(7, wordvec_size=3, hidden_size=5, seed=0)
    src, answer = tiny_batch(N=3, S=6, T=4)
    logits, w = model(src, answer[:, :-1], return_attention=True)
    assert logits.shape == (3, 4, 7) and w.shape == (3, 4, 6)
    np.testing.assert_allclose(w.data.sum(-1), 1, rtol=1e-5)
    ids, gw = model.generate(src, start_id=0, length=4)
    assert ids.shape == (3, 4) and ids.dtype == np.int64 and gw.shape == (3, 4, 6)


def test_batched_greedy_decoding_equals_one_item_at_a_time():
    model = AttentionSeq2Seq(7, wordvec_size=3, hidden_size=5, seed=2)
    src, _ = tiny_batch(N=5, S=6)
    batch_ids, batch_w = model.generate(src, 0, 4)
    for i in range(5):
        ids, w = model.generate(src[i:i + 1], 0, 4)
        np.testing.assert_array_equal(ids[0], batch_ids[i])
        np.testing.assert_allclose(w[0], batch_w[i], rtol=1e-5, atol=1e-6)


def test_short_training_run_on_the_date_task_lowers_the_loss(tmp_path):
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(generate_date_task(1200, seed=5)) + "\n")
    data = load_dataset(path)
    cfg = TrainConfig(epochs=3, batch_size=32, hidden_size=32, wordvec_size=8, lr=5e-3)
    model, history = train(data, cfg, out_dir=tmp_path / "run", log=lambda *_: None)
    losses = [h["loss"] for h in history]
    assert losses[-1] < 0.8 * losses[0]
    first = model.loss(data.src_train[:64], data.tgt_train[:64]).item()
    fresh = AttentionSeq2Seq(len(data.vocab), 8, 32, seed=cfg.seed)
    assert first < fresh.loss(data.src_train[:64], data.tgt_train[:64]).item()
    for name in ("model.npz", "config.json", "history.json"):
        assert (tmp_path / "run" / name).exists()


def test_cosine_schedule_lowers_the_rate_to_zero_over_training(tmp_path):
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(generate_date_task(200, seed=6)) + "\n")
    data = load_dataset(path)
    cfg = dict(epochs=2, batch_size=32, hidden_size=8, wordvec_size=4, lr=1e-2)
    _, const = train(data, TrainConfig(**cfg), log=lambda *_: None)
    _, cos = train(data, TrainConfig(**cfg, lr_schedule="cosine"), log=lambda *_: None)
    assert [h["lr"] for h in const] == [1e-2, 1e-2]
    np.testing.assert_allclose([h["lr"] for h in cos], [5e-3, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="unknown lr_schedule 'step'.*fix: choose"):
        train(data, TrainConfig(**cfg, lr_schedule="step"), log=lambda *_: None)


@pytest.mark.parametrize("beam", [1, 3])
def test_decoding_batches_in_threads_gives_the_same_ids(tmp_path, beam):
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(generate_date_task(300, seed=7)) + "\n")
    data = load_dataset(path)
    model = AttentionSeq2Seq(len(data.vocab), 8, 16, seed=3)
    src = data.src_train[:90]
    alone = predict(model, src, data, beam=beam, batch_size=20, workers=1)
    threads = predict(model, src, data, beam=beam, batch_size=20, workers=3)
    assert alone.shape == (90, data.tgt_test.shape[1] - 1)
    np.testing.assert_array_equal(threads, alone)
    np.testing.assert_array_equal(predict(model, src[:20], data, beam=beam), alone[:20])


@pytest.mark.parametrize("n, cores, want", [(40, 2, [20, 20]), (41, 2, [21, 20]),
                                             (12, 2, [8, 4]), (5, 2, [5]), (40, 1, [40]),
                                             (600, 2, [500, 100]), (30, 4, [8, 8, 8, 6])])
def test_fewer_rows_than_cores_decode_in_one_batch_per_core_with_the_same_ids(
        tmp_path, monkeypatch, n, cores, want):
    # a single batch would run its products on a multi-thread BLAS, which stalls when
    # another process holds a core: it is cut into one batch per worker instead (at least
    # MIN_SPLIT_ROWS rows each), and every row decodes to the ids of the one-batch run
    import models.predict as P
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(generate_date_task(700, seed=7)) + "\n")
    data = load_dataset(path)
    model = AttentionSeq2Seq(len(data.vocab), 8, 16, seed=3)
    src = data.src_train[:n]
    one = predict(model, src, data, batch_size=n, workers=1)
    sizes = []
    real = P.greedy_decode
    monkeypatch.setattr(P, "available_cores", lambda: cores)
    monkeypatch.setattr(P, "greedy_decode", lambda m, x, *a, **k: (sizes.append(len(x)),
                                                                    real(m, x, *a, **k))[1])
    np.testing.assert_array_equal(predict(model, src, data), one)
    assert sorted(sizes, reverse=True) == want


def test_predict_with_its_default_max_len_decodes_translation_data(tmp_path):
    from models.train import DEFAULT_MAX_DECODE_LEN
    from models.translation_dataset import load_translation

    from .conftest import SAMPLES                    # real Tatoeba pairs, shipped in the repo
    lines = (SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt").read_text(
        encoding="utf-8").splitlines()
    path = tmp_path / "fra.txt"
    path.write_text("\n".join(lines[:200]) + "\n", encoding="utf-8")
    data = load_translation(path)
    model = AttentionSeq2Seq(len(data.src_vocab), 8, 16, tgt_vocab_size=len(data.tgt_vocab),
                             seed=3)
    ids = predict(model, data.src_test[:3], data)               # max_len=None: the default
    assert ids.shape == (3, DEFAULT_MAX_DECODE_LEN) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, predict(model, data.src_test[:3], data,
                                               max_len=DEFAULT_MAX_DECODE_LEN))
    assert predict(model, data.src_test[:0], data).shape == (0, DEFAULT_MAX_DECODE_LEN)


def test_command_line_train_translate_eval(tmp_path, capsys):
    path = tmp_path / "dates.txt"
    path.write_text("\n".join(generate_date_task(600, seed=7)) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--epochs", "1", "--hidden-size", "16",
                 "--wordvec-size", "8", "--batch-size", "32", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 1: loss" in text and "test exact match" in text and "s (train" in text
    assert main(["translate", str(out / "model.npz"), "september 27, 1994"]) == 0
    text = capsys.readouterr().out
    answer = text.splitlines()[0]
    assert len(answer) == 10
    assert "attention weights" in text
    for picture in ("curves.png", "attention.png"):           # what train leaves to look at
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    assert main(["translate", str(out / "model.npz"), "may 3, 2005", "--quiet",
                 "--plot", str(tmp_path / "attn.png")]) == 0
    assert (tmp_path / "attn.png").read_bytes()[:4] == b"\x89PNG"
    assert "saved the attention map" in capsys.readouterr().out
    assert main(["translate", str(out / "model.npz"), "may 3, 2005", "--beam", "2",
                 "--plot", str(tmp_path / "x.png")]) == 2
    assert "--plot draws the attention of greedy decoding" in capsys.readouterr().err
    assert main(["eval", str(out / "model.npz"), "--data", str(path)]) == 0
    assert "test exact match" in capsys.readouterr().out
    assert main(["translate", str(tmp_path / "nope.npz"), "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["translate", str(out / "model.npz"), "x" * 40]) == 2


def test_exact_match_counts_whole_answers():
    class Fixed:
        """Answers [1, 2] for the first item and [1, 3] for the second, whatever the input."""
        def encode(self, src, mask=None):
            return None

        def init_decoder(self, memory):
            return {"t": 0}

        def decode_step(self, prev, state):
            answers = np.array([[1, 2], [1, 3]])[: len(prev)]
            logits = np.eye(4)[answers[:, state["t"]]]
            return tg.Tensor(logits), {"t": state["t"] + 1}, None

    target = np.array([[0, 1, 2], [0, 1, 2]])
    pred = greedy_decode(Fixed(), np.zeros((2, 3), int), start_id=0, max_len=2)[0]
    assert exact_match(pred, target[:, 1:]) == 0.5 and pred.shape == (2, 2)


def test_eval_reads_only_the_data_the_user_names_and_explains_a_mismatch(tmp_path, capsys):
    path = tmp_path / "adds.txt"
    rng = np.random.default_rng(0)
    lines = [f"{a}+{b}".ljust(7) + "_" + str(a + b).ljust(4)
             for a, b in rng.integers(0, 100, (300, 2))]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--epochs", "1", "--hidden-size", "8",
                 "--wordvec-size", "4", "--batch-size", "64", "--out", str(out)]) == 0
    capsys.readouterr()
    # the checkpoint names adds.txt, but eval opens no file the user did not name
    assert main(["eval", str(out / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert "adds.txt" in err and "--data" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", str(out / "model.npz"), "--data", str(path)]) == 0
    assert "adds.txt" in capsys.readouterr().out
    dates = tmp_path / "dates.txt"
    dates.write_text("\n".join(generate_date_task(50, seed=1)) + "\n")
    assert main(["eval", str(out / "model.npz"), "--data", str(dates)]) == 2
    assert "fix: pass that file with --data" in capsys.readouterr().err


def test_compare_prints_one_row_per_model_and_writes_csv_and_plot(tmp_path, capsys):
    path = tmp_path / "adds.txt"
    rng = np.random.default_rng(1)
    path.write_text("\n".join(f"{a}+{b}".ljust(7) + "_" + str(a + b).ljust(4)
                              for a, b in rng.integers(0, 100, (300, 2))) + "\n")
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "seq2seq,peeky,attention", "--data", str(path),
                 "--epochs", "2", "--hidden-size", "8", "--wordvec-size", "4",
                 "--batch-size", "64", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [ln.split() for ln in text.splitlines() if ln.split()[:1] in (["seq2seq"], ["peeky"],
                                                                         ["attention"])]
    assert [r[0] for r in rows] == ["seq2seq", "peeky", "attention"]
    assert all(len(r) == 1 + 2 + 3 + 2 for r in rows)  # 2 valid epochs, chosen, 2 tests, s, params
    import json
    for r in rows:                     # the epoch is chosen on validation, the first best
        valid = [float(r[1]), float(r[2])]
        assert int(r[3]) == 1 + valid.index(max(valid))
        results = json.loads((out / r[0] / "results.json").read_text())
        assert results["chosen_epoch"] == int(r[3]) and results["chosen_on"] == "validation"
        assert float(r[4]) == round(100 * results["test_chosen"]["accuracy"], 2)
        assert float(r[5]) == round(100 * results["test_last"]["accuracy"], 2)
    import csv
    with open(out / "compare.csv") as f:
        records = list(csv.DictReader(f))
    assert [(r["model"], r["epoch"]) for r in records][:2] == [("seq2seq", "1"), ("seq2seq", "2")]
    assert [r["epoch"] for r in records].count("test") == 3
    assert len(records) == 9 and (out / "compare.png").stat().st_size > 1000
    assert main(["compare", "--models", "seq2seq,nope", "--data", str(path)]) == 2


@pytest.mark.parametrize("model", ["attention", "bahdanau", "transformer"])
def test_translation_train_translate_and_eval_from_the_command_line(tmp_path, capsys, model):
    from .conftest import SAMPLES                    # real Tatoeba pairs, shipped in the repo
    lines = (SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt").read_text(
        encoding="utf-8").splitlines()
    path = tmp_path / "fra.txt"                      # the file name gives the languages
    path.write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    out = tmp_path / model
    sizes = ["--heads", "2", "--ff-size", "16"] if model == "transformer" else \
        ["--wordvec-size", "8"]
    assert main(["train", "--model", model, "--data", str(path), "--epochs", "1",
                 "--hidden-size", "16", *sizes, "--batch-size", "32", "--out", str(out)]) == 0
    assert "test BLEU" in capsys.readouterr().out
    sentence = lines[0].split("\t")[1]
    assert main(["translate", str(out / "model.npz"), sentence]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() and "attention weights" in printed
    assert main(["translate", str(out / "model.npz"), sentence, "--beam", "3"]) == 0
    plot = tmp_path / "attn.svg"
    assert main(["translate", str(out / "model.npz"), sentence, "--quiet", "--plot",
                 str(plot)]) == 0
    svg = plot.read_text(encoding="utf-8")
    assert "<svg" in svg
    if model == "transformer":                                # one panel per head
        assert "head 1" in svg and "head 2" in svg and "head 3" not in svg
    else:
        assert "head 1" not in svg
    assert main(["eval", str(out / "model.npz"), "--data", str(path), "--examples", "1"]) == 0
    assert "BLEU" in capsys.readouterr().out
    assert main(["eval", str(out / "model.npz"), "--data", str(path), "--examples", "1",
                 "--beam", "2", "--length-penalty", "1.0"]) == 0
    assert "BLEU" in capsys.readouterr().out
