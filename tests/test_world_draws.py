"""datathon/world/draws.py: one-at-a-time weighted draws, identical to numpy's."""
from __future__ import annotations

import numpy as np
import pytest

from datathon.world.draws import choice_cdf, draw

WEIGHTS = [
    [0.5, 0.15, 0.15, 0.2],  # the activity's level of detail (bulletins)
    np.array([0.50, 0.07, 0.03, 0.05, 0.08, 0.06, 0.06, 0.06, 0.04, 0.03, 0.01, 0.01]),  # street types
    [1.0],
    [0.0, 1.0, 0.0],
    list(np.random.default_rng(0).random(300) / 150),  # many small weights, a sum close to but not 1
]


def state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


@pytest.mark.parametrize("p", WEIGHTS, ids=range(len(WEIGHTS)))
def test_draw_from_choice_cdf_is_rng_choice(p):
    """Does draw(rng, choice_cdf(p)) give rng.choice(len(p), p=p)'s index and leave the generator
    in the same state, interleaved with integer draws (which keep half a 64-bit word aside)?"""
    p = np.asarray(p, dtype=float)
    p = p / p.sum() if abs(p.sum() - 1) > 1e-8 else p
    cdf = choice_cdf(p)
    ours, numpy_s = np.random.default_rng(7), np.random.default_rng(7)
    for i in range(3000):
        assert draw(ours, cdf) == numpy_s.choice(len(p), p=p)
        if i % 3 == 0:
            assert ours.integers(10) == numpy_s.integers(10)
    assert state(ours) == state(numpy_s)


def test_draw_is_searchsorted_right():
    """Does draw() answer as np.searchsorted(cdf, u, side="right") does, ties on the bounds included?"""
    cdf = [0.25, 0.5, 0.5, 0.75, 1.0]

    class Fixed:  # a generator whose uniform draws are given
        def __init__(self, values):
            self.values = iter(values)

        def random(self):
            return next(self.values)

    us = [0.0, 0.25, 0.3, 0.5, 0.6, 0.75, 0.99, 1.0]
    expected = [min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1) for u in us]
    fixed = Fixed(us)
    assert [draw(fixed, cdf) for _ in us] == expected == [0, 1, 1, 3, 3, 4, 4, 4]


def test_choice_cdf_ends_at_one():
    """Is the distribution normalised as numpy does it (its last value exactly 1)?"""
    cdf = choice_cdf([1, 2, 3])
    assert cdf == pytest.approx([1 / 6, 1 / 2, 1.0])
    assert cdf[-1] == 1.0
    assert all(a <= b for a, b in zip(cdf, cdf[1:]))
