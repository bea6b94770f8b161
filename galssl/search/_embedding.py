# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Two-dimensional maps of the representation space (UMAP)."""

import warnings

import numpy as np

from ._knn import as_representations, normalised_rows, positive_int, usable_rows

__all__ = ["umap_embedding"]


def import_umap():
    """The umap module, or an ImportError that says how to install it."""
    try:
        with warnings.catch_warnings():
            # umap warns at import time that its optional TensorFlow part is unavailable
            warnings.simplefilter("ignore", ImportWarning)
            import umap
    except ImportError:
        raise ImportError("UMAP maps need umap-learn: pip install umap-learn, or "
                          "galssl's extra: pip install '.[search]' in its folder") from None
    return umap


def umap_embedding(representations, *, n_neighbors=15, min_dist=0.1, seed=0):
    """A 2-D UMAP embedding of the representations (McInnes et al. 2018).

    UMAP runs on the unit-length representations with the Euclidean metric, which orders
    neighbours as the cosine similarity does (``|a - b|^2 = 2 - 2 cos`` for unit vectors).

    Parameters
    ----------
    representations : array-like
        (N, D) representations; rows that are not finite or all zeros are left out and get
        NaN coordinates.
    n_neighbors : int, optional
        Size of the local neighbourhood (15); must be smaller than the number of usable rows.
    min_dist : float, optional
        Minimum distance between embedded points (0.1).
    seed : int, optional
        Random state; with a seed UMAP runs on one thread and is reproducible.

    Returns
    -------
    ndarray
        (N, 2) float64 coordinates, one row per input row, in order.

    Raises
    ------
    ImportError
        If umap-learn is not installed.

    References
    ----------
    McInnes, L., Healy, J. & Melville, J. 2018, arXiv:1802.03426 (UMAP).
    """
    reps = as_representations(representations)
    n_neighbors = positive_int(n_neighbors, "n_neighbors")
    if not (np.isfinite(min_dist) and min_dist >= 0):
        raise ValueError(f"min_dist must be a non-negative number, got {min_dist!r}")
    rows = np.flatnonzero(usable_rows(reps))
    if rows.size <= n_neighbors:
        raise ValueError(f"n_neighbors={n_neighbors} needs more than {n_neighbors} rows with "
                         f"representations, got {rows.size}; lower n_neighbors")
    umap = import_umap()
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=float(min_dist),
                        metric="euclidean", random_state=int(seed), n_jobs=1)
    out = np.full((len(reps), 2), np.nan)
    out[rows] = reducer.fit_transform(normalised_rows(reps, rows))
    return out
