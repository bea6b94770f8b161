# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from numpy.testing import assert_allclose

from galssl.photoz.metrics import (bias, crps, delta_z, evaluate, outlier_fraction, pit,
                                   sigma_mad)


def _gaussian_pdfs(mu, sigma, edges):
    from scipy.stats import norm

    cdf = norm.cdf(edges[None, :], mu[:, None], sigma[:, None])
    return np.diff(cdf, axis=1)


def test_point_metrics_on_known_distributions():
    rng = np.random.default_rng(0)
    zs = rng.uniform(0.02, 0.35, 200_000)
    dz = rng.normal(0.002, 0.01, zs.size)
    zp = zs + dz * (1 + zs)
    assert_allclose(delta_z(zp, zs), dz, atol=1e-12)
    assert abs(sigma_mad(zp, zs) - 0.01) < 2e-4
    assert abs(bias(zp, zs) - 0.002) < 1e-4 and abs(bias(zp, zs, statistic="median") - 0.002) < 2e-4
    # Gaussian with sigma 0.01: P(|dz| > 0.05) is tiny; add 3 % catastrophic outliers
    zp[:6000] = zs[:6000] + 0.2
    assert abs(outlier_fraction(zp, zs) - 0.03) < 1e-3
    assert abs(outlier_fraction(zp, zs, convention="rail") - 0.03) < 1e-3
    with pytest.raises(ValueError, match="convention"):
        outlier_fraction(zp, zs, convention="x")
    with pytest.raises(ValueError, match="one length"):
        sigma_mad([0.1, 0.2], [0.1])


def test_pit_is_uniform_for_calibrated_pdfs_and_not_for_overconfident_ones():
    rng = np.random.default_rng(1)
    edges = np.linspace(0, 0.4, 181)
    n = 4000
    zs = rng.uniform(0.1, 0.3, n)
    mu = zs + rng.normal(0, 0.02, n)
    good = pit(_gaussian_pdfs(mu, np.full(n, 0.02), edges), edges, zs)
    narrow = pit(_gaussian_pdfs(mu, np.full(n, 0.005), edges), edges, zs)
    from scipy.stats import kstest

    assert kstest(good, "uniform").statistic < 0.03
    assert kstest(narrow, "uniform").statistic > 0.2
    assert np.all((good >= 0) & (good <= 1))


def test_crps_matches_numerical_integration():
    rng = np.random.default_rng(2)
    edges = np.linspace(0, 0.4, 41)
    pdfs = rng.uniform(0, 1, (5, 40))
    zs = np.array([0.05, 0.2, 0.3999, 0.0, 0.45])
    exact = crps(pdfs, edges, zs)
    grid = np.linspace(-0.1, 0.6, 700_001)
    p = pdfs / pdfs.sum(axis=1, keepdims=True)
    cdf_edges = np.concatenate([np.zeros((5, 1)), np.cumsum(p, axis=1)], axis=1)
    for i in range(5):
        f = np.interp(grid, edges, cdf_edges[i], left=0, right=1)
        h = (grid >= zs[i]).astype(float)
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has trapz
        assert_allclose(exact[i], trapezoid((f - h) ** 2, grid), rtol=1e-4)
    # a PDF concentrated in the bin of the truth scores (nearly) zero
    sharp = np.zeros((1, 40))
    sharp[0, 20] = 1
    assert crps(sharp, edges, [0.205])[0] < 0.01 * 0.4


def test_evaluate_reports_conventions_and_bins():
    rng = np.random.default_rng(3)
    zs = rng.uniform(0.02, 0.35, 5000)
    zp = zs + rng.normal(0, 0.01, zs.size) * (1 + zs)
    edges = np.linspace(0, 0.4, 181)
    pdfs = _gaussian_pdfs(zp, np.full(zs.size, 0.012), edges)
    out = evaluate(zp, zs, pdfs=pdfs, bin_edges=edges, bins=[0, 0.1, 0.2, 0.4])
    assert set(out) >= {"sigma_mad", "eta", "eta_rail", "bias", "pit_ks", "crps", "binned",
                        "conventions"}
    assert out["n"] == 5000 and len(out["binned"]) == 3
    assert int(out["binned"]["n"].sum()) == 5000
    assert "1 + z_spec" in out["conventions"]["delta_z"]
    with pytest.raises(ValueError, match="pdfs has 10 bins per row, but 181 bin edges"):
        evaluate(zp, zs, pdfs=pdfs[:, :10], bin_edges=edges)


def test_sigma_mad_is_exactly_the_stated_formula():
    # Delta z = -0.02, 0, 0, 0.01, 0.03 (z_spec = 0): median 0, abs deviations 0.02, 0,
    # 0, 0.01, 0.03, median 0.01, times 1.4826 (a constant off by 0.1 % fails)
    zs = np.zeros(5)
    zp = np.array([-0.02, 0.0, 0.0, 0.01, 0.03])
    assert sigma_mad(zp, zs) == pytest.approx(0.014826, rel=1e-9)
    assert evaluate(zp, zs)["sigma_mad"] == pytest.approx(0.014826, rel=1e-9)


def test_evaluate_boundary():
    edges = np.linspace(0, 0.4, 41)
    zs = np.array([0.1, 0.2, np.nan, 0.3])
    zp = np.array([0.11, 0.19, 0.25, np.nan])
    out = evaluate(zp, zs)
    assert out["n"] == 2  # rows with both redshifts finite, not rows with a z_phot
    assert out["sigma_mad"] == pytest.approx(sigma_mad(zp[:2], zs[:2]))
    for bad in ([], np.full(3, np.nan)):
        with pytest.raises(ValueError, match="nothing to evaluate"):
            evaluate(bad, bad)
    pdfs = _gaussian_pdfs(np.full(4, 0.2), np.full(4, 0.05), edges)
    with pytest.raises(ValueError, match="need their bin_edges"):
        evaluate(zp, zs, pdfs=pdfs)
    with pytest.raises(ValueError, match="by must have one value per row"):
        evaluate(zp, zs, bins=[0, 0.2, 0.4], by=[1.0, 2.0])
    with pytest.raises(ValueError, match="pdfs has 3 rows"):
        evaluate(zp, zs, pdfs=pdfs[:3], bin_edges=edges)
    neg = pdfs.copy()
    neg[1, 5] = -0.01
    with pytest.raises(ValueError, match=r"not all zero in every row; 1 row\(s\) are not: \[1\]"):
        pit(neg, edges, np.full(4, 0.2))
    ok = evaluate(zp, zs, pdfs=pdfs, bin_edges=edges, bins=[0, 0.15, 0.4])
    assert np.all((pit(pdfs, edges, np.full(4, 0.2)) >= 0))
    assert list(ok["binned"]["n"]) == [1, 1] and 0 <= ok["pit_ks"] <= 1
