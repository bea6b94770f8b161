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
                 figsize_per_panel=2.0, scale_bar=10.0, bands=None, pixel_scale=None,
                 max_panels=50):
    """A grid of colour cutouts (needs matplotlib).

    Parameters
    ----------
    catalog : `~galssl.cutouts.CutoutCatalog`, array or tensor
        A catalogue, or (N, n_bands, H, W) images (a numpy array or torch tensor, e.g.
        augmented views) with their ``bands``.
    indices : sequence of int, optional
        Rows to show (default: every row, up to ``max_panels``; with more rows the first
        ``max_panels`` are shown and a warning says so).
    ncols : int, optional
    label : str or callable, optional
        A table column printed over each panel with its name (e.g. ``"mag_r"`` gives
        ``mag_r = 17.21``), or a function of the row index returning the text (several
        lines allowed).
    rgb, stretch, Q : optional
        As in `lupton_rgb`.
    scale_bar : float or None, optional
        Length in arcsec of a scale bar drawn in the first panel (from the catalogue's
        pixel scale); None: none.
    bands : str or sequence, optional
        Bands of image arrays (default: those of the survey of ``rgb``'s bands, SDSS
        ugriz); a catalogue knows its own.
    pixel_scale : float, optional
        arcsec per pixel of image arrays, for the scale bar (default: the survey's).
    max_panels : int, optional

    Returns
    -------
    `matplotlib.figure.Figure`

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.visualization import plot_cutouts
    >>> fig = plot_cutouts(np.random.default_rng(0).random((3, 5, 32, 32)))  # doctest: +SKIP
    """
    import warnings

    import matplotlib.pyplot as plt

    catalog = _as_catalog(catalog, bands, pixel_scale)
    if label is not None and not callable(label):
        if catalog.table is None:
            raise ValueError("label names a column, but images given as an array have no "
                             "table: pass a function of the row index")
        if label not in catalog.table.colnames:
            raise KeyError(f"label {label!r} is not a column of the catalogue; its columns "
                           f"are {catalog.table.colnames}")
    if indices is None:
        indices = np.arange(min(int(max_panels), len(catalog.images)))
        if len(catalog.images) > len(indices):
            warnings.warn(f"showing the first {len(indices)} of {len(catalog.images)} "
                          f"cutouts; pass indices= to choose which", UserWarning)
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
            number = np.asarray(getattr(value, "value", value))
            text = f"{label} = {float(number):.3g}" if number.ndim == 0 and \
                np.issubdtype(number.dtype, np.floating) else f"{label} = {value}"
        if text:
            ax.text(0.04, 0.96, text, transform=ax.transAxes, color="w", va="top",
                    fontsize=7, linespacing=1.1)
        if scale_bar and k == 0 and catalog.pixel_scale:
            pixels = scale_bar / float(catalog.pixel_scale)
            width = np.shape(image)[-1]
            x0, y0 = 0.06 * width, 0.07 * width
            ax.plot([x0, x0 + pixels], [y0, y0], color="w", lw=2)
            ax.text(x0 + pixels / 2, y0 + 0.03 * width, f'{scale_bar:g}"', color="w",
                    ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    return fig


class _Images:
    """What `plot_cutouts` reads of a catalogue: images, bands, pixel scale, table."""

    def __init__(self, images, bands, pixel_scale, table=None):
        self.images, self.bands, self.pixel_scale, self.table = images, bands, pixel_scale, \
            table


def _as_catalog(catalog, bands, pixel_scale):
    if hasattr(catalog, "images") and hasattr(catalog, "table"):
        return _Images(catalog.images, catalog.bands, getattr(catalog, "pixel_scale", None),
                       catalog.table)
    from ..surveys import parse_bands, survey_of
    from ..utils._validate import as_image_array

    images = as_image_array(catalog, "catalog")
    if images.ndim == 3:
        images = images[None]
    bands = parse_bands("ugriz" if bands is None else bands)
    if images.ndim != 4 or images.shape[1] != len(bands):
        raise ValueError(f"images must be (N, {len(bands)}, H, W) for the bands "
                         f"{''.join(bands)}, got shape {images.shape}")
    if pixel_scale is None:  # the survey's, when the bands are one survey's
        survey = survey_of(bands)
        pixel_scale = None if survey is None else survey.pixel_scale
    return _Images(images, bands, None if pixel_scale is None else float(pixel_scale))
