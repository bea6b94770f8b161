# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Extinction coefficients A_b / E(B-V)_SFD: the published tables for SDSS ugriz and every
band of `galssl.surveys`, and their computation from a filter's transmission curve."""

import numpy as np

__all__ = ["SF11_SDSS", "SFD98_SDSS", "SDSS_EFFECTIVE_WAVELENGTH", "extinction_coefficients",
           "effective_wavelengths", "parse_bands", "coefficients_from_filter"]

#: Schlafly & Finkbeiner (2011, ApJ 737, 103) Table 6, SDSS rows: A_b / E(B-V)_SFD for an
#: F99 reddening law (N = 0.78, 7000 K source) at R_V = 2.1, 3.1, 4.1 and 5.1. Multiply the
#: *unscaled* SFD98 E(B-V) by these; R_V = 3.1 is the recommended set.
SF11_SDSS = {
    2.1: {"u": 5.419, "g": 3.843, "r": 2.255, "i": 1.583, "z": 1.211},
    3.1: {"u": 4.239, "g": 3.303, "r": 2.285, "i": 1.698, "z": 1.263},
    4.1: {"u": 3.715, "g": 3.054, "r": 2.300, "i": 1.751, "z": 1.286},
    5.1: {"u": 3.419, "g": 2.910, "r": 2.308, "i": 1.782, "z": 1.300},
}

#: The SFD98 (Schlegel, Finkbeiner & Davis 1998, ApJ 500, 525, Table 6, R_V = 3.1) coefficients
#: used by the SDSS photometric pipeline for its ``extinction_[ugriz]`` columns.
SFD98_SDSS = {"u": 5.155, "g": 3.793, "r": 2.751, "i": 2.086, "z": 1.479}

#: Throughput-weighted mean wavelengths of the SDSS filters in Angstrom (Schlafly &
#: Finkbeiner 2011, Table 6, column lambda_eff).
SDSS_EFFECTIVE_WAVELENGTH = {"u": 3586.8, "g": 4716.7, "r": 6165.1, "i": 7475.9, "z": 8922.9}

_LAWS = ("SF11", "SFD98")


def parse_bands(bands):
    """Normalise a band specification to a tuple of band names (`galssl.surveys.parse_bands`:
    bare SDSS letters such as ``"ugriz"``, survey-qualified names such as ``"hsc-g"``, or a
    survey's name).

    Raises
    ------
    TypeError
        If ``bands`` is not a string or a sequence of strings.
    ValueError
        If it is empty, repeats a band or names a band galssl does not know.
    """
    from ..surveys import parse_bands as parse

    return parse(bands)


def extinction_coefficients(bands="ugriz", *, law="SF11", r_v=3.1):
    """Extinction per unit SFD E(B-V), A_b / E(B-V)_SFD.

    Parameters
    ----------
    bands : str or sequence of str, optional
        Band names, in channel order: SDSS letters (``"ugriz"``) or survey-qualified names
        (``"hsc-g"``; `galssl.surveys`), whose coefficients are their survey's
        (`galssl.surveys.Band.extinction`, R_V = 3.1 with ``law="SF11"``).
    law : {"SF11", "SFD98"}, optional
        ``"SF11"``: Schlafly & Finkbeiner (2011) Table 6, the recalibrated coefficients to
        use with SFD98 E(B-V) (default). ``"SFD98"``: the original Schlegel et al. (1998)
        values used by the SDSS pipeline's ``extinction_*`` columns.
    r_v : float, optional
        Total-to-selective extinction ratio; one of 2.1, 3.1, 4.1, 5.1 for ``"SF11"``
        (3.1 is the recommended value), and only 3.1 for ``"SFD98"``.

    Returns
    -------
    ndarray
        One coefficient per band, float64.

    References
    ----------
    Schlafly, E. F. & Finkbeiner, D. P. 2011, ApJ 737, 103.
    Schlegel, D. J., Finkbeiner, D. P. & Davis, M. 1998, ApJ 500, 525.

    Examples
    --------
    >>> from galssl.dust import extinction_coefficients
    >>> extinction_coefficients("ugriz")
    array([4.239, 3.303, 2.285, 1.698, 1.263])
    >>> extinction_coefficients("r", law="SFD98")
    array([2.751])
    """
    from ..surveys import parse_band

    names = parse_bands(bands)
    if law not in _LAWS:
        raise ValueError(f"law must be one of {_LAWS}, got {law!r}")
    try:
        r_v = float(r_v)
    except (TypeError, ValueError):
        raise TypeError(f"r_v must be a number, got {r_v!r}") from None
    # survey-qualified bands: their survey's coefficients (SDSS's are the table's, exactly)
    sdss = {f"sdss-{b}": b for b in "ugriz"}
    other = [b for b in names if b not in SF11_SDSS[3.1] and b not in sdss]
    if other:
        if law != "SF11" or r_v != 3.1:
            raise ValueError(f"the coefficients of {other} are for law='SF11', r_v=3.1 only "
                             f"(compute others with coefficients_from_filter), got "
                             f"law={law!r}, r_v={r_v}")
        return np.array([parse_band(b).extinction if b in other else
                         SF11_SDSS[3.1][sdss.get(b, b)] for b in names], dtype=float)
    names = [sdss.get(b, b) for b in names]
    if law == "SFD98":
        if r_v != 3.1:
            raise ValueError(f"the SFD98 coefficients exist for r_v=3.1 only, got r_v={r_v}")
        table = SFD98_SDSS
    else:
        if r_v not in SF11_SDSS:
            raise ValueError(f"Schlafly & Finkbeiner (2011) tabulate r_v in "
                             f"{sorted(SF11_SDSS)}, got r_v={r_v}")
        table = SF11_SDSS[r_v]
    return np.array([table[b] for b in names], dtype=float)


def effective_wavelengths(bands="ugriz"):
    """Effective wavelengths of bands: SDSS's from Schlafly & Finkbeiner (2011, Table 6),
    the others' the throughput-weighted mean of their filter curve
    (`galssl.surveys.Band.wavelength`).

    Examples
    --------
    >>> from galssl.dust import effective_wavelengths
    >>> effective_wavelengths("gr")
    <Quantity [4716.7, 6165.1] Angstrom>
    >>> effective_wavelengths(["hsc-i"])
    <Quantity [7730.1] Angstrom>
    """
    import astropy.units as u

    from ..surveys import parse_band

    return np.array([parse_band(b).wavelength for b in parse_bands(bands)]) * u.AA


#: Schlafly & Finkbeiner (2011) normalise the F99 curve to SFD's E(B-V) at 1 micron:
#: A_1um / E(B-V)_SFD = N x 1.32 with N = 0.78, for a 7000 K source.
_SF11_N, _SF11_A1UM = 0.78, 1.32


def coefficients_from_filter(wavelength, transmission, *, r_v=3.1, temperature=7000.0):
    """A_b / E(B-V)_SFD of a filter, computed from its transmission curve as Schlafly &
    Finkbeiner (2011) did.

    The Fitzpatrick (1999) extinction curve of ``r_v`` (`dust_extinction`) dims a blackbody
    of ``temperature`` (S&F 2011 used a 7000 K F dwarf) through the filter's photon-counting
    transmission, in the limit of little dust; the curve is normalised to SFD's E(B-V) by
    A_1um / E(B-V)_SFD = 0.78 x 1.32. For the SDSS, DECam, BASS, MzLS, HSC and LSST curves
    of `speclite` this reproduces the published coefficients to better than 1 %
    (``galssl/dust/tests/test_filter_coefficients.py``).

    Parameters
    ----------
    wavelength : `~astropy.units.Quantity` or array
        Wavelengths of the curve (Angstrom when not a Quantity).
    transmission : array
        Photon-counting transmission at those wavelengths (any normalisation).
    r_v : float, optional
    temperature : float, optional
        Blackbody temperature of the source in K.

    Returns
    -------
    float

    Raises
    ------
    ImportError
        If dust_extinction is not installed (``pip install dust_extinction``).

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.dust import coefficients_from_filter
    >>> lam = np.linspace(5500, 7000, 300)                      # a box filter around r
    >>> print(f"{coefficients_from_filter(lam, np.ones_like(lam)):.2f}")
    2.26
    """
    import astropy.units as u

    try:
        from dust_extinction.parameter_averages import F99
    except ImportError:
        raise ImportError("coefficients_from_filter needs the dust_extinction package: "
                          "pip install dust_extinction") from None
    lam = u.Quantity(wavelength, u.AA).to_value(u.AA).astype(float)
    t = np.asarray(transmission, dtype=float)
    if lam.ndim != 1 or t.shape != lam.shape or lam.size < 2:
        raise ValueError(f"wavelength and transmission must be 1-d arrays of one length "
                         f"(at least 2), got shapes {lam.shape} and {t.shape}")
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(t)) and np.all(np.diff(lam) > 0)):
        raise ValueError("wavelength must increase and both arrays must be finite")
    if np.any(t < 0) or not np.any(t > 0):
        raise ValueError("transmission must be non-negative and somewhere positive")
    law = F99(Rv=float(r_v))
    ebv = 1e-3  # the linear (little dust) limit
    h_c_over_k = 1.438777e8  # Angstrom K
    with np.errstate(over="ignore"):
        source = lam ** -5 / np.expm1(h_c_over_k / (lam * float(temperature)))
    weight = source * t * lam  # photons
    integrate = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    dimmed = integrate(weight * law.extinguish(lam * u.AA, Ebv=ebv), lam)
    a_band = -2.5 * np.log10(dimmed / integrate(weight, lam)) / ebv
    a_1um = -2.5 * np.log10(law.extinguish(np.array([1e4]) * u.AA, Ebv=ebv)[0]) / ebv
    return float(a_band * _SF11_N * _SF11_A1UM / a_1um)
