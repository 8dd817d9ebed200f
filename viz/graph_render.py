"""Running graphviz's ``dot`` on a computation-graph picture: :func:`render` writes the
DOT source (.gv / .dot, no program needed) or the picture in any format the installed
``dot`` knows (.svg, .png, .pdf, ...), atomically and under a timeout, with one-line
errors that name the graph's size and a fix; :func:`graph_size` counts a Digraph's node
and edge statements; :func:`check_graph_path` checks an output path before any work.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess

import graphviz

from .curves import check_output_path, display_text, write_bytes

INSTALL_HINT = ("the graphviz 'dot' program is not installed, so only the DOT source can be "
                "made (fix: 'apt-get install graphviz' on Debian/Ubuntu, 'brew install "
                "graphviz' on macOS, or see graphviz.org/download)")

#: Seconds :func:`render` lets ``dot`` run before it stops it.
DOT_TIMEOUT = 60.0

#: Formats written without ``dot``: the DOT source itself.
SOURCE_FORMATS = ("gv", "dot")


class RenderError(RuntimeError):
    """``dot`` failed or did not finish in time; the message names the graph's size and a
    fix."""


_NODE_STATEMENT = re.compile(r'\t*(?!(?:graph|node|edge)\b)(?:"(?:[^"\\]|\\.)*"|\w+) \[', re.S)
_EDGE_STATEMENT = re.compile(r'\t*(?:"(?:[^"\\]|\\.)*"|[\w.:]+) -[>-] ', re.S)


def graph_size(graph) -> tuple[int, int]:
    """(nodes, edges) of a ``graphviz`` graph: its node and edge statements, clusters
    included (each ``.node()`` / ``.edge()`` call is one statement)."""
    body = list(graph.body)
    return (sum(1 for s in body if _NODE_STATEMENT.match(s)),
            sum(1 for s in body if _EDGE_STATEMENT.match(s)))


def has_dot() -> bool:
    """True if the graphviz ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


@functools.lru_cache(maxsize=4)
def _dot_formats(dot_path: str) -> frozenset:
    """The output formats this ``dot`` knows (its answer to ``dot -T?``, base names)."""
    try:
        out = subprocess.run([dot_path, "-T?"], capture_output=True, text=True, timeout=5,
                             errors="replace")
    except (OSError, subprocess.SubprocessError):
        return frozenset()                       # unknown: every format is tried
    if "Use one of:" not in out.stderr:
        return frozenset()
    listed = out.stderr.split("Use one of:", 1)[1].split()
    return frozenset(f.split(":")[0] for f in listed)


def _render_formats() -> tuple:
    """Formats :func:`render` writes: the DOT source, and every format both the graphviz
    package and the installed ``dot`` know (svg, png, pdf first)."""
    dot_path = shutil.which("dot")
    known = _dot_formats(dot_path) if dot_path else frozenset()
    rest = sorted(f for f in graphviz.FORMATS if (not known or f in known)
                  and f not in SOURCE_FORMATS and f not in ("x11", "xlib"))   # windows
    first = [f for f in ("svg", "png", "pdf") if f in rest]
    return tuple(first + list(SOURCE_FORMATS) + [f for f in rest if f not in first])


def check_graph_path(path) -> tuple[str, str]:
    """:func:`viz.curves.check_output_path` for :func:`render`: returns (path, format).
    Raises TypeError / OutputPathError before any work."""
    return check_output_path(path, _render_formats(), what="graph picture")


def render(graph: "graphviz.Digraph", path, timeout: float = DOT_TIMEOUT) -> str:
    """Write ``graph`` to ``path``; the format is the file's extension (.svg, .png, .pdf,
    or .gv / .dot for the DOT source, which needs no graphviz program). The file is
    written atomically (``tinygrad_attn.fileio.atomic_open``): a failed or interrupted
    render leaves any previous file whole.

    timeout : seconds ``dot`` may run (> 0); then it is stopped.

    Returns the path written (a str).

    Raises
    ------
    OutputPathError (a ValueError)
        ``path`` cannot be written (a folder, a missing or read-only folder, an unknown
        extension), checked before ``dot`` runs; or the write itself failed.
    RuntimeError
        ``dot`` is missing (install instructions; the DOT source is written beside
        ``path`` as ``.gv``); :class:`RenderError`: ``dot`` ran longer than ``timeout``
        or failed (the message gives the number of nodes and edges and a fix).
    """
    path, fmt = check_graph_path(path)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"render: timeout must be a finite number of seconds > 0, got "
                         f"{timeout!r:.40} (fix: e.g. timeout=60)")
    source = graph.source.encode("utf-8", "replace")
    if fmt in SOURCE_FORMATS:
        return write_bytes(path, lambda f: f.write(source), "DOT source")
    dot_path = shutil.which("dot")
    if dot_path is None:
        gv = os.path.splitext(path)[0] + ".gv"
        write_bytes(gv, lambda f: f.write(source), "DOT source")
        raise RuntimeError(f"render: {INSTALL_HINT}; the DOT source was written to {gv}")
    data = _run_dot(dot_path, graph, source, fmt, timeout)
    return write_bytes(path, lambda f: f.write(data), "graph picture")


def _run_dot(dot_path, graph, source: bytes, fmt: str, timeout: float) -> bytes:
    """``dot -T<fmt>`` on ``source``: the picture's bytes, or RenderError (the graph's
    size and a fix) when dot fails or runs past ``timeout`` seconds."""
    nodes, edges = graph_size(graph)
    size = f"a graph of {nodes:,} nodes and {edges:,} edges"
    fix = ("draw fewer nodes: draw_graph(..., collapse_steps=True, max_nodes=100), "
           "e.g. tinygrad-attn graph --collapse-steps --max-nodes 100; or save the DOT "
           "source (a .gv file) and run dot on it yourself")
    try:
        done = subprocess.run([dot_path, f"-T{fmt}"], input=source, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"render: dot did not finish laying out {size} in {timeout:g} s "
                          f"and was stopped (fix: {fix})") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = display_text(err[0] if err else f"exit status {done.returncode}", 160)
        raise RenderError(f"render: dot failed on {size} as {fmt}: {why} (fix: {fix})")
    return done.stdout


__all__ = ["DOT_TIMEOUT", "INSTALL_HINT", "RenderError", "SOURCE_FORMATS", "check_graph_path",
           "graph_size", "has_dot", "render"]
