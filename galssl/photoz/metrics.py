# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Photometric-redshift metrics, with their conventions stated.

Delta z = (z_phot - z_spec) / (1 + z_spec). sigma_MAD = 1.4826 x median(abs(Delta z -
median(Delta z))). Outliers: abs(Delta z) > 0.05 (Pasquet et al. 2019; Hayat et al. 2021),
or the RAIL/LSST convention abs(Delta z) > max(0.06, 3 sigma_IQR). Bias: mean(Delta z) (or the
median). PIT and CRPS for PDFs binned on ``bin_edges`` (uniform density within a bin).
"""

import numpy as np

from ..utils._validate import as_float_values, check_pdfs

__all__ = ["delta_z", "sigma_mad", "outlier_fraction", "bias", "pit", "crps", "evaluate"]


def _pair(z_phot, z_spec):
    # masked entries (a MaskedColumn of spectroscopic redshifts) are NaN: not counted
    zp = as_float_values(z_phot, "z_phot")
    zs = as_float_values(z_spec, "z_spec")
    if zp.shape != zs.shape or zp.ndim != 1:
        raise ValueError(f"z_phot and z_spec must be 1-d arrays of one length, got shapes "
                         f"{zp.shape} and {zs.shape}")
    if np.any(zs <= -1):
        raise ValueError("z_spec must be > -1")
    return zp, zs


def delta_z(z_phot, z_spec):
    """(z_phot - z_spec) / (1 + z_spec).

    Examples
    --------
    >>> from galssl.photoz.metrics import delta_z
    >>> delta_z([0.11], [0.10])
    array([0.00909091])
    """
    zp, zs = _pair(z_phot, z_spec)
    return (zp - zs) / (1 + zs)


def sigma_mad(z_phot, z_spec):
    """1.4826 x median absolute deviation of Delta z (NaN rows ignored)."""
    dz = delta_z(z_phot, z_spec)
    return float(1.4826 * np.nanmedian(np.abs(dz - np.nanmedian(dz))))


def outlier_fraction(z_phot, z_spec, threshold=0.05, *, convention="fixed"):
    """Fraction of objects with abs(Delta z) above a threshold (a fraction, not a percentage).

    Parameters
    ----------
    threshold : float, optional
        For ``convention="fixed"`` (default; Hayat et al. 2021 eta uses 0.05).
    convention : {"fixed", "rail"}
        ``"rail"``: abs(Delta z) > max(0.06, 3 sigma_IQR), sigma_IQR = IQR(Delta z) / 1.349,
        as the LSST RAIL point-estimate metrics.
    """
    dz = delta_z(z_phot, z_spec)
    dz = dz[np.isfinite(dz)]
    if convention == "rail":
        q75, q25 = np.percentile(dz, [75, 25])
        threshold = max(0.06, 3 * (q75 - q25) / 1.349)
    elif convention != "fixed":
        raise ValueError(f"convention must be 'fixed' or 'rail', got {convention!r}")
    return float(np.mean(np.abs(dz) > threshold))


def bias(z_phot, z_spec, *, statistic="mean"):
    """Mean (default) or median of Delta z."""
    dz = delta_z(z_phot, z_spec)
    if statistic == "mean":
        return float(np.nanmean(dz))
    if statistic == "median":
        return float(np.nanmedian(dz))
    raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")


def _binned(pdfs, bin_edges, z_spec):
    zs = as_float_values(z_spec, "z_spec")
    if zs.ndim != 1:
        raise ValueError(f"z_spec must be 1-d, got shape {zs.shape}")
    p, edges = check_pdfs(pdfs, bin_edges, n=len(zs))
    return p, edges, zs


def pit(pdfs, bin_edges, z_spec):
    """Probability integral transform: the CDF of each PDF at its spectroscopic redshift.

    For well-calibrated PDFs the PIT values are uniform on [0, 1].
    """
    p, edges, zs = _binned(pdfs, bin_edges, z_spec)
    cdf = np.concatenate([np.zeros((len(p), 1)), np.cumsum(p, axis=1)], axis=1)
    k = np.clip(np.searchsorted(edges, zs, side="right") - 1, 0, len(edges) - 2)
    frac = np.clip((zs - edges[k]) / (edges[k + 1] - edges[k]), 0, 1)
    rows = np.arange(len(p))
    out = cdf[rows, k] + frac * p[rows, k]
    out[zs < edges[0]] = 0.0
    out[zs >= edges[-1]] = 1.0
    return out


def crps(pdfs, bin_edges, z_spec):
    """Continuous ranked probability score of binned PDFs, exactly: the integral of
    (F(z) - H(z - z_spec))^2 with F piecewise linear (uniform density within bins)."""
    p, edges, zs = _binned(pdfs, bin_edges, z_spec)
    cdf = np.concatenate([np.zeros((len(p), 1)), np.cumsum(p, axis=1)], axis=1)
    out = np.empty(len(p))

    def seg(a, b, c, w):  # integral over width w of (F - c)^2, F linear from a to b
        return w * ((a - c) ** 2 + (a - c) * (b - c) + (b - c) ** 2) / 3.0

    for i in range(len(p)):
        total = 0.0
        for j in range(len(edges) - 1):
            z0, z1, a, b = edges[j], edges[j + 1], cdf[i, j], cdf[i, j + 1]
            if zs[i] <= z0:
                total += seg(a, b, 1.0, z1 - z0)
            elif zs[i] >= z1:
                total += seg(a, b, 0.0, z1 - z0)
            else:
                m = a + (b - a) * (zs[i] - z0) / (z1 - z0)
                total += seg(a, m, 0.0, zs[i] - z0) + seg(m, b, 1.0, z1 - zs[i])
        # beyond the binned range F is 0 below and 1 above: only H contributes
        total += max(0.0, edges[0] - zs[i]) + max(0.0, zs[i] - edges[-1])
        out[i] = total
    return out


def evaluate(z_phot, z_spec, *, pdfs=None, bin_edges=None, threshold=0.05, bins=None,
             by=None):
    """All point and PDF metrics, with the conventions in the result.

    Parameters
    ----------
    z_phot, z_spec : array
    pdfs, bin_edges : array, optional
        Binned PDFs for the PIT (KS statistic against uniform) and the mean CRPS.
    threshold : float, optional
        Outlier threshold on abs(Delta z).
    bins : array, optional
        Edges in ``by`` (default z_spec) to report the point metrics per bin as well.
    by : array, optional
        Quantity to bin on (e.g. r magnitude).

    Returns
    -------
    dict
        ``n`` (rows where both redshifts are finite: every statistic uses those),
        ``sigma_mad``, ``eta`` (fraction of abs(Delta z) > threshold), ``eta_rail``,
        ``bias`` (mean), ``bias_median``, and with PDFs ``pit_ks`` and ``crps``; with
        ``bins`` a ``binned`` `~astropy.table.Table`; ``conventions`` says how each is
        defined.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.photoz.metrics import evaluate
    >>> zs = np.linspace(0.05, 0.3, 1000)
    >>> out = evaluate(zs + 0.01 * (1 + zs) * np.sin(np.arange(1000)), zs)
    >>> round(out["sigma_mad"], 4), out["eta"]
    (0.0105, 0.0)
    """
    zp, zs = _pair(z_phot, z_spec)
    ok = np.isfinite(zp) & np.isfinite(zs)
    if not ok.any():
        raise ValueError(f"no row has both a finite z_phot and a finite z_spec (of "
                         f"{len(zp)} rows): nothing to evaluate")
    if pdfs is not None and bin_edges is None:
        raise ValueError("pdfs need their bin_edges (e.g. PhotoZEstimator.bin_edges)")
    if pdfs is not None:
        pdfs, bin_edges = check_pdfs(pdfs, bin_edges, n=len(zp), missing="keep")
    if by is not None:
        by = as_float_values(by, "by")
        if by.shape != zp.shape:
            raise ValueError(f"by must have one value per row ({len(zp)}), got shape "
                             f"{by.shape}")
        by = by[ok]
    if bins is not None:
        bins = np.asarray(bins, dtype=float)
        if bins.ndim != 1 or len(bins) < 2 or not np.all(np.diff(bins) > 0):
            raise ValueError("bins must be at least two increasing edges")
    # every statistic on the rows where both redshifts are finite, and n counts those
    zp, zs = zp[ok], zs[ok]
    if pdfs is not None:
        pdfs = np.asarray(pdfs, dtype=float)[ok]
    out = {"n": int(ok.sum()), "sigma_mad": sigma_mad(zp, zs),
           "eta": outlier_fraction(zp, zs, threshold),
           "eta_rail": outlier_fraction(zp, zs, convention="rail"),
           "bias": bias(zp, zs), "bias_median": bias(zp, zs, statistic="median")}
    if pdfs is not None:
        from scipy.stats import kstest

        values = pit(pdfs, bin_edges, zs)
        out["pit_ks"] = float(kstest(values, "uniform").statistic)
        out["crps"] = float(np.mean(crps(pdfs, bin_edges, zs)))
    if bins is not None:
        from astropy.table import Table

        key = zs if by is None else by
        rows = []
        for lo, hi in zip(bins[:-1], bins[1:]):
            sel = (key >= lo) & (key < hi)
            if sel.sum() == 0:
                rows.append((lo, hi, 0, np.nan, np.nan, np.nan))
                continue
            rows.append((lo, hi, int(sel.sum()), sigma_mad(zp[sel], zs[sel]),
                         outlier_fraction(zp[sel], zs[sel], threshold),
                         bias(zp[sel], zs[sel])))
        out["binned"] = Table(rows=rows, names=("lo", "hi", "n", "sigma_mad", "eta", "bias"))
    out["conventions"] = {
        "delta_z": "(z_phot - z_spec) / (1 + z_spec)",
        "sigma_mad": "1.4826 * median(|dz - median(dz)|)",
        "eta": f"fraction with |dz| > {threshold}",
        "eta_rail": "fraction with |dz| > max(0.06, 3 * IQR(dz) / 1.349)",
        "bias": "mean(dz); bias_median = median(dz)",
        "pit_ks": "KS statistic of the PIT values against U(0, 1)",
        "crps": "mean CRPS of the binned PDFs (uniform density within bins)"}
    return out
