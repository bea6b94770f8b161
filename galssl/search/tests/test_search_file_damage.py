# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Every array a search file depends on is hashed, and every missing or malformed field is
an error naming the file and the field."""

import h5py
import numpy as np
import pytest
from astropy.table import QTable

pytest.importorskip("faiss")

from galssl.search import SimilaritySearch  # noqa: E402

from .helpers import clustered  # noqa: E402


@pytest.fixture
def saved(tmp_path):
    reps = clustered(300, 8, seed=4)
    ss = SimilaritySearch(reps, QTable({"i": np.arange(300)}), progress=False)
    path = tmp_path / "search.h5"
    ss.save(path)
    return ss, path


def _damage(path, change):
    with h5py.File(path, "r+") as f:
        change(f)


def _set_value(f):
    f["representations"][7, 3] = f["representations"][7, 3] + 0.5


def _drop_rows(f):
    del f["rows"]


@pytest.mark.parametrize("change, message", [
    (_set_value, "its representations fail their sha256 check"),
    (lambda f: f["rows"].__setitem__(0, 1), "its rows fail their sha256 check"),
    (_drop_rows, "the dataset 'rows' is missing"),
    (lambda f: f.attrs.__setitem__("config", "{not json"), "config attribute is not JSON"),
    (lambda f: f.attrs.__setitem__("config", "[1, 2]"), "not a search configuration"),
    (lambda f: f.attrs.__delitem__("format_version"), "attribute 'format_version' is missing"),
    (lambda f: f.attrs.__setitem__("format_version", "x"), "format_version must be an int"),
])
def test_damage_is_named(saved, change, message):
    ss, path = saved
    _damage(path, change)
    with pytest.raises(ValueError, match="search.h5.*" + message):
        SimilaritySearch.load(path)


def test_an_intact_file_gives_the_same_neighbours(saved):
    ss, path = saved
    back = SimilaritySearch.load(path)
    a = ss.query(np.arange(5), k=4)
    b = back.query(np.arange(5), k=4)
    assert a["index"].tolist() == b["index"].tolist()
    np.testing.assert_array_equal(a["similarity"], b["similarity"])
