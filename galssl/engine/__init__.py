# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
The training and inference engine under galssl's models (package-internal).

It owns what every model shares and no model should copy: reading images and E(B-V) from a
catalogue in batches (``as_image_source``, ``read_batch``, ``CutoutDataset``), the rows
training may use (``training_rows``), the Lightning runner with exact resume
(``run_trainer``, ``resume_checkpoint``, the learning-rate schedules, the RNG state),
fine-tuning a backbone with a head (``FinetuneModule``, ``run_finetune``), inference in
one process or on several (``run_inference``), device and precision choices
(``devices_alias``, ``lightning_devices``, ``inference_device``, ``resolve_device``,
``default_precision``) and the checks of model checkpoints
(``check_checkpoint``, ``load_strict``), and the base of the models that turn images into
table columns (``ImageModel``: positions to cutouts, image checks, the output table, save
and load).

The models (`galssl.ssl`, `galssl.photoz`, `galssl.morphology`, `galssl.search`) import these
names from ``galssl.engine``; nothing here imports a model. The API is small and stable
within galssl, not promised to users. Names load on first use: importing this package does
not import Lightning.
"""

import importlib

# name -> submodule that defines it
_NAMES = {
    "_data": ("as_image_source", "check_predict_input", "check_images", "check_view_room",
              "training_rows",
              "read_ebv",
              "data_fingerprint", "CutoutDataset", "collate_batch", "zero_non_finite",
              "read_batch"),
    "_runner": ("cpu_supports_bf16", "default_precision", "resume_checkpoint",
                "read_training_checkpoint", "cosine_schedule", "step_schedule",
                "run_trainer", "QuietLightning", "save_rng_state", "load_rng_state",
                "RunStateHooks",
                "seed_from", "resolve_device", "devices_alias", "lightning_devices",
                "inference_device"),
    "_plugins": ("SafeCheckpointIO", "ApplySchedule"),
    "_finetune": ("FinetuneModule", "freeze_batchnorm", "KeepBest", "run_finetune",
                  "refresh_batchnorm", "standardize", "lbfgs_minimize"),
    "_inference": ("is_distributed", "shard_bounds", "run_inference", "SeededView",
                   "InferenceModule"),
    "_state": ("TRAINING_PARTS", "check_checkpoint", "load_strict"),
    "_model": ("ImageModel",),
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
