"""The lookup baseline: a "translation" that learns nothing.

For each test source, find the most similar training source by TF-IDF cosine similarity
(scikit-learn's ``TfidfVectorizer``, Salton & Buckley 1988 weighting with scikit-learn's
smoothed idf and L2-normalised rows, so a dot product is the cosine) and output that
training pair's target sentence, as written in the file. Every score table carries it as
its floor: a model that does not beat it has learned less than a retrieval over its own
training pairs (issue 16). ``compare --models lookup,...`` runs it (:func:`run_lookup`)
as one row, with no epochs.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from types import SimpleNamespace
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from .metrics import normalize_source
from .text import tokenize

__all__ = ["Lookup", "run_lookup", "LOOKUP_ANALYZERS"]

#: The analyzers :class:`Lookup` takes: ``word`` n-grams of the project's tokens
#: (``models.text.tokenize``, lower-cased) or ``char_wb`` n-grams (characters inside word
#: boundaries, scikit-learn's).
LOOKUP_ANALYZERS = ("word", "char_wb")

#: Similarities held at once while searching (rows x training sources): 4 Mi, ~48 MB.
SEARCH_BUDGET = 2 ** 22


def _words(text: str) -> list[str]:
    """The word analyzer's tokens: ``models.text.tokenize(text, lower=True)``."""
    return tokenize(text, True, True)


class Lookup:
    """Nearest training source by TF-IDF cosine; outputs its target.

    Parameters
    ----------
    analyzer : "word" or "char_wb"
        Word n-grams of the project's lower-cased tokens, or character n-grams inside word
        boundaries of :func:`models.metrics.normalize_source` text.
    ngram_range : (int, int), 1 <= low <= high <= 8
        The n-gram orders (scikit-learn's ``ngram_range``).

    The default, character 1-3-grams, was chosen on validation (compare's split: 10 % of
    the training pairs, seed 0; cased BLEU on kor.txt / fra.tutorial-filter.txt): char_wb
    1-3 20.75 / 50.03, char_wb 2-4 20.84 / 48.88, char_wb 1-2 20.47 / 50.08, word 1-1
    20.72 / 42.52, word 1-2 20.55 / 44.40, word 1-3 20.25 / 43.71.

    Raises
    ------
    ValueError
        For an unknown analyzer or a bad ``ngram_range``.
    """

    def __init__(self, analyzer: str = "char_wb", ngram_range: tuple = (1, 3)):
        if analyzer not in LOOKUP_ANALYZERS:
            raise ValueError(f"Lookup: analyzer must be one of {', '.join(LOOKUP_ANALYZERS)}, "
                             f"not {analyzer!r} (fix: analyzer='word')")
        try:
            low, high = ngram_range
        except (TypeError, ValueError):
            low = high = None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) \
                or not 1 <= low <= high <= 8:
            raise ValueError(f"Lookup: ngram_range must be two integers 1 <= low <= high <= 8, "
                             f"not {ngram_range!r} (fix: ngram_range=(1, 2))")
        self.analyzer, self.ngram_range = analyzer, (low, high)
        self.vectorizer = None

    def fit(self, sources: Sequence[str], targets: Sequence[str]) -> "Lookup":
        """Index the training pairs: ``sources`` and ``targets``, N >= 1 str each (paired).
        Returns self. Raises ValueError for unpaired or empty lists, or when no source has
        a feature (scikit-learn's "empty vocabulary")."""
        sources, targets = list(sources), list(targets)
        if len(sources) != len(targets) or not sources:
            raise ValueError(f"Lookup.fit: {len(sources)} sources and {len(targets)} targets; "
                             f"they must be paired one to one, at least one pair")
        word = self.analyzer == "word"
        self.vectorizer = TfidfVectorizer(
            analyzer=self.analyzer, ngram_range=self.ngram_range, lowercase=False,
            tokenizer=_words if word else None, token_pattern=None,
            preprocessor=None if word else normalize_source, dtype=np.float32)
        self.matrix_ = self.vectorizer.fit_transform(sources).tocsr()       # (N, F)
        self.targets_ = targets
        self.fallback_ = Counter(targets).most_common(1)[0][0]
        return self

    def nearest(self, sources: Sequence[str]) -> np.ndarray:
        """Index (int64, shape (M,)) of the most similar training source of each of
        ``sources`` (the first on ties, in training order), -1 where none shares a feature.
        Raises RuntimeError before :meth:`fit`."""
        if self.vectorizer is None:
            raise RuntimeError("Lookup.nearest: call fit(sources, targets) first")
        queries = self.vectorizer.transform(list(sources)).tocsr()           # (M, F)
        rows = max(1, SEARCH_BUDGET // self.matrix_.shape[0])
        out = np.empty(queries.shape[0], np.int64)
        for start in range(0, queries.shape[0], rows):
            sim = (queries[start:start + rows] @ self.matrix_.T).toarray()    # (m, N)
            best = sim.argmax(axis=1)
            out[start:start + rows] = np.where(sim[np.arange(len(sim)), best] > 0, best, -1)
        return out

    def predict(self, sources: Sequence[str]) -> list[str]:
        """The target of each source's nearest training source (:meth:`nearest`); where
        none shares a feature, the most frequent training target."""
        return [self.targets_[i] if i >= 0 else self.fallback_ for i in self.nearest(sources)]


def run_lookup(data, *, valid_fraction: float, seed: int, out_dir=None, log=print,
               analyzer: str = "char_wb", ngram_range: tuple = (1, 3)):
    """Fit :class:`Lookup` on ``data``'s training pairs (after carving the validation
    split exactly as ``models.train.train`` does, ``valid_fraction`` and ``seed``), score
    it on validation and, with intervals, on test (``models.train.translation_score``).

    Returns a ``models.train.History`` with no epochs, ``hypotheses`` (the test output,
    one string per test pair) and ``results`` holding
    ``test_chosen`` = ``test_last`` (the test score), ``valid`` (the validation score or
    None), ``chosen_epoch`` None, ``fit_seconds`` (fitting and predicting both splits, s)
    and ``lookup`` (the analyzer, n-gram range and training pairs). With ``out_dir`` the
    results are written to ``out_dir/results.json``. Raises ValueError for data without
    sentence pairs (a character task) or a bad ``valid_fraction``.
    """
    from .train import History, format_score, translation_score, with_validation
    if not hasattr(data, "train_pairs"):
        raise ValueError("the lookup baseline needs translation data (sentence pairs) (fix: "
                         "drop lookup from --models, or pass a sentence-pair --data file)")
    data = with_validation(data, SimpleNamespace(valid_fraction=valid_fraction, seed=seed))
    t0 = time.perf_counter()
    model = Lookup(analyzer, ngram_range).fit(*zip(*data.train_pairs))
    has_valid = getattr(data, "src_valid", None) is not None
    valid_hyps = model.predict([s for s, _ in data.valid_pairs]) if has_valid else None
    test_hyps = model.predict([s for s, _ in data.test_pairs])
    seconds = time.perf_counter() - t0
    valid = translation_score(data, valid_hyps, "valid") if has_valid else None
    test = translation_score(data, test_hyps, "test", confidence=True)
    history = History()
    history.hypotheses = test_hyps        # as a trained model's (compare's paired test)
    history.results = {"chosen_epoch": None, "last_epoch": None, "chosen_on": "no epochs",
                       "valid_items": len(data.valid_pairs), "test_items": len(test_hyps),
                       "valid": valid, "test_chosen": test, "test_last": test,
                       "fit_seconds": seconds,
                       "lookup": {"analyzer": analyzer, "ngram_range": list(ngram_range),
                                  "train_items": len(data.train_pairs)}}
    log(f"lookup (TF-IDF {analyzer} {ngram_range[0]}-{ngram_range[1]}-grams, nearest of "
        f"{len(data.train_pairs)} training sources; {seconds:.1f} s): "
        + (f"{format_score(valid, 'validation')}; " if valid else "") + format_score(test))
    log(f"BLEU: {test['bleu_description']}; sacreBLEU signature {test['bleu_signature']}")
    if out_dir is not None:
        _write_results(history.results, out_dir)
    return history


def _write_results(results: dict, out_dir) -> None:
    """``results`` as ``out_dir/results.json`` (folder made if needed; written atomically)."""
    from tinygrad_attn.fileio import atomic_open
    os.makedirs(out_dir, exist_ok=True)
    with atomic_open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
