# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Shared machinery of the band-aware batched transforms."""

import torch

from ..dust import parse_bands

__all__ = ["BandTransform", "as_batch", "make_generator"]


def make_generator(seed):
    """A CPU `torch.Generator` seeded with ``seed`` (None: no generator)."""
    if seed is None:
        return None
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def as_batch(images, n_bands, name):
    """(B, C, H, W) float tensor view of ``images`` and whether it was a single image."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} works on torch tensors, got {type(images).__name__}; "
                        "convert with torch.as_tensor(images)")
    if images.ndim == 3:
        images, single = images.unsqueeze(0), True
    elif images.ndim == 4:
        single = False
    else:
        raise ValueError(f"{name} expects (B, C, H, W) or (C, H, W) images, got shape "
                         f"{tuple(images.shape)}")
    if images.shape[1] != n_bands:
        raise ValueError(f"{name} expects {n_bands} channels, got {images.shape[1]} "
                         f"(shape {tuple(images.shape)})")
    if not images.is_floating_point():
        raise TypeError(f"{name} expects floating-point images (nanomaggies), got "
                        f"{images.dtype}")
    return images, single


class BandTransform(torch.nn.Module):
    """Base class: a transform of (B, C, H, W) or (C, H, W) images whose channels are bands.

    Subclasses implement ``draw(images, ebv, generator)``, which draws every per-object random
    parameter in one vectorised call and returns them as a dict,
    and ``apply(images, params)`` on a (B, C, H, W) batch. Parameters are drawn on the CPU
    from ``generator`` (or the transform's own, seeded from ``seed``, or torch's global
    generator) and moved to the images' device, so a seed gives the same parameters on any
    device. Keeping the two apart lets `Compose` fuse steps without changing the draws.
    """

    def __init__(self, *, bands="ugriz", seed=None):
        super().__init__()
        self.bands = parse_bands(bands)
        self.generator = make_generator(seed)

    @property
    def n_bands(self):
        """Number of channels (bands) the transform expects."""
        return len(self.bands)

    def forward(self, images, *, ebv=None, generator=None):
        """Transform ``images``; ``ebv`` is the E(B-V) of each object (where used)."""
        batch, single = as_batch(images, self.n_bands, type(self).__name__)
        g = generator if generator is not None else self.generator
        if batch.shape[0] == 0:  # an empty batch: nothing to draw or compute
            return batch.new_zeros(self.output_shape(tuple(batch.shape)))
        out = self.apply(batch, self.draw(batch, ebv, g))
        return out[0] if single else out

    def draw(self, images, ebv, generator):
        """The random parameters of every object of ``images`` (a dict of tensors).

        Only ``images.shape`` and ``images.device`` are used, so a `Compose` can draw the
        parameters of all its steps before running any.
        """
        return {}

    def output_shape(self, shape):
        """Shape of the output for an input of ``shape`` (B, C, H, W)."""
        return tuple(shape)

    def apply(self, images, params):  # pragma: no cover - abstract
        """Transform a (B, C, H, W) batch with parameters from `draw`."""
        raise NotImplementedError

    @staticmethod
    def _uniform(shape, low, high, generator, device, dtype=torch.float32):
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return (low + (high - low) * u).to(device=device, dtype=dtype)

    @staticmethod
    def _normal(shape, generator, device, dtype=torch.float32):
        return torch.randn(shape, generator=generator, dtype=torch.float64).to(device=device,
                                                                               dtype=dtype)

    def extra_repr(self):
        return f"bands={''.join(self.bands)!r}"
