"""Where one output step's gradient reaches the source: "why attention helps", measured.

For one item and one output step t, :func:`source_gradient_norms` runs the model with
teacher forcing, takes that step's loss ``-log p(y_t | y_<t, x)`` and differentiates it
with respect to the encoder's input embeddings e_1 .. e_S (the source characters' or
words' embedding vectors). The norm ``||dL_t / de_s||_2`` of each source position s says
how much that position can change the answer at step t, so how much of the gradient
that trains the encoder on step t reaches it. This is first-derivative saliency
(Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks", sec. 3; for
word embeddings, Li et al. 2016, "Visualizing and Understanding Neural Models in NLP"),
with the D components of each position's derivative summarised by their L2 norm.

What the three models of the book (Deep Learning from Scratch 2, ch. 7-8) show, trained
briefly on its date task (``docs/scripts/why_attention.py``, tested in
``tests/test_saliency.py``):

- ``Seq2Seq``: the decoder sees the source only through the encoder's final state h_S,
  so every gradient enters the encoder at its last step and travels back through the
  LSTM, shrinking at each step: it fades toward the positions the encoder read first.
- ``PeekySeq2Seq``: h_S feeds every decoder step and the output layer, so the decoder
  leans on it harder; the gradient still enters the encoder only at h_S, and spreads
  over the whole source, with no clear peak on the digit's characters.
- ``AttentionSeq2Seq``: the context ``sum_s a_ts h_s`` reaches every encoder state
  directly (Luong et al. 2015, sec. 3.1), so the gradient arrives where the weights
  ``a_ts`` are large: on the source characters that step copies.

The embedded source is read by wrapping the encoder's embedding layer for the length of
one call (:func:`_recording`); the model files are not changed.
"""
from __future__ import annotations

import contextlib

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import functional as F

__all__ = ["source_gradient_norms", "source_embedding_layer", "date_step_span"]

#: What ``source_gradient_norms(of=...)`` differentiates.
OUTPUTS = ("loss", "logit")


def source_embedding_layer(model):
    """The layer that embeds a model's source ids: ``model.encoder.embedding`` for the
    recurrent models (:class:`models.base.RNNEncoder`), ``model.src_embedding`` for the
    Transformer. Raises TypeError for a model that has neither."""
    encoder = getattr(model, "encoder", None)
    layer = getattr(encoder, "embedding", None) or getattr(model, "src_embedding", None)
    if not isinstance(layer, tg.nn.Module):
        raise TypeError(f"source_gradient_norms: {type(model).__name__} has no source "
                        f"embedding layer (fix: pass a model of models/, whose encoder has "
                        f".embedding, or a Transformer with .src_embedding)")
    return layer


@contextlib.contextmanager
def _recording(layer):
    """Within the block, every output of ``layer`` (a Module) is appended to the yielded
    list; ``layer.forward`` is restored on exit, even after an error."""
    seen, forward = [], layer.forward

    def record(*args, **kwargs):
        out = forward(*args, **kwargs)
        seen.append(out)
        return out

    layer.forward = record             # an instance attribute shadows the class's method
    try:
        yield seen
    finally:
        del layer.forward


@contextlib.contextmanager
def _evaluating(model):
    """``model.eval()`` within the block (no dropout), each module's mode restored after."""
    modes = [(m, m.training) for _, m in model.named_modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _one_row(ids, name: str, shape_hint: str) -> np.ndarray:
    """``ids`` as an int64 (L,) array, or a one-line error naming the fix."""
    arr = np.asarray(ids.data if isinstance(ids, tg.Tensor) else ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"source_gradient_norms: {name} must hold integer token ids, got dtype "
                        f"{arr.dtype} (fix: pass the encoded ids, e.g. codec.encode_source"
                        f"(text)[0])")
    if arr.ndim != 1:
        raise ValueError(f"source_gradient_norms: {name} must be one item's ids of shape "
                         f"{shape_hint}, got shape {arr.shape} (fix: pass one row, e.g. "
                         f"{name.split('_')[0]}[i])")
    return arr.astype(np.int64)


def _check_step(step, T: int) -> int:
    """``step`` as an int in [0, T), or TypeError / IndexError naming the range."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"source_gradient_norms: step must be an int, got "
                        f"{type(step).__name__} (fix: pass an output position 0..{T - 1})")
    if not 0 <= step < T:
        raise IndexError(f"source_gradient_norms: step {step} is out of range for {T} output "
                         f"steps (fix: pass 0 <= step < {T}; tgt_ids holds the start symbol "
                         f"plus {T} outputs)")
    return int(step)


def source_gradient_norms(model, src_ids, tgt_ids, step: int, of: str = "loss") -> np.ndarray:
    """The norm of the gradient that one output step's loss sends to each source position.

    Parameters
    ----------
    model : a model of ``models/`` (``Seq2Seq``, ``PeekySeq2Seq``, ``AttentionSeq2Seq``,
        ``BahdanauSeq2Seq``, ``Transformer``): called as ``model(src, tgt_in)`` -> logits.
    src_ids : int array-like (S,)
        One item's source ids in the order the model reads them (reversed if its data
        reverses the input: ``codec.encode_source(text)[0]``). No padding mask is used.
    tgt_ids : int array-like (T + 1,)
        The item's target ids, starting with the start symbol; the decoder reads
        ``tgt_ids[:-1]`` (teacher forcing).
    step : int in [0, T)
        The output step: its loss is ``L = -log softmax(logits[step])[tgt_ids[step + 1]]``
        (nats), the cross-entropy of that one step.
    of : "loss" (default) or "logit"
        Differentiate the step's loss L, or the unnormalised score ``logits[step][y]`` of
        the right token y (Simonyan et al.'s class score; it does not saturate as the
        model grows sure, while ``dL = (p - onehot(y)) . dlogits`` shrinks with 1 - p_y).

    Returns
    -------
    np.ndarray, float64, shape (S,)
        ``||dL / de_s||_2`` for s = 0 .. S-1, with e_s (D,) the embedding of source
        position s as the encoder reads it (the output of its embedding layer), in the
        order of ``src_ids``. Units: nats per unit of embedding.

    The model runs in evaluation mode (no dropout; each module's mode is restored) with
    gradients enabled; the parameters' ``.grad`` are not touched (``tinygrad_attn.grad``).

    Raises
    ------
    TypeError
        Ids that are not integers, a ``step`` that is not an int, or a model without a
        source embedding layer (:func:`source_embedding_layer`).
    ValueError
        Ids that are not one row (1-D), ``tgt_ids`` shorter than 2, or ``of`` not in
        ``OUTPUTS``.
    IndexError
        ``step`` outside [0, T).
    """
    src = _one_row(src_ids, "src_ids", "(S,)")
    tgt = _one_row(tgt_ids, "tgt_ids", "(T + 1,)")
    if len(tgt) < 2:
        raise ValueError(f"source_gradient_norms: tgt_ids has {len(tgt)} id(s); it needs the "
                         f"start symbol and at least one output (fix: pass the whole target "
                         f"row, e.g. data.tgt_test[i])")
    step = _check_step(step, len(tgt) - 1)
    if of not in OUTPUTS:
        raise ValueError(f"source_gradient_norms: of must be one of {OUTPUTS}, got {of!r} "
                         f"(fix: of='loss' for the step's cross-entropy)")
    layer = source_embedding_layer(model)
    with _evaluating(model), tg.enable_grad():
        with _recording(layer) as seen:
            logits = model(src[None, :], tgt[None, :-1])             # (1, T, V)
        if len(seen) != 1:
            raise TypeError(f"source_gradient_norms: {type(model).__name__} called its "
                            f"source embedding {len(seen)} times in one forward pass; expected "
                            f"once (fix: a model whose encoder embeds the source once)")
        embedded = seen[0]                                           # (1, S, D)
        row, y = logits[0, step], int(tgt[step + 1])
        out = row[y] if of == "logit" else -F.log_softmax(row, axis=-1)[y]
        (g,) = tg.grad(out, [embedded])
    return np.linalg.norm(np.asarray(g.data, dtype=np.float64)[0], axis=-1)


def date_step_span(text: str, iso: str, step: int, width: int, reversed_input: bool) -> list:
    """The source positions, in the order the model reads them, that output character
    ``step`` of a date task's answer comes from.

    text : the input as typed (``"september 27, 1994"``); iso : its answer ``YYYY-MM-DD``;
    step : 0..9, an index into ``iso`` (the decoder's output step); width : S, the model's
    source width (``codec.source_width``); reversed_input : ``codec.reversed``.
    Returns the sorted positions (ints in [0, S)) of the whole field (year, month or day)
    that holds the digit, from :func:`models.date_task.date_source_spans`; a month typed
    as a name gives the name's characters; an empty list if the field is not in ``text``.
    Raises ValueError for a step on a ``-`` (4 or 7) or outside 0..9, or a text longer
    than ``width``.
    """
    from .date_task import date_source_spans
    fields = {**dict.fromkeys(range(0, 4), "year"), **dict.fromkeys((5, 6), "month"),
              **dict.fromkeys((8, 9), "day")}
    if step not in fields:
        raise ValueError(f"date_step_span: step {step!r} is not a digit of YYYY-MM-DD (fix: "
                         f"0-3 year, 5-6 month, 8-9 day)")
    if len(text) > width:
        raise ValueError(f"date_step_span: text is {len(text)} characters, longer than the "
                         f"source width {width} (fix: a shorter date)")
    typed = date_source_spans(text, iso)[fields[step]]
    return sorted(width - 1 - p if reversed_input else p for p in typed)
