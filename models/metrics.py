"""Scores of model outputs: exact match for the character tasks, BLEU and chrF (via
sacreBLEU) for translation, with sacreBLEU's signature and a bootstrap interval.

BLEU and chrF take text: the hypotheses are ``decode_target`` output and the references
``TranslationData.references()``, both this project's tokens (``models.text.tokenize``)
joined by single spaces, so the n-grams are the model's own tokens.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import sacrebleu

__all__ = ["exact_match", "corpus_bleu", "corpus_chrf", "bleu_report", "format_bleu_report",
           "BOOTSTRAP_BUDGET"]


def exact_match(predictions, targets) -> float:
    """Fraction of items whose predicted ids equal the target ids in every position.

    Parameters
    ----------
    predictions, targets : integer arrays, shape (N, T)
        The answers without the start column (``tgt[:, 1:]`` of a data set).

    Returns
    -------
    float
        In [0, 1]; an item counts only if all T positions match (``all``, not ``any``);
        0.0 for N = 0.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    predictions, targets = np.asarray(predictions), np.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions have shape {predictions.shape} but targets "
                         f"{targets.shape}; compare the answers without the start column "
                         "(tgt[:, 1:])")
    return float((predictions == targets).all(axis=1).mean()) if len(predictions) else 0.0


# tokenize="none": both sides are already our tokens joined by single spaces, so BLEU's
# n-grams are exactly the model's tokens.  '13a' is meant for detokenised text; on ours it
# is nearly the identity but re-splits a few of our tokens (e.g. "10:30" -> "10 : 30").
# force=True: sacrebleu warns that tokenised input "may hurt your score"; here it is
# tokenised on purpose, so that check is switched off.
_BLEU = sacrebleu.BLEU(tokenize="none", force=True)
# chrF (beta=2, character 6-grams, word_order=0); spaces are removed before counting
# character n-grams, so how punctuation was split does not change the score.
_CHRF = sacrebleu.CHRF()


def _check_corpus(hypotheses, references) -> tuple[list[str], list[str]]:
    """The two corpora as lists; TypeError for a single str or a non-str sentence,
    ValueError for different lengths or an empty corpus."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references are lists of sentences, not one str. "
                        "Fix: wrap a single sentence in a list")
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references; they must be "
                         "paired one to one")
    if not hyps:
        raise ValueError("cannot score an empty corpus")
    if not all(isinstance(s, str) for s in hyps + refs):
        raise TypeError("every hypothesis and reference must be a str")
    return hyps, refs


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (Papineni et al. 2002) via sacreBLEU (Post 2018), one reference each.

    sacreBLEU's defaults except ``tokenize="none"``: both sides must already be
    tokenised, space-joined text (``decode_target`` output and ``references()``), so the
    n-grams are the model's own tokens.  Exponential smoothing, case-sensitive (our
    tokeniser lower-cases by default).

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1

    Returns
    -------
    float
        In [0, 100]; 100 for identical corpora, 0 when no 4-gram (or no unigram) matches.

    Raises
    ------
    ValueError
        If the lengths differ or N == 0.
    TypeError
        If either argument is a single ``str`` or holds non-strings.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    return _clip(_BLEU.corpus_score(hyps, [refs]).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (Popović 2015) via ``sacrebleu.CHRF()``: character 6-gram F-score, beta 2.

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1

    Returns
    -------
    float
        In [0, 100]; 100 for identical corpora, 0 when no character n-gram matches.

    Raises
    ------
    ValueError, TypeError
        As ``corpus_bleu``.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    return _clip(_CHRF.corpus_score(hyps, [refs]).score)


def bleu_report(hypotheses: Sequence[str], references: Sequence[str], *,
                n_bootstrap: int = 1000, seed: int = 12345, lowercased: bool = True) -> dict:
    """Corpus BLEU with sacreBLEU's signature and its bootstrap 95 % confidence interval.

    What is computed, exactly: sacreBLEU's corpus BLEU (Papineni et al. 2002; Post 2018)
    with one reference per sentence, ``tokenize="none"`` (both sides are this project's
    tokens joined by single spaces: ``decode_target`` output and ``references()``), the
    default exponential smoothing, and ``lowercase=lowercased``.  Our tokeniser lower-cases
    by default (``load_translation(lower=True)``), so pass ``lowercased=data.lower``: the
    score is then case-insensitive and the signature says ``case:lc``.  The interval is
    sacreBLEU's own (``corpus_score(..., n_bootstrap=N)``, Koehn 2004): ``N`` resamples of
    the test sentences with replacement, drawn by ``np.random.default_rng(seed)``; sacreBLEU
    reports their mean ``mu`` and half the width ``h`` of their 2.5-97.5 percentile range,
    and the interval here is ``[mu - h, mu + h]`` (clipped to [0, 100]).

    Parameters
    ----------
    hypotheses, references : sequence of str, same length N >= 1
    n_bootstrap : int >= 2
        Resamples (sacreBLEU's default for ``--confidence`` is 1000).
    seed : int >= 0
        The resampling seed (sacreBLEU reads it from ``SACREBLEU_SEED``, which is set for
        the call and restored; it appears in the signature).
    lowercased : bool
        Whether the texts were lower-cased (sets ``lowercase`` and so the signature).

    Returns
    -------
    dict
        ``bleu`` (the corpus score, 0-100, as ``corpus_bleu``), ``ci_low``, ``ci_high``
        (0-100), ``mean`` (bootstrap mean), ``n_bootstrap``, ``seed``, ``n_sentences``,
        ``signature`` (sacreBLEU's, e.g. ``nrefs:1|bs:1000|seed:12345|case:lc|eff:no|
        tok:none|smooth:exp|version:2.6.0``) and ``description`` (one sentence saying the
        above).

    Raises
    ------
    ValueError, TypeError
        As ``corpus_bleu``; ValueError if ``n_bootstrap`` < 2 or ``seed`` < 0.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    _check_bootstrap_options(n_bootstrap, seed)
    metric = sacrebleu.BLEU(tokenize="none", force=True, lowercase=bool(lowercased))
    if len(hyps) * n_bootstrap <= BOOTSTRAP_BUDGET:
        score, mean, half = _sacrebleu_bootstrap(metric, hyps, refs, int(n_bootstrap), int(seed))
        how = "sacreBLEU's corpus_score(n_bootstrap)"
    else:
        score, mean, half = _bounded_bootstrap(metric, hyps, refs, int(n_bootstrap), int(seed))
        how = "sacreBLEU's statistics and estimator, resampled in O(N) memory"
    case = "case-insensitive (lower-cased text)" if lowercased else "case-sensitive"
    return {"bleu": _clip(score), "ci_low": _clip(mean - half), "ci_high": _clip(mean + half),
            "mean": mean, "n_bootstrap": int(n_bootstrap), "seed": int(seed),
            "n_sentences": len(hyps), "signature": str(metric.get_signature()),
            "description": f"corpus BLEU on the project's tokens (tokenize=none), {case}, "
                           f"1 reference per sentence, {len(hyps)} sentences; 95 % interval "
                           f"from {n_bootstrap} bootstrap resamples (seed {seed}; {how})"}


def _check_bootstrap_options(n_bootstrap, seed) -> None:
    """ValueError unless ``n_bootstrap`` is an integer >= 2 and ``seed`` one >= 0."""
    for name, value, low in (("n_bootstrap", n_bootstrap, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"bleu_report: {name} must be an integer >= {low}, got {value!r} "
                             f"(fix: n_bootstrap=1000, seed=12345 are sacreBLEU's defaults)")


def _clip(value: float) -> float:
    """``value`` clipped to [0, 100], as a float."""
    return float(min(max(value, 0.0), 100.0))


#: Largest sentences x resamples handed to sacreBLEU's own bootstrap, which holds them all
#: at once (~50 bytes each: 4e6 is ~200 MB); larger corpora use ``_bounded_bootstrap``.
BOOTSTRAP_BUDGET = 4_000_000


def _sacrebleu_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """(score, bootstrap mean, CI half-width) from sacreBLEU's ``corpus_score(...,
    n_bootstrap)``; its seed comes from ``SACREBLEU_SEED``, set for the call and restored."""
    saved = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        score = metric.corpus_score(hyps, [refs], n_bootstrap=n_bootstrap)
    finally:
        if saved is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = saved
    return float(score.score), float(score._mean), float(score._ci)   # its estimate_ci


def _bounded_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """The estimator of ``_sacrebleu_bootstrap`` (mean and half the 2.5-97.5 percentile
    width of the resampled corpus scores) with each resample drawn as multinomial counts
    over the N sentences (``np.random.default_rng(seed)``), so memory is O(N), not
    O(N * n_bootstrap); the sentence statistics and the score from summed statistics are
    sacreBLEU's own (the functions its bootstrap uses)."""
    stats = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    score = float(metric._compute_score_from_stats(stats.sum(0)).score)
    rng = np.random.default_rng(seed)
    n = len(stats)
    scores = np.sort([metric._compute_score_from_stats(
        rng.multinomial(n, np.full(n, 1.0 / n)) @ stats).score for _ in range(n_bootstrap)])
    low = n_bootstrap // 40
    metric.n_bootstrap, metric.seed = n_bootstrap, str(seed)     # for the signature
    return score, float(scores.mean()), 0.5 * float(scores[n_bootstrap - low - 1] - scores[low])


def format_bleu_report(report: dict) -> str:
    """One line for a ``bleu_report`` dict, e.g. ``BLEU 23.41 (95 % CI 21.90-24.93)
    nrefs:1|bs:1000|seed:12345|case:lc|eff:no|tok:none|smooth:exp|version:2.6.0``."""
    return (f"BLEU {report['bleu']:.2f} (95 % CI {report['ci_low']:.2f}-{report['ci_high']:.2f})"
            f" {report['signature']}")
