# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Frames of surveys other than SDSS: HSC-SSP cutout files (real, from the shared data) and
the checks on SDSS frames' units."""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galssl.cutouts import CutoutCatalog, find_frames, read_frame_data
from galssl.tests.helpers import frame_header, requires_shared_data, shared_data_dir


def _stars(folder):
    """The star list of the HSC sample (its FITS column names start with '#')."""
    import warnings

    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        return Table.read(os.path.join(folder, "star_cat_correct.fits"))


def _hsc_folder():
    return os.path.join(shared_data_dir(), "surveys", "hyrax-hsc", "tests", "hyrax",
                        "test_data", "small_dataset_hscstars")


@requires_shared_data
def test_hsc_cutout_files_are_read_in_nanomaggies():
    """Ten real HSC-SSP PDR2 i-band cutouts (HDU 1 IMAGE, FLUXMAG0 = 10^(0.4 x 27) in the
    primary header): the image HDU is found by EXTTYPE, the band from the file name, and
    the pixels become nanomaggies; the aperture magnitudes of the catalogue's stars then
    match their HSC PSF magnitudes up to the aperture loss (a wrong zero point would be
    4.5 mag off)."""
    folder = _hsc_folder()
    frames = find_frames(os.path.join(folder, "images"))
    assert len(frames) == 10 and {f.band for f in frames} == {"hsc-i"}
    f = frames[0]
    assert f.hdu == 1 and f.survey == "hsc" and f.pixel_scale == pytest.approx(0.168)
    with fits.open(f.path) as hdul:
        raw = hdul[1].data.astype(np.float64)
        fluxmag0 = hdul[0].header["FLUXMAG0"]
    assert 2.5 * np.log10(fluxmag0) == pytest.approx(27.0, abs=1e-9)
    np.testing.assert_allclose(read_frame_data(f), raw * 10 ** (0.4 * 22.5) / fluxmag0,
                               rtol=1e-6)

    stars = _stars(folder)
    cat = CutoutCatalog.from_table(Table({"ra": stars["ira"], "dec": stars["idec"]}),
                                   os.path.join(folder, "images"), bands=["hsc-i"], size=21,
                                   pixel_scale=0.168, progress=False)
    assert cat.bands == ("hsc-i",) and len(cat) == len(stars)
    assert (np.asarray(cat.table["flags"]) == 0).all()
    # each star from its own file, whose name (without the band) names its field
    assert len(set(cat.table["field"])) == len(stars)
    assert all(name.endswith("-cutout-HSC-*-8279-pdr2_wide") for name in cat.table["field"])
    yy, xx = np.mgrid[:21, :21] - 10
    aperture = np.hypot(xx, yy) <= 8  # 1.34"
    flux = np.nansum(np.where(aperture, cat.images[:, 0], 0.0), axis=(1, 2))
    delta = 22.5 - 2.5 * np.log10(flux) - np.asarray(stars["imag_psf"])
    assert np.all((delta > 0.0) & (delta < 0.15)), delta  # aperture loss, no offset
    assert np.std(delta) < 0.02


@requires_shared_data
def test_hsc_catalogue_files_record_the_qualified_bands(tmp_path):
    folder = _hsc_folder()
    stars = _stars(folder)[:3]
    out = tmp_path / "hsc.h5"
    cat = CutoutCatalog.from_table(Table({"ra": stars["ira"], "dec": stars["idec"]}),
                                   os.path.join(folder, "images"), bands="hsc-i", size=15,
                                   pixel_scale=0.168, out=out, progress=False)
    back = CutoutCatalog.read(out)
    assert back.bands == ("hsc-i",) and back.table.meta["galssl_bands"] == "hsc-i"
    np.testing.assert_array_equal(np.asarray(back.images), np.asarray(cat.images))


def test_sdss_frames_in_raw_counts_are_refused(tmp_path):
    """A frame whose BUNIT says DN (not the calibrated nanomaggies) would be cut about 200
    times too bright: it is refused, naming the file."""
    header = frame_header("r")
    header["BUNIT"] = "DN"
    path = tmp_path / "frame-r-000100-1-0010.fits"
    fits.PrimaryHDU(np.zeros((160, 200), np.float32), header).writeto(path)
    with pytest.raises(ValueError, match=r"frame-r-000100-1-0010\.fits.*BUNIT='DN'"):
        find_frames(path)
    header["BUNIT"] = "nanomaggy"
    fits.PrimaryHDU(np.zeros((160, 200), np.float32), header).writeto(path, overwrite=True)
    (frame,) = find_frames(path)
    assert frame.band == "r" and frame.hdu == 0 and frame.to_nanomaggies == 1.0


def test_qualified_sdss_band_names_find_the_sdss_frames(tmp_path):
    from galssl.tests.helpers import make_frames

    paths = make_frames(tmp_path, bands="gri")
    t = Table({"ra": [150.0], "dec": [2.0]})
    plain = CutoutCatalog.from_table(t, paths, bands="gri", size=11, progress=False)
    qualified = CutoutCatalog.from_table(t, paths, bands=["sdss-g", "sdss-r", "sdss-i"],
                                         size=11, progress=False)
    np.testing.assert_array_equal(qualified.images, plain.images)
    assert qualified.bands == ("sdss-g", "sdss-r", "sdss-i")


def _brick(tmp_path, name, band_scale, *, shape=(120, 120), crval=(150.0, 2.0), scale=0.262,
           keywords=None, seed=0):
    """A synthetic coadd on a TAN grid with one Gaussian source of 100 nanomaggies."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    w.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    w.wcs.cd = [[-scale / 3600, 0], [0, scale / 3600]]
    header = w.to_header()
    for k, v in (keywords or {}).items():
        header[k] = v
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    star = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2))
    data = 100.0 * star / star.sum() / band_scale  # in the file's own unit
    rng = np.random.default_rng(seed)
    data = data + rng.normal(0, 1e-4 / band_scale, shape)
    path = tmp_path / name
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
    return path


def test_any_fits_image_given_its_band(tmp_path):
    """Images of any survey, named by band: their flux scale from BUNIT, a zero-point
    keyword or the survey's zero point; the bands of one pixel grid form one field and the
    source has its 100 nanomaggies in every band."""
    zp = {"des-g": 30.0, "des-r": 30.0}
    files = {
        "des-g": _brick(tmp_path, "tile_g.fits", 10 ** (-0.4 * (30 - 22.5)),
                        keywords={"MAGZERO": 30.0}),
        "des-r": _brick(tmp_path, "tile_r.fits", 10 ** (-0.4 * (30 - 22.5)), seed=1),
        "des-i": _brick(tmp_path, "tile_i.fits", 1.0, keywords={"BUNIT": "nanomaggy"},
                        seed=2),
    }
    assert zp["des-r"] == 30.0  # des-r has no keyword: the DES zero point applies
    frames = find_frames(files)
    assert [f.band for f in frames] == ["des-g", "des-r", "des-i"]
    assert len({f.field for f in frames}) == 1  # one grid, one field
    t = Table({"ra": [150.0], "dec": [2.0]})
    cat = CutoutCatalog.from_table(t, files, bands="des-g,des-r,des-i", size=41,
                                   pixel_scale=0.262, progress=False)
    flux = np.nansum(cat.images[0], axis=(1, 2))
    np.testing.assert_allclose(flux, 100.0, rtol=0.01)
    # resampled onto a coarser grid, the flux is conserved
    coarse = CutoutCatalog.from_table(t, files, bands="des-g,des-r,des-i", size=21,
                                      pixel_scale=0.524, progress=False)
    np.testing.assert_allclose(np.nansum(coarse.images[0], axis=(1, 2)), 100.0, rtol=0.01)
    # Rubin images in nJy (BUNIT)
    njy = {"lsst-r": _brick(tmp_path, "calexp_r.fits", 10 ** (-0.4 * (31.4 - 22.5)),
                            keywords={"BUNIT": "nJy"}, scale=0.2)}
    rubin = CutoutCatalog.from_table(t, njy, bands=["lsst-r"], size=61, pixel_scale=0.2,
                                     progress=False)
    assert np.nansum(rubin.images[0]) == pytest.approx(100.0, rel=0.01)
    with pytest.raises(ValueError, match=r"MAGZERO='thirty' is not a number"):
        find_frames({"des-g": _brick(tmp_path, "bad.fits", 1.0,
                                     keywords={"MAGZERO": "thirty"})})
    with pytest.raises(ValueError, match="unknown band 'des-q'"):
        find_frames({"des-q": files["des-g"]})


@requires_shared_data
def test_cli_cuts_hsc_files_with_survey(tmp_path):
    from galssl.cli import main

    folder = _hsc_folder()
    stars = _stars(folder)
    table = tmp_path / "stars.ecsv"
    Table({"ra": stars["ira"], "dec": stars["idec"]}).write(table)
    out = tmp_path / "hsc.h5"
    args = ["cutouts", os.path.join(folder, "images"), "--table", str(table), "--out",
            str(out), "--survey", "hsc", "--bands", "hsc-i", "--size", "15", "--no-progress"]
    assert main(args) == 0
    cat = CutoutCatalog.read(out)
    assert cat.bands == ("hsc-i",) and cat.pixel_scale == pytest.approx(0.168)
    assert len(cat) == len(stars)
    unknown = [a if a != "hsc" else "euclid" for a in args] + ["--overwrite"]
    assert main(unknown) == 2  # an unknown survey is an error that lists the known ones


def test_a_flipped_byte_in_a_compressed_frame_is_an_error(tmp_path):
    """gzip and bzip2 frames are decompressed whole, so their checksums are verified: one
    flipped byte is an error naming the file, not wrong pixels."""
    import bz2
    import gzip

    from galssl.tests.helpers import make_frames

    (path,) = make_frames(tmp_path / "plain", bands="r", noise=0.05)
    with open(path, "rb") as f:
        raw = f.read()
    for suffix, compress in ((".gz", gzip.compress), (".bz2", bz2.compress)):
        good = tmp_path / f"frame-r-000100-1-0010.fits{suffix}"
        good.write_bytes(compress(raw))
        (frame,) = find_frames(good)
        np.testing.assert_array_equal(read_frame_data(frame),
                                      fits.getdata(path).astype(np.float32))
        data = bytearray(good.read_bytes())
        data[len(data) * 2 // 3] ^= 0x10  # inside the compressed pixels
        good.write_bytes(bytes(data))
        with pytest.raises(OSError, match=f"frame-r-000100-1-0010.fits{suffix}"):
            read_frame_data(frame)
