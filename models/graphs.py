"""The graphs that ``tinygrad-attn graph`` draws: a single neuron, and one training step of
any model of ``models/``. Each function runs the forward pass and ``backward()`` with every
intermediate value and gradient kept (``viz.retain_grads``), so the picture shows them.
"""
from __future__ import annotations

import sys

import numpy as np

from tinygrad_attn import Tensor, nn

from .train import training_batch


def neuron():
    """A 2-input neuron with a squared-error loss, the example learners meet first:

        n = x1*w1 + x2*w2 + b,   o = tanh(n),   loss = (o - 1)^2

    with x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432 (so n = 0.8814 and
    o = tanh(n) = 1/sqrt(2)), all float64 scalars. Returns (loss after ``backward()``,
    {name: tensor} for the picture's labels: x1, x2, w1, w2, b, x1*w1, x2*w2, n, o).

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
    viz.retain_grads(loss)
    loss.backward()
    names = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1*w1": x1w1, "x2*w2": x2w2,
             "n": n, "o": o}
    return loss, names


def training_step(model, data, batch_size: int = 128, fused: bool = False, seed: int = 0,
                  teacher_forcing: float = 1.0):
    """One training step of ``model`` on the first ``batch_size`` items of a seeded
    shuffle of ``data``'s training set: the forward pass, the loss and ``backward()``.

    ``fused=False`` (default) runs every ``nn.LSTM`` of the model on its composed path (one
    ``lstm_cell`` per time step, each step in a ``scope(t)``) so the picture shows the
    recurrence; ``fused=True`` keeps the one-node-per-layer LSTM. Returns the loss (after
    backward, every intermediate value and gradient kept).
    """
    import viz
    for _, m in model.named_modules():
        if isinstance(m, nn.LSTM):
            m.fused = fused
    idx = np.random.default_rng(seed).permutation(len(data.src_train))[:batch_size]
    src, tgt, mask = training_batch(data, idx)
    loss = model.loss(src, tgt, mask, pad_id=data.pad_id, teacher_forcing_ratio=teacher_forcing)
    viz.retain_grads(loss)
    loss.backward()
    return loss


def command(args) -> int:
    """``tinygrad-attn graph``: draw the graph of a neuron or of one training step of the
    model the command line names, and render it to ``args.output``. Returns the exit
    code (1 when the ``dot`` program is missing: the DOT source is still written)."""
    import viz
    if args.model == "neuron":
        loss, names = neuron()
        graph = viz.draw_graph(loss, params=names, backward=args.backward,
                               rankdir=args.rankdir, max_nodes=args.max_nodes,
                               title="a 2-input neuron: loss = (tanh(x1*w1 + x2*w2 + b) - 1)^2")
    else:
        from .cli import config_from_args, load_data
        from .train import build_model
        data = load_data(args)
        model = build_model(config_from_args(args), len(data.src_vocab), len(data.tgt_vocab))
        loss = training_step(model, data, args.batch_size, fused=args.fused, seed=args.seed,
                             teacher_forcing=args.teacher_forcing)
        graph = viz.draw_graph(loss, model=model, backward=args.backward, rankdir=args.rankdir,
                               max_nodes=args.max_nodes, collapse_steps=args.collapse_steps,
                               title=f"one training step of {type(model).__name__} on "
                                     f"{data.source} (batch {args.batch_size})")
    try:
        path = viz.render(graph, args.output)
    except RuntimeError as e:               # no `dot` program: the DOT source is still saved
        print(f"tinygrad-attn graph: {e}", file=sys.stderr)
        return 1
    print(f"saved {path} ({graph.source.count(' -> ')} edges)")
    return 0
