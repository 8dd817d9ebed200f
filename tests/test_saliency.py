"""'Why attention helps' (issue 15, point 3): ``models.saliency.source_gradient_norms``, the
norm of the gradient one output step's loss sends to each source embedding, its picture
(``viz.saliency``) and its script (``docs/scripts/why_attention.py``).

What the picture must show is checked on trained models: ``tests/data/why_attention.npz``
holds the three models the script trained (H = 64, 800 minibatches of the book's
date.txt; float16 weights, the vocabulary and the scores; regenerate with ``python
docs/scripts/why_attention.py --save-weights tests/data/why_attention.npz``, about a
minute on a quiet machine):

- (a) seq2seq: the gradient fades toward the source positions the encoder reads first;
- (b) attention: it peaks on the source characters of the output digit;
- (c) each check fails on broken code or the other model: uniform attention weights, the
  norms read in the wrong order, the seq2seq model for the peak, the attention model for
  the fading.

Each property is one helper (``fades_toward_first_read``, ``peaks_on_span``) and tests
show that each helper says no when it should. The function's contract (shape, dtype,
errors, no side effects) is tested on tiny untrained models of every kind.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_attn as tg
from models import AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq, Transformer
from models.date_task import date_source_spans, generate_date_task
from models.saliency import date_step_span, source_embedding_layer, source_gradient_norms
from tinygrad_attn import functional as F
from viz.curves import OutputPathError
from viz.saliency import (BAR_COLOR, SPAN_BAR_COLOR, draw_source_gradients,
                          plot_source_gradients)

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "tests" / "data" / "why_attention.npz"
PICTURE_ITEM = ("tuesday, september 27, 1994", "1994-09-27", 8)   # the picture's date, digit
PNG = b"\x89PNG\r\n\x1a\n"


def script(name):
    """Import docs/scripts/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(f"doc_script_{name}",
                                                  ROOT / "docs" / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the properties, one helper each ---------------------------------------------------------
def fades_toward_first_read(g, factor: float = 100.0) -> bool:
    """(a): the half of the source the encoder reads first (g[:S//2], ``g`` in reading
    order) gets at most 1/factor of what the half it reads last gets."""
    g = np.asarray(g)
    half = len(g) // 2
    return bool(g[:half].sum() * factor < g[len(g) - half:].sum())


def peaks_on_span(g, span, factor: float = 5.0) -> bool:
    """(b): the largest gradient is on a position of ``span``, and the mean gradient per
    position inside the span is at least ``factor`` times the mean outside it."""
    g, span = np.asarray(g), list(span)
    outside = np.delete(g, span)
    return bool(int(g.argmax()) in span and g[span].mean() >= factor * outside.mean())


def test_the_helpers_say_no_when_they_should():
    flat = np.ones(10)
    assert not fades_toward_first_read(flat) and not peaks_on_span(flat, [3, 4])
    assert fades_toward_first_read(np.r_[np.zeros(5), np.ones(5)])
    assert not fades_toward_first_read(np.r_[np.ones(5), np.zeros(5)])
    peak = np.r_[np.full(4, 0.01), 1.0, 0.5, np.full(4, 0.01)]
    assert peaks_on_span(peak, [4, 5]) and not peaks_on_span(peak, [6, 7])
    assert not peaks_on_span(peak, [5, 6])          # the argmax (4) is outside
    assert not peaks_on_span(np.r_[1.0, np.full(9, 0.5)], [0], factor=5.0)


# -- the trained models ------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """{"seq2seq": model, "attention": model, "codec": CharCodec, "vocab": Vocab} from
    tests/data/why_attention.npz, read by the script's own loader (float32 weights)."""
    models, codec, _ = script("why_attention").load_weights(WEIGHTS)
    return {**models, "codec": codec, "vocab": codec.vocab}


def encode(trained, text, iso):
    return trained["codec"].encode_source(text)[0], trained["vocab"].encode("_" + iso)


def typed_steps(text: str, iso: str) -> list:
    """The output steps whose digit is typed in ``text`` and read from it: the last two
    year digits (the century follows from them: years 1970-2029), and the month's and the
    day's digits except the leading 0 of a one-digit number (``date_alignment``'s rule)."""
    spans, steps = date_source_spans(text, iso), []
    for field, outputs in (("year", (2, 3)), ("month", (5, 6)), ("day", (8, 9))):
        n = len(spans[field])
        steps += [] if n == 0 else list(outputs) if n >= 2 else [outputs[1]]
    return steps


def date_items(vocab, n: int = 12, seed: int = 5):
    """``n`` dates of the built-in generator (every format) typed in characters the
    vocabulary has: [(text, iso)]."""
    items = []
    for line in generate_date_task(4 * n, seed):
        text, iso = line[:29].rstrip(), line[30:]
        if set(text) <= set(vocab.stoi) and len(items) < n:
            items.append((text, iso))
    return items


def test_the_date_task_reverses_the_input_so_the_first_typed_character_is_read_last(trained):
    codec, vocab = trained["codec"], trained["vocab"]
    src = codec.encode_source("may 3, 2005")[0]
    assert codec.reversed and src[-1] == vocab.stoi["m"] and src[0] == vocab.stoi[" "]
    assert date_step_span("may 3, 2005", "2005-05-03", 9, 29, True) == [28 - 4]


def test_a_seq2seq_gradient_fades_toward_the_positions_read_first(trained):
    model = trained["seq2seq"]
    for text, iso in [PICTURE_ITEM[:2]] + date_items(trained["vocab"]):
        src, tgt = encode(trained, text, iso)
        for step in (0, 3, 5, 6, 8, 9):
            g = source_gradient_norms(model, src, tgt, step)
            assert fades_toward_first_read(g), (text, step, g)
            assert g[-1] > 0.5 * g.sum(), (text, step)     # the last character read


#: (text, iso, step) of other formats where the trained attention model aligns: the peak
#: test holds on each one too
ALIGNED_ITEMS = [("may 12, 1971", "1971-05-12", 9), ("JANUARY 1, 1993", "1993-01-01", 6),
                 ("THURSDAY, OCTOBER 25, 2007", "2007-10-25", 8), ("12/2/00", "2000-12-02", 2)]


def test_the_attention_gradient_peaks_on_the_source_of_the_digit(trained):
    text, iso, step = PICTURE_ITEM
    src, tgt = encode(trained, text, iso)
    span = date_step_span(text, iso, step, len(src), True)
    g = source_gradient_norms(trained["attention"], src, tgt, step)
    assert peaks_on_span(g, span, factor=10.0), g
    assert g[span].sum() > 1.5 * np.delete(g, span).sum()   # the mass: more in than out
    for text, iso, step in ALIGNED_ITEMS:
        src, tgt = encode(trained, text, iso)
        span = date_step_span(text, iso, step, len(src), True)
        assert peaks_on_span(source_gradient_norms(trained["attention"], src, tgt, step),
                             span), (text, step)


def argmax_in_span_rates(trained, n: int = 30, seed: int = 5):
    """Over the typed digits of ``n`` generated dates: the share whose gradient argmax is
    on the digit's source for the attention model, for seq2seq, and for the attention
    model among the digits whose largest attention weight is on their source."""
    att, s2s, aligned = [], [], []
    for text, iso in date_items(trained["vocab"], n, seed):
        src, tgt = encode(trained, text, iso)
        with tg.no_grad():
            _, weights = trained["attention"](src[None], tgt[None, :-1], return_attention=True)
        for step in typed_steps(text, iso):
            span = date_step_span(text, iso, step, len(src), True)
            hit = int(source_gradient_norms(trained["attention"], src, tgt, step).argmax()) in span
            att.append(hit)
            s2s.append(int(source_gradient_norms(trained["seq2seq"], src, tgt, step).argmax())
                       in span)
            if int(weights.data[0, step].argmax()) in span:
                aligned.append(hit)
    return np.mean(att), np.mean(s2s), (np.mean(aligned) if aligned else 0.0), len(att)


def test_over_many_dates_the_attention_gradient_follows_the_source_of_each_digit(trained):
    """Measured with these weights: 0.69 (attention), 0.27 (seq2seq, whose argmax is always
    the last character read), 0.87 where the attention weights align. The model is
    trained briefly: some digits (the month's tens, the packed YYYYMMDD format) are not
    read from their own characters, by the attention weights nor by the gradient."""
    att, s2s, aligned, n = argmax_in_span_rates(trained)
    assert n >= 150
    assert att >= 0.55 and att >= 2 * s2s, (att, s2s)
    assert aligned >= 0.8, aligned


def test_the_peak_follows_the_digit(trained):
    text, iso, _ = PICTURE_ITEM
    src, tgt = encode(trained, text, iso)
    year = date_step_span(text, iso, 3, len(src), True)
    day = date_step_span(text, iso, 8, len(src), True)
    g = source_gradient_norms(trained["attention"], src, tgt, 3)
    assert peaks_on_span(g, year) and not peaks_on_span(g, day)


# -- (c) break the code: the checks say no -------------------------------------------------
def test_uniform_attention_weights_lose_the_peak(trained, monkeypatch):
    """With every weight a_ts = 1/S (the context the mean of the encoder states) the same
    trained model's gradient no longer peaks on the digit's characters, on the picture's
    date, the other formats, or over many dates (measured: 0.20 of the argmaxes in the
    span, below seq2seq's 0.27)."""
    model = trained["attention"]

    def uniform(query, keys, key_padding_mask=None):
        N, T, S = query.shape[0], query.shape[1], keys.shape[1]
        weights = tg.Tensor(np.full((N, T, S), 1.0 / S, dtype=np.float32))
        return weights @ keys, weights

    monkeypatch.setattr(model.attention, "forward", uniform)
    for text, iso, step in [PICTURE_ITEM] + ALIGNED_ITEMS:
        src, tgt = encode(trained, text, iso)
        span = date_step_span(text, iso, step, len(src), True)
        assert not peaks_on_span(source_gradient_norms(model, src, tgt, step), span), text
    att, s2s, _, _ = argmax_in_span_rates(trained)
    assert att < 0.55 and att < 2 * s2s, (att, s2s)


def test_the_norms_read_in_typed_order_miss_the_span(trained):
    text, iso, step = PICTURE_ITEM          # forgetting that the input is reversed
    src, tgt = encode(trained, text, iso)
    g = source_gradient_norms(trained["attention"], src, tgt, step)
    assert not peaks_on_span(g[::-1], date_step_span(text, iso, step, len(src), True))
    g = source_gradient_norms(trained["seq2seq"], src, tgt, step)
    assert fades_toward_first_read(g) and not fades_toward_first_read(g[::-1])


def test_seq2seq_has_no_peak_and_attention_no_fading(trained):
    text, iso, step = PICTURE_ITEM
    src, tgt = encode(trained, text, iso)
    span = date_step_span(text, iso, step, len(src), True)
    assert not peaks_on_span(source_gradient_norms(trained["seq2seq"], src, tgt, step), span)
    assert not fades_toward_first_read(source_gradient_norms(trained["attention"], src, tgt,
                                                             step))


# -- the function's contract, on tiny untrained models ------------------------------------
def tiny(kind: str):
    if kind == "transformer":
        return Transformer(9, 7, d_model=8, nhead=2, num_encoder_layers=1,
                           num_decoder_layers=1, dim_feedforward=16, dropout=0.1, seed=0)
    cls = {"seq2seq": Seq2Seq, "peeky": PeekySeq2Seq, "attention": AttentionSeq2Seq,
           "bahdanau": BahdanauSeq2Seq}[kind]
    return cls(9, 4, 6, tgt_vocab_size=7, seed=0)


SRC, TGT = np.array([3, 1, 4, 5, 2, 6, 8]), np.array([1, 2, 3, 4, 5])   # distinct ids


@pytest.mark.parametrize("kind", ["seq2seq", "peeky", "attention", "bahdanau", "transformer"])
def test_one_float64_norm_per_source_position(kind):
    g = source_gradient_norms(tiny(kind), SRC, TGT, 2)
    assert g.shape == (len(SRC),) and g.dtype == np.float64
    assert np.isfinite(g).all() and (g >= 0).all() and g.sum() > 0


@pytest.mark.parametrize("of", ["loss", "logit"])
@pytest.mark.parametrize("kind", ["seq2seq", "attention", "transformer"])
def test_the_norms_are_the_rows_of_the_embedding_weights_gradient(kind, of):
    """Each source id occurs once, so the gradient of the step's output with respect to
    the embedding table (an ordinary backward()) has one row per position: its norms."""
    model, step = tiny(kind), 3
    model.eval()
    logits = model(SRC[None], TGT[None, :-1])[0, step]
    out = logits[TGT[step + 1]] if of == "logit" else -F.log_softmax(logits)[TGT[step + 1]]
    out.backward()
    rows = source_embedding_layer(model).weight.grad[SRC]
    expect = np.linalg.norm(rows.astype(np.float64), axis=-1)
    np.testing.assert_allclose(source_gradient_norms(tiny(kind), SRC, TGT, step, of=of),
                               expect, rtol=1e-5, atol=1e-9)


def test_no_side_effects_on_the_model():
    model = tiny("transformer")
    model.train()
    layer = source_embedding_layer(model)
    with tg.no_grad():                               # works under the caller's no_grad
        source_gradient_norms(model, SRC, TGT, 0)
    assert all(p.grad is None for p in model.parameters())
    assert all(m.training for _, m in model.named_modules())
    assert "forward" not in vars(layer)
    with pytest.raises(Exception):
        source_gradient_norms(model, np.array([3, 99]), TGT, 0)      # an id out of range
    assert "forward" not in vars(layer) and all(m.training for _, m in model.named_modules())


@pytest.mark.parametrize("src, tgt, step, of, error, says", [
    (SRC, TGT, 4, "loss", IndexError, "0 <= step < 4"),
    (SRC, TGT, -1, "loss", IndexError, "0 <= step < 4"),
    (SRC, TGT, 1.0, "loss", TypeError, "step must be an int"),
    (SRC, TGT, True, "loss", TypeError, "step must be an int"),
    (SRC[None], TGT, 0, "loss", ValueError, "shape (S,)"),
    (SRC, TGT[None], 0, "loss", ValueError, "shape (T + 1,)"),
    (SRC.astype(float), TGT, 0, "loss", TypeError, "integer token ids"),
    (SRC, TGT[:1], 0, "loss", ValueError, "at least one output"),
    (SRC, TGT, 0, "prob", ValueError, "of must be one of"),
])
def test_errors_are_one_line_and_name_the_fix(src, tgt, step, of, error, says):
    with pytest.raises(error) as info:
        source_gradient_norms(tiny("attention"), src, tgt, step, of=of)
    message = str(info.value)
    assert says in message and "fix:" in message and "\n" not in message


def test_a_model_without_a_source_embedding_is_refused():
    with pytest.raises(TypeError, match="no source embedding layer.*fix:"):
        source_gradient_norms(tg.nn.Linear(3, 3), SRC, TGT, 0)


def test_date_step_span():
    text, iso = "september 27, 1994", "1994-09-27"
    assert date_step_span(text, iso, 8, 29, False) == [10, 11]
    assert date_step_span(text, iso, 9, 29, True) == [17, 18]
    assert date_step_span(text, iso, 5, 29, False) == list(range(9))
    assert date_step_span("19940927", "1994-09-27", 0, 29, False) == [0, 1, 2, 3]
    for bad in (4, 7, 10, -1):
        with pytest.raises(ValueError, match="not a digit of YYYY-MM-DD"):
            date_step_span(text, iso, bad, 29, False)
    with pytest.raises(ValueError, match="longer than the source width"):
        date_step_span(text, iso, 0, 5, False)


# -- the picture ----------------------------------------------------------------------------
def test_the_bars_are_the_norms_and_the_span_is_marked():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    g = np.array([0.1, 0.2, 3.0, 1.0, 0.0])
    draw_source_gradients(ax, g, list("ab 12"), span=[2, 3], read_first="right")
    bars = [p for p in ax.patches if p.get_width() == pytest.approx(0.8)]
    assert [b.get_height() for b in bars] == pytest.approx(list(g))
    colors = [tuple(b.get_facecolor()) for b in bars]
    from matplotlib.colors import to_rgba
    assert colors == [to_rgba(SPAN_BAR_COLOR if s in (2, 3) else BAR_COLOR) for s in range(5)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "␣", "1", "2"]
    assert ax.get_title(loc="right") == "93% on the shaded characters, 7% on the half read last"
    plt.close(fig)


def test_plot_source_gradients_writes_a_png(tmp_path):
    out = tmp_path / "why.png"
    g = np.linspace(0, 1, 6)
    path = plot_source_gradients({"seq2seq": g, "attention": g[::-1]}, list("abcdef"), out,
                                 span=[1], title="two\nlines", read_first="left")
    assert path == str(out) and out.read_bytes()[:8] == PNG


@pytest.mark.parametrize("norms, tokens, span, read_first, error, says", [
    ({}, list("ab"), (), None, ValueError, "non-empty dict"),
    ({"m": [1.0]}, list("ab"), (), None, ValueError, "one value per token"),
    ({"m": [1.0, -1.0]}, list("ab"), (), None, ValueError, "non-finite"),
    ({"m": [1.0, np.nan]}, list("ab"), (), None, ValueError, "non-finite"),
    ({"m": [1.0, 2.0]}, list("ab"), (2,), None, ValueError, "outside the 2 source"),
    ({"m": [1.0, 2.0]}, "ab", (), None, TypeError, "list of tokens"),
    ({"m": [1.0, 2.0]}, list("ab"), (), "up", ValueError, "read_first"),
])
def test_picture_errors(tmp_path, norms, tokens, span, read_first, error, says):
    with pytest.raises(error, match=says):
        plot_source_gradients(norms, tokens, tmp_path / "x.png", span=span,
                              read_first=read_first)
    assert not (tmp_path / "x.png").exists()


def test_a_bad_path_is_refused_before_drawing(tmp_path):
    with pytest.raises(OutputPathError):
        plot_source_gradients({"m": [1.0]}, ["a"], tmp_path / "missing" / "x.png")


def test_the_script_runs_end_to_end_and_redraws_from_its_weights(tmp_path):
    out, again, weights = tmp_path / "why.png", tmp_path / "again.png", tmp_path / "w.npz"
    sample = ROOT / "samples" / "dlfs2" / "date.sample.txt"
    why = script("why_attention")
    assert why.main(["--out", str(out), "--data", str(sample), "--steps", "2",
                     "--hidden", "8", "--save-weights", str(weights)]) == 0
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10_000
    models, codec, meta = why.load_weights(weights)
    assert sorted(models) == ["attention", "peeky", "seq2seq"] and codec.reversed
    assert meta["hidden_size"] == 8 and set(meta["exact_match"]) == set(models)
    assert why.main(["--out", str(again), "--weights", str(weights)]) == 0
    assert again.read_bytes()[:8] == PNG


def test_the_picture_in_the_repository_exists():
    assert (ROOT / "docs" / "pictures" / "why_attention.png").stat().st_size > 10_000
