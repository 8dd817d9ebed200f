"""``optim.InverseSqrtLR``: the warm-up + inverse-square-root schedule of Vaswani et al. 2017
(sec. 5.3, eq. 3) against its closed form, against PyTorch's ``LambdaLR`` with the same
lambda, its ``state_dict`` round trip and its refusals."""
import math

import numpy as np
import pytest

from tinygrad_attn import nn, optim


def _opt(lr=0.5):
    return optim.Adam([nn.Parameter(np.zeros(3))], lr=lr)


def _rates(sched, steps):
    """The optimizer's rate before each of ``steps`` steps."""
    out = []
    for _ in range(steps):
        out.append(sched.optimizer.lr)
        sched.step()
    return out


def test_the_rates_are_the_papers_equation_3_scaled_to_the_peak():
    d_model, warmup = 64, 10
    peak = (d_model * warmup) ** -0.5                 # eq. 3's value at step = warmup
    sched = optim.InverseSqrtLR(_opt(lr=peak), warmup_steps=warmup)
    for s, lr in enumerate(_rates(sched, 40), start=1):
        paper = d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)
        assert lr == pytest.approx(paper, rel=1e-12), s
    assert sched.last_epoch == 40


def test_linear_rise_peak_at_warmup_then_one_over_sqrt():
    sched = optim.InverseSqrtLR(_opt(lr=2.0), warmup_steps=4)
    rates = _rates(sched, 16)
    assert rates[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])     # lr * s / w, nonzero at once
    assert max(rates) == rates[3] == 2.0
    assert rates[15] == pytest.approx(2.0 * math.sqrt(4 / 16))   # lr * sqrt(w / s)
    assert all(a > b for a, b in zip(rates[3:], rates[4:]))
    assert optim.lr_scheduler.InverseSqrtLR is optim.InverseSqrtLR


def test_one_warmup_step_is_pure_decay():
    sched = optim.InverseSqrtLR(_opt(lr=1.0), warmup_steps=1)
    assert _rates(sched, 4) == pytest.approx([1, 1 / math.sqrt(2), 1 / math.sqrt(3), 0.5])


def test_the_same_rates_and_state_as_torchs_lambda_lr():
    torch = pytest.importorskip("torch", reason="the LambdaLR oracle needs torch")
    w = 7
    theirs_opt = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.3)
    theirs = torch.optim.lr_scheduler.LambdaLR(
        theirs_opt, lr_lambda=lambda t: min((t + 1) / w, (w / (t + 1)) ** 0.5))
    ours = optim.InverseSqrtLR(_opt(lr=0.3), warmup_steps=w)
    for _ in range(25):
        assert ours.optimizer.lr == pytest.approx(theirs_opt.param_groups[0]["lr"], rel=1e-12)
        theirs_opt.step()
        theirs.step()
        ours.step()
    want, mine = theirs.state_dict(), ours.state_dict()
    for key in ("base_lrs", "last_epoch", "_last_lr"):
        np.testing.assert_allclose(mine[key], want[key], rtol=1e-12, err_msg=key)
    fresh = optim.InverseSqrtLR(_opt(lr=0.3), warmup_steps=w)
    fresh.load_state_dict(want)                   # LambdaLR's own dict (lr_lambdas ignored)
    assert fresh.last_epoch == 25 and fresh.get_last_lr() == pytest.approx(ours.get_last_lr())


def test_a_loaded_state_goes_on_with_the_same_rates():
    ours = optim.InverseSqrtLR(_opt(lr=0.1), warmup_steps=5)
    _rates(ours, 9)
    state = ours.state_dict()
    assert set(state) == {"warmup_steps", "base_lrs", "last_epoch", "_last_lr"}
    fresh_opt = _opt(lr=0.1)
    fresh = optim.InverseSqrtLR(fresh_opt, warmup_steps=2)
    fresh.load_state_dict(state)
    fresh_opt.lr = ours.optimizer.lr                # the optimizer's own state holds its lr
    assert _rates(fresh, 6) == _rates(ours, 6)
    assert fresh.warmup_steps == 5


@pytest.mark.parametrize("warmup", [0, -1, 2.0, float("nan"), True, "4000", None])
def test_a_bad_warmup_is_refused(warmup):
    with pytest.raises(ValueError, match=f"warmup_steps={warmup!r} must be a whole number "
                                         f"at least 1"):
        optim.InverseSqrtLR(_opt(), warmup_steps=warmup)


@pytest.mark.parametrize("state,exc,words", [
    ({"warmup_steps": 0}, ValueError, "warmup_steps=0 must be"),
    ({"T_max": 3}, ValueError, "unknown keys ['T_max']"),
    ({"base_lrs": [0.1, 0.2]}, ValueError, "base_lrs must be a list of one rate"),
    ({"base_lrs": [float("nan")]}, ValueError, "Invalid learning rate: nan"),
    ({"last_epoch": -1}, ValueError, "last_epoch must be a whole number >= 0"),
    ({"last_epoch": 2.5}, ValueError, "last_epoch must be a whole number >= 0"),
    ([("last_epoch", 3)], TypeError, "expected a dict"),
])
def test_a_bad_state_is_refused_and_changes_nothing(state, exc, words):
    sched = optim.InverseSqrtLR(_opt(lr=0.1), warmup_steps=3)
    sched.step()
    before = sched.state_dict()
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        sched.load_state_dict(state)
    assert sched.state_dict() == before
