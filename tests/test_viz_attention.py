"""Attention maps and training curves (viz.attention, viz.curves), the date task's source
spans, and the pictures the command line writes."""
import json

import numpy as np
import pytest

import viz
from models.codecs import CharCodec
from models.date_task import date_alignment, date_source_spans
from models.reporting import attention_view
from models.vocab import Vocab

PNG = b"\x89PNG\r\n\x1a\n"


def _rows(T, S, seed=0):
    w = np.random.default_rng(seed).random((T, S))
    return w / w.sum(axis=1, keepdims=True)


def test_heatmap_single_grid_and_heads_are_written(tmp_path):
    src, out = list("abc"), list("xy")
    p = viz.plot_attention(_rows(2, 3), src, out, tmp_path / "one.png", title="t")
    assert open(p, "rb").read(8) == PNG
    items = [(_rows(2, 3, k), src, out, f"item {k}") for k in range(3)]
    p = viz.plot_attention_grid(items, tmp_path / "grid.png", cols=2)
    assert open(p, "rb").read(8) == PNG
    heads = np.stack([_rows(2, 3, k) for k in range(4)])
    p = viz.plot_attention_heads(heads, src, out, tmp_path / "heads.svg")
    text = open(p, encoding="utf-8").read()
    assert "<svg" in text and text.count("head ") >= 4
    assert not list(tmp_path.glob("*.tmp*"))


def test_heatmap_draws_the_weights_it_is_given(tmp_path):
    import matplotlib.pyplot as plt
    w = _rows(3, 4)
    fig, ax = plt.subplots()
    img = viz.draw_attention(ax, w, list("abcd"), list("xyz"))
    np.testing.assert_allclose(np.asarray(img.get_array()), w)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("xyz")
    plt.close(fig)


@pytest.mark.filterwarnings("ignore:Glyph")      # the missing glyphs matplotlib reports
def test_hangul_tokens_are_drawn_or_the_missing_font_is_named(tmp_path, monkeypatch):
    p = viz.plot_attention(_rows(2, 3), ["나는", "학생", "이다"], ["i", "am"],
                           tmp_path / "ko.png")
    assert open(p, "rb").read(8) == PNG
    from viz import attention
    monkeypatch.setattr(attention, "FONTS", ["DejaVu Sans"])    # as if no CJK font existed
    with pytest.warns(UserWarning, match="apt-get install fonts-noto-cjk"):
        viz.plot_attention(_rows(2, 3), ["나는", "학생", "이다"], ["i", "am"],
                           tmp_path / "ko2.png")


def test_bad_shapes_are_refused_with_a_fix(tmp_path):
    with pytest.raises(ValueError, match=r"weights of shape \(2, 3\) do not match 2 output "
                                         r"tokens x 4 source tokens"):
        viz.plot_attention(_rows(2, 3), list("abcd"), list("xy"), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no maps to draw"):
        viz.plot_attention_grid([], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"weights must be \(heads, T, S\)"):
        viz.plot_attention_heads(_rows(2, 3), list("abc"), list("xy"), tmp_path / "x.png")


def test_training_curves_from_a_history_file(tmp_path):
    hist = [dict(epoch=e, loss=2.0 / e, accuracy=0.2 * e) for e in (1, 2, 3)]
    (tmp_path / "history.json").write_text(json.dumps(hist))
    p = viz.plot_history(tmp_path / "history.json", tmp_path / "curves.png")
    assert open(p, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="history is empty"):
        viz.plot_history([], tmp_path / "c.png")


def test_attention_view_puts_columns_in_reading_order_and_stops_at_eos():
    vocab = Vocab.from_texts(["ab c_0123456789-"])
    codec = CharCodec(vocab, True, 5, 3, vocab.encode("_")[0])
    S = 5
    w = np.zeros((3, S))
    w[0, S - 1] = 1.0              # model column S-1 of a reversed input = typed char 0
    w[1, S - 2] = 1.0
    ids = vocab.encode("012")
    src, out, view = attention_view(codec, "ab", ids, w)
    assert src == ["a", "b"] and out == ["0", "1", "2"]
    np.testing.assert_array_equal(view[:, 0], [1, 0, 0])
    np.testing.assert_array_equal(view[:, 1], [0, 1, 0])


@pytest.mark.parametrize("text,iso,expect", [
    ("september 27, 1994", "1994-09-27", ("1994", "september", "27")),
    ("9/27/94", "1994-09-27", ("94", "9", "27")),
    ("TUESDAY, SEPTEMBER 25, 1984", "1984-09-25", ("1984", "SEPTEMBER", "25")),
    ("19940927", "1994-09-27", ("1994", "09", "27")),
    ("may 3 2005", "2005-05-03", ("2005", "may", "3")),
    ("27.09.1994", "1994-09-27", ("1994", "09", "27")),
])
def test_date_source_spans(text, iso, expect):
    spans = date_source_spans(text, iso)
    got = tuple("".join(text[i] for i in spans[f]) for f in ("year", "month", "day"))
    assert got == expect


def test_date_alignment_reads_reversed_columns():
    vocab = Vocab.from_texts(["0123456789/-_ "])
    width = 8
    codec = CharCodec(vocab, True, width, 10, vocab.encode("_")[0])
    text, iso = "9/27/94", "1994-09-27"
    spans = date_source_spans(text, iso)
    good = np.zeros((10, width))
    for field, outs in (("year", (2, 3)), ("month", (5, 6)), ("day", (8, 9))):
        for t in outs:
            good[t, width - 1 - spans[field][0]] = 1.0     # the model reads reversed
    # year 94 -> 2 digits, month 9 -> its last digit, day 27 -> 2 digits
    assert date_alignment(codec, text, iso, good) == [True] * 5
    bad = np.roll(good, 1, axis=1)
    assert not all(date_alignment(codec, text, iso, bad))


@pytest.mark.parametrize("text, iso, checked", [
    ("9/7/94", "1994-09-07", (2, 3, 6, 9)),         # no century, no leading zeros typed
    ("july 4, 2001", "2001-07-04", (0, 1, 2, 3, 5, 6, 9)),   # a month name spells both digits
    ("19940927", "1994-09-27", (0, 1, 2, 3, 5, 6, 8, 9)),
])
def test_date_alignment_checks_only_digits_that_are_typed(text, iso, checked):
    vocab = Vocab.from_texts(["0123456789/-_ ,abcdefghijklmnopqrstuvwxyz"])
    width = 14
    codec = CharCodec(vocab, False, width, 10, vocab.encode("_")[0])
    nowhere = np.zeros((10, width))
    nowhere[:, width - 1] = 1.0                     # every output looks at the padding
    assert date_alignment(codec, text, iso, nowhere) == [False] * len(checked)
    spans = date_source_spans(text, iso)
    good = nowhere.copy()
    for t in checked:
        field = "year" if t < 4 else "month" if t < 7 else "day"
        good[t] = 0
        good[t, spans[field][-1]] = 1.0
    assert date_alignment(codec, text, iso, good) == [True] * len(checked)
