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


# ------------------------------------------------------------------ the averaged checkpoint
def _scores(bleu):
    return {"bleu_cased": bleu - 1, "bleu_cased_ci": [bleu - 3, bleu + 1], "bleu": bleu,
            "bleu_ci": [bleu - 2, bleu + 2], "chrf": bleu + 10, "chrf_ci": [bleu + 8, bleu + 12],
            "unseen_bleu_cased": bleu - 5, "unseen_items": 7}


def _data():
    from types import SimpleNamespace
    return SimpleNamespace(source="pairs.txt", metric="bleu", src_test=[0] * 20)


def _averaged(chosen: bool):
    average = {"epochs": [2, 3], "chosen": chosen, "valid_bleu": 9.5, "valid_bleu_cased": 8.0,
               "valid_chrf": 31.0}
    return _history([3.0, 5.0, 8.0], chosen_epoch="avg 2-3" if chosen else 3,
                    test_chosen=_scores(20.0), test_last=_scores(18.0), average=average)


def test_the_table_shows_the_averaged_checkpoints_validation_score():
    from models.reporting import comparison_report
    hists = {"transformer": _averaged(True), "bahdanau": _history(
        [4.0, 6.0], chosen_epoch=2, test_chosen=_scores(15.0), test_last=_scores(15.0)),
        "lookup": _history([], chosen_epoch=None, test_chosen=_scores(12.0),
                           test_last=_scores(12.0), fit_seconds=0.25, valid={"bleu": 11.0})}
    text = comparison_report(_data(), hists, seed=0)
    lines = text.splitlines()
    head = next(ln for ln in lines if ln.startswith("model"))
    assert head.split()[:8] == ["model", "valid", "1", "valid", "2", "valid", "3", "valid"]
    assert head.split()[8:10] == ["avg", "chosen"]
    rows = {ln.split()[0]: ln for ln in lines if ln.split()[:1] in
            (["transformer"], ["bahdanau"], ["lookup"])}
    # the chosen cell "avg 2-3" keeps its own column: right-aligned under "chosen"
    at = head.index("chosen") + len("chosen")
    assert rows["transformer"][at - len("avg 2-3"):at] == "avg 2-3"
    assert rows["transformer"].split()[1:5] == ["3.00", "5.00", "8.00", "9.50"]
    assert rows["bahdanau"].split()[1:5] == ["4.00", "6.00", "-", "2"]       # no average
    assert rows["lookup"].split()[1:6] == ["-"] * 5           # 3 epochs, avg, chosen
    assert ("valid avg: lower-cased validation BLEU of the mean of the last epochs' weights "
            "(--average-last: transformer epochs 2-3 (chosen)); where chosen reads 'avg A-B', "
            "the test columns score that average") in lines
    assert all(len(ln) == len(head) for ln in rows.values())


def test_no_average_no_column():
    from models.reporting import comparison_table
    text = comparison_table({"attention": _history([1.0], chosen_epoch=1,
                                                   test_chosen=_scores(5.0),
                                                   test_last=_scores(5.0))}, "bleu")
    assert "valid avg" not in text and text.splitlines()[2].split()[:3] == ["attention",
                                                                           "1.00", "1"]


def test_the_csv_holds_the_average_and_the_lookups_validation_score(tmp_path):
    import csv
    from models.reporting import write_compare_csv
    lookup = _history([], chosen_epoch=None, test_chosen=_scores(12.0),
                      test_last=_scores(12.0), fit_seconds=0.25,
                      valid={"bleu": 11.0, "bleu_cased": 10.0, "chrf": 30.0})
    path = write_compare_csv({"transformer": _averaged(False), "lookup": lookup},
                             tmp_path / "compare.csv")
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    assert [(r["model"], r["epoch"]) for r in records] == [
        ("transformer", "1"), ("transformer", "2"), ("transformer", "3"),
        ("transformer", "test"), ("lookup", "test")]
    test = records[3]
    assert (test["chosen_epoch"], test["average_epochs"], test["average_chosen"]) == \
        ("3", "2-3", "False")
    assert float(test["average_valid_bleu"]) == 9.5 and float(test["average_valid_chrf"]) == 31
    assert float(test["test_chosen_bleu_ci_low"]) == 18.0 and test["valid_bleu"] == ""
    assert float(records[4]["valid_bleu"]) == 11.0 and records[4]["average_epochs"] == ""


def test_compare_with_average_last_shows_it_in_the_table_and_the_csv(tmp_path, capsys):
    import csv
    import json

    from models.cli import main
    from tests.conftest import SAMPLES
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "lookup,attention", "--data",
                 str(SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt"), "--epochs", "2",
                 "--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64",
                 "--average-last", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    average = json.loads((out / "attention" / "results.json").read_text())["average"]
    row = next(ln.split() for ln in text.splitlines() if ln.startswith("attention "))
    assert float(row[3]) == round(average["valid_bleu"], 2)          # after the 2 epochs
    assert "(--average-last: attention epochs 1-2" in text
    with open(out / "compare.csv", newline="") as f:
        test = [r for r in csv.DictReader(f) if r["epoch"] == "test"]
    assert [r["model"] for r in test] == ["lookup", "attention"]
    assert test[1]["average_epochs"] == "1-2" and \
        float(test[1]["average_valid_bleu"]) == pytest.approx(average["valid_bleu"])
    assert test[1]["average_chosen"] == str(average["chosen"])
    assert float(test[0]["valid_bleu"]) >= 0 and test[0]["average_epochs"] == ""
