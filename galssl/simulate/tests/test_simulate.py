# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os
import sys

import numpy as np
import pytest
from astropy.table import Table

from galssl.simulate import galaxy_structure, measure_psf, read_photometry, shen03_r50_kpc
from galssl.tests.helpers import requires_shared_data, shared_data_dir

pytest.importorskip("galsim")

FIELD = "003918-3-0213"


def _catalog(n=None):
    t = Table.read(os.path.join(shared_data_dir(), "catalogs", "sdss_galaxies_specz_10k.fits"))
    t = t[np.all(t["MODELFLUX"] > 0, axis=1)]
    return t if n is None else t[:n]


def _field():
    from galssl.cutouts import find_frames, group_fields

    return group_fields(find_frames(os.path.join(shared_data_dir(), "sdss_frames", FIELD)))[
        FIELD]


def test_read_photometry_errors_name_columns_and_rows():
    t = Table({"mag_u": [18.0, 19.0, 20.0], "mag_g": [17.0, 17.5, 18.0],
               "mag_r": [16.5, 17.0, 17.5], "mag_i": [16.2, 16.8, 17.2],
               "mag_z": [16.0, 16.6, 17.0], "redshift": [0.1, -0.2, np.nan]})
    with pytest.raises(ValueError, match=r"bad rows \[1, 2\]"):
        read_photometry(t)
    t["redshift"] = [0.1, 0.2, 0.05]
    flux, z, ebv = read_photometry(t)
    np.testing.assert_allclose(flux[:, 2], 10 ** (-0.4 * (np.array([16.5, 17.0, 17.5]) - 22.5)))
    assert np.all(ebv == 0)
    t["mag_g"][1] = np.inf
    with pytest.raises(ValueError, match=r"fluxes must be finite and > 0.*\[1\]"):
        read_photometry(t)
    with pytest.raises(ValueError, match="no photometry found"):
        read_photometry(Table({"redshift": [0.1]}))
    with pytest.raises(ValueError, match=r"magnitude columns \['r'\]"):
        read_photometry(t, mag_columns=["mag_u", "mag_g", "r", "mag_i", "mag_z"])
    with pytest.raises(ValueError, match="redshift column 'Z'"):
        read_photometry(t, redshift="Z")


def test_sdss_extinction_columns_give_the_source_reddening():
    t = Table({"MODELFLUX": [[10.0, 20.0, 30.0, 40.0, 50.0]], "Z": [0.1],
               "EXTINCTION": [[0.5155, 0.3793, 0.2751, 0.2086, 0.1479]]})
    flux, z, ebv = read_photometry(t, redshift="Z")
    np.testing.assert_allclose(ebv, [0.1])


def test_missing_galsim_is_named(monkeypatch):
    from galssl.simulate import inject_galaxies

    monkeypatch.setitem(sys.modules, "galsim", None)
    with pytest.raises(ImportError,
                       match=r"pip install galsim .or galssl.s extra: pip install .\.\[sim\]."):
        inject_galaxies(Table({"redshift": [0.1]}), "nowhere")


def test_structure_follows_the_size_luminosity_relation():
    from astropy.cosmology import Planck18

    rng = np.random.default_rng(0)
    n = 4000
    z = np.full(n, 0.1)
    s = galaxy_structure(z, np.full(n, 17.0), np.r_[np.full(n // 2, 2.8), np.full(n // 2, 1.8)],
                         rng, cosmology=Planck18)
    red, blue = slice(0, n // 2), slice(n // 2, n)
    assert np.mean(s["bulge_fraction"][red] > 0.5) > 0.9
    assert np.mean(s["bulge_fraction"][blue] < 0.5) > 0.99
    # median size at fixed magnitude follows Shen et al. (2003)
    early = s["bulge_fraction"] > 0.5
    expected = shen03_r50_kpc(s["abs_mag_r"][0], True)
    assert abs(np.median(s["r50_kpc"][early]) / expected - 1) < 0.05
    # brighter means bigger, farther means smaller on the sky
    assert shen03_r50_kpc(-22.0, False) > shen03_r50_kpc(-19.0, False)
    s2 = galaxy_structure(np.full(n, 0.3), np.full(n, 17.0), np.full(n, 1.8), rng,
                          cosmology=Planck18)
    assert np.median(s2["r50_kpc"]) > np.median(s["r50_kpc"][blue])
    assert np.all((s["axis_ratio"] >= 0.15) & (s["axis_ratio"] <= 1))


def test_rendered_galaxy_has_the_drawn_half_light_radius():
    """The whole bulge + disk (face on, no PSF) has the relation's half-light radius."""
    import galsim

    from galssl.simulate import render_stamp

    for bt in (0.0, 0.15, 0.75, 1.0):
        from galssl.simulate._galaxies import _disk_scale

        disk = 2.0 * _disk_scale(bt)
        s = {"bulge_fraction": bt, "disk_r50_arcsec": disk, "bulge_r50_arcsec": 0.5 * disk,
             "axis_ratio": 1.0, "bulge_axis_ratio": 1.0, "position_angle": 0.0}
        img = render_stamp(1.0, s, 1e-3, np.eye(2) * 0.25, (0.0, 0.0), 801)
        hlr = galsim.Image(img, scale=0.25).calculateHLR()
        assert abs(hlr / 2.0 - 1) < 0.03, (bt, hlr)


@requires_shared_data
def test_psf_fwhm_is_sdss_like_and_matches_a_direct_fit():
    import sep
    from photutils.psf import fit_fwhm

    from galssl.cutouts._frames import read_frame_data

    field = _field()
    for band in "ugriz":
        frame = field.frames[band]
        data = read_frame_data(frame)
        psf = measure_psf(data, frame)
        assert 0.8 < psf["fwhm_arcsec"] < 2.0 and psf["n_stars"] >= 5
        sub = data - sep.Background(data).back()
        direct = np.median(fit_fwhm(sub, xypos=psf["xy"][:30], fit_shape=11)) * 0.396
        # a Gaussian fitted to the Moffat core is ~10 % wider
        assert 0.8 < psf["fwhm_arcsec"] / direct < 1.0, (band, psf["fwhm_arcsec"], direct)


@requires_shared_data
def test_injected_flux_is_recovered_and_sky_is_empty():
    """Forced photometry on (injected - original) frames returns the input flux."""
    import sep
    from astropy.cosmology import Planck18

    from galssl.simulate._inject import (_empty_sky_positions, _frame_pixels,
                                         _inject_into_frames)

    field = _field()
    cat = _catalog(40)
    flux, z, ebv = read_photometry(cat, redshift="Z")
    rng = np.random.default_rng(1)
    mag0 = 22.5 - 2.5 * np.log10(flux)
    props = galaxy_structure(z, mag0[:, 2], mag0[:, 0] - mag0[:, 2], rng, cosmology=Planck18)
    psf = {b: measure_psf(_frame_pixels(field.frames[b]), field.frames[b])["fwhm_pix"]
           for b in "ugriz"}
    rows, ra, dec, injected, ebv_new, props_k, modified = _inject_into_frames(
        (field, np.arange(40), flux, ebv, props, 5, 107, tuple("ugriz"), psf))
    assert len(rows) == 40
    # in every band, not only r: each band's frame holds that band's injected flux
    for j, band in enumerate("ugriz"):
        frame = field.frames[band]
        diff = modified[frame.path].astype(np.float64) - _frame_pixels(frame)
        x, y = frame.pixel(ra, dec)
        radius = np.clip(6 * props_k["disk_r50_arcsec"] / 0.396 + 3 * psf[band], 15, 200)
        measured = np.array([sep.sum_circle(diff, [x[k]], [y[k]], radius[k])[0][0]
                             for k in range(len(x))])
        dmag = -2.5 * np.log10(measured / injected[:, j])
        bright = 22.5 - 2.5 * np.log10(injected[:, j]) < 18.5
        assert bright.sum() >= 5, band
        assert abs(np.median(dmag[bright])) < 0.03, (band, np.median(dmag[bright]))
    frame = field.frames["r"]
    x, y = frame.pixel(ra, dec)
    # injected galaxies sit on empty sky: no pixel of a source detected in the original
    # frame within 3 half-light radii of a centre, and no two cutouts share their centre
    data = _frame_pixels(frame)
    bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
    _, seg = sep.extract(data - bkg.back(), 1.5, err=bkg.rms(), minarea=5,
                         segmentation_map=True)
    from scipy.ndimage import distance_transform_edt

    clear = distance_transform_edt(seg == 0)
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    need = np.clip(3 * props_k["r50_arcsec"] / 0.396, 6, 53)
    assert np.all(clear[yi, xi] > need - 1)
    sep_px = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) + np.eye(len(x)) * 1e9
    assert sep_px.min() >= 107
    assert len(_empty_sky_positions(data, frame, field, 5, 107, np.full(5, 10.0),
                                    np.random.default_rng(5), 107)) == 5


@requires_shared_data
def test_inject_galaxies_truth_table_and_determinism(tmp_path):
    from galssl.cutouts import find_frames
    from galssl.simulate import inject_galaxies

    frames = os.path.join(shared_data_dir(), "sdss_frames", FIELD)
    cat = _catalog(12)
    a = inject_galaxies(cat, frames, redshift="Z", seed=3, per_round=6, progress=False)
    b = inject_galaxies(cat, frames, redshift="Z", seed=3, per_round=6, progress=False)
    assert len(a) == 12 and a.images.shape == (12, 5, 107, 107)
    np.testing.assert_array_equal(a.images, b.images)
    t = a.table
    np.testing.assert_allclose(t["redshift"], cat["Z"])
    assert set(t["field"]) == {FIELD} and np.all(t["flags"] == 0)
    for col in ("bulge_fraction", "r50_arcsec", "axis_ratio", "position_angle", "psf_fwhm_r",
                "smooth", "edge_on", "ebv", "mag_r", "source_ebv"):
        assert col in t.colnames
    # the injected fluxes are the catalogue's, re-reddened for the new position with the
    # SF11 (R_V = 3.1) coefficients, in every band
    for j, (band, r) in enumerate(zip("ugriz", (4.239, 3.303, 2.285, 1.698, 1.263))):
        expected = cat["MODELFLUX"][:, j] * 10 ** (-0.4 * r * (t["ebv"] - t["source_ebv"]))
        np.testing.assert_allclose(t[f"flux_{band}"], expected, rtol=2e-4, err_msg=band)
    # the galaxy is at the centre of its cutout: r-band light centroid within 1 pixel
    img = a.images[:, 2] - np.median(a.images[:, 2], axis=(1, 2), keepdims=True)
    yy, xx = np.mgrid[:107, :107] - 53
    w = np.clip(img, 0, None) * (np.hypot(xx, yy) < 6)
    cx = (w * xx).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    cy = (w * yy).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    assert np.median(np.hypot(cx, cy)) < 1.0
    c = inject_galaxies(cat, frames, redshift="Z", seed=4, per_round=6, progress=False)
    assert not np.array_equal(c.images, a.images)
    assert len(find_frames(frames)) == 5  # the frames on disk are untouched


def test_mask_mode_flags_rows_instead_of_raising():
    t = Table({"MODELFLUX": [[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, -2.0, 3.0, 4.0, 5.0],
                             [1.0, 2.0, 3.0, 4.0, 5.0]], "Z": [0.1, 0.1, np.nan]})
    *_, good = read_photometry(t, redshift="Z", errors="mask")
    assert good.tolist() == [True, False, False]


@requires_shared_data
def test_galaxies_without_room_go_into_further_rounds():
    from galssl.simulate import inject_galaxies

    frames = os.path.join(shared_data_dir(), "sdss_frames", FIELD)
    # 501-pixel cutouts 501 pixels apart: one field holds only a few per round
    out = inject_galaxies(_catalog(8), frames, redshift="Z", size=501, per_round=8,
                          progress=False)
    assert len(out) == 8 and np.all(np.isfinite(out.table["ra"]))
    xy = np.c_[out.table["ra"].value * np.cos(np.deg2rad(42.76)), out.table["dec"].value]
    close = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) * 3600 / 0.396 < 501
    assert close.sum() > 8  # some share the sky: they came from different rounds


@requires_shared_data
def test_galaxies_that_never_find_room_are_kept_flagged(monkeypatch):
    # rows in = rows out: a galaxy with no empty sky anywhere is a flagged row, not an error
    # at the end of the run (which lost a 35-minute injection of 16,000 galaxies)
    from astropy.utils.exceptions import AstropyUserWarning

    import galssl.simulate._inject as inj
    from galssl.cutouts import CutoutFlag
    from galssl.simulate import inject_galaxies

    real = inj._empty_sky_positions

    def crowded(data_r, frame_r, field, n, size, radii_pix, rng, min_sep):
        # rows whose drawn radius is large never fit (as very large galaxies in a busy field)
        pos = real(data_r, frame_r, field, n, size, radii_pix, rng, min_sep)
        fit = np.flatnonzero(radii_pix[:len(pos)] < np.median(radii_pix))
        return pos[:fit[0]] if len(fit) and fit[0] < len(pos) else pos[:0]

    monkeypatch.setattr(inj, "_empty_sky_positions", crowded)
    frames = os.path.join(shared_data_dir(), "sdss_frames", FIELD)
    with pytest.warns(AstropyUserWarning, match=r"no empty sky found for \d+ of 6 galaxies"):
        out = inject_galaxies(_catalog(6), frames, redshift="Z", size=51, per_round=6,
                              progress=False)
    assert len(out) == 6
    lost = (np.asarray(out.table["flags"]) & int(CutoutFlag.OFF_FRAMES)) != 0
    assert lost.any() and np.isnan(np.asarray(out.images)[lost]).all()
    assert np.isfinite(np.asarray(out.images)[~lost]).all()
