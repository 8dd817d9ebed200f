"""Training curves with matplotlib: one line per model and epoch-by-epoch scores, as
``tinygrad-attn compare`` draws them, and one run's curves from its ``history.json``."""
from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_compare(histories: dict, path, title: str | None = None) -> str:
    """Save a figure of test score and training loss per epoch for several models.

    Parameters
    ----------
    histories : {model name: list of per-epoch dicts}, as ``models.train.train`` returns
        (keys ``epoch``, ``loss``, and ``valid_accuracy`` (0-1) or ``valid_bleu``
        (0-100); an older history's ``accuracy`` / ``bleu`` are test scores).
    path : str or PathLike, ending in .png, .svg or .pdf.
    title : optional figure title.

    Returns the path written. Raises ValueError if ``histories`` is empty.
    """
    if not histories:
        raise ValueError("plot_compare: no histories to draw (fix: train at least one model)")
    fig, (ax_score, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    for name, hist in histories.items():
        epochs = [h["epoch"] for h in hist]
        key, label, scale = _score_key(hist[0])
        if key is not None:
            ax_score.plot(epochs, [scale * h[key] for h in hist], marker="o", label=name)
            ax_score.set_ylabel(label)
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
    return save_figure(fig, path, dpi=120)


def _score_key(record: dict):
    """(key, axis label, scale) of the per-epoch score in a history record, or Nones."""
    for key, label, scale in (("valid_accuracy", "validation exact match (%)", 100.0),
                              ("valid_bleu", "validation BLEU", 1.0),
                              ("accuracy", "test exact match (%)", 100.0),
                              ("bleu", "test BLEU", 1.0)):
        if key in record:
            return key, label, scale
    return None, None, None


def save_figure(fig, path, **savefig_kwargs) -> str:
    """Save ``fig`` to ``path`` atomically (written beside it, then renamed, so a half-written
    picture never replaces a good one), close it and return the path."""
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{ext}"
    fig.savefig(tmp, **savefig_kwargs)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_history(history, path, name: str = "model", title: str | None = None) -> str:
    """Save the training curves of one run: test score and training loss per epoch.

    history : the list of per-epoch dicts that ``models.train.train`` returns, or the path of
        the ``history.json`` it writes in its output folder.
    Returns the path written. Raises ValueError for an empty history, FileNotFoundError for
    a missing file.
    """
    if isinstance(history, (str, os.PathLike)):
        with open(history, encoding="utf-8") as f:
            history = json.load(f)
    if not history:
        raise ValueError("plot_history: the history is empty (fix: train for at least one "
                         "epoch)")
    return plot_compare({name: history}, path, title=title)
