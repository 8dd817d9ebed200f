"""Training curves with matplotlib: one line per model and epoch-by-epoch scores, as
``tinygrad-attn compare`` draws them, and one run's curves from its ``history.json``.

Also what every picture of ``viz`` shares: :func:`display_text` (how any user text, a
token, a title, a file path or a parameter name, is shown literally), :func:`check_output_path`
(an output file is checked before any drawing starts) and :func:`save_figure` (atomic
writes through ``tinygrad_attn.fileio.atomic_open``).
"""
from __future__ import annotations

import json
import math
import os
import re

import matplotlib

matplotlib.use("Agg")   # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tinygrad_attn.fileio import atomic_open  # noqa: E402

#: Longest text (in characters of the original) shown in one line of a picture; longer text
#: is cut and says how long it was. dot refuses a quoted string of more than 16 KiB, and
#: matplotlib would make a picture as wide as the text.
MAX_TEXT_CHARS = 200

#: Formats ``save_figure`` writes: every one matplotlib knows, .png, .svg and .pdf first.
FIGURE_FORMATS = ("png", "svg", "pdf") + tuple(sorted(
    set(FigureCanvasBase.get_supported_filetypes()) - {"png", "svg", "pdf"}))

#: Text properties that keep matplotlib from reading ``$...$`` as math (``parse_math``) or
#: sending the text through LaTeX (``usetex``, when rcParams turn it on): user text is
#: drawn character for character.
LITERAL = {"parse_math": False, "usetex": False}

# control characters (C0, DEL, C1), lone surrogates, and the two noncharacters XML 1.0 forbids
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(m) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:       # Python's surrogateescape form of a non-UTF-8 byte
        return f"\\x{cp - 0xDC00:02x}"
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


def display_text(text, max_chars: int = MAX_TEXT_CHARS) -> str:
    """How ``viz`` shows any user text (tokens, titles, file paths, parameter and module
    names) in a picture: literally, on one line, in characters every font and every SVG
    reader can show.

    Every character is kept as it is (``$``, ``\\``, ``<b>``, ``&amp;``, ``%``, ``_``
    included: the pictures turn off math-text and graphviz escapes), except those that
    cannot be shown or would break the file, which get Python's escape spelling:

    - tab, newline, carriage return: ``\\t``, ``\\n``, ``\\r`` (so a name stays on one line);
    - other control characters (U+0000..U+001F, U+007F..U+009F), NUL included: ``\\x00``;
    - a lone surrogate U+DC80..U+DCFF, which is how Python carries a non-UTF-8 byte of a
      file name (``os.fsdecode``): that byte, ``\\xff``; any other lone surrogate, and the
      noncharacters U+FFFE / U+FFFF (not allowed in XML, hence in SVG): ``\\ud800``.

    Text longer than ``max_chars`` characters is cut there and ends in
    ``"… (N characters)"``. ``text`` that is not a str is shown as ``str(text)``.
    Returns a str with no control character and no surrogate.
    """
    text = text if isinstance(text, str) else str(text)
    more = len(text) > max_chars
    shown = _UNSHOWABLE.sub(_escape_char, text[:max_chars] if more else text)
    return f"{shown}… ({len(text):,} characters)" if more else shown


class OutputPathError(ValueError, OSError):
    """An output file that cannot be written (a folder, a missing or read-only folder, an
    unknown extension, a full disk). Both a ValueError (a bad argument, so the command line
    answers it in one line) and an OSError; the message names the path and a fix."""


def _show_path(path) -> str:
    return repr(display_text(path, 120))


def check_output_path(path, formats=FIGURE_FORMATS,
                      what: str = "picture") -> tuple[str, str]:
    """Check, before any work, that a picture can be written to ``path``.

    path : str or PathLike. formats : the extensions (lower case, no dot) allowed.
    Returns ``(path as str, format)``, the format being the extension in lower case.

    Raises
    ------
    TypeError
        ``path`` is not a str or PathLike.
    OutputPathError
        The path is empty, has no or an unknown extension, is a folder, its folder is
        missing, is not a folder or is not writable (each message names the path and a fix).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} path must be a str or PathLike, got {type(path).__name__} "
                        f"(fix: pass a file name such as 'out.{formats[0]}')")
    path = os.fspath(path)
    path = os.fsdecode(path) if isinstance(path, bytes) else path
    names = ", ".join(f".{f}" for f in formats[:6]) + (", ..." if len(formats) > 6 else "")
    if not path or "\x00" in path:
        problem = "is empty" if not path else "holds a NUL character"
        raise OutputPathError(f"{what} path {_show_path(path)} {problem} (fix: name a file "
                              f"such as 'out.{formats[0]}')")
    if os.path.isdir(path):
        inside = _show_path(os.path.join(path, "out." + formats[0]))
        raise OutputPathError(f"{what} file {_show_path(path)} is a folder (fix: name a file "
                              f"inside it, e.g. {inside})")
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in formats:
        has = f".{display_text(ext, 20)}" if ext else "(the name has no extension)"
        raise OutputPathError(f"{what} file {_show_path(path)}: unknown picture format {has} "
                              f"(fix: end the name in one of {names})")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(folder):
        raise OutputPathError(f"cannot write {_show_path(path)}: its folder {_show_path(folder)} "
                              f"does not exist (fix: create it first, e.g. mkdir -p, or "
                              f"name a file in an existing folder)")
    if not os.path.isdir(folder):
        raise OutputPathError(f"cannot write {_show_path(path)}: {_show_path(folder)} is a "
                              f"file, not a folder (fix: name a file in a folder)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {_show_path(path)}: the folder "
                              f"{_show_path(folder)} is not writable (fix: choose a folder "
                              f"you can write to, or change its permissions)")
    return path, ext


def write_bytes(path, write, what: str = "picture") -> str:
    """Write a file atomically (``tinygrad_attn.fileio.atomic_open``: a unique temporary
    file in the same folder, fsync, then ``os.replace``): ``write(f)`` gets the binary file
    object. The old file is kept whole if anything fails. Returns ``path``.

    Raises OutputPathError (one line: the path, the system's reason and a fix) when the
    system refuses the write (permissions, a full disk, a vanished folder).
    """
    try:
        with atomic_open(path, "wb") as f:
            write(f)
    except OSError as e:
        if isinstance(e, OutputPathError):
            raise
        reason = e.strerror or (str(e).splitlines() or [type(e).__name__])[0]
        raise OutputPathError(f"cannot write the {what} {_show_path(path)}: {reason} (fix: "
                              f"check the folder's permissions and the free disk space, or "
                              f"name another file; the previous file, if any, is "
                              f"unchanged)") from e
    return path


def save_figure(fig, path, **savefig_kwargs) -> str:
    """Save ``fig`` to ``path`` atomically (:func:`write_bytes`: a half-written picture
    never replaces a good one), close it and return the path as a str.

    The format is the extension (.png, .svg, .pdf or another of ``FIGURE_FORMATS``),
    passed to matplotlib explicitly (it writes to the temporary file object).
    Raises TypeError / OutputPathError as :func:`check_output_path` and :func:`write_bytes`;
    the figure is closed either way.
    """
    try:
        path, fmt = check_output_path(path, FIGURE_FORMATS)
        return write_bytes(path, lambda f: fig.savefig(f, format=fmt, **savefig_kwargs))
    finally:
        plt.close(fig)


def _check_histories(histories) -> None:
    if not isinstance(histories, dict) or not histories:
        raise ValueError("plot_compare: no histories to draw (fix: train at least one model, "
                         "and pass {model name: its history list})")
    for name, hist in histories.items():
        ok = isinstance(hist, (list, tuple)) and hist and all(
            isinstance(h, dict) and "epoch" in h and "loss" in h for h in hist)
        if not ok:
            raise ValueError(f"plot_compare: the history of {display_text(name, 60)!r} is "
                             f"not a non-empty list of per-epoch dicts with 'epoch' and "
                             f"'loss' (fix: pass what models.train.train returns, or the "
                             f"history.json a run wrote)")


#: The per-epoch score of a history record: (key, axis label, scale). ``models.train``
#: writes the validation score; histories from before it had the test score.
SCORE_KEYS = (("valid_accuracy", "validation exact match (%)", 100.0),
              ("valid_bleu", "validation BLEU", 1.0),
              ("accuracy", "test exact match (%)", 100.0), ("bleu", "test BLEU", 1.0))


def _score_key(record: dict):
    """(key, axis label, scale) of the score in a history record, or (None, None, None)
    (a run without a validation split has none: only its loss is drawn)."""
    return next((k for k in SCORE_KEYS if k[0] in record), (None, None, None))


def _check_floor(floor) -> None:
    if floor is None:
        return
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not math.isfinite(floor):
        raise ValueError(f"plot_compare: floor must be a finite number on the score axis or "
                         f"None, not {display_text(repr(floor), 60)} (fix: pass the "
                         f"baseline's validation score, e.g. 45.4, or leave it out)")


def plot_compare(histories: dict, path, title: str | None = None, floor: float | None = None,
                 floor_label: str = "lookup (floor)") -> str:
    """Save a figure of the validation score and training loss per epoch for several models.

    Parameters
    ----------
    histories : {model name: list of per-epoch dicts}, as ``models.train.train`` returns
        (keys ``epoch``, ``loss``, and ``valid_accuracy`` (0-1) or ``valid_bleu`` (0-100);
        an older history's ``accuracy`` / ``bleu`` are drawn as test scores).
    path : str or PathLike, ending in .png, .svg or .pdf.
    title : optional figure title. The title and the model names are drawn literally
        (:func:`display_text`; no math-text, a name starting with ``_`` is still listed).
    floor : optional score of a model with no epochs (``compare``'s lookup baseline: its
        validation score), in the units the score axis shows (BLEU 0-100, or exact match
        in %); drawn as a horizontal dashed line across the score panel, in the legend as
        ``floor_label`` (drawn literally).

    Returns the path written. Raises ValueError if ``histories`` is empty or a history is
    malformed, or ``floor`` is not None or a finite number; OutputPathError (checked before
    drawing) for a path that cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    _check_histories(histories)
    _check_floor(floor)
    fig, (ax_score, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    score_lines, loss_lines = [], []
    for hist in histories.values():
        epochs = [h["epoch"] for h in hist]
        key, label, scale = _score_key(hist[0])
        score_lines += ax_score.plot(epochs, [scale * h.get(key, math.nan) if key else
                                              math.nan for h in hist], marker="o")
        if key:
            ax_score.set_ylabel(label)
        loss_lines += ax_loss.plot(epochs, [h["loss"] for h in hist], marker="o")
    ax_loss.set_ylabel("training loss (nats / token)")
    labels = [display_text(name, 60) for name in histories]
    score_labels = labels
    if floor is not None:
        # a horizontal dashed line across the score panel (its legend handle)
        score_lines = score_lines + [ax_score.axhline(floor, linestyle="--", color="0.35",
                                                      linewidth=1.2)]
        score_labels = labels + [display_text(floor_label, 60)]
    for ax, lines, names in ((ax_score, score_lines, score_labels),
                             (ax_loss, loss_lines, labels)):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        # handles and labels given explicitly: matplotlib would skip a label starting "_"
        for text in ax.legend(lines, names).get_texts():
            text.set(**LITERAL)
    if title:
        fig.suptitle(display_text(title), **LITERAL)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_history(history, path, name: str = "model", title: str | None = None) -> str:
    """Save the training curves of one run: test score and training loss per epoch.

    history : the list of per-epoch dicts that ``models.train.train`` returns, or the path of
        the ``history.json`` it writes in its output folder.
    Returns the path written. Raises ValueError for an empty or malformed history,
    FileNotFoundError for a missing file, OutputPathError for a path that cannot be written.
    """
    check_output_path(path, FIGURE_FORMATS)
    if isinstance(history, (str, os.PathLike)):
        with open(history, encoding="utf-8") as f:
            history = json.load(f)
    if not history:
        raise ValueError("plot_history: the history is empty (fix: train for at least one "
                         "epoch)")
    return plot_compare({name: history}, path, title=title)
