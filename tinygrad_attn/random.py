"""The engine's one random generator: parameter initialisation and dropout draw from it.

``manual_seed(seed)`` (PyTorch's name) makes both reproducible.
"""
import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed the generator used for initialisation and dropout."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The current generator (call it each time: ``manual_seed`` replaces it)."""
    return _generator
