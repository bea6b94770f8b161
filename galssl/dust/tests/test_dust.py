# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn, QTable, Table
from numpy.testing import assert_allclose

from galssl.dust import (SFD98_SDSS, bundled_sfd_map_path, ebv_for, effective_wavelengths,
                         extinction_coefficients, sfd_healpix_ebv)
from galssl.tests.helpers import requires_shared_data, shared_data_dir


def test_sf11_coefficients_match_table6():
    assert_allclose(extinction_coefficients(), [4.239, 3.303, 2.285, 1.698, 1.263])
    assert_allclose(extinction_coefficients("ugriz", r_v=2.1),
                    [5.419, 3.843, 2.255, 1.583, 1.211])
    assert_allclose(extinction_coefficients("zu", r_v=5.1), [1.300, 3.419])
    assert_allclose(extinction_coefficients(["g", "r"], law="SFD98"), [3.793, 2.751])


@requires_shared_data
def test_sf11_coefficients_match_the_journal_table_file():
    path = os.path.join(shared_data_dir(), "dust", "schlafly_finkbeiner_2011_table6.txt")
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.split("\t")
            if parts[0].startswith("SDSS "):
                rows[parts[0][-1]] = [float(v) for v in parts[1:6]]
    for r_v, col in ((2.1, 1), (3.1, 2), (4.1, 3), (5.1, 4)):
        assert_allclose(extinction_coefficients("ugriz", r_v=r_v),
                        [rows[b][col] for b in "ugriz"])
    assert_allclose(effective_wavelengths("ugriz").to_value(u.AA), [rows[b][0] for b in "ugriz"])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(bands="ugrizy"), ValueError, "unknown band"),
    (dict(bands=""), ValueError, "at least one band"),
    (dict(bands="gg"), ValueError, "repeats"),
    (dict(bands=5), TypeError, "bands must be"),
    (dict(law="CCM89"), ValueError, "law must be"),
    (dict(r_v=3.3), ValueError, "r_v"),
    (dict(law="SFD98", r_v=2.1), ValueError, "r_v=3.1 only"),
    (dict(r_v="x"), TypeError, "r_v must be a number"),
])
def test_coefficient_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        extinction_coefficients(**kwargs)


def test_bundled_map_is_the_sfd_healpix_file():
    with fits.open(bundled_sfd_map_path()) as hdul:
        assert hdul[1].header["NSIDE"] == 64
        assert hdul[1].header["ORDERING"] == "RING"
        assert len(hdul[1].data) == 12 * 64**2


def test_ebv_map_physics():
    # The Galactic poles are nearly dust free; the Galactic plane towards the centre is not.
    poles = SkyCoord(l=[0, 0] * u.deg, b=[90, -90] * u.deg, frame="galactic")
    plane = SkyCoord(l=[10.0] * u.deg, b=[0.5] * u.deg, frame="galactic")
    assert np.all(sfd_healpix_ebv(poles) < 0.05)
    assert sfd_healpix_ebv(plane)[0] > 1.0
    # the map is continuous: nearby points agree closely
    a = sfd_healpix_ebv(SkyCoord(180.0, 30.0, unit="deg"))
    b = sfd_healpix_ebv(SkyCoord(180.01, 30.01, unit="deg"))
    assert_allclose(a, b, rtol=0.02)


def test_ebv_source_order_per_row():
    t = Table({"ra": [10.0, 20.0, 30.0, 40.0], "dec": [5.0, 6.0, 7.0, np.nan],
               "ebv": MaskedColumn([0.1, np.nan, 0.3, 0.0], mask=[False, False, True, False]),
               "extinction_r": [9.0, 2.751 * 0.05, 2.751 * 0.07, 1.0]})
    out = ebv_for(t)
    assert len(out) == 4
    assert out["ebv_source"].tolist() == ["column", "extinction", "extinction", "column"]
    assert_allclose(out["ebv"], [0.1, 0.05, 0.07, 0.0])


def test_ebv_extinction_vector_column_and_forced_sources():
    t = Table({"RA": [150.0], "DEC": [2.0]})
    t["EXTINCTION"] = [[5.155, 3.793, 2.751, 2.086, 1.479]]
    out = ebv_for(t)
    assert out["ebv_source"][0] == "extinction"
    assert_allclose(out["ebv"], [1.0])
    forced = ebv_for(t, source="sfd_healpix")
    assert forced["ebv_source"][0] == "sfd_healpix"
    assert_allclose(forced["ebv"], sfd_healpix_ebv(SkyCoord(150.0, 2.0, unit="deg")))
    with pytest.raises(ValueError, match="needs a column 'ebv'"):
        ebv_for(t, source="column")


def test_ebv_rows_without_coordinates_are_kept_and_marked():
    out = ebv_for(Table({"ra": [10.0, np.nan, 10.0], "dec": [5.0, 5.0, 95.0]}))
    assert out["ebv_source"].tolist() == ["sfd_healpix", "none", "none"]
    assert np.isfinite(out["ebv"][0]) and np.all(np.isnan(out["ebv"][1:]))


def test_ebv_skycoord_in_other_frames_and_scalar():
    icrs = SkyCoord([229.54, 38.58], [42.76, -7.04], unit="deg")
    gal = icrs.galactic
    assert_allclose(ebv_for(gal)["ebv"], ebv_for(icrs)["ebv"])
    assert len(ebv_for(icrs[0])) == 1


def test_ebv_input_errors():
    with pytest.raises(TypeError, match="Table/QTable or a SkyCoord"):
        ebv_for([1, 2])
    with pytest.raises(ValueError, match="source must be one of"):
        ebv_for(Table({"ra": [1.0], "dec": [1.0]}), source="planck")
    with pytest.raises(ValueError, match="no 'dec' column"):
        ebv_for(Table({"ra": [1.0], "decl": [1.0]}))
    with pytest.raises(TypeError, match="column 'ebv' must be numeric"):
        ebv_for(Table({"ra": [1.0], "dec": [1.0], "ebv": ["a"]}))
    with pytest.raises(ValueError, match="not an angle"):
        ebv_for(QTable({"ra": [1.0] * u.m, "dec": [1.0] * u.deg}))


def test_dustmaps_without_maps_is_skipped_and_forcing_it_explains(monkeypatch, tmp_path):
    pytest.importorskip("dustmaps")
    from dustmaps.config import config

    # an empty map directory, set in memory only (dustmaps' __setitem__ would save to disk)
    monkeypatch.setattr(config, "_options", {"data_dir": str(tmp_path)})
    coords = SkyCoord([10.0], [5.0], unit="deg")
    assert ebv_for(coords)["ebv_source"][0] == "sfd_healpix"
    with pytest.raises(RuntimeError, match="dustmaps"):
        ebv_for(coords, source="dustmaps")
    assert config._options == {"data_dir": str(tmp_path)}  # galssl changed nothing


@requires_shared_data
def test_bundled_map_agrees_with_sdss_pipeline_extinction():
    t = Table.read(os.path.join(shared_data_dir(), "catalogs", "sdss_galaxies_specz_10k.fits"))
    pipeline = ebv_for(t)
    assert set(pipeline["ebv_source"]) == {"extinction"}
    assert_allclose(pipeline["ebv"], t["EXTINCTION"][:, 2] / SFD98_SDSS["r"])
    ratio = ebv_for(t, source="sfd_healpix")["ebv"] / pipeline["ebv"]
    assert abs(np.median(ratio) - 1.0) < 0.02
    assert np.std(ratio) < 0.2
