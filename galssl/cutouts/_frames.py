# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Discovery, grouping and reading of calibrated survey images: SDSS ``frame-*`` files and
HSC-SSP coadd and cutout files (the image HDU found by ``EXTTYPE``/``EXTNAME``, the flux
scale from ``FLUXMAG0``), each converted to nanomaggies when read."""

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

    def __init__(self, path, band, field, header, wcs, shape, *, hdu=0, to_nanomaggies=1.0,
                 survey="sdss"):
        self.path = path
        self.band = band
        self.field = field
        self.header = header
        self.wcs = wcs
        self.shape = shape  # (ny, nx)
        self.hdu = hdu  # index of the image HDU
        self.to_nanomaggies = float(to_nanomaggies)  # pixel value x this = nanomaggies
        self.survey = survey

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


class _Bands(dict):
    """Frames by band; SDSS frames are keyed by their letter, and ``"sdss-r"`` finds the
    ``"r"`` frame (bare ugriz and sdss-qualified names are the same bands)."""

    @staticmethod
    def _key(band):
        return band[5:] if isinstance(band, str) and band.startswith("sdss-") else band

    def __getitem__(self, band):
        return super().__getitem__(self._key(band))

    def __contains__(self, band):
        return super().__contains__(self._key(band))

    def get(self, band, default=None):
        return super().get(self._key(band), default)


class Field:
    """The frames of one field (one pointing), keyed by band."""

    def __init__(self, name):
        self.name = name
        self.frames = _Bands()

    def __repr__(self):
        return f"<Field {self.name} bands={','.join(self.frames)}>"


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


#: Pixel units galssl reads as nanomaggies (SDSS frames, Legacy Surveys coadds).
_NANOMAGGY_UNITS = ("nanomaggy", "nanomaggies", "nmgy")


def _image_hdu(hdul, path):
    """Index and header of the image: the HDU whose ``EXTTYPE`` or ``EXTNAME`` is IMAGE (or
    SCI), as HSC and Rubin files have it, else the first 2-d image HDU."""
    named = [i for i, h in enumerate(hdul)
             if str(h.header.get("EXTTYPE", h.header.get("EXTNAME", ""))).strip().upper()
             in ("IMAGE", "SCI")]
    plain = [i for i, h in enumerate(hdul) if h.header.get("NAXIS", 0) == 2]
    for i in named + plain:
        if hdul[i].header.get("NAXIS", 0) == 2:
            return i, hdul[i].header.copy()
    raise ValueError(f"frame {path!r}: no 2-d image HDU (primary NAXIS="
                     f"{hdul[0].header.get('NAXIS')})")


def _read_header(path):
    """(primary header, image HDU index, image header) of a FITS file."""
    from astropy.io import fits

    try:
        with _FitsReadWarnings(path):
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                primary = hdul[0].header.copy()
                if primary.get("NAXIS", 0) == 2:
                    return primary, 0, primary
                index, header = _image_hdu(hdul, path)
    except ValueError:
        raise
    except Exception as exc:  # OSError, EOFError, bz2/gzip errors, VerifyError...
        if isinstance(exc, OSError) and repr(path) in str(exc):
            raise
        raise OSError(f"cannot read FITS frame {path!r}: {exc}") from exc
    return primary, index, header


_HSC_NAME = re.compile(r"HSC-([GRIZY])", re.IGNORECASE)


def _identify_hsc(primary, header, path):
    """(band, field, nanomaggies per pixel unit) of an HSC-SSP coadd or cutout file, or None:
    its FLUXMAG0 (flux of a 0 AB mag source) and an HSC filter name (``HSC-I``, or FILTER
    with an HSC-... file name)."""
    fluxmag0 = primary.get("FLUXMAG0", header.get("FLUXMAG0"))
    name = os.path.basename(path)
    filt = str(header.get("FILTER", primary.get("FILTER", ""))).strip()
    match = _HSC_NAME.search(filt) or _HSC_NAME.search(name)
    if fluxmag0 is None or match is None:
        return None
    try:
        fluxmag0 = float(fluxmag0)
    except (TypeError, ValueError):
        fluxmag0 = float("nan")
    if not np.isfinite(fluxmag0) or fluxmag0 <= 0:
        raise ValueError(f"frame {path!r}: FLUXMAG0={primary.get('FLUXMAG0')!r} is not a "
                         f"positive number, so its pixels cannot be put in nanomaggies")
    from ..surveys import nanomaggies_per_unit

    band = f"hsc-{match.group(1).lower()}"
    # one field per object or patch: the file name without its band
    field = _HSC_NAME.sub("HSC-*", name.split(".fits")[0])
    # a source of flux f has m = 2.5 log10(FLUXMAG0 / f): zero point 2.5 log10(FLUXMAG0)
    return band, field, nanomaggies_per_unit(2.5 * np.log10(fluxmag0))


def _identify(header, path, primary=None):
    """(band, field name, nanomaggies per pixel unit, survey) of a frame: an HSC file
    (`_identify_hsc`), else an SDSS frame from its header or its SDSS file name."""
    primary = header if primary is None else primary
    hsc = _identify_hsc(primary, header, path)
    if hsc is not None:
        return hsc + ("hsc",)
    match = _FRAME_NAME.search(os.path.basename(path))
    band = str(header.get("FILTER", "")).strip() or (match.group(1) if match else None)
    if band not in ("u", "g", "r", "i", "z"):
        raise ValueError(f"cannot tell the band of frame {path!r}: no FILTER keyword with an "
                         "SDSS band (u, g, r, i, z) and no frame-<band>-... file name, and "
                         "not an HSC-SSP file (FLUXMAG0 and an HSC-<band> filter)")
    unit = str(header.get("BUNIT", "nanomaggy")).strip()
    if unit.lower() not in _NANOMAGGY_UNITS:
        raise ValueError(f"frame {path!r} has BUNIT={unit!r}: galssl reads SDSS frames in "
                         f"nanomaggies (the calibrated frame-*.fits files), not raw counts")
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
    return band, field, 1.0, "sdss"


#: Header keywords of a zero point (AB magnitude of one pixel unit), in order of preference.
_ZERO_POINT_KEYS = ("MAGZP", "MAGZERO", "ZEROPT", "ZP", "PHOTZP")


def _generic_scale(primary, header, band, path):
    """Nanomaggies per pixel unit of an image given with its band: BUNIT nanomaggy (1),
    nJy, FLUXMAG0, a zero-point keyword (`_ZERO_POINT_KEYS`), else the zero point of the
    band's survey (`galssl.surveys.Survey.zero_point`); and where it came from."""
    from ..surveys import UNIT_ZERO_POINTS, nanomaggies_per_unit, survey_of

    def get(key):
        return header.get(key, primary.get(key))

    unit = str(get("BUNIT") or "").strip()
    if unit.lower() in _NANOMAGGY_UNITS:
        return 1.0, "BUNIT"
    if unit.lower() == "njy":
        return nanomaggies_per_unit(UNIT_ZERO_POINTS["nJy"]), "BUNIT"
    if get("FLUXMAG0") is not None:
        return nanomaggies_per_unit(2.5 * np.log10(float(get("FLUXMAG0")))), "FLUXMAG0"
    for key in _ZERO_POINT_KEYS:
        if get(key) is not None:
            try:
                zp = float(get(key))
            except (TypeError, ValueError):
                raise ValueError(f"frame {path!r}: {key}={get(key)!r} is not a number") from None
            return nanomaggies_per_unit(zp), key
    survey = survey_of([band.name])
    if survey is not None:
        return survey.to_nanomaggies, f"the {survey.name} zero point"
    raise ValueError(f"frame {path!r}: no BUNIT, FLUXMAG0 or zero-point keyword to put its "
                     f"pixels in nanomaggies, and its band {band.name!r} has no survey")


def _grid_key(header):
    """Images on one pixel grid (same WCS reference, scale and shape) form one field."""
    keys = ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2",
            "CD2_1", "CD2_2", "CDELT1", "CDELT2", "NAXIS1", "NAXIS2")
    parts = []
    for k in keys:
        v = header.get(k)
        parts.append(f"{v:.9g}" if isinstance(v, float) else str(v))
    import hashlib

    return "grid-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def _find_given_bands(frames):
    """``find_frames`` for ``{band: files}``: any FITS image with a celestial WCS."""
    from ..surveys import parse_band

    out = []
    for band_name, files in frames.items():
        band = parse_band(band_name)
        key = band.filter if band.system == "sdss" else band.name
        for path in _expand(files):
            primary, hdu, header = _read_header(path)
            scale, _ = _generic_scale(primary, header, band, path)
            wcs = _celestial_wcs(header, path)
            out.append(Frame(path, key, _grid_key(header), header, wcs,
                             (header["NAXIS2"], header["NAXIS1"]), hdu=hdu,
                             to_nanomaggies=scale, survey=band.system))
    return out


def find_frames(frames):
    """Read the headers of ``frames`` (paths, globs, directories) into ``Frame`` records.

    SDSS frames and HSC-SSP files are recognised from their headers and names. Any other
    FITS image with a celestial WCS is read when its band is given: ``frames`` a dict
    ``{band: files}`` (``{"decam-g": "brick-g.fits", "decam-r": [...]}``). Its pixels are
    put in nanomaggies from ``BUNIT`` (nanomaggy, nJy), ``FLUXMAG0``, a zero-point keyword
    (``MAGZP``, ``MAGZERO``, ``ZEROPT``, ``ZP``, ``PHOTZP``), or else the zero point of the
    band's survey (`galssl.surveys`); images on one pixel grid form one field.

    Raises
    ------
    FileNotFoundError
        If a path does not exist or a glob/directory has no FITS file.
    OSError
        If a file is not readable FITS (corrupt, truncated); the message names the file.
    ValueError
        If a frame has no 2-d celestial WCS or no recognisable band.
    """
    if isinstance(frames, dict):
        return _find_given_bands(frames)
    out = []
    for path in _expand(frames):
        primary, hdu, header = _read_header(path)
        band, field, scale, survey = _identify(header, path, primary)
        wcs = _celestial_wcs(header, path)
        out.append(Frame(path, band, field, header, wcs, (header["NAXIS2"], header["NAXIS1"]),
                         hdu=hdu, to_nanomaggies=scale, survey=survey))
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


def _verified_source(path):
    """What `astropy.io.fits.open` reads the pixels from: the file itself, or for a gzip or
    bzip2 file its whole decompressed content, so that the compression's checksums are
    verified (astropy stops reading the stream where the image ends, before the gzip CRC:
    one flipped byte gave wrong pixels silently)."""
    import bz2
    import gzip
    import io

    lower = os.fspath(path).lower()
    opener = gzip.open if lower.endswith(".gz") else bz2.open if lower.endswith(".bz2") \
        else None
    if opener is None:
        return path
    with opener(path, "rb") as f:
        return io.BytesIO(f.read())


def read_frame_data(frame):
    """Read and decompress a frame's pixels once, as native-endian float32 nanomaggies
    (compressed files whole, their checksums verified).

    FITS stores big-endian data; converting here, at the boundary, keeps every later
    consumer (sep, reproject, numpy) on native arrays.
    """
    from astropy.io import fits

    try:
        with _FitsReadWarnings(frame.path):
            with fits.open(_verified_source(frame.path), memmap=False) as hdul:
                data = hdul[getattr(frame, "hdu", 0)].data
                if data is None or data.shape != frame.shape:
                    raise ValueError(f"image shape {None if data is None else data.shape} "
                                     f"does not match the header's {frame.shape}")
                data = np.ascontiguousarray(data, dtype=np.float32)
                scale = getattr(frame, "to_nanomaggies", 1.0)
                if scale != 1.0:  # the survey's unit to nanomaggies
                    data *= np.float32(scale)
                return data
    except Exception as exc:
        raise OSError(f"cannot read the pixels of FITS frame {frame.path!r}: {exc}") from exc
