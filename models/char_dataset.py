"""The book's character tasks as encoded, split arrays: :func:`load_dataset` -> :class:`Dataset`.

A ``question_answer`` file (``models.pair_files``) or the built-in date task
(``models.date_task``) is encoded character by character with one shared vocabulary
(``models.vocab.Vocab.from_texts``, the book's first-appearance order), split 90 / 10 with
the book's shuffle, and the inputs reversed (the book's trick).  Every row has the
width of the file, so nothing is padding and no answer ends early: ``pad_id`` and
``eos_id`` are None.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from .codecs import CharCodec
from .data_files import DataError
from .datasets import split_train_test, validation_indices
from .date_task import generate_date_task
from .pair_files import SEPARATOR, load_question_answer, parse_question_answer
from .vocab import Vocab

__all__ = ["Dataset", "load_dataset"]


@dataclass
class Dataset:
    """Encoded, split ``question_answer`` data (a ``models.datasets.Seq2SeqData``).

    Attributes
    ----------
    src_train, src_test : np.ndarray, int64, shape (N, S)
        Encoded inputs (reversed along axis 1 if ``reversed``).
    tgt_train, tgt_test : np.ndarray, int64, shape (N, T + 1)
        Encoded answers; column 0 is ``start_id`` (the ``_``).
    vocab : Vocab
        The one character vocabulary of inputs and answers (``kind="char"``); also
        ``src_vocab`` and ``tgt_vocab``.
    reversed : bool
    source : str
        File path, or a description of the built-in generator and its seed.
    path : str or None
        The absolute path of the file read, None for the built-in task.
    counts : dict
        ``{"read": examples in the file, "used", "train", "test"}`` and, after
        :meth:`split_validation`, ``"valid"``.
    src_valid, tgt_valid : np.ndarray or None
        The validation split (same layout as the training arrays), None until
        :meth:`split_validation` made one.
    validation : dict or None
        ``{"fraction": f, "seed": s}`` of :meth:`split_validation`, else None.
    pad_id, eos_id : None
        Fixed-width rows: the spaces are real tokens, nothing is masked, and answers have
        a fixed length instead of an end symbol.
    metric : str
        ``"exact_match"``.
    """

    src_train: np.ndarray
    tgt_train: np.ndarray
    src_test: np.ndarray
    tgt_test: np.ndarray
    vocab: Vocab
    reversed: bool
    source: str
    path: str | None = None
    counts: dict = field(default_factory=dict)
    src_valid: np.ndarray | None = None
    tgt_valid: np.ndarray | None = None
    validation: dict | None = None

    pad_id = None
    eos_id = None
    metric = "exact_match"

    @property
    def start_id(self) -> int:
        """Id of ``_``, the decoder's start symbol."""
        return self.vocab.stoi[SEPARATOR]

    src_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")
    tgt_vocab = property(lambda self: self.vocab, doc="the one shared vocabulary")

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> "Dataset":
        """A new Dataset whose training rows are split into training and validation rows.

        ``int(len(src_train) * fraction)`` training rows, drawn with
        ``np.random.default_rng(seed).permutation`` (numpy's global state is untouched),
        become ``src_valid``/``tgt_valid``; the rest stay the training rows, in their order.
        The test split, the vocabulary and ``self`` are unchanged; the same ``fraction`` and
        ``seed`` always give the same split.  Use the validation split to choose an epoch
        or a setting, the test split only to report.

        Parameters
        ----------
        fraction : float in (0, 1)
        seed : int

        Returns
        -------
        Dataset
            With ``src_valid``, ``tgt_valid``, ``counts["valid"]`` and ``validation`` set.

        Raises
        ------
        DataError
            If the validation split or the remaining training split would be empty (the
            message gives the counts), or a validation split exists already.
        ValueError
            If ``fraction`` is not a number in (0, 1) or ``seed`` is not an integer >= 0.
        """
        train, valid = validation_indices(self, len(self.src_train), fraction, seed)
        return replace(self, src_train=self.src_train[train], tgt_train=self.tgt_train[train],
                       src_valid=self.src_train[valid], tgt_valid=self.tgt_train[valid],
                       counts={**self.counts, "train": len(train), "valid": len(valid)},
                       validation={"fraction": float(fraction), "seed": int(seed)})

    def metadata(self) -> dict:
        """JSON-safe description for a checkpoint: what :class:`CharCodec` needs, plus where
        the data came from."""
        return {"kind": "char", "vocab": self.vocab.to_dict(), "reversed": self.reversed,
                "source_width": int(self.src_train.shape[1]),
                "answer_length": int(self.tgt_train.shape[1] - 1),
                "start_id": int(self.start_id), "data_path": self.path,
                "data_source": self.source, "counts": dict(self.counts),
                "validation": self.validation}

    def codec(self) -> CharCodec:
        """The vocabulary and encoding options, without the arrays (a new object)."""
        return CharCodec.from_metadata(self.metadata())


def load_dataset(path=None, *, reverse: bool = True, seed: int = 1984,
                 n_generated: int = 50000, generator_seed: int = 0) -> Dataset:
    """Load (or generate), encode and split a ``question_answer`` task.

    Steps: read or generate the examples (:func:`_examples`), check there are enough,
    build the vocabulary, encode, split with the book's shuffle, reverse the inputs.

    Parameters
    ----------
    path : str or os.PathLike, optional
        File to read with ``load_question_answer``; ``None`` uses
        ``generate_date_task(n_generated, generator_seed)``.
    reverse : bool
        Reverse the input sequences (``src[:, ::-1]``, contiguous), the book's trick.
    seed : int
        Shuffle seed for ``split_train_test`` (reseeds numpy's global generator).

    Returns
    -------
    Dataset
        Vocabulary built line by line (question characters, then answer characters, first
        appearance wins), as the book's loader does; 90 % train / 10 % test; the sizes in
        ``counts``.  :meth:`Dataset.split_validation` carves a validation split.

    Raises
    ------
    DataFileNotFoundError, DataError
        As ``load_question_answer``; also a DataError if there are fewer than 10 examples
        (the test split would be empty).
    """
    questions, answers, source = _examples(path, n_generated, generator_seed)
    n = len(questions)
    if int(n * 0.1) == 0:
        raise DataError(path if path is not None else source, None, None,
                        f"holds {n} example{'s' if n != 1 else ''}: the 10 % test split would "
                        "be empty", "use a file with at least 10 `input_answer` lines (a few "
                        "thousand to learn anything)")
    vocab = Vocab.from_texts(s for pair in zip(questions, answers) for s in pair)
    x, t = _encode_all(questions, vocab), _encode_all(answers, vocab)
    src_train, tgt_train, src_test, tgt_test = split_train_test(x, t, seed=seed)
    if reverse:
        src_train, src_test = (np.ascontiguousarray(a[:, ::-1]) for a in (src_train, src_test))
    counts = {"read": n, "used": n, "train": len(src_train), "test": len(src_test)}
    return Dataset(src_train, tgt_train, src_test, tgt_test, vocab, reverse, source,
                   None if path is None else os.path.abspath(path), counts)


def _examples(path, n_generated: int, generator_seed: int):
    """(questions, answers, source description) of the file ``path``, or of the built-in
    date task when ``path`` is None."""
    if path is None:
        source = f"built-in date task (n={n_generated}, seed={generator_seed})"
        lines = generate_date_task(n_generated, generator_seed)
        return (*parse_question_answer(lines, source), source)
    return (*load_question_answer(path), str(path))


def _encode_all(texts: list[str], vocab: Vocab) -> np.ndarray:
    """The rows of ``texts`` (all of one width) as int64 (len(texts), width)."""
    return np.stack([vocab.encode(s) for s in texts]) if texts else np.zeros((0, 0), np.int64)
