# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Self-supervised pretraining: `ContrastiveEncoder` (MoCo v2 on PyTorch Lightning) and the
safe reading of checkpoints that every galssl model uses (`read_checkpoint`). The training
and inference engine under every model is `galssl.engine`; the probe of representations
lives in `galssl.research`.
"""

from ..utils._checkpoint import CheckpointError, read_checkpoint  # noqa: F401
from ..utils._deprecate import moved_names
# backbone_for_head and encode_step: package-internal (the models on an encoder use them)
from ._encoder import (CHECKPOINT_FORMAT, PRESET_BATCH_SIZE, PRESETS,  # noqa: F401
                       ContrastiveEncoder, backbone_for_head, encode_step)

__all__ = ["ContrastiveEncoder", "CHECKPOINT_FORMAT", "PRESETS", "PRESET_BATCH_SIZE",
           "CheckpointError", "read_checkpoint"]

_moved = moved_names(__name__, {
    **{name: ("galssl.research", name) for name in (
        "probe_representations", "probe_features", "effective_rank", "FACTORS")},
    "run_inference": ("galssl.engine", "run_inference")})


def __getattr__(name):
    # MoCoModule (the LightningModule; benchmarks time its step) loads Lightning: on use
    if name == "MoCoModule":
        from ._module import MoCoModule

        return MoCoModule
    return _moved(name)
