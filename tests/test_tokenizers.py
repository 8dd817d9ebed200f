"""Tokenizers of translation data (issue 16, point 1): ``--tokenizer {word,bpe,unigram,char}``,
``--vocab-size`` and ``--joint-vocab``.

What is checked: ``detokenize(tokenize(s)) == normalize(s)`` for every tokenizer (as a
property over any text, and through the vocabulary's ids over the training alphabet), on
the real French lines with U+202F / U+00A0 / curly quotes and on Hangul; the tokenizer is
learnt from the training split only (never validation or test); a checkpoint stores a
sentencepiece model as uint8 bytes and loads it back; every crafted tokenizer field of a
checkpoint is one ``CheckpointError`` line; every bad option is one line; the command line
trains with bpe and ``translate`` prints text.
"""
from __future__ import annotations

import json
import os
import unicodedata

import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn as tg
from models import translation_dataset
from models.cli import main
from models.codecs import TranslationCodec
from models.model_io import load_model, save_model
from models.task_loading import load_checkpoint_data, load_task
from models.text import normalize as word_normalize
from models.tokenizers import (SENTENCEPIECE_KINDS, SPACE_MARK, CharTokenizer,
                               SentencePieceTokenizer, WordTokenizer, check_model_proto,
                               fit_tokenizer, normalize, sha256, train_sentencepiece)
from models.train import TrainConfig, build_model
from models.translation_dataset import load_translation, load_translation_for
from tests.conftest import DATA, SAMPLES, whole_or_sample

FRA = SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"
KOR = SAMPLES / "kor-eng" / "kor.sample.txt"
CE = tg.CheckpointError
UNK = 3                                  # <unk>'s id in every vocabulary
SPECIAL = ["\u00a0", "\u202f", "\u2009", "\u2019", "\u2018", "\u201c", "\u201d", "\u00ab",
           "\u00bb", "\u2026"]
HANGUL = list("누구안녕고양이는귀여워요ㅋ")
ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêàçÉ0123456789"
                ".,!?;:'\"-()") + SPECIAL + HANGUL + [" ", " "]


def _corpus() -> list[str]:
    """Training text that holds every character of ALPHABET (and real sentences)."""
    lines = [ln.split("\t")[1] for ln in FRA.read_text(encoding="utf-8").splitlines()]
    lines += [ln.split("\t")[1] for ln in KOR.read_text(encoding="utf-8").splitlines()]
    return lines + ["".join(ALPHABET[i:i + 7]) for i in range(0, len(ALPHABET), 7)]


@pytest.fixture(scope="module")
def tokenizers():
    """One tokenizer of each kind, learnt (joint, not lower-cased) from _corpus()."""
    texts = _corpus()
    out = {}
    for kind in ("word", "char", "bpe", "unigram"):
        size = 600 if kind in SENTENCEPIECE_KINDS else None
        out[kind] = fit_tokenizer(kind, texts, lower=False, vocab_size=size)
    return out


# -- normalisation ----------------------------------------------------------------------

def test_normalize_keeps_the_writers_spaces_quotes_and_hangul():
    s = "  \u00ab\u00a0C\u2019est\u202fça\u2009! \u00bb\t\n  누구\u2581? "
    assert normalize(s, lower=False) == "\u00ab\u00a0C\u2019est\u202fça\u2009! \u00bb 누구 ?"
    assert normalize("ÉTÉ ㅋㅋ") == "été ㅋㅋ"                   # compatibility jamo kept
    assert normalize("e\u0301") == "\u00e9"                      # NFC composes
    assert normalize("\u1100\u1161") == "가"                     # conjoining jamo -> syllable
    assert normalize("a\ud800b") == "a\ufffdb"                   # a lone surrogate
    with pytest.raises(TypeError):
        normalize(b"bytes")


def test_sentencepiece_s_own_rule_would_change_the_french_spaces():
    """Why the identity rule: nmt_nfkc turns U+202F / U+00A0 into spaces (measured on the
    corpora: the module docstring of models.tokenizers)."""
    nfkc = spm.SentencePieceNormalizer(rule_name="nmt_nfkc")
    for c in ("\u202f", "\u00a0", "\u2009"):
        assert nfkc.normalize(f"a{c}!").replace(SPACE_MARK, " ").strip() == "a !"
        assert normalize(f"a{c}!") == f"a{c}!"


@given(st.text(max_size=40) | st.text(st.sampled_from(ALPHABET + ["\t", "\n", "\u0301",
                                                                  SPACE_MARK]), max_size=40))
def test_normalize_is_idempotent(s):
    for lower in (True, False):
        once = normalize(s, lower)
        assert normalize(once, lower) == once
        assert once == once.strip(" ") and "  " not in once and SPACE_MARK not in once


# -- round trips ------------------------------------------------------------------------

_ANY_TEXT = st.text(max_size=40) | st.text(st.sampled_from(ALPHABET + ["\t", "\n", "\u0301",
                                                                       SPACE_MARK]),
                                           max_size=40)


@given(_ANY_TEXT)
def test_detokenize_tokenize_is_normalize_for_every_tokenizer(tokenizers, s):
    for kind in ("char", "bpe", "unigram"):
        tok = tokenizers[kind][0]
        tokens = tok.tokenize(s)
        assert all(isinstance(t, str) and t for t in tokens)
        assert tok.detokenize(tokens) == normalize(s, lower=False) == tok.normalize(s), kind
    word = tokenizers["word"][0]
    assert word.detokenize(word.tokenize(s)) == word.normalize(s) == " ".join(word.tokenize(s))


@given(st.text(st.sampled_from(list("abcdeXYZéà") + HANGUL + [" ", "\u00a0", "\u202f", "\t"]),
               max_size=30))
def test_the_word_tokenizer_s_round_trip_is_models_text_s_form(s):
    """Without punctuation, the word tokenizer's text is models.text.normalize with every
    space collapsed (its documented, lossy form: special spaces become spaces)."""
    tok = WordTokenizer(lower=True)
    assert tok.detokenize(tok.tokenize(s)) == " ".join(word_normalize(s).split())


@given(st.text(st.sampled_from(ALPHABET), max_size=40))
def test_text_over_the_training_alphabet_round_trips_through_the_ids(tokenizers, s):
    """The model's path: text -> ids (encode_source) -> ids as an answer -> text."""
    for kind in ("char", "bpe", "unigram"):
        tok, vocab = tokenizers[kind]
        codec = TranslationCodec(vocab, vocab, "fra", "eng", False, lower=False,
                                 src_tokenizer=tok, tgt_tokenizer=tok)
        if not normalize(s, lower=False):
            continue
        ids = codec.encode_source(s)[0]
        assert vocab.UNK_ID not in ids.tolist(), kind
        answer = np.concatenate([[codec.start_id], ids, [codec.eos_id, 7]])
        assert codec.decode_target(answer) == normalize(s, lower=False), kind


@pytest.mark.parametrize("path", whole_or_sample(DATA / "eng-fra" / "fra.tutorial-filter.txt",
                                                 FRA))
def test_the_real_french_lines_round_trip_with_their_special_spaces(path):
    data = load_translation(path, tokenizer="bpe", vocab_size=800, lower=False)
    tok = data.src_tokenizer
    special = [s for s, _ in data.train_pairs if any(c in s for c in SPECIAL)]
    assert special                                     # the file has U+202F, U+00A0, ’
    for s, _ in data.train_pairs:
        ids = data.codec().encode_source(s)[0]
        assert UNK not in ids.tolist()                # every training character is a piece
        # exactly the line as written, runs of ASCII spaces aside
        assert tok.detokenize(data.src_vocab.lookup_tokens(ids)) == normalize(s, False) == \
            " ".join(p for p in s.split(" ") if p)


def test_hangul_lines_of_kor_txt_round_trip_for_each_tokenizer():
    for kind, size in (("char", None), ("bpe", 1500), ("unigram", 1500)):
        data = load_translation(KOR, tokenizer=kind, vocab_size=size)
        codec = data.codec()
        for s, _ in data.train_pairs:
            ids = codec.encode_source(s)[0]
            assert UNK not in ids.tolist(), (kind, s)
            tokens = data.src_vocab.lookup_tokens(ids)
            assert codec.src_tokenizer.detokenize(tokens) == normalize(s), (kind, s)
            assert all(unicodedata.normalize("NFC", t) == t for t in tokens)


# -- the training split only ------------------------------------------------------------

def _unique_chars_file(tmp_path):
    """60 pairs, each source holding one CJK character no other line has."""
    path = tmp_path / "fra.txt"
    path.write_text("".join(f"I see {i} cats.\tJe vois {i} chats {chr(0x4E00 + i)}.\n"
                            for i in range(60)), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["word", "char", "bpe", "unigram"])
def test_the_tokenizer_learns_from_the_training_split_only(tmp_path, monkeypatch, kind):
    seen = []

    def recording_fit(kind_, texts, **kw):
        seen.append(list(texts))
        return fit_tokenizer(kind_, texts, **kw)

    monkeypatch.setattr(translation_dataset, "fit_tokenizer", recording_fit)
    size = 200 if kind in SENTENCEPIECE_KINDS else None
    data = load_translation(_unique_chars_file(tmp_path), "fra-eng", tokenizer=kind,
                            vocab_size=size, test_fraction=0.2)
    data = data.split_validation(0.2, seed=0)
    src_seen, tgt_seen = seen[-2], seen[-1]            # the last fit: source, then target
    train = data.train_pairs
    if kind == "word":       # today's rule: the word vocabulary comes from train + validation
        train = train + data.valid_pairs
        held_out, rows = data.test_pairs, [data.src_test]
    else:                    # learnt again without the validation pairs
        held_out, rows = data.test_pairs + data.valid_pairs, [data.src_test, data.src_valid]
    assert sorted(src_seen) == sorted(s for s, _ in train)
    assert sorted(tgt_seen) == sorted(t for _, t in train)
    assert held_out and not {s for s, _ in held_out} & set(src_seen)
    # the characters that only held-out sentences have are no piece, and encode as <unk>
    for s, _ in held_out:
        assert all(s.split()[-1][0] not in t for t in data.src_vocab.itos)
    assert all((r == UNK).any(axis=1).all() for r in rows)


# -- checkpoints ------------------------------------------------------------------------

def _tiny_checkpoint(path, data):
    model = build_model(TrainConfig(model="attention", hidden_size=8, wordvec_size=4),
                        len(data.src_vocab), len(data.tgt_vocab))
    save_model(model, data, path)
    return str(path)


@pytest.fixture(scope="module")
def bpe_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    data = load_translation(FRA, tokenizer="bpe", vocab_size=300).split_validation(0.1, 0)
    return _tiny_checkpoint(folder / "bpe.npz", data), data


@pytest.mark.parametrize("kind,joint", [("bpe", False), ("unigram", True), ("char", False),
                                        ("word", True), ("word", False)])
def test_a_checkpoint_stores_the_tokenizer_and_loads_it_back(tmp_path, kind, joint):
    size = 300 if kind in SENTENCEPIECE_KINDS else None
    data = load_translation(FRA, tokenizer=kind, vocab_size=size, joint_vocab=joint)
    data = data.split_validation(0.1, 0)
    path = _tiny_checkpoint(tmp_path / "m.npz", data)
    with np.load(path, allow_pickle=False) as z:       # no pickle anywhere
        names = set(z.files)
        meta = json.loads(str(z["__metadata__"][()]))["data"]
        if kind in SENTENCEPIECE_KINDS:
            assert z["tokenizer.src"].dtype == np.uint8 and z["tokenizer.src"].ndim == 1
            assert z["tokenizer.src"].tobytes() == data.src_tokenizer.to_bytes()
    want = {"tokenizer.src"} | ({"tokenizer.tgt"} if not joint else set()) \
        if kind in SENTENCEPIECE_KINDS else set()
    assert {n for n in names if n.startswith("tokenizer.")} == want
    if kind == "word" and not joint:                    # today's format, unchanged
        assert meta["kind"] == "word-translation" and "tokenizer" not in meta
    else:
        assert meta["kind"] == "translation" and meta["tokenizer"]["kind"] == kind
    model, _, codec = load_model(path)
    assert codec == data.codec() and codec.joint == joint
    texts = [s for s, _ in data.test_pairs]
    np.testing.assert_array_equal(codec.encode_source(texts), data.encode_source(texts))
    for row in data.tgt_test[:20]:
        assert codec.decode_target(row) == data.decode_target(row)
    # eval reads the file with the checkpoint's own tokenizer: the same test arrays
    again = load_checkpoint_data(FRA, {"data": meta}, codec)
    np.testing.assert_array_equal(again.src_test, data.src_test)
    np.testing.assert_array_equal(again.tgt_test, data.tgt_test)


def _rewrite(src, dst, meta_fn=None, state_fn=None) -> str:
    state, meta = tg.checkpoint.load(src)
    if meta_fn:
        meta_fn(meta["data"])
    if state_fn:
        state_fn(state, meta["data"])
    tg.checkpoint.save(state, dst, metadata=meta)
    return str(dst)


def _put(name, raw: bytes, fix_sum=True):
    def fn(state, data):
        state[name] = np.frombuffer(raw, np.uint8).copy()
        if fix_sum:
            data["tokenizer"]["sha256"][name.split(".")[1]] = sha256(raw)
    return fn


def _refused(path, *words) -> str:
    with pytest.raises(CE) as e:
        load_model(path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 600 and "fix:" in msg, msg
    assert os.path.basename(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def _nfkc_model(data) -> bytes:
    texts = [s for s, _ in data.train_pairs]
    import io
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=out, model_type="bpe", vocab_size=300,
        normalization_rule_name="nmt_nfkc", pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        pad_piece="<pad>", bos_piece="<sos>", eos_piece="<eos>", unk_piece="<unk>",
        minloglevel=2, num_threads=1)
    return out.getvalue()


_SRC = "'tokenizer.src'"
_ARRAY_CASES = {
    "truncated": (lambda d: _put("tokenizer.src", d.src_tokenizer.to_bytes()[:1000]),
                  [_SRC, "not a sentencepiece model of this program: it is truncated"]),
    "garbage": (lambda d: _put("tokenizer.src", np.random.default_rng(0).bytes(5000)),
                [_SRC, "not a sentencepiece model of this program"]),
    "altered": (lambda d: _put("tokenizer.src", d.src_tokenizer.to_bytes()[:-1] + b"x",
                               fix_sum=False), [_SRC, "does not match the SHA-256"]),
    "float": (lambda d: lambda s, _: s.update({"tokenizer.src": s["tokenizer.src"].astype(
        np.float32)}), [_SRC, "float32", "a 1-D uint8 array"]),
    "2-D": (lambda d: lambda s, _: s.update({"tokenizer.src": s["tokenizer.src"][None]}),
            [_SRC, "a 1-D uint8 array"]),
    "empty": (lambda d: lambda s, _: s.update({"tokenizer.src": np.zeros(0, np.uint8)}),
              [_SRC, "not 1 to"]),
    "missing": (lambda d: lambda s, _: s.pop("tokenizer.tgt"),
                ["tokenizer arrays do not fit its bpe tokenizer: missing tokenizer.tgt"]),
    "unexpected": (lambda d: lambda s, _: s.update({"tokenizer.evil": np.zeros(3, np.uint8)}),
                   ["unexpected 'tokenizer.evil'"]),
    "other side": (lambda d: _put("tokenizer.src", d.tgt_tokenizer.to_bytes()),
                   [_SRC, "pieces are", "not the data's src_vocab"]),
    "nmt_nfkc": (lambda d: _put("tokenizer.src", _nfkc_model(d)),
                 [_SRC, "its normalizer is not the identity rule"]),
}


@pytest.mark.parametrize("case", list(_ARRAY_CASES))
def test_a_crafted_tokenizer_array_is_one_checkpoint_error_line(tmp_path, bpe_ckpt, case):
    path, data = bpe_ckpt
    make, words = _ARRAY_CASES[case]
    _refused(_rewrite(path, tmp_path / "c.npz", state_fn=make(data)), *words)


@pytest.mark.parametrize("change,words", [
    (lambda m: m["tokenizer"].update(kind="sentencepiece"),
     ["tokenizer field kind is 'sentencepiece', not one of word, bpe, unigram, char"]),
    (lambda m: m["tokenizer"].update(joint="yes"), ["joint is 'yes', not true or false"]),
    (lambda m: m["tokenizer"].update(joint=True), ["is joint but the two vocabularies differ"]),
    (lambda m: m["tokenizer"].pop("sha256"), ["sha256 is None, not an object"]),
    (lambda m: m["tokenizer"]["sha256"].update(src="00"), ["sha256 field src is '00'"]),
    (lambda m: m["tokenizer"].update(evil=1), ["tokenizer has unknown field 'evil'"]),
    (lambda m: m.pop("tokenizer"), ["the data's tokenizer is None, not an object"]),
    (lambda m: m.update(kind="word-translation"), ["kind word-translation has a tokenizer"]),
    (lambda m: m["options"].update(vocab_size=0),
     ["vocab_size is 0, not an integer from 5 to 1,000,000 or null"]),
    (lambda m: m["options"].update(tokenizer="gpt2"),
     ["options field tokenizer is 'gpt2', not one of word, bpe, unigram, char"]),
    (lambda m: m["options"].update(joint_vocab=1), ["joint_vocab is 1, not true or false"]),
])
def test_a_crafted_tokenizer_field_is_one_checkpoint_error_line(tmp_path, bpe_ckpt, change,
                                                                words):
    path, _ = bpe_ckpt
    _refused(_rewrite(path, tmp_path / "c.npz", meta_fn=change), *words)


def test_a_word_checkpoint_with_a_tokenizer_array_is_refused(tmp_path):
    data = load_translation(FRA)
    path = _tiny_checkpoint(tmp_path / "w.npz", data)
    crafted = _rewrite(path, tmp_path / "c.npz",
                       state_fn=lambda s, _: s.update({"tokenizer.src": np.ones(9, np.uint8)}))
    _refused(crafted, "do not fit its word tokenizer: unexpected 'tokenizer.src'")


@settings(max_examples=30)
@given(st.data())
def test_random_damage_to_the_model_bytes_is_refused_or_harmless(bpe_ckpt, tmp_path_factory,
                                                                 data):
    path, trained = bpe_ckpt
    raw = bytearray(trained.src_tokenizer.to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    out = _rewrite(path, tmp_path_factory.mktemp("d") / "c.npz",
                   state_fn=_put("tokenizer.src", bytes(raw[:cut])))
    try:
        _, _, codec = load_model(out)
    except CE as e:
        assert "\n" not in str(e) and "fix:" in str(e)
    else:
        codec.decode_target(codec.encode_source("Je suis là.")[0])


def test_check_model_proto_reads_what_train_sentencepiece_writes():
    tok = train_sentencepiece(["un deux trois", "quatre cinq"] * 5, "unigram", 40)
    kind, pieces = check_model_proto(tok.to_bytes())
    assert kind == "unigram" and pieces == tok.pieces and pieces[:4] == \
        ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert SentencePieceTokenizer(tok.to_bytes()) == tok
    for bad, words in ((b"", "0 bytes"), (b"\x08\x01", "field 1 is not a message"),
                       (b"\xff" * 12, "truncated")):
        with pytest.raises(ValueError, match=words):
            check_model_proto(bad)


# -- options ----------------------------------------------------------------------------

def _one_line(capsys, *words) -> str:
    _, err = capsys.readouterr()
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not ln.startswith("epoch ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("value,words", [
    ("0", "must be an integer from 5 to 1,000,000, got 0"),
    ("-1", "must be an integer from 5 to 1,000,000, got -1"),
    ("4", "got 4"), ("10000000000", "from 5 to 1,000,000"),
    ("nan", "'nan' is not an integer"), ("4000.5", "is not an integer"),
    ("", "is not an integer"),
])
def test_a_bad_vocab_size_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, value,
                                                      words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", str(FRA), "--tokenizer", "bpe",
                 f"--vocab-size={value}"]) == 2
    _one_line(capsys, "argument --vocab-size", words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,words", [
    (["--tokenizer", "gpt2"], ["argument --tokenizer: invalid choice: 'gpt2'"]),
    (["--tokenizer", "bpe"], ["--tokenizer applies to translation data (a tab-separated "
                              "sentence-pair --data file) only (fix: drop --tokenizer)"]),
    (["--vocab-size", "100"], ["--vocab-size applies to translation data"]),
    (["--joint-vocab"], ["--joint-vocab applies to translation data", "(fix: drop "
                         "--joint-vocab)"]),
    (["--data", str(FRA), "--tokenizer", "unigram", "--min-freq", "2"],
     ["--min-freq applies to --tokenizer word and char only (sentencepiece chooses its "
      "pieces by --vocab-size) (fix: drop --min-freq)"]),
    (["--data", str(FRA), "--model", "transformer", "--share-embeddings"],
     ["--share-embeddings needs one vocabulary for both languages (fix: add --joint-vocab)"]),
])
def test_a_tokenizer_option_that_does_not_apply_is_one_line(tmp_path, monkeypatch, capsys,
                                                            argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *argv]) == 2
    _one_line(capsys, *words)
    assert list(tmp_path.iterdir()) == []


def test_a_vocab_size_below_the_characters_names_the_size_that_works(tmp_path, capsys):
    assert main(["train", "--data", str(KOR), "--tokenizer", "bpe", "--vocab-size", "50",
                 "--out", str(tmp_path / "run")]) == 2
    line = _one_line(capsys, "--vocab-size 50 is smaller than the", "distinct characters "
                     "of the training text plus the 4 special tokens (fix: --vocab-size")
    need = int(line.split("(fix: --vocab-size ")[1].split()[0])
    assert load_translation(KOR, tokenizer="bpe", vocab_size=need).src_vocab


@pytest.mark.parametrize("kwargs,words", [
    (dict(tokenizer="gpt2"), "tokenizer='gpt2' is not one of word, bpe, unigram, char"),
    (dict(vocab_size=4), "vocab_size=4 must be an integer >= 5"),
    (dict(vocab_size=float("nan")), "vocab_size=nan must be an integer >= 5"),
    (dict(vocab_size=True), "vocab_size=True must be an integer >= 5"),
    (dict(joint_vocab="yes"), "joint_vocab='yes' must be true or false"),
    (dict(tokenizer="bpe", min_freq=2), "--min-freq 2 applies to the word and char"),
])
def test_bad_tokenizer_arguments_of_the_api_are_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=None) as e:
        load_translation(FRA, **kwargs)
    assert words in str(e.value)


def test_a_tokenizer_on_the_character_date_task_is_refused():
    with pytest.raises(ValueError, match="apply to translation data only"):
        load_task(None, tokenizer="bpe")
    assert load_task(None).metric == "exact_match"      # the default is untouched


def test_the_codec_refuses_mixed_tokenizer_kinds():
    data = load_translation(FRA)
    with pytest.raises(ValueError, match="the source tokenizer is char"):
        TranslationCodec(data.src_vocab, data.tgt_vocab, "fra", "eng", False,
                         src_tokenizer=CharTokenizer())
    with pytest.raises(ValueError, match="tokenizer='bpe'"):
        load_translation_for(load_translation(FRA, tokenizer="char").codec(), FRA,
                             tokenizer="bpe")


# -- the command line, end to end -------------------------------------------------------

def test_train_with_bpe_then_translate_prints_text(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "attention", "--data", str(FRA), "--tokenizer", "bpe",
                 "--vocab-size", "500", "--epochs", "1", "--hidden-size", "16",
                 "--wordvec-size", "8", "--batch-size", "64", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["translate", str(out / "model.npz"), "Je n\u2019ai pas l\u2019argent\u202f!",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and SPACE_MARK not in printed[0] and "<sos>" not in printed[0]
    assert main(["eval", str(out / "model.npz"), "--data", str(FRA), "--examples", "1"]) == 0
    assert "BLEU" in capsys.readouterr().out
