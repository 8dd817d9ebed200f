"""Hostile inputs, category "data files": every bad data file or data option is answered
before any training step by a one-line ``DataError`` (a ``ValueError``) that names the
file, the line where there is one, the problem and a fix; what is merely unusual (a BOM,
``\\r\\n`` line endings, blank lines in a pair file, a symlink to a file) loads correctly.
Folders, pipes and devices are refused from ``stat``, so nothing hangs or fills memory.
Also: ``sniff_format``, the split sizes the loaders expose, and ``split_validation``."""
import gzip
import os
import signal
import sys
import zipfile

import numpy as np
import pytest

import models.data_files as data_files
from models.char_dataset import load_dataset
from models.data_files import DataError, DataFileNotFoundError, sniff_format
from models.pair_files import TranslationDataError, load_pairs, load_question_answer
from models.text import tokenize
from models.translation_dataset import load_translation

LOADERS = {"question_answer": load_question_answer, "pairs": load_pairs, "sniff": sniff_format}
QA_LINES = [f"{a}+{b}".ljust(5) + "_" + str(a + b).ljust(3) for a in range(10) for b in range(3)]
PAIRS = [("Go.", "Va !"), ("Run!", "Cours !"), ("I see you.", "Je te vois."),
         ("We won.", "Nous avons gagné."), ("Come in.", "Entre."), ("Hi.", "Salut."),
         ("Stop!", "Arrête !"), ("Wait.", "Attends."), ("I am here.", "Je suis là."),
         ("Thanks.", "Merci."), ("Help!", "À l'aide !"), ("Sit down.", "Assieds-toi.")]


def one_line_error(excinfo, *words):
    """The error's message is one line, has a fix, and holds every one of ``words``."""
    msg = str(excinfo.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert "Fix:" in msg or "fix:" in msg, msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


def write_qa(tmp_path, lines=QA_LINES, name="task.txt", end="\n"):
    p = tmp_path / name
    p.write_bytes(("".join(line + end for line in lines)).encode("utf-8"))
    return p


def write_pairs(tmp_path, pairs=PAIRS, name="fra.txt", end="\n", head=""):
    p = tmp_path / name
    p.write_bytes((head + "".join(f"{e}\t{f}{end}" for e, f in pairs)).encode("utf-8"))
    return p


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the suite) if the test body blocks for 5 s."""
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("needs SIGALRM")

    def _timeout(signum, frame):
        raise AssertionError("the loader blocked for 5 s (it opened a pipe or device?)")
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------- what is not a text file
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_folder_is_refused_and_the_fix_names_a_file_inside(tmp_path, loader):
    folder = tmp_path / "data"
    folder.mkdir()
    write_qa(folder, name="date.txt")
    with pytest.raises(DataError) as e:
        LOADERS[loader](folder)
    one_line_error(e, str(folder), "is a folder", os.path.join(str(folder), "date.txt"))


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_symlink_to_a_folder_is_refused(tmp_path, loader):
    (tmp_path / "real").mkdir()
    link = tmp_path / "fra.txt"
    link.symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(DataError) as e:
        LOADERS[loader](link)
    one_line_error(e, "is a folder", "symbolic link to a folder")


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_missing_file_is_a_data_error_and_a_file_not_found_error(tmp_path, loader):
    with pytest.raises(DataFileNotFoundError) as e:
        LOADERS[loader](tmp_path / "fra.txt")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, DataError)
    one_line_error(e, "fra.txt", "no such file")


def test_a_broken_symlink_names_its_missing_target(tmp_path):
    link = tmp_path / "fra.txt"
    link.symlink_to(tmp_path / "gone.txt")
    with pytest.raises(DataFileNotFoundError) as e:
        load_pairs(link)
    one_line_error(e, "symbolic link", "gone.txt", "does not exist")


def test_a_path_through_a_file_is_explained(tmp_path):
    f = write_qa(tmp_path)
    with pytest.raises(DataFileNotFoundError) as e:
        load_question_answer(f / "date.txt")
    one_line_error(e, "is a file, not a folder")


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_an_empty_path_is_not_the_current_folder(loader):
    with pytest.raises(DataFileNotFoundError) as e:
        LOADERS[loader]("")
    one_line_error(e, "the path is empty")


@pytest.mark.parametrize("bad", [3, None, b"fra.txt"])
def test_a_path_of_the_wrong_type_is_a_type_error_with_a_fix(bad):
    with pytest.raises(TypeError, match=r"str or os.PathLike.*fix"):
        sniff_format(bad)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_named_pipe_is_refused_without_blocking(tmp_path, loader, no_hang):
    fifo = tmp_path / "fra.txt"
    os.mkfifo(fifo)                     # nobody writes to it: opening it to read would block
    with pytest.raises(DataError) as e:
        LOADERS[loader](fifo)
    one_line_error(e, "named pipe", "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_dev_zero_is_refused_without_reading_it(loader, no_hang):
    with pytest.raises(DataError) as e:   # reading it would fill memory
        LOADERS[loader]("/dev/zero")
    one_line_error(e, "/dev/zero", "character device")


def test_an_unreadable_file_is_explained(tmp_path, monkeypatch):
    p = write_qa(tmp_path)
    if sys.platform == "win32" or os.geteuid() == 0:       # permissions do not bind root
        def refuse(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))
        monkeypatch.setattr(data_files.os, "open", refuse)
    else:
        p.chmod(0)
    try:
        with pytest.raises(DataError) as e:
            load_question_answer(p)
    finally:
        monkeypatch.undo()
        p.chmod(0o644)
    one_line_error(e, "permission denied", "chmod")


@pytest.mark.parametrize("loader", ["question_answer", "pairs"])
def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, loader, monkeypatch):
    p = write_pairs(tmp_path) if loader == "pairs" else write_qa(tmp_path)
    monkeypatch.setattr(data_files, "MAX_DATA_BYTES", 100)
    with pytest.raises(DataError) as e:
        LOADERS[loader](p)
    one_line_error(e, "MiB", "limit", "sample")


# --------------------------------------------------------------- bytes and encodings
@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_an_empty_or_blank_file_is_explained(tmp_path, loader, content):
    p = tmp_path / "fra.txt"
    p.write_bytes(content)
    with pytest.raises(DataError) as e:
        LOADERS[loader](p)
    one_line_error(e, "fra.txt", "is empty" if content.strip(b"\xef\xbb\xbf") == b""
                   and b"\n" not in content else "blank")


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_latin1_french_file_names_line_byte_offset_and_fix(tmp_path, loader):
    text = "Go.\tVa !\nWe won.\tNous avons gagné.\n"
    p = tmp_path / "fra.txt"
    p.write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    with pytest.raises(DataError) as e:
        LOADERS[loader](p)
    msg = one_line_error(e, "fra.txt, line 2", "0xe9", f"byte offset {offset}", "UTF-8",
                         "re-save")
    assert e.value.lineno == 2 and "Nous avons" in msg


@pytest.mark.parametrize("loader", ["question_answer", "pairs"])
def test_a_utf16_file_is_named_as_such(tmp_path, loader):
    p = tmp_path / "fra.txt"
    p.write_bytes("Go.\tVa !\n".encode("utf-16"))
    with pytest.raises(DataError) as e:
        LOADERS[loader](p)
    one_line_error(e, "UTF-16", "re-save it as UTF-8")


@pytest.mark.parametrize("kind", ["zip", "gzip"])
def test_an_archive_is_named_and_the_fix_says_unpack(tmp_path, kind):
    p = tmp_path / "fra.txt"
    if kind == "zip":
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("fra.txt", "Go.\tVa !\n")
    else:
        p.write_bytes(gzip.compress(b"Go.\tVa !\n"))
    with pytest.raises(DataError) as e:
        load_pairs(p)
    one_line_error(e, f"{kind} archive", "unzip" if kind == "zip" else "gunzip")


def test_a_nul_character_is_a_binary_file(tmp_path):
    p = tmp_path / "task.txt"
    p.write_bytes(b"1+2_3\n4+5_\x009\n")
    with pytest.raises(DataError) as e:
        load_question_answer(p)
    one_line_error(e, "line 2", "NUL")


def test_a_bom_is_stripped_from_a_question_answer_file(tmp_path):
    p = tmp_path / "task.txt"
    p.write_bytes("\ufeff".encode() + "".join(ln + "\n" for ln in QA_LINES).encode())
    questions, answers = load_question_answer(p)
    assert questions[0] == QA_LINES[0][:5] and answers[0] == QA_LINES[0][5:]
    assert "\ufeff" not in load_dataset(p).vocab.itos


def test_a_bom_is_stripped_from_a_pair_file(tmp_path):
    p = write_pairs(tmp_path, head="\ufeff")
    src, tgt, _, _ = load_pairs(p)
    assert (src[0], tgt[0]) == ("Va !", "Go.")


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_crlf_and_old_mac_line_endings_are_accepted(tmp_path, end):
    assert load_question_answer(write_qa(tmp_path, end=end)) == \
        load_question_answer(write_qa(tmp_path, name="lf.txt"))
    assert load_pairs(write_pairs(tmp_path, end=end)) == \
        load_pairs(write_pairs(tmp_path, name="eng-fra.txt"))[:2] + ("fra", "eng")


def test_a_symlink_to_a_file_loads_like_the_file(tmp_path):
    real = write_pairs(tmp_path, name="pairs-data.bin")
    link = tmp_path / "fra.txt"
    link.symlink_to(real)
    assert load_pairs(link) == load_pairs(real, columns=("eng", "fra"))


def test_a_message_stays_one_line_for_a_file_name_with_a_newline(tmp_path):
    p = tmp_path / "bad\nname.txt"
    p.write_bytes(b"")
    with pytest.raises(DataError) as e:
        load_question_answer(p)
    one_line_error(e, "is empty")


# --------------------------------------------------------------- question_answer lines
def test_a_blank_line_inside_a_question_answer_file_is_refused_with_its_line(tmp_path):
    p = write_qa(tmp_path, QA_LINES[:3] + [""] + QA_LINES[3:])
    with pytest.raises(DataError) as e:
        load_question_answer(p)
    one_line_error(e, "line 4", "blank line", "delete the blank line")
    assert load_question_answer(write_qa(tmp_path, QA_LINES + ["", "  "])) == \
        load_question_answer(write_qa(tmp_path, QA_LINES, name="b.txt"))


@pytest.mark.parametrize("header", ["question_answer", "input_answer", "# date task",
                                    "questions and answers"])
def test_a_header_line_of_a_question_answer_file_is_detected(tmp_path, header):
    with pytest.raises(DataError) as e:
        load_question_answer(write_qa(tmp_path, [header] + QA_LINES))
    one_line_error(e, "line 1", "header", "delete line 1")
    assert e.value.lineno == 1


def test_a_line_without_the_separator_names_its_line(tmp_path):
    with pytest.raises(DataError) as e:
        load_question_answer(write_qa(tmp_path, QA_LINES[:4] + ["1+2 3"] + QA_LINES[4:]))
    one_line_error(e, "line 5", "no `_`", "'1+2 3'")


def test_lines_of_different_widths_name_the_line_and_the_width(tmp_path):
    with pytest.raises(DataError) as e:
        load_question_answer(write_qa(tmp_path, QA_LINES[:6] + ["1+2_3"] + QA_LINES[6:]))
    one_line_error(e, "line 7", "input is 3 characters wide", "width to 5", "pad")


def test_a_stray_carriage_return_inside_a_line_is_refused(tmp_path):
    with pytest.raises(DataError) as e:
        load_question_answer(write_qa(tmp_path, QA_LINES[:2] + ["1+2\r _3  "] + QA_LINES[3:]))
    one_line_error(e, "line 3", "carriage return")


# --------------------------------------------------------------- sentence-pair lines
@pytest.mark.parametrize("header", ["English\tFrench", "eng\tfra", "source\ttarget",
                                    "EN\tFR\tattribution"])
def test_a_header_line_of_a_pair_file_is_detected(tmp_path, header):
    with pytest.raises(TranslationDataError) as e:
        load_pairs(write_pairs(tmp_path, head=header + "\n"))
    one_line_error(e, "fra.txt, line 1", "header", "delete this line")


def test_a_real_pair_that_names_a_language_is_not_a_header(tmp_path):
    src, tgt, _, _ = load_pairs(write_pairs(tmp_path, [("English.", "Anglais.")] + PAIRS))
    assert (src[0], tgt[0]) == ("Anglais.", "English.") and len(src) == len(PAIRS) + 1


def test_a_pair_line_with_one_column_names_its_line(tmp_path):
    p = tmp_path / "fra.txt"
    p.write_text("Go.\tVa !\nHi.    Salut.\n", encoding="utf-8")
    with pytest.raises(TranslationDataError) as e:
        load_pairs(p)
    one_line_error(e, "line 2", "only 1 TAB-separated column", "TAB")


@pytest.mark.parametrize("n", [4, 6])
def test_a_pair_line_with_four_or_more_columns_is_refused(tmp_path, n):
    p = tmp_path / "fra.txt"
    p.write_text("Go.\tVa !\tCC-BY\n" + "\t".join(["x"] * n) + "\n", encoding="utf-8")
    with pytest.raises(TranslationDataError) as e:
        load_pairs(p)
    one_line_error(e, "line 2", f"{n} TAB-separated columns", "remove the extra TAB")


def test_blank_lines_anywhere_in_a_pair_file_are_skipped(tmp_path):
    p = tmp_path / "fra.txt"
    p.write_text("\n\nGo.\tVa !\n \n\nRun!\tCours !\n\n", encoding="utf-8")
    assert load_pairs(p) == (["Va !", "Cours !"], ["Go.", "Run!"], "fra", "eng")


@pytest.mark.parametrize("direction", ["deu-eng", "fra-deu", "eng-eng"])
def test_a_direction_with_a_language_not_in_the_file_is_explained(tmp_path, direction):
    with pytest.raises(TranslationDataError) as e:
        load_translation(write_pairs(tmp_path), direction)
    one_line_error(e, "fra.txt", "columns are eng (column 1) and fra (column 2)", "fra-eng")


def test_a_malformed_direction_has_a_fix(tmp_path):
    with pytest.raises(ValueError) as e:
        load_pairs(write_pairs(tmp_path), "french")
    one_line_error(e, "'fra-eng'", "'french'")


def test_a_file_name_without_languages_says_how_to_name_it(tmp_path):
    with pytest.raises(TranslationDataError) as e:
        load_pairs(write_pairs(tmp_path, name="pairs.txt"))
    one_line_error(e, "cannot tell the languages", "columns=", "fra.txt")


# --------------------------------------------------------------- options and split sizes
def test_max_len_that_drops_every_pair_names_the_length_that_keeps_some(tmp_path):
    p = write_pairs(tmp_path)
    shortest = min(max(len(tokenize(e)), len(tokenize(f))) for e, f in PAIRS)
    with pytest.raises(TranslationDataError) as e:
        load_translation(p, max_len=1)
    one_line_error(e, f"none of the {len(PAIRS)} pairs", f"max_len (--max-len) >= {shortest}")


@pytest.mark.parametrize("name,value", [("max_pairs", 0), ("max_pairs", -3), ("max_len", 0),
                                        ("max_pairs", True), ("max_len", 2.5),
                                        ("min_freq", 0), ("min_len", 0)])
def test_a_data_option_out_of_range_is_a_data_error(tmp_path, name, value):
    with pytest.raises(DataError) as e:
        load_translation(write_pairs(tmp_path), **{name: value})
    one_line_error(e, f"{name}={value!r}", ">= 1")


@pytest.mark.parametrize("fraction", [1.0, -0.1, float("nan"), "0.1"])
def test_a_test_fraction_out_of_range_has_a_fix(tmp_path, fraction):
    with pytest.raises(ValueError) as e:
        load_translation(write_pairs(tmp_path), test_fraction=fraction)
    one_line_error(e, "test_fraction")


def test_a_pair_file_too_small_for_a_test_split_is_refused_with_the_counts(tmp_path):
    with pytest.raises(TranslationDataError) as e:
        load_translation(write_pairs(tmp_path, PAIRS[:5]))
    one_line_error(e, "test split is empty", "5 pairs read", "5 train / 0 test",
                   "at least 10 pairs")


def test_max_pairs_that_leaves_no_test_pair_is_refused_with_the_counts(tmp_path):
    with pytest.raises(TranslationDataError) as e:
        load_translation(write_pairs(tmp_path), max_pairs=3)
    one_line_error(e, "test split is empty", "3 used (max_pairs=3)", "--max-pairs")


def test_an_explicit_test_fraction_of_zero_may_leave_the_test_split_empty(tmp_path):
    data = load_translation(write_pairs(tmp_path, PAIRS[:5]), test_fraction=0.0)
    assert data.counts == {"read": 5, "used": 5, "train": 5, "test": 0}


def test_a_question_answer_file_too_small_for_a_test_split_is_refused(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(write_qa(tmp_path, QA_LINES[:9]))
    one_line_error(e, "holds 9 examples", "test split would be empty", "at least 10")
    data = load_dataset(write_qa(tmp_path, QA_LINES[:10], name="ten.txt"))
    assert data.counts == {"read": 10, "used": 10, "train": 9, "test": 1}


def test_the_loaders_expose_the_split_sizes(tmp_path):
    pairs = load_translation(write_pairs(tmp_path))
    assert pairs.counts == {"read": 12, "used": 12, "train": 11, "test": 1}
    assert len(pairs.train_pairs) == 11 and len(pairs.src_train) == 11
    qa = load_dataset(write_qa(tmp_path))
    assert qa.counts == {"read": 30, "used": 30, "train": 27, "test": 3}
    assert (len(qa.src_train), len(qa.src_test)) == (27, 3)


# --------------------------------------------------------------- sniff_format
@pytest.mark.parametrize("kind", ["pairs", "question_answer", "pairs with header",
                                  "question_answer with header", "pairs with `_`"])
def test_sniff_format_tells_the_two_formats_apart(tmp_path, kind):
    if kind.startswith("pairs"):
        pairs = [(e.replace(".", "_"), f) for e, f in PAIRS] if "`_`" in kind else PAIRS
        p = write_pairs(tmp_path, pairs, head="English French\n" if "header" in kind else "")
        assert sniff_format(p) == "pairs"
    else:
        lines = (["question_answer"] if "header" in kind else []) + QA_LINES
        assert sniff_format(write_qa(tmp_path, lines)) == "question_answer"


def test_sniff_format_refuses_a_file_of_neither_format(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("just some words\nand more words\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        sniff_format(p)
    one_line_error(e, "notes.txt", "TAB", "`_`")


def test_sniff_format_reads_a_bounded_prefix_of_a_large_file(tmp_path):
    p = tmp_path / "fra.txt"
    p.write_bytes(("Go.\tVa !\n" * 40000).encode() + b"\xff broken only far below\n")
    assert sniff_format(p) == "pairs"      # the bad byte is past the first 64 KiB


# --------------------------------------------------------------- validation split
@pytest.fixture
def qa_data(tmp_path):
    return load_dataset(write_qa(tmp_path))


@pytest.fixture
def pair_data(tmp_path):
    pairs = [(f"I saw {i}.", f"J'ai vu {i}.") for i in range(44)] + [("Run!", "Cours !")]
    return load_translation(write_pairs(tmp_path, pairs))      # 41 train / 4 test


def test_split_validation_of_question_answer_data_is_a_seeded_partition(qa_data):
    v = qa_data.split_validation(0.2, seed=3)
    rows = lambda a, b: sorted(map(tuple, np.concatenate([a, b], 1).tolist()))  # noqa: E731
    assert sorted(rows(v.src_train, v.tgt_train) + rows(v.src_valid, v.tgt_valid)) == \
        rows(qa_data.src_train, qa_data.tgt_train)
    assert len(v.src_valid) == len(v.tgt_valid) == int(27 * 0.2)
    assert not any(hasattr(v, old) for old in ("x_train", "t_train", "x_valid", "t_valid",
                                               "x_test", "t_test"))   # one name per array
    assert np.array_equal(v.src_test, qa_data.src_test) and qa_data.src_valid is None
    assert v.counts == {"read": 30, "used": 30, "train": 22, "test": 3, "valid": 5}
    again, other = qa_data.split_validation(0.2, seed=3), qa_data.split_validation(0.2, seed=4)
    assert np.array_equal(again.src_valid, v.src_valid)
    assert not np.array_equal(other.src_valid, v.src_valid)
    assert v.metadata()["validation"] == {"fraction": 0.2, "seed": 3}


def test_split_validation_of_pairs_keeps_raw_references_aligned(pair_data):
    v = pair_data.split_validation(0.25, seed=0)
    assert v.counts["valid"] == len(v.valid_pairs) == len(v.tgt_valid) == int(41 * 0.25)
    assert v.counts["train"] == len(v.train_pairs) == len(v.src_train) == 31
    np.testing.assert_array_equal(v.encode_source([s for s, _ in v.valid_pairs]),
                                  v.src_valid[:, :v.encode_source([s for s, _ in
                                                                   v.valid_pairs]).shape[1]])
    assert v.valid_references() == [" ".join(tokenize(t)) for _, t in v.valid_pairs]
    assert v.test_pairs == pair_data.test_pairs and v.src_vocab == pair_data.src_vocab
    assert set(v.valid_pairs).isdisjoint(v.train_pairs)
    assert "31 train / 10 valid (seed 0) / 4 test" in v.source
    assert v.metadata()["validation"] == {"fraction": 0.25, "seed": 0}


def test_a_validation_split_that_would_be_empty_is_refused_with_the_counts(qa_data,
                                                                           pair_data):
    with pytest.raises(DataError) as e:
        qa_data.split_validation(0.01)
    one_line_error(e, "27 training items", "validation split empty", "0 validation")
    with pytest.raises(DataError) as e:
        pair_data.split_validation(0.02)
    one_line_error(e, "fra.txt: a validation fraction", "41 training items",
                   "validation split empty")


@pytest.mark.parametrize("fraction", [0, 1, -0.5, float("nan"), "0.1", True])
def test_split_validation_refuses_a_fraction_outside_zero_one(qa_data, fraction):
    with pytest.raises(ValueError) as e:
        qa_data.split_validation(fraction)
    one_line_error(e, "fraction must be a number in (0, 1)")


def test_split_validation_twice_and_references_without_one_are_explained(pair_data):
    with pytest.raises(DataError) as e:
        pair_data.split_validation(0.2).split_validation(0.2)
    one_line_error(e, "already has a validation split")
    with pytest.raises(ValueError) as e:
        pair_data.valid_references()
    one_line_error(e, "no validation split", "split_validation")
    assert pair_data.split_validation(0.5).counts == {"read": 45, "used": 45, "train": 21,
                                                      "test": 4, "valid": 20}


def test_sniff_format_handles_a_first_line_longer_than_what_it_reads(tmp_path):
    p = tmp_path / "fra.txt"
    p.write_bytes(("é" * 40000 + "\tà\n").encode())     # 80 KB before the first newline
    assert sniff_format(p) == "pairs"


def test_a_file_cut_in_the_middle_of_a_character_says_so(tmp_path):
    p = tmp_path / "fra.txt"
    p.write_bytes("Go.\tVa !\nWe won.\tGagn".encode() + "é".encode()[:1])
    with pytest.raises(DataError) as e:
        load_pairs(p)
    one_line_error(e, "line 2", "0xc3", "cut short")
