# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Bit flags of the rows of a cutout catalogue."""

import enum

from ..utils._bitflags import NamedBits

__all__ = ["CutoutFlag", "IMAGE_DEFECTS"]


class CutoutFlag(NamedBits, enum.IntFlag):
    """Bits of the ``flags`` column of a `~galssl.cutouts.CutoutCatalog` table.

    A row whose object could not be cut cleanly keeps its place in the table and says why
    here; its image holds NaN where there are no data.

    Examples
    --------
    >>> from galssl.cutouts import CutoutFlag
    >>> int(CutoutFlag.PARTIAL | CutoutFlag.NAN_PIXELS)
    6
    >>> CutoutFlag.describe(6)
    ['PARTIAL', 'NAN_PIXELS']
    >>> CutoutFlag.names_column([0, 38]).tolist()
    ['', 'PARTIAL|NAN_PIXELS|BLENDED']
    """

    #: The position lies on none of the frames (image all NaN).
    OFF_FRAMES = 1
    #: The cutout extends past the edge of its frame in at least one band (NaN there).
    PARTIAL = 2
    #: Some pixels are NaN (see the ``nan_fraction`` column): off the frame or masked.
    NAN_PIXELS = 4
    #: The field the object lies in has no frame for a requested band (that plane is NaN).
    MISSING_BAND = 8
    #: The input coordinates are missing, not finite or out of range (image all NaN).
    BAD_COORDS = 16
    #: Detection: the object was deblended from a neighbour (sep flag).
    BLENDED = 32
    #: Detection: a saturated star: its core is above the saturation level, or near it with
    #: the marks of saturated pixels interpolated over (see
    #: `~galssl.cutouts.detect_sources`): never a galaxy.
    SATURATED = 64
    #: E(B-V) above `HIGH_EXTINCTION_EBV` (0.5) at the position: dereddening multiplies the
    #: u-band flux by more than 7, and the SFD map is unreliable at low Galactic latitude
    #: (Schlegel et al. 1998). The image is complete; training leaves such rows out.
    HIGH_EXTINCTION = 128
    #: Detection: deblended from the same detection footprint as a saturated star (its
    #: halo, a diffraction spike, or an object buried in them): never a galaxy.
    STAR_HALO = 256


#: E(B-V) beyond which a row is flagged `CutoutFlag.HIGH_EXTINCTION` and left out of training.
HIGH_EXTINCTION_EBV = 0.5

#: The `CutoutFlag` bits meaning that a cutout itself is incomplete (it holds NaN pixels);
#: `CutoutCatalog.good` is the rows with none of them.
IMAGE_DEFECTS = (CutoutFlag.OFF_FRAMES | CutoutFlag.PARTIAL | CutoutFlag.NAN_PIXELS
                 | CutoutFlag.MISSING_BAND | CutoutFlag.BAD_COORDS)
