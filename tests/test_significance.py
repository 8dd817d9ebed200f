"""The paired bootstrap (``models/significance.py``, Koehn 2004): the difference of two
systems' BLEU on the same resampled test sentences, and ``compare``'s use of it against
the lookup baseline."""
import csv
import json

import numpy as np
import pytest
import sacrebleu

from models.cli import main
from models.significance import format_paired, paired_bootstrap

from .test_lookup import SAMPLE

REFS = ["The cat sleeps on the mat.", "It is raining hard today.", "I like green tea.",
        "Where is the station?", "She reads a long book.", "We are going home now.",
        "The dog eats its food.", "He plays the piano well."]
GOOD = list(REFS[:6]) + ["The dog eats food.", "He plays piano well."]
BAD = ["The cat.", "It rains.", "I like tea.", "Where station?", "She reads.",
       "We go.", "Dog eats.", "He plays."]


def test_the_difference_is_sacrebleus_scores_subtracted():
    r = paired_bootstrap(BAD, GOOD, REFS, n_bootstrap=200)
    good = sacrebleu.corpus_bleu(GOOD, [REFS]).score
    bad = sacrebleu.corpus_bleu(BAD, [REFS]).score
    assert r["bleu"] == pytest.approx(good) and r["baseline_bleu"] == pytest.approx(bad)
    assert r["difference"] == pytest.approx(good - bad)
    assert "tok:13a" in r["signature"] and "case:mixed" in r["signature"]


def test_a_clearly_better_system_is_better_in_every_resample():
    r = paired_bootstrap(BAD, GOOD, REFS, n_bootstrap=300)
    assert r["p_value"] == 0.0 and 0 < r["ci_low"] <= r["difference"] <= r["ci_high"]
    swapped = paired_bootstrap(GOOD, BAD, REFS, n_bootstrap=300)
    assert swapped["p_value"] == 1.0 and swapped["ci_high"] < 0
    assert swapped["difference"] == pytest.approx(-r["difference"])


def test_a_system_against_itself_is_never_better():
    r = paired_bootstrap(GOOD, GOOD, REFS, n_bootstrap=100)
    assert r["difference"] == 0 and r["ci_low"] == r["ci_high"] == 0 and r["p_value"] == 1.0


def test_each_resample_is_scored_as_sacrebleu_scores_the_resampled_corpus():
    """The first round's difference equals sacreBLEU's scores of the corpora that round
    draws (the same counts from the same seed), each sentence repeated as drawn."""
    seed, n = 7, len(REFS)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n))
    idx = np.repeat(np.arange(n), counts)
    pick = lambda xs: [xs[i] for i in idx]           # noqa: E731
    expected = (sacrebleu.corpus_bleu(pick(GOOD), [pick(REFS)]).score
                - sacrebleu.corpus_bleu(pick(BAD), [pick(REFS)]).score)
    one = paired_bootstrap(BAD, GOOD, REFS, n_bootstrap=2, seed=seed)
    two = paired_bootstrap(BAD, GOOD, REFS, n_bootstrap=2, seed=seed)
    assert one == two
    # the 2.5th and 97.5th percentiles of two values a <= b: a + 0.025 (b - a), a + 0.975 (b - a)
    spread = (one["ci_high"] - one["ci_low"]) / 0.95
    rounds = (one["ci_low"] - 0.025 * spread, one["ci_high"] + 0.025 * spread)
    assert min(abs(r - expected) for r in rounds) < 1e-6


def test_the_p_value_counts_the_rounds_where_the_model_is_not_better():
    """Half the sentences better, half worse: the p-value is neither 0 nor 1."""
    mixed = GOOD[:4] + BAD[4:]
    other = BAD[:4] + GOOD[4:]
    r = paired_bootstrap(other, mixed, REFS, n_bootstrap=500)
    assert 0.05 < r["p_value"] < 0.95 and r["ci_low"] < 0 < r["ci_high"]


@pytest.mark.parametrize("kwargs,message", [
    (dict(baseline=BAD[:3]), "paired_bootstrap: 3 baseline outputs but 8 references"),
    (dict(n_bootstrap=1), "n_bootstrap must be an integer >= 2"),
    (dict(seed=-1), "seed must be an integer >= 0"),
])
def test_bad_inputs_are_one_line_errors(kwargs, message):
    args = dict(baseline=BAD, hypotheses=GOOD, references=REFS) | kwargs
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(args.pop("baseline"), args.pop("hypotheses"), args.pop("references"),
                         **args)


def test_format_paired_reads_as_a_sentence():
    r = {"difference": 2.5, "ci_low": 0.1, "ci_high": 4.9, "p_value": 0.036,
         "n_bootstrap": 1000}
    assert format_paired("bahdanau", r) == (
        "bahdanau       +2.50 BLEU (95 % CI +0.10 to +4.90) over lookup; not better in 3.6 % "
        "of 1000 resamples (p = 0.036)")
    # names longer than the default 12 (an ensemble's "transformer x5") keep a table aligned
    lines = [format_paired(n, r, width=14) for n in ("bahdanau", "transformer x5")]
    assert len({ln.index("+2.50 BLEU") for ln in lines}) == 1


@pytest.mark.parametrize("tokens", [[], ["--tokenizer", "bpe", "--vocab-size", "300"]])
def test_compare_prints_each_models_paired_test_against_the_lookup(tmp_path, capsys, tokens):
    """With subwords too: their tokenizer is refit after the validation split is carved,
    so the test output must be decoded with the run's own data (once it was not, and the
    paired test scored garbage)."""
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "lookup,attention", "--data", str(SAMPLE),
                 "--epochs", "2", "--hidden-size", "16", "--wordvec-size", "8",
                 "--batch-size", "32", "--out", str(out), *tokens]) == 0
    text = capsys.readouterr().out
    assert "paired bootstrap against the lookup on the same" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("attention ")
                and "over lookup" in ln)
    saved = json.loads((out / "paired.json").read_text())
    assert list(saved) == ["attention"]
    r = saved["attention"]
    assert f"{r['difference']:+6.2f} BLEU" in line
    with open(out / "compare.csv") as f:
        cased = {r["model"]: float(r["test_chosen_bleu_cased"]) for r in csv.DictReader(f)
                 if r["test_chosen_bleu_cased"]}
    # the table's cased BLEU of the two rows, subtracted, is the paired test's difference
    assert r["difference"] == pytest.approx(cased["attention"] - cased["lookup"], abs=1e-6)


def test_compare_without_the_lookup_prints_no_paired_test(tmp_path, capsys):
    assert main(["compare", "--models", "attention", "--data", str(SAMPLE), "--epochs", "1",
                 "--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64",
                 "--out", str(tmp_path / "c")]) == 0
    assert "paired bootstrap" not in capsys.readouterr().out
    assert not (tmp_path / "c" / "paired.json").exists()


def test_a_runs_test_output_is_decoded_with_the_runs_own_tokenizer():
    """``History.hypotheses`` is the chosen weights' test output as the run scored it: with
    subwords the tokenizer was refit after the validation split was carved, so decoding
    with the loaded data's would name other pieces. It scores the reported chrF exactly;
    the same model decoded with the loaded data does not."""
    from models.train import TrainConfig, predict, train
    from models.translation_dataset import load_translation
    data = load_translation(SAMPLE, tokenizer="bpe", vocab_size=300)
    config = TrainConfig(model="attention", epochs=12, hidden_size=32, wordvec_size=16,
                         batch_size=16, lr=0.01)
    model, hist = train(data, config, log=lambda *a: None)
    refs = [t for _, t in data.test_pairs]
    chrf = lambda hyps: sacrebleu.corpus_chrf(hyps, [refs]).score      # noqa: E731
    reported = hist.results["test_chosen"]["chrf"]
    assert reported > 1                       # it translates something
    assert len(hist.hypotheses) == len(refs)
    assert chrf(hist.hypotheses) == pytest.approx(reported, abs=1e-9)
    loaded = [data.decode_target(row) for row in predict(
        model, data.src_test, data, max_len=hist.config.max_decode_len)]
    assert chrf(loaded) != pytest.approx(reported, abs=0.5)


def test_compare_aligns_the_paired_lines_of_long_names(tmp_path, capsys):
    """compare's paired lines keep one column for the difference when a name is longer
    than 12 characters ("transformer x5", an ensemble's row)."""
    from types import SimpleNamespace

    from models.cli import _print_paired
    refs = ["a cat sat on the mat", "the dog ran far away", "it is a good day"]
    data = SimpleNamespace(test_pairs=[(None, r) for r in refs])
    hist = {"lookup": ["a cat", "the dog", "it is"], "attention": refs[:2] + ["it is"],
            "transformer x5": refs}
    histories = {n: SimpleNamespace(hypotheses=h) for n, h in hist.items()}
    _print_paired(data, histories, SimpleNamespace(file=lambda name: tmp_path / name))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "over lookup" in ln]
    assert len(lines) == 2 and len({ln.index(" BLEU (95 % CI") for ln in lines}) == 1
    assert json.loads((tmp_path / "paired.json").read_text()).keys() == {"attention",
                                                                          "transformer x5"}
