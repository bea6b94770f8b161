# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Binned redshift PDFs: the bin grid, point estimates, widths, odds, PIT recalibration and
export to qp."""

import numpy as np

from ..utils._validate import (as_float_values, check_number, check_pdfs,
                               check_positive_int)

__all__ = ["redshift_bins", "redshift_labels", "summarize_pdfs", "PITCalibration", "to_qp"]


def redshift_bins(z_min=0.0, z_max=0.4, n_bins=180):
    """Edges and centres of the classification bins (``n_bins`` equal bins on
    [z_min, z_max]).

    Examples
    --------
    >>> from galssl.photoz import redshift_bins
    >>> edges, centres = redshift_bins()
    >>> len(edges), round(float(centres[0]), 6), round(float(edges[1] - edges[0]), 6)
    (181, 0.001111, 0.002222)
    """
    if not (np.isfinite(z_min) and np.isfinite(z_max) and z_max > z_min):
        raise ValueError(f"need finite z_min < z_max, got z_min={z_min}, z_max={z_max}")
    if int(n_bins) < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    edges = np.linspace(float(z_min), float(z_max), int(n_bins) + 1)
    return edges, 0.5 * (edges[:-1] + edges[1:])


def redshift_labels(z, edges):
    """Bin index of each redshift (those on the upper edge go to the last bin)."""
    k = np.searchsorted(edges, np.asarray(z, dtype=float), side="right") - 1
    return np.clip(k, 0, len(edges) - 2).astype(np.int64)


def summarize_pdfs(pdfs, edges, *, odds_window=0.05):
    """Point estimates and widths of binned PDFs.

    Parameters
    ----------
    pdfs : array (N, n_bins)
        Probabilities per bin (normalised here).
    edges : array (n_bins + 1,)
    odds_window : float, optional
        Half-width of the odds window in units of (1 + z): the odds are the probability
        within ``z_phot +- odds_window * (1 + z_phot)``, i.e. that the object is not an
        outlier in the abs(Delta z) > 0.05 sense if its PDF is right.

    Returns
    -------
    dict of arrays
        ``z_phot`` (the mean over bin centres), ``z_phot_err`` (the PDF's standard deviation,
        uniform density within bins), ``z_mode`` (centre of the most probable bin) and
        ``odds``.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.photoz import redshift_bins, summarize_pdfs
    >>> edges, centres = redshift_bins()
    >>> pdf = np.zeros((1, 180))
    >>> pdf[0, 44:46] = 0.5                       # all probability in two bins
    >>> s = summarize_pdfs(pdf, edges)
    >>> round(float(s["z_phot"][0]), 4), round(float(s["odds"][0]), 2)
    (0.1, 1.0)
    """
    p, edges = check_pdfs(pdfs, edges)
    odds_window = check_number(odds_window, "odds_window", low=0)
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = np.diff(edges)
    mean = p @ centres
    var = p @ (centres ** 2 + width ** 2 / 12.0) - mean ** 2
    mode = centres[np.argmax(p, axis=1)]
    cdf = np.concatenate([np.zeros((len(p), 1)), np.cumsum(p, axis=1)], axis=1)
    half = odds_window * (1 + mean)
    odds = _cdf_at(cdf, edges, mean + half) - _cdf_at(cdf, edges, mean - half)
    return {"z_phot": mean, "z_phot_err": np.sqrt(np.maximum(var, 0.0)), "z_mode": mode,
            "odds": np.clip(odds, 0.0, 1.0)}


def _cdf_at(cdf, edges, z):
    """Piecewise-linear CDF of each row at its own redshift ``z``."""
    rows = np.arange(len(cdf))
    zc = np.clip(z, edges[0], edges[-1])
    k = np.clip(np.searchsorted(edges, zc, side="right") - 1, 0, len(edges) - 2)
    frac = (zc - edges[k]) / (edges[k + 1] - edges[k])
    return cdf[rows, k] + frac * (cdf[rows, k + 1] - cdf[rows, k])


class PITCalibration:
    """Recalibration of binned PDFs from their PIT values on a validation set.

    With G the CDF of the validation PIT values, a PDF with CDF C(z) is replaced by the one
    with CDF G(C(z)) (Bordoloi, Lilly & Amara 2010): for the validation objects the new PIT
    values are uniform, and PDFs that were too narrow (a U-shaped PIT histogram) widen, too
    broad ones narrow, biased ones shift. G is stored as ``n_knots`` quantiles of the PIT
    values and interpolated linearly in logit space, extrapolated linearly beyond the
    outermost quantiles: far tails of a PDF, where C is tiny, then get the power-law
    correction C -> C^a that turns an over-confident Gaussian tail into the right one (a
    linear interpolation in C could not move probability there).

    Parameters
    ----------
    x, y : array, optional
        logit of the PIT quantiles and logit of their levels (as stored by `to_dict`);
        identity if omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.photoz import PITCalibration
    >>> PITCalibration().apply(np.array([[0.2, 0.5, 0.3]]), np.array([0, 1, 2, 3.]))
    array([[0.2, 0.5, 0.3]])
    """

    _EPS = 1e-12

    def __init__(self, x=None, y=None):
        if (x is None) != (y is None):
            raise ValueError("PITCalibration needs both x and y, or neither (identity)")
        if x is not None:
            try:
                x = np.asarray(x, dtype=np.float64)
                y = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"PITCalibration x and y must be numbers ({exc})") from None
            if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
                raise ValueError(f"PITCalibration x and y must be 1-D of one length >= 2, got "
                                 f"shapes {x.shape} and {y.shape}")
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                raise ValueError("PITCalibration x and y must be finite")
            if not (np.diff(x) > 0).all() or not (np.diff(y) > 0).all():
                raise ValueError("PITCalibration x and y must be strictly increasing")
        self.x, self.y = x, y

    @property
    def fitted(self):
        return self.x is not None

    def fit(self, pdfs, edges, z_spec, *, n_knots=101):
        """Fit G to the PIT values of ``pdfs`` at ``z_spec`` (rows with NaN are skipped)."""
        from scipy.special import logit

        from .metrics import pit

        zs = as_float_values(z_spec, "z_spec")
        if zs.ndim != 1:
            raise ValueError(f"z_spec must be 1-d, got shape {zs.shape}")
        # rows without a PDF (all NaN) or a redshift (NaN, masked) are skipped
        p, edges = check_pdfs(pdfs, edges, n=len(zs), missing="keep")
        n_knots = check_positive_int(n_knots, "n_knots", minimum=2)
        ok = np.isfinite(zs) & np.isfinite(p).all(axis=1)
        if ok.sum() < 10:
            raise ValueError(f"calibration needs at least 10 objects with finite PDFs and "
                             f"redshifts, got {int(ok.sum())}")
        values = np.clip(pit(p[ok], edges, zs[ok]), self._EPS, 1 - self._EPS)
        n_knots = int(min(n_knots, ok.sum()))
        levels = (np.arange(n_knots) + 0.5) / n_knots
        x = logit(np.quantile(values, levels))
        # strictly increasing knots (ties where many PIT values coincide)
        for i in range(1, len(x)):
            x[i] = max(x[i], x[i - 1] + 1e-9)
        self.x, self.y = x, logit(levels)
        return self

    def _map(self, u):
        from scipy.special import expit, logit

        x, y = self.x, self.y
        m = max(1, len(x) // 20)
        lo = (y[m] - y[0]) / (x[m] - x[0])
        hi = (y[-1] - y[-1 - m]) / (x[-1] - x[-1 - m])
        t = logit(np.clip(u, self._EPS, 1 - self._EPS))
        out = np.interp(t, x, y)
        out = np.where(t < x[0], y[0] + lo * (t - x[0]), out)
        out = np.where(t > x[-1], y[-1] + hi * (t - x[-1]), out)
        return np.where(u <= 0, 0.0, np.where(u >= 1, 1.0, expit(out)))

    def apply(self, pdfs, edges):
        """Recalibrated PDFs (same shape; identity before `fit`)."""
        p, edges = check_pdfs(pdfs, edges)
        if not self.fitted:
            return p
        cdf = np.concatenate([np.zeros((len(p), 1)), np.cumsum(p, axis=1)], axis=1)
        new = self._map(cdf)
        new[:, 0], new[:, -1] = 0.0, 1.0
        return np.maximum(np.diff(new, axis=1), 0.0)

    def to_dict(self):
        if not self.fitted:
            return {"x": None, "y": None}
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}

    @classmethod
    def from_dict(cls, d):
        """The calibration stored by `to_dict` (None: identity); ValueError for anything
        else."""
        if d is None:
            return cls()
        if not isinstance(d, dict) or set(d) - {"x", "y"}:
            raise ValueError(f"a PITCalibration record is a dict with keys 'x' and 'y', got "
                             f"{d!r:.80}")
        return cls(d.get("x"), d.get("y"))

    def __repr__(self):
        return f"<PITCalibration {f'{len(self.x)} knots' if self.fitted else 'identity'}>"


def to_qp(pdfs, edges):
    """The binned PDFs as a `qp.Ensemble` of histograms (for LSST RAIL evaluators).

    Needs the optional package ``qp`` (``pip install qp-prob``).
    """
    try:
        import qp
    except ImportError as exc:
        raise ImportError("to_qp needs the optional package qp: pip install qp-prob") from exc
    p, edges = check_pdfs(pdfs, edges)
    density = p / np.diff(edges)
    return qp.Ensemble(qp.hist, data=dict(bins=edges, pdfs=density))
