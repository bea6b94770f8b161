# Licensed under a 3-clause BSD style license - see LICENSE.rst
import csv
import gzip
import os

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, QTable, Table

from galssl.cutouts import CutoutCatalog
from galssl.morphology import (gz2_labels, gz2_questions, gz2_targets, gz2_vote_counts,
                               gz2_vote_fractions, match_to_catalog, read_gz2)
from galssl.tests.helpers import requires_shared_data, shared_data_dir

GZ2_FILE = "gz2_willett2013_table5_stripe82.csv.gz"


def small_gz2():
    """Three galaxies, two questions, in the GZ2 schema (upper-case names as in some FITS
    exports)."""
    t = Table({"OBJID": [11, 12, 13], "RA": [150.0, 150.01, 10.0], "DEC": [2.0, 2.0, -1.0]})
    counts = {"t01_smooth_or_features_a01_smooth": [8, 1, 0],
              "t01_smooth_or_features_a02_features_or_disk": [2, 3, 20],
              "t01_smooth_or_features_a03_star_or_artifact": [0, 0, 1],
              "t02_edgeon_a04_yes": [0, 2, 19],
              "t02_edgeon_a05_no": [2, 1, 1]}
    wfrac = {"t01_smooth_or_features_a01_smooth": [0.8, 0.25, 0.0],
             "t01_smooth_or_features_a02_features_or_disk": [0.2, 0.75, 0.952],
             "t01_smooth_or_features_a03_star_or_artifact": [0.0, 0.0, 0.048],
             "t02_edgeon_a04_yes": [0.0, 0.667, 0.95],
             "t02_edgeon_a05_no": [1.0, 0.333, 0.05]}
    for k, v in counts.items():
        t[(k + "_count").upper()] = v
        t[(k + "_weighted_fraction").upper()] = wfrac[k]
        t[(k + "_fraction").upper()] = wfrac[k]
    return t


def test_read_small_table_schema_and_units():
    gz2 = read_gz2(small_gz2())
    assert isinstance(gz2, QTable) and len(gz2) == 3
    assert gz2["ra"].unit == u.deg and "objid" in gz2.colnames
    assert gz2_questions(gz2) == {
        "t01_smooth_or_features": ("a01_smooth", "a02_features_or_disk",
                                   "a03_star_or_artifact"),
        "t02_edgeon": ("a04_yes", "a05_no")}
    assert gz2.meta["gz2_source"] == "table"
    counts = gz2_vote_counts(gz2, "t01")
    assert counts.colnames == ["a01_smooth", "a02_features_or_disk", "a03_star_or_artifact"]
    assert counts["a02_features_or_disk"].tolist() == [2, 3, 20]
    fr = gz2_vote_fractions(gz2, "smooth_or_features", fraction="fraction")
    np.testing.assert_allclose(fr["a01_smooth"], [0.8, 0.25, 0.0])


def test_labels_votes_and_quality_masks():
    gz2 = read_gz2(small_gz2())
    lab = gz2_labels(gz2, "t02_edgeon", "a04_yes")
    assert lab["n_votes"].tolist() == [2, 3, 20]
    assert lab["labelled"].tolist() == [False, False, True]
    assert lab["high_quality"].tolist() == [False, False, True]
    np.testing.assert_allclose(lab["fraction"], [0.0, 0.667, 0.95])
    assert lab.meta["gz2_question"] == "t02_edgeon" and lab.meta["min_votes"] == 5
    lab = gz2_labels(gz2, "t01", "smooth", min_votes=4)
    assert lab["n_votes"].tolist() == [10, 4, 21]
    assert lab["labelled"].tolist() == [True, True, True]
    # 0.8 itself is not high quality: HQ is P > 0.8 or P < 0.2
    assert lab["high_quality"].tolist() == [False, False, True]
    t = gz2_targets(gz2, min_votes=5)
    assert t.colnames == ["smooth", "edge_on"]
    np.testing.assert_allclose(t["smooth"], [0.8, np.nan, 0.0])
    np.testing.assert_allclose(t["edge_on"], [np.nan, np.nan, 0.95])


def test_masked_values_and_reader_errors(tmp_path):
    t = small_gz2()
    t["T02_EDGEON_A04_YES_WEIGHTED_FRACTION"] = MaskedColumn([0.0, 0.667, 0.95],
                                                             mask=[False, False, True])
    lab = gz2_labels(read_gz2(t), "t02", "yes", min_votes=0)
    assert np.isnan(lab["fraction"][2]) and not lab["labelled"][2]
    with pytest.raises(ValueError, match="no Galaxy Zoo 2 vote columns"):
        read_gz2(Table({"ra": [1.0], "dec": [2.0], "r_mag": [17.0]}))
    with pytest.raises(ValueError, match="no dec column"):
        read_gz2(Table({"ra": [1.0], "t02_edgeon_a04_yes_count": [1]}))
    with pytest.raises(ValueError, match="no vote-count column t02_edgeon_a04_yes_count"):
        read_gz2(Table({"ra": [1.0], "dec": [2.0],
                        "t02_edgeon_a04_yes_fraction": [1.0]}))
    with pytest.raises(TypeError, match="path_or_table must be"):
        read_gz2(42)
    gz2 = read_gz2(small_gz2())
    with pytest.raises(ValueError, match="unknown question 'bar'"):
        gz2_labels(gz2, "bar", "yes")
    with pytest.raises(ValueError, match="unknown answer 'a07' of question 't02_edgeon'"):
        gz2_labels(gz2, "t02", "a07")
    with pytest.raises(ValueError, match="fraction must be one of"):
        gz2_labels(gz2, "t02", "yes", fraction="weight")
    with pytest.raises(ValueError, match="min_votes"):
        gz2_labels(gz2, "t02", "yes", min_votes=-1)
    # files: CSV (compressed too) and FITS
    path = os.path.join(tmp_path, "gz2.csv")
    small_gz2().write(path, format="ascii.csv")
    assert gz2_questions(read_gz2(path)) == gz2_questions(gz2)
    fits_path = os.path.join(tmp_path, "gz2.fits")
    small_gz2().write(fits_path)
    back = read_gz2(fits_path)
    assert back.meta["gz2_source"] == fits_path and back["objid"].tolist() == [11, 12, 13]


def test_match_rows_in_rows_out():
    gz2 = read_gz2(small_gz2())
    one_arcsec = 1 / 3600
    cat = Table({"ra": [10.0, 150.0 + one_arcsec, 200.0, np.nan, 150.01],
                 "dec": [-1.0, 2.0, 2.0, 0.0, 2.0 + 3 * one_arcsec]})
    m = match_to_catalog(gz2, cat)
    assert m["gz2_index"].tolist() == [2, 0, -1, -1, -1]
    np.testing.assert_allclose(m["separation"][:2].to_value(u.arcsec),
                               [0.0, np.cos(np.deg2rad(2.0))], atol=1e-3)
    assert np.isnan(m["separation"][3]) and m["separation"][4].to_value(u.arcsec) > 2.9
    # a larger radius matches the fifth row; SkyCoord and CutoutCatalog inputs
    m = match_to_catalog(gz2, SkyCoord(cat["ra"][[4]], cat["dec"][[4]], unit="deg"),
                         radius=4 * u.arcsec)
    assert m["gz2_index"].tolist() == [1]
    cc = CutoutCatalog(QTable(cat[[0, 1]]), np.zeros((2, 5, 4, 4), np.float32))
    assert match_to_catalog(gz2, cc)["gz2_index"].tolist() == [2, 0]
    assert len(match_to_catalog(gz2, Table({"ra": [], "dec": []}))) == 0
    with pytest.raises(TypeError, match="radius must be an angle"):
        match_to_catalog(gz2, cat, radius=2.0)


# ---------------------------------------------------------------------------- real table
@pytest.fixture(scope="module")
def real():
    path = os.path.join(shared_data_dir(), "catalogs", GZ2_FILE)
    with gzip.open(path, "rt", newline="") as f:  # an independent reading of the raw file
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    raw = {name: [r[i] for r in body] for i, name in enumerate(header)}
    return read_gz2(path), raw


@requires_shared_data
def test_real_table_questions_and_counts(real):
    gz2, raw = real
    assert len(gz2) == 19761
    qs = gz2_questions(gz2)
    assert len(qs) == 11
    assert qs["t01_smooth_or_features"] == ("a01_smooth", "a02_features_or_disk",
                                            "a03_star_or_artifact")
    assert qs["t02_edgeon"] == ("a04_yes", "a05_no")
    assert qs["t08_odd_feature"][-1] == "a38_dust_lane"  # answers are not numbered in order
    assert len(raw["objid"]) == 19761
    for q, answers in qs.items():
        expected = np.zeros(19761, dtype=np.int64)
        for a in answers:
            expected += np.array(raw[f"{q}_{a}_count"], dtype=np.int64)
        lab = gz2_labels(gz2, q, answers[0])
        np.testing.assert_array_equal(lab["n_votes"], expected)
        assert int(lab["labelled"].sum()) == int(np.sum(expected >= 5))
    # concrete numbers: every galaxy was asked t01; t02 only after "features or disk"
    assert int(gz2_labels(gz2, "t01", "a01")["labelled"].sum()) == 19761
    assert int(gz2_labels(gz2, "t02", "a04")["labelled"].sum()) == 8861
    assert int(gz2_labels(gz2, "t09", "a25")["labelled"].sum()) == 1458


@requires_shared_data
def test_real_table_fractions(real):
    gz2, raw = real
    for q in gz2_questions(gz2):
        for kind in ("fraction", "weighted_fraction", "debiased"):
            fr = gz2_vote_fractions(gz2, q, fraction=kind)
            values = np.column_stack([np.asarray(fr[c]) for c in fr.colnames])
            assert np.all((values >= 0) & (values <= 1)), (q, kind)
        wf = gz2_vote_fractions(gz2, q)
        total = np.sum([np.asarray(wf[c]) for c in wf.colnames], axis=0)
        n = gz2_labels(gz2, q, wf.colnames[0])["n_votes"]
        # rounded to 0.001 in the file: within a few 0.001 of 1 where votes >= 5
        np.testing.assert_allclose(total[n >= 5], 1.0, atol=0.004)
        a = wf.colnames[0]
        np.testing.assert_allclose(wf[a], np.array(raw[f"{q}_{a}_weighted_fraction"], float))
    t = gz2_targets(gz2)
    smooth = gz2_labels(gz2, "t01", "a01")
    np.testing.assert_array_equal(np.isfinite(t["smooth"]), smooth["labelled"])
    hq = np.asarray(smooth["high_quality"])
    f = np.asarray(smooth["fraction"])
    assert np.all((f[hq] > 0.8) | (f[hq] < 0.2)) and not np.any(hq & (f >= 0.2) & (f <= 0.8))
    assert 0 < hq.sum() < len(hq)


@requires_shared_data
def test_real_table_self_match(real):
    gz2, _ = real
    rng = np.random.default_rng(0)
    pick = rng.choice(len(gz2), 50, replace=False)
    c = SkyCoord(gz2["ra"][pick], gz2["dec"][pick])
    # offset by 1 arcsec in a random direction: still matched; 10 arcsec: no longer
    near = c.directional_offset_by(rng.uniform(0, 360, 50) * u.deg, 1 * u.arcsec)
    m = match_to_catalog(gz2, near)
    ok = m["gz2_index"] >= 0
    # the Stripe 82 sample has close pairs; nearly all offsets keep their own galaxy
    assert np.mean(np.asarray(m["gz2_index"]) == pick) > 0.95 and ok.all()
    np.testing.assert_allclose(m["separation"][m["gz2_index"] == pick].to_value(u.arcsec),
                               1.0, atol=1e-3)
    far = SkyCoord([0.0], [89.0], unit="deg")
    assert match_to_catalog(gz2, far)["gz2_index"].tolist() == [-1]
