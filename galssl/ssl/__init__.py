# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Self-supervised pretraining: `ContrastiveEncoder` (MoCo v2 on PyTorch Lightning), and the
safe reading of checkpoints that every galssl model uses (`read_checkpoint`).
"""

from ..utils._checkpoint import CheckpointError, read_checkpoint  # noqa: F401
from ._encoder import (CHECKPOINT_FORMAT, PRESET_BATCH_SIZE, PRESETS,  # noqa: F401
                       ContrastiveEncoder)
from ._probe import FACTORS, effective_rank, probe_representations  # noqa: F401

__all__ = ["ContrastiveEncoder", "CHECKPOINT_FORMAT", "PRESETS", "PRESET_BATCH_SIZE",
           "CheckpointError", "read_checkpoint",
           "probe_representations", "effective_rank", "FACTORS"]
