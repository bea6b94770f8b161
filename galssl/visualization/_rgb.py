# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Colour composites of multi-band cutouts."""

import numpy as np

from ..dust._coefficients import parse_bands

__all__ = ["lupton_rgb", "plot_cutouts"]


def lupton_rgb(image, bands="ugriz", *, rgb="irg", stretch=0.5, Q=8, minimum=0.0):
    """An 8-bit RGB composite of one cutout with the Lupton et al. (2004) asinh stretch.

    Parameters
    ----------
    image : array-like
        (n_bands, H, W) cutout in nanomaggies (NaN shown as black).
    bands : str or sequence of str, optional
        Band of each channel of ``image``.
    rgb : str, optional
        The bands shown as red, green and blue (default i, r, g as for SDSS colour images).
    stretch, Q, minimum : float, optional
        Parameters of `astropy.visualization.make_lupton_rgb`, in nanomaggies.

    Returns
    -------
    ndarray
        (H, W, 3) uint8.

    References
    ----------
    Lupton, R. et al. 2004, PASP 116, 133.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.visualization import lupton_rgb
    >>> lupton_rgb(np.ones((5, 8, 8), dtype=np.float32)).shape
    (8, 8, 3)
    """
    from astropy.visualization import make_lupton_rgb

    names = parse_bands(bands)
    image = np.asarray(image, dtype=float)
    if image.ndim != 3 or image.shape[0] != len(names):
        raise ValueError(f"image must have shape ({len(names)}, H, W) for bands "
                         f"{''.join(names)}, got {image.shape}")
    missing = [b for b in parse_bands(rgb) if b not in names]
    if missing or len(rgb) != 3:
        raise ValueError(f"rgb must name three of the image's bands {''.join(names)}, "
                         f"got {rgb!r}")
    r, g, b = (np.nan_to_num(image[names.index(c)]) for c in rgb)
    with np.errstate(divide="ignore", invalid="ignore"):  # zero-intensity pixels -> black
        return make_lupton_rgb(r, g, b, minimum=minimum, stretch=stretch, Q=Q)


def plot_cutouts(catalog, indices=None, *, ncols=5, label=None, rgb="irg", stretch=0.5, Q=8,
                 figsize_per_panel=2.0):
    """A grid of colour cutouts of a `~galssl.cutouts.CutoutCatalog` (needs matplotlib).

    Parameters
    ----------
    catalog : `~galssl.cutouts.CutoutCatalog`
    indices : sequence of int, optional
        Rows to show (default: the first 10).
    ncols : int, optional
    label : str, optional
        A table column printed over each panel (e.g. ``"mag_r"``).
    rgb, stretch, Q : optional
        As in `lupton_rgb`.

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt

    if indices is None:
        indices = np.arange(min(10, len(catalog)))
    indices = np.atleast_1d(np.asarray(indices, dtype=int))
    n = max(len(indices), 1)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(figsize_per_panel * ncols, figsize_per_panel * nrows))
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), indices):
        ax.imshow(lupton_rgb(catalog.images[i], catalog.bands, rgb=rgb, stretch=stretch, Q=Q),
                  origin="lower")
        if label is not None:
            value = catalog.table[label][i]
            text = f"{value:.2f}" if np.ndim(value) == 0 and np.issubdtype(
                np.asarray(getattr(value, "value", value)).dtype, np.floating) else str(value)
            ax.text(0.04, 0.96, text, transform=ax.transAxes, color="w", va="top",
                    fontsize=8)
    fig.tight_layout()
    return fig
