# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Batch normalisation over groups of a batch (one-device shuffle-BN)."""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SplitBatchNorm2d", "set_batchnorm_splits"]


class SplitBatchNorm2d(nn.BatchNorm2d):
    """`torch.nn.BatchNorm2d` whose training statistics come from ``num_splits`` groups.

    In training the batch is cut into ``num_splits`` equal consecutive groups, each
    normalised with its own statistics, as if each group ran on its own device (the groups
    are views, so the memory format is kept and each group uses the fast kernel). Running
    statistics follow the first group, as DDP keeps those of rank 0; in evaluation it is a
    plain BatchNorm2d with the same parameters and state-dict keys.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import SplitBatchNorm2d
    >>> bn = SplitBatchNorm2d(3, num_splits=2)
    >>> x = torch.randn(8, 3, 4, 4)
    >>> y = bn(x)
    >>> bool(torch.allclose(y[:4], torch.nn.functional.batch_norm(
    ...     x[:4], None, None, training=True), atol=1e-5))
    True
    """

    def __init__(self, num_features, num_splits=1, **kwargs):
        super().__init__(num_features, **kwargs)
        self.num_splits = int(num_splits)

    def forward(self, x):
        k = self.num_splits
        if not self.training or k == 1:
            return super().forward(x)
        if x.shape[0] % k:
            raise ValueError(f"a batch of {x.shape[0]} cannot be split into {k} batch-norm "
                             "groups")
        momentum = 0.1 if self.momentum is None else self.momentum
        chunks = x.chunk(k)
        # running statistics follow the first group, as DDP keeps those of rank 0
        out = [F.batch_norm(chunks[0], self.running_mean, self.running_var, self.weight,
                            self.bias, True, momentum, self.eps)]
        out += [F.batch_norm(chunk, None, None, self.weight, self.bias, True, 0.0, self.eps)
                for chunk in chunks[1:]]
        self.num_batches_tracked.add_(1)
        return torch.cat(out)

    def extra_repr(self):
        return super().extra_repr() + f", num_splits={self.num_splits}"


def set_batchnorm_splits(module, num_splits):
    """Make every BatchNorm2d of ``module`` a `SplitBatchNorm2d` with ``num_splits`` groups
    (in place; parameters and buffers are kept). Returns ``module``."""
    for name, child in list(module.named_children()):
        if isinstance(child, SplitBatchNorm2d):
            child.num_splits = int(num_splits)
        elif isinstance(child, nn.BatchNorm2d):
            new = SplitBatchNorm2d(child.num_features, num_splits, eps=child.eps,
                                   momentum=child.momentum, affine=child.affine,
                                   track_running_stats=child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new.to(child.weight.device))
        else:
            set_batchnorm_splits(child, num_splits)
    return module
