"""Higher-order gradients: ``create_graph=True`` and ``tinygrad_attn.grad`` against
``torch.autograd.grad`` (float64), and the classics a learner tries first: Newton's
method, the n-th derivative of tanh, Hessian-vector products, a gradient penalty.

The per-op second and third derivatives are driven by the op registry
(``tests/op_registry.py``) in ``test_every_op_second_and_third_derivative_match_torch``."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor, nn

from .op_registry import BY_NAME, REGISTRY
from .strategies import args

torch = pytest.importorskip("torch", reason="torch (test-only oracle) is not installed")


def _t(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _x(a):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------ every op, orders 2 and 3
SMOOTH = [op for op in REGISTRY if op.smooth and op.max_order is None]


def _derivatives(grad, requires, arrays, f, wrap, order=3):
    """[orders 1..order] of the gradients of sum(f(x) * W) w.r.t. each input, the k-th order
    being the gradient of sum_i(grad_i * V_i) of the previous one (a chain of Hessian-vector
    products); W, V fixed pseudo-random weights. Zeros where a derivative is identically 0
    (the previous one has no graph, or an input is unused)."""
    rng = np.random.default_rng(7)
    xs = [wrap(a) for a in arrays]
    y = f(*xs)
    shape = tuple(y.shape)
    loss = (y * wrap(np.cos(np.arange(int(np.prod(shape)))).reshape(shape), False)).sum()
    result = []
    for _ in range(order):
        if not requires(loss):
            result.append([np.zeros(np.shape(a)) for a in arrays])
            continue
        gs = grad(loss, xs)
        result.append([np.zeros(np.shape(a)) if g is None else _array(g)
                       for g, a in zip(gs, arrays)])
        loss = sum((g * wrap(rng.normal(size=np.shape(a)), False)).sum()
                   for g, a in zip(gs, arrays) if g is not None and requires(g))
        loss = loss if not isinstance(loss, int) else wrap(np.zeros(()), False)
    return result


def _array(g):
    if isinstance(g, Tensor):
        return g.data
    return g.detach().numpy(force=True)


def _ours(entry_case):
    return _derivatives(
        lambda out, xs: tg.grad(out, xs, create_graph=True, allow_unused=True),
        lambda t: t.requires_grad, entry_case.arrays, entry_case.engine,
        lambda a, rg=True: Tensor(np.asarray(a, dtype=np.float64), requires_grad=rg))


def _torch_layer_norm_composed(x, weight=None, bias=None):
    """torch's layer_norm from its primitive ops. Measured (torch 2.13): the third
    derivative of the native ``F.layer_norm`` w.r.t. x does not sum to 0 over the normalized
    axis (e.g. [11.3, 21.0] at x = [0, 0.3], weight = bias = 0), though layer_norm is
    invariant to adding a constant to x, so every derivative must; composed, torch agrees
    with this engine ([0.00457, -0.00457]). Orders 2 and 3 are checked against this."""
    c = x - x.mean(-1, keepdim=True)
    y = c / ((c * c).mean(-1, keepdim=True) + 1e-5).sqrt()
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


TORCH_COMPOSED = {"layer_norm": _torch_layer_norm_composed}


def _torch(entry_case):
    f = TORCH_COMPOSED.get(entry_case.op.name, entry_case.torch)
    return _derivatives(
        lambda out, xs: torch.autograd.grad(out, xs, create_graph=True, allow_unused=True),
        lambda t: t.requires_grad, entry_case.arrays, f,
        lambda a, rg=True: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg))


@pytest.mark.parametrize("entry", SMOOTH, ids=[op.name for op in SMOOTH])
@settings(max_examples=10)
@given(data=st.data())
def test_every_op_second_and_third_derivatives_match_torch(entry, data):
    case = entry.inputs(data)
    ours, ref = _ours(case), _torch(case)
    for order, (a, b) in enumerate(zip(ours, ref), 1):
        for k, (ga, gb) in enumerate(zip(a, b)):
            scale = max(1.0, float(np.max(np.abs(gb), initial=0.0)))
            np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-8 * scale,
                                       err_msg=f"{entry.name}: order {order}, input {k}")


def test_layer_norm_derivatives_of_every_order_are_shift_invariant():
    """The reason for TORCH_COMPOSED: layer_norm(x + c) = layer_norm(x), so the gradient of
    any derivative w.r.t. x sums to 0 over the normalized axis (ours does; see above)."""
    case = BY_NAME["layer_norm"].case(args(np.array([0.0, 0.3]), np.zeros(2), np.zeros(2)))
    for order in _ours(case):
        assert abs(order[0].sum()) < 1e-9
    assert abs(_torch(case)[2][0].sum()) < 1e-9      # the composed torch reference


def test_the_higher_order_test_covers_every_smooth_op():
    assert len(SMOOTH) >= 60
    first_order_only = [op.name for op in REGISTRY if op.max_order == 1]
    assert first_order_only == ["lstm_sequence", "gru_sequence"]


# ------------------------------------------------------------------ semantics
def test_grad_returns_tensors_and_leaves_dot_grad_alone():
    x = _x([1.0, 2.0])
    y = (x * x * x).sum()
    g, = tg.grad(y, x)
    assert isinstance(g, Tensor) and not g.requires_grad and x.grad is None
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)


def test_backward_create_graph_makes_grad_a_differentiable_tensor():
    x = _x([0.5, -1.5])
    (x ** 3).sum().backward(create_graph=True)
    gx = x.grad
    assert isinstance(gx, Tensor) and gx.requires_grad and gx.grad_fn is not None
    x.grad = None
    gx.sum().backward()                                  # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(x.grad, 6 * x.data)


def test_create_graph_keeps_the_graph_by_default_and_backward_frees_it():
    x = _x([0.3])
    y = (x.exp() * x).sum()
    g, = tg.grad(y, x, create_graph=True)
    g2, = tg.grad(y, x)                   # retain_graph defaulted to create_graph=True
    np.testing.assert_allclose(g.data, g2.data)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tg.grad(y, x)


def test_grad_errors_are_one_line_and_name_the_fix():
    x, unused = _x([1.0]), _x([2.0])
    with pytest.raises(RuntimeError, match=r"input 1 was not used .*allow_unused=True"):
        tg.grad((x * 2).sum(), [x, unused])
    g = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert g[1] is None and g[0].item() == 2.0
    with pytest.raises(RuntimeError, match=r"input 0 .* does not require grad"):
        tg.grad((x * 2).sum(), Tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"1 grad_outputs for 2 outputs"):
        tg.grad([x.sum(), x.sum()], x, grad_outputs=[None])


def test_grad_of_several_outputs_and_grad_outputs_match_torch():
    a = np.array([[0.2, -0.7], [1.1, 0.4]])
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    x, xt = _x(a), _t(a)
    outs = [x.tanh() * x, (x * x).sum()]
    outs_t = [xt.tanh() * xt, (xt * xt).sum()]
    g, = tg.grad(outs, x, grad_outputs=[w, None], create_graph=True)
    gt, = torch.autograd.grad(outs_t, xt, grad_outputs=[_t(w, False), None], create_graph=True)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-12)
    h, = tg.grad(g.sum(), x)
    ht, = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(h.data, ht.numpy(), rtol=1e-10, atol=1e-12)


def test_the_fused_lstm_refuses_create_graph_and_names_the_option():
    lstm = nn.LSTM(3, 4, batch_first=True)
    for p in lstm.parameters():
        p.data = p.data.astype(np.float64)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 5, 3)))
    out, _ = lstm(x)
    with pytest.raises(RuntimeError, match=r"fused LSTM.*fused=False"):
        tg.grad(out.sum(), lstm.weight_hh_l0, create_graph=True)


def test_the_composed_lstm_has_second_derivatives_matching_torch():
    rng = np.random.default_rng(1)
    ours = nn.LSTM(3, 4, batch_first=True, fused=False)
    ref = torch.nn.LSTM(3, 4, batch_first=True).double()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.data = rng.normal(scale=0.5, size=p.shape)
            getattr(ref, name).copy_(torch.from_numpy(p.data))
    x = rng.normal(size=(2, 4, 3))
    out, _ = ours(Tensor(x))
    out_t, _ = ref(torch.from_numpy(x))
    w, wt = ours.weight_hh_l0, ref.weight_hh_l0
    g, = tg.grad((out * out).sum(), w, create_graph=True)
    gt, = torch.autograd.grad((out_t * out_t).sum(), wt, create_graph=True)
    v = rng.normal(size=w.shape)
    hv, = tg.grad((g * Tensor(v)).sum(), w)               # a Hessian-vector product
    hvt, = torch.autograd.grad((gt * torch.from_numpy(v)).sum(), wt)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hv.data, hvt.numpy(), rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ the classics
def test_newtons_method_finds_the_minimum_of_a_quartic():
    """f(x) = x^4 - 2x^2 from x = 2: x <- x - f'(x) / f''(x) converges to 1 (the example of
    Deep Learning from Scratch 3, step 33), quadratically."""
    x = _x(2.0)
    errors = []
    for _ in range(7):
        y = x ** 4 - 2 * x ** 2
        dy, = tg.grad(y, x, create_graph=True)
        d2y, = tg.grad(dy, x)
        x = _x(x.data - dy.data / d2y.data)
        errors.append(abs(x.item() - 1.0))
    assert errors[-1] < 1e-12
    assert errors[3] < errors[2] ** 2 * 10            # quadratic convergence


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_nth_derivative_of_tanh_matches_torch_and_the_closed_form(n):
    pts = np.linspace(-2, 2, 7)
    x, xt = _x(pts), _t(pts)
    y, yt = x.tanh(), xt.tanh()
    for _ in range(n):
        y, = tg.grad(y.sum(), x, create_graph=True)
        yt, = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    t = np.tanh(pts)
    closed = {1: 1 - t ** 2, 2: -2 * t * (1 - t ** 2), 3: (1 - t ** 2) * (6 * t ** 2 - 2)}
    if n in closed:
        np.testing.assert_allclose(y.data, closed[n], rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_equals_the_hessian_times_v():
    """For f(x) = sum(softmax(Ax) * log_softmax(Ax)) (an entropy), H v from two grad calls
    equals the full Hessian (built row by row) times v."""
    rng = np.random.default_rng(2)
    A, x0, v = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)

    def f(x):
        z = Tensor(A) @ x
        return (z.softmax(-1) * z.log_softmax(-1)).sum()
    x = _x(x0)
    g, = tg.grad(f(x), x, create_graph=True)
    hv, = tg.grad((g * Tensor(v)).sum(), x)
    rows = []
    for i in range(3):
        x = _x(x0)
        g, = tg.grad(f(x), x, create_graph=True)
        rows.append(tg.grad(g[i], x)[0].data)
    H = np.array(rows)
    np.testing.assert_allclose(H, H.T, atol=1e-12)                   # symmetric
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-10, atol=1e-12)


def test_gradient_penalty_term_trains_like_torch():
    """A WGAN-GP-style penalty (Gulrajani et al. 2017, eq. 3): (||d D(x)/dx|| - 1)^2 for a
    small MLP critic D; its gradient w.r.t. the weights needs second derivatives."""
    rng = np.random.default_rng(3)
    W1, b1, W2 = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(1, 5))
    xs = rng.normal(size=(4, 3))
    results = []
    for lib in ("ours", "torch"):
        T = (lambda a: _x(a)) if lib == "ours" else (lambda a: _t(a))
        w1, c1, w2, x = T(W1), T(b1), T(W2), T(xs)
        h = ((x @ w1.T) + c1).tanh() if lib == "ours" else torch.tanh(x @ w1.T + c1)
        d = (h @ w2.T).sum()
        if lib == "ours":
            gx, = tg.grad(d, x, create_graph=True)
            norm = ((gx * gx).sum(-1) + 1e-12).sqrt()
            penalty = ((norm - 1) ** 2).mean()
            grads = tg.grad(penalty, [w1, c1, w2])
            results.append([g.data for g in grads])
        else:
            gx, = torch.autograd.grad(d, x, create_graph=True)
            norm = ((gx * gx).sum(-1) + 1e-12).sqrt()
            penalty = ((norm - 1) ** 2).mean()
            results.append([g.numpy() for g in torch.autograd.grad(penalty, [w1, c1, w2])])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_third_derivative_of_a_product_of_exp_and_sin_like_series():
    """d^3/dx^3 of x^2 e^x = e^x (x^2 + 6x + 6)."""
    x = _x([0.0, 0.5, -1.0])
    y = x * x * x.exp()
    for _ in range(3):
        y, = tg.grad(y.sum(), x, create_graph=True)
    e = np.exp(x.data)
    np.testing.assert_allclose(y.data, e * (x.data ** 2 + 6 * x.data + 6), rtol=1e-12)
    assert math.isfinite(float(y.sum()))


# ------------------------------------------------------------------ the docs chapter
DOCS = __import__("pathlib").Path(__file__).resolve().parents[1] / "docs"


def test_the_docs_chapter_runs_and_the_korean_one_has_the_same_code_and_sections(tmp_path):
    import sys
    sys.path.insert(0, str(DOCS))
    import run_docs
    en, ko = DOCS / "higher_order.md", DOCS / "ko" / "higher_order.md"
    assert run_docs.code_blocks(en) == run_docs.code_blocks(ko)
    assert [h.split(" ")[:2] for h in run_docs.headings(en) if h.startswith("## ")] == \
        [h.split(" ")[:2] for h in run_docs.headings(ko) if h.startswith("## ")]
    ns = run_docs.run(en, tmp_path)
    assert (tmp_path / "pictures" / "tanh_derivative_graph.svg").stat().st_size > 1000
    assert (DOCS / "pictures" / "tanh_derivative_graph.svg").stat().st_size > 1000
    H = np.diag(2 * (1 - np.tanh(ns["A"].data @ ns["w"].data) ** 2)
                * (1 - 3 * np.tanh(ns["A"].data @ ns["w"].data) ** 2))
    np.testing.assert_allclose(ns["hv"].data, ns["A"].data.T @ H @ ns["A"].data @ ns["v"].data,
                               rtol=1e-10)
