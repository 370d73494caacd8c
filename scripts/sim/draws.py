"""Bulk draws from a `random.Random`: the values its `random()` gives, made many at a time.

numpy's legacy `RandomState` runs the same Mersenne Twister and makes a float from two of its
words as CPython does, so handed the generator's state it yields the same numbers (a test
holds it): a run draws exactly what it drew one call at a time.
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt


class Uniforms:
    """The values `rng.random()` would give from here on, `count` at a time. `rng` itself
    is left where it was: draw from one or the other, not both."""

    __slots__ = ("_twister",)

    def __init__(self, rng: random.Random) -> None:
        _, internal, _ = rng.getstate()
        keys, position = np.array(internal[:-1], dtype=np.uint32), int(internal[-1])
        self._twister = np.random.RandomState()
        self._twister.set_state(("MT19937", keys, position, 0, 0.0))

    def take(self, count: int) -> npt.NDArray[np.float64]:
        """The next `count` values."""
        return self._twister.random_sample(count)


def skip(rng: random.Random, count: int) -> None:
    """Move `rng` past `count` values of `random()` unread (each takes two 32-bit words of
    the twister, as `getrandbits(64)` does)."""
    if count > 0:
        rng.getrandbits(64 * count)
