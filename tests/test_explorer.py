"""The backward explorer (viz.explore): the record it shows is the engine's own backward
pass (running sums end at the gradient, path products sum to it, nothing touches .grad),
the page is self-contained, bad inputs get one-line errors, and, in a real headless
Chromium (Debian's ``chromium`` driven by Playwright), stepping through the neuron, the
attention step and the date model lights up the right op at every step with no page
error."""
import re
import shutil

import numpy as np
import pytest

import viz
from models import graphs
from tinygrad_attn import Tensor, nn
from viz.explore import explore

needs_dot_program = pytest.mark.skipif(not viz.has_dot(), reason="the graphviz 'dot' program "
                                       "is not installed (apt-get install graphviz)")


def neuron():
    """The walkthrough's neuron, loss = (tanh(x1 w1 + x2 w2 + b) - 1)^2, before backward."""
    return graphs.neuron(backward=False)


def attention_step():
    """The walkthrough's attention step: Luong dot attention, 1 query over 3 keys."""
    rng = np.random.default_rng(0)
    query = Tensor(rng.standard_normal((1, 1, 4)), requires_grad=True)
    keys = Tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    context, weights = nn.LuongAttention("dot")(query, keys)
    return context.sum(), {"query h_t": query, "keys h_s": keys, "weights a": weights,
                           "context c": context}


def date_step():
    """One training step of the attention model (small sizes) on four generated dates."""
    import tinygrad_attn as tg
    from models.char_dataset import load_dataset
    from models.train import TrainConfig, build_model
    tg.manual_seed(0)
    data = load_dataset(None, n_generated=40)
    model = build_model(TrainConfig(hidden_size=8, wordvec_size=4), len(data.src_vocab),
                        len(data.tgt_vocab))
    return model.loss(data.src_train[:4], data.tgt_train[:4]), model


# ------------------------------------------------------------------ the record (no browser)
@needs_dot_program
def test_the_record_is_the_engines_backward_pass():
    loss, names = neuron()
    e = explore(loss, params=names)
    data = e.data
    assert [s["order"] for s in data["steps"]] == list(range(len(data["steps"])))
    assert all(t.grad is None for t in names.values())          # nothing accumulated
    loss.backward()                                               # the graph is still whole
    by_name = {v["name"]: k for k, v in data["tensors"].items() if v["name"]}
    for name in ("w1", "w2", "b"):
        assert data["tensors"][by_name[name]]["grad"] == viz.explore_data._fmt(names[name].grad, 8)
        paths = data["paths"][by_name[name]]["paths"]
        total = sum(p["product"]["value"] for p in paths)
        assert np.isclose(total, names[name].grad)              # the chain rule, path by path
    last = {}
    for s in data["steps"]:
        for send in s["sends"]:
            last[send["to"]] = send
    assert all(v["count"] == v["uses"] for v in last.values())   # every use summed in


@needs_dot_program
def test_a_tensor_used_twice_shows_its_running_sum():
    loss, names = attention_step()
    data = explore(loss, params=names).data
    keys = next(k for k, v in data["tensors"].items() if v["name"] == "keys h_s")
    sends = [send for s in data["steps"] for send in s["sends"] if send["to"] == keys]
    assert [s["count"] for s in sends] == [1, 2] and sends[-1]["uses"] == 2
    loss.backward()
    assert sends[-1]["sum"] == viz.explore_data._fmt(names["keys h_s"].grad, 8)


@needs_dot_program
def test_the_page_is_self_contained_and_the_script_cannot_be_closed_early(tmp_path):
    loss, names = neuron()
    names["w1"].name = "</script><script>alert(1)</script>"
    e = explore(loss, params={k: v for k, v in names.items() if k != "w1"})
    page = e.html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)   # no network
    assert page.count("</script>") == 2                          # data + script, no more
    path = e.save(tmp_path / "neuron.html")
    assert open(path, encoding="utf-8").read() == page
    assert e._repr_html_().startswith("<iframe srcdoc=")


@pytest.mark.parametrize("make, message", [
    (lambda: Tensor([1.0, 2.0], requires_grad=True) * 2, "one-element tensor"),
    (lambda: Tensor(np.float64(1.0)), "one-element tensor made by ops"),
])
def test_a_root_that_is_not_a_loss_is_refused(make, message):
    with pytest.raises(RuntimeError, match=message):
        explore(make())


@pytest.mark.parametrize("args, error, message", [
    (((1.0, 2.0),), TypeError,
     r"^explore: root must be a Tensor, got tuple \(fix: .*explore\(loss\)\)$"),
    ((None,), TypeError, r"^explore: root must be a Tensor"),
])
def test_a_bad_argument_is_refused_in_one_line_naming_explore(args, error, message):
    with pytest.raises(error, match=message):
        explore(*args)
    loss, _ = neuron()
    with pytest.raises(ValueError, match=r"^explore: rankdir must be"):
        explore(loss, rankdir="XX")


def test_a_freed_graph_is_refused_with_the_fix():
    loss, _ = neuron()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"freed .*retain_graph=True"):
        explore(loss)


@needs_dot_program
def test_a_bad_output_path_is_refused_before_writing(tmp_path):
    loss, _ = neuron()
    e = explore(loss)
    with pytest.raises(ValueError, match="html"):
        e.save(tmp_path / "neuron.png")
    with pytest.raises(ValueError):
        e.save(tmp_path)                                            # a folder


# ------------------------------------------------------------------ in a real browser
def _browser():
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install "
                                            "playwright; .ci/run installs it)")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs it)")
    return playwright.sync_playwright, exe


def _open(tmp_path, explorer, name):
    sync_playwright, exe = _browser()
    path = explorer.save(tmp_path / f"{name}.html")
    return sync_playwright, exe, path


def _load(p, exe, path, viewport=None):
    """(browser, page, errors): ``path`` opened in the system chromium through the running
    Playwright ``p``; ``errors`` collects every page error and console error from then on."""
    browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
    page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"file://{path}")
    return browser, page, errors


def _step_through(page, data):
    """At every step k: exactly the op of step k is 'current', the ops before are 'done',
    the panel names the op; returns the panel texts."""
    texts = []
    for k in range(len(data["steps"]) + 1):
        page.evaluate(f"window.explorer.show({k})")
        current = page.eval_on_selector_all(
            "g.node.current", "els => els.map(e => e.querySelector('title').textContent)")
        if k == 0:
            assert current == []
        else:
            step = data["steps"][k - 1]
            assert current == [step["op"]]
            assert f"Backward step {k}: {step['name']}" in page.inner_text("#step")
        texts.append(page.inner_text("#step"))
    return texts


@needs_dot_program
@pytest.mark.parametrize("case", ["neuron", "attention"])
def test_stepping_through_in_chromium_lights_up_each_op(tmp_path, case):
    loss, names = neuron() if case == "neuron" else attention_step()
    e = explore(loss, params=names)
    sync_playwright, exe, path = _open(tmp_path, e, case)
    with sync_playwright() as p:
        browser, page, errors = _load(p, exe, path, {"width": 1400, "height": 900})
        texts = _step_through(page, e.data)
        page.click("#first")
        page.click("#next")
        assert page.input_value("#slider") == "1"
        page.keyboard.press("End")
        assert page.inner_text("#counter") == f"step {e.steps} of {e.steps}"
        page.keyboard.press("Escape")                 # no overview to go back to: stays
        assert page.is_visible("#graph .view[data-view=ops] svg")
        assert not page.is_visible("#drill")
        param = next(k for k, v in e.data["tensors"].items()
                     if v["name"] in ("w1", "keys h_s"))
        page.evaluate(f"window.explorer.showPaths('{param}')")
        onpath = page.eval_on_selector_all("g.edge.onpath", "els => els.length")
        assert onpath == len({tuple(x) for x in e.data["paths"][param]["edges"]})
        if case == "neuron":
            assert "sum of the paths" in page.inner_text("#paths")
        else:
            assert any("running sum (2 of 2 uses)" in t for t in texts)
        browser.close()
    assert errors == []


@needs_dot_program
def test_the_date_models_explorer_opens_and_steps_in_chromium(tmp_path):
    loss, model = date_step()
    e = explore(loss, model=model, max_nodes=60, collapse_steps=True)
    assert 0 < e.steps
    sync_playwright, exe, path = _open(tmp_path, e, "date")
    with sync_playwright() as p:
        browser, page, errors = _load(p, exe, path)
        for k in (1, e.steps // 2, e.steps):
            page.evaluate(f"window.explorer.show({k})")
            current = page.eval_on_selector_all(
                "g.node.current", "els => els.map(e => e.querySelector('title').textContent)")
            assert current == [e.data["steps"][k - 1]["op"]]
        browser.close()
    assert errors == []


@needs_dot_program
def test_hover_data_name_the_creating_line_when_the_forward_ran_in_detect_anomaly():
    import tinygrad_attn as tg
    with tg.detect_anomaly():
        loss, names = neuron()
    data = explore(loss, params=names).data
    created = [t["created"] for t in data["tensors"].values() if t["created"]]
    assert created and all("graphs.py:" in c and "in neuron" in c for c in created)
    loss2, names2 = neuron()                      # outside the block: no line recorded
    assert not any(t["created"] for t in explore(loss2, params=names2).data["tensors"].values())


@needs_dot_program
def test_the_graph_command_writes_the_explorer_with_html(tmp_path, capsys):
    from models.cli import main
    out = tmp_path / "neuron.html"
    assert main(["graph", "--model", "neuron", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "explorer-data" in page and "step through 7 backward steps" in capsys.readouterr().out
    assert main(["graph", "--model", "neuron", "--html", str(tmp_path / "n.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown picture format .png" in err and "\n" not in err
    assert main(["graph", "--html", str(out), "--detail", "overview"]) == 2
    assert "drop --detail overview" in capsys.readouterr().err


# ------------------------------------------------------------------ a whole model: drill-down
def _box(data, title):
    """(id, record) of the overview box whose first line is ``title``."""
    return next((k, b) for k, b in data["overview"]["boxes"].items() if b["lines"][0] == title)


@needs_dot_program
def test_a_models_page_opens_on_its_overview_and_each_box_knows_its_ops():
    loss, model = date_step()
    e = explore(loss, model=model, max_nodes=60, collapse_steps=True)
    data, boxes = e.data, e.data["overview"]["boxes"]
    assert re.search(r'<div class="view" data-view="ops" hidden><svg', e.html)
    assert '<div class="view" data-view="overview"><svg' in e.html      # it opens here
    steps = sorted(k for b in boxes.values() for k in b["steps"])
    assert steps == list(range(1, e.steps + 1))         # every backward step in one box
    for b in boxes.values():
        assert all(data["steps"][k - 1]["op"] in b["ops"] for k in b["steps"])
        assert set(b["ops"]) <= set(data["ops"]) and set(b["nodes"]) >= set(b["ops"])
        assert b["drawn"] == b["count"]                 # 60 ops is room for all of them
    _, attention = _box(data, "attention (LuongAttention)")
    assert sorted(data["ops"][o]["name"] for o in attention["ops"]) == [
        "MatMul", "MatMul", "Permute", "Softmax"]
    assert attention["twin"] is None
    for title in ("encoder.lstm (LSTM)", "decoder (LSTM)"):     # the fused LSTM layers
        _, lstm = _box(data, title)
        assert "LSTMSequence" in [data["ops"][o]["name"] for o in lstm["ops"]]
        twin = data["twins"][lstm["twin"]]
        assert twin["name"] == "lstm_cell" and twin["box"] == _box(data, title)[0]
        names = sorted(s["name"] for s in twin["steps"])
        assert {"MatMul", "Sigmoid", "Tanh", "Mul"} <= set(names)
        assert "LSTMSequence" not in names                      # composed from primitives
        assert f'data-view="{lstm["twin"]}" hidden><svg' in e.html
    assert "overview" not in explore(loss, model=model, max_nodes=60, collapse_steps=True,
                                     overview=False).data
    with pytest.raises(TypeError, match="overview must be True, False or None"):
        explore(loss, model=model, overview="yes")


def _twin_and_fused(loss, model, module_name):
    """One step of the composed twin of the fused op in module ``module_name``'s box, after
    its backward pass, and what the fused node's backward sent to each of its inputs."""
    from viz.explore import _replay
    from viz.explore_drill import _twin_of
    from viz.graph_walk import GraphWalk
    from viz.overview import Overview
    record = _replay(loss)
    traced = {id(fn): (out, g) for fn, out, g, _ in record["steps"]}
    ov = Overview(GraphWalk(loss), model, None)
    group = next(g for g in ov.groups.values()
                 if g.module is not None and ov.names[id(g.module)] == module_name)
    names = {id(p): n for n, p in model.named_parameters()}
    twin_loss, twin, words = _twin_of(group, traced, names)
    twin_loss.backward()
    fused = next(fn for fn, *_ in record["steps"] if fn in group.ops
                 and fn.name == "LSTMSequence")         # the first the backward pass reaches
    sent = next(s for fn, _, _, s in record["steps"] if fn is fused)
    return twin, words, fused, {id(inp): g for inp, g in sent}


@needs_dot_program
@pytest.mark.parametrize("module_name", ["encoder.lstm", "decoder"])
def test_the_composed_twin_sends_what_the_fused_backward_sends_at_that_step(module_name):
    loss, model = date_step()
    twin, words, fused, sent = _twin_and_fused(loss, model, module_name)
    T = fused.inputs[0].shape[1]
    dx = sent[id(fused.inputs[0])]                              # (N, T, D)
    np.testing.assert_allclose(twin["x"].grad, dx[:1, T - 1], rtol=1e-4, atol=1e-7)
    assert f"time step {T} of {T}" in words["note"] and words["name"] == "lstm_cell"
    assert any(k.startswith("w_ih (") and k.endswith("weight_ih_l0)") for k in twin)


def test_the_twin_of_a_fused_cell_step_starts_from_the_cells_own_state():
    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.LSTMCell(3, 4, fused=True)

        def forward(self, x, h, c):
            return self.cell(x, (h, c))
    rng = np.random.default_rng(1)
    x, h, c = (Tensor(rng.standard_normal((2, n)), requires_grad=True) for n in (3, 4, 4))
    model = Step()
    h1, c1 = model(x, h, c)
    loss = (h1 ** 2).sum() + (c1 * 3.0).sum()
    twin, words, fused, sent = _twin_and_fused(loss, model, "cell")
    assert "time step 1 of 1" in words["note"]
    np.testing.assert_allclose(twin["x"].grad, sent[id(fused.inputs[0])][:1, 0], rtol=1e-6)
    np.testing.assert_allclose(twin["h"].grad, sent[id(h)][:1], rtol=1e-6)
    np.testing.assert_allclose(twin["c"].grad, sent[id(c)][:1], rtol=1e-6)


def _titles(page, selector):
    return page.eval_on_selector_all(
        selector, "els => els.map(e => e.querySelector('title').textContent)")


def _click_box(page, box_id):
    page.click(f'#graph .view[data-view=overview] g.node:has(title:text-is("{box_id}"))')


@needs_dot_program
def test_drilling_into_the_date_models_boxes_and_back_in_chromium(tmp_path):
    loss, model = date_step()
    e = explore(loss, model=model, max_nodes=60, collapse_steps=True)
    data = e.data
    sync_playwright, exe, path = _open(tmp_path, e, "date_drill")
    with sync_playwright() as p:
        browser, page, errors = _load(p, exe, path, {"width": 1400, "height": 900})
        assert page.evaluate("window.explorer.shown()") == "overview"
        assert page.is_visible("#graph .view[data-view=overview] svg")
        assert not page.is_visible("#graph .view[data-view=ops] svg")
        assert page.is_disabled("#next") and page.inner_text("#where") == "overview"
        page.screenshot(path=str(tmp_path / "1_overview.png"))
        _drill_into_the_encoder_lstm_and_its_twin(page, data, tmp_path)
        _drill_into_the_attention_box(page, data, tmp_path)
        _drill_into_the_encoder_outline(page, data)
        browser.close()
    assert errors == []


def _drill_into_the_encoder_lstm_and_its_twin(page, data, tmp_path):
    box_id, box = _box(data, "encoder.lstm (LSTM)")
    _click_box(page, box_id)
    assert page.evaluate("window.explorer.shown()") == "ops"
    assert page.inner_text("#where") == "overview › encoder.lstm (LSTM)"
    assert sorted(_titles(page, "g.node.inbox")) == sorted(box["nodes"])
    steps, m = box["steps"], len(box["steps"])
    for i, k in enumerate(steps, 1):                    # next walks only the box's steps
        assert _titles(page, "g.node.current") == [data["steps"][k - 1]["op"]]
        assert page.inner_text("#counter") == (f"step {k} of {len(data['steps'])} ({i} of "
                                               f"the {m} in encoder.lstm (LSTM))")
        page.click("#next")
    assert page.evaluate("window.explorer.current()") == steps[-1]     # and stops there
    assert "LSTMSequence: fused (composed twin: lstm_cell)" in page.inner_text("#box")
    page.screenshot(path=str(tmp_path / "2_encoder_lstm.png"))
    page.click("button[data-twin]")
    twin = data["twins"][box["twin"]]
    assert page.evaluate("window.explorer.shown()") == box["twin"]
    assert "composed twin" in page.inner_text("#where") and "lstm_cell" in page.inner_text("#box")
    page.keyboard.press("End")
    n = len(twin["steps"])
    assert page.inner_text("#counter") == f"step {n} of {n}"
    assert _titles(page, f"#graph .view[data-view={box['twin']}] g.node.current") == [
        twin["steps"][-1]["op"]]
    page.screenshot(path=str(tmp_path / "3_composed_twin.png"))
    page.keyboard.press("Escape")                      # back to the box's ops, as left
    assert page.evaluate("window.explorer.shown()") == "ops"
    assert page.evaluate("window.explorer.current()") == steps[-1]
    page.keyboard.press("Escape")                      # back to the overview
    assert page.evaluate("window.explorer.shown()") == "overview"
    assert _titles(page, "g.node.inbox") == []


def _drill_into_the_attention_box(page, data, tmp_path):
    box_id, box = _box(data, "attention (LuongAttention)")
    _click_box(page, box_id)
    inbox = page.eval_on_selector_all(
        "#graph .view[data-view=ops] g.node.inbox ellipse",
        "els => els.map(e => e.parentNode.closest('g.node').querySelector('title').textContent)")
    assert sorted(data["ops"][o]["name"] for o in inbox) == [
        "MatMul", "MatMul", "Permute", "Softmax"]
    assert page.eval_on_selector("#graph .view[data-view=ops] svg",
                                 "s => s.classList.contains('drilled')")
    first = data["steps"][box["steps"][0] - 1]
    assert f"Backward step {box['steps'][0]}: {first['name']}" in page.inner_text("#step")
    page.click("#last")
    assert page.evaluate("window.explorer.current()") == box["steps"][-1]
    assert page.input_value("#slider") == str(len(box["steps"]))
    assert "button" not in page.inner_html("#box")      # no fused node, no twin
    page.screenshot(path=str(tmp_path / "4_attention.png"))
    page.click("#back")
    assert page.evaluate("window.explorer.shown()") == "overview"


def _drill_into_the_encoder_outline(page, data):
    encoder = sorted(k for k, b in data["overview"]["boxes"].items()
                     if b["lines"][0].startswith(("encoder.", "own ops of encoder ")))
    assert len(encoder) == 3                            # embedding, lstm, own ops
    page.locator("#graph .view[data-view=overview] g.cluster").first.click(
        position={"x": 12, "y": 12})                    # inside the outline, off any box
    scope = page.evaluate("window.explorer.scope()")
    assert sorted(scope["ids"]) == encoder and scope["label"] == "encoder (RNNEncoder)"
    page.click("#allops")
    assert page.evaluate("window.explorer.scope()") is None
    assert "(" not in page.inner_text("#counter")        # "step k of N", the whole pass


@needs_dot_program
def test_the_graph_command_writes_a_models_explorer_that_opens_on_its_overview(tmp_path, capsys):
    from models.cli import main
    out = tmp_path / "attention.html"
    assert main(["graph", "--model", "attention", "--hidden-size", "8", "--wordvec-size", "4",
                 "--batch-size", "4", "--html", str(out)]) == 0
    assert "it opens on the overview" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert '<div class="view" data-view="overview"><svg' in page
    assert page.count('data-view="twin') == 2            # encoder and decoder LSTMs, fused
