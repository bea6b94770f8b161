# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Extinction coefficients A_b / E(B-V)_SFD for the SDSS ugriz bandpasses."""

import numpy as np

__all__ = ["SF11_SDSS", "SFD98_SDSS", "SDSS_EFFECTIVE_WAVELENGTH", "extinction_coefficients",
           "effective_wavelengths", "parse_bands"]

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
    """Normalise a band specification (``"ugriz"`` or a sequence) to a tuple of band names.

    Raises
    ------
    TypeError
        If ``bands`` is not a string or a sequence of strings.
    ValueError
        If it is empty, repeats a band or names a band that is not SDSS ugriz.
    """
    if isinstance(bands, str):
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
    unknown = [b for b in names if b not in SDSS_EFFECTIVE_WAVELENGTH]
    if unknown:
        raise ValueError(f"unknown band(s) {unknown} in bands={bands!r}; galssl knows the SDSS "
                         "bands u, g, r, i, z")
    if len(set(names)) != len(names):
        raise ValueError(f"bands={bands!r} repeats a band")
    return names


def extinction_coefficients(bands="ugriz", *, law="SF11", r_v=3.1):
    """Extinction per unit SFD E(B-V), A_b / E(B-V)_SFD, for SDSS bands.

    Parameters
    ----------
    bands : str or sequence of str, optional
        SDSS band names, in channel order.
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
    names = parse_bands(bands)
    if law not in _LAWS:
        raise ValueError(f"law must be one of {_LAWS}, got {law!r}")
    try:
        r_v = float(r_v)
    except (TypeError, ValueError):
        raise TypeError(f"r_v must be a number, got {r_v!r}") from None
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
    """Effective wavelengths of SDSS bands (Schlafly & Finkbeiner 2011, Table 6).

    Examples
    --------
    >>> from galssl.dust import effective_wavelengths
    >>> effective_wavelengths("gr")
    <Quantity [4716.7, 6165.1] Angstrom>
    """
    import astropy.units as u

    return np.array([SDSS_EFFECTIVE_WAVELENGTH[b] for b in parse_bands(bands)]) * u.AA
