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
