# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Anomaly scores of galaxies from their representations."""

import numpy as np

from ._knn import (as_representations, drop_excluded, exact_knn, normalised_rows,
                   positive_int, usable_rows)

__all__ = ["anomaly_scores", "top_anomalies"]

_METHODS = ("knn", "isolation_forest")


def anomaly_scores(representations, *, method="knn", k=10, seed=0, n_estimators=100,
                   index="flat"):
    """How unlike the rest of the catalogue each object is, in representation space.

    Parameters
    ----------
    representations : array-like
        (N, D) representations (e.g. `~galssl.ContrastiveEncoder.encode`). Rows that are not
        finite or all zeros get a NaN score and are left out of every other row's
        neighbours or forest.
    method : {"knn", "isolation_forest"}, optional
        ``"knn"``: the mean cosine distance (1 - cosine similarity) to the ``k`` nearest
        *other* objects, computed exactly (faiss when installed, else numpy); an object
        in an empty region of the representation space scores high, and the score lies in
        [0, 2]. ``"isolation_forest"``: the anomaly score of an isolation forest
        (`sklearn.ensemble.IsolationForest`, Liu et al. 2008) fitted on the unit-length
        representations, 2**(-E(h)/c(n)) in (0, 1] with E(h) the mean path length: about
        0.5 for ordinary objects and close to 1 for outliers.
    k : int, optional
        ``"knn"``: number of neighbours (the object itself excluded).
    seed : int, optional
        ``"isolation_forest"``: random state of the forest (the k-NN score is deterministic).
    n_estimators : int, optional
        ``"isolation_forest"``: number of trees.
    index : {"flat", "ivf", "hnsw"}, optional
        ``"knn"``: how the neighbours are found. ``"flat"`` (default) is exact, and costs
        N^2 D operations: minutes for 10^5 objects, hours for 10^6 on a few CPU cores.
        ``"ivf"`` and ``"hnsw"`` search a `~galssl.search.SimilaritySearch` index of that
        kind (default settings), approximately: a neighbour missed is replaced by a less
        similar one, so scores tend to come out higher than the exact ones. Needs faiss.

    Returns
    -------
    ndarray
        (N,) float64 scores, higher = more anomalous, one per input row in order; NaN for
        rows without a representation.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.search import anomaly_scores
    >>> rng = np.random.default_rng(0)
    >>> reps = rng.normal([5.0] + [0.0] * 7, 0.3, size=(200, 8))
    >>> reps[17] = rng.normal(size=8) * 5            # one object unlike the others
    >>> int(np.argmax(anomaly_scores(reps, k=5)))
    17

    References
    ----------
    Liu, F. T., Ting, K. M. & Zhou, Z.-H. 2008, Proc. IEEE ICDM, 413 (isolation forest).
    """
    reps = as_representations(representations)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    if index not in ("flat", "ivf", "hnsw"):
        raise ValueError(f"index must be 'flat', 'ivf' or 'hnsw', got {index!r}")
    k = positive_int(k, "k")
    n_estimators = positive_int(n_estimators, "n_estimators")
    rows = np.flatnonzero(usable_rows(reps))
    scores = np.full(len(reps), np.nan)
    if method == "knn":
        if rows.size < k + 1:
            raise ValueError(f"k={k} needs at least {k + 1} rows with representations, got "
                             f"{rows.size}")
        x = normalised_rows(reps, rows)
        if index == "flat":
            sims, _ = exact_knn(x, x, k, exclude=np.arange(rows.size))
        else:
            sims = _approximate_knn(x, k, index, seed)
        dist = 1.0 - sims.astype(np.float64)
        found = np.isfinite(dist)
        with np.errstate(invalid="ignore", divide="ignore"):  # none found: NaN
            scores[rows] = np.where(found, dist, 0.0).sum(axis=1) / found.sum(axis=1)
    else:
        from sklearn.ensemble import IsolationForest

        if rows.size < 2:
            raise ValueError(f"an isolation forest needs at least 2 rows with "
                             f"representations, got {rows.size}")
        x = normalised_rows(reps, rows)
        forest = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(x)
        scores[rows] = -forest.score_samples(x)
    return scores


def _approximate_knn(x, k, index, seed):
    """(M, k) similarities of the k nearest other rows of the unit vectors ``x`` from an
    approximate index; NaN where the index returned fewer."""
    from ._search import SimilaritySearch

    search = SimilaritySearch(x, index=index, seed=seed, progress=False)
    kk = min(k + 1, len(x))
    sims, labels = search.index.search(x, kk)
    sims = np.where(labels >= 0, sims, np.nan)
    sims, _ = drop_excluded(sims, labels, np.arange(len(x)), kk - 1)
    return sims


def top_anomalies(representations, table=None, n=20, **kwargs):
    """The ``n`` most anomalous objects, most anomalous first.

    Parameters
    ----------
    representations : array-like
        (N, D) representations.
    table : `~astropy.table.Table`, optional
        One row per representation (e.g. ``catalog.table``); its columns are joined.
    n : int, optional
        Number of objects (fewer if fewer have a representation).
    **kwargs
        Passed to `anomaly_scores` (``method``, ``k``, ``seed``...).

    Returns
    -------
    `~astropy.table.QTable`
        ``index`` (row of the object), ``anomaly_score``, then the table's columns (a table
        column named ``index`` or ``anomaly_score`` is renamed with the suffix ``_table``);
        sorted by decreasing score (ties in row order). ``meta["galssl_anomaly"]`` records
        the method and its parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.search import top_anomalies
    >>> rng = np.random.default_rng(0)
    >>> reps = rng.normal([5.0] + [0.0] * 7, 0.3, size=(200, 8))
    >>> reps[[17, 90]] = rng.normal(size=(2, 8)) * 5
    >>> sorted(top_anomalies(reps, n=2, k=5)["index"].tolist())
    [17, 90]
    """
    from astropy.table import QTable, Table

    from .. import __version__

    n = positive_int(n, "n")
    reps = as_representations(representations)
    if table is not None:
        if not isinstance(table, Table):
            raise TypeError(f"table must be an astropy Table or None, got "
                            f"{type(table).__name__}")
        if len(table) != len(reps):
            raise ValueError(f"table has {len(table)} rows but there are {len(reps)} "
                             "representations")
    scores = anomaly_scores(reps, **kwargs)
    rows = np.flatnonzero(np.isfinite(scores))
    top = rows[np.argsort(-scores[rows], kind="stable")[:n]]
    out = QTable()
    out["index"] = top.astype(np.int64)
    out["index"].info.description = "row of the object"
    out["anomaly_score"] = scores[top]
    out["anomaly_score"].info.description = "anomaly score, higher = more anomalous"
    if table is not None:
        sub = QTable(table[top])
        for name in sub.colnames:
            out[name + "_table" if name in ("index", "anomaly_score") else name] = sub[name]
        out.meta.update(table.meta)
    params = {"method": "knn", "k": 10, "seed": 0, "n_estimators": 100, "index": "flat",
              **kwargs}
    out.meta["galssl_anomaly"] = {"galssl_version": __version__, "n": n, **params}
    return out
