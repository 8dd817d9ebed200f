"""Structural guarantees: non-contiguous inputs behave like contiguous copies (every op of
the registry, ``tests/op_registry.py``, in three layouts), memory stays
flat over many training steps, an interrupted checkpoint save loses nothing, and the
stability cases at extreme magnitudes."""
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor

from .op_registry import REGISTRY
from .strategies import NONCONTIGUOUS_KINDS, noncontiguous


def _values_and_gradients(case, arrays):
    """y and the input gradients of L = sum(y * y) for the case run on ``arrays``."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    y = case.engine(*xs)
    (y * y).sum().backward()
    return [y.data] + [np.zeros(x.shape) if x.grad is None else x.grad for x in xs]


@pytest.mark.parametrize("op", REGISTRY, ids=lambda op: op.name)
@pytest.mark.parametrize("kind", NONCONTIGUOUS_KINDS)
@given(data=st.data())
def test_noncontiguous_inputs_give_the_same_values_and_gradients(op, kind, data):
    case = op.inputs(data)
    views = [noncontiguous(a, kind) for a in case.arrays]
    for a, v in zip(case.arrays, views):   # arrays of < 2 elements are contiguous in any layout
        assert np.array_equal(v, a) and (a.size < 2 or not v.flags.c_contiguous)
    for r, r_nc in zip(_values_and_gradients(case, case.arrays),
                       _values_and_gradients(case, views)):
        np.testing.assert_allclose(r, r_nc, rtol=1e-12, atol=1e-12)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_stays_flat_over_1000_training_steps():
    from models import AttentionSeq2Seq
    rng = np.random.default_rng(0)
    model = AttentionSeq2Seq(13, wordvec_size=8, hidden_size=32, seed=0)
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    src, ans = rng.integers(0, 13, (16, 9)), rng.integers(0, 13, (16, 6))
    losses = []
    for step in range(1000):
        loss = model.loss(src, ans)
        opt.zero_grad()
        loss.backward()
        tg.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(float(loss.item()))
        if step == 100:
            start = _rss_bytes()
    growth = _rss_bytes() - start
    assert growth < 16 * 2 ** 20, f"RSS grew by {growth / 2 ** 20:.1f} MiB over 900 steps"
    assert losses[-1] < losses[0]


def test_interrupted_save_leaves_the_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    good = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    tg.checkpoint.save(good, path, metadata={"epoch": 1})
    before = path.read_bytes()

    def dies_mid_write(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(tg.checkpoint.np, "savez", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        tg.checkpoint.save({"w": np.zeros((2, 3), np.float32)}, path, metadata={"epoch": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    sd, meta = tg.checkpoint.load(path)
    assert meta == {"epoch": 1} and np.array_equal(sd["w"], good["w"])
    assert os.listdir(tmp_path) == ["model.npz"]


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    sd = {"a": rng.standard_normal((3, 4)).astype(np.float32),
          "b": rng.standard_normal(5), "c": np.array([np.nan, -0.0, np.inf], dtype=np.float32)}
    tg.checkpoint.save(sd, tmp_path / "x.npz")
    back, _ = tg.checkpoint.load(tmp_path / "x.npz")
    for k in sd:
        assert back[k].dtype == sd[k].dtype and back[k].tobytes() == sd[k].tobytes()


def test_extremes_raise_no_floating_point_error():
    big = Tensor(np.array([[1e4, -1e4, 3.0], [-1e4, -1e4, -1e4]]), requires_grad=True)
    with np.errstate(all="raise"):
        lse = big.logsumexp(axis=1)
        ls = big.log_softmax(-1)
        s = Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
        sig, th = s.sigmoid(), s.tanh()
        (lse.sum() + ls.sum()).backward()
        (sig.sum() + th.sum()).backward()
    np.testing.assert_allclose(lse.data, [1e4, -1e4 + np.log(3)])
    assert np.isfinite(big.grad).all() and np.isfinite(s.grad).all()
    np.testing.assert_allclose(sig.data, [0.0, 0.5, 1.0])


def test_fully_masked_attention_row_is_zero_with_finite_gradients():
    q = Tensor(np.ones((1, 2, 3)), requires_grad=True)
    k = Tensor(np.ones((1, 4, 3)), requires_grad=True)
    mask = np.array([[True, True, True, True]])
    context, w = tg.nn.LuongAttention()(q, k, key_padding_mask=mask)
    assert np.all(w.data == 0) and np.all(context.data == 0)
    (context.sum() + w.sum()).backward()
    assert np.isfinite(q.grad).all() and np.isfinite(k.grad).all()
