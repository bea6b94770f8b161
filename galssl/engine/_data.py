# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""torch datasets over cutout catalogues (in memory or HDF5-backed, read per worker)."""

import numpy as np
import torch

from ..surveys import band_label, parse_bands
from ..utils._validate import as_float_values, as_image_array

__all__ = ["CutoutDataset", "as_image_source", "check_images", "check_predict_input", "read_ebv",
           "check_view_room",
           "collate_batch", "read_batch", "training_rows", "data_fingerprint"]


def as_image_source(data, *, bands=None):
    """(images, ebv, good) from a CutoutCatalog, an array/tensor of images, or a Table with
    an ``images`` column; ``ebv`` is None when unknown."""
    from ..cutouts import CutoutCatalog

    if isinstance(data, CutoutCatalog):
        if bands is not None and parse_bands(data.bands) != parse_bands(bands):
            raise ValueError(f"the catalogue has bands {band_label(data.bands)}, the model "
                             f"expects {band_label(bands)}")
        return data.images, read_ebv(data.table), np.asarray(data.good)
    if isinstance(data, (torch.Tensor, np.ndarray)):
        data = as_image_array(data)
        if data.ndim == 3:
            data = data[None]
        if data.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) or (C, H, W), got shape {data.shape}")
        good = np.isfinite(data).all(axis=(1, 2, 3))
        return data, None, good
    raise TypeError("expected a CutoutCatalog or an (N, C, H, W) array/tensor of images, got "
                    f"{type(data).__name__}")


def read_ebv(table):
    """The ``ebv`` column of a catalogue table as float32, the one way galssl reads it:
    masked, non-finite or negative values become NaN (unknown: dereddened by 0 and the row
    flagged, see `read_batch`), and a catalogue without the column has every value unknown.
    A column that does not hold numbers is a TypeError naming it."""
    n = len(table)
    if "ebv" not in table.colnames:
        return np.full(n, np.nan, dtype=np.float32)
    ebv = as_float_values(table["ebv"], "the column 'ebv'",
                          what="numbers (E(B-V) in magnitudes)").astype(np.float32)
    ebv[~np.isfinite(ebv) | (ebv < 0)] = np.nan
    return ebv


def check_predict_input(data, frames, cutout_kwargs):
    """The one input check of ``predict``: ``data`` must be a CutoutCatalog, an image array
    or tensor, an astropy Table or a SkyCoord (a scalar SkyCoord becomes one row); keywords
    for making cutouts (``cutout_kwargs``) and ``frames`` are only meaningful for a
    Table/SkyCoord and are refused otherwise, instead of being ignored silently."""
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from ..cutouts import CutoutCatalog

    if isinstance(data, SkyCoord) and data.isscalar:
        data = data.reshape((1,))
    positions = isinstance(data, (SkyCoord, Table)) and not isinstance(data, CutoutCatalog)
    if not positions and not isinstance(data, (CutoutCatalog, np.ndarray, torch.Tensor)):
        raise TypeError(f"data must be a CutoutCatalog, an (N, C, H, W) image array, an "
                        f"astropy Table with ra/dec or a SkyCoord, got "
                        f"{type(data).__name__}")
    if not positions and (cutout_kwargs or frames is not None):
        given = sorted(cutout_kwargs) + (["frames"] if frames is not None else [])
        raise TypeError(f"unexpected keyword arguments {given}: cutout options apply only "
                        f"when data is a Table or SkyCoord of positions")
    return data


def check_images(images, config):
    """Raise a clear ValueError unless the (N, C, H, W) ``images`` suit a model whose
    ``config`` names ``in_chans``, ``bands`` and ``crop`` (an empty set always suits)."""
    if len(images) and images.shape[1] != config["in_chans"]:
        raise ValueError(f"the images have {images.shape[1]} bands, the model expects "
                         f"{config['in_chans']} ({config['bands']})")
    if len(images) and min(images.shape[-2:]) < config["crop"]:
        raise ValueError(f"the cutouts are {images.shape[-1]} pixels wide, the model "
                         f"needs at least {config['crop']} (its input crop)")


def check_view_room(images, crop, jitter):
    """Raise a clear ValueError, before any training work, unless the (N, C, H, W)
    ``images`` leave room for training views: a ``crop``-pixel crop jittered by up to
    ``jitter`` pixels (it would fail at the first optimiser step)."""
    need = int(crop) + 2 * int(jitter)
    if len(images) and min(images.shape[-2:]) < need:
        raise ValueError(f"{images.shape[-2]}x{images.shape[-1]} images are too small for "
                         f"the training views: a {crop}-pixel crop with a jitter of {jitter} "
                         f"pixels needs {need}x{need}; cut larger cutouts or choose a smaller "
                         f"crop or jitter")


def training_rows(good, ebv):
    """The rows fit for training: complete images (``good``) whose E(B-V) is at most
    `~galssl.cutouts.HIGH_EXTINCTION_EBV`; warns with the count of the others it leaves out
    (dereddening them by E(B-V) of several magnitudes would feed the network fluxes up
    to 10^7 times too large, and one such row dominates its batch statistics)."""
    import warnings

    from astropy.utils.exceptions import AstropyUserWarning

    from ..cutouts import HIGH_EXTINCTION_EBV

    good = np.asarray(good, dtype=bool)
    if ebv is None:
        return good
    ebv = np.asarray(ebv, dtype=float)
    high = good & (ebv > HIGH_EXTINCTION_EBV)
    if high.any():
        warnings.warn(f"{int(high.sum())} of {int(good.sum())} training rows have E(B-V) > "
                      f"{HIGH_EXTINCTION_EBV} (up to {ebv[high].max():.2f}; "
                      f"CutoutFlag.HIGH_EXTINCTION) and are left out", AstropyUserWarning)
    return good & ~high


def data_fingerprint(images, ebv, rows, labels=None, *, n_sample=16):
    """A short hex digest of what a training run reads: the image shape, the training rows,
    their E(B-V) and labels, and the pixels of up to ``n_sample`` evenly spaced training rows
    (reading every image of a survey-size HDF5 catalogue would cost a pass over the data).
    A resumed run refuses a catalogue whose fingerprint differs from the checkpoint's."""
    import hashlib

    h = hashlib.sha256()
    rows = np.asarray(rows, dtype=np.int64)
    h.update(repr(tuple(int(v) for v in images.shape)).encode())
    h.update(rows.tobytes())
    if ebv is not None:
        h.update(np.asarray(ebv, dtype=np.float32)[rows].tobytes())
    if labels is not None:
        h.update(np.ascontiguousarray(np.asarray(labels)[rows]).tobytes())
    if len(rows):
        pick = np.unique(rows[np.linspace(0, len(rows) - 1, min(n_sample, len(rows)))
                              .astype(int)])
        h.update(np.ascontiguousarray(np.asarray(images[pick], dtype=np.float32)).tobytes())
    return h.hexdigest()[:16]


class CutoutDataset(torch.utils.data.Dataset):
    """Images (NaN set to 0) and E(B-V) of the selected rows of an image source, and with
    ``labels`` (one per row of the source) their labels as a third item.

    Reads a whole batch of rows at once (``__getitems__``), so an HDF5-backed catalogue is
    read in one call per batch, in each DataLoader worker separately.
    """

    def __init__(self, images, ebv=None, rows=None, labels=None):
        self.images = images
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels))
        n = len(images)
        self.ebv = np.zeros(n, np.float32) if ebv is None else np.asarray(ebv, np.float32)
        self.rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self):
        return len(self.rows)

    def _fetch(self, idx):
        rows = self.rows[np.asarray(idx, dtype=np.int64)]
        # rows index a copy (numpy fancy indexing, HDF5 reads): cleaned in place
        block, _, _ = zero_non_finite(np.asarray(self.images[rows], dtype=np.float32))
        out = torch.from_numpy(block), torch.from_numpy(np.nan_to_num(self.ebv[rows]))
        if self.labels is not None:
            out = out + (self.labels[torch.from_numpy(rows)],)
        return out

    def __getitem__(self, i):
        return tuple(v[0] for v in self._fetch([i]))

    def __getitems__(self, indices):
        """A whole batch (images, ebv[, labels]) at once; use with `collate_batch`."""
        return self._fetch(indices)


def collate_batch(batch):
    """DataLoader ``collate_fn`` for `CutoutDataset`, whose batches come ready-made."""
    return batch


def zero_non_finite(block):
    """Set the non-finite pixels of a (B, ...) float32 array to 0 and return it with the
    masks ``empty`` (no finite pixel) and ``incomplete`` (any non-finite pixel) of its
    rows. A C-contiguous ``block`` is cleaned **in place** and returned.

    One summation per row finds the rows with a non-finite pixel (NaN and inf propagate;
    a finite row whose sum overflows is only checked pixel by pixel); only those rows are
    examined pixel by pixel, so a clean batch costs one pass instead of the several of
    `numpy.nan_to_num` and `numpy.isfinite`.
    """
    block = np.ascontiguousarray(block)
    n = len(block)
    empty = np.zeros(n, dtype=bool)
    incomplete = np.zeros(n, dtype=bool)
    if block.size == 0:
        return block, ~empty, incomplete  # rows without pixels: empty, nothing missing
    flat = block.reshape(n, -1)  # a view: block is contiguous
    with np.errstate(over="ignore", invalid="ignore"):
        suspect = np.flatnonzero(~np.isfinite(flat.sum(axis=1)))
    if suspect.size:
        finite = np.isfinite(flat[suspect])
        bad = ~finite.all(axis=1)
        rows, finite = suspect[bad], finite[bad]
        incomplete[rows] = True
        empty[rows] = ~finite.any(axis=1)
        sub = flat[rows]
        sub[~finite] = 0.0
        flat[rows] = sub
    return block, empty, incomplete


def read_batch(images, ebv, sel):
    """The images of rows ``sel`` (NaN pixels set to 0) and their E(B-V) (NaN set to 0) as
    tensors, and the masks ``empty`` (no finite pixel) and ``incomplete`` (any non-finite
    pixel or E(B-V)). Contiguous rows are read as one slice (one HDF5 read)."""
    sel = np.asarray(sel, dtype=np.int64)
    n = len(sel)
    contiguous = n and sel[-1] - sel[0] == n - 1 and np.all(np.diff(sel) == 1)
    block = images[sel[0]:sel[-1] + 1] if contiguous else images[sel]
    block = np.asarray(block, dtype=np.float32)
    if not block.flags.owndata:
        block = block.copy()  # a view of the caller's data: never modified, never shared
    block, empty, incomplete = zero_non_finite(block)
    x = torch.from_numpy(block)
    if ebv is None:
        e = torch.zeros(len(x))
    else:
        eb = np.asarray(ebv[sel], dtype=np.float32)
        incomplete |= ~np.isfinite(eb)  # an unknown E(B-V) counts as 0: flagged
        e = torch.from_numpy(np.nan_to_num(eb))
    return x, e, empty, incomplete
