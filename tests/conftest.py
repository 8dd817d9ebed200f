"""Shared test settings: hypothesis runs >= 100 examples per property with no deadline
(numba compiles kernels on first use), and the repository root is importable."""
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

settings.register_profile("ci", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = ROOT.parent / "shared" / "data"


def pytest_terminal_summary(terminalreporter):
    """Print the hypothesis example count, so CI's output shows it (also with -q)."""
    s = settings.default
    terminalreporter.write_line(
        f"hypothesis: max_examples={s.max_examples} per property, deadline={s.deadline} "
        f"(profile from HYPOTHESIS_PROFILE, default 'ci')")
