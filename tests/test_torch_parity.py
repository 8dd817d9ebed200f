"""Parity with PyTorch (a test-only dependency: ``pip install torch==2.13.0``; .ci/run
installs it). Forward values and gradients of the ops, nn.Linear, nn.LSTM and
cross_entropy match torch's on random inputs with the same weights: float64 to 1e-10,
float32 to 1e-5; the date-task model's state dict runs in an equivalent torch module."""
import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import Tensor
from tinygrad_attn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch==2.13.0")
torch.set_num_threads(1)
rng = np.random.default_rng(0)


def r(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


# name -> (ours(*tensors), torch's(*tensors), input arrays)
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, (r(3, 1, 4), r(2, 1))),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, (r(3, 4), r(4))),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, (r(2, 3), r(1, 3))),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (r(2, 3), r(2, 3, lo=0.5))),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, (r(2, 3, lo=0.5), r(2, 3))),
    "pow_scalar": (lambda a: a ** 3, lambda a: a ** 3, (r(4),)),
    "neg": (lambda a: -a, lambda a: -a, (r(5),)),
    "exp": (lambda a: a.exp(), torch.exp, (r(2, 3),)),
    "log": (lambda a: a.log(), torch.log, (r(2, 3, lo=0.1),)),
    "tanh": (lambda a: a.tanh(), torch.tanh, (r(2, 3),)),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, (r(2, 3) * 5,)),
    "relu": (lambda a: a.relu(), torch.relu, (r(2, 3),)),
    "abs": (lambda a: a.abs(), torch.abs, (r(2, 3),)),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, (r(2, 3, lo=0.1),)),
    "clamp": (lambda a: a.clamp(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), (r(3, 4),)),
    "maximum": (lambda a, b: a.maximum(b), torch.maximum, (r(3, 4), r(4))),
    "minimum": (lambda a, b: a.minimum(b), torch.minimum, (r(3, 4), r(3, 1))),
    "sum": (lambda a: a.sum(axis=(0, 2), keepdims=True),
            lambda a: a.sum(dim=(0, 2), keepdim=True), (r(2, 3, 4),)),
    "mean": (lambda a: a.mean(axis=1), lambda a: a.mean(dim=1), (r(2, 3, 4),)),
    "max": (lambda a: a.max(axis=-1), lambda a: a.amax(dim=-1), (r(3, 5),)),
    "min": (lambda a: a.min(axis=0), lambda a: a.amin(dim=0), (r(3, 5),)),
    "var": (lambda a: a.var(axis=1), lambda a: a.var(dim=1), (r(3, 5),)),
    "logsumexp": (lambda a: a.logsumexp(axis=1), lambda a: a.logsumexp(dim=1), (r(3, 5) * 4,)),
    "reshape": (lambda a: a.reshape(4, -1) * 2, lambda a: a.reshape(4, -1) * 2, (r(2, 6),)),
    "permute": (lambda a: a.permute(2, 0, 1) * 2, lambda a: a.permute(2, 0, 1) * 2, (r(2, 3, 4),)),
    "transpose": (lambda a: a.transpose(0, 1) * 2, lambda a: a.transpose(0, 1) * 2, (r(2, 3),)),
    "getitem": (lambda a: a[1:, ::2] * 2, lambda a: a[1:, ::2] * 2, (r(3, 5),)),
    "getitem_int_array": (lambda a: a[np.array([0, 2, 0])] * 3,
                          lambda a: a[torch.tensor([0, 2, 0])] * 3, (r(3, 2),)),
    "concat": (lambda a, b: tg.concat([a, b, a], axis=1),
               lambda a, b: torch.cat([a, b, a], dim=1), (r(2, 3), r(2, 1))),
    "stack": (lambda a, b: tg.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], dim=-1),
              (r(2, 3), r(2, 3))),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, (r(2, 1, 3, 4), r(3, 4, 5))),
    "matmul_1d": (lambda a, b: a @ b, lambda a, b: a @ b, (r(4), r(4, 3))),
    "softmax": (lambda a: a.softmax(1), lambda a: torch.softmax(a, 1), (r(2, 5, 3) * 3,)),
    "log_softmax": (lambda a: a.log_softmax(-1), lambda a: torch.log_softmax(a, -1),
                    (r(4, 6) * 3,)),
    "flip": (lambda a: a.flip(1) * 2, lambda a: a.flip(1) * 2, (r(2, 4),)),
    "expand": (lambda a: a.expand(3, -1, -1), lambda a: a.expand(3, -1, -1), (r(1, 2, 3),)),
    "gather": (lambda a: a.gather(1, np.array([[0, 2], [1, 1]])),
               lambda a: a.gather(1, torch.tensor([[0, 2], [1, 1]])), (r(2, 3),)),
    "layer_norm": (lambda a: F.layer_norm(a, 4), lambda a: torch.nn.functional.layer_norm(a, (4,)),
                   (r(3, 4),)),
    "where": (lambda a, b: tg.where(np.array([[True, False, True]]), a, b),
              lambda a, b: torch.where(torch.tensor([[True, False, True]]), a, b),
              (r(2, 3), r(3))),
    "masked_fill": (lambda a: a.masked_fill(np.array([False, True, False]), -1.5),
                    lambda a: a.masked_fill(torch.tensor([False, True, False]), -1.5), (r(2, 3),)),
    "embedding": (lambda w: F.embedding(np.array([[0, 3], [3, 1]]), w),
                  lambda w: torch.nn.functional.embedding(torch.tensor([[0, 3], [3, 1]]), w),
                  (r(4, 3),)),
    "squeeze_unsqueeze": (lambda a: a.unsqueeze(0).squeeze(2) * 2,
                          lambda a: a.unsqueeze(0).squeeze(2) * 2, (r(3, 1, 2),)),
    "split": (lambda a: a.split([1, 3], axis=1)[1] * 2,
              lambda a: a.split([1, 3], dim=1)[1] * 2, (r(2, 4),)),
    "chunk": (lambda a: a.chunk(2, axis=0)[1] * 2, lambda a: a.chunk(2, dim=0)[1] * 2, (r(5, 2),)),
    "dropout_eval": (lambda a: F.dropout(a, 0.3, training=False) * 2,
                     lambda a: torch.nn.functional.dropout(a, 0.3, training=False) * 2, (r(3),)),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_op_matches_torch(name, dtype, tol):
    ours_fn, torch_fn, arrays = OPS[name]
    ours = [Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y, yt = ours_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=tol, atol=tol)
    w = rng.uniform(0.5, 1.5, size=y.shape).astype(dtype)
    (y * Tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for a, at in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_cross_entropy_with_ignore_index_matches_torch(dtype, tol):
    logits = r(6, 5).astype(dtype) * 3
    target = np.array([1, 4, -100, 0, -100, 2])
    x, xt = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target, ignore_index=-100)
    loss_t = torch.nn.functional.cross_entropy(xt, torch.tensor(target), ignore_index=-100)
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=tol)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=tol, atol=tol)


def _to_torch(module_t, state, dtype):
    module_t.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=dtype)) for k, v in state.items()})
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

    from models.data import generate_date_task, load_dataset
    from models.model_io import save_model

    from .conftest import ROOT
    from models import AttentionSeq2Seq
    data_file = tmp_path / "d.txt"
    data_file.write_text("\n".join(generate_date_task(40, seed=0)) + "\n")
    data = load_dataset(data_file)
    save_model(AttentionSeq2Seq(len(data.vocab), 16, 256, seed=0), data,
               tmp_path / "runs" / "date" / "version_0" / "model.npz")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"### Taking the weights to PyTorch.*?```python\n(.*?)```", readme, re.S).group(1)
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
