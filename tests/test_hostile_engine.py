"""Hostile inputs, category "engine API and numbers" (issue 13, points 3 and 4).

Every case asserts the exact outcome: the exception type and the key words of its one-line
message (what is wrong, the value, and a fix), or the correct (PyTorch's) result. Groups:

- ``detect_anomaly()``: the first op whose forward or backward makes NaN/inf from finite
  values is named, with the line of this file that created it; nothing changes outside.
- Non-finite numbers: ``clip_grad_norm_`` (PyTorch's ``error_if_nonfinite`` and return
  value), optimizer arguments, softmax / log_softmax of inf rows (against torch).
- Unsupported dtypes at the op boundary (float16, integers) and bad ids / targets.
- Hostile arguments to the public API: layer sizes, probabilities, Tensor data, axes,
  shapes, seeds, gradcheck tolerances, backward misuse.
"""
import math
import sys
import threading
import warnings

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import AnomalyError, Tensor, detect_anomaly, kernels, nn, optim
from tinygrad_attn import functional as F

try:
    import torch
except ImportError:                       # torch is a test-only oracle
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (a test-only oracle)")
HERE = "test_hostile_engine.py"
# ops fed out-of-domain values warn as numpy does; the tests assert on results, not warnings
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _next_line() -> int:
    """The line number just below the caller's line (where the op under test is made)."""
    return sys._getframe(1).f_lineno + 1


def _raises(exc, *words, call):
    """Run ``call``; it must raise ``exc`` with a one-line message containing ``words``."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


# ====================================================================== detect_anomaly
def test_anomaly_log_of_zero_names_log_forward_and_this_line():
    x = Tensor(np.array([1.0, 0.0, 2.0]), requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = _next_line()
        x.log()
    msg = str(info.value)
    assert "Log forward produced -inf from finite inputs" in msg
    assert "1 of 3 values, first at index (1,)" in msg
    assert f"{HERE}:{line} in test_anomaly_log_of_zero" in msg and "x.log()" in msg
    assert "fix: keep the input > 0" in msg and "\n" not in msg


def test_anomaly_sqrt_at_zero_is_caught_in_backward():
    x = Tensor(np.array([4.0, 0.0]), requires_grad=True)
    with detect_anomaly():
        line = _next_line()
        y = x.sqrt()                      # forward is finite: [2, 0]
        np.testing.assert_array_equal(y.data, [2.0, 0.0])
        loss = y.sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    msg = str(info.value)
    assert "Sqrt backward produced inf in the gradient of input 0 (shape (2,))" in msg
    assert "from a finite incoming gradient" in msg
    assert f"{HERE}:{line}" in msg and "x.sqrt()" in msg


def test_anomaly_zero_over_zero_names_div():
    a, b = Tensor(np.zeros(2)), Tensor(np.array([0.0, 1.0]))
    with detect_anomaly(), warnings.catch_warnings(), pytest.raises(AnomalyError) as info:
        warnings.simplefilter("ignore")
        line = _next_line()
        a / b
    msg = str(info.value)
    assert "Div forward produced nan from finite inputs (1 of 2 values" in msg
    assert f"{HERE}:{line}" in msg and "fix: keep the denominator away from 0" in msg


@pytest.mark.parametrize("make, op, value", [
    (lambda x: (x * 100.0).exp(), "Exp", "inf"),
    (lambda x: (x - 1.0) ** -1.0, "Pow", "inf"),
    (lambda x: (x - 2.0).log(), "Log", "nan"),
    (lambda x: (x * 1e30) @ (x * 1e30).reshape(1, 1), "MatMul", "inf"),
])
def test_anomaly_names_each_op_that_overflows_or_leaves_its_domain(make, op, value):
    x = Tensor(np.ones((1, 1), dtype=np.float32), requires_grad=True)
    with detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _raises(AnomalyError, f"{op} forward produced {value} from finite inputs", HERE,
                "fix:", call=lambda: make(x))


def test_anomaly_model_level_cross_entropy_fed_a_huge_logit():
    logits = Tensor(np.array([[3e38, -3e38, 0.0]], dtype=np.float32), requires_grad=True)
    with detect_anomaly(), warnings.catch_warnings(), pytest.raises(AnomalyError) as info:
        warnings.simplefilter("ignore")
        line = _next_line()
        F.cross_entropy(logits, np.array([1]))
    msg = str(info.value)
    assert "LogSoftmax forward produced -inf from finite inputs" in msg and "\n" not in msg
    assert f"{HERE}:{line}" in msg and "F.cross_entropy(logits" in msg


def test_anomaly_model_level_linear_with_exploded_weights():
    tg.manual_seed(0)
    layer = nn.Linear(4, 3)
    layer.weight.data = layer.weight.data * np.float32(1e38)
    x = Tensor(np.full((2, 4), 1e3, dtype=np.float32))
    with detect_anomaly(), warnings.catch_warnings(), pytest.raises(AnomalyError) as info:
        warnings.simplefilter("ignore")
        line = _next_line()
        layer(x)
    msg = str(info.value)
    assert "MatMul forward produced inf from finite inputs" in msg
    assert f"{HERE}:{line} in test_anomaly_model_level_linear" in msg and "layer(x)" in msg
    assert "fix: the operands are too large: lower the learning rate" in msg


def test_anomaly_does_not_blame_an_op_for_passing_on_nan_or_a_masked_minus_inf():
    x = Tensor(np.array([[np.nan, 1.0], [0.0, 1.0]]), requires_grad=True)
    scores = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    with detect_anomaly():
        y = (x * 2.0).sum()                           # NaN in, NaN out: not this op's doing
        assert math.isnan(y.item())
        w = scores.masked_fill(np.array([[False, True, False]]), -np.inf).softmax(-1)
        w.sum().backward()                            # the -inf is the caller's own value
    np.testing.assert_allclose(w.data[0, 1], 0.0)
    assert np.isfinite(scores.grad).all()


@pytest.mark.parametrize("name", ["AttentionSeq2Seq", "BahdanauSeq2Seq", "Transformer"])
def test_anomaly_mode_raises_nothing_on_a_healthy_training_step_with_padding(name):
    import models
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(1, 13, (4, 7)), rng.integers(1, 13, (4, 5))
    src[:, -2:], tgt[:, -1] = 0, 0
    tgt[1, 1:] = 0                          # a sentence whose targets are all padding
    if name == "Transformer":
        src[0] = 0                          # a fully padded source: masked rows give zeros
    model = models.Transformer(13, 13, d_model=8, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=16, seed=0) \
        if name == "Transformer" else getattr(models, name)(13, wordvec_size=4, hidden_size=8,
                                                            seed=0)
    with detect_anomaly():
        loss = model.loss(src, tgt, src == 0, pad_id=0, label_smoothing=0.1)
        loss.backward()
    assert math.isfinite(loss.item())
    assert all(np.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_anomaly_backward_of_a_graph_built_outside_says_so():
    x = Tensor(np.array([0.0]), requires_grad=True)
    loss = x.sqrt().sum()
    with detect_anomaly():
        _raises(AnomalyError, "Sqrt backward produced inf", "created outside detect_anomaly()",
                call=loss.backward)


def test_no_anomaly_error_and_no_recorded_line_outside_the_context():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = x.log()
        assert y.data[0] == -np.inf                    # propagated, as PyTorch does
        y.sum().backward()
    assert x.grad[0] == np.inf
    assert not hasattr(y.grad_fn, "anomaly_trace")        # no stack walked when the mode is off
    assert not tg.is_anomaly_enabled()


def test_outside_the_context_no_anomaly_hook_runs(monkeypatch):
    def fail(*args):
        raise AssertionError("an anomaly hook ran outside detect_anomaly()")
    monkeypatch.setattr(tg.anomaly, "forward_hook", fail)
    monkeypatch.setattr(tg.anomaly, "backward_hook", fail)
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x.log() * x).sum().backward()
    assert tg.grad_mode.anomaly_users == 0


def test_anomaly_check_nan_false_records_lines_but_does_not_raise():
    x = Tensor(np.array([0.0]), requires_grad=True)
    with detect_anomaly(check_nan=False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        line = _next_line()
        y = x.log()
    assert y.data[0] == -np.inf
    assert y.grad_fn.anomaly_trace[1] == line


def test_anomaly_mode_is_restored_after_an_error_and_works_as_a_decorator():
    @detect_anomaly()
    def inside():
        assert tg.is_anomaly_enabled()
        return Tensor(np.array([0.0])).log()

    with pytest.raises(AnomalyError, match="Log forward"):
        inside()
    assert not tg.is_anomaly_enabled() and tg.grad_mode.anomaly_users == 0
    with detect_anomaly():
        with detect_anomaly(check_nan=False):
            Tensor(np.array([0.0])).log()             # inner block: no check
        with pytest.raises(AnomalyError):
            Tensor(np.array([0.0])).log()             # outer block again
    assert issubclass(AnomalyError, FloatingPointError)


def test_anomaly_mode_belongs_to_the_thread_that_enters_it():
    entered, done, seen = threading.Event(), threading.Event(), {}

    def other():
        entered.wait(5)
        seen["enabled"] = tg.is_anomaly_enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen["value"] = Tensor(np.array([0.0])).log().item()   # no error here
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with detect_anomaly():
        entered.set()
        done.wait(5)
        with pytest.raises(AnomalyError):
            Tensor(np.array([0.0])).log()
    thread.join(5)
    assert seen == {"enabled": False, "value": -np.inf}


# ====================================================================== clip_grad_norm_
def _params(*grads):
    ps = []
    for g in grads:
        p = nn.Parameter(np.zeros(np.shape(g)), dtype=np.float64)
        p.grad = np.array(g, dtype=np.float64)
        ps.append(p)
    return ps


def test_clip_grad_norm_error_if_nonfinite_names_the_parameter_and_scales_nothing():
    ps = _params([3.0, 4.0], [[1.0, np.nan]])
    msg = _raises(RuntimeError, "total gradient norm (order 2.0) is nan",
                  "parameter 1 of 2 (shape (1, 2)) holds 1 NaN/inf", "detect_anomaly", "fix:",
                  call=lambda: tg.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True))
    assert msg.startswith("clip_grad_norm_:")
    np.testing.assert_array_equal(ps[0].grad, [3.0, 4.0])       # untouched


@needs_torch
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_non_finite_without_error_matches_pytorch(bad):
    grads = ([3.0, 4.0], [bad, 1.0])
    ours = _params(*grads)
    theirs = [torch.tensor(g, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    total = tg.clip_grad_norm_(ours, 1.0)
    expect = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert (math.isnan(total) and math.isnan(expect)) or total == float(expect)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


@needs_torch
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_clip_grad_norm_returns_pytorchs_total_norm_and_clips_like_it(norm_type):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 2)) * 4, rng.normal(size=5) * 4]
    ours = _params(*grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    total = tg.clip_grad_norm_(ours, 2.5, norm_type=norm_type)
    expect = torch.nn.utils.clip_grad_norm_(theirs, 2.5, norm_type=norm_type)
    assert isinstance(total, float) and total == pytest.approx(float(expect), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_accepts_a_single_tensor_as_pytorch_does():
    (p,) = _params([3.0, 4.0])
    assert tg.clip_grad_norm_(p, 1.0) == pytest.approx(5.0)    # was 0.0: rows iterated
    np.testing.assert_allclose(np.linalg.norm(p.grad), 1.0, rtol=1e-5)


def test_clip_grad_norm_without_gradients_returns_zero():
    assert tg.clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0) == 0.0


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan"), "5", True])
def test_clip_grad_norm_refuses_a_max_norm_that_is_not_positive(max_norm):
    ps = _params([3.0, 4.0])
    _raises(ValueError, "clip_grad_norm_: max_norm must be a number > 0", "fix:",
            call=lambda: tg.clip_grad_norm_(ps, max_norm))
    np.testing.assert_array_equal(ps[0].grad, [3.0, 4.0])     # -1 used to flip them


@pytest.mark.parametrize("norm_type", [0, -2.0, float("nan")])
def test_clip_grad_norm_refuses_a_norm_type_that_is_not_positive(norm_type):
    _raises(ValueError, "norm_type must be a number > 0 or math.inf", "fix:",
            call=lambda: tg.clip_grad_norm_(_params([1.0]), 1.0, norm_type=norm_type))


# ====================================================================== optimizers
ADAM_BAD = [
    (dict(lr=-1e-3), ValueError, "Adam: Invalid learning rate: -0.001"),
    (dict(lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (dict(lr=float("inf")), ValueError, "Invalid learning rate: inf"),
    (dict(lr="1e-3"), TypeError, "learning rate must be a number, got str"),
    (dict(betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (dict(betas=(-0.1, 0.999)), ValueError, "Invalid beta parameter at index 0: -0.1"),
    (dict(betas=(0.9, 1.5)), ValueError, "Invalid beta parameter at index 1: 1.5"),
    (dict(betas=(0.9, float("nan"))), ValueError, "Invalid beta parameter at index 1: nan"),
    (dict(betas=(0.9,)), ValueError, "betas must be a pair"),
    (dict(eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    (dict(eps=float("nan")), ValueError, "Invalid epsilon value: nan"),
    (dict(weight_decay=-0.1), ValueError, "Invalid weight_decay value: -0.1"),
]


@pytest.mark.parametrize("kwargs, exc, words", ADAM_BAD)
def test_adam_validates_its_arguments_like_pytorch(kwargs, exc, words):
    _raises(exc, words, "fix:", call=lambda: optim.Adam([nn.Parameter(np.ones(2))], **kwargs))


@pytest.mark.parametrize("kwargs, words", [
    (dict(lr=-0.1), "SGD: Invalid learning rate: -0.1"),
    (dict(lr=float("nan")), "SGD: Invalid learning rate: nan"),
    (dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (dict(momentum=float("nan")), "Invalid momentum value: nan"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
])
def test_sgd_validates_its_arguments_like_pytorch(kwargs, words):
    _raises(ValueError, words, "fix:", call=lambda: optim.SGD([nn.Parameter(np.ones(2))],
                                                              **kwargs))


@pytest.mark.parametrize("params, exc, words", [
    (lambda: nn.Linear(2, 2), TypeError, "params must be an iterable of Tensors, got Linear"),
    (lambda: nn.Parameter(np.ones(2)), TypeError, "got Parameter"),
    (lambda: [nn.Parameter(np.ones(2)), "w"], TypeError, "item 1 is str"),
    (lambda: [], ValueError, "empty parameter list"),
    (lambda: [nn.Parameter(np.ones(2))] * 2, ValueError, "parameter 1 (shape (2,)) appears "
                                                         "more than once"),
])
def test_optimizers_refuse_params_that_are_not_a_list_of_distinct_tensors(params, exc, words):
    _raises(exc, words, "fix:", "model.parameters()", call=lambda: optim.Adam(params()))


def test_optimizer_edge_values_pytorch_accepts_are_accepted():
    opt = optim.Adam([nn.Parameter(np.ones(2))], lr=0, betas=(0.0, 0.0), eps=0.0)
    assert (opt.lr, opt.betas, opt.eps) == (0.0, (0.0, 0.0), 0.0)


@needs_torch
def test_adam_propagates_a_nan_gradient_as_pytorch_does():
    ours = nn.Parameter(np.ones(2), dtype=np.float64)
    theirs = torch.ones(2, dtype=torch.float64, requires_grad=True)
    ours.grad, theirs.grad = np.array([np.nan, 1.0]), torch.tensor([np.nan, 1.0],
                                                                  dtype=torch.float64)
    optim.Adam([ours], lr=0.1).step()
    torch.optim.Adam([theirs], lr=0.1).step()
    np.testing.assert_array_equal(ours.data, theirs.detach().numpy())


@pytest.mark.parametrize("kwargs, words", [
    (dict(T_max=float("nan")), "T_max=nan must be at least 1"),
    (dict(T_max=2.5), "T_max=2.5 must be at least 1"),
    (dict(T_max=True), "T_max=True must be at least 1"),
    (dict(T_max=5, eta_min=float("nan")), "eta_min=nan is negative or not finite"),
    (dict(T_max=5, eta_min=float("inf")), "eta_min=inf is negative or not finite"),
])
def test_cosine_schedule_refuses_nan_and_fractional_arguments(kwargs, words):
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    _raises(ValueError, words, "fix:", call=lambda: optim.CosineAnnealingLR(opt, **kwargs))


# ====================================================================== softmax of inf rows
INF_ROWS = np.array([[-np.inf, -np.inf, -np.inf],      # fully masked
                     [np.inf, 0.0, 1.0],              # +inf
                     [np.inf, np.inf, 0.0],
                     [np.nan, 0.0, 1.0],
                     [-np.inf, 0.0, 1.0],             # partly masked
                     [-np.inf, -np.inf, 5.0],
                     [1e38, -1e38, 0.0]], dtype=np.float32)
IMPLEMENTATIONS = {
    ("softmax", "numpy"): (kernels.softmax_numpy, kernels.softmax_backward_numpy),
    ("softmax", "numba"): (kernels.softmax_rows_numba, kernels.softmax_backward_rows_numba),
    ("log_softmax", "numpy"): (kernels.log_softmax_numpy, kernels.log_softmax_backward_numpy),
    ("log_softmax", "numba"): (kernels.log_softmax_rows_numba,
                               kernels.log_softmax_backward_rows_numba),
}


@needs_torch
@pytest.mark.parametrize("name, impl", sorted(IMPLEMENTATIONS))
def test_softmax_kernels_of_inf_rows_agree_with_pytorch_without_warnings(name, impl):
    forward, backward = IMPLEMENTATIONS[name, impl]
    x = torch.tensor(INF_ROWS, requires_grad=True)
    y = getattr(torch, name)(x, -1)
    g = torch.tensor(np.tile([2.0, 1.0, -1.0], (len(INF_ROWS), 1)).astype(np.float32))
    y.backward(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # the numpy twins used to warn
        ours = forward(INF_ROWS.copy())
        ours_grad = backward(ours, g.numpy())
    np.testing.assert_allclose(ours, y.detach().numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(ours_grad, x.grad.numpy(), rtol=1e-5, atol=1e-7)


@needs_torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_ops_of_inf_rows_give_pytorchs_values_and_gradients(name):
    ours = Tensor(INF_ROWS.copy(), requires_grad=True)
    y = getattr(ours, name)(-1)
    (y * Tensor(np.float32([2.0, 1.0, -1.0]))).sum().backward()
    x = torch.tensor(INF_ROWS, requires_grad=True)
    t = getattr(torch, name)(x, -1)
    (t * torch.tensor([2.0, 1.0, -1.0])).sum().backward()
    np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.grad, x.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_attention_with_every_key_masked_gives_zeros_not_nan():
    q = Tensor(np.ones((1, 2, 4), dtype=np.float32), requires_grad=True)
    out, w = F.scaled_dot_product_attention(q, q, q, key_padding_mask=np.array([[True, True]]))
    out.sum().backward()
    np.testing.assert_array_equal(w.data, 0.0)
    np.testing.assert_array_equal(out.data, 0.0)
    assert np.isfinite(q.grad).all()


# ====================================================================== dtypes at the boundary
FLOAT_OPS = {
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(-1),
    "cross_entropy": lambda x: F.cross_entropy(x, np.array([0, 1])),
    "layer_norm": lambda x: F.layer_norm(x, 3),
    "matmul": lambda x: x @ Tensor(np.ones((3, 2), dtype=x.dtype)),
    "LSTM": lambda x: nn.LSTM(3, 2)(x.reshape(2, 1, 3)),
}


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.int32])
@pytest.mark.parametrize("op", sorted(FLOAT_OPS))
def test_float_ops_refuse_float16_and_integers_at_the_boundary(op, dtype):
    x = Tensor(np.ones((2, 3), dtype=dtype))
    _raises(TypeError, f"{op}: dtype {np.dtype(dtype)} is not supported", "float32 or float64",
            "fix: convert the input first, x.float()", call=lambda: FLOAT_OPS[op](x))


def test_float16_softmax_with_grad_is_refused_before_numba_sees_it():
    x = Tensor(np.ones((2, 3), dtype=np.float16), requires_grad=True)
    _raises(TypeError, "softmax: dtype float16", call=lambda: x.softmax(-1).sum().backward())


def test_float_and_double_convert_and_pass_the_gradient_back():
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)             # float64
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float64 and np.array_equal(x.grad, [3.0, 3.0])
    ids = Tensor(np.array([1, 2]))
    assert ids.float().dtype == np.float32 and ids.double().dtype == np.float64
    assert Tensor(np.array([1.7, -2.2])).long().data.tolist() == [1, -2]
    h = Tensor(np.ones((2, 3), dtype=np.float16))
    assert h.float().softmax(-1).dtype == np.float32


@pytest.mark.parametrize("target, exc, words", [
    (np.array([0.0, 1.0]), TypeError, "targets must be integer class ids, got dtype float64"),
    (np.array([True, False]), TypeError, "got dtype bool"),
    (np.array([0, 3]), IndexError, "target 3 at flat position 1 is out of range: class ids "
                                   "must be in [0, 2]"),
    (np.array([-1, 0]), IndexError, "target -1 at flat position 0"),
    (np.array([0, 1, 2]), ValueError, "need integer targets of shape (2,), got (3,)"),
])
def test_cross_entropy_refuses_bad_targets(target, exc, words):
    logits = Tensor(np.zeros((2, 3), dtype=np.float32))
    _raises(exc, words, "fix:", call=lambda: F.cross_entropy(logits, target))


def test_cross_entropy_ignore_index_is_not_out_of_range():
    logits = Tensor(np.zeros((2, 3), dtype=np.float32))
    loss = F.cross_entropy(logits, np.array([-100, 2]))
    assert loss.item() == pytest.approx(math.log(3))


@pytest.mark.parametrize("ids, exc, words", [
    (np.array([5]), IndexError, "id 5 at position (0,) is out of range for a vocabulary of "
                                "size 5 (ids must be in [0, 4]"),
    (np.array([[0], [-1]]), IndexError, "id -1 at position (1, 0)"),
    (np.array([1.0]), TypeError, "token ids must be integers, got dtype float64"),
    (np.array([True]), TypeError, "got dtype bool"),
])
def test_embedding_refuses_bad_ids(ids, exc, words):
    emb = nn.Embedding(5, 2)
    _raises(exc, words, "fix:", call=lambda: emb(ids))


@pytest.mark.parametrize("ids, classes, exc, words", [
    (np.array([1.5]), 3, TypeError, "one_hot: ids must be integers, got dtype float64"),
    (np.array([0]), 0, ValueError, "num_classes must be an int >= 1, got 0"),
    (np.array([3]), 3, IndexError, "id 3 at position (0,) is not in [0, 3)"),
])
def test_one_hot_refuses_bad_ids_and_class_counts(ids, classes, exc, words):
    _raises(exc, words, "fix:", call=lambda: F.one_hot(ids, classes))


# ====================================================================== layer sizes
LAYERS = {
    "Linear.in_features": (lambda v: nn.Linear(v, 4), "Linear: in_features"),
    "Linear.out_features": (lambda v: nn.Linear(4, v), "Linear: out_features"),
    "Embedding.num_embeddings": (lambda v: nn.Embedding(v, 4), "Embedding: num_embeddings"),
    "Embedding.embedding_dim": (lambda v: nn.Embedding(4, v), "Embedding: embedding_dim"),
    "LSTM.hidden_size": (lambda v: nn.LSTM(4, v), "LSTM: hidden_size"),
    "GRU.input_size": (lambda v: nn.GRU(v, 4), "GRU: input_size"),
    "RNN.num_layers": (lambda v: nn.RNN(4, 4, num_layers=v), "RNN: num_layers"),
    "LSTMCell.hidden_size": (lambda v: nn.LSTMCell(4, v), "LSTMCell: hidden_size"),
    "MultiheadAttention.embed_dim": (lambda v: nn.MultiheadAttention(v, 1),
                                     "MultiheadAttention: embed_dim"),
    "MultiheadAttention.num_heads": (lambda v: nn.MultiheadAttention(4, v),
                                     "MultiheadAttention: num_heads"),
    "LayerNorm": (lambda v: nn.LayerNorm(v), "LayerNorm: normalized_shape"),
    "TransformerEncoderLayer.dim_feedforward": (
        lambda v: nn.TransformerEncoderLayer(4, 2, dim_feedforward=v),
        "TransformerEncoderLayer: dim_feedforward"),
    "TransformerEncoder.num_layers": (
        lambda v: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), v),
        "TransformerEncoder: num_layers"),
    "PositionalEncoding.max_len": (lambda v: nn.PositionalEncoding(4, max_len=v),
                                   "PositionalEncoding: max_len"),
    "BahdanauAttention.attn_size": (lambda v: nn.BahdanauAttention(4, 4, attn_size=v),
                                    "BahdanauAttention: attn_size"),
}
BAD_SIZES = [(0, ValueError, "must be >= 1, got 0"), (-3, ValueError, "must be >= 1, got -3"),
             (2.5, TypeError, "must be an int >= 1, got float 2.5"),
             (float("nan"), TypeError, "got float nan"), (True, TypeError, "got bool True")]


@pytest.mark.parametrize("value, exc, words", BAD_SIZES)
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_refuse_sizes_that_are_not_positive_ints(layer, value, exc, words):
    make, owner = LAYERS[layer]
    _raises(exc, owner, words, "fix: pass a whole number >= 1", call=lambda: make(value))


def test_layer_sizes_may_be_numpy_ints():
    layer = nn.Linear(np.int64(3), np.int32(2))
    assert layer.weight.shape == (2, 3) and isinstance(layer.in_features, int)


@pytest.mark.parametrize("make, words", [
    (lambda: nn.MultiheadAttention(5, 2), "embed_dim 5 must be divisible by num_heads 2"),
    (lambda: nn.TransformerEncoderLayer(6, 4), "TransformerEncoderLayer: d_model 6 must be "
                                               "divisible by nhead 4"),
    (lambda: nn.TransformerDecoderLayer(6, 4), "TransformerDecoderLayer: d_model 6"),
])
def test_heads_must_divide_the_width(make, words):
    _raises(ValueError, words, "fix: pick", call=make)


@pytest.mark.parametrize("p, exc", [(-0.1, ValueError), (1.5, ValueError),
                                    (float("nan"), ValueError), ("0.1", TypeError),
                                    (True, TypeError)])
@pytest.mark.parametrize("make, owner", [
    (lambda p: nn.Dropout(p), "Dropout: p"),
    (lambda p: nn.LSTM(2, 2, num_layers=2, dropout=p), "LSTM: dropout"),
    (lambda p: nn.MultiheadAttention(4, 2, dropout=p), "MultiheadAttention: dropout"),
    (lambda p: F.dropout(Tensor(np.ones(3)), p), "dropout: p"),
    (lambda p: F.scaled_dot_product_attention(*[Tensor(np.ones((2, 3)))] * 3, dropout_p=p),
     "scaled_dot_product_attention: dropout_p"),
])
def test_probabilities_outside_zero_one_or_nan_are_refused(make, owner, p, exc):
    _raises(exc, owner, "fix:", call=lambda: make(p))


@pytest.mark.parametrize("eps", [-1e-5, float("nan"), float("inf")])
def test_layer_norm_refuses_a_negative_or_non_finite_eps(eps):
    _raises(ValueError, "LayerNorm: eps must be a finite number >= 0", "fix:",
            call=lambda: nn.LayerNorm(4, eps=eps))


# ====================================================================== Tensor data
@pytest.mark.parametrize("data, exc, words", [
    ("abc", TypeError, "cannot hold str 'abc'"),
    (["a", "b"], TypeError, "numpy dtype <U1"),
    (np.array([1, None], dtype=object), TypeError, "numpy dtype object"),
    (None, TypeError, "cannot hold NoneType None"),
    ({"a": 1}, TypeError, "cannot hold dict"),
    ([1 + 2j], TypeError, "complex128"),
    (2 ** 70, TypeError, "numpy dtype object"),
    (b"raw", TypeError, "numpy dtype |S3"),
    ([[1, 2], [3]], ValueError, "are ragged (rows of different lengths)"),
])
def test_tensor_refuses_data_that_are_not_numbers(data, exc, words):
    _raises(exc, "Tensor:", words, "fix:", call=lambda: Tensor(data))


@pytest.mark.parametrize("data, words", [(["x"], "list ['x']"), (["1.5"], "list ['1.5']"),
                                         ([None], "list [None]"),
                                         ([1.0, None], "list [1.0, None]")])
def test_tensor_refuses_non_numbers_even_with_a_float_dtype(data, words):
    # numpy alone turns None into NaN and "1.5" into 1.5 under dtype=float32, silently
    _raises(TypeError, f"Tensor: cannot hold {words}", "fix:",
            call=lambda: Tensor(data, dtype=np.float32))


def test_tensor_refuses_a_list_of_tensors_and_points_to_stack():
    _raises(TypeError, "Tensor: cannot hold list", "tinygrad_attn.stack",
            call=lambda: Tensor([Tensor(np.ones(2)), Tensor(np.ones(2))]))


def test_tensor_of_bools_and_ints_and_float16_is_allowed():
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor([1, 2]).dtype == np.int64 and Tensor([1.5]).dtype == np.float32
    assert Tensor(np.ones(2, dtype=np.float16)).dtype == np.float16


# ====================================================================== axes and shapes
@pytest.mark.parametrize("axis", [2, -3])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp", "var", "argmax",
                                "softmax", "log_softmax"])
def test_reductions_name_themselves_for_an_axis_out_of_range(op, axis):
    x = Tensor(np.ones((2, 3)))
    call = (lambda: getattr(x, op)(axis)) if "softmax" in op else \
        (lambda: getattr(x, op)(axis=axis))
    _raises(np.exceptions.AxisError, f"{op}: axis {axis} is out of range for a tensor with "
            f"2 dims", "fix: use an axis in [-2, 1]", call=call)


@pytest.mark.parametrize("axis", [1.5, True, "0"])
def test_reductions_refuse_an_axis_that_is_not_an_int(axis):
    _raises(TypeError, "sum: axis must be an int or a tuple of ints", "fix:",
            call=lambda: Tensor(np.ones((2, 3))).sum(axis=axis))


@pytest.mark.parametrize("op", ["unsqueeze", "transpose"])
def test_axis_arguments_refuse_floats(op):
    _raises(TypeError, f"{op}: axis must be an int, got float 0.5", "fix:",
            call=lambda: getattr(Tensor(np.ones((2, 3))), op)(0.5))


@pytest.mark.parametrize("shape, exc, words", [
    ((4, 2), ValueError, "a tensor of shape (2, 3) (6 elements) cannot be viewed as (4, 2)"),
    ((-1, -1), ValueError, "cannot be viewed as (-1, -1)"),
    ((2.5, 2), TypeError, "the new shape must be ints, got (2.5, 2)"),
])
def test_reshape_to_an_incompatible_shape(shape, exc, words):
    _raises(exc, "reshape:", words, "fix:", call=lambda: Tensor(np.ones((2, 3))).reshape(shape))


@pytest.mark.parametrize("a, b, words", [
    ((2, 3), (4, 5), "matmul: shapes (2, 3) and (4, 5) do not align"),
    ((3,), (4,), "matmul: shapes (1, 3) and (4, 1) do not align"),
    ((2, 3, 4), (3, 4, 5), "MatMul: shapes [(2, 3, 4), (3, 4, 5)] cannot be broadcast"),
    ((), (3,), "matmul: operands must have at least 1 dim, got shapes () and (3,)"),
])
def test_matmul_shape_mismatch_names_both_shapes(a, b, words):
    x, y = Tensor(np.ones(a)), Tensor(np.ones(b))
    _raises(ValueError, words, "fix:", call=lambda: x @ y)


@pytest.mark.parametrize("call, exc, words", [
    (lambda x: x.chunk(0), ValueError, "chunk: chunks must be an int >= 1, got 0"),
    (lambda x: x.split(0), ValueError, "split: split_size must be positive, got 0"),
    (lambda x: x.split(1, axis=5), np.exceptions.AxisError, "split: axis 5 is out of range"),
    (lambda x: x.split([3, -1]), ValueError, "split: sections [3, -1]"),
    (lambda x: x.gather(1, np.array([[0], [3]])), IndexError, "gather: index values must be "
                                                              "in [-3, 2]"),
    (lambda x: x[:, :0].argmax(), ValueError, "argmax: the tensor of shape (2, 0) is empty"),
])
def test_split_chunk_gather_argmax_refuse_bad_arguments(call, exc, words):
    _raises(exc, words, "fix:", call=lambda: call(Tensor(np.ones((2, 3)))))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: bool(Tensor(np.array([0.0, 1.0]))), RuntimeError, "bool: the truth value of a "
                                                               "tensor of shape (2,) is ambiguous"),
    (lambda: Tensor(np.ones(3)).item(), ValueError, "item: a tensor of shape (3,) has 3 "
                                                    "elements, not 1"),
    (lambda: float(Tensor(np.ones((2, 2)))), ValueError, "item: a tensor of shape (2, 2)"),
    (lambda: len(Tensor(np.array(1.0))), TypeError, "len() of a 0-d tensor"),
])
def test_scalar_conversions_of_a_tensor_that_is_not_one_number(call, exc, words):
    _raises(exc, words, "fix:", call=call)


def test_scalar_conversions_of_one_element_follow_pytorch():
    assert bool(Tensor(np.array([0.0]))) is False          # was True (a non-empty list)
    assert bool(Tensor(np.array(2.0))) is True             # was "len() of unsized object"
    assert float(Tensor(np.array([[1.5]]))) == 1.5 and int(Tensor(np.array(3))) == 3


@pytest.mark.parametrize("value, words", [
    (np.array([[None] * 3] * 2, dtype=object), "weight: dtype object, not numbers"),  # was NaN
    (np.full((2, 3), "1"), "weight: dtype <U1, not numbers"),
    ([[1.0, 2.0], [3.0]], "weight: not an array, not numbers"),
    (np.zeros((3, 2)), "weight: checkpoint shape (3, 2) != model shape (2, 3)"),
])
def test_load_state_dict_refuses_values_that_are_not_arrays_of_the_right_shape(value, words):
    layer = nn.Linear(3, 2)
    before = layer.weight.data.copy()
    sd = dict(layer.state_dict(), weight=value)
    _raises(ValueError, "load_state_dict into Linear:", words, "left unchanged",
            call=lambda: layer.load_state_dict(sd))
    np.testing.assert_array_equal(layer.weight.data, before)


def test_load_state_dict_refuses_something_that_is_not_a_dict():
    _raises(TypeError, "expected a dict of name -> array, got list", "fix:",
            call=lambda: nn.Linear(3, 2).load_state_dict([np.zeros((2, 3))]))


# ====================================================================== seeds
@pytest.mark.parametrize("seed, exc, words", [
    (2 ** 64, ValueError, "manual_seed: seed 18446744073709551616 is outside"),
    (-2 ** 63 - 1, ValueError, "is outside [-2**63, 2**64 - 1]"),
    (1.5, TypeError, "seed must be an int, got float 1.5"),
    (float("nan"), TypeError, "got float nan"),
    (1.0, TypeError, "got float 1.0"),
    ("7", TypeError, "got str '7'"),
    (True, TypeError, "got bool True"),
])
def test_manual_seed_refuses_seeds_that_are_not_ints_in_pytorchs_range(seed, exc, words):
    _raises(exc, words, "fix:", call=lambda: tg.manual_seed(seed))


def test_manual_seed_takes_negatives_modulo_2_64_as_pytorch_and_numpy_ints():
    tg.manual_seed(-1)
    a = tg.random.generator().random(3)
    tg.manual_seed(2 ** 64 - 1)
    np.testing.assert_array_equal(tg.random.generator().random(3), a)
    tg.manual_seed(np.int64(5))
    b = tg.random.generator().random(3)
    tg.manual_seed(5)
    np.testing.assert_array_equal(tg.random.generator().random(3), b)


# ====================================================================== gradcheck
@pytest.mark.parametrize("kwargs, words", [
    (dict(eps=0), "eps must be a finite number > 0, got 0"),
    (dict(eps=-1e-6), "eps must be a finite number > 0, got -1e-06"),
    (dict(eps=float("nan")), "got nan"),
    (dict(atol=-1.0), "atol must be a finite number >= 0, got -1.0"),
    (dict(rtol=float("inf")), "rtol must be a finite number >= 0, got inf"),
])
def test_gradcheck_refuses_steps_and_tolerances_out_of_range(kwargs, words):
    _raises(ValueError, "gradcheck:", words, "fix:",
            call=lambda: tg.gradcheck(lambda a: a * a, [np.ones(2)], **kwargs))


def test_gradcheck_refuses_a_function_that_does_not_return_a_tensor():
    _raises(TypeError, "gradcheck: fn must return a Tensor, got float", "fix:",
            call=lambda: tg.gradcheck(lambda a: 1.0, [np.ones(2)]))


# ====================================================================== backward misuse
def _graph():
    a = Tensor(np.ones(3), requires_grad=True)
    return a, a * 2.0


@pytest.mark.parametrize("call, exc, words", [
    (lambda y: y.backward(), RuntimeError, "the tensor has shape (3,), not a scalar"),
    (lambda y: y.backward(np.ones(4)), RuntimeError, "gradient has shape (4,) but the tensor "
                                                     "has shape (3,)"),
    (lambda y: y.backward(np.ones((3, 1))), RuntimeError, "gradient has shape (3, 1)"),
    (lambda y: y.backward("ones"), TypeError, "gradient must be numbers of the tensor's shape"),
    (lambda y: y.backward([None] * 3), TypeError, "got list [None, None, None]"),  # was NaN
    (lambda y: y.detach().backward(), RuntimeError, "does not require grad"),
])
def test_backward_misuse_gets_a_one_line_error(call, exc, words):
    _, y = _graph()
    _raises(exc, "backward:", words, "fix:", call=lambda: call(y))


def test_backward_twice_without_retain_graph_is_refused_and_with_it_accumulates():
    a, y = _graph()
    loss = y.sum()
    loss.backward()
    _raises(RuntimeError, "backward through the graph a second time", "retain_graph=True",
            call=loss.backward)
    a2, y2 = _graph()
    loss2 = y2.sum()
    loss2.backward(retain_graph=True)
    loss2.backward()
    np.testing.assert_array_equal(a2.grad, [4.0, 4.0, 4.0])
