# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Property-based tests: random tables and coordinates in, documented outcomes only."""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galssl.cutouts import CutoutCatalog, CutoutFlag
from galssl.dust import ebv_for
from galssl.tests.helpers import make_frames

_SPECIAL = [0.0, 360.0, -0.0, 359.9999999, 720.5, -30.0, 150.0, 150.003, 90.0, -90.0, 1e300,
            np.nan, np.inf, -np.inf]
coordinate = st.one_of(st.sampled_from(_SPECIAL),
                       st.floats(allow_nan=True, allow_infinity=True, width=64),
                       st.floats(149.99, 150.01), st.floats(1.99, 2.01))


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return make_frames(tmp_path_factory.mktemp("hyp"), shape=(80, 90))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ra=st.lists(coordinate, max_size=6), dec=st.lists(coordinate, max_size=6))
def test_random_coordinates_give_one_flagged_row_each(frames, ra, dec):
    n = min(len(ra), len(dec))
    t = Table({"ra": np.array(ra[:n], dtype=float), "dec": np.array(dec[:n], dtype=float),
               "row": np.arange(n)})
    cat = CutoutCatalog.from_table(t, frames, size=9, progress=False)
    assert len(cat) == n and cat.images.shape == (n, 5, 9, 9)
    assert cat.table["row"].tolist() == list(range(n))
    bad = ~(np.isfinite(t["ra"]) & np.isfinite(t["dec"]) & (np.abs(t["dec"]) <= 90))
    flags = np.asarray(cat.table["flags"])
    assert np.all((flags[bad] & CutoutFlag.BAD_COORDS) > 0)
    assert np.all((flags[~bad] & CutoutFlag.BAD_COORDS) == 0)
    ra_out = np.asarray(cat.table["ra"].value)[~bad]
    assert np.all((ra_out >= 0) & (ra_out < 360))
    # an image has data exactly when its row says it was cut from a frame
    has_data = np.isfinite(cat.images).any(axis=(1, 2, 3))
    off = (flags & (CutoutFlag.OFF_FRAMES | CutoutFlag.BAD_COORDS)) > 0
    np.testing.assert_array_equal(has_data, ~off)


@settings(max_examples=30, deadline=None)
@given(ra=st.lists(coordinate, min_size=1, max_size=8), data=st.data())
def test_ebv_for_random_coordinates(ra, data):
    dec = data.draw(st.lists(coordinate, min_size=len(ra), max_size=len(ra)))
    t = Table({"ra": ra, "dec": dec})
    out = ebv_for(t)
    assert len(out) == len(ra)
    valid = np.isfinite(t["ra"]) & np.isfinite(t["dec"]) & (np.abs(t["dec"]) <= 90)
    assert np.all(np.isfinite(out["ebv"][valid]) & (out["ebv"][valid] >= 0))
    assert np.all(out["ebv_source"][~valid] == "none")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers()),
                       st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
def test_wrong_input_types_raise_typeerror(frames, value):
    with pytest.raises(TypeError, match="Table/QTable or a SkyCoord"):
        CutoutCatalog.from_table(value, frames, progress=False)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(0, 3), st.integers(0, 3)))
def test_skycoord_of_any_shape(frames, shape):
    n = shape[0] * shape[1]
    coords = SkyCoord(np.full(n, 150.0).reshape(shape), np.full(n, 2.0).reshape(shape),
                      unit="deg")
    cat = CutoutCatalog.from_table(coords, frames, size=5, progress=False)
    assert len(cat) == n
    assert np.all(cat.table["flags"] == 0)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.one_of(st.integers(-5, 0), st.floats(allow_nan=True), st.text(max_size=2),
                      st.booleans()))
def test_bad_sizes_raise_documented_errors(frames, size):
    with pytest.raises((TypeError, ValueError), match="size must be"):
        CutoutCatalog.from_table(SkyCoord([150.0], [2.0], unit="deg"), frames, size=size,
                                 progress=False)
