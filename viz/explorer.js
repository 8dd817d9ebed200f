// The backward explorer's page script (viz/explore.py writes it inline; no network).
// DATA (the JSON in #explorer-data): steps (the backward pass in order), tensors and ops
// (by DOT node name, which graphviz writes as each SVG group's <title>), paths (per leaf:
// the edges on any path to the loss and the chain-rule product along each path).
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const svg = document.querySelector("#graph svg");
  const nodes = {};     // DOT name -> <g class="node">
  const edges = {};     // "src->dst" -> [<g class="edge">]
  svg.querySelectorAll("g.node").forEach(function (g) {
    nodes[g.querySelector("title").textContent] = g;
  });
  svg.querySelectorAll("g.edge").forEach(function (g) {
    const key = g.querySelector("title").textContent;
    (edges[key] = edges[key] || []).push(g);
  });
  const slider = document.getElementById("slider");
  const stepBox = document.getElementById("step");
  const pathBox = document.getElementById("paths");
  const tip = document.getElementById("tip");
  slider.max = String(DATA.steps.length);
  let current = 0;      // 0: before the first step; k: after step k (1-based)

  function esc(text) {
    const d = document.createElement("div");
    d.textContent = text === null || text === undefined ? "" : String(text);
    return d.innerHTML;
  }

  function describe(id) {
    const t = DATA.tensors[id];
    if (t) {
      return (t.name ? t.name + "\n" : "") + (t.kind === "loss" ? "the loss\n" : "") +
        "shape " + t.shape + " " + t.dtype +
        (t.steps > 1 ? " (x " + t.steps + " steps)" : "") +
        (t.value !== null ? "\nvalue " + t.value : "") +
        (t.grad !== null ? "\ngrad " + t.grad : "\nno gradient reaches it") +
        (t.created ? "\ncreated at " + t.created : "");
    }
    const op = DATA.ops[id];
    if (op) {
      return op.name + (op.members > 1 ? " (x " + op.members + ")" : "") + "\n" + op.rule +
        (op.composed ? "\nfused: its composed twin is " + op.composed : "");
    }
    return id;
  }

  function clearClasses(names) {
    names.forEach(function (c) {
      svg.querySelectorAll("." + c).forEach(function (el) { el.classList.remove(c); });
    });
  }

  function show(k) {
    current = Math.max(0, Math.min(DATA.steps.length, k));
    slider.value = String(current);
    document.getElementById("counter").textContent =
      "step " + current + " of " + DATA.steps.length;
    clearClasses(["current", "done", "receiving"]);
    for (let i = 0; i < current - 1; i++) {
      const g = nodes[DATA.steps[i].op];
      if (g) g.classList.add("done");
    }
    if (current === 0) {
      stepBox.innerHTML = "<h2>Before the backward pass</h2><p>The loss's gradient with " +
        "respect to itself is 1. Press <b>next</b> to run the first op's rule.</p>";
      return;
    }
    const s = DATA.steps[current - 1];
    const g = nodes[s.op];
    if (g) {
      g.classList.add("current");
      g.scrollIntoView({block: "center", inline: "center"});   // big graphs: keep it in view
    }
    let text = "<h2>Backward step " + current + ": " + esc(s.name) + "</h2>" +
      "<div class='rule'>" + esc(s.rule) + "</div>" +
      "<p>incoming gradient g = dL/d(output): <b>" + esc(s.incoming) + "</b></p>";
    s.sends.forEach(function (send) {
      const to = DATA.tensors[send.to];
      if (nodes[send.to]) nodes[send.to].classList.add("receiving");
      text += "<div class='send'>to input " + send.slot +
        (to && to.name ? " (" + esc(to.name) + ")" : "") + ": <b>" + esc(send.grad) + "</b>" +
        (send.local !== null ? "<br>local derivative d(output)/d(input) = " +
          esc(send.local.toPrecision(4)) : "") +
        (send.uses > 1 ? "<br>running sum (" + send.count + " of " + send.uses +
          " uses): <b>" + esc(send.sum) + "</b>" : "") + "</div>";
    });
    stepBox.innerHTML = text;
  }

  function showPaths(id) {
    clearClasses(["onpath", "selected"]);
    const p = DATA.paths[id];
    if (!p) { pathBox.innerHTML = ""; return; }
    nodes[id].classList.add("selected");
    p.edges.forEach(function (e) {
      (edges[e[0] + "->" + e[1]] || []).forEach(function (g) { g.classList.add("onpath"); });
      [e[0], e[1]].forEach(function (n) { if (nodes[n]) nodes[n].classList.add("onpath"); });
    });
    const t = DATA.tensors[id];
    let text = "<h2>From the loss to " + esc(t.name || id) + "</h2><p>" + p.paths.length +
      (p.more ? " of " + (p.paths.length + p.more) + "+" : "") + " path(s); its gradient " +
      "is the sum over them of the product of the local derivatives (chain rule):</p>";
    let total = 0, known = true;
    p.paths.forEach(function (path) {
      const ops = path.nodes.filter(function (n) { return DATA.ops[n]; })
        .map(function (n) { return DATA.ops[n].name; });
      const prod = path.product;
      if (prod === null) known = false; else total += prod.value;
      text += "<div class='path'>" + esc(ops.reverse().join(" \u2190 ")) +
        (prod === null ? "" : "<br>= " + prod.factors.slice().reverse().map(function (f) {
          return f.toPrecision(3);
        }).join(" \u00d7 ") + " = " + prod.value.toPrecision(4)) + "</div>";
    });
    if (known && p.paths.length && !p.more) {
      text += "<p>sum of the paths: <b>" + total.toPrecision(4) + "</b> = grad " +
        esc(t.grad) + "</p>";
    }
    pathBox.innerHTML = text;
  }

  Object.keys(nodes).forEach(function (id) {
    const g = nodes[id];
    g.addEventListener("mousemove", function (ev) {
      tip.textContent = describe(id);
      tip.style.display = "block";
      tip.style.left = (ev.clientX + 14) + "px";
      tip.style.top = (ev.clientY + 14) + "px";
    });
    g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    g.addEventListener("click", function (ev) { ev.stopPropagation(); showPaths(id); });
  });
  svg.addEventListener("click", function () { showPaths(null); });
  const natural = svg.getBBox ? [svg.width.baseVal.value, svg.height.baseVal.value] : null;
  let zoom = 1;
  function setZoom(z) {           // the picture's size: natural size x z
    zoom = Math.max(0.1, Math.min(4, z));
    if (natural) {
      svg.style.width = (natural[0] * zoom) + "px";
      svg.style.height = (natural[1] * zoom) + "px";
    }
  }
  document.getElementById("zoomin").onclick = function () { setZoom(zoom * 1.25); };
  document.getElementById("zoomout").onclick = function () { setZoom(zoom / 1.25); };
  document.getElementById("fit").onclick = function () {
    const box = document.getElementById("graph");
    if (natural) setZoom(Math.min(box.clientWidth / natural[0], box.clientHeight / natural[1]));
  };
  document.getElementById("first").onclick = function () { show(0); };
  document.getElementById("prev").onclick = function () { show(current - 1); };
  document.getElementById("next").onclick = function () { show(current + 1); };
  document.getElementById("last").onclick = function () { show(DATA.steps.length); };
  slider.oninput = function () { show(Number(slider.value)); };
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight") show(current + 1);
    else if (ev.key === "ArrowLeft") show(current - 1);
    else if (ev.key === "Home") show(0);
    else if (ev.key === "End") show(DATA.steps.length);
  });
  window.explorer = { show: show, showPaths: showPaths, setZoom: setZoom, data: DATA,
    current: function () { return current; } };
  show(0);
})();
