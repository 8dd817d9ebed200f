"""The book's date task, built locally: dates in 14 formats -> ``YYYY-MM-DD``.

:func:`generate_date_task` writes lines in the layout of *Deep Learning from Scratch 2*'s
``dataset/date.txt`` (an input column 29 characters wide, ``_``, the ISO date), so no
download is needed; :func:`date_source_spans` and :func:`date_alignment` check that a
model's attention falls on the characters each output digit comes from.
"""
from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

import numpy as np

from .pair_files import SEPARATOR

if TYPE_CHECKING:
    from .codecs import CharCodec

__all__ = ["DATE_INPUT_WIDTH", "generate_date_task", "date_source_spans", "date_alignment"]

DATE_INPUT_WIDTH = 29  # width of the input column in the book's date.txt

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _fields(d: datetime.date) -> dict:
    month, weekday = _MONTHS[d.month - 1], _WEEKDAYS[d.weekday()]
    return dict(B=month, b=month[:3], A=weekday, a=weekday[:3], d=d.day, m=d.month,
                Y=d.year, y=d.year % 100)


# Each format is a str.format template over _fields(); comments show 1994-09-27.
_DATE_FORMATS = (
    "{B} {d}, {Y}",            # september 27, 1994
    "{b} {d}, {Y}",            # sep 27, 1994
    "{d} {B} {Y}",             # 27 september 1994
    "{m}/{d}/{y:02d}",         # 9/27/94
    "{m:02d}/{d:02d}/{Y}",     # 09/27/1994
    "{d:02d}.{m:02d}.{Y}",     # 27.09.1994
    "{Y}/{m:02d}/{d:02d}",     # 1994/09/27
    "{A}, {B} {d}, {Y}",       # tuesday, september 27, 1994
    "{b} {d} {Y}",             # sep 27 1994
    "{d} {b} {y:02d}",         # 27 sep 94
    "{a}, {b} {d}, {Y}",       # tue, sep 27, 1994
    "{d} {b} {Y}",             # 27 sep 1994
    "{Y}{m:02d}{d:02d}",       # 19940927
    "{a} {d} {B} {Y}",         # tue 27 september 1994
)
_CASES = (str.lower, str.title, str.upper)


def date_source_spans(text: str, iso: str) -> dict:
    """Where each field of the answer comes from in a date task's input.

    text : the input as typed (e.g. ``"september 27, 1994"``, ``"9/27/94"``,
        ``"19940927"``); iso : its answer ``YYYY-MM-DD``.
    Returns ``{"year": positions, "month": positions, "day": positions}``: the character
    indices of ``text`` that spell each field (the year's digits, the month's name or
    number, the day's number). A field that cannot be found gets an empty list. For a
    two-digit year the positions are those of the two digits (the century is not in the
    input). Used to check that attention aligns output digits with their source.
    """
    Y, m, d = iso[:4], int(iso[5:7]), int(iso[8:10])
    runs = [(mt.start(), mt.end(), mt.group()) for mt in re.finditer(r"\d+", text)]
    spans = {"year": [], "month": [], "day": []}
    for a, b, digits in runs:
        if len(digits) == 8 and digits[:4] == Y:            # YYYYMMDD
            return {"year": list(range(a, a + 4)), "month": list(range(a + 4, a + 6)),
                    "day": list(range(a + 6, a + 8))}
    year = [r for r in runs if r[2] == Y] or [r for r in runs if r[2] == Y[2:]]
    if year:
        spans["year"] = list(range(year[-1][0], year[-1][1]))
        runs = [r for r in runs if r is not year[-1]]
    name = _MONTHS[m - 1]
    word = re.search(rf"\b({name}|{name[:3]})\b", text, flags=re.IGNORECASE)
    if word:
        spans["month"] = list(range(word.start(), word.end()))
    else:
        month = [r for r in runs if int(r[2]) == m]
        if month:
            spans["month"] = list(range(month[0][0], month[0][1]))
            runs = [r for r in runs if r is not month[0]]
    day = [r for r in runs if int(r[2]) == d]
    if day:
        spans["day"] = list(range(day[0][0], day[0][1]))
    return spans


def date_alignment(codec: "CharCodec", text: str, iso: str, weights) -> list[bool]:
    """For each output digit whose source is in the input, whether its largest attention
    weight falls on that source (:func:`date_source_spans`).

    codec : the model's :class:`CharCodec`; weights : (10, S) attention of the 10 output
    characters ``YYYY-MM-DD`` over the model's source columns (reversed if the model reads
    reversed). Output digits that are not in the input are not checked: the century of a
    two-digit year ("94" -> 1994) and the leading zero of a one-digit day or month
    ("9/7/94" -> 09, 07); a month typed as a name is the source of both its digits.
    Returns one bool per checked digit (an empty list if no field was found).
    """
    spans = date_source_spans(text, iso)
    weights = np.asarray(weights)
    S = weights.shape[1]
    checks = []
    fields = (("year", range(0, 4)), ("month", range(5, 7)), ("day", range(8, 10)))
    for name, outputs in fields:
        positions = set(spans[name])
        if not positions:
            continue
        typed = min(len(outputs), len(positions))     # the last `typed` digits are typed
        for t in outputs[len(outputs) - typed:]:
            col = int(weights[t].argmax())
            pos = S - 1 - col if codec.reversed else col      # back to the typed order
            checks.append(pos in positions)
    return checks


def generate_date_task(n: int = 50000, seed: int = 0) -> list[str]:
    """Generate ``n`` lines of a date-normalisation task in the book's ``date.txt`` layout.

    Dates are uniform over 1970-01-01 .. 2029-12-31 (two-digit years are therefore
    unambiguous), rendered in one of 14 English/numeric formats with random lower, Title
    or UPPER case; weekday names are computed with ``datetime``.  Each line is the input
    left-justified to 29 characters, ``_``, and the ISO date ``YYYY-MM-DD`` (40 characters,
    no newline).  Deterministic given ``seed`` (uses ``np.random.default_rng(seed)``, not
    numpy's global state).

    Raises
    ------
    ValueError
        If ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    first = datetime.date(1970, 1, 1)
    span = (datetime.date(2029, 12, 31) - first).days + 1
    offsets = rng.integers(0, span, size=n).tolist()
    formats = rng.integers(0, len(_DATE_FORMATS), size=n).tolist()
    cases = rng.integers(0, len(_CASES), size=n).tolist()
    lines = []
    for off, fmt, case in zip(offsets, formats, cases):
        d = first + datetime.timedelta(days=off)
        text = _CASES[case](_DATE_FORMATS[fmt].format(**_fields(d)))
        assert len(text) <= DATE_INPUT_WIDTH, text
        lines.append(f"{text:<{DATE_INPUT_WIDTH}}{SEPARATOR}{d.isoformat()}")
    return lines
