# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Deprecated entry points kept for one release (at the top of the package: they build
models). ``galssl.pretrained.load_pretrained`` and ``from_hayat2021`` come from here."""

__all__ = ["load_pretrained", "from_hayat2021"]


def load_pretrained(name=None, *, kind="photoz", path=None, map_location="cpu"):
    """``PhotoZEstimator.from_pretrained`` (``kind="photoz"``) or
    ``ContrastiveEncoder.from_pretrained`` (``kind="encoder"``)."""
    from .photoz import PhotoZEstimator
    from .ssl import ContrastiveEncoder

    cls = {"photoz": PhotoZEstimator, "encoder": ContrastiveEncoder}.get(kind)
    if cls is None:
        raise ValueError(f"kind must be 'photoz' or 'encoder', got {kind!r}")
    return cls.from_pretrained(name, path=path, map_location=map_location)


def from_hayat2021(state, *, kind="photoz", source="checkpoint", card=None):
    """``PhotoZEstimator.from_hayat2021`` or ``ContrastiveEncoder.from_hayat2021``."""
    from .photoz import PhotoZEstimator
    from .ssl import ContrastiveEncoder

    if kind == "photoz":
        return PhotoZEstimator.from_hayat2021(state, source=source, card=card)
    return ContrastiveEncoder.from_hayat2021(state, source=source)
