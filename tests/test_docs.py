"""The walkthrough in docs/: every code block runs, every picture it shows is drawn by its
own code (and is in the repository), and the Korean walkthrough matches the English one
section for section with the same code."""
import re
import sys
from pathlib import Path

import pytest

import viz

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import run_docs  # noqa: E402

EN, KO = DOCS / "walkthrough.md", DOCS / "ko" / "walkthrough.md"


def _pictures(path):
    """Picture files a Markdown file shows or links, relative to docs/pictures/."""
    text = path.read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\]\((?:\.\./)?pictures/([^)\s]+)\)", text)))


def test_korean_walkthrough_matches_the_english_one_section_for_section():
    en, ko = run_docs.headings(EN), run_docs.headings(KO)
    assert len(en) >= 6
    assert [h.split(" ")[0] for h in en] == [h.split(" ")[0] for h in ko]      # levels
    numbered = [h.split(" ")[1] for h in en if h.startswith("## ")]
    assert numbered == [h.split(" ")[1] for h in ko if h.startswith("## ")]    # 1. .. 5.
    assert run_docs.code_blocks(EN) == run_docs.code_blocks(KO)
    assert _pictures(EN) == _pictures(KO)
    assert "한국어" in EN.read_text(encoding="utf-8") or "Korean" in EN.read_text(
        encoding="utf-8")


def test_every_picture_in_the_docs_is_in_the_repository():
    for name in _pictures(EN):
        assert (DOCS / "pictures" / name).stat().st_size > 1000, name


@pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not installed")
def test_every_code_block_of_the_walkthrough_runs_and_draws_its_pictures(tmp_path):
    namespace = run_docs.run(EN, tmp_path)
    for name in _pictures(EN):                 # each picture is made by the docs' own code
        assert (tmp_path / "pictures" / name).stat().st_size > 1000, name
    assert namespace["history"].results["test_chosen"]["accuracy"] > 0.9   # it learned the task
    assert namespace["answer"].count("-") == 2
