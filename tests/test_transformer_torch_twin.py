"""The PyTorch twin of our Transformer (``benchmarks/transformer_torch.py``, issue 16 item 4):
built on ``torch.nn.Transformer`` and loaded with our weights, it computes our loss and
gradients (float64 to ~1e-10, float32 within 1e-4), stays equal through Adam steps with the
inverse-square-root schedule, clipping and label smoothing, trains through our data
pipeline (the same losses as ``tinygrad-attn train`` with dropout off), and its ``bench``
and ``train`` commands run on tiny sizes; every bad option is one line before any work.

Skipped without torch; never needs ``../shared`` (the committed samples only)."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the twin needs PyTorch (torch==2.13.0)")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "eng-fra" / "fra.tutorial-filter.sample.txt"
TINY = ["--hidden-size", "16", "--heads", "2", "--ff-size", "32", "--num-layers", "1"]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "transformer_torch", ROOT / "benchmarks" / "transformer_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tt = _load_benchmark()


def _pair(dtype=np.float64, dropout=0.0, **kw):
    """Our tiny Transformer (V 11 -> 9, or 11 -> 11 when shared) and its twin, in dtype."""
    from models.transformer import Transformer
    V_tgt = 11 if kw.get("share_embeddings") else 9
    ours = Transformer(11, V_tgt, d_model=16, nhead=4, num_encoder_layers=2,
                       num_decoder_layers=2, dim_feedforward=24, dropout=dropout, seed=1, **kw)
    for p in ours.parameters():
        p.data = p.data.astype(dtype)
    twin = tt.TorchTransformer(**ours.config).to(
        torch.float64 if dtype == np.float64 else torch.float32).load_ours(ours.state_dict())
    return ours, twin


def _batch(seed=0, V_tgt=9):
    """src (3, 6) with padding (id 0) at the end of two rows, tgt (3, 6) starting with 1."""
    g = np.random.default_rng(seed)
    src, tgt = g.integers(4, 11, (3, 6)), g.integers(4, V_tgt, (3, 6))
    src[1, 4:], src[2, 2:] = 0, 0
    tgt[:, 0], tgt[1, 3:] = 1, 0
    return src, tgt, src == 0


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("share", [False, True])
def test_twin_gives_our_loss_and_gradients_in_float64(norm_first, share):
    ours, twin = _pair(norm_first=norm_first, share_embeddings=share)
    src, tgt, mask = _batch(V_tgt=11 if share else 9)
    loss = ours.loss(src, tgt, mask, pad_id=0, label_smoothing=0.1)
    loss.backward()
    theirs = twin.loss(src, tgt, mask, pad_id=0, label_smoothing=0.1)
    theirs.backward()
    assert abs(loss.item() - theirs.item()) < 1e-10
    params = dict(twin.named_parameters(remove_duplicate=False))
    for name, p in ours.named_parameters():
        twin_name = ("transformer." if name.startswith(("encoder.", "decoder.")) else "") + name
        np.testing.assert_allclose(p.grad, params[twin_name].grad.numpy(), rtol=1e-7,
                                   atol=1e-10, err_msg=name)
    if share:     # one Parameter in both: the gradient sums its three uses
        assert twin.out.weight is twin.src_embedding.weight is twin.tgt_embedding.weight
        assert sum(1 for _ in twin.parameters()) == sum(1 for _ in ours.parameters())


def test_twin_in_float32_agrees_within_1e4_with_dropout_off_by_eval_mode():
    ours, twin = _pair(np.float32, dropout=0.1)
    check = tt.first_batch_check(ours, twin, _batch(), pad_id=0, label_smoothing=0.1)
    assert check["abs_diff"] < 1e-4 and ours.training and twin.training
    with pytest.raises(ValueError, match="differs from ours"):
        tt.first_batch_check(ours, twin, _batch(), pad_id=0, label_smoothing=0.1, tol=-1.0)


def test_training_steps_with_the_recipe_keep_both_engines_equal():
    from models.train import TrainConfig
    ours, twin = _pair()
    config = TrainConfig(model="transformer", lr=1e-2, lr_schedule="inverse-sqrt",
                         warmup_steps=2, max_grad_norm=0.5, label_smoothing=0.1)
    a, b = tt.Step(ours, config, 10), tt.Step(twin, config, 10)
    assert (a.name, b.name) == ("ours", "torch")
    for k in range(4):
        src, tgt, mask = _batch(seed=k)
        la, applied_a, _ = a.step(src, tgt, mask, 0)
        lb, applied_b, _ = b.step(src, tgt, mask, 0)
        assert applied_a and applied_b and abs(la - lb) < 1e-9, (k, la, lb)
        assert a.optimizer.lr == pytest.approx(b.optimizer.param_groups[0]["lr"], rel=1e-12)
    sd = twin.state_dict()
    for name, value in ours.state_dict().items():
        key = ("transformer." if name.startswith(("encoder.", "decoder.")) else "") + name
        np.testing.assert_allclose(value, sd[key].numpy(), rtol=1e-7, atol=1e-9)


def test_load_ours_refuses_a_model_of_another_size_or_layout():
    from models.transformer import Transformer
    small = Transformer(11, 9, d_model=8, nhead=2, dim_feedforward=24, seed=0)
    with pytest.raises(ValueError, match="shapes differ"):
        tt.TorchTransformer(11, 9, d_model=16, nhead=2, dim_feedforward=24).load_ours(
            small.state_dict())
    shared = Transformer(11, 11, d_model=8, nhead=2, share_embeddings=True, seed=0)
    with pytest.raises(ValueError, match="names differ"):
        tt.TorchTransformer(11, 11, d_model=8, nhead=2).load_ours(shared.state_dict())
    with pytest.raises(ValueError, match="max_len"):
        tt.TorchTransformer(11, 9, d_model=8, nhead=2, max_len=4)(
            torch.ones(1, 5, dtype=torch.int64), torch.ones(1, 2, dtype=torch.int64))


def _run(capsys, argv):
    code = tt.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_train_command_runs_our_pipeline_and_prints_our_equivalent_command(tmp_path, capsys):
    out_file = tmp_path / "twin.json"
    argv = ["train", "--data", str(SAMPLE), *TINY, "--batch-size", "32", "--epochs", "2",
            "--dropout", "0", "--max-decode-len", "8", "--out", str(out_file)]
    out = _run(capsys, argv)
    report = json.loads(out_file.read_text())
    assert [r["epoch"] for r in report["history"]] == [1, 2]
    assert all("valid_bleu" in r and r["tokens_per_second"] > 0 for r in report["history"])
    assert report["first_batch"]["abs_diff"] < 1e-4
    res = report["results"]
    assert res["chosen_on"] == "validation" and res["test_items"] == 39
    for key in ("bleu_cased", "bleu", "chrf", "bleu_ci", "bleu_signature"):
        assert key in res["test_chosen"] and key in res["test_last"]
    args = tt.build_parser().parse_args(argv)
    assert f"ours, the same settings: {tt.ours_command(args)}\n" in out


@pytest.mark.parametrize("extra", [
    [],
    ["--no-lower", "--no-bucket", "--tokenizer", "bpe", "--vocab-size", "120", "--joint-vocab",
     "--share-embeddings", "--average-last", "2", "--warmup-steps", "5", "--max-len", "9",
     "--max-pairs", "300", "--direction", "fra-eng", "--max-minutes", "1.5"],
    ["--lr-schedule", "constant", "--bucket", "--min-freq", "2", "--seed", "3", "--clip", "1"],
])
def test_ours_command_parses_into_the_same_config_and_data_options(extra):
    from models.cli_options import build_parser, config_from_args
    args = tt.build_parser().parse_args(["train", "--data", str(SAMPLE), *TINY, *extra])
    tt.check_args(args)
    words = tt.ours_command(args).split()
    assert words[:4] == ["tinygrad-attn", "train", "--model", "transformer"]
    ours = build_parser().parse_args(words[1:])
    assert config_from_args(ours) == tt.make_config(args)
    for name in ("data", "direction", "max_len", "lower", "min_freq", "max_pairs", "tokenizer",
                 "vocab_size", "joint_vocab"):
        assert getattr(ours, name) == getattr(args, name), name


def test_train_losses_equal_ours_epoch_by_epoch_with_dropout_off(tmp_path, capsys):
    from models.train import train
    argv = ["train", "--data", str(SAMPLE), *TINY, "--batch-size", "32", "--epochs", "2",
            "--dropout", "0", "--tokenizer", "char", "--out", str(tmp_path / "t.json")]
    _run(capsys, argv)
    report = json.loads((tmp_path / "t.json").read_text())
    twin = report["history"]
    args = tt.build_parser().parse_args(argv)
    tt.check_args(args)
    _, history = train(tt.load_data(args), tt.make_config(args), log=lambda *a: None)
    # no --max-decode-len: both resolve it from the data the same way (characters: > 40)
    assert report["config"]["max_decode_len"] == history.config.max_decode_len > 40
    for ours, theirs in zip(history, twin):
        assert ours["steps"] == theirs["steps"]
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-4)
        assert ours["pad_fraction"] == pytest.approx(theirs["pad_fraction"])


def test_bench_alternates_the_engines_on_synthetic_batches(tmp_path, capsys):
    out_file = tmp_path / "bench.json"
    out = _run(capsys, ["bench", "--synthetic", "5,6,30", *TINY, "--batch-size", "4",
                        "--steps", "2", "--warmup", "1", "--rounds", "0", "--threads", "1",
                        "--out", str(out_file)])
    report = json.loads(out_file.read_text())
    assert report["alternated"]["paired_ratio"]["pairs"] == 2
    assert report["alternated"]["ours"]["tokens_per_second"] > 0
    assert report["alternated"]["torch"]["tokens_per_second"] > 0
    assert report["machine"]["cpu"] and report["machine"]["numpy_blas"]
    assert "machine: " in out and "paired per step" in out and "alone" not in report


def test_alone_rounds_alternate_the_order_and_read_each_child(tmp_path, monkeypatch):
    """The children's code run in this process (a fresh Python per child costs seconds):
    ours first in even rounds, torch first in odd ones, every child's JSON read."""
    import contextlib
    import io
    import sys
    from types import SimpleNamespace

    from models.train import TrainConfig
    config = TrainConfig(model="transformer", hidden_size=16, heads=2, ff_size=32,
                         num_layers=1, batch_size=4)
    ours, _ = _pair(np.float32)
    batches = [_batch(seed=k) for k in range(3)]
    path = tmp_path / "workload.npz"
    tt.save_workload(path, config, ours, batches, 0, 3)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, "transformer_torch", tt)    # the child's import
    order = []

    def run_here(cmd, **kw):
        order.append("torch" if "'torch'" in cmd[2] else "ours")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(cmd[2], {})
        return SimpleNamespace(returncode=0, stdout=out.getvalue(), stderr="")
    monkeypatch.setattr(tt.subprocess, "run", run_here)
    res = tt.solo_rounds(path, rounds=2, warmup=1, threads=1)
    assert order == ["ours", "torch", "torch", "ours"]
    assert all(len(r) == 2 and r[0]["tokens_per_second"] > 0 for r in res["rounds"].values())
    assert res["ratio"] == res["tokens_per_second"]["ours"] / res["tokens_per_second"]["torch"]
    failed = SimpleNamespace(returncode=1, stdout="", stderr="Traceback\nMemoryError: boom\n")
    monkeypatch.setattr(tt.subprocess, "run", lambda cmd, **kw: failed)
    with pytest.raises(ValueError, match="^the ours process alone failed: MemoryError: boom$"):
        tt.solo_rounds(path, rounds=1, warmup=0, threads=None)


def test_bench_on_subword_data_with_shared_embeddings(capsys):
    out = _run(capsys, ["bench", "--data", str(SAMPLE), "--tokenizer", "bpe", "--vocab-size",
                        "120", "--joint-vocab", "--share-embeddings", *TINY, "--batch-size",
                        "16", "--steps", "2", "--warmup", "0", "--rounds", "0"])
    assert "by length, pad fraction" in out and "first batch loss ours" in out


BENCH, TRAIN = f"{tt.PROG} bench", f"{tt.PROG} train"
# (argv, the exact line on stderr, without " (see PROG CMD --help)")
BAD = [
    (["bench", "--load", "65"],
     f"{BENCH}: error: argument --load: must be an integer from 0 to 64, got 65"),
    (["bench", "--synthetic", "4,4,40", "--load", "1", "--rounds", "0"], f"{BENCH}: error: "
     f"--load applies to the rounds of fresh processes, and --rounds is 0 (fix: --rounds 1 "
     f"or more, or drop --load)"),
    (["bench", "--steps", "0"],
     f"{BENCH}: error: argument --steps: must be an integer from 1 to 100,000, got 0"),
    (["bench", "--batch-size", "-1"], f"{BENCH}: error: argument --batch-size: must be an "
     f"integer from 1 to 1,000,000, got -1"),
    (["train", "--lr", "nan"], f"{TRAIN}: error: argument --lr: 'nan' is not a finite number "
     f"(fix: pass a value such as 0.001)"),
    (["bench", "--hidden-size", "abc"],
     f"{BENCH}: error: argument --hidden-size: 'abc' is not an integer"),
    (["bench", "--hidden-size", "99999999"], f"{BENCH}: error: argument --hidden-size: must "
     f"be an integer from 1 to 16,384, got 99999999"),
    (["bench", "--dropout", "1"],
     f"{BENCH}: error: argument --dropout: must be a number in [0, 1), got 1"),
    (["train", "--max-minutes", "0"],
     f"{TRAIN}: error: argument --max-minutes: must be a number > 0, got 0"),
    (["train", "--max-minutes", "inf"], f"{TRAIN}: error: argument --max-minutes: 'inf' is "
     f"not a finite number (fix: pass a value such as 0.001)"),
    (["bench", "--threads", "0"],
     f"{BENCH}: error: argument --threads: must be an integer from 1 to 1,024, got 0"),
    (["bench", "--rounds", "-1"],
     f"{BENCH}: error: argument --rounds: must be an integer from 0 to 100, got -1"),
    (["bench", "--synthetic", "1,2"], f"{BENCH}: error: argument --synthetic: '1,2' is not "
     f"three integers S,T,V (e.g. 16,16,4000)"),
    (["bench", "--synthetic", "300,5,10"], f"{BENCH}: error: argument --synthetic: S,T,V must "
     f"be 1-256, 1-255 and 5-1,000,000, got 300,5,10"),
    (["bench", "--synthetic", "4,4,40", "--hidden-size", "30"], f"{BENCH}: error: "
     f"--hidden-size 30 is not divisible by --heads 4 (fix: e.g. --heads 4 with "
     f"--hidden-size 256)"),
    (["bench", "--synthetic", "4,4,40", "--tokenizer", "bpe"], f"{BENCH}: error: --tokenizer "
     f"applies to a data file, not --synthetic (fix: drop --tokenizer or --synthetic)"),
    (["bench", "--synthetic", "4,4,40", "--warmup-steps", "9", "--lr-schedule", "constant"],
     f"{BENCH}: error: --warmup-steps applies to --lr-schedule inverse-sqrt only (fix: drop "
     f"--warmup-steps)"),
    (["bench", "--synthetic", "4,4,40", "--average-last", "2"], f"{BENCH}: error: "
     f"--average-last applies to the train command only (fix: drop it)"),
    (["train", "--data", str(SAMPLE), "--average-last", "3", "--epochs", "2"], f"{TRAIN}: "
     f"error: --average-last 3 is more than --epochs 2 (fix: average at most the epochs "
     f"trained)"),
    (["train", "--data", str(SAMPLE), "--valid-fraction", "0"], f"{TRAIN}: error: "
     f"--valid-fraction 0: the train command chooses the epoch on a validation split (fix: "
     f"e.g. --valid-fraction 0.1)"),
    (["train", "--data", str(SAMPLE), "--share-embeddings"], f"{TRAIN}: error: "
     f"--share-embeddings needs one vocabulary for both languages (fix: add --joint-vocab)"),
    (["bench", "--data", str(SAMPLE), "--tokenizer", "bpe", "--min-freq", "2"], f"{BENCH}: "
     f"error: --min-freq applies to --tokenizer word and char only (fix: drop --min-freq; "
     f"sentencepiece chooses its pieces by --vocab-size)"),
    (["train", "--data", "no/such.txt"], f"{TRAIN}: error: --data no/such.txt: no such file "
     f"(fix: pass a sentence-pair file, e.g. samples/eng-fra/fra.tutorial-filter.sample.txt)"),
    (["train", "--data", "samples/dlfs2/date.sample.txt"], f"{TRAIN}: error: --data "
     f"samples/dlfs2/date.sample.txt holds no tab-separated sentence pairs (fix: pass a "
     f"translation file, e.g. samples/eng-fra/fra.tutorial-filter.sample.txt)"),
    (["bench", "--synthetic", "4,4,40", "--out", "no/such/folder/r.json"], f"{BENCH}: error: "
     f"--out no/such/folder/r.json: not a file in an existing folder (fix: e.g. --out "
     f"report.json)"),
]


@pytest.mark.parametrize("argv, line", BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_options_are_one_line_before_any_work(argv, line, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tt, "run_bench", lambda args: pytest.fail("work started"))
    monkeypatch.setattr(tt, "run_train", lambda args: pytest.fail("work started"))
    with pytest.raises(SystemExit) as e:
        tt.main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    command = f"{tt.PROG} {argv[0]}"
    assert err == f"{line} (see {command} --help)\n" and out == ""
