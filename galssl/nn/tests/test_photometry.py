# Licensed under a 3-clause BSD style license - see LICENSE.rst
import math

import numpy as np
import pytest
import torch

from galssl.dust import extinction_coefficients
from galssl.nn import APERTURE_RADII_ARCSEC, ASINH_SOFTENING, PhotometryHead

BANDS = "ugriz"


def _point_sources(fluxes, size=64):
    """Views with all of each band's flux in the central 2 x 2 pixels (inside every
    aperture)."""
    x = torch.zeros(len(fluxes), len(BANDS), size, size)
    c = size // 2
    x[:, :, c - 1:c + 1, c - 1:c + 1] = torch.as_tensor(fluxes, dtype=torch.float32)[
        :, :, None, None] / 4
    return x


def test_targets_are_the_asinh_magnitude_and_colours_by_hand():
    head = PhotometryHead(8, BANDS, 64)
    f = np.array([[0.5, 2.0, 4.0, 6.0, 7.0], [-0.1, 0.3, 1.0, 1.2, 0.2]])  # nanomaggies
    t = head.targets(_point_sources(f)).numpy()
    b = np.array([ASINH_SOFTENING[x] for x in BANDS])
    mag = -np.arcsinh(f / (2 * b))  # every aperture holds the whole flux
    assert head.names[:3] == ['r (1.5")', 'r (3")', 'r (6")']
    np.testing.assert_allclose(t[:, :3], np.repeat(mag[:, 2:3], 3, axis=1), rtol=1e-5)
    for k in range(4):  # u-g, g-r, r-i, i-z, three apertures each
        np.testing.assert_allclose(t[:, 3 + 3 * k:6 + 3 * k],
                                   np.repeat((mag[:, k] - mag[:, k + 1])[:, None], 3, axis=1),
                                   rtol=1e-5, atol=1e-6)


def test_apertures_hold_their_area_in_pixels():
    head = PhotometryHead(8, BANDS, 64)
    area = head.masks.sum(dim=0).numpy()
    expected = [math.pi * (r / 0.396) ** 2 for r in APERTURE_RADII_ARCSEC]
    np.testing.assert_allclose(area, expected, rtol=5e-3)


def test_reddening_shifts_the_colour_targets_by_the_extinction_law():
    # for bright sources (flux >> softening) asinh magnitudes are Pogson magnitudes / 1.0857:
    # reddening by dE shifts colour b - b' by dE (R_b - R_b') mag
    head = PhotometryHead(8, BANDS, 64)
    f = np.array([[300.0, 500.0, 800.0, 1000.0, 1200.0]])
    dE = 0.08
    R = extinction_coefficients(BANDS)
    reddened = f * 10 ** (-0.4 * dE * R)
    shift = (head.targets(_point_sources(reddened)) - head.targets(_point_sources(f))).numpy()
    pogson = 2.5 / math.log(10)
    np.testing.assert_allclose(shift[0, 0] * pogson, dE * R[2], rtol=1e-3)  # r fainter
    for k in range(4):
        np.testing.assert_allclose(shift[0, 3 + 3 * k] * pogson, dE * (R[k] - R[k + 1]),
                                   rtol=2e-3)


def test_loss_is_zero_for_a_perfect_read_off_and_one_for_none():
    g = torch.Generator().manual_seed(0)
    head = PhotometryHead(15, BANDS, 64)
    views = torch.rand(256, 5, 64, 64, generator=g) * torch.rand(256, 5, 1, 1, generator=g)
    t = head.targets(views)
    z = (t - t.mean(0)) / t.std(0)
    with torch.no_grad():
        head.linear.weight.copy_(torch.eye(15))
        head.linear.bias.zero_()
    assert head.loss(z, views).item() < 1e-10
    with torch.no_grad():
        head.linear.weight.zero_()
    assert abs(head.loss(torch.randn(256, 15, generator=g), views).item() - 255 / 256) < 1e-4


def test_its_gradient_moves_the_representations_towards_the_photometry():
    g = torch.Generator().manual_seed(1)
    head = PhotometryHead(32, BANDS, 64)
    views = torch.rand(64, 5, 64, 64, generator=g) * torch.rand(64, 5, 1, 1, generator=g)
    h = torch.randn(64, 32, generator=g, requires_grad=True)
    loss = head.loss(h, views)
    loss.backward()
    assert head.loss(h.detach() - 0.5 * h.grad, views).item() < loss.item()


def test_bad_bands_and_small_views_are_refused():
    with pytest.raises(ValueError, match=r"unknown band\(s\) \['y'\] in bands='gy'"):
        PhotometryHead(8, "gy", 64)
    with pytest.raises(ValueError, match="views of 6 pixels are smaller than the 3 arcsec"):
        PhotometryHead(8, BANDS, 6)
    # small views keep the apertures that fit: 1.5" and 3" (15.2 px across) in 24 pixels
    assert PhotometryHead(8, BANDS, 24).names[:3] == ['r (1.5")', 'r (3")', 'u-g (1.5")']


def test_gathered_statistics_make_the_mean_of_two_halves_the_whole_batch_loss():
    g = torch.Generator().manual_seed(2)
    head = PhotometryHead(16, BANDS, 64)
    views = torch.rand(32, 5, 64, 64, generator=g) * torch.rand(32, 5, 1, 1, generator=g)
    h = torch.randn(32, 16, generator=g)
    whole = head.loss(h, views)
    every = head.targets(views)
    halves = [head.loss(h[k:k + 16], views[k:k + 16], gather=lambda t: every)
              for k in (0, 16)]
    assert abs((halves[0] + halves[1]).item() / 2 - whole.item()) < 1e-5
    # without the global statistics each half standardizes on its own
    alone = [head.loss(h[k:k + 16], views[k:k + 16]) for k in (0, 16)]
    assert abs((alone[0] + alone[1]).item() / 2 - whole.item()) > 1e-3
