# Licensed under a 3-clause BSD style license - see LICENSE.rst
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from galssl.augment import (CenterCrop, Compose, ExtinctionAugment, GaussianNoise, JitterCrop,
                            PSFAugment, RandomRotate, crop, default_pretraining_views,
                            estimate_noise_mad, eval_transform, finetune_transform, rotate)
from galssl.dust import extinction_coefficients

R = torch.tensor(extinction_coefficients("ugriz"), dtype=torch.float64)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _galaxies(n=6, size=107, seed=0):
    """Positive test images: a centred elliptical Gaussian per object, colours varying."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64) - (size - 1) / 2,
                            torch.arange(size, dtype=torch.float64) - (size - 1) / 2,
                            indexing="ij")
    colours = 1.0 + torch.rand(n, 5, generator=g, dtype=torch.float64)
    prof = torch.exp(-0.5 * ((xx / 6.0) ** 2 + (yy / 3.5) ** 2))
    return (colours[:, :, None, None] * prof).float() + 0.01


@pytest.mark.parametrize("device", DEVICES)
def test_zero_reddening_is_the_identity(device):
    x = _galaxies().to(device)
    out = ExtinctionAugment(0.0)(x, ebv=torch.zeros(len(x)))
    assert torch.equal(out, x)
    assert torch.equal(ExtinctionAugment(0.0, deredden=False)(x), x)


@pytest.mark.parametrize("device", DEVICES)
def test_deredden_then_redden_returns_the_input(device):
    x = _galaxies().to(device)
    ebv = torch.tensor([0.0, 0.01, 0.05, 0.1, 0.3, 1.2])
    dered = ExtinctionAugment(0.0)(x, ebv=ebv)
    # dereddening brightens every reddened object by exactly 10^(0.4 R_u E(B-V)) in u, and
    # leaves the unreddened one as it is
    gain = dered[:, 0].sum(dim=(1, 2)) / x[:, 0].sum(dim=(1, 2))
    torch.testing.assert_close(gain.cpu(), 10 ** (0.4 * 4.239 * ebv), rtol=1e-5, atol=0)
    assert torch.equal(dered[0], x[0]) and (gain[1:] > 1).all()
    back = ExtinctionAugment(0.0)(dered, ebv=-ebv)  # removing -E(B-V) reddens by E(B-V)
    torch.testing.assert_close(back, x, rtol=1e-6, atol=0)


def test_band_ratios_change_by_the_extinction_law():
    x = _galaxies().double()
    ebv = torch.tensor([0.02, 0.05, 0.1, 0.0, 0.2, 0.07], dtype=torch.float64)
    aug = ExtinctionAugment(0.5, seed=3)
    out = aug(x, ebv=ebv)
    ratio = (out / x)[:, :, 0, 0]  # per object, per band multiplicative change
    # infer dE = E_new - E_obj from the r band, then every band pair must obey the law
    d_e = -2.5 * torch.log10(ratio[:, 2]) / R[2]
    assert ((d_e >= -ebv - 1e-9) & (d_e <= 0.5 - ebv + 1e-9)).all()
    for b in range(5):
        for c in range(5):
            expected = 10 ** (-0.4 * d_e * (R[b] - R[c]))
            torch.testing.assert_close(ratio[:, b] / ratio[:, c], expected, rtol=1e-6, atol=0)
    # the pixels of one image all change by the same factor per band
    torch.testing.assert_close(out / x, ratio[:, :, None, None].expand_as(out))


def test_reddening_draws_cover_the_range_uniformly():
    x = torch.ones(4000, 5, 1, 1)
    out = ExtinctionAugment(0.5, deredden=False, seed=0)(x)
    e = -2.5 * torch.log10(out[:, 2, 0, 0].double()) / R[2]
    assert 0 <= e.min() < 0.01 and 0.49 < e.max() <= 0.5
    assert abs(e.mean().item() - 0.25) < 0.01


def test_extinction_errors_and_options():
    with pytest.raises(ValueError, match="needs each object's ebv"):
        ExtinctionAugment()(torch.ones(2, 5, 4, 4))
    with pytest.raises(ValueError, match="one value per object"):
        ExtinctionAugment()(torch.ones(2, 5, 4, 4), ebv=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="non-finite"):
        ExtinctionAugment()(torch.ones(2, 5, 4, 4), ebv=[0.1, float("nan")])
    with pytest.raises(ValueError, match="expects 5 channels, got 4"):
        ExtinctionAugment()(torch.ones(2, 4, 4, 4), ebv=[0.1, 0.1])
    with pytest.raises(ValueError, match="ebv_max"):
        ExtinctionAugment(-1)
    with pytest.raises(TypeError, match="torch tensors"):
        ExtinctionAugment()(np.ones((2, 5, 4, 4)), ebv=[0.1, 0.1])
    gri = ExtinctionAugment(0.0, bands="gri", coefficients="SFD98")
    out = gri(torch.ones(3, 4, 4), ebv=0.1)  # a single (C, H, W) image
    assert out.shape == (3, 4, 4)
    assert_allclose(out[:, 0, 0].numpy(), 10 ** (0.04 * np.array([3.793, 2.751, 2.086])),
                    rtol=1e-6)
    assert "ebv_max=0.0" in repr(gri) and "bands='gri'" in repr(gri)


@pytest.mark.parametrize("device", DEVICES)
def test_rotation_and_crop_identities(device):
    x = _galaxies().to(device)
    # identity up to float32 rounding of the sampling grid
    torch.testing.assert_close(rotate(x, torch.zeros(len(x))), x, rtol=0, atol=1e-5)
    torch.testing.assert_close(crop(x, 107, torch.zeros(len(x), 2, dtype=torch.long)), x)
    torch.testing.assert_close(JitterCrop(out=107, jitter=0)(x), x)


@pytest.mark.parametrize("device", DEVICES)
def test_rotation_by_90_degrees_is_rot90(device):
    x = torch.rand(3, 5, 33, 33, device=device)
    for k in (1, 2, 3):
        out = rotate(x, torch.full((3,), k * math.pi / 2))
        torch.testing.assert_close(out, torch.rot90(x, k, dims=(-2, -1)), rtol=0, atol=1e-5)


def test_rotation_keeps_the_flux_of_a_centred_source():
    x = _galaxies(n=16) - 0.01
    out = RandomRotate(seed=1)(x)
    assert_allclose(out.sum(dim=(-1, -2)).numpy(), x.sum(dim=(-1, -2)).numpy(), rtol=0.01)
    # and it really rotates: the elongated source changes orientation for most objects
    assert (out - x).abs().amax(dim=(1, 2, 3)).gt(0.1).sum() >= 12


def test_jitter_crop_shifts_are_integers_in_range():
    size = 107
    x = torch.zeros(500, 5, size, size)
    x[:, :, 53, 53] = 1.0  # a point at the centre
    out = JitterCrop(out=64, jitter=7, seed=0)(x)
    assert out.shape == (500, 5, 64, 64)
    pos = out[:, 2].flatten(1).argmax(dim=1)
    row, col = pos // 64, pos % 64
    # the centre pixel 53 lands at 32 - shift
    dy, dx = 32 - row, 32 - col
    assert dy.min() == -7 and dy.max() == 7 and dx.min() == -7 and dx.max() == 7
    assert torch.equal(out.sum(dim=(-1, -2)), torch.ones(500, 5))  # nothing interpolated
    shifts = torch.tensor([[2, -3]])
    torch.testing.assert_close(crop(x[:1], 64, shifts), x[:1, :, 23:87, 18:82])


def test_crop_errors():
    with pytest.raises(ValueError, match="too small"):
        JitterCrop(out=64, jitter=7)(torch.zeros(1, 5, 70, 70))
    with pytest.raises(ValueError, match="positive"):
        JitterCrop(out=0)
    with pytest.raises(ValueError, match="leaves the"):
        crop(torch.zeros(1, 5, 70, 70), 64, torch.tensor([[5, 0]]))


def test_noise_has_the_requested_standard_deviation():
    mad = torch.tensor([0.05, 0.01, 0.02, 0.03, 0.1])
    fixed = GaussianNoise(mad, scale=(2.0, 2.0), seed=0)(torch.zeros(64, 5, 64, 64))
    std = fixed.std(dim=(0, 2, 3))
    assert_allclose(std.numpy(), 2 * mad.numpy(), rtol=0.01)  # 262k samples per band
    # with s ~ U(1, 3) the variance is mad^2 E[s^2] = mad^2 * 13/3
    noisy = GaussianNoise(mad, seed=1)(torch.zeros(2000, 5, 16, 16))
    assert_allclose(noisy.std(dim=(0, 2, 3)).numpy(), mad.numpy() * math.sqrt(13 / 3),
                    rtol=0.03)
    per_object = noisy[:, 2].std(dim=(-1, -2)) / mad[2]
    # s ~ U(1, 3), measured from 256 pixels each (5 % sampling error)
    assert 0.85 < per_object.min() < 1.1 and 2.8 < per_object.max() < 3.4
    with pytest.raises(ValueError, match="noise_mad must be 5"):
        GaussianNoise([0.1, 0.2])


def test_psf_blur_follows_wavelength_and_keeps_flux():
    x = torch.zeros(3, 5, 41, 41)
    x[..., 20, 20] = 1.0
    psf = PSFAugment()
    out = psf.blur(x, torch.tensor([0.0, 0.8, 1.6]))
    torch.testing.assert_close(out[0], x[0])  # no extra seeing: identity
    torch.testing.assert_close(out.sum(dim=(-1, -2)), torch.ones(3, 5), rtol=1e-4, atol=0)
    yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
    var = (out * (xx**2)).sum(dim=(-1, -2))  # sigma_b^2 in pixels^2
    lam = np.array([3586.8, 4716.7, 6165.1, 7475.9, 8922.9])
    expected = (np.array([0.8, 1.6])[:, None] * (lam / lam[2]) ** -0.3 / 0.396) ** 2
    assert_allclose(var[1:].numpy(), expected, rtol=0.01)
    assert "sigma=0.13" in repr(psf)


def test_same_seed_same_views_and_devices_agree():
    x = _galaxies(n=8)
    ebv = torch.full((8,), 0.04)
    mad = [0.02] * 5
    a1, a2 = default_pretraining_views(mad, seed=11)(x, ebv=ebv)
    b1, b2 = default_pretraining_views(mad, seed=11)(x, ebv=ebv)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2)
    c1, _ = default_pretraining_views(mad, seed=12)(x, ebv=ebv)
    assert not torch.equal(a1, c1)
    g = torch.Generator().manual_seed(5)
    d1, _ = default_pretraining_views(mad)(x, ebv=ebv, generator=g)
    e1, _ = default_pretraining_views(mad)(x, ebv=ebv,
                                           generator=torch.Generator().manual_seed(5))
    assert torch.equal(d1, e1)


@pytest.mark.parametrize("psf", [False, True])
def test_fused_pipeline_equals_the_steps_one_by_one(psf):
    x = _galaxies(n=8)
    ebv = torch.linspace(0.0, 0.2, 8)
    steps = [ExtinctionAugment(0.5)] + ([PSFAugment(0.5)] if psf else []) + \
        [RandomRotate(), JitterCrop(64, 7), GaussianNoise([0.02, 0.01, 0.01, 0.02, 0.05])]
    fused = Compose(steps)(x, ebv=ebv, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    y = x
    for t in steps:
        y = t(y, ebv=ebv, generator=g)
    torch.testing.assert_close(fused, y, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_views_match_cpu_views():
    x = _galaxies(n=8)
    ebv = torch.full((8,), 0.04)
    # without noise the same seed gives the same views on both devices
    cpu = default_pretraining_views([0.0] * 5, seed=3)(x, ebv=ebv)
    gpu = default_pretraining_views([0.0] * 5, seed=3)(x.cuda(), ebv=ebv.cuda())
    assert gpu[0].is_cuda
    for c, g in zip(cpu, gpu):
        torch.testing.assert_close(g.cpu(), c, rtol=1e-4, atol=1e-5)
    # with noise: drawn on the GPU, reproducible from the seed, of the requested level
    mad = [0.02, 0.01, 0.01, 0.02, 0.05]
    a = default_pretraining_views(mad, seed=4)(x.cuda(), ebv=ebv.cuda())
    b = default_pretraining_views(mad, seed=4)(x.cuda(), ebv=ebv.cuda())
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    clean = default_pretraining_views([0.0] * 5, seed=4)(x.cuda(), ebv=ebv.cuda())
    resid = (a[0] - clean[0]).std(dim=(0, 2, 3)).cpu().numpy()
    assert np.all(resid > np.array(mad) * 0.9) and np.all(resid < np.array(mad) * 3.1)
    for t in (ExtinctionAugment(0.5, seed=0), PSFAugment(seed=0), RandomRotate(seed=0),
              JitterCrop(seed=0), GaussianNoise(mad, seed=0)):
        out = t(x.cuda(), ebv=ebv.cuda())
        assert out.is_cuda and torch.isfinite(out).all()


def test_pipelines_shapes_and_repr():
    x = _galaxies(n=4)
    ebv = torch.full((4,), 0.1)
    views = default_pretraining_views([0.02] * 5, seed=0, psf=True)
    assert len(views.transform.transforms) == 5
    v1, v2 = views(x, ebv=ebv)
    assert v1.shape == v2.shape == (4, 5, 64, 64)
    names = [type(t).__name__ for t in default_pretraining_views([0.1] * 5).transform.transforms]
    assert names == ["ExtinctionAugment", "RandomRotate", "JitterCrop", "GaussianNoise"]
    ft = finetune_transform(seed=0)(x, ebv=ebv)
    assert ft.shape == (4, 5, 64, 64)
    ev = eval_transform()
    out = ev(x, ebv=ebv)
    expected = crop(ExtinctionAugment(0.0)(x, ebv=ebv), 64)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(ev(x, ebv=ebv), out)  # deterministic
    assert "CenterCrop(out=64" in repr(ev)
    single = Compose([ExtinctionAugment(0.0), CenterCrop(32)])(x[0], ebv=0.1)
    assert single.shape == (5, 32, 32)


def test_estimate_noise_mad_streams_a_catalogue(tmp_path):
    from astropy.table import QTable

    from galssl.cutouts import CutoutCatalog

    rng = np.random.default_rng(1)
    sigma = np.array([0.03, 0.01, 0.015, 0.02, 0.06], dtype=np.float32)
    noise = rng.normal(0, 1, size=(40, 5, 48, 48)).astype(np.float32)
    images = noise * sigma[None, :, None, None]
    images[:, :, 20:28, 20:28] += 5.0  # bright galaxies cover a few pixels
    images[3] = np.nan  # an image with no data is ignored
    table = QTable({"ra": np.zeros(40), "dec": np.zeros(40), "flags": np.zeros(40, int)})
    CutoutCatalog(table, images).write(tmp_path / "c.h5", progress=False)
    cat = CutoutCatalog.read(tmp_path / "c.h5")
    est = estimate_noise_mad(cat, batch_size=7, progress=False)
    assert_allclose(est, sigma, rtol=0.06)
    assert_allclose(estimate_noise_mad(torch.from_numpy(images), progress=False), est)
    with pytest.raises(ValueError, match="at least one image"):
        estimate_noise_mad(images[:0], progress=False)
    with pytest.raises(ValueError, match="N, C, H, W"):
        estimate_noise_mad(images[0], progress=False)


def test_extreme_reddening_and_empty_batches():
    from galssl.augment import default_pretraining_views

    with pytest.raises(ValueError, match=r"ebv_max must be a number in \[0, 10\]"):
        ExtinctionAugment(ebv_max=1e3)
    x = _galaxies()
    ebv = torch.zeros(len(x))
    ebv[2] = 1e3  # would turn finite images into inf
    with pytest.raises(ValueError, match=r"ebv of 1 objects is beyond 10 \(rows \[2\]\)"):
        ExtinctionAugment(0.5)(x, ebv=ebv)
    views = default_pretraining_views([0.01] * 5, psf=True)
    a, b = views(torch.zeros(0, 5, 107, 107), ebv=torch.zeros(0),
                 generator=torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (0, 5, 64, 64)
