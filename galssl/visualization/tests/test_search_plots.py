# Licensed under a 3-clause BSD style license - see LICENSE.rst
import sys
import types

import numpy as np
import pytest
from numpy.testing import assert_allclose

from galssl.search.tests.helpers import clustered, toy_catalog

pytest.importorskip("matplotlib")
pytest.importorskip("faiss")


@pytest.fixture(autouse=True)
def agg():
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def rectangles(ax):
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle)]


def texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.fixture(scope="module")
def catalog():
    return toy_catalog(n=30, size=48)


@pytest.fixture(scope="module")
def search(catalog):
    from galssl.search import SimilaritySearch

    reps = clustered(len(catalog), 8, n_clusters=3, seed=1)
    return SimilaritySearch(reps, catalog.table, progress=False)


def test_neighbour_grid_shows_queries_neighbours_crop_and_similarities(catalog, search):
    from galssl.visualization import plot_neighbors

    fig = plot_neighbors(search, catalog, [4, 11, 25], k=5, crop=32)
    assert len(fig.axes) == 3 * 6
    assert len(image_axes(fig)) == 18
    expected = search.query([4, 11, 25], k=5, exclude_self=True)
    for q, row in enumerate([4, 11, 25]):
        axes = fig.axes[6 * q:6 * q + 6]
        assert texts(axes[0]) == [f"query #{row}"]
        for col, ax in enumerate(axes):
            (rect,) = rectangles(ax)  # the 32x32 pixels the encoder sees
            assert rect.get_width() == rect.get_height() == 32
            assert_allclose(rect.get_xy(), ((48 - 32) // 2 - 0.5,) * 2)
        part = expected[expected["query"] == q]
        for ax, index, sim in zip(axes[1:], part["index"], part["similarity"]):
            assert texts(ax) == [f"#{index}", f"{sim:.3f}"]


def test_neighbour_grid_from_a_query_table(catalog, search):
    from galssl.visualization import plot_neighbors

    # representation queries: no image for the query panel, no crop outline there
    table = search.query(search.representations[[2, 3]] + 0.05, k=4)
    fig = plot_neighbors(table, catalog, k=4, crop=32)
    assert len(fig.axes) == 2 * 5 and len(image_axes(fig)) == 2 * 4
    assert not fig.axes[0].images and texts(fig.axes[0]) == ["query 0"]
    assert [len(rectangles(ax)) for ax in fig.axes[:5]] == [0, 1, 1, 1, 1]
    # only the requested query of a table, and fewer neighbours than it holds
    fig = plot_neighbors(table, catalog, queries=[1], k=2)
    assert len(fig.axes) == 3
    sims = [f"{s:.3f}" for s in table["similarity"][table["query"] == 1][:2]]
    assert [texts(ax)[1] for ax in fig.axes[1:]] == sims


def test_neighbour_grid_of_image_queries_shows_the_image(catalog):
    pytest.importorskip("torch")
    from galssl import ContrastiveEncoder
    from galssl.search import SimilaritySearch
    from galssl.visualization import plot_neighbors

    images = np.asarray(catalog.images[[7]])
    enc = ContrastiveEncoder(crop=32, jitter=2, queue_size=16)
    ss = SimilaritySearch.from_catalog(catalog, enc, progress=False)
    fig = plot_neighbors(ss, catalog, images, k=3)
    assert len(image_axes(fig)) == 4 and texts(fig.axes[0]) == ["query"]
    assert rectangles(fig.axes[0])[0].get_width() == 32  # the encoder's crop by default


def test_neighbour_grid_errors(catalog, search):
    from galssl.visualization import plot_neighbors

    with pytest.raises(ValueError, match="queries are needed"):
        plot_neighbors(search, catalog)
    with pytest.raises(ValueError, match="the search has 30 rows, the catalogue 5"):
        plot_neighbors(search, catalog[:5], [0])
    with pytest.raises(TypeError, match="search_or_table must be"):
        plot_neighbors([1, 2], catalog, [0])
    with pytest.raises(TypeError, match="catalog must be a CutoutCatalog"):
        plot_neighbors(search, catalog.images, [0])


def test_umap_map_with_thumbnails_one_per_occupied_cell(catalog):
    from galssl.visualization import plot_umap

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(30, 2))
    emb[3] = np.nan  # no representation: not shown
    reps = clustered(30, 8, seed=2)
    fig = plot_umap(reps, catalog, color="mag_r", embedding=emb, grid=4)
    scatter_ax, thumb_ax, colorbar_ax = fig.axes
    assert len(scatter_ax.collections[0].get_offsets()) == 29
    assert colorbar_ax.get_ylabel() == "mag_r"
    # independent count of the occupied cells of a 4 x 4 binning of the shown area
    counts, _, _ = np.histogram2d(emb[~np.isnan(emb[:, 0]), 0], emb[~np.isnan(emb[:, 0]), 1],
                                  bins=4, range=[thumb_ax.get_xlim(), thumb_ax.get_ylim()])
    assert len(thumb_ax.images) == np.count_nonzero(counts) > 4
    widths = {round(im.get_extent()[1] - im.get_extent()[0], 9) for im in thumb_ax.images}
    assert len(widths) == 1
    assert_allclose(widths.pop(), np.ptp(thumb_ax.get_xlim()) / 4)

    fig = plot_umap(reps, embedding=emb, thumbnails=False, color=np.arange(30.0))
    assert len(fig.axes) == 2 and not any(ax.images for ax in fig.axes)
    fig = plot_umap(reps, embedding=emb, thumbnails=False)
    assert len(fig.axes) == 1


def test_thumbnail_cell_holds_the_object_nearest_its_centre():
    from galssl.visualization._search import _thumbnail_cells

    xy = np.array([[0.0, 0.0], [0.9, 0.9], [1.0, 1.0], [0.45, 0.5], [0.1, 0.05]])
    chosen, ((x0, x1), (y0, y1)) = _thumbnail_cells(xy, 2)
    # the area is [0, 1] widened by half a cell (0.25) on each side: cells of 0.75
    assert_allclose([x0, x1, y0, y1], [-0.25, 1.25, -0.25, 1.25])
    cells = {(i, j): k for k, i, j in chosen}
    # (0.45, 0.5) lies on the line y = 0.5 between the rows of cells: the upper one
    assert cells == {(0, 0): 4, (1, 1): 1, (0, 1): 3}


def test_umap_embedding_wiring(monkeypatch):
    """UMAP itself is slow to start (numba compilation): a stand-in module checks what
    galssl hands it and what it does with the result."""
    from galssl.search import umap_embedding

    calls = {}

    class FakeUMAP:
        def __init__(self, **kwargs):
            calls.update(kwargs)

        def fit_transform(self, x):
            calls["x"] = x
            return x[:, :2] * 10

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    reps = clustered(40, 6, seed=3)
    reps[[2, 9]] = np.nan
    emb = umap_embedding(reps, n_neighbors=5, seed=7)
    assert emb.shape == (40, 2)
    assert np.flatnonzero(np.isnan(emb[:, 0])).tolist() == [2, 9]
    assert calls["random_state"] == 7 and calls["n_neighbors"] == 5 and calls["n_jobs"] == 1
    assert calls["x"].shape == (38, 6)
    assert_allclose(np.linalg.norm(calls["x"], axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="n_neighbors=40 needs more than 40 rows"):
        umap_embedding(reps, n_neighbors=40)
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ImportError, match="pip install umap-learn"):
        umap_embedding(reps)


@pytest.mark.slow
def test_umap_map_with_real_umap(catalog):
    """The real UMAP (about 15 s: numba compiles it on first use in a process)."""
    pytest.importorskip("umap")
    from galssl.search import umap_embedding
    from galssl.visualization import plot_umap

    reps = clustered(30, 8, n_clusters=2, seed=4, spread=0.1)
    emb = umap_embedding(reps, n_neighbors=5, seed=0)
    assert emb.shape == (30, 2) and np.isfinite(emb).all()
    fig = plot_umap(reps, catalog, n_neighbors=5, grid=5, seed=0)
    assert_allclose(fig.axes[0].collections[0].get_offsets(), emb)  # same seed, same map


def test_umap_errors(catalog):
    from galssl.visualization import plot_umap

    reps = clustered(30, 8, seed=5)
    emb = np.zeros((30, 2))
    with pytest.raises(ValueError, match="thumbnails need the catalogue"):
        plot_umap(reps, embedding=emb)
    with pytest.raises(KeyError, match="no column 'redshift'"):
        plot_umap(reps, catalog, color="redshift", embedding=emb)
    with pytest.raises(ValueError, match="names a column, but no catalogue"):
        plot_umap(reps, color="mag_r", thumbnails=False, embedding=emb)
    with pytest.raises(ValueError, match=r"embedding must have shape \(30, 2\)"):
        plot_umap(reps, catalog, embedding=emb[:5])
    with pytest.raises(ValueError, match="color must give one value per object"):
        plot_umap(reps, catalog, color=np.ones(4), embedding=emb)


def test_anomaly_grid_shows_the_top_scores(catalog):
    from galssl.search import top_anomalies
    from galssl.visualization import plot_anomalies

    scores = np.random.default_rng(6).uniform(size=30)
    scores[[3, 8]] = [np.nan, 5.0]
    fig = plot_anomalies(catalog, scores, n=6, ncols=4)
    shown = image_axes(fig)
    assert len(fig.axes) == 8 and len(shown) == 6
    order = np.argsort(-np.nan_to_num(scores, nan=-1))[:6]
    assert order[0] == 8
    for rank, (ax, row) in enumerate(zip(shown, order)):
        assert texts(ax) == [f"{rank + 1}. #{row}", f"{scores[row]:.3g}"]

    reps = clustered(30, 8, n_clusters=2, seed=7, spread=0.1)
    reps[13] = np.random.default_rng(8).normal(size=8) * 5
    table = top_anomalies(reps, catalog.table, n=3, k=3)
    fig = plot_anomalies(catalog, table, n=2)
    assert len(image_axes(fig)) == 2
    assert texts(image_axes(fig)[0]) == ["1. #13", f"{table['anomaly_score'][0]:.3g}"]
    with pytest.raises(ValueError, match="one per catalogue row"):
        plot_anomalies(catalog, scores[:5])
    with pytest.raises(ValueError, match="no object with a finite anomaly score"):
        plot_anomalies(catalog, np.full(30, np.nan))
