"""What ``compare`` shows beside its models (issue 16): the lookup baseline's validation
score as the floor line of the curves, the averaged checkpoint (``--average-last``) in the
table and the CSV, and the PyTorch tutorial's model as one more row
(``benchmarks/translate_tutorial_torch.py``)."""
import math
import xml.etree.ElementTree as ET

import matplotlib
import pytest

import viz
from models.reporting import compare_floor
from models.train import History


def _svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text")]


def _history(valid_bleus, **results):
    hist = History([dict(epoch=e + 1, loss=2.0 / (e + 1), valid_bleu=b, epoch_seconds=1.5,
                         parameters=1234) for e, b in enumerate(valid_bleus)])
    hist.results = results
    return hist


def _lookup(valid_bleu=12.5):
    valid = None if valid_bleu is None else {"bleu": valid_bleu, "bleu_cased": 9.0,
                                             "chrf": 30.0}
    return _history([], valid=valid, chosen_epoch=None)


# ------------------------------------------------------------------ the floor line
def test_the_floor_is_the_lookups_validation_score_or_none():
    trained = _history([3.0, 5.0], chosen_epoch=2)
    assert compare_floor({"attention": trained, "lookup": _lookup(12.5)}) == 12.5
    assert compare_floor({"attention": trained}) is None
    assert compare_floor({"lookup": _lookup(None), "attention": trained}) is None


def test_the_curves_draw_the_floor_as_a_labelled_dashed_line(tmp_path, monkeypatch):
    hist = _history([3.0, 5.0, 8.0])
    figures, save = [], viz.curves.save_figure
    monkeypatch.setattr(viz.curves, "save_figure",
                        lambda fig, path, **kw: (figures.append(fig), save(fig, path, **kw))[1])
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        p = viz.plot_compare({"attention": hist, "bahdanau": hist}, tmp_path / "c.svg",
                             floor=42.0)
    texts = _svg_texts(p)
    assert texts.count("lookup (floor)") == 1 and texts.count("attention") == 2
    score_axes = figures[0].axes[0]
    assert score_axes.get_ylim()[1] >= 42.0                # the axis reaches the floor
    floor_line = score_axes.get_lines()[-1]
    assert floor_line.get_linestyle() == "--" and list(floor_line.get_ydata()) == [42.0, 42.0]
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        q = viz.plot_compare({"attention": hist}, tmp_path / "d.svg", floor=1.0,
                             floor_label="$_floor$")
    assert "$_floor$" in _svg_texts(q) and "lookup (floor)" not in _svg_texts(q)
    assert len(figures[1].axes[0].get_legend().get_texts()) == 2
    assert len(figures[1].axes[1].get_legend().get_texts()) == 1      # the loss: no floor


@pytest.mark.parametrize("floor", [math.nan, math.inf, -math.inf, "12", True, [1.0]])
def test_a_bad_floor_is_one_line_before_drawing(tmp_path, floor):
    with pytest.raises(ValueError) as e:
        viz.plot_compare({"m": _history([1.0])}, tmp_path / "c.png", floor=floor)
    assert str(e.value) == (f"plot_compare: floor must be a finite number on the score axis "
                            f"or None, not {floor!r} (fix: pass the baseline's validation "
                            f"score, e.g. 45.4, or leave it out)")
    assert not (tmp_path / "c.png").exists()
