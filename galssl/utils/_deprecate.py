# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Names that moved: the old name keeps working for one release and warns."""

import importlib
import warnings

__all__ = ["moved_names", "renamed_argument"]


def moved_names(module_name, moved):
    """A module ``__getattr__`` for names that moved to another module:
    ``moved = {old name: (new module, new name)}``. Using an old name gives the object and an
    `~astropy.utils.exceptions.AstropyDeprecationWarning` that says where it lives now."""

    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        from astropy.utils.exceptions import AstropyDeprecationWarning

        target, new = moved[name]
        what = "is now" if target == module_name else "moved to"
        warnings.warn(f"{module_name}.{name} {what} {target}.{new}; the old name will be "
                      f"removed in the next release", AstropyDeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(target), new)

    return __getattr__


def renamed_argument(old_value, new_value, old, new, where):
    """The value of an argument whose keyword was renamed: ``new_value``, or ``old_value``
    with an `~astropy.utils.exceptions.AstropyDeprecationWarning` when only the old keyword
    was given; both given is a TypeError."""
    if old_value is None:
        return new_value
    from astropy.utils.exceptions import AstropyDeprecationWarning

    if new_value is not None:
        raise TypeError(f"{where} got both {old}= and {new}=: use {new}= alone")
    warnings.warn(f"{where}: {old}= is deprecated and will be removed in galssl 0.3; use "
                  f"{new}=", AstropyDeprecationWarning, stacklevel=3)
    return old_value
