"""Small gaps of issue 16: the decode length follows the data (a character-tokenized target
longer than 40 decodes in full; an explicit --max-decode-len wins; eval and translate use
the checkpoint's recorded value; old checkpoints keep 40), train refuses an unknown cell or
init before any folder, the graph of a GRU model says its layers are composed, and
--share-embeddings works on the character tasks (one vocabulary already)."""
import json
from dataclasses import replace

import numpy as np
import pytest

from models import graphs
from models.char_dataset import load_dataset
from models.cli import main
from models.decode_length import DEFAULT_MAX_DECODE_LEN, default_max_decode_len
from models.model_io import load_model, save_model
from models.train import TrainConfig, predict, train
from models.transformer import Transformer
from models.translation_dataset import load_translation
from tests.conftest import SAMPLES

QUIET = dict(log=lambda *_: None)
#: 42 characters, each once: the next character follows from the last one, so a small GRU
#: learns the whole line in a few epochs.
LONG = "abcdefghijklmnopqrstuvwxyz0123456789!?,;:-"
#: Learns LONG in ~1 s on a busy core (3 epochs of 7 batches).
RECIPE = dict(model="seq2seq", cell="gru", init="pytorch", hidden_size=32, wordvec_size=16,
              batch_size=16, lr=0.03, epochs=3)
FRA = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"
DATE = SAMPLES / "dlfs2" / "date.sample.txt"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A pair file whose every English target is LONG (120 pairs; sources: 3 of x, y, z)."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("toy") / "toy.txt"
    path.write_text("".join(f"{LONG}\t{''.join(rng.choice(list('xyz'), 3))}\n"
                            for _ in range(120)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    """(data, model, history, run folder) of RECIPE on the toy, characters, no option."""
    data = load_translation(toy, tokenizer="char")
    out = tmp_path_factory.mktemp("run") / "run"
    model, history = train(data, TrainConfig(**RECIPE), out_dir=out, **QUIET)
    return data, model, history, out


# -- the default follows the data ---------------------------------------------------------
def test_one_outlier_does_not_set_the_length(tmp_path):
    # 150 targets of 30 characters and one of 500: the 99th percentile is 30, so 45
    path = tmp_path / "toy.txt"
    lines = [f"{'ab' * 15}\tx{i}\n" for i in range(150)] + [f"{'c' * 500}\ty\n"]
    path.write_text("".join(lines), encoding="utf-8")
    data = load_translation(path, tokenizer="char", max_len=None)
    longest = (data.tgt_train != data.pad_id).sum(axis=1).max() - 2
    assert longest == 500                                  # the outlier is a training target
    assert default_max_decode_len(data) == 30 + 15


def test_the_default_is_half_as_much_again_as_the_longest_training_target(toy):
    data = load_translation(toy, tokenizer="char")
    assert default_max_decode_len(data) == 42 + 21
    assert default_max_decode_len(data.split_validation(0.1, seed=0)) == 63  # valid counted
    assert default_max_decode_len(load_translation(FRA)) == DEFAULT_MAX_DECODE_LEN  # words
    assert default_max_decode_len(load_dataset(n_generated=50)) == DEFAULT_MAX_DECODE_LEN
    small = Transformer(len(data.src_vocab), len(data.tgt_vocab), d_model=8, nhead=2,
                        dim_feedforward=8, max_len=50)
    assert default_max_decode_len(data, small) == 50       # its position table's length


def test_a_char_target_longer_than_40_decodes_in_full_with_the_default(trained):
    data, model, history, out = trained
    assert history.config.max_decode_len == 63
    assert history.results["test_chosen"]["bleu"] == 100.0
    pred = predict(model, data.src_test, data, max_len=history.config.max_decode_len)
    assert all(data.decode_target(row) == LONG for row in pred)
    short = predict(model, data.src_test[:1], data, max_len=40)   # the old constant: cut
    assert data.decode_target(short[0]) == LONG[:40]
    _, meta, _ = load_model(out / "model.npz")
    assert meta["train_config"]["max_decode_len"] == 63
    assert json.loads((out / "config.json").read_text())["max_decode_len"] == 63


def test_an_explicit_max_decode_len_wins_and_is_recorded(toy, tmp_path):
    data = load_translation(toy, tokenizer="char")
    cfg = TrainConfig(**{**RECIPE, "epochs": 1}, max_decode_len=45)
    _, history = train(data, cfg, out_dir=tmp_path / "run", **QUIET)
    assert history.config.max_decode_len == 45
    _, meta, _ = load_model(tmp_path / "run" / "model.npz")
    assert meta["train_config"]["max_decode_len"] == 45


@pytest.mark.parametrize("value, message", [
    (0, "train: max_decode_len=0 must be an integer >= 1 (fix: pass one)"),
    (2.0, "train: max_decode_len=2.0 must be an integer >= 1 (fix: pass one)"),
    (True, "train: max_decode_len=True must be an integer >= 1 (fix: pass one)")])
def test_the_api_range_check_of_an_explicit_value_is_unchanged(tmp_path, value, message):
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, max_decode_len=value)
    with pytest.raises(ValueError) as e:
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run", **QUIET)
    assert str(e.value) == message and not (tmp_path / "run").exists()


def test_a_resumed_run_keeps_its_recorded_length(toy, tmp_path):
    """A run written when the default was 40 resumes with 40; a new one with its own."""
    data = load_translation(toy, tokenizer="char")
    for recorded in (40, None):
        out = tmp_path / f"run{recorded}"
        cfg = TrainConfig(**{**RECIPE, "epochs": 1}, max_decode_len=recorded)
        train(data, cfg, out_dir=out, **QUIET)
        _, history = train(data, replace(cfg, epochs=2, max_decode_len=None), out_dir=out,
                           resume=True, **QUIET)
        assert history.config.max_decode_len == (recorded or 63)
        assert len(history) == 2


# -- eval and translate use the recorded value ----------------------------------------------
def _translate(capsys, ckpt, *extra):
    assert main(["translate", str(ckpt), "xyz", "--quiet", *extra]) == 0
    return capsys.readouterr().out.strip()


def test_translate_and_eval_use_the_checkpoints_value_unless_told(trained, toy, capsys):
    _, _, _, out = trained
    assert _translate(capsys, out / "model.npz") == LONG
    assert _translate(capsys, out / "model.npz", "--max-decode-len", "40") == LONG[:40]
    assert main(["eval", str(out / "model.npz"), "--data", str(toy), "--examples", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"-> {LONG}\n" in printed and "BLEU 100.00" in printed
    assert main(["eval", str(out / "model.npz"), "--data", str(toy), "--examples", "2",
                 "--max-decode-len", "40"]) == 0
    printed = capsys.readouterr().out
    assert f"-> {LONG[:40]}\n" in printed and f"-> {LONG}\n" not in printed


@pytest.mark.parametrize("train_config", [{"max_decode_len": 40}, None])
def test_old_checkpoints_decode_40_tokens(trained, tmp_path, capsys, train_config):
    """Checkpoints written before the default followed the data record 40 (or, saved
    outside a training run, nothing): they decode 40 tokens as they did."""
    data, model, _, _ = trained
    extra = {"train_config": train_config} if train_config else None
    save_model(model, data, tmp_path / "old.npz", extra=extra)
    assert _translate(capsys, tmp_path / "old.npz") == LONG[:40]


@pytest.mark.parametrize("train_config, shown", [
    ({"max_decode_len": 0}, "train_config.max_decode_len=0"),
    ({"max_decode_len": "80"}, "train_config.max_decode_len='80'"),
    ({"max_decode_len": True}, "train_config.max_decode_len=True"),
    ({"max_decode_len": 10 ** 9}, "train_config.max_decode_len=1000000000"),
    ([1, 2], "train_config=[1, 2]")])
def test_a_crafted_recorded_length_is_one_line_naming_the_fix(trained, tmp_path, capsys,
                                                              train_config, shown):
    data, model, _, _ = trained
    path = tmp_path / "crafted.npz"
    save_model(model, data, path, extra={"train_config": train_config})
    for argv in (["translate", str(path), "xyz"], ["eval", str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == (f"tinygrad-attn {argv[0]}: error: checkpoint '{path}': {shown} is not "
                       f"an integer in 1..10,000 (fix: pass --max-decode-len N)\n")
    assert _translate(capsys, path, "--max-decode-len", "50") == LONG    # the option wins


# -- cell and init are checked before any folder ------------------------------------------
CHOICES = {"cell": "'lstm' or 'gru' (fix: pass cell='lstm' or cell='gru')",
           "init": "'book' or 'pytorch' (fix: pass init='book' or init='pytorch')"}


@pytest.mark.parametrize("field, value, shown", [
    ("cell", "rnn", "'rnn'"), ("cell", "GRU", "'GRU'"), ("cell", None, "None"),
    ("cell", ["gru"], "['gru']"), ("init", "xavier", "'xavier'"), ("init", 1, "1")])
@pytest.mark.parametrize("model", ["attention", "transformer"])
def test_an_unknown_cell_or_init_is_refused_before_any_folder(tmp_path, field, value,
                                                             shown, model):
    cfg = replace(TrainConfig(model=model, hidden_size=8, wordvec_size=4, heads=2),
                  **{field: value})
    with pytest.raises(ValueError) as e:
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run", **QUIET)
    must, fix = CHOICES[field].split(" (fix: ")
    assert str(e.value) == f"train: {field} must be {must}, got {shown} (fix: {fix}"
    assert list(tmp_path.iterdir()) == []


def test_a_long_bad_cell_is_cut_in_the_message(tmp_path):
    with pytest.raises(ValueError) as e:
        train(load_dataset(n_generated=200), TrainConfig(cell="x" * 10_000), **QUIET)
    assert len(str(e.value)) < 120 and "(fix: pass cell='lstm' or cell='gru')" in str(e.value)


# -- the graph of a GRU model -------------------------------------------------------------
SMALL = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "4"]


@pytest.mark.parametrize("lang, note, model", [
    ("en", "; GRU layers fused, as training runs them", "attention"),
    ("ko", "; GRU 층은 학습할 때처럼 융합", "bahdanau")],
    ids=["en", "ko"])
def test_the_graph_of_a_gru_model_says_its_layers_are_fused(tmp_path, capsys, lang, note,
                                                            model):
    out = tmp_path / "g.gv"
    assert main(["graph", "--model", model, "--cell", "gru", "--lang", lang, *SMALL, "-o",
                 str(out)]) == 0
    src = out.read_text()
    assert note in src
    assert "LSTM" not in src and "GRU" in src


def test_fused_note_follows_the_model():
    from models.seq2seq import Seq2Seq
    gru = Seq2Seq(13, 4, 6, cell="gru", seed=0)
    lstm = Seq2Seq(13, 4, 6, seed=0)
    assert graphs.fused_note(gru, True) == "; GRU layers fused, as training runs them"
    assert graphs.fused_note(gru, False) == "; GRU layers composed, step by step"
    assert graphs.fused_note(lstm, True) == "; LSTM layers fused, as training runs them"
    assert graphs.fused_note(lstm, False, "ko") == "; LSTM 층은 단계별 합성"


@pytest.mark.parametrize("flag, fused_ops", [("--fused", 1), ("--no-fused", 0)])
def test_fused_and_no_fused_choose_the_gru_layers_path(tmp_path, flag, fused_ops):
    out = tmp_path / "g.gv"
    assert main(["graph", "--model", "seq2seq", "--cell", "gru", "--detail", "ops", flag,
                 *SMALL, "-o", str(out)]) == 0
    assert ("GRUSequence" in out.read_text()) == bool(fused_ops)


# -- shared embeddings on the character tasks ----------------------------------------------
def test_share_embeddings_on_a_character_task_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--model", "transformer", "--share-embeddings", "--data", str(DATE),
                 "--hidden-size", "8", "--heads", "2", "--ff-size", "16", "--epochs", "1",
                 "--batch-size", "64", "--out", str(out)]) == 0
    model, meta, _ = load_model(out / "model.npz")
    assert meta["config"]["share_embeddings"] is True
    assert model.out.weight is model.src_embedding.weight is model.tgt_embedding.weight


def test_share_embeddings_on_translation_still_needs_the_joint_vocabulary(tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "transformer", "--share-embeddings", "--data",
                 str(FRA)]) == 2
    assert capsys.readouterr().err == (
        "tinygrad-attn train: error: --share-embeddings needs one vocabulary for both "
        "languages (fix: add --joint-vocab)\n")
    assert list(tmp_path.iterdir()) == []
