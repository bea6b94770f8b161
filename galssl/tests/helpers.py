# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Test helpers: synthetic SDSS-like frames built in code, and the shared real data folder."""

import os

import numpy as np
import pytest

__all__ = ["shared_data_dir", "requires_shared_data", "make_frames", "SOURCES"]

#: Synthetic point sources of `make_frames`: (ra, dec, r-band flux in nanomaggies).
SOURCES = [(150.0, 2.0, 50.0), (150.006, 2.004, 20.0), (149.996, 1.997, 8.0)]
_CENTRE = (150.0, 2.0)
_SCALE = 0.396 / 3600.0
# Per-band offsets of the frame WCS (pixels in x, y) and rotation (deg): SDSS bands of one
# field are not pixel-aligned, and these fixtures are not either.
_BAND_SHIFT = {"u": (3.2, -1.7), "g": (-2.4, 4.1), "r": (0.0, 0.0), "i": (1.3, 2.6),
               "z": (-4.0, -3.3)}
_BAND_ROT = {"u": 0.0, "g": 0.4, "r": 0.0, "i": -0.3, "z": 0.2}


def shared_data_dir():
    """The real SDSS data folder (``$GALSSL_SHARED_DATA`` or ``../shared/data``), or None."""
    candidates = [os.environ.get("GALSSL_SHARED_DATA"),
                  os.path.join(os.getcwd(), "..", "shared", "data"),
                  os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")]
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "README.md")):
            return os.path.abspath(path)
    return None


requires_shared_data = pytest.mark.skipif(shared_data_dir() is None,
                                          reason="the shared SDSS data folder is not present")


def frame_header(band, shape=(160, 200), *, field=(100, 1, 10), crval=_CENTRE):
    """Header of a synthetic SDSS-like frame with a TAN WCS (0.396"/px, rotated per band)."""
    from astropy.io import fits

    ny, nx = shape
    dx, dy = _BAND_SHIFT[band]
    rot = np.deg2rad(_BAND_ROT[band])
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRVAL1"], h["CRVAL2"] = crval
    h["CRPIX1"], h["CRPIX2"] = (nx + 1) / 2 + dx, (ny + 1) / 2 + dy
    h["CD1_1"] = -_SCALE * np.cos(rot)
    h["CD1_2"] = _SCALE * np.sin(rot)
    h["CD2_1"] = _SCALE * np.sin(rot)
    h["CD2_2"] = _SCALE * np.cos(rot)
    h["RADESYS"] = "ICRS"
    h["RUN"], h["CAMCOL"] = field[0], field[1]
    h["FRAME"] = field[2] + {"r": 0, "i": 2, "u": 4, "z": 6, "g": 8}[band]
    h["FILTER"] = band
    h["NMGY"] = 0.005
    h["BUNIT"] = "nanomaggy"
    return h


def render(header, shape, sources, *, sigma_pix=1.5, noise=0.0, seed=0, colour=None):
    """Gaussian sources (integrated flux in nanomaggies) on a frame, plus Gaussian noise."""
    from astropy.wcs import WCS

    ny, nx = shape
    wcs = WCS(header)
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = np.zeros(shape)
    for ra, dec, flux in sources:
        x0, y0 = wcs.world_to_pixel_values(ra, dec)
        f = flux * (1.0 if colour is None else colour)
        image += f / (2 * np.pi * sigma_pix**2) * np.exp(
            -((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma_pix**2))
    rng = np.random.default_rng(seed)
    image += rng.normal(0.0, noise, size=shape) if noise else 0.0
    return image.astype(">f4")


def make_frames(directory, *, bands="ugriz", shape=(160, 200), sources=SOURCES, noise=0.0,
                compress=False, field=(100, 1, 10), crval=_CENTRE, sigma_pix=1.5):
    """Write one synthetic frame per band into ``directory``; return the paths.

    Band b gets the r-band fluxes times 1.1**(index of b - index of r), a simple colour.
    """
    import bz2

    from astropy.io import fits

    os.makedirs(directory, exist_ok=True)
    paths = []
    for k, band in enumerate(bands):
        header = frame_header(band, shape, field=field, crval=crval)
        colour = 1.1 ** ("ugriz".index(band) - 2)
        data = render(header, shape, sources, noise=noise, seed=k, colour=colour,
                      sigma_pix=sigma_pix)
        name = f"frame-{band}-{field[0]:06d}-{field[1]}-{field[2]:04d}.fits"
        path = os.path.join(directory, name)
        fits.PrimaryHDU(data, header).writeto(path, overwrite=True)
        if compress:
            with open(path, "rb") as f, bz2.open(path + ".bz2", "wb") as g:
                g.write(f.read())
            os.remove(path)
            path += ".bz2"
        paths.append(path)
    return paths
