"""PyTorch's API where PyTorch has one (issue 14, point 5): ``dim`` / ``keepdim`` on
reductions and softmax, ``hx`` on every recurrent layer and cell, PyTorch's positional
order for ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` and the cells, and ``bias=False``; each
checked against torch's own result."""
import numpy as np
import pytest

import tinygrad_attn as tg
import tinygrad_attn.functional as F
from tinygrad_attn import Tensor, nn

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch==2.13.0")

X = np.random.default_rng(0).normal(size=(2, 3, 4))


@pytest.mark.parametrize("op", ["sum", "mean", "var", "logsumexp"])
@pytest.mark.parametrize("dim,keepdim", [(1, True), (-1, False), ((0, 2), True)])
def test_reductions_take_dim_and_keepdim(op, dim, keepdim):
    if op == "logsumexp" and isinstance(dim, tuple):
        dim = list(dim)
    ours = getattr(Tensor(X), op)(dim=dim if not isinstance(dim, list) else tuple(dim),
                                  keepdim=keepdim)
    theirs = getattr(torch.tensor(X), op)(dim=dim, keepdim=keepdim)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_sum_dim_keepdim_gradient_matches_torch():
    x = Tensor(X, requires_grad=True)
    (x.sum(dim=1, keepdim=True) * Tensor(np.arange(8.0).reshape(2, 1, 4))).sum().backward()
    t = torch.tensor(X, requires_grad=True)
    (t.sum(dim=1, keepdim=True) * torch.arange(8.0, dtype=torch.float64).reshape(2, 1, 4)
     ).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_softmax_argmax_and_functional_take_dim():
    t = torch.tensor(X)
    np.testing.assert_allclose(Tensor(X).softmax(dim=1).data, t.softmax(dim=1).numpy())
    np.testing.assert_allclose(F.log_softmax(Tensor(X), dim=0).data,
                               torch.log_softmax(t, dim=0).numpy())
    np.testing.assert_allclose(F.softmax(Tensor(X), dim=2).data, torch.softmax(t, dim=2).numpy())
    np.testing.assert_array_equal(Tensor(X).argmax(dim=2, keepdim=True).data,
                                  t.argmax(dim=2, keepdim=True).numpy())


@pytest.mark.parametrize("call", [lambda x: x.sum(axis=1, dim=1),
                                  lambda x: x.mean(keepdims=True, keepdim=True)])
def test_both_names_at_once_is_a_clear_error(call):
    with pytest.raises(TypeError, match="fix: pass one"):
        call(Tensor(X))


def _load(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64))
                            for k, v in ours.state_dict().items()})
    return theirs.double()


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bias", [True, False])
def test_positional_arguments_follow_pytorch(kind, bias):
    # PyTorch: (input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
    # (nn.RNN has nonlinearity before bias)
    args = (4, 8, 2, "tanh", bias, True, 0.0, True) if kind == "RNN" else \
        (4, 8, 2, bias, True, 0.0, True)
    ours = getattr(nn, kind)(*args)
    for p in ours.parameters():
        p.data = p.data.astype(np.float64)
    theirs = _load(ours, getattr(torch.nn, kind)(*args))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours.bidirectional and ours.num_layers == 2 and ours.bias == bias
    x = np.random.default_rng(1).normal(size=(3, 5, 4))
    h = np.random.default_rng(2).normal(size=(4, 3, 8))
    hx = (Tensor(h), Tensor(h * 0.5)) if kind == "LSTM" else Tensor(h)
    thx = (torch.tensor(h), torch.tensor(h * 0.5)) if kind == "LSTM" else torch.tensor(h)
    out, _ = ours(Tensor(x), hx=hx)
    tout, _ = theirs(torch.tensor(x), hx=thx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_take_bias_positionally_and_hx(kind, bias):
    ours = getattr(nn, kind)(3, 5, bias)
    for p in ours.parameters():
        p.data = p.data.astype(np.float64)
    theirs = _load(ours, getattr(torch.nn, kind)(3, 5, bias))
    x = np.random.default_rng(3).normal(size=(2, 3))
    h = np.random.default_rng(4).normal(size=(2, 5))
    hx = (Tensor(h), Tensor(-h)) if kind == "LSTMCell" else Tensor(h)
    thx = (torch.tensor(h), torch.tensor(-h)) if kind == "LSTMCell" else torch.tensor(h)
    ours_out, theirs_out = ours(Tensor(x), hx=hx), theirs(torch.tensor(x), thx)
    if kind == "LSTMCell":
        ours_out, theirs_out = ours_out[1], theirs_out[1]
    np.testing.assert_allclose(ours_out.data, theirs_out.detach().numpy(), rtol=1e-10,
                               atol=1e-10)


def test_lstm_hx_keyword_and_bias_false_gradients_match_torch():
    ours = nn.LSTM(3, 4, 1, False)                      # bias=False, positionally
    for p in ours.parameters():
        p.data = p.data.astype(np.float64)
    theirs = _load(ours, torch.nn.LSTM(3, 4, 1, False, batch_first=True))
    x = np.random.default_rng(5).normal(size=(2, 6, 3))
    h0 = np.random.default_rng(6).normal(size=(1, 2, 4))
    out, (h, c) = ours(Tensor(x), hx=(Tensor(h0), Tensor(h0)))
    (out.sum() + c.sum()).backward()
    tout, (th, tc) = theirs(torch.tensor(x), hx=(torch.tensor(h0), torch.tensor(h0)))
    (tout.sum() + tc.sum()).backward()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, dict(theirs.named_parameters())[name].grad.numpy(),
                                   rtol=1e-9, atol=1e-10)
    assert "bias_ih_l0" not in ours.state_dict()


def test_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="bias must be True or False"):
        nn.GRU(3, 4, 1, "yes")
    with pytest.raises(TypeError, match="bias must be True or False"):
        nn.RNNCell(3, 4, 1.0)
    assert tg.nn.LSTM(3, 4, 1, True, True).batch_first


# ---------------------------------------------------------------- Module.__repr__
# (class, args, kwargs): built alike in both libraries, so their reprs must be equal
# (PyTorch's batch_first default is False, ours True: the cases pass it).
LAYERS = [
    ("Linear", (4, 8), {}), ("Linear", (4, 8), {"bias": False}), ("Embedding", (10, 4), {}),
    ("Dropout", (0.1,), {}), ("Dropout", (), {}), ("LayerNorm", (8,), {}),
    ("LayerNorm", ((2, 8),), {"eps": 1e-6, "elementwise_affine": False}),
    ("LayerNorm", (8,), {"bias": False}),
    ("LSTM", (4, 8), {"num_layers": 2, "batch_first": True}),
    ("LSTM", (4, 8, 2, False, True, 0.5, True), {}),
    ("GRU", (4, 8), {"batch_first": True}),
    ("RNN", (4, 8, 2, "relu", False, True, 0.25, True), {}),
    ("LSTMCell", (4, 8), {}), ("GRUCell", (4, 8, False), {}),
    ("RNNCell", (4, 8), {"bias": False, "nonlinearity": "relu"}),
    ("MultiheadAttention", (8, 2), {"batch_first": True}),
    ("MultiheadAttention", (8, 2), {"bias": False, "batch_first": True}),
    ("TransformerEncoderLayer", (8, 2, 16), {"batch_first": True}),
    ("TransformerDecoderLayer", (8, 2, 16), {"batch_first": True, "bias": False}),
]


def _torch_repr(module) -> str:
    # PyTorch's attention projection is a Linear subclass under another name
    return repr(module).replace("NonDynamicallyQuantizableLinear", "Linear")


@pytest.mark.parametrize("kind,args,kwargs", LAYERS)
def test_layer_repr_is_pytorchs(kind, args, kwargs):
    assert repr(getattr(nn, kind)(*args, **kwargs)) == \
        _torch_repr(getattr(torch.nn, kind)(*args, **kwargs))


def test_stacks_print_their_layers_as_pytorch_does():
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3, norm=nn.LayerNorm(8))
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
        8, 2, 16, batch_first=True), 3, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    assert repr(ours) == _torch_repr(theirs)
    assert "(0-2): 3 x TransformerEncoderLayer(\n" in repr(ours)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(
        8, 2, 16, batch_first=True), 2)
    assert repr(ours) == _torch_repr(theirs)


def test_lists_and_dicts_of_modules_print_as_module_list_and_module_dict():
    class Ours(nn.Module):
        def __init__(self):
            self.embed = nn.Embedding(5, 3)
            self.blocks = [nn.Linear(3, 3), nn.Dropout(0.2), nn.Dropout(0.2), nn.Linear(3, 3)]
            self.heads = {"a": nn.Linear(3, 1), "b": nn.Linear(3, 2, bias=False)}
            self.empty = nn.Module()

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(5, 3)
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(3, 3), torch.nn.Dropout(0.2),
                                               torch.nn.Dropout(0.2), torch.nn.Linear(3, 3)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(3, 1),
                                              "b": torch.nn.Linear(3, 2, bias=False)})
            self.empty = torch.nn.Module()
    assert repr(Ours()).replace("Ours(", "X(") == repr(Theirs()).replace("Theirs(", "X(")
    assert repr(Ours()).splitlines()[4] == "    (1-2): 2 x Dropout(p=0.2, inplace=False)"


def test_repr_shows_our_own_arguments_only_when_set():
    assert repr(nn.LSTM(4, 8)) == "LSTM(4, 8, batch_first=True)"
    assert repr(nn.LSTM(4, 8, fused=False, residual=True)) == \
        "LSTM(4, 8, batch_first=True, residual=True, fused=False)"
    assert repr(nn.LSTMCell(4, 8, fused=True)) == "LSTMCell(4, 8, fused=True)"
    assert repr(nn.LuongAttention("dot")) == "LuongAttention(score=dot)"
    assert repr(nn.PositionalEncoding(8, 0.0, max_len=16)) == (
        "PositionalEncoding(\n  d_model=8, max_len=16\n"
        "  (dropout): Dropout(p=0.0, inplace=False)\n)")


# ---------------------------------------------------------------- masked_softmax
def test_masked_softmax_is_torchs_with_true_meaning_masked_out():
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(2, 3, 5))
    mask = rng.random((2, 1, 5)) < 0.4
    mask[:, :, 0] = False                                   # every row keeps a position
    w = F.masked_softmax(Tensor(scores), mask)
    want = torch._masked_softmax(torch.tensor(scores), torch.tensor(mask).expand(2, 3, 5), 2)
    np.testing.assert_allclose(w.data, want.numpy(), rtol=1e-12, atol=1e-15)
    assert (w.data[np.broadcast_to(mask, w.shape)] == 0).all()
    np.testing.assert_allclose(w.data.sum(-1), 1.0, rtol=1e-12)
    along = rng.random((2, 3, 1)) < 0.5                     # dim=1: over the 3 queries
    along[:, 0] = False
    w1 = F.masked_softmax(Tensor(scores), along, dim=1)
    want = torch._masked_softmax(torch.tensor(scores), torch.tensor(along).expand(2, 3, 5), 1)
    np.testing.assert_allclose(w1.data, want.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.masked_softmax(Tensor(scores), None, dim=1).data,
                               torch.softmax(torch.tensor(scores), 1).numpy(), rtol=1e-12)


def test_masked_softmax_fully_masked_row_is_zeros_with_zero_gradient():
    scores = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    mask = np.array([[False, True, False], [True, True, True]])
    w = F.masked_softmax(scores, mask)
    assert (w.data[1] == 0).all() and np.isfinite(w.data).all()     # torch gives NaN here
    assert torch._masked_softmax(torch.tensor(scores.data), torch.tensor(mask), 1)[1].isnan().all()
    np.testing.assert_allclose(w.data[0], [1 / (1 + np.e ** 2), 0, np.e ** 2 / (1 + np.e ** 2)])
    (w * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    assert (scores.grad[1] == 0).all() and scores.grad[0, 1] == 0
    t = torch.tensor(scores.data, requires_grad=True)
    tw = torch.softmax(t[0, [0, 2]], 0)
    (tw * torch.tensor([0.0, 2.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(scores.grad[0, [0, 2]], t.grad[0, [0, 2]].numpy(), rtol=1e-12)


def test_masked_softmax_refuses_a_mask_that_does_not_broadcast_to_the_scores():
    scores = Tensor(np.zeros((2, 3, 4)))
    for bad in (np.zeros((2, 4), bool), np.zeros((5, 2, 3, 4), bool), np.zeros(3, bool)):
        with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape .*fix:"):
            F.masked_softmax(scores, bad)
    F.masked_softmax(scores, np.zeros((2, 1, 4), bool))          # (N, 1, S): fine
    assert getattr(nn, "masked_softmax", F.masked_softmax) is F.masked_softmax   # one function
