"""Which task a data file holds, and loading it: the book's ``question_answer`` character
tasks (``models.char_dataset``) or tab-separated sentence pairs
(``models.translation_dataset``).

The command line names a file and never says which format it is:
:func:`is_translation_file` tells them apart (``models.data_files.sniff_format``),
:func:`load_task` loads either, and :func:`load_checkpoint_data` loads the data a
checkpoint is evaluated on, refusing a file whose vocabulary differs from the one the
model was trained with.
"""
from __future__ import annotations

from tinygrad_attn.fileio import quote_path

from .char_dataset import load_dataset
from .data_files import sniff_format


def is_translation_file(path) -> bool:
    """True if ``path`` is tab-separated sentence pairs (Tatoeba format), False for the
    book's ``question_answer`` character tasks (and for the built-in task, path None).
    Raises DataError for a path that is no readable text data file (a folder, a pipe,
    non-UTF-8 bytes, ...: see ``models.data_files.sniff_format``)."""
    return path is not None and sniff_format(path) == "pairs"


def load_task(path=None, *, reverse: bool | None = None, direction: str | None = None,
              max_len: int | None = None, lower: bool = True, min_freq: int = 1,
              max_pairs: int | None = None, tokenizer: str = "word",
              vocab_size: int | None = None, joint_vocab: bool = False):
    """The dataset in ``path`` (None: the built-in date task).

    A character task (``models.char_dataset.load_dataset``) reverses its questions unless
    ``reverse`` is False. Translation pairs
    (``models.translation_dataset.load_translation``) are read in ``direction`` (e.g.
    "fra-eng"; default the non-English column into English), pairs with a side longer
    than ``max_len`` tokens dropped, ``lower``-cased, words seen fewer than ``min_freq``
    times made ``<unk>``, the first ``max_pairs`` pairs kept, and the source reversed only
    if ``reverse`` is True, tokenized by ``tokenizer`` ("word", "bpe", "unigram" or
    "char", ``models.tokenizers``) with at most ``vocab_size`` tokens per vocabulary, one
    vocabulary for both languages if ``joint_vocab``. Raises DataError (a ValueError) for
    a file that cannot be read or parsed, ValueError for a tokenizer option other than
    the default with a character task (its vocabulary is its fixed alphabet).
    """
    if is_translation_file(path):
        from .translation_dataset import load_translation
        return load_translation(path, direction, max_len=max_len, lower=lower,
                                reverse_source=bool(reverse), min_freq=min_freq,
                                max_pairs=max_pairs, tokenizer=tokenizer,
                                vocab_size=vocab_size, joint_vocab=joint_vocab)
    if (tokenizer, vocab_size, joint_vocab) != ("word", None, False):
        raise ValueError(f"tokenizer={tokenizer!r}, vocab_size={vocab_size!r} and joint_vocab="
                         f"{joint_vocab!r} apply to translation data only; a character task "
                         f"reads one character at a time (fix: leave them at their defaults)")
    return load_dataset(path, reverse=True if reverse is None else reverse)


def load_checkpoint_data(path, meta: dict, codec):
    """The data file ``path`` read as the checkpoint with metadata ``meta`` (from
    ``models.model_io.load_model``) and codec ``codec`` was trained on: the same format,
    direction and options. Never opens a file that only the checkpoint names: ``path`` None
    is the built-in task, and refused (ValueError) for a model trained on a file. Raises
    ValueError when the file's vocabulary differs from the checkpoint's. A char, bpe or
    unigram checkpoint's own tokenizers and vocabularies encode the file
    (``models.translation_dataset.load_translation_for``), so they never differ."""
    dmeta = meta["data"]
    stored = dmeta.get("data_path")
    if path is None and stored is not None:
        raise ValueError(f"this model was trained on the file {quote_path(str(stored))}; "
                         f"pass it (or another file of the same format) with --data (fix: "
                         f"tinygrad-attn eval CKPT --data PATH)")
    if dmeta["kind"] == "char":
        data = load_dataset(path, reverse=dmeta["reversed"])
        same = data.vocab == codec.vocab
    else:
        from .translation_dataset import load_translation_for
        data = load_translation_for(codec, path, dmeta.get("direction"),
                                    **dmeta.get("options", {}))
        same = data.src_vocab == codec.src_vocab and data.tgt_vocab == codec.tgt_vocab
    if not same:
        raise ValueError(f"the vocabulary of {quote_path(data.source)} differs from the "
                         f"checkpoint's, which was trained on "
                         f"{quote_path(str(dmeta.get('data_source', '?')))} (fix: pass that "
                         f"file with --data)")
    return data
