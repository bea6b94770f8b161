# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.stats import mad_std
from astropy.wcs import WCS

import galssl.datasets as datasets
from galssl.datasets import SAMPLE_FIELD, sample_frames, sample_frames_dir

BANDS = "ugriz"
# Sky centre of the sample (r-band pixel (850, 800) of SDSS frame 003918-3-0213), see
# galssl/datasets/data/PROVENANCE.rst.
CENTRE = SkyCoord(229.530453 * u.deg, 42.743946 * u.deg, frame="icrs")
SHAPE = (320, 320)
# FRAME is the raw (idR) frame number of each band: in the drift scan the filters cross a
# given patch of sky at different times, so only the r-band frame number equals the field
# number 213 of the corrected frames (rows of the camera: r, i, u, z, g).
RAW_FRAME = {"u": 217, "g": 221, "r": 213, "i": 215, "z": 219}


def test_sample_frames_exist_in_band_order():
    paths = sample_frames()
    assert len(paths) == 5
    assert all(isinstance(path, str) for path in paths)
    assert [os.path.basename(path) for path in paths] == [
        f"frame-{band}-{SAMPLE_FIELD}-sample.fits.bz2" for band in BANDS
    ]
    for path in paths:
        assert os.path.isfile(path)
        assert os.path.dirname(path) == sample_frames_dir()


def test_sample_frames_dir():
    assert os.path.isdir(sample_frames_dir())
    assert os.path.isfile(os.path.join(sample_frames_dir(), "PROVENANCE.rst"))


def test_missing_files_raise(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="frame-u-003918-3-0213-sample.fits.bz2"):
        sample_frames()


@pytest.mark.parametrize("band", BANDS)
def test_sample_frame_content(band):
    path = sample_frames()[BANDS.index(band)]
    with fits.open(path) as hdul:
        assert len(hdul) == 1
        header = hdul[0].header
        data = hdul[0].data

    # Original SDSS keywords are carried over.
    assert header["FILTER"].strip() == band
    assert header["RUN"] == 3918
    assert header["CAMCOL"] == 3
    assert header["FRAME"] == RAW_FRAME[band]
    assert header["RERUN"].strip() == "301"
    assert header["BUNIT"] == "nanomaggy"
    assert header["NMGY"] > 0
    assert "make_sample.py" in str(header["HISTORY"])
    # The deprecated RADECSYS is replaced by RADESYS, so astropy.wcs raises no warning.
    assert "RADECSYS" not in header
    assert header["RADESYS"] == "ICRS"

    # Real, sky-subtracted SDSS pixels in nanomaggies, stored as in SDSS (big-endian float32).
    assert data.shape == SHAPE
    assert data.dtype == np.dtype(">f4")
    assert np.all(np.isfinite(data))
    noise = mad_std(data)
    assert 0.005 < noise < 0.5
    assert abs(np.median(data)) < 0.5 * noise
    assert data.max() > 1.0  # the bright galaxy pair is in every band

    wcs = WCS(header)
    assert wcs.has_celestial
    assert wcs.pixel_shape == (SHAPE[1], SHAPE[0])
    scale = np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600
    assert scale == pytest.approx(0.396, abs=0.001)


def test_bands_share_the_sky_centre():
    # The bands are cut with their own WCS around the same sky position: the centre falls
    # within half a pixel of the middle of every band's image (integer-pixel slices).
    for path in sample_frames():
        wcs = WCS(fits.getheader(path))
        x, y = wcs.world_to_pixel(CENTRE)
        assert 0 <= x < SHAPE[1] and 0 <= y < SHAPE[0]
        assert abs(x - (SHAPE[1] - 1) / 2) <= 0.5 + 1e-6
        assert abs(y - (SHAPE[0] - 1) / 2) <= 0.5 + 1e-6
