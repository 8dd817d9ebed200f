"""Layers, optimizers, checkpoints and attention invariants."""
import os
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor, nn


def to64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


@pytest.mark.parametrize("with_state", [False, True])
def test_fused_lstm_equals_composed_cells_values_and_gradients(with_state):
    rng = np.random.default_rng(3)
    N, T, D, H = 3, 5, 4, 6
    fused = to64(nn.LSTM(D, H))
    composed = to64(nn.LSTM(D, H, fused=False))
    composed.load_state_dict(fused.state_dict())
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((1, N, H)), rng.standard_normal((1, N, H))
    results = []
    for lstm in (fused, composed):
        xt = Tensor(x, requires_grad=True)
        hx = ((Tensor(h0, requires_grad=True), Tensor(c0, requires_grad=True))
              if with_state else None)
        out, (h, c) = lstm(xt, hx)
        # a loss that reads every output: all hidden states, the final h and the final c
        loss = (out * out).sum() + (h * 2).sum() + (c * c).sum()
        loss.backward()
        grads = [xt.grad] + [p.grad for p in lstm.parameters()]
        if with_state:
            grads += [hx[0].grad, hx[1].grad]
        results.append((out.data, h.data, c.data, grads))
    (o1, h1, c1, g1), (o2, h2, c2, g2) = results
    np.testing.assert_allclose(o1, o2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_gru_equals_composed_cells_values_and_gradients(with_state, bidirectional):
    rng = np.random.default_rng(4)
    N, T, D, H = 3, 5, 4, 6
    fused = to64(nn.GRU(D, H, num_layers=2, bidirectional=bidirectional))
    composed = to64(nn.GRU(D, H, num_layers=2, bidirectional=bidirectional, fused=False))
    composed.load_state_dict(fused.state_dict())
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((2 * (2 if bidirectional else 1), N, H))
    results = []
    for gru in (fused, composed):
        xt = Tensor(x, requires_grad=True)
        hx = Tensor(h0, requires_grad=True) if with_state else None
        out, h = gru(xt, hx)
        loss = (out * out).sum() + (h * 2).sum()        # every output and the final state
        loss.backward()
        grads = [xt.grad] + [p.grad for p in gru.parameters()] + ([hx.grad] if with_state else [])
        results.append((out.data, h.data, grads))
    (o1, h1, g1), (o2, h2, g2) = results
    np.testing.assert_allclose(o1, o2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12)
    assert len(g1) == len(g2) and all(g is not None for g in g1)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_gru_cell_equals_the_composed_cell_values_and_gradients():
    rng = np.random.default_rng(5)
    cells = [to64(nn.GRUCell(3, 5, fused=f)) for f in (False, True)]
    cells[1].load_state_dict(cells[0].state_dict())
    x, h = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    results = []
    for cell in cells:
        xt, ht = Tensor(x, requires_grad=True), Tensor(h, requires_grad=True)
        out = cell(xt, ht)
        (out * out).sum().backward()
        results.append([out.data, xt.grad, ht.grad] + [p.grad for p in cell.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert repr(cells[1]) == "GRUCell(3, 5, fused=True)" and repr(cells[0]) == "GRUCell(3, 5)"
    assert "fused=False" in repr(nn.GRU(3, 5, fused=False))


def test_fused_gru_refuses_a_second_derivative_with_the_fix():
    gru = nn.GRU(3, 4)
    x = Tensor(np.ones((2, 3, 3)), requires_grad=True)
    out, _ = gru(x)
    with pytest.raises(RuntimeError, match=r"fused=False\), the composed gru_cell path"):
        tg.grad(out.sum(), [x], create_graph=True)


# the fused LSTM's gradient check (these inputs, and drawn ones) and its parity with
# torch.lstm_cell stepped over time: the lstm_sequence entry of tests/op_registry.py


def test_lstm_state_dict_has_pytorch_names_and_layout():
    lstm = nn.LSTM(16, 32)
    shapes = {k: v.shape for k, v in lstm.state_dict().items()}
    assert shapes == {"weight_ih_l0": (128, 16), "weight_hh_l0": (128, 32),
                      "bias_ih_l0": (128,), "bias_hh_l0": (128,)}


class Net(nn.Module):
    def __init__(self):
        self.emb = nn.Embedding(7, 3)
        self.layers = [nn.Linear(3, 4), nn.Linear(4, 2)]
        self.heads = {"a": nn.Linear(2, 1)}
        self.scale = nn.Parameter(np.ones(1))


def test_module_finds_parameters_in_attributes_lists_and_dicts():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # PyTorch's order: a module's own parameters, then each submodule's, depth first
    assert names == ["scale", "emb.weight", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight", "layers.1.bias", "heads.a.weight", "heads.a.bias"]
    assert len(list(net.parameters())) == 8
    net.eval()
    assert all(not m.training for _, m in net.named_modules())
    net.train()
    assert net.layers[1].training


def test_load_state_dict_lists_every_problem_and_leaves_model_unchanged():
    net = Net()
    before = net.state_dict()
    sd = net.state_dict()
    del sd["scale"]
    sd["extra"] = np.zeros(2)
    sd["layers.0.weight"] = np.zeros((5, 3))
    sd["emb.weight"] = np.full((7, 3), 9.0)
    with pytest.raises(ValueError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys: ['scale']" in msg and "unexpected keys: ['extra']" in msg
    assert "layers.0.weight: checkpoint shape (5, 3) != model shape (4, 3)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_checkpoint_roundtrip_is_atomic_and_rejects_bad_files(tmp_path):
    net = Net()
    path = tmp_path / "model.npz"
    tg.checkpoint.save(net.state_dict(), path, metadata={"epoch": 3})
    sd, meta = tg.checkpoint.load(path)
    assert meta == {"epoch": 3}
    other = Net()
    other.load_state_dict(sd)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, net.state_dict()[k])
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]     # no temp file left behind

    # a failing save leaves the previous checkpoint intact
    with pytest.raises(TypeError):
        tg.checkpoint.save(net.state_dict(), path, metadata={"bad": object()})
    assert tg.checkpoint.load(path)[1] == {"epoch": 3}
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]

    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(tg.CheckpointError, match="trunc.npz"):
        tg.checkpoint.load(truncated)
    with pytest.raises(tg.CheckpointError, match="missing.npz"):
        tg.checkpoint.load(tmp_path / "missing.npz")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(tg.CheckpointError):
        tg.checkpoint.load(pickled)


def test_adam_matches_hand_computed_update():
    p = nn.Parameter(np.array([1.0, -2.0]), dtype=np.float64)
    opt = tg.optim.Adam([p], lr=0.1)
    g = np.array([0.5, -1.0])
    m = v = np.zeros(2)
    expected = p.data.copy()
    for t in (1, 2, 3):
        p.grad = g.copy()
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)


def test_sgd_with_momentum():
    p = nn.Parameter(np.array([1.0]), dtype=np.float64)
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 1.0 - 0.1 * 1.9])
    opt.zero_grad()
    assert p.grad is None


def test_clip_grad_norm_returns_norm_and_scales():
    a = nn.Parameter(np.zeros(2), dtype=np.float64)
    b = nn.Parameter(np.zeros(1), dtype=np.float64)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    total = tg.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.sqrt((a.grad ** 2).sum() + (b.grad ** 2).sum()), 1.0, rtol=1e-5)
    a.grad = np.array([np.inf, 0.0])
    with pytest.raises(RuntimeError, match="norm"):
        tg.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)


@given(N=st.integers(1, 4), T=st.integers(1, 5), S=st.integers(1, 7), H=st.integers(1, 8),
       seed=st.integers(0, 2 ** 16), masked=st.booleans())
def test_attention_weights_are_a_distribution_over_the_source(N, T, S, H, seed, masked):
    rng = np.random.default_rng(seed)
    q = Tensor(rng.standard_normal((N, T, H)).astype(np.float32) * 3)
    k = Tensor(rng.standard_normal((N, S, H)).astype(np.float32) * 3)
    mask = rng.random((N, S)) < 0.4 if masked else None
    context, w = nn.LuongAttention("dot")(q, k, key_padding_mask=mask)
    assert w.shape == (N, T, S) and context.shape == (N, T, H)
    assert (w.data >= 0).all()
    sums = w.data.sum(-1)
    if mask is None:
        np.testing.assert_allclose(sums, 1, rtol=1e-5)
    else:
        assert (w.data[np.broadcast_to(mask[:, None, :], w.shape)] == 0).all()
        full = mask.all(-1)
        np.testing.assert_allclose(sums[~full], 1, rtol=1e-5)
        np.testing.assert_array_equal(sums[full], 0)
        np.testing.assert_array_equal(context.data[full], 0)


def test_checkpoint_errors_name_the_path_and_never_load_pickle(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(tg.CheckpointError, match=r"notes.txt' is not an .npz file"):
        tg.checkpoint.load(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(tg.CheckpointError, match="never loads pickle"):
        tg.checkpoint.load(pickled)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(2))
    with pytest.raises(tg.CheckpointError, match="not written by tinygrad_attn"):
        tg.checkpoint.load(plain)


def test_cosine_schedule_rejects_a_bad_length_or_floor():
    opt = tg.optim.SGD([Tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="T_max=0 must be at least 1"):
        tg.optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="eta_min=-0.1 is negative"):
        tg.optim.CosineAnnealingLR(opt, T_max=3, eta_min=-0.1)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_gru_and_rnn_cells_pass_gradcheck(cell):
    rng = np.random.default_rng(2)
    G = 3 if cell == "gru" else 1
    args = [rng.standard_normal(s) * 0.7 for s in
            [(2, 3), (2, 4), (G * 4, 3), (G * 4, 4), (G * 4,), (G * 4,)]]
    fn = nn.gru_cell if cell == "gru" else nn.rnn_cell
    assert tg.gradcheck(fn, args)


def test_stacked_bidirectional_gru_shapes_and_dropout_only_in_training():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.5)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32))
    out, h = gru(x)
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4)
    gru.eval()
    a, _ = gru(x)
    b, _ = gru(x)
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match=r"h0 must be \(4, 2, 4\)"):
        gru(x, Tensor(np.zeros((2, 2, 4))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_without_grad_equals_the_recorded_forward(dtype):
    # no_grad() takes LSTMSequence's inference path (one row buffer, one GEMM per step);
    # it must give the values of the path that saves for backward
    layer = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    for p in layer.parameters():
        p.data = p.data.astype(dtype)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6, 3)).astype(dtype),
               requires_grad=True)
    h0 = Tensor(np.random.default_rng(1).standard_normal((4, 4, 5)).astype(dtype))
    out, (h, c) = layer(x, (h0, h0 * 0.5), lengths=np.array([6, 2, 5, 1]))
    assert out.requires_grad
    with tg.no_grad():
        out2, (h2, c2) = layer(x, (h0, h0 * 0.5), lengths=np.array([6, 2, 5, 1]))
    assert not out2.requires_grad
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for a, b in ((out, out2), (h, h2), (c, c2)):
        np.testing.assert_allclose(a.data, b.data, rtol=tol, atol=tol)


@given(ids=st.lists(st.lists(st.integers(0, 2), min_size=5, max_size=5), min_size=2,
                    max_size=12), same_start=st.booleans())
def test_lstm_inference_runs_shared_prefixes_once_with_the_same_values(ids, same_start):
    # from one common start state, rows with equal input prefixes are stepped once (and
    # copied); from distinct start states every row runs. Both must give the values of
    # the recorded path, including after the switch from shared to per-row steps
    ids = np.array(ids)
    rng = np.random.default_rng(len(ids))
    emb, layer = nn.Embedding(3, 4), nn.LSTM(4, 5)
    h0 = rng.standard_normal((1, 1 if same_start else len(ids), 5)).astype(np.float32)
    state = (Tensor(np.broadcast_to(h0, (1, len(ids), 5)).copy()),) * 2
    out, (h, c) = layer(emb(ids), state)
    with tg.no_grad(), mock.patch.object(tg.fused, "_row_ids", wraps=tg.fused._row_ids) as spy:
        out2, (h2, c2) = layer(emb(ids), state)
    assert spy.called == same_start
    for a, b in ((out, out2), (h, h2), (c, c2)):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-6)


def _shared_prefix_case(ids, same_start):
    """The inputs of the shared-prefix tests: ids (N, 6), a float64 embedding of 3 tokens
    into 4, h0 (1, N, 5) (one row repeated when ``same_start``), and how many steps run
    shared: those while at most 3/4 of the rows have distinct prefixes."""
    ids = np.array(ids)
    N = len(ids)
    h0 = np.random.default_rng(N).standard_normal((1, 1 if same_start else N, 5))
    distinct = [len({tuple(r[:t + 1]) for r in ids}) for t in range(ids.shape[1])]
    runs = 0
    while same_start and runs < len(distinct) and distinct[runs] <= 3 * N // 4:
        runs += 1
    return ids, to64(nn.Embedding(3, 4)), np.broadcast_to(h0, (1, N, 5)).copy(), runs


def _fused_and_composed(layer, spied, emb, ids, states):
    """``layer(4, 5)`` fused and composed (the same float64 weights) on ``emb(ids)`` from
    ``states`` (arrays, each made a Tensor that wants a gradient), the loss the sum of the
    squared outputs, twice the final h and the squares of the other final states. Returns
    the fused layer and, for each, (outputs and final states as arrays, the gradients of
    the embedding, the states and the weights, the calls of ``spied._shared_step``)."""
    fused, composed = to64(layer(4, 5)), to64(layer(4, 5, fused=False))
    composed.load_state_dict(fused.state_dict())
    results = []
    for net in (fused, composed):
        emb.zero_grad()
        state = [Tensor(a, requires_grad=True) for a in states]
        with mock.patch.object(spied, "_shared_step", wraps=spied._shared_step) as spy:
            out, final = net(emb(ids), tuple(state) if len(state) > 1 else state[0])
        finals = final if isinstance(final, tuple) else (final,)
        loss = (out * out).sum() + (finals[0] * 2).sum()
        for f in finals[1:]:
            loss = loss + (f * f).sum()
        loss.backward()
        grads = [emb.weight.grad] + [t.grad for t in state] + [p.grad for p in net.parameters()]
        results.append(([out.data] + [f.data for f in finals], grads, spy.call_count))
    return fused, results


def _check_fused_equals_composed(results, runs):
    (v1, g1, shared), (v2, g2, _) = results
    assert shared == runs         # exactly while at most 3/4 of the rows are distinct
    for a, b in zip(v1, v2):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@given(ids=st.lists(st.lists(st.integers(0, 2), min_size=6, max_size=6), min_size=2,
                    max_size=12), same_start=st.booleans())
def test_fused_lstm_training_runs_shared_prefixes_once_with_the_composed_gradients(ids,
                                                                                  same_start):
    # the training forward (a gradient wanted) steps each distinct prefix once when all rows
    # start from one state; values and every gradient must stay the composed cells', also
    # after the switch to per-row steps (more than 3/4 of the rows distinct)
    ids, emb, h0, runs = _shared_prefix_case(ids, same_start)
    _, results = _fused_and_composed(nn.LSTM, tg.fused.LSTMSequence, emb, ids, (h0, h0 * 0.5))
    _check_fused_equals_composed(results, runs)


@given(ids=st.lists(st.lists(st.integers(0, 2), min_size=6, max_size=6), min_size=2,
                    max_size=12), same_start=st.booleans())
def test_fused_gru_runs_shared_prefixes_once_with_the_composed_gradients(ids, same_start):
    # as the LSTM's test above, for GRUSequence (training and no-grad forward)
    ids, emb, h0, runs = _shared_prefix_case(ids, same_start)
    fused, results = _fused_and_composed(nn.GRU, tg.fused.GRUSequence, emb, ids, (h0,))
    _check_fused_equals_composed(results, runs)
    with tg.no_grad():
        out3, h3 = fused(emb(ids), Tensor(h0))
    np.testing.assert_allclose(out3.data, results[0][0][0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_layers_share_the_padding_of_the_reverse_direction_exactly(cell):
    # right-padded sources (a translation batch): the reverse direction reads the padding
    # first, so its rows share prefixes and take the shared path; two stacked layers, so
    # the second layer's inputs (the first's outputs) are grouped by their values too
    ids = np.array([[1, 2, 3, 0, 0, 0], [1, 3, 0, 0, 0, 0], [2, 2, 2, 2, 0, 0],
                    [3, 1, 0, 0, 0, 0], [1, 2, 3, 1, 2, 0], [2, 0, 0, 0, 0, 0]])
    layer = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
    emb = to64(nn.Embedding(4, 3))
    fused = to64(layer(3, 4, num_layers=2, bidirectional=True))
    composed = to64(layer(3, 4, num_layers=2, bidirectional=True, fused=False))
    composed.load_state_dict(fused.state_dict())
    spied = tg.fused.LSTMSequence if cell == "lstm" else tg.fused.GRUSequence
    results = []
    for net in (fused, composed):
        emb.zero_grad()
        with mock.patch.object(spied, "_shared_step", wraps=spied._shared_step) as spy:
            out, _ = net(emb(ids))
        (out * out).sum().backward()
        results.append((out.data, [emb.weight.grad] + [p.grad for p in net.parameters()],
                        spy.call_count))
    (o1, g1, shared), (o2, g2, _) = results
    assert shared > 0                       # the shared path ran (reverse direction)
    np.testing.assert_allclose(o1, o2, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_lstm_cell_equals_the_composed_cell_values_and_gradients():
    rng = np.random.default_rng(4)
    cells = [nn.LSTMCell(3, 5, fused=f) for f in (False, True)]
    cells[1].load_state_dict(cells[0].state_dict())
    x0 = rng.standard_normal((4, 3))
    h0, c0 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    results = []
    for cell in cells:
        for p in cell.parameters():
            p.data = p.data.astype(np.float64)
        x, h, c = (Tensor(a, requires_grad=True) for a in (x0, h0, c0))
        h1, c1 = cell(x, (h, c))
        h2, c2 = cell(h1[:, :3] * 0.5, (h1, c1))             # two steps, through the state
        ((h2 * h2).sum() + (c2 * 0.3).sum()).backward()
        results.append([h2.data, c2.data, x.grad, h.grad, c.grad] +
                       [p.grad for p in cell.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
