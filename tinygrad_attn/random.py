"""The engine's one random generator: parameter initialisation and dropout draw from it.

``manual_seed(seed)`` (PyTorch's name) makes both reproducible.
"""
import numbers

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed the generator used for initialisation and dropout (PyTorch's name).

    ``seed`` : int in [-2**63, 2**64 - 1], PyTorch's range; a negative seed is taken
    modulo 2**64, as PyTorch does, so ``manual_seed(-1)`` equals ``manual_seed(2**64 - 1)``.

    Raises TypeError for a seed that is not an int (a float, even 1.0, a bool, a string:
    a seed is an identifier, never rounded) and ValueError for one outside that range.
    """
    global _generator
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__} "
                        f"{seed!r} (fix: pass a whole number, e.g. manual_seed(0))")
    seed = int(seed)
    if not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"manual_seed: seed {seed} is outside [-2**63, 2**64 - 1] (fix: "
                         f"pass a smaller int, e.g. seed % 2**64)")
    _generator = np.random.default_rng(seed % 2 ** 64)


def generator() -> np.random.Generator:
    """The current generator (call it each time: ``manual_seed`` replaces it)."""
    return _generator
