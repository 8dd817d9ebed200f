"""Types for the command line's options: each checks its range when the command line is
parsed, so a bad value is a one-line error before any work starts (``argparse`` turns the
``ArgumentTypeError`` into ``tinygrad-attn CMD: error: argument --NAME: MESSAGE``)."""
from __future__ import annotations

import argparse
import math


def _number(text: str, kind):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not {name}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not a finite number (fix: pass a "
                                         f"value such as 0.001)")
    return value


def int_at_least(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        value = _number(text, int)
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"from {low} to {high:,}"
            raise argparse.ArgumentTypeError(f"must be an integer {span}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def float_in(low: float, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False):
    """An argparse type: a finite float in the interval given ((low, high] etc.)."""
    def parse(text: str) -> float:
        value = _number(text, float)
        bad_low = value <= low if low_open else value < low
        bad_high = high is not None and (value >= high if high_open else value > high)
        if bad_low or bad_high:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            span = f"> {low}" if high is None and low_open else f">= {low}" if high is None \
                else f"in {left}{low}, {high}{right}"
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text}")
        return value
    parse.__name__ = "float"
    return parse


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block): ``PROG: error:
    MESSAGE (see PROG --help)``, exit status 2, as argparse's own errors."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
