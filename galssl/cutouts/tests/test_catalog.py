# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os
import pickle
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from astropy.utils.exceptions import AstropyUserWarning
from numpy.testing import assert_allclose

from galssl.cutouts import CutoutCatalog, CutoutFlag, HDF5Images, cutout_wcs
from galssl.tests.helpers import SOURCES, make_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return make_frames(tmp_path_factory.mktemp("frames"))


def _centroid(image):
    yy, xx = np.indices(image.shape)
    w = np.clip(np.nan_to_num(image), 0, None)
    return (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()


def test_cutouts_are_centred_aligned_and_flux_preserving(frames):
    t = Table({"ra": [s[0] for s in SOURCES], "dec": [s[1] for s in SOURCES],
               "name": ["a", "b", "c"]})
    cat = CutoutCatalog.from_table(t, frames, size=41, progress=False)
    assert cat.images.shape == (3, 5, 41, 41) and cat.images.dtype == np.float32
    assert cat.table["name"].tolist() == ["a", "b", "c"]  # user columns, input order
    assert cat.table["flags"].tolist() == [0, 0, 0]
    for i, (_, _, flux) in enumerate(SOURCES):
        for j, band in enumerate("ugriz"):
            # every band's source lands on the central pixel although the frames are
            # shifted and rotated differently per band
            xc, yc = _centroid(cat.images[i, j])
            assert abs(xc - 20) < 0.05 and abs(yc - 20) < 0.05, (i, band, xc, yc)
            # same pixel scale: bilinear resampling keeps the total flux (nanomaggies)
            expected = flux * 1.1 ** ("ugriz".index(band) - 2)
            assert_allclose(cat.images[i, j].sum(), expected, rtol=0.01)


def test_total_flux_is_kept_at_other_pixel_scales(frames):
    coords = SkyCoord([SOURCES[0][0]], [SOURCES[0][1]], unit="deg")
    fine = CutoutCatalog.from_table(coords, frames, size=41, bands="r", progress=False)
    coarse = CutoutCatalog.from_table(coords, frames, size=21, bands="r", pixel_scale=0.792,
                                      progress=False)
    assert coarse.pixel_scale == 0.792
    assert_allclose(coarse.images.sum(), fine.images.sum(), rtol=0.02)
    assert_allclose(fine.images.sum(), SOURCES[0][2], rtol=0.01)


def test_north_up_east_left(frames):
    # a source 6" north of the centre lands 15 px above; one to the east lands left
    ra0, dec0 = SOURCES[0][:2]
    north = SkyCoord(ra0, dec0, unit="deg").directional_offset_by(0 * u.deg, 6 * u.arcsec)
    cat = CutoutCatalog.from_table(SkyCoord([north.ra], [north.dec]), frames, size=61,
                                   bands="r", progress=False)
    xc, yc = _centroid(np.where(cat.images[0, 0] > 1, cat.images[0, 0], 0))
    assert abs(xc - 30) < 0.1 and abs(yc - (30 - 6 / 0.396)) < 0.1
    w = cutout_wcs(ra0, dec0, 61)
    x_east, _ = w.world_to_pixel_values(ra0 + 0.001, dec0)
    assert x_east < 30


def test_input_forms_and_rows_in_equal_rows_out(frames, tmp_path):
    coords = SkyCoord([150.0, 10.0, 150.006], [2.0, -30.0, 2.004], unit="deg")
    for positions in (coords, QTable({"RA": coords.ra, "DEC": coords.dec}),
                      Table({"coord": coords}), QTable({"alpha": coords.ra.deg,
                                                        "delta": coords.dec.deg})):
        kw = dict(ra="alpha", dec="delta") if "alpha" in getattr(positions, "colnames", []) \
            else {}
        cat = CutoutCatalog.from_table(positions, frames, size=21, progress=False, **kw)
        assert len(cat) == 3
        assert cat.table["flags"].tolist() == [0, int(CutoutFlag.OFF_FRAMES), 0]
        assert np.all(np.isnan(cat.images[1])) and cat.table["nan_fraction"][1] == 1
        assert_allclose(cat.table["ra"].to_value(u.deg), coords.ra.deg)
    # compressed frames and directories are accepted; results identical
    bz = make_frames(tmp_path / "bz", compress=True)
    a = CutoutCatalog.from_table(coords, frames, size=21, progress=False)
    b = CutoutCatalog.from_table(coords, os.path.dirname(bz[0]), size=21, progress=False)
    c = CutoutCatalog.from_table(coords, os.path.join(os.path.dirname(bz[0]), "frame-*"),
                                 size=21, progress=False)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.images, c.images)


def test_partial_nan_and_bad_coordinate_flags(frames):
    # the frames span about 79" x 63"; put one object near the corner
    t = Table({"ra": [150.0 + 35 / 3600 / np.cos(np.deg2rad(2)), np.nan, 150.0],
               "dec": [2.0 + 28 / 3600, 2.0, 91.0]})
    cat = CutoutCatalog.from_table(t, frames, size=31, progress=False)
    f = cat.table["flags"]
    assert f[0] & CutoutFlag.PARTIAL and f[0] & CutoutFlag.NAN_PIXELS
    assert 0 < cat.table["nan_fraction"][0] < 1
    assert f[1] == CutoutFlag.BAD_COORDS and f[2] == CutoutFlag.BAD_COORDS
    assert cat.table["ebv_source"].tolist()[1:] == ["none", "none"]
    assert not cat.good.any()


def test_overlapping_fields_take_the_deepest(tmp_path):
    # two fields offset by 30" in RA; an object 25" east of field A's centre is deeper in B
    a = make_frames(tmp_path / "a", field=(100, 1, 10))
    b = make_frames(tmp_path / "b", field=(100, 1, 11), crval=(150.0 + 30 / 3600, 2.0))
    ra = [150.0 + 25 / 3600, 150.0 - 5 / 3600]
    cat = CutoutCatalog.from_table(SkyCoord(ra, [2.0, 2.0], unit="deg"), a + b, size=11,
                                   progress=False)
    assert cat.table["field"].tolist() == ["000100-1-0011", "000100-1-0010"]


def test_missing_band_raises_or_flags(tmp_path):
    paths = make_frames(tmp_path, bands="ugrz")
    coords = SkyCoord([150.0], [2.0], unit="deg")
    with pytest.raises(ValueError, match=r"field 000100-1-0010 has no i-band frame"):
        CutoutCatalog.from_table(coords, paths, progress=False)
    cat = CutoutCatalog.from_table(coords, paths, bands="ugrz", size=11, progress=False)
    assert cat.bands == tuple("ugrz") and cat.table["flags"][0] == 0
    cat = CutoutCatalog.from_table(coords, paths, size=11, missing_band="flag", progress=False)
    assert cat.table["flags"][0] & CutoutFlag.MISSING_BAND
    assert np.all(np.isnan(cat.images[0, 3])) and np.isfinite(cat.images[0, 2]).all()
    # what the error message recommends works for detection too (was a TypeError)
    paths = make_frames(tmp_path / "d", bands="ugrz", noise=0.01, sigma_pix=3.0)
    det = CutoutCatalog.from_frames(paths, size=11, missing_band="flag", progress=False)
    assert len(det) > 0 and np.all(det.table["flags"] & CutoutFlag.MISSING_BAND)
    with pytest.raises(ValueError, match="has no i-band frame"):
        CutoutCatalog.from_frames(paths, size=11, progress=False)


def test_empty_input_gives_empty_catalogue(frames):
    cat = CutoutCatalog.from_table(Table({"ra": np.zeros(0), "dec": np.zeros(0)}), frames,
                                   size=15, progress=False)
    assert len(cat) == 0 and cat.images.shape == (0, 5, 15, 15)
    assert "ebv" in cat.table.colnames


@pytest.mark.parametrize("positions, kwargs, exc, match", [
    ([1, 2], {}, TypeError, "Table/QTable or a SkyCoord"),
    (Table({"x": [1.0], "dec": [1.0]}), {}, ValueError, "no 'ra' column"),
    (Table({"ra": ["a"], "dec": [1.0]}), {}, TypeError, "column 'ra' must be numeric"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"ra": "RAJ"}, ValueError, "column 'RAJ' not found"),
    (Table({"ra": [[1.0, 2.0]], "dec": [1.0]}), {}, ValueError, "one value per row"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"size": 10.5}, TypeError, "size must be an integer"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"size": 0}, ValueError, "size must be a positive"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"bands": "ugrizy"}, ValueError, "unknown band"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"pixel_scale": -1}, ValueError, "pixel_scale"),
    (Table({"ra": [1.0], "dec": [1.0]}), {"missing_band": "zero"}, ValueError, "missing_band"),
])
def test_bad_input_errors_name_the_argument(frames, positions, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        CutoutCatalog.from_table(positions, frames, progress=False, **kwargs)


def test_bad_frames_errors_name_the_file(tmp_path):
    coords = SkyCoord([150.0], [2.0], unit="deg")
    with pytest.raises(FileNotFoundError, match="nothere.fits"):
        CutoutCatalog.from_table(coords, str(tmp_path / "nothere.fits"))
    with pytest.raises(FileNotFoundError, match="no files match"):
        CutoutCatalog.from_table(coords, str(tmp_path / "*.fits"))
    with pytest.raises(TypeError, match="frames must be"):
        CutoutCatalog.from_table(coords, 42)
    good = make_frames(tmp_path / "ok", bands="r")[0]
    truncated = tmp_path / "frame-r-000100-1-0010.fits"
    truncated.write_bytes(Path(good).read_bytes()[:5000])
    with pytest.raises(OSError, match="frame-r-000100-1-0010.fits"):
        CutoutCatalog.from_table(coords, str(truncated), bands="r", progress=False)
    garbage = tmp_path / "frame-g-000100-1-0010.fits.bz2"
    garbage.write_bytes(b"this is not a bz2 stream" * 100)
    with pytest.raises(OSError, match="frame-g-000100-1-0010.fits.bz2"):
        CutoutCatalog.from_table(coords, str(garbage), bands="g", progress=False)


def test_reserved_columns_are_replaced_with_a_warning(frames):
    t = Table({"ra": [150.0], "dec": [2.0], "flags": [99]})
    with pytest.warns(AstropyUserWarning, match="replaced"):
        cat = CutoutCatalog.from_table(t, frames, size=11, progress=False)
    assert cat.table["flags"][0] == 0


def test_ebv_column_of_the_input_is_used(frames):
    t = Table({"ra": [150.0, 150.0], "dec": [2.0, 2.0], "ebv": [0.25, np.nan]})
    cat = CutoutCatalog.from_table(t, frames, size=11, progress=False)
    assert cat.table["ebv_source"].tolist() == ["column", "sfd_healpix"]
    assert cat.table["ebv"][0] == 0.25


def test_high_extinction_rows_are_flagged_not_dropped(frames):
    from galssl.cutouts import HIGH_EXTINCTION_EBV

    t = Table({"ra": [150.0] * 3, "dec": [2.0] * 3,
               "ebv": [0.03, HIGH_EXTINCTION_EBV, 4.2]})
    cat = CutoutCatalog.from_table(t, frames, size=11, progress=False)
    assert len(cat) == 3
    high = (np.asarray(cat.table["flags"]) & int(CutoutFlag.HIGH_EXTINCTION)) != 0
    assert high.tolist() == [False, False, True]
    # the image is complete: the row stays good, training leaves it out (training_rows)
    assert cat.good.tolist() == [True, True, True]
    assert CutoutFlag.describe(int(cat.table["flags"][2])) == ["HIGH_EXTINCTION"]


def test_hdf5_round_trip_lazy_slicing_and_pickling(frames, tmp_path):
    coords = SkyCoord(np.linspace(149.998, 150.002, 7), np.full(7, 2.0), unit="deg")
    cat = CutoutCatalog.from_table(coords, frames, size=25, progress=False)
    path = tmp_path / "cat.h5"
    cat.write(path, progress=False)
    with pytest.raises(OSError, match="exists"):
        cat.write(path, progress=False)
    back = CutoutCatalog.read(path)
    assert isinstance(back.images, HDF5Images) and back.bands == cat.bands
    assert back.size == 25 and back.pixel_scale == cat.pixel_scale
    np.testing.assert_array_equal(np.asarray(back.images), cat.images)
    assert back.table.colnames == cat.table.colnames
    assert back.table["field"].tolist() == cat.table["field"].tolist()  # str, not bytes
    assert back.table["ebv_source"][0] == "sfd_healpix"
    assert_allclose(back.table["ra"].to_value(u.deg), cat.table["ra"].to_value(u.deg))
    # slicing keeps it lazy, in any order, by mask or slice
    sub = back[[5, 1, 3]]
    assert isinstance(sub.images, HDF5Images) and len(sub) == 3
    np.testing.assert_array_equal(sub.images[:], cat.images[[5, 1, 3]])
    np.testing.assert_array_equal(sub.images[1], cat.images[1])
    np.testing.assert_array_equal(back[back.table["ra"] > 150 * u.deg].images[:],
                                  cat.images[cat.table["ra"] > 150 * u.deg])
    np.testing.assert_array_equal(back[::2].images[:, 2, 10:15, 3], cat.images[::2, 2, 10:15, 3])
    assert back[2].images.shape == (1, 5, 25, 25)
    # a pickled copy (what DataLoader workers receive) reopens the file itself
    clone = pickle.loads(pickle.dumps(sub.images))
    assert clone._file is None
    np.testing.assert_array_equal(clone[0], cat.images[5])
    # in-memory slicing too
    np.testing.assert_array_equal(cat[1:3].images, cat.images[1:3])
    with pytest.raises(IndexError):
        back.images[99]


def test_out_streams_to_hdf5(frames, tmp_path):
    coords = SkyCoord([150.0, 0.0, 150.006], [2.0, 0.0, 2.004], unit="deg")
    mem = CutoutCatalog.from_table(coords, frames, size=21, progress=False)
    disk = CutoutCatalog.from_table(coords, frames, size=21, progress=False,
                                    out=tmp_path / "s.h5")
    assert isinstance(disk.images, HDF5Images)
    np.testing.assert_array_equal(np.asarray(disk.images), mem.images)
    assert disk.table["flags"].tolist() == mem.table["flags"].tolist()


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such cutout file"):
        CutoutCatalog.read(tmp_path / "none.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(OSError, match="bad.h5"):
        CutoutCatalog.read(bad)


def test_repr_and_constructor_validation(frames):
    cat = CutoutCatalog.from_table(SkyCoord([150.0], [2.0], unit="deg"), frames, size=11,
                                   progress=False)
    assert "1 objects" in repr(cat) and "ugriz" in repr(cat)
    with pytest.raises(ValueError, match="images must have shape"):
        CutoutCatalog(cat.table, np.zeros((2, 5, 11, 11)))
    with pytest.raises(TypeError, match="table must be"):
        CutoutCatalog({"a": 1}, np.zeros((1, 5, 11, 11)))


def test_progress_bar_is_silenceable(frames, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CutoutCatalog.from_table(SkyCoord([150.0], [2.0], unit="deg"), frames, size=11,
                                 progress=False)
    assert capsys.readouterr().err == ""


def test_from_sdss_without_astroquery_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "astroquery.sdss", None)
    with pytest.raises(ImportError, match="pip install astroquery"):
        CutoutCatalog.from_sdss(SkyCoord([229.53], [42.74], unit="deg"), progress=False)


def test_from_sdss_offline_fails_fast_with_a_clear_message():
    pytest.importorskip("astroquery")
    # the test run has no network (pytest-remotedata blocks it): a clear ConnectionError
    with pytest.raises(ConnectionError, match="from_sdss needs the network"):
        CutoutCatalog.from_sdss(SkyCoord([229.53], [42.74], unit="deg"), progress=False)


def test_from_sdss_catches_network_errors_only(monkeypatch):
    pytest.importorskip("astroquery")
    from astroquery.sdss import SDSS

    def broken(*args, **kwargs):  # a bug in the call, not the network
        raise TypeError("query_region() got an unexpected keyword argument 'timeout'")

    monkeypatch.setattr(SDSS, "query_region", broken)
    with pytest.raises(TypeError, match="unexpected keyword argument 'timeout'"):
        CutoutCatalog.from_sdss(SkyCoord([229.53], [42.74], unit="deg"), progress=False)


def test_from_sdss_gives_up_on_a_stalled_server_after_conf_timeout(monkeypatch):
    """A server that accepts the connection and never answers: astroquery makes three
    requests with a 60 s timeout of its own; galssl's ``conf.timeout`` bounds the wait."""
    import socket
    import threading
    import time

    pytest.importorskip("astroquery")
    from astroquery.sdss import SDSS

    from galssl.cutouts import conf

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port, held = server.getsockname()[1], []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(5)],
                     daemon=True).start()
    monkeypatch.setattr(SDSS, "_get_query_url", lambda *a, **k: f"http://127.0.0.1:{port}/dr17/q")
    t0 = time.time()
    with conf.set_temp("timeout", 1.0):
        with pytest.raises(ConnectionError, match=r"no answer within 1 s"):
            CutoutCatalog.from_sdss(SkyCoord([229.53], [42.74], unit="deg"), progress=False)
    assert time.time() - t0 < 5 and held  # the server was reached, and not waited on


def test_from_sdss_with_only_invalid_positions_flags_every_row():
    # nothing to fetch, so no network is needed: rows in = rows out, flagged
    cat = CutoutCatalog.from_sdss(Table({"ra": [np.nan, 10.0], "dec": [0.0, 100.0]}),
                                  size=11, progress=False)
    assert len(cat) == 2 and list(cat.table["flags"]) == [int(CutoutFlag.BAD_COORDS)] * 2
    assert cat.images.shape == (2, 5, 11, 11) and np.isnan(cat.images).all()
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['devices'\]"):
        CutoutCatalog.from_sdss(Table({"ra": [np.nan], "dec": [0.0]}), devices=2)


def test_sdss_frame_url():
    from galssl.cutouts._sdss import sdss_frame_url

    assert sdss_frame_url(3918, 3, 213, "r").endswith(
        "/dr17/eboss/photoObj/frames/301/3918/3/frame-r-003918-3-0213.fits.bz2")


@pytest.mark.remote_data
def test_from_sdss_fetches_real_frames():
    pytest.importorskip("astroquery")
    cat = CutoutCatalog.from_sdss(SkyCoord([229.5305], [42.7439], unit="deg"), size=31,
                                  progress=False)
    assert len(cat) == 1 and cat.table["flags"][0] == 0
    assert np.nanmax(cat.images[0, 2]) > 1.0  # a bright galaxy, in nanomaggies


def test_dask_client_gives_the_serial_catalogue(tmp_path, monkeypatch):
    """Fields cut (and detected) on a 2-worker Dask cluster: the same rows, in input order,
    the same images and flags as in one process, streamed into one HDF5 file; crowded
    fields split into several tasks give the same catalogue."""
    distributed = pytest.importorskip("distributed")
    from astropy.table import Table

    from galssl.cutouts import _catalog, _tasks
    from galssl.cutouts._tasks import _run_fields, _task_limit

    paths = []
    for k, (field, crval) in enumerate([((100, 1, 10), (150.0, 2.0)),
                                        ((100, 1, 11), (150.0 + 30 / 3600, 2.0)),
                                        ((100, 2, 10), (150.0, 2.0 + 60 / 3600))]):
        paths += make_frames(tmp_path / f"f{k}", field=field, crval=crval, noise=0.01,
                             sigma_pix=3.0)
    positions = Table({"ra": [150.006, 150.0, 10.0, 150.0 + 30 / 3600, np.nan, 149.996],
                       "dec": [2.004, 2.0 + 60 / 3600, -5.0, 2.0, 2.0, 1.997],
                       "id": np.arange(6)})
    serial = CutoutCatalog.from_table(positions, paths, size=24, progress=False)
    serial_det = CutoutCatalog.from_frames(paths, size=24, galaxies_only=False,
                                           progress=False)
    assert len(set(serial.table["field"]) - {""}) == 3  # the rows really span three fields
    # and one field holds two of them (split into two tasks below)
    assert max(list(serial.table["field"]).count(f) for f in set(serial.table["field"]) - {""}) == 2
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        par = CutoutCatalog.from_table(positions, paths, size=24, client=client,
                                       out=tmp_path / "par.h5", progress=False)
        par_det = CutoutCatalog.from_frames(paths, size=24, galaxies_only=False,
                                            client=client, progress=False)
        # a window of one task at a time still gives every field once
        got = dict(_run_fields(divmod, [(k, (k, 3)) for k in range(7)], client, window=1))
        # 2 threads: a quarter of the objects per task, at least DASK_TASK_MIN_OBJECTS
        assert _task_limit(5000, client) == 1250 and _task_limit(5, client) == 500
        monkeypatch.setattr(_tasks, "DASK_TASK_MIN_OBJECTS", 1)
        assert _task_limit(5, client) == 2
        # every field cut as tasks of one object each
        monkeypatch.setattr(_catalog, "_task_limit", lambda total, client: 1)
        split = CutoutCatalog.from_table(positions, paths, size=24, client=client,
                                         progress=False)
    assert _task_limit(5, None) == 5
    assert got == {k: divmod(k, 3) for k in range(7)}
    on_disk = CutoutCatalog.read(tmp_path / "par.h5")  # streamed into the file
    for a, b in ((serial, par), (serial, on_disk), (serial, split), (serial_det, par_det)):
        assert len(a) == len(b) and a.table.colnames == b.table.colnames
        for name in a.table.colnames:
            va, vb = np.asarray(a.table[name]), np.asarray(b.table[name])
            if va.dtype.kind == "f":  # measured values to rounding (see the pixels)
                np.testing.assert_allclose(vb, va, rtol=1e-6, err_msg=name)
            else:  # flags, fields, systems, classes: identical
                np.testing.assert_array_equal(vb, va, err_msg=name)
        # the pixels to float32 rounding (Dask's workers run their maths libraries on one
        # thread, which can change the order of sums)
        np.testing.assert_allclose(np.asarray(b.images[:]), np.asarray(a.images[:]), rtol=0,
                                   atol=1e-6 * float(np.nanmax(np.abs(a.images[:]))))
        np.testing.assert_array_equal(np.isnan(b.images[:]), np.isnan(a.images[:]))
    assert list(par.table["id"]) == list(range(6))
    assert par.table["flags"][2] & CutoutFlag.OFF_FRAMES
    assert par.table["flags"][4] & CutoutFlag.BAD_COORDS
    # every field was detected on (the three sources, seen in overlapping fields, kept once)
    assert len(serial_det) == 3
    assert sum(k.startswith("stellar_concentration_") for k in par_det.table.meta) == 3


def test_from_sdss_after_the_query_offline(monkeypatch):
    """Everything from_sdss does after the archive answers, offline: the query stubbed to
    name the real field 003918-3-0213 (twice, as it names a field once per object), the
    download to hand back the local frames. The URLs asked for are the archive's, one per
    field and band; the catalogue is the one from_table cuts from the same frames (shape,
    bands, pixel scale, pixels, flags), and a position on no fetched field is a flagged
    row, in its place. Slips caught: a band order or band subset lost between the query and
    the cutting, duplicate fields fetched twice, positions reordered."""
    pytest.importorskip("astroquery")
    from astropy.io import fits
    from astropy.wcs import WCS
    from astroquery.sdss import SDSS

    from galssl.tests.helpers import requires_shared_data, shared_data_dir

    if shared_data_dir() is None:
        pytest.skip(requires_shared_data.kwargs["reason"])
    folder = Path(shared_data_dir()) / "sdss_frames" / "003918-3-0213"
    header = fits.getheader(folder / "frame-r-003918-3-0213.fits.bz2")
    with warnings.catch_warnings():  # the SDSS header's deprecated RADECSYS
        warnings.simplefilter("ignore")
        wcs = WCS(header)
    ra, dec = wcs.all_pix2world([300.0, 1000.0], [400.0, 1200.0], 0)
    coords = SkyCoord(np.r_[ra[0], 10.0, ra[1]], np.r_[dec[0], -30.0, dec[1]], unit="deg")
    asked, fetched = [], []

    def query_region(c, **kwargs):
        asked.append((len(c), kwargs["data_release"]))
        return Table({"run": [3918, 3918], "camcol": [3, 3], "field": [213, 213]})

    def download_file(url, **kwargs):
        fetched.append(url)
        return str(folder / url.rsplit("/", 1)[1])

    monkeypatch.setattr(SDSS, "query_region", query_region)
    monkeypatch.setattr("astropy.utils.data.download_file", download_file)
    cat = CutoutCatalog.from_sdss(coords, bands="gri", size=21, progress=False)
    assert asked == [(3, 17)]
    assert sorted(u.rsplit("/", 1)[1] for u in fetched) == [
        f"frame-{b}-003918-3-0213.fits.bz2" for b in "gir"]
    assert all("/dr17/eboss/photoObj/frames/301/3918/3/" in u for u in fetched)
    local = CutoutCatalog.from_table(coords, [str(folder / f"frame-{b}-003918-3-0213.fits.bz2")
                                              for b in "gri"],
                                     bands="gri", size=21, progress=False)
    assert cat.images.shape == (3, 3, 21, 21) and cat.bands == local.bands
    assert cat.pixel_scale == local.pixel_scale == 0.396
    np.testing.assert_array_equal(cat.images, local.images)
    assert list(cat.table["flags"]) == list(local.table["flags"])
    assert cat.table["flags"][1] & CutoutFlag.OFF_FRAMES and np.isnan(cat.images[1]).all()
    assert np.isfinite(cat.images[[0, 2]]).all()
    np.testing.assert_allclose(cat.table["ra"].to_value(u.deg), coords.ra.deg)
