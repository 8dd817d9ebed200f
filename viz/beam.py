"""The tree of a beam search, drawn with graphviz: the hypotheses of every step with their
log-probabilities, which were kept and which were pruned, and the answer the length
penalty chose.

The input is the record that ``models.decoding.beam_search(..., trace=[])`` fills: one
dict per step with, for N sentences and beam width K, ``parent``, ``token``,
``token_logp``, ``logp``, ``finished``, ``score``, ``chosen`` (N, K or N), the best
pruned extensions ``pruned_parent``, ``pruned_token``, ``pruned_logp`` (N, P), and the
search's ``alpha``, ``lp``, ``beam_width``, ``max_len``. This module reads those arrays
only (``viz`` never imports ``models``).

Beam search for seq2seq: Sutskever et al. 2014, sec. 3.2. The length penalty
lp(|Y|) = ((5 + |Y|) / 6) ** alpha and the ranking by log P(Y) / lp(Y): Wu et al. 2016
(GNMT), sec. 7, eq. 14.
"""
from __future__ import annotations

import math

import graphviz
import numpy as np

from .curves import display_text
from .graph_render import render
from .graph_text import dot_text

#: Colours: kept hypotheses black and bold, pruned ones grey, the answer's path gold.
KEPT, PRUNED, CHOSEN_FILL, CHOSEN_EDGE = "black", "grey60", "#fcd34d", "#b45309"

_RECORD_KEYS = ("parent", "token", "token_logp", "logp", "finished", "score", "chosen",
                "pruned_parent", "pruned_token", "pruned_logp", "alpha", "beam_width")


def _check_trace(trace, n) -> None:
    if not isinstance(trace, (list, tuple)) or not trace:
        raise ValueError("beam_tree: trace must be the non-empty list that beam_search(..., "
                         "trace=[]) filled (fix: pass trace=records, then draw records)")
    missing = [k for k in _RECORD_KEYS if not isinstance(trace[0], dict) or k not in trace[0]]
    if missing:
        raise ValueError(f"beam_tree: a trace record lacks {', '.join(missing)} (fix: pass "
                         f"the records of models.decoding.beam_search(..., trace=[]))")
    N = np.shape(trace[0]["token"])[0]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < N:
        raise ValueError(f"beam_tree: sentence n={n!r} is not in 0..{N - 1} (fix: pick one "
                         f"of the {N} sentences searched)")


def _node(nid, step, parent, token, token_logp, logp, kept, finished=False,
          score=-math.inf) -> dict:
    return {"id": nid, "step": step, "parent": parent, "token": token,
            "token_logp": token_logp, "logp": logp, "kept": kept, "finished": finished,
            "ends": math.isfinite(score), "score": score, "chosen": False, "on_path": False}


def _step_nodes(rec, t: int, n: int) -> list:
    """The kept (then pruned) hypotheses of step ``t`` of sentence ``n`` that are alive."""
    up = (lambda p: f"s{t - 1}k{p}") if t > 0 else (lambda p: "root")
    out = []
    for k in range(len(rec["token"][n])):
        if np.isfinite(rec["logp"][n, k]):
            out.append(_node(f"s{t}k{k}", t, up(int(rec["parent"][n, k])),
                             int(rec["token"][n, k]), float(rec["token_logp"][n, k]),
                             float(rec["logp"][n, k]), True, bool(rec["finished"][n, k]),
                             float(rec["score"][n, k])))
    for j in range(len(rec["pruned_token"][n])):
        if np.isfinite(rec["pruned_logp"][n, j]):
            out.append(_node(f"s{t}p{j}", t, up(int(rec["pruned_parent"][n, j])),
                             int(rec["pruned_token"][n, j]), None,
                             float(rec["pruned_logp"][n, j]), False))
    return out


def beam_tree(trace, n: int = 0) -> dict:
    """The search tree of sentence ``n`` from a ``beam_search`` trace, as plain data.

    Returns a dict: ``nodes`` (a list, root first, then step by step, kept before pruned),
    each node a dict with ``id`` (str), ``step`` (-1 for the root, the start symbol),
    ``parent`` (an id, None for the root), ``token`` (int), ``token_logp`` (float, nats),
    ``logp`` (the cumulative log P of the hypothesis),
    ``kept`` (bool), ``finished`` (ended with ``eos_id``), ``ends`` (scored as an answer:
    finished, or at max_len), ``score`` (log P / lp for an ending node, else -inf),
    ``chosen`` (the answer) and ``on_path`` (on the answer's path from the root);
    ``chosen`` (the answer's id, None if nothing ended), ``by_logp`` (the id of the ending
    node with the highest log P, first on ties: the answer with alpha = 0, since a search
    with alpha = 0 keeps the same hypotheses and stops no later than one with alpha > 0),
    ``alpha``, ``beam_width`` and ``steps`` (records). Dead beam slots (log P = -inf) and
    pruned candidates of -inf are left out.

    Raises ValueError for a trace that is empty or not beam_search's, or an ``n`` outside
    the batch.
    """
    _check_trace(trace, n)
    nodes = [_node("root", -1, None, None, None, 0.0, True)]
    chosen = None
    for t, rec in enumerate(trace):
        nodes += _step_nodes(rec, t, n)
        if rec["chosen"][n] >= 0:
            chosen = f"s{t}k{int(rec['chosen'][n])}"
    by_id = {nd["id"]: nd for nd in nodes}
    for nd in nodes:
        if nd["token_logp"] is None and nd["parent"] is not None:   # pruned: log P - parent's
            nd["token_logp"] = nd["logp"] - by_id[nd["parent"]]["logp"]
    nid = chosen
    while nid is not None:
        by_id[nid]["on_path"] = True
        nid = by_id[nid]["parent"]
    if chosen is not None:
        by_id[chosen]["chosen"] = True
    ending = [nd for nd in nodes if nd["ends"]]
    by_logp = max(ending, key=lambda nd: nd["logp"])["id"] if ending else None
    return {"nodes": nodes, "chosen": chosen, "by_logp": by_logp,
            "alpha": float(trace[0]["alpha"]), "beam_width": int(trace[0]["beam_width"]),
            "steps": len(trace)}


def hypothesis(tree: dict, node_id: str) -> list:
    """The token ids (ints) from the root to ``node_id``, start symbol excluded."""
    by_id = {nd["id"]: nd for nd in tree["nodes"]}
    out = []
    while node_id is not None and node_id != "root":
        out.append(by_id[node_id]["token"])
        node_id = by_id[node_id]["parent"]
    return out[::-1]


def _token_text(tokens, i: int) -> str:
    """Token ``i`` as text: ``tokens[i]`` (a sequence) or ``tokens(i)`` (a callable);
    ``#i`` when it has no entry; a whitespace token as its repr; shown literally."""
    try:
        text = tokens(i) if callable(tokens) else tokens[i]
    except (IndexError, KeyError, TypeError):
        text = f"#{i}"
    text = text if isinstance(text, str) else str(text)
    return repr(text)[1:-1] if text.isspace() or not text else display_text(text, 24)


def _label(nd: dict, tokens, lp_of) -> str:
    lines = [_token_text(tokens, nd["token"]),
             f"log p {nd['token_logp']:+.2f}", f"log P {nd['logp']:.2f}"]
    if nd["ends"]:
        lines.append(f"/ lp {lp_of(nd):.2f} = {nd['score']:.2f}")
    return dot_text("\n".join(lines))


def _style(nd: dict) -> dict:
    if not nd["kept"]:
        return {"color": PRUNED, "fontcolor": "grey45", "style": "rounded,dashed"}
    attrs = {"color": KEPT, "penwidth": "2", "style": "rounded,bold"}
    if nd["finished"]:
        attrs["peripheries"] = "2"
    if nd["on_path"]:
        attrs.update(style="rounded,bold,filled", fillcolor=CHOSEN_FILL, color=CHOSEN_EDGE)
    if nd["chosen"]:
        attrs.update(penwidth="4", fontname="Helvetica-Bold")
    return attrs


def _caption(tree: dict, tokens, title, lp_of) -> str:
    by_id = {nd["id"]: nd for nd in tree["nodes"]}

    def words(nid):
        return " ".join(_token_text(tokens, i) for i in hypothesis(tree, nid))

    lines = [display_text(title, 120)] if title else []
    lines += [f"beam search, width K = {tree['beam_width']}: bold boxes are the K hypotheses "
              f"kept at each step (highest log P), grey dashed ones the best pruned",
              "log p: the token's log-probability; log P: the sum along the path "
              "(cumulative); a double border: ended with the end token",
              f"length penalty alpha = {tree['alpha']:g}: an ended hypothesis scores "
              f"log P / lp, lp = ((5 + |Y|) / 6)^alpha (Wu et al. 2016, eq. 14)"]
    if tree["chosen"] is not None:
        c = by_id[tree["chosen"]]
        lines.append(f"chosen (gold): '{words(c['id'])}'  log P {c['logp']:.2f}, "
                     f"score {c['score']:.2f}")
        b = by_id[tree["by_logp"]]
        lines.append("by log P alone (alpha = 0): the same" if b["id"] == c["id"] else
                     f"by log P alone (alpha = 0) it would be '{words(b['id'])}' "
                     f"(log P {b['logp']:.2f}): the penalty changed the answer")
    return dot_text("\n".join(lines))


def draw_beam_tree(trace, tokens, n: int = 0, *, path=None, title: str | None = None,
                   start: str = "<sos>") -> graphviz.Digraph:
    """Draw the beam-search tree of sentence ``n`` (:func:`beam_tree`), left to right, one
    column per step.

    trace : the list ``models.decoding.beam_search(..., trace=[])`` filled.
    tokens : the target vocabulary, ``tokens[id]`` -> str (a list such as ``Vocab.itos``),
        or a callable id -> str.
    path : optional file (.svg, .png, .pdf, .gv) written with :func:`viz.render`.
    title : the first caption line (e.g. the source sentence). start : the root's label.

    Each box shows the token, its log-probability ``log p`` and the cumulative ``log P``;
    an ended hypothesis also ``/ lp = score``. Kept hypotheses are bold, the best pruned
    extensions grey and dashed, finished ones (the end token) double-bordered, and the
    chosen answer's path gold; the caption names the length penalty and says whether it
    changed the answer. Tokens and the title are drawn literally.

    Returns the ``graphviz.Digraph``. Raises ValueError as :func:`beam_tree`;
    OutputPathError / RuntimeError / RenderError as :func:`viz.render`.
    """
    tree = beam_tree(trace, n)
    lp = [float(r["lp"]) for r in trace]

    def lp_of(nd):
        return lp[nd["step"]]

    g = graphviz.Digraph("beam", graph_attr={
        "rankdir": "LR", "nodesep": "0.12", "ranksep": "0.35", "fontname": "Helvetica",
        "fontsize": "11", "labelloc": "b", "labeljust": "l",
        "label": _caption(tree, tokens, title, lp_of)},
        node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10",
                   "margin": "0.06,0.03"}, edge_attr={"arrowsize": "0.5"})
    g.node("root", dot_text(display_text(start, 24)), **_style(tree["nodes"][0]))
    for nd in tree["nodes"][1:]:
        g.node(nd["id"], _label(nd, tokens, lp_of), **_style(nd))
        edge = ({"color": CHOSEN_EDGE, "penwidth": "3"} if nd["on_path"] else
                {"color": KEPT, "penwidth": "1.5"} if nd["kept"] else
                {"color": PRUNED, "style": "dashed"})
        g.edge(nd["parent"], nd["id"], **edge)
    if path is not None:
        render(g, path)
    return g
