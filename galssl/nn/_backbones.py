# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Encoders (backbones) for multi-band cutouts, built on torchvision's ResNets."""

import numpy as np
import torch
from torch import nn

__all__ = ["create_backbone", "list_backbones", "Backbone", "count_parameters", "AsinhStretch",
           "ASINH_SOFTENING", "PIXEL_NOISE_SOFTENING", "INPUT_STRETCHES"]

#: Softening parameters b of the SDSS asinh magnitudes (Lupton, Gunn & Szalay 1999, AJ 118,
#: 1406; the SDSS photometric pipeline's values b = 1.4, 0.9, 1.2, 1.8, 7.4 x 10^-10 f0 for
#: u, g, r, i, z), in nanomaggies (f0 = 3631 Jy = 10^9 nanomaggies).
ASINH_SOFTENING = {"u": 0.14, "g": 0.09, "r": 0.12, "i": 0.18, "z": 0.74}

#: Softening at the sky noise of one SDSS pixel: the median over the real galaxy cutouts of
#: the shared fields (0.396" pixels, ``galssl.augment.estimate_noise_mad``) of each band's
#: robust pixel noise, in nanomaggies, rounded. Five to nine times smaller than
#: `ASINH_SOFTENING` (which is per object, not per pixel): a galaxy's light is then on the
#: logarithmic branch, where band ratios become differences, like colours.
PIXEL_NOISE_SOFTENING = {"u": 0.027, "g": 0.010, "r": 0.018, "i": 0.031, "z": 0.11}

#: Input stretches a backbone can apply to its nanomaggie input before its first layer, and
#: the softening of each.
INPUT_STRETCHES = (None, "asinh", "asinh-noise")
_SOFTENINGS = {"asinh": ASINH_SOFTENING, "asinh-noise": PIXEL_NOISE_SOFTENING}


def band_softenings(bands, input_stretch="asinh"):
    """The asinh softening of each band (nanomaggies): SDSS bands (``u`` or ``sdss-u``) from
    `ASINH_SOFTENING` / `PIXEL_NOISE_SOFTENING` exactly; a band of another survey
    (`galssl.surveys`) the SDSS value interpolated in log softening against log effective
    wavelength at its wavelength (held at the u and z values beyond them), i.e. an
    SDSS-depth softening at that wavelength.

    Examples
    --------
    >>> from galssl.nn._backbones import band_softenings
    >>> band_softenings("gr")
    [0.09, 0.12]
    >>> [round(b, 3) for b in band_softenings("hsc-g,hsc-r")]
    [0.093, 0.124]
    """
    from ..surveys import parse_band, parse_bands

    table = _SOFTENINGS[input_stretch]
    sdss = [parse_band(b) for b in "ugriz"]
    log_lam = np.log([b.wavelength for b in sdss])
    log_b = np.log([table[b.filter] for b in sdss])
    out = []
    for name in parse_bands(bands):
        band = parse_band(name)
        if band.system == "sdss":
            out.append(table[band.filter])
        else:
            out.append(float(np.exp(np.interp(np.log(band.wavelength), log_lam, log_b))))
    return out


class AsinhStretch(nn.Module):
    """x -> asinh(x / b) per band: linear for fluxes below the softening b, logarithmic
    above, so that the heavy-tailed nanomaggie pixels of galaxies (a bright core is 10^4
    times the sky noise) reach the first convolution on a common scale. Fixed, no
    parameters (and nothing in the state dict).

    Parameters
    ----------
    softening : sequence of float
        b of each band, in the units of the images (nanomaggies); `ASINH_SOFTENING` holds
        the SDSS values.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import AsinhStretch
    >>> AsinhStretch([0.12])(torch.tensor([[[[0.0, 0.12, 120.0]]]]))
    tensor([[[[0.0000, 0.8814, 7.6009]]]])
    """

    def __init__(self, softening):
        super().__init__()
        b = torch.as_tensor([float(v) for v in softening], dtype=torch.float32)
        if not (b > 0).all():
            raise ValueError(f"softening must be positive, got {list(softening)}")
        self.register_buffer("softening", b.view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        if x.requires_grad and torch.is_grad_enabled():  # autograd through torch.asinh
            return torch.asinh(x / self.softening.to(x.dtype))
        # asinh(y) = sign(y) log1p(|y| + y^2 / (1 + sqrt(1 + y^2))), in place: two to three
        # times faster than torch.asinh on a CPU (not vectorised there), as accurate (a few
        # 1e-7), and the input of every training step passes through it
        y = x * (1.0 / self.softening).to(x.dtype)
        a = y.abs().clamp_(max=1e18)
        r = a * a
        return r.div_(r.add(1).sqrt_().add_(1)).add_(a).log1p_().copysign_(y)

    def extra_repr(self):
        return f"softening={[round(float(v), 4) for v in self.softening.flatten()]}"


class Backbone(nn.Module):
    """A convolutional encoder: (B, C, H, W) images to (B, D) representations.

    ``num_features`` is D, the output of the global average pool.
    """

    def __init__(self, body, num_features, arch, in_chans, stretch=None):
        super().__init__()
        self.stretch = stretch  # an AsinhStretch, or None (the network sees nanomaggies)
        self.body = body
        self.num_features = int(num_features)
        self.arch = arch
        self.in_chans = int(in_chans)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"{self.arch} expects (B, {self.in_chans}, H, W) images, got shape "
                             f"{tuple(x.shape)}")
        if self.stretch is not None:
            x = self.stretch(x)
        return self.body(x)

    def extra_repr(self):
        return f"arch={self.arch!r}, in_chans={self.in_chans}, num_features={self.num_features}"


def _torchvision_resnet(depth, in_chans, paper_stem):
    import torchvision

    net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    if paper_stem:
        # Hayat et al. (2021): a stride-1 first convolution and no max-pool, for 64x64 inputs
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=1, padding=3, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, dim


def _small_resnet(in_chans, widths=(32, 64, 128, 256)):
    """A ResNet-10 of quarter width: one BasicBlock per stage, 3x3 stride-1 stem, 2x2 max-pool
    (1.2 M parameters; the CPU default)."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    layers = [nn.Conv2d(in_chans, widths[0], kernel_size=3, stride=1, padding=1, bias=False),
              nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
              nn.MaxPool2d(kernel_size=2, stride=2)]
    inplanes = widths[0]
    for i, planes in enumerate(widths):
        stride = 1 if i == 0 else 2
        down = None
        if stride != 1 or inplanes != planes:
            down = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))
        layers.append(BasicBlock(inplanes, planes, stride, down))
        inplanes = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    body = nn.Sequential(*layers)
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return body, widths[-1]


_ARCHS = {
    "resnet50-paper": ("ResNet-50 with the seed paper's stride-1 7x7 stem and no max-pool "
                       "(Hayat et al. 2021); 2048-d", lambda c: _torchvision_resnet(50, c, True)),
    "resnet50": ("torchvision ResNet-50, standard stem; 2048-d",
                 lambda c: _torchvision_resnet(50, c, False)),
    "resnet18-paper": ("ResNet-18 with the paper's stride-1 stem; 512-d",
                       lambda c: _torchvision_resnet(18, c, True)),
    "resnet18": ("torchvision ResNet-18, standard stem (7x7 stride 2 + max-pool); 512-d",
                 lambda c: _torchvision_resnet(18, c, False)),
    "resnet10-small": ("ResNet-10 at quarter width (32-64-128-256), 3x3 stem, 2x2 max-pool; "
                       "256-d, 1.2 M parameters: the CPU default", lambda c: _small_resnet(c)),
}


def list_backbones():
    """Names and one-line descriptions of the available architectures.

    Examples
    --------
    >>> from galssl.nn import list_backbones
    >>> sorted(list_backbones())[:2]
    ['resnet10-small', 'resnet18']
    """
    return {name: desc for name, (desc, _) in _ARCHS.items()}


def create_backbone(arch="resnet10-small", in_chans=5, *, input_stretch=None, bands=None):
    """Build an encoder by name.

    Parameters
    ----------
    arch : str
        One of `list_backbones`: ``"resnet50-paper"`` is the seed configuration (a ResNet-50
        whose first convolution is a stride-1 7x7 convolution on 5 channels and whose first
        max-pool is removed; 2048-d); ``"resnet18"`` and ``"resnet10-small"`` make CPU
        training practical.
    in_chans : int
        Number of input channels (bands).
    input_stretch : {None, "asinh", "asinh-noise"}, optional
        ``"asinh"`` puts an `AsinhStretch` with the SDSS softening of ``bands``
        (`ASINH_SOFTENING`) before the first layer, ``"asinh-noise"`` one with a softening
        at the sky noise of a pixel (`PIXEL_NOISE_SOFTENING`); None feeds the nanomaggies
        as they are.
    bands : str, optional
        Band of each channel (needed by ``input_stretch``).

    Returns
    -------
    Backbone
        With ``num_features`` the dimension of the representation.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import create_backbone
    >>> net = create_backbone("resnet18", in_chans=5)
    >>> net(torch.zeros(2, 5, 64, 64)).shape, net.num_features
    (torch.Size([2, 512]), 512)
    """
    if arch not in _ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_ARCHS)}")
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive integer, got {in_chans!r}")
    if input_stretch not in INPUT_STRETCHES:
        raise ValueError(f"input_stretch must be one of {INPUT_STRETCHES}, got "
                         f"{input_stretch!r}")
    stretch = None
    if input_stretch is not None:
        from ..surveys import parse_bands

        try:
            names = parse_bands(bands) if bands else ()
        except (TypeError, ValueError):
            names = None
        if names is None or len(names) != in_chans:
            raise ValueError(f"input_stretch={input_stretch!r} needs the band of each of the "
                             f"{in_chans} channels (SDSS ugriz or galssl.surveys bands), got "
                             f"bands={bands!r}")
        stretch = AsinhStretch(band_softenings(names, input_stretch))
    body, dim = _ARCHS[arch][1](in_chans)
    return Backbone(body, dim, arch, in_chans, stretch)


def count_parameters(module):
    """Number of parameters of a module."""
    return sum(p.numel() for p in module.parameters())
