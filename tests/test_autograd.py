"""The engine's autograd semantics: accumulation, deep graphs, errors, no_grad, dtypes."""
import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import Tensor, no_grad


def test_reused_tensor_accumulates_gradients():
    a_np = np.array([1.5, -2.0, 3.0], dtype=np.float32)
    a = Tensor(a_np, requires_grad=True)
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_allclose(a.grad, 8 * a_np)


def test_diamond_graph_order():
    # y depends on x through two paths of different depth: toposort must finish both
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    u = x.exp()
    v = u * x
    y = (v + u.tanh()).sum()
    y.backward()
    xv = x.data
    expected = np.exp(xv) * xv + np.exp(xv) + (1 - np.tanh(np.exp(xv)) ** 2) * np.exp(xv)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_backward_through_10000_op_chain_has_no_recursion_error():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_backward_on_non_scalar_needs_a_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*not a scalar"):
        y.backward()
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 3)))


def test_second_backward_through_freed_graph_raises_and_retain_graph_works():
    x = Tensor(np.array([2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0])      # 4 + 4: accumulated
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing_and_works_as_decorator():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with no_grad():
        y = (w * 2).sum()
    assert not y.requires_grad and y.is_leaf

    @no_grad()
    def f(t):
        return t * 3

    assert not f(w).requires_grad
    assert (w * 3).requires_grad


def test_no_grad_and_scope_belong_to_the_thread_that_enters_them():
    import threading
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def other():
        with no_grad(), tg.scope("other thread"):
            inside.set()
            done.wait(5)
            seen["y"] = w * 2

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    z = w * 2                             # while the other thread sits in no_grad()
    done.set()
    t.join()
    assert z.requires_grad and z.grad_fn.scope == ()
    assert not seen["y"].requires_grad


def test_dtypes_float32_default_and_integers_never_require_grad():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64          # an explicit float64 array stays
    assert Tensor([1, 2]).dtype == np.int64
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert (x * 2.5).dtype == np.float32                  # Python scalars adopt the dtype


def test_numpy_array_on_the_left_defers_to_tensor():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_matmul_shape_error_names_shapes():
    a = Tensor(np.ones((2, 3)))
    b = Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        a @ b


def test_embedding_errors_name_vocab_id_and_position():
    w = Tensor(np.ones((5, 2)), requires_grad=True)
    with pytest.raises(IndexError, match=r"id 7 at position \(1, 0\).*size 5"):
        tg.functional.embedding(np.array([[0, 1], [7, 2]]), w)
    with pytest.raises(TypeError, match="integers"):
        tg.functional.embedding(np.array([0.0, 1.0]), w)


def test_cross_entropy_ignore_index_and_all_padding_rule():
    rng = np.random.default_rng(0)
    logits = Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    target = np.array([1, -100, 3, -100])
    loss = tg.functional.cross_entropy(logits, target, ignore_index=-100)
    lp = logits.data - np.log(np.exp(logits.data).sum(1, keepdims=True))
    assert loss.item() == pytest.approx(-(lp[0, 1] + lp[2, 3]) / 2)
    loss.backward()
    np.testing.assert_array_equal(logits.grad[[1, 3]], 0)
    logits.grad = None
    empty = tg.functional.cross_entropy(logits, np.full(4, -100), ignore_index=-100)
    empty.backward()
    assert empty.item() == 0 and np.all(logits.grad == 0)


def test_softmax_is_stable_for_huge_logits():
    x = Tensor(np.array([[1e4, -1e4, 0.0], [3e4, 3e4, 3e4]], dtype=np.float32), requires_grad=True)
    with np.errstate(all="raise"):
        y = x.softmax(-1)
        ce = tg.functional.cross_entropy(x, np.array([1, 0]))
        ce.backward()
    np.testing.assert_allclose(y.data.sum(-1), 1, rtol=1e-6)
    assert np.isfinite(ce.item()) and np.isfinite(x.grad).all()
    with np.errstate(all="raise"):
        s = Tensor(np.array([-1000.0, 1000.0])).sigmoid()
    np.testing.assert_allclose(s.data, [0.0, 1.0])


def test_parameter_updated_in_place_after_forward_raises_instead_of_wrong_gradient():
    w = tg.nn.Parameter(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt = tg.optim.SGD([w], lr=0.1)
    opt.step()
    with pytest.raises(RuntimeError, match=r"input 0 of Mul .*modified after the forward pass"):
        loss.backward()


def test_non_broadcastable_shapes_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add: shapes \[\(2, 3\), \(4,\)\] cannot be broadcast"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


def test_each_node_backward_runs_once_per_backward(monkeypatch):
    calls = {}
    for cls in (tg.ops.Mul, tg.ops.Add, tg.ops.Sum, tg.ops.Exp):
        orig = cls.backward

        def counted(self, g, *values, out, orig=orig):
            calls[id(self)] = calls.get(id(self), 0) + 1
            return orig(self, g, *values, out=out)
        monkeypatch.setattr(cls, "backward", counted)
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    e = x.exp()
    y = e * e + e * x          # e feeds three consumers; x feeds two
    y.sum().backward()
    assert len(calls) == 5 and set(calls.values()) == {1}   # exp, 2 muls, add, sum


def test_2000_step_unrolled_rnn_backpropagates_without_recursion_error():
    rng = np.random.default_rng(0)
    cell = tg.nn.LSTMCell(3, 4)
    x = Tensor(rng.standard_normal((2000, 1, 3)).astype(np.float32))
    h = c = Tensor(np.zeros((1, 4), dtype=np.float32))
    for t in range(2000):
        h, c = cell(x[t], (h, c))
    h.sum().backward()
    assert all(np.isfinite(p.grad).all() for p in cell.parameters())


def test_gradcheck_fails_on_nan_and_handles_noncontiguous_leaves():
    with pytest.raises(tg.GradcheckError), np.errstate(invalid="ignore"):
        tg.gradcheck(lambda a: a.log(), [np.array([-1.0, 2.0])])
    x = Tensor(np.arange(6.0).reshape(3, 2).T, requires_grad=True)
    assert tg.gradcheck(lambda t: t * 3, [x])


def test_intermediate_results_are_freed_after_backward():
    import gc
    import weakref
    x = Tensor(np.ones(3), requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y)
    z = (y * 2).sum()
    del y
    z.backward()
    gc.collect()
    assert ref() is None
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


def test_edge_values_relu_pow_where():
    r = Tensor(np.array([-np.inf, -1.0, 2.0])).relu().data
    assert np.array_equal(r, [0.0, 0.0, 2.0]) and not np.signbit(r[1])
    t = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    (t ** 0).sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 0.0])
    np.testing.assert_array_equal(tg.where(np.array([True, False]), 1.0, 2.0).data, [1.0, 2.0])
    f32 = Tensor(np.ones(3, dtype=np.float32))
    assert (f32 * np.ones(3)).dtype == np.float32      # a float64 array adopts float32


@pytest.mark.parametrize("call, message", [
    (lambda: Tensor(np.ones((2, 3))).permute(0, 3), "permute: dims"),
    (lambda: Tensor(np.ones((2, 3))).unsqueeze(7), "unsqueeze: axis 7"),
    (lambda: Tensor(np.ones((2, 3))).transpose(0, 5), "transpose: axis 5"),
    (lambda: Tensor(np.ones((2, 3))).reshape(4), r"reshape: a tensor of shape \(2, 3\)"),
    (lambda: Tensor(np.ones((2, 3))).softmax(2), "softmax: axis 2"),
    (lambda: tg.concat([Tensor(1.0), Tensor(2.0)]), "concat: axis 0"),
    (lambda: tg.concat([Tensor(np.ones((2, 2)))] * 2, axis=5), "concat: axis 5"),
    (lambda: tg.nn.LSTM(3, 4)(Tensor(np.ones((2, 0, 3)))), "no time steps"),
])
def test_bad_shapes_and_axes_give_clear_errors(call, message):
    with pytest.raises((ValueError, IndexError), match=message):
        call()


def test_hand_written_sgd_update_after_forward_is_caught():
    w = tg.nn.Parameter(np.array([1.0, 2.0]))
    loss = (w * 3.0).sum()
    loss.backward(retain_graph=True)
    w.data -= 0.1 * w.grad          # the book's SGD, by hand
    with pytest.raises(RuntimeError, match="modified after the forward pass"):
        loss.backward()
