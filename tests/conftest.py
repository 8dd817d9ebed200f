"""Shared test settings: hypothesis runs >= 100 examples per property with no deadline
(numba compiles kernels on first use), the repository root is importable, and the places
of the real data: the whole corpora (``DATA``, beside the repository, absent in a fresh
clone) and the small licensed samples shipped in the repository (``SAMPLES``)."""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

settings.register_profile("ci", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = ROOT.parent / "shared" / "data"   # the whole corpora (../shared/data/SOURCES.md)
SAMPLES = ROOT / "samples"               # a few hundred lines of each (samples/README.md)


def needs_whole_corpus(path):
    """A ``skipif`` mark for a test that needs the whole corpus file ``path`` (a Path).

    The test is skipped, with a one-line reason naming the file, when ``path`` is not a
    file (as in a fresh clone, which has no ``../shared`` beside it); it runs unchanged
    when the file is there. Tests that only need some real data use ``SAMPLES`` instead.
    """
    return pytest.mark.skipif(
        not path.is_file(),
        reason=f"whole corpus {path} not found (it lives in ../shared/data; "
               f"see samples/README.md)")


def whole_or_sample(whole, sample):
    """The two parameters of a test that runs on a whole corpus and on its sample.

    ``whole`` and ``sample`` are Paths, or objects with a ``path`` attribute (a Path) that
    also carry what the test expects of that file. The results are two ``pytest.param``s
    with the ids ``whole`` (marked ``needs_whole_corpus``) and ``sample``, for
    ``pytest.mark.parametrize`` or ``pytest.fixture(params=...)``.
    """
    return [pytest.param(whole, id="whole",
                         marks=needs_whole_corpus(getattr(whole, "path", whole))),
            pytest.param(sample, id="sample")]


def pytest_terminal_summary(terminalreporter):
    """Print the hypothesis example count, so CI's output shows it (also with -q)."""
    s = settings.default
    terminalreporter.write_line(
        f"hypothesis: max_examples={s.max_examples} per property, deadline={s.deadline} "
        f"(profile from HYPOTHESIS_PROFILE, default 'ci')")


def only_error_line(capsys) -> str:
    """The one line a command wrote to stderr, besides progress-bar lines ("epoch ...");
    fails the test if there is not exactly one."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not ln.startswith("epoch ")]
    assert len(lines) == 1, err
    return lines[0]
