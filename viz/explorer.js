// The backward explorer's page script (viz/explore.py writes it inline; no network).
// DATA (the JSON in #explorer-data): steps (the backward pass in order), tensors and ops
// (by DOT node name, which graphviz writes as each SVG group's <title>), paths (per leaf:
// the edges on any path to the loss and the chain-rule product along each path). A whole
// model's page also has overview (its boxes: their words, the ops and backward steps
// each stands for, a composed twin) and twins (per twin view, a record like DATA's).
// Each picture is a div.view in #graph: "ops", and "overview" and "twin0", ... if any.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const $ = function (id) { return document.getElementById(id); };
  const slider = $("slider"), stepBox = $("step"), pathBox = $("paths");
  const boxPanel = $("box"), tip = $("tip");
  const BOXES = DATA.overview ? DATA.overview.boxes : {};

  function esc(text) {
    const d = document.createElement("div");
    d.textContent = text === null || text === undefined ? "" : String(text);
    return d.innerHTML;
  }

  function titleOf(g) { return g.querySelector("title").textContent; }

  // -- the pictures: their nodes and edges by DOT name, and each one's own step and zoom
  function makeView(el) {
    const name = el.dataset.view;
    const svg = el.querySelector("svg");
    const view = { name: name, el: el, svg: svg, nodes: {}, edges: {}, current: 0, zoom: 1,
      data: name === "ops" ? DATA : name === "overview" ? DATA.overview : DATA.twins[name],
      natural: [svg.width.baseVal.value, svg.height.baseVal.value] };
    svg.querySelectorAll("g.node").forEach(function (g) { view.nodes[titleOf(g)] = g; });
    svg.querySelectorAll("g.edge").forEach(function (g) {
      const key = titleOf(g);
      (view.edges[key] = view.edges[key] || []).push(g);
    });
    return view;
  }
  const views = {};
  document.querySelectorAll("#graph > .view").forEach(function (el) {
    const v = makeView(el);
    views[v.name] = v;
  });
  let shown = views.overview ? "overview" : "ops";   // the picture on screen
  let active = views.ops;   // the picture the step controls walk: the ops or a twin
  let scope = null;         // a drilled box: {label, ids, steps (1-based, in order), nodes}

  function describe(id) {
    const t = active.data.tensors[id];
    if (t) {
      return (t.name ? t.name + "\n" : "") + (t.kind === "loss" ? "the loss\n" : "") +
        "shape " + t.shape + " " + t.dtype +
        (t.steps > 1 ? " (x " + t.steps + " steps)" : "") +
        (t.value !== null ? "\nvalue " + t.value : "") +
        (t.grad !== null ? "\ngrad " + t.grad : "\nno gradient reaches it") +
        (t.created ? "\ncreated at " + t.created : "");
    }
    const op = active.data.ops[id];
    if (op) {
      return op.name + (op.members > 1 ? " (x " + op.members + ")" : "") + "\n" + op.rule +
        (op.composed ? "\nfused: its composed twin is " + op.composed : "");
    }
    return id;
  }

  function clearClasses(names, svg) {
    names.forEach(function (c) {
      (svg || active.svg).querySelectorAll("." + c).forEach(function (el) {
        el.classList.remove(c);
      });
    });
  }

  // -- stepping (in the ops, restricted to a drilled box's steps, or in a twin)
  function stepsHere() { return active === views.ops && scope ? scope.steps : null; }

  function counterText() {
    const n = active.data.steps.length;
    let text = "step " + active.current + " of " + n;
    const steps = stepsHere();
    if (steps) {
      const done = steps.filter(function (k) { return k <= active.current; }).length;
      text += steps.length ? " (" + done + " of the " + steps.length + " in " + scope.label +
        ")" : " (none in " + scope.label + ")";
    }
    return text;
  }

  function setSlider() {
    const steps = stepsHere();
    if (steps) {
      slider.min = steps.length ? "1" : "0";
      slider.max = String(steps.length);
      slider.value = String(steps.filter(function (k) { return k <= active.current; }).length);
    } else {
      slider.min = "0";
      slider.max = String(active.data.steps.length);
      slider.value = String(active.current);
    }
    $("counter").textContent = counterText();
  }

  function show(k) {
    if (shown === "overview") display("ops");
    const data = active.data, nodes = active.nodes;
    const current = active.current = Math.max(0, Math.min(data.steps.length, k));
    setSlider();
    clearClasses(["current", "done", "receiving"]);
    for (let i = 0; i < current - 1; i++) {
      const g = nodes[data.steps[i].op];
      if (g) g.classList.add("done");
    }
    if (current === 0) {
      stepBox.innerHTML = "<h2>Before the backward pass</h2><p>The loss's gradient with " +
        "respect to itself is 1. Press <b>next</b> to run the first op's rule.</p>";
      return;
    }
    const s = data.steps[current - 1];
    const g = nodes[s.op];
    if (g) {
      g.classList.add("current");
      g.scrollIntoView({block: "center", inline: "center"});   // big graphs: keep it in view
    }
    let text = "<h2>Backward step " + current + ": " + esc(s.name) + "</h2>" +
      "<div class='rule'>" + esc(s.rule) + "</div>" +
      "<p>incoming gradient g = dL/d(output): <b>" + esc(s.incoming) + "</b></p>";
    s.sends.forEach(function (send) {
      const to = data.tensors[send.to];
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

  function move(direction) {       // next (+1) / previous (-1), within a drilled box
    const steps = stepsHere(), now = active.current;
    if (!steps) { show(now + direction); return; }
    const there = direction > 0 ? steps.filter(function (k) { return k > now; })[0]
      : steps.filter(function (k) { return k < now; }).pop();
    if (there !== undefined) show(there);
  }

  function end(last) {             // the first / last step (of the box when drilled)
    const steps = stepsHere();
    if (!steps) show(last ? active.data.steps.length : 0);
    else if (steps.length) show(last ? steps[steps.length - 1] : steps[0]);
  }

  function showPaths(id) {
    clearClasses(["onpath", "selected"]);
    const p = id === null ? null : active.data.paths[id];
    if (!p) { pathBox.innerHTML = ""; return; }
    const nodes = active.nodes, edges = active.edges;
    nodes[id].classList.add("selected");
    p.edges.forEach(function (e) {
      (edges[e[0] + "->" + e[1]] || []).forEach(function (g) { g.classList.add("onpath"); });
      [e[0], e[1]].forEach(function (n) { if (nodes[n]) nodes[n].classList.add("onpath"); });
    });
    const t = active.data.tensors[id];
    let text = "<h2>From the loss to " + esc(t.name || id) + "</h2><p>" + p.paths.length +
      (p.more ? " of " + (p.paths.length + p.more) + "+" : "") + " path(s); its gradient " +
      "is the sum over them of the product of the local derivatives (chain rule):</p>";
    let total = 0, known = true;
    p.paths.forEach(function (path) {
      const ops = path.nodes.filter(function (n) { return active.data.ops[n]; })
        .map(function (n) { return active.data.ops[n].name; });
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

  // -- the overview and the drill-down: which picture is shown, and the box panel
  function display(name) {
    shown = name;
    Object.keys(views).forEach(function (v) { views[v].el.hidden = v !== name; });
    if (name !== "overview") active = views[name];
    tip.style.display = "none";
    const stepping = name !== "overview";
    ["first", "prev", "slider", "next", "last"].forEach(function (id) {
      $(id).disabled = !stepping;
    });
    if (stepping) setSlider();
    else $("counter").textContent = "click a box to step through its ops";
    stepBox.hidden = !stepping;
    pathBox.innerHTML = "";
    clearClasses(["onpath", "selected"]);
    renderBox();
  }

  function where() {
    if (shown === "overview") return "overview";
    if (shown === "ops") return "overview \u203a " + (scope ? scope.label : "all ops");
    const twin = DATA.twins[shown];
    return "overview \u203a " + esc(BOXES[twin.box].lines[0]) + " \u203a composed twin";
  }

  function renderBox() {
    if (!DATA.overview) return;
    $("where").innerHTML = where();
    $("back").disabled = shown === "overview";
    let text;
    if (shown === "overview") {
      text = "<h2>The model, one box per module</h2><p><b>Click a box</b> (or an outlined " +
        "module) to step through its ops in the op picture; a fused node's box also offers " +
        "its composed twin. <b>all ops</b> steps through the whole backward pass.</p>";
    } else if (shown !== "ops") {
      const twin = DATA.twins[shown];
      text = "<h2>" + esc(twin.title) + "</h2><p>" + esc(twin.note) + "</p>";
    } else if (!scope) {
      text = "<h2>All ops</h2><p>Every op of the op picture, in the backward order.</p>";
    } else {
      text = "<h2>" + esc(scope.label) + "</h2>" + scope.ids.map(boxText).join("");
    }
    boxPanel.innerHTML = text;
    boxPanel.querySelectorAll("button[data-twin]").forEach(function (b) {
      b.onclick = function () { openTwin(b.dataset.twin); };
    });
  }

  function ranges(steps) {        // [3, 4, 5, 9] -> "#3-#5, #9"
    const parts = [];
    steps.forEach(function (k, i) {
      if (i && k === steps[i - 1] + 1) parts[parts.length - 1][1] = k;
      else parts.push([k, k]);
    });
    return parts.map(function (p) {
      return p[0] === p[1] ? "#" + p[0] : "#" + p[0] + "-#" + p[1];
    }).join(", ");
  }

  function boxText(id) {
    const box = BOXES[id];
    let drawn = box.drawn === 0 ? "none of its " + box.count + " ops is drawn in the op " +
      "picture" : box.drawn + " of its " + box.count + " ops drawn, as " + box.ops.length +
      " op boxes outlined in blue; backward steps " +
      (box.steps.length ? ranges(box.steps) : "none");
    if (box.drawn < box.count) drawn += " (the op picture shows the ops nearest the loss)";
    return "<div class='boxwords'>" + box.lines.map(esc).join("<br>") + "</div><p>" + drawn +
      "</p>" + (box.twin ? "<p><button data-twin='" + esc(box.twin) + "'>composed twin: " +
        esc(DATA.twins[box.twin].name) + " \u25B6</button></p>"
        : "");
  }

  function drill(ids, label) {      // the ops of overview boxes `ids`, in the op picture
    ids = ids.filter(function (id) { return BOXES[id]; });
    if (!ids.length) return;
    const union = function (key) {
      const all = {};
      ids.forEach(function (id) { BOXES[id][key].forEach(function (x) { all[x] = true; }); });
      return Object.keys(all);
    };
    label = label || BOXES[ids[0]].lines[0];
    if (!union("nodes").length) {  // nothing of it is drawn: say so, on the overview
      boxPanel.innerHTML = "<h2>" + esc(label) + "</h2>" + ids.map(boxText).join("");
      return;
    }
    clearScope();
    scope = { ids: ids, label: label, nodes: union("nodes"),
      steps: union("steps").map(Number).sort(function (a, b) { return a - b; }) };
    const svg = views.ops.svg, inside = {};
    scope.nodes.forEach(function (n) { inside[n] = true; });
    svg.classList.add("drilled");
    scope.nodes.forEach(function (n) {
      if (views.ops.nodes[n]) views.ops.nodes[n].classList.add("inbox");
    });
    Object.keys(views.ops.edges).forEach(function (key) {
      const ends = key.split("->");
      if (inside[ends[0]] && inside[ends[1]]) {
        views.ops.edges[key].forEach(function (g) { g.classList.add("inbox"); });
      }
    });
    display("ops");
    if (scope.steps.length) show(scope.steps[0]);
    else if (scope.nodes.length && views.ops.nodes[scope.nodes[0]]) {
      views.ops.nodes[scope.nodes[0]].scrollIntoView({block: "center", inline: "center"});
    }
  }

  function clearScope() {
    scope = null;
    views.ops.svg.classList.remove("drilled");
    clearClasses(["inbox"], views.ops.svg);
  }

  function openTwin(name) {
    display(name);
    show(active.current);
    const root = active.nodes[active.data.root];
    if (active.current === 0 && root) root.scrollIntoView({block: "center", inline: "center"});
  }

  function back() {
    if (!views.overview || shown === "overview") return;    // a page without an overview
    if (shown === "ops") { clearScope(); display("overview"); return; }
    display("ops");                                    // from a twin to its box's ops
    show(active.current);
  }

  function allOps() {
    clearScope();
    display("ops");
    show(active.current);
  }

  function inCluster(cluster) {     // the overview boxes drawn inside an outlined module
    const b = cluster.getBBox();
    return Object.keys(views.overview.nodes).filter(function (id) {
      const r = views.overview.nodes[id].getBBox();
      const x = r.x + r.width / 2, y = r.y + r.height / 2;
      return BOXES[id] && x > b.x && x < b.x + b.width && y > b.y && y < b.y + b.height;
    });
  }

  // -- events
  ["ops"].concat(Object.keys(DATA.twins || {})).forEach(function (name) {
    const view = views[name];
    Object.keys(view.nodes).forEach(function (id) {
      const g = view.nodes[id];
      g.addEventListener("mousemove", function (ev) {
        tip.textContent = describe(id);
        tip.style.display = "block";
        tip.style.left = (ev.clientX + 14) + "px";
        tip.style.top = (ev.clientY + 14) + "px";
      });
      g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
      g.addEventListener("click", function (ev) { ev.stopPropagation(); showPaths(id); });
    });
    view.svg.addEventListener("click", function () { showPaths(null); });
  });
  if (views.overview) {
    Object.keys(views.overview.nodes).forEach(function (id) {
      if (!BOXES[id]) return;
      views.overview.nodes[id].classList.add("drillable");
      views.overview.nodes[id].addEventListener("click", function (ev) {
        ev.stopPropagation();
        drill([id]);
      });
    });
    views.overview.svg.querySelectorAll("g.cluster").forEach(function (c) {
      c.classList.add("drillable");
      c.addEventListener("click", function (ev) {
        ev.stopPropagation();
        const label = Array.prototype.map.call(c.querySelectorAll("text"), function (t) {
          return t.textContent;
        }).join(" ");
        drill(inCluster(c), label);
      });
    });
    $("drill").hidden = false;
    $("back").onclick = back;
    $("allops").onclick = allOps;
  }

  function setZoom(z) {           // the shown picture's size: natural size x z
    const view = views[shown];
    view.zoom = Math.max(0.1, Math.min(4, z));
    view.svg.style.width = (view.natural[0] * view.zoom) + "px";
    view.svg.style.height = (view.natural[1] * view.zoom) + "px";
  }
  $("zoomin").onclick = function () { setZoom(views[shown].zoom * 1.25); };
  $("zoomout").onclick = function () { setZoom(views[shown].zoom / 1.25); };
  $("fit").onclick = function () {
    const box = $("graph"), n = views[shown].natural;
    setZoom(Math.min(box.clientWidth / n[0], box.clientHeight / n[1]));
  };
  $("first").onclick = function () { end(false); };
  $("prev").onclick = function () { move(-1); };
  $("next").onclick = function () { move(1); };
  $("last").onclick = function () { end(true); };
  slider.oninput = function () {
    const steps = stepsHere(), v = Number(slider.value);
    show(steps ? (v ? steps[v - 1] : 0) : v);
  };
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") back();
    if (shown === "overview") return;
    if (ev.key === "ArrowRight") move(1);
    else if (ev.key === "ArrowLeft") move(-1);
    else if (ev.key === "Home") end(false);
    else if (ev.key === "End") end(true);
  });
  window.explorer = { show: show, showPaths: showPaths, setZoom: setZoom, data: DATA,
    drill: drill, back: back, allOps: allOps, openTwin: openTwin,
    shown: function () { return shown; }, scope: function () { return scope; },
    current: function () { return active.current; } };
  if (shown === "overview") {      // open on the overview, as wide as the window if it can
    display("overview");
    setZoom(Math.min(1, Math.max(0.5, $("graph").clientWidth / views.overview.natural[0])));
  } else {
    show(0);
  }
})();
