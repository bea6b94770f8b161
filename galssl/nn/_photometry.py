# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""A self-supervised photometry target: a view's own aperture magnitudes and colours."""

import numpy as np
import torch
from torch import nn

from ._backbones import band_softenings

__all__ = ["PhotometryHead", "APERTURE_RADII_ARCSEC"]

#: Radii (arcsec) of the apertures of `PhotometryHead`: the 3" of the SDSS fibre diameter,
#: half and twice it (the apertures of the results page's photometry reference).
APERTURE_RADII_ARCSEC = (1.5, 3.0, 6.0)


def photometry_apertures(bands, size, pixel_scale=None):
    """The radii (arcsec) of `APERTURE_RADII_ARCSEC` that fit in views of ``size`` pixels,
    after checking that ``bands`` can be measured; raises a ValueError naming the bad
    input otherwise. What `PhotometryHead` and ``ContrastiveEncoder(photometry=...)`` check.

    Examples
    --------
    >>> from galssl.nn._photometry import photometry_apertures
    >>> photometry_apertures("ugriz", 24)
    [1.5, 3.0]
    """
    from ..surveys import parse_bands, pixel_scale_of

    try:
        bands = parse_bands(bands)
    except (TypeError, ValueError):
        bands = ()
    if len(bands) < 2:
        raise ValueError(f"the photometry target needs two or more bands (SDSS ugriz or "
                         f"galssl.surveys bands), got bands={bands!r}")
    pixel_scale = pixel_scale_of(bands, pixel_scale)
    apertures = [r for r in APERTURE_RADII_ARCSEC if 2 * r / pixel_scale <= size]
    if not apertures:
        raise ValueError(f"views of {size} pixels are smaller than the "
                         f"{2 * APERTURE_RADII_ARCSEC[0]:g} arcsec aperture")
    return apertures


def _aperture_masks(size, radii_pix, oversample=5):
    """(size * size, len(radii)) fractional coverage of each pixel by circles of
    ``radii_pix`` centred on the image centre, from ``oversample``² sub-pixels."""
    c = (size - 1) / 2.0
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    y = (np.arange(size)[:, None] + sub[None, :]).ravel() - c  # (size * oversample,)
    r2 = y[:, None] ** 2 + y[None, :] ** 2
    masks = []
    for r in radii_pix:
        inside = (r2 <= r * r).reshape(size, oversample, size, oversample)
        masks.append(inside.mean(axis=(1, 3)).ravel())
    return torch.as_tensor(np.stack(masks, axis=1), dtype=torch.float32)


class PhotometryHead(nn.Module):
    """A linear map from a view's representation to that view's own photometry.

    The target is computed from the pixels of the view itself, with no label: in each of
    the circular apertures of `APERTURE_RADII_ARCSEC` that fit in the view (centred) the
    asinh magnitude of the reference band and the colours of adjacent bands (u - g,
    g - r, r - i, i - z for ugriz), 15 numbers for five bands in three apertures. Asinh
    magnitudes (Lupton, Gunn & Szalay 1999) with the SDSS softening stay finite for the
    faint and noisy fluxes of u and z.
    Each number is standardized over the batch, so the loss, the mean squared error of a
    linear regression on the representations, is about 1 - R² averaged over the 15
    targets: 1 for representations that carry none of it, 0 for a perfect linear read-off.
    Added to InfoNCE (``ContrastiveEncoder(photometry=w)``), it keeps the colours that
    instance discrimination suppresses in the representations (feature suppression,
    Chen, Luo & Li 2021; a predictive term against it, Li et al. 2020), linearly, where a
    photo-z head reads them.

    Parameters
    ----------
    in_dim : int
        Dimension of the representations.
    bands : str or sequence of str
        Band of each channel of the views: SDSS ugriz (softenings `ASINH_SOFTENING`) or
        bands of `galssl.surveys` (`band_softenings`).
    size : int
        Side of the views in pixels.
    pixel_scale : float, optional
        Arcsec per pixel; None: the survey's (0.396 for SDSS, 0.168 for HSC...).
    reference : str
        Band whose magnitudes enter the target ("r"; the middle band if absent).

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import PhotometryHead
    >>> head = PhotometryHead(256, "ugriz", 64)
    >>> head.targets(torch.rand(8, 5, 64, 64)).shape
    torch.Size([8, 15])
    >>> head.names[:5]
    ['r (1.5")', 'r (3")', 'r (6")', 'u-g (1.5")', 'u-g (3")']
    """

    def __init__(self, in_dim, bands, size, *, pixel_scale=None, reference="r"):
        from ..surveys import parse_bands, pixel_scale_of

        super().__init__()
        bands = parse_bands(bands)
        pixel_scale = pixel_scale_of(bands, pixel_scale)
        apertures = photometry_apertures(bands, size, pixel_scale)
        radii = [r / pixel_scale for r in apertures]
        self.bands = bands
        self.ref = bands.index(reference) if reference in bands else len(bands) // 2
        self.register_buffer("masks", _aperture_masks(size, radii), persistent=False)
        b = torch.tensor(band_softenings(bands, "asinh"), dtype=torch.float32)
        self.register_buffer("softening", b.view(1, -1, 1), persistent=False)
        rad = [f'({r:g}")' for r in apertures]
        self.names = ([f"{bands[self.ref]} {r}" for r in rad]
                      + [f"{bands[k]}-{bands[k + 1]} {r}" for k in range(len(bands) - 1)
                         for r in rad])
        self.linear = nn.Linear(in_dim, len(self.names))

    @torch.no_grad()
    def targets(self, views):
        """(B, n_targets) reference-band asinh magnitudes and adjacent colours of the
        views (B, C, size, size) in nanomaggies, in units of 2.5 / ln 10 mag, unstandardized."""
        with torch.autocast(views.device.type, enabled=False):  # fp32 under mixed precision
            flux = views.float().flatten(2) @ self.masks  # (B, C, R) nanomaggies
        mag = -torch.asinh(flux / (2 * self.softening))  # + a constant per band
        colours = mag[:, :-1] - mag[:, 1:]
        return torch.cat([mag[:, self.ref], colours.flatten(1)], dim=1)

    def forward(self, features):
        return self.linear(features)

    def loss(self, features, views, *, gather=None, eps=1e-6):
        """Mean squared error of the linear prediction against the batch-standardized
        targets of ``views``. ``gather`` (a function of a tensor returning the
        concatenation of every process's, e.g. for DDP) makes the batch statistics those
        of the global batch, so that the mean of the processes' losses is the loss of
        one process on the whole batch."""
        t = self.targets(views)
        every = t if gather is None else gather(t)
        t = (t - every.mean(dim=0)) / every.std(dim=0).clamp_min(eps)
        return (self(features.float()) - t).square().mean()
