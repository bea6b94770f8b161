# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Pictures of cutouts: Lupton et al. (2004) colour composites and cutout grids."""

from ._rgb import lupton_rgb, plot_cutouts  # noqa: F401

__all__ = ["lupton_rgb", "plot_cutouts"]
