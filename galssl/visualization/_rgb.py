# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Colour composites of multi-band cutouts."""

import numpy as np

from ..dust import parse_bands

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
                 figsize_per_panel=2.0, scale_bar=10.0):
    """A grid of colour cutouts of a `~galssl.cutouts.CutoutCatalog` (needs matplotlib).

    Parameters
    ----------
    catalog : `~galssl.cutouts.CutoutCatalog`
    indices : sequence of int, optional
        Rows to show (default: the first 10).
    ncols : int, optional
    label : str or callable, optional
        A table column printed over each panel (e.g. ``"mag_r"``), or a function of the
        row index returning the text (several lines allowed).
    rgb, stretch, Q : optional
        As in `lupton_rgb`.
    scale_bar : float or None, optional
        Length in arcsec of a scale bar drawn in the first panel (from the catalogue's
        pixel scale); None: none.

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
    for k, (ax, i) in enumerate(zip(axes.ravel(), indices)):
        image = catalog.images[i]
        ax.imshow(lupton_rgb(image, catalog.bands, rgb=rgb, stretch=stretch, Q=Q),
                  origin="lower")
        text = None
        if callable(label):
            text = str(label(int(i)))
        elif label is not None:
            value = catalog.table[label][i]
            text = f"{value:.2f}" if np.ndim(value) == 0 and np.issubdtype(
                np.asarray(getattr(value, "value", value)).dtype, np.floating) else str(value)
        if text:
            ax.text(0.04, 0.96, text, transform=ax.transAxes, color="w", va="top",
                    fontsize=7, linespacing=1.1)
        if scale_bar and k == 0:
            pixels = scale_bar / float(getattr(catalog, "pixel_scale", 0.396))
            width = np.shape(image)[-1]
            x0, y0 = 0.06 * width, 0.07 * width
            ax.plot([x0, x0 + pixels], [y0, y0], color="w", lw=2)
            ax.text(x0 + pixels / 2, y0 + 0.03 * width, f'{scale_bar:g}"', color="w",
                    ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    return fig
