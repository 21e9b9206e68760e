"""The seeded random generator shared by initialisation, dropout, data shuffling and ``randn``."""

from __future__ import annotations

import numpy as np

__all__ = ["default_generator", "manual_seed"]

_GENERATOR = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's default ``numpy.random.Generator`` (and return it).

    >>> g = manual_seed(0)
    """
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def default_generator() -> np.random.Generator:
    """The generator used wherever no ``generator=`` argument is given."""
    return _GENERATOR[0]
