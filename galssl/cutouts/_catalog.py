# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""CutoutCatalog: calibrated multi-band cutouts of galaxies, with their table."""

import os
import sys
import warnings

import numpy as np

from ..dust import parse_bands
from ..surveys import SURVEYS, band_label, pixel_scale_of
from ..utils._atomic import check_new_output
from ..utils._coords import parse_positions
from ..utils._progress import progress_bar
from ..utils._tables import set_display_formats
from ..utils._validate import as_flag_values, as_image_array
from ._flags import HIGH_EXTINCTION_EBV, IMAGE_DEFECTS, CutoutFlag
from ._frames import find_frames, group_fields, read_frame_data
from ._storage import (HDF5Images, append_table, create_image_dataset, read_hdf5,
                       write_hdf5)
from ._tasks import _run_fields, _task_limit

__all__ = ["CutoutCatalog", "SDSS_PIXEL_SCALE"]

#: SDSS imaging pixel scale in arcsec per pixel (`galssl.surveys`); the default of SDSS
#: cutouts.
SDSS_PIXEL_SCALE = SURVEYS["sdss"].pixel_scale

#: Columns galssl writes into a catalogue table (user columns of these names are replaced).
_OWN_COLUMNS = ("ra", "dec", "field", "flags", "nan_fraction", "ebv", "ebv_source")


def _check_size(size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer number of pixels, got {size!r}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    return int(size)


def _by_wavelength(bands):
    """Band names in wavelength order (``ugriz`` for SDSS letters)."""
    from ..surveys import parse_band

    return sorted(bands, key=lambda b: parse_band(b).wavelength)


#: Interpolation orders of `reproject.reproject_interp`, by name and by number.
_ORDERS = ("nearest-neighbor", "bilinear", "biquadratic", "bicubic")


def _check_order(order):
    if isinstance(order, str) and order in _ORDERS:
        return order
    if isinstance(order, (int, np.integer)) and not isinstance(order, bool) \
            and 0 <= order < len(_ORDERS):
        return _ORDERS[int(order)]
    raise ValueError(f"order must be one of {', '.join(map(repr, _ORDERS))} (or 0-3), "
                     f"got {order!r}")


def cutout_wcs(ra, dec, size, pixel_scale=SDSS_PIXEL_SCALE):
    """The output grid of a cutout: TAN, north up, east left, centred on (ra, dec).

    The object sits at the centre of the array: pixel ``(size - 1) / 2`` (0-based) in both
    axes, i.e. pixel 53 of a 107-pixel cutout.
    """
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    w.wcs.cdelt = [-pixel_scale / 3600.0, pixel_scale / 3600.0]
    w.wcs.radesys = "ICRS"
    return w


def _pixel_flags(images, chunk=1024):
    """CutoutFlag bits that the pixels alone show: NAN_PIXELS where any pixel is not finite,
    OFF_FRAMES where none is."""
    flags = np.zeros(len(images), np.int64)
    for s in range(0, len(images), chunk):
        finite = np.isfinite(np.asarray(images[s:s + chunk]))
        flags[s:s + chunk][~finite.all(axis=(1, 2, 3))] |= int(CutoutFlag.NAN_PIXELS)
        flags[s:s + chunk][~finite.any(axis=(1, 2, 3))] |= int(CutoutFlag.OFF_FRAMES)
    return flags


class CutoutCatalog:
    """Multi-band cutouts of astronomical objects, one row per input object.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        One row per object, in input order: ``ra``, ``dec`` (deg), ``field``, ``flags``
        (`CutoutFlag` bits), ``nan_fraction``, ``ebv`` and ``ebv_source``, and the caller's
        own columns.
    images : ndarray or `HDF5Images`
        (N, n_bands, size, size) float32 in nanomaggies per pixel, NaN where there are no
        data. An `HDF5Images` is read lazily.
    bands : str or sequence of str
        Band of each channel, e.g. ``"ugriz"``.
    pixel_scale : float, optional
        Arcsec per pixel of the cutouts.

    Notes
    -----
    Build catalogues with `from_table` (given positions), `from_frames` (galaxies detected in
    the frames) or `from_sdss` (frames fetched from the SDSS archive), and store them with
    `write` / `read`. Cutouts are on a TAN grid aligned north up / east left, centred on the
    object, resampled with `reproject` from each band's own WCS: the bands of an SDSS field
    are not pixel-aligned.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> from galssl.cutouts import CutoutCatalog
    >>> from galssl.datasets import sample_frames
    >>> coords = SkyCoord([229.5251, 0.0], [42.7449, 0.0], unit="deg")
    >>> cat = CutoutCatalog.from_table(coords, sample_frames(), size=64, progress=False)
    >>> cat.images.shape
    (2, 5, 64, 64)
    >>> cat.table["flags"].tolist()       # the second position is on no frame
    [0, 1]
    """

    def __init__(self, table, images, *, bands="ugriz", pixel_scale=None):
        from astropy.table import QTable, Table

        if not isinstance(table, Table):
            raise TypeError(f"table must be an astropy Table, got {type(table).__name__}")
        self.bands = parse_bands(bands)
        if not isinstance(images, HDF5Images):
            images = as_image_array(images).astype(np.float32, copy=False)
        if images.ndim != 4 or images.shape[0] != len(table) or \
                images.shape[1] != len(self.bands) or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must have shape (N={len(table)}, n_bands="
                             f"{len(self.bands)}, size, size), got {images.shape}")
        self.table = table if isinstance(table, QTable) else QTable(table)
        if "flags" not in self.table.colnames:
            # a hand-built catalogue: flag what the pixels show (read once, in chunks)
            self.table["flags"] = _pixel_flags(images)
        elif self.table["flags"].dtype != np.int32:
            # one type for the flags whatever wrote the table (a float format, int64)
            flags = as_flag_values(self.table["flags"])
            if len(flags) and flags.max() >= 2 ** 31:
                raise ValueError(f"flags holds {flags.max()}, not a combination of "
                                 f"CutoutFlag bits")
            self.table["flags"] = flags.astype(np.int32)
        set_display_formats(self.table)  # how it prints; files keep every digit
        self.images = images
        self.pixel_scale = pixel_scale_of(self.bands, pixel_scale)

    # ------------------------------------------------------------------ containers
    def __len__(self):
        return len(self.table)

    @property
    def size(self):
        """Side of the square cutouts in pixels."""
        return int(self.images.shape[-1])

    def __repr__(self):
        kind = "HDF5-backed" if isinstance(self.images, HDF5Images) else "in memory"
        return (f"<CutoutCatalog {len(self)} objects, bands={band_label(self.bands)}, "
                f"size={self.size}, pixel_scale={self.pixel_scale}\", {kind}>")

    def __getitem__(self, index):
        """Rows selected by a slice, integer array or boolean mask, as a CutoutCatalog."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        if isinstance(self.images, HDF5Images):
            images = self.images.subset(index)
        else:
            images = self.images[index]
        table = self.table[index]
        return CutoutCatalog(table, images, bands=self.bands, pixel_scale=self.pixel_scale)

    @property
    def good(self):
        """Boolean mask of rows whose images are complete: no bit of
        `~galssl.cutouts.IMAGE_DEFECTS` set (detection notes such as BLENDED do not count)."""
        return (np.asarray(self.table["flags"]) & int(IMAGE_DEFECTS)) == 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_table(cls, table_or_skycoord, frames, *, bands="ugriz", size=107,
                   pixel_scale=None, missing_band="raise", order="bilinear",
                   ebv_source=None, ra=None, dec=None, out=None, overwrite=False,
                   client=None, progress=True):
        """Cut every object of a table (or SkyCoord) out of the given frames.

        Parameters
        ----------
        table_or_skycoord : `~astropy.table.Table` or `~astropy.coordinates.SkyCoord`
            Positions. Table columns are kept; rows come out in input order, one per input
            row, whatever happens to them (see the ``flags`` column).
        frames : str, path, or list of them
            Frame files (``.fits``, ``.fits.bz2``, ``.fits.gz``), glob patterns or
            directories. Frames are grouped by field (SDSS RUN/CAMCOL/FRAME) and band
            (FILTER); each is read and decompressed once.
        bands : str or sequence of str, optional
            Bands to cut, in channel order.
        size : int, optional
            Side of the cutouts in pixels (107 in Hayat et al. 2021).
        pixel_scale : float or `~astropy.units.Quantity`, optional
            Output pixel scale, arcsec per pixel; default that of the bands' survey (the
            SDSS 0.396" for ugriz, 0.168" for HSC, 0.262" for the Legacy Surveys: see
            `galssl.surveys`).
        missing_band : {"raise", "flag"}, optional
            What to do when a field has no frame for a requested band: raise a ValueError
            naming band and field (default), or cut the other bands and flag the rows that
            fall in that field `CutoutFlag.MISSING_BAND`, with NaN in the missing plane.
        order : str, optional
            Interpolation order for `reproject.reproject_interp` (``"bilinear"``,
            ``"bicubic"``, ``"nearest-neighbor"``).
        ebv_source : str, optional
            Force the E(B-V) source (see `galssl.dust.ebv_for`); default tries a table
            ``ebv`` column, SDSS extinction columns, dustmaps, then the bundled SFD map.
        ra, dec : str, optional
            Names of the coordinate columns, when not ``ra``/``dec``.
        out : str or path, optional
            Write the cutouts into this HDF5 file field by field, never holding more than
            one field's cutouts in memory, and return the HDF5-backed catalogue.
        overwrite : bool, optional
            Replace ``out`` if it exists.
        client : `distributed.Client`, optional
            Cut on a Dask cluster: one task per field, each decompressing the field's
            frames once on a worker (which must see the frame files at the same paths),
            the cutouts gathered as the fields complete and written (with ``out``) into
            one HDF5 file, in input order: the same rows, images and flags as without a
            client.
        progress : bool, optional
            Show a progress bar.

        Returns
        -------
        CutoutCatalog
            Objects on several (overlapping) fields are cut from the one where they lie
            deepest inside (largest distance to the frame edge in the worst band).
        """
        return cls._from_table(table_or_skycoord, frames, bands=bands, size=size,
                               pixel_scale=pixel_scale, missing_band=missing_band,
                               order=order, ebv_source=ebv_source, ra=ra, dec=dec, out=out,
                               overwrite=overwrite, client=client, progress=progress)

    @classmethod
    def _from_table(cls, table_or_skycoord, frames, *, bands, size, pixel_scale,
                    missing_band, order, ebv_source, ra, dec, out, overwrite, client,
                    progress, extra_flags=None):
        """`from_table`; ``extra_flags`` (one int per row) are OR-ed into ``flags`` before
        the catalogue is written."""
        positions = parse_positions(table_or_skycoord, ra=ra, dec=dec)
        bands = parse_bands(bands)
        size = _check_size(size)
        pixel_scale = pixel_scale_of(bands, pixel_scale)
        if missing_band not in ("raise", "flag"):
            raise ValueError(f"missing_band must be 'raise' or 'flag', got {missing_band!r}")
        order = _check_order(order)
        if out is not None:  # before any work: the folder exists, no file unless overwrite
            check_new_output(out, overwrite)
        return cls._from_fields(positions, group_fields(find_frames(frames)), bands=bands,
                                size=size, pixel_scale=pixel_scale, missing_band=missing_band,
                                order=order, ebv_source=ebv_source, out=out,
                                overwrite=overwrite, progress=progress, client=client,
                                extra_flags=extra_flags)

    @classmethod
    def _from_fields(cls, positions, fields, *, bands, size, pixel_scale, missing_band,
                     order, ebv_source, out, overwrite, progress, reader=read_frame_data,
                     no_fields_ok=False, client=None, extra_flags=None):
        """Cut validated ``positions`` out of grouped ``fields``; ``reader(frame)`` gives a
        frame's pixels (`read_frame_data`, or modified copies held in memory). With
        ``no_fields_ok`` an empty ``fields`` gives every row flagged (BAD_COORDS or
        OFF_FRAMES) instead of an error."""
        fields = {name: f for name, f in fields.items() if any(b in f.frames for b in bands)}
        if not fields and not no_fields_ok:
            raise ValueError(f"none of the frames is in the requested bands {band_label(bands)}")
        for name, field in fields.items():
            missing = [b for b in bands if b not in field.frames]
            if missing and missing_band == "raise":
                raise ValueError(
                    f"field {name} has no {', '.join(missing)}-band frame (bands present: "
                    f"{band_label(_by_wavelength(field.frames))}); pass bands= to cut "
                    "only the bands you have, or missing_band='flag' to flag those objects")

        n = len(positions)
        table = _output_table(positions)
        flags = np.where(positions.valid, 0, int(CutoutFlag.BAD_COORDS)).astype(np.int32)
        field_of = np.full(n, "", dtype=f"U{max([16] + [len(k) for k in fields])}")

        # Choose for every object the field where it lies deepest inside, worst band first.
        # An object is on a field when its centre lies on at least one band's frame.
        best_depth = np.full(n, -np.inf)
        best_field = np.full(n, -1)
        names = list(fields)
        valid = np.flatnonzero(positions.valid)
        for k, name in enumerate(names):
            if valid.size == 0:
                break
            worst = np.full(valid.size, np.inf)
            covered = np.zeros(valid.size, dtype=bool)
            for band in bands:
                frame = fields[name].frames.get(band)
                if frame is None:
                    continue
                x, y = frame.pixel(positions.ra[valid], positions.dec[valid])
                d = frame.depth(x, y)
                d = np.where(np.isfinite(d), d, -np.inf)
                worst = np.minimum(worst, d)
                covered |= d >= 0
            better = covered & (worst > best_depth[valid])
            best_depth[valid[better]] = worst[better]
            best_field[valid[better]] = k
        on_frame = best_field >= 0
        flags[positions.valid & ~on_frame] |= int(CutoutFlag.OFF_FRAMES)

        sink = _ImageSink(n, len(bands), size, out=out, overwrite=overwrite)
        with sink:
            total = int(on_frame.sum())
            limit = _task_limit(total, client)
            tasks = []
            for k, name in enumerate(names):
                idx = np.flatnonzero(best_field == k)
                if idx.size:
                    field_of[idx] = name
                    frames_k = {b: fields[name].frames.get(b) for b in bands}
                    tasks += [(part, (frames_k, positions.ra[part], positions.dec[part], size,
                                      pixel_scale, order, reader))
                              for part in np.array_split(idx, -(-idx.size // limit))]
            # the bar counts objects (a field's objects once all their bands are cut), not band
            # cutouts
            with progress_bar(total=total, desc=f"cutting {len(bands)}-band cutouts",
                              progress=progress, unit="object") as bar:
                for idx, (block, field_flags) in _run_fields(_cut_field, tasks, client):
                    flags[idx] |= field_flags
                    sink.put(idx, block)
                    bar.update(idx.size)
            nan_fraction = sink.nan_fraction
            flags[(nan_fraction > 0) & on_frame] |= int(CutoutFlag.NAN_PIXELS)

            table["field"] = field_of
            table["flags"] = flags
            table["nan_fraction"] = nan_fraction
            table["nan_fraction"].info.description = "fraction of cutout pixels that are NaN"
            _add_ebv(table, ebv_source)
            table.meta.update({
                "galssl_bands": band_label(bands), "galssl_size": size,
                "galssl_pixel_scale": pixel_scale, "galssl_units": "nanomaggy per pixel",
                # file names only: SDSS names say band, run, camcol and field, and a table
                # should not carry the paths of the machine that made it
                "galssl_frames": sorted(os.path.basename(f.path) for fld in fields.values()
                                        for f in fld.frames.values()),
            })
            if extra_flags is not None:  # e.g. detection flags, merged before writing
                table["flags"] |= np.asarray(extra_flags, dtype=np.int32)
            sink.finish(table, bands, pixel_scale)
        return sink.result()

    @classmethod
    def from_frames(cls, frames, *, bands="ugriz", size=107, detect=True, galaxies_only=True,
                    detect_band=None, pixel_scale=None, missing_band="raise",
                    out=None, overwrite=False, client=None, progress=True, **detect_kwargs):
        """Find the objects in the frames themselves and cut them.

        Parameters
        ----------
        frames : str, path, or list of them
            Frame files, globs or directories (see `from_table`).
        bands, size, pixel_scale, missing_band, out, overwrite, progress
            As in `from_table` (``missing_band="flag"`` keeps the objects of a field that
            lacks a band, flagged ``MISSING_BAND``).
        client : `distributed.Client`, optional
            Detect and cut on a Dask cluster, one task per field (see `from_table`).
        detect : bool, optional
            Detect sources with `galssl.cutouts.detect_sources` (default). With
            ``detect=False`` the frames are tiled with a regular grid of non-overlapping
            cutouts instead (for artefact hunting or background studies).
        galaxies_only : bool, optional
            Keep only sources classified as galaxies (see `detect_sources` for the
            criterion); with False, stars are kept too and the ``is_galaxy`` column tells.
        detect_band : str, optional
            Band used for detection and measurement; default the survey's reference band
            (``r`` for SDSS, ``hsc-i`` for HSC).
        **detect_kwargs
            Passed to `detect_sources` (``thresh``, ``minarea``, ``min_snr``...).

        Returns
        -------
        CutoutCatalog
            With the detection columns (``flux_r``, ``mag_r``, ``r50``, ``is_galaxy``...).
        """
        from ..surveys import survey_of
        from ._detect import detect_sources, tile_positions

        if detect_band is None:
            survey = survey_of(bands)
            detect_band = "r" if survey is None or survey.name == "sdss" else \
                survey.reference_band
        pixel_scale = pixel_scale_of(bands, pixel_scale)
        if detect:
            sources = detect_sources(frames, band=detect_band, progress=progress,
                                     client=client, **detect_kwargs)
            if galaxies_only:
                sources = sources[sources["is_galaxy"]]
            sources.rename_column("field", "detect_field")
        else:
            sources = tile_positions(frames, size=size, pixel_scale=pixel_scale,
                                     band=detect_band)
        return cls._from_table(sources, frames, bands=bands, size=size,
                               pixel_scale=pixel_scale, missing_band=missing_band,
                               order="bilinear", ebv_source=None, ra=None, dec=None, out=out,
                               overwrite=overwrite, client=client, progress=progress,
                               extra_flags=sources["detect_flags"] if detect else None)

    @classmethod
    def from_sdss(cls, table_or_skycoord, *, bands="ugriz", size=107, data_release=17,
                  progress=True, **kwargs):
        """Cut objects from SDSS frames fetched from the SDSS archive (needs the network).

        The fields covering each position are found with `astroquery.sdss`, and their
        ``frame-*.fits.bz2`` files downloaded through astropy's download cache
        (``pkgname="galssl"``), so each frame is fetched once. Other keywords go to
        `from_table`.

        Raises
        ------
        ImportError
            If astroquery is not installed.
        ConnectionError
            If the SDSS archive cannot be reached (for example offline).
        """
        from ._sdss import fetch_sdss_frames

        positions = parse_positions(table_or_skycoord, ra=kwargs.get("ra"),
                                    dec=kwargs.get("dec"))
        known = {"pixel_scale", "missing_band", "order", "ebv_source", "ra", "dec", "out",
                 "overwrite"}
        if set(kwargs) - known:
            raise TypeError(f"from_sdss got unexpected keyword arguments "
                            f"{sorted(set(kwargs) - known)}")
        paths = fetch_sdss_frames(positions, bands=parse_bands(bands),
                                  data_release=data_release, progress=progress)
        if not paths:  # no valid position, or none on an SDSS field: every row flagged
            return cls._from_fields(
                positions, {}, bands=parse_bands(bands), size=size,
                pixel_scale=kwargs.get("pixel_scale", SDSS_PIXEL_SCALE),
                missing_band="flag", order=kwargs.get("order", "bilinear"),
                ebv_source=kwargs.get("ebv_source"), out=kwargs.get("out"),
                overwrite=kwargs.get("overwrite", False), progress=progress,
                no_fields_ok=True)
        return cls.from_table(table_or_skycoord, paths, bands=bands, size=size,
                              progress=progress, **kwargs)

    # ------------------------------------------------------------------ storage
    def write(self, path, *, overwrite=False, compression=None, progress=True):
        """Write the catalogue to one chunked HDF5 file (images and table).

        Parameters
        ----------
        path : str or path
        overwrite : bool, optional
        compression : str, optional
            h5py compression filter for the images (e.g. ``"lzf"``, ``"gzip"``).
        progress : bool, optional
        """
        write_hdf5(path, self.table, self.images, self._attrs(), overwrite=overwrite,
                   compression=compression, progress=progress)

    @classmethod
    def read(cls, path):
        """Open a catalogue written by `write`; images are read lazily on access."""
        table, images, attrs = read_hdf5(path)
        return cls(table, images, bands=str(attrs["bands"]),
                   pixel_scale=float(attrs["pixel_scale"]))

    @classmethod
    def from_stein2021(cls, path, *, region="south"):
        """Open one file of the Stein et al. (2021) DESI Legacy Surveys DR9 galaxy images
        (``images_npix152_*.h5`` of ssl-legacysurvey: 152 x 152-pixel g, r, z cutouts in
        nanomaggies with the DR9 sweep and photo-z columns) as a catalogue; images are read
        lazily.

        The file does not say which DR9 region it holds: ``region="south"`` (DECam) or
        ``"north"`` (BASS g, r and MzLS z) names the bands. Negative redshifts (-99: none)
        become NaN; the rows are flagged from their pixels (which reads every image once).

        Raises
        ------
        FileNotFoundError, OSError
            If there is no such file, or it is not HDF5.
        ValueError
            If it has no (N, 3, size, size) ``images`` or no ra/dec; the message names the
            file.
        """
        from ._labelled import read_stein2021

        table, images, bands, pixel_scale = read_stein2021(path, region=region)
        return cls(table, images, bands=bands, pixel_scale=pixel_scale)

    @classmethod
    def from_pasquet2019(cls, path):
        """Open the SDSS image set of Pasquet et al. (2019) (``sdss.npz``: 64 x 64-pixel
        ugriz cutouts of 659,857 galaxies with their spectroscopic redshifts ``z`` and
        catalogue values) as a catalogue. The cube is memory-mapped when the file stores it
        uncompressed (as distributed), so only the rows used are read; a compressed file is
        read whole, with a warning.

        Raises
        ------
        FileNotFoundError, OSError
            If there is no such file, or it is not an ``.npz`` file.
        ValueError
            If it lacks ``cube`` or ``labels`` or their shapes do not match; the message
            names the file.
        """
        from ._labelled import read_pasquet2019

        table, images, bands, pixel_scale = read_pasquet2019(path)
        return cls(table, images, bands=bands, pixel_scale=pixel_scale)

    @classmethod
    def from_mmu(cls, path):
        """Open a Multimodal Universe image file (Legacy Surveys DR10 or HSC-SSP PDR3 HDF5)
        as a catalogue; images are read lazily and converted to nanomaggies.

        The file's catalogue datasets become the table's columns (``RA``/``DEC``/``EBV``
        renamed ``ra``/``dec``/``ebv``), each band's PSF FWHM a ``psf_fwhm_<band>`` column,
        and its ``image_scale`` the pixel scale. Their Legacy Surveys files name the DECam
        bands ``DES-G`` ...: they become ``decam-g`` ... (nanomaggies); their HSC files
        ``hsc-g`` ... (coadd pixels, zero point 27, times 10^(-1.8)). E(B-V) comes from an
        ``ebv`` column when there is one, else from the SFD map at the positions, and the
        rows are flagged from their pixels.

        Raises
        ------
        FileNotFoundError, OSError
            If there is no such file, or it is not HDF5.
        ValueError
            If it lacks ``image_array``/``image_band``/ra/dec, names a band galssl does not
            read, or mixes pixel scales; the message names the file.
        """
        from ._mmu import read_mmu

        table, images, bands, pixel_scale = read_mmu(path)
        cat = cls(table, images, bands=bands, pixel_scale=pixel_scale)
        _add_ebv(cat.table, None)
        cat.table.meta.update({"galssl_bands": band_label(bands),
                               "galssl_source": f"Multimodal Universe file "
                                                f"{os.path.basename(os.fspath(path))}"})
        return cat

    def _attrs(self):
        return _file_attrs(self.bands, self.pixel_scale, self.size)


def _file_attrs(bands, pixel_scale, size):
    """Attributes stored with the images of a galssl HDF5 file."""
    from .. import __version__
    from ._storage import FORMAT_VERSION

    return {"bands": band_label(bands), "pixel_scale": pixel_scale, "size": size,
            "units": "nanomaggy per pixel", "galssl_version": __version__,
            "format_version": FORMAT_VERSION}


# ---------------------------------------------------------------------- helpers
def _output_table(positions):
    """Copy of the user's rows with normalised ``ra``/``dec`` columns (deg)."""
    import astropy.units as u
    from astropy.table import QTable
    from astropy.utils.exceptions import AstropyUserWarning

    table = QTable(positions.table, copy=True) if len(positions.table.colnames) else QTable()
    replaced = [c for c in _OWN_COLUMNS if c in table.colnames and c not in ("ra", "dec", "ebv")]
    if replaced:
        warnings.warn(f"input columns {replaced} are replaced by galssl's own", AstropyUserWarning)
        table.remove_columns(replaced)
    for name in ("ra", "dec"):
        if name in table.colnames:
            table.remove_column(name)
    table.add_column(positions.ra * u.deg, name="ra", index=0)
    table.add_column(positions.dec * u.deg, name="dec", index=1)
    return table


def _add_ebv(table, source):
    from ..dust import ebv_for

    result = ebv_for(table, source=source)
    table["ebv"] = result["ebv"]
    table["ebv_source"] = result["ebv_source"]
    high = np.asarray(result["ebv"], dtype=float) > HIGH_EXTINCTION_EBV
    table["flags"][high] |= int(CutoutFlag.HIGH_EXTINCTION)


def _cut_field(frames, ra, dec, size, pixel_scale, order, reader):
    """The cutouts of one field: ``frames`` maps each band, in channel order, to its frame
    (None where the field has none). Each frame is read (decompressed) once. Returns the
    (N, n_bands, size, size) block and the flags of each object (MISSING_BAND, PARTIAL)."""
    block = np.full((len(ra), len(frames), size, size), np.nan, dtype=np.float32)
    flags = np.zeros(len(ra), dtype=np.int32)
    for j, frame in enumerate(frames.values()):
        if frame is None:
            flags |= int(CutoutFlag.MISSING_BAND)
            continue
        partial = _cut_frame(frame, reader(frame), ra, dec, size, pixel_scale, order,
                             block[:, j])
        flags[partial] |= int(CutoutFlag.PARTIAL)
    return block, flags


def _cut_frame(frame, data, ra, dec, size, pixel_scale, order, out):
    """Resample one frame's pixels ``data`` onto the cutout grid of each object; fills
    ``out`` in place.

    Returns a boolean array: True where the cutout extends beyond the frame.
    """
    from reproject import reproject_interp

    # resampling moves surface brightness; scale by the pixel areas to keep nanomaggies per
    # (output) pixel, so that fluxes are conserved at any pixel_scale
    area_ratio = (pixel_scale / frame.pixel_scale) ** 2
    partial = np.zeros(len(ra), dtype=bool)
    for i in range(len(ra)):
        image, footprint = reproject_interp(
            (data, frame.wcs), cutout_wcs(ra[i], dec[i], size, pixel_scale),
            shape_out=(size, size), order=order, roundtrip_coords=False)
        out[i] = image * area_ratio if area_ratio != 1.0 else image
        partial[i] = not np.all(footprint > 0)
    return partial


class _ImageSink:
    """Destination of the cutouts: an in-memory array, or an HDF5 file written per field.

    Used as a context manager. A file is written atomically: into a temporary file beside
    ``out``, moved onto ``out`` when the block ends without an exception after `finish`;
    on any exception (a bad argument found mid-way, ``KeyboardInterrupt``) the temporary
    file is removed and ``out`` is left as it was."""

    def __init__(self, n, n_bands, size, *, out=None, overwrite=False):
        self.shape = (n, n_bands, size, size)
        self.nan_fraction = np.ones(n)
        self.path = None if out is None else os.fspath(out)  # checked by atomic_output
        self.overwrite = overwrite
        self._written = np.zeros(n, bool)
        self._atomic = self._file = None
        self._finished = False

    def __enter__(self):
        if self.path is None:
            self.images = np.full(self.shape, np.nan, dtype=np.float32)
            return self
        import h5py

        from ..utils._atomic import atomic_output

        self._atomic = atomic_output(self.path, overwrite=self.overwrite)
        self._tmp = self._atomic.__enter__()
        try:
            self._file = h5py.File(self._tmp, "w")
            self.images = create_image_dataset(self._file, self.shape)
        except BaseException:
            self._close(*sys.exc_info())
            raise
        return self

    def _close(self, *exc):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            if exc[0] is None and not self._finished:
                exc = (RuntimeError, RuntimeError("the cutouts were not finished"), None)
            atomic.__exit__(*exc)

    def __exit__(self, *exc):
        self._close(*exc)
        return False

    def put(self, idx, block):
        self.nan_fraction[idx] = np.mean(~np.isfinite(block), axis=(1, 2, 3))
        self._written[idx] = True
        if self.path is None:
            self.images[idx] = block
        else:
            order = np.argsort(idx)  # h5py writes need increasing indices
            self.images[idx[order]] = block[order]

    def finish(self, table, bands, pixel_scale):
        """Store the table; the catalogue is `result` once the block has ended."""
        self._bands, self._pixel_scale = bands, pixel_scale
        self._table = table
        if self.path is not None:
            # rows on no frame are stored too (as NaN): every chunk of a galssl file exists,
            # so that one its damaged index cannot find is an error when read
            for i in np.flatnonzero(~self._written):
                self.images[int(i)] = np.full(self.shape[1:], np.nan, np.float32)
            for key, value in _file_attrs(bands, pixel_scale, self.shape[-1]).items():
                self._file.attrs[key] = value
            self._file.close()
            self._file = None
            append_table(self._tmp, table)
        self._finished = True

    def result(self):
        if self.path is None:
            return CutoutCatalog(self._table, self.images, bands=self._bands,
                                 pixel_scale=self._pixel_scale)
        return CutoutCatalog.read(self.path)
