# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Cutouts: calibrated multi-band images of galaxies from survey frames.

`CutoutCatalog` turns frames plus a table (or SkyCoord) of positions, or the galaxies
detected in the frames, into (N, n_bands, size, size) cutouts in nanomaggies with a table of
per-object information (E(B-V), flags), stored in chunked HDF5.
"""

from ._catalog import SDSS_PIXEL_SCALE, CutoutCatalog, cutout_wcs  # noqa: F401
from ._detect import (concentration_index, core_structure, detect_sources,  # noqa: F401
                      tile_positions)
from ._flags import HIGH_EXTINCTION_EBV, IMAGE_DEFECTS, CutoutFlag  # noqa: F401
from ._frames import find_frames, group_fields, read_frame_data  # noqa: F401
# package-internal (galssl.simulate places and finds sources with it), not in __all__
from ._detect import extract  # noqa: F401
from ._sdss import conf, fetch_sdss_field  # noqa: F401
from ._storage import HDF5Images  # noqa: F401

__all__ = ["CutoutCatalog", "CutoutFlag", "IMAGE_DEFECTS", "HIGH_EXTINCTION_EBV", "HDF5Images",
           "SDSS_PIXEL_SCALE", "cutout_wcs",
           "detect_sources", "tile_positions", "concentration_index", "core_structure",
           "find_frames",
           "group_fields", "conf", "fetch_sdss_field"]
