# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Structural parameters of simulated galaxies and their GalSim rendering."""

import functools

import numpy as np

__all__ = ["galaxy_structure", "render_stamp", "shen03_r50_kpc", "UR_RED_SEQUENCE"]

#: Strateva et al. (2001) u - r colour separating the red (early-type, bulge-dominated)
#: and blue (late-type, disk-dominated) populations.
UR_RED_SEQUENCE = 2.22

#: Intrinsic thickness (minor/major axis ratio) of an edge-on disk.
DISK_THICKNESS = 0.15


def shen03_r50_kpc(abs_mag_r, early):
    """Median r-band half-light radius (kpc) from the SDSS size-luminosity relations of
    Shen et al. (2003, MNRAS 343, 978; their eqs. 14-15 and Table 1, h = 0.7).

    Early types: log R = -0.4 a M + b (a = 0.60, b = -4.63). Late types:
    log R = -0.4 alpha M + (beta - alpha) log(1 + 10^(-0.4 (M - M0))) + gamma
    (alpha = 0.21, beta = 0.53, gamma = -1.31, M0 = -20.52).
    """
    m = np.asarray(abs_mag_r, dtype=float)
    log_early = -0.4 * 0.60 * m - 4.63
    log_late = -0.4 * 0.21 * m + (0.53 - 0.21) * np.log10(1 + 10 ** (-0.4 * (m + 20.52))) - 1.31
    return 10 ** np.where(early, log_early, log_late)


def _shen03_scatter(abs_mag_r):
    """Log-normal scatter sigma_lnR of the Shen et al. (2003) late-type relation (their
    eq. 16: sigma_2 + (sigma_1 - sigma_2) / (1 + 10^(-0.8 (M - M0))), sigma_1 = 0.48,
    sigma_2 = 0.25, M0 = -20.52), used here for both types."""
    m = np.asarray(abs_mag_r, dtype=float)
    return 0.25 + (0.48 - 0.25) / (1 + 10 ** (-0.8 * (m + 20.52)))


#: Bulge half-light radius in units of the disk's.
BULGE_TO_DISK_SIZE = 0.5


@functools.lru_cache(maxsize=1)
def _disk_scale_table():
    """(bulge fractions, disk r50 / total r50) of face-on bulge + disk galaxies, from the
    exact enclosed-light curves of the exponential and de Vaucouleurs profiles."""
    from scipy.optimize import brentq
    from scipy.special import gammainc

    b_exp, b_dev = 1.678347, 7.669249  # Sersic b_n for n = 1 and n = 4

    def enclosed(r, bt):  # disk half-light radius 1, bulge BULGE_TO_DISK_SIZE
        disk = gammainc(2, b_exp * r)
        bulge = gammainc(8, b_dev * (r / BULGE_TO_DISK_SIZE) ** 0.25)
        return bt * bulge + (1 - bt) * disk - 0.5

    grid = np.linspace(0, 1, 41)
    return grid, np.array([1.0 / brentq(enclosed, 1e-6, 10.0, args=(bt,)) for bt in grid])


def _disk_scale(bulge_fraction):
    """Disk half-light radius / total half-light radius for a bulge fraction."""
    grid, ratio = _disk_scale_table()
    return np.interp(bulge_fraction, grid, ratio)


def galaxy_structure(redshift, mag_r0, colour_ur, rng, *, cosmology):
    """Draw bulge fraction, sizes, axis ratios and position angles.

    Parameters
    ----------
    redshift : array
    mag_r0 : array
        Dereddened apparent r magnitude (AB).
    colour_ur : array
        Dereddened u - r colour, which sets the type: red galaxies (u - r > 2.22) get a
        bulge fraction ~ N(0.75, 0.15), blue ones ~ N(0.15, 0.10) (clipped to [0, 1]).
    rng : `numpy.random.Generator`
    cosmology : `astropy.cosmology.Cosmology`

    Returns
    -------
    dict of arrays
        ``abs_mag_r`` (no K-correction), ``bulge_fraction``, ``r50_kpc`` and ``r50_arcsec``
        (half-light radius of the whole galaxy, from the size-luminosity relation),
        ``disk_r50_arcsec`` and ``bulge_r50_arcsec`` (the components', the bulge's 0.5
        times the disk's, chosen so that the face-on galaxy has ``r50_arcsec``),
        ``axis_ratio`` (disk, from a random inclination of a disk of intrinsic thickness
        0.15), ``bulge_axis_ratio`` ~ U(0.7, 1), ``position_angle`` (deg) ~ U(0, 180),
        counted in the pixel frame of the rendering (GalSim's convention), not on the sky.
    """
    import astropy.units as u

    z = np.asarray(redshift, dtype=float)
    n = len(z)
    z_eff = np.maximum(z, 0.002)  # below ~8 Mpc peculiar velocities dominate anyway
    dist_mod = cosmology.distmod(z_eff).to_value(u.mag)
    abs_mag = np.asarray(mag_r0, dtype=float) - dist_mod
    red = np.asarray(colour_ur, dtype=float) > UR_RED_SEQUENCE
    bt = np.clip(np.where(red, rng.normal(0.75, 0.15, n), rng.normal(0.15, 0.10, n)), 0, 1)
    early = bt > 0.5
    scatter = rng.normal(0, 1, n) * _shen03_scatter(abs_mag)
    r50 = shen03_r50_kpc(abs_mag, early) * np.exp(scatter)
    d_a = cosmology.angular_diameter_distance(z_eff).to_value(u.kpc)
    r50_arcsec = np.clip(r50 / d_a * 206264.806, 0.2, 15.0)
    disk = r50_arcsec * _disk_scale(bt)
    cos_i = rng.uniform(0, 1, n)
    q_disk = np.sqrt((1 - DISK_THICKNESS**2) * cos_i**2 + DISK_THICKNESS**2)
    return {"abs_mag_r": abs_mag, "bulge_fraction": bt, "r50_kpc": r50,
            "r50_arcsec": r50_arcsec, "disk_r50_arcsec": disk,
            "bulge_r50_arcsec": BULGE_TO_DISK_SIZE * disk,
            "axis_ratio": q_disk, "bulge_axis_ratio": rng.uniform(0.7, 1.0, n),
            "position_angle": rng.uniform(0, 180, n)}


def render_stamp(flux, structure, psf_fwhm_arcsec, jacobian, offset, size):
    """A GalSim image of one bulge + disk galaxy convolved with a Moffat PSF.

    Parameters
    ----------
    flux : float
        Total flux (nanomaggies): the stamp sums to it (up to light beyond the stamp).
    structure : dict
        One galaxy's entries of `galaxy_structure` (scalars).
    psf_fwhm_arcsec : float
    jacobian : (2, 2) array
        Local pixel-to-sky Jacobian of the frame in arcsec per pixel.
    offset : (float, float)
        Sub-pixel offset of the centre from the stamp centre.
    size : int
        Odd stamp side in pixels.
    """
    import galsim

    from ._psf import MOFFAT_BETA

    beta = structure["position_angle"] * galsim.degrees
    bt = float(structure["bulge_fraction"])
    parts = []
    if bt > 0:
        parts.append(galsim.DeVaucouleurs(half_light_radius=structure["bulge_r50_arcsec"],
                                          flux=bt).shear(q=structure["bulge_axis_ratio"],
                                                         beta=beta))
    if bt < 1:
        parts.append(galsim.Exponential(half_light_radius=structure["disk_r50_arcsec"],
                                        flux=1 - bt).shear(q=structure["axis_ratio"],
                                                           beta=beta))
    galaxy = galsim.Add(parts) if len(parts) > 1 else parts[0]
    psf = galsim.Moffat(beta=MOFFAT_BETA, fwhm=psf_fwhm_arcsec)
    profile = galsim.Convolve(galaxy, psf).withFlux(float(flux))
    (a, b), (c, d) = jacobian
    wcs = galsim.JacobianWCS(a, b, c, d)
    params = galsim.GSParams(maximum_fft_size=16384)
    image = profile.withGSParams(params).drawImage(nx=size, ny=size, wcs=wcs,
                                                   offset=offset, method="auto")
    return image.array.astype(np.float64)
