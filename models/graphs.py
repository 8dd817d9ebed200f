"""The graphs that ``tinygrad-attn graph`` draws: a single neuron, and one training step of
any model of ``models/``, as its overview (``viz.draw_overview``: one box per module, the
default) or as its ops (``viz.draw_graph``, ``--detail ops``). Each function runs the
forward pass and ``backward()`` with every intermediate value and gradient kept
(``viz.retain_grads``), so the picture shows them.
"""
from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from tinygrad_attn import Tensor, nn

from .train import training_batch


def neuron(backward: bool = True):
    """A 2-input neuron with a squared-error loss, the example learners meet first:

        n = x1*w1 + x2*w2 + b,   o = tanh(n),   loss = (o - 1)^2

    with x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432 (so n = 0.8814 and
    o = tanh(n) = 1/sqrt(2)), all float64 scalars. Returns (loss after ``backward()``, or
    before it with ``backward=False``, {name: tensor} for the picture's labels: x1, x2,
    w1, w2, b, x1*w1, x2*w2, n, o).

    By the chain rule (each factor is the derivative in the op's docstring):
    dloss/do = 2(o - 1) = -0.5858; dloss/dn = dloss/do * (1 - o^2) = -0.2929;
    dloss/db = dloss/dn; dloss/dw1 = dloss/dn * x1 = -0.5858; dloss/dw2 = dloss/dn * x2 = 0.
    """
    import viz
    x1, x2 = Tensor(np.float64(2.0)), Tensor(np.float64(0.0))
    w1 = Tensor(np.float64(-3.0), requires_grad=True)
    w2 = Tensor(np.float64(1.0), requires_grad=True)
    b = Tensor(np.float64(6.8813735870195432), requires_grad=True)
    x1w1, x2w2 = x1 * w1, x2 * w2
    n = x1w1 + x2w2 + b
    o = n.tanh()
    loss = (o - 1.0) ** 2
    if backward:
        viz.retain_grads(loss)
        loss.backward()
    names = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1*w1": x1w1, "x2*w2": x2w2,
             "n": n, "o": o}
    return loss, names


def use_fused(model, fused: bool) -> int:
    """Set the fused/composed choice of every layer of ``model`` that has one (a bool
    ``fused`` attribute: ``nn.LSTM``, ``nn.LSTMCell``, ``nn.GRU``, ``nn.GRUCell``):
    ``fused=False`` runs the composed path from primitive ops (one ``lstm_cell`` or
    ``gru_cell`` per time step), ``fused=True`` the fused node (one ``LSTMSequence`` or
    ``GRUSequence`` per layer and direction, or per cell step). Returns the number of
    layers set."""
    layers = [m for _, m in model.named_modules() if isinstance(getattr(m, "fused", None), bool)]
    for m in layers:
        m.fused = bool(fused)
    return len(layers)


def training_step(model, data, batch_size: int = 128, fused: bool = False, seed: int = 0,
                  teacher_forcing: float = 1.0, backward: bool = True):
    """One training step of ``model`` on the first ``batch_size`` items of a seeded
    shuffle of ``data``'s training set: the forward pass, the loss and ``backward()``.

    ``fused`` is set on every layer of the model that has a fused/composed choice
    (:func:`use_fused`: every LSTM and GRU layer and cell, Bahdanau's decoder cell
    included). ``fused=False`` (default) runs them on their composed path (one
    ``lstm_cell`` or ``gru_cell`` per time step, each step in a ``scope(t)``) so the
    picture shows the recurrence; ``fused=True`` keeps one fused node per layer (per step
    for a cell), which the picture labels with its composed twin. The model keeps that
    setting. Returns the
    loss (after backward, every intermediate value and gradient kept; with
    ``backward=False`` before it, for ``viz.explore``, which replays the pass itself).
    """
    import viz
    use_fused(model, fused)
    idx = np.random.default_rng(seed).permutation(len(data.src_train))[:batch_size]
    src, tgt, mask = training_batch(data, idx)
    loss = model.loss(src, tgt, mask, pad_id=data.pad_id, teacher_forcing_ratio=teacher_forcing)
    if backward:
        viz.retain_grads(loss)
        loss.backward()
    return loss


#: Ops drawn when the command line names no --max-nodes: a picture a person can read, and
#: one ``dot`` lays out in a few seconds. Measured (dot 2.43, 2 loaded cores): every model
#: at this level draws in 0.1-2.5 s; the date model's composed LSTM step by step (840 ops,
#: 1,698 nodes) and Bahdanau's unrolled decoder (243 ops) kept dot busy for minutes.
AUTO_MAX_NODES = 100


def level_of_detail(loss, max_nodes, collapse_steps, limit: int = AUTO_MAX_NODES):
    """What ``tinygrad-attn graph`` draws of ``loss``'s graph.

    ``max_nodes`` given (an int): exactly what the user asked, ``(collapse_steps,
    max_nodes, None)``. ``max_nodes`` None: at most ``limit`` ops drawn: first each
    recurrence is drawn once (as ``--collapse-steps``), then, if that is still more, only
    the ops nearest the loss, as many as draw as ``limit`` ops (:func:`_largest_cut`);
    returns ``(collapse_steps, max_nodes or None, note)`` where ``note`` (a one-line
    message, or None when nothing was left out) says what was left out and which flags
    draw more.
    """
    import viz
    if max_nodes is not None:
        return collapse_steps, max_nodes, None
    total = viz.count_ops(loss)
    ops = viz.count_ops(loss, collapse_steps=True) if collapse_steps else total
    if ops <= limit:
        return collapse_steps, None, None
    done = []
    if not collapse_steps:
        collapsed = viz.count_ops(loss, collapse_steps=True)
        if collapsed < total:
            collapse_steps, ops = True, collapsed
            done.append(f"each recurrence once (as --collapse-steps does: {ops} ops)")
    cut = None
    if ops > limit:
        cut = _largest_cut(loss, collapse_steps, limit, total)
        drawn = viz.count_ops(loss, collapse_steps=collapse_steps, max_nodes=cut)
        done.append(f"only the {cut:,} ops nearest the loss"
                    + (f" ({drawn} once collapsed)" if drawn != cut else ""))
    more = [f"--collapse-steps --max-nodes {total}"] if cut and ops < total else []
    more.append(f"--max-nodes {total}" + (" for every step" if ops < total else ""))
    note = (f"the graph has {total:,} ops, too many to read or to lay out in seconds, so "
            f"this picture shows {' and '.join(done)}; to draw more, pass "
            f"{' or '.join(more)} (dot may then run for minutes)")
    return collapse_steps, cut, note


def _largest_cut(loss, collapse_steps: bool, limit: int, total: int) -> int:
    """The largest ``max_nodes`` (ops nearest the loss, counted before collapsing) whose
    picture draws at most ``limit`` ops. Bisection: the count drawn never falls as
    ``max_nodes`` grows, and never exceeds it, so ``limit`` itself always fits."""
    import viz
    lo, hi = limit, total
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if viz.count_ops(loss, collapse_steps=collapse_steps, max_nodes=mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def graph_detail(args) -> tuple[str, bool]:
    """What ``tinygrad-attn graph`` draws: ``(detail, fused)``, detail "overview" (one box
    per module) or "ops" (every op), and whether the recurrent layers run fused.

    ``--detail`` given: as asked. Not given: "ops" for the neuron (it has no modules) and
    when ``--collapse-steps`` or ``--max-nodes`` asks for an op-level picture, else
    "overview". ``--fused`` not given: fused for the overview (as training runs), composed
    for ops (the picture shows the recurrence step by step). Raises ValueError (one line
    with the fix) for options that the chosen picture would ignore.
    """
    ops_flags = [f for f, on in (("--collapse-steps", args.collapse_steps),
                                 ("--max-nodes", args.max_nodes is not None)) if on]
    overview_flags = [f for f, on in (("--depth", args.depth is not None),
                                      ("--lang", args.lang != "en")) if on]
    detail = args.detail or ("ops" if args.model == "neuron" or ops_flags else "overview")
    if detail == "overview" and args.model == "neuron":
        raise ValueError("--detail overview draws a model's modules and the neuron has none "
                         "(fix: drop --detail, or pass a --model such as attention)")
    if detail == "overview" and ops_flags:
        raise ValueError(f"{ops_flags[0]} applies to --detail ops, not to the overview (fix: "
                         f"drop {ops_flags[0]}, or pass --detail ops)")
    if detail == "ops" and overview_flags:
        raise ValueError(f"{overview_flags[0]} applies to the overview, not to --detail ops "
                         f"(fix: drop {overview_flags[0]}, or drop --detail ops)")
    fused = (detail == "overview") if args.fused is None else bool(args.fused)
    return detail, fused


#: The overview's caption, per ``--lang``.
OVERVIEW_TITLE = {"en": "one training step of {model} on {source} (batch {batch}){fused}",
                  "ko": "{model}의 학습 한 단계 ({source}, 배치 {batch}){fused}"}
FUSED_NOTE = {"en": {True: "; {cell} layers fused, as training runs them",
                     False: "; {cell} layers composed, step by step"},
              "ko": {True: "; {cell} 층은 학습할 때처럼 융합", False: "; {cell} 층은 단계별 합성"}}


def fused_note(model, fused: bool, lang: str = "en") -> str:
    """The caption's note on how ``model``'s recurrent layers ran in the drawn step
    (:data:`FUSED_NOTE`, naming GRU for a model with ``nn.GRU`` / ``nn.GRUCell`` layers,
    LSTM for one with ``nn.LSTM`` / ``nn.LSTMCell``), and "" for a model with neither (the
    Transformer) (``lang`` "en" or "ko"; KeyError for another)."""
    modules = [m for _, m in model.named_modules()]
    if any(isinstance(m, (nn.GRU, nn.GRUCell)) for m in modules):
        cell = "GRU"
    elif any(isinstance(m, (nn.LSTM, nn.LSTMCell)) for m in modules):
        cell = "LSTM"
    else:
        return ""
    return FUSED_NOTE[lang][fused].format(cell=cell)


def _command_line_step(args, fused: bool, backward: bool) -> tuple:
    """(data, model, loss) of one training step (:func:`training_step`) of the model and
    data the command line names."""
    from .cli_options import config_from_args, load_data
    from .train import build_model
    data = load_data(args)
    model = build_model(config_from_args(args), len(data.src_vocab), len(data.tgt_vocab))
    # one BLAS thread: measured on 2 busy cores, the composed date-model step took
    # 9.9 s with OpenBLAS's 2 threads and 1.4 s with one (Bahdanau: 18.7 s and 3.6 s)
    with threadpool_limits(limits=1, user_api="blas"):
        loss = training_step(model, data, args.batch_size, fused=fused, seed=args.seed,
                             teacher_forcing=args.teacher_forcing, backward=backward)
    return data, model, loss


def _model_graph(args, detail: str, fused: bool):
    """The picture of one training step of the model the command line names: its
    overview, or its ops at the level of detail :func:`level_of_detail` chooses (a note
    on stderr says what was left out)."""
    import viz
    data, model, loss = _command_line_step(args, fused, backward=True)
    name = type(model).__name__
    if detail == "overview":
        title = OVERVIEW_TITLE[args.lang].format(model=name, source=data.source,
                                                 batch=args.batch_size,
                                                 fused=fused_note(model, fused, args.lang))
        print(f"tinygrad-attn graph: note: one box per module of the {viz.count_ops(loss):,} "
              f"ops; --detail ops draws the ops themselves", file=sys.stderr)
        return viz.draw_overview(loss, model=model, backward=args.backward,
                                 rankdir=args.rankdir, depth=args.depth, lang=args.lang,
                                 title=title)
    collapse, max_nodes, note = level_of_detail(loss, args.max_nodes, args.collapse_steps)
    if note:
        print(f"tinygrad-attn graph: note: {note}", file=sys.stderr)
    return viz.draw_graph(loss, model=model, backward=args.backward, rankdir=args.rankdir,
                          max_nodes=max_nodes, collapse_steps=collapse,
                          title=f"one training step of {name} on {data.source} (batch "
                                f"{args.batch_size})")


def _explorer(args, fused: bool) -> int:
    """``graph --html PATH``: the backward explorer (``viz.explore``) of the neuron or of
    one training step, at the op level of detail the picture would use; a model's page
    opens on its overview (one box per module or fused node), each box drilling down into
    its ops and a fused node's into its composed twin. Returns 0."""
    import viz
    if args.model == "neuron":
        loss, names = neuron(backward=False)
        kwargs = {"params": names}
    else:
        data, model, loss = _command_line_step(args, fused, backward=False)
        collapse, max_nodes, note = level_of_detail(loss, args.max_nodes, args.collapse_steps)
        if note:
            print(f"tinygrad-attn graph: note: {note}", file=sys.stderr)
        title = OVERVIEW_TITLE["en"].format(model=type(model).__name__, source=data.source,
                                            batch=args.batch_size, fused=fused_note(model, fused))
        kwargs = {"model": model, "max_nodes": max_nodes, "collapse_steps": collapse,
                  "title": title}
    timeout = getattr(args, "dot_timeout", None) or viz.graph_render.DOT_TIMEOUT
    # one BLAS thread, as for the step itself: measured on 2 busy cores, the replayed
    # backward pass of Bahdanau's step took 7.3 s with OpenBLAS's 2 threads and 1.9 s with one
    with threadpool_limits(limits=1, user_api="blas"):
        explorer = viz.explore(loss, rankdir=args.rankdir, timeout=timeout, **kwargs)
    path = explorer.save(args.html)
    opens = "" if args.model == "neuron" else "; it opens on the overview: click a box for its ops"
    print(f"saved {path} (step through {explorer.steps} backward steps in a browser{opens})")
    return 0


def command(args) -> int:
    """``tinygrad-attn graph``: draw the graph of a neuron or of one training step of the
    model the command line names, and render it to ``args.output``.

    The output path and the options (:func:`graph_detail`) are checked before any work.
    A model is drawn as its overview (``viz.draw_overview``: one box per module, the
    tensor shapes on the edges) unless ``--detail ops`` (or ``--collapse-steps`` /
    ``--max-nodes``) asks for its ops; with no ``--max-nodes`` the op picture is kept
    readable (:func:`level_of_detail`: at most ``AUTO_MAX_NODES`` ops, a note on stderr
    says what was left out and how to draw more). ``dot`` runs under a timeout
    (``args.dot_timeout`` if the parser has it, else ``viz.graph_render.DOT_TIMEOUT``
    seconds).
    With ``--html PATH`` the backward explorer page (``viz.explore``) is written instead.
    Returns the exit code: 0 written, 1 when ``dot`` is missing (the DOT source is still
    written), failed or timed out (one line on stderr naming the graph's size and a fix).
    Raises ``viz.OutputPathError`` (a ValueError: the CLI prints it in one line) for an
    output path that cannot be written, ValueError for options the picture would ignore
    (:func:`graph_detail`).
    """
    import viz
    html = getattr(args, "html", None)
    if html is not None:
        viz.check_output_path(html, ("html", "htm"), "explorer page")
        if args.detail == "overview":
            raise ValueError("--html steps through the ops, not the overview (fix: drop "
                             "--detail overview)")
        args.detail = "ops"
        if args.fused is None:            # the layers as training runs them: fewer steps
            args.fused = True
    else:
        viz.check_graph_path(args.output)
    detail, fused = graph_detail(args)
    if html is not None:
        try:
            return _explorer(args, fused)
        except RuntimeError as e:         # no `dot`, or dot failed or timed out
            print(f"tinygrad-attn graph: {e}", file=sys.stderr)
            return 1
    if args.model == "neuron":
        loss, names = neuron()
        graph = viz.draw_graph(loss, params=names, backward=args.backward,
                               rankdir=args.rankdir, max_nodes=args.max_nodes,
                               title="a 2-input neuron: loss = (tanh(x1*w1 + x2*w2 + b) - 1)^2")
    else:
        graph = _model_graph(args, detail, fused)
    timeout = getattr(args, "dot_timeout", None) or viz.graph_render.DOT_TIMEOUT
    try:
        path = viz.render(graph, args.output, timeout=timeout)
    except RuntimeError as e:     # no `dot` (the DOT source is still saved), or dot failed
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 1
    nodes, edges = viz.graph_size(graph)
    print(f"saved {path} ({nodes} nodes, {edges} edges)")
    return 0
