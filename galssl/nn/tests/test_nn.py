# Licensed under a 3-clause BSD style license - see LICENSE.rst
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from galssl.nn import (MoCoQueue, ProjectionHead, count_parameters, create_backbone,
                       decorrelation_loss, default_queue_size, info_nce, list_backbones,
                       momentum_update)


def test_info_nce_equals_the_formula_by_hand():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    queue = F.normalize(torch.randn(5, 4, generator=g), dim=1)
    loss, logits = info_nce(q, k, queue, temperature=0.1)
    qn = q.numpy() / np.linalg.norm(q.numpy(), axis=1, keepdims=True)
    kn = k.numpy() / np.linalg.norm(k.numpy(), axis=1, keepdims=True)
    by_hand = []
    for i in range(3):
        pos = math.exp(qn[i] @ kn[i] / 0.1)
        neg = sum(math.exp(qn[i] @ queue[j].numpy() / 0.1) for j in range(5))
        by_hand.append(-math.log(pos / (pos + neg)))
    assert abs(loss.item() - np.mean(by_hand)) < 1e-5
    assert logits.shape == (3, 6)
    # a perfectly aligned positive with orthogonal negatives gives a small loss
    e = torch.eye(4)
    small, _ = info_nce(e[:2], e[:2], e[2:], temperature=0.1)
    assert small.item() < 1e-3


def test_decorrelation_loss_equals_the_correlations_by_hand():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=g) @ torch.randn(6, 6, generator=g)  # correlated
    corr = np.corrcoef(x.numpy().T)
    by_hand = (np.sum(corr ** 2) - 6) / 6
    assert abs(decorrelation_loss(x).item() - by_hand) < 1e-4
    # independent of each dimension's scale and offset
    scaled = x * torch.tensor([1e-3, 1, 10, 1e3, 2, 5]) + 7
    assert abs(decorrelation_loss(scaled).item() - by_hand) < 1e-4
    # one direction only: D - 1; a constant dimension counts as uncorrelated
    line = torch.randn(40, 1, generator=g) * torch.arange(1.0, 7.0)
    assert abs(decorrelation_loss(line).item() - 5) < 1e-4
    line[:, 0] = 3.0
    assert abs(decorrelation_loss(line).item() - 20 / 6) < 1e-3
    # its gradient decorrelates: one step down lowers it
    x.requires_grad_(True)
    loss = decorrelation_loss(x)
    loss.backward()
    assert decorrelation_loss(x.detach() - 0.5 * x.grad).item() < loss.item()
    with pytest.raises(ValueError, match=r"shape \(B >= 2, D\)"):
        decorrelation_loss(torch.zeros(1, 4))


def test_momentum_update_math():
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in target.parameters()]
    momentum_update(online, target, 0.99)
    for b, p, o in zip(before, target.parameters(), online.parameters()):
        torch.testing.assert_close(p, 0.99 * b + 0.01 * o)
    momentum_update(online, target, 0.0)  # m = 0 copies
    for p, o in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(p, o)
    with pytest.raises(ValueError, match="momentum"):
        momentum_update(online, target, 1.5)


def test_queue_enqueue_wraps_around():
    q = MoCoQueue(dim=2, size=5)
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    q.enqueue(keys)
    assert int(q.ptr) == 3
    torch.testing.assert_close(q.queue[:3], F.normalize(keys, dim=1))
    q.enqueue(torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]]))
    assert int(q.ptr) == 1
    torch.testing.assert_close(q.queue[3], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(q.queue[0], torch.tensor([-1.0, 0.0]))
    torch.testing.assert_close(q.queue[1], F.normalize(keys, dim=1)[1])  # not yet replaced
    assert set(q.state_dict()) == {"queue", "ptr"}
    with pytest.raises(ValueError, match="cannot enqueue 6"):
        q.enqueue(torch.ones(6, 2))


def test_default_queue_size_rule():
    assert default_queue_size(1_300_000, 256) == 65024  # ~5 %, multiple of 256
    assert default_queue_size(1000, 256) == 256
    with pytest.raises(ValueError, match="as large as the training set"):
        default_queue_size(200, 256)


@pytest.mark.parametrize("arch", sorted(list_backbones()))
def test_backbones(arch):
    net = create_backbone(arch, in_chans=5)
    x = torch.zeros(2, 5, 32, 32)
    assert net(x).shape == (2, net.num_features)
    with pytest.raises(ValueError, match="expects"):
        net(torch.zeros(2, 4, 32, 32))
    expected = {"resnet50-paper": 2048, "resnet50": 2048, "resnet18": 512,
                "resnet18-paper": 512, "resnet10-small": 256}[arch]
    assert net.num_features == expected


def test_paper_stem_and_errors():
    net = create_backbone("resnet50-paper")
    conv = net.body.conv1
    assert conv.in_channels == 5 and conv.stride == (1, 1)
    assert isinstance(net.body.maxpool, torch.nn.Identity)
    assert count_parameters(create_backbone("resnet10-small")) < 2_000_000
    with pytest.raises(ValueError, match="unknown arch"):
        create_backbone("vit")
    with pytest.raises(ValueError, match="in_chans"):
        create_backbone("resnet18", in_chans=0)
    assert ProjectionHead(8, out_dim=3)(torch.zeros(1, 8)).shape == (1, 3)


def test_asinh_stretch_is_the_sdss_asinh_of_each_band():
    from galssl.nn import ASINH_SOFTENING, AsinhStretch

    b = [ASINH_SOFTENING[c] for c in "ugriz"]
    x = torch.tensor([0.0, 0.05, 1.0, 30.0, -0.02]).view(1, 1, 1, 5).repeat(2, 5, 1, 1)
    y = AsinhStretch(b)(x)
    for j, bj in enumerate(b):
        np.testing.assert_allclose(y[0, j, 0].numpy(), np.arcsinh(x[0, j, 0].numpy() / bj),
                                   rtol=1e-6)
    # linear below the softening, logarithmic far above: 10x the flux adds ln(10)
    big = AsinhStretch([0.1])(torch.tensor([[[[1e3, 1e4]]]]))
    assert abs(float(big[0, 0, 0, 1] - big[0, 0, 0, 0]) - np.log(10)) < 1e-4
    # the fast in-place form agrees with numpy's arcsinh in float64 over 20 decades,
    # keeps tiny values to relative precision, the sign, the memory format, and matches
    # the autograd path (used when the input needs gradients)
    stretch = AsinhStretch([0.1] * 5)
    v = torch.logspace(-12, 8, 4000).view(1, 5, 40, 20)
    v = torch.cat([v, -v]).contiguous(memory_format=torch.channels_last)
    out = stretch(v)
    exact = np.arcsinh(v.double().numpy() / 0.1)
    np.testing.assert_allclose(out.numpy(), exact, rtol=1e-6, atol=0)
    assert out.is_contiguous(memory_format=torch.channels_last)
    grad_path = stretch(v.clone().requires_grad_(True))
    torch.testing.assert_close(grad_path.detach(), out, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="softening must be positive"):
        AsinhStretch([0.1, 0.0])


def test_backbone_with_input_stretch():
    plain = create_backbone("resnet10-small", 5)
    stretched = create_backbone("resnet10-small", 5, input_stretch="asinh", bands="ugriz")
    # the stretch has no weights: checkpoints of both load into either
    assert plain.state_dict().keys() == stretched.state_dict().keys()
    stretched.load_state_dict(plain.state_dict())
    plain.eval(), stretched.eval()
    x = torch.rand(2, 5, 32, 32) * 50
    with torch.no_grad():
        manual = plain(torch.asinh(x / torch.tensor([0.14, 0.09, 0.12, 0.18, 0.74])
                                   .view(1, 5, 1, 1)))
        torch.testing.assert_close(stretched(x), manual)
    # at the pixel noise: asinh(x / sigma_pixel) of each band, in the bands' order
    noise = create_backbone("resnet10-small", 3, input_stretch="asinh-noise", bands="zgu")
    np.testing.assert_allclose(noise.stretch.softening.flatten().numpy(), [0.11, 0.010, 0.027])
    with pytest.raises(ValueError, match="input_stretch='asinh-noise' needs the band"):
        create_backbone("resnet10-small", 3, input_stretch="asinh-noise", bands="zgy")
    with pytest.raises(ValueError, match="input_stretch must be one of"):
        create_backbone("resnet10-small", 5, input_stretch="log")
    with pytest.raises(ValueError, match="needs the band of each of the 5 channels"):
        create_backbone("resnet10-small", 5, input_stretch="asinh", bands="gri")
