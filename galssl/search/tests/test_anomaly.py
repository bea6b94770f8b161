# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.table import QTable
from numpy.testing import assert_allclose, assert_array_equal

from galssl.search import anomaly_scores, top_anomalies
from galssl.search import _knn
from galssl.search.tests.helpers import clustered, unit


def with_outliers(seed=0):
    """Four tight clusters and five planted outliers far from all of them."""
    reps = clustered(600, 16, n_clusters=4, seed=seed, spread=0.3)
    planted = np.array([7, 150, 151, 333, 599])
    reps[planted] = np.random.default_rng(seed + 100).normal(size=(5, 16)) * 3
    return reps, planted


@pytest.mark.parametrize("method", ["knn", "isolation_forest"])
def test_planted_outliers_rank_on_top(method):
    reps, planted = with_outliers()
    scores = anomaly_scores(reps, method=method, k=5)
    assert scores.shape == (600,) and scores.dtype == np.float64
    assert set(np.argsort(-scores)[:5]) == set(planted)
    top = top_anomalies(reps, n=5, method=method, k=5)
    assert set(top["index"]) == set(planted)
    assert np.all(np.diff(top["anomaly_score"]) <= 0)
    assert_allclose(top["anomaly_score"], scores[top["index"]])
    assert top.meta["galssl_anomaly"]["method"] == method


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_knn_scores_from_an_approximate_index(index):
    pytest.importorskip("faiss")
    reps, planted = with_outliers(seed=5)
    exact = anomaly_scores(reps, k=5)
    approx = anomaly_scores(reps, k=5, index=index)
    assert set(np.argsort(-approx)[:5]) == set(planted)
    assert np.all(approx >= exact - 1e-6)  # a missed neighbour is replaced by a farther one
    assert np.mean(np.isclose(approx, exact, atol=1e-6)) > 0.95


def test_knn_score_is_the_mean_cosine_distance_to_the_k_nearest_others():
    reps = np.random.default_rng(1).normal(size=(80, 6))
    reps[5] = reps[6]  # duplicates: each is the other's nearest neighbour at distance 0
    sims = unit(reps) @ unit(reps).T
    np.fill_diagonal(sims, -np.inf)
    expected = np.mean(1 - np.sort(sims, axis=1)[:, ::-1][:, :4], axis=1)
    assert_allclose(anomaly_scores(reps, k=4), expected, atol=1e-6)


def test_exact_knn_numpy_path_matches_faiss(monkeypatch):
    pytest.importorskip("faiss")
    x = unit(np.random.default_rng(2).normal(size=(300, 8))).astype(np.float32)
    with_faiss = _knn.exact_knn(x, x[:50], 7, exclude=np.arange(50))

    def no_faiss():
        raise ImportError("no faiss")

    monkeypatch.setattr(_knn, "import_faiss", no_faiss)
    with_numpy = _knn.exact_knn(x, x[:50], 7, exclude=np.arange(50))
    assert_array_equal(with_numpy[1], with_faiss[1])
    assert_allclose(with_numpy[0], with_faiss[0], atol=1e-6)
    assert not np.any(with_numpy[1] == np.arange(50)[:, None])


@pytest.mark.parametrize("method", ["knn", "isolation_forest"])
def test_rows_without_representation_get_nan_and_do_not_count(method):
    reps, planted = with_outliers(seed=3)
    holes = [0, 1, 420]
    with_holes = reps.copy()
    with_holes[holes[:2]] = np.nan
    with_holes[holes[2]] = 0.0
    scores = anomaly_scores(with_holes, method=method, k=5, seed=4)
    assert scores.shape == (600,)
    assert_array_equal(np.flatnonzero(np.isnan(scores)), holes)
    keep = np.setdiff1d(np.arange(600), holes)
    # the same scores as without those rows at all: rows in = rows out, in order
    assert_allclose(scores[keep], anomaly_scores(reps[keep], method=method, k=5, seed=4))
    table = QTable({"name": [f"g{i}" for i in range(600)], "index": np.arange(600) + 7})
    top = top_anomalies(with_holes, table, n=1000, method=method, k=5, seed=4)
    assert len(top) == 597 and not np.isin(top["index"], holes).any()
    assert top.colnames == ["index", "anomaly_score", "name", "index_table"]
    assert_array_equal(top["name"], [f"g{i}" for i in top["index"]])


def test_errors():
    reps = clustered(20, 4)
    with pytest.raises(ValueError, match="method must be one of"):
        anomaly_scores(reps, method="lof")
    with pytest.raises(ValueError, match="index must be 'flat', 'ivf' or 'hnsw'"):
        anomaly_scores(reps, index="pq")
    with pytest.raises(ValueError, match="k=20 needs at least 21 rows"):
        anomaly_scores(reps, k=20)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        anomaly_scores(reps, k=0)
    with pytest.raises(ValueError, match="representations is empty"):
        anomaly_scores(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="2-D"):
        anomaly_scores(np.zeros(4))
    with pytest.raises(ValueError, match="at least 2 rows"):
        anomaly_scores(np.vstack([reps[:1], np.full((3, 4), np.nan)]),
                       method="isolation_forest")
    with pytest.raises(ValueError, match="table has 3 rows but there are 20"):
        top_anomalies(reps, QTable({"a": [1, 2, 3]}), k=3)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        top_anomalies(reps, n=0)
