# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest

from galssl.dust import effective_wavelengths, extinction_coefficients
from galssl.surveys import (SURVEYS, Band, Survey, band_label, get_survey, list_surveys,
                            parse_band, parse_bands, register_survey)


def test_the_surveys_of_our_users_are_described():
    assert {"sdss", "legacy-south", "legacy-north", "hsc", "des", "rubin"} <= set(SURVEYS)
    hsc = get_survey("hsc")
    assert hsc.band_names == ("hsc-g", "hsc-r", "hsc-i", "hsc-z", "hsc-y")
    assert hsc.pixel_scale == 0.168 and hsc.zero_point == 27.0
    # one HSC coadd count is 10^(-0.4 x 4.5) nanomaggies: a 27 mag zero point
    assert hsc.to_nanomaggies == pytest.approx(10 ** (-0.4 * 4.5))
    assert get_survey("rubin").flux_unit == "nJy"
    # 1 nJy = 10^(-0.4 (31.4 - 22.5)) nanomaggies: 3631 Jy = 10^9 nanomaggy
    assert get_survey("rubin").to_nanomaggies == pytest.approx(1e9 / 3631e9, rel=1e-3)
    assert get_survey("sdss").to_nanomaggies == 1.0
    assert get_survey("legacy-north").band("z").name == "mzls-z"
    for s in SURVEYS.values():  # bands in wavelength order, coefficients falling with it
        lam = [b.wavelength for b in s.bands]
        assert lam == sorted(lam), s.name
        assert np.all(np.diff([b.extinction for b in s.bands]) < 0), s.name
    t = list_surveys()
    assert set(t["name"]) == set(SURVEYS) and t["pixel_scale"].unit == "arcsec"


def test_band_names_are_survey_qualified_and_bare_ugriz_stays_sdss():
    assert parse_bands("ugriz") == tuple("ugriz")
    assert parse_bands(["g", "r"]) == ("g", "r")
    assert parse_bands("hsc-g,hsc-r") == ("hsc-g", "hsc-r")
    assert parse_bands("decam-g decam-z") == ("decam-g", "decam-z")
    assert parse_bands("rubin") == get_survey("rubin").band_names
    assert parse_band("u") is parse_band("sdss-u")
    assert parse_band("decam-r").system == "decam" and parse_band("des-Y").filter == "Y"
    # DES's standard g and the Legacy Surveys' DECam g are different bands
    assert parse_band("des-g") != parse_band("decam-g")
    assert band_label("ugriz") == "ugriz"
    assert band_label(["hsc-g", "hsc-r"]) == "hsc-g,hsc-r"
    assert parse_bands(band_label(["hsc-g", "hsc-r"])) == ("hsc-g", "hsc-r")
    with pytest.raises(ValueError, match=r"unknown band\(s\) \['hsc-q'\]"):
        parse_bands("hsc-g,hsc-q")
    with pytest.raises(ValueError, match="repeats a band"):
        parse_bands(["r", "sdss-r"])
    with pytest.raises(ValueError, match="unknown band"):
        parse_bands("ugrizy")  # y is not an SDSS band: name it hsc-y or lsst-y
    with pytest.raises(TypeError, match="band names"):
        parse_bands([1, 2])
    with pytest.raises(KeyError, match="no survey named 'euclid'.*register_survey"):
        get_survey("euclid")


def test_extinction_and_wavelengths_follow_the_band():
    # reddening by dE(B-V) changes a band ratio by exactly 10^(-0.4 dE (R_b - R_b'))
    r = extinction_coefficients(["hsc-g", "hsc-i"])
    np.testing.assert_array_equal(r, [3.240, 1.633])
    d_ebv = 0.2
    flux = np.array([10.0, 20.0]) * 10 ** (-0.4 * d_ebv * r)
    assert flux[0] / flux[1] == pytest.approx(0.5 * 10 ** (-0.4 * d_ebv * (r[0] - r[1])),
                                              rel=1e-12)
    np.testing.assert_array_equal(extinction_coefficients("legacy-north"),
                                  [3.258, 2.176, 1.199])
    assert effective_wavelengths(["lsst-u"]).value[0] == pytest.approx(3745.7)
    with pytest.raises(ValueError, match="r_v=3.1 only"):
        extinction_coefficients(["hsc-g"], r_v=2.1)
    with pytest.raises(ValueError, match="r_v=3.1 only"):
        extinction_coefficients(["hsc-g"], law="SFD98")


def test_an_astronomer_describes_a_survey_in_a_few_lines():
    vis = Band("myscope-VIS", wavelength=7150.0, width=3400.0, extinction=2.0)
    y = Band("myscope-Y", wavelength=10800.0, width=2600.0, extinction=0.9)
    mine = Survey(name="myscope", title="a private camera", bands=(vis, y), pixel_scale=0.3,
                  flux_unit="uJy", zero_point=23.9, psf_fwhm=0.8, reference_band="myscope-VIS")
    try:
        register_survey(mine)
        assert parse_bands("myscope") == ("myscope-VIS", "myscope-Y")
        np.testing.assert_array_equal(extinction_coefficients("myscope-VIS,myscope-Y"),
                                      [2.0, 0.9])
        assert mine.to_nanomaggies == pytest.approx(10 ** (-0.4 * 1.4))  # 1 uJy in nmgy
        with pytest.raises(ValueError, match="is known already"):
            register_survey(mine)
        clash = Survey(name="other", title="x", pixel_scale=1.0, flux_unit="nanomaggy",
                       zero_point=22.5, psf_fwhm=1.0, reference_band="hsc-g",
                       bands=(Band("hsc-g", 4800.0, 1000.0, 3.0),))
        with pytest.raises(ValueError, match="already defined differently"):
            register_survey(clash)
    finally:
        SURVEYS.pop("myscope", None)
    with pytest.raises(ValueError, match="reference_band"):
        Survey(name="bad", title="x", bands=(vis,), pixel_scale=0.3, flux_unit="uJy",
               zero_point=23.9, psf_fwhm=0.8, reference_band="r")
    with pytest.raises(ValueError, match="pixel_scale must be a positive"):
        Survey(name="bad", title="x", bands=(vis,), pixel_scale=-1, flux_unit="uJy",
               zero_point=23.9, psf_fwhm=0.8, reference_band="myscope-VIS")
    with pytest.raises(ValueError, match="repeats a band"):
        Survey(name="bad", title="x", bands=(vis, vis), pixel_scale=0.3, flux_unit="uJy",
               zero_point=23.9, psf_fwhm=0.8, reference_band="myscope-VIS")
    with pytest.raises(ValueError, match="survey name"):
        Survey(name="Bad Name", title="x", bands=(vis,), pixel_scale=0.3, flux_unit="uJy",
               zero_point=23.9, psf_fwhm=0.8, reference_band="myscope-VIS")
