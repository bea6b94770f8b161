# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Self-supervised pretraining: `ContrastiveEncoder` (MoCo v2 on PyTorch Lightning).
"""

from ._encoder import CHECKPOINT_FORMAT, ContrastiveEncoder  # noqa: F401

__all__ = ["ContrastiveEncoder", "CHECKPOINT_FORMAT"]
