# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Lightning plugins of the galssl engine (module-level classes: DDP spawn pickles them)."""

import os

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..utils._checkpoint import read_checkpoint, write_checkpoint

__all__ = ["SafeCheckpointIO", "ApplySchedule"]


class SafeCheckpointIO(TorchCheckpointIO):
    """Writes checkpoints atomically (`~galssl.utils._checkpoint.write_checkpoint`: a run
    stopped while ``last.ckpt`` is being written keeps the previous one), reads them only
    through galssl's safe reader (integrity check, ``weights_only=True``, errors naming the
    file). ``preloaded``
    ({absolute path: state}) hands out a checkpoint that the engine has already read and
    checked, without reading the file twice."""

    def __init__(self, preloaded=None):
        super().__init__()
        self.preloaded = dict(preloaded or {})

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got "
                            f"{storage_options!r}")
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
        write_checkpoint(checkpoint, path, overwrite=True)

    def load_checkpoint(self, path, map_location=None, *args, **kwargs):
        key = os.path.abspath(os.fspath(path))
        if key in self.preloaded:
            return self.preloaded.pop(key)
        return read_checkpoint(path, map_location=map_location or "cpu",
                               what="training checkpoint")


class ApplySchedule(L.Callback):
    """Once the checkpoint (if any) is restored, set every parameter group's learning rate
    from its closed-form schedule (``cosine_schedule``, ``step_schedule``)
    at the restored step: a resumed run with more epochs then starts on the re-planned
    schedule, not on the rate that the checkpoint's own schedule had reached."""

    def on_train_start(self, trainer, module):
        for cfg in trainer.lr_scheduler_configs:
            sched = cfg.scheduler
            if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
                for group, base, f in zip(sched.optimizer.param_groups, sched.base_lrs,
                                          sched.lr_lambdas):
                    group["lr"] = base * f(sched.last_epoch)
