# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Fetching SDSS frames over the network (astroquery + astropy's download cache)."""

import numpy as np

from ..utils._progress import progress_bar

__all__ = ["fetch_sdss_frames", "fetch_sdss_field", "sdss_frame_url", "conf"]

from astropy import config as _config


class Conf(_config.ConfigNamespace):
    """Configuration of galssl's access to the SDSS archive (read at call time)."""

    sas_url = _config.ConfigItem(
        "https://data.sdss.org/sas",
        "Base URL of the SDSS Science Archive Server.")
    timeout = _config.ConfigItem(
        30.0, "Timeout in seconds of requests to the SDSS archive.")


conf = Conf()


def sdss_frame_url(run, camcol, field, band, *, data_release=17, rerun=301):
    """URL of an SDSS corrected frame (``frame-<band>-<run>-<camcol>-<field>.fits.bz2``)."""
    base = conf.sas_url.rstrip("/")
    sub = "eboss/photoObj/frames" if data_release >= 13 else "boss/photoObj/frames"
    return (f"{base}/dr{data_release}/{sub}/{rerun}/{run}/{camcol}/"
            f"frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2")


def _network_errors():
    """The exceptions that mean "the archive could not be reached or answered": OSError
    (sockets, timeouts, urllib and requests errors derive from it) and astroquery's
    remote-service errors."""
    errors = [OSError]
    try:
        from astroquery.exceptions import RemoteServiceError, TimeoutError as AqTimeout

        errors += [RemoteServiceError, AqTimeout]
    except ImportError:
        pass
    return tuple(errors)


def _within(seconds, fn, what):
    """``fn()``, or a ConnectionError if it has not returned after ``seconds``: astroquery's
    SDSS query makes several requests (field lists, then the query), each with its own
    timeout, so a stalled server would otherwise hold the caller for several timeouts. The
    abandoned request ends by its own timeout in a daemon thread."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="galssl-sdss-query")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise ConnectionError(f"{what}: no answer within {seconds:g} s "
                              "(galssl.cutouts.conf.timeout)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def fetch_sdss_frames(positions, *, bands="ugriz", data_release=17, progress=True):
    """Download (once, into astropy's cache) the SDSS frames covering ``positions``.

    Raises
    ------
    ImportError
        If astroquery is not installed.
    ConnectionError
        If the archive cannot be reached.
    """
    try:
        from astroquery.sdss import SDSS
    except ImportError as exc:
        raise ImportError("CutoutCatalog.from_sdss needs astroquery: "
                          "pip install astroquery (or galssl[all])") from exc
    coords = positions.skycoord()[positions.valid]
    if len(coords) == 0:
        return []
    try:
        found = _within(conf.timeout, lambda: SDSS.query_region(
            coords, radius="1 arcsec", spectro=False,
            photoobj_fields=["run", "camcol", "field"], data_release=data_release,
            timeout=conf.timeout), "the SDSS archive")
    except _network_errors() as exc:  # not every exception: a bug must not read "offline"
        raise ConnectionError(f"cannot query the SDSS archive for frames ({exc}); "
                              "from_sdss needs the network: offline, pass local frames "
                              "to CutoutCatalog.from_table") from exc
    if found is None or len(found) == 0:
        return []
    keys = sorted({(int(r), int(c), int(f)) for r, c, f in
                   zip(found["run"], found["camcol"], found["field"])})
    paths = []
    for key in progress_bar(keys, desc="fetching SDSS fields", progress=progress,
                            unit="field"):
        paths += _download_field(key, bands, data_release)
    return list(np.unique(paths))


def _parse_field(field):
    """(run, camcol, field) from ``"003918-3-0213"``, ``"3918-3-213"`` or a 3-tuple."""
    parts = field.split("-") if isinstance(field, str) else field
    try:
        run, camcol, number = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"an SDSS field is 'run-camcol-field' (e.g. '003918-3-0213') or "
                         f"(run, camcol, field), got {field!r}") from None
    if run <= 0 or not 1 <= camcol <= 6 or number < 0:
        raise ValueError(f"an SDSS field has run > 0, camcol 1-6 and field >= 0, got "
                         f"{field!r}")
    return run, camcol, number


def _download_field(key, bands, data_release):
    from astropy.utils.data import download_file

    run, camcol, field = key
    paths = []
    for band in bands:
        url = sdss_frame_url(run, camcol, field, band, data_release=data_release)
        try:
            paths.append(download_file(url, cache=True, pkgname="galssl",
                                       timeout=conf.timeout, show_progress=False))
        except _network_errors() as exc:
            raise ConnectionError(f"cannot download SDSS frame {url}: {exc}; offline, give "
                                  f"local frame files to CutoutCatalog.from_frames or "
                                  f"from_table") from exc
    return paths


def fetch_sdss_field(field, *, bands="ugriz", data_release=17):
    """The frames of one SDSS field, downloaded once into astropy's cache (``pkgname=
    "galssl"``) from the SDSS Science Archive Server (`conf` ``.sas_url``), as local paths
    in band order, for `~galssl.cutouts.CutoutCatalog.from_frames`.

    Parameters
    ----------
    field : str or tuple
        ``"003918-3-0213"`` (run-camcol-field, as SDSS names its frames) or
        ``(3918, 3, 213)``.
    bands : str or sequence, optional
    data_release : int, optional

    Raises
    ------
    ValueError
        If ``field`` is not an SDSS field name.
    ConnectionError
        If a frame is neither in the cache nor downloadable (for example offline).

    Examples
    --------
    >>> from galssl.cutouts import fetch_sdss_field
    >>> paths = fetch_sdss_field("003918-3-0213")   # doctest: +REMOTE_DATA
    """
    from ..surveys import parse_bands

    return _download_field(_parse_field(field), parse_bands(bands), int(data_release))
