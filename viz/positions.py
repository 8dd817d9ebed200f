"""The sinusoidal positional encodings of the Transformer, drawn with matplotlib.

Vaswani et al. 2017, "Attention Is All You Need", sec. 3.5:
``PE[pos, 2i] = sin(pos / 10000^(2i / d))`` and ``PE[pos, 2i+1] = cos(pos / 10000^(2i / d))``,
d = d_model. Dimension pair i is a sine and a cosine of wavelength 2 pi 10000^(2i / d)
positions: from 2 pi (i = 0) to nearly 2 pi 10000 (the last pair), a geometric progression.
The table drawn is :func:`tinygrad_attn.nn.sinusoidal_positions` itself.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_attn.nn import sinusoidal_positions  # noqa: E402

from .curves import LITERAL, check_output_path, display_text, save_figure  # noqa: E402


def wavelength(dim: int, d_model: int) -> float:
    """Positions per period of dimension ``dim`` (0-based) of the encoding:
    2 pi 10000^(2i / d_model) with i = dim // 2 (sec. 3.5)."""
    return 2 * math.pi * 10000.0 ** (2 * (dim // 2) / d_model)


def _check_dims(dims, d_model: int) -> list:
    dims = list(dims)
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, (int, np.integer))
           or not 0 <= d < d_model]
    if not dims or bad:
        raise ValueError(f"plot_positional_encoding: dims must be dimensions in 0..{d_model - 1}"
                         f", got {dims!r:.80} (fix: e.g. dims=(4, 5, 12, 24))")
    return [int(d) for d in dims]


def draw_positional_encoding(ax_map, ax_lines, length: int = 100, d_model: int = 64,
                             dims=(4, 5, 12, 24)) -> dict:
    """Draw the encodings on two matplotlib Axes: on ``ax_map`` the table as a heatmap
    (rows: positions 0..length-1, columns: dimensions 0..d_model-1, values in [-1, 1]),
    on ``ax_lines`` the columns ``dims`` as curves over the positions.

    Returns ``{"pe": the (length, d_model) float64 table, "image": the AxesImage,
    "lines": the Line2D of each of dims, in order}``: what the picture shows, for tests.
    Raises ValueError / TypeError for sizes sinusoidal_positions refuses, and ValueError
    for dims outside 0..d_model-1.
    """
    pe = sinusoidal_positions(length, d_model, dtype=np.float64)
    dims = _check_dims(dims, d_model)
    image = ax_map.imshow(pe, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                          interpolation="nearest")
    ax_map.set_xlabel("dimension (even 2i: sin, odd 2i+1: cos)")
    ax_map.set_ylabel("position")
    ax_map.figure.colorbar(image, ax=ax_map, fraction=0.04, pad=0.02)
    lines = []
    for dim in dims:
        kind = "sin" if dim % 2 == 0 else "cos"
        label = (f"dim {dim}: {kind}(pos / 10000^({2 * (dim // 2)}/{d_model})), "
                 f"period {wavelength(dim, d_model):.1f}")
        lines += ax_lines.plot(np.arange(length), pe[:, dim], label=label, lw=1.5)
    ax_lines.set_xlabel("position")
    ax_lines.set_ylabel("PE[pos, dim]")
    ax_lines.set_ylim(-1.1, 1.1)
    ax_lines.grid(alpha=0.3)
    legend = ax_lines.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                             ncol=2, frameon=False)
    for text in legend.get_texts():
        text.set(**LITERAL)
    return {"pe": pe, "image": image, "lines": lines}


def plot_positional_encoding(path, length: int = 100, d_model: int = 64, dims=(4, 5, 12, 24),
                             title: str | None = None) -> str:
    """Save a picture of the sinusoidal positional encodings (Vaswani et al. 2017,
    sec. 3.5) to ``path`` (.png, .svg, .pdf, ...): the heatmap of the (length, d_model)
    table above the curves of a few dimensions (:func:`draw_positional_encoding`).

    title : optional, drawn literally (default: the formula). Returns the path written.
    Raises TypeError / OutputPathError for a path that cannot be written,
    ValueError / TypeError for bad sizes or dims.
    """
    check_output_path(path)
    fig, (ax_map, ax_lines) = plt.subplots(2, 1, figsize=(9, 9),
                                           gridspec_kw={"height_ratios": [3, 2]})
    try:
        draw_positional_encoding(ax_map, ax_lines, length, d_model, dims)
    except Exception:
        plt.close(fig)
        raise
    if title is None:
        title = (f"sinusoidal positional encoding, d_model = {d_model}: PE[pos, 2i] = "
                 f"sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)")
    fig.suptitle(display_text(title, 160), fontsize=11, **LITERAL)
    ax_map.set_title("each row is the vector added to the embedding at that position "
                     "(Vaswani et al. 2017, sec. 3.5)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
