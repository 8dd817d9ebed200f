"""The README promise: its first screen holds exactly two commands, and .ci/run runs the
second one verbatim."""
import re

from .conftest import ROOT


def readme_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [ln for ln in first_block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_has_two_commands_and_ci_runs_the_test_one():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("tinygrad-attn train")
    assert "pytest" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert cmds[1] in ci


def test_the_readmes_example_op_is_the_engines_tanh_and_runs_every_order():
    """The README's ``class Tanh(Function)`` block is the rule of ``ops.Tanh``, and the class
    it defines differentiates twice (the rule gets Tensors with create_graph=True)."""
    import inspect

    import numpy as np

    import tinygrad_attn as tg
    from tinygrad_attn import ops
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(class Tanh\(Function\):.*?)```", text, re.S).group(1)
    for line in block.splitlines()[2:]:
        assert line.strip() in inspect.getsource(ops.Tanh), line
    namespace = {"Function": tg.Function, "np": np}
    exec(block, namespace)
    x = tg.Tensor(np.array([0.3, -1.0]), requires_grad=True)
    d1, = tg.grad(namespace["Tanh"].apply(x).sum(), x, create_graph=True)
    d2, = tg.grad(d1.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t ** 2), rtol=1e-12)


def test_the_readmes_explorer_example_writes_a_page(tmp_path, monkeypatch):
    import viz
    if not viz.has_dot():
        import pytest
        pytest.skip("the graphviz 'dot' program is not installed (apt-get install graphviz)")
    text = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*Step through the backward pass\.\*\*.*?```python\n(.*?)```", text,
                      re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(block, {"__name__": "__readme__"})
    page = (tmp_path / "neuron.html").read_text(encoding="utf-8")
    assert "explorer-data" in page and "<svg" in page
