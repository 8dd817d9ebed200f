"""Padding and causal masks, and the attention weights they leave, drawn with matplotlib.

A batch of sentences of different lengths is padded to one length S; a **padding mask**
(N, S) marks the padding keys, so no query attends to them. A decoder may not look ahead:
the **causal mask** (T, T) marks every key s > t for query t (Vaswani et al. 2017,
sec. 3.2.3: "masking out (setting to -inf) all values in the input of the softmax which
correspond to illegal connections"). Both use PyTorch's bool convention, True = masked
out. The weights are :func:`tinygrad_attn.functional.masked_softmax`: each row sums to 1
over its kept keys and is exactly 0 on the masked ones.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_attn import Tensor  # noqa: E402
from tinygrad_attn import functional as F  # noqa: E402

from .curves import LITERAL, check_output_path, display_text, save_figure  # noqa: E402

MASKED = "#9ca3af"   # grey: a masked cell


def mask_example(lengths=(5, 3, 4), seed: int = 0) -> dict:
    """A padded batch of self-attention scores and its masks and weights.

    lengths : the N sentence lengths (ints >= 1); S = T = max(lengths).
    seed : the numpy Generator seed of the scores (standard normal times 1.5).

    Returns a dict of ndarrays: ``lengths`` (N,), ``padding_mask`` bool (N, S) (True at
    padding), ``causal_mask`` bool (T, T) (True above the diagonal: key s > query t),
    ``scores`` float32 (N, T, S), ``weights`` float32 (N, T, S) =
    ``masked_softmax(scores, padding_mask[:, None, :])`` (an encoder's self-attention) and
    ``causal_weights`` float32 (N, T, S) = ``masked_softmax(scores, padding | causal)``
    (a decoder's self-attention).

    Raises ValueError for no lengths or a length < 1.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not len(lengths) or lengths.dtype.kind not in "iu" \
            or (lengths < 1).any():
        raise ValueError(f"mask_example: lengths must be a list of ints >= 1, got "
                         f"{lengths.tolist()!r:.80} (fix: e.g. lengths=(5, 3, 4))")
    N, S = len(lengths), int(lengths.max())
    padding = np.arange(S)[None, :] >= lengths[:, None]
    causal = np.triu(np.ones((S, S), dtype=bool), k=1)
    scores = (np.random.default_rng(seed).standard_normal((N, S, S)) * 1.5).astype(np.float32)
    weights = F.masked_softmax(Tensor(scores), padding[:, None, :]).data
    causal_weights = F.masked_softmax(Tensor(scores), padding[:, None, :] | causal).data
    return {"lengths": lengths, "padding_mask": padding, "causal_mask": causal,
            "scores": scores, "weights": weights, "causal_weights": causal_weights}


def _draw_mask(ax, mask, title, xlabel, ylabel, yticks):
    image = ax.imshow(mask, cmap=matplotlib.colors.ListedColormap(["white", MASKED]),
                      vmin=0, vmax=1, interpolation="nearest")
    for (r, c), m in np.ndenumerate(mask):
        ax.text(c, r, "True" if m else "False", ha="center", va="center", fontsize=7,
                color="white" if m else "black")
    _frame(ax, mask.shape, title, xlabel, ylabel, yticks)
    return image


def _frame(ax, shape, title, xlabel, ylabel, yticks):
    ax.set_xticks(range(shape[1]))
    ax.set_yticks(range(shape[0]), yticks)
    ax.set_xticks(np.arange(-0.5, shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, shape[0]), minor=True)
    ax.grid(which="minor", color="black", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(display_text(title, 120), fontsize=9, **LITERAL)


def _draw_weights(ax, weights, mask, title, yticks):
    shown = np.ma.masked_array(weights, mask=mask)
    cmap = plt.get_cmap("Blues").with_extremes(bad=MASKED)
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for (r, c), w in np.ndenumerate(weights):
        ax.text(c, r, "0" if mask[r, c] else f"{w:.2f}", ha="center", va="center",
                fontsize=7, color="white" if w > 0.6 and not mask[r, c] else "black")
    _frame(ax, weights.shape, title, "key s", "query t", yticks)
    sums = ax.secondary_yaxis("right")    # each row's sum as a tick label on the right
    sums.set_yticks(range(weights.shape[0]),
                    [f"sum {total:.3f}" for total in weights.sum(axis=1)], fontsize=8)
    sums.tick_params(length=0)
    return image


def draw_masks(fig, example: dict, n: int = 1) -> dict:
    """Draw :func:`mask_example` on ``fig`` as six panels: the padding mask (N, S), the
    causal mask (T, T), sentence ``n``'s padding | causal mask; its scores, its weights
    with the padding mask, and with both masks (masked cells grey and labelled 0, each
    row's sum written at its right). Rows of padded queries are marked "(pad)": they are
    computed like the others, and the loss ignores their outputs.

    Returns ``{"axes": the six Axes, "images": {"padding_mask", "causal_mask",
    "combined_mask", "scores", "weights", "causal_weights"}: the AxesImage of each}``.
    Raises ValueError when ``n`` is not a sentence of the example.
    """
    N = len(example["lengths"])
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < N:
        raise ValueError(f"draw_masks: n={n!r} is not a sentence of the batch 0..{N - 1}")
    pad, causal = example["padding_mask"], example["causal_mask"]
    both = pad[n][None, :] | causal
    axes = fig.subplots(2, 3).ravel()
    L = int(example["lengths"][n])
    rows = [f"{t} (pad)" if t >= L else str(t) for t in range(len(causal))]   # padded queries
    images = {
        "padding_mask": _draw_mask(axes[0], pad, "padding mask (N, S): True = padding key",
                                   "key s", "sentence", [f"{i} (length {k})" for i, k in
                                                         enumerate(example["lengths"])]),
        "causal_mask": _draw_mask(axes[1], causal, "causal mask (T, T): True = key s > t",
                                  "key s", "query t", range(len(causal))),
        "combined_mask": _draw_mask(axes[2], both, f"sentence {n}: padding | causal",
                                    "key s", "query t", range(len(causal)))}
    scores = example["scores"][n]
    images["scores"] = axes[3].imshow(scores, cmap="RdBu_r", vmin=-4, vmax=4,
                                      interpolation="nearest")
    for (r, c), v in np.ndenumerate(scores):
        axes[3].text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=7)
    _frame(axes[3], scores.shape, f"sentence {n} (length {L}): scores q.k (any real number)",
           "key s", "query t", rows)
    images["weights"] = _draw_weights(
        axes[4], example["weights"][n], np.broadcast_to(pad[n], scores.shape),
        "masked_softmax(scores, padding): encoder self-attention", rows)
    images["causal_weights"] = _draw_weights(
        axes[5], example["causal_weights"][n], both,
        "masked_softmax(scores, padding | causal): decoder", rows)
    return {"axes": list(axes), "images": images}


def plot_masks(path, lengths=(5, 3, 4), n: int = 1, seed: int = 0,
               title: str | None = None) -> str:
    """Save the picture of :func:`draw_masks` for ``mask_example(lengths, seed)`` to
    ``path`` (.png, .svg, .pdf, ...); ``title`` is drawn literally (default: what the
    picture shows). Returns the path written. Raises TypeError / OutputPathError for a
    path that cannot be written (before any work), ValueError as :func:`mask_example` and
    :func:`draw_masks`.
    """
    check_output_path(path)
    example = mask_example(lengths, seed)
    fig = plt.figure(figsize=(16, 9), layout="constrained")
    fig.get_layout_engine().set(wspace=0.12)     # room for the row sums on the right
    try:
        draw_masks(fig, example, n)
    except Exception:
        plt.close(fig)
        raise
    if title is None:
        title = (f"a padded batch of {len(example['lengths'])} sentences: masks (True = "
                 f"masked out) and the masked softmax; masked keys get exactly 0, each row "
                 f"sums to 1 over the rest")
    fig.suptitle(display_text(title, 200), fontsize=11, **LITERAL)
    return save_figure(fig, path, dpi=100, bbox_inches="tight", pad_inches=0.2)
