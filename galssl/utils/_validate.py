# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Argument checks shared by every public entry point: one helper per kind of argument,
each raising TypeError/ValueError with the argument's name."""

import numbers

import numpy as np

__all__ = ["check_positive_int", "check_devices", "check_angle", "check_number"]


def check_positive_int(value, name, *, minimum=1):
    """``value`` as an int, or a TypeError (not an integer: bool, float, str...) or a
    ValueError (below ``minimum``) that names ``name``.

    Examples
    --------
    >>> from galssl.utils._validate import check_positive_int
    >>> check_positive_int(64, "batch_size")
    64
    >>> check_positive_int(-1, "batch_size")
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer, got -1
    """
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_devices(value, name="devices"):
    """Lightning's ``devices``: None (choose), ``"auto"``, a positive integer, or a list of
    device indices; a string of digits (from a command line) becomes an integer, and one
    of comma-separated digits ("0,1") a list of indices."""
    if value is None or value == "auto":
        return value
    if isinstance(value, str) and "," in value:
        parts = [v.strip() for v in value.split(",")]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"{name} must be a positive integer, a list of device indices "
                             f"or 'auto', got {value!r}")
        return [int(p) for p in parts]
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise ValueError(f"{name} must be a positive integer, a list of device indices "
                             f"or 'auto', got {value!r}")
        value = int(value)
    if isinstance(value, (list, tuple)):
        return [check_positive_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(value)]
    return check_positive_int(value, name)


def check_angle(value, name):
    """``value`` as an angular `~astropy.units.Quantity` (a scalar >= 0), or a TypeError
    naming ``name`` (a bare number has no unit: 5 what?) or a ValueError.

    Examples
    --------
    >>> import astropy.units as u
    >>> from galssl.utils._validate import check_angle
    >>> check_angle(2 * u.arcsec, "max_separation")
    <Quantity 2. arcsec>
    >>> check_angle(5, "max_separation")
    Traceback (most recent call last):
    ...
    TypeError: max_separation must be an angle with a unit (e.g. 2 * u.arcsec), got 5
    """
    import astropy.units as u

    if not isinstance(value, u.Quantity) or value.unit.physical_type != "angle":
        raise TypeError(f"{name} must be an angle with a unit (e.g. 2 * u.arcsec), got "
                        f"{value!r}")
    if not value.isscalar or not np.isfinite(value.value) or value.value < 0:
        raise ValueError(f"{name} must be one finite angle >= 0, got {value!r}")
    return value


def check_number(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float within [``low``, ``high``] (an end excluded with
    ``low_open``/``high_open``), or a TypeError (not a real number) or ValueError (NaN,
    infinite, out of range) that names ``name``; checked in a constructor, before any work.

    Examples
    --------
    >>> from galssl.utils._validate import check_number
    >>> check_number(0.99, "ood_quantile", low=0, high=1, low_open=True, high_open=True)
    0.99
    >>> check_number(2, "ood_quantile", low=0, high=1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: ood_quantile must be a finite number in (0, 1), got 2
    """
    real = (numbers.Real, np.floating, np.integer)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, real):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    x = float(value)
    left = "(" if low_open else "["
    right = ")" if high_open or high is None else "]"
    where = ""
    if low is not None or high is not None:
        left = "(" if low is None else left
        where = (f" in {left}{'-inf' if low is None else f'{low:g}'}, "
                 f"{'inf' if high is None else f'{high:g}'}{right}")
    ok = np.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValueError(f"{name} must be a finite number{where}, got {value!r}")
    return x
