"""What the training loop needs of a data set, and the array helpers every data set uses.

:class:`Seq2SeqData` is the contract of ``models/train.py``: the character tasks
(``models.char_dataset.Dataset``) and the translation data
(``models.translation_dataset.TranslationData``) both satisfy it, so the loop never asks
which one it has.  Beside it: right-padding of id rows and the padding mask
(:func:`pad_sequences`, :func:`src_padding_mask`), the book's train/test split
(:func:`split_train_test`) and the seeded validation split (:func:`validation_indices`).
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .data_files import DataError
from .vocab import Vocab

__all__ = ["Seq2SeqData", "pad_sequences", "src_padding_mask", "split_train_test",
           "validation_indices"]


@runtime_checkable
class Seq2SeqData(Protocol):
    """Encoded, split sequence-to-sequence data, as ``models/train.py`` uses it.

    Attributes
    ----------
    src_train, src_test : np.ndarray, int64, shape (N, S)
        Source ids (reversed along axis 1 when ``reversed``; right-padded with ``pad_id``
        when it is not None).
    tgt_train, tgt_test : np.ndarray, int64, shape (N, T + 1)
        Target ids; column 0 is ``start_id`` (the decoder's input starts with it, the
        loss is on columns 1..T).
    src_valid, tgt_valid : np.ndarray or None
        The validation split, same layouts; None until :meth:`split_validation`.
    src_vocab, tgt_vocab : models.vocab.Vocab
        ``len`` is the embedding / softmax size V (one shared vocabulary for characters).
    pad_id : int or None
        The padding id, masked out of attention and loss; None for fixed-width rows.
    start_id : int
        The decoder's first input.
    eos_id : int or None
        The end-of-sequence id; None when every answer has one fixed length.
    metric : str
        ``"exact_match"`` (every position right) or ``"bleu"``; data scored by BLEU also
        offer ``decode_target(row)``, ``references()``, ``valid_references()`` and
        ``lower`` (see ``models.translation_dataset.TranslationData``).
    source : str
        A description of where the data came from, for logs.
    reversed : bool
        Whether the sources are reversed (Sutskever et al. 2014, section 3.3).

    Methods: ``split_validation(fraction, seed)`` and ``metadata()``.  Both data sets also
    offer ``codec()`` (``models.codecs``: text in, text out, without the arrays), which
    the command line and the checkpoints use.
    """

    src_train: np.ndarray
    tgt_train: np.ndarray
    src_test: np.ndarray
    tgt_test: np.ndarray
    src_valid: np.ndarray | None
    tgt_valid: np.ndarray | None
    src_vocab: Vocab
    tgt_vocab: Vocab
    pad_id: int | None
    start_id: int
    eos_id: int | None
    metric: str
    source: str
    reversed: bool

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> "Seq2SeqData":
        """A copy whose training rows are split into training and validation rows."""

    def metadata(self) -> dict:
        """A JSON-safe description for a checkpoint (what the codec is rebuilt from)."""


def pad_sequences(rows: Sequence[np.ndarray], pad_id: int = Vocab.PAD_ID,
                  width: int | None = None) -> np.ndarray:
    """Right-pad 1-D id arrays into one matrix.

    Parameters
    ----------
    rows : sequence of 1-D integer arrays, N of them
    pad_id : int
    width : int, optional
        Number of columns; default the longest row (0 if ``rows`` is empty).

    Returns
    -------
    np.ndarray, int64, shape (N, width)

    Raises
    ------
    ValueError
        If a row is longer than ``width``.
    """
    longest = max((len(r) for r in rows), default=0)
    width = longest if width is None else width
    if longest > width:
        raise ValueError(f"a row has {longest} ids but width is {width}")
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def src_padding_mask(src, pad_id: int = Vocab.PAD_ID) -> np.ndarray:
    """Where the source is padding, for masking attention scores.

    Parameters
    ----------
    src : integer array, shape (N, S)
    pad_id : int

    Returns
    -------
    np.ndarray, bool, shape (N, S)
        True at padded positions (to be excluded), False at real tokens.

    Raises
    ------
    ValueError
        If ``src`` is not a 2-D integer array.
    """
    src = np.asarray(src)
    if src.ndim != 2 or not np.issubdtype(src.dtype, np.integer):
        raise ValueError(f"src must be a 2-D integer array (N, S), got {src.dtype} "
                         f"shape {src.shape}")
    return src == pad_id


def split_train_test(x: np.ndarray, t: np.ndarray, seed: int = 1984, test_fraction: float = 0.1):
    """Shuffle rows exactly as the book does and hold out the last ``test_fraction``.

    Uses ``np.random.seed(seed)`` then ``np.random.shuffle`` on ``np.arange(len(x))``, so it
    **reseeds numpy's global generator** (and leaves it advanced); this is what makes the
    split identical to the book's.  The test set has ``int(len(x) * test_fraction)`` rows
    (``len(x) // 10`` for the default).

    Returns
    -------
    x_train, t_train, x_test, t_test : np.ndarray
        Row subsets of ``x`` and ``t``, same dtypes, train first.

    Raises
    ------
    ValueError
        If ``x`` and ``t`` differ in length or ``test_fraction`` is not in ``[0, 1)``.
    """
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} rows but t has {len(t)}; they must be paired row by row")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    indices = np.arange(len(x))
    np.random.seed(seed)
    np.random.shuffle(indices)
    x, t = x[indices], t[indices]
    split_at = len(x) - int(len(x) * test_fraction)
    return x[:split_at], t[:split_at], x[split_at:], t[split_at:]


def validation_indices(data, n: int, fraction: float, seed: int):
    """Rows of a training split of ``n`` rows to keep for training and to hold out for
    validation: ``int(n * fraction)`` rows drawn with ``np.random.default_rng(seed)``.

    Returns (train, valid): sorted int64 index arrays that partition ``range(n)``.
    Raises ValueError for a ``fraction`` outside (0, 1) or a bad ``seed``, DataError (naming
    ``data.path`` or ``data.source``, and the counts) if either part would be empty or
    ``data`` already has a validation split.
    """
    _check_fraction_and_seed(fraction, seed)
    where = getattr(data, "path", None) or data.source
    if getattr(data, "validation", None) is not None:
        raise DataError(where, None, None, f"already has a validation split "
                        f"({data.validation})", "call split_validation once, on the data "
                        "the loader returned")
    n_valid = int(n * fraction)
    if n_valid == 0 or n_valid == n:
        part = "validation" if n_valid == 0 else "training"
        raise DataError(where, None, None, f"a validation fraction of {fraction:g} of "
                        f"{n} training items leaves the {part} split empty ({n - n_valid} "
                        f"train / {n_valid} validation)", "use more data or a validation "
                        f"fraction between {1 / n if n else 1:.3g} and {1 - 1 / n if n else 0:.3g}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _check_fraction_and_seed(fraction, seed) -> None:
    """ValueError unless ``fraction`` is a number in (0, 1) and ``seed`` an integer >= 0."""
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating))
            or not 0 < fraction < 1):
        raise ValueError(f"split_validation: fraction must be a number in (0, 1), got "
                         f"{fraction!r} (fix: e.g. fraction=0.1 holds out 10 % of the training "
                         "data)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"split_validation: seed must be an integer >= 0, got {seed!r} (fix: "
                         "e.g. seed=0)")
