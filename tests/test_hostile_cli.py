"""Hostile inputs, category "command-line options": every bad value or combination of the
``tinygrad-attn`` options is one line on stderr that names the option and the accepted
range or a fix, exit status 2, before any work (no folder made, no file read or written)."""
import numpy as np
import pytest

from models.cli import main

TINY = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64", "--epochs", "1"]


@pytest.fixture
def adds(tmp_path):
    """A small file of the book's addition task (300 lines, question_answer format)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "adds.txt"
    path.write_text("\n".join(f"{a}+{b}".ljust(7) + "_" + str(a + b).ljust(4)
                              for a, b in rng.integers(0, 100, (300, 2))) + "\n")
    return path


def _one_line_error(capsys, *words):
    out, err = capsys.readouterr()
    # the progress bar (tqdm, on stderr, erased with carriage returns) is not a message
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not ln.startswith("epoch ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error" in lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# (option, bad value, words the message must hold)
BAD_TRAIN_VALUES = [
    ("--epochs", "0", "from 1"), ("--epochs", "-1", "from 1"), ("--epochs", "1.5", "integer"),
    ("--epochs", "four", "integer"), ("--epochs", "", "integer"),
    ("--epochs", "1000000", "100,000"),
    ("--batch-size", "0", "from 1"), ("--batch-size", "-5", "from 1"),
    ("--batch-size", "2.5", "integer"), ("--batch-size", "nan", "integer"),
    ("--wordvec-size", "0", "from 1"), ("--wordvec-size", "-4", "from 1"),
    ("--wordvec-size", "100000", "16,384"),
    ("--hidden-size", "0", "from 1"), ("--hidden-size", "-3", "from 1"),
    ("--hidden-size", "99999999", "16,384"), ("--hidden-size", "inf", "integer"),
    ("--num-layers", "0", "from 1"), ("--num-layers", "65", "64"),
    ("--dropout", "-0.1", "[0, 1)"), ("--dropout", "1", "[0, 1)"), ("--dropout", "1.5", "[0, 1)"),
    ("--dropout", "nan", "finite"), ("--dropout", "inf", "finite"),
    ("--heads", "0", "from 1"), ("--ff-size", "0", "from 1"),
    ("--lr", "0", "> 0"), ("--lr", "-1", "> 0"), ("--lr", "nan", "finite"),
    ("--lr", "inf", "finite"), ("--lr", "-inf", "finite"), ("--lr", "fast", "number"),
    ("--clip", "0", "> 0"), ("--clip", "-1", "> 0"), ("--clip", "nan", "finite"),
    ("--teacher-forcing", "-0.1", "[0, 1]"), ("--teacher-forcing", "1.1", "[0, 1]"),
    ("--teacher-forcing", "nan", "finite"),
    ("--label-smoothing", "-0.1", "[0, 1)"), ("--label-smoothing", "1", "[0, 1)"),
    ("--max-len", "0", ">= 1"), ("--max-len", "-1", ">= 1"),
    ("--min-freq", "0", ">= 1"), ("--max-pairs", "0", ">= 1"), ("--max-pairs", "-2", ">= 1"),
    ("--beam", "0", "from 1"), ("--beam", "-1", "from 1"), ("--beam", "1000", "256"),
    ("--max-decode-len", "0", "from 1"), ("--max-decode-len", "-1", "from 1"),
    ("--max-minutes", "0", "> 0"), ("--max-minutes", "-1", "> 0"),
    ("--max-minutes", "nan", "finite"),
    ("--valid-fraction", "-0.1", "[0, 0.9]"), ("--valid-fraction", "0.95", "[0, 0.9]"),
    ("--valid-fraction", "nan", "finite"),
    ("--seed", "-1", "from 0"), ("--seed", str(2 ** 32), "4,294,967,295"),
    ("--seed", "1.5", "integer"),
    ("--lr-schedule", "linear", "invalid choice"), ("--model", "gpt", "invalid choice"),
    ("--score", "cosine", "invalid choice"), ("--nonfinite", "ignore", "invalid choice"),
]


@pytest.mark.parametrize("option,value,words", BAD_TRAIN_VALUES)
def test_a_bad_training_option_is_one_line_before_any_work(tmp_path, monkeypatch, capsys,
                                                           option, value, words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", f"{option}={value}"]) == 2
    _one_line_error(capsys, option, words)
    assert list(tmp_path.iterdir()) == []          # no runs/ folder, nothing written


@pytest.mark.parametrize("argv,words", [
    (["translate", "m.npz", "x", "--beam", "0"], "--beam"),
    (["translate", "m.npz", "x", "--alpha", "nan"], "--alpha"),
    (["translate", "m.npz", "x", "--alpha", "-1"], "--alpha"),
    (["translate", "m.npz", "x", "--max-decode-len", "0"], "--max-decode-len"),
    (["eval", "m.npz", "--beam", "0"], "--beam"),
    (["eval", "m.npz", "--examples", "-1"], "--examples"),
    (["eval", "m.npz", "--max-decode-len", "-5"], "--max-decode-len"),
    (["eval", "m.npz", "--length-penalty", "nan"], "--length-penalty"),
    (["eval", "m.npz", "--alpha", "-1"], "--length-penalty"),
    (["graph", "--max-nodes", "0"], "--max-nodes"),
    (["graph", "--max-nodes", "-1"], "--max-nodes"),
    (["compare", "--epochs", "0"], "--epochs"),
    (["compare", "--lr", "nan"], "--lr"),
    (["train", "--resume", "--overwrite", "--out", "x"], "not allowed with"),
    (["frobnicate"], "invalid choice"),
    (["translate"], "required"),
])
def test_other_commands_check_their_options_too(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_line_error(capsys, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra,words", [
    (["--score", "general", "--model", "seq2seq"], "--score applies to --model attention"),
    (["--input-feeding", "--model", "peeky"], "--input-feeding applies to --model attention"),
    (["--heads", "2", "--model", "attention"], "--heads applies to --model transformer"),
    (["--ff-size", "8", "--model", "seq2seq"], "--ff-size applies to --model transformer"),
    (["--residual"], "--residual needs --num-layers 2"),
    (["--bidirectional", "--model", "transformer"], "--bidirectional does not apply"),
    (["--wordvec-size", "8", "--model", "transformer"], "--wordvec-size does not apply"),
    (["--model", "transformer", "--hidden-size", "10", "--heads", "4"], "not divisible"),
    (["--direction", "fra-eng"], "--direction applies to translation"),
    (["--max-len", "5"], "--max-len applies to translation"),
    (["--min-freq", "2"], "--min-freq applies to translation"),
    (["--max-pairs", "10"], "--max-pairs applies to translation"),
    (["--no-lower"], "--lower applies to translation"),
    (["--max-decode-len", "5"], "--max-decode-len applies to translation"),
    (["--resume"], "--resume needs --out"),
    (["--overwrite"], "--overwrite needs --out"),
])
@pytest.mark.parametrize("command", ["train", "compare"])
def test_options_the_data_or_model_would_ignore_are_refused(tmp_path, monkeypatch, capsys,
                                                            adds, command, extra, words):
    monkeypatch.chdir(tmp_path)
    if command == "compare" and "--model" in extra:     # compare names its models itself
        i = extra.index("--model")
        extra = extra[:i] + ["--models", extra[i + 1]] + extra[i + 2:]
    assert main([command, "--data", str(adds), *extra]) == 2
    _one_line_error(capsys, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adds.txt"]


@pytest.mark.parametrize("models", ["seq2seq,seq2seq", "nope", "", ",", "attention,gpt"])
def test_compare_refuses_a_bad_model_list(tmp_path, monkeypatch, capsys, adds, models):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--models", models, "--data", str(adds)]) == 2
    _one_line_error(capsys, "--models")


@pytest.mark.parametrize("text,words", [("", "is empty"), ("   ", "is empty"),
                                        ("\t", "is empty"), ("word " * 2000, "at most 5,000")])
def test_translate_refuses_empty_or_huge_input_before_loading(tmp_path, capsys, text, words):
    assert main(["translate", str(tmp_path / "missing.npz"), text]) == 2
    _one_line_error(capsys, "input text", words)


@pytest.mark.parametrize("plot,words", [
    ("{tmp}", "is a folder"), ("{tmp}/attn.bmp", "end the name in one of .png, .svg, .pdf"),
    ("{tmp}/attn", "the name has no extension"), ("{tmp}/no/such/attn.png", "does not exist"),
])
def test_translate_checks_the_plot_path_before_loading(tmp_path, capsys, plot, words):
    ckpt = tmp_path / "missing.npz"                 # never opened: the path check comes first
    assert main(["translate", str(ckpt), "1+2", "--plot", plot.format(tmp=tmp_path)]) == 2
    _one_line_error(capsys, "--plot", words)


def test_beam_with_plot_is_refused_before_loading(tmp_path, capsys):
    assert main(["translate", str(tmp_path / "missing.npz"), "1+2", "--beam", "2", "--plot",
                 str(tmp_path / "a.png")]) == 2
    _one_line_error(capsys, "drop --beam or --plot")


def test_a_batch_larger_than_the_training_data_is_refused_before_training(tmp_path, capsys,
                                                                           adds):
    assert main(["train", "--data", str(adds), "--batch-size", "5000", "--out",
                 str(tmp_path / "run")]) == 2
    _one_line_error(capsys, "fewer than one batch", "--batch-size")
    assert not (tmp_path / "run").exists()          # the claimed folder is given back


def test_a_huge_learning_rate_stops_training_at_the_first_non_finite_loss(tmp_path, capsys,
                                                                          adds):
    out = tmp_path / "run"
    assert main(["train", "--data", str(adds), *TINY, "--epochs", "2", "--lr", "1e38",
                 "--out", str(out)]) == 1
    line = _one_line_error(capsys, "epoch 1, step", "fix: lower --lr")
    assert "nan" in line or "inf" in line
    assert not (out / "model.npz").exists() and not (out / "last.npz").exists()


def test_skipping_non_finite_steps_keeps_the_weights_finite(tmp_path, adds):
    from models.char_dataset import load_dataset
    from models.train import TrainConfig, train
    data = load_dataset(adds)
    model, history = None, None
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, batch_size=32, epochs=1, nonfinite="skip")
    from models.train import build_model
    model = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
    real_loss, calls = model.loss, []

    def loss(*a, **k):                              # every third step's loss is NaN
        calls.append(1)
        out = real_loss(*a, **k)
        return out * float("nan") if len(calls) % 3 == 0 else out
    model.loss = loss
    model, history = train(data, cfg, out_dir=tmp_path / "run", log=lambda *_: None,
                           model=model)
    h = history[0]
    assert h["skipped_steps"] == len(calls) // 3 > 0
    assert h["steps"] == len(calls) - h["skipped_steps"]
    assert np.isfinite(h["loss"]) and all(np.isfinite(p.data).all() for p in model.parameters())


def test_a_nan_loss_names_the_epoch_and_step_and_saves_nothing(tmp_path, adds):
    from models.char_dataset import load_dataset
    from models.train import NonFiniteError, TrainConfig, build_model, train
    data = load_dataset(adds)
    cfg = TrainConfig(hidden_size=8, wordvec_size=4, batch_size=32, epochs=2)
    model = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
    real_loss, calls = model.loss, []

    def loss(*a, **k):                              # the 9th step (epoch 2, step 2) is NaN
        calls.append(1)
        out = real_loss(*a, **k)
        return out * float("nan") if len(calls) == 9 else out
    model.loss = loss
    with pytest.raises(NonFiniteError, match=r"the loss is nan at epoch 2, step 2 of 7"):
        train(data, cfg, out_dir=tmp_path / "run", log=lambda *_: None, model=model)
    from tinygrad_attn import checkpoint
    _, meta = checkpoint.load(tmp_path / "run" / "last.npz")
    assert meta["epoch"] == 1                        # epoch 1 kept, epoch 2 never saved


@pytest.mark.parametrize("beam,vocab,want", [(1, 60, 500), (4, 3000, 500), (256, 3000, 21),
                                             (256, 10 ** 6, 1)])
def test_a_wide_beam_over_a_large_vocabulary_decodes_in_smaller_batches(beam, vocab, want):
    from types import SimpleNamespace

    from models.predict import DECODE_BUDGET, _decode_batch_size
    d = SimpleNamespace(tgt_vocab=range(vocab))
    assert _decode_batch_size(500, beam, d) == want
    assert want == 1 or want * beam * vocab <= DECODE_BUDGET


@pytest.mark.parametrize("field,value", [
    ("epochs", 0), ("epochs", 1.5), ("batch_size", True), ("hidden_size", -1), ("seed", -1),
    ("lr", 0.0), ("lr", float("nan")), ("max_grad_norm", float("inf")), ("dropout", 1.0),
    ("teacher_forcing", 1.5), ("label_smoothing", -0.1), ("valid_fraction", 0.95),
    ("lr_schedule", "linear"), ("nonfinite", "ignore"), ("max_minutes", 0.0)])
def test_train_checks_its_config_in_the_api_too(tmp_path, field, value):
    from dataclasses import replace

    from models.char_dataset import load_dataset
    from models.train import TrainConfig, train
    cfg = replace(TrainConfig(hidden_size=8, wordvec_size=4, epochs=1), **{field: value})
    with pytest.raises(ValueError, match=f"train: .*{field}"):
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()            # refused before any folder is made


def test_the_command_line_and_train_refuse_the_same_values_at_every_range_end():
    """One table of ranges (train.CONFIG_RANGES): each option that sets a TrainConfig field
    takes exactly the values train takes, up to the command line's own caps."""
    import argparse

    from models.cli_options import CLI_CAPS, config_type
    from models.train import CONFIG_RANGES
    for field, interval in CONFIG_RANGES.items():
        parse, eps = config_type(field), 1 if interval.kind is int else 1e-9
        ends = [interval.low] + ([] if interval.high is None else [interval.high])
        for value in [v + d for v in ends for d in (-eps, 0, eps)]:
            value = interval.kind(value)
            if field in CLI_CAPS and value > CLI_CAPS[field]:
                continue
            try:
                parse(repr(value))
                taken = True
            except argparse.ArgumentTypeError:
                taken = False
            assert taken == (value in interval), (field, value)
        if field in CLI_CAPS:                                # the cap itself, and past it
            assert parse(str(CLI_CAPS[field])) == CLI_CAPS[field]
            with pytest.raises(argparse.ArgumentTypeError, match=f"{CLI_CAPS[field]:,}"):
                parse(str(CLI_CAPS[field] + 1))


# -- issue 16, helper A: --max-decode-len of translate/eval (default: the checkpoint's), an
# -- unknown cell or init through the API ------------------------------------------------
@pytest.mark.parametrize("value,problem", [
    ("0", "must be an integer from 1 to 10,000, got 0"),
    ("-1", "must be an integer from 1 to 10,000, got -1"),
    ("10001", "must be an integer from 1 to 10,000, got 10001"),
    ("nan", "'nan' is not an integer"), ("1.5", "'1.5' is not an integer"),
    ("", "'' is not an integer")])
@pytest.mark.parametrize("command", [["translate", "m.npz", "x"], ["eval", "m.npz"]])
def test_a_bad_max_decode_len_of_translate_or_eval_is_the_exact_line(tmp_path, monkeypatch,
                                                                     capsys, command, value,
                                                                     problem):
    monkeypatch.chdir(tmp_path)                       # m.npz does not exist: never read
    assert main([*command, f"--max-decode-len={value}"]) == 2
    assert capsys.readouterr().err == (
        f"tinygrad-attn {command[0]}: error: argument --max-decode-len: {problem} (see "
        f"tinygrad-attn {command[0]} --help)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("field,value", [("cell", "lstm2"), ("cell", 3), ("init", "xavier"),
                                         ("init", None)])
def test_train_checks_cell_and_init_in_the_api_before_any_folder(tmp_path, field, value):
    from dataclasses import replace

    from models.char_dataset import load_dataset
    from models.train import TrainConfig, train
    cfg = replace(TrainConfig(hidden_size=8, wordvec_size=4, epochs=1), **{field: value})
    with pytest.raises(ValueError, match=rf"^train: {field} must be '.*' or '.*', got .* "
                                         rf"\(fix: pass {field}="):
        train(load_dataset(n_generated=200), cfg, out_dir=tmp_path / "run")
    assert list(tmp_path.iterdir()) == []             # refused before any folder is made
