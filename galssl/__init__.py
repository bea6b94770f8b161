# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
galssl: self-supervised representation learning for multi-band galaxy images.

galssl turns calibrated survey frames and an astropy `~astropy.table.Table` or
`~astropy.coordinates.SkyCoord` of galaxies into per-object multi-band cutouts
(`~galssl.cutouts.CutoutCatalog`), learns representations of them without labels
(contrastive MoCo v2, after Hayat, Stein et al. 2021, ApJL 911, L33) and uses the
representations for photometric redshifts, morphology, similarity search and anomaly
detection.

``import galssl`` is cheap: it imports neither torch nor any I/O machinery. The public
classes are loaded on first access, e.g. ``galssl.CutoutCatalog``.
"""

import importlib

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - only without a build step (plain source tree)
    try:
        from importlib.metadata import version as _dist_version

        __version__ = _dist_version("galssl")
    except Exception:
        __version__ = "0.0.0"

__all__ = ["__version__", "CutoutCatalog", "ExtinctionAugment", "ContrastiveEncoder",
           "PhotoZEstimator", "MorphologyClassifier", "SimilaritySearch"]

# Public name -> submodule that defines it; resolved lazily on first attribute access so that
# ``import galssl`` stays cheap (PEP 562).
_LAZY = {
    "CutoutCatalog": "galssl.cutouts",
    "ExtinctionAugment": "galssl.augment",
    "ContrastiveEncoder": "galssl.ssl",
    "PhotoZEstimator": "galssl.photoz",
    "MorphologyClassifier": "galssl.morphology",
    "SimilaritySearch": "galssl.search",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'galssl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
