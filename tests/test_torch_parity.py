"""Parity with PyTorch (a test-only dependency: ``pip install torch==2.13.0``; .ci/run
installs it). Forward values and gradients of every op in the registry
(``tests/op_registry.py``: hypothesis-drawn inputs from each op's domain, kinks, ties and
extreme magnitudes included, and its fixed examples), nn.Linear, nn.LSTM, GRU and RNN match
torch's with the same weights: float64 to 1e-10, float32 to 1e-5; the date-task model's
state dict runs in an equivalent torch module."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor
from tinygrad_attn import functional as F

from .op_registry import REGISTRY

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch==2.13.0")
torch.set_num_threads(1)
rng = np.random.default_rng(0)


def r(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


DTYPES = [(np.float64, 1e-10), (np.float32, 1e-5)]
EXAMPLES = [pytest.param(op, i, id=f"{op.name}-{i}")
            for op in REGISTRY for i in range(len(op.examples))]


def _run(case, dtype, theirs=False):
    """[y, dL/dx_1, ...] as float arrays, with L = sum(w * y) for a fixed random w in
    [0.5, 1.5] (every output element's gradient path), run by this engine or by PyTorch
    (``theirs``) on the case's arrays as ``dtype``; an input that gets no gradient gets
    zeros. Also returns y's dtype name."""
    make = (lambda a: torch.tensor(a, requires_grad=True)) if theirs else \
        (lambda a: Tensor(a, requires_grad=True))
    xs = [make(a.astype(dtype)) for a in case.arrays]
    y = (case.torch if theirs else case.engine)(*xs)
    w = np.random.default_rng(0).uniform(0.5, 1.5, size=tuple(y.shape)).astype(dtype)
    (y * (torch.tensor(w) if theirs else Tensor(w))).sum().backward()
    grads = [x.grad for x in xs]
    if theirs:
        y, grads = y.detach(), [g if g is None else g.numpy() for g in grads]
    grads = [np.zeros(x.shape, dtype) if g is None else g for x, g in zip(xs, grads)]
    return [y.numpy()] + grads, str(y.dtype).replace("torch.", "")


def assert_matches_torch(case, dtype, tol):
    """The case's forward values (and dtype) and input gradients agree with PyTorch's to
    ``tol`` (rtol and atol)."""
    ours, our_dtype = _run(case, dtype)
    theirs, their_dtype = _run(case, dtype, theirs=True)
    assert our_dtype == their_dtype, (our_dtype, their_dtype)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        what = "the output" if k == 0 else f"the gradient of input {k - 1}"
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


# float32 tolerances of drawn inputs that 1e-5 cannot hold. layer_norm: a row of two
# elements normalises to +-1 whatever it holds, so its gradient is a cancellation of terms
# ~|x| / std (drawn rows are shifted by up to ~20 and spread by 0.3): composed float32
# ops lose ~1e-5 of it, PyTorch's fused kernel less (float64 holds 1e-10)
FLOAT32_TOL = {"layer_norm": 1e-3}


@pytest.mark.parametrize("op", REGISTRY, ids=lambda op: op.name)
@given(data=st.data())
def test_op_matches_torch(op, data):
    case = op.inputs(data)
    for dtype, tol in DTYPES:
        tol = FLOAT32_TOL.get(op.name, tol) if dtype == np.float32 else tol
        assert_matches_torch(case, dtype, tol)


@pytest.mark.parametrize("op,i", EXAMPLES)
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_op_matches_torch_on_the_fixed_examples(op, i, dtype, tol):
    assert_matches_torch(op.example_cases()[i], dtype, tol)


def _to_torch(module_t, state, dtype):
    module_t.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=dtype))
                              for k, v in state.items()})
    return module_t.to(torch.float64 if dtype == np.float64 else torch.float32)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_linear_and_lstm_match_torch_with_the_same_weights(dtype, tol):
    lin = tg.nn.Linear(4, 3)
    lstm = tg.nn.LSTM(3, 5)
    for p in list(lin.parameters()) + list(lstm.parameters()):
        p.data = p.data.astype(dtype)
    lin_t = _to_torch(torch.nn.Linear(4, 3), lin.state_dict(), dtype)
    lstm_t = _to_torch(torch.nn.LSTM(3, 5, batch_first=True), lstm.state_dict(), dtype)
    x_np = r(2, 6, 4).astype(dtype)
    h0, c0 = r(1, 2, 5).astype(dtype), r(1, 2, 5).astype(dtype)
    x = Tensor(x_np, requires_grad=True)
    out, (h, c) = lstm(lin(x), (Tensor(h0), Tensor(c0)))
    xt = torch.tensor(x_np, requires_grad=True)
    out_t, (h_t, c_t) = lstm_t(lin_t(xt), (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((out, out_t), (h, h_t), (c, c_t)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=tol, atol=tol)
    ((out * out).sum() + c.sum()).backward()
    ((out_t * out_t).sum() + c_t.sum()).backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol, atol=tol)
    for (name, p), (name_t, pt) in zip(lstm.named_parameters(), lstm_t.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    for (name, p), (name_t, pt) in zip(lin.named_parameters(), lin_t.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=tol * 10, atol=tol * 10)


class TorchAttentionSeq2Seq(torch.nn.Module):
    """The date-task model written in PyTorch with the same parameter names."""

    def __init__(self, V, D, H):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.embedding = torch.nn.Embedding(V, D)
        self.encoder.lstm = torch.nn.LSTM(D, H, batch_first=True)
        self.decoder_embedding = torch.nn.Embedding(V, D)
        self.decoder = torch.nn.LSTM(D, H, batch_first=True)
        self.out = torch.nn.Linear(2 * H, V)

    def forward(self, src, tgt):
        hs, (h, _) = self.encoder.lstm(self.encoder.embedding(src))
        dec, _ = self.decoder(self.decoder_embedding(tgt), (h, torch.zeros_like(h)))
        weights = torch.softmax(dec @ hs.transpose(1, 2), dim=-1)
        return self.out(torch.cat([weights @ hs, dec], dim=-1))


def test_date_model_state_dict_runs_in_pytorch_with_the_same_logits():
    from models import AttentionSeq2Seq
    V, D, H = 59, 16, 64
    model = AttentionSeq2Seq(V, D, H, seed=3)
    ref = _to_torch(TorchAttentionSeq2Seq(V, D, H), model.state_dict(), np.float32)
    src, tgt = rng.integers(0, V, (4, 29)), rng.integers(0, V, (4, 10))
    ours = model(src, tgt).data
    with torch.no_grad():
        theirs = ref(torch.from_numpy(src), torch.from_numpy(tgt)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_integer_ops_match_torch():
    ids = np.array([[2, 0], [1, 2]])
    np.testing.assert_array_equal(F.one_hot(ids, 4).data,
                                  torch.nn.functional.one_hot(torch.tensor(ids), 4).numpy())
    x = r(3, 5)
    np.testing.assert_array_equal(Tensor(x).argmax(axis=1).data,
                                  torch.tensor(x).argmax(dim=1).numpy())


def test_readme_example_moving_weights_to_pytorch_runs(tmp_path, monkeypatch):
    import re

    from models.char_dataset import load_dataset
    from models.date_task import generate_date_task
    from models.model_io import save_model

    from .conftest import ROOT
    from models import AttentionSeq2Seq
    data_file = tmp_path / "d.txt"
    data_file.write_text("\n".join(generate_date_task(40, seed=0)) + "\n")
    data = load_dataset(data_file)
    save_model(AttentionSeq2Seq(len(data.vocab), 16, 256, seed=0), data,
               tmp_path / "runs" / "date" / "version_0" / "model.npz")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"### Taking the weights to PyTorch.*?```python\n(.*?)```", readme,
                      re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(block, namespace)
    lstm = namespace["torch_lstm"]
    np.testing.assert_array_equal(lstm.weight_hh_l0.detach().numpy(),
                                  namespace["model"].encoder.lstm.weight_hh_l0.data)


@pytest.mark.parametrize("kind", ["GRU", "RNN"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_gru_and_rnn_match_torch(kind, layers, bidirectional, dtype, tol):
    ours = getattr(tg.nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional)
    for p in ours.parameters():
        p.data = p.data.astype(dtype)
    theirs = _to_torch(getattr(torch.nn, kind)(3, 4, num_layers=layers, batch_first=True,
                                               bidirectional=bidirectional),
                       ours.state_dict(), dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    dirs = 2 if bidirectional else 1
    x_np, h0 = r(2, 5, 3).astype(dtype), r(layers * dirs, 2, 4).astype(dtype)
    x, xt = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, h = ours(x, Tensor(h0))
    out_t, h_t = theirs(xt, torch.tensor(h0))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(h.data, h_t.detach().numpy(), rtol=tol, atol=tol)
    ((out * out).sum() + h.sum()).backward()
    ((out_t * out_t).sum() + h_t.sum()).backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=tol * 10, atol=tol * 10,
                                   err_msg=name)


@pytest.mark.parametrize("kind", ["GRUCell", "RNNCell"])
def test_cells_match_torch(kind):
    ours = getattr(tg.nn, kind)(3, 4)
    theirs = _to_torch(getattr(torch.nn, kind)(3, 4), ours.state_dict(), np.float32)
    x, h = r(2, 3).astype(np.float32), r(2, 4).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x), Tensor(h)).data,
                               theirs(torch.tensor(x), torch.tensor(h)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_stacked_bidirectional_lstm_matches_torch(fused):
    dtype, tol = np.float64, 1e-10
    ours = tg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, fused=fused)
    for p in ours.parameters():
        p.data = p.data.astype(dtype)
    theirs = _to_torch(torch.nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True),
                       ours.state_dict(), dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x_np, h0, c0 = r(2, 5, 3), r(4, 2, 4), r(4, 2, 4)
    x, xt = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, (h, c) = ours(x, (Tensor(h0), Tensor(c0)))
    out_t, (h_t, c_t) = theirs(xt, (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((out, out_t), (h, h_t), (c, c_t)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=tol, atol=tol)
    ((out * out).sum() + h.sum() + (c * c).sum()).backward()
    ((out_t * out_t).sum() + h_t.sum() + (c_t * c_t).sum()).backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-9)
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("eta_min", [0.0, 1e-4])
def test_cosine_annealing_schedule_matches_torch(eta_min):
    ours = tg.optim.Adam([Tensor(np.zeros(2), requires_grad=True)], lr=0.01)
    theirs = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.01)
    s1 = tg.optim.lr_scheduler.CosineAnnealingLR(ours, T_max=7, eta_min=eta_min)
    s2 = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=7, eta_min=eta_min)
    for _ in range(9):                     # through T_max and beyond (the cosine goes on)
        theirs.step()
        s1.step()
        s2.step()
        np.testing.assert_allclose(ours.lr, theirs.param_groups[0]["lr"], rtol=1e-9, atol=1e-15)
