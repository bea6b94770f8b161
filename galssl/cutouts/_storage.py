# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Chunked HDF5 storage of cutout catalogues, read lazily and safely from worker processes."""

import os

import numpy as np

__all__ = ["HDF5Images", "write_hdf5", "read_hdf5", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_IMAGES = "images"
_TABLE = "table"


def _normalise_index(index, n):
    """Turn an int/slice/sequence/boolean mask into (int array, scalar?) with bounds checks."""
    if isinstance(index, (int, np.integer)):
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} cutouts")
        return np.array([i % n]), True
    if isinstance(index, slice):
        return np.arange(n)[index], False
    arr = np.asarray(index)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise IndexError(f"boolean mask has shape {arr.shape}, expected ({n},)")
        return np.flatnonzero(arr), False
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise IndexError("cutouts are indexed by an int, a slice, a 1-d integer array or a "
                         f"boolean mask, got {index!r}")
    if arr.size and (arr.max() >= n or arr.min() < -n):
        raise IndexError(f"index out of range for {n} cutouts")
    return arr % n if arr.size else arr.astype(int), False


class HDF5Images:
    """Read-only, lazily loaded view of the ``images`` dataset of a galssl HDF5 file.

    Behaves like a (N, n_bands, size, size) float32 array for indexing, ``len`` and
    ``numpy.asarray``; only the requested rows are read. The file is opened on first access
    in each process (never inherited across ``fork``), so instances are safe to hand to
    `torch.utils.data.DataLoader` workers.
    """

    def __init__(self, path, rows=None, *, dataset=_IMAGES, scale=1.0):
        self.path = os.fspath(path)
        self.dataset = dataset
        self.scale = float(scale)  # pixel values x scale = nanomaggies
        with self._open_file() as f:
            ds = f[dataset]
            self._full_shape = ds.shape
            self.dtype = ds.dtype if self.scale == 1.0 else np.dtype(np.float32)
        self._rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self._file = None
        self._pid = None

    def _open_file(self):
        import h5py

        return h5py.File(self.path, "r")

    @property
    def _dataset(self):
        if self._file is None or self._pid != os.getpid():
            self._file = self._open_file()
            self._pid = os.getpid()
        return self._file[self.dataset]

    @property
    def shape(self):
        n = self._full_shape[0] if self._rows is None else len(self._rows)
        return (n,) + tuple(self._full_shape[1:])

    @property
    def ndim(self):
        return len(self._full_shape)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"<HDF5Images shape={self.shape} dtype={self.dtype} path={self.path!r}>"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def close(self):
        """Close the file handle of this process (it reopens on next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def subset(self, index):
        """A lazy view of the selected rows (no data are read)."""
        rows, _ = _normalise_index(index, len(self))
        base = rows if self._rows is None else self._rows[rows]
        return HDF5Images(self.path, rows=base, dataset=self.dataset, scale=self.scale)

    def _read_rows(self, rows):
        if self._rows is not None:
            rows = self._rows[rows]
        out = np.empty((len(rows),) + tuple(self._full_shape[1:]), dtype=self.dtype)
        if len(rows) == 0:
            return out
        # h5py wants increasing, unique indices: read those, then scatter back in order
        uniq, inverse = np.unique(rows, return_inverse=True)
        ds = self._dataset
        if len(uniq) == uniq[-1] - uniq[0] + 1:
            block = ds[int(uniq[0]):int(uniq[-1]) + 1]
        else:
            block = ds[uniq]
        out[...] = block[inverse]
        if self.scale != 1.0:  # the file's unit to nanomaggies
            out *= np.float32(self.scale)
        return out

    def __getitem__(self, index):
        if isinstance(index, tuple):
            head, rest = self[index[0]], index[1:]
            if isinstance(index[0], (int, np.integer)):
                return head[rest]
            return head[(slice(None),) + rest]
        rows, scalar = _normalise_index(index, len(self))
        data = self._read_rows(rows)
        return data[0] if scalar else data

    def __array__(self, dtype=None, copy=None):
        data = self._read_rows(np.arange(len(self)))
        return data if dtype is None else data.astype(dtype)


def write_hdf5(path, table, images, attrs, *, overwrite=False, chunk_rows=1,
               compression=None, progress=True):
    """Write images (chunked per object) and the table into one HDF5 file, atomically
    (`~galssl.utils._atomic.atomic_output`: an interrupted write leaves the old file)."""
    from ..utils._atomic import atomic_output

    with atomic_output(path, overwrite=overwrite) as tmp:
        _write_hdf5_file(tmp, table, images, attrs, chunk_rows=chunk_rows,
                         compression=compression, progress=progress)


def _write_hdf5_file(path, table, images, attrs, *, chunk_rows=1, compression=None,
                     progress=True):
    import h5py

    from ..utils._progress import progress_bar

    n = len(images)
    shape = (n,) + tuple(images.shape[1:])
    with h5py.File(path, "w") as f:
        chunks = (max(1, min(chunk_rows, n)),) + tuple(shape[1:]) if n else None
        ds = f.create_dataset(_IMAGES, shape=shape, dtype="float32", chunks=chunks,
                              compression=compression, fillvalue=np.nan)
        step = 256
        for start in progress_bar(range(0, n, step), desc="writing cutouts",
                                  progress=progress, unit="block"):
            ds[start:start + step] = np.asarray(images[start:start + step], dtype=np.float32)
        for key, value in attrs.items():
            f.attrs[key] = value
    table.write(path, path=_TABLE, format="hdf5", serialize_meta=True, append=True)


def read_hdf5(path):
    """Return (QTable, HDF5Images, attrs) from a file written by `write_hdf5`, after checking
    its structure in one place: the ``images`` dataset (4-d, square, real numbers), the
    ``table`` (an astropy table with one row per image), the attributes ``bands`` (as many
    as image planes, all known), ``pixel_scale`` (positive), ``size`` and
    ``format_version`` (an integer this galssl reads). Every problem is a `ValueError` (or
    `OSError` for a file that is not readable HDF5) that names the file and the field."""
    import h5py
    from astropy.table import QTable

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such cutout file: {path!r}")

    def bad(what):
        return ValueError(f"{path!r} is not a valid galssl cutout file: {what}")

    try:
        with h5py.File(path, "r") as f:
            if _IMAGES not in f or _TABLE not in f:
                raise ValueError("not a galssl cutout file (needs 'images' and 'table')")
            images = f[_IMAGES]
            if not isinstance(images, h5py.Dataset):
                raise bad(f"'images' is a {type(images).__name__}, not a dataset")
            shape, dtype = images.shape, images.dtype
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    except OSError as exc:
        raise OSError(f"cannot read galssl cutout file {path!r}: {exc}") from exc
    except ValueError as exc:
        if str(exc).startswith(repr(path)):
            raise
        raise ValueError(f"{path!r}: {exc}") from exc
    version = attrs.get("format_version", 0)
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)):
        raise bad(f"format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}; this galssl "
                         f"reads up to {FORMAT_VERSION}: upgrade galssl")
    if len(shape) != 4 or shape[2] != shape[3]:
        raise bad(f"'images' must be (N, n_bands, size, size), got shape {shape}")
    if dtype.kind not in "fiu":
        raise bad(f"'images' must hold real numbers, got dtype {dtype}")
    for key in ("bands", "pixel_scale"):
        if key not in attrs:
            raise bad(f"the attribute {key!r} is missing")
    from ..surveys import parse_bands

    try:
        bands = parse_bands(str(attrs["bands"]))
    except (TypeError, ValueError) as exc:
        raise bad(f"attribute 'bands': {exc}") from None
    if len(bands) != shape[1]:
        raise bad(f"attribute 'bands' names {len(bands)} bands for {shape[1]} image planes")
    try:
        scale = float(attrs["pixel_scale"])
    except (TypeError, ValueError):
        scale = float("nan")
    if not np.isfinite(scale) or scale <= 0:
        raise bad(f"attribute 'pixel_scale' must be a positive number, got "
                  f"{attrs['pixel_scale']!r}")
    if "size" in attrs and attrs["size"] != shape[2]:
        raise bad(f"attribute 'size' is {attrs['size']}, the images are {shape[2]} px")
    try:
        table = QTable.read(path, path=_TABLE, format="hdf5", character_as_bytes=False)
    except Exception as exc:  # a plain array, a damaged table: astropy's many errors
        raise bad(f"'table' is not an astropy table ({type(exc).__name__}: {exc})") from None
    if len(table) != shape[0]:
        raise bad(f"the table has {len(table)} rows for {shape[0]} images")
    return table, HDF5Images(path), attrs
