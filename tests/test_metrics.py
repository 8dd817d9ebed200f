"""The translation scores of ``models.metrics``: cased sacreBLEU on detokenized text against
the references as written, the lower-cased project-token BLEU beside it, chrF, paired
bootstrap 95 % intervals checked against a case whose answer is known exactly, the score
on the test items whose source was never seen in training, and how they are printed.

Every expected number is known in advance; no corpus from ``../shared`` is needed."""
import math
import string

import numpy as np
import pytest
import sacrebleu

import models.metrics as metrics
from models.metrics import (format_translation_score, lowercased_tokens, normalize_source,
                            translation_report, unseen_indices, unseen_report)
from models.train import format_score, translation_score
from models.translation_dataset import load_translation

from .conftest import SAMPLES


# ------------------------------------------------------------------ a case with a known answer
def _known_corpus(n: int, k: int, seed: int = 0):
    """k of n hypotheses equal their reference, the other n - k share no character with
    theirs; all sentences have five 4-letter words. Then every n-gram precision and recall
    (word and character) is k / n and the brevity penalty 1: BLEU = chrF = 100 k / n, and
    a bootstrap resample's score is 100 Binomial(n, k / n) / n."""
    rng = np.random.default_rng(seed)
    low, high = list(string.ascii_lowercase[:13]), list(string.ascii_lowercase[13:])

    def sentence(letters):
        return " ".join("".join(rng.choice(letters, 4)) for _ in range(5))
    refs = [sentence(low) for _ in range(n)]
    return [r if i < k else sentence(high) for i, r in enumerate(refs)], refs


def _binomial_interval(n: int, k: int) -> tuple[float, float]:
    """The 2.5 and 97.5 % quantiles of 100 Binomial(n, k / n) / n, exactly."""
    p = k / n
    cdf = np.cumsum([math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(n + 1)])
    return 100 * int(np.searchsorted(cdf, 0.025)) / n, 100 * int(np.searchsorted(cdf, 0.975)) / n


@pytest.mark.parametrize("n,k", [(200, 100), (200, 180)])
@pytest.mark.parametrize("bounded", [False, True])
def test_the_intervals_are_the_binomial_ones_on_a_known_case(monkeypatch, n, k, bounded):
    """sacreBLEU's estimate is the bootstrap mean +- half the 2.5-97.5 % range; on the exact
    distribution that is 100 k / n +- half the binomial quantiles' distance (for k / n =
    0.9 the percentile interval itself, [85.5, 94.0], sits 0.25 lower). Measured: within
    two sentences (200 / n) of it for any seed (0-29 tried), on both bootstrap paths, for
    the three scores; without resampling the interval would be 14 and 8.5 BLEU narrower."""
    if bounded:
        monkeypatch.setattr(metrics, "BOOTSTRAP_BUDGET", 0)
    hyps, refs = _known_corpus(n, k)
    r = translation_report(hyps, refs, confidence=True, n_bootstrap=2000)
    low, high = _binomial_interval(n, k)
    half = (high - low) / 2
    for key in ("bleu_cased", "bleu", "chrf"):
        assert r[key] == pytest.approx(100 * k / n)
        assert r[f"{key}_ci"][0] == pytest.approx(100 * k / n - half, abs=200 / n), key
        assert r[f"{key}_ci"][1] == pytest.approx(100 * k / n + half, abs=200 / n), key
    assert ("O(N) memory" in r["bleu_description"]) == bounded


def test_the_three_intervals_come_from_the_same_resamples():
    """On lower-case text already split into tokens the three views agree, so paired
    resamples give one interval for both BLEUs; so do the two bootstrap paths' sizes."""
    hyps, refs = _known_corpus(120, 70, seed=3)
    hyps = hyps[:60] + [h.replace(h.split()[0], "zzzz") for h in hyps[60:]]
    r = translation_report(hyps, refs, confidence=True, n_bootstrap=500, seed=9)
    assert r["bleu_cased_ci"] == r["bleu_ci"] and r["bleu_cased"] == r["bleu"]
    assert r["n_bootstrap"] == 500 and r["bootstrap_seed"] == 9
    assert all("bs:500|seed:9" in r[f"{k}_signature"] for k in ("bleu_cased", "bleu", "chrf"))
    again = translation_report(hyps, refs, confidence=True, n_bootstrap=500, seed=9)
    other = translation_report(hyps, refs, confidence=True, n_bootstrap=500, seed=10)
    assert again == r and other["bleu_ci"] != r["bleu_ci"]


def test_an_interval_where_some_resamples_score_zero():
    """sacreBLEU 2.6's own estimate fails here (float 0.0 beside float32 chrF scores)."""
    hyps, refs = ["cat"] + ["xyz"] * 39, ["the cat sat on the mat"] * 40
    r = translation_report(hyps, refs, confidence=True, n_bootstrap=400)
    assert r["chrf_ci"][0] == 0.0 < r["chrf"] < r["chrf_ci"][1] < 5


# ------------------------------------------------------------------ case and tokenization
HYPS = ["The cat sat on the mat.", "I don't know where he lives.", "Tom is here!"]
REFS = ["the cat sat on the mat.", "I do not know where he lives.", "Tom is here!"]


def test_bleu_cased_is_sacrebleus_default_and_lower_cased_bleu_ignores_case(caplog):
    r = translation_report(HYPS, REFS, confidence=True, n_bootstrap=100)
    assert r["bleu_cased"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert r["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    sig = dict(part.split(":") for part in r["bleu_cased_signature"].split("|"))
    assert (sig["case"], sig["tok"], sig["smooth"], sig["nrefs"]) == ("mixed", "13a", "exp", "1")
    assert "case:lc" in r["bleu_signature"] and "tok:none" in r["bleu_signature"]
    assert "case:mixed" in r["chrf_signature"] and "nc:6" in r["chrf_signature"]
    tokens, written = ["i am here ."] * 120, ["I am here."] * 120    # a word model's output
    with caplog.at_level("WARNING"):
        r = translation_report(tokens, written, confidence=True, n_bootstrap=10)
    assert "detokenize" not in caplog.text                             # no warning
    assert r["bleu_cased"] == pytest.approx(sacrebleu.corpus_bleu(tokens, [written]).score)
    plain = sacrebleu.BLEU()
    plain.corpus_score(tokens, [written])
    assert r["bleu_cased_signature"].replace("bs:10|seed:12345|", "") == \
        str(plain.get_signature())
    one = translation_report(HYPS[:1], REFS[:1])         # differs only in "The" / "the"
    assert one["bleu"] == 100.0 and one["bleu_cased"] < 100.0 and one["chrf"] < 100.0


def test_the_lower_cased_column_reads_the_projects_tokens():
    assert lowercased_tokens("I don't know, Tom.") == "i don't know , tom ."
    assert lowercased_tokens("je <unk> là .") == "je <unk> là ."       # one token, kept
    assert lowercased_tokens("Tom est là\u202f!") == "tom est là !"
    assert lowercased_tokens("Hello,world", split_punctuation=False) == "hello,world"
    # a word model's output (tokens already) scores as it did before the cased column
    hyps, refs = ["i don't know , tom ."], ["I don't know, Tom."]
    r = translation_report(hyps, refs)
    assert r["bleu"] == 100.0 and r["bleu_cased"] < 100.0
    with pytest.raises(TypeError, match="must be a str"):
        lowercased_tokens(None)


@pytest.fixture(scope="module")
def sample_data():
    """Real Tatoeba pairs shipped in the repo (samples/), with a validation split."""
    return load_translation(SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt",
                            test_fraction=0.2, seed=5).split_validation(0.2, seed=1)


def test_translation_score_reads_the_references_as_written(sample_data):
    data = sample_data
    written = [t for _, t in data.test_pairs]
    assert any(c.isupper() for t in written for c in t)          # cased, as in the file
    perfect = translation_score(data, written, confidence=True)
    assert (perfect["bleu_cased"], perfect["bleu"], perfect["chrf"]) == (100.0, 100.0, 100.0)
    as_tokens = translation_score(data, data.references())     # lower-cased tokens
    assert as_tokens["bleu"] == 100.0 and as_tokens["bleu_cased"] < 90.0
    valid = translation_score(data, [t for _, t in data.valid_pairs], "valid")
    assert set(valid) == {"bleu_cased", "bleu", "chrf"} and valid["bleu_cased"] == 100.0
    with pytest.raises(ValueError, match="no validation split.*split_validation"):
        translation_score(load_translation(data.path, test_fraction=0.2, seed=5), written,
                          "valid")


# ------------------------------------------------------------------ unseen sources
def test_unseen_sources_are_matched_after_normalisation():
    train = ["Tom est là.", "Je suis \u00abcontent\u00bb.", "Il  pleut."]
    test = ["tom est  là.", "Je suis \"content\".", "Il pleut !", "Tom est là."]
    assert unseen_indices(test, train).tolist() == [2]
    assert normalize_source("  Tom\u00a0EST   là. ") == "tom est là."
    assert unseen_indices(["a"], []).tolist() == [0] and unseen_indices([], ["a"]).size == 0
    assert unseen_indices(test, train).dtype == np.int64


def test_unseen_report_scores_only_the_unseen_items():
    hyps, refs = ["a b c d e", "x y z w v"], ["a b c d e", "p q r s t"]
    out = unseen_report(hyps, refs, ["seen", "new"], ["Seen"], confidence=True,
                        n_bootstrap=50)
    assert out["unseen_items"] == 1 and out["unseen_bleu_cased"] == 0.0
    assert out["unseen_chrf"] == 0.0 and len(out["unseen_bleu_cased_ci"]) == 2
    assert unseen_report(hyps, refs, ["seen", "new"], ["new", "seen"]) == {"unseen_items": 0}
    with pytest.raises(ValueError, match="paired one to one"):
        unseen_report(hyps, refs, ["seen"], [])


def test_the_test_score_counts_the_unseen_items(sample_data):
    data = sample_data
    written = [t for _, t in data.test_pairs]
    score = translation_score(data, written, confidence=True)
    known = {normalize_source(s) for s, _ in data.train_pairs + data.valid_pairs}
    expected = sum(normalize_source(s) not in known for s, _ in data.test_pairs)
    assert score["unseen_items"] == expected > 0 and score["unseen_bleu_cased"] == 100.0


# ------------------------------------------------------------------ printing
def test_the_printed_line_labels_each_column():
    r = translation_report(HYPS, REFS, confidence=True, n_bootstrap=100)
    r.update(unseen_items=2, unseen_bleu_cased=12.0, unseen_bleu=13.0, unseen_chrf=40.0)
    text = format_score(r)
    assert text == format_translation_score(r, "test")
    assert text.startswith(f"test BLEU {r['bleu_cased']:.2f} (95 % CI ")
    assert f"lower-cased BLEU {r['bleu']:.2f} (95 % CI" in text and ", chrF " in text
    assert text.endswith("2 test items with a source unseen in training: BLEU 12.00, "
                         "lower-cased BLEU 13.00, chrF 40.00")
    assert format_score({"bleu": 12.5, "chrf": 30.0}, "validation") == \
        "validation lower-cased BLEU 12.50 (project tokens), chrF 30.00"
    assert "every test source occurs in training" in format_score({**r, "unseen_items": 0})
    assert "lower-cased BLEU" in r["bleu_description"] and "13a" in r["bleu_description"]


def test_eval_prints_the_score_what_it_is_and_the_three_signatures(sample_data):
    from models.reporting import score_report
    data = sample_data
    score = translation_score(data, [t for _, t in data.test_pairs], confidence=True)
    lines = score_report(score, data).splitlines()
    assert lines[0].startswith("test BLEU 100.00 (95 % CI 100.00-100.00), lower-cased BLEU "
                               "100.00 (95 % CI 100.00-100.00), chrF 100.00")
    assert lines[0].endswith(f"on {len(data.src_test)} test items of {data.source}")
    assert lines[1] == f"scores: {score['bleu_description']}"
    assert [ln.split() for ln in lines[2:]] == [
        ["BLEU:", score["bleu_cased_signature"]],
        ["lower-cased", "BLEU:", score["bleu_signature"]], ["chrF:", score["chrf_signature"]]]
    assert score_report({"accuracy": 0.5}, data).count("\n") == 0


# ------------------------------------------------------------------ hostile arguments
@pytest.mark.parametrize("kwargs", [dict(n_bootstrap=0), dict(n_bootstrap=1),
                                    dict(n_bootstrap=2.5), dict(n_bootstrap=True),
                                    dict(seed=-1), dict(seed=float("nan"))])
def test_translation_report_refuses_bad_bootstrap_settings(kwargs):
    (name, value), = kwargs.items()
    low = 2 if name == "n_bootstrap" else 0
    with pytest.raises(ValueError) as e:
        translation_report(HYPS, REFS, confidence=True, **kwargs)
    assert str(e.value) == (f"translation_report: {name} must be an integer >= {low}, got "
                            f"{value!r} (fix: n_bootstrap=1000, seed=12345 are sacreBLEU's "
                            f"defaults)")


@pytest.mark.parametrize("hyps,refs,error,match", [
    ([], [], ValueError, "empty corpus"), (["a"], ["a", "b"], ValueError, "paired one to one"),
    ("a b", "a b", TypeError, "not one str"), ([None], ["a"], TypeError, "must be a str")])
def test_translation_report_refuses_a_bad_corpus(hyps, refs, error, match):
    with pytest.raises(error, match=match):
        translation_report(hyps, refs)
