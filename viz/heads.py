"""Per-head attention maps of one multi-head attention layer, drawn with matplotlib.

Multi-head attention (Vaswani et al. 2017, sec. 3.2.2) runs ``h`` scaled dot-product
attentions side by side, each on its own projections of the queries, keys and values, so
each head has its own map ``a_k[t, s]`` (rows: output tokens t, columns: source tokens s,
each row a distribution over the source). The layer then concatenates the heads' outputs
and mixes them with ``W^O``. A model that shows one alignment shows the mean of the heads
(``models.transformer.Transformer`` does, as PyTorch's ``average_attn_weights=True``);
this picture shows every head, and that mean beside them.

Each panel is :func:`viz.attention.draw_attention`; :func:`draw_head_maps` returns what
it drew, for tests.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .attention import _font_family, draw_attention  # noqa: E402
from .curves import LITERAL, check_output_path, display_text, save_figure  # noqa: E402


def _heads(weights) -> np.ndarray:
    """weights (h, T, S) array-like or Tensor -> float64 ndarray; ValueError otherwise."""
    w = np.asarray(weights.data if hasattr(weights, "data") else weights, dtype=np.float64)
    if w.ndim != 3 or w.shape[0] < 1:
        raise ValueError(f"draw_head_maps: weights must be (heads, T, S) with at least one "
                         f"head, got shape {w.shape} (fix: one sentence of "
                         f"cross_attn_head_weights (N, h, T, S), e.g. weights[0])")
    return w


def _columns(cols, panels: int) -> int:
    """Panels per row: ``cols`` (at most ``panels``), or None: one row of up to 6 panels,
    else 4 per row."""
    if cols is None:
        return panels if panels <= 6 else 4
    return max(1, min(int(cols), panels))


def draw_head_maps(fig, weights, src_tokens, out_tokens, cols: int | None = None,
                   mean: bool = True) -> dict:
    """Draw one panel per head on ``fig`` (and a last panel with their mean).

    weights : (h, T, S) array-like or Tensor, head k's map in ``weights[k]``.
    src_tokens : S strings (columns); out_tokens : T strings (rows), drawn literally.
    cols : panels per row (None: all in one row up to 6 panels, else 4). mean : add the panel
        "mean of the h heads" (the weights ``average_attn_weights=True`` gives).

    Returns ``{"axes": the panels' Axes in order, "images": the h AxesImage of the heads,
    "mean": the mean panel's AxesImage or None}``; unused grid cells are hidden. Raises
    ValueError when ``weights`` is not 3-D or its (T, S) does not match the token lists,
    TypeError when a token list is not a sequence (from draw_attention).
    """
    w = _heads(weights)
    maps = [(w[k], f"head {k + 1}") for k in range(w.shape[0])]
    if mean:
        maps.append((w.mean(axis=0), f"mean of the {w.shape[0]} heads"))
    cols = _columns(cols, len(maps))
    grid = fig.subplots(math.ceil(len(maps) / cols), cols, squeeze=False).ravel()
    images = [draw_attention(ax, m, src_tokens, out_tokens, title=name)
              for ax, (m, name) in zip(grid, maps)]
    for ax in grid[len(maps):]:
        ax.axis("off")
    fig.colorbar(images[0], ax=list(grid[:len(maps)]), fraction=0.02, pad=0.02,
                 label="attention weight")
    return {"axes": list(grid[:len(maps)]), "images": images[:w.shape[0]],
            "mean": images[-1] if mean else None}


def plot_head_maps(path, weights, src_tokens, out_tokens, title: str | None = None,
                   cols: int | None = None, mean: bool = True) -> str:
    """Save :func:`draw_head_maps` of ``weights`` (h, T, S) to ``path`` (.png, .svg, .pdf,
    ...); ``title`` is drawn literally (Hangul needs a CJK font, see
    :data:`viz.attention.FONTS`). Returns the path written.

    Raises TypeError / OutputPathError for a path that cannot be written (before any
    work), ValueError / TypeError as :func:`draw_head_maps`.
    """
    check_output_path(path)
    w = _heads(weights)
    panels = w.shape[0] + bool(mean)
    cols = _columns(cols, panels)
    rows = math.ceil(panels / cols)
    fig = plt.figure(figsize=(cols * (1.3 + 0.36 * w.shape[2]) + 1.0,
                              rows * (1.3 + 0.3 * w.shape[1]) + 0.6), layout="constrained")
    try:
        draw_head_maps(fig, w, src_tokens, out_tokens, cols, mean)
    except Exception:
        plt.close(fig)
        raise
    if title:
        fig.suptitle(display_text(title, 200), fontsize=11, fontfamily=_font_family([title]),
                     **LITERAL)
    return save_figure(fig, path, dpi=110, bbox_inches="tight", pad_inches=0.15)


__all__ = ["draw_head_maps", "plot_head_maps"]
