# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""One validating reader for catalogue files: each kind of damage is a galssl error that
names the file and the field, never a KeyError, AttributeError or TypeError from h5py."""

import h5py
import numpy as np
import pytest
from astropy.table import Table

from galssl.cutouts import CutoutCatalog


@pytest.fixture
def good(tmp_path):
    t = Table({"ra": np.linspace(10, 11, 4), "dec": np.zeros(4)})
    cat = CutoutCatalog(t, np.ones((4, 3, 8, 8), np.float32), bands="gri")
    path = tmp_path / "good.h5"
    cat.write(path, progress=False)
    return path


def _damaged(good, tmp_path, damage):
    path = tmp_path / "damaged.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as f:
        damage(f)
    return path


def _images_as_group(f):
    del f["images"]
    f.create_group("images")


def _six_images(f):
    data = f["images"][:]
    del f["images"]
    f.create_dataset("images", data=np.concatenate([data, data[:2]]))


def _table_as_array(f):
    del f["table"]
    f.create_dataset("table", data=np.arange(4.0))


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.attrs.__delitem__("bands"), "the attribute 'bands' is missing"),
    (lambda f: f.attrs.__delitem__("pixel_scale"), "the attribute 'pixel_scale' is missing"),
    (_images_as_group, "'images' is a Group, not a dataset"),
    (_six_images, "the table has 4 rows for 6 images"),
    (lambda f: f.attrs.__setitem__("format_version", "abc"),
     "format_version must be an integer, got 'abc'"),
    (_table_as_array, "'table' is not an astropy table"),
    (lambda f: f.attrs.__setitem__("bands", "gr"), "names 2 bands for 3 image planes"),
    (lambda f: f.attrs.__setitem__("bands", "gqi"), r"attribute 'bands': unknown band"),
    (lambda f: f.attrs.__setitem__("pixel_scale", -1.0), "'pixel_scale' must be a positive"),
    (lambda f: f.attrs.__setitem__("size", 9), "attribute 'size' is 9, the images are 8 px"),
])
def test_damaged_catalogues_are_named(good, tmp_path, damage, message):
    path = _damaged(good, tmp_path, damage)
    with pytest.raises(ValueError, match="damaged.h5.*" + message):
        CutoutCatalog.read(path)


def test_a_good_file_still_reads_and_a_newer_one_asks_for_an_upgrade(good, tmp_path):
    cat = CutoutCatalog.read(good)
    assert cat.bands == ("g", "r", "i") and len(cat) == 4
    newer = _damaged(good, tmp_path, lambda f: f.attrs.__setitem__("format_version", 99))
    with pytest.raises(ValueError, match="format version 99.*upgrade galssl"):
        CutoutCatalog.read(newer)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(OSError, match="text.h5"):
        CutoutCatalog.read(text)
