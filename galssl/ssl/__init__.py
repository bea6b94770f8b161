# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Self-supervised pretraining: `ContrastiveEncoder` (MoCo v2 on PyTorch Lightning), the
safe reading of checkpoints that every galssl model uses (`read_checkpoint`), and the
inference loop of every model, in one process or on several (`run_inference`).
"""

from ..utils._checkpoint import CheckpointError, read_checkpoint  # noqa: F401
from ._encoder import (CHECKPOINT_FORMAT, PRESET_BATCH_SIZE, PRESETS,  # noqa: F401
                       ContrastiveEncoder)
from ._probe import (FACTORS, effective_rank, probe_features,  # noqa: F401
                     probe_representations)

__all__ = ["ContrastiveEncoder", "CHECKPOINT_FORMAT", "PRESETS", "PRESET_BATCH_SIZE",
           "CheckpointError", "read_checkpoint",
           "probe_representations", "probe_features", "effective_rank", "FACTORS", "run_inference"]


def __getattr__(name):
    # imported on first use: it needs Lightning, which `import galssl` does not load
    if name == "run_inference":
        from ._inference import run_inference

        return run_inference
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
