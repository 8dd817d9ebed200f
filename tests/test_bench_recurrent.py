"""The PyTorch twins of our recurrent translation models and their benchmark
(``benchmarks/recurrent_twin.py``, ``benchmarks/recurrent_torch.py``; issue 17, item 4):
loaded with our weights, each twin (bahdanau and attention, LSTM and GRU) computes our
loss and gradients (float64: loss to 1e-12, gradients to rtol 1e-7) and stays equal
through Adam steps with clipping; a wrong weight mapping fails the first-batch check with
a one-line error naming where the models part; the bench runs on tiny sizes; every bad
option is one line before any work.

Skipped without torch; never needs ``../shared`` (the committed samples only)."""
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tests.conftest import SAMPLES, only_error_line

torch = pytest.importorskip("torch", reason="the twins need PyTorch (torch==2.13.0)")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"
TINY = ["--wordvec-size", "6", "--hidden-size", "5", "--batch-size", "4", "--threads", "1"]


if str(ROOT / "benchmarks") not in sys.path:       # as the benchmarks add themselves
    sys.path.append(str(ROOT / "benchmarks"))
import recurrent_torch as bench  # noqa: E402
import recurrent_twin as rt  # noqa: E402


def _pair(model="bahdanau", cell="lstm", dtype=np.float64, **kw):
    """Our tiny model (V 11 -> 9, as train builds it) and its twin, in dtype."""
    from models.train import TrainConfig, build_model
    config = TrainConfig(model=model, cell=cell, wordvec_size=6, hidden_size=5, **kw)
    ours = build_model(config, 11, 9)
    for p in ours.parameters():
        p.data = p.data.astype(dtype)
    return ours, rt.twin_of(ours, torch.float64 if dtype == np.float64 else torch.float32)


def _batch(seed=0):
    """src (3, 6) with padding (id 0) at the end of two rows, tgt (3, 6) starting with 1."""
    g = np.random.default_rng(seed)
    src, tgt = g.integers(4, 11, (3, 6)), g.integers(4, 9, (3, 6))
    src[1, 4:], src[2, 2:] = 0, 0
    tgt[:, 0], tgt[1, 3:] = 1, 0
    return src, tgt, src == 0


CASES = [("bahdanau", "lstm", {}), ("bahdanau", "gru", {}),
         ("attention", "lstm", {"score": "general"}), ("attention", "gru", {"score": "general"}),
         ("attention", "lstm", {"score": "concat", "bidirectional": True, "num_layers": 2}),
         ("attention", "gru", {"score": "dot", "bidirectional": True}),
         ("bahdanau", "gru", {"num_layers": 2})]


@pytest.mark.parametrize("model, cell, kw", CASES,
                         ids=[f"{m}-{c}-{'-'.join(map(str, k.values()))}" for m, c, k in CASES])
def test_twin_gives_our_loss_and_gradients_in_float64(model, cell, kw):
    ours, twin = _pair(model, cell, **kw)
    src, tgt, mask = _batch()
    loss = ours.loss(src, tgt, mask, pad_id=0, label_smoothing=0.1)
    loss.backward()
    theirs = twin.loss(src, tgt, mask, 0, 0.1)
    theirs.backward()
    assert abs(loss.item() - theirs.item()) < 1e-12
    params = dict(twin.named_parameters())
    assert len(params) == len(list(ours.parameters()))
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, params[rt.torch_name(name)].grad.numpy(), rtol=1e-7,
                                   atol=1e-12, err_msg=name)


def test_names_map_explicitly():
    assert rt.torch_name("encoder.lstm.weight_ih_l0_reverse") == "encoder.weight_ih_l0_reverse"
    assert rt.torch_name("encoder.gru.bias_hh_l1") == "encoder.bias_hh_l1"
    assert rt.torch_name("encoder.embedding.weight") == "src_embedding.weight"
    assert rt.torch_name("decoder_embedding.weight") == "tgt_embedding.weight"
    assert rt.torch_name("attention.U_a.bias") == "attention.U_a.bias"


def test_float32_check_within_1e5_with_dropout_off_by_eval_mode():
    ours, twin = _pair("attention", "gru", np.float32, score="general", dropout=0.3)
    check = rt.first_batch_check(ours, twin, _batch(), 0, 0.0)
    assert check["rel_diff"] <= 1e-5 and check["logits_gap"] <= 1e-4
    assert ours.training and twin.training


def test_adam_steps_with_clipping_keep_both_engines_equal():
    from models.train import TrainConfig
    from transformer_twin import Step
    ours, twin = _pair("bahdanau", "gru")
    config = TrainConfig(model="bahdanau", cell="gru", lr=1e-2, max_grad_norm=0.5)
    a, b = Step(ours, config, 4), Step(twin, config, 4)
    # ours' step asks its thread adapter first, as the training loop does (without it, a
    # benchmark under --load timed two BLAS threads stalling, not what training runs)
    assert b.threads is None
    asked = []
    a.threads.update = lambda: asked.append(1)
    for k in range(3):
        la, _, _ = a.step(*_batch(seed=k), 0)
        lb, _, _ = b.step(*_batch(seed=k), 0)
        assert abs(la - lb) < 1e-10, (k, la, lb)
    assert len(asked) == 3
    theirs = twin.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs[rt.torch_name(name)].numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=name)


def test_a_wrong_mapping_fails_the_check_and_names_where():
    ours, twin = _pair("bahdanau", "gru", np.float32)
    state = ours.state_dict()
    fwd, rev = "encoder.gru.weight_hh_l0", "encoder.gru.weight_hh_l0_reverse"
    state[fwd], state[rev] = state[rev], state[fwd]           # the directions exchanged
    twin.load_ours(state)
    with pytest.raises(ValueError, match=r"^the twin's first-batch loss \d+\.\d{6} against ours "
                       r"\d+\.\d{6} \(relative difference .+, allowed 1e-05\); the encoder "
                       r"states differ already \(by up to .+ of their largest value\) \(allowed "
                       r"0\.0001\): the twin is not our model \(check recurrent_twin\.NAME_MAP\)$"):
        rt.first_batch_check(ours, twin, _batch(), 0, 0.0)
    state = ours.state_dict()        # the attention's W_a and U_a exchanged (both A x 2H)
    state["attention.W_a.weight"], state["attention.U_a.weight"] = \
        state["attention.U_a.weight"], state["attention.W_a.weight"]
    twin.load_ours(state)
    with pytest.raises(ValueError, match=r"; the encoder states agree \(within .+\); the logits "
                       r"differ by up to .+ of their largest \(allowed 0\.0001\): "):
        rt.first_batch_check(ours, twin, _batch(), 0, 0.0)


def test_load_ours_and_the_twin_refuse_what_is_not_the_same_model():
    ours, _ = _pair("attention", "lstm", score="dot")
    twin = rt.TorchRecurrent("attention", 11, 6, 5, 9, score="general")
    with pytest.raises(ValueError, match=r"^load_ours: Error\(s\) in loading state_dict for "
                       r"TorchRecurrent: Missing key\(s\) in state_dict: \"attention\.W_a"):
        twin.load_ours(ours.state_dict())
    for kw, what in (({"residual": True}, "residual layers"),
                     ({"input_feeding": True}, "input feeding")):
        with pytest.raises(ValueError, match=f"^TorchRecurrent: no twin of {what} "):
            rt.TorchRecurrent("attention", 11, 6, 5, 9, **kw)
    with pytest.raises(ValueError, match="^TorchRecurrent: no twin of model 'transformer' "):
        rt.TorchRecurrent("transformer", 11, 6, 5, 9)


def _run(capsys, argv):
    code = bench.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("model, cell", [("bahdanau", "gru"), ("attention", "lstm")])
def test_bench_alternates_the_engines_on_synthetic_batches(model, cell, tmp_path, capsys):
    out_file = tmp_path / "bench.json"
    out = _run(capsys, ["--model", model, "--cell", cell, "--synthetic", "5,6,30", *TINY,
                        "--steps", "2", "--warmup", "1", "--rounds", "0", "--out",
                        str(out_file)])
    report = json.loads(out_file.read_text())
    alt = report["alternated"]
    assert alt["paired_ratio"]["pairs"] == alt["time_ratio"]["pairs"] == 2
    assert alt["ours"]["tokens_per_second"] > 0 and alt["torch"]["tokens_per_second"] > 0
    assert report["first_batch"]["rel_diff"] <= 1e-5
    assert report["config"]["model"] == model and report["config"]["cell"] == cell
    assert report["machine"]["cpu"]["model"] and "numpy_blas" in report["machine"]
    assert "machine: " in out and "time per step ours / torch, paired" in out
    assert "alone" not in report


def test_bench_on_the_sample_file_with_padding(capsys):
    out = _run(capsys, ["--model", "attention", "--cell", "gru", "--data", str(SAMPLE), *TINY,
                        "--batch-size", "16", "--steps", "1", "--warmup", "0", "--rounds", "0"])
    assert "by length, pad fraction" in out and "attention (gru, score general)" in out


def test_alone_rounds_alternate_the_order_and_each_engine_runs_its_solo(tmp_path, monkeypatch):
    """``solo`` run in this process instead of a fresh Python (which costs seconds): ours
    first in even rounds, torch first in odd ones; the ratios are of the medians."""
    from models.train import TrainConfig, build_model
    config = TrainConfig(model="attention", score="general", wordvec_size=6, hidden_size=5,
                         batch_size=3)
    path = tmp_path / "workload.npz"
    bench.tt.save_workload(path, config, build_model(config, 11, 9),
                           [_batch(seed=k) for k in range(3)], 0, 3)
    order = []

    def alone_here(engine, path, warmup, threads, one_core=False, module=None):
        order.append(engine)
        assert not one_core and module == "recurrent_torch"
        return bench.solo(engine, path, warmup, threads)
    monkeypatch.setattr(bench.tt, "alone", alone_here)
    res = bench.tt.solo_rounds(path, rounds=2, warmup=1, threads=1, module="recurrent_torch")
    assert order == ["ours", "torch", "torch", "ours"]
    assert all(len(r) == 2 and r[0]["tokens_per_second"] > 0 for r in res["rounds"].values())
    assert res["time_ratio"] == res["step_median"]["ours"] / res["step_median"]["torch"]


def test_under_load_each_round_runs_quiet_loaded_and_on_one_core(monkeypatch, capsys):
    """--load: every round three times (quiet, the busy processes spinning, one core;
    the order of the three reversed every other round), and the slowdown's two factors."""
    busy = SimpleNamespace(spinning=False, procs=[None])
    busy.set = lambda on: setattr(busy, "spinning", on)
    seen = []
    per_step = {"ours": 0.05, "torch": 0.06}

    def alone_here(engine, path, warmup, threads, one_core=False, module=None):
        state = "one core" if one_core else busy.spinning
        assert not (one_core and busy.spinning)
        seen.append((state, engine))
        scale = {False: 1.0, True: 1.5, "one core": 1.4}[state]
        return {"step_median": per_step[engine] * scale, "tokens_per_second": 1 / scale}
    monkeypatch.setattr(bench.tt, "alone", alone_here)
    res = bench.tt.solo_rounds("w.npz", rounds=2, warmup=1, threads=2, busy=busy)
    assert [s for s, _ in seen[::2]] == [False, True, "one core", "one core", True, False]
    assert [e for _, e in seen[:2]] == ["ours", "torch"] and seen[6][1] == "torch"
    assert res["time_ratio"] == pytest.approx(5 / 6)
    assert res["loaded"]["step_median"]["ours"] == pytest.approx(0.075)
    assert res["parts"]["torch"] == pytest.approx(
        {"slowdown": 1.5, "loaded_over_one_core": 1.5 / 1.4, "one_core_over_two": 1.4})
    out = capsys.readouterr().out
    assert "ON ONE CORE (1 thread, pinned, no load): each engine alone" in out
    assert "slowdown under --load 1 (alone;" in out and "ours 1.07 x 1.40" in out


def test_a_child_runs_solo_and_its_last_line_or_error_is_read(monkeypatch):
    calls = []

    def fake(cmd, **kw):
        calls.append(cmd)
        return SimpleNamespace(returncode=0, stdout='numba: compiled\n{"step_median": 2.5}\n',
                               stderr="")
    monkeypatch.setattr(bench.tt.subprocess, "run", fake)
    assert bench.tt.alone("torch", "w.npz", 1, None, module="recurrent_torch") == {
        "step_median": 2.5}
    (python, flag, code), = calls
    assert (python, flag) == (sys.executable, "-c") and compile(code, "child", "exec")
    assert f"sys.path.insert(0, {bench.HERE!r})" in code and "import recurrent_torch as b" in code
    assert "b.solo('torch', 'w.npz', 1, None)" in code
    assert not code.startswith(bench.machine.PIN_ONE_CPU)
    envs = []
    monkeypatch.setattr(bench.tt.subprocess, "run",
                        lambda cmd, **kw: envs.append((cmd[2], kw["env"])) or fake(cmd))
    bench.tt.alone("ours", "w.npz", 1, 2, one_core=True)  # pinned, one thread of each kind
    code, env = envs[0]
    assert code.startswith(bench.machine.PIN_ONE_CPU) and "b.solo('ours', 'w.npz', 1, 1)" in code
    assert all(env[k] == v for k, v in bench.machine.ONE_CORE_ENV.items())
    failed = SimpleNamespace(returncode=1, stdout="", stderr="Traceback\nMemoryError: boom\n")
    monkeypatch.setattr(bench.tt.subprocess, "run", lambda cmd, **kw: failed)
    with pytest.raises(ValueError, match="^the ours process alone failed: MemoryError: boom$"):
        bench.tt.alone("ours", "w.npz", 0, None)


def test_a_twin_that_is_not_ours_ends_the_run_with_one_line(capsys, monkeypatch):
    plain = rt.torch_name

    def swapped(name):          # the encoder's forward and reverse W_hh exchanged
        n = plain(name)
        if n.endswith("weight_hh_l0"):
            return n + "_reverse"
        return n[:-len("_reverse")] if n.endswith("weight_hh_l0_reverse") else n
    monkeypatch.setattr(rt, "torch_name", swapped)
    with pytest.raises(SystemExit) as e:
        bench.main(["--synthetic", "4,4,30", *TINY, "--steps", "1", "--rounds", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and re.fullmatch(
        r"recurrent_torch\.py: error: the twin's first-batch loss .+ against ours .+; the "
        r"encoder states differ already .+: the twin is not our model \(check "
        r"recurrent_twin\.NAME_MAP\)\n", err), err


P = bench.PROG


def _out_of_range(flag: str, value: str, span: str):
    """A row of BAD: an integer option outside its range (``span``, e.g. "1 to 64")."""
    return [flag, value], f"argument {flag}: must be an integer from {span}, got {value}"


def _not_here(flag: str, value: str):
    """A row of BAD: a transformer_torch option refused here."""
    return (["--synthetic", "4,4,30", flag, value], f"{flag} does not apply to the recurrent "
            f"models (fix: drop {flag}; the Transformer's benchmark is transformer_torch.py)")


# (argv, the exact message after "PROG: error: " and before " (see PROG --help)")
BAD = [
    _out_of_range("--steps", "0", "1 to 100,000"), _out_of_range("--steps", "-3", "1 to 100,000"),
    _out_of_range("--warmup", "-1", "0 to 1,000"), _out_of_range("--rounds", "101", "0 to 100"),
    _out_of_range("--hidden-size", "0", "1 to 16,384"),
    _out_of_range("--batch-size", "-64", "1 to 1,000,000"),
    _out_of_range("--num-layers", "99", "1 to 64"), _out_of_range("--threads", "0", "1 to 1,024"),
    _out_of_range("--load", "-1", "0 to 64"), _out_of_range("--load", "65", "0 to 64"),
    (["--load", "1.5"], "argument --load: '1.5' is not an integer"),
    (["--synthetic", "4,4,30", "--load", "1", "--rounds", "0"], "--load applies to the rounds "
     "of fresh processes, and --rounds is 0 (fix: --rounds 1 or more, or drop --load)"),
    (["--steps", "nan"], "argument --steps: 'nan' is not an integer"),
    (["--wordvec-size", "nan"], "argument --wordvec-size: 'nan' is not an integer"),
    (["--lr", "nan"], "argument --lr: 'nan' is not a finite number (fix: pass a value such as "
     "0.001)"),
    (["--clip", "0"], "argument --clip: must be a number > 0, got 0"),
    (["--dropout", "1"], "argument --dropout: must be a number in [0, 1), got 1"),
    (["--model", "transformer"], "argument --model: invalid choice: 'transformer' (choose "
     "from 'bahdanau', 'attention')"),
    (["--cell", "rnn"], "argument --cell: invalid choice: 'rnn' (choose from 'lstm', 'gru')"),
    (["--synthetic", "4,4"], "argument --synthetic: '4,4' is not three integers S,T,V (e.g. "
     "16,16,4000)"),
    (["--synthetic", "0,4,30"], "argument --synthetic: S,T,V must be 1-256, 1-255 and "
     "5-1,000,000, got 0,4,30"),
    _not_here("--heads", "2"), _not_here("--max-minutes", "1"),
    (["--synthetic", "4,4,30", "--score", "dot"], "--score applies to --model attention only, "
     "not bahdanau (fix: drop --score)"),
    (["--synthetic", "4,4,30", "--warmup-steps", "5"], "--warmup-steps applies to "
     "--lr-schedule inverse-sqrt only (fix: drop --warmup-steps)"),
    (["--synthetic", "4,4,30", "--tokenizer", "bpe"], "--tokenizer applies to a data file, not "
     "--synthetic (fix: drop --tokenizer or --synthetic)"),
    (["--data", "no/such.txt"], "--data no/such.txt: no such file (fix: pass a sentence-pair "
     "file, e.g. samples/eng-fra/fra.tutorial-filter.sample.txt, or --synthetic S,T,V for "
     "random batches)"),
    (["--data", "samples/dlfs2/date.sample.txt"], "--data samples/dlfs2/date.sample.txt holds "
     "no tab-separated sentence pairs (fix: pass a translation file, e.g. "
     "samples/eng-fra/fra.tutorial-filter.sample.txt)"),
    (["--synthetic", "4,4,30", "--out", "no/such/folder/r.json"], "--out "
     "no/such/folder/r.json: not a file in an existing folder (fix: e.g. --out report.json)"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a[-2:]) for a, _ in BAD])
def test_bad_options_are_one_line_before_any_work(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(bench, "run_bench", lambda args: pytest.fail("work started"))
    with pytest.raises(SystemExit, match="^2$"):
        bench.main(argv)
    assert only_error_line(capsys) == f"{P}: error: {message} (see {P} --help)"
    assert capsys.readouterr().out == ""


def test_the_default_corpus_absent_names_it_and_synthetic(capsys, monkeypatch, tmp_path):
    """Without ../shared the default data file is missing: one line naming it and the fix."""
    missing = str(tmp_path / "fra.tutorial-filter.txt")
    monkeypatch.setattr(bench.tt, "DEFAULT_DATA", missing)
    monkeypatch.setattr(bench, "run_bench", lambda args: pytest.fail("work started"))
    with pytest.raises(SystemExit):
        bench.main([])
    assert capsys.readouterr().err == (
        f"{P}: error: --data {missing}: no such file (fix: pass a sentence-pair file, e.g. "
        f"samples/eng-fra/fra.tutorial-filter.sample.txt, or --synthetic S,T,V for random "
        f"batches) (see {P} --help)\n")
