# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Multimodal Universe image files, written here with the exact layout of their Legacy
Surveys DR10 and HSC-SSP PDR3 build scripts (catalogue columns as datasets, then
``image_band``, ``image_array``, ``image_psf_fwhm``, ``image_scale`` and, for the Legacy
Surveys, ``image_ivar`` and ``bit_mask``)."""

import pickle

import h5py
import numpy as np
import pytest

from galssl.cutouts import CutoutCatalog, HDF5Images


def _write(path, *, prefix, names, scale, zp_factor, n=6, size=16, extra=None, seed=0):
    rng = np.random.default_rng(seed)
    nmgy = rng.uniform(0.5, 2.0, (n, len(names), size, size)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("object_id", data=np.arange(1000, 1000 + n, dtype=np.int64))
        for key, value in (extra or {}).items():
            f.create_dataset(key, data=value)
        f.create_dataset("image_band", data=np.array(
            [[f"{prefix}-{b}".encode() for b in names]] * n,
            dtype=h5py.string_dtype("utf-8", 5)))
        f.create_dataset("image_array", data=nmgy / zp_factor)
        f.create_dataset("image_psf_fwhm", data=np.tile(np.linspace(0.6, 0.8, len(names)),
                                                        (n, 1)).astype(np.float32))
        f.create_dataset("image_scale", data=np.full((n, len(names)), scale, np.float32))
    return nmgy


def test_hsc_files_read_lazily_in_nanomaggies(tmp_path):
    path = tmp_path / "hsc.hdf5"
    ra, dec = np.linspace(150, 150.01, 6), np.full(6, 2.2)
    nmgy = _write(path, prefix="hsc", names="grizy", scale=0.168,
                  zp_factor=10 ** (-0.4 * (27.0 - 22.5)),
                  extra={"ra": ra, "dec": dec, "g_cmodel_mag": np.full(6, 21.0)})
    cat = CutoutCatalog.from_mmu(path)
    assert cat.bands == ("hsc-g", "hsc-r", "hsc-i", "hsc-z", "hsc-y")
    assert cat.pixel_scale == pytest.approx(0.168) and len(cat) == 6
    assert isinstance(cat.images, HDF5Images)  # lazy
    np.testing.assert_allclose(cat.images[2:4], nmgy[2:4], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cat[[5, 0]].images), nmgy[[5, 0]], rtol=1e-6)
    # a DataLoader worker's pickled copy reads the same scaled pixels
    clone = pickle.loads(pickle.dumps(cat.images))
    np.testing.assert_allclose(clone[1], nmgy[1], rtol=1e-6)
    t = cat.table
    assert t["object_id"].tolist() == list(range(1000, 1006))
    assert t["g_cmodel_mag"][0] == 21.0 and t["psf_fwhm_hsc-y"][0] == pytest.approx(0.8)
    assert (t["ebv_source"] == "sfd_healpix").all() and (t["ebv"] > 0).all()
    assert (np.asarray(t["flags"]) == 0).all()


def test_legacy_survey_files_name_decam_bands_des(tmp_path):
    path = tmp_path / "legacy.hdf5"
    n = 4
    nmgy = _write(path, prefix="des", names="griz", scale=0.262, zp_factor=1.0, n=n,
                  extra={"RA": np.linspace(20, 20.01, n), "DEC": np.full(n, -5.0),
                         "EBV": np.array([0.01, 0.02, 0.03, 0.6]),
                         "image_ivar": np.ones((n, 4, 16, 16), np.float32),
                         "bit_mask": np.zeros((n, 16, 16), bool),
                         "FLUX_G": np.ones(n, np.float32)})
    cat = CutoutCatalog.from_mmu(path)
    assert cat.bands == ("decam-g", "decam-r", "decam-i", "decam-z")
    np.testing.assert_array_equal(np.asarray(cat.images), nmgy)  # already nanomaggies
    assert cat.table["ebv"].tolist() == [0.01, 0.02, 0.03, 0.6]
    assert cat.table["ebv_source"][0] == "column"
    from galssl.cutouts import CutoutFlag

    high = (np.asarray(cat.table["flags"]) & int(CutoutFlag.HIGH_EXTINCTION)) != 0
    assert high.tolist() == [False, False, False, True]
    assert "image_ivar" not in cat.table.colnames and "FLUX_G" in cat.table.colnames
    # the catalogue writes and reads back as a galssl file
    out = tmp_path / "legacy_galssl.h5"
    cat.write(out, progress=False)
    back = CutoutCatalog.read(out)
    assert back.bands == cat.bands
    np.testing.assert_array_equal(np.asarray(back.images), nmgy)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.hdf5"):
        CutoutCatalog.from_mmu(tmp_path / "nowhere.hdf5")
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(OSError, match="junk.hdf5"):
        CutoutCatalog.from_mmu(junk)
    empty = tmp_path / "empty.hdf5"
    with h5py.File(empty, "w") as f:
        f.create_dataset("ra", data=[1.0])
    with pytest.raises(ValueError, match="empty.hdf5.*no 'image_array'"):
        CutoutCatalog.from_mmu(empty)
    odd = tmp_path / "odd.hdf5"
    _write(odd, prefix="ps1", names="gri", scale=0.25, zp_factor=1.0,
           extra={"ra": np.zeros(6), "dec": np.zeros(6)})
    with pytest.raises(ValueError, match="image_band .ps1-g. is not a band galssl reads"):
        CutoutCatalog.from_mmu(odd)
    noradec = tmp_path / "noradec.hdf5"
    _write(noradec, prefix="hsc", names="gr", scale=0.168, zp_factor=1.0)
    with pytest.raises(ValueError, match="no ra/dec"):
        CutoutCatalog.from_mmu(noradec)
