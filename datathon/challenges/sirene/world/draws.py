"""Weighted draws one at a time, identical to numpy's and far cheaper.

The generator draws most values one by one, in a fixed order that the same seed must replay
exactly. numpy's ``np.searchsorted`` and ``rng.choice(n, p=p)`` cost microseconds of checks per
call; :func:`draw` consumes the same single uniform (``rng.random()``) and bisects a list of floats,
which gives the same index.
"""
from __future__ import annotations

from bisect import bisect_right

import numpy as np


def draw(rng: np.random.Generator, cdf: list[float]) -> int:
    """One weighted draw from a cumulative distribution: ``np.searchsorted(cdf, u, side="right")``
    for ``u = rng.random()``, kept within the distribution's indices."""
    return min(bisect_right(cdf, rng.random()), len(cdf) - 1)


def choice_cdf(p) -> list[float]:
    """The cumulative distribution ``rng.choice(len(p), p=p)`` draws from, computed as numpy does.

    ``draw(rng, choice_cdf(p))`` returns the index ``rng.choice(len(p), p=p)`` would, from the same
    single uniform draw, leaving the generator in the same state.
    """
    cdf = np.asarray(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    return cdf.tolist()
