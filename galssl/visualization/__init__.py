# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Pictures: Lupton et al. (2004) colour composites, cutout grids, photo-z and morphology
figures, similarity grids, UMAP maps with thumbnails and anomaly grids.
Every function returns a matplotlib figure; nothing opens a window."""

from ._morphology import plot_vote_fractions  # noqa: F401
from ._photoz import (plot_label_efficiency, plot_pdfs, plot_pit,  # noqa: F401
                      plot_zphot_zspec)
from ._rgb import lupton_rgb, plot_cutouts  # noqa: F401
from ._search import plot_anomalies, plot_neighbors, plot_umap  # noqa: F401

from ..utils._deprecate import moved_names

# respelt (one English spelling: American); the old name warns for one release
__getattr__ = moved_names(__name__, {"plot_neighbours": ("galssl.visualization",
                                                         "plot_neighbors")})

__all__ = ["lupton_rgb", "plot_cutouts", "plot_zphot_zspec", "plot_pit", "plot_pdfs",
           "plot_label_efficiency", "plot_vote_fractions", "plot_neighbors", "plot_umap",
           "plot_anomalies"]
