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
