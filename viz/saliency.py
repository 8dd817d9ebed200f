"""Bars of the gradient that one output step sends to each source position, one panel per
model, source tokens across: the picture of "why attention helps".

The numbers come from the caller (``models.saliency.source_gradient_norms`` computes
them; ``viz`` never imports ``models``): for each model, an array (S,) of
``||dL_t / de_s||``, the norm of the gradient of output step t's loss with respect to the
embedding of source position s (Simonyan et al. 2014, sec. 3, a gradient saliency map).
The source characters that step's answer comes from are shaded in every panel.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .attention import _font_family, _tick  # noqa: E402
from .curves import (FIGURE_FORMATS, LITERAL, check_output_path, display_text,  # noqa: E402
                     save_figure)

__all__ = ["plot_source_gradients", "draw_source_gradients"]

SPAN_COLOR = "#fdd9a0"      # the shaded source span
BAR_COLOR = "#3b6ea8"
SPAN_BAR_COLOR = "#d9480f"  # bars inside the span


def _check_panels(norms, src_tokens, span, what: str, read_first=None):
    """The panels as [(title, float64 (S,) array)] and the span as a sorted list, or a
    one-line error naming the fix."""
    if isinstance(src_tokens, (str, bytes)) or not hasattr(src_tokens, "__len__"):
        raise TypeError(f"{what}: src_tokens must be a list of tokens, got "
                        f"{type(src_tokens).__name__} (fix: e.g. list('may 3, 2005'))")
    if not isinstance(norms, dict) or not norms:
        raise ValueError(f"{what}: norms must be a non-empty dict {{panel title: (S,) "
                         f"array}} (fix: e.g. {{'seq2seq': g1, 'attention': g2}})")
    if read_first not in (None, "left", "right"):
        raise ValueError(f"{what}: read_first must be 'left', 'right' or None, got "
                         f"{read_first!r} (fix: the end of src_tokens the encoder reads first)")
    S, panels = len(src_tokens), []
    for title, g in norms.items():
        arr = np.asarray(g.data if hasattr(g, "data") else g, dtype=np.float64)
        if arr.shape != (S,):
            raise ValueError(f"{what}: panel {display_text(title, 40)!r} has shape {arr.shape}"
                             f" but there are {S} source tokens (fix: one value per token)")
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise ValueError(f"{what}: panel {display_text(title, 40)!r} holds a negative or "
                             f"non-finite value (fix: pass gradient norms, >= 0 and finite)")
        panels.append((str(title), arr))
    span = sorted({int(s) for s in span})
    if span and not 0 <= span[0] <= span[-1] < S:
        raise ValueError(f"{what}: span {span} is outside the {S} source positions (fix: "
                         f"give indices into src_tokens, 0..{S - 1})")
    return panels, span


def _shares(g, span, read_first) -> str:
    """The panel's note: the share of the total on the span and on the half read last."""
    total = g.sum()
    if total <= 0:
        return "no gradient reaches the source"
    notes = [f"{g[span].sum() / total:.0%} on the shaded characters"] if span else []
    if read_first:
        half = len(g) // 2                  # an odd S leaves the middle out of both halves
        last = g[len(g) - half:] if read_first == "left" else g[:half]
        notes.append(f"{last.sum() / total:.0%} on the half read last")
    return ", ".join(notes)


def draw_source_gradients(ax, norms, src_tokens, span=(), title=None, family=None,
                          read_first=None):
    """Draw one panel: a bar per source token (height ``norms[s]``, float, >= 0), bars of
    the ``span`` positions (ints into ``src_tokens``) in a second colour over a shaded
    band, and a note: the share of the total on the span and, if ``read_first`` ("left"
    or "right") says which end the encoder reads first, on the half it reads last. Tokens
    are tick labels, drawn literally (a space as ``␣``). Returns ``ax``. Raises
    ValueError / TypeError as :func:`plot_source_gradients`."""
    [(_, g)], span = _check_panels({"panel": norms}, src_tokens, span, "draw_source_gradients",
                                   read_first)
    family = family or _font_family(src_tokens)
    x = np.arange(len(g))
    for s in span:
        ax.axvspan(s - 0.5, s + 0.5, color=SPAN_COLOR, zorder=0, lw=0)
    colors = [SPAN_BAR_COLOR if s in span else BAR_COLOR for s in x]
    ax.bar(x, g, width=0.8, color=colors, zorder=2)
    ax.set_xlim(-0.6, len(g) - 0.4)
    ax.set_xticks(x)
    ax.set_xticklabels(["␣" if t == " " else _tick(t) for t in src_tokens],
                       fontfamily=family, fontsize=9, **LITERAL)
    ax.tick_params(axis="y", labelsize=7)
    ax.yaxis.get_offset_text().set_fontsize(7)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax.set_ylim(0, g.max() * 1.15 if g.max() > 0 else 1.0)
    note = _shares(g, span, read_first)
    ax.set_title(note, fontsize=8, loc="right", color="0.25")
    if title:
        ax.set_title(display_text(title), fontsize=10, loc="left", fontfamily=family, **LITERAL)
    return ax


def plot_source_gradients(norms: dict, src_tokens, path, span=(), title: str | None = None,
                          xlabel: str | None = None, read_first: str | None = None) -> str:
    """Save one bar panel per model, stacked, of the gradient each source position gets.

    norms : dict {panel title: array-like (S,) float >= 0}, in drawing order (top down);
        each panel has its own y scale (the models' gradients differ by orders of
        magnitude; the y label says so).
    src_tokens : S strings, the x tick labels, in the order of the arrays.
    span : indices into ``src_tokens`` to shade (the source of the output step).
    title : the figure's title (may hold newlines); xlabel : the x axis's label (default
        "source").
    read_first : "left" or "right": the end the encoder reads first, marked with an arrow
        under the bottom panel (None: no arrow).
    Returns the path (.png, .svg, .pdf, ...).

    Raises
    ------
    ValueError
        ``norms`` empty or not a dict, an array not (S,), negative or non-finite values,
        a span index outside 0..S-1, ``read_first`` not "left"/"right"/None.
    TypeError
        ``src_tokens`` not a list of tokens.
    OutputPathError
        ``path`` cannot be written (checked before drawing).
    """
    check_output_path(path, FIGURE_FORMATS)
    panels, span = _check_panels(norms, src_tokens, span, "plot_source_gradients", read_first)
    family = _font_family(list(src_tokens) + [title or ""])
    S = len(src_tokens)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, sharex=True,
                             figsize=(max(6.0, 0.3 * S + 1.5), 1.9 * len(panels) + 1.0))
    for ax, (name, g) in zip(axes[:, 0], panels):
        draw_source_gradients(ax, g, src_tokens, span, name, family, read_first)
        ax.set_ylabel("‖∂L/∂e_s‖", fontsize=8, **LITERAL)
    bottom = axes[-1, 0]
    bottom.set_xlabel(display_text(xlabel or "source"), fontsize=9, fontfamily=family,
                      **LITERAL)
    if read_first:
        left = read_first == "left"
        bottom.annotate("", xy=(0.0 if not left else 1.0, -0.42),
                        xytext=(1.0 if not left else 0.0, -0.42), xycoords="axes fraction",
                        arrowprops=dict(arrowstyle="->", color="0.4", lw=1.0))
        bottom.text(0.0 if left else 1.0, -0.52, "read first", transform=bottom.transAxes,
                    ha="left" if left else "right", va="top", fontsize=8, color="0.3")
        bottom.text(1.0 if left else 0.0, -0.52, "read last", transform=bottom.transAxes,
                    ha="right" if left else "left", va="top", fontsize=8, color="0.3")
    if title:                       # one line of display_text per line of the title
        fig.suptitle("\n".join(display_text(line) for line in str(title).split("\n")),
                     fontsize=11, fontfamily=family, **LITERAL)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130, bbox_inches="tight")
