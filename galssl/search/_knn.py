# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Validation and normalisation of representations, and exact cosine nearest neighbours."""

import numpy as np

from ..utils._validate import check_positive_int as positive_int  # noqa: F401

__all__ = ["import_faiss", "as_representations", "usable_rows", "normalised",
           "exact_knn", "positive_int"]

#: Rows handled at once when scanning or normalising representations (bounds the memory of
#: temporaries for catalogues of millions of objects).
CHUNK = 8192


def import_faiss():
    """The faiss module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError:
        raise ImportError("similarity search needs faiss: pip install faiss-cpu (or faiss-gpu "
                          "with CUDA), or galssl's extra: pip install '.[search]' in its "
                          "folder") from None
    return faiss


def as_representations(representations, name="representations"):
    """(N, D) float32 view of ``representations`` (copied only when not float32 already).

    Raises TypeError for non-numeric input and ValueError for a wrong shape or no rows.
    """
    if hasattr(representations, "detach"):  # a torch tensor, without importing torch
        representations = representations.detach().cpu().numpy()
    arr = np.asarray(representations)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric (N, D) array, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, one row per object, got shape "
                         f"{arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (no rows)")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has rows of dimension D = 0")
    return arr


def usable_rows(representations):
    """Boolean mask of the rows whose representation is finite and not all zeros (the
    only ones with a direction, hence a cosine similarity)."""
    n = len(representations)
    out = np.empty(n, dtype=bool)
    for start in range(0, n, CHUNK):
        block = np.asarray(representations[start:start + CHUNK])
        out[start:start + len(block)] = np.isfinite(block).all(axis=1) & (block != 0).any(axis=1)
    return out


def normalised(block):
    """Rows of ``block`` scaled to unit L2 norm, as C-contiguous float32 (norms computed in
    float64, so large values do not overflow). Rows must be finite and non-zero."""
    b = np.asarray(block, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", b, b))
    return np.ascontiguousarray(b / norms[:, None], dtype=np.float32)


def normalised_rows(representations, rows):
    """`normalised` ``representations[rows]``, in chunks."""
    out = np.empty((len(rows), representations.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), CHUNK):
        out[start:start + CHUNK] = normalised(representations[rows[start:start + CHUNK]])
    return out


def drop_excluded(sims, labels, exclude, k):
    """Remove from each row of (Q, k + 1) results the entry ``exclude[q]`` (or, when it is
    absent, the last one), leaving (Q, k)."""
    # each database entry appears at most once per row, so exactly one entry goes
    drop = labels == np.asarray(exclude)[:, None]
    drop[~drop.any(axis=1), -1] = True
    keep = ~drop
    q = len(labels)
    return sims[keep].reshape(q, k), labels[keep].reshape(q, k)


def exact_knn(database, queries, k, *, exclude=None):
    """Exact k nearest neighbours by inner product (cosine for unit vectors).

    Parameters
    ----------
    database, queries : ndarray
        (M, D) and (Q, D) float32 unit vectors.
    k : int
        Neighbours per query (at most M, or M - 1 with ``exclude``).
    exclude : ndarray, optional
        (Q,) position in ``database`` to leave out of each query's neighbours (the query
        object itself).

    Returns
    -------
    sims, labels : ndarray
        (Q, k) float32 inner products, best first, and (Q, k) int64 positions in
        ``database``. Uses faiss (`faiss.IndexFlatIP`) when installed, else numpy (chunked
        matrix products); both are exact.
    """
    kk = k + (exclude is not None)
    if kk > len(database):
        raise ValueError(f"cannot find {k} neighbours among {len(database)} objects")
    try:
        faiss = import_faiss()
    except ImportError:
        sims, labels = _numpy_knn(database, queries, kk)
    else:
        index = faiss.IndexFlatIP(database.shape[1])
        index.add(np.ascontiguousarray(database, dtype=np.float32))
        sims, labels = index.search(np.ascontiguousarray(queries, dtype=np.float32), kk)
    if exclude is not None:
        sims, labels = drop_excluded(sims, labels, exclude, k)
    return sims, labels


def _numpy_knn(database, queries, k):
    """Brute force top-k inner products: chunked matrix products and `numpy.argpartition`."""
    q, m = len(queries), len(database)
    sims = np.empty((q, k), dtype=np.float32)
    labels = np.empty((q, k), dtype=np.int64)
    step = max(1, (1 << 25) // max(m, 1))  # ~128 MB of similarities at a time
    for start in range(0, q, step):
        s = queries[start:start + step] @ database.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < m else \
            np.broadcast_to(np.arange(m), s.shape).copy()
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        sims[start:start + step] = np.take_along_axis(top, order, axis=1)
        labels[start:start + step] = np.take_along_axis(part, order, axis=1)
    return sims, labels
