"""Line plots for chapter 9 of the walkthrough (docs/decoders.md): the path lengths of
reversed input (9.2), the four attention scores over a circle of keys (9.4), and what
teacher forcing hides (9.7). The chapter's own code blocks compute every value and call
:func:`plot_panels` to draw them; nothing here trains or computes a model.

The figure is written by ``viz.save_figure`` (atomic, the path checked first), and every
text is drawn literally as ``viz`` draws it (no math-text).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from viz import check_output_path, display_text, save_figure  # noqa: E402
from viz.curves import FIGURE_FORMATS, LITERAL  # noqa: E402

#: the keys a panel may have (see :func:`plot_panels`)
PANEL_KEYS = {"title", "xlabel", "ylabel", "lines", "logy", "xticks", "hlines"}


def _check_panel(panel: dict) -> None:
    """A one-line ValueError for a panel :func:`plot_panels` cannot draw."""
    if not isinstance(panel, dict) or not set(panel) <= PANEL_KEYS or not panel.get("lines"):
        raise ValueError(f"plot_panels: a panel is a dict with 'lines' (label -> (x, y)) and "
                         f"optionally {sorted(PANEL_KEYS - {'lines'})}; got {panel!r:.120}")
    for label, xy in panel["lines"].items():
        x, y = np.asarray(xy[0], dtype=float), np.asarray(xy[1], dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"plot_panels: line {label!r} needs x and y of one shape (n,), "
                             f"got {x.shape} and {y.shape}")
        if panel.get("logy") and (y <= 0).any():
            raise ValueError(f"plot_panels: line {label!r} has values <= 0 on a log axis")


def plot_panels(panels: list, path, title: str | None = None, ncols: int | None = None) -> str:
    """Save one figure of line plots, one axes per panel, side by side.

    Parameters
    ----------
    panels : list of dicts, each with
        ``lines`` {label: (x (n,), y (n,))} or {label: (x, y, style dict for ``plot``)};
        optional ``title``, ``xlabel``, ``ylabel`` (str), ``logy`` (bool: a log y axis),
        ``xticks`` (labels for x = 0, 1, ...), ``hlines`` [(y, label or None)] (dotted grey
        lines; None: not in the legend).
    path : str or PathLike ending in .png, .svg, .pdf, ...
    title : the figure's title. ncols : panels per row (default: all in one row).

    Returns the path written. Raises ValueError for an empty list or a malformed panel,
    OutputPathError (before drawing) for a path that cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    if not panels:
        raise ValueError("plot_panels: no panels to draw (fix: pass at least one panel)")
    for panel in panels:
        _check_panel(panel)
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(4.2 * ncols, 3.4 * nrows))
    for ax, panel in zip(axes.flat, panels):
        for label, xy in panel["lines"].items():
            style = {"marker": "o", "markersize": 3, **(xy[2] if len(xy) > 2 else {})}
            ax.plot(xy[0], xy[1], label=display_text(label), **style)
        for y, label in panel.get("hlines", []):
            ax.axhline(y, color="0.5", linestyle=":", linewidth=1,
                       label="_nolegend_" if label is None else display_text(label))
        if panel.get("logy"):
            ax.set_yscale("log")
        if panel.get("xticks") is not None:
            ax.set_xticks(range(len(panel["xticks"])))
            ax.set_xticklabels([display_text(t) for t in panel["xticks"]], **LITERAL)
        ax.set_title(display_text(panel.get("title", "")), fontsize=10, **LITERAL)
        ax.set_xlabel(display_text(panel.get("xlabel", "")), **LITERAL)
        ax.set_ylabel(display_text(panel.get("ylabel", "")), **LITERAL)
        ax.grid(alpha=0.3)
        for text in ax.legend(fontsize=8).get_texts():
            text.set(**LITERAL)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(display_text(title), **LITERAL)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
