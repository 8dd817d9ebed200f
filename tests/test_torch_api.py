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
