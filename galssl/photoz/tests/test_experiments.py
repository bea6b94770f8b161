# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.table import QTable, Table

from galssl import ContrastiveEncoder
from galssl.cutouts import CutoutCatalog
from galssl.dust import extinction_coefficients
from galssl.photoz import ColourBaseline, aperture_colours, label_efficiency, labels_saved
from galssl.photoz.metrics import sigma_mad

from .test_estimator import toy_photoz


def test_aperture_colours_flux_and_dereddening():
    size = 41
    img = np.zeros((2, 5, size, size), np.float32)
    img[:, :, 20, 20] = np.array([1.0, 2.0, 4.0, 8.0, 16.0])[None, :]  # point sources
    img[1, :, 0, 0] = 1000.0  # light far outside the 3" aperture is not counted
    t = QTable({"ra": [0, 0], "dec": [0, 0], "flags": [0, 0], "ebv": [0.0, 0.1]})
    out = aperture_colours(CutoutCatalog(t, img), progress=False)
    np.testing.assert_allclose(out["mag_r"][0], 22.5 - 2.5 * np.log10(4.0), atol=1e-6)
    np.testing.assert_allclose(out["g-r"][0], 2.5 * np.log10(2.0), atol=1e-6)
    # dereddening brightens band b by R_b E(B-V) magnitudes, colours by (R_b1 - R_b2) E
    r = extinction_coefficients("ugriz")
    np.testing.assert_allclose(out["mag_r"][0] - out["mag_r"][1], r[2] * 0.1, atol=1e-6)
    np.testing.assert_allclose(out["g-r"][0] - out["g-r"][1], (r[1] - r[2]) * 0.1, atol=1e-6)


def test_colour_baseline_recovers_colour_redshift_relation():
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 0.4, 2000)
    t = Table({"u-g": 3 * z, "g-r": 2 * z, "r-i": z + rng.normal(0, 0.01, 2000),
               "i-z": 0.5 * z, "mag_r": rng.uniform(15, 18, 2000)})
    zp = ColourBaseline().fit(t[:1500], z[:1500]).predict(t[1500:])
    assert np.median(np.abs(zp - z[1500:])) < 0.01
    t["g-r"][1600] = np.nan
    assert np.isnan(ColourBaseline().fit(t[:1500], z[:1500]).predict(t[1600:1601])[0])


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
                         min_steps=3, estimator_kwargs=dict(n_bins=40, jitter=2),
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
    with pytest.raises(ValueError, match="needs a pretrained encoder"):
        label_efficiency(None, train, test, methods=("finetuned",))
    with pytest.raises(ValueError, match="unknown methods"):
        label_efficiency(enc, train, test, methods=("magic",))
