# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The ``galssl`` command line."""

from ._main import main  # noqa: F401

__all__ = ["main"]
