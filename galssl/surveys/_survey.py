# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Surveys as data: bands with their filter curves, effective wavelengths, widths and
extinction coefficients; pixel scale, flux unit and zero point, typical PSF, saturation."""

import dataclasses
import math
import re

__all__ = ["Band", "Survey", "SURVEYS", "get_survey", "register_survey", "list_surveys",
           "parse_band", "parse_bands", "band_label", "survey_of", "nanomaggies_per_unit",
           "UNIT_ZERO_POINTS"]

#: AB zero points of pixel units that name their own scale: m = zero point - 2.5 log10(f).
UNIT_ZERO_POINTS = {"nanomaggy": 22.5, "nJy": 31.4}


def nanomaggies_per_unit(zero_point):
    """Nanomaggies in one pixel unit of AB zero point ``zero_point`` (22.5 for nanomaggies
    themselves): the factor galssl multiplies pixels by.

    Examples
    --------
    >>> from galssl.surveys import nanomaggies_per_unit
    >>> nanomaggies_per_unit(22.5), round(nanomaggies_per_unit(27.0), 5)
    (1.0, 0.01585)
    """
    return 10.0 ** (-0.4 * (float(zero_point) - UNIT_ZERO_POINTS["nanomaggy"]))


@dataclasses.dataclass(frozen=True)
class Band:
    """One filter of a survey.

    Parameters
    ----------
    name : str
        Survey-qualified name, ``"<system>-<filter>"`` (``"hsc-g"``, ``"decam-r"``,
        ``"sdss-u"``); the system is the camera or filter set, so that the Legacy Surveys'
        DECam ``g`` and DES's ``g`` (a different standard bandpass) are different bands.
    wavelength : float
        Effective (throughput-weighted mean) wavelength, Angstrom.
    width : float
        Equivalent width of the throughput curve (its integral over its peak), Angstrom.
    extinction : float
        A_b / E(B-V)_SFD for R_V = 3.1 (the coefficient to multiply SFD98 E(B-V) by).
    filter_curve : str, optional
        The `speclite` name of the transmission curve, e.g. ``"hsc2017-g"``, from which
        ``wavelength``, ``width`` and ``extinction`` can be recomputed
        (`galssl.dust.coefficients_from_filter`).
    extinction_source : str, optional
        Where ``extinction`` comes from (a table, or "computed from ...").
    """

    name: str
    wavelength: float
    width: float
    extinction: float
    filter_curve: str = None
    extinction_source: str = ""

    @property
    def system(self):
        """The filter system (the part of the name before the last ``-``)."""
        return self.name.rsplit("-", 1)[0]

    @property
    def filter(self):
        """The filter's short name (``"g"``, ``"Y"``)."""
        return self.name.rsplit("-", 1)[1]


@dataclasses.dataclass(frozen=True)
class Survey:
    """An imaging survey as galssl uses it.

    Parameters
    ----------
    name : str
        Short key (``"hsc"``, ``"legacy-south"``); `get_survey` finds it.
    title : str
        What it is, in words.
    bands : tuple of `Band`
        In wavelength order.
    pixel_scale : float
        Arcsec per pixel of its images.
    flux_unit : str
        The unit of its image pixels (``"nanomaggy"``, ``"nJy"``, ...).
    zero_point : float
        AB magnitude of one ``flux_unit``: m = zero_point - 2.5 log10(flux). galssl works in
        nanomaggies (zero point 22.5): pixels are multiplied by 10^(-0.4 (zero_point - 22.5)).
    psf_fwhm : float
        Typical PSF FWHM in arcsec (r band, or the survey's reference band).
    reference_band : str
        The band whose pixel grid a catalogue's cutouts use (detection band).
    saturation : float, optional
        Saturation level in raw counts, where known.
    reference : str, optional
        The papers or pages the numbers come from.
    """

    name: str
    title: str
    bands: tuple
    pixel_scale: float
    flux_unit: str
    zero_point: float
    psf_fwhm: float
    reference_band: str
    saturation: float = None
    reference: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.name or ""):
            raise ValueError(f"a survey name is lower-case letters, digits, '-', '_' or '.', "
                             f"got {self.name!r}")
        bands = tuple(self.bands)
        if not bands or not all(isinstance(b, Band) for b in bands):
            raise TypeError(f"survey {self.name!r}: bands must be a non-empty sequence of "
                            f"Band, got {self.bands!r}")
        object.__setattr__(self, "bands", bands)
        names = [b.name for b in bands]
        if len(set(names)) != len(names):
            raise ValueError(f"survey {self.name!r} repeats a band: {names}")
        for field in ("pixel_scale", "psf_fwhm"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"survey {self.name!r}: {field} must be a positive number "
                                 f"of arcsec, got {value!r}")
        if not (isinstance(self.zero_point, (int, float)) and math.isfinite(self.zero_point)):
            raise ValueError(f"survey {self.name!r}: zero_point must be a finite AB "
                             f"magnitude, got {self.zero_point!r}")
        if self.reference_band not in names:
            raise ValueError(f"survey {self.name!r}: reference_band {self.reference_band!r} "
                             f"is not one of its bands {names}")

    @property
    def band_names(self):
        """The survey-qualified names of its bands, in order."""
        return tuple(b.name for b in self.bands)

    @property
    def to_nanomaggies(self):
        """The factor that turns one ``flux_unit`` into nanomaggies."""
        return nanomaggies_per_unit(self.zero_point)

    def band(self, name):
        """The `Band` of a qualified (``"hsc-g"``) or short (``"g"``) name."""
        for b in self.bands:
            if name in (b.name, b.filter):
                return b
        raise KeyError(f"survey {self.name!r} has no band {name!r}; its bands are "
                       f"{', '.join(self.band_names)}")


def _bands(system, rows, curves, source):
    return tuple(Band(f"{system}-{f}", lam, width, r, f"{curves}-{f}" if curves else None,
                      source) for f, lam, width, r in rows)


_SF11 = "Schlafly & Finkbeiner (2011, ApJ 737, 103) Table 6, R_V = 3.1"
_LEGACY = ("the Legacy Surveys' DR9/DR10 coefficients (legacysurvey.org/dr10/catalogs), "
           "F99 R_V = 3.1 as Schlafly & Finkbeiner (2011)")
_HSC = ("reference values for the hsc2017 curves (F99, R_V = 3.1, the normalisation of Schlafly "
        "& Finkbeiner 2011), which coefficients_from_filter reproduces to 1 %")

# wavelength (throughput-weighted mean of the speclite curve; SDSS: S&F 2011's lambda_eff)
# and equivalent width, Angstrom; A_b / E(B-V)_SFD
SDSS = Survey(
    name="sdss", title="Sloan Digital Sky Survey imaging (DR7-DR17 corrected frames)",
    bands=_bands("sdss", [("u", 3586.8, 509.7, 4.239), ("g", 4716.7, 1163.2, 3.303),
                          ("r", 6165.1, 1108.1, 2.285), ("i", 7475.9, 1100.3, 1.698),
                          ("z", 8922.9, 1089.0, 1.263)], "sdss2010", _SF11),
    pixel_scale=0.396, flux_unit="nanomaggy", zero_point=22.5, psf_fwhm=1.4,
    reference_band="sdss-r", saturation=50000.0,
    reference="Stoughton et al. 2002; Doi et al. 2010 (filter curves)")

LEGACY_SOUTH = Survey(
    name="legacy-south", title="DESI Legacy Imaging Surveys DR10, south (DECam: DECaLS, DES "
    "area and others)",
    bands=_bands("decam", [("g", 4890.0, 1137.6, 3.214), ("r", 6469.6, 1382.9, 2.165),
                           ("i", 7847.8, 1375.8, 1.592), ("z", 9196.5, 1269.1, 1.211)],
                 "decam2014", _LEGACY),
    pixel_scale=0.262, flux_unit="nanomaggy", zero_point=22.5, psf_fwhm=1.3,
    reference_band="decam-r",
    reference="Dey et al. 2019, AJ 157, 168; legacysurvey.org/dr10")

LEGACY_NORTH = Survey(
    name="legacy-north", title="DESI Legacy Imaging Surveys DR9/DR10, north (BASS g r on "
    "90Prime, MzLS z on Mosaic3)",
    bands=(_bands("bass", [("g", 4816.0, 1348.7, 3.258), ("r", 6437.8, 1398.8, 2.176)],
                  "BASS", _LEGACY)
           + _bands("mzls", [("z", 9229.7, 1236.4, 1.199)], "MzLS", _LEGACY)),
    pixel_scale=0.262, flux_unit="nanomaggy", zero_point=22.5, psf_fwhm=1.5,
    reference_band="bass-r",
    reference="Zou et al. 2017 (BASS); Dey et al. 2019, AJ 157, 168")

HSC = Survey(
    name="hsc", title="Hyper Suprime-Cam Subaru Strategic Program PDR3 (coadds, 27 AB zero "
    "point)",
    bands=_bands("hsc", [("g", 4843.7, 1179.4, 3.240), ("r", 6258.9, 1433.2, 2.276),
                         ("i", 7730.1, 1442.3, 1.633), ("z", 8912.4, 751.6, 1.263),
                         ("y", 9786.9, 749.2, 1.075)], "hsc2017", _HSC),
    pixel_scale=0.168, flux_unit="HSC coadd count (FLUXMAG0 = 10^(0.4 x 27))",
    zero_point=27.0, psf_fwhm=0.7, reference_band="hsc-i",
    reference="Aihara et al. 2022, PASJ 74, 247 (PDR3); Kawanomoto et al. 2018 (filters)")

DES = Survey(
    name="des", title="Dark Energy Survey DR2 coadd tiles (MAGZP 30)",
    bands=_bands("des", [("g", 4890.0, 1137.6, 3.237), ("r", 6469.6, 1382.9, 2.176),
                         ("i", 7847.8, 1375.8, 1.595), ("z", 9196.5, 1269.1, 1.217),
                         ("Y", 9893.0, 679.2, 1.058)], "decam2014", _SF11),
    pixel_scale=0.263, flux_unit="DES coadd count (MAGZP = 30)", zero_point=30.0,
    psf_fwhm=0.95, reference_band="des-r",
    reference="Abbott et al. 2021, ApJS 255, 20 (DR2)")

RUBIN = Survey(
    name="rubin", title="Vera C. Rubin Observatory LSST (deep_coadd / calexp, nJy)",
    bands=_bands("lsst", [("u", 3745.7, 432.3, 4.145), ("g", 4846.2, 1353.9, 3.237),
                          ("r", 6249.0, 1304.3, 2.273), ("i", 7579.0, 1245.9, 1.684),
                          ("z", 8691.1, 992.8, 1.323), ("y", 9766.9, 828.5, 1.088)],
                 "lsst2023", _SF11),
    pixel_scale=0.2, flux_unit="nJy", zero_point=UNIT_ZERO_POINTS["nJy"], psf_fwhm=0.7,
    reference_band="lsst-r",
    reference="Ivezic et al. 2019, ApJ 873, 111")

#: The surveys galssl knows, by name; `register_survey` adds yours.
SURVEYS = {s.name: s for s in (SDSS, LEGACY_SOUTH, LEGACY_NORTH, HSC, DES, RUBIN)}


def _band_index():
    index = {}
    for s in SURVEYS.values():
        for b in s.bands:
            index.setdefault(b.name, b)
    return index


def register_survey(survey, *, replace=False):
    """Make a `Survey` of your own known to galssl by name, and its bands by their
    qualified names.

    Examples
    --------
    >>> from galssl.surveys import Band, Survey, register_survey, parse_bands
    >>> vis = Band("euclid-VIS", wavelength=7150.0, width=3400.0, extinction=2.0)
    >>> euclid = Survey(name="euclid-q1", title="Euclid Q1 VIS", bands=(vis,),
    ...                 pixel_scale=0.1, flux_unit="uJy", zero_point=23.9, psf_fwhm=0.16,
    ...                 reference_band="euclid-VIS")
    >>> register_survey(euclid, replace=True)
    >>> parse_bands(["euclid-VIS"])
    ('euclid-VIS',)
    """
    if not isinstance(survey, Survey):
        raise TypeError(f"register_survey takes a Survey, got {type(survey).__name__}")
    if survey.name in SURVEYS and not replace:
        raise ValueError(f"a survey named {survey.name!r} is known already; pass "
                         f"replace=True to replace it")
    known = _band_index()
    for b in survey.bands:
        other = known.get(b.name)
        if other is not None and other != b and not (
                replace and survey.name in SURVEYS and b in SURVEYS[survey.name].bands):
            raise ValueError(f"band {b.name!r} is already defined differently (by another "
                             f"survey); give yours another system prefix")
    SURVEYS[survey.name] = survey


def get_survey(name):
    """The `Survey` called ``name`` (`SURVEYS`), or a KeyError that lists them."""
    if isinstance(name, Survey):
        return name
    try:
        return SURVEYS[name]
    except (KeyError, TypeError):
        raise KeyError(f"no survey named {name!r}; galssl knows {', '.join(sorted(SURVEYS))}"
                       f" (register_survey adds your own)") from None


def list_surveys():
    """A table of the known surveys: name, bands, pixel scale, flux unit, zero point,
    typical PSF FWHM.

    Examples
    --------
    >>> from galssl.surveys import list_surveys
    >>> t = list_surveys()
    >>> print(t[t["name"] == "hsc"]["bands"][0])
    hsc-g hsc-r hsc-i hsc-z hsc-y
    """
    from astropy.table import Table

    rows = [(s.name, " ".join(s.band_names), s.pixel_scale, s.flux_unit, s.zero_point,
             s.psf_fwhm, s.title) for s in SURVEYS.values()]
    return Table(rows=rows, names=("name", "bands", "pixel_scale", "flux_unit", "zero_point",
                                   "psf_fwhm", "title"),
                 units={"pixel_scale": "arcsec", "psf_fwhm": "arcsec"})


_SDSS_LETTERS = {b.filter: b for b in SDSS.bands}


def parse_band(name):
    """The `Band` of a name: survey-qualified (``"hsc-g"``, ``"decam-r"``, ``"sdss-u"``) or
    a bare SDSS letter (``"u"``: bare ``ugriz`` keep meaning SDSS)."""
    if not isinstance(name, str):
        raise TypeError(f"a band name is a string, got {name!r}")
    if name in _SDSS_LETTERS:
        return _SDSS_LETTERS[name]
    band = _band_index().get(name)
    if band is None:
        raise ValueError(f"unknown band {name!r}: galssl knows the SDSS bands u, g, r, i, z "
                         f"and the survey-qualified bands "
                         f"{', '.join(sorted(_band_index()))} (register_survey adds yours)")
    return band


def parse_bands(bands):
    """Normalise a band specification to a tuple of band names.

    ``"ugriz"`` (bare SDSS letters, as a string or a sequence) gives ``("u", "g", "r",
    "i", "z")`` as before; survey-qualified names (a sequence, or one string separated by
    commas or spaces: ``"hsc-g,hsc-r"``) give those names; a survey name (``"hsc"``) gives
    all its bands.

    Raises
    ------
    TypeError
        If ``bands`` is not a string or a sequence of strings.
    ValueError
        If it is empty, repeats a band or names an unknown band.

    Examples
    --------
    >>> from galssl.surveys import parse_bands
    >>> parse_bands("gri")
    ('g', 'r', 'i')
    >>> parse_bands("hsc-g, hsc-i")
    ('hsc-g', 'hsc-i')
    >>> parse_bands("legacy-north")
    ('bass-g', 'bass-r', 'mzls-z')
    """
    if isinstance(bands, str):
        if bands in SURVEYS:
            names = SURVEYS[bands].band_names
        elif "-" in bands or "," in bands or " " in bands.strip():
            names = tuple(p for p in re.split(r"[,\s]+", bands.strip()) if p)
        else:
            names = tuple(bands)
    else:
        try:
            names = tuple(bands)
        except TypeError:
            raise TypeError(f"bands must be a string such as 'ugriz' or a sequence of band "
                            f"names, got {type(bands).__name__}") from None
        if not all(isinstance(b, str) for b in names):
            raise TypeError(f"bands must be band names (str), got {bands!r}")
    if not names:
        raise ValueError("bands must name at least one band")
    unknown = []
    for b in names:
        try:
            parse_band(b)
        except ValueError:
            unknown.append(b)
    if unknown:
        raise ValueError(f"unknown band(s) {unknown} in bands={bands!r}; galssl knows the SDSS "
                         f"bands u, g, r, i, z and the survey-qualified bands "
                         f"{', '.join(sorted(_band_index()))}")
    canonical = [parse_band(b).name for b in names]
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"bands={bands!r} repeats a band")
    return names


def band_label(bands):
    """How a band tuple is written into files and tables: ``"ugriz"`` for bare SDSS
    letters (as galssl always wrote it), else the names joined by commas; `parse_bands`
    reads both back."""
    bands = parse_bands(bands)
    if all(b in _SDSS_LETTERS for b in bands):
        return "".join(bands)
    return ",".join(bands)


def survey_of(bands):
    """The `Survey` all of whose ``bands`` it has (bare ugriz: SDSS), or None when they come
    from several surveys.

    Examples
    --------
    >>> from galssl.surveys import survey_of
    >>> survey_of("gri").name, survey_of(["hsc-g", "hsc-i"]).pixel_scale
    ('sdss', 0.168)
    >>> survey_of(["hsc-g", "decam-r"]) is None
    True
    """
    names = {parse_band(b).name for b in parse_bands(bands)}
    for survey in SURVEYS.values():
        if names <= set(survey.band_names):
            return survey
    return None


def pixel_scale_of(bands, pixel_scale=None):
    """Arcsec per pixel: ``pixel_scale`` checked (a positive number, or an angle
    `~astropy.units.Quantity`), or when None the pixel scale of the survey of ``bands``
    (0.396" for SDSS ugriz, 0.168" for HSC, 0.262" for the Legacy Surveys). Bands of several
    surveys have no default: a ValueError asks for ``pixel_scale``.

    Examples
    --------
    >>> from galssl.surveys import pixel_scale_of
    >>> pixel_scale_of("ugriz"), pixel_scale_of("hsc-g,hsc-r"), pixel_scale_of("gri", 0.2)
    (0.396, 0.168, 0.2)
    """
    if pixel_scale is None:
        survey = survey_of(bands if bands is not None else "ugriz")
        if survey is None:
            raise ValueError(f"bands {band_label(bands)} come from several surveys: pass "
                             f"pixel_scale= (arcsec per pixel)")
        return float(survey.pixel_scale)
    try:
        import astropy.units as u

        if isinstance(pixel_scale, u.Quantity):
            pixel_scale = pixel_scale.to_value(u.arcsec)
    except ImportError:  # pragma: no cover - astropy is a dependency
        pass
    try:
        value = float(pixel_scale)
    except (TypeError, ValueError):
        raise TypeError(f"pixel_scale must be a number of arcsec, got {pixel_scale!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"pixel_scale must be positive, got {pixel_scale!r}")
    return value
