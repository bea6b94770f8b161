# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Surveys as data: `Survey` and `Band` descriptions of SDSS, the DESI Legacy Imaging Surveys
(DR10 south on DECam; north on BASS and MzLS), HSC-SSP PDR3, DES DR2 and Rubin, each band
with its filter curve, effective wavelength, width and extinction coefficient, each survey
with its pixel scale, flux unit and zero point and typical PSF.

Band names are survey-qualified (``"hsc-g"``, ``"decam-r"``, ``"sdss-u"``); bare ``ugriz``
keep meaning SDSS. Describe your own survey (Euclid, a private camera) with `Survey` and
`Band` and make it known with `register_survey`.
"""

from ._survey import (SURVEYS, UNIT_ZERO_POINTS, Band, Survey, band_label,  # noqa: F401
                      get_survey, list_surveys, nanomaggies_per_unit, parse_band,
                      parse_bands, pixel_scale_of, register_survey, survey_of)

__all__ = ["Survey", "Band", "SURVEYS", "get_survey", "list_surveys", "register_survey",
           "parse_band", "parse_bands", "band_label", "survey_of", "nanomaggies_per_unit",
           "UNIT_ZERO_POINTS", "pixel_scale_of"]
