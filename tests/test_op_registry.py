"""The op registry (``tests/op_registry.py``) is complete and honest: every ``Function``
subclass of the engine has an entry, every entry runs the classes it names, and the
entries' fields are what the tests that iterate them expect."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn import Tensor

from .op_registry import REGISTRY, Inputs, engine_functions, missing_entries


def test_every_engine_function_has_a_registry_entry():
    missing = missing_entries()
    assert not missing, (
        f"Function classes without an entry in tests/op_registry.py: {', '.join(missing)} "
        f"(fix: add an Op(...) naming each in functions=, with its engine and torch "
        f"callables and an input domain; a fused op may set max_order=1)")


def test_every_class_an_entry_names_is_an_engine_function():
    known = engine_functions()
    for op in REGISTRY:
        unknown = [name for name in op.functions if name not in known]
        assert not unknown, f"{op.name} names {unknown}, which are not engine Functions"


def test_the_coverage_helper_finds_subclasses_at_any_depth_in_engine_modules_only():
    class Root:
        pass

    class Child(Root):
        pass

    class Grandchild(Child):
        pass

    class InATest(Root):
        pass

    Child.__module__ = Grandchild.__module__ = "tinygrad_attn.somewhere"
    assert set(engine_functions(Root)) == {"Child", "Grandchild"}
    only_child = [dataclasses.replace(REGISTRY[0], name="child", functions=("Child",))]
    assert missing_entries(only_child, root=Root) == ["Grandchild"]


def test_entries_have_the_fields_the_tests_rely_on():
    names = [op.name for op in REGISTRY]
    assert len(names) == len(set(names))
    for op in REGISTRY:
        assert op.functions and all(isinstance(n, str) for n in op.functions), op.name
        assert callable(op.engine) and callable(op.torch), op.name
        assert isinstance(op.domain, st.SearchStrategy), op.name
        assert op.max_order in (None, 1) and isinstance(op.smooth, bool), op.name
        for example in op.examples:
            assert isinstance(example, Inputs) and isinstance(example.extra, dict), op.name
            assert all(a.dtype == np.float64 for a in example.arrays), op.name


def _classes_in_graph(y) -> set:
    """Names of the classes of every node of y's graph (through grad_fn/next_functions)."""
    seen, stack, names = set(), [y.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        stack.extend(fn for fn, _ in node.next_functions)
    return names


@pytest.mark.parametrize("op", REGISTRY, ids=lambda op: op.name)
@settings(max_examples=20)
@given(data=st.data())
def test_each_entry_runs_the_functions_it_names(op, data):
    case = op.inputs(data)
    for c in [case] + op.example_cases():
        y = c.engine(*(Tensor(a, requires_grad=True) for a in c.arrays))
        assert isinstance(y, Tensor) and y.dtype == np.float64, op.name
        absent = set(op.functions) - _classes_in_graph(y)
        assert not absent, f"{op.name} names {sorted(absent)} but its graph has none"
