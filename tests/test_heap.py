"""tinygrad_attn.heap: freed array memory stays in glibc's heap (fewer page faults per
step), the switch that turns it off, and the hostile values of that switch."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_attn import heap

ROOT = Path(__file__).resolve().parents[1]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# a step's mix of fresh arrays (12, 8 and 4 MiB), ten times after a first one; numpy's
# transparent huge pages off, so that every 4 KiB page first touched counts one fault
_FAULTS = """
import json, resource
import numpy as np
np._core.multiarray._set_madvise_hugepage(False)
import tinygrad_attn
def step():
    a = np.ones(3 * 2**20, np.float32)
    b = np.ones(2 * 2**20, np.float32)
    c = np.ones(2**20, np.float32)
    return float(a[0] + b[0] + c[0])
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before,
                  "applied": tinygrad_attn.heap.applied()}))
"""
PAGES_PER_STEP = 6 * 2**20 * 4 // 4096       # 24 MiB of 4 KiB pages


def _child(code, value=None):
    env = {k: v for k, v in os.environ.items() if k != heap.ENV_FLAG}
    if value is not None:
        env[heap.ENV_FLAG] = value
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's (Linux)")
def test_a_steps_fresh_arrays_reuse_freed_memory_instead_of_faulting():
    out = _child(_FAULTS)
    assert out.returncode == 0, out.stderr
    kept = json.loads(out.stdout)
    assert kept["applied"] is True
    assert kept["faults"] < PAGES_PER_STEP // 10           # ten steps: < 1 % of one step's pages
    # the same with the setting off: glibc returns the memory and every step faults it in
    out = _child(_FAULTS, "0")
    assert out.returncode == 0, out.stderr
    system = json.loads(out.stdout)
    assert system["applied"] is False
    assert system["faults"] > 10 * PAGES_PER_STEP // 2


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's (Linux)")
def test_import_applies_it_once_and_it_is_reported():
    assert heap.applied() is True                         # this test process imported it
    assert heap.keep_freed_memory() is True               # idempotent


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(heap, "_applied", False)
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("", ""))
    assert heap.keep_freed_memory() is False and heap.applied() is False
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert heap.keep_freed_memory() is False


@pytest.mark.parametrize("value, on", [("0", False), ("off", False), ("FALSE", False),
                                       ("no", False), ("1", True), ("On", True), ("", True),
                                       (" yes ", True)])
def test_the_environment_variable_reads_on_and_off(monkeypatch, value, on):
    monkeypatch.setenv(heap.ENV_FLAG, value)
    assert heap.env_enabled() is on


MESSAGE = ("TINYGRAD_ATTN_KEEP_FREED_MEMORY={!r} is neither on nor off (fix: set it to 0 to "
           "keep glibc's own malloc thresholds, 1 to keep freed memory for reuse)")


@pytest.mark.parametrize("value", ["2", "maybe", "-1", "nan", "\u00e9t\u00e9"])
def test_an_unreadable_environment_variable_is_one_line_with_the_fix(monkeypatch, value):
    monkeypatch.setenv(heap.ENV_FLAG, value)
    with pytest.raises(ValueError) as e:
        heap.env_enabled()
    assert str(e.value) == MESSAGE.format(value)


def test_off_or_unreadable_at_import_leaves_glibc_alone_and_import_still_works():
    code = "import tinygrad_attn; print(tinygrad_attn.heap.applied())"
    out = _child(code, "off")
    assert (out.returncode, out.stdout, out.stderr) == (0, "False\n", "")
    out = _child(code, "maybe")
    assert out.returncode == 0 and out.stdout == "False\n"
    warning = [line for line in out.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warning) == 1
    assert warning[0].endswith("RuntimeWarning: " + MESSAGE.format("maybe")
                               + "; glibc's own thresholds are kept")


def test_the_command_line_refuses_a_bad_value_before_any_work(tmp_path, monkeypatch, capsys):
    from models.cli import main
    monkeypatch.setenv(heap.ENV_FLAG, "maybe")
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("tinygrad-attn train: error: "
                                       + MESSAGE.format("maybe") + "\n")
    assert not out.exists()
