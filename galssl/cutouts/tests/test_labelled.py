# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The readers of labelled image sets users hold, each tested on a small synthetic file with
the exact layout of the real one (the real files are tens of GB)."""

import h5py
import numpy as np
import pytest

from galssl.cutouts import CutoutCatalog, CutoutFlag, HDF5Images


def _stein_file(path, n=6, size=152):
    """The layout of ssl-legacysurvey's images_npix152_*.h5: images (N, 3, 152, 152) g, r, z
    in nanomaggies and the DR9 sweep / photo-z columns as top-level datasets."""
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.01, (n, 3, size, size)).astype(np.float32)
    images[2, 1] = np.nan  # a band without data
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["ra"] = np.linspace(150.0, 150.5, n)
        f["dec"] = np.linspace(2.0, 2.2, n)
        f["ebv"] = np.full(n, 0.02, np.float32)
        f["flux"] = rng.uniform(1, 100, (n, 4)).astype(np.float32)
        f["z_spec"] = np.array([0.1, -99.0, 0.3, -99.0, 0.05, 0.2], np.float32)[:n]
        f["z_phot_mean"] = rng.uniform(0, 1, n).astype(np.float32)
        f["source_type"] = np.array([b"EXP", b"DEV", b"REX", b"SER", b"EXP", b"PSF"])[:n]
        f["inds"] = np.arange(n)
    return images


def test_stein2021_legacy_surveys_files(tmp_path):
    path = tmp_path / "images_npix152_000000000_000000006.h5"
    images = _stein_file(path)
    cat = CutoutCatalog.from_stein2021(path)
    assert isinstance(cat.images, HDF5Images) and cat.images.shape == (6, 3, 152, 152)
    assert cat.bands == ("decam-g", "decam-r", "decam-z") and cat.pixel_scale == 0.262
    np.testing.assert_array_equal(np.asarray(cat.images[[0, 5]]), images[[0, 5]])
    # -99 means "no spectroscopic redshift": NaN, never a redshift of -99
    z = np.asarray(cat.table["z_spec"])
    assert np.isnan(z[[1, 3]]).all() and z[0] == pytest.approx(0.1)
    assert cat.table["source_type"][0] == "EXP" and cat.table["flux"].shape == (6, 4)
    assert cat.table["ra"].unit == "deg"
    # the row with a missing band is flagged from its pixels; the others are complete
    assert cat.table["flags"][2] & CutoutFlag.NAN_PIXELS and cat.good.sum() == 5
    north = CutoutCatalog.from_stein2021(path, region="north")
    assert north.bands == ("bass-g", "bass-r", "mzls-z")
    with pytest.raises(ValueError, match="region must be 'south' or 'north'"):
        CutoutCatalog.from_stein2021(path, region="east")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["images"] = np.zeros((2, 5, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"bad.h5.*'images' must be \(N, 3, size, size\)"):
        CutoutCatalog.from_stein2021(tmp_path / "bad.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(OSError, match="text.h5"):
        CutoutCatalog.from_stein2021(tmp_path / "text.h5")
    with pytest.raises(FileNotFoundError):
        CutoutCatalog.from_stein2021(tmp_path / "missing.h5")


def _pasquet_file(path, n=7, compressed=False):
    """The layout of Pasquet et al. (2019) sdss.npz: 'cube' (N, 64, 64, 5) float32 ugriz,
    channels last, and 'labels', a record array of catalogue values."""
    rng = np.random.default_rng(1)
    cube = rng.random((n, 64, 64, 5), dtype=np.float32)
    labels = np.zeros(n, dtype=[("ra", "f8"), ("dec", "f8"), ("z", "f4"), ("EBV", "f4"),
                                ("dered_petro_r", "f4"), ("primtarget", "i8")])
    labels["ra"] = np.linspace(10, 11, n)
    labels["z"] = np.linspace(0.01, 0.3, n)
    labels["EBV"] = 0.03
    (np.savez_compressed if compressed else np.savez)(path, cube=cube, labels=labels)
    return cube, labels


def test_pasquet2019_sdss_file_is_memory_mapped_and_channels_first(tmp_path):
    cube, labels = _pasquet_file(tmp_path / "sdss.npz")
    cat = CutoutCatalog.from_pasquet2019(tmp_path / "sdss.npz")
    assert isinstance(cat.images.base, np.memmap) or isinstance(cat.images, np.memmap)
    assert cat.images.shape == (7, 5, 64, 64) and cat.bands == ("u", "g", "r", "i", "z")
    np.testing.assert_array_equal(cat.images[3], cube[3].transpose(2, 0, 1))
    np.testing.assert_allclose(cat.table["ebv"], 0.03)
    np.testing.assert_allclose(cat.table["z"], labels["z"])
    assert cat.pixel_scale == 0.396 and cat.good.all()
    _pasquet_file(tmp_path / "packed.npz", compressed=True)
    with pytest.warns(UserWarning, match="compressed: it is read whole into memory"):
        packed = CutoutCatalog.from_pasquet2019(tmp_path / "packed.npz")
    np.testing.assert_array_equal(packed.images, cat.images)
    np.savez(tmp_path / "nocube.npz", labels=labels)
    with pytest.raises(ValueError, match="nocube.npz.*needs 'cube' and 'labels'"):
        CutoutCatalog.from_pasquet2019(tmp_path / "nocube.npz")
    np.savez(tmp_path / "wrong.npz", cube=cube[..., :3], labels=labels)
    with pytest.raises(ValueError, match=r"'cube' must be \(N, size, size, 5\)"):
        CutoutCatalog.from_pasquet2019(tmp_path / "wrong.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(OSError, match="text.npz"):
        CutoutCatalog.from_pasquet2019(tmp_path / "text.npz")
