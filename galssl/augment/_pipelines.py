# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The augmentation pipelines of pretraining, fine-tuning and evaluation, and noise levels."""

import warnings

import numpy as np
import torch

from ._base import as_batch, make_generator
from ._transforms import (CenterCrop, Compose, ExtinctionAugment, GaussianNoise, JitterCrop,
                          PSFAugment, RandomRotate)

__all__ = ["TwoViews", "default_pretraining_views", "finetune_transform", "eval_transform",
           "estimate_noise_mad"]


class TwoViews(torch.nn.Module):
    """Two independent random views of every image, for contrastive (MoCo) pretraining.

    Calling it returns ``(view_1, view_2)``; both come from the same transform with
    independent random parameters, drawn in order from one generator (so a seed fixes both);
    on a CPU with several threads the two views are computed side by side.

    Parameters
    ----------
    transform : `Compose` or callable
    seed : int or `torch.Generator`, optional
    """

    def __init__(self, transform, *, seed=None):
        super().__init__()
        self.transform = transform
        self.generator = make_generator(seed)

    def forward(self, images, *, ebv=None, generator=None):
        """Two views of ``images`` (B, C, H, W); ``ebv`` per object for the extinction step."""
        g = generator if generator is not None else self.generator
        t = self.transform
        if not (isinstance(t, Compose) and t.fusable):
            return t(images, ebv=ebv, generator=g), t(images, ebv=ebv, generator=g)
        batch, single = as_batch(images, t.transforms[0].n_bands, "TwoViews")
        # draw both views' parameters in order (as two calls would), then compute the two
        # views side by side on a CPU with more than one thread
        plans = t.plan(batch, ebv, g), t.plan(batch, ebv, g)
        if batch.device.type == "cpu" and torch.get_num_threads() > 1:
            second = _views_pool().submit(t.run, batch, plans[1])
            views = t.run(batch, plans[0]), second.result()
        else:
            views = t.run(batch, plans[0]), t.run(batch, plans[1])
        return tuple(v[0] for v in views) if single else views


_VIEWS_POOL = None


def _views_pool():
    global _VIEWS_POOL
    if _VIEWS_POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _VIEWS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="galssl-views")
    return _VIEWS_POOL


def default_pretraining_views(noise_mad, *, bands="ugriz", ebv_max=0.5, out=64, jitter=7,
                              noise_scale=(1.0, 3.0), psf=False, psf_sigma=0.13,
                              pixel_scale=None, seed=None):
    """The pretraining augmentations of Hayat et al. (2021), producing two views.

    Order: galactic extinction (deredden, then redden by E(B-V) ~ U(0, ``ebv_max``)),
    optionally PSF blur (off by default: the paper found it hurt), rotation ~ U(0, 2 pi),
    jitter ~ U{-7..7} px per axis with a centre crop to ``out`` pixels, and Gaussian noise of
    U(1, 3) times each band's noise level.

    Parameters
    ----------
    noise_mad : array-like
        Per-band noise level in nanomaggies (`estimate_noise_mad` over the training set).
    bands : str, optional
        Band of each channel.
    ebv_max : float, optional
        Upper end of the random E(B-V) (0.5).
    out, jitter : int, optional
        Crop size (64) and largest shift (7 pixels).
    noise_scale : (float, float), optional
        Range of the noise multiplier (1, 3).
    psf : bool, optional
        Add `PSFAugment` after the extinction step (off, as in the paper).
    psf_sigma, pixel_scale : float, optional
        Parameters of `PSFAugment`.
    seed : int or `torch.Generator`, optional
        Seed of the views' random generator (None: torch's global generator).

    Returns
    -------
    TwoViews
        ``views(images, ebv=ebv)`` returns two (B, C, out, out) tensors.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import default_pretraining_views
    >>> views = default_pretraining_views([0.05, 0.02, 0.03, 0.04, 0.1], seed=0)
    >>> v1, v2 = views(torch.rand(8, 5, 107, 107), ebv=torch.full((8,), 0.03))
    >>> v1.shape, bool((v1 != v2).any())
    (torch.Size([8, 5, 64, 64]), True)
    """
    steps = [ExtinctionAugment(ebv_max, bands=bands)]
    if psf:
        steps.append(PSFAugment(psf_sigma, pixel_scale=pixel_scale, bands=bands))
    steps += [RandomRotate(bands=bands), JitterCrop(out, jitter, bands=bands),
              GaussianNoise(noise_mad, noise_scale, bands=bands)]
    return TwoViews(Compose(steps), seed=seed)


def finetune_transform(*, bands="ugriz", out=64, jitter=7, seed=None):
    """Fine-tuning augmentations: deredden, rotate ~ U(0, 2 pi), jitter-crop to ``out``.

    Examples
    --------
    >>> from galssl.augment import finetune_transform
    >>> for step in finetune_transform().transforms:
    ...     print(type(step).__name__, step.extra_repr())
    ExtinctionAugment ebv_max=0.0, coefficients='SF11', r_v=3.1, deredden=True, bands='ugriz'
    RandomRotate bands='ugriz'
    JitterCrop out=64, jitter=7, bands='ugriz'
    """
    return Compose([ExtinctionAugment(0.0, bands=bands), RandomRotate(bands=bands),
                    JitterCrop(out, jitter, bands=bands)], seed=seed)


def eval_transform(*, bands="ugriz", out=64):
    """Evaluation transform: deredden and centre-crop to ``out`` pixels (deterministic)."""
    return Compose([ExtinctionAugment(0.0, bands=bands), CenterCrop(out, bands=bands)])


def _robust_sigma(x):
    """1.4826 x the median absolute deviation of each row of ``x`` (NaN ignored)."""
    med = np.nanmedian(x, axis=1, keepdims=True)
    return 1.4826 * np.nanmedian(np.abs(x - med), axis=1)


def estimate_noise_mad(images_or_catalog, *, batch_size=256, max_images=None, progress=True):
    """Per-band noise level of a set of cutouts, streamed in batches.

    For every image and band, the noise is 1.4826 x the median absolute deviation of its
    pixels (the standard deviation of Gaussian noise; a galaxy covers few pixels of a
    cutout, so this measures the sky noise); the result is the median over images.

    Parameters
    ----------
    images_or_catalog : array, tensor or `~galssl.cutouts.CutoutCatalog`
        (N, C, H, W) images in nanomaggies, or a catalogue (HDF5-backed ones are read in
        batches, never whole).
    batch_size : int, optional
    max_images : int, optional
        Use only the first ``max_images`` images.
    progress : bool, optional

    Returns
    -------
    ndarray
        (C,) float32 noise level per band, nanomaggies.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.augment import estimate_noise_mad
    >>> rng = np.random.default_rng(0)
    >>> images = rng.normal(0, [0.1, 0.2, 0.3, 0.4, 0.5], size=(20, 32, 32, 5))
    >>> np.round(estimate_noise_mad(images.transpose(0, 3, 1, 2), progress=False), 2)
    array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=float32)
    """
    from ..utils._progress import progress_bar

    images = getattr(images_or_catalog, "images", images_or_catalog)
    if len(getattr(images, "shape", ())) != 4:
        raise ValueError("estimate_noise_mad needs (N, C, H, W) images or a CutoutCatalog, got "
                         f"shape {getattr(images, 'shape', None)}")
    n = images.shape[0] if max_images is None else min(images.shape[0], int(max_images))
    if n == 0:
        raise ValueError("estimate_noise_mad needs at least one image")
    per_image = []
    for start in progress_bar(range(0, n, batch_size), desc="noise level", progress=progress,
                              unit="batch"):
        block = images[start:min(start + batch_size, n)]
        block = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else \
            np.asarray(block)
        b, c = block.shape[:2]
        with warnings.catch_warnings():  # all-NaN images give NaN, dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            per_image.append(_robust_sigma(block.reshape(b * c, -1)).reshape(b, c))
    sig = np.concatenate(per_image)
    out = np.array([np.nanmedian(col) if np.isfinite(col).any() else np.nan for col in sig.T],
                   dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise ValueError("no finite pixels in some band: cannot estimate its noise")
    return out
