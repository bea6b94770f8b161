# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Injection simulations: galaxies with real photometry and redshifts rendered with GalSim
into real SDSS frames, cut like real objects, with every truth value kept (needs the
``sim`` extra: GalSim).
"""

from ._galaxies import galaxy_structure, render_stamp, shen03_r50_kpc  # noqa: F401
from ._inject import SDSS_GAIN, inject_galaxies, read_photometry  # noqa: F401
# package-internal (scripts/make_simulation_figures.py shows one round), not in __all__
from ._inject import _frame_pixels as frame_pixels  # noqa: F401
from ._inject import _inject_into_frames as inject_into_frames  # noqa: F401
from ._psf import MOFFAT_BETA, measure_psf  # noqa: F401

__all__ = ["inject_galaxies", "read_photometry", "measure_psf", "galaxy_structure",
           "render_stamp", "shen03_r50_kpc", "SDSS_GAIN", "MOFFAT_BETA"]
