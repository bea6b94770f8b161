# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Physical, band-aware, batched augmentations of calibrated multi-band galaxy images."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..dust import effective_wavelengths, extinction_coefficients
from ._base import BandTransform, as_batch, make_generator

__all__ = ["ExtinctionAugment", "PSFAugment", "RandomRotate", "JitterCrop", "CenterCrop",
           "GaussianNoise", "Compose", "rotate", "crop"]


def _per_object(value, n, device, name):
    """A (n,) float tensor from a scalar, array or tensor of per-object values."""
    if not isinstance(value, torch.Tensor):
        value = np.asarray(value, dtype=np.float64)
    t = torch.as_tensor(value, device=device)
    t = t.to(torch.float64 if t.dtype == torch.float64 else torch.float32)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"{name} must be one value per object ({n}), got shape "
                         f"{tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has non-finite values")
    return t


#: Largest E(B-V) that ExtinctionAugment accepts (per object, or as ebv_max): beyond it
#: dereddening multiplies u-band fluxes by more than 10^17 and float32 images overflow;
#: no galaxy behind that much dust is worth training on (see CutoutFlag.HIGH_EXTINCTION).
MAX_EBV = 10.0


class ExtinctionAugment(BandTransform):
    r"""Galactic extinction: deredden each object, then redden by a random E(B-V).

    Each image is first corrected for its own reddening, :math:`f_b \to f_b\,
    10^{0.4 R_b E_{\rm obj}}`, then reddened by :math:`E \sim U(0, {\tt ebv\_max})` drawn per
    object: :math:`f_b \to f_b\, 10^{-0.4 R_b E}`, with :math:`R_b` the Schlafly &
    Finkbeiner (2011) coefficients (Hayat et al. 2021, Sect. 3.1). With ``ebv_max=0`` it
    is a pure dereddening transform (fine-tuning and inference).

    Parameters
    ----------
    ebv_max : float, optional
        Upper end of the uniform E(B-V) distribution (SFD scale, mag).
    coefficients : {"SF11", "SFD98"}, optional
        Extinction coefficient set (see `galssl.dust.extinction_coefficients`).
    r_v : float, optional
        Total-to-selective extinction ratio of the coefficient set (3.1).
    deredden : bool, optional
        Remove each object's own reddening first (needs ``ebv`` at call time).
    bands : str, optional
        Band of each channel (default ``"ugriz"``).
    seed : int or `torch.Generator`, optional
        Seed of the transform's own random generator, used when a call passes none.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import ExtinctionAugment
    >>> images = torch.ones(2, 5, 8, 8)
    >>> out = ExtinctionAugment(ebv_max=0.0)(images, ebv=torch.tensor([0.0, 0.1]))
    >>> round(out[1, 0, 0, 0].item(), 4)     # u band, 10**(0.4 * 4.239 * 0.1)
    1.4776
    """

    def __init__(self, ebv_max=0.5, *, coefficients="SF11", r_v=3.1, deredden=True,
                 bands="ugriz", seed=None):
        super().__init__(bands=bands, seed=seed)
        if not (isinstance(ebv_max, (int, float)) and math.isfinite(ebv_max)
                and 0 <= ebv_max <= MAX_EBV):
            raise ValueError(f"ebv_max must be a number in [0, {MAX_EBV:g}], got {ebv_max!r}")
        self.ebv_max = float(ebv_max)
        self.coefficients = coefficients
        self.r_v = r_v
        self.deredden = bool(deredden)
        r = extinction_coefficients(self.bands, law=coefficients, r_v=r_v)
        self.register_buffer("r_b", torch.as_tensor(r, dtype=torch.float64), persistent=False)

    def draw(self, images, ebv, generator):
        """The (B, C) flux factors 10**(-0.4 R_b (E_new - E_obj)), in float64."""
        n, device = images.shape[0], images.device
        r_b = self.r_b.to(device, torch.float64)
        delta = torch.zeros(n, device=device, dtype=torch.float64)
        if self.deredden:
            if ebv is None:
                raise ValueError("ExtinctionAugment(deredden=True) needs each object's ebv "
                                 "(pass ebv=..., e.g. the catalogue's 'ebv' column)")
            e = _per_object(ebv, n, device, "ebv").to(torch.float64)
            bad = torch.nonzero(e.abs() > MAX_EBV).flatten()
            if len(bad):
                raise ValueError(f"ebv of {len(bad)} objects is beyond {MAX_EBV:g} (rows "
                                 f"{bad[:10].tolist()}): dereddening would overflow the "
                                 f"images; leave such rows out (CutoutFlag.HIGH_EXTINCTION)")
            delta = delta - e
        if self.ebv_max > 0:
            delta = delta + self._uniform(n, 0.0, self.ebv_max, generator, device,
                                          dtype=torch.float64)
        return {"factor": torch.pow(10.0, -0.4 * delta[:, None] * r_b[None, :])}

    def apply(self, images, params):
        return images * params["factor"][:, :, None, None].to(images.dtype)

    def extra_repr(self):
        return (f"ebv_max={self.ebv_max}, coefficients={self.coefficients!r}, r_v={self.r_v}, "
                f"deredden={self.deredden}, {super().extra_repr()}")


def _gaussian_kernels(sigma_pix, size):
    """(N, size, size) normalised Gaussian kernels of widths ``sigma_pix`` (N,)."""
    r = torch.arange(size, device=sigma_pix.device, dtype=torch.float32) - (size - 1) / 2
    s = sigma_pix.clamp_min(1e-3)[:, None]
    g = torch.exp(-0.5 * (r[None, :] / s) ** 2)
    g = g / g.sum(dim=1, keepdim=True)
    return g[:, :, None] * g[:, None, :]


class PSFAugment(BandTransform):
    r"""Wavelength-dependent Gaussian blur: a random extra seeing per object.

    Per object :math:`\sigma_r \sim |N(0, {\tt sigma})|` arcsec in r, scaled to band b as
    :math:`\sigma_b = \sigma_r (\lambda_b / \lambda_r)^{-0.3}` (effective wavelengths of
    Schlafly & Finkbeiner 2011), converted to pixels of ``pixel_scale``. The kernels of all
    objects and bands are applied in one grouped convolution. Hayat et al. (2021) found this
    augmentation to hurt, so it is off in `default_pretraining_views`.

    Parameters
    ----------
    sigma : float, optional
        Scale of the half-normal r-band extra seeing, arcsec (0.13").
    pixel_scale : float, optional
        Arcsec per pixel of the images; None: the survey's of ``bands`` (0.396" for SDSS).
    exponent : float, optional
        Wavelength dependence of the seeing, sigma proportional to lambda**exponent.
    bands : str, optional
        Band of each channel.
    seed : int or `torch.Generator`, optional
        Seed of the transform's own random generator.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import PSFAugment
    >>> x = torch.zeros(1, 5, 15, 15); x[..., 7, 7] = 1.0
    >>> y = PSFAugment(sigma=0.5, seed=1)(x)
    >>> bool(torch.allclose(y.sum(dim=(-1, -2)), torch.ones(1, 5)))   # flux kept
    True
    """

    def __init__(self, sigma=0.13, *, pixel_scale=None, exponent=-0.3, bands="ugriz",
                 seed=None):
        from ..surveys import pixel_scale_of

        super().__init__(bands=bands, seed=seed)
        pixel_scale = pixel_scale_of(self.bands, pixel_scale)
        if not sigma >= 0 or not pixel_scale > 0:
            raise ValueError("sigma must be >= 0 and pixel_scale > 0 (arcsec)")
        self.sigma = float(sigma)
        self.pixel_scale = float(pixel_scale)
        self.exponent = float(exponent)
        lam = effective_wavelengths(self.bands).value
        lam_r = effective_wavelengths("r").value[0]
        self.register_buffer("scale_b", torch.as_tensor((lam / lam_r) ** self.exponent,
                                                        dtype=torch.float32), persistent=False)

    def blur(self, images, sigma_r_arcsec):
        """Blur each object by its r-band sigma (arcsec), scaled to every band."""
        images, single = as_batch(images, self.n_bands, "PSFAugment.blur")
        n, c, h, w = images.shape
        sig = _per_object(sigma_r_arcsec, n, images.device, "sigma_r_arcsec").abs()
        sigma_pix = (sig[:, None] * self.scale_b.to(images.device)[None, :]) / self.pixel_scale
        half = max(1, int(math.ceil(4.0 * float(sigma_pix.max()))))
        half = min(half, (min(h, w) - 1) // 2)
        size = 2 * half + 1
        kernels = _gaussian_kernels(sigma_pix.reshape(-1), size).to(images.dtype)
        padded = F.pad(images.reshape(1, n * c, h, w), (half, half, half, half), mode="reflect")
        out = F.conv2d(padded, kernels[:, None], groups=n * c).reshape(n, c, h, w)
        return out[0] if single else out

    def draw(self, images, ebv, generator):
        return {"sigma": self._normal(images.shape[0], generator, images.device).abs()
                * self.sigma}

    def apply(self, images, params):
        return self.blur(images, params["sigma"])

    def extra_repr(self):
        return (f"sigma={self.sigma}, pixel_scale={self.pixel_scale}, exponent={self.exponent}, "
                f"{super().extra_repr()}")


def rotate(images, angles):
    """Rotate each image about its centre by ``angles`` (radians; the direction of
    `torch.rot90`, i.e. counter-clockwise as displayed with ``origin='upper'``), bilinear;
    zeros come in from outside.

    ``angles = pi/2`` equals ``torch.rot90(images, 1, dims=(-2, -1))`` up to rounding.
    """
    images, single = as_batch(images, images.shape[-3], "rotate")
    out = rotate_crop(images, angles, out=None)
    return out[0] if single else out


def rotate_crop(images, angles, out=None, shifts=None):
    """Rotate (as `rotate`) and then crop (as `crop`) in one bilinear resampling.

    Only the ``out`` x ``out`` output pixels are computed: the sampling grid of the shifted
    crop is rotated into the input, which gives the values `crop` would take from the
    rotated image, at a fraction of the cost.
    """
    images, single = as_batch(images, images.shape[-3], "rotate_crop")
    n, _, h, w = images.shape
    a = _per_object(angles, n, images.device, "angles").to(torch.float32)
    oh, ow = (h, w) if out is None else (out, out)
    dy = dx = torch.zeros(n, device=images.device)
    if shifts is not None:
        shifts = torch.as_tensor(shifts, device=images.device)
        dy, dx = shifts[:, 0].float(), shifts[:, 1].float()
    # pixel centres of the crop in the full image, in grid_sample's normalised coordinates
    # (align_corners=False); rotating them by the angle samples the input where the
    # rotated image's pixel lies
    ys = (2 * (((h - oh) // 2 + dy)[:, None] + torch.arange(oh, device=images.device)) + 1) / h - 1
    xs = (2 * (((w - ow) // 2 + dx)[:, None] + torch.arange(ow, device=images.device)) + 1) / w - 1
    cos, sin = torch.cos(a)[:, None, None], torch.sin(a)[:, None, None]
    gx = cos * xs[:, None, :] - sin * ys[:, :, None]
    gy = sin * xs[:, None, :] + cos * ys[:, :, None]
    grid = torch.stack([gx, gy], dim=-1).to(images.dtype)
    result = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    return result[0] if single else result


class RandomRotate(BandTransform):
    """Rotation by an angle ~ U(0, 2 pi) per object, bilinear (flux-preserving to < 1 %).

    Parameters
    ----------
    bands : str, optional
        Band of each channel.
    seed : int or `torch.Generator`, optional
        Seed of the transform's own random generator.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import RandomRotate
    >>> RandomRotate(seed=0)(torch.rand(4, 5, 32, 32)).shape
    torch.Size([4, 5, 32, 32])
    """

    def draw(self, images, ebv, generator):
        return {"angles": self._uniform(images.shape[0], 0.0, 2 * math.pi, generator,
                                        images.device)}

    def apply(self, images, params):
        return rotate(images, params["angles"])


def crop(images, out, shifts=None):
    """Crop ``out`` x ``out`` pixels about the centre, displaced by integer ``shifts``.

    Parameters
    ----------
    images : tensor
        (B, C, H, W) or (C, H, W).
    out : int
        Output side; the crop starts at ``(H - out) // 2 + dy`` and ``(W - out) // 2 + dx``.
    shifts : tensor, optional
        (B, 2) integer (dy, dx) per object; zeros by default.
    """
    images, single = as_batch(images, images.shape[-3], "crop")
    n, c, h, w = images.shape
    if out > h or out > w:
        raise ValueError(f"cannot crop {out}x{out} pixels out of {h}x{w} images")
    y0, x0 = (h - out) // 2, (w - out) // 2
    if shifts is None:
        result = images[:, :, y0:y0 + out, x0:x0 + out]
        return result[0] if single else result
    shifts = torch.as_tensor(shifts, device=images.device, dtype=torch.long)
    if shifts.shape != (n, 2):
        raise ValueError(f"shifts must have shape ({n}, 2), got {tuple(shifts.shape)}")
    dy, dx = shifts[:, 0], shifts[:, 1]
    if (y0 + dy).min() < 0 or (y0 + dy).max() + out > h or (x0 + dx).min() < 0 or \
            (x0 + dx).max() + out > w:
        raise ValueError(f"shifted crop of {out} px leaves the {h}x{w} image")
    ar = torch.arange(out, device=images.device)
    rows = (y0 + dy)[:, None] + ar[None, :]                       # (B, out)
    cols = (x0 + dx)[:, None] + ar[None, :]
    b = torch.arange(n, device=images.device)[:, None, None]
    result = images.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]
    result = result.permute(0, 3, 1, 2).contiguous()
    return result[0] if single else result


class JitterCrop(BandTransform):
    """Random integer shift ~ U{-jitter, ..., jitter} per axis and object, then centre crop.

    Parameters
    ----------
    out : int, optional
        Side of the output in pixels (64).
    jitter : int, optional
        Largest shift in pixels along each axis (7).
    bands : str, optional
        Band of each channel.
    seed : int or `torch.Generator`, optional
        Seed of the transform's own random generator.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import JitterCrop
    >>> JitterCrop(out=64, jitter=7, seed=0)(torch.rand(3, 5, 107, 107)).shape
    torch.Size([3, 5, 64, 64])
    """

    def __init__(self, out=64, jitter=7, *, bands="ugriz", seed=None):
        super().__init__(bands=bands, seed=seed)
        if int(out) != out or out < 1 or int(jitter) != jitter or jitter < 0:
            raise ValueError(f"out must be a positive and jitter a non-negative integer, got "
                             f"out={out!r}, jitter={jitter!r}")
        self.out, self.jitter = int(out), int(jitter)

    def output_shape(self, shape):
        return tuple(shape[:-2]) + (self.out, self.out)

    def draw(self, images, ebv, generator):
        n, _, h, w = images.shape
        if min(h, w) < self.out + 2 * self.jitter:
            raise ValueError(f"{h}x{w} images are too small for a {self.out}-pixel crop with "
                             f"a jitter of {self.jitter} pixels")
        if self.jitter == 0:
            return {"shifts": None}
        return {"shifts": torch.randint(-self.jitter, self.jitter + 1, (n, 2),
                                        generator=generator)}

    def apply(self, images, params):
        return crop(images, self.out, params["shifts"])

    def extra_repr(self):
        return f"out={self.out}, jitter={self.jitter}, {super().extra_repr()}"


class CenterCrop(JitterCrop):
    """Central ``out`` x ``out`` crop (a `JitterCrop` without jitter).

    Parameters
    ----------
    out : int, optional
        Side of the output in pixels.
    bands : str, optional
        Band of each channel.
    """

    def __init__(self, out=64, *, bands="ugriz"):
        super().__init__(out=out, jitter=0, bands=bands)

    def extra_repr(self):
        return f"out={self.out}, bands={''.join(self.bands)!r}"


class GaussianNoise(BandTransform):
    """Additive Gaussian noise: per object a scalar s ~ U(low, high) times each band's noise.

    Parameters
    ----------
    noise_mad : array-like
        Per-band noise level (nanomaggies), e.g. from `estimate_noise_mad`.
    scale : (float, float), optional
        Range of the per-object multiplier s (Hayat et al. 2021: U(1, 3)).
    bands : str, optional
        Band of each channel.
    seed : int or `torch.Generator`, optional
        Seed of the transform's own random generator.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import GaussianNoise
    >>> noisy = GaussianNoise([0.1] * 5, scale=(2, 2), seed=0)(torch.zeros(4, 5, 64, 64))
    >>> round(noisy.std().item(), 1)
    0.2
    """

    def __init__(self, noise_mad, scale=(1.0, 3.0), *, bands="ugriz", seed=None):
        super().__init__(bands=bands, seed=seed)
        mad = torch.as_tensor(np.asarray(noise_mad, dtype=np.float32))
        if mad.shape != (self.n_bands,) or not torch.isfinite(mad).all() or (mad < 0).any():
            raise ValueError(f"noise_mad must be {self.n_bands} finite non-negative values "
                             f"(one per band {''.join(self.bands)}), got {noise_mad!r}")
        lo, hi = scale
        if not 0 <= lo <= hi:
            raise ValueError(f"scale must be (low, high) with 0 <= low <= high, got {scale!r}")
        self.scale = (float(lo), float(hi))
        self.register_buffer("noise_mad", mad)

    def draw(self, images, ebv, generator):
        s = self._uniform(images.shape[0], self.scale[0], self.scale[1], generator,
                          images.device)
        seeds = None if generator is None else \
            torch.randint(0, 2**62, (_NOISE_BLOCKS,), generator=generator).tolist()
        return {"sigma": s[:, None] * self.noise_mad.to(images.device)[None, :],
                "seeds": seeds}

    def apply(self, images, params, factor=None):
        """Add the noise; ``factor`` (B, C) first scales the images (fused, one pass)."""
        noise = _randn(images, params["seeds"])
        noise.mul_(params["sigma"][:, :, None, None].to(images.dtype))
        if factor is None:
            return noise.add_(images)
        return torch.addcmul(noise, images, factor[:, :, None, None].to(images.dtype))

    def extra_repr(self):
        mad = ", ".join(f"{v:.4g}" for v in self.noise_mad.tolist())
        return f"noise_mad=[{mad}], scale={self.scale}, {super().extra_repr()}"


#: Large CPU noise tensors are drawn in this many blocks, each from its own generator seeded
#: by the caller's, on a thread pool: faster on several cores, and the same numbers whatever
#: the number of threads.
_NOISE_BLOCKS = 8
_POOL = None


def _thread_pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=_NOISE_BLOCKS, thread_name_prefix="galssl")
    return _POOL


def _randn(like, seeds):
    """Standard normal noise shaped like ``like``, on its device, reproducible from
    ``seeds`` (`_NOISE_BLOCKS` integers drawn from the caller's generator; None: torch's
    global generator).

    On a GPU it is drawn there from a generator of that device seeded by ``seeds[0]`` (no
    large CPU tensor is moved); on the CPU large tensors are drawn in `_NOISE_BLOCKS` blocks
    in parallel, block k from a generator seeded by ``seeds[k]``.
    """
    if seeds is None:
        return torch.randn(like.shape, dtype=like.dtype, device=like.device)
    out = torch.empty(like.shape, dtype=like.dtype, device=like.device)
    if like.device.type != "cpu":
        g = torch.Generator(device=like.device)
        g.manual_seed(seeds[0])
        return out.normal_(generator=g)
    flat = out.view(-1)
    bounds = np.linspace(0, flat.numel(), _NOISE_BLOCKS + 1).astype(int)

    def fill(k):
        g = torch.Generator()
        g.manual_seed(seeds[k])
        flat[bounds[k]:bounds[k + 1]].normal_(generator=g)

    threads = min(_NOISE_BLOCKS, torch.get_num_threads())
    if threads > 1 and flat.numel() >= 1 << 18:
        list(_thread_pool().map(fill, range(_NOISE_BLOCKS)))
    else:
        for k in range(_NOISE_BLOCKS):
            fill(k)
    return out


class Compose(torch.nn.Module):
    """Apply transforms in order, handing each the objects' ``ebv`` and the generator.

    Parameters
    ----------
    transforms : list of `BandTransform` (or callables taking ``ebv=`` and ``generator=``)
    seed : int or `torch.Generator`, optional
        A generator of the composition's own, used when a call passes none.

    Examples
    --------
    >>> import torch
    >>> from galssl.augment import Compose, ExtinctionAugment, CenterCrop
    >>> t = Compose([ExtinctionAugment(0.0), CenterCrop(64)])
    >>> t(torch.ones(2, 5, 107, 107), ebv=torch.zeros(2)).shape
    torch.Size([2, 5, 64, 64])
    """

    def __init__(self, transforms, *, seed=None):
        super().__init__()
        self.transforms = torch.nn.ModuleList(transforms)
        self.generator = make_generator(seed)

    def forward(self, images, *, ebv=None, generator=None):
        """Transform (B, C, H, W) or (C, H, W) ``images``; ``ebv`` per object, where used."""
        g = generator if generator is not None else self.generator
        if not self.fusable:
            for t in self.transforms:
                images = t(images, ebv=ebv, generator=g)
            return images
        images, single = as_batch(images, self.transforms[0].n_bands, "Compose")
        out = self.run(images, self.plan(images, ebv, g))
        return out[0] if single else out

    @property
    def fusable(self):
        """True when every step is a `BandTransform` (draws apart from work)."""
        return len(self.transforms) > 0 and all(isinstance(t, BandTransform)
                                                for t in self.transforms)

    def plan(self, images, ebv, generator):
        """Draw the parameters of every step, in order, for a (B, C, H, W) batch."""
        like = _Like(tuple(images.shape), images.device)
        params = []
        for t in self.transforms:
            params.append(t.draw(like, ebv, generator))
            like = _Like(t.output_shape(like.shape), like.device)
        return params

    def run(self, images, params):
        """Apply the steps with parameters from `plan`.

        The work is fused where the result is mathematically the same (equal to float
        rounding, ~1e-7 relative): a rotation followed by a crop becomes one resampling of
        the crop only, and per-band flux factors (extinction), which commute with rotations,
        crops and blurs, are deferred and folded into the noise step.
        """
        steps = list(self.transforms)
        if images.shape[0] == 0:  # an empty batch: nothing to compute, only the shape
            shape = tuple(images.shape)
            for t in steps:
                shape = t.output_shape(shape)
            return images.new_zeros(shape)
        factor = None
        i = 0
        while i < len(steps):
            t = steps[i]
            if isinstance(t, RandomRotate) and i + 1 < len(steps) and \
                    isinstance(steps[i + 1], JitterCrop):
                images = rotate_crop(images, params[i]["angles"], steps[i + 1].out,
                                     params[i + 1]["shifts"])
                i += 2
                continue
            p = params[i]
            if isinstance(t, ExtinctionAugment):
                factor = p["factor"] if factor is None else factor * p["factor"]
            elif isinstance(t, GaussianNoise):
                images, factor = t.apply(images, p, factor), None
            else:
                if not isinstance(t, (RandomRotate, JitterCrop, PSFAugment)):
                    images, factor = _scale(images, factor), None
                images = t.apply(images, p)
            i += 1
        return _scale(images, factor)


class _Like:
    """Shape and device of a batch, all that `BandTransform.draw` looks at."""

    def __init__(self, shape, device):
        self.shape, self.device = shape, device


def _scale(images, factor):
    return images if factor is None else images * factor[:, :, None, None].to(images.dtype)
