# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Small real-data samples bundled with galssl.

The package ships a 320 x 320 pixel piece of one real SDSS DR17 field (run 3918, camcol 3,
field 213, rerun 301) in the five bands u, g, r, i and z, for examples, documentation and
tests. Each file is a bzip2-compressed FITS file with a single primary HDU that holds the
unmodified calibrated, sky-subtracted SDSS pixel values in nanomaggies (big-endian
float32) and a header with the original SDSS keywords plus the WCS of the cut-out.

The five bands are cut around the same sky position but are *not* pixel aligned (as in
SDSS, each band has its own WCS); use the WCS in each header to relate them. See
``galssl/datasets/data/PROVENANCE.rst`` for the provenance, the exact pixel regions and
the SDSS acknowledgement that publications using these data must include.

Nothing is read at import time; the functions below only return paths.
"""

from pathlib import Path

__all__ = ["SAMPLE_FIELD", "sample_frames", "sample_frames_dir"]

#: SDSS field of the bundled sample, as ``"{run:06d}-{camcol}-{field:04d}"``.
SAMPLE_FIELD = "003918-3-0213"

_BANDS = ("u", "g", "r", "i", "z")
_DATA_DIR = Path(__file__).resolve().parent / "data"


def sample_frames_dir():
    """
    Directory that holds the bundled SDSS sample frames.

    Returns
    -------
    path : str
        Absolute path of the directory (``galssl/datasets/data``).

    Examples
    --------
    >>> import os
    >>> from galssl.datasets import sample_frames_dir
    >>> os.path.isdir(sample_frames_dir())
    True
    """
    return str(_DATA_DIR)


def sample_frames():
    """
    Paths of the five bundled SDSS sample frames, in u, g, r, i, z order.

    The files are ``frame-{band}-003918-3-0213-sample.fits.bz2``: 320 x 320 pixel pieces of
    the SDSS DR17 corrected frames of field `SAMPLE_FIELD`, cut around the same sky
    position, in nanomaggies. They can be opened directly with `astropy.io.fits.open`.

    Returns
    -------
    paths : list of str
        Absolute paths, one per band, ordered u, g, r, i, z.

    Raises
    ------
    FileNotFoundError
        If any of the five files is missing (e.g. an installation without package data).

    Examples
    --------
    >>> import os
    >>> from astropy.io import fits
    >>> from galssl.datasets import sample_frames
    >>> paths = sample_frames()
    >>> len(paths)
    5
    >>> os.path.basename(paths[2])
    'frame-r-003918-3-0213-sample.fits.bz2'
    >>> with fits.open(paths[2]) as hdul:
    ...     print(hdul[0].header["FILTER"], hdul[0].header["BUNIT"], hdul[0].data.shape)
    r nanomaggy (320, 320)
    """
    paths = [_DATA_DIR / f"frame-{band}-{SAMPLE_FIELD}-sample.fits.bz2" for band in _BANDS]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"bundled SDSS sample frame(s) {', '.join(missing)} not found in {_DATA_DIR}; "
            "the galssl installation is incomplete (package data missing). Regenerate them "
            "with 'python make_sample.py /path/to/shared/data' in that directory or "
            "reinstall galssl."
        )
    return [str(path) for path in paths]
