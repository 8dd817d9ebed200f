"""Training curves with matplotlib: one line per model and epoch-by-epoch scores, as
``tinygrad-attn compare`` draws them."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_compare(histories: dict, path, title: str | None = None) -> str:
    """Save a figure of test score and training loss per epoch for several models.

    Parameters
    ----------
    histories : {model name: list of per-epoch dicts}, as ``models.train.train`` returns
        (keys ``epoch``, ``loss``, and ``accuracy`` (0-1) or ``bleu`` (0-100)).
    path : str or PathLike, ending in .png, .svg or .pdf.
    title : optional figure title.

    Returns the path written. Raises ValueError if ``histories`` is empty.
    """
    if not histories:
        raise ValueError("plot_compare: no histories to draw (fix: train at least one model)")
    fig, (ax_score, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    for name, hist in histories.items():
        epochs = [h["epoch"] for h in hist]
        if "accuracy" in hist[0]:
            ax_score.plot(epochs, [100 * h["accuracy"] for h in hist], marker="o", label=name)
            ax_score.set_ylabel("test exact match (%)")
        else:
            ax_score.plot(epochs, [h["bleu"] for h in hist], marker="o", label=name)
            ax_score.set_ylabel("test BLEU")
        ax_loss.plot(epochs, [h["loss"] for h in hist], marker="o", label=name)
    ax_loss.set_ylabel("training loss (nats / token)")
    for ax in (ax_score, ax_loss):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
