"""Float64 central-difference gradient check of every op in the registry
(``tests/op_registry.py``) on hypothesis-drawn inputs from each op's domain, and on its
fixed examples.

Binary ops get mutually broadcastable shape pairs (0-4 dims, size-1 and 0-size axes), so
the one un-broadcasting path of the engine is exercised by every op. Entries whose domain
sits on kinks or ties on purpose (``smooth=False``) are left to the parity tests: a
central difference is not a derivative there.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
from tinygrad_attn import Tensor
from tinygrad_attn import functional as F

from .op_registry import REGISTRY

TOL = dict(eps=1e-6, atol=1e-5, rtol=1e-3)
SMOOTH = [op for op in REGISTRY if op.smooth]
EXAMPLES = [pytest.param(case, id=f"{op.name}-{i}")
            for op in SMOOTH for i, case in enumerate(op.example_cases())]


@pytest.mark.parametrize("op", SMOOTH, ids=lambda op: op.name)
@given(data=st.data())
def test_gradcheck(op, data):
    case = op.inputs(data)
    assert tg.gradcheck(case.engine, case.arrays, **TOL)


@pytest.mark.parametrize("case", EXAMPLES)
def test_gradcheck_on_the_fixed_examples(case):
    assert tg.gradcheck(case.engine, case.arrays, **TOL)


def test_gradcheck_reports_worst_element():
    class Wrong(tg.Function):
        def forward(self, x):
            return x * x

        def backward(self, g, x, out):
            return g * 3.0     # wrong: should be 2x

    with pytest.raises(tg.GradcheckError, match=r"element \(0,\): analytic .* vs numeric"):
        tg.gradcheck(lambda x: Wrong.apply(x), (np.array([1.0, 2.0]),))


def test_dropout_train_eval_and_scaling():
    x = Tensor(np.ones((200, 100), dtype=np.float32))
    y = F.dropout(x, 0.25, rng=np.random.default_rng(0)).data
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.25, training=False) is x
    layer = tg.nn.Dropout(0.5).eval()
    assert layer(x) is x


def test_one_hot_argmax_and_their_errors():
    np.testing.assert_array_equal(F.one_hot(np.array([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(IndexError, match=r"id 3 at position \(1,\)"):
        F.one_hot(np.array([0, 3]), 3)
    t = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(t.argmax(axis=1).data, [1, 0])
    assert not t.argmax().requires_grad
