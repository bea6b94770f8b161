# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os
import sys

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from numpy.testing import assert_allclose, assert_array_equal

from galssl.search import SimilaritySearch
from galssl.search.tests.helpers import clustered, toy_catalog, unit

pytest.importorskip("faiss")


def brute_force(reps, queries, k):
    """Exact top-k cosine similarities by numpy: (Q, k) rows and similarities."""
    sims = unit(queries) @ unit(reps).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def recall(approx, exact):
    return np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)])


def neighbours(res, n_queries):
    """The neighbour rows of each query of a ``query`` result."""
    return [res["index"][res["query"] == q] for q in range(n_queries)]


def assert_exact_cosines(res, queries, reps):
    """The similarities of the neighbours found are their exact cosines with the query."""
    top = np.asarray(res["index"])
    assert_allclose(res["similarity"],
                    np.einsum("ij,ij->i", unit(queries)[res["query"]], unit(reps[top])),
                    atol=2e-6)


@pytest.mark.parametrize("index", ["flat", "ivf", "hnsw"])
def test_row_query_returns_the_object_itself_first(index):
    reps = clustered(2000, 16, seed=1)
    reps[11] = reps[10]  # an exact duplicate: row 11 must still come first for row 11
    ss = SimilaritySearch(reps, index=index, progress=False)
    for row in (0, 10, 11, 1999):
        res = ss.query(row, k=5)
        assert len(res) == 5
        assert res["index"][0] == row and res["rank"][0] == 0
        assert_allclose(res["similarity"][0], 1.0, rtol=1e-6)
        assert_array_equal(res["query_index"], row)
        assert np.all(np.diff(res["similarity"]) <= 1e-6)
        excluded = ss.query(row, k=5, exclude_self=True)
        assert row not in excluded["index"].tolist() and len(excluded) == 5
    assert ss.query(11, k=2)["index"].tolist() == [11, 10]


def test_flat_search_equals_numpy_brute_force():
    rng = np.random.default_rng(0)
    reps = rng.normal(size=(600, 24)).astype(np.float32)
    ss = SimilaritySearch(reps, progress=False)
    # representation queries (not in the catalogue) and row queries
    queries = rng.normal(size=(7, 24)).astype(np.float32)
    res = ss.query(queries, k=10)
    order, sims = brute_force(reps, queries, 10)
    assert_array_equal(res["query"], np.repeat(np.arange(7), 10))
    assert_array_equal(res["rank"], np.tile(np.arange(10), 7))
    assert_array_equal(np.asarray(res["index"]).reshape(7, 10), order)
    assert_allclose(np.asarray(res["similarity"]).reshape(7, 10), sims, atol=2e-6)

    rows = np.array([5, 123, 599])
    res = ss.query(rows, k=10)
    order, sims = brute_force(reps, reps[rows], 10)
    assert_array_equal(np.asarray(res["index"]).reshape(3, 10), order)
    assert_allclose(np.asarray(res["similarity"]).reshape(3, 10), sims, atol=2e-6)
    # exclude_self drops rank 0 and shifts the others up
    res = ss.query(rows, k=9, exclude_self=True)
    assert_array_equal(np.asarray(res["index"]).reshape(3, 9), order[:, 1:])


@pytest.mark.parametrize(("index", "n", "options"),
                         [("ivf", 20000, {}), ("hnsw", 10000, {}),
                          ("ivf", 20000, {"nlist": 256, "nprobe": 8})])
def test_approximate_index_recall_against_exact(index, n, options):
    data = clustered(n + 200, 64, n_clusters=100, seed=2, spread=1.0)
    reps, queries = data[:n], data[n:]  # queries: new objects of the same clusters
    exact = SimilaritySearch(reps, progress=False).query(queries, k=10)
    approx = SimilaritySearch(reps, index=index, progress=False, **options).query(queries, k=10)
    assert recall(neighbours(approx, 200), neighbours(exact, 200)) >= 0.9
    assert_exact_cosines(approx, queries, reps)


def test_batch_queries_stack_single_queries():
    reps = clustered(300, 8, seed=4)
    table = QTable({"name": [f"g{i}" for i in range(300)], "mag": np.arange(300.0) * u.mag})
    ss = SimilaritySearch(reps, table, progress=False)
    batch = ss.query([3, 250, 3], k=4)
    assert len(batch) == 12
    assert_array_equal(batch["query"], np.repeat([0, 1, 2], 4))
    for q, row in enumerate([3, 250, 3]):
        single = ss.query(row, k=4)
        part = batch[batch["query"] == q]
        assert_array_equal(part["index"], single["index"])
        assert_allclose(part["similarity"], single["similarity"])
        # the table's columns come with the neighbours, units kept
        assert part["name"].tolist() == [f"g{i}" for i in single["index"]]
        assert part["mag"].unit == u.mag
        assert_allclose(part["mag"].value, np.asarray(single["index"], float))
    assert batch.colnames[:5] == ["query", "rank", "index", "similarity", "query_index"]
    assert batch.meta["galssl_search"]["k"] == 4
    # a numpy integer scalar, a 1-element list and a torch tensor are row queries too
    assert_array_equal(ss.query(np.int32(3), k=4)["index"], ss.query([3], k=4)["index"])
    torch = pytest.importorskip("torch")
    assert_array_equal(ss.query(torch.tensor([3]), k=4)["index"], batch["index"][:4])


def sky_table(n=200, seed=5):
    rng = np.random.default_rng(seed)
    return QTable({"ra": (180.0 + rng.uniform(-0.5, 0.5, n)) * u.deg,
                   "dec": (30.0 + rng.uniform(-0.5, 0.5, n)) * u.deg})


def test_skycoord_query_finds_the_nearest_catalogued_object():
    table = sky_table()
    reps = clustered(len(table), 8, seed=6)
    ss = SimilaritySearch(reps, table, progress=False)
    target = SkyCoord(table["ra"][42], table["dec"][42])
    pos = target.directional_offset_by(30 * u.deg, 0.8 * u.arcsec)
    res = ss.query(pos, k=3)
    assert res["query_index"][0] == 42 and res["index"][0] == 42
    assert_allclose(res["separation"].to_value(u.arcsec), 0.8, rtol=1e-3)
    assert res["separation"].unit == u.arcsec
    assert_array_equal(res["index"], ss.query(42, k=3)["index"])

    # a batch, in another frame: each position matches its brute-force nearest object
    rng = np.random.default_rng(7)
    coords = SkyCoord(180 + rng.uniform(-0.4, 0.4, 5), 30 + rng.uniform(-0.4, 0.4, 5),
                      unit="deg").galactic
    res = ss.query(coords, k=2, exclude_self=True)
    cat = SkyCoord(table["ra"], table["dec"])
    nearest = [int(np.argmin(c.separation(cat))) for c in coords]
    assert_array_equal(res["query_index"][::2], nearest)
    assert not np.any(res["index"] == res["query_index"])

    # objects without representation are not matched: the next nearest one is
    reps[42] = np.nan
    ss = SimilaritySearch(reps, table, progress=False)
    res = ss.query(target, k=1)
    d = target.separation(cat)
    d[42] = 180 * u.deg
    assert res["query_index"][0] == int(np.argmin(d)) != 42
    with pytest.raises(ValueError, match="no indexed object within 1"):
        ss.query(target, k=1, max_separation=1 * u.arcsec)


def test_nan_rows_are_kept_but_never_returned():
    reps = clustered(400, 16, seed=8)
    bad = [0, 17, 399]
    reps[bad[0]] = np.nan
    reps[bad[1], 3] = np.inf
    reps[bad[2]] = 0.0  # no direction
    table = Table({"id": np.arange(400)})
    for index in ("flat", "ivf", "hnsw"):
        ss = SimilaritySearch(reps, table, index=index, progress=False)
        assert len(ss) == 400 and ss.n_indexed == 397
        assert_array_equal(np.flatnonzero(~ss.indexed), bad)
        res = ss.query(np.setdiff1d(np.arange(400), bad), k=397)
        assert not np.isin(res["index"], bad).any()
        assert_array_equal(res["id"], res["index"])  # row numbers keep their meaning
        with pytest.raises(ValueError, match=r"rows \[17\] have no representation"):
            ss.query(17)


def test_image_queries_use_the_encoder():
    pytest.importorskip("torch")
    from galssl import ContrastiveEncoder

    cat = toy_catalog(n=16)
    enc = ContrastiveEncoder(crop=32, jitter=2, queue_size=16)
    ss = SimilaritySearch.from_catalog(cat, enc, progress=False)
    assert ss.encoder is enc and len(ss) == 16
    images = np.asarray(cat.images)
    for query in (images[5], images[[5, 9]], cat[[5, 9]]):
        res = ss.query(query, k=3)
        assert res["index"][0] == 5
        assert_allclose(res["similarity"][0], 1.0, atol=1e-5)
        assert "query_index" not in res.colnames
    assert res["index"][res["query"] == 1][0] == 9
    with pytest.raises(ValueError, match="image queries need the encoder"):
        SimilaritySearch(ss.representations, progress=False).query(images[5])
    with pytest.raises(ValueError, match="no data"):
        ss.query(np.full((5, 40, 40), np.nan, np.float32))
    with pytest.raises(ValueError, match="D=256"):
        SimilaritySearch(np.ones((4, 8)), encoder=enc, progress=False)


@pytest.mark.parametrize("index", ["flat", "ivf", "hnsw"])
def test_save_load_round_trip(tmp_path, index):
    table = sky_table(n=500)
    table["name"] = [f"g{i}" for i in range(500)]
    table.meta["survey"] = "SDSS"
    reps = clustered(500, 12, seed=9)
    reps[3] = np.nan
    ss = SimilaritySearch(reps, table, index=index, progress=False)
    if index == "ivf":
        ss.nprobe = 3
    path = tmp_path / "search.h5"
    ss.save(path)
    loaded = SimilaritySearch.load(path)
    assert repr(loaded) == repr(ss) and loaded.config == ss.config
    assert_array_equal(loaded.representations, reps)
    assert loaded.table.meta["survey"] == "SDSS"
    queries = [np.arange(0, 500, 7)[1:], reps[10:13] + 0.1,
               SkyCoord(table["ra"][:4], table["dec"][:4])]
    for q in queries:
        a, b = ss.query(q, k=6), loaded.query(q, k=6)
        assert a.colnames == b.colnames
        for name in a.colnames:
            assert_array_equal(a[name], b[name])
    # the table is readable with astropy alone
    assert QTable.read(path, path="table")["name"][7] == "g7"
    with pytest.raises(OSError, match="exists"):
        ss.save(path)
    ss.save(path, overwrite=True)
    nowhere = tmp_path / "plain.h5"
    Table({"a": [1]}).write(nowhere, path="table", format="hdf5")
    with pytest.raises(ValueError, match="not a galssl SimilaritySearch file"):
        SimilaritySearch.load(nowhere)


def test_load_mmap_maps_the_representations_and_names_old_files(tmp_path):
    import h5py

    reps = clustered(400, 12, seed=5)
    reps[[7, 300]] = np.nan
    ss = SimilaritySearch(reps, sky_table(n=400), index="ivf", progress=False)
    path = tmp_path / "search.h5"
    ss.save(path)
    loaded = SimilaritySearch.load(path, mmap=True)
    assert isinstance(loaded.representations, np.memmap)
    assert os.path.samefile(loaded.representations.filename, path)
    assert_array_equal(loaded.representations, reps)  # NaN rows included, in order
    assert_array_equal(loaded._rows, ss._rows)
    queries = [np.arange(0, 400, 9), reps[20:25] * 1.5]
    for q in queries:
        a, b = ss.query(q, k=5), loaded.query(q, k=5)
        for name in a.colnames:
            assert_array_equal(a[name], b[name])
    # a file with chunked representations (as earlier versions saved them) loads in memory
    # and names the cause when asked to map
    with h5py.File(path, "r+") as f:
        del f["representations"]
        f.create_dataset("representations", data=reps, chunks=(100, 12))
    assert_array_equal(SimilaritySearch.load(path).representations, reps)
    with pytest.raises(ValueError, match=r"search\.h5.*chunks.*mmap=False"):
        SimilaritySearch.load(path, mmap=True)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_index_bytes_give_an_error_naming_the_file(tmp_path, damage):
    import h5py

    ss = SimilaritySearch(clustered(200, 8, seed=2), index="ivf", progress=False)
    path = tmp_path / "search.h5"
    ss.save(path)
    with h5py.File(path, "r+") as f:
        raw = bytearray(f["index"][...].tobytes())
        if damage == "flip":
            raw[len(raw) // 3] ^= 0xFF
        else:
            raw = raw[: len(raw) // 2]
        del f["index"]
        f.create_dataset("index", data=np.frombuffer(bytes(raw), np.uint8))
    with pytest.raises(ValueError, match=r"search\.h5.*(sha256|unreadable faiss index)"):
        SimilaritySearch.load(path)
    # a file from before the checksum: damage still gives a named error, not faiss's own
    with h5py.File(path, "r+") as f:
        del f.attrs["index_sha256"]
    if damage == "truncate":
        with pytest.raises(ValueError, match=r"search\.h5.*unreadable faiss index"):
            SimilaritySearch.load(path)


def test_table_columns_named_like_result_columns_are_renamed():
    reps = clustered(50, 4, seed=10)
    table = QTable({"index": np.arange(50) + 1000, "rank": np.ones(50)})
    res = SimilaritySearch(reps, table, progress=False).query(0, k=2)
    assert res.colnames == ["query", "rank", "index", "similarity", "query_index",
                            "index_table", "rank_table"]
    assert_array_equal(res["index_table"], res["index"] + 1000)


def test_settings_and_repr():
    reps = clustered(3000, 8, seed=11)
    ivf = SimilaritySearch(reps, index="ivf", nlist=40, nprobe=4, progress=False)
    assert repr(ivf) == ("<SimilaritySearch 3000 rows (3000 indexed), D=8, metric='cosine', "
                         "index='ivf' (nlist=40, nprobe=4)>")
    ivf.nprobe = 40  # all cells: exact
    exact = SimilaritySearch(reps, progress=False)
    assert_array_equal(ivf.query(reps[:20], k=5)["index"], exact.query(reps[:20], k=5)["index"])
    hnsw = SimilaritySearch(reps, index="hnsw", hnsw_m=8, ef_search=16, progress=False)
    hnsw.ef_search = 100
    assert hnsw.index.hnsw.efSearch == 100 and "ef_search=100" in repr(hnsw)
    assert ivf.ef_search is None and hnsw.nprobe is None and exact.dim == 8
    with pytest.raises(ValueError, match="nprobe applies to index='ivf' or 'ivfpq'"):
        hnsw.nprobe = 3
    with pytest.raises(ValueError, match="ef_search applies"):
        exact.ef_search = 3


def test_ivfpq_holds_codes_and_reranks_to_high_recall(tmp_path):
    import faiss

    data = clustered(20200, 64, n_clusters=100, seed=2, spread=1.0)
    reps, queries = data[:20000], data[20000:]
    exact = SimilaritySearch(reps, index="flat", progress=False).query(queries, k=10)
    e = neighbours(exact, 200)
    pq = SimilaritySearch(reps, index="ivfpq", progress=False)
    assert pq.config["pq_m"] == 16 and pq.config["rerank"] == 4
    assert "index='ivfpq' (nlist=512, nprobe=16, 16 bytes, rerank=4)" in repr(pq)
    res = pq.query(queries, k=10)
    a = neighbours(res, 200)
    assert recall(a, e) >= 0.9
    assert_exact_cosines(res, queries, reps)  # reranked: exact cosines
    # without reranking the quantised scores find fewer of the true neighbours
    raw = SimilaritySearch(reps, index="ivfpq", rerank=1, progress=False).query(queries, k=10)
    assert recall(neighbours(raw, 200), e) < recall(a, e)
    # the index holds 16-byte codes (and ids), not the 256-byte vectors
    size = faiss.serialize_index(pq.index).nbytes
    assert size < 0.25 * faiss.serialize_index(
        SimilaritySearch(reps, index="flat", progress=False).index).nbytes
    # with the representations memory-mapped, searches read them from the file
    np.save(tmp_path / "reps.npy", reps)
    mapped = np.load(tmp_path / "reps.npy", mmap_mode="r")
    on_disk = SimilaritySearch(mapped, index="ivfpq", progress=False)
    assert np.shares_memory(on_disk.representations, mapped)  # not copied into memory
    assert_array_equal(on_disk.query(queries, k=10)["index"], res["index"])
    pq.save(tmp_path / "pq.h5")
    loaded = SimilaritySearch.load(tmp_path / "pq.h5")
    assert_array_equal(loaded.query(queries, k=10)["index"], res["index"])
    with pytest.raises(ValueError, match="pq_m=7 must divide D=64"):
        SimilaritySearch(reps, index="ivfpq", pq_m=7, progress=False)
    with pytest.raises(ValueError, match="at least 256 indexed rows"):
        SimilaritySearch(reps[:100], index="ivfpq", progress=False)


def test_ivf_on_disk_equals_ivf_in_memory(tmp_path, capfd):
    import faiss

    data = clustered(6040, 32, n_clusters=60, seed=4)
    reps, queries = data[:6000], data[6000:]
    reps[17] = np.nan  # not indexed, still a row
    np.save(tmp_path / "reps.npy", reps)
    mapped = np.load(tmp_path / "reps.npy", mmap_mode="r")
    memory = SimilaritySearch(reps, index="ivf", nlist=40, nprobe=4, progress=False)
    lists = tmp_path / "lists.ivfdata"
    disk = SimilaritySearch(mapped, index="ivf", nlist=40, nprobe=4, ivf_file=lists,
                            progress=False)
    assert "faiss" not in capfd.readouterr().out  # faiss' "resizing ..." lines are silenced
    assert np.shares_memory(disk.representations, mapped)
    assert disk.config["ivf_file"] == str(lists) and f"on disk in {str(lists)!r}" in repr(disk)
    # the vectors live in the file, not in the index: same cells, same neighbours
    assert lists.stat().st_size >= 4 * 32 * 5999
    assert len(faiss.serialize_index(disk.index)) < 0.1 * lists.stat().st_size
    a, b = memory.query(queries, k=10), disk.query(queries, k=10)
    assert_array_equal(a["index"], b["index"])
    assert_allclose(a["similarity"], b["similarity"], rtol=0, atol=1e-6)
    assert 17 not in set(b["index"])
    for nprobe in (1, 40):  # settable, and all cells is exact search
        disk.nprobe = memory.nprobe = nprobe
        assert_array_equal(memory.query(queries, k=10)["index"],
                           disk.query(queries, k=10)["index"])
    exact = SimilaritySearch(reps, index="flat", progress=False).query(queries, k=10)
    assert recall(neighbours(disk.query(queries, k=10), 40), neighbours(exact, 40)) > 0.99
    # save records the file; load opens it again
    disk.save(tmp_path / "search.h5")
    loaded = SimilaritySearch.load(tmp_path / "search.h5")
    assert loaded.config == disk.config
    assert_array_equal(loaded.query(queries, k=10)["index"], disk.query(queries, k=10)["index"])
    # ... and with mmap=True the representations stay in the saved file too
    mapped_load = SimilaritySearch.load(tmp_path / "search.h5", mmap=True)
    assert isinstance(mapped_load.representations, np.memmap)
    assert not mapped_load.representations.flags.writeable
    assert_array_equal(mapped_load.representations, reps)
    for q in (queries, np.arange(0, 6000, 97)):  # by vector and by row
        a, b = mapped_load.query(q, k=10), disk.query(q, k=10)
        assert_array_equal(a["index"], b["index"])
        assert_array_equal(a["similarity"], b["similarity"])
    del loaded, mapped_load
    lists.rename(tmp_path / "moved.ivfdata")
    with pytest.raises(FileNotFoundError, match="lists.ivfdata.*does not exist"):
        SimilaritySearch.load(tmp_path / "search.h5")
    # an existing file is never overwritten; the option belongs to IVF
    with pytest.raises(OSError, match="moved.ivfdata.*exists"):
        SimilaritySearch(reps, index="ivf", ivf_file=tmp_path / "moved.ivfdata",
                         progress=False)
    with pytest.raises(ValueError, match="ivf_file applies to index='ivf', not "
                                         "index='flat'.*index='auto' chose it"):
        SimilaritySearch(reps, ivf_file=tmp_path / "x.ivfdata", progress=False)
    with pytest.raises(ValueError, match="searched on the CPU"):
        SimilaritySearch(reps, index="ivf", ivf_file=tmp_path / "x.ivfdata", device="cuda",
                         progress=False)
    with pytest.raises(FileNotFoundError, match="folder of ivf_file"):
        SimilaritySearch(reps, index="ivf", ivf_file=tmp_path / "no" / "x.ivfdata",
                         progress=False)


def test_auto_index_by_size_says_which(monkeypatch):
    from galssl.search import _search

    reps = clustered(3000, 16, seed=3)
    small = SimilaritySearch(reps, progress=False)
    assert small.config["index"] == "flat" and "exact" in small.config["index_choice"]
    assert repr(small).endswith("index='flat' chosen by size>")
    monkeypatch.setattr(_search, "AUTO_EXACT_MAX", 1000)
    mid = SimilaritySearch(reps, progress=False)
    assert mid.config["index"] == "ivf" and "IVF with full vectors" in mid.config["index_choice"]
    assert "3,000 rows > 1,000" in mid.config["index_choice"]
    assert "nlist" in mid.config and "pq_m" not in mid.config
    # a setting for another kind than the one chosen is an error that says so
    with pytest.raises(ValueError, match="not index='flat' .index='auto' chose it for 900 rows"):
        SimilaritySearch(reps[:900], nprobe=4, progress=False)
    assert small.config["device"] == "cpu"  # this faiss has no GPU
    import faiss

    if not hasattr(faiss, "StandardGpuResources"):
        with pytest.raises(RuntimeError, match="faiss with GPU support"):
            SimilaritySearch(reps, index="flat", device="cuda", progress=False)
    with pytest.raises(ValueError, match="no GPU HNSW"):
        SimilaritySearch(reps, index="hnsw", device="cuda", progress=False)


def test_errors_name_the_bad_input():
    reps = clustered(100, 8, seed=12)
    ss = SimilaritySearch(reps, progress=False)
    with pytest.raises(ValueError, match="representations is empty"):
        SimilaritySearch(np.zeros((0, 8)))
    with pytest.raises(ValueError, match=r"2-D \(N, D\) array"):
        SimilaritySearch(np.ones(8))
    with pytest.raises(TypeError, match="numeric"):
        SimilaritySearch(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="nothing to index"):
        SimilaritySearch(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="table has 3 rows but there are 100"):
        SimilaritySearch(reps, Table({"a": [1, 2, 3]}))
    with pytest.raises(TypeError, match="table must be an astropy Table"):
        SimilaritySearch(reps, {"a": 1})
    with pytest.raises(ValueError, match="metric must be one of"):
        SimilaritySearch(reps, metric="euclidean")
    with pytest.raises(ValueError, match="index must be one of"):
        SimilaritySearch(reps, index="pq")
    with pytest.raises(ValueError, match="apply to index='ivf'"):
        SimilaritySearch(reps, nprobe=4)
    with pytest.raises(ValueError, match="nlist=200 exceeds the 100"):
        SimilaritySearch(reps, index="ivf", nlist=200)
    with pytest.raises(TypeError, match="encoder must be a ContrastiveEncoder"):
        SimilaritySearch(reps, encoder="resnet")
    with pytest.raises(IndexError, match=r"query rows \[100\] are out of range"):
        ss.query(100)
    with pytest.raises(IndexError, match=r"\[-1\]"):
        ss.query([3, -1])
    with pytest.raises(ValueError, match="empty query"):
        ss.query([])
    with pytest.raises(ValueError, match="D=8 features"):
        ss.query(np.ones(5))
    with pytest.raises(ValueError, match="not finite"):
        ss.query(np.full(8, np.nan))
    with pytest.raises(ValueError, match=r"shape \(1, 1, 1, 1, 8\)"):
        ss.query(np.ones((1, 1, 1, 1, 8)))
    with pytest.raises(TypeError, match="cannot query with a bool"):
        ss.query(True)
    with pytest.raises(TypeError, match="dtype"):
        ss.query(np.array([True, False]))
    with pytest.raises(ValueError, match="k=101 exceeds the 100"):
        ss.query(0, k=101)
    with pytest.raises(ValueError, match="k=100 exceeds the 99"):
        ss.query(0, k=100, exclude_self=True)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ss.query(0, k=0)
    with pytest.raises(ValueError, match="this search has no table"):
        ss.query(SkyCoord(1, 2, unit="deg"))
    no_radec = SimilaritySearch(reps, Table({"z": np.zeros(100)}), progress=False)
    with pytest.raises(ValueError, match="SkyCoord queries need ra/dec columns"):
        no_radec.query(SkyCoord(1, 2, unit="deg"))
    with pytest.raises(ValueError, match="max_separation applies to SkyCoord"):
        ss.query(0, max_separation=1 * u.arcsec)
    # a bare number has no unit: named, before any work (was an astropy UnitsError)
    with pytest.raises(TypeError, match="max_separation must be an angle with a unit"):
        ss.query(SkyCoord(1, 2, unit="deg"), max_separation=5)
    with pytest.raises(TypeError, match="max_separation must be an angle"):
        ss.query(SkyCoord(1, 2, unit="deg"), max_separation=5 * u.m)


def test_missing_faiss_gives_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        SimilaritySearch(clustered(10, 4))
