"""Is a model better than a baseline on the same test sentences? The paired bootstrap
(Koehn 2004, "Statistical Significance Tests for Machine Translation Evaluation", sec. 5;
sacreBLEU's ``--paired-bs`` does the same test).

Two overlapping 95 % intervals, each from its own resamples, do not say the two systems
are alike: the intervals ignore that both systems translate the same sentences, so hard
sentences pull both scores down together. The paired test resamples the test sentences
once per round, scores *both* systems on that resample, and looks at the difference: its
2.5-97.5 percentile range is a 95 % interval of the difference, and the share of rounds in
which the model is not better than the baseline is a one-sided p-value.

The score is sacreBLEU's default corpus BLEU (cased, ``13a``; the first column of
``compare``'s table) from its own sentence statistics, so a resample's score is exactly
sacreBLEU's score of the resampled corpus.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import sacrebleu

from .metrics import _check_bootstrap_options, _check_corpus

__all__ = ["paired_bootstrap", "format_paired"]


def paired_bootstrap(baseline: Sequence[str], hypotheses: Sequence[str],
                     references: Sequence[str], *, n_bootstrap: int = 1000,
                     seed: int = 12345) -> dict:
    """The paired bootstrap of ``hypotheses`` against ``baseline`` (detokenized output
    text, one per reference sentence, the same order) on sacreBLEU's default BLEU.

    Each of ``n_bootstrap`` rounds draws N sentence indices with replacement (as counts,
    ``np.random.default_rng(seed).multinomial``, so memory is O(N)) and scores both systems
    on that resample from their per-sentence BLEU statistics.

    Returns a dict: ``difference`` (BLEU of ``hypotheses`` minus BLEU of ``baseline`` on
    the whole test set, 0-100 points), ``ci_low`` / ``ci_high`` (the 2.5th and 97.5th
    percentiles of the resampled differences), ``p_value`` (share of rounds with a
    difference <= 0: the one-sided p-value of "the model is better"), ``bleu`` and
    ``baseline_bleu`` (the two scores), ``n_bootstrap``, ``seed``, ``n_sentences`` and
    ``signature`` (sacreBLEU's BLEU signature of the scores).

    Raises ValueError (as ``models.metrics.corpus_bleu``) for empty or unequal-length
    inputs or non-string items, and for ``n_bootstrap`` < 2 or ``seed`` < 0.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    if len(baseline) != len(refs):
        raise ValueError(f"paired_bootstrap: {len(baseline)} baseline outputs but {len(refs)} "
                         f"references (fix: pass one baseline output per test sentence, in "
                         f"the same order)")
    base, _ = _check_corpus(baseline, references)
    _check_bootstrap_options(n_bootstrap, seed, owner="paired_bootstrap")
    metric = sacrebleu.BLEU()
    ours = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    theirs = np.asarray(metric._extract_corpus_statistics(base, [refs]), dtype=np.float64)
    score = _score(metric, ours.sum(0))
    floor = _score(metric, theirs.sum(0))
    rng, n = np.random.default_rng(seed), len(refs)
    diffs = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        counts = rng.multinomial(n, np.full(n, 1.0 / n))
        diffs[i] = _score(metric, counts @ ours) - _score(metric, counts @ theirs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"difference": score - floor, "ci_low": float(low), "ci_high": float(high),
            "p_value": float(np.mean(diffs <= 0)), "bleu": score, "baseline_bleu": floor,
            "n_bootstrap": int(n_bootstrap), "seed": int(seed), "n_sentences": n,
            "signature": str(metric.get_signature())}


def _score(metric, stats: np.ndarray) -> float:
    """sacreBLEU's corpus score (0-100) from summed sentence statistics."""
    return float(metric._compute_score_from_stats(stats).score)


def format_paired(name: str, result: dict, baseline: str = "lookup", width: int = 12) -> str:
    """One line of :func:`paired_bootstrap`'s ``result``, e.g. "bahdanau  +2.50 BLEU
    (95 % CI +0.10 to +4.90) over lookup; not better in 3.6 % of 1000 resamples", the name
    padded to ``width`` characters (the longest name of a table keeps its lines aligned)."""
    r = result
    return (f"{name:<{width}} {r['difference']:+7.2f} BLEU (95 % CI {r['ci_low']:+.2f} to "
            f"{r['ci_high']:+.2f}) over {baseline}; not better in {100 * r['p_value']:.1f} % "
            f"of {r['n_bootstrap']} resamples (p = {r['p_value']:.3f})")
