# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Multimodal Universe image files (Legacy Surveys DR10, HSC-SSP PDR3) read as cutout
catalogues.

Their HDF5 files hold the catalogue's columns as datasets, one row per object, and the
images in the Multimodal Universe image schema: ``image_band`` (N, n_bands) band names,
``image_array`` (N, n_bands, H, W), ``image_psf_fwhm`` and ``image_scale`` (N, n_bands,
arcsec), and for the Legacy Surveys ``image_ivar``. Their Legacy Surveys files name the
DECam bands ``DES-G`` ... and hold nanomaggies; their HSC files hold the HSC coadds' pixels
(zero point 27)."""

import numpy as np

__all__ = ["read_mmu"]

#: Multimodal Universe band prefixes: (galssl filter system, the survey whose pixel unit
#: their images keep, `galssl.surveys`).
_SYSTEMS = {"hsc": ("hsc", "hsc"), "des": ("decam", "legacy-south")}
_IMAGE_FIELDS = ("image_band", "image_array", "image_psf_fwhm", "image_scale", "image_ivar",
                 "image_model", "object_mask", "bit_mask", "image_mask")


def _bands(raw, path):
    """The galssl bands of a file's ``image_band`` row and the survey of their pixels."""
    from ..surveys import get_survey, parse_band

    names = [b.decode() if isinstance(b, bytes) else str(b) for b in raw]
    out, surveys = [], set()
    for name in names:
        prefix, _, letter = name.strip().lower().partition("-")
        if prefix not in _SYSTEMS or not letter:
            raise ValueError(f"{path!r}: image_band {name!r} is not a band galssl reads "
                             f"(known: {', '.join(p.upper() + '-G' for p in _SYSTEMS)} ...)")
        system, survey = _SYSTEMS[prefix]
        out.append(parse_band(f"{system}-{letter}").name)
        surveys.add(survey)
    if len(surveys) != 1:
        raise ValueError(f"{path!r}: image_band names bands of {len(surveys)} surveys "
                         f"({', '.join(names) or 'none'}); galssl reads one survey per file")
    return tuple(out), get_survey(surveys.pop())


def read_mmu(path):
    """Open a Multimodal Universe image file as ``(table, images, bands, pixel_scale)``;
    images are read lazily, in nanomaggies (`galssl.cutouts.CutoutCatalog.from_mmu`)."""
    import h5py

    from ._labelled import _hdf5_columns, _open_hdf5
    from ._storage import HDF5Images

    path, f = _open_hdf5(path, "Multimodal Universe")
    with f:
        for key in ("image_array", "image_band"):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise ValueError(f"{path!r} is not a Multimodal Universe image file: no "
                                 f"{key!r} dataset")
        shape = f["image_array"].shape
        if len(shape) != 4 or shape[2] != shape[3]:
            raise ValueError(f"{path!r}: image_array must be (N, n_bands, size, size), got "
                             f"{shape}")
        band_rows = f["image_band"][:]
        if band_rows.shape != shape[:2] or not (band_rows == band_rows[:1]).all():
            raise ValueError(f"{path!r}: image_band must name the same {shape[1]} bands in "
                             f"every row, got shape {band_rows.shape}")
        bands, survey = _bands(band_rows[0] if len(band_rows) else [], path)
        pixel_scale = None
        if "image_scale" in f:
            scales = np.asarray(f["image_scale"][:], dtype=float)
            if scales.size and not np.allclose(scales, scales.flat[0], rtol=1e-5):
                raise ValueError(f"{path!r}: image_scale differs between bands or rows; galssl "
                                 f"needs one pixel grid per catalogue")
            pixel_scale = float(scales.flat[0]) if scales.size else None
        table = _hdf5_columns(f, shape[0], skip=_IMAGE_FIELDS)
        if "image_psf_fwhm" in f:
            fwhm = np.asarray(f["image_psf_fwhm"][:], dtype=float)
            for j, band in enumerate(bands):
                table[f"psf_fwhm_{band}"] = fwhm[:, j]
    for upper in ("RA", "DEC", "EBV"):
        if upper in table.colnames and upper.lower() not in table.colnames:
            table.rename_column(upper, upper.lower())
    if "ra" not in table.colnames or "dec" not in table.colnames:
        raise ValueError(f"{path!r}: no ra/dec datasets for the objects")
    images = HDF5Images(path, dataset="image_array", scale=survey.to_nanomaggies)
    return table, images, bands, pixel_scale
