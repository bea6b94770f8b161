# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Chunked HDF5 storage of cutout catalogues, read lazily and safely from worker processes."""

import os

import numpy as np

__all__ = ["HDF5Images", "write_hdf5", "read_hdf5", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_IMAGES = "images"
_TABLE = "table"
_TABLE_HASH = "table_sha256"  # of the table, its column metadata and the attributes
_LAYOUT = "images_layout"


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

    def __init__(self, path, rows=None, *, dataset=_IMAGES, scale=1.0, complete=False):
        self.path = os.fspath(path)
        self.dataset = dataset
        self.scale = float(scale)  # pixel values x scale = nanomaggies
        # every chunk was written (galssl's own files): a chunk missing from the file's
        # index is damage, not rows of NaN
        self.complete = bool(complete)
        try:
            with self._open_file() as f:
                ds = f[dataset]
                self._full_shape = ds.shape
                self.dtype = ds.dtype if self.scale == 1.0 else np.dtype(np.float32)
        except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise OSError(f"cannot read the images {dataset!r} of {self.path!r}: {exc}") \
                from exc
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
        return HDF5Images(self.path, rows=base, dataset=self.dataset, scale=self.scale,
                          complete=self.complete)

    def _read_rows(self, rows):
        if self._rows is not None:
            rows = self._rows[rows]
        out = np.empty((len(rows),) + tuple(self._full_shape[1:]), dtype=self.dtype)
        if len(rows) == 0:
            return out
        # h5py wants increasing, unique indices: read those, then scatter back in order
        uniq, inverse = np.unique(rows, return_inverse=True)
        try:
            ds = self._dataset
            if len(uniq) == uniq[-1] - uniq[0] + 1:
                block = ds[int(uniq[0]):int(uniq[-1]) + 1]
                if self.complete:
                    self._check_allocated(ds, uniq, block[uniq - uniq[0]])
            else:
                block = ds[uniq]
                if self.complete:
                    self._check_allocated(ds, uniq, block)
        except (OSError, KeyError, RuntimeError, TypeError) as exc:
            # a chunk whose checksum fails, an unreadable index: h5py's many errors
            raise OSError(f"cannot read the images of {self.path!r} (rows {int(uniq[0])}-"
                          f"{int(uniq[-1])}): {exc}; the file is damaged") from exc
        out[...] = block[inverse]
        if self.scale != 1.0:  # the file's unit to nanomaggies
            out *= np.float32(self.scale)
        return out

    @staticmethod
    def _check_allocated(ds, rows, block):
        """Raise OSError when a row read as all NaN is not NaN in the file: HDF5 returns the
        fill value for a chunk its damaged index cannot find. (Rows of NaN are rare: only
        those that are checked cost a read of their stored chunk.)"""
        empty = np.flatnonzero(np.isnan(block).all(axis=tuple(range(1, block.ndim))))
        per_row = int(np.prod(ds.shape[1:]))
        for i in empty:
            row = int(rows[i])
            info = ds.id.get_chunk_info_by_coord((row,) + (0,) * (ds.ndim - 1))
            if info.byte_offset is None:
                raise OSError(f"row {row} has no stored chunk")
            if ds.compression is None:
                _, raw = ds.id.read_direct_chunk(info.chunk_offset)
                start = (row - info.chunk_offset[0]) * per_row
                stored = np.frombuffer(raw, dtype=ds.dtype, count=per_row,
                                       offset=start * ds.dtype.itemsize)
                if not np.isnan(stored).all():
                    raise OSError(f"row {row} reads as NaN but is stored as numbers")

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
        ds = create_image_dataset(f, shape, chunk_rows=chunk_rows, compression=compression)
        step = 256
        for start in progress_bar(range(0, n, step), desc="writing cutouts",
                                  progress=progress, unit="block"):
            ds[start:start + step] = np.asarray(images[start:start + step], dtype=np.float32)
        for key, value in attrs.items():
            f.attrs[key] = value
    append_table(path, table)


def create_image_dataset(f, shape, *, chunk_rows=1, compression=None):
    """The ``images`` dataset of a cutout file in the open h5py file ``f``: float32, NaN
    until written, chunks of ``chunk_rows`` objects, each with a Fletcher-32 checksum that
    HDF5 verifies whenever the chunk is read."""
    n = shape[0]
    chunks = (max(1, min(chunk_rows, n)),) + tuple(shape[1:]) if n else None
    ds = f.create_dataset(_IMAGES, shape=shape, dtype="float32", chunks=chunks,
                          compression=compression, fillvalue=np.nan,
                          fletcher32=chunks is not None)
    f.attrs[_LAYOUT] = _layout(ds)  # covered by the file's checksum (append_table)
    return ds


def _layout(ds):
    """How the images are stored (type, shape, chunks, filters), as one string: a damaged
    datatype or filter message would otherwise reinterpret intact bytes."""
    return repr((ds.dtype.str, tuple(ds.shape), ds.chunks, bool(ds.fletcher32),
                 ds.compression))


def append_table(path, table):
    """Store ``table`` in the closed cutout file ``path``, with its checksum."""
    import h5py

    table.write(path, path=_TABLE, format="hdf5", serialize_meta=True, append=True)
    with h5py.File(path, "a") as f:
        f.attrs[_TABLE_HASH] = _table_digest(f)


def _table_digest(f):
    """sha256 of the stored bytes of the table, of its column metadata (units,
    descriptions) and of the file's attributes (bands, pixel scale...): checked on read, so
    that a damaged table is an error, not other coordinates, flags or pixel scale (the
    pixels have their own per-chunk checksums)."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(k for k in f.attrs if k != _TABLE_HASH):
        h.update(key.encode())
        h.update(repr(f.attrs[key]).encode())
    for name in sorted(k for k in f if k == _TABLE or k.startswith(_TABLE + ".")):
        data = f[name][()]
        h.update(name.encode())
        h.update(repr((data.dtype.str, data.dtype.descr, data.shape)).encode())
        h.update(np.ascontiguousarray(data).tobytes())
    return h.hexdigest()


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
            # compared after the structural checks below, whose messages say more
            digest = _table_digest(f) if _TABLE_HASH in attrs else None
            layout = _layout(images)
    except (OSError, KeyError, RuntimeError, TypeError) as exc:  # h5py's many errors
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
    if digest is not None and attrs[_TABLE_HASH] != digest:
        raise bad("the checksum of its table and attributes does not match: the file is "
                  "damaged")
    if _LAYOUT in attrs and attrs[_LAYOUT] != layout:
        raise bad(f"the images are stored as {layout}, the file says {attrs[_LAYOUT]}: the "
                  f"file is damaged")
    return table, HDF5Images(path, complete=_TABLE_HASH in attrs), attrs
