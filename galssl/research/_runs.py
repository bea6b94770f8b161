# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The datasets and bookkeeping of the runs behind the results page (``scripts/``): the
validation fields, the pretraining catalogue, the validation halves, run logs and the
model cards' wording. They read the folders that ``scripts/build_datasets.py`` writes."""

import json
import os

import numpy as np

__all__ = ["TRAIN_FIELDS", "VAL_FIELDS", "COMMON", "EBV_LIMIT", "pretraining_catalog",
           "augmentation_summary", "input_convention", "rst_grid", "read_log", "in_memory",
           "validation_halves", "load_probe_data"]

#: The SDSS fields of the injected training set (``scripts/build_datasets.py``).
TRAIN_FIELDS = ("001035-6-0017", "001043-5-0025", "003184-2-0169", "008162-6-0080")
#: The SDSS fields held out of every training run (photo-z validation and test).
VAL_FIELDS = ("003918-3-0213", "007264-3-0111")
COMMON = ("ra", "dec", "ebv", "field", "flags", "nan_fraction")
#: Rows beyond this E(B-V) are left out (the low-latitude field 005405-6-0099, b = -1 deg,
#: E(B-V) 3.5-4.6: dereddening multiplies its u-band fluxes by up to 10^7)
EBV_LIMIT = 0.5


def pretraining_catalog(data, *, unlabelled=False):
    """Real good galaxies outside the validation fields + the injected training set (and,
    with ``unlabelled``, the set of ``build_unlabelled.py``), in memory, with the columns
    they share; ``origin`` says which set each row comes from."""
    from astropy.table import vstack

    from galssl.cutouts import CutoutCatalog

    parts = [("real", "real.h5", True), ("injected", "injected_train.h5", False)]
    if unlabelled:
        parts.append(("unlabelled", "unlabelled_injected.h5", False))
    tables, images, origin = [], [], []
    for name, fname, drop_val in parts:
        cat = CutoutCatalog.read(os.path.join(data, fname))
        keep = cat.good & (np.asarray(cat.table["ebv"]) <= EBV_LIMIT)
        if drop_val:
            keep &= ~np.isin(np.asarray(cat.table["field"]), VAL_FIELDS)
        t = cat.table[keep][list(COMMON)]
        t["field"] = t["field"].astype(str)
        tables.append(t)
        images.append(np.asarray(cat.images[np.flatnonzero(keep)]))
        origin += [name] * int(keep.sum())
    table = vstack(tables, metadata_conflicts="silent")
    table["origin"] = origin
    return CutoutCatalog(table, np.concatenate(images), bands=cat.bands,
                         pixel_scale=cat.pixel_scale)


def augmentation_summary(ebv_max, psf, noise_scale, **_):
    """Pretraining augmentations in words (for logs and the model card); takes an encoder's
    ``config`` as keywords."""
    steps = [f"extinction U(0, {ebv_max:g})" if ebv_max > 0 else
             "dereddening only (no extinction augmentation)"]
    if psf:
        steps.append("PSF blur")
    steps += ["rotation", "jitter 7 px"]
    lo, hi = noise_scale
    steps.append(f"noise U({lo:g}, {hi:g}) x MAD" if hi > 0 else "no noise")
    return ", ".join(steps)


def input_convention(config):
    """What a network's weights expect as input, in words (the model cards of
    ``stage_ship`` and ``ship_encoder.py``); takes a network's ``config``."""
    stretch = config.get("input_stretch")
    return ("calibrated SDSS frame pixels in nanomaggies, north-up 0.396 arcsec grid "
            "(galssl.cutouts), dereddened with SF11 R_V=3.1 coefficients and the E(B-V) of "
            f"the ebv column, centre-cropped to {config['crop']} px; "
            + (f"the network's first layer is the fixed per-band asinh stretch "
               f"(input_stretch={stretch!r})" if stretch else "no further scaling"))


def rst_grid(head, rows):
    """A simple reStructuredText table of ``head`` and ``rows`` (lists of strings)."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = "  ".join("=" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(x.rstrip() for x in [line, fmt.format(*head), line]
                     + [fmt.format(*r) for r in rows] + [line])


def read_log(path):
    """The JSON log of earlier runs (stages, parts), or an empty one."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def in_memory(path, select=None):
    """The rows of a catalogue file chosen by ``select(catalog)`` (a mask; all rows
    without), with their images read into memory."""
    from galssl.cutouts import CutoutCatalog

    cat = CutoutCatalog.read(path)
    rows = np.arange(len(cat)) if select is None else np.flatnonzero(select(cat))
    return CutoutCatalog(cat.table[rows], np.asarray(cat.images[rows]), bands=cat.bands,
                         pixel_scale=cat.pixel_scale)


def validation_halves(data):
    """Injected validation set split by alternate rows: calibration half, test half."""
    val = in_memory(os.path.join(data, "injected_val.h5"))
    idx = np.arange(len(val))
    return val[idx % 2 == 0], val[idx % 2 == 1]


def load_probe_data(data, n_labelled=4000, seed=1):
    """(labelled, test, real): injected training-field galaxies (a random subset), the
    injected validation-field galaxies, the real galaxies of the validation fields."""
    rng = np.random.default_rng(seed)
    train = in_memory(os.path.join(data, "injected_train.h5"),
                      lambda c: c.good & (np.asarray(c.table["ebv"]) <= EBV_LIMIT))
    train = train[np.sort(rng.choice(len(train), min(n_labelled, len(train)), replace=False))]
    val = in_memory(os.path.join(data, "injected_val.h5"), lambda c: c.good)
    real = in_memory(os.path.join(data, "real.h5"), lambda c: c.good & np.isin(
        np.asarray(c.table["field"]), VAL_FIELDS) & (np.asarray(c.table["ebv"]) <= EBV_LIMIT))
    return train, val, real
