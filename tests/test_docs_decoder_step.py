"""The facts docs/decoder_step.md (sections 6-8 of the walkthrough) states, checked
independently of its code blocks where that can be done: against closed forms, against
PyTorch's autograd, against the trained weights of tests/data/why_attention.npz and
against the committed beam-tree picture. The numbers the prose quotes are looked for in
both languages, so a changed number fails here until both texts say it.

- section 6: the book's Attention Weight + Weight Sum built from Repeat (BroadcastTo),
  Mul, Sum and Softmax is LuongAttention("dot"); Repeat's backward is a Sum and Sum's a
  Repeat; hs's gradient is the sum of its key and value paths; the worked example's
  numbers and the exercises' answers;
- section 7: what the why-attention picture shows, in the numbers the prose quotes;
- section 8: greedy vs beam search vs the length penalty on the table decoder, the
  exercises, and the eng-fra tree's numbers.
"""
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import viz
from models.decoding import beam_search, greedy_decode, length_penalty
from models.saliency import date_step_span, source_gradient_norms
from tinygrad_attn import Tensor, nn, unbroadcast
from tinygrad_attn.ops import BroadcastTo

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))
import run_docs  # noqa: E402

EN, KO = DOCS / "decoder_step.md", DOCS / "ko" / "decoder_step.md"
HS = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])        # the worked example, (1, 3, 2)
H_ = np.array([[1.0, 2.0]])                                  # (1, 2)


def texts():
    return [p.read_text(encoding="utf-8") for p in (EN, KO)]


def quoted(*strings):
    """Each string occurs in the English and in the Korean chapter."""
    for text, path in zip(texts(), (EN, KO)):
        for s in strings:
            assert s in text, f"{path.name} does not say {s!r}"


@pytest.fixture(scope="module")
def chapter(tmp_path_factory):
    """The namespace of the chapter's code blocks, run as a reader runs them."""
    if not viz.has_dot():
        pytest.skip("the graphviz 'dot' program is not installed")
    return run_docs.run(EN, tmp_path_factory.mktemp("decoder_step"))


# -- section 6: one decoder step ------------------------------------------------------------
def book_step(hs, h):
    """The book's Attention (Weight + Weight Sum) on torch tensors or this engine's (the
    same method names): hs (N, T, H), h (N, H) -> (s (N, T), a (N, T), c (N, H))."""
    N, T, H = hs.shape
    s = (hs * h.reshape(N, 1, H).expand(N, T, H)).sum(2)
    a = s.softmax(1)
    c = (hs * a.reshape(N, T, 1).expand(N, T, H)).sum(1)
    return s, a, c


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_the_book_step_is_luong_dot_attention_and_torch_agrees(seed):
    rng = np.random.default_rng(seed)
    hs_np, h_np = (HS, H_) if seed is None else (rng.standard_normal((2, 4, 3)),
                                                 rng.standard_normal((2, 3)))
    hs, h = Tensor(hs_np, requires_grad=True), Tensor(h_np, requires_grad=True)
    s, a, c = book_step(hs, h)
    c.sum().backward()
    ths, th = (torch.tensor(x, requires_grad=True) for x in (hs_np, h_np))
    _, ta, tc = book_step(ths, th)
    tc.sum().backward()
    np.testing.assert_allclose(c.data, tc.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(hs.grad, ths.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.grad, th.grad.numpy(), rtol=1e-10, atol=1e-12)
    hs2, h2 = Tensor(hs_np, requires_grad=True), Tensor(h_np, requires_grad=True)
    context, weights = nn.LuongAttention("dot")(h2.reshape(len(h_np), 1, -1), hs2)
    context.sum().backward()
    np.testing.assert_allclose(context.data[:, 0], c.data, rtol=1e-12)
    np.testing.assert_allclose(weights.data[:, 0], a.data, rtol=1e-12)
    np.testing.assert_allclose(hs2.grad, hs.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h2.grad, h.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.data, np.einsum("nt,nth->nh", a.data, hs_np), rtol=1e-12)


def test_repeat_backward_is_a_sum_and_sum_backward_is_a_repeat():
    rng = np.random.default_rng(3)
    h = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = rng.standard_normal((2, 5, 3))
    (h.reshape(2, 1, 3).broadcast_to(2, 5, 3) * Tensor(w)).sum().backward()
    np.testing.assert_allclose(h.grad, w.sum(axis=1))              # T copies -> summed over T
    x = Tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
    g = rng.standard_normal((2, 3))
    (x.sum(axis=1) * Tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, np.repeat(g[:, None, :], 5, axis=1))   # repeated
    # exercise 6.2: BroadcastTo hands g back as it is; unbroadcast makes the Sum
    dy = rng.standard_normal((1, 3, 2))
    assert BroadcastTo().backward(dy, np.zeros((1, 1, 2)), dy) is dy
    np.testing.assert_allclose(unbroadcast(dy, (1, 1, 2)), dy.sum(axis=1, keepdims=True))
    quoted("`tinygrad_attn.autograd.unbroadcast`", "`return g`")


def test_the_worked_example_by_closed_forms():
    """Every number of section 6.1, from the formulas the prose uses (not the engine)."""
    s = HS[0] @ H_[0]
    a = np.exp(s) / np.exp(s).sum()
    c = a @ HS[0]
    L = c.sum()
    da = HS[0] @ np.ones(2)
    ds = a * (da - a @ da)
    dh = ds @ HS[0]
    dhs = a[:, None] * np.ones(2) + ds[:, None] * H_[0]
    assert (s == [1, 2, 3]).all() and np.isclose(L, 1 + a[2]) and np.isclose(a @ da, L)
    assert np.isclose(ds.sum(), 0) and np.allclose(dh, [-ds[1], -ds[0]])
    r = lambda x: np.round(x, 3).tolist()  # noqa: E731
    assert r(np.exp(s)) == [2.718, 7.389, 20.086] and r(np.exp(s).sum()) == 30.193
    assert r(a) == [0.09, 0.245, 0.665] and r(c) == [0.755, 0.91] and r(L) == 1.665
    assert r(ds) == [-0.06, -0.163, 0.223] and r(dh) == [0.163, 0.06]
    assert r(dhs) == [[0.03, -0.03], [0.082, -0.081], [0.888, 1.111]]
    # the hand sums of the prose, from the rounded weights, give the same roundings
    a3, ds3 = np.round(a, 3), np.round(ds, 3)
    assert r(a3[:, None] + ds3[:, None] * H_[0]) == r(dhs)
    quoted("**[1, 2, 3]**", "[2.718, 7.389, 20.086] / 30.193", "**[0.090, 0.245, 0.665]**",
           "**[0.755, 0.910]**", "**1.665**", "**[1, 1, 2]**", "**[-0.060, -0.163, 0.223]**",
           "**[0.163, 0.060]**", "**[0.030, -0.030]**", "**[0.082, -0.081]**",
           "**[0.888, 1.111]**")


def test_exercise_6_1_h_zero():
    hs, h = Tensor(HS, requires_grad=True), Tensor(np.zeros((1, 2)), requires_grad=True)
    _, a, c = book_step(hs, h)
    c.sum().backward()
    np.testing.assert_allclose(a.data, [[1 / 3] * 3])
    np.testing.assert_allclose(c.data, [[2 / 3, 2 / 3]])
    np.testing.assert_allclose(h.grad, [[1 / 9, 1 / 9]])
    np.testing.assert_allclose(hs.grad, np.full((1, 3, 2), 1 / 3))       # the value path only
    quoted("[-1/9, -1/9, 2/9]", "[1/9, 1/9]", "[2/3, 2/3]")


def _table_rows(path, number: int) -> dict:
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    section = text[start:text.find("\n## ", start + 1)]
    return {int(k): op for k, op in re.findall(r"^\| #(\d+) \| (\w+) \|", section, re.M)}


def test_the_chapter_step_and_its_backward_table(chapter):
    ns = chapter
    made_by = ns["made_by"]
    ops = {fn.grad_fn.backward_order + 1: fn.grad_fn.name for fn in made_by}
    assert _table_rows(EN, 6) == _table_rows(KO, 6) == ops
    np.testing.assert_allclose(ns["hs"].grad, ns["value_path"] + ns["key_path"])
    assert np.abs(ns["key_path"]).sum() > 0 and np.abs(ns["value_path"]).sum() > 0
    drawn = viz.draw_graph(ns["loss"], params=ns["names"]).source
    assert "sum over 2 uses" in drawn and drawn.count("BroadcastTo") >= 2
    assert (DOCS / "pictures" / "decoder_attention_step.svg").stat().st_size > 1000


# -- section 7: why attention helps -------------------------------------------------------
@pytest.fixture(scope="module")
def why():
    """The script's models and the picture's item: (models, codec, meta, src, tgt, span)."""
    import runpy
    script = runpy.run_path(str(DOCS / "scripts" / "why_attention.py"))
    models, codec, meta = script["load_weights"](ROOT / "tests" / "data" / "why_attention.npz")
    src = codec.encode_source(script["TEXT"])[0]
    tgt = np.array([codec.start_id, *codec.vocab.encode(script["ISO"])])
    return models, codec, meta, script["TEXT"], script["ISO"], src, tgt


def test_what_the_why_attention_picture_shows(why):
    models, codec, meta, text, iso, src, tgt = why
    S = len(src)
    span = date_step_span(text, iso, 8, S, codec.reversed)
    typed = text.ljust(S)
    g = {k: source_gradient_norms(m, src, tgt, 8) for k, m in models.items()}
    share = {k: v[span].sum() / v.sum() for k, v in g.items()}
    s2s, peeky, att = g["seq2seq"], g["peeky"], g["attention"]
    assert round(s2s[-1] / s2s.sum(), 2) == 0.97 and typed[0] == "t"
    assert s2s[:S // 2].sum() < 1e-5 * s2s.sum() and share["seq2seq"] < 1e-3
    assert peeky.argmax() == S - 1 and round(share["peeky"], 2) == 0.14
    two, seven = (typed.index("27") + i for i in (0, 1))         # typed positions
    assert [round(peeky[S - 1 - p] / peeky.max(), 2) for p in (two, seven)] == [0.86, 0.79]
    assert sorted(peeky, reverse=True).index(peeky[S - 1 - seven]) < 6   # among the largest
    assert round(2 / 29, 2) == 0.07 and S == 29
    assert typed[S - 1 - att.argmax()] == "2" and round(share["attention"], 2) == 0.69
    assert 0.3 < att[S - 1 - seven] / att.max() < 0.37                  # "a third as much"
    assert round(att[S - S // 2:].sum() / att.sum(), 2) == 0.06   # the half read last
    ids, _ = greedy_decode(models["seq2seq"], src[None], start_id=codec.start_id, max_len=10)
    assert codec.decode_target(ids[0]) == "1994-08-20"
    assert [round(meta["exact_match"][k], 2) for k in ("seq2seq", "peeky", "attention")] == [
        0.0, 0.75, 1.0]
    quoted("97 %", "86 %", "79 %", "14 %", "69 %", "6 %", "`1994-08-20`")


def test_the_exercises_of_section_7(why, monkeypatch):
    import tinygrad_attn as tg
    models, codec, _, text, iso, src, tgt = why
    S, typed = len(src), text.ljust(len(src))
    year = date_step_span(text, iso, 3, S, codec.reversed)
    g = source_gradient_norms(models["attention"], src, tgt, 3)
    assert typed[S - 1 - g.argmax()] == "4" and round(g[year].sum() / g.sum(), 2) == 0.50
    assert source_gradient_norms(models["seq2seq"], src, tgt, 3).argmax() == S - 1

    def uniform(query, keys, key_padding_mask=None):
        N, T, K = query.shape[0], query.shape[1], keys.shape[1]
        w = tg.Tensor(np.full((N, T, K), 1.0 / K, dtype=np.float32))
        return w @ keys, w

    monkeypatch.setattr(models["attention"].attention, "forward", uniform)
    span = date_step_span(text, iso, 8, S, codec.reversed)
    g = source_gradient_norms(models["attention"], src, tgt, 8)
    assert round(g[span].sum() / g.sum(), 2) == 0.05 and typed[S - 1 - g.argmax()] == "y"
    quoted("(50 %)", "5 %", "`y`")


def test_the_rates_quoted_from_test_saliency(why, monkeypatch):
    """69 %, 27 % and 87 % over 169 digits of 30 dates; 20 % with uniform weights."""
    import tinygrad_attn as tg
    from tests.test_saliency import argmax_in_span_rates
    models, codec = why[0], why[1]
    trained = {**models, "codec": codec, "vocab": codec.vocab}
    att, s2s, aligned, n = argmax_in_span_rates(trained)
    assert n == 169 and [round(x, 2) for x in (att, s2s, aligned)] == [0.69, 0.27, 0.87]

    def uniform(query, keys, key_padding_mask=None):
        N, T, K = query.shape[0], query.shape[1], keys.shape[1]
        w = tg.Tensor(np.full((N, T, K), 1.0 / K, dtype=np.float32))
        return w @ keys, w

    monkeypatch.setattr(models["attention"].attention, "forward", uniform)
    assert round(argmax_in_span_rates(trained)[0], 2) == 0.20
    quoted("169", "30", "87 %", "20 %", "27 %")


# -- section 8: decoding ------------------------------------------------------------------
def test_the_table_decoder_answers(chapter):
    ns = chapter
    decoder, src, search, sentence = ns["TableDecoder"](), ns["src"], ns["search"], ns["sentence"]
    assert ns["WORDS"][1:3] == ["<sos>", "<eos>"]
    assert sentence(ns["greedy"][0]) == "thanks <eos>"
    assert sentence(ns["by_logp"][0]) == "thank you <eos>"
    assert sentence(ns["penalised"][0]) == "thank you very much <eos>"
    k1, _ = beam_search(decoder, src, beam_width=1, alpha=0.6, **search)     # exercise 8.1
    assert sentence(k1[0]) == sentence(ns["greedy"][0])
    switch = math.log(math.log(0.2025) / math.log(0.225)) / math.log(10 / 8)  # exercise 8.2
    assert round(switch, 2) == 0.31 and round(math.log(0.2025) / math.log(0.225), 4) == 1.0706
    for alpha, want in ((0.0, "thank you <eos>"), (0.30, "thank you <eos>"),
                        (0.32, "thank you very much <eos>"), (2.0, "thank you very much <eos>")):
        ids, _ = beam_search(decoder, src, beam_width=2, alpha=alpha, **search)
        assert sentence(ids[0]) == want, alpha
    lp = [round(float(length_penalty(n, 0.6)), 3) for n in (2, 3, 5)]
    assert lp == [1.097, 1.188, 1.359]
    quoted("(7/6)^0.6 = 1.097", "(8/6)^0.6 = 1.188", "(10/6)^0.6 = 1.359", "-1.467",
           "-1.255", "-1.175", "-1.609", "-1.492", "-1.597", "0.31")


def test_the_beam_tree_picture_says_what_the_prose_quotes():
    svg = (DOCS / "pictures" / "beam_tree.svg").read_text(encoding="utf-8")
    lines = [re.sub(r"<[^>]*>", "", s).replace("&#45;", "-").replace("&lt;", "<")
             .replace("&gt;", ">").replace("&#39;", "'")
             for s in re.findall(r"<text[^>]*>[^<]*</text>", svg)]
    joined = "\n".join(lines)
    assert "i'm breast-feeding my baby ." in joined and "alpha = 0.6" in joined
    assert "chosen (gold): 'je donne le sein à mon bébé . <eos>'" in joined
    assert "log P -9.88, score -5.95" in joined
    assert "it would be 'je donne le sein à vous . <eos>' (log P -9.63)" in joined
    assert "log P -9.63\n/ lp 1.59 = -6.05" in joined and "/ lp 1.66 = -5.95" in joined
    for word, logp in (("je", "-0.27"), ("vais", "-1.38"), ("donne", "-2.69")):
        assert f"{word}\nlog p {logp}" in joined, word
    assert round(float(length_penalty(9, 0.6)), 2) == 1.66
    assert round(float(length_penalty(8, 0.6)), 2) == 1.59
    quoted("-9.88", "-5.95", "-9.63", "-6.05", "`vais`", "(-1.38)", "(-2.69)")


def test_the_chapter_links_and_pictures():
    en, ko = texts()
    assert en.splitlines()[0].count("(walkthrough.md)") == 1 and "(ko/decoder_step.md)" in \
        en.splitlines()[0]
    assert "(walkthrough.md)" in ko.splitlines()[0] and "(../decoder_step.md)" in \
        ko.splitlines()[0]
    assert en.rstrip().splitlines()[-1].endswith("(decoders.md)")
    assert ko.rstrip().splitlines()[-1].endswith("(decoders.md)")
    for name in ("decoder_attention_step.svg", "decoder_beam_table.svg"):
        assert f"](pictures/{name})" in en and f"](../pictures/{name})" in ko
        assert (DOCS / "pictures" / name).stat().st_size > 1000
    assert run_docs.code_blocks(EN) == run_docs.code_blocks(KO)
