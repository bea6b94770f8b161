# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Extinction coefficients computed from filter curves against the published tables, and
the survey records against both."""

import numpy as np
import pytest

from galssl.dust import SF11_SDSS, coefficients_from_filter, extinction_coefficients
from galssl.surveys import SURVEYS

speclite_filters = pytest.importorskip("speclite.filters")
pytest.importorskip("dust_extinction")

#: Published A_b / E(B-V)_SFD (R_V = 3.1) and the speclite curves they belong to.
#: S&F 2011 Table 6: SDSS, DES (its standard bandpasses; the closest speclite curves are
#: decam2014) and LSST (the 2011 curves; speclite has lsst2023). The Legacy Surveys' DECam,
#: BASS and MzLS values; HSC's.
PUBLISHED = {
    "sdss2010": dict(zip("ugriz", (4.239, 3.303, 2.285, 1.698, 1.263))),
    "decam2014": dict(zip("ugrizY", (3.995, 3.214, 2.165, 1.592, 1.211, 1.064))),
    "BASS": {"g": 3.258, "r": 2.176},
    "MzLS": {"z": 1.199},
    "hsc2017": dict(zip("grizy", (3.240, 2.276, 1.633, 1.263, 1.075))),
    "lsst2023": dict(zip("ugrizy", (4.145, 3.237, 2.273, 1.684, 1.323, 1.088))),
}


def _computed(curve):
    f = speclite_filters.load_filter(curve)
    return coefficients_from_filter(f.wavelength, f.response)


@pytest.mark.parametrize("group", sorted(PUBLISHED))
def test_computed_coefficients_match_the_published_tables_to_one_percent(group):
    for band, published in PUBLISHED[group].items():
        got = _computed(f"{group}-{band}")
        assert got == pytest.approx(published, rel=0.01), (group, band, got)


def test_des_coefficients_from_the_decam_curves():
    """S&F 2011's DES row was computed from DES's own standard bandpasses, which speclite
    does not ship; the decam2014 curves give it to 1 % in r, i, z and Y and to 1.2 % in g
    (3.199 against 3.237): the curves differ, not the method (the same method gives the
    Legacy Surveys' values for decam2014 to 1 %)."""
    des = dict(zip("grizY", (3.237, 2.176, 1.595, 1.217, 1.058)))
    for band, published in des.items():
        tolerance = 0.015 if band == "g" else 0.01
        assert _computed(f"decam2014-{band}") == pytest.approx(published, rel=tolerance)


def test_the_sdss_values_stay_exact_and_other_r_v_follow_the_table():
    np.testing.assert_array_equal(extinction_coefficients("ugriz"),
                                  [4.239, 3.303, 2.285, 1.698, 1.263])
    np.testing.assert_array_equal(extinction_coefficients(["sdss-u", "sdss-z"]), [4.239, 1.263])
    # the normalisation holds across R_V (S&F 2011 tabulate 2.1 to 5.1): 1.5 % here
    for r_v in (2.1, 5.1):
        for band in "ugriz":
            f = speclite_filters.load_filter(f"sdss2010-{band}")
            got = coefficients_from_filter(f.wavelength, f.response, r_v=r_v)
            assert got == pytest.approx(SF11_SDSS[r_v][band], rel=0.015)


def test_every_survey_band_matches_its_own_curve():
    """Each band's stored coefficient, wavelength and width agree with its filter curve:
    coefficient to 1 %, wavelength and width to 1 % (SDSS's wavelengths are S&F 2011's
    lambda_eff, which weights by a 7000 K source: 1 %)."""
    for survey in SURVEYS.values():
        for band in survey.bands:
            if band.filter_curve is None:
                continue
            f = speclite_filters.load_filter(band.filter_curve)
            w, t = f.wavelength, f.response
            tolerance = 0.015 if band.name == "des-g" else 0.01  # see the DES test
            assert _computed(band.filter_curve) == pytest.approx(band.extinction,
                                                                 rel=tolerance), band.name
            mean = np.trapezoid(t * w * w, w) / np.trapezoid(t * w, w)
            assert mean == pytest.approx(band.wavelength, rel=0.01), band.name
            assert np.trapezoid(t, w) / t.max() == pytest.approx(band.width, rel=0.01), \
                band.name


def test_a_redder_filter_has_a_smaller_coefficient_and_bad_curves_are_refused():
    lam = np.linspace(3000, 11000, 2000)
    box = [coefficients_from_filter(lam, (np.abs(lam - c) < 500).astype(float))
           for c in (4000, 6000, 8000, 10000)]
    assert np.all(np.diff(box) < 0)
    with pytest.raises(ValueError, match="one length"):
        coefficients_from_filter(lam, np.ones(10))
    with pytest.raises(ValueError, match="non-negative"):
        coefficients_from_filter(lam, -np.ones_like(lam))
    with pytest.raises(ValueError, match="increase"):
        coefficients_from_filter(lam[::-1], np.ones_like(lam))
