# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Neural-network building blocks: encoders (backbones) and the MoCo v2 pieces.

torch modules and pure tensor functions only; the training loop lives in `galssl.ssl`.
"""

from ._backbones import (ASINH_SOFTENING, INPUT_STRETCHES, PIXEL_NOISE_SOFTENING,  # noqa
                         AsinhStretch, Backbone, count_parameters, create_backbone,
                         list_backbones)
from ._splitbn import (SplitBatchNorm2d, robust_batchnorm_statistics,  # noqa: F401
                       set_batchnorm_splits)
from ._moco import (MoCoQueue, ProjectionHead, check_queue_size, default_queue_size,  # noqa
                    decorrelation_loss, info_nce, momentum_update)
from ._photometry import APERTURE_RADII_ARCSEC, PhotometryHead, photometry_apertures  # noqa: F401,E501

__all__ = ["Backbone", "AsinhStretch", "ASINH_SOFTENING", "PIXEL_NOISE_SOFTENING",
           "INPUT_STRETCHES", "create_backbone",
           "list_backbones", "count_parameters",
           "ProjectionHead", "MoCoQueue", "info_nce", "decorrelation_loss", "momentum_update",
           "PhotometryHead", "APERTURE_RADII_ARCSEC",
           "default_queue_size", "check_queue_size", "SplitBatchNorm2d", "set_batchnorm_splits",
           "robust_batchnorm_statistics"]
