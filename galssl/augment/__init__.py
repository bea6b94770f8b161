# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Band-aware, batched, physical augmentations of calibrated multi-band galaxy images.

Every transform works on a (B, C, H, W) batch or a single (C, H, W) image, on the tensor's
device, draws its per-object random parameters in one vectorised call, and is reproducible
from a seed or a `torch.Generator`. The channels are named bands (default ``"ugriz"``).
"""

from ._base import BandTransform  # noqa: F401
from ._pipelines import (TwoViews, default_pretraining_views, estimate_noise_mad,  # noqa: F401
                         eval_transform, finetune_transform)
from ._transforms import (CenterCrop, Compose, ExtinctionAugment, GaussianNoise,  # noqa: F401
                          JitterCrop, PSFAugment, RandomRotate, crop, rotate)

__all__ = ["BandTransform", "ExtinctionAugment", "PSFAugment", "RandomRotate", "JitterCrop",
           "CenterCrop", "GaussianNoise", "Compose", "TwoViews", "rotate", "crop",
           "default_pretraining_views", "finetune_transform", "eval_transform",
           "estimate_noise_mad"]
