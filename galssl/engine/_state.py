# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Checks of the plain-dict checkpoints of galssl's models, shared by every model class."""

import torch

from ..utils._checkpoint import CheckpointError, describe_value

__all__ = ["TRAINING_PARTS", "check_checkpoint", "load_strict"]

#: What continuing the pretraining needs besides the backbone (MoCoModule attributes; the
#: photometry head only where ``photometry`` > 0).
TRAINING_PARTS = ("head", "backbone_k", "head_k", "queue", "photometry_head")


def check_checkpoint(state, kind, version, source, required=("backbone",)):
    """Raise a clear `~galssl.utils.CheckpointError` (a ValueError) unless ``state`` is a
    galssl ``kind`` checkpoint (e.g. ``"PhotoZEstimator"``) of a format version this galssl
    reads (up to ``version``), with a config dict and state dicts of tensors (those named in
    ``required`` present)."""
    if not isinstance(state, dict) or state.get("format") != f"galssl.{kind}":
        what = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{source} is not a galssl {kind} checkpoint (it holds "
                              f"{what!r})")
    fv = state.get("format_version", 0)
    if not isinstance(fv, int) or isinstance(fv, bool):
        raise CheckpointError(f"{source}: its format_version must be an integer, got "
                              f"{describe_value(fv)}")
    if fv > version:
        raise CheckpointError(f"{source} has checkpoint format {fv}; this galssl reads up "
                              f"to {version}: upgrade galssl")
    if not isinstance(state.get("config"), dict):
        raise CheckpointError(f"{source}: its config must be a dict, got "
                              f"{describe_value(state.get('config'))}")
    for key in ("backbone",) + TRAINING_PARTS:
        sd = state.get(key)
        if sd is None and key not in required:
            continue
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor)
                                               for v in sd.values()):
            raise CheckpointError(f"{source}: its {key} weights must be a dict of tensors, "
                                  f"got {describe_value(sd)}")


def load_strict(module, state, name, source):
    own = set(module.state_dict())
    got = set(state)
    missing, unexpected = sorted(own - got), sorted(got - own)
    if missing or unexpected:
        raise ValueError(f"{source}: the {name} weights do not match the architecture; "
                         f"missing keys {missing[:10]}{'...' if len(missing) > 10 else ''}, "
                         f"unexpected keys {unexpected[:10]}"
                         f"{'...' if len(unexpected) > 10 else ''}")
    own = module.state_dict()
    shapes = [f"{k}: {tuple(v.shape)} in the file, {tuple(own[k].shape)} in the model"
              for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if shapes:
        raise ValueError(f"{source}: the {name} weights do not match the architecture; "
                         f"shapes differ: {shapes[:5]}{'...' if len(shapes) > 5 else ''}")
    module.load_state_dict(state, strict=True)
