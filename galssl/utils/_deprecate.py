# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Names that moved: the old name keeps working for one release and warns."""

import importlib
import warnings

__all__ = ["moved_names"]


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
