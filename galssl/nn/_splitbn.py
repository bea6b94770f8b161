# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Batch normalisation over groups of a batch (one-device shuffle-BN)."""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SplitBatchNorm2d", "set_batchnorm_splits", "robust_batchnorm_statistics"]


def _in_format_of(t, x):
    """``t`` contiguous in the memory format of ``x`` (channels-last or standard)."""
    if x.is_contiguous():
        return t.contiguous()
    return t.contiguous(memory_format=torch.channels_last)


class _GroupBatchNorm(torch.autograd.Function):
    """Training-mode batch norm of ``k`` consecutive equal groups of a batch (CPU), each
    group's ATen kernel writing into its slice of one preallocated output; running
    statistics updated from the first group only."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, k, momentum, eps):
        aten = torch.ops.aten
        x = _in_format_of(x, x)
        y = torch.empty_like(x)
        n = x.shape[0] // k
        mean = weight.new_empty(k, x.shape[1])
        invstd = weight.new_empty(k, x.shape[1])
        for g in range(k):
            part = slice(g * n, (g + 1) * n)
            first = g == 0
            aten.native_batch_norm.out(
                x[part], weight, bias, running_mean if first else None,
                running_var if first else None, True, momentum, eps, out=y[part],
                save_mean=mean[g], save_invstd=invstd[g])
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.k, ctx.eps = k, eps
        return y

    @staticmethod
    def backward(ctx, grad):
        aten = torch.ops.aten
        x, weight, mean, invstd = ctx.saved_tensors
        n = x.shape[0] // ctx.k
        grad = _in_format_of(grad, x)
        grad_x = torch.empty_like(x)
        grad_w, grad_b = torch.zeros_like(weight), torch.zeros_like(weight)
        part_w, part_b = torch.empty_like(weight), torch.empty_like(weight)
        for g in range(ctx.k):
            part = slice(g * n, (g + 1) * n)
            aten.native_batch_norm_backward.out(
                grad[part], x[part], weight, None, None, mean[g], invstd[g], True, ctx.eps,
                [True, True, True], out0=grad_x[part], out1=part_w, out2=part_b)
            grad_w += part_w
            grad_b += part_b
        return grad_x, grad_w, grad_b, None, None, None, None, None


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
        self.num_batches_tracked.add_(1)
        if x.device.type == "cpu" and self.affine and x.dtype == self.weight.dtype:
            # each group's kernel writes into its slice of one output (and of one gradient
            # in backward): no concatenation copies; the same numbers as the branch below
            return _GroupBatchNorm.apply(x, self.weight, self.bias, self.running_mean,
                                         self.running_var, k, momentum, self.eps)
        chunks = x.chunk(k)
        # running statistics follow the first group, as DDP keeps those of rank 0
        out = [F.batch_norm(chunks[0], self.running_mean, self.running_var, self.weight,
                            self.bias, True, momentum, self.eps)]
        out += [F.batch_norm(chunk, None, None, self.weight, self.bias, True, 0.0, self.eps)
                for chunk in chunks[1:]]
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


@torch.no_grad()
def robust_batchnorm_statistics(module, batches, *, statistic="median"):
    """Set the running statistics of every batch-norm layer of ``module`` from the
    statistics it normalises with in training.

    Each batch of ``batches`` (input tensors, as in training: same size and augmentations)
    is run through ``module`` in training mode; every batch-norm layer records the mean and
    variance of its input per batch, and its running mean and variance become the
    ``statistic`` ("median" or "mean") of those over the batches.

    Why: galaxy images are heavy-tailed (a few bright objects dominate a batch's variance),
    so the variance of a training batch is usually well below its average over batches.
    The default exponential running average then sits above what the network normalised
    with during most of its training, and the evaluation-mode network sees inputs scaled
    down by up to a factor of 2 at the first layers; for photo-z this biased z_phot by
    about +0.02. The median over batches restores the typical training scale.

    Returns ``module`` (its training/evaluation mode unchanged).

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import robust_batchnorm_statistics
    >>> bn = torch.nn.BatchNorm2d(1)
    >>> batches = [torch.full((2, 1, 1, 1), 1.0) + torch.tensor([[[[0.]]], [[[2.]]]]) * k
    ...            for k in (1, 2, 10)]              # batch variances 2, 8 and 200
    >>> float(robust_batchnorm_statistics(bn, batches).running_var[0])
    8.0
    """
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")
    layers = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    seen = {id(m): ([], []) for m in layers}

    def record(m, inputs, output):
        x = inputs[0].float()
        seen[id(m)][0].append(x.mean(dim=(0, 2, 3)))
        seen[id(m)][1].append(x.var(dim=(0, 2, 3), unbiased=True))

    hooks = [m.register_forward_hook(record) for m in layers]
    was_training = module.training
    saved = [(m.running_mean.clone(), m.running_var.clone()) for m in layers]
    try:
        module.train()
        n = 0
        for x in batches:
            module(x)
            n += 1
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    if n == 0:
        raise ValueError("robust_batchnorm_statistics needs at least one batch")
    for m, (mean, var) in zip(layers, saved):
        means, variances = torch.stack(seen[id(m)][0]), torch.stack(seen[id(m)][1])
        if statistic == "median":
            mean, var = means.median(dim=0).values, variances.median(dim=0).values
        else:
            mean, var = means.mean(dim=0), variances.mean(dim=0)
        m.running_mean.copy_(mean.to(m.running_mean.dtype))
        m.running_var.copy_(var.to(m.running_var.dtype))
    return module
