"""On/off switches read from environment variables, one spelling for all of them."""
from __future__ import annotations

import os

ON, OFF = ("1", "true", "on", "yes", ""), ("0", "false", "off", "no")


def switch(name: str, fix: str) -> bool:
    """The environment variable ``name`` as a switch: unset, 1, true, on, yes (any case,
    spaces ignored) -> True; 0, false, off, no -> False. Raises ValueError, one line
    ``NAME='value' is neither on nor off (fix: <fix>)``, for anything else."""
    value = os.environ.get(name, "1").strip().lower()
    if value not in ON + OFF:
        raise ValueError(f"{name}={os.environ[name]!r} is neither on nor off (fix: {fix})")
    return value in ON
