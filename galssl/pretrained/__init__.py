# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Named weights with their model cards: the default photo-z model and encoder shipped inside
the package, and the released checkpoints of Hayat et al. (2021).

Each record says what the weights expect (architecture, bands, pixel scale, cutout and crop
size, dereddening convention, redshift bins), where they come from (training data, recipe,
hardware), how good they are (metrics on held-out data), their licence, citation and sha256.
Load them with the model classes: ``PhotoZEstimator.from_pretrained(name)``,
``ContrastiveEncoder.from_pretrained(name)``.
"""

from ._registry import (DEFAULT_ENCODER, DEFAULT_PHOTOZ, PretrainedModel,  # noqa: F401
                        PretrainedState, get_pretrained, hayat2021_key_map,
                        is_checkpoint_path, list_pretrained, pretrained_state, sha256sum)

__all__ = ["PretrainedModel", "list_pretrained", "get_pretrained", "pretrained_state",
           "DEFAULT_PHOTOZ", "DEFAULT_ENCODER", "sha256sum", "hayat2021_key_map"]

_USE_INSTEAD = {
    "load_pretrained": "PhotoZEstimator.from_pretrained(name) or "
                       "ContrastiveEncoder.from_pretrained(name)",
    "from_hayat2021": "PhotoZEstimator.from_hayat2021(state) or "
                      "ContrastiveEncoder.from_hayat2021(state)"}


def __getattr__(name):
    # deprecated: these build models, which the registry no longer imports
    if name not in _USE_INSTEAD:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import warnings

    from astropy.utils.exceptions import AstropyDeprecationWarning

    warnings.warn(f"galssl.pretrained.{name} is deprecated and will be removed in the next "
                  f"release: use {_USE_INSTEAD[name]}", AstropyDeprecationWarning,
                  stacklevel=2)
    return getattr(importlib.import_module("galssl._deprecated"), name)
