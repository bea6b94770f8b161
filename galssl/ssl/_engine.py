# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The Lightning engine shared by every galssl model that trains: devices, DDP, precision,
checkpoints, resume, logs and progress."""

import os
import warnings

import torch

__all__ = ["cpu_supports_bf16", "default_precision", "resume_checkpoint", "run_trainer",
           "QuietLightning"]


def cpu_supports_bf16():
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where bf16
    autocast roughly doubles training speed; elsewhere it would be emulated and slow."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch: no query, no bf16 default
        return False


def _uses_cuda(accelerator):
    return torch.cuda.is_available() and accelerator in (None, "gpu", "cuda", "auto")


def default_precision(accelerator=None):
    """Mixed precision (bf16, else fp16) on CUDA; bf16 autocast on a CPU with native
    bfloat16; fp32 otherwise."""
    if _uses_cuda(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_supports_bf16() else "32-true"


def resume_checkpoint(checkpoint_dir, resume):
    """The ``last.ckpt`` to resume from, None without ``resume``; clear errors otherwise."""
    if not resume:
        return None
    if checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to continue")
    ckpt = os.path.join(checkpoint_dir, "last.ckpt")
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"no checkpoint to resume from: {ckpt!r}")
    return ckpt


def run_trainer(module, *, epochs, max_steps=-1, devices=None, accelerator=None, num_nodes=1,
                strategy=None, checkpoint_dir=None, ckpt=None, precision=None,
                deterministic=False, callbacks=None, log_every_n_steps=10, progress=True):
    """Fit a LightningModule (whose ``train_dataloader`` shards by rank itself) and return
    the trainer. ``None`` choices: all GPUs if any, else one CPU; DDP when several devices;
    `default_precision`. With ``checkpoint_dir``: ``last.ckpt`` after every epoch and CSV
    logs in ``checkpoint_dir/logs``."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    cuda = _uses_cuda(accelerator)
    if precision is None:
        precision = default_precision(accelerator)
    n_dev = devices if devices is not None else ("auto" if cuda else 1)
    if strategy is None:
        many = (isinstance(n_dev, int) and n_dev > 1) or num_nodes > 1 or \
            (n_dev == "auto" and torch.cuda.device_count() > 1)
        strategy = "ddp" if many else "auto"
    cbs = list(callbacks or [])
    logger = False
    if checkpoint_dir is not None:
        cbs.append(ModelCheckpoint(dirpath=checkpoint_dir, save_last=True,
                                   every_n_epochs=1, save_top_k=1))
        logger = CSVLogger(checkpoint_dir, name="logs")
    with warnings.catch_warnings(), QuietLightning(not progress):
        # Lightning's advice on dataloader workers and logging intervals, not errors
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        # checkpoints and logs share checkpoint_dir, which a resumed run finds full
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is "
                                "not empty")
        trainer = L.Trainer(
            max_epochs=int(epochs), max_steps=max_steps, accelerator=accelerator or "auto",
            devices=n_dev, num_nodes=num_nodes, strategy=strategy, precision=precision,
            callbacks=cbs, logger=logger, enable_progress_bar=progress,
            enable_model_summary=False, enable_checkpointing=checkpoint_dir is not None,
            deterministic=deterministic, use_distributed_sampler=False,
            default_root_dir=checkpoint_dir, log_every_n_steps=log_every_n_steps)
        trainer.fit(module, ckpt_path=ckpt)
    return trainer


class QuietLightning:
    """Lower Lightning's informational logging (device summary, tips) while active."""

    def __init__(self, active):
        self.active = active

    def __enter__(self):
        import logging

        self.loggers = [logging.getLogger(n)
                        for n in ("lightning.pytorch", "lightning.fabric")]
        self.levels = [lg.level for lg in self.loggers]
        if self.active:
            for lg in self.loggers:
                lg.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc):
        for lg, level in zip(self.loggers, self.levels):
            lg.setLevel(level)
        return False


def save_rng_state(checkpoint):
    """Store the torch/numpy/python/CUDA random states in a Lightning checkpoint, so that a
    resumed run draws what an uninterrupted one would."""
    import random

    import numpy as np

    checkpoint["galssl_rng"] = {
        "torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(),
        "numpy_pos": int(np.random.get_state()[2]),
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available()
        else []}


def load_rng_state(checkpoint):
    """Restore the random states saved by `save_rng_state` (if any)."""
    import random

    import numpy as np

    rng = checkpoint.get("galssl_rng")
    if rng:
        torch.set_rng_state(rng["torch"])
        state = np.random.get_state()
        np.random.set_state((state[0], np.array(rng["numpy"], dtype=np.uint32),
                             rng["numpy_pos"], 0, 0.0))
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
