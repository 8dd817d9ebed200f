"""PyTorch's names on shape ops and on max/min: ``dim`` (``dims`` for flip) beside numpy's
``axis``, ``torch.cat``, and ``max(dim=)`` / ``min(dim=)`` returning ``(values, indices)``
with PyTorch's gradient (to the selected element only), each against torch."""
import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import Tensor

torch = pytest.importorskip("torch", reason="torch (test-only oracle) is not installed")

A = np.arange(24.0).reshape(2, 3, 4) * 0.5 - 3


def pair():
    return Tensor(A.copy(), requires_grad=True), torch.tensor(A.copy(), requires_grad=True)


CASES = {
    "unsqueeze": (lambda x: x.unsqueeze(dim=1), lambda t: t.unsqueeze(dim=1)),
    "squeeze": (lambda x: x.unsqueeze(0).squeeze(dim=0), lambda t: t.unsqueeze(0).squeeze(dim=0)),
    "flip": (lambda x: x.flip(dims=(0, 2)), lambda t: t.flip(dims=(0, 2))),
    "split": (lambda x: x.split(3, dim=2)[1], lambda t: t.split(3, dim=2)[1]),
    "chunk": (lambda x: x.chunk(2, dim=1)[0], lambda t: t.chunk(2, dim=1)[0]),
    "cat": (lambda x: tg.cat([x, x * 2], dim=1), lambda t: torch.cat([t, t * 2], dim=1)),
    "stack": (lambda x: tg.stack([x, -x], dim=3), lambda t: torch.stack([t, -t], dim=3)),
    "sum": (lambda x: x.sum(dim=(0, 2), keepdim=True), lambda t: t.sum(dim=(0, 2), keepdim=True)),
    "mean": (lambda x: x.mean(dim=-1), lambda t: t.mean(dim=-1)),
    "softmax": (lambda x: x.softmax(dim=1), lambda t: t.softmax(dim=1)),
    "log_softmax": (lambda x: x.log_softmax(dim=0), lambda t: t.log_softmax(dim=0)),
    "logsumexp": (lambda x: x.logsumexp(dim=2, keepdim=True),
                  lambda t: t.logsumexp(dim=2, keepdim=True)),
    "transpose": (lambda x: x.transpose(0, 2), lambda t: t.transpose(0, 2)),
    "gather": (lambda x: x.gather(2, np.array([[[3, 0]] * 3] * 2)),
               lambda t: t.gather(2, torch.tensor([[[3, 0]] * 3] * 2))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dim_keywords_match_torch_values_and_gradients(name):
    ours, ref = CASES[name]
    x, t = pair()
    y, yt = ours(x), ref(t)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    w = np.cos(np.arange(y.size)).reshape(y.shape)
    (y * Tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_max_min_with_dim_give_values_and_indices_as_torch(op, dim, keepdim):
    a = np.array([[[1.0, 5.0, 5.0, 0.0], [2.0, 2.0, -1.0, 7.0], [3.0, 3.0, 3.0, 3.0]]] * 2)
    a[1] *= -1                                           # ties everywhere, both signs
    x, t = Tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    values, indices = getattr(x, op)(dim=dim, keepdim=keepdim)
    tv, ti = getattr(t, op)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, tv.detach().numpy())
    np.testing.assert_array_equal(indices.data, ti.numpy())
    assert indices.dtype == np.int64 and not indices.requires_grad
    (values * 3).sum().backward()
    (tv * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())      # to the selected one only


def test_max_without_dim_keeps_numpys_meaning_and_splits_ties():
    x = Tensor(np.array([2.0, 2.0, 1.0]), requires_grad=True)
    y = x.max(axis=0)
    assert isinstance(y, Tensor) and y.item() == 2.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.5, 0.0])


@pytest.mark.parametrize("call,message", [
    (lambda x: x.max(axis=0, dim=1), "got both axis=0 and dim=1"),
    (lambda x: x.min(dim=1.5), "axis must be an int"),
    (lambda x: x.max(dim=7), "out of range"),
    (lambda x: x.unsqueeze(axis=0, dim=0), "got both axis and dim"),
    (lambda x: tg.cat([x, x], axis=0, dim=0), "got both axis and dim"),
])
def test_conflicting_or_bad_dims_are_one_line_errors(call, message):
    with pytest.raises((TypeError, ValueError, np.exceptions.AxisError), match=message):
        call(Tensor(A))


def test_max_with_dim_of_an_empty_tensor_names_the_shape():
    with pytest.raises(ValueError, match=r"empty tensor of shape \(0, 3\)"):
        Tensor(np.zeros((0, 3))).max(dim=1)
