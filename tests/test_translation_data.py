"""Word-level translation data: the tokenizer (models/text.py), Vocab (models/vocab.py), pair
files (models/pair_files.py), TranslationData (models/translation_dataset.py), the codec
(models/codecs.py), padding and the data protocol (models/datasets.py), metrics
(models/metrics.py).

Real Tatoeba files: each test of a whole file runs on it when ``tests.conftest.DATA`` has it
(``whole``, skipped with the file named when absent) and on its sample in ``samples/``
(``sample``, always); edge cases use small files in tmp_path.
"""
import json
import unicodedata
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.char_dataset import load_dataset
from models.codecs import translation_codec_from_metadata
from models.data_files import DataError
from models.datasets import Seq2SeqData, pad_sequences, src_padding_mask
from models.metrics import corpus_bleu, corpus_chrf
from models.pair_files import TranslationDataError, load_pairs
from models.text import detokenize, normalize, tokenize
from models.translation_dataset import load_translation
from models.vocab import Vocab
from tests.conftest import DATA, SAMPLES, needs_whole_corpus, whole_or_sample

FRA_SMALL = DATA / "eng-fra" / "fra.tutorial-filter.txt"   # the whole files (may be absent)
FRA_FULL = DATA / "eng-fra" / "fra.txt"
KOR = DATA / "kor-eng" / "kor.txt"
FRA_SAMPLE = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"  # lines 1, 31, 61, ...
KOR_SAMPLE = SAMPLES / "kor-eng" / "kor.sample.txt"                  # lines 5, 15, 25, ...
ATTRIBUTION = "Attribution: www.manythings.org/anki and tatoeba.org"


class FraFile(NamedTuple):
    """A French pair file and what the tests expect of it: ``lines`` pairs, the first
    ``(fra, eng)`` pair, the least share of test targets with no ``<unk>`` and the least
    BLEU of those targets read back through the vocabulary (a small file has more
    ``<unk>``s)."""
    path: Path
    lines: int
    first: tuple
    known_share: float
    min_bleu: float


class KorFile(NamedTuple):
    """A Korean pair file and what the tests expect of it: ``lines`` pairs, the first
    ``(kor, eng)`` pair, the rows of "Cats are cute." and "My cat is black.", the least
    number of Hangul/ASCII words in the source vocabulary (``max_len=20``) and one word
    in it made of digits and a Hangul counter."""
    path: Path
    lines: int
    first: tuple
    cats_row: int
    black_cat_row: int
    min_words: int
    counter_word: str


FRA_FILES = whole_or_sample(
    FraFile(FRA_SMALL, 11822, ("Je vais bien.", "I'm OK."), 0.8, 50),
    FraFile(FRA_SAMPLE, 395, ("Je vais bien.", "I'm OK."), 0.25, 40))
KOR_FILES = whole_or_sample(
    KorFile(KOR, 3798, ("가.", "Go."), 494, 674, 1000, "3시간"),
    KorFile(KOR_SAMPLE, 380, ("누구?", "Who?"), 49, 67, 800, "5년"))


def _is_hangul_syllable(c):
    return 0xAC00 <= ord(c) <= 0xD7A3


@pytest.fixture(scope="module", params=FRA_FILES)
def fra_file(request):
    return request.param


@pytest.fixture(scope="module")
def fra(fra_file):
    return load_translation(fra_file.path)


@pytest.fixture(scope="module", params=KOR_FILES)
def kor_file(request):
    return request.param


@pytest.fixture(scope="module")
def kor(kor_file):
    return load_translation(kor_file.path, max_len=20)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- tokenize / normalize ---------------------------------------------------------------

def test_french_spaces_and_curly_quotes_are_normalised():
    assert tokenize("Tu commences à m\u2019ennuyer\u202f!") == [
        "tu", "commences", "à", "m'ennuyer", "!"]
    assert tokenize("\u00ab\u00a0Bonjour\u00a0\u00bb, \u201cHi\u201d \u2018x\u2019") == [
        '"', "bonjour", '"', ",", '"', "hi", '"', "'", "x", "'"]
    # French "Va !" and English "Go!" end in the same token; NNBSP and NBSP vanish.
    assert tokenize("Va\u202f!")[-1] == tokenize("Go!")[-1] == "!"
    assert tokenize("Qui le veut\u2009?") == ["qui", "le", "veut", "?"]
    assert tokenize("sur \u200b\u200bla cuisine") == ["sur", "la", "cuisine"]
    assert tokenize("sink\u00ad.") == ["sink", "."]
    assert tokenize("Attends\u2026") == ["attends", ".", ".", "."]
    assert tokenize("\uff21\uff22\uff01") == ["ab", "!"]  # full-width ASCII


@pytest.mark.parametrize("path, n, nnbsp_line", [
    pytest.param(FRA_FULL, 40, "Run!\tCours\u202f!", id="whole",
                 marks=needs_whole_corpus(FRA_FULL)),
    pytest.param(FRA_SAMPLE, 395,
                 "You're such a cute boy.\tTu es un garçon tellement mignon\u202f!", id="sample")])
def test_the_real_french_lines_with_nnbsp_tokenise_cleanly(path, n, nnbsp_line):
    with open(path, encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(n)]
    assert nnbsp_line in lines  # the file really has U+202F
    fra_side = [line.split("\t")[1] for line in lines]
    for sentence in fra_side:
        tokens = tokenize(sentence)
        assert tokens and all(t and not any(c.isspace() for c in t) for t in tokens)
        assert not any(c in "\u202f\u00a0\u2019" for t in tokens for c in t)
    assert tokenize("Cours\u202f!") == ["cours", "!"]


def test_every_unicode_space_separator_becomes_a_plain_space():
    zs = [chr(cp) for cp in range(0x10000) if unicodedata.category(chr(cp)) == "Zs"]
    assert len(zs) >= 17
    for space in zs:
        assert normalize(f"a{space}b") == "a b", hex(ord(space))


def test_apostrophes_hyphens_and_numbers_follow_the_documented_rule():
    assert tokenize("I don't know l'homme.") == ["i", "don't", "know", "l'homme", "."]
    assert tokenize("Arrête-toi ! 'Hello'") == ["arrête-toi", "!", "'", "hello", "'"]
    assert tokenize("It's 3.5 km, 1,000 m at 10:30.") == [
        "it's", "3.5", "km", ",", "1,000", "m", "at", "10:30", "."]
    assert tokenize("Hi. (Yes)") == ["hi", ".", "(", "yes", ")"]
    assert tokenize("Don't STOP", lower=False) == ["Don't", "STOP"]
    assert tokenize("Va\u202f! Non.", split_punctuation=False) == ["va", "!", "non."]
    assert tokenize(" \t ") == []


@pytest.mark.parametrize("kor_file", KOR_FILES)
def test_hangul_sentences_from_kor_txt_stay_whole(kor_file):
    with open(kor_file.path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    cats, black_cat = rows[kor_file.cats_row], rows[kor_file.black_cat_row]
    assert cats[:2] == ["Cats are cute.", "고양이는 귀여워."]  # line 495 of kor.txt
    assert tokenize(cats[1]) == ["고양이는", "귀여워", "."]
    assert tokenize(black_cat[1]) == ["내", "고양이는", "검은색", "고양이야", "."]
    for eng, kor_text, _ in rows:
        tokens = tokenize(kor_text)
        # nothing is lost or decomposed: the tokens are the sentence minus its spaces
        assert "".join(tokens) == "".join(kor_text.lower().split())
        for t in tokens:
            # a token is one symbol or a word: letters/digits, possibly joined by the
            # documented joiners (' - inside words, . , : inside numbers such as 2:30에)
            assert len(t) == 1 or t.translate({ord(c): None for c in "'-.,:"}).isalnum(), t
            assert not any(0x1100 <= ord(c) <= 0x11FF for c in t)  # no conjoining jamo
        assert any(_is_hangul_syllable(c) for c in "".join(tokens))


def test_compatibility_jamo_are_kept_and_decomposed_hangul_is_composed():
    assert tokenize("ㅋㅋ 가") == ["ㅋㅋ", "가"]  # NFKC would turn ㅋㅋ into conjoining jamo
    assert tokenize(unicodedata.normalize("NFD", "고양이")) == ["고양이"]
    assert tokenize("e\u0301te\u0301") == ["été"]


# joiners, combining marks, special spaces, curly quotes, Hangul, full-width forms
_TRICKY_CHARS = "aZ19'-.,:!( \u0301\u202f\u00a0\u2019«\u200bİ가ㅋ\uff01"
_TRICKY = st.text(alphabet=st.sampled_from(list(_TRICKY_CHARS)), max_size=30)


@given(st.one_of(st.text(max_size=40), _TRICKY))
def test_detokenize_then_tokenize_gives_the_same_tokens(text):
    tokens = tokenize(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert tokenize(detokenize(tokens)) == tokens
    assert normalize(normalize(text)) == normalize(text)


def test_a_str_where_a_list_is_expected_is_a_type_error():
    with pytest.raises(TypeError):
        detokenize("hello")
    with pytest.raises(TypeError):
        tokenize(["hello"])


# --- Vocab ------------------------------------------------------------------------------

def test_vocab_specials_order_and_round_trip():
    v = Vocab.build([["b", "a", "c"], ["a", "c"], ["d", "a"]])
    assert (Vocab.PAD, Vocab.SOS, Vocab.EOS, Vocab.UNK) == ("<pad>", "<sos>", "<eos>", "<unk>")
    assert (Vocab.PAD_ID, Vocab.SOS_ID, Vocab.EOS_ID, Vocab.UNK_ID) == (0, 1, 2, 3)
    # frequency descending, ties by first appearance
    assert v.itos == ["<pad>", "<sos>", "<eos>", "<unk>", "a", "c", "b", "d"]
    assert len(v) == 8 and v.stoi["c"] == 5 and v["zzz"] == Vocab.UNK_ID
    ids = v.encode(["d", "a", "zzz"], add_sos=True, add_eos=True)
    assert ids.dtype == np.int64 and ids.tolist() == [1, 7, 4, 3, 2]
    assert v.decode(ids) == "d a <unk>"
    assert v.decode(ids, strip_special=False) == "<sos> d a <unk> <eos>"
    assert v.lookup_tokens(ids) == ["<sos>", "d", "a", "<unk>", "<eos>"]
    assert v.decode([4, 2, 5, 0]) == "a"  # stops at the first <eos>
    assert v.decode([0, 4, 0, 5]) == "a c"  # pads dropped
    back = Vocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back == v and back is not v and back != Vocab(["a"])


def test_vocab_min_freq_max_size_and_errors():
    lists = [["x", "y", "y", "z", "z", "z"]]
    assert Vocab.build(lists, min_freq=2).itos[4:] == ["z", "y"]
    assert Vocab.build(lists, max_size=5).itos[4:] == ["z"]
    assert Vocab.build([["<pad>", "w"]]).itos[4:] == ["w"]  # specials never doubled
    with pytest.raises(TypeError, match="tokenize"):
        Vocab.build(["a sentence", "not tokenised"])
    with pytest.raises(ValueError):
        Vocab.build(lists, min_freq=0)
    with pytest.raises(ValueError):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocab(["a"]).decode([5])
    with pytest.raises(ValueError, match="1-D"):
        Vocab(["a"]).decode(np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError):
        Vocab(["a"]).encode("a b")
    with pytest.raises(ValueError):
        Vocab.from_dict({"id_to_token": ["a", "b"]})


def test_one_vocab_class_serves_characters_and_words(tmp_path):
    chars, words = Vocab.from_texts(["ab_", "ba c"]), Vocab.build([["b", "a"], ["a"]])
    assert (chars.kind, words.kind) == ("char", "word")
    assert (chars.specials, words.specials) == ((), Vocab.SPECIALS)
    assert (chars.default_index, words.default_index) == (None, Vocab.UNK_ID)
    assert chars.itos == ["a", "b", "_", " ", "c"] and words.itos[4:] == ["a", "b"]
    # the same calls on both: ids in, text out (joined by "" or by " ")
    assert chars["c"] == 4 and chars.lookup_indices("ba") == [1, 0] and "_" in chars
    assert words["b"] == 5 and words.lookup_indices(["b", "zz"]) == [5, Vocab.UNK_ID]
    assert chars.decode(chars.encode("cab")) == "cab" and chars.lookup_tokens([4, 0]) == [
        "c", "a"]
    assert words.decode(words.encode(["b", "a"], add_eos=True)) == "b a"
    assert chars.lookup_indices(["a", "b"]) == [0, 1]   # a list of characters is fine too
    # what differs by kind: an unknown character is an error, a str is not a word list
    with pytest.raises(ValueError, match=r"unknown character 'z' at position 1 of 'az'"):
        chars.lookup_indices("az")
    with pytest.raises(ValueError, match="unknown character 'z'"):
        chars["z"]
    with pytest.raises(TypeError, match="tokenize"):
        words.lookup_indices("b a")
    with pytest.raises(ValueError, match="no <sos>"):
        chars.encode("ab", add_sos=True)
    with pytest.raises(ValueError, match="1-D"):
        chars.decode(np.zeros((1, 2), np.int64))
    # each kind keeps its on-disk layout and comes back as itself
    assert chars.to_dict() == {"id_to_char": chars.itos}
    assert words.to_dict() == {"id_to_token": words.itos}
    for v in (chars, words):
        assert Vocab.from_dict(json.loads(json.dumps(v.to_dict())), kind=v.kind) == v
        v.save(tmp_path / f"{v.kind}.json")
        assert Vocab.load(tmp_path / f"{v.kind}.json") == v
    assert chars != Vocab(chars.itos) and words != Vocab(words.itos[4:], kind="char")
    with pytest.raises(ValueError, match="of kind 'word'"):
        Vocab.from_dict(chars.to_dict(), kind="word")
    with pytest.raises(ValueError, match="kind must be"):
        Vocab(["a"], kind="byte")


# --- pair files -------------------------------------------------------------------------

def test_direction_defaults_to_foreign_to_english_and_can_be_flipped(fra_file):
    src, tgt, s_lang, t_lang = load_pairs(fra_file.path)
    assert (s_lang, t_lang) == ("fra", "eng") and len(src) == len(tgt) == fra_file.lines
    assert (src[0], tgt[0]) == fra_file.first
    src2, tgt2, s2, t2 = load_pairs(fra_file.path, "eng-fra")
    assert (s2, t2) == ("eng", "fra") and src2 == tgt and tgt2 == src


@pytest.mark.parametrize("kor_file", KOR_FILES)
def test_korean_direction_defaults_to_english_and_the_attribution_is_ignored(kor_file):
    ksrc, ktgt, ks, kt = load_pairs(kor_file.path)
    assert (ks, kt) == ("kor", "eng") and len(ksrc) == kor_file.lines
    assert (ksrc[0], ktgt[0]) == kor_file.first  # the attribution column is ignored
    assert not any("tatoeba" in s or "CC-BY" in s for s in ksrc + ktgt)
    assert load_pairs(kor_file.path, ("eng", "kor"))[:2] == (ktgt, ksrc)


@pytest.mark.parametrize("kor_file", KOR_FILES)
def test_a_direction_outside_the_files_languages_is_explained(kor_file):
    with pytest.raises(TranslationDataError) as e:
        load_pairs(kor_file.path, "fra-eng")
    msg = str(e.value)
    assert kor_file.path.name in msg and "fra->eng" in msg and "kor" in msg and "Fix:" in msg
    assert isinstance(e.value, DataError) and isinstance(e.value, ValueError)


def test_columns_argument_for_files_whose_name_says_nothing(tmp_path):
    path = write(tmp_path, "mine.tsv", "Hello.\tHallo.\nThanks!\tDanke!\n")
    with pytest.raises(TranslationDataError, match="columns="):
        load_pairs(path)
    assert load_pairs(path, columns=("eng", "deu")) == (
        ["Hallo.", "Danke!"], ["Hello.", "Thanks!"], "deu", "eng")
    pytorch_style = write(tmp_path, "eng-fra.txt", "Go.\tVa !\n")
    assert load_pairs(pytorch_style)[2:] == ("fra", "eng")


def test_malformed_line_error_names_line_number_line_and_fix(tmp_path):
    path = write(tmp_path, "fra.txt", "Go.\tVa !\n\nHi. Salut.\nRun!\tCours !\n")
    with pytest.raises(TranslationDataError) as e:
        load_pairs(path)
    msg = str(e.value)
    assert "fra.txt, line 3" in msg and "'Hi. Salut.'" in msg and "Fix:" in msg and "TAB" in msg
    assert e.value.lineno == 3 and e.value.line == "Hi. Salut."
    empty = write(tmp_path, "deu.txt", "Go.\tGeh.\nRun!\t \n")
    with pytest.raises(TranslationDataError, match=r"line 2: column 2 \(deu\) is empty"):
        load_pairs(empty)
    bad_bytes = tmp_path / "ita.txt"
    bad_bytes.write_bytes(b"Go.\tVai.\nRun!\tCorri\xff!\n")
    with pytest.raises(TranslationDataError, match="line 2.*UTF-8"):
        load_pairs(bad_bytes)
    with pytest.raises(TranslationDataError, match="no sentence pairs"):
        load_pairs(write(tmp_path, "spa.txt", "\n\n"))


def test_crlf_bom_blank_lines_and_extra_columns_are_tolerated(tmp_path):
    path = write(tmp_path, "fra.txt", "\ufeffGo.\tVa !\tCC-BY\r\n\r\nRun!\tCours !\r\n\r\n")
    assert load_pairs(path) == (["Va !", "Cours !"], ["Go.", "Run!"], "fra", "eng")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_pairs(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_translation(tmp_path / "nope.txt")


# --- the samples in the repository -----------------------------------------------------

@pytest.mark.parametrize("sample, whole, start, step", [
    pytest.param(FRA_SAMPLE, FRA_SMALL, 0, 30, id="fra", marks=needs_whole_corpus(FRA_SMALL)),
    pytest.param(KOR_SAMPLE, KOR, 4, 10, id="kor", marks=needs_whole_corpus(KOR))])
def test_the_tatoeba_samples_are_the_documented_cut_of_the_whole_files(sample, whole, start,
                                                                        step):
    # samples/README.md: awk 'NR % 30 == 1' (lines 1, 31, ...), awk 'NR % 10 == 5' (5, 15, ...)
    lines = whole.read_bytes().splitlines(keepends=True)
    assert sample.read_bytes() == b"".join(lines[start::step])


def test_the_tatoeba_samples_are_small_and_carry_their_attribution():
    assert all(p.stat().st_size < 100_000 for p in (FRA_SAMPLE, KOR_SAMPLE))
    about = (FRA_SAMPLE.parent / "_about.txt").read_text(encoding="utf-8")
    assert ATTRIBUTION in about and "tatoeba.org/eng/terms_of_use" in about
    with open(KOR_SAMPLE, encoding="utf-8") as f:  # every pair keeps its attribution column
        credits = [line.rstrip("\n").split("\t")[2] for line in f]
    assert len(credits) == 380
    assert all(c.startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #") for c in credits)
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert ATTRIBUTION in readme and "CC BY 2.0 FR" in readme


# --- TranslationData --------------------------------------------------------------------

def _check_arrays(data):
    for name in ("src_train", "src_test", "tgt_train", "tgt_test"):
        a = getattr(data, name)
        assert a.dtype == np.int64 and a.ndim == 2, name
    for tgt in (data.tgt_train, data.tgt_test):
        assert (tgt[:, 0] == data.start_id).all()
        assert ((tgt == data.eos_id).sum(axis=1) == 1).all()
        eos_at = (tgt == data.eos_id).argmax(axis=1)
        after = np.arange(tgt.shape[1]) > eos_at[:, None]
        assert (tgt[after] == data.pad_id).all() and (tgt[~after] != data.pad_id).all()
        assert ((tgt == data.start_id).sum(axis=1) == 1).all()
    for src in (data.src_train, data.src_test):
        assert not np.isin(src, [data.start_id, data.eos_id]).any()
        real = src != data.pad_id
        # padding only on the right: once a row hits pad it stays pad
        assert (np.diff(real.astype(np.int8), axis=1) <= 0).all() and real[:, 0].all()


def test_fra_tutorial_filter_loads_into_consistent_arrays(fra, fra_file):
    assert (fra.src_lang, fra.tgt_lang, fra.metric, fra.reversed) == ("fra", "eng", "bleu", False)
    assert fra.pad_id == 0 and fra.start_id == 1 and fra.eos_id == 2
    n = len(fra.src_train) + len(fra.src_test)
    assert n == fra_file.lines and len(fra.src_test) == int(n * 0.1) == len(fra.tgt_test)
    assert len(fra.test_pairs) == len(fra.src_test) and fra.path == str(fra_file.path.resolve())
    _check_arrays(fra)
    refs = fra.references()
    known = [i for i, row in enumerate(fra.tgt_test) if Vocab.UNK_ID not in row]
    assert len(refs) == len(fra.tgt_test) and len(known) > fra_file.known_share * len(refs)
    assert all(fra.decode_target(fra.tgt_test[i]) == refs[i] for i in known)


def test_vocabularies_come_from_the_training_split_only(fra):
    # every vocabulary word occurs in the training arrays, ...
    for arr, vocab in ((fra.src_train, fra.src_vocab), (fra.tgt_train, fra.tgt_vocab)):
        assert set(np.unique(arr).tolist()) >= set(range(4, len(vocab)))
    # ... and test words unseen in training become <unk>
    unknown = 0
    for i, (_, tgt_text) in enumerate(fra.test_pairs):
        tokens = tokenize(tgt_text)
        ids = fra.tgt_test[i, 1:1 + len(tokens)]
        assert ids.tolist() == fra.tgt_vocab.lookup_indices(tokens)
        unknown += sum(t not in fra.tgt_vocab for t in tokens)
    assert unknown > 0 and unknown == int((fra.tgt_test == Vocab.UNK_ID).sum())
    assert fra.references()[0] == detokenize(tokenize(fra.test_pairs[0][1]))


def test_korean_to_english_keeps_hangul_words_in_the_vocabulary(kor, kor_file):
    assert (kor.src_lang, kor.tgt_lang) == ("kor", "eng")
    _check_arrays(kor)
    assert "고양이는" in kor.src_vocab and "cat" in kor.tgt_vocab
    words = [t for t in kor.src_vocab.itos[4:] if t.isalnum()]
    assert len(words) > kor_file.min_words and all(_is_hangul_syllable(c) or c.isascii()
                                     for w in words for c in w)
    assert kor_file.counter_word in kor.src_vocab  # digits and a Hangul counter: one token
    assert kor.encode_source("고양이는 귀여워.")[0].tolist() == [
        kor.src_vocab[w] for w in ("고양이는", "귀여워", ".")]


def test_length_filter_counts_tokens_without_sos_and_eos(tmp_path):
    lines = ["Go.\tVa !",                       # 2 / 2 tokens
             "I see you.\tJe te vois.",        # 4 / 4
             "I am very tired now.\tJe suis très fatigué.",  # 6 / 5
             "Hi\tSalut"]                        # 1 / 1
    path = write(tmp_path, "fra.txt", "\n".join(lines) + "\n")
    data = load_translation(path, max_len=4, test_fraction=0.0)
    assert data.counts == {"read": 4, "used": 3, "train": 3, "test": 0}
    assert data.src_train.shape == (3, 4) and data.tgt_train.shape == (3, 4 + 2)
    data2 = load_translation(path, min_len=2, max_len=4, test_fraction=0.0)
    assert len(data2.src_train) == 2 and "salut" not in data2.src_vocab
    with pytest.raises(TranslationDataError, match="max_len"):
        load_translation(path, min_len=7)


def test_reversal_reverses_tokens_and_keeps_padding_on_the_right(fra, fra_file):
    rev = load_translation(fra_file.path, reverse_source=True)
    assert rev.reversed and rev.src_vocab == fra.src_vocab and rev.test_pairs == fra.test_pairs
    np.testing.assert_array_equal(rev.tgt_train, fra.tgt_train)
    _check_arrays(rev)
    for a, b in zip(fra.src_train[:500], rev.src_train[:500]):
        n = int((a != 0).sum())
        assert b[:n].tolist() == a[:n][::-1].tolist() and (b[n:] == 0).all()
    assert rev.encode_source(["Je suis là."]).tolist() == [
        [fra.src_vocab[t] for t in (".", "là", "suis", "je")]]


def test_split_is_seeded_and_leaves_global_numpy_state_alone(tmp_path):
    path = write(tmp_path, "fra.txt", "".join(f"I saw {i}.\tJ'ai vu {i}.\n" for i in range(50)))
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = load_translation(path, seed=5, test_fraction=0.2)
    assert np.array_equal(np.random.get_state()[1], state)
    b = load_translation(path, seed=5, test_fraction=0.2)
    c = load_translation(path, seed=6, test_fraction=0.2)
    assert a.test_pairs == b.test_pairs and np.array_equal(a.src_train, b.src_train)
    assert a.test_pairs != c.test_pairs and len(a.test_pairs) == 10
    assert len(load_translation(path, max_pairs=20).src_train) == 18


def test_encode_source_matches_the_test_arrays(fra):
    texts = [s for s, _ in fra.test_pairs]
    np.testing.assert_array_equal(fra.encode_source(texts), fra.src_test)
    out = fra.encode_source(["Je suis xyzzy.", "Oui."])
    assert out.dtype == np.int64 and out.shape == (2, 4)
    assert out[0, 2] == Vocab.UNK_ID and out[1].tolist()[2:] == [0, 0]
    with pytest.raises(ValueError, match="no tokens"):
        fra.encode_source(["   "])


def test_metadata_round_trip_rebuilds_the_same_codec(fra, fra_file, tmp_path):
    meta = json.loads(json.dumps(fra.metadata()))  # JSON-safe
    assert meta["data_path"] == fra.path and meta["direction"] == "fra-eng"
    assert meta["metric"] == "bleu" and meta["counts"]["used"] == fra_file.lines
    codec = translation_codec_from_metadata(meta)
    assert codec == fra.codec() and codec.src_vocab == fra.src_vocab
    texts = [s for s, _ in fra.test_pairs[:50]] + ["Tu commences à m\u2019ennuyer\u202f!"]
    np.testing.assert_array_equal(codec.encode_source(texts), fra.encode_source(texts))
    for row in fra.tgt_test[:50]:
        assert codec.decode_target(row) == fra.decode_target(row)
    rev = translation_codec_from_metadata(
        {**meta, "reversed": True})
    assert rev.encode_source("Je vais bien.").tolist() == \
        [fra.encode_source("Je vais bien.")[0].tolist()[::-1]]
    with pytest.raises(ValueError, match="metadata"):
        translation_codec_from_metadata({"kind": "date"})
    with pytest.raises(ValueError, match="tgt_vocab"):
        translation_codec_from_metadata({k: v for k, v in meta.items() if k != "tgt_vocab"})


def test_metadata_options_reload_the_same_data(tmp_path):
    path = write(tmp_path, "fra.txt", "".join(
        f"I saw {i} cats.\tJ\u2019ai vu {i} chats\u202f!\n" for i in range(30)) + "Hi.\tSalut.\n")
    data = load_translation(path, "eng-fra", max_len=5, reverse_source=True, lower=False,
                            test_fraction=0.3, seed=7, max_pairs=25)
    meta = json.loads(json.dumps(data.metadata()))
    again = load_translation(meta["data_path"], meta["direction"], **meta["options"])
    for name in ("src_train", "tgt_train", "src_test", "tgt_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(data, name))
    assert again.codec() == data.codec() and again.test_pairs == data.test_pairs
    assert data.counts == {"read": 31, "used": 25, "train": 18, "test": 7}


def test_source_tokens_are_in_model_order(fra):
    rev = translation_codec_from_metadata({**fra.metadata(), "reversed": True})
    assert fra.codec().source_tokens("Je suis là\u202f!") == ["je", "suis", "là", "!"]
    assert rev.source_tokens("Je suis là\u202f!") == ["!", "là", "suis", "je"]
    assert rev.encode_source("Je suis là !")[0].tolist() == [
        rev.src_vocab[t] for t in rev.source_tokens("Je suis là !")]


def test_decode_target_stops_at_eos_and_drops_specials(fra):
    v = fra.tgt_vocab
    ids = [v.SOS_ID, v["i'm"], v["ok"], v["."], v.EOS_ID, v["no"]]
    assert fra.decode_target(np.array(ids)) == "i'm ok ."
    assert fra.decode_target([v.SOS_ID, v.UNK_ID, v.EOS_ID]) == "<unk>"
    with pytest.raises(ValueError):
        fra.decode_target(fra.tgt_test[:2])


def test_pad_sequences_and_src_padding_mask():
    src = pad_sequences([np.array([5, 6, 7]), np.array([8])])
    assert src.tolist() == [[5, 6, 7], [8, 0, 0]] and src.dtype == np.int64
    mask = src_padding_mask(src)
    assert mask.dtype == bool and mask.tolist() == [[False] * 3, [False, True, True]]
    assert pad_sequences([]).shape == (0, 0)
    with pytest.raises(ValueError):
        src_padding_mask(np.zeros(3, np.int64))


# --- the data protocol of the training loop -----------------------------------------------

def _check_protocol(data):
    """``data`` is a ``Seq2SeqData`` in name and in its arrays' shapes and dtypes."""
    assert isinstance(data, Seq2SeqData)
    splits = [("train", data.src_train, data.tgt_train), ("test", data.src_test, data.tgt_test)]
    if data.src_valid is not None:
        splits.append(("valid", data.src_valid, data.tgt_valid))
    else:
        assert data.tgt_valid is None
    for name, src, tgt in splits:
        assert src.dtype == tgt.dtype == np.int64 and src.ndim == tgt.ndim == 2, name
        assert len(src) == len(tgt) > 0 and tgt.shape[1] >= 2, name
        assert (tgt[:, 0] == data.start_id).all(), name
        assert 0 <= src.min() and src.max() < len(data.src_vocab), name
        assert 0 <= tgt.min() and tgt.max() < len(data.tgt_vocab), name
    assert data.src_train.shape[1] == data.src_test.shape[1] or data.pad_id is not None
    for special in (data.pad_id, data.eos_id):
        assert special is None or (isinstance(special, int) and special < len(data.tgt_vocab))
    assert isinstance(data.start_id, int) and isinstance(data.reversed, bool)
    assert data.metric in ("exact_match", "bleu") and isinstance(data.source, str)
    assert json.loads(json.dumps(data.metadata())) == data.metadata()
    if data.metric == "bleu":      # what train.evaluate uses of data scored by BLEU
        assert isinstance(data.lower, bool) and callable(data.decode_target)
        assert len(data.references()) == len(data.src_test)


@pytest.mark.parametrize("kind", ["char", "translation"])
def test_both_kinds_of_data_satisfy_the_protocol_of_the_training_loop(kind, fra):
    data = load_dataset(n_generated=300, generator_seed=1) if kind == "char" else fra
    _check_protocol(data)
    valid = data.split_validation(0.2, seed=0)
    _check_protocol(valid)
    assert len(valid.src_valid) == int(len(data.src_train) * 0.2)
    if kind == "translation":
        assert len(valid.valid_references()) == len(valid.src_valid)
    # the protocol is not vacuous: an object without a validation split's names is not one
    missing = SimpleNamespace(**{k: getattr(data, k) for k in (
        "src_train", "tgt_train", "src_test", "tgt_test", "src_vocab", "tgt_vocab", "pad_id",
        "start_id", "eos_id", "metric", "source", "reversed", "metadata",
        "split_validation")})
    assert not isinstance(missing, Seq2SeqData)


# --- metrics ----------------------------------------------------------------------------

def test_bleu_and_chrf_of_identical_and_disjoint_corpora():
    refs = ["i am a cat .", "you are very kind .", "we are late again ."]
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)
    assert corpus_chrf(refs, refs) == pytest.approx(100.0)
    disjoint = ["qqq zzz xxx", "bbb hhh jjj", "ppp fff zzz"]  # no shared character
    assert corpus_bleu(disjoint, refs) == pytest.approx(0.0, abs=1e-9)
    assert corpus_chrf(disjoint, refs) == pytest.approx(0.0, abs=1e-9)
    partial = ["i am a dog .", "you are very kind .", "we are late ."]
    assert 0 < corpus_bleu(partial, refs) < 100 and 0 < corpus_chrf(partial, refs) < 100


def test_bleu_is_computed_on_our_tokens_and_checks_its_inputs(fra, fra_file):
    refs = fra.references()[:100]
    hyps = [fra.decode_target(row) for row in fra.tgt_test[:100]]
    # the encoded test targets differ from the references only where words are <unk>
    assert fra_file.min_bleu < corpus_bleu(hyps, refs) <= 100
    with pytest.raises(ValueError, match="paired"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError):
        corpus_chrf("a b", "a b")
    with pytest.raises(ValueError, match="empty"):
        corpus_bleu([], [])
