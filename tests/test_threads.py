"""BLAS threads that follow the free cores (tinygrad_attn.threads, issue 17 point 3)."""
import math
import os
import subprocess
import sys
import time

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from tinygrad_attn import threads as T

STAT = """cpu  100 0 50 1000 20 0 0 0 0 0
cpu0 40 0 20 500 10 0 5 0 0 0
cpu1 60 0 30 500 10 0 0 3 0 0
intr 12345
procs_running 3
"""


def blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_busy_seconds_counts_all_but_idle_and_iowait_of_the_given_cpus():
    hz = os.sysconf("SC_CLK_TCK")
    assert T._busy_seconds(STAT, {0}) == pytest.approx((40 + 20 + 5) / hz)
    assert T._busy_seconds(STAT, {1}) == pytest.approx((60 + 30 + 3) / hz)
    assert T._busy_seconds(STAT, {0, 1}) == pytest.approx((65 + 93) / hz)
    assert T._busy_seconds(STAT, {7}) is None            # no such cpu line
    assert T._busy_seconds("\n" + STAT + "\n\n", {0}) == T._busy_seconds(STAT, {0})


def test_others_busy_is_the_machines_busy_time_less_our_own_over_the_wall_time():
    a = T.CpuSample(wall=10.0, busy=100.0, own=5.0, load=None)
    b = T.CpuSample(wall=12.0, busy=103.8, own=6.0, load=None)    # 3.8 s busy, 1.0 ours
    assert T.others_busy(a, b) == pytest.approx(1.4)
    idle = T.CpuSample(wall=12.0, busy=100.5, own=6.0, load=None)  # rounding below ours
    assert T.others_busy(a, idle) == 0.0
    assert T.others_busy(b, a) is None                             # no time passed


def test_others_busy_falls_back_to_the_load_average_less_our_own_rate():
    a = T.CpuSample(wall=0.0, busy=None, own=0.0, load=None)
    b = T.CpuSample(wall=2.0, busy=None, own=2.0, load=1.75)       # we used 1 core
    assert T.others_busy(a, b) == pytest.approx(0.75)
    assert T.others_busy(a, T.CpuSample(2.0, None, 2.0, None)) is None


@pytest.mark.parametrize("cores, others, ceiling, want", [
    (2, 0.0, 2, 2), (2, 0.3, 2, 2), (2, 0.6, 2, 1), (2, 1.0, 2, 1), (2, 1.9, 2, 1),
    (2, 0.0, 1, 1), (4, 1.0, 4, 3), (4, 0.0, 2, 2), (1, 0.0, 8, 1)])
def test_threads_for_the_free_cores(cores, others, ceiling, want):
    assert T.threads_for(cores, others, ceiling) == want


class FakeClock:
    """Samples that the test writes: another process busy ``others`` cores."""

    def __init__(self):
        self.wall, self.busy, self.own, self.others = 0.0, 0.0, 0.0, 0.0

    def advance(self, seconds, others, own_rate=1.0):
        self.wall += seconds
        self.own += own_rate * seconds
        self.busy += (own_rate + others) * seconds

    def __call__(self):
        return T.CpuSample(self.wall, self.busy, self.own, None)


@pytest.fixture
def two_blas_threads(monkeypatch):
    monkeypatch.delenv(T.ENV_FLAG, raising=False)
    monkeypatch.setattr(T, "available_cores", lambda: 2)
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_adapter_drops_to_one_thread_under_load_and_returns_when_it_ends(two_blas_threads):
    clock = FakeClock()
    with T.ThreadAdapter(0.5, sampler=clock) as ad:
        assert (ad.original, ad.threads) == (2, 2)
        clock.advance(0.3, others=1.0)
        assert ad.update() == 2 and blas_threads() == 2          # not yet an interval
        clock.advance(0.3, others=1.0)
        assert ad.update() == 1 and blas_threads() == 1          # one core taken
        clock.advance(0.6, others=0.05)
        assert ad.update() == 2 and blas_threads() == 2          # free again
        clock.advance(0.6, others=1.0)
        assert ad.update() == 1
        assert [h[2] for h in ad.history] == [1, 2, 1]
    assert blas_threads() == 2                                    # restored on exit


def test_adapter_never_exceeds_the_threads_the_blas_started_with(monkeypatch):
    monkeypatch.delenv(T.ENV_FLAG, raising=False)
    monkeypatch.setattr(T, "available_cores", lambda: 2)
    clock = FakeClock()
    with threadpool_limits(limits=1, user_api="blas"):
        ad = T.ThreadAdapter(0.5, sampler=clock)
        clock.advance(1.0, others=0.0)
        assert ad.update() == 1 and blas_threads() == 1


@pytest.mark.parametrize("how", ["env", "argument"])
def test_adapter_can_be_turned_off(two_blas_threads, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv(T.ENV_FLAG, "0")
    clock = FakeClock()
    ad = T.ThreadAdapter(0.5, sampler=clock, **({"enabled": False} if how == "argument" else {}))
    clock.advance(1.0, others=1.0)
    assert ad.update() == 2 and blas_threads() == 2 and ad.history == []


@pytest.mark.parametrize("value, on", [("0", False), ("off", False), ("FALSE", False),
                                       ("no", False), ("1", True), ("On", True), ("", True),
                                       (" yes ", True)])
def test_the_environment_variable_reads_on_and_off(monkeypatch, value, on):
    monkeypatch.setenv(T.ENV_FLAG, value)
    assert T.env_enabled() is on


@pytest.mark.parametrize("value", ["2", "maybe", "-1", "nan"])
def test_an_unreadable_environment_variable_is_one_line_with_the_fix(monkeypatch, value):
    monkeypatch.setenv(T.ENV_FLAG, value)
    with pytest.raises(ValueError) as e:
        T.ThreadAdapter()
    assert str(e.value) == (f"TINYGRAD_ATTN_ADAPT_THREADS={value!r} is neither on nor off "
                            f"(fix: set it to 0 to keep the BLAS's own thread count, 1 to "
                            f"adapt it)")


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "1", None, True])
def test_adapter_rejects_a_bad_interval(bad):
    with pytest.raises(ValueError) as e:
        T.ThreadAdapter(bad)
    assert str(e.value) == (f"ThreadAdapter: interval must be a number of seconds > 0, got "
                            f"{bad!r} (fix: e.g. interval=0.5)")


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc/stat")
def test_a_real_busy_process_is_seen_as_about_one_core():
    """A spinning child on this process's CPUs shows as >= 0.6 cores busy over a second
    (more if the machine has other work too; never our own time)."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        a = T.sample()
        time.sleep(1.0)
        b = T.sample()
    finally:
        child.kill()
        child.wait()
    assert T.others_busy(a, b) >= 0.6


def test_training_adapts_the_blas_threads_before_every_step(monkeypatch):
    """models.train's loop asks the adapter before each step and restores the BLAS's
    threads at the end of the epoch (a fake adapter counts the calls)."""
    from models import train as train_mod
    from models.char_dataset import load_dataset

    calls = {"update": 0, "exit": 0}

    class Counting:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            calls["exit"] += 1

        def update(self):
            calls["update"] += 1
            return 1

    monkeypatch.setattr(train_mod, "ThreadAdapter", Counting)
    data = load_dataset(n_generated=200, generator_seed=4)
    config = train_mod.TrainConfig(model="seq2seq", hidden_size=6, wordvec_size=3, epochs=2,
                                   batch_size=32)
    _, history = train_mod.train(data, config, log=lambda *a: None)
    steps = sum(rec["steps"] + rec["skipped_steps"] for rec in history)
    assert len(history) == 2 and calls["exit"] == 2
    assert calls["update"] == steps > 0


def test_the_command_line_refuses_a_bad_environment_variable_before_any_work(tmp_path,
                                                                            monkeypatch, capsys):
    from models.cli import main
    monkeypatch.setenv(T.ENV_FLAG, "maybe")
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "tinygrad-attn train: error: TINYGRAD_ATTN_ADAPT_THREADS='maybe' is neither on nor off "
        "(fix: set it to 0 to keep the BLAS's own thread count, 1 to adapt it)\n")
    assert not out.exists()
