# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Readers for the labelled image sets astronomers already hold, each opened as a cutout
catalogue (images read lazily, in nanomaggies, with their survey, bands, pixel scale and
E(B-V))."""

import os

import numpy as np

__all__ = ["read_stein2021", "read_pasquet2019"]

#: Bands of the Stein et al. (2021) files by Legacy Surveys DR9 region.
STEIN2021_BANDS = {"south": ("decam-g", "decam-r", "decam-z"),
                   "north": ("bass-g", "bass-r", "mzls-z")}

#: Columns of the DR9 sweep and photo-z catalogues where negative values mean "none"
#: (-99 for galaxies without a spectroscopic redshift): read as NaN.
_MISSING_BELOW_ZERO = ("z_spec", "z_phot_mean", "z_phot_median", "z_phot_std",
                       "z_phot_l68", "z_phot_u68", "z_phot_l95", "z_phot_u95", "z_training")


def _degrees(table):
    """ra/dec columns given as bare numbers get their unit, degrees (as every galssl
    catalogue's)."""
    import astropy.units as u

    for key in ("ra", "dec"):
        if getattr(table[key], "unit", None) is None:
            table[key] = np.asarray(table[key], dtype=float) * u.deg
    return table


def _open_hdf5(path, what):
    """(path, the open h5py file); FileNotFoundError or OSError naming the file."""
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such {what} file: {path!r}")
    try:
        return path, h5py.File(path, "r")
    except OSError as exc:
        raise OSError(f"cannot read {path!r} as HDF5: {exc}") from exc


def _hdf5_columns(f, n, skip=()):
    """The datasets of ``f`` with one value (or one row) per object, as table columns:
    1-d and 2-d datasets of leading length ``n``, byte strings decoded; ``skip`` names
    datasets that are not columns."""
    import h5py
    from astropy.table import QTable

    table = QTable()
    for key in sorted(f):
        item = f[key]
        if key in skip or not isinstance(item, h5py.Dataset):
            continue
        if item.ndim not in (1, 2) or item.shape[0] != n:
            continue  # not one value per object: not a column
        values = item[:]
        if values.dtype.kind in "SO":
            values = np.array([v.decode() if isinstance(v, bytes) else str(v)
                               for v in values.ravel()]).reshape(values.shape)
        table[key] = values
    return table


def read_stein2021(path, *, region="south"):
    """Open one file of the Stein et al. (2021) DESI Legacy Surveys DR9 galaxy images
    (``images_npix152_*.h5`` of ssl-legacysurvey) as ``(table, images, bands,
    pixel_scale)``.

    The file holds ``images`` (N, 3, 152, 152): g, r and z cutouts in nanomaggies on the
    Legacy Surveys' 0.262" grid, and the galaxies' DR9 sweep and photo-z columns (``ra``,
    ``dec``, ``ebv``, ``flux``, ``z_spec``, ``z_phot_mean`` ...), which become the table's
    columns; negative redshifts (-99: none) become NaN. The file does not say which DR9
    region it comes from: ``region="south"`` (DECam, the default) or ``"north"`` (BASS g,
    r and MzLS z) names its bands.
    """
    import h5py

    from ..surveys import get_survey
    from ._storage import HDF5Images

    if region not in STEIN2021_BANDS:
        raise ValueError(f"region must be 'south' or 'north' (DR9), got {region!r}")
    path, f = _open_hdf5(path, "Stein et al. (2021) Legacy Surveys")
    with f:
        ds = f.get("images")
        if not isinstance(ds, h5py.Dataset):
            raise ValueError(f"{path!r} is not a Stein et al. (2021) image file: no 'images' "
                             f"dataset (its datasets: {sorted(f)[:12]})")
        if ds.ndim != 4 or ds.shape[1] != 3 or ds.shape[2] != ds.shape[3]:
            raise ValueError(f"{path!r}: 'images' must be (N, 3, size, size) g, r, z cutouts, "
                             f"got shape {ds.shape}")
        table = _hdf5_columns(f, ds.shape[0], skip=("images",))
    for key in _MISSING_BELOW_ZERO:
        if key in table.colnames and table[key].dtype.kind == "f":
            table[key] = np.where(table[key] < 0, np.nan, table[key])
    if "ra" not in table.colnames or "dec" not in table.colnames:
        raise ValueError(f"{path!r}: no ra/dec datasets for the galaxies")
    survey = get_survey(f"legacy-{region}")
    return _degrees(table), HDF5Images(path, dataset="images"), STEIN2021_BANDS[region], \
        float(survey.pixel_scale)


def _npz_member(path, name):
    """The array ``name`` of an ``.npz`` file, memory-mapped when the file stores it
    uncompressed (``numpy.savez``: nothing is read until used), else read whole; and
    whether it is mapped."""
    import zipfile

    member = name + ".npy"
    with zipfile.ZipFile(path) as z:
        if member not in z.namelist():
            return None, False
        info = z.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            with z.open(member) as f:
                return np.lib.format.read_array(f, allow_pickle=False), False
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise OSError(f"{path!r}: damaged zip entry {member!r}")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                       np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise ValueError(f"{path!r}: {member!r} holds Python objects, not numbers")
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C"), True


def read_pasquet2019(path):
    """Open the SDSS image set of Pasquet et al. (2019) (``sdss.npz``) as ``(table, images,
    bands, pixel_scale)``.

    The file holds ``cube``, (N, 64, 64, 5) float32 u, g, r, i, z cutouts of SDSS galaxies
    (channels last; returned as an (N, 5, 64, 64) view, memory-mapped when the file stores
    it uncompressed, so that nothing is read until used), and ``labels``, a record array of
    the galaxies' catalogue values (``z`` the spectroscopic redshift, ``ra``, ``dec``,
    ``EBV``, ``dered_petro_r``, ...), which become the table's columns (``EBV`` renamed
    ``ebv``).
    """
    import warnings

    from astropy.table import QTable

    from ..surveys import SURVEYS

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such Pasquet et al. (2019) file: {path!r}")
    try:
        cube, mapped = _npz_member(path, "cube")
        labels, _ = _npz_member(path, "labels")
    except (OSError, ValueError) as exc:
        raise type(exc)(f"cannot read {path!r} as an .npz file: {exc}") from exc
    except Exception as exc:  # zipfile's BadZipFile and numpy's header errors
        raise OSError(f"cannot read {path!r} as an .npz file: {exc}") from exc
    if cube is None or labels is None:
        raise ValueError(f"{path!r} is not the Pasquet et al. (2019) file: it needs 'cube' "
                         f"and 'labels'")
    if cube.ndim != 4 or cube.shape[-1] != 5 or cube.shape[1] != cube.shape[2]:
        raise ValueError(f"{path!r}: 'cube' must be (N, size, size, 5) ugriz cutouts, got "
                         f"shape {cube.shape}")
    if labels.dtype.names is None or len(labels) != len(cube):
        raise ValueError(f"{path!r}: 'labels' must be a record array with one row per "
                         f"cutout ({len(cube)}), got {labels.dtype} of {len(labels)} rows")
    if not mapped:
        warnings.warn(f"{path!r} stores its cube compressed: it is read whole into memory "
                      f"({cube.nbytes / 2**30:.1f} GiB)", UserWarning)
    table = QTable()
    for name in labels.dtype.names:
        values = np.asarray(labels[name])
        if values.ndim > 2:
            continue
        key = "ebv" if name.lower() == "ebv" else name
        if key in table.colnames:
            continue
        table[key] = values
    if "ra" not in table.colnames or "dec" not in table.colnames:
        raise ValueError(f"{path!r}: 'labels' has no ra/dec")
    images = cube.transpose(0, 3, 1, 2)  # a view: (N, 5, size, size)
    return _degrees(table), images, ("u", "g", "r", "i", "z"), float(SURVEYS["sdss"].pixel_scale)
