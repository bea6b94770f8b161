# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Figures of similarity search and anomaly detection: neighbour grids, UMAP maps."""

import numpy as np

from ._rgb import lupton_rgb

__all__ = ["plot_neighbors", "plot_umap", "plot_anomalies"]


def _check_catalog(catalog, name="catalog"):
    from ..cutouts import CutoutCatalog

    if not isinstance(catalog, CutoutCatalog):
        raise TypeError(f"{name} must be a CutoutCatalog, got {type(catalog).__name__}")
    return catalog


def _rgb(image, bands, rgb, stretch, Q, crop=None):
    """Lupton composite of one (C, H, W) image, optionally of its central crop x crop."""
    image = np.asarray(image, dtype=np.float32)
    size = image.shape[-1]
    if crop is not None and crop < size:
        y0, x0 = (image.shape[-2] - crop) // 2, (size - crop) // 2
        image = image[:, y0:y0 + crop, x0:x0 + crop]
    return lupton_rgb(image, bands, rgb=rgb, stretch=stretch, Q=Q)


def _outline(ax, size, crop, color="w"):
    """Outline the central crop x crop pixels of a size x size image shown with imshow
    (the pixels `galssl.augment.crop` keeps)."""
    from matplotlib.patches import Rectangle

    if crop is None or crop >= size:
        return
    x0 = (size - crop) // 2 - 0.5
    ax.add_patch(Rectangle((x0, x0), crop, crop, fill=False, edgecolor=color, lw=0.8,
                           ls="--"))


def _blank(ax, text):
    ax.set_facecolor("0.15")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, color="w", ha="center", va="center",
            fontsize=7)


def _query_images(queries):
    """(B, C, H, W) images of image queries, else None."""
    from ..cutouts import CutoutCatalog

    if isinstance(queries, CutoutCatalog):
        return queries.images
    if hasattr(queries, "detach"):
        queries = queries.detach().cpu().numpy()
    if isinstance(queries, np.ndarray) and queries.dtype.kind == "f" and queries.ndim in (3, 4):
        return queries[None] if queries.ndim == 3 else queries
    return None


def plot_neighbors(search_or_table, catalog, queries=None, k=8, *, crop=None, rgb="irg",
                   stretch=0.5, Q=8, figsize_per_panel=1.4):
    """Galaxies and their most similar neighbours: one row per query.

    The first column shows the query, the next ones its ``k`` neighbours by decreasing
    similarity (printed on each panel), as Lupton et al. (2004) colour composites (i, r, g
    as red, green, blue). A dashed square outlines the central region the encoder sees.

    Parameters
    ----------
    search_or_table : `~galssl.search.SimilaritySearch` or `~astropy.table.QTable`
        A search, which is queried here (with ``exclude_self=True``: the query object is
        shown in the first column, not among its neighbours), or the table returned by
        `SimilaritySearch.query <galssl.search.SimilaritySearch.query>`.
    catalog : `~galssl.cutouts.CutoutCatalog`
        The searched objects (row ``i`` of the search is row ``i`` of the catalogue).
    queries : optional
        With a search: anything `SimilaritySearch.query
        <galssl.search.SimilaritySearch.query>` accepts (rows, images, SkyCoord...). With
        a table: the values of its ``query`` column to show (default all).
    k : int, optional
        Neighbours per query.
    crop : int, optional
        Side of the outlined central region; default the search encoder's crop, else 64
        (the encoder input of Hayat et al. 2021). Nothing is outlined when the cutouts are
        not larger.
    rgb, stretch, Q : optional
        As in `~galssl.visualization.lupton_rgb`.
    figsize_per_panel : float, optional

    Returns
    -------
    `matplotlib.figure.Figure`
        ``n_queries`` x ``(k + 1)`` image panels. A query that is a representation vector,
        or a query not in the catalogue, gets a blank first panel.
    """
    import matplotlib.pyplot as plt
    from astropy.table import Table

    from ..search import SimilaritySearch
    from ..search import positive_int

    _check_catalog(catalog)
    k = positive_int(k, "k")
    query_images = None
    if isinstance(search_or_table, SimilaritySearch):
        search = search_or_table
        if queries is None:
            raise ValueError("queries are needed to query a SimilaritySearch")
        if len(search) != len(catalog):
            raise ValueError(f"the search has {len(search)} rows, the catalogue "
                             f"{len(catalog)}")
        result = search.query(queries, k=k, exclude_self=True)
        query_images = _query_images(queries)
        if crop is None and search.encoder is not None:
            crop = search.encoder.config["crop"]
        ids = np.arange(int(result["query"].max()) + 1) if len(result) else np.arange(0)
    elif isinstance(search_or_table, Table):
        result = search_or_table
        missing = [c for c in ("query", "rank", "index", "similarity")
                   if c not in result.colnames]
        if missing:
            raise ValueError(f"the table lacks the columns {missing} of a "
                             "SimilaritySearch.query result")
        ids = np.unique(np.asarray(result["query"])) if queries is None else \
            np.atleast_1d(np.asarray(queries, dtype=np.int64))
    else:
        raise TypeError(f"search_or_table must be a SimilaritySearch or a query table, got "
                        f"{type(search_or_table).__name__}")
    if len(ids) == 0:
        raise ValueError("no queries to show")
    crop = 64 if crop is None else positive_int(crop, "crop")
    qcol = np.asarray(result["query"])
    rank = np.asarray(result["rank"])
    index = np.asarray(result["index"])
    sim = np.asarray(result["similarity"])
    qindex = np.asarray(result["query_index"]) if "query_index" in result.colnames else None
    if index.size and (index.max() >= len(catalog) or index.min() < 0):
        raise ValueError("the table's index column points beyond the catalogue")

    ncols = k + 1
    fig, axes = plt.subplots(len(ids), ncols, squeeze=False,
                             figsize=(figsize_per_panel * ncols,
                                      figsize_per_panel * len(ids)))
    size = catalog.size
    for row, q in enumerate(ids):
        sel = np.flatnonzero(qcol == q)
        sel = sel[np.argsort(rank[sel], kind="stable")]
        own = int(qindex[sel[0]]) if qindex is not None and sel.size else None
        if own is not None:
            sel = sel[index[sel] != own]
        sel = sel[:k]
        ax = axes[row, 0]
        if own is not None:
            image = catalog.images[own]
            label = f"query #{own}"
        elif query_images is not None:
            image = np.asarray(query_images[int(q)])
            label = "query"
        else:
            image, label = None, f"query {int(q)}"
        if image is None:
            _blank(ax, label)
        else:
            ax.imshow(_rgb(image, catalog.bands, rgb, stretch, Q), origin="lower")
            _outline(ax, image.shape[-1], crop)
            ax.text(0.04, 0.96, label, transform=ax.transAxes, color="w", va="top",
                    fontsize=7)
        for col, j in enumerate(sel, start=1):
            ax = axes[row, col]
            ax.imshow(_rgb(catalog.images[index[j]], catalog.bands, rgb, stretch, Q),
                      origin="lower")
            _outline(ax, size, crop)
            ax.text(0.04, 0.96, f"#{index[j]}", transform=ax.transAxes, color="w",
                    va="top", fontsize=7)
            ax.text(0.04, 0.04, f"{sim[j]:.3f}", transform=ax.transAxes, color="w",
                    va="bottom", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for col in range(1, ncols):
        axes[0, col].set_title(f"{col}", fontsize=8)
    fig.subplots_adjust(wspace=0.03, hspace=0.03)
    return fig


def _colour_values(color, catalog, n):
    """(values (n,) float, label) of ``color``: a table column name or an array."""
    if color is None:
        return None, None
    if isinstance(color, str):
        if catalog is None:
            raise ValueError(f"color={color!r} names a column, but no catalogue was given")
        if color not in catalog.table.colnames:
            raise KeyError(f"the catalogue has no column {color!r}; its columns are "
                           f"{catalog.table.colnames}")
        col = catalog.table[color]
        unit = getattr(col, "unit", None)
        label = color if unit is None or str(unit) == "" else f"{color} [{unit}]"
        values = col
    else:
        values, label = color, None
    values = np.ma.filled(np.ma.asarray(getattr(values, "value", values), dtype=float), np.nan)
    if values.shape != (n,):
        raise ValueError(f"color must give one value per object ({n}), got shape "
                         f"{values.shape}")
    return values, label


def plot_umap(representations, catalog=None, *, color=None, thumbnails=True, grid=20, seed=0,
              embedding=None, n_neighbors=15, min_dist=0.1, thumb_crop=64, cmap="viridis",
              point_size=4.0, rgb="irg", stretch=0.5, Q=8, figsize=None):
    """A UMAP map of the representation space, with galaxy thumbnails.

    Left: every object at its UMAP position (`~galssl.search.umap_embedding`), coloured by
    ``color``. Right (with ``thumbnails`` and a catalogue): the plane divided into
    ``grid`` x ``grid`` cells and, in every occupied cell, the colour image of the object
    nearest the cell centre, as in Hayat et al. (2021), Figure 2.

    Parameters
    ----------
    representations : array-like
        (N, D) representations (rows without one are not shown).
    catalog : `~galssl.cutouts.CutoutCatalog`, optional
        The objects, for thumbnails and ``color`` columns.
    color : str or array-like, optional
        A column of ``catalog.table`` (e.g. ``"redshift"``) or (N,) values.
    thumbnails : bool, optional
        Draw the thumbnail map (needs ``catalog``).
    grid : int, optional
        Cells per side of the thumbnail map.
    seed : int, optional
        Seed of UMAP.
    embedding : array-like, optional
        (N, 2) coordinates computed before (`~galssl.search.umap_embedding`); UMAP is then
        not run again (it takes a while the first time in a session).
    n_neighbors, min_dist : optional
        UMAP parameters.
    thumb_crop : int or None, optional
        Thumbnails show the central ``thumb_crop`` pixels (the region the encoder sees);
        None shows whole cutouts.
    cmap, point_size : optional
        Colour map and marker size of the scatter plot.
    rgb, stretch, Q : optional
        As in `~galssl.visualization.lupton_rgb`.
    figsize : (float, float), optional

    Returns
    -------
    `matplotlib.figure.Figure`
        Its first axes is the scatter plot; with thumbnails, the second is the thumbnail
        map (one image per occupied cell); with ``color``, the colour bar comes last.

    References
    ----------
    Hayat, M. A., Stein, G., Harrington, P., Lukic, Z. & Mustafa, M. 2021, ApJL 911, L33.
    """
    import matplotlib.pyplot as plt

    from ..search import umap_embedding
    from ..search import as_representations, positive_int

    reps = as_representations(representations)
    n = len(reps)
    if catalog is not None:
        _check_catalog(catalog)
        if len(catalog) != n:
            raise ValueError(f"the catalogue has {len(catalog)} rows, the representations {n}")
    if thumbnails and catalog is None:
        raise ValueError("thumbnails need the catalogue of the images (catalog=...), or "
                         "pass thumbnails=False")
    grid = positive_int(grid, "grid")
    values, label = _colour_values(color, catalog, n)
    if embedding is None:
        emb = umap_embedding(reps, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed)
    else:
        emb = np.asarray(embedding, dtype=float)
        if emb.shape != (n, 2):
            raise ValueError(f"embedding must have shape ({n}, 2), got {emb.shape}")
    ok = np.isfinite(emb).all(axis=1)
    if not ok.any():
        raise ValueError("no object has finite embedding coordinates")

    ncols = 2 if thumbnails else 1
    fig, axes = plt.subplots(1, ncols, squeeze=False,
                             figsize=figsize or (5.2 * ncols, 4.8))
    ax = axes[0, 0]
    if values is None:
        ax.scatter(emb[ok, 0], emb[ok, 1], s=point_size, color="C0", lw=0)
    else:
        sc = ax.scatter(emb[ok, 0], emb[ok, 1], c=values[ok], s=point_size, cmap=cmap, lw=0,
                        plotnonfinite=True)
        cb = fig.colorbar(sc, ax=ax)
        if label is not None:
            cb.set_label(label)
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")

    if thumbnails:
        tax = axes[0, 1]
        rows = np.flatnonzero(ok)
        chosen, cells = _thumbnail_cells(emb[rows], grid)
        (x0, x1), (y0, y1) = cells
        wx, wy = (x1 - x0) / grid, (y1 - y0) / grid
        for row, (i, j) in zip(rows[chosen[:, 0]], chosen[:, 1:]):
            tax.imshow(_rgb(catalog.images[row], catalog.bands, rgb, stretch, Q,
                            crop=thumb_crop),
                       origin="lower", aspect="auto", interpolation="nearest",
                       extent=(x0 + i * wx, x0 + (i + 1) * wx, y0 + j * wy, y0 + (j + 1) * wy))
        tax.set_xlim(x0, x1)
        tax.set_ylim(y0, y1)
        tax.set_facecolor("k")
        tax.set_xlabel("UMAP 1")
        tax.set_title(f"{len(chosen)} cells of {grid} x {grid}", fontsize=9)
    fig.tight_layout()
    return fig


def _thumbnail_cells(xy, grid):
    """The object nearest the centre of every occupied cell of a ``grid`` x ``grid`` binning
    of the points ``xy`` (M, 2).

    Returns
    -------
    chosen : ndarray
        (n_cells, 3) int: position in ``xy`` of the chosen object, and the cell's column i
        and row j (0-based, from the lower left).
    limits : tuple
        ((x0, x1), (y0, y1)), the binned area (the points' range, widened by half a cell).
    """
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - 0.5 * span / grid, hi + 0.5 * span / grid
    width = (hi - lo) / grid
    ij = np.clip(np.floor((xy - lo) / width).astype(int), 0, grid - 1)
    centre = lo + (ij + 0.5) * width
    dist = np.hypot(*((xy - centre) / width).T)
    cell = ij[:, 0] * grid + ij[:, 1]
    order = np.lexsort((np.arange(len(xy)), dist, cell))
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]]
    return (np.column_stack([first, ij[first]]),
            ((lo[0], hi[0]), (lo[1], hi[1])))


def plot_anomalies(catalog, scores_or_table, n=16, *, ncols=8, rgb="irg", stretch=0.5, Q=8,
                   figsize_per_panel=1.4):
    """The most anomalous objects with their scores, most anomalous first.

    Parameters
    ----------
    catalog : `~galssl.cutouts.CutoutCatalog`
    scores_or_table : array-like or `~astropy.table.Table`
        (N,) anomaly scores, one per catalogue row (`~galssl.search.anomaly_scores`; NaN
        are never shown), or the table of `~galssl.search.top_anomalies` (its first ``n``
        rows are shown in its order).
    n : int, optional
        Number of objects.
    ncols : int, optional
    rgb, stretch, Q : optional
        As in `~galssl.visualization.lupton_rgb`.
    figsize_per_panel : float, optional

    Returns
    -------
    `matplotlib.figure.Figure`
        One image panel per object (row and score printed on it), blank panels after.
    """
    import matplotlib.pyplot as plt
    from astropy.table import Table

    from ..search import positive_int

    _check_catalog(catalog)
    n = positive_int(n, "n")
    ncols = positive_int(ncols, "ncols")
    if isinstance(scores_or_table, Table):
        missing = [c for c in ("index", "anomaly_score") if c not in scores_or_table.colnames]
        if missing:
            raise ValueError(f"the table lacks the columns {missing} of top_anomalies")
        rows = np.asarray(scores_or_table["index"], dtype=np.int64)[:n]
        scores = np.asarray(scores_or_table["anomaly_score"], dtype=float)[:n]
        if rows.size and (rows.min() < 0 or rows.max() >= len(catalog)):
            raise ValueError("the table's index column points beyond the catalogue")
    else:
        all_scores = np.asarray(scores_or_table, dtype=float)
        if all_scores.shape != (len(catalog),):
            raise ValueError(f"scores must be one per catalogue row ({len(catalog)}), got "
                             f"shape {all_scores.shape}")
        finite = np.flatnonzero(np.isfinite(all_scores))
        rows = finite[np.argsort(-all_scores[finite], kind="stable")[:n]]
        scores = all_scores[rows]
    if rows.size == 0:
        raise ValueError("no object with a finite anomaly score to show")
    ncols = min(ncols, rows.size)
    nrows = int(np.ceil(rows.size / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(figsize_per_panel * ncols, figsize_per_panel * nrows))
    for ax in axes.ravel():
        ax.set_axis_off()
    for rank, (ax, row, score) in enumerate(zip(axes.ravel(), rows, scores)):
        ax.imshow(_rgb(catalog.images[row], catalog.bands, rgb, stretch, Q), origin="lower")
        ax.text(0.04, 0.96, f"{rank + 1}. #{row}", transform=ax.transAxes, color="w",
                va="top", fontsize=7)
        ax.text(0.04, 0.04, f"{score:.3g}", transform=ax.transAxes, color="w", va="bottom",
                fontsize=7)
    fig.suptitle("most anomalous objects (score)", fontsize=9)
    fig.subplots_adjust(wspace=0.03, hspace=0.03)
    return fig
