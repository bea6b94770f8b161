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


def test_extinction_augment_and_dereddening_use_the_survey_coefficients():
    """Dereddening HSC images by E(B-V) multiplies each band by exactly 10^(0.4 E R_b) with
    HSC's R_b, and an extinction draw changes every band ratio by
    10^(-0.4 dE (R_b - R_b')) for one dE per object."""
    import torch

    from galssl.augment import ExtinctionAugment

    bands = "hsc-g,hsc-r,hsc-i,hsc-z,hsc-y"
    r = np.array([3.240, 2.276, 1.633, 1.263, 1.075])
    x = torch.ones(4, 5, 6, 6)
    ebv = torch.tensor([0.0, 0.05, 0.1, 0.3])
    dered = ExtinctionAugment(0.0, bands=bands)(x, ebv=ebv)
    np.testing.assert_allclose(dered[:, :, 0, 0].numpy(),
                               10 ** (0.4 * ebv.numpy()[:, None] * r[None, :]), rtol=1e-6)
    aug = ExtinctionAugment(0.5, bands=bands, deredden=False)
    out = aug(x, generator=torch.Generator().manual_seed(1))[:, :, 0, 0].numpy()
    d_ebv = -2.5 * np.log10(out[:, 0]) / r[0]  # the draw, from the g band
    assert np.all((d_ebv >= 0) & (d_ebv <= 0.5)) and np.ptp(d_ebv) > 0
    for j in range(1, 5):
        np.testing.assert_allclose(out[:, 0] / out[:, j],
                                   10 ** (-0.4 * d_ebv * (r[0] - r[j])), rtol=1e-5)


def test_catalogues_default_to_their_survey_pixel_scale():
    from astropy.table import Table

    from galssl.cutouts import CutoutCatalog

    images = np.zeros((2, 3, 8, 8), np.float32)
    t = Table({"ra": [1.0, 2.0], "dec": [0.0, 0.0]})
    assert CutoutCatalog(t, images, bands="gri").pixel_scale == 0.396
    assert CutoutCatalog(t, images, bands="hsc-g,hsc-r,hsc-i").pixel_scale == 0.168
    assert CutoutCatalog(t, images, bands="decam-g,decam-r,decam-z").pixel_scale == 0.262
    with pytest.raises(ValueError, match="several surveys: pass pixel_scale="):
        CutoutCatalog(t, images, bands="hsc-g,decam-r,decam-z")
    mixed = CutoutCatalog(t, images, bands="hsc-g,decam-r,decam-z", pixel_scale=0.2)
    assert mixed.bands == ("hsc-g", "decam-r", "decam-z") and mixed.pixel_scale == 0.2


def test_an_encoder_takes_another_survey_s_bands(tmp_path):
    """An encoder on HSC bands: the asinh softenings are SDSS's interpolated at the HSC
    wavelengths (SDSS's own stay exact), it encodes, and its checkpoint keeps the bands."""
    from galssl import ContrastiveEncoder
    from galssl.nn import ASINH_SOFTENING
    from galssl.nn._backbones import band_softenings

    assert band_softenings("ugriz") == [ASINH_SOFTENING[b] for b in "ugriz"]
    assert band_softenings(["sdss-r"]) == [ASINH_SOFTENING["r"]]
    hsc = band_softenings("hsc")
    # between the SDSS values of the neighbouring bands (g < r in wavelength: 0.09, 0.12)
    assert 0.09 < hsc[0] < 0.12 and ASINH_SOFTENING["z"] == pytest.approx(hsc[3], rel=0.05)
    assert hsc[4] == ASINH_SOFTENING["z"]  # y, beyond z: held at z's
    enc = ContrastiveEncoder(arch="resnet10-small", bands="hsc-g,hsc-r,hsc-i", in_chans=3,
                             crop=32)
    reps = enc.encode(np.random.default_rng(0).random((2, 3, 40, 40), np.float32),
                      progress=False)
    assert reps.shape == (2, enc.num_features) and np.isfinite(reps).all()
    enc.save(tmp_path / "hsc.pt")
    back = ContrastiveEncoder.load(tmp_path / "hsc.pt")
    assert back.bands == ("hsc-g", "hsc-r", "hsc-i")
    assert back.config["bands"] == "hsc-g,hsc-r,hsc-i"
    with pytest.raises(ValueError, match="in_chans=5 but bands='hsc-g,hsc-r,hsc-i' names 3"):
        ContrastiveEncoder(bands="hsc-g,hsc-r,hsc-i", in_chans=5)


def test_pixel_scales_come_from_the_bands_survey():
    """No SDSS 0.396" literal left in the layers that measure in arcsec: the photometry
    target's apertures, the PSF augmentation and the tiling take the bands' survey's pixel
    scale when none is given, so HSC views get 0.396 / 0.168 = 2.36 times wider apertures
    in pixels and a 2.36 times wider blur; bands of several surveys need it given."""
    import numpy as np
    import pytest
    import torch

    from galssl.augment import PSFAugment
    from galssl.nn import PhotometryHead
    from galssl.nn._photometry import photometry_apertures
    from galssl.surveys import pixel_scale_of

    assert photometry_apertures("ugriz", 24) == [1.5, 3.0]
    assert photometry_apertures("hsc-g,hsc-r,hsc-i", 24) == [1.5]   # 3" is 36 HSC pixels
    sdss = PhotometryHead(8, "gri", 64)
    hsc = PhotometryHead(8, "hsc-g,hsc-r,hsc-i", 64)
    # aperture area in pixels scales with (0.396 / 0.168)^2 for the 1.5" aperture
    ratio = float(hsc.masks[:, 0].sum() / sdss.masks[:, 0].sum())
    assert ratio == pytest.approx((0.396 / 0.168) ** 2, rel=0.05)
    x = torch.zeros(1, 3, 41, 41)
    x[..., 20, 20] = 1.0
    width = []
    for bands in ("gri", "hsc-g,hsc-r,hsc-i"):
        blurred = PSFAugment(bands=bands).blur(x, torch.tensor([1.0]))
        profile = blurred[0, 1, 20].numpy()
        width.append(np.sqrt((profile * (np.arange(41) - 20) ** 2).sum() / profile.sum()))
    assert width[1] / width[0] == pytest.approx(0.396 / 0.168, rel=0.02)
    with pytest.raises(ValueError, match="come from several surveys: pass pixel_scale"):
        pixel_scale_of(["hsc-g", "decam-r"])
    assert PhotometryHead(8, ["hsc-g", "decam-r"], 64, pixel_scale=0.2).masks.shape[1] == 3
