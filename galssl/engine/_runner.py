# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The Lightning engine shared by every galssl model that trains: devices, DDP, precision,
checkpoints, resume, logs and progress."""

import os
import warnings

import torch

__all__ = ["cpu_supports_bf16", "default_precision", "resume_checkpoint", "run_trainer",
           "QuietLightning", "read_training_checkpoint", "cosine_schedule", "step_schedule"]


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


def read_training_checkpoint(ckpt, config):
    """Read a Lightning checkpoint of a galssl run safely (`galssl.utils.read_checkpoint`)
    and refuse it unless it was written by a run with the same ``config`` (the settings,
    seed, batch size and data fingerprint that the run depends on); the error names the
    settings that differ."""
    from ..utils._checkpoint import CheckpointError, describe_config_mismatch, read_checkpoint

    state = read_checkpoint(ckpt, what="training checkpoint")
    saved = state.get("galssl_config") if isinstance(state, dict) else None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{ckpt!r} is not a galssl training checkpoint (it has no "
                              f"galssl_config)")
    diffs = describe_config_mismatch(saved, config)
    if diffs:
        raise CheckpointError(
            f"{ckpt!r} was written by a run with other settings, so resuming would not "
            f"continue that run: " + "; ".join(diffs) + ". Resume with the same settings "
            "and data, or start a new checkpoint_dir")
    return state


def cosine_schedule(optimizer, total_steps, warmup_steps=0):
    """A step-wise cosine learning-rate schedule to zero over ``total_steps``, after a linear
    warm-up of ``warmup_steps``. A closed form of the step (a `~torch.optim.lr_scheduler.LambdaLR`
    whose function is not stored in checkpoints): a resumed run rebuilds it from the total it
    plans now, so that its learning rates are those of an uninterrupted run of that length."""
    import math

    total = max(1, int(total_steps))
    warm = max(0, min(int(warmup_steps), total - 1))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total - warm))
        return 0.5 * (1.0 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def step_schedule(optimizer, milestones, gamma=0.1, *, steps_per_epoch=None,
                  warmup_steps=0):
    """Learning rates times ``gamma`` at each of the epochs ``milestones`` (a closed form of
    the epoch, rebuilt on resume like `cosine_schedule`).

    With ``steps_per_epoch`` the schedule is a function of the optimiser step (to be stepped
    every step; the milestones stay in epochs) and the rates first rise linearly over
    ``warmup_steps`` steps, from 1/``warmup_steps`` of their value at the first step."""
    milestones = sorted(int(m) for m in milestones)
    if steps_per_epoch is None:
        if warmup_steps:
            raise ValueError("a warm-up needs steps_per_epoch (a step-wise schedule)")

        def factor(epoch):
            return gamma ** sum(epoch >= m for m in milestones)
    else:
        per_epoch = max(1, int(steps_per_epoch))
        warm = max(0, int(warmup_steps))

        def factor(step):
            ramp = (step + 1) / warm if step < warm else 1.0
            return ramp * gamma ** sum(step // per_epoch >= m for m in milestones)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def run_trainer(module, *, epochs, stop_epoch=None, max_steps=-1, devices=None,
                accelerator=None, num_nodes=1, strategy=None, checkpoint_dir=None, ckpt=None,
                precision=None, deterministic=False, callbacks=None, log_every_n_steps=10,
                progress=True):
    """Fit a LightningModule (whose ``train_dataloader`` shards by rank itself) and return
    the trainer. ``None`` choices: all GPUs if any, else one CPU; DDP when several devices;
    `default_precision`. With ``checkpoint_dir``: ``last.ckpt`` after every epoch and CSV
    logs in ``checkpoint_dir/logs``.

    The run plans ``epochs`` epochs (the module's learning-rate schedule reads
    ``module.planned_epochs``) and stops after epoch ``stop_epoch`` when given, so that a run
    split over sittings with ``stop_epoch`` and resumed equals an uninterrupted one bit for
    bit. ``ckpt`` (a ``last.ckpt`` to resume from) is read safely and refused unless it was
    written with the module's ``config`` (`read_training_checkpoint`)."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from ._plugins import ApplySchedule, SafeCheckpointIO

    from ..utils._validate import check_devices, check_positive_int

    epochs = check_positive_int(epochs, "epochs")
    num_nodes = check_positive_int(num_nodes, "num_nodes")
    devices, accelerator = lightning_devices(check_devices(devices), accelerator)
    stop = epochs if stop_epoch is None else int(stop_epoch)
    if not 1 <= stop <= epochs:
        raise ValueError(f"stop_epoch must be between 1 and epochs={epochs}, got {stop_epoch!r}")
    preloaded = {}
    if ckpt is not None:
        preloaded[os.path.abspath(os.fspath(ckpt))] = read_training_checkpoint(
            ckpt, module.config)
    module.planned_epochs = epochs
    cuda = _uses_cuda(accelerator)
    if precision is None:
        precision = default_precision(accelerator)
    n_dev = devices if devices is not None else ("auto" if cuda else 1)
    if strategy is None:
        many = (isinstance(n_dev, int) and n_dev > 1) or num_nodes > 1 or \
            (n_dev == "auto" and torch.cuda.device_count() > 1)
        strategy = "ddp" if many else "auto"
    cbs = [ApplySchedule()] + list(callbacks or [])
    if progress:
        cbs.append(_progress_bar())
    logger = False
    if checkpoint_dir is not None:
        cbs.append(ModelCheckpoint(dirpath=checkpoint_dir, save_last=True,
                                   every_n_epochs=1, save_top_k=1))
        logger = CSVLogger(checkpoint_dir, name="logs")
    # a library prints its own progress bar and nothing else: Lightning's device summary,
    # tips and precision notes are silenced whether or not the bar is shown
    with warnings.catch_warnings(), QuietLightning():
        # Lightning's advice on dataloader workers and logging intervals, not errors
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        # checkpoints and logs share checkpoint_dir, which a resumed run finds full
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is "
                                "not empty")
        trainer = L.Trainer(
            max_epochs=stop, max_steps=max_steps, accelerator=accelerator or "auto",
            devices=n_dev, num_nodes=num_nodes, strategy=strategy, precision=precision,
            callbacks=cbs, logger=logger, enable_progress_bar=progress,
            enable_model_summary=False, enable_checkpointing=checkpoint_dir is not None,
            deterministic=deterministic, use_distributed_sampler=False,
            default_root_dir=checkpoint_dir, log_every_n_steps=log_every_n_steps,
            plugins=[SafeCheckpointIO(preloaded)])
        trainer.fit(module, ckpt_path=ckpt)
    return trainer


def _progress_bar():
    """Lightning's progress bar without its logger version number (``v_num``), which
    means nothing to a reader of the bar."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    class ProgressBar(TQDMProgressBar):
        def get_metrics(self, trainer, pl_module):
            metrics = super().get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)
            return metrics

    return ProgressBar()


class QuietLightning:
    """Lower Lightning's informational logging (device summary, tips) while active; the
    levels are restored on exit."""

    def __enter__(self):
        import logging

        self.loggers = [logging.getLogger(n)
                        for n in ("lightning.pytorch", "lightning.fabric")]
        self.levels = [lg.level for lg in self.loggers]
        for lg in self.loggers:
            lg.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc):
        for lg, level in zip(self.loggers, self.levels):
            lg.setLevel(level)
        return False


class RunStateHooks:
    """Lightning hooks shared by galssl's modules: every checkpoint carries the run's
    ``config`` (a resume with other settings is refused against it) and the RNG state (a
    resumed run continues bit for bit)."""

    def on_save_checkpoint(self, checkpoint):
        checkpoint["galssl_config"] = dict(self.config)
        save_rng_state(checkpoint)

    def on_load_checkpoint(self, checkpoint):
        load_rng_state(checkpoint)


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


def seed_from(*parts):
    """A 63-bit seed from integers, stable across processes and runs."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


def devices_alias(device, devices, where):
    """``devices`` of a call that may still use the deprecated ``device=`` spelling: the
    value of ``device`` with an `~astropy.utils.exceptions.AstropyDeprecationWarning`
    (``devices`` takes a device name, ``"cpu"`` or ``"cuda:1"``, as well as a count), or a
    TypeError when both are given."""
    if device is None:
        return devices
    import warnings

    from astropy.utils.exceptions import AstropyDeprecationWarning

    if devices is not None:
        raise TypeError(f"{where} got both device={device!r} and devices={devices!r}: "
                        f"use devices= alone")
    warnings.warn(f"{where}: device= is deprecated and will be removed in galssl 0.3; use "
                  f"devices={str(device)!r} (devices takes a device name as well as a count)",
                  AstropyDeprecationWarning, stacklevel=3)
    return str(device)


def lightning_devices(devices, accelerator):
    """(devices, accelerator) for Lightning: a device name becomes its accelerator and
    index (``"cuda:1"`` -> ``([1], "gpu")``, ``"cpu"`` -> ``(1, "cpu")``); counts, lists and
    None pass unchanged. A name that contradicts ``accelerator`` is a ValueError."""
    from ..utils._validate import check_devices

    devices = check_devices(devices)
    if not isinstance(devices, str) or devices == "auto":
        return devices, accelerator
    kind, _, index = devices.partition(":")
    kind_accelerator = {"cuda": "gpu"}.get(kind, kind)
    if accelerator not in (None, "auto", kind_accelerator, kind):
        raise ValueError(f"devices={devices!r} is a {kind} device, but accelerator="
                         f"{accelerator!r}")
    return ([int(index)] if index else 1), kind_accelerator


def inference_device(devices, accelerator=None):
    """The `torch.device` of a one-process run asked for by ``devices`` (a device name, one
    index of the accelerator, or None/1: CUDA when available) and ``accelerator``."""
    from ..utils._validate import check_devices

    devices = check_devices(devices)
    if isinstance(devices, str) and devices != "auto":
        return resolve_device(devices)
    if accelerator == "cpu":
        return torch.device("cpu")
    if isinstance(devices, (list, tuple)) and len(devices) == 1:
        return resolve_device(f"cuda:{devices[0]}")
    return resolve_device(None)


def resolve_device(device):
    """A `torch.device` (``None``: CUDA when available, else the CPU); a clear error when
    CUDA is asked for and missing."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but CUDA is not available")
    return device
