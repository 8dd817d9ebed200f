"""The attention layers' invariants, the recurrent seq2seq models (gradients, decoding,
padding), beam search, and an alignment test on copy and reverse tasks."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from models import AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq
from models.decoding import beam_search, greedy_decode, length_penalty
from tinygrad_attn import Tensor, nn


def LuongInputFeeding(*args, **kwargs):
    """AttentionSeq2Seq with Luong's attentional layer and input feeding (sec. 3.3)."""
    return AttentionSeq2Seq(*args, input_feeding=True, **kwargs)


RNN_MODELS = [Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq, LuongInputFeeding, BahdanauSeq2Seq]


def right_padding_masks(draw, N, S):
    lengths = draw(st.lists(st.integers(0, S), min_size=N, max_size=N))
    return np.arange(S)[None, :] >= np.array(lengths)[:, None]


@st.composite
def attention_case(draw):
    N, T, S = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    mask = draw(st.one_of(st.none(), st.builds(lambda: None).map(lambda _: 0)))
    mask = None if mask is None else right_padding_masks(draw, N, S)
    if mask is not None and draw(st.booleans()):   # arbitrary (not right-aligned) masks too
        mask = np.array(draw(st.lists(st.booleans(), min_size=N * S, max_size=N * S))).reshape(N, S)
    return N, T, S, seed, mask


def check_weights(w, mask):
    w = np.asarray(w)
    assert (w >= 0).all() and np.isfinite(w).all()
    if mask is None:
        np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-5)
        return
    m = mask.reshape((mask.shape[0],) + (1,) * (w.ndim - 2) + (mask.shape[1],))
    m = np.broadcast_to(m, w.shape)
    assert (w[m] == 0).all()                             # exactly zero on padding
    sums = w.sum(-1)
    any_real = (~m).any(-1)
    np.testing.assert_allclose(sums[any_real], 1, rtol=1e-5)
    assert (sums[~any_real] == 0).all()                  # fully masked row: all zeros


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
@given(case=attention_case())
def test_luong_weights_are_a_distribution_over_unmasked_source(score, case):
    N, T, S, seed, mask = case
    rng = np.random.default_rng(seed)
    nn.manual_seed(seed)
    att = nn.LuongAttention(score, 5, 5)
    q = Tensor(rng.normal(0, 3, (N, T, 5)).astype(np.float32))
    k = Tensor(rng.normal(0, 3, (N, S, 5)).astype(np.float32))
    context, w = att(q, k, mask)
    assert context.shape == (N, T, 5) and w.shape == (N, T, S)
    check_weights(w.data, mask)
    np.testing.assert_allclose(context.data, w.data @ k.data, rtol=1e-4, atol=1e-5)


@given(case=attention_case())
def test_bahdanau_weights_are_a_distribution_over_unmasked_source(case):
    N, _, S, seed, mask = case
    rng = np.random.default_rng(seed)
    nn.manual_seed(seed)
    att = nn.BahdanauAttention(4, 6, 3)
    context, w = att(Tensor(rng.normal(0, 3, (N, 4)).astype(np.float32)),
                     Tensor(rng.normal(0, 3, (N, S, 6)).astype(np.float32)), mask)
    assert context.shape == (N, 6) and w.shape == (N, S)
    check_weights(w.data, mask)


def test_attention_layers_explain_bad_shapes():
    with pytest.raises(ValueError, match="needs query_size"):
        nn.LuongAttention("general")
    with pytest.raises(ValueError, match="score must be one of"):
        nn.LuongAttention("cosine")
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(N, S\) = \(1, 3\)"):
        nn.LuongAttention()(Tensor(np.ones((1, 2, 4))), Tensor(np.ones((1, 3, 4))),
                            np.zeros((1, 4), bool))
    with pytest.raises(ValueError, match="BahdanauAttention: query must be"):
        nn.BahdanauAttention(4, 4)(Tensor(np.ones((1, 2, 4))), Tensor(np.ones((1, 3, 4))))


def test_concat_score_equals_the_papers_formula():
    """v_a . tanh(W_a [h_t; h_s]) computed naively for every (t, s) pair."""
    rng = np.random.default_rng(0)
    att = nn.LuongAttention("concat", 3, 4, attn_size=5)
    q, k = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 3, 4))
    W, v = att.W_a.weight.data, att.v_a.weight.data[0]
    naive = np.array([[[v @ np.tanh(W @ np.concatenate([q[n, t], k[n, s]])) for s in range(3)]
                       for t in range(2)] for n in range(2)])
    ours = att.scores(Tensor(q.astype(np.float32)), Tensor(k.astype(np.float32))).data
    np.testing.assert_allclose(ours, naive, rtol=1e-5, atol=1e-5)


# -- recurrent layers: lengths and residual ------------------------------------------------
@pytest.mark.parametrize("kind,fused", [("LSTM", True), ("LSTM", False), ("GRU", None)])
def test_padded_batch_with_lengths_equals_each_sequence_alone(kind, fused):
    kwargs = {} if fused is None else {"fused": fused}
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, **kwargs)
    rng = np.random.default_rng(1)
    lengths = np.array([5, 2, 3])
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    out, final = layer(Tensor(x), lengths=lengths)
    h_n = final[0] if kind == "LSTM" else final
    for n, L in enumerate(lengths):
        alone, alone_final = layer(Tensor(x[n:n + 1, :L]))
        alone_h = alone_final[0] if kind == "LSTM" else alone_final
        np.testing.assert_allclose(out.data[n, :L], alone.data[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_n.data[:, n], alone_h.data[:, 0], rtol=1e-5, atol=1e-6)


def test_lengths_gradients_pass_gradcheck():
    layer = nn.LSTM(2, 3, bidirectional=True, fused=True)
    for p in layer.parameters():
        p.data = p.data.astype(np.float64)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 4, 2)), requires_grad=True)
    assert tg.gradcheck(lambda x: layer(x, lengths=np.array([4, 2]))[0][:, :2].sum()
                        + layer(x, lengths=np.array([4, 2]))[1][0].sum(), [x])


def test_residual_adds_each_layers_input_from_the_second_layer_on():
    nn.manual_seed(0)
    deep = nn.GRU(4, 4, num_layers=3, residual=True)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32))
    out, _ = deep(x)
    layers = []
    for k in range(3):
        g = nn.GRU(4, 4)
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(g, f"{n}_l0", getattr(deep, f"{n}_l{k}"))
        layers.append(g)
    y = layers[0](x)[0]
    y = layers[1](y)[0] + y
    y = layers[2](y)[0] + y
    np.testing.assert_allclose(out.data, y.data, rtol=1e-6)


# -- models -------------------------------------------------------------------------------
def tiny(cls, **kw):
    return cls(7, 3, 4, tgt_vocab_size=6, seed=1, init="pytorch", **kw)


def batch(seed=0, N=2, S=5, T=3):
    rng = np.random.default_rng(seed)
    src, tgt = rng.integers(4, 7, (N, S)), rng.integers(0, 6, (N, T + 1))
    mask = np.zeros((N, S), bool)
    mask[0, 3:] = True
    src[mask] = 0
    return src, tgt, mask


@pytest.mark.parametrize("cls", RNN_MODELS)
@pytest.mark.parametrize("encoder", [{}, {"bidirectional": True, "num_layers": 2,
                                          "residual": True}])
def test_every_model_passes_a_float64_gradient_check(cls, encoder):
    model = tiny(cls, **encoder)
    params = list(model.parameters())
    for p in params:
        p.data = p.data.astype(np.float64)
    src, tgt, mask = batch()
    assert tg.gradcheck(lambda *_: model.loss(src, tgt, mask, pad_id=0), params)


@pytest.mark.parametrize("cls", RNN_MODELS)
def test_decode_equals_stepping_and_free_running_equals_greedy(cls):
    model = tiny(cls, bidirectional=True)
    src, tgt, mask = batch(N=3)
    logits, w = model(src, tgt[:, :-1], mask, return_attention=True)
    state, steps = model.init_decoder(model.encode(src, mask)), []
    for t in range(3):
        step, state, _ = model.decode_step(tgt[:, t], state)
        steps.append(step.data)
    np.testing.assert_allclose(np.stack(steps, 1), logits.data, rtol=1e-5, atol=1e-6)
    if w is not None:
        check_weights(w.data, mask)
    # teacher_forcing_ratio 0: every input after the first is the model's own argmax, so
    # the argmax of the free-running logits is greedy decoding from the same start token
    tgt_in = np.concatenate([np.full((3, 1), 1), tgt[:, 1:3]], axis=1)
    free = model(src, tgt_in, mask, teacher_forcing_ratio=0.0).data
    ids, _ = greedy_decode(model, src, mask, start_id=1, max_len=3)
    np.testing.assert_array_equal(free.argmax(-1), ids)


@pytest.mark.parametrize("cls", RNN_MODELS)
def test_padding_in_a_batch_does_not_change_a_sentences_output(cls):
    model = tiny(cls, bidirectional=True, num_layers=2)
    rng = np.random.default_rng(3)
    short = rng.integers(4, 7, (1, 3))
    long_ = rng.integers(4, 7, (1, 6))
    src = np.zeros((2, 6), np.int64)
    src[0, :3], src[1] = short[0], long_[0]
    mask = src == 0
    tgt = rng.integers(0, 6, (2, 4))
    batched = model(src, tgt, mask).data[0]
    alone = model(short, tgt[:1], np.zeros((1, 3), bool)).data[0]
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)
    ids_b, _ = greedy_decode(model, src, mask, start_id=1, max_len=5, eos_id=2)
    ids_a, _ = greedy_decode(model, short, None, start_id=1, max_len=5, eos_id=2)
    np.testing.assert_array_equal(ids_b[0, :ids_a.shape[1]], ids_a[0])


@pytest.mark.parametrize("cls", [AttentionSeq2Seq, LuongInputFeeding, BahdanauSeq2Seq, Seq2Seq])
@pytest.mark.parametrize("eos_id", [None, 2])
def test_beam_width_one_equals_greedy(cls, eos_id):
    model = tiny(cls)
    src, _, mask = batch(N=4, S=5)
    mask[1:] = False
    greedy, _ = greedy_decode(model, src, mask, start_id=1, max_len=6, eos_id=eos_id)
    beam, _ = beam_search(model, src, mask, start_id=1, max_len=6, eos_id=eos_id, beam_width=1)
    if eos_id is not None and greedy.shape[1] < 6:
        greedy = np.pad(greedy, ((0, 0), (0, 6 - greedy.shape[1])), constant_values=eos_id)
    np.testing.assert_array_equal(beam, greedy)


def test_wider_beams_never_find_a_worse_hypothesis():
    """Without a length penalty and with a fixed length, the beam's answer has at least the
    log-probability of greedy's, and beam width V^L is exhaustive search."""
    model = tiny(AttentionSeq2Seq)
    src, _, _ = batch(N=3)

    def logp(ids):
        logits = model(src, np.concatenate([np.ones((3, 1), np.int64), ids[:, :-1]], 1)).data
        z = logits - logits.max(-1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return np.take_along_axis(lp, ids[..., None], -1)[..., 0].sum(-1)

    greedy, _ = greedy_decode(model, src, start_id=1, max_len=3)
    scores = [logp(beam_search(model, src, start_id=1, max_len=3, beam_width=k, alpha=0)[0])
              for k in (1, 3, 36)]
    assert (scores[1] >= logp(greedy) - 1e-6).all() and (scores[2] >= scores[1] - 1e-6).all()
    import itertools
    every = np.array(list(itertools.product(range(6), repeat=3)))
    best = np.array([max(logp(np.repeat(seq[None], 3, 0))[n] for seq in every) for n in range(1)])
    np.testing.assert_allclose(scores[2][:1], best, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("eos_bias", [-1.0, -3.0])
def test_exhaustive_beam_finds_the_best_scored_hypothesis_with_eos(alpha, eos_bias):
    """Beam width V^(L-1) keeps every prefix alive, so the answer must be the best of all
    hypotheses: those ending at their first <eos> (length 1..L) and the unfinished ones of
    length L, each scored log P(Y) / lp(|Y|) (GNMT's length penalty)."""
    import itertools
    model, eos, L = tiny(AttentionSeq2Seq), 2, 3
    model.out.bias.data[eos] += eos_bias    # the winner ends early or runs to L, in a beam > 0
    src, _, mask = batch(N=2)

    def logp(n, ids):
        tgt_in = np.array([[1] + list(ids[:-1])])
        logits = model(src[n:n + 1], tgt_in, mask[n:n + 1]).data[0].astype(np.float64)
        z = logits - logits.max(-1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return lp[np.arange(len(ids)), ids].sum()

    hyps = [seq for n in range(1, L + 1) for seq in itertools.product(range(6), repeat=n)
            if eos not in seq[:-1] and (seq[-1] == eos or n == L)]
    ids, scores = beam_search(model, src, mask, start_id=1, max_len=L, eos_id=eos,
                              beam_width=6 ** (L - 1), alpha=alpha)
    for n in range(2):
        scored = [logp(n, seq) / length_penalty(len(seq), alpha) for seq in hyps]
        best = hyps[int(np.argmax(scored))]
        np.testing.assert_allclose(scores[n], max(scored), rtol=1e-5)
        np.testing.assert_array_equal(ids[n, :len(best)], best)


def test_beam_search_rejects_width_zero():
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        beam_search(tiny(Seq2Seq), np.ones((1, 2), np.int64), start_id=1, max_len=2, beam_width=0)


# -- alignment ---------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_trained_attention_aligns_with_the_diagonal_or_anti_diagonal(task):
    """Copy / reverse 6 symbols: the largest weight of output step t falls on source t (copy)
    or S-1-t (reverse) for most steps. This is what attention is for: the model learns where
    to look, not only what to say."""
    rng = np.random.default_rng(0)
    V, S, start = 12, 6, 1
    model = AttentionSeq2Seq(V, 16, 48, seed=0)
    opt = tg.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        src = rng.integers(2, V, (64, S))
        out = src if task == "copy" else src[:, ::-1]
        loss = model.loss(src, np.concatenate([np.full((64, 1), start), out], 1))
        opt.zero_grad()
        loss.backward()
        tg.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    src = rng.integers(2, V, (200, S))
    ids, w = greedy_decode(model.eval(), src, start_id=start, max_len=S)
    target = np.arange(S) if task == "copy" else np.arange(S)[::-1]
    expected = src if task == "copy" else src[:, ::-1]
    assert (ids == expected).mean() > 0.9
    assert (w.argmax(-1) == target).mean() > 0.8


@given(st.data())
def test_top_k_equals_a_stable_sort(data):
    from models.decoding import _top_k
    N, C = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 12))
    k = data.draw(st.integers(1, C))
    values = st.one_of(st.integers(-2, 2).map(float), st.just(-np.inf),
                       st.floats(-5, 5, allow_nan=False))          # ties, -inf, distinct
    scores = np.array(data.draw(st.lists(values, min_size=N * C, max_size=N * C))).reshape(N, C)
    np.testing.assert_array_equal(_top_k(scores, k),
                                  np.argsort(-scores, axis=1, kind="stable")[:, :k])


@pytest.mark.parametrize("cls", [AttentionSeq2Seq, LuongInputFeeding, Seq2Seq])
def test_beams_sharing_their_sentences_memory_decode_as_copies_would(cls):
    # GROUPED_BEAMS: the memory stays one row per sentence and the K beams attend to it
    # together; the answer must be the one of K copies of the memory
    model = tiny(cls)
    src, _, mask = batch(N=3, S=5)
    kw = dict(start_id=1, max_len=4, eos_id=2, beam_width=3)
    grouped, s1 = beam_search(model, src, mask, **kw)
    model.GROUPED_BEAMS = False                       # instance attribute: copy the memory
    copied, s2 = beam_search(model, src, mask, **kw)
    np.testing.assert_array_equal(grouped, copied)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
