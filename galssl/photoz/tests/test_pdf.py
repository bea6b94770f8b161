# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from scipy.stats import kstest, norm

from galssl.photoz import PITCalibration, redshift_bins, redshift_labels, summarize_pdfs
from galssl.photoz.metrics import pit


def gaussian_pdfs(mu, sigma, edges):
    cdf = norm.cdf(edges[None, :], loc=np.asarray(mu)[:, None], scale=np.asarray(sigma)[:, None])
    return np.diff(cdf, axis=1)


def test_bins_and_labels():
    edges, centres = redshift_bins(0, 0.4, 180)
    assert len(edges) == 181 and np.allclose(np.diff(edges), 0.4 / 180)
    np.testing.assert_allclose(centres, edges[:-1] + 0.2 / 180)
    np.testing.assert_array_equal(redshift_labels([0.0, 0.00223, 0.4, 0.7, -0.1], edges),
                                  [0, 1, 179, 179, 0])
    with pytest.raises(ValueError, match="z_min < z_max"):
        redshift_bins(0.4, 0.1)
    with pytest.raises(ValueError, match="n_bins"):
        redshift_bins(0, 1, 1)


def test_summaries_of_gaussian_pdfs():
    edges, _ = redshift_bins(0, 0.4, 180)
    mu, sigma = np.array([0.1, 0.2, 0.28]), np.array([0.01, 0.02, 0.025])
    s = summarize_pdfs(gaussian_pdfs(mu, sigma, edges), edges)
    np.testing.assert_allclose(s["z_phot"], mu, atol=2e-5)
    # the binned Gaussian's histogram density has variance sigma^2 + w^2/6: w^2/12 from
    # binning (Sheppard) and w^2/12 from the uniform density within each bin
    w = 0.4 / 180
    np.testing.assert_allclose(s["z_phot_err"], np.sqrt(sigma**2 + w**2 / 6), rtol=1e-4)
    assert np.all(np.abs(s["z_mode"] - mu) <= 0.4 / 360 + 1e-12)
    # odds: P(|z - mean| < 0.05 (1 + mean)) of a Gaussian = erf(w / (sigma sqrt 2))
    w = 0.05 * (1 + mu)
    np.testing.assert_allclose(s["odds"], 2 * norm.cdf(w / sigma) - 1, atol=2e-3)


def test_pit_calibration_fixes_overconfident_pdfs_out_of_sample():
    rng = np.random.default_rng(0)
    edges, _ = redshift_bins(0, 0.4, 180)

    def sample(n):
        mu = rng.uniform(0.08, 0.32, n)
        z = mu + rng.normal(0, 0.02, n)  # true scatter 0.02
        return gaussian_pdfs(mu, np.full(n, 0.01), edges), z  # claimed 0.01: too narrow

    p_cal, z_cal = sample(3000)
    p_test, z_test = sample(3000)
    ks_raw = kstest(pit(p_test, edges, z_test), "uniform").statistic
    assert ks_raw > 0.15  # U-shaped PIT
    cal = PITCalibration().fit(p_cal, edges, z_cal)
    new = cal.apply(p_test, edges)
    np.testing.assert_allclose(new.sum(axis=1), 1, atol=1e-12)
    assert np.all(new >= 0)
    ks_new = kstest(pit(new, edges, z_test), "uniform").statistic
    assert ks_new < 0.03
    # the calibrated PDFs are wider, close to the true scatter
    assert 0.016 < np.median(summarize_pdfs(new, edges)["z_phot_err"]) < 0.024
    back = PITCalibration.from_dict(cal.to_dict())
    np.testing.assert_allclose(back.apply(p_test[:5], edges), new[:5])
    with pytest.raises(ValueError, match="at least 10"):
        PITCalibration().fit(p_cal[:5], edges, z_cal[:5])


def test_qp_export():
    qp = pytest.importorskip("qp")
    edges, _ = redshift_bins(0, 0.4, 180)
    pdfs = gaussian_pdfs([0.1, 0.25], [0.01, 0.02], edges)
    from galssl.photoz import to_qp

    ens = to_qp(pdfs, edges)
    assert isinstance(ens, qp.Ensemble) and ens.npdf == 2
    np.testing.assert_allclose(ens.median().ravel(), [0.1, 0.25], atol=1e-3)
    np.testing.assert_allclose(ens.cdf(np.array([0.4])).ravel(), 1, atol=1e-6)
