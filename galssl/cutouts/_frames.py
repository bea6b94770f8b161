# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Discovery, grouping and reading of calibrated survey frames (SDSS ``frame-*`` files)."""

import glob
import os
import re
import warnings

import numpy as np

__all__ = ["Frame", "Field", "find_frames", "group_fields", "read_frame_data"]

_FRAME_NAME = re.compile(r"frame-([ugriz])-(\d{6})-(\d)-(\d{4})")
_SDSS_FRAME_OFFSET = {"r": 0, "i": 2, "u": 4, "z": 6, "g": 8}
_FITS_SUFFIXES = (".fits", ".fits.bz2", ".fits.gz", ".fit", ".fit.gz", ".fit.bz2", ".fts")


class Frame:
    """One calibrated image of one band: its file, header and celestial WCS.

    The pixel data are not held; `read_frame_data` reads (and decompresses) them once.
    """

    def __init__(self, path, band, field, header, wcs, shape):
        self.path = path
        self.band = band
        self.field = field
        self.header = header
        self.wcs = wcs
        self.shape = shape  # (ny, nx)

    def __repr__(self):
        return f"<Frame {self.field} band={self.band} shape={self.shape} path={self.path!r}>"

    def pixel(self, ra, dec):
        """0-based (x, y) pixel positions of ICRS degrees through this band's own WCS."""
        x, y = self.wcs.world_to_pixel_values(ra, dec)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    @property
    def pixel_scale(self):
        """Pixel scale of the frame in arcsec (square root of the pixel area)."""
        return float(np.sqrt(abs(np.linalg.det(self.wcs.pixel_scale_matrix))) * 3600.0)

    def depth(self, x, y):
        """Distance in pixels from (x, y) to the nearest frame edge (negative when outside)."""
        ny, nx = self.shape
        return np.minimum(np.minimum(x + 0.5, nx - 0.5 - x), np.minimum(y + 0.5, ny - 0.5 - y))


class Field:
    """The frames of one field (one pointing), keyed by band."""

    def __init__(self, name):
        self.name = name
        self.frames = {}

    def __repr__(self):
        return f"<Field {self.name} bands={''.join(sorted(self.frames, key='ugriz'.find))}>"


def _expand(frames):
    """Expand paths, globs and directories to a sorted list of FITS file names."""
    if isinstance(frames, (str, os.PathLike)):
        items = [frames]
    else:
        try:
            items = list(frames)
        except TypeError:
            raise TypeError("frames must be a path, a glob pattern, a directory or a list of "
                            f"them, got {type(frames).__name__}") from None
    paths = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"frames must be paths (str or os.PathLike), got {item!r}")
        item = os.fspath(item)
        if os.path.isdir(item):
            found = [p for p in glob.glob(os.path.join(item, "**", "*"), recursive=True)
                     if p.lower().endswith(_FITS_SUFFIXES) and os.path.isfile(p)]
            if not found:
                raise FileNotFoundError(f"no FITS frames found in directory {item!r}")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        elif glob.has_magic(item):
            found = [p for p in glob.glob(item, recursive=True) if os.path.isfile(p)]
            if not found:
                raise FileNotFoundError(f"no files match the pattern {item!r}")
            paths.extend(found)
        else:
            raise FileNotFoundError(f"frame file not found: {item!r}")
    # one entry per file, in a stable order
    return sorted(dict.fromkeys(os.path.abspath(p) for p in paths))


def _celestial_wcs(header, path):
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        # SDSS frame headers use the deprecated RADECSYS keyword; astropy repairs it and
        # warns. The repair is exactly what we want, so the warning is noise here.
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header)
        except Exception as exc:
            raise ValueError(f"cannot build a WCS from the header of {path!r}: {exc}") from exc
    if not wcs.has_celestial or wcs.naxis != 2:
        raise ValueError(f"frame {path!r} has no 2-d celestial WCS")
    return wcs.celestial


class _FitsReadWarnings(warnings.catch_warnings):
    """Record astropy's warnings while reading a frame and turn the fatal ones into OSError.

    astropy warns (rather than raises) on a truncated file; a warning raised as an error
    inside `astropy.io.fits.open` would also leak its file handle, hence recording them.
    """

    def __init__(self, path):
        super().__init__(record=True)
        self.path = path

    def __enter__(self):
        self.log = super().__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc_info):
        super().__exit__(*exc_info)
        if exc_info[0] is None:
            for w in self.log:
                if "truncated" in str(w.message):
                    raise OSError(f"cannot read FITS frame {self.path!r}: {w.message}")
                if not issubclass(w.category, fits_ignorable_warnings()):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False


def fits_ignorable_warnings():
    """Warnings about non-standard but repairable headers, normal in survey frames."""
    from astropy.io.fits.verify import VerifyWarning
    from astropy.wcs import FITSFixedWarning

    return (VerifyWarning, FITSFixedWarning)


def _read_header(path):
    from astropy.io import fits

    try:
        with _FitsReadWarnings(path):
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                header = hdul[0].header.copy()
    except Exception as exc:  # OSError, EOFError, bz2/gzip errors, VerifyError...
        if isinstance(exc, OSError) and repr(path) in str(exc):
            raise
        raise OSError(f"cannot read FITS frame {path!r}: {exc}") from exc
    if header.get("NAXIS", 0) != 2:
        raise ValueError(f"frame {path!r}: primary HDU is not a 2-d image "
                         f"(NAXIS={header.get('NAXIS')})")
    return header


def _identify(header, path):
    """(band, field name) of a frame, from its header, else from an SDSS file name."""
    match = _FRAME_NAME.search(os.path.basename(path))
    band = str(header.get("FILTER", "")).strip() or (match.group(1) if match else None)
    if band not in ("u", "g", "r", "i", "z"):
        raise ValueError(f"cannot tell the band of frame {path!r}: no FILTER keyword with an "
                         "SDSS band (u, g, r, i, z) and no frame-<band>-... file name")
    run, camcol, frame = (header.get(k) for k in ("RUN", "CAMCOL", "FRAME"))
    if match:
        field = f"{match.group(2)}-{match.group(3)}-{match.group(4)}"
    elif None not in (run, camcol, frame):
        # FRAME is the raw frame sequence number of this band's CCD: the drift scan reaches
        # the filters in the order r, i, u, z, g, two frames apart.
        number = int(frame) - _SDSS_FRAME_OFFSET[band]
        field = f"{int(run):06d}-{int(camcol)}-{number:04d}"
    else:
        field = os.path.basename(path).split(".")[0]
    return band, field


def find_frames(frames):
    """Read the headers of ``frames`` (paths, globs, directories) into ``Frame`` records.

    Raises
    ------
    FileNotFoundError
        If a path does not exist or a glob/directory has no FITS file.
    OSError
        If a file is not readable FITS (corrupt, truncated); the message names the file.
    ValueError
        If a frame has no 2-d celestial WCS or no recognisable band.
    """
    out = []
    for path in _expand(frames):
        header = _read_header(path)
        band, field = _identify(header, path)
        wcs = _celestial_wcs(header, path)
        out.append(Frame(path, band, field, header, wcs, (header["NAXIS2"], header["NAXIS1"])))
    return out


def group_fields(frame_list):
    """Group ``Frame`` records into ``Field`` objects (dict name -> Field, sorted by name)."""
    fields = {}
    for frame in frame_list:
        field = fields.setdefault(frame.field, Field(frame.field))
        if frame.band in field.frames:
            raise ValueError(f"two {frame.band}-band frames for field {frame.field}: "
                             f"{field.frames[frame.band].path!r} and {frame.path!r}")
        field.frames[frame.band] = frame
    return dict(sorted(fields.items()))


def read_frame_data(frame):
    """Read and decompress a frame's pixels once, as native-endian float32.

    FITS stores big-endian data; converting here, at the boundary, keeps every later
    consumer (sep, reproject, numpy) on native arrays.
    """
    from astropy.io import fits

    try:
        with _FitsReadWarnings(frame.path):
            with fits.open(frame.path, memmap=False) as hdul:
                data = hdul[0].data
                if data is None or data.shape != frame.shape:
                    raise ValueError(f"image shape {None if data is None else data.shape} "
                                     f"does not match the header's {frame.shape}")
                return np.ascontiguousarray(data, dtype=np.float32)
    except Exception as exc:
        raise OSError(f"cannot read the pixels of FITS frame {frame.path!r}: {exc}") from exc
