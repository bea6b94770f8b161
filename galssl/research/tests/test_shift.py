# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Shift-aware validation: every fold trains without its own rows, is scored beside the
photometric ceiling of the same training rows, and reports how many outliers the flags
catch."""

import numpy as np
import pytest
from astropy.table import QTable, Table

from galssl import ContrastiveEncoder, PhotoZEstimator
from galssl.cutouts import CutoutCatalog
from galssl.photoz import metrics
from galssl.photoz.tests.test_estimator import toy_photoz
from galssl.research import magnitude_table, shift_validation

ENC = dict(arch="resnet10-small", crop=32, jitter=2, queue_size=16)


def _fields(n=150, seed=0):
    cat = toy_photoz(n=n, size=40, seed=seed)
    t = QTable(cat.table, copy=True)
    t["field"] = np.array(["a", "b", "c"])[np.arange(n) % 3]
    t["row"] = np.arange(n)
    z = np.asarray(t["redshift"])
    k = np.array([8.0, 5.0, 2.0, 0.0, -1.0])
    flux = 100.0 * np.exp(-k[None] * z[:, None])  # the noiseless catalogue photometry
    t["mag_r"] = 22.5 - 2.5 * np.log10(flux[:, 2])
    return CutoutCatalog(t, np.asarray(cat.images)), magnitude_table(flux)


def test_leave_one_field_out_never_trains_on_the_field_it_tests(monkeypatch):
    cat, phot = _fields()
    seen = []
    real_fit = PhotoZEstimator.fit

    def spy(self, catalog, **kw):
        seen.append(set(np.asarray(catalog.table["field"]).tolist()))
        return real_fit(self, catalog, **kw)

    monkeypatch.setattr(PhotoZEstimator, "fit", spy)
    enc = ContrastiveEncoder(**ENC)
    out = shift_validation(cat, encoder=enc, method="finetuned", photometry=phot, epochs=1,
                           min_steps=2, batch_size=32, predictions=True, progress=False,
                           model_kwargs=dict(crop=32, jitter=2, n_bins=40),
                           precision="32-true")
    assert list(out["fold"]) == ["field=a", "field=b", "field=c"]
    assert seen == [{"b", "c"}, {"a", "c"}, {"a", "b"}]
    assert list(out["n_train"]) == [100] * 3 and list(out["n_test"]) == [50] * 3
    z = np.asarray(cat.table["redshift"])
    for i, field in enumerate("abc"):
        test = np.asarray(cat.table["field"]) == field
        zp, flags = out["z_phot"][i], out["photoz_flag"][i]
        assert np.isfinite(zp[test]).all() and np.isnan(zp[~test]).all()
        assert out["sigma_mad"][i] == pytest.approx(metrics.sigma_mad(zp[test], z[test]))
        outlier = np.abs(metrics.delta_z(zp[test], z[test])) > 0.05
        flagged = flags[test] != 0
        assert out["flag_rate"][i] == pytest.approx(flagged.mean())
        expected = flagged[outlier].mean() if outlier.any() else np.nan
        np.testing.assert_allclose(out["outliers_flagged"][i], expected)
    # the ceiling learns the noiseless magnitudes of the same training rows: near perfect
    assert (out["ceiling_sigma_mad"] < 0.01).all()
    np.testing.assert_allclose(out["sigma_mad_over_ceiling"],
                               out["sigma_mad"] / out["ceiling_sigma_mad"])


def test_covariate_shift_split_and_the_fast_linear_probe():
    cat, phot = _fields()
    enc = ContrastiveEncoder(**ENC)
    mag = np.asarray(cat.table["mag_r"])
    cut = float(np.median(mag))
    out = shift_validation(cat, encoder=enc, method="linear", by=None,
                           shift={"faint": ("mag_r", cut), "mask": mag < cut},
                           photometry=phot, progress=False)
    assert list(out["fold"]) == ["faint", "mask"] and list(out["kind"]) == ["shift"] * 2
    assert out["n_test"][0] == int((mag >= cut).sum()) and out["n_test"][1] == \
        int((mag < cut).sum())
    assert np.isnan(out["flag_rate"]).all()  # a ridge probe has no flags
    assert np.isfinite(out["sigma_mad"]).all()
    with pytest.raises(KeyError, match="no column 'tile'"):
        shift_validation(cat, encoder=enc, method="linear", by="tile")
    with pytest.raises(ValueError, match="method 'finetuned' needs the encoder"):
        shift_validation(cat, method="finetuned")
    with pytest.raises(ValueError, match="no fold"):
        shift_validation(cat, encoder=enc, method="linear", by="field", n_min=1000)
    with pytest.raises(ValueError, match="photometry has 3 rows"):
        shift_validation(cat, encoder=enc, method="linear", photometry=Table({"x": [1, 2, 3]}))
