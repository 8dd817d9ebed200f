"""Chapter 9 of the walkthrough (docs/decoders.md, docs/ko/decoders.md): what its pictures
must show and the facts its prose states.

The chapter runs once here (in a fresh folder, as a reader runs it); tests/test_docs.py runs
it too, with every chapter, for section parity and pictures. Here: the overviews' arrows
(the seq2seq's only bridge is h_S; the attention of every variant reads hs; input feeding
and Bahdanau feed the LSTM, the book's Luong model does not), the peeky h_S used twice,
Add's unchanged gradient, the four scores against their formulas and symmetries, the path
lengths of reversed input, what teacher forcing hides, and the measured numbers quoted
from benchmarks/RESULTS.md and docs/data/*.csv, in both languages.
"""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import viz

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EN, KO = DOCS / "decoders.md", DOCS / "ko" / "decoders.md"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
COMPARE_CSV = DOCS / "data" / "compare_date.csv"
REVERSE_CSV = DOCS / "data" / "addition_reverse.csv"

pytestmark = pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program is not "
                                                          "installed")


def _script(name):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chapter(tmp_path_factory):
    """The chapter's namespace after all its blocks ran in an empty folder, and the folder."""
    import sys
    sys.path.insert(0, str(DOCS))
    import run_docs
    workdir = tmp_path_factory.mktemp("decoders")
    return run_docs.run(EN, workdir), workdir


def _boxes_and_arrows(graph):
    """({node id: first line of its label}, [(from id, to id, label)]) of a Digraph."""
    source = graph.source
    boxes = dict(re.findall(r'^\s*(\w+) \[label="([^"\n]*)', source, re.M))
    arrows = re.findall(r'^\s*(\w+) -> (\w+) \[label="([^"]*)"', source, re.M)
    return boxes, arrows


def _arrows_between(graph, start: str, end: str) -> list:
    """Labels of the arrows from a box whose name starts with ``start`` to one with ``end``."""
    boxes, arrows = _boxes_and_arrows(graph)
    return [label for a, b, label in arrows
            if boxes.get(a, "").startswith(start) and boxes.get(b, "").startswith(end)]


# -- 9.1 the bottleneck ------------------------------------------------------------------

def test_the_seq2seq_overview_has_one_bridge_from_the_encoder_and_it_is_h_S(chapter):
    ns, workdir = chapter
    overview = ns["overview"]
    boxes, arrows = _boxes_and_arrows(overview)
    encoder = {i for i, name in boxes.items()
               if name.startswith(("encoder.", "own ops of encoder"))}
    leaving = [(b, label) for a, b, label in arrows if a in encoder and b not in encoder]
    assert leaving == [(leaving[0][0], "(1, 1, 3)")]           # one arrow: (N, 1, H)
    assert boxes[leaving[0][0]].startswith("Seq2Seq code")
    assert _arrows_between(overview, "Seq2Seq code", "decoder (LSTM)") == ["(1, 1, 3)"]
    assert "(1, 4, 3)" not in [label for _, _, label in arrows]
    assert "Legend" in overview.source
    assert (workdir / "pictures" / "decoders_seq2seq.svg").stat().st_size > 1000


# -- 9.2 reversed input --------------------------------------------------------------------

def test_reversed_input_keeps_the_average_path_and_brings_the_first_outputs_close(chapter):
    ns, _ = chapter
    S, path, mean = ns["S"], ns["path"], ns["mean"]
    assert path["reversed"][0] == 2 and path["reversed"][-1] == 2 * S
    assert path["as typed"].mean() == path["reversed"].mean() == S + 1
    # the gradient falls along the reversed path: every step back, a smaller gradient
    assert (np.diff(mean["reversed"]) < 0).all()
    assert mean["reversed"][0] > 5 * mean["as typed"][0]        # "more than five times"
    assert mean["reversed"][-1] < mean["as typed"][-1]


def test_the_reversal_measurement_on_addition_is_the_one_the_prose_quotes():
    compare = _script("compare_curves")
    histories, tests, notes = compare.read_compare_csv(REVERSE_CSV)
    assert any("--no-reverse" in n for n in notes) and any("--reverse " in n for n in notes)
    last = {name: hist[-1] for name, hist in histories.items()}
    assert set(last) == {"reversed", "as typed"}
    for name, record in last.items():
        assert record["epoch"] == 25
        shown = f"{100 * record['valid_accuracy']:.2f} %"
        assert shown in EN.read_text(encoding="utf-8"), (name, shown)
        assert shown in KO.read_text(encoding="utf-8"), (name, shown)
    assert last["reversed"]["valid_accuracy"] > last["as typed"]["valid_accuracy"]
    for name, test in tests.items():                  # the epoch chosen on validation
        assert test["chosen_epoch"] == 24, name
        shown = f"{100 * test['test_chosen_accuracy']:.2f} %"
        assert shown in EN.read_text(encoding="utf-8") and shown in KO.read_text(
            encoding="utf-8"), (name, shown)


# -- 9.3 peeky -----------------------------------------------------------------------------

def test_the_peeky_decoder_uses_h_S_twice_and_its_copy_twice(chapter):
    ns, workdir = chapter
    svg = (workdir / "pictures" / "decoders_peeky.svg").read_text(encoding="utf-8")
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    h_box = labels.index("h_S")
    assert "grad = sum over 2 uses" in labels[h_box:h_box + 5]
    assert labels.count("grad = sum over 2 uses") == 2           # h_S and its broadcast copy
    assert sum(label.startswith("Concat") for label in labels) == 2
    assert any(label.startswith("(1, 3, 5)") for label in labels)   # [embedding; h_S]
    assert any(label.startswith("(1, 3, 6)") for label in labels)   # [dec_hs; h_S]
    assert ns["extra"] == 277_504


# -- 9.4 the scores ------------------------------------------------------------------------

def test_dot_and_general_are_odd_and_grow_while_concat_and_additive_are_bounded(chapter):
    ns, _ = chapter
    one, three, bound = ns["one"], ns["three"], ns["bound"]
    half = (len(one["dot"]) - 1) // 2                    # 73 angles: i and i + 36 are opposite
    for name in ("dot", "general"):
        assert np.allclose(one[name][half:], -one[name][:half + 1], atol=1e-5), name
        assert np.allclose(three[name], 3 * one[name], atol=1e-5)
    for name in ("concat", "additive"):
        assert not np.allclose(one[name][half:], -one[name][:half + 1], atol=1e-3), name
        assert np.abs(three[name]).max() <= bound[name]
    # each score is largest at a different angle: the query's own for dot
    q = ns["q"]
    best = np.degrees(ns["angles"][np.argmax(one["dot"])])
    assert abs(best - np.degrees(np.arctan2(q[1], q[0]))) <= 5


# -- 9.5 Bahdanau vs Luong -----------------------------------------------------------------

def test_only_input_feeding_and_bahdanau_feed_the_decoder_lstm(chapter):
    ov = chapter[0]["overviews"]
    for name, graph in ov.items():                                   # hs reaches attention
        assert _arrows_between(graph, "encoder.lstm", "attention") == ["(1, 4, 3)"], name
    luong = ov["luong"]
    assert _arrows_between(luong, "decoder (LSTM)", "attention") == ["(1, 3, 3)"]
    assert not _arrows_between(luong, "attention", "decoder")
    boxes, arrows = _boxes_and_arrows(luong)
    into_decoder = [boxes[a] for a, b, _ in arrows if boxes.get(b, "").startswith("decoder (")]
    assert not any(name.startswith(("attention", "out")) for name in into_decoder)
    # input feeding: h~ (tanh(W_c [c; h]), then the next input's Concat) goes back in
    assert "(1, 1, 5) x 2" in _arrows_between(ov["input_feeding"], "AttentionSeq2Seq code",
                                             "decoder (LSTM)")
    # Bahdanau: the decoder cell's state is the query; the context comes back via Concat
    bahdanau = ov["bahdanau"]
    assert _arrows_between(bahdanau, "decoder (LSTMCell)", "attention.W_a")
    assert _arrows_between(bahdanau, "BahdanauSeq2Seq code", "decoder (LSTMCell)")
    assert "x 3 steps" in bahdanau.source


def _addition_rows() -> dict:
    """{model: [test exact match per column]} of the 25-epoch addition table of RESULTS."""
    text = RESULTS.read_text(encoding="utf-8")
    start = text.index("### The book's chapter-7 settings: `addition.txt`")
    table = text[start:text.index("```", text.index("```", start) + 3)]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"^(\S.*?)\s{2,}([\d.]+(?:\s+[\d.]+)+)", line)
        if m:
            rows[m.group(1).strip()] = [float(v) for v in m.group(2).split()]
    return rows


def test_the_addition_numbers_are_quoted_from_results_in_both_languages():
    rows = _addition_rows()
    epoch25 = {name: values[5] for name, values in rows.items()}   # epochs 1 5 10 15 20 25
    assert epoch25 == {"seq2seq": 64.80, "peeky": 99.56, "attention (dot)": 43.10,
                       "attention (gen.)": 34.38, "bahdanau": 98.04}
    assert epoch25["attention (dot)"] < epoch25["seq2seq"] < epoch25["bahdanau"]
    results = RESULTS.read_text(encoding="utf-8")
    for quoted in ("93.36", "98.20", "99.94", "epoch 33", "95.56", "82.9 %"):
        assert quoted in results, quoted
    for path in (EN, KO):
        text = path.read_text(encoding="utf-8")
        for number in ("64.80 %", "99.56 %", "43.10 %", "34.38 %", "98.04 %", "93.36 %",
                       "98.20 %", "99.94 %", "95.56 %", "82.9 %"):
            assert number in text, (path.name, number)
        assert "33" in text and "--input-feeding" in text and "--epochs 50" in text


# -- 9.6 residual and bidirectional -----------------------------------------------------------

def test_add_passes_the_gradient_unchanged_to_both_inputs(chapter):
    ns, workdir = chapter
    x, fx, y, g = ns["x"], ns["fx"], ns["y"], ns["g"]
    assert np.array_equal(fx.grad, y.grad) and np.array_equal(y.grad, g)
    assert not np.array_equal(x.grad, y.grad)                 # x also gets f's part
    add = y.grad_fn
    assert add.name == "Add" and add.inputs[0] is x and add.inputs[1] is fx
    svg = (workdir / "pictures" / "decoders_residual.svg").read_text(encoding="utf-8")
    assert "grad = sum over 2 uses" in svg                    # x, the skip and f's input


def test_a_product_instead_of_the_sum_would_not_pass_the_gradient_unchanged():
    from tinygrad_attn import Tensor, nn
    nn.manual_seed(0)
    x = Tensor(np.array([[0.5, -1.0]], dtype=np.float32), requires_grad=True)
    fx = nn.Linear(2, 2)(x).tanh()
    y = x * fx                                                # not a residual connection
    viz.retain_grads(y)
    (y * Tensor(np.array([[1.0, 2.0]], dtype=np.float32))).sum().backward()
    assert not np.array_equal(fx.grad, y.grad)


# -- 9.7 teacher forcing ---------------------------------------------------------------------

def test_teacher_forcing_numbers_are_what_the_prose_says(chapter):
    ns, _ = chapter
    right = ns["right"]
    tf, own = "teacher forcing (training)", "own outputs (decoding)"
    stated = {("seq2seq", tf): 55.4, ("seq2seq", own): 49.9, ("peeky", tf): 98.1,
              ("peeky", own): 97.4}
    for (name, mode), value in stated.items():
        assert round(100 * right[name][mode].mean(), 1) == value, (name, mode)
    assert round(100 * right["seq2seq"][own][1], 1) == 66.8
    assert right["seq2seq"][tf][1] == 1.0
    assert (round(100 * right["peeky"][tf][9], 1), round(100 * right["peeky"][own][9], 1)) == \
        (94.6, 90.2)
    gap = right["peeky"][tf] - right["peeky"][own]
    assert gap.argmax() == 9                                  # the last digit: the largest gap
    for path in (EN, KO):
        text = path.read_text(encoding="utf-8")
        for number in ("66.8 %", "55.4 %", "49.9 %", "98.1 %", "97.4 %", "94.6 %", "90.2 %"):
            assert number in text, (path.name, number)


# -- 9.8 the compare curves --------------------------------------------------------------------

def test_the_compare_csv_says_how_it_was_measured_and_what_the_prose_says():
    compare = _script("compare_curves")
    histories, tests, notes = compare.read_compare_csv(COMPARE_CSV)
    joined = "\n".join(notes)
    assert "tinygrad-attn compare --models seq2seq,peeky,attention --epochs 4" in joined
    assert re.search(r"20\d\d-\d\d-\d\d", joined) and "CPU" in joined
    assert set(histories) == {"seq2seq", "peeky", "attention"}
    assert all([h["epoch"] for h in hist] == [1, 2, 3, 4] for hist in histories.values())
    last = {name: hist[-1]["valid_accuracy"] for name, hist in histories.items()}
    assert last["attention"] >= 0.99                           # attention learns the task
    assert last["seq2seq"] < 0.05                              # seq2seq does not
    assert last["seq2seq"] <= last["peeky"] <= last["attention"]
    for path in (EN, KO):                                     # every epoch's score is quoted
        text = path.read_text(encoding="utf-8")
        for name, hist in histories.items():
            for record in hist:
                shown = f"{100 * record['valid_accuracy']:.2f}"
                assert shown in text, (path.name, name, record["epoch"], shown)
        for name, t in tests.items():
            assert f"{100 * t['test_chosen_accuracy']:.2f} %" in text, (path.name, name)
    seconds = [h["epoch_seconds"] for h in histories["peeky"]]      # "from 31 to 269 s"
    assert (round(min(seconds)), round(max(seconds))) == (31, 269)
    loss = {name: [h["loss"] for h in hist] for name, hist in histories.items()}
    assert all(round(v, 1) == 1.0 for v in loss["seq2seq"][1:])   # "stays at 1.0 nats"
    assert all(np.diff(loss[name]).max() < 0 for name in ("peeky", "attention"))


def test_the_compare_picture_draws_one_line_per_model_from_the_csv(tmp_path, monkeypatch):
    compare = _script("compare_curves")
    drawn = {}

    def fake_plot(histories, path, title=None):
        drawn.update(histories=histories, path=path, title=title)
        return str(path)

    monkeypatch.setattr(compare, "plot_compare", fake_plot)
    compare.plot_compare_csv(COMPARE_CSV, tmp_path / "c.png")
    assert list(drawn["histories"]) == ["seq2seq", "peeky", "attention"]
    assert all(len(h) == 4 and "valid_accuracy" in h[0] and "loss" in h[0]
               for h in drawn["histories"].values())
    monkeypatch.undo()
    out = compare.main(["--out", str(tmp_path / "curves.png")])
    assert out == 0 and (tmp_path / "curves.png").stat().st_size > 10_000
    assert (DOCS / "pictures" / "compare_curves.png").stat().st_size > 10_000


def test_the_compare_reader_skips_notes_and_keeps_the_test_rows(tmp_path):
    compare = _script("compare_curves")
    run = tmp_path / "compare.csv"
    run.write_text("model,epoch,loss,valid_accuracy,test_chosen_accuracy,chosen_epoch\n"
                   "a,1,2.0,0.5,,\na,2,1.0,0.75,,\na,test,,,0.7,2\n", encoding="utf-8")
    out = tmp_path / "copy.csv"
    compare.import_run(run, ["command: x", "measured: y"], out)
    histories, tests, notes = compare.read_compare_csv(out)
    assert notes == ["command: x", "measured: y"]
    assert histories == {"a": [{"epoch": 1, "loss": 2.0, "valid_accuracy": 0.5},
                               {"epoch": 2, "loss": 1.0, "valid_accuracy": 0.75}]}
    assert tests == {"a": {"epoch": "test", "test_chosen_accuracy": 0.7, "chosen_epoch": 2}}
    empty = tmp_path / "empty.csv"
    empty.write_text("# only a note\nmodel,epoch\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no per-epoch rows"):
        compare.read_compare_csv(empty)


# -- both languages --------------------------------------------------------------------------

def test_every_number_of_the_english_prose_is_in_the_korean_prose():
    import sys
    sys.path.insert(0, str(DOCS))
    import run_docs

    def numbers(path):
        text = run_docs._FENCE.sub("", path.read_text(encoding="utf-8"))
        text = re.sub(r"```text\n.*?```", "", text, flags=re.S)
        return set(re.findall(r"\d[\d,]*\.?\d* %|\d{1,3}(?:,\d{3})+", text))

    missing = numbers(EN) - numbers(KO)
    assert not missing, sorted(missing)
