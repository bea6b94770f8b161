# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Photometric redshifts. This release provides the metrics (`galssl.photoz.metrics`);
the estimator follows."""

from . import metrics  # noqa: F401

__all__ = ["metrics"]
