# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""SimilaritySearch: nearest galaxies in representation space, with faiss indexes."""

import hashlib
import json
import math
import os

import numpy as np

from ..utils._atomic import atomic_output
from ..utils._progress import progress_bar
from ..utils._validate import check_angle
from ._knn import (CHUNK, as_representations, import_faiss, normalised, normalised_rows,
                   positive_int, usable_rows)

__all__ = ["SimilaritySearch", "SEARCH_FORMAT"]

# the examples need faiss, an optional dependency (pytest-doctestplus skips them without)
__doctest_requires__ = {"SimilaritySearch": ["faiss"]}

#: Version of the HDF5 file written by `SimilaritySearch.save`.
SEARCH_FORMAT = 1

_INDEX_TYPES = ("flat", "ivf", "ivfpq", "hnsw")
#: ``index="auto"``: exact search up to this many indexed rows, IVF beyond
AUTO_EXACT_MAX = 200_000
_METRICS = ("cosine",)
_ON_DISK_CPU_ONLY = ("an IVF index on disk (ivf_file) is searched on the CPU; pass "
                     "device='cpu' or 'auto'")
#: Columns of a query result before the table's own (a table column of the same name is
#: renamed with the suffix ``_table``).
_RESULT_COLUMNS = ("query", "rank", "index", "similarity", "query_index", "separation")
_DESCRIPTIONS = {
    "query": "position of the query in the batch of queries",
    "rank": "rank of the neighbour, 0 = most similar",
    "index": "row of the neighbour in the searched table",
    "similarity": "cosine similarity of the representations",
    "query_index": "row of the query object in the searched table",
    "separation": "angular distance from the query position to the matched object",
}


def default_nlist(n):
    """Number of IVF cells for ``n`` vectors: about 4 sqrt(n), with at least 39 training
    vectors per cell (faiss' k-means minimum)."""
    return int(np.clip(round(4 * math.sqrt(n)), 1, max(1, n // 39)))


def default_pq_m(d):
    """IVF-PQ: sub-quantisers per vector, the largest divisor of ``d`` not above d / 4
    (one byte each: 32 bytes for D=128, against 512 for the float32 vector)."""
    return max(m for m in range(1, max(1, d // 4) + 1) if d % m == 0)


def auto_index(n):
    """The index ``index="auto"`` builds for ``n`` indexed rows, and why. IVF-PQ is never
    chosen: on vectors shaped like galaxy representations (most of their variance in a
    few directions, near neighbours at cosine distances of 1e-4) its 32-byte codes find a
    third of the true neighbours (``benchmarks/bench_search.py``), where IVF with full
    vectors finds over 95 %."""
    if n <= AUTO_EXACT_MAX:
        return "flat", f"{n:,} rows <= {AUTO_EXACT_MAX:,}: exact search"
    return "ivf", f"{n:,} rows > {AUTO_EXACT_MAX:,}: IVF with full vectors"


def default_nprobe(nlist):
    """Number of IVF cells visited per query: 1/32 of the cells, at least 8 (or all)."""
    return min(nlist, max(8, math.ceil(nlist / 32)))


class SimilaritySearch:
    """Nearest neighbours of galaxies by the cosine similarity of their representations.

    The representations are scaled to unit length and indexed with `faiss`, where the
    inner product of unit vectors is their cosine similarity: exactly (``index="flat"``,
    every query compared with every object) or approximately for millions of objects
    (``"ivf"``: inverted lists over k-means cells; ``"hnsw"``: a hierarchical navigable
    small-world graph). Rows whose representation is not finite (objects without image
    data, see `~galssl.ContrastiveEncoder.encode`) or is all zeros have no direction: they
    stay in the table, so row numbers keep their meaning, but are not indexed and are never
    returned.

    Parameters
    ----------
    representations : array-like
        (N, D) representations, one row per object (e.g. from
        `~galssl.ContrastiveEncoder.encode`). Float32 input is referenced, not copied: do
        not modify it afterwards.
    table : `~astropy.table.Table`, optional
        One row per representation (e.g. ``catalog.table``); its columns are joined to the
        neighbours, and its ``ra``/``dec`` make `~astropy.coordinates.SkyCoord` queries
        possible.
    metric : {"cosine"}, optional
        Similarity measure; the cosine similarity of representations (Hayat et al. 2021) is
        the only one supported.
    index : {"auto", "flat", "ivf", "ivfpq", "hnsw"}, optional
        Exact search, an IVF index (`faiss.IndexIVFFlat`), an IVF index of product-quantised
        vectors (`faiss.IndexIVFPQ`: ``pq_m`` bytes per object, the candidates reranked
        exactly from the representations) or an HNSW graph (`faiss.IndexHNSWFlat`), all
        with the inner-product metric. ``"auto"`` (default) chooses by the number of
        indexed rows: exact up to `AUTO_EXACT_MAX` (200,000), IVF beyond;
        ``config["index"]`` and the repr say which, and ``config["index_choice"]`` why.
        IVF-PQ saves memory (16 times at D=128) but, on vectors shaped like galaxy
        representations, finds far fewer of the true neighbours: measure it on your data
        before relying on it.
    encoder : `~galssl.ContrastiveEncoder`, optional
        The encoder of the representations; needed for queries by image.
    pq_m, rerank : int, optional
        IVF-PQ: bytes (sub-quantisers of 8 bits) per vector (default the largest divisor of
        D not above D / 4) and how many times ``k`` candidates are reranked by their exact
        cosine similarity (4; 1 keeps the quantised scores). With the representations in a
        memory-mapped file (``numpy.load(..., mmap_mode="r")``, float32) only the codes
        are held in memory.
    device : {"auto", "cpu", "cuda"}, optional
        Where faiss searches: "auto" (default) puts exact and IVF indexes on the GPU
        when faiss was built with GPU support and a CUDA device exists
        (``config["device"]``); HNSW stays on the CPU.
    ivf_file : str or path, optional
        IVF on disk: the inverted lists (each indexed object's unit vector, 4 x D bytes)
        are written to this new file (`faiss.OnDiskInvertedLists`) and memory-mapped
        instead of held in memory, which then holds only the cell centroids. With the
        representations memory-mapped too (``numpy.load(..., mmap_mode="r")``), ten million
        128-d representations are searched with a few hundred MB of memory; queries read
        the cells they visit from disk (fast once the operating system caches them). The
        file must not exist; it stays where it is, and `save` records its absolute path.
        Only with ``index="ivf"``; such an index stays on the CPU.
    nlist : int, optional
        IVF: number of k-means cells (default about 4 sqrt(N), at least 39 training
        vectors per cell).
    nprobe : int, optional
        IVF: cells visited per query (default ``ceil(nlist / 32)``, at least 8); more is
        slower and closer to exact. Can be changed later through the `nprobe` attribute.
    hnsw_m : int, optional
        HNSW: links per node (32); more gives higher recall and a larger index.
    ef_construction, ef_search : int, optional
        HNSW: breadth of the search while building (100) and while querying (64); a larger
        ``ef_search`` is slower and closer to exact (see the `ef_search` attribute). On
        clustered data (galaxy representations are) the graph needs a broad construction:
        faiss' own default of 40 misses many neighbours there.
    train_size : int, optional
        IVF: number of vectors the k-means is trained on (default all, at most
        256 x nlist), drawn at random with ``seed``.
    seed : int, optional
        Seed of the IVF training sample and k-means initialisation.
    progress : bool, optional
        Show a progress bar while adding vectors to the index.

    Raises
    ------
    ImportError
        If faiss is not installed.

    Notes
    -----
    Exact search returns the same neighbours as a brute-force comparison (ties aside).
    The approximate indexes trade recall for speed; measure it on your data with
    ``index="flat"`` as the reference (``benchmarks/bench_search.py`` does this). Building
    an HNSW graph on several threads is not bit-for-bit reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.search import SimilaritySearch
    >>> reps = np.random.default_rng(0).normal(size=(100, 16)).astype(np.float32)
    >>> ss = SimilaritySearch(reps, progress=False)
    >>> ss                                      # doctest: +NORMALIZE_WHITESPACE
    <SimilaritySearch 100 rows (100 indexed), D=16, metric='cosine',
     index='flat' chosen by size>
    >>> res = ss.query(3, k=4)
    >>> int(res["index"][0]), round(float(res["similarity"][0]), 4)   # itself first
    (3, 1.0)

    References
    ----------
    Johnson, J., Douze, M. & Jégou, H. 2019, IEEE Transactions on Big Data 7, 535 (faiss).
    Malkov, Y. A. & Yashunin, D. A. 2020, IEEE TPAMI 42, 824 (HNSW).
    Hayat, M. A., Stein, G., Harrington, P., Lukic, Z. & Mustafa, M. 2021, ApJL 911, L33.
    """

    def __init__(self, representations, table=None, *, metric="cosine", index="auto",
                 encoder=None, nlist=None, nprobe=None, hnsw_m=32, ef_construction=100,
                 ef_search=64, train_size=None, pq_m=None, rerank=4, ivf_file=None,
                 device="auto", seed=0, progress=True):
        reps = as_representations(representations)
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {list(_METRICS)}, got {metric!r}")
        if index not in _INDEX_TYPES + ("auto",):
            raise ValueError(f"index must be one of {['auto', *_INDEX_TYPES]}, got {index!r}")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        table = _check_table(table, len(reps))
        encoder = _check_encoder(encoder, reps.shape[1])
        mask = usable_rows(reps)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            raise ValueError(f"none of the {len(reps)} representations is finite and non-zero: "
                             "nothing to index")
        config = {"metric": metric, "index": index, "seed": int(seed)}
        chose = ""
        if index == "auto":
            index, config["index_choice"] = auto_index(rows.size)
            config["index"] = index
            chose = f" (index='auto' chose it for {rows.size:,} rows; pass index= to choose)"
        if index not in ("ivf", "ivfpq") and (
                nlist is not None or nprobe is not None or train_size is not None):
            raise ValueError(f"nlist, nprobe and train_size apply to index='ivf' or 'ivfpq', "
                             f"not index={index!r}{chose}")
        if index != "ivfpq" and pq_m is not None:
            raise ValueError(f"pq_m applies to index='ivfpq', not index={index!r}{chose}")
        if ivf_file is not None:
            if index != "ivf":
                raise ValueError(f"ivf_file applies to index='ivf', not index={index!r}{chose}")
            if device == "cuda":  # before building: _place would say it only afterwards
                raise ValueError(_ON_DISK_CPU_ONLY)
            config["ivf_file"] = os.path.abspath(os.fspath(ivf_file))
            if os.path.exists(config["ivf_file"]):
                raise OSError(f"ivf_file {config['ivf_file']!r} exists; remove it or choose "
                              "another path (a saved search may depend on it)")
            if not os.path.isdir(os.path.dirname(config["ivf_file"])):
                raise FileNotFoundError(f"the folder of ivf_file {config['ivf_file']!r} does "
                                        "not exist")
        if index == "ivfpq":
            d = reps.shape[1]
            config["pq_m"] = default_pq_m(d) if pq_m is None else positive_int(pq_m, "pq_m")
            if d % config["pq_m"]:
                raise ValueError(f"pq_m={config['pq_m']} must divide D={d}")
            config["rerank"] = positive_int(rerank, "rerank")
            if rows.size < 256:
                raise ValueError(f"index='ivfpq' trains 256 centroids per sub-quantiser and "
                                 f"needs at least 256 indexed rows, got {rows.size}")
        if index in ("ivf", "ivfpq"):
            config["nlist"] = default_nlist(rows.size) if nlist is None else \
                positive_int(nlist, "nlist")
            if config["nlist"] > rows.size:
                raise ValueError(f"nlist={config['nlist']} exceeds the {rows.size} indexed "
                                 "representations")
            config["nprobe"] = default_nprobe(config["nlist"]) if nprobe is None else \
                positive_int(nprobe, "nprobe")
            config["train_size"] = min(rows.size, max(256 * config["nlist"],
                                                      10_000 if index == "ivfpq" else 0)) \
                if train_size is None else positive_int(train_size, "train_size")
            if not config["nlist"] <= config["train_size"] <= rows.size:
                raise ValueError(f"train_size must lie between nlist={config['nlist']} and "
                                 f"the {rows.size} indexed representations, got "
                                 f"{config['train_size']}")
        elif index == "hnsw":
            config["hnsw_m"] = positive_int(hnsw_m, "hnsw_m")
            config["ef_construction"] = positive_int(ef_construction, "ef_construction")
            config["ef_search"] = positive_int(ef_search, "ef_search")
        faiss_index = _build_index(reps, rows, config, progress)
        faiss_index, config["device"] = _place(faiss_index, index, device,
                                               on_disk="ivf_file" in config)
        self._setup(reps, table, encoder, mask, rows, faiss_index, config)

    def _setup(self, reps, table, encoder, mask, rows, faiss_index, config):
        self.representations = reps
        self.table = table
        self.encoder = encoder
        self._mask = mask
        self._rows = rows
        self._index = faiss_index
        self.config = config
        self._sky = None  # (SkyCoord of the indexed rows with positions, their rows), lazily

    @classmethod
    def from_catalog(cls, catalog, encoder, *, batch_size=256, devices=None, progress=True,
                     device=None, **kwargs):
        """Encode a `~galssl.cutouts.CutoutCatalog` and index it with its table.

        Parameters
        ----------
        catalog : `~galssl.cutouts.CutoutCatalog`
        encoder : `~galssl.ContrastiveEncoder`
        batch_size, devices : optional
            Passed to `~galssl.ContrastiveEncoder.encode` (``devices``: where to encode,
            ``"cpu"``, ``"cuda:1"`` or a count).
        progress : bool, optional
        device : str, optional
            Deprecated spelling of ``devices`` (warns). The faiss index is placed by the
            constructor's ``device``: build with ``SimilaritySearch(reps, device=...)`` to
            choose it.
        **kwargs
            Passed to `SimilaritySearch` (``index``, ``nprobe``...).

        Returns
        -------
        SimilaritySearch
            With ``encoder`` set, so images can be queried.
        """
        from ..cutouts import CutoutCatalog

        if not isinstance(catalog, CutoutCatalog):
            raise TypeError(f"catalog must be a CutoutCatalog, got {type(catalog).__name__}")
        if encoder is None:
            raise TypeError("from_catalog needs the encoder that computes the representations")
        _check_encoder(encoder, None)
        from ..engine import devices_alias

        devices = devices_alias(device, devices, "SimilaritySearch.from_catalog")
        reps = encoder.encode(catalog, batch_size=batch_size, devices=devices,
                              progress=progress)
        return cls(reps, catalog.table, encoder=encoder, progress=progress, **kwargs)

    # ------------------------------------------------------------------ properties
    def __len__(self):
        return len(self.representations)

    @property
    def dim(self):
        """Dimension D of the representations."""
        return int(self.representations.shape[1])

    @property
    def indexed(self):
        """Boolean mask of the rows in the index (finite, non-zero representations)."""
        return self._mask.copy()

    @property
    def n_indexed(self):
        """Number of rows in the index."""
        return int(self._rows.size)

    @property
    def index(self):
        """The faiss index (its vector ``i`` is the ``i``-th indexed row)."""
        return self._index

    @property
    def nprobe(self):
        """IVF: number of cells visited per query (None for other indexes); settable."""
        return self.config.get("nprobe")

    @nprobe.setter
    def nprobe(self, value):
        if self.config["index"] not in ("ivf", "ivfpq"):
            raise ValueError(f"nprobe applies to index='ivf' or 'ivfpq', not "
                             f"{self.config['index']!r}")
        self.config["nprobe"] = positive_int(value, "nprobe")
        _set_nprobe(self._index, self.config["nprobe"])

    @property
    def ef_search(self):
        """HNSW: breadth of the graph search per query (None for other indexes); settable."""
        return self.config.get("ef_search")

    @ef_search.setter
    def ef_search(self, value):
        if self.config["index"] != "hnsw":
            raise ValueError(f"ef_search applies to index='hnsw', not "
                             f"{self.config['index']!r}")
        self.config["ef_search"] = positive_int(value, "ef_search")
        self._index.hnsw.efSearch = self.config["ef_search"]

    def __repr__(self):
        c = self.config
        extra = {"ivf": lambda: f" (nlist={c['nlist']}, nprobe={c['nprobe']}"
                                + (f", on disk in {c['ivf_file']!r})" if "ivf_file" in c else ")"),
                 "ivfpq": lambda: f" (nlist={c['nlist']}, nprobe={c['nprobe']}, "
                                  f"{c['pq_m']} bytes, rerank={c['rerank']})",
                 "hnsw": lambda: f" (M={c['hnsw_m']}, ef_search={c['ef_search']})",
                 "flat": lambda: ""}[c["index"]]()
        if "index_choice" in c:
            extra += " chosen by size"
        if c.get("device") == "cuda":
            extra += " on the GPU"
        return (f"<SimilaritySearch {len(self)} rows ({self.n_indexed} indexed), D={self.dim}, "
                f"metric={c['metric']!r}, index={c['index']!r}{extra}>")

    # ------------------------------------------------------------------ queries
    def query(self, x, k=10, *, exclude_self=False, max_separation=None, batch_size=256,
              devices=None, progress=False, device=None):
        """The ``k`` most similar indexed objects of each query.

        Parameters
        ----------
        x : int, array-like, `~astropy.coordinates.SkyCoord` or `~galssl.cutouts.CutoutCatalog`
            What to search for; one query or a batch:

            - an integer row of the table, or a 1-D integer array of rows;
            - a representation: a float (D,) vector or (N, D) matrix;
            - an image (C, H, W) or images (N, C, H, W), float, in nanomaggies: encoded
              with the ``encoder`` given at construction (as the encoder sees any image
              array, without dereddening: pass a `~galssl.cutouts.CutoutCatalog` to have
              its ``ebv`` column used);
            - a `~astropy.coordinates.SkyCoord` (scalar or array): the nearest indexed
              object of the table by position (astropy ``match_to_catalog_sky``), which is
              then queried as a row.
        k : int, optional
            Neighbours per query.
        exclude_self : bool, optional
            For row and sky-position queries, leave out the query object itself. By default
            it is returned first (rank 0, similarity 1), whatever the index.
        max_separation : `~astropy.units.Quantity`, optional
            Sky-position queries: raise if the nearest indexed object is farther than this.
        batch_size, devices, progress : optional
            Image queries: passed to `~galssl.ContrastiveEncoder.encode`.
        device : str, optional
            Deprecated spelling of ``devices`` (warns).

        Returns
        -------
        `~astropy.table.QTable`
            One row per neighbour, grouped by query and sorted by rank: ``query`` (position
            of the query in the batch, 0 for a single query), ``rank`` (0 = most similar),
            ``index`` (row in the table), ``similarity`` (cosine similarity); for row and
            sky-position queries ``query_index`` (the query's row); for sky-position queries
            ``separation`` (from the query position to that row); then the table's columns
            of the neighbour (a table column named like one of these is renamed with the
            suffix ``_table``). ``meta["galssl_search"]`` records the search. With an
            approximate index a query may get fewer than ``k`` neighbours.

        Raises
        ------
        IndexError
            If a row is out of range.
        ValueError
            For an empty query, a representation of the wrong dimension, a row or image
            without a representation, an image query without encoder, a sky-position query
            without ``ra``/``dec`` in the table, or ``k`` larger than the number of indexed
            objects.
        TypeError
            For a query of another type (e.g. booleans, strings).
        """
        import astropy.units as u
        from astropy.table import QTable

        from .. import __version__

        k = positive_int(k, "k")
        if max_separation is not None:
            max_separation = check_angle(max_separation, "max_separation")
        from ..engine import devices_alias

        devices = devices_alias(device, devices, "SimilaritySearch.query")
        q = self._parse_query(x, max_separation=max_separation, batch_size=batch_size,
                              devices=devices, progress=progress)
        rows = q["rows"]
        skip = rows is not None and exclude_self
        available = self.n_indexed - (1 if skip else 0)
        if k > available:
            raise ValueError(f"k={k} exceeds the {available} indexed objects that can be "
                             "returned")
        vectors = q["vectors"]
        kk = min(k + (rows is not None), self.n_indexed)
        sims, labels = self._search(vectors, kk)
        found = labels >= 0
        index = np.where(found, self._rows[np.clip(labels, 0, None)], -1)
        if rows is not None:
            # the query object goes first (or nowhere), whatever the index returned
            found &= index != rows[:, None]
            if not skip:
                self_sim = np.einsum("ij,ij->i", vectors, vectors).astype(np.float32)
                index = np.concatenate([rows[:, None], index], axis=1)
                sims = np.concatenate([self_sim[:, None], sims], axis=1)
                found = np.concatenate([np.ones((len(rows), 1), bool), found], axis=1)
        # move the neighbours found to the front of each row (stable), keep k
        order = np.argsort(~found, axis=1, kind="stable")[:, :k]
        index = np.take_along_axis(index, order, axis=1)
        sims = np.take_along_axis(sims, order, axis=1)
        found = np.take_along_axis(found, order, axis=1)

        qid, rank = np.nonzero(found)
        out = QTable()
        out["query"] = qid.astype(np.int64)
        out["rank"] = rank.astype(np.int64)
        out["index"] = index[found].astype(np.int64)
        out["similarity"] = sims[found].astype(np.float32)
        if rows is not None:
            out["query_index"] = rows[qid].astype(np.int64)
        if q["separation"] is not None:
            out["separation"] = q["separation"][qid].to(u.arcsec)
        for name in out.colnames:
            out[name].info.description = _DESCRIPTIONS[name]
        if self.table is not None:
            sub = self.table[out["index"]]
            for name in sub.colnames:
                out[name + "_table" if name in _RESULT_COLUMNS else name] = sub[name]
            out.meta.update(self.table.meta)
        out.meta["galssl_search"] = {
            "galssl_version": __version__, "query_type": q["kind"], "k": k,
            "exclude_self": bool(exclude_self), **self.config}
        return out

    def _parse_query(self, x, *, max_separation, batch_size, devices, progress):
        """dict(kind, vectors (B, D) unit float32, rows (B,) or None, separation or None)."""
        from astropy.coordinates import SkyCoord

        from ..cutouts import CutoutCatalog

        if isinstance(x, SkyCoord):
            rows, sep = self._match_sky(x, max_separation)
            return self._row_query(rows, "sky", sep)
        if max_separation is not None:
            raise ValueError("max_separation applies to SkyCoord queries")
        if isinstance(x, CutoutCatalog):
            return self._image_query(x, "catalog", batch_size, devices, progress)
        if isinstance(x, (bool, np.bool_, str, bytes)):
            raise TypeError(f"cannot query with a {type(x).__name__}: give a row index, "
                            "representation, image or SkyCoord")
        if hasattr(x, "detach"):  # torch tensor
            x = x.detach().cpu().numpy()
        arr = np.asarray(x)
        if arr.size == 0:
            raise ValueError(f"empty query (shape {arr.shape})")
        kind = arr.dtype.kind
        if kind in "iu":
            if arr.ndim > 1:
                raise ValueError(f"row-index queries must be an integer or a 1-D array of "
                                 f"integers, got shape {arr.shape}")
            return self._row_query(np.atleast_1d(arr).astype(np.int64), "row", None)
        if kind != "f":
            raise TypeError(f"cannot query with an array of dtype {arr.dtype}: give row "
                            "indices (integers), representations or images (floats)")
        if arr.ndim in (1, 2):
            vectors = np.atleast_2d(arr)
            if vectors.shape[1] != self.dim:
                raise ValueError(
                    f"representation queries must have D={self.dim} features, got shape "
                    f"{arr.shape} (row indices must be integers; images (C, H, W))")
            bad = np.flatnonzero(~usable_rows(vectors))
            if bad.size:
                raise ValueError(f"query representations {bad[:10].tolist()} are not finite "
                                 "or all zeros")
            return {"kind": "representation", "vectors": normalised(vectors), "rows": None,
                    "separation": None}
        if arr.ndim in (3, 4):
            return self._image_query(arr, "image", batch_size, devices, progress)
        raise ValueError(f"cannot interpret a query of shape {arr.shape}: expected (D,), "
                         f"(N, D), (C, H, W) or (N, C, H, W)")

    def _row_query(self, rows, kind, separation):
        bad = rows[(rows < 0) | (rows >= len(self))]
        if bad.size:
            raise IndexError(f"query rows {bad[:10].tolist()} are out of range for a search "
                             f"of {len(self)} rows")
        missing = rows[~self._mask[rows]]
        if missing.size:
            raise ValueError(f"rows {missing[:10].tolist()} have no representation (not "
                             "finite or all zeros) and are not indexed")
        return {"kind": kind, "vectors": normalised(self.representations[rows]),
                "rows": rows, "separation": separation}

    def _image_query(self, images, kind, batch_size, devices, progress):
        if self.encoder is None:
            raise ValueError("image queries need the encoder of the representations: "
                             "SimilaritySearch(..., encoder=encoder)")
        reps = self.encoder.encode(images, batch_size=batch_size, devices=devices,
                                   progress=progress)
        bad = np.flatnonzero(~usable_rows(reps))
        if bad.size:
            raise ValueError(f"query images {bad[:10].tolist()} have no data (all NaN)")
        return {"kind": kind, "vectors": normalised(reps), "rows": None, "separation": None}

    def _match_sky(self, coords, max_separation):
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        from ..utils._coords import parse_positions

        if self._sky is None:
            if self.table is None:
                raise ValueError("SkyCoord queries need a table with ra/dec columns; this "
                                 "search has no table")
            try:
                pos = parse_positions(self.table)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"SkyCoord queries need ra/dec columns in the table: "
                                 f"{exc}") from None
            ok = np.flatnonzero(pos.valid & self._mask)
            if ok.size == 0:
                raise ValueError("no indexed row of the table has a valid position")
            self._sky = (SkyCoord(pos.ra[ok], pos.dec[ok], unit="deg", frame="icrs"), ok)
        catalog, ok = self._sky
        if coords.size == 0:
            raise ValueError("empty SkyCoord query")
        coords = coords.reshape(-1) if coords.ndim else coords.reshape(1)
        idx, sep, _ = coords.match_to_catalog_sky(catalog)
        idx = np.atleast_1d(idx)
        sep = np.atleast_1d(sep.to(u.arcsec))
        if max_separation is not None:
            limit = max_separation
            far = np.flatnonzero(sep > limit)
            if far.size:
                raise ValueError(f"no indexed object within {limit} of the query positions "
                                 f"{far[:10].tolist()} (nearest at "
                                 f"{np.round(sep[far[:10]].value, 2).tolist()} arcsec)")
        return ok[idx], sep

    def _search(self, vectors, k):
        """Inner products and positions in the index of the ``k`` best of each unit query;
        IVF-PQ candidates (``rerank`` times ``k``) rescored from the representations."""
        c = self.config
        if c["index"] != "ivfpq" or c["rerank"] == 1:
            return self._index.search(vectors, k)
        kc = min(k * c["rerank"], self.n_indexed)
        _, cand = self._index.search(vectors, kc)
        sims = np.full(cand.shape, -np.inf, dtype=np.float32)
        found = cand >= 0
        pos = np.unique(cand[found])
        vec = normalised_rows(self.representations, self._rows[pos])  # sorted rows: one read
        where = np.searchsorted(pos, np.clip(cand, 0, None))
        for i in range(len(vectors)):
            ok = found[i]
            sims[i, ok] = vec[where[i, ok]] @ vectors[i]
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        sims = np.take_along_axis(sims, order, axis=1)
        labels = np.take_along_axis(cand, order, axis=1)
        labels[~np.isfinite(sims)] = -1
        return sims, labels

    # ------------------------------------------------------------------ storage
    def save(self, path, *, overwrite=False):
        """Write the index, the representations and the table to one HDF5 file.

        The file holds the datasets ``representations`` (N, D), ``rows`` (the indexed
        rows) and ``index`` (the faiss index, `faiss.serialize_index` bytes), the table
        under ``table`` (astropy's HDF5 format, readable with
        ``QTable.read(path, path="table")``) and the configuration in the attributes. The
        encoder is not saved: pass it to `load`. An IVF index on disk (``ivf_file``) is
        saved as a reference to its file, which `load` opens again: keep the file there.

        Parameters
        ----------
        path : str or path
        overwrite : bool, optional
            Replace ``path`` if it exists.
        """
        import h5py

        from .. import __version__

        faiss = import_faiss()
        with atomic_output(path, overwrite=overwrite) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = "galssl.SimilaritySearch"
                f.attrs["format_version"] = SEARCH_FORMAT
                f.attrs["galssl_version"] = __version__
                f.attrs["config"] = json.dumps(self.config)
                # contiguous (not chunked) and little-endian float32, so that `load` can
                # memory-map it; written in blocks, so memory-mapped input is not read at
                # once
                reps = f.create_dataset("representations",
                                        shape=self.representations.shape, dtype="<f4")
                digest = hashlib.sha256()
                for start in range(0, len(self), CHUNK):
                    block = np.ascontiguousarray(self.representations[start:start + CHUNK],
                                                 dtype="<f4")
                    reps[start:start + CHUNK] = block
                    digest.update(block.tobytes())
                f.attrs["representations_sha256"] = digest.hexdigest()
                rows = np.ascontiguousarray(self._rows, dtype="<i8")
                f.create_dataset("rows", data=rows)
                f.attrs["rows_sha256"] = hashlib.sha256(rows.tobytes()).hexdigest()
                cpu = faiss.index_gpu_to_cpu(self._index) \
                    if self.config.get("device") == "cuda" else self._index
                index_bytes = faiss.serialize_index(cpu)
                f.create_dataset("index", data=index_bytes)
                f.attrs["index_sha256"] = hashlib.sha256(index_bytes.tobytes()).hexdigest()
            if self.table is not None:
                try:
                    self.table.write(tmp, path="table", format="hdf5", serialize_meta=True,
                                     append=True)
                except Exception as exc:
                    raise ValueError(f"the table cannot be written to HDF5: {exc}") from exc

    @classmethod
    def load(cls, path, *, encoder=None, device="auto", mmap=False):
        """Read a search written by `save`, without rebuilding the index.

        Parameters
        ----------
        path : str or path
        encoder : `~galssl.ContrastiveEncoder`, optional
            For image queries.
        device : {"auto", "cpu", "cuda"}, optional
            Where faiss searches (see `SimilaritySearch`).
        mmap : bool, optional
            Memory-map the representations from the file (read-only `numpy.memmap`)
            instead of reading them into memory. With an IVF index on disk
            (``ivf_file``) or an IVF-PQ index, a search over ten million galaxies then
            loads in a few hundred MB of memory; the operating system caches the pages that
            queries read. Files saved by earlier development versions store the
            representations in chunks, which cannot be mapped: load them without ``mmap``
            and `save` them again.

        Returns
        -------
        SimilaritySearch
        """
        import h5py
        from astropy.table import QTable

        faiss = import_faiss()
        path = os.fspath(path)
        try:
            f = h5py.File(path, "r")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise ValueError(f"{path!r} is not a galssl SimilaritySearch file: {exc}") from None
        with f:
            if f.attrs.get("format") != "galssl.SimilaritySearch":
                raise ValueError(f"{path!r} is not a galssl SimilaritySearch file")
            _check_search_file(f, path)
            if int(f.attrs["format_version"]) > SEARCH_FORMAT:
                raise ValueError(f"{path!r} has format {int(f.attrs['format_version'])}; this "
                                 f"galssl reads up to {SEARCH_FORMAT}: upgrade galssl")
            try:
                config = json.loads(f.attrs["config"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path!r} is damaged: its config attribute is not JSON "
                                 f"({exc})") from None
            if not isinstance(config, dict) or "index" not in config:
                raise ValueError(f"{path!r} is damaged: its config attribute is not a search "
                                 f"configuration")
            if "ivf_file" in config and not os.path.isfile(config["ivf_file"]):
                raise FileNotFoundError(f"{path!r} is a search whose IVF lists are on disk in "
                                        f"{config['ivf_file']!r}, which does not exist (moved "
                                        "or deleted?); rebuild the search")
            reps = _mapped(f["representations"], path) if mmap else \
                f["representations"][...]
            rows = f["rows"][...].astype(np.int64)
            _verify_digest(f, "representations", path)
            _verify_digest(f, "rows", path)
            index_bytes = f["index"][...]
            digest = f.attrs.get("index_sha256")
            if digest is not None and hashlib.sha256(index_bytes.tobytes()).hexdigest() != digest:
                raise ValueError(f"{path!r} is damaged: its faiss index fails its sha256 "
                                 "check; rebuild the search from the representations")
            try:
                faiss_index = faiss.deserialize_index(index_bytes)
            except Exception as exc:  # faiss raises a bare RuntimeError
                raise ValueError(f"{path!r} holds an unreadable faiss index (damaged file?): "
                                 f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None
            has_table = "table" in f
        table = QTable.read(path, path="table") if has_table else None
        mask = usable_rows(reps)
        if not np.array_equal(np.flatnonzero(mask), rows) or faiss_index.ntotal != rows.size:
            raise ValueError(f"{path!r} is inconsistent: its index does not hold the usable "
                             "rows of its representations")
        if config["index"] in ("ivf", "ivfpq"):
            faiss_index.nprobe = config["nprobe"]
        elif config["index"] == "hnsw":
            faiss_index.hnsw.efSearch = config["ef_search"]
        faiss_index, config["device"] = _place(faiss_index, config["index"], device,
                                               on_disk="ivf_file" in config)
        obj = cls.__new__(cls)
        obj._setup(reps, _check_table(table, len(reps)), _check_encoder(encoder, reps.shape[1]),
                   mask, rows, faiss_index, config)
        return obj


# ---------------------------------------------------------------------- helpers
def _check_search_file(f, path):
    """Every dataset and attribute a search file needs, of the right kind; a ValueError
    naming the file and the field otherwise."""
    import h5py

    for key in ("representations", "rows", "index"):
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise ValueError(f"{path!r} is damaged: the dataset {key!r} is missing")
    for key in ("format_version", "config"):
        if key not in f.attrs:
            raise ValueError(f"{path!r} is damaged: the attribute {key!r} is missing")
    version = f.attrs["format_version"]
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)):
        raise ValueError(f"{path!r} is damaged: format_version must be an integer, got "
                         f"{version!r}")
    reps = f["representations"]
    if reps.ndim != 2 or reps.dtype.kind != "f":
        raise ValueError(f"{path!r} is damaged: representations must be a 2-d float array, "
                         f"got shape {reps.shape} and dtype {reps.dtype}")
    if f["rows"].ndim != 1 or f["rows"].dtype.kind not in "iu":
        raise ValueError(f"{path!r} is damaged: rows must be a 1-d integer array")


def _verify_digest(f, key, path):
    """Compare a dataset's bytes (little-endian, as `save` wrote them) with its stored
    sha256, in blocks; files written before the digests have none and pass."""
    expected = f.attrs.get(f"{key}_sha256")
    if expected is None:
        return
    ds = f[key]
    dtype = "<f4" if key == "representations" else "<i8"
    digest = hashlib.sha256()
    for start in range(0, ds.shape[0], CHUNK):
        digest.update(np.ascontiguousarray(ds[start:start + CHUNK], dtype=dtype).tobytes())
    if digest.hexdigest() != expected:
        raise ValueError(f"{path!r} is damaged: its {key} fail their sha256 check (changed "
                         f"since it was saved); rebuild the search")


def _mapped(dataset, path):
    """A read-only `numpy.memmap` of a contiguous, uncompressed HDF5 dataset of ``path``;
    ValueError naming the file for one stored in chunks (earlier development versions)."""
    offset = dataset.id.get_offset()
    if offset is None or dataset.chunks is not None or dataset.compression is not None:
        raise ValueError(f"{path!r} stores its representations in chunks (saved by an "
                         "earlier galssl), which cannot be memory-mapped: load it with "
                         "mmap=False and save it again")
    if dataset.size == 0:
        return np.empty(dataset.shape, dtype=np.float32)
    return np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape)


def _gpu_available(faiss):
    """faiss built with GPU support and a CUDA device to run it."""
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:  # a GPU build without a driver
        return False


def _place(index, kind, device, on_disk=False):
    """``index`` on the GPU where asked (``"cuda"``) or where available (``"auto"``) and
    faiss supports the kind (not HNSW, not lists on disk); returns it and where it is."""
    faiss = import_faiss()
    if device == "cpu" or kind == "hnsw" or on_disk:
        if device == "cuda":
            raise ValueError("faiss has no GPU HNSW index; use index='ivf' or 'flat' on the GPU"
                             if kind == "hnsw" else _ON_DISK_CPU_ONLY)
        return index, "cpu"
    if not _gpu_available(faiss):
        if device == "cuda":
            raise RuntimeError("device='cuda' needs faiss with GPU support (faiss-gpu) and a "
                               "CUDA device; this faiss has none")
        return index, "cpu"
    resources = faiss.StandardGpuResources()
    gpu = faiss.index_cpu_to_gpu(resources, 0, index)
    gpu.galssl_resources = resources  # kept alive with the index
    return gpu, "cuda"


def _set_nprobe(index, nprobe):
    try:
        index.nprobe = nprobe
    except AttributeError:  # a GPU index
        import_faiss().GpuParameterSpace().set_index_parameter(index, "nprobe", nprobe)


def _check_table(table, n):
    from astropy.table import QTable, Table

    if table is None:
        return None
    if not isinstance(table, Table):
        raise TypeError(f"table must be an astropy Table (e.g. catalog.table) or None, got "
                        f"{type(table).__name__}")
    if len(table) != n:
        raise ValueError(f"table has {len(table)} rows but there are {n} representations")
    return table if isinstance(table, QTable) else QTable(table)


def _check_encoder(encoder, dim):
    if encoder is None:
        return None
    from ..ssl import ContrastiveEncoder

    if not isinstance(encoder, ContrastiveEncoder):
        raise TypeError(f"encoder must be a ContrastiveEncoder or None, got "
                        f"{type(encoder).__name__}")
    if dim is not None and encoder.num_features != dim:
        raise ValueError(f"the encoder gives D={encoder.num_features} representations, the "
                         f"representations have D={dim}")
    return encoder


def _build_index(reps, rows, config, progress):
    faiss = import_faiss()
    d = reps.shape[1]
    kind = config["index"]
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind in ("ivf", "ivfpq"):
        if kind == "ivf":
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, config["nlist"],
                                       faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, config["nlist"], config["pq_m"],
                                     8, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = config["seed"]
        n_train = config["train_size"]
        sample = rows if n_train == rows.size else np.sort(
            np.random.default_rng(config["seed"]).choice(rows, n_train, replace=False))
        index.train(normalised_rows(reps, sample))
        index.nprobe = config["nprobe"]
    else:
        index = faiss.IndexHNSWFlat(d, config["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config["ef_construction"]
        index.hnsw.efSearch = config["ef_search"]
    step = CHUNK * 8
    if "ivf_file" in config:
        return _add_on_disk(index, reps, rows, config["ivf_file"], step, progress)
    for start in progress_bar(range(0, rows.size, step), desc=f"indexing ({kind})",
                              progress=progress, unit="chunk"):
        index.add(normalised_rows(reps, rows[start:start + step]))
    return index


def _add_on_disk(index, reps, rows, path, step, progress):
    """Add the unit vectors of ``rows`` to the trained IVF ``index`` with its inverted lists
    in the file ``path``: every vector is assigned to its cell first, then each cell is
    written once, whole (no list grows and moves), reading ``step`` vectors at a time."""
    faiss = import_faiss()
    cells = np.empty(rows.size, dtype=np.int64)
    with progress_bar(total=2 * rows.size, desc="indexing (ivf on disk)", progress=progress,
                      unit="object") as bar:
        for start in range(0, rows.size, step):
            part = rows[start:start + step]
            cells[start:start + step] = index.quantizer.assign(normalised_rows(reps, part), 1)[:, 0]
            bar.update(part.size)
        order = np.argsort(cells, kind="stable")  # positions in the index, grouped by cell
        bounds = np.searchsorted(cells[order], np.arange(index.nlist + 1))
        invlists = faiss.OnDiskInvertedLists(index.nlist, index.code_size, path)
        with _quiet_stdout():  # faiss prints a line each time the file grows
            lo = 0
            while lo < index.nlist:
                # whole cells, about ``step`` vectors
                hi = max(lo + 1, int(np.searchsorted(bounds, bounds[lo] + step, "right")) - 1)
                hi = min(hi, index.nlist)
                pos = order[bounds[lo]:bounds[hi]]
                by_row = np.argsort(pos, kind="stable")  # read the rows in file order
                vec = np.empty((pos.size, reps.shape[1]), dtype=np.float32)
                vec[by_row] = normalised_rows(reps, rows[pos[by_row]])
                for c in range(lo, hi):
                    a, b = bounds[c] - bounds[lo], bounds[c + 1] - bounds[lo]
                    if b > a:
                        ids = np.ascontiguousarray(pos[a:b], dtype=np.int64)
                        codes = np.ascontiguousarray(vec[a:b]).view(np.uint8)
                        invlists.add_entries(c, int(b - a), faiss.swig_ptr(ids),
                                             faiss.swig_ptr(codes))
                bar.update(pos.size)
                lo = hi
    index.replace_invlists(invlists, True)
    invlists.this.disown()  # the index owns its lists now
    index.ntotal = rows.size
    return index


class _quiet_stdout:
    """Silence the C-level standard output (file descriptor 1, where faiss prints its own
    messages) inside the block."""

    def __enter__(self):
        import sys

        sys.stdout.flush()
        self._saved = os.dup(1)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)
        return self

    def __exit__(self, *exc):
        import ctypes

        try:  # what C buffered inside the block goes to the null device
            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):
            pass
        os.dup2(self._saved, 1)
        os.close(self._saved)
        os.close(self._null)
