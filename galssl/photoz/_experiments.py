# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The seed's label-efficiency experiment and a colour-only baseline."""

import time

import numpy as np

__all__ = ["label_efficiency", "aperture_colours", "ColourBaseline", "labels_saved"]


def aperture_colours(catalog, *, radius=3.0, bands=None, progress=True):
    """Dereddened aperture magnitudes and colours measured on the cutouts with photutils.

    A circular aperture of ``radius`` arcsec (default 3", the SDSS fibre diameter) at the
    cutout centre in every band; fluxes in nanomaggies are dereddened with the SF11
    coefficients and the catalogue's ``ebv`` column and turned into AB magnitudes
    (22.5 - 2.5 log10 f, clipped at 0.01 nanomaggies).

    Returns
    -------
    `~astropy.table.Table`
        ``mag_<b>`` per band and the adjacent colours ``<b1>-<b2>``, one row per input row
        (NaN where the image has no data).
    """
    from astropy.table import Table
    from photutils.aperture import CircularAperture, aperture_photometry

    from ..dust import extinction_coefficients
    from ..ssl._data import as_image_source
    from ..utils._progress import progress_bar

    images, ebv, _ = as_image_source(catalog)
    bands = list(bands or getattr(catalog, "bands", "ugriz"))
    scale = getattr(catalog, "pixel_scale", 0.396)
    n = len(images)
    size = images.shape[-1] if n else 1
    aper = CircularAperture([((size - 1) / 2.0, (size - 1) / 2.0)], r=radius / scale)
    flux = np.full((n, len(bands)), np.nan)
    for s in progress_bar(range(0, n, 512), desc="aperture photometry", progress=progress,
                          unit="batch"):
        block = np.asarray(images[s:s + 512], dtype=np.float64)
        for i, img in enumerate(block):
            for b in range(len(bands)):
                if np.isfinite(img[b]).any():
                    flux[s + i, b] = aperture_photometry(
                        np.nan_to_num(img[b]), aper)["aperture_sum"][0]
    coeff = extinction_coefficients(bands)
    e = np.zeros(n) if ebv is None else np.nan_to_num(np.asarray(ebv, dtype=float))
    flux = flux * 10 ** (0.4 * coeff[None, :] * e[:, None])
    mag = 22.5 - 2.5 * np.log10(np.clip(flux, 0.01, None))
    t = Table({f"mag_{b}": mag[:, i] for i, b in enumerate(bands)})
    for b1, b2 in zip(bands[:-1], bands[1:]):
        t[f"{b1}-{b2}"] = t[f"mag_{b1}"] - t[f"mag_{b2}"]
    return t


class ColourBaseline:
    """k-nearest-neighbour photo-z from aperture colours and the r magnitude: what the
    photometry alone gives, to compare with the images.

    Features: the adjacent colours and ``mag_r`` (standardised); z_phot is the mean redshift
    of the ``k`` nearest training objects, weighted by inverse distance.
    """

    def __init__(self, k=10):
        self.k = int(k)

    @staticmethod
    def _features(t):
        cols = [c for c in t.colnames if "-" in c] + ["mag_r"]
        return np.column_stack([np.asarray(t[c], dtype=float) for c in cols])

    def fit(self, colours, z):
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = self._features(colours)
        ok = np.isfinite(x).all(axis=1) & np.isfinite(z)
        self.model = make_pipeline(StandardScaler(), KNeighborsRegressor(
            n_neighbors=min(self.k, int(ok.sum())), weights="distance"))
        self.model.fit(x[ok], np.asarray(z, dtype=float)[ok])
        return self

    def predict(self, colours):
        x = self._features(colours)
        out = np.full(len(x), np.nan)
        ok = np.isfinite(x).all(axis=1)
        if ok.any():
            out[ok] = self.model.predict(x[ok])
        return out


def label_efficiency(encoder, train, test, *, fractions=(0.025, 0.0625, 0.125, 0.25, 0.5, 1.0),
                     redshift="redshift", epochs=100, batch_size=256, seed=0,
                     methods=("supervised", "finetuned", "colours"), estimator_kwargs=None,
                     min_steps=0, predictions=False, progress=True, **fit_kwargs):
    """Photo-z quality versus the number of labels, for the methods of Hayat et al. (2021).

    At each fraction of the labelled training set (the same random subset for every
    method), trains the supervised baseline (`PhotoZEstimator` from scratch), the model
    fine-tuned from ``encoder``, and the colour-only `ColourBaseline`; evaluates them on
    ``test`` (rows with complete images and z in [z_min, z_max]).

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder` or None
        The pretrained encoder ("finetuned" needs it).
    train, test : `~galssl.cutouts.CutoutCatalog`
    fractions : sequence of float
    epochs, batch_size, seed : optional
        Of every network training.
    min_steps : int, optional
        Train small subsets for more epochs, so that every training makes at least this many
        optimiser steps (the epochs used are in the ``epochs`` column).
    methods : sequence of str
        Any of "supervised", "finetuned", "colours".
    estimator_kwargs : dict, optional
        Passed to `PhotoZEstimator`.
    predictions : bool, optional
        Add the column ``z_phot``: every method's point estimate for every row of ``test``
        (NaN where it made none), for z_phot-z_spec figures
        (`galssl.visualization.plot_zphot_zspec`).
    **fit_kwargs
        Passed to `PhotoZEstimator.fit` (devices, precision, ...).

    Returns
    -------
    `~astropy.table.Table`
        One row per fraction and method: ``fraction``, ``n_labels``, ``method``,
        ``epochs``, ``sigma_mad``, ``eta``, ``bias``, ``n_test``, ``seconds`` (and
        ``z_phot`` with ``predictions=True``). Plot it with
        `galssl.visualization.plot_label_efficiency`.
    """
    from astropy.table import Table

    from . import metrics
    from ._estimator import PhotoZEstimator

    unknown = set(methods) - {"supervised", "finetuned", "colours"}
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}")
    if "finetuned" in methods and encoder is None:
        raise ValueError("method 'finetuned' needs a pretrained encoder")
    kw = dict(estimator_kwargs or {})
    probe = PhotoZEstimator(encoder, **kw) if encoder is not None else PhotoZEstimator(**kw)
    z_train = probe._labels(train, redshift)
    z_test = probe._labels(test, redshift)
    c = probe.config
    in_range = np.isfinite(z_test) & (z_test >= c["z_min"]) & (z_test <= c["z_max"])
    test_ok = np.asarray(test.good) & in_range
    usable = np.flatnonzero(np.asarray(train.good) & np.isfinite(z_train))
    colours_train = colours_test = None
    if "colours" in methods:
        colours_train = aperture_colours(train, progress=progress)
        colours_test = aperture_colours(test, progress=progress)
    # the supervised baseline: the same architecture and input as the encoder
    same = {k: encoder.config[k] for k in ("arch", "in_chans", "bands", "crop")} \
        if encoder is not None else {}
    rows, z_phot = [], []
    for frac in fractions:
        rng = np.random.default_rng(seed)
        subset = np.sort(rng.permutation(usable)[:max(2, int(round(frac * len(usable))))])
        bs = min(batch_size, len(subset))
        n_epochs = max(int(epochs), int(np.ceil(min_steps / np.ceil(len(subset) / bs))))
        for method in methods:
            t0 = time.time()
            if method == "colours":
                zp = ColourBaseline().fit(colours_train[subset], z_train[subset]) \
                    .predict(colours_test)
            else:
                pz = PhotoZEstimator(encoder, **kw) if method == "finetuned" else \
                    PhotoZEstimator(**same, **kw)
                pz.fit(train[subset], redshift=z_train[subset], epochs=n_epochs,
                       batch_size=bs, seed=seed, progress=progress, **fit_kwargs)
                zp = np.asarray(pz.predict(test, progress=False)["z_phot"])
            sel = test_ok & np.isfinite(zp)
            z_phot.append(np.where(np.isfinite(zp), zp, np.nan).astype(np.float32))
            rows.append((frac, len(subset), method, 0 if method == "colours" else n_epochs,
                         metrics.sigma_mad(zp[sel], z_test[sel]),
                         metrics.outlier_fraction(zp[sel], z_test[sel]),
                         metrics.bias(zp[sel], z_test[sel]), int(sel.sum()),
                         round(time.time() - t0, 1)))
    table = Table(rows=rows, names=("fraction", "n_labels", "method", "epochs", "sigma_mad",
                                    "eta", "bias", "n_test", "seconds"))
    if predictions:
        table["z_phot"] = np.array(z_phot).reshape(len(rows), len(test))
    return table


def labels_saved(table, *, reference="supervised", method="finetuned", metric="sigma_mad"):
    """The seed's read-off: for each fraction of ``method``, how many times more labels
    ``reference`` needs for the same ``metric`` (log-log interpolation of the reference
    curve; NaN outside its range).

    Returns
    -------
    `~astropy.table.Table`
        ``n_labels``, ``metric`` of ``method``, ``n_labels_reference`` (interpolated) and
        ``factor`` (their ratio).

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.photoz import labels_saved
    >>> t = Table(rows=[(100, "supervised", 0.04), (1000, "supervised", 0.02),
    ...                 (100, "finetuned", 0.02)], names=("n_labels", "method", "sigma_mad"))
    >>> round(float(labels_saved(t)["factor"][0]), 6)
    10.0
    """
    from astropy.table import Table

    ref = table[table["method"] == reference]
    ref = ref[np.argsort(ref["n_labels"])]
    m = table[table["method"] == method]
    x = np.log(np.asarray(ref["n_labels"], dtype=float))
    y = np.asarray(ref[metric], dtype=float)
    out = []
    for row in m:
        v = row[metric]
        n_ref = np.nan
        # walk the reference curve for the first segment that reaches the value v
        for i in range(len(y) - 1):
            lo, hi = sorted((y[i], y[i + 1]))
            if lo <= v <= hi and y[i] != y[i + 1]:
                t = (v - y[i]) / (y[i + 1] - y[i])
                n_ref = float(np.exp(x[i] + t * (x[i + 1] - x[i])))
                break
        out.append((int(row["n_labels"]), float(v), n_ref, n_ref / row["n_labels"]))
    return Table(rows=out, names=("n_labels", metric, "n_labels_reference", "factor"))
