# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Property-based checks of the validating readers (Hypothesis): random damage to real
files, random shapes, dtypes and masks. Each case must end in a clear galssl error (a
ValueError or OSError naming the file, or a TypeError/ValueError naming the argument) or in
the correct result; never in a silently different result, nor in numpy's or h5py's own
error.

The byte damage to cutout files goes where the values are (image chunks, the table, its
column metadata, the attributes) and truncates the file anywhere: a damaged HDF5 index or
object header can crash the HDF5 library itself, which no reader above it can catch."""

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small catalogue written by galssl, its path, and the byte ranges of its values
    (the path, not the bytes: Hypothesis prints the arguments of a failing case)."""
    import h5py
    from astropy.table import QTable

    from galssl.cutouts import CutoutCatalog

    rng = np.random.default_rng(0)
    table = QTable({"ra": rng.uniform(0, 360, 6), "dec": rng.uniform(-10, 10, 6),
                    "ebv": rng.uniform(0, 0.1, 6)})
    table["ra"].unit = "deg"
    cat = CutoutCatalog(table, rng.random((6, 2, 8, 8)).astype(np.float32), bands="gr")
    path = tmp_path_factory.mktemp("damage") / "catalogue.h5"
    cat.write(path, progress=False)
    regions = []
    with h5py.File(path, "r") as f:
        ds = f["images"]
        for row in range(len(ds)):
            info = ds.id.get_chunk_info_by_coord((row, 0, 0, 0))
            regions.append((info.byte_offset, info.size))
        for name in ("table", "table.__table_column_meta__"):
            regions.append((f[name].id.get_offset(), f[name].id.get_storage_size()))
    return cat, path, regions


def _same(a, b):
    return (a.bands == b.bands and a.pixel_scale == b.pixel_scale
            and a.table.colnames == b.table.colnames
            and all(np.array_equal(np.asarray(a.table[k]), np.asarray(b.table[k]))
                    and getattr(a.table[k], "unit", None) == getattr(b.table[k], "unit", None)
                    for k in a.table.colnames)
            and np.array_equal(np.asarray(a.images), np.asarray(b.images), equal_nan=True))


def _read_or_clear_error(original, path):
    from galssl.cutouts import CutoutCatalog

    try:
        back = CutoutCatalog.read(path)
        np.asarray(back.images)
    except (ValueError, OSError) as exc:
        assert os.fspath(path) in str(exc), f"the error does not name the file: {exc}"
        return "error"
    assert _same(back, original), "a damaged file was read as a different catalogue"
    return "same"


@SETTINGS
@given(data=st.data())
def test_damaged_values_are_a_clear_error_or_the_same_catalogue(written, tmp_path, data):
    cat, original, regions = written
    raw = original.read_bytes()
    offset, size = data.draw(st.sampled_from(regions))
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        i = offset + data.draw(st.integers(0, size - 1))
        damaged[i] = data.draw(st.integers(0, 255))
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(damaged))
    outcome = _read_or_clear_error(cat, path)
    assert outcome == "error" or bytes(damaged) == raw


@SETTINGS
@given(cut=st.floats(0, 1, exclude_max=True))
def test_a_truncated_file_is_a_clear_error(written, tmp_path, cut):
    cat, original, _ = written
    raw = original.read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(raw[:int(cut * len(raw))])
    assert _read_or_clear_error(cat, path) == "error"


@SETTINGS
@given(key=st.sampled_from(["bands", "pixel_scale", "size", "format_version", "survey"]),
       value=st.one_of(st.integers(-3, 10**6), st.floats(allow_nan=True),
                       st.text(max_size=8), st.sampled_from(["ugriz", "gr", "rg", "hsc-g"])))
def test_changed_attributes_are_a_clear_error_or_the_same_catalogue(written, tmp_path, key,
                                                                    value):
    import h5py

    cat, original, _ = written
    path = tmp_path / "attrs.h5"
    path.write_bytes(original.read_bytes())
    with h5py.File(path, "a") as f:
        old = f.attrs.get(key)
        try:
            f.attrs[key] = value
        except ValueError:  # a value HDF5 cannot store (a text with a NUL character)
            assume(False)
        unchanged = old is not None and np.array_equal(np.asarray(old), np.asarray(value))
    outcome = _read_or_clear_error(cat, path)
    assert outcome == "error" or unchanged


# ------------------------------------------------------------------ validators

@SETTINGS
@given(values=arrays(st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.bool_,
                                      np.dtype("U3"), np.dtype("O")]),
                     st.integers(0, 6)),
       mask=st.one_of(st.none(), st.lists(st.booleans(), min_size=6, max_size=6)))
def test_the_column_reader_is_mask_aware_or_names_the_column(values, mask):
    from astropy.table import MaskedColumn

    from galssl.utils._validate import as_float_values

    column = values if mask is None else MaskedColumn(values, mask=mask[:len(values)])
    try:
        out = as_float_values(column, "the column 'z'")
    except TypeError as exc:
        assert "the column 'z'" in str(exc) and values.dtype.kind not in "fiub"
        return
    assert values.dtype.kind in "fiub" and out.dtype == np.float64
    hidden = np.zeros(len(values), bool) if mask is None else \
        np.asarray(mask[:len(values)], dtype=bool)
    assert np.isnan(out[hidden]).all()
    np.testing.assert_array_equal(out[~hidden], values[~hidden].astype(np.float64))


@SETTINGS
@given(values=arrays(np.float64, st.integers(0, 6),
                     elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_flags_are_whole_non_negative_numbers_or_named(values):
    from galssl.utils._validate import as_flag_values

    try:
        out = as_flag_values(values, "flags")
    except ValueError as exc:
        assert str(exc).startswith("flags must hold whole, non-negative bit flags")
        bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values)) | \
            (np.abs(values) >= 2.0 ** 62)
        assert bad.any()
        return
    np.testing.assert_array_equal(out, values)


@SETTINGS
@given(data=st.data(), n=st.integers(0, 5), bins=st.integers(1, 6),
       edges=st.integers(1, 8))
def test_pdf_check_normalises_or_names_what_is_wrong(data, n, bins, edges):
    from galssl.utils._validate import check_pdfs

    p = data.draw(arrays(np.float64, (n, bins),
                         elements=st.floats(-1, 10) | st.just(np.nan) | st.just(0.0)))
    e = np.cumsum(data.draw(arrays(np.float64, edges, elements=st.floats(-0.1, 1))))
    try:
        out, e_out = check_pdfs(p, e, name="pdfs")
    except ValueError as exc:
        assert "pdfs" in str(exc)
        return
    assert out.shape == (n, bins) == (n, len(e) - 1) and (np.diff(e_out) > 0).all()
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
