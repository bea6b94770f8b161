# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Point-spread function of a frame, measured from its stars."""

import numpy as np

__all__ = ["measure_psf", "MOFFAT_BETA"]

#: Moffat index of galssl's PSF model (SDSS PSFs have wings that a Gaussian lacks).
MOFFAT_BETA = 3.0


def _moffat_hlr_per_fwhm(beta=MOFFAT_BETA):
    """Half-light radius of a Moffat profile of unit FWHM (closed form)."""
    # I(r) ~ (1 + (r/a)^2)^-beta, FWHM = 2 a sqrt(2^(1/beta) - 1), enclosed fraction
    # 1 - (1 + (r/a)^2)^(1-beta): half light at r = a sqrt(2^(1/(beta-1)) - 1)
    a = 1.0 / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    return a * np.sqrt(2.0 ** (1.0 / (beta - 1.0)) - 1.0)


def measure_psf(data, frame, *, min_snr=50.0, isolation=15.0, saturation_dn=50000.0):
    """FWHM of the PSF of one frame from its bright, isolated, unsaturated stars.

    Stars are the most compact sources: among isolated (no neighbour within ``isolation``
    pixels), unblended, unsaturated detections with S/N > ``min_snr``, the stellar locus is
    the group of half-light radii within 15 % of the 20th percentile. The PSF model is a
    Moffat profile (beta = 3) whose half-light radius is the median of the stars'; its FWHM
    is reported.

    Returns
    -------
    dict
        ``fwhm_pix``, ``fwhm_arcsec``, ``n_stars``, ``model`` ("Moffat"), ``beta``, and the
        stars' pixel positions ``xy`` (for checks).
    """
    import sep
    from scipy.spatial import cKDTree

    bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
    sub = data - bkg.back()
    rms = bkg.rms()
    from ..cutouts import extract

    objs = extract(sub, 5.0, err=rms, minarea=5, what=f"frame {frame.path!r}")
    x, y = objs["x"].astype(float), objs["y"].astype(float)
    flux, ferr, _ = sep.sum_circle(sub, x, y, 8.0, err=rms)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(ferr > 0, flux / ferr, 0)
    nmgy = float(frame.header.get("NMGY", np.nan))
    peak_dn = (objs["peak"] + bkg.back()[objs["ypeak"], objs["xpeak"]]) / nmgy \
        if np.isfinite(nmgy) and nmgy > 0 else np.zeros(len(objs))
    dist, _ = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=2) if len(x) > 1 else \
        (np.full((len(x), 2), np.inf), None)
    ny, nx = data.shape
    ok = (snr > min_snr) & (objs["flag"] == 0) & (peak_dn < saturation_dn) & \
        (dist[:, 1] > isolation) & (x > 15) & (x < nx - 16) & (y > 15) & (y < ny - 16)
    if ok.sum() < 3:
        raise ValueError(f"frame {frame.path!r}: only {int(ok.sum())} usable stars to "
                         "measure the PSF")
    r50, _ = sep.flux_radius(sub, x[ok], y[ok], np.full(ok.sum(), 10.0), 0.5,
                             normflux=flux[ok], subpix=5)
    locus = r50 < 1.15 * np.percentile(r50, 20)
    hlr = float(np.median(r50[locus]))
    scale = frame.pixel_scale
    fwhm_pix = hlr / _moffat_hlr_per_fwhm()
    return {"fwhm_pix": fwhm_pix, "fwhm_arcsec": fwhm_pix * scale, "n_stars": int(locus.sum()),
            "model": "Moffat", "beta": MOFFAT_BETA,
            "xy": np.c_[x[ok][locus], y[ok][locus]]}
