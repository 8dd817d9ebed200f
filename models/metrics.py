"""Scores of model outputs: exact match for the character tasks; for translation
sacreBLEU's BLEU (Papineni et al. 2002; Post 2018) and chrF (Popović 2015) with their
signatures, bootstrap 95 % intervals (Koehn 2004) and the score on the test items whose
source never occurs in training.

A translation is scored three ways (:func:`translation_report`):

- ``bleu_cased``: the field's BLEU, sacreBLEU's defaults (case-sensitive, ``13a``
  tokenization) on the detokenized output (the codec's ``decode_target``) against the
  raw reference sentences of the file, as written;
- ``bleu``: the project's earlier score, kept as a second column: case-insensitive
  sacreBLEU with ``tokenize="none"`` on this project's tokens (``models.text.tokenize``,
  lower-cased) of both sides (close to ``sacrebleu -lc``); the validation score that
  chooses the epoch;
- ``chrf``: sacreBLEU's default chrF (character 6-grams, beta 2, case-sensitive) on the
  detokenized output against the raw references.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import sacrebleu

from .text import normalize, tokenize
from .vocab import Vocab

__all__ = ["exact_match", "corpus_bleu", "corpus_chrf", "bleu_report", "format_bleu_report",
           "BOOTSTRAP_BUDGET", "translation_report", "lowercased_tokens", "normalize_source",
           "unseen_indices", "unseen_report", "format_translation_score"]


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
    score, mean, half, how = _bootstrap(metric, hyps, refs, int(n_bootstrap), int(seed))
    case = "case-insensitive (lower-cased text)" if lowercased else "case-sensitive"
    return {"bleu": _clip(score), "ci_low": _clip(mean - half), "ci_high": _clip(mean + half),
            "mean": mean, "n_bootstrap": int(n_bootstrap), "seed": int(seed),
            "n_sentences": len(hyps), "signature": str(metric.get_signature()),
            "description": f"corpus BLEU on the project's tokens (tokenize=none), {case}, "
                           f"1 reference per sentence, {len(hyps)} sentences; 95 % interval "
                           f"from {n_bootstrap} bootstrap resamples (seed {seed}; {how})"}


def _check_bootstrap_options(n_bootstrap, seed, owner: str = "bleu_report") -> None:
    """ValueError (naming ``owner``) unless ``n_bootstrap`` is an integer >= 2 and ``seed``
    one >= 0."""
    for name, value, low in (("n_bootstrap", n_bootstrap, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r} "
                             f"(fix: n_bootstrap=1000, seed=12345 are sacreBLEU's defaults)")


def _clip(value: float) -> float:
    """``value`` clipped to [0, 100], as a float."""
    return float(min(max(value, 0.0), 100.0))


#: Largest sentences x resamples handed to sacreBLEU's own bootstrap for BLEU, which holds
#: them all at once (~50 bytes each: 4e6 is ~200 MB); a metric with more statistics per
#: sentence (chrF: 18 against BLEU's 10) gets proportionally fewer; larger corpora use
#: ``_bounded_bootstrap``.
BOOTSTRAP_BUDGET = 4_000_000


def _statistics_per_sentence(metric) -> int:
    """How many numbers sacreBLEU keeps per sentence for ``metric`` (BLEU: lengths and
    matches and totals per n-gram order; chrF: three per character and word n-gram order)."""
    if isinstance(metric, sacrebleu.CHRF):
        return 3 * (metric.char_order + metric.word_order)
    return 2 + 2 * getattr(metric, "max_ngram_order", 4)


def _bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int, width: int | None = None):
    """(score, bootstrap mean, CI half-width, how) of ``metric`` on the corpus: sacreBLEU's
    own ``corpus_score(n_bootstrap)`` while ``width`` statistics per sentence (default the
    metric's own) fit in BOOTSTRAP_BUDGET, else :func:`_bounded_bootstrap`. The same
    ``seed``, corpus size and path give the same resampled sentences to every metric (a
    paired bootstrap): pass the widest metric's ``width`` to keep several on one path."""
    width = _statistics_per_sentence(metric) if width is None else width
    if len(hyps) * n_bootstrap * width <= 10 * BOOTSTRAP_BUDGET:
        return (*_sacrebleu_bootstrap(metric, hyps, refs, n_bootstrap, seed),
                "sacreBLEU's resampling, as corpus_score(n_bootstrap)")
    return (*_bounded_bootstrap(metric, hyps, refs, n_bootstrap, seed),
            "sacreBLEU's statistics and estimator, resampled in O(N) memory")


def _sacrebleu_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """(score, bootstrap mean, CI half-width) from sacreBLEU's own bootstrap (the resamples
    of ``corpus_score(..., n_bootstrap)``: ``SACREBLEU_SEED``, set for the call and
    restored, seeds numpy's ``default_rng``; all resamples drawn at once).

    The estimate is sacreBLEU's (``Score.estimate_ci``) computed here in float64:
    sacreBLEU 2.6's own call fails with "don't know how to coerce float and float32" when
    some resampled chrF scores are exactly 0 (a Python float) and others are not."""
    from sacrebleu.significance import _bootstrap_resample
    saved = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        stats = metric._extract_corpus_statistics(hyps, [refs])
        score = float(metric._aggregate_and_compute(stats).score)
        metric.n_bootstrap = n_bootstrap                   # for the signature
        metric.seed, resampled = _bootstrap_resample(stats, metric, n_bootstrap)
    finally:
        if saved is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = saved
    return (score, *_estimate([s.score for s in resampled]))


def _estimate(scores) -> tuple[float, float]:
    """sacreBLEU's interval estimate of bootstrap ``scores`` (Koehn 2004): (their mean,
    half the distance between the ``n // 40``-th smallest and largest), in float64."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    low = len(scores) // 40
    return float(scores.mean()), 0.5 * float(scores[len(scores) - low - 1] - scores[low])


def _bounded_bootstrap(metric, hyps, refs, n_bootstrap: int, seed: int):
    """The estimator of ``_sacrebleu_bootstrap`` (:func:`_estimate`) with each resample
    drawn as multinomial counts over the N sentences (``np.random.default_rng(seed)``), so
    memory is O(N), not O(N * n_bootstrap); the sentence statistics and the score from
    summed statistics are sacreBLEU's own (the functions its bootstrap uses)."""
    stats = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    score = float(metric._compute_score_from_stats(stats.sum(0)).score)
    rng = np.random.default_rng(seed)
    n = len(stats)
    scores = [metric._compute_score_from_stats(
        rng.multinomial(n, np.full(n, 1.0 / n)) @ stats).score for _ in range(n_bootstrap)]
    metric.n_bootstrap, metric.seed = n_bootstrap, str(seed)     # for the signature
    return (score, *_estimate(scores))


def format_bleu_report(report: dict) -> str:
    """One line for a ``bleu_report`` dict, e.g. ``BLEU 23.41 (95 % CI 21.90-24.93)
    nrefs:1|bs:1000|seed:12345|case:lc|eff:no|tok:none|smooth:exp|version:2.6.0``."""
    return (f"BLEU {report['bleu']:.2f} (95 % CI {report['ci_low']:.2f}-{report['ci_high']:.2f})"
            f" {report['signature']}")


# -- translation: cased, lower-cased, chrF, intervals, unseen sources ----------------------
def _translation_metrics() -> dict:
    """Fresh sacreBLEU metrics of :func:`translation_report`, by score key, in the order
    they are printed (fresh: a bootstrap stores its settings on the object).

    ``force=True`` on the cased BLEU only silences sacreBLEU's "you forgot to detokenize"
    warning, which a word model's output (tokens joined by spaces, ``"i am here ."``)
    would raise at every validation; ``13a`` splits the reference's final period the same
    way, so the score and the signature are those of ``sacrebleu.BLEU()`` (tested)."""
    return {"bleu_cased": sacrebleu.BLEU(force=True),
            "bleu": sacrebleu.BLEU(tokenize="none", lowercase=True, force=True),
            "chrf": sacrebleu.CHRF()}


def lowercased_tokens(text: str, split_punctuation: bool = True) -> str:
    """``text`` as the lower-cased BLEU column reads it: this project's tokens
    (``models.text.tokenize(..., lower=True)``) joined by single spaces.

    A word model's output (``decode_target``: tokens already, ``<unk>`` for an unknown
    word) comes back unchanged (``<unk>`` stays one token, never ``< unk >``); detokenized
    text (a subword model's, or a reference as written) is split like the training data.

    Raises TypeError if ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return " ".join(tok for chunk in text.split() for tok in
                    ([chunk] if chunk == Vocab.UNK else tokenize(chunk, True, split_punctuation)))


def translation_report(hypotheses: Sequence[str], references: Sequence[str], *,
                       confidence: bool = False, n_bootstrap: int = 1000, seed: int = 12345,
                       split_punctuation: bool = True) -> dict:
    """The scores of a translated corpus, the field's way and the project's.

    Parameters
    ----------
    hypotheses : sequence of str, N >= 1
        Detokenized output, one per sentence (the codec's ``decode_target``).
    references : sequence of str, N
        The reference sentences as the data file has them (cased, not tokenized).
    confidence : bool
        Also give each score's bootstrap 95 % interval and sacreBLEU signature.
    n_bootstrap, seed : int >= 2, int >= 0
        The resamples of the test sentences (Koehn 2004), drawn with
        ``np.random.default_rng(seed)``; the same resamples serve the three scores
        (paired). Each interval is sacreBLEU's estimate: the bootstrap mean +- half the
        width of the 2.5-97.5 percentile range (``sacrebleu --confidence``), clipped to
        [0, 100].
    split_punctuation : bool
        The tokenizer option of the lower-cased column (:func:`lowercased_tokens`).

    Returns
    -------
    dict
        ``bleu_cased`` (sacreBLEU's defaults: case-sensitive, tokenize ``13a``, on
        ``hypotheses`` against ``references``), ``bleu`` (case-insensitive, tokenize
        ``none`` on :func:`lowercased_tokens` of both sides), ``chrf`` (sacreBLEU's default
        chrF, case-sensitive, on the text as given), each 0-100; with ``confidence`` also
        ``KEY_ci`` ([low, high]) and ``KEY_signature`` for each, ``n_bootstrap``,
        ``bootstrap_seed`` and ``bleu_description`` (one sentence saying all this).

    Raises
    ------
    ValueError, TypeError
        As ``corpus_bleu`` and ``bleu_report``.
    """
    hyps, refs = _check_corpus(hypotheses, references)
    metrics = _translation_metrics()
    lowered = ([lowercased_tokens(h, split_punctuation) for h in hyps],
               [lowercased_tokens(r, split_punctuation) for r in refs])
    if not confidence:
        return {key: _clip(m.corpus_score(*((lowered[0], [lowered[1]]) if key == "bleu"
                                            else (hyps, [refs]))).score)
                for key, m in metrics.items()}
    _check_bootstrap_options(n_bootstrap, seed, "translation_report")
    width = max(_statistics_per_sentence(m) for m in metrics.values())
    out = {}
    for key, metric in metrics.items():
        h, r = lowered if key == "bleu" else (hyps, refs)
        score, mean, half, how = _bootstrap(metric, h, r, int(n_bootstrap), int(seed), width)
        out.update({key: _clip(score), f"{key}_ci": [_clip(mean - half), _clip(mean + half)],
                    f"{key}_signature": str(metric.get_signature())})
    out.update(n_bootstrap=int(n_bootstrap), bootstrap_seed=int(seed))
    out["bleu_description"] = _describe(out, len(hyps), how)
    return out


def _describe(out: dict, n: int, how: str) -> str:
    """The sentence that says what :func:`translation_report` computed. It ends with the
    lower-cased column (whose signature ``bleu_signature`` is), so that a caller may print
    ``f"{description}; sacreBLEU signature {bleu_signature}"``."""
    return (f"{n} sentences, 1 reference each; BLEU = sacreBLEU's defaults (case-sensitive, "
            f"tokenize 13a) on the detokenized output against the reference sentences as "
            f"written, signature {out['bleu_cased_signature']}; chrF = sacreBLEU's default "
            f"chrF on the same text, signature {out['chrf_signature']}; 95 % intervals from "
            f"{out['n_bootstrap']} bootstrap resamples of the sentences (seed "
            f"{out['bootstrap_seed']}, the same resamples for every score; {how}); lower-cased "
            f"BLEU = case-insensitive, tokenize none, on the project's lower-cased tokens of "
            f"both sides (the validation score that chooses the epoch)")


def normalize_source(text: str) -> str:
    """A source sentence as :func:`unseen_indices` compares it: ``models.text.normalize``
    (Unicode spaces and quotes mapped, lower-cased, NFC) with runs of whitespace made one
    space and the ends stripped. Raises TypeError if ``text`` is not a str."""
    return " ".join(normalize(text, lower=True).split())


def unseen_indices(test_sources: Sequence[str], train_sources: Sequence[str]) -> np.ndarray:
    """Indices (int64, ascending) of the test sources that never occur among the training
    sources: exact string match after :func:`normalize_source` (so ``"Tom est là."`` and
    ``"tom est  là."`` are the same sentence, ``"Tom est là !"`` another). Empty when every
    test source was seen. Raises TypeError for a sentence that is not a str."""
    seen = {normalize_source(s) for s in train_sources}
    return np.array([i for i, s in enumerate(test_sources) if normalize_source(s) not in seen],
                    dtype=np.int64)


def unseen_report(hypotheses: Sequence[str], references: Sequence[str],
                  test_sources: Sequence[str], train_sources: Sequence[str],
                  **options) -> dict:
    """:func:`translation_report` (with ``options``) of the items whose source is unseen in
    training (:func:`unseen_indices`), its keys prefixed ``unseen_`` (scores and intervals;
    the signatures are those of the whole corpus), plus ``unseen_items`` (their number; the
    only key when it is 0). Raises ValueError unless the three test lists have one length."""
    if not len(hypotheses) == len(references) == len(test_sources):
        raise ValueError(f"{len(hypotheses)} hypotheses, {len(references)} references and "
                         f"{len(test_sources)} sources: they must be paired one to one")
    idx = unseen_indices(test_sources, train_sources).tolist()
    out = {"unseen_items": len(idx)}
    if idx:
        rep = translation_report([hypotheses[i] for i in idx], [references[i] for i in idx],
                                 **options)
        out.update({f"unseen_{k}": v for k, v in rep.items()
                    if k in ("bleu_cased", "bleu", "chrf") or k.endswith("_ci")})
    return out


def _with_ci(score: dict, key: str) -> str:
    """``score[key]`` as text, with its interval when ``score`` has one."""
    ci = score.get(f"{key}_ci")
    return f"{score[key]:.2f}" + ("" if ci is None else f" (95 % CI {ci[0]:.2f}-{ci[1]:.2f})")


def format_translation_score(score: dict, split: str = "test") -> str:
    """One line for a :func:`translation_report` dict (with :func:`unseen_report`'s keys
    if any), e.g. ``test BLEU 30.12 (95 % CI 28.01-32.20), lower-cased BLEU 45.40 (95 % CI
    43.30-48.20), chrF 50.11 (95 % CI 49.02-51.30); 812 test items with a source unseen
    in training: BLEU 20.10, lower-cased BLEU 31.00, chrF 41.20``. A score from before
    the cased column (keys ``bleu``, ``chrf`` only) is labelled as what it was."""
    if "bleu_cased" not in score:
        return (f"{split} lower-cased BLEU {_with_ci(score, 'bleu')} (project tokens), "
                f"chrF {score['chrf']:.2f}")
    text = (f"{split} BLEU {_with_ci(score, 'bleu_cased')}, lower-cased BLEU "
            f"{_with_ci(score, 'bleu')}, chrF {_with_ci(score, 'chrf')}")
    n = score.get("unseen_items")
    if n == 0:
        text += "; every test source occurs in training"
    elif n is not None:
        text += (f"; {n} test items with a source unseen in training: BLEU "
                 f"{score['unseen_bleu_cased']:.2f}, lower-cased BLEU "
                 f"{score['unseen_bleu']:.2f}, chrF {score['unseen_chrf']:.2f}")
    return text
