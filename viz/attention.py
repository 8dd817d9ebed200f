"""Attention maps with matplotlib: which source tokens each output token looked at.

A map is the matrix of attention weights a[t, s] of one sentence: rows are the output
tokens (t), columns the source tokens (s) in reading order, each row a distribution over
the source (Luong et al. 2015, sec. 3.1; Bahdanau et al. 2014, fig. 3 draws the same
picture). For multi-head attention (Vaswani et al. 2017, sec. 3.2.2) each head has its own
map, drawn as one panel per head.
"""
from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .curves import (FIGURE_FORMATS, LITERAL, check_output_path, display_text,  # noqa: E402
                     save_figure)

#: Longest token (characters) shown whole as a tick label; longer ones are cut (display_text).
MAX_TOKEN_CHARS = 40

# Hangul (the Korean data) needs a CJK font; matplotlib falls back along this list, glyph by
# glyph, to the first installed font that has it (DejaVu Sans ships with matplotlib).
FONTS = ["DejaVu Sans", "Noto Sans CJK KR", "Noto Sans CJK JP", "NanumGothic",
         "Apple SD Gothic Neo", "Malgun Gothic"]


def _font_family(tokens=()):
    """The installed fonts of ``FONTS``; warns (once per call) when ``tokens`` hold Hangul
    and no font for it is installed, since the picture would show empty boxes."""
    from matplotlib import font_manager
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = [f for f in FONTS if f in installed] or ["DejaVu Sans"]
    if family == ["DejaVu Sans"] and any("\uac00" <= ch <= "\ud7a3" for t in tokens for ch in t):
        warnings.warn("viz: no font with Hangul is installed, so Korean tokens show as boxes "
                      "(fix: 'apt-get install fonts-noto-cjk' or the smaller 'fonts-nanum')",
                      stacklevel=3)
    return family


def _tick(token) -> str:
    """A token as a tick label: literal (display_text), a token of only spaces as its repr."""
    token = token if isinstance(token, str) else str(token)
    return repr(token)[1:-1] if token.isspace() else display_text(token, MAX_TOKEN_CHARS)


def _check(weights, src_tokens, out_tokens, what="plot_attention"):
    for name, tokens in (("src_tokens", src_tokens), ("out_tokens", out_tokens)):
        if isinstance(tokens, bytes) or not hasattr(tokens, "__len__") \
                or not hasattr(tokens, "__getitem__"):
            raise TypeError(f"{what}: {name} must be a list of tokens (a str counts as its "
                            f"characters), got {type(tokens).__name__} (fix: e.g. "
                            f"list('abc') or sentence.split())")
    w = np.asarray(weights.data if hasattr(weights, "data") else weights, dtype=np.float64)
    if w.ndim != 2 or w.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(f"{what}: weights of shape {w.shape} do not match {len(out_tokens)} "
                         f"output tokens x {len(src_tokens)} source tokens (fix: pass one "
                         f"sentence's (T, S) weights, cut to its real tokens)")
    return w


def draw_attention(ax, weights, src_tokens, out_tokens, title=None, annotate=None):
    """Draw one attention map on a matplotlib ``Axes``.

    weights : (T, S) array-like, row t the attention of output token t over the source.
    src_tokens : S strings (columns, left to right); out_tokens : T strings (rows, top down).
    annotate : write each weight in its cell (default: when the map has <= 400 cells).
    title : optional. Tokens and the title are drawn literally: no math-text (``$x$``,
        ``\\frac``, ``_`` stay as typed), control characters and very long tokens as
        :func:`viz.curves.display_text` shows them.
    Returns the image (for a colour bar). Raises ValueError when the shapes disagree,
    TypeError when a token list is not a sequence.
    """
    w = _check(weights, src_tokens, out_tokens)
    xticks, yticks = [_tick(t) for t in src_tokens], [_tick(t) for t in out_tokens]
    family = _font_family(xticks + yticks)
    img = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto",
                    interpolation="nearest")
    ax.set_xticks(range(len(xticks)))
    ax.set_xticklabels(xticks, rotation=90 if max(map(len, xticks), default=0) > 2 else 0,
                       fontfamily=family, **LITERAL)
    ax.set_yticks(range(len(yticks)))
    ax.set_yticklabels(yticks, fontfamily=family, **LITERAL)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.tick_params(labelsize=8)
    if annotate if annotate is not None else w.size <= 400:
        for (t, s), v in np.ndenumerate(w):
            if v >= 0.1:
                ax.text(s, t, f"{v:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if v > 0.6 else "white")
    if title:
        ax.set_title(display_text(title), fontsize=9, fontfamily=family, **LITERAL)
    return img


def _save(fig, path):
    return save_figure(fig, path, dpi=130, bbox_inches="tight")


def plot_attention(weights, src_tokens, out_tokens, path, title: str | None = None) -> str:
    """Save the attention map of one sentence (a heatmap, source tokens across, output
    tokens down, weights 0..1) to ``path`` (.png, .svg or .pdf). Returns the path.

    Raises ValueError if ``weights`` is not (len(out_tokens), len(src_tokens)),
    OutputPathError (before drawing) if ``path`` cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    w = _check(weights, src_tokens, out_tokens)
    fig, ax = plt.subplots(figsize=(1.2 + 0.32 * w.shape[1], 1.0 + 0.3 * w.shape[0]))
    img = draw_attention(ax, w, src_tokens, out_tokens, title)
    fig.colorbar(img, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_attention_grid(items, path, cols: int = 2, title: str | None = None) -> str:
    """Save several attention maps side by side.

    items : a list of ``(weights (T, S), src_tokens, out_tokens)`` or
        ``(weights, src_tokens, out_tokens, title)``.
    Returns the path. Raises ValueError if ``items`` is empty or a map's shapes disagree,
    OutputPathError (before drawing) if ``path`` cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    if not items:
        raise ValueError("plot_attention_grid: no maps to draw (fix: pass at least one "
                         "(weights, src_tokens, out_tokens) item)")
    cols = max(1, min(cols, len(items)))
    rows = math.ceil(len(items) / cols)
    S = max(len(it[1]) for it in items)
    T = max(len(it[2]) for it in items)
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(cols * (1.5 + 0.3 * S), rows * (1.4 + 0.3 * T)))
    for ax, item in zip(axes.flat, items):
        draw_attention(ax, *item[:3], title=item[3] if len(item) > 3 else None)
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    if title:
        fig.suptitle(display_text(title), fontfamily=_font_family([title]), **LITERAL)
    fig.tight_layout()
    return _save(fig, path)


def plot_attention_heads(weights, src_tokens, out_tokens, path, title: str | None = None,
                         cols: int = 4) -> str:
    """Save one panel per head of multi-head attention.

    weights : (h, T, S), head k's map in ``weights[k]`` (``nn.MultiheadAttention(...,
        average_attn_weights=False)`` gives (N, h, T, S): pass one sentence's).
    Returns the path. Raises ValueError for a weights array that is not 3-D,
    OutputPathError (before drawing) if ``path`` cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    w = np.asarray(weights.data if hasattr(weights, "data") else weights)
    if w.ndim != 3:
        raise ValueError(f"plot_attention_heads: weights must be (heads, T, S), got shape "
                         f"{w.shape} (fix: take one sentence, e.g. weights[0])")
    items = [(w[k], src_tokens, out_tokens, f"head {k + 1}") for k in range(w.shape[0])]
    return plot_attention_grid(items, path, cols=min(cols, len(items)), title=title)
