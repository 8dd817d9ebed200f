"""Ensembles (``models.ensemble``) and ``--init-seed``: several models decoded as one, each
step's next-token probabilities the average of the members'; members trained with the same
split and vocabulary but their own initial weights."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.attention_seq2seq import AttentionSeq2Seq
from models.bahdanau_seq2seq import BahdanauSeq2Seq
from models.cli import main
from models.decoding import beam_search, greedy_decode
from models.ensemble import Ensemble, average_log_probs, load_ensemble
from models.train import TrainConfig, build_model
from models.transformer import Transformer
from tinygrad_attn import CheckpointError, no_grad

from .conftest import SAMPLES


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 6), st.integers(0, 2**31 - 1),
       st.floats(0.1, 80))
def test_the_average_is_the_log_of_the_members_mean_probability(M, N, V, seed, scale):
    z = [np.random.default_rng(seed + m).normal(0, scale, (N, V)) for m in range(M)]
    got = average_log_probs(z)
    want = np.log(np.mean([softmax(x) for x in z], axis=0))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.exp(got).sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(average_log_probs(z[::-1]), got, rtol=1e-12, atol=1e-12)


def test_the_average_does_not_underflow_where_a_member_is_certain():
    # member 0 gives token 1 probability e^-2000 (0.0 in float64), member 1 gives it 1/2:
    # the mean is 1/4, its log finite
    z = [np.array([[0.0, -2000.0]]), np.array([[0.0, 0.0]])]
    np.testing.assert_allclose(average_log_probs(z), np.log([[0.75, 0.25]]), rtol=1e-12)


def members(n=2):
    """Untrained models of three kinds with one vocabulary (source 9, target 7)."""
    kinds = [lambda s: AttentionSeq2Seq(9, 5, 6, tgt_vocab_size=7, seed=s, init="pytorch"),
             lambda s: BahdanauSeq2Seq(9, 5, 6, tgt_vocab_size=7, seed=s, init="pytorch",
                                       cell="gru"),
             lambda s: Transformer(9, 7, d_model=8, nhead=2, num_encoder_layers=1,
                                   num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
                                   seed=s)]
    return [kinds[i % 3](10 + i).eval() for i in range(n)]


def source(N=3, S=5, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(4, 9, (N, S))
    mask = np.zeros((N, S), bool)
    mask[0, 3:] = True
    src[mask] = 0
    return src, mask


KW = dict(start_id=1, max_len=6, eos_id=2)


@pytest.mark.parametrize("i", range(3))
def test_an_ensemble_of_one_decodes_as_the_model_itself(i):
    model = members(3)[i]
    src, mask = source()
    np.testing.assert_array_equal(greedy_decode(Ensemble([model]), src, mask, **KW)[0],
                                  greedy_decode(model, src, mask, **KW)[0])
    ids, scores = beam_search(Ensemble([model]), src, mask, beam_width=3, **KW)
    ids1, scores1 = beam_search(model, src, mask, beam_width=3, **KW)
    np.testing.assert_array_equal(ids, ids1)
    np.testing.assert_allclose(scores, scores1, rtol=1e-5)


@no_grad()
def greedy_by_hand(models, src, mask, max_len, start_id=1):
    """Greedy decoding of the mean probability, each member stepped on its own."""
    states = [m.init_decoder(m.encode(src, mask)) for m in models]
    prev, out = np.full(len(src), start_id), []
    for _ in range(max_len):
        probs = []
        for k, m in enumerate(models):
            logits, states[k], _ = m.decode_step(prev, states[k])
            probs.append(softmax(logits.data.astype(np.float64)))
        prev = np.mean(probs, axis=0).argmax(axis=-1)
        out.append(prev)
    return np.stack(out, axis=1)


def test_greedy_decoding_follows_the_members_mean_probability():
    models = members(3)
    src, mask = source(N=4, seed=3)
    got, w = greedy_decode(Ensemble(models), src, mask, start_id=1, max_len=6)
    np.testing.assert_array_equal(got, greedy_by_hand(models, src, mask, 6))
    # the ensemble answers differently from each of its members alone on this batch
    assert all((got != greedy_decode(m, src, mask, start_id=1, max_len=6)[0]).any()
               for m in models)
    # every member attends, so the ensemble's weights are their mean: a distribution
    assert w.shape == (4, 6, 5)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
    assert (w[0, :, 3:] == 0).all()                 # over the unpadded source only


def test_beams_that_keep_each_members_memory_decode_as_copies_would():
    # the attention model keeps its memory one row per sentence (GROUPED_BEAMS), the others
    # from the second step on: the answer must be the one of copying every member's memory
    ens = Ensemble(members(3))
    src, mask = source(N=3, seed=5)
    kw = dict(beam_width=3, **KW)
    kept, s1 = beam_search(ens, src, mask, **kw)
    ens.MEMORY_KEYS = ()                                  # never keep: copy every row
    copied, s2 = beam_search(ens, src, mask, **kw)
    np.testing.assert_array_equal(kept, copied)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
    assert beam_search(ens, src, mask, **kw)[0].shape == (3, KW["max_len"])


def test_members_with_different_vocabularies_and_no_members_are_refused():
    other = AttentionSeq2Seq(9, 5, 6, tgt_vocab_size=8, seed=0)
    src, mask = source()
    with pytest.raises(ValueError, match=r"^Ensemble: the members' target vocabularies "
                       r"differ in size \(7, 8\) \(fix: ensemble models trained on the same "
                       r"data and options\)$"):
        greedy_decode(Ensemble([members(1)[0], other]), src, mask, **KW)
    with pytest.raises(ValueError, match=r"^Ensemble: no models \(fix: pass one or more "
                       r"trained models\)$"):
        Ensemble([])


# -- --init-seed ---------------------------------------------------------------------------
def test_init_seed_seeds_the_model_alone():
    config = TrainConfig(model="bahdanau", wordvec_size=4, hidden_size=5, cell="gru",
                         init="pytorch", seed=3)
    weights = lambda c: build_model(c, 9, 7).state_dict()              # noqa: E731
    same = weights(replace(config, init_seed=3))
    for k, v in weights(config).items():                              # None: --seed's
        np.testing.assert_array_equal(v, same[k])
    other, seeded = weights(replace(config, init_seed=4)), weights(replace(config, seed=4))
    assert any((v != other[k]).any() for k, v in same.items())
    for k, v in seeded.items():                     # the same weights as --seed 4 gives
        np.testing.assert_array_equal(v, other[k])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny Korean->English Bahdanau runs on the shipped sample, --init-seed 0 and 1,
    and a third with another --seed (another validation split and vocabulary)."""
    tmp = tmp_path_factory.mktemp("ensemble")
    common = ["train", "--model", "bahdanau", "--data",
              str(SAMPLES / "kor-eng" / "kor.sample.txt"), "--cell", "gru", "--init",
              "pytorch", "--epochs", "1", "--wordvec-size", "8", "--hidden-size", "8",
              "--batch-size", "64"]
    runs = {}
    for name, extra in (("a", ["--init-seed", "0"]), ("b", ["--init-seed", "1"]),
                        ("c", ["--seed", "1"])):
        assert main(common + extra + ["--out", str(tmp / name)]) == 0
        runs[name] = tmp / name / "model.npz"
    return runs


def test_runs_that_differ_in_init_seed_share_their_data_and_not_their_weights(two_runs,
                                                                              capsys):
    ens, metas, codec = load_ensemble([two_runs["a"], two_runs["b"]])
    assert metas[0]["data"] == metas[1]["data"]
    assert [m["train_config"]["init_seed"] for m in metas] == [0, 1]
    a, b = (m.state_dict() for m in ens.models)
    assert any((a[k] != b[k]).any() for k in a)


def test_eval_of_several_checkpoints_scores_their_ensemble(two_runs, capsys):
    data = str(SAMPLES / "kor-eng" / "kor.sample.txt")
    paths = [str(two_runs["a"]), str(two_runs["b"])]
    assert main(["eval", *paths, "--data", data, "--examples", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"ensemble of 2 models: '{paths[0]}', '{paths[1]}'"
    assert "test BLEU" in out and "chrF" in out
    assert main(["eval", paths[0], "--data", data, "--examples", "0"]) == 0
    assert "ensemble" not in capsys.readouterr().out


def test_an_ensemble_of_checkpoints_with_other_data_is_one_line(two_runs, capsys):
    a, c = str(two_runs["a"]), str(two_runs["c"])
    assert main(["eval", a, c, "--data", str(SAMPLES / "kor-eng" / "kor.sample.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinygrad-attn eval: error: checkpoint ")
    assert "its data differs from" in err and "validation" in err
    assert err.rstrip().endswith("(fix: ensemble models trained with the same --data and "
                                 "data options and --seed; only --init-seed may differ)")
    with pytest.raises(CheckpointError, match="cannot decode together"):
        load_ensemble([a, c])
    with pytest.raises(ValueError, match=r"^load_ensemble: no checkpoints"):
        load_ensemble([])


@pytest.mark.parametrize("value, words", [("-1", "must be an integer from 0"),
                                          ("1.5", "is not an integer"),
                                          (str(2**32), "must be an integer from 0")])
def test_a_bad_init_seed_is_one_line(value, words, capsys):
    assert main(["train", "--init-seed", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--init-seed" in err and words in err


def test_translate_with_ensemble_prints_the_ensembles_answer(two_runs, capsys):
    a, b = str(two_runs["a"]), str(two_runs["b"])
    text = "톰은 집에 있어."
    ens, _, codec = load_ensemble([a, b])
    ids, _ = greedy_decode(ens, codec.encode_source([text]), start_id=codec.start_id,
                           max_len=40, eos_id=codec.eos_id)
    assert main(["translate", a, text, "--ensemble", b, "--quiet"]) == 0
    assert capsys.readouterr().out == codec.decode_target(ids[0]) + "\n"
    assert main(["translate", a, text, "--ensemble", str(two_runs["c"])]) == 2
    assert "cannot decode together" in capsys.readouterr().err
    assert main(["translate", a, text, "--ensemble", b, "--plot", "x.png"]) == 2
    assert capsys.readouterr().err == ("tinygrad-attn translate: error: --plot draws one "
                                       "model's attention (fix: drop --ensemble or --plot)\n")


# -- compare --ensemble ----------------------------------------------------------------------
TINY = ["--epochs", "1", "--wordvec-size", "8", "--hidden-size", "8", "--batch-size", "64"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """compare --models lookup,attention --ensemble 2 on the Korean sample."""
    out = tmp_path_factory.mktemp("compare") / "run"
    assert main(["compare", "--models", "lookup,attention", "--data",
                 str(SAMPLES / "kor-eng" / "kor.sample.txt"), *TINY, "--init-seed", "5",
                 "--ensemble", "2", "--out", str(out)]) == 0
    return out


def test_compare_ensemble_trains_the_members_and_adds_the_ensembles_row(compared, capsys):
    import csv
    import json
    configs = [json.loads((compared / d / "config.json").read_text())
               for d in ("attention", "attention-member-1")]
    assert [(c["seed"], c["init_seed"]) for c in configs] == [(0, 5), (0, 6)]
    rows = {r["model"]: r for r in csv.DictReader(open(compared / "compare.csv"))
            if r["epoch"] == "test"}
    assert set(rows) == {"lookup", "attention", "attention x2"}
    assert rows["attention x2"]["chosen_epoch"] == "2 members"
    # the row is the ensemble of the two saved members, scored as eval scores it
    ens, metas, codec = load_ensemble([compared / "attention" / "model.npz",
                                       compared / "attention-member-1" / "model.npz"])
    from models.task_loading import load_checkpoint_data
    from models.train import evaluate
    data = load_checkpoint_data(str(SAMPLES / "kor-eng" / "kor.sample.txt"), metas[0], codec)
    score = evaluate(ens, data, max_len=metas[0]["train_config"]["max_decode_len"])
    for key in ("bleu_cased", "chrf"):
        assert float(rows["attention x2"][f"test_chosen_{key}"]) == pytest.approx(score[key])
    paired = json.loads((compared / "paired.json").read_text())
    assert set(paired) == {"attention", "attention x2"}


def test_compare_ensemble_on_a_character_task_prints_its_row(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["compare", "--models", "attention", "--data",
                 str(SAMPLES / "dlfs2" / "date.sample.txt"), *TINY, "--ensemble", "2",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out.split("test@chosen")[1]
    row = next(line for line in table.splitlines() if line.startswith("attention x2"))
    parts = row.split()          # name, valid 1, chosen, test@chosen, @last, s, params
    assert parts[:5] == ["attention", "x2", "-", "2", "members"] and parts[6] == parts[8] == "-"
    ens, metas, codec = load_ensemble([out / "attention" / "model.npz",
                                       out / "attention-member-1" / "model.npz"])
    from models.task_loading import load_checkpoint_data
    from models.train import evaluate
    data = load_checkpoint_data(str(SAMPLES / "dlfs2" / "date.sample.txt"), metas[0], codec)
    assert parts[5] == f"{100 * evaluate(ens, data)['accuracy']:.2f}"


@pytest.mark.parametrize("argv, words", [
    (["--ensemble", "0"], "argument --ensemble: must be an integer from 1 to 64, got 0"),
    (["--ensemble", "65"], "argument --ensemble: must be an integer from 1 to 64, got 65"),
    (["--models", "lookup", "--ensemble", "2"], "--ensemble applies to trained models only, "
     "and the lookup learns nothing (fix: drop --ensemble, or add a model to --models)")])
def test_a_bad_ensemble_is_one_line_before_any_work(argv, words, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["compare", "--data", str(SAMPLES / "kor-eng" / "kor.sample.txt"), *argv,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and not out.exists()


def test_the_floor_line_is_the_lookups_not_an_ensembles():
    from models.reporting import compare_floor
    from models.train import History
    ens = History()
    ens.results = {"valid": {"bleu": 30.0}, "ensemble": {}}
    look = History()
    look.results = {"valid": {"bleu": 12.5}}
    assert compare_floor({"attention x2": ens}) is None
    assert compare_floor({"attention x2": ens, "lookup": look}) == 12.5
