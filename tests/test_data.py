"""The book's character tasks: question_answer loading (models/pair_files.py), the character
vocabulary (models/vocab.py), the split (models/datasets.py), the date generator
(models/date_task.py) and the encoded data set (models/char_dataset.py)."""
import datetime
import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from models.char_dataset import Dataset, load_dataset
from models.codecs import encode_questions
from models.data_files import DataError
from models.datasets import split_train_test
from models.date_task import generate_date_task
from models.pair_files import load_question_answer
from models.vocab import Vocab
from tests.conftest import DATA, SAMPLES, needs_whole_corpus, whole_or_sample

DLFS2 = DATA / "dlfs2"                   # the book's whole files (may be absent)
BOOK_SAMPLES = SAMPLES / "dlfs2"         # their first 500 lines, shipped in the repository


class Book(NamedTuple):
    """One of the book's files and what the tests expect of it: ``lines`` items, split
    ``(train, test)`` by the book's shuffle."""
    path: Path
    lines: int
    split: tuple


DATE = whole_or_sample(Book(DLFS2 / "date.txt", 50000, (45000, 5000)),
                       Book(BOOK_SAMPLES / "date.sample.txt", 500, (450, 50)))
ADDITION = whole_or_sample(Book(DLFS2 / "addition.txt", 50000, (45000, 5000)),
                           Book(BOOK_SAMPLES / "addition.sample.txt", 500, (450, 50)))


# ---------------------------------------------------------------- the book's files

@pytest.mark.parametrize("book", DATE)
def test_load_date_txt(book):
    qs, ans = load_question_answer(book.path)
    assert len(qs) == len(ans) == book.lines
    assert {len(q) for q in qs} == {29} and {len(a) for a in ans} == {11}
    assert all(a.startswith("_") for a in ans)
    assert qs[0] == "september 27, 1994".ljust(29) and ans[0] == "_1994-09-27"


@pytest.mark.parametrize("book", ADDITION)
def test_load_addition_txt_keeps_padding_spaces(book):
    qs, ans = load_question_answer(book.path)
    assert len(qs) == book.lines
    assert (qs[0], ans[0]) == ("16+75  ", "_91  ")
    assert {len(q) for q in qs} == {7} and {len(a) for a in ans} == {5}


@pytest.mark.parametrize("book", DATE)
def test_load_dataset_date_split_vocab_and_reverse(book):
    ds = load_dataset(book.path, reverse=False)
    n_train, n_test = book.split
    assert isinstance(ds, Dataset) and not ds.reversed and ds.source == str(book.path)
    assert ds.src_train.shape == (n_train, 29) and ds.tgt_train.shape == (n_train, 11)
    assert ds.src_test.shape == (n_test, 29) and ds.tgt_test.shape == (n_test, 11)
    assert all(a.dtype == np.int64
               for a in (ds.src_train, ds.tgt_train, ds.src_test, ds.tgt_test))
    assert (ds.tgt_train[:, 0] == ds.start_id).all()
    assert (ds.tgt_test[:, 0] == ds.start_id).all()
    # vocabulary: first appearance, line by line (question chars, then answer chars)
    qs, ans = load_question_answer(book.path)
    expected = list(dict.fromkeys("".join(q + a for q, a in zip(qs, ans))))
    assert ds.vocab.itos == expected and len(ds.vocab) == 59
    assert ds.vocab.itos[:17] == list("septmbr 27,194_-0")
    # the split is a permutation of the encoded rows, matching the book's shuffle
    x = np.stack([ds.vocab.encode(q) for q in qs])
    t = np.stack([ds.vocab.encode(a) for a in ans])
    idx = np.arange(book.lines)
    np.random.seed(1984)
    np.random.shuffle(idx)
    assert np.array_equal(np.concatenate([ds.src_train, ds.src_test]), x[idx])
    assert np.array_equal(np.concatenate([ds.tgt_train, ds.tgt_test]), t[idx])
    rows = lambda a, b: sorted(map(tuple, np.concatenate([a, b], axis=1).tolist()))  # noqa: E731
    assert rows(np.concatenate([ds.src_train, ds.src_test]),
                np.concatenate([ds.tgt_train, ds.tgt_test])) == rows(x, t)
    # deterministic, and reverse flips only the inputs
    rev = load_dataset(book.path)
    assert rev.reversed and rev.src_train.flags["C_CONTIGUOUS"]
    assert np.array_equal(rev.src_train, ds.src_train[:, ::-1])
    assert np.array_equal(rev.src_test, ds.src_test[:, ::-1])
    assert np.array_equal(rev.tgt_train, ds.tgt_train)
    assert np.array_equal(rev.tgt_test, ds.tgt_test)
    assert ds.vocab.decode(rev.src_train[0][::-1]) + ds.vocab.decode(rev.tgt_train[0]) in \
        {q + a for q, a in zip(qs, ans)}


# ---------------------------------------------------------------- the samples in the repo

@pytest.mark.parametrize("name", [
    pytest.param(name, id=name, marks=needs_whole_corpus(DLFS2 / f"{name}.txt"))
    for name in ("date", "addition")])
def test_the_book_samples_are_the_first_500_lines_of_the_whole_files(name):
    sample = (BOOK_SAMPLES / f"{name}.sample.txt").read_bytes()
    whole = (DLFS2 / f"{name}.txt").read_bytes()
    assert sample == b"".join(whole.splitlines(keepends=True)[:500])


def test_the_book_samples_are_small_and_carry_the_mit_licence():
    for name in ("date", "addition"):
        assert (BOOK_SAMPLES / f"{name}.sample.txt").stat().st_size < 100_000
    licence = (BOOK_SAMPLES / "LICENSE.md").read_text(encoding="utf-8")
    assert licence.startswith("The MIT License") and "Copyright (c) 2018 Koki Saitoh" in licence
    assert "shall be included in all copies or substantial portions" in licence
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert "head -n 500 $D/dlfs2/date.txt" in readme and "MIT" in readme


# ---------------------------------------------------------------- split

def test_split_sizes_determinism_and_permutation():
    x = np.arange(200).reshape(100, 2)
    t = -np.arange(100)[:, None]
    a = split_train_test(x, t)
    b = split_train_test(x, t)
    assert [len(p) for p in a] == [90, 90, 10, 10]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert np.array_equal(a[0][:, 0] // 2, -a[1][:, 0])  # rows stay paired
    assert sorted(np.concatenate([a[0], a[2]]).ravel()) == list(range(200))
    c = split_train_test(x, t, seed=7)
    assert not np.array_equal(a[0], c[0])
    assert [len(p) for p in split_train_test(x, t, test_fraction=0.25)] == [75, 75, 25, 25]
    for n in range(0, 1200):
        assert n - int(n * 0.1) == n - n // 10
    with pytest.raises(ValueError, match="rows"):
        split_train_test(x, t[:5])


# ---------------------------------------------------------------- generator

_PATTERNS = ["%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%m/%d/%y", "%m/%d/%Y", "%d.%m.%Y",
             "%Y/%m/%d", "%A, %B %d, %Y", "%b %d %Y", "%d %b %y", "%a, %b %d, %Y",
             "%d %b %Y", "%Y%m%d", "%a %d %B %Y"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _parse(text):
    """Parse a generated input back: (date, pattern); checks the weekday name too."""
    for pat in _PATTERNS:
        try:
            d = datetime.datetime.strptime(text, pat).date()
        except ValueError:
            continue
        if "%A" in pat or "%a" in pat:
            day = re.match(r"[a-z]+", text.lower()).group()
            assert _DAYS[d.weekday()].startswith(day) and len(day) in (3, len(_DAYS[d.weekday()]))
        return d, pat
    raise AssertionError(f"unparseable generated date {text!r}")


def test_generator_lines_parse_back_to_their_answer():
    lines = generate_date_task(3000, seed=5)
    assert len(lines) == 3000
    pats, cases = set(), set()
    for line in lines:
        assert len(line) == 40 and line[29] == "_" and line.count("_") == 1
        text, iso = line[:29].rstrip(), line[30:]
        d = datetime.date.fromisoformat(iso)
        assert iso == d.isoformat() and 1970 <= d.year <= 2029
        parsed, pat = _parse(text)
        assert parsed == d, line
        pats.add(pat)
        if re.search("[a-zA-Z]", text):
            cases.add("lower" if text.islower() else "upper" if text.isupper() else "title")
    assert len(pats) >= 12
    assert cases == {"lower", "upper", "title"}


def test_generator_determinism_and_seed():
    assert generate_date_task(500, seed=1) == generate_date_task(500, seed=1)
    assert generate_date_task(500, seed=1) != generate_date_task(500, seed=2)
    assert generate_date_task(0) == []
    state = np.random.get_state()[1].copy()
    generate_date_task(10, seed=3)
    assert np.array_equal(np.random.get_state()[1], state)  # global RNG untouched
    with pytest.raises(ValueError):
        generate_date_task(-1)


def test_load_dataset_builtin():
    ds = load_dataset(n_generated=2000, generator_seed=4, reverse=False)
    assert ds.src_train.shape == (1800, 29) and ds.tgt_test.shape == (200, 11)
    assert "seed=4" in ds.source and (ds.tgt_train[:, 0] == ds.start_id).all()
    lines = set(generate_date_task(2000, seed=4))
    for x, t in zip(ds.src_test[:50], ds.tgt_test[:50]):
        assert ds.vocab.decode(x) + ds.vocab.decode(t) in lines


# ---------------------------------------------------------------- loader errors

def test_bad_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("1+2_3\n4+5_9\nno separator\n")
    with pytest.raises(DataError) as e:
        load_question_answer(p)
    msg = str(e.value)
    assert str(p) in msg and "line 3" in msg and "'no separator'" in msg and "`_`" in msg
    assert e.value.lineno == 3 and isinstance(e.value, ValueError)


def test_width_mismatch_names_line_and_width(tmp_path):
    p = tmp_path / "w.txt"
    p.write_text("1+2  _3 \n10+20_30\n1+2_3 \n")
    with pytest.raises(DataError, match=r"line 3: input is 3 characters .* width to 5.*pad"):
        load_question_answer(p)
    p.write_text("1+2_3 \n1+2_30 \n")
    with pytest.raises(DataError, match=r"line 2: answer .* 4 characters .* width to 3"):
        load_question_answer(p)


def test_crlf_trailing_blank_lines_and_spaces(tmp_path):
    p = tmp_path / "ok.txt"
    p.write_bytes(b"1+2 _3 \r\n12+3_15\r\n\n\n")
    assert load_question_answer(p) == (["1+2 ", "12+3"], ["_3 ", "_15"])
    p.write_text("1+2_3\n\n4+5_9\n")
    with pytest.raises(DataError, match="line 2: blank line"):
        load_question_answer(p)
    p.write_text("\n\n")
    with pytest.raises(DataError):
        load_question_answer(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_question_answer(tmp_path / "nope.txt")


def test_long_line_is_truncated_in_message(tmp_path):
    p = tmp_path / "long.txt"
    p.write_text("x" * 500 + "\n")
    with pytest.raises(DataError) as e:
        load_question_answer(p)
    assert len(str(e.value)) < 400 and "..." in str(e.value)


# ---------------------------------------------------------------- vocabulary

def test_vocab_first_appearance_encode_decode():
    v = Vocab.from_texts(["ba b", "_ac"])
    assert v.itos == ["b", "a", " ", "_", "c"] and len(v) == 5
    assert v.stoi == {"b": 0, "a": 1, " ": 2, "_": 3, "c": 4}
    ids = v.encode("cab _")
    assert ids.dtype == np.int64 and ids.shape == (5,) and ids.tolist() == [4, 1, 0, 2, 3]
    assert v.decode(ids) == v.decode(ids.tolist()) == v.decode(iter([4, 1, 0, 2, 3])) == "cab _"
    assert v.encode("").shape == (0,) and v.decode([]) == ""
    with pytest.raises(ValueError, match=r"'z' at position 2"):
        v.encode("abz")
    with pytest.raises(ValueError, match="outside"):
        v.decode([5])
    with pytest.raises(ValueError):
        v.decode([-1])
    with pytest.raises(TypeError):
        v.decode(np.array([0.5]))


def test_vocab_dict_and_save_load(tmp_path):
    v = Vocab.from_texts(["héllo wörld_", "2024-01-02"])
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    p = tmp_path / "vocab.json"
    v.save(p)
    v.save(p)  # overwriting works
    assert Vocab.load(p) == v and Vocab.load(p).stoi == v.stoi
    assert json.loads(p.read_text(encoding="utf-8")) == {"id_to_char": v.itos}
    assert [f.name for f in tmp_path.iterdir()] == ["vocab.json"]  # no temp file left
    with pytest.raises(ValueError):
        Vocab.from_dict({"id_to_char": ["a", "a"]})
    with pytest.raises(ValueError):
        Vocab.from_dict({"chars": "ab"})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=5))
def test_vocab_roundtrip_property(texts):
    v = Vocab.from_texts(texts)
    assert len(v) == len(set("".join(texts)))
    for s in texts:
        assert v.decode(v.encode(s)) == s


def test_encode_questions():
    v = Vocab.from_texts(["12+3 _15"])
    x = encode_questions(["1+2", "12+3"], v, width=5, reverse=False)
    assert x.dtype == np.int64 and x.shape == (2, 5)
    assert v.decode(x[0]) == "1+2  "
    r = encode_questions("1+2", v, width=5, reverse=True)
    assert r.shape == (1, 5) and v.decode(r[0]) == "  2+1"
    with pytest.raises(ValueError, match=r"6 characters long .* width is 5"):
        encode_questions(["123+45"], v, 5, False)
    with pytest.raises(ValueError, match="unknown character '9'"):
        encode_questions(["9"], v, 5, False)
