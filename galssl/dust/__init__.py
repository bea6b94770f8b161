# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Galactic dust: per-object E(B-V) and extinction coefficients (SDSS and every band of
`galssl.surveys`, or computed from a filter curve).

E(B-V) comes from a catalogue column, SDSS extinction columns, the full SFD98 map through
dustmaps, or the low-resolution SFD98 map shipped with galssl (always available offline).
"""

from ._coefficients import (SDSS_EFFECTIVE_WAVELENGTH, SF11_SDSS, SFD98_SDSS,  # noqa: F401
                            coefficients_from_filter, effective_wavelengths,
                            extinction_coefficients, parse_bands)
from ._ebv import EBV_SOURCES, bundled_sfd_map_path, ebv_for, sfd_healpix_ebv  # noqa: F401

__all__ = ["SF11_SDSS", "SFD98_SDSS", "SDSS_EFFECTIVE_WAVELENGTH", "extinction_coefficients",
           "effective_wavelengths", "coefficients_from_filter", "ebv_for", "EBV_SOURCES",
           "bundled_sfd_map_path", "sfd_healpix_ebv"]
