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


def test_compare_with_average_last_shows_it_in_the_table_and_the_csv(tmp_path, capsys,
                                                                     monkeypatch):
    import csv
    import json

    from models.cli import main
    from tests.conftest import SAMPLES
    drawn = {}
    real = viz.plot_compare
    monkeypatch.setattr(viz, "plot_compare", lambda *a, **kw: drawn.update(kw) or real(*a, **kw))
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
    assert drawn["floor"] == pytest.approx(float(test[0]["valid_bleu"]))   # the lookup's line


# ------------------------------------------------------------------ compare.csv read back
def _write(tmp_path, histories):
    from models.reporting import write_compare_csv
    return write_compare_csv(histories, tmp_path / "compare.csv")


def _tutorial(valid=(1.0, 2.0), chosen=2):
    hist = _history(list(valid), chosen_epoch=chosen, test_chosen=_scores(7.0),
                    test_last=_scores(7.0) if chosen == len(valid) else None)
    return hist


def test_the_csv_read_back_prints_the_same_table(tmp_path):
    from models.reporting import comparison_table, histories_from_csv, read_compare_csv
    lookup = _history([], chosen_epoch=None, test_chosen=_scores(12.0),
                      test_last=_scores(12.0), fit_seconds=0.25,
                      valid={"bleu": 11.0, "bleu_cased": 10.0, "chrf": 30.0})
    hists = {"lookup": lookup, "transformer": _averaged(True),
             "bahdanau": _history([4.0, 6.0], chosen_epoch=2, test_chosen=_scores(15.0),
                                  test_last=_scores(15.0))}
    comments, header, records = read_compare_csv(_write(tmp_path, hists))
    assert comments == [] and header[:2] == ["model", "epoch"]
    again = histories_from_csv(records)
    assert list(again) == ["lookup", "transformer", "bahdanau"]
    assert comparison_table(again, "bleu") == comparison_table(hists, "bleu")


def test_appending_a_model_keeps_the_files_columns_and_replaces_its_earlier_rows(tmp_path):
    import csv
    from models.reporting import append_compare_csv
    path = _write(tmp_path, {"attention": _history([1.0, 3.0], chosen_epoch=2,
                                                   test_chosen=_scores(9.0),
                                                   test_last=_scores(9.0))})
    path.write_text("# measured here\n" + path.read_text())
    header = path.read_text().splitlines()[1]
    for valid in ((1.0, 2.0, 0.5), (2.0, 1.0)):          # the second run replaces the first
        hist = _tutorial(valid, chosen=1 if valid[0] > valid[1] else 2)
        hist[0]["not_a_column"] = 1                        # left out: not in the header
        append_compare_csv(path, "pytorch-tutorial", hist)
    lines = path.read_text().splitlines()
    assert lines[:2] == ["# measured here", header]
    with open(path, newline="") as f:
        records = list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    assert [(r["model"], r["epoch"]) for r in records] == [
        ("attention", "1"), ("attention", "2"), ("pytorch-tutorial", "1"),
        ("pytorch-tutorial", "2"), ("attention", "test"), ("pytorch-tutorial", "test")]
    tut = records[-1]
    assert tut["chosen_epoch"] == "1" and float(tut["test_chosen_bleu"]) == 7.0
    assert tut["test_last_bleu"] == ""                  # test scored once: epoch 1's weights


def _csv_error(path, **kw):
    from models.reporting import append_compare_csv
    with pytest.raises(ValueError) as e:
        append_compare_csv(path, "pytorch-tutorial", _tutorial(), **kw)
    return str(e.value)


FIX = ("(fix: pass the compare.csv that 'tinygrad-attn compare' wrote for a sentence-pair "
       "--data file)")


def test_a_csv_that_cannot_take_the_row_is_one_line_naming_the_fix(tmp_path):
    from models.reporting import write_compare_csv
    path = tmp_path / "c.csv"
    assert _csv_error(path) == f"the compare.csv {str(path)!r} does not exist {FIX}"
    assert _csv_error(tmp_path) == f"the compare.csv {str(tmp_path)!r} is a folder, not a " \
                                   f"file {FIX}"
    path.write_bytes(b"")
    assert _csv_error(path) == f"the compare.csv {str(path)!r} is empty {FIX}"
    path.write_bytes(b"model,epoch\xff\n")
    assert _csv_error(path) == f"the compare.csv {str(path)!r} is not UTF-8 text {FIX}"
    date = _history([0.5], chosen_epoch=1, test_chosen={"accuracy": 0.5},
                    test_last={"accuracy": 0.5})
    write_compare_csv({"seq2seq": date}, path)           # a character task's table
    assert _csv_error(path) == (
        f"the compare.csv {str(path)!r}: its header does not match a translation "
        f"comparison's (no column test_chosen_bleu_cased, test_chosen_bleu_cased_ci_low, "
        f"test_chosen_bleu_cased_ci_high, test_chosen_bleu and 18 more) {FIX}")
    _write(tmp_path, {"attention": _tutorial()})
    good = tmp_path / "compare.csv"
    good.write_text(good.read_text() + "attention,3\r\n")
    assert _csv_error(good) == f"the compare.csv {str(good)!r}: line 5 has 2 cells, the " \
                               f"header {len(good.read_text().splitlines()[0].split(','))} {FIX}"
    other = _tutorial()
    other.results["test_chosen"] = {**_scores(1.0), "unseen_items": 3}
    _write(tmp_path, {"attention": other})
    assert _csv_error(good) == (
        f"the compare.csv {str(good)!r} scored another test split (test items with unseen "
        f"sources: 3; this run: 7) (fix: the same --data, --direction and --seed as the "
        f"compare run)")


# ------------------------------------------------------------------ the PyTorch tutorial's row
@pytest.fixture
def bench():
    """benchmarks/translate_tutorial_torch.py as a module (skipped without torch); torch's
    thread count (``--threads``) is restored afterwards."""
    torch = pytest.importorskip("torch")
    import importlib.util

    from tests.conftest import ROOT
    spec = importlib.util.spec_from_file_location(
        "translate_tutorial_torch", ROOT / "benchmarks" / "translate_tutorial_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    yield module
    torch.set_num_threads(threads)


def _sample():
    from tests.conftest import SAMPLES
    return str(SAMPLES / "eng-fra" / "fra.tutorial-filter.sample.txt")


TINY = ["--hidden-size", "16", "--threads", "1"]


def test_the_tutorials_row_is_one_row_of_compares_table_and_joins_its_csv(bench, tmp_path, capsys):
    import csv
    import json

    from models.cli import main as cli
    out = tmp_path / "cmp"
    assert cli(["compare", "--models", "lookup,attention", "--data", _sample(), "--epochs", "1",
                "--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64",
                "--out", str(out)]) == 0
    compare_head = next(ln for ln in capsys.readouterr().out.splitlines()
                        if ln.startswith("model "))
    path = out / "compare.csv"
    header = path.read_text().splitlines()[0]
    assert bench.main(["--data", _sample(), "--epochs", "1", *TINY, "--compare-csv", str(path),
                       "--out", str(tmp_path / "t.json")]) == 0
    text = capsys.readouterr().out
    report = json.loads((tmp_path / "t.json").read_text())
    lines = text.splitlines()
    row = next(ln for ln in lines if ln.startswith("pytorch-tutorial "))
    head = lines[lines.index(row) - 2]
    assert head == compare_head and len(row) == len(head)      # compare's columns, 1 epoch
    cells = row.split()
    test = report["test_chosen"]
    assert cells[1] == f"{report['history'][0]['valid_bleu']:.2f}" and cells[2] == "1"
    assert cells[3:9] == [f"{test['bleu_cased']:.2f}", "{:.2f}-{:.2f}".format(
        *test["bleu_cased_ci"]), f"{test['bleu']:.2f}", "{:.2f}-{:.2f}".format(
        *test["bleu_ci"]), f"{test['chrf']:.2f}", "{:.2f}-{:.2f}".format(*test["chrf_ci"])]
    assert cells[9:11] == [f"{test['unseen_bleu_cased']:.2f}", f"{test['bleu_cased']:.2f}"]
    assert cells[12] == f"{report['parameters']:,}"
    assert "sacreBLEU signatures:" in text
    # the CSV: same header, the tutorial's epoch row among the epoch rows, its test row last
    assert path.read_text().splitlines()[0] == header
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    assert [(r["model"], r["epoch"]) for r in records] == [
        ("attention", "1"), ("pytorch-tutorial", "1"), ("lookup", "test"),
        ("attention", "test"), ("pytorch-tutorial", "test")]
    assert records[-1]["chosen_epoch"] == "1"
    assert float(records[-1]["test_chosen_bleu_cased_ci_high"]) == test["bleu_cased_ci"][1]
    # and compare's table is printed again with the row under it
    table = lines[lines.index(row) + 1:]
    names = [ln.split()[0] for ln in table if ln.split()[:1] in
             (["lookup"], ["attention"], ["pytorch-tutorial"])]
    assert names == ["lookup", "attention", "pytorch-tutorial"]


def test_the_epoch_cut_short_by_the_deadline_is_not_scored(bench, tmp_path, monkeypatch):
    clock = iter(range(10_000))          # one second per reading of the benchmark's clock
    monkeypatch.setattr(bench, "time", type("Clock", (), {"perf_counter": lambda: next(clock)}))
    opts = bench.parse_args(["--data", _sample(), "--epochs", "5", "--max-minutes", "0.4",
                             *TINY])
    report = bench.run(opts)            # 24 s: epoch 1 ends, epoch 2 is cut short
    assert [h["epoch"] for h in report["history"]] == [1]
    assert report["chosen_epoch"] == 1 and report["stopped"].startswith(
        "the time limit of 0.4 minutes was reached in epoch 2, after ")
    assert report["stopped"].endswith("steps; that epoch is not scored")


def test_the_test_split_is_scored_once_with_the_chosen_epochs_weights(bench, tmp_path, monkeypatch):
    real_score, real_translate = bench.translation_score, bench.translate
    valid_bleu = iter([5.0, 3.0])                       # epoch 1 is the best on validation
    seen = []

    def score(data, hyps, split="test", confidence=False):
        result = real_score(data, hyps, split, confidence)
        return {**result, "bleu": next(valid_bleu)} if split == "valid" else result

    def translate(model, data, split, width):
        seen.append((split, {k: v.clone() for k, v in model.state_dict().items()}))
        return real_translate(model, data, split, width)
    monkeypatch.setattr(bench, "translation_score", score)
    monkeypatch.setattr(bench, "translate", translate)
    report = bench.run(bench.parse_args(["--data", _sample(), "--epochs", "2", *TINY]))
    assert [s for s, _ in seen] == ["valid", "valid", "test"]
    assert report["chosen_epoch"] == 1 and report["test_last"] is None
    assert all((seen[2][1][k] == v).all() for k, v in seen[0][1].items())      # epoch 1's
    assert any((seen[2][1][k] != v).any() for k, v in seen[1][1].items())      # not epoch 2's


@pytest.mark.parametrize("argv,message", [
    (["--max-minutes", "0"], "argument --max-minutes: must be a number > 0, got 0"),
    (["--max-minutes", "-1"], "argument --max-minutes: must be a number > 0, got -1"),
    (["--max-minutes", "nan"], "argument --max-minutes: 'nan' is not a finite number (fix: "
                               "pass a value such as 0.001)"),
    (["--max-minutes", "inf"], "argument --max-minutes: 'inf' is not a finite number (fix: "
                               "pass a value such as 0.001)"),
    (["--max-minutes", "ten"], "argument --max-minutes: 'ten' is not a number"),
    (["--epochs", "0"], "argument --epochs: must be an integer from 1 to 100,000, got 0"),
    (["--hidden-size", "1e9"], "argument --hidden-size: '1e9' is not an integer"),
    (["--lr", "-1"], "argument --lr: must be a number > 0, got -1"),
    (["--dropout", "1"], "argument --dropout: must be a number in [0, 1), got 1"),
    (["--clip", "0"], "argument --clip: must be a number > 0, got 0")])
def test_hostile_options_are_one_line_before_any_work(bench, argv, message, capsys):
    assert bench.main(argv) == 2
    assert capsys.readouterr().err == (f"translate_tutorial_torch.py: error: {message} (see "
                                       f"translate_tutorial_torch.py --help)\n")


def test_a_bad_compare_csv_or_out_is_refused_before_training(bench, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "setup", lambda opts: pytest.fail("trained"))
    missing = tmp_path / "none" / "c.csv"
    assert bench.main(["--data", _sample(), "--compare-csv", str(missing)]) == 2
    assert capsys.readouterr().err == (f"translate_tutorial_torch.py: error: the compare.csv "
                                       f"{str(missing)!r} does not exist {FIX}\n")
    assert bench.main(["--data", _sample(), "--out", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"translate_tutorial_torch.py: error: --out {str(missing)!r} is in a folder that does "
        f"not exist (fix: name a file in an existing folder you can write to)\n")
    assert bench.main(["--data", _sample(), "--out", str(tmp_path)]) == 2
    assert "is a folder (fix: name a file" in capsys.readouterr().err


def test_no_epoch_within_the_minutes_is_one_line(bench, tmp_path, capsys):
    assert bench.main(["--data", _sample(), "--max-minutes", "1e-9", *TINY]) == 2
    assert capsys.readouterr().err == (
        "translate_tutorial_torch.py: error: no epoch ended within --max-minutes 1e-09, so "
        "there is nothing to score (fix: give it more minutes)\n")


# ------------------------------------------------------------------ many epochs
def test_a_long_run_shows_ten_epoch_columns_first_last_and_spread():
    from models.reporting import comparison_report, comparison_table, shown_epochs
    assert shown_epochs(4) == [1, 2, 3, 4] and shown_epochs(10) == list(range(1, 11))
    assert shown_epochs(57) == [1, 2, 3, 11, 18, 26, 34, 42, 49, 57]   # 7.7 apart after 3
    assert shown_epochs(11) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]
    for n in range(11, 200):
        e = shown_epochs(n)
        assert len(e) == 10 and e[:3] == [1, 2, 3] and e[-1] == n and e == sorted(set(e))
    valid = [float(i) for i in range(1, 58)]
    hists = {"attention": _history(valid, chosen_epoch=57, test_chosen=_scores(7.0),
                                   test_last=_scores(7.0)),
             "bahdanau": _history(valid[:18], chosen_epoch=18, test_chosen=_scores(8.0),
                                  test_last=_scores(8.0))}
    text = comparison_table(hists, "bleu")
    head = text.splitlines()[0]
    assert head.split()[2:21:2] == ["1", "2", "3", "11", "18", "26", "34", "42", "49", "57"]
    row = next(ln.split() for ln in text.splitlines() if ln.startswith("attention "))
    assert row[1:11] == ["1.00", "2.00", "3.00", "11.00", "18.00", "26.00", "34.00", "42.00",
                         "49.00", "57.00"]                # the score of the epoch named above
    row = next(ln.split() for ln in text.splitlines() if ln.startswith("bahdanau "))
    assert row[1:6] == ["1.00", "2.00", "3.00", "11.00", "18.00"]   # blank after its 18
    assert row[6] == "18"                                          # then its chosen epoch
    assert "10 of the 57 epochs shown (every epoch: compare.csv" in \
        comparison_report(_data(), hists, 0)
