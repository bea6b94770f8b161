# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Small deterministic inputs for the search tests."""

import numpy as np
from astropy.table import QTable

from galssl.cutouts import CutoutCatalog


def clustered(n, d, n_clusters=50, *, seed=0, spread=0.3):
    """(n, d) float32 vectors around ``n_clusters`` random centres (like representations of
    a catalogue of several galaxy types)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d))
    labels = rng.integers(0, n_clusters, n)
    return (centres[labels] + spread * rng.normal(size=(n, d))).astype(np.float32)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def toy_catalog(n=24, size=40, *, seed=0):
    """Distinct galaxies: Gaussian blobs of random position, width, brightness and colour
    over faint noise, on a small patch of sky."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    cx, cy = rng.uniform(-4, 4, (2, n))
    width = rng.uniform(1.5, 5.0, n)
    prof = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2)
                  / (2 * width[:, None, None] ** 2))
    colour = rng.uniform(0.2, 2.0, (n, 5))
    images = colour[:, :, None, None] * prof[:, None] + rng.normal(0, 0.02, (n, 5, size, size))
    table = QTable({"ra": 150.0 + rng.uniform(0, 0.1, n), "dec": 2.0 + rng.uniform(0, 0.1, n),
                    "flags": np.zeros(n, int), "ebv": np.zeros(n), "mag_r": rng.uniform(15, 18, n)})
    return CutoutCatalog(table, images.astype(np.float32))
