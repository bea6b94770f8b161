# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.table import QTable, Table

from galssl import ContrastiveEncoder
from galssl.cutouts import CutoutCatalog
from galssl.dust import extinction_coefficients
from galssl.photoz.metrics import sigma_mad
from galssl.photoz.tests.test_estimator import toy_photoz
from galssl.research import (ColorBaseline, aperture_colors, aperture_features,
                             label_efficiency, labels_saved, magnitude_table, seed_summary)


def test_aperture_colors_flux_and_dereddening():
    size = 41
    img = np.zeros((2, 5, size, size), np.float32)
    img[:, :, 20, 20] = np.array([1.0, 2.0, 4.0, 8.0, 16.0])[None, :]  # point sources
    img[1, :, 0, 0] = 1000.0  # light far outside the 3" aperture is not counted
    t = QTable({"ra": [0, 0], "dec": [0, 0], "flags": [0, 0], "ebv": [0.0, 0.1]})
    out = aperture_colors(CutoutCatalog(t, img), progress=False)
    np.testing.assert_allclose(out["mag_r"][0], 22.5 - 2.5 * np.log10(4.0), atol=1e-6)
    np.testing.assert_allclose(out["g-r"][0], 2.5 * np.log10(2.0), atol=1e-6)
    # dereddening brightens band b by R_b E(B-V) magnitudes, colours by (R_b1 - R_b2) E
    r = extinction_coefficients("ugriz")
    np.testing.assert_allclose(out["mag_r"][0] - out["mag_r"][1], r[2] * 0.1, atol=1e-6)
    np.testing.assert_allclose(out["g-r"][0] - out["g-r"][1], (r[1] - r[2]) * 0.1, atol=1e-6)


def test_aperture_features_colours_per_aperture_and_the_r_band_profile():
    size = 41
    fluxes = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    img = np.zeros((1, 5, size, size), np.float32)
    img[0, :, 20, 20] = fluxes  # a point source
    img[0, 2, 20, 26] = 4.0  # r-band light 6 px = 2.4" out: inside 3" and 6", outside 1.5"
    t = QTable({"ra": [0], "dec": [0], "flags": [0], "ebv": [0.0]})
    out = aperture_features(CutoutCatalog(t, img), progress=False)
    assert len(out.colnames) == 15 and len(out) == 1
    # ColorBaseline reads every column with a '-' and mag_r: all 15
    assert ColorBaseline._features(out).shape == (1, 15)
    np.testing.assert_allclose(out["g-r 1.5"][0], 2.5 * np.log10(4.0 / 2.0), atol=1e-6)
    np.testing.assert_allclose(out["g-r 3"][0], 2.5 * np.log10(8.0 / 2.0), atol=1e-6)
    np.testing.assert_allclose(out["r-i 6"][0], -2.5 * np.log10(8.0 / 8.0), atol=1e-6)
    np.testing.assert_allclose(out["u-g 1.5"][0], out["u-g 6"][0], atol=1e-6)  # no extra u, g
    np.testing.assert_allclose(out["mag_r"][0], 22.5 - 2.5 * np.log10(8.0), atol=1e-6)
    # the profile: the 1.5" aperture misses the outer light, the 6" one adds nothing
    np.testing.assert_allclose(out["r 1.5-r 3"][0], 2.5 * np.log10(2.0), atol=1e-6)
    np.testing.assert_allclose(out["r 6-r 3"][0], 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="radii must be positive"):
        aperture_features(CutoutCatalog(t, img), radii=(0.0, 3.0), progress=False)


def test_colour_baseline_recovers_colour_redshift_relation():
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 0.4, 2000)
    t = Table({"u-g": 3 * z, "g-r": 2 * z, "r-i": z + rng.normal(0, 0.01, 2000),
               "i-z": 0.5 * z, "mag_r": rng.uniform(15, 18, 2000)})
    zp = ColorBaseline().fit(t[:1500], z[:1500]).predict(t[1500:])
    assert np.median(np.abs(zp - z[1500:])) < 0.01
    t["g-r"][1600] = np.nan
    assert np.isnan(ColorBaseline().fit(t[:1500], z[:1500]).predict(t[1600:1601])[0])


def test_magnitude_table_dereddens_by_the_extinction_law():
    flux = np.array([[1.0, 2.0, 4.0, 8.0, 16.0]] * 2)
    t = magnitude_table(flux, [0.0, 0.2])
    r = extinction_coefficients("ugriz")
    np.testing.assert_allclose(t["mag_i"][0], 22.5 - 2.5 * np.log10(8.0))
    # E(B-V) = 0.2 brightens band b by R_b x 0.2 mag and colour b1-b2 by (R_b1 - R_b2) x 0.2
    np.testing.assert_allclose(t["mag_u"][0] - t["mag_u"][1], 0.2 * r[0])
    np.testing.assert_allclose(t["u-g"][0] - t["u-g"][1], 0.2 * (r[0] - r[1]))
    with pytest.raises(ValueError, match=r"flux must have shape \(N, 5\)"):
        magnitude_table(flux[:, :3])
    with pytest.raises(ValueError, match="ebv must have one value per row"):
        magnitude_table(flux, [0.1])


def test_boosting_colour_baseline_learns_a_nonlinear_relation():
    rng = np.random.default_rng(2)
    z = rng.uniform(0, 0.4, 3000)
    # a colour that folds over: kNN and trees handle it, a linear fit could not
    t = Table({"u-g": np.sin(12 * z) + rng.normal(0, 0.01, 3000), "g-r": 2 * z,
               "mag_r": rng.uniform(15, 18, 3000)})
    zp = ColorBaseline(regressor="boosting").fit(t[:2500], z[:2500]).predict(t[2500:])
    assert np.median(np.abs(zp - z[2500:])) < 0.01
    # "best" picks by cross-validation: boosting with 2,500 objects; kNN with 30, where
    # 20-object leaves leave boosting with little more than a constant
    assert ColorBaseline(regressor="best").fit(t[:2500], z[:2500]).chosen == "boosting"
    assert ColorBaseline(regressor="best").fit(t[:30], z[:30]).chosen == "knn"
    with pytest.raises(ValueError, match="regressor must be"):
        ColorBaseline(regressor="forest")
    with pytest.raises(ValueError, match="at least 2 rows"):
        ColorBaseline().fit(t[:1], z[:1])


def test_seed_summary_and_read_off_average_over_seeds():
    t = Table(rows=[(100, "supervised", 0, 0.035), (100, "supervised", 1, 0.045),
                    (1000, "supervised", 0, 0.02), (1000, "supervised", 1, 0.02),
                    (100, "finetuned", 0, 0.01), (100, "finetuned", 1, 0.03)],
              names=("n_labels", "method", "seed", "sigma_mad"))
    s = seed_summary(t, metrics=("sigma_mad",))
    assert list(s["method"]) == ["supervised", "supervised", "finetuned"]
    np.testing.assert_allclose(s["sigma_mad"], [0.04, 0.02, 0.02])
    np.testing.assert_allclose(s["sigma_mad_std"], [0.005, 0.0, 0.01])
    assert list(s["n_seeds"]) == [2, 2, 2]
    # the mean fine-tuned 0.02 at 100 labels equals the supervised mean at 1000: 10x
    np.testing.assert_allclose(labels_saved(t)["factor"], [10.0])


def test_labels_saved_read_off():
    t = Table(rows=[(100, "supervised", 0.04), (1000, "supervised", 0.02),
                    (100, "finetuned", 0.02), (1000, "finetuned", 0.015)],
              names=("n_labels", "method", "sigma_mad"))
    out = labels_saved(t)
    # fine-tuned with 100 labels reaches what supervised needs 1000 for: 10x
    np.testing.assert_allclose(out["n_labels_reference"][0], 1000)
    np.testing.assert_allclose(out["factor"][0], 10)
    assert np.isnan(out["factor"][1])  # 0.015: beyond the supervised curve


def test_label_efficiency_table():
    train, test = toy_photoz(n=96, seed=0), toy_photoz(n=48, seed=1)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)
    enc.fit(train, epochs=1, batch_size=16, progress=False)
    t = label_efficiency(enc, train, test, fractions=(0.5, 1.0), epochs=1, batch_size=32,
                         min_steps=3, model_kwargs=dict(n_bins=40, jitter=2),
                         predictions=True, progress=False)
    assert len(t) == 6
    # 48 labels in batches of 32 = 2 steps per epoch: 2 epochs reach 3 steps; 96: 3 steps
    assert list(t["epochs"][t["method"] == "supervised"]) == [2, 1]
    assert set(t["method"]) == {"supervised", "finetuned", "colours"}
    assert list(t["n_labels"][t["method"] == "colours"]) == [48, 96]
    assert np.all(t["n_test"] == 48) and np.all(np.isfinite(t["sigma_mad"]))
    # one prediction per test row and method; the table's metrics are those of these
    assert t["z_phot"].shape == (6, 48)
    z_test = np.asarray(test.table["redshift"], dtype=float)
    for row in t:
        ok = np.asarray(test.good) & (z_test >= 0) & (z_test <= 0.4) & np.isfinite(row["z_phot"])
        assert row["sigma_mad"] == pytest.approx(sigma_mad(row["z_phot"][ok], z_test[ok]),
                                                 rel=1e-4)
    assert np.all(t["seed"] == 0)
    with pytest.raises(ValueError, match="need a pretrained encoder"):
        label_efficiency(None, train, test, methods=("finetuned",))
    with pytest.raises(ValueError, match="need a pretrained encoder"):
        label_efficiency(None, train, test, methods=("linear",))
    with pytest.raises(ValueError, match="needs photometry"):
        label_efficiency(enc, train, test, methods=("ceiling",))
    with pytest.raises(ValueError, match="unknown methods"):
        label_efficiency(enc, train, test, methods=("magic",))


def test_linear_probe_and_photometric_ceiling_methods():
    train, test = toy_photoz(n=200, seed=3), toy_photoz(n=100, seed=4)

    def photometry(cat):  # the noiseless "catalogue" fluxes of the toy: exp(-k z)
        z = np.asarray(cat.table["redshift"], dtype=float)
        return magnitude_table(np.exp(-np.array([8.0, 5, 2, 0, -1])[None] * z[:, None]))

    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)
    t = label_efficiency(enc, train, test, fractions=(1.0,),
                         methods=("linear", "ceiling", "apertures"),
                         photometry=(photometry(train), photometry(test)), seed=5,
                         predictions=True, progress=False)
    assert list(t["method"]) == ["linear", "ceiling", "apertures"] and np.all(t["seed"] == 5)
    # the images' own aperture photometry: the same regressor on noisy colours, worse
    # than on the noiseless ones, far better than a constant guess
    assert t["sigma_mad"][1] < t["sigma_mad"][2] < 0.5 * sigma_mad(
        np.full(100, np.median(np.asarray(train.table["redshift"], dtype=float))),
        np.asarray(test.table["redshift"], dtype=float))
    assert t["sigma_mad"][2] == pytest.approx(
        sigma_mad(t["z_phot"][2], np.asarray(test.table["redshift"], dtype=float)), rel=1e-4)
    t = t[:2]
    assert np.all(t["epochs"] == 0) and np.all(t["n_test"] == 100)
    z = np.asarray(test.table["redshift"], dtype=float)
    # colours are exact linear functions of z: the ceiling is near perfect
    assert t["sigma_mad"][1] < 0.01
    # the linear probe: a ridge fit on frozen representations; even random weights carry
    # the toy's colours, so it beats a constant guess (sigma_MAD ~ 0.1) by far
    z_train = np.asarray(train.table["redshift"], dtype=float)
    constant = sigma_mad(np.full_like(z, np.median(z_train)), z)
    assert t["sigma_mad"][0] < 0.5 * constant
    assert t["sigma_mad"][0] == pytest.approx(sigma_mad(t["z_phot"][0], z), rel=1e-4)
    with pytest.raises(ValueError, match="apertures of train has 3 rows"):
        label_efficiency(enc, train, test, methods=("apertures",),
                         apertures=(aperture_features(train, progress=False)[:3],
                                    aperture_features(test, progress=False)))
    with pytest.raises(ValueError, match="photometry of test has 3 rows"):
        label_efficiency(enc, train, test, methods=("ceiling",),
                         photometry=(photometry(train), photometry(test)[:3]))
