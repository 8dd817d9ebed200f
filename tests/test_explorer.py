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
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"file://{path}")
        texts = _step_through(page, e.data)
        page.click("#first")
        page.click("#next")
        assert page.input_value("#slider") == "1"
        page.keyboard.press("End")
        assert page.inner_text("#counter") == f"step {e.steps} of {e.steps}"
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
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"file://{path}")
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
