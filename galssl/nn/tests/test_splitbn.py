# Licensed under a 3-clause BSD style license - see LICENSE.rst
import pytest


def test_robust_batchnorm_statistics_takes_the_median_over_batches():
    import torch

    from galssl.nn import robust_batchnorm_statistics

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.BatchNorm2d(2))
    # heavy-tailed batches: one batch in five holds a very bright object
    batches = [torch.randn(16, 2, 4, 4) for _ in range(10)]
    for b in batches[::5]:
        b[0] += 100.0
    net.eval()
    robust_batchnorm_statistics(net, batches)
    var = torch.stack([b.var(dim=(0, 2, 3)) for b in batches])
    mean = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches])
    torch.testing.assert_close(net[0].running_var, var.median(dim=0).values)
    torch.testing.assert_close(net[0].running_mean, mean.median(dim=0).values)
    assert not net.training  # mode restored
    # the running average would be pulled up by the bright batches
    assert torch.all(var.mean(dim=0) > 5 * net[0].running_var)
    robust_batchnorm_statistics(net, batches, statistic="mean")
    torch.testing.assert_close(net[0].running_var, var.mean(dim=0))
    with pytest.raises(ValueError, match="at least one batch"):
        robust_batchnorm_statistics(net, [])


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("splits", [2, 4])
def test_split_batchnorm_equals_batchnorm_of_each_group(channels_last, splits):
    # each group is normalised with its own statistics, the running statistics follow the
    # first group, and the gradients are those of the per-group batch norms (to float
    # rounding: the weight gradients are sums over the groups in another order)
    import torch
    import torch.nn.functional as F

    from galssl.nn import SplitBatchNorm2d

    torch.manual_seed(1)
    bn = SplitBatchNorm2d(6, num_splits=splits)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    x = torch.randn(16, 6, 5, 5) * 3 + torch.arange(16.0)[:, None, None, None]
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    g = torch.randn(16, 6, 5, 5)
    x1 = x.clone().requires_grad_()
    y = bn(x1)
    (y * g).sum().backward()
    assert y.is_contiguous(memory_format=torch.channels_last if channels_last
                           else torch.contiguous_format)

    w = bn.weight.detach().clone().requires_grad_()
    b = bn.bias.detach().clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    rm, rv = torch.zeros(6), torch.ones(6)
    parts = x2.chunk(splits)
    ref = torch.cat([F.batch_norm(parts[0], rm, rv, w, b, True, 0.1, bn.eps)]
                    + [F.batch_norm(p, None, None, w, b, True, 0.0, bn.eps)
                       for p in parts[1:]])
    (ref * g).sum().backward()
    for got, want in ((y, ref), (x1.grad, x2.grad), (bn.weight.grad, w.grad),
                      (bn.bias.grad, b.grad), (bn.running_mean, rm), (bn.running_var, rv)):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    # the groups really are normalised apart: each has zero mean before the affine part
    z = ((y.detach() - bn.bias[None, :, None, None]) / bn.weight[None, :, None, None])
    for part in z.chunk(splits):
        torch.testing.assert_close(part.mean(dim=(0, 2, 3)), torch.zeros(6), atol=1e-5,
                                   rtol=0)
    assert int(bn.num_batches_tracked) == 1
