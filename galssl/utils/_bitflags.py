# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""What every galssl flag enumeration can say about its bits."""

import numpy as np

__all__ = ["NamedBits"]


class NamedBits:
    """Mixin of galssl's `enum.IntFlag` classes (``CutoutFlag``, ``PhotoZFlag``): the names
    of the bits set in a value, one at a time or as a column."""

    @classmethod
    def describe(cls, value):
        """Names of the bits set in an integer flag value."""
        return [f.name for f in cls if int(value) & int(f)]

    @classmethod
    def names_column(cls, values):
        """The names of the bits of each value joined by "|" ("" for 0), as a string array
        (one row per value, in order)."""
        values = np.asarray(values, dtype=np.int64)
        names = {v: "|".join(cls.describe(v)) for v in np.unique(values).tolist()}
        width = max([1] + [len(t) for t in names.values()])
        return np.array([names[v] for v in values.tolist()], dtype=f"U{width}")
