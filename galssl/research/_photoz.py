# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The seed's label-efficiency experiment and a colour-only baseline."""

import time

import numpy as np

from ..nn import APERTURE_RADII_ARCSEC
from ..utils._deprecate import renamed_argument

__all__ = ["label_efficiency", "aperture_colors", "aperture_features", "magnitude_table",
           "ColorBaseline", "labels_saved", "seed_summary", "METHODS"]

#: The methods of `label_efficiency`.
METHODS = ("supervised", "finetuned", "linear", "colours", "apertures", "ceiling")


def aperture_colors(catalog, *, radius=3.0, bands=None, progress=True):
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
    (table,) = _aperture_tables(catalog, [radius], bands, progress)
    return table


def _aperture_tables(catalog, radii, bands, progress):
    """One `magnitude_table` per radius (arcsec), all apertures measured in one pass over
    the images (each band image read and given to photutils once)."""
    from photutils.aperture import CircularAperture, aperture_photometry

    from ..engine import as_image_source
    from ..utils._progress import progress_bar

    images, ebv, _ = as_image_source(catalog)
    bands = list(bands or getattr(catalog, "bands", "ugriz"))
    from ..surveys import pixel_scale_of

    # a catalogue knows its pixel scale; bare images are on their bands' survey's grid
    scale = pixel_scale_of(bands, getattr(catalog, "pixel_scale", None))
    n = len(images)
    size = images.shape[-1] if n else 1
    centre = [((size - 1) / 2.0, (size - 1) / 2.0)]
    apers = [CircularAperture(centre, r=r / scale) for r in radii]
    flux = np.full((len(radii), n, len(bands)), np.nan)
    for s in progress_bar(range(0, n, 512), desc="aperture photometry", progress=progress,
                          unit="batch"):
        block = np.asarray(images[s:s + 512], dtype=np.float64)
        for i, img in enumerate(block):
            for b in range(len(bands)):
                if np.isfinite(img[b]).any():
                    sums = aperture_photometry(np.nan_to_num(img[b]), apers)
                    flux[:, s + i, b] = [sums[f"aperture_sum_{k}"][0]
                                         for k in range(len(apers))]
    return [magnitude_table(f, ebv, bands) for f in flux]


def magnitude_table(flux, ebv=None, bands="ugriz"):
    """Dereddened AB magnitudes and adjacent colours of fluxes in nanomaggies, in the
    format of `aperture_colors` (the features of `ColorBaseline`).

    Parameters
    ----------
    flux : array-like, shape (N, n_bands)
        Fluxes in nanomaggies, not corrected for extinction (clipped at 0.01 nanomaggies).
    ebv : array-like, shape (N,), optional
        E(B-V) of each row (SF11 coefficients); None: no dereddening.
    bands : str or sequence, optional

    Examples
    --------
    >>> from galssl.research import magnitude_table
    >>> t = magnitude_table([[1.0, 10.0, 100.0]], bands="gri")
    >>> [round(float(t[c][0]), 3) for c in ("mag_g", "g-r", "r-i")]
    [22.5, 2.5, 2.5]
    """
    from astropy.table import Table

    from ..dust import extinction_coefficients

    bands = list(bands)
    flux = np.asarray(flux, dtype=float)
    if flux.ndim != 2 or flux.shape[1] != len(bands):
        raise ValueError(f"flux must have shape (N, {len(bands)}) for bands "
                         f"{''.join(bands)!r}, got {flux.shape}")
    e = np.zeros(len(flux)) if ebv is None else np.nan_to_num(np.asarray(ebv, dtype=float))
    if e.shape != (len(flux),):
        raise ValueError(f"ebv must have one value per row ({len(flux)}), got shape {e.shape}")
    coeff = extinction_coefficients(bands)
    flux = flux * 10 ** (0.4 * coeff[None, :] * e[:, None])
    mag = 22.5 - 2.5 * np.log10(np.clip(flux, 0.01, None))
    t = Table({f"mag_{b}": mag[:, i] for i, b in enumerate(bands)})
    for b1, b2 in zip(bands[:-1], bands[1:]):
        t[f"{b1}-{b2}"] = t[f"mag_{b1}"] - t[f"mag_{b2}"]
    return t


def aperture_features(catalog, *, radii=APERTURE_RADII_ARCSEC, bands=None, progress=True):
    """Multi-aperture photometry of the cutouts as features of `ColorBaseline`: all that
    the photometry of the images gives, without their shape.

    `aperture_colors` in each aperture of ``radii`` (arcsec): the adjacent colours of
    every aperture (columns ``"<b1>-<b2> <radius>"``), the r magnitude of the middle
    aperture (``mag_r``) and the r-band profile, the magnitude differences between each
    other aperture and the middle one (``"r <radius>-r <middle>"``). With the default
    radii these are 15 numbers per galaxy, the magnitudes of the photometry target of
    `~galssl.nn.PhotometryHead`, in the order `ColorBaseline` reads them.

    Returns
    -------
    `~astropy.table.Table`
        One row per input row (NaN where the image has no data).

    Examples
    --------
    A point source (all its light inside every aperture) with an extra r-band knot 6
    pixels (2.4") from the centre, outside the 1.5" aperture:

    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from galssl.cutouts import CutoutCatalog
    >>> from galssl.research import aperture_features
    >>> img = np.zeros((1, 5, 41, 41), np.float32)
    >>> img[0, :, 20, 20] = [1.0, 2.0, 4.0, 8.0, 16.0]
    >>> img[0, 2, 20, 26] = 4.0
    >>> cat = CutoutCatalog(Table({"ra": [0.0], "dec": [0.0], "ebv": [0.0]}), img)
    >>> t = aperture_features(cat, progress=False)
    >>> len(t.colnames)
    15
    >>> [round(float(t[c][0]), 3) for c in ("g-r 1.5", "g-r 3", "r 1.5-r 3", "r 6-r 3")]
    [0.753, 1.505, 0.753, 0.0]
    """
    from astropy.table import Table

    radii = [float(r) for r in radii]
    if not radii or min(radii) <= 0:
        raise ValueError(f"radii must be positive aperture radii in arcsec, got {radii}")
    middle = radii[len(radii) // 2]
    per = dict(zip(radii, _aperture_tables(catalog, radii, bands, progress)))
    out = Table()
    for r in radii:
        for c in per[r].colnames:
            if "-" in c:
                out[f"{c} {r:g}"] = per[r][c]
    out["mag_r"] = per[middle]["mag_r"]
    for r in radii:
        if r != middle:
            out[f"r {r:g}-r {middle:g}"] = per[r]["mag_r"] - per[middle]["mag_r"]
    return out


class ColorBaseline:
    """Photo-z from colours and the r magnitude alone: what the photometry gives, to
    compare with the images.

    Features: the adjacent colours and ``mag_r`` (tables of `aperture_colors` or
    `magnitude_table`).

    Parameters
    ----------
    k : int, optional
        Neighbours of the kNN regressor.
    regressor : {"knn", "boosting", "best"}, optional
        ``"knn"`` (default): the inverse-distance-weighted mean redshift of the ``k``
        nearest training objects in standardized features. ``"boosting"``: gradient-boosted
        trees (scikit-learn's ``HistGradientBoostingRegressor``) of log(1 + z), stronger
        with many training objects. ``"best"``: whichever of the two gives the lower
        sigma_MAD in a 5-fold cross-validation on the training objects (the choice is in
        ``chosen``); the results page's photometric ceiling.
    seed : int, optional
        Of the boosting's validation split and the cross-validation folds.
    """

    def __init__(self, k=10, *, regressor="knn", seed=0):
        if regressor not in ("knn", "boosting", "best"):
            raise ValueError(f"regressor must be 'knn', 'boosting' or 'best', got "
                             f"{regressor!r}")
        self.k = int(k)
        self.regressor = regressor
        self.seed = int(seed)
        self.chosen = None if regressor == "best" else regressor

    @staticmethod
    def _features(t):
        cols = [c for c in t.colnames if "-" in c] + ["mag_r"]
        return np.column_stack([np.asarray(t[c], dtype=float) for c in cols])

    def _model(self, kind, x, z):
        """A fitted regressor of ``kind`` ("boosting" fits log(1 + z), see `_predict`)."""
        if kind == "boosting":
            from sklearn.ensemble import HistGradientBoostingRegressor

            return HistGradientBoostingRegressor(
                max_iter=500, learning_rate=0.05, early_stopping=len(z) >= 100,
                random_state=self.seed).fit(x, np.log1p(z))
        from sklearn.neighbors import KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), KNeighborsRegressor(
            n_neighbors=min(self.k, len(z)), weights="distance")).fit(x, z)

    def _predict(self, kind, model, x):
        pred = model.predict(x)
        return np.expm1(pred) if kind == "boosting" else pred

    def _cross_validated_choice(self, x, z):
        from ..photoz.metrics import sigma_mad

        rng = np.random.default_rng(self.seed)
        folds = rng.permutation(len(z)) % 5
        score = {}
        for kind in ("knn", "boosting"):
            pred = np.empty(len(z))
            for f in range(5):
                test = folds == f
                model = self._model(kind, x[~test], z[~test])
                pred[test] = self._predict(kind, model, x[test])
            score[kind] = sigma_mad(pred, z)
        return min(score, key=score.get)

    def fit(self, colours, z):
        x = self._features(colours)
        z = np.asarray(z, dtype=float)
        ok = np.isfinite(x).all(axis=1) & np.isfinite(z)
        if ok.sum() < 2:
            raise ValueError(f"ColorBaseline needs at least 2 rows with finite features and "
                             f"redshift, got {int(ok.sum())}")
        if self.regressor == "best":
            self.chosen = self._cross_validated_choice(x[ok], z[ok]) if ok.sum() >= 10 \
                else "knn"
        self.model = self._model(self.chosen, x[ok], z[ok])
        return self

    def predict(self, colours):
        x = self._features(colours)
        out = np.full(len(x), np.nan)
        ok = np.isfinite(x).all(axis=1)
        if ok.any():
            out[ok] = self._predict(self.chosen, self.model, x[ok])
        return out


def label_efficiency(encoder, train, test, *, fractions=(0.025, 0.0625, 0.125, 0.25, 0.5, 1.0),
                     redshift="redshift", epochs=100, batch_size=256, seed=0,
                     methods=("supervised", "finetuned", "colours"), model_kwargs=None,
                     min_steps=0, photometry=None, colours=None, apertures=None,
                     representations=None, predictions=False, progress=True,
                     estimator_kwargs=None, **fit_kwargs):
    """Photo-z quality versus the number of labels, for the methods of Hayat et al. (2021).

    At each fraction of the labelled training set (the same random subset for every
    method), trains each of ``methods`` and evaluates it on ``test`` (rows with complete
    images and z in [z_min, z_max]):

    - ``"supervised"``: `PhotoZEstimator` from scratch, with the encoder's architecture,
      bands, crop and input stretch;
    - ``"finetuned"``: `PhotoZEstimator` fine-tuned from ``encoder``;
    - ``"linear"``: a ridge regression of log(1 + z) on the frozen representations of
      ``encoder`` (penalty by leave-one-out cross-validation);
    - ``"colours"``: the kNN `ColorBaseline` on aperture colours measured on the cutouts;
    - ``"apertures"``: the best of kNN and gradient boosting (chosen as for "ceiling") on
      the 15 numbers of `aperture_features` (colours in 1.5, 3 and 6" apertures, r
      magnitude and profile) measured on the cutouts: what the images' own, noisy
      photometry gives at best;
    - ``"ceiling"``: the best of kNN and gradient boosting (``ColorBaseline(regressor=
      "best")``, chosen by cross-validation on the labelled subset) on ``photometry``, the
      catalogue's own photometry of the same galaxies (for injected galaxies: the
      noiseless magnitudes they were rendered from), what colours can give at best.

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder` or None
        The pretrained encoder ("finetuned" and "linear" need it).
    train, test : `~galssl.cutouts.CutoutCatalog`
    fractions : sequence of float
    epochs, batch_size, seed : optional
        Of every network training; ``seed`` also draws the labelled subsets.
    min_steps : int, optional
        Train small subsets for more epochs, so that every training makes at least this many
        optimiser steps (the epochs used are in the ``epochs`` column).
    methods : sequence of str
        Any of `METHODS`.
    model_kwargs : dict, optional
        Passed to `PhotoZEstimator` (as in `label_count_curve`; ``estimator_kwargs`` is its
        deprecated name, which warns).
    photometry : tuple of two `~astropy.table.Table`, optional
        For "ceiling": ``(train, test)`` tables of `magnitude_table`, one row per row of
        ``train`` and ``test``.
    colours, apertures, representations : tuple, optional
        For "colours", "apertures" and "linear", to reuse across calls: the ``(train,
        test)`` tables of `aperture_colors` and of `aperture_features` and the ``(train,
        test)`` arrays of ``encoder.encode`` (computed here when not given).
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
        ``epochs``, ``sigma_mad``, ``eta``, ``bias``, ``n_test``, ``seconds``, ``seed``
        (and ``z_phot`` with ``predictions=True``). Plot it with
        `galssl.visualization.plot_label_efficiency`.
    """
    from astropy.table import Table

    from ..photoz import PhotoZEstimator, metrics

    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    if {"finetuned", "linear"} & set(methods) and encoder is None:
        raise ValueError("methods 'finetuned' and 'linear' need a pretrained encoder")
    if "ceiling" in methods and photometry is None:
        raise ValueError("method 'ceiling' needs photometry=(train_table, test_table)")
    for what, pair in (("photometry", photometry), ("colours", colours),
                       ("apertures", apertures), ("representations", representations)):
        if pair is None:
            continue
        if len(pair) != 2:
            raise ValueError(f"{what} must be a (train, test) pair")
        for name, tab, cat in (("train", pair[0], train), ("test", pair[1], test)):
            if len(tab) != len(cat):
                raise ValueError(f"{what} of {name} has {len(tab)} rows, the {name} "
                                 f"catalogue {len(cat)}")
    kw = dict(renamed_argument(estimator_kwargs, model_kwargs, "estimator_kwargs",
                               "model_kwargs", "label_efficiency") or {})
    probe = PhotoZEstimator(encoder, **kw) if encoder is not None else PhotoZEstimator(**kw)
    z_train = probe._labels(train, redshift)
    z_test = probe._labels(test, redshift)
    c = probe.config
    in_range = np.isfinite(z_test) & (z_test >= c["z_min"]) & (z_test <= c["z_max"])
    test_ok = np.asarray(test.good) & in_range
    usable = np.flatnonzero(np.asarray(train.good) & np.isfinite(z_train))
    colours_train, colours_test = colours or (None, None)
    apertures_train, apertures_test = apertures or (None, None)
    reps_train, reps_test = representations or (None, None)
    if "apertures" in methods and apertures is None:
        apertures_train = aperture_features(train, progress=progress)
        apertures_test = aperture_features(test, progress=progress)
    if "colours" in methods and colours is None:
        colours_train = aperture_colors(train, progress=progress)
        colours_test = aperture_colors(test, progress=progress)
    if "linear" in methods and representations is None:
        reps_train = encoder.encode(train, progress=progress)
        reps_test = encoder.encode(test, progress=progress)
    if reps_train is not None:
        reps_train, reps_test = np.asarray(reps_train), np.asarray(reps_test)
    # the supervised baseline: the same architecture and input as the encoder
    same = {k: encoder.config.get(k) for k in ("arch", "in_chans", "bands", "crop",
                                               "input_stretch")} \
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
                zp = ColorBaseline().fit(colours_train[subset], z_train[subset]) \
                    .predict(colours_test)
            elif method in ("ceiling", "apertures"):
                ftrain, ftest = photometry if method == "ceiling" else \
                    (apertures_train, apertures_test)
                zp = ColorBaseline(regressor="best", seed=seed) \
                    .fit(ftrain[subset], z_train[subset]).predict(ftest)
            elif method == "linear":
                zp = _linear_photoz(reps_train[subset], z_train[subset], reps_test)
            else:
                pz = PhotoZEstimator(encoder, **kw) if method == "finetuned" else \
                    PhotoZEstimator(**same, **kw)
                pz.fit(train[subset], redshift=z_train[subset], epochs=n_epochs,
                       batch_size=bs, seed=seed, progress=progress, **fit_kwargs)
                zp = np.asarray(pz.predict(test, progress=False)["z_phot"])
            sel = test_ok & np.isfinite(zp)
            z_phot.append(np.where(np.isfinite(zp), zp, np.nan).astype(np.float32))
            network = method in ("supervised", "finetuned")
            rows.append((frac, len(subset), method, n_epochs if network else 0,
                         metrics.sigma_mad(zp[sel], z_test[sel]),
                         metrics.outlier_fraction(zp[sel], z_test[sel]),
                         metrics.bias(zp[sel], z_test[sel]), int(sel.sum()),
                         round(time.time() - t0, 1), int(seed)))
    table = Table(rows=rows, names=("fraction", "n_labels", "method", "epochs", "sigma_mad",
                                    "eta", "bias", "n_test", "seconds", "seed"))
    if predictions:
        table["z_phot"] = np.array(z_phot).reshape(len(rows), len(test))
    return table


def _linear_photoz(reps_train, z_train, reps_test):
    """Ridge regression of log(1 + z) on representations (rows with NaN get NaN)."""
    from ._probe import _ridge

    ok = np.isfinite(reps_train).all(axis=1) & np.isfinite(z_train)
    out = np.full(len(reps_test), np.nan)
    good = np.isfinite(reps_test).all(axis=1)
    if ok.sum() >= 2 and good.any():
        out[good] = np.expm1(_ridge(reps_train[ok], np.log1p(z_train[ok]), reps_test[good]))
    return out


def labels_saved(table, *, reference="supervised", method="finetuned", metric="sigma_mad"):
    """The seed's read-off: for each fraction of ``method``, how many times more labels
    ``reference`` needs for the same ``metric`` (log-log interpolation of the reference
    curve; NaN outside its range). Runs of several seeds are averaged first
    (`seed_summary`).

    Returns
    -------
    `~astropy.table.Table`
        ``n_labels``, ``metric`` of ``method``, ``n_labels_reference`` (interpolated) and
        ``factor`` (their ratio).

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.research import labels_saved
    >>> t = Table(rows=[(100, "supervised", 0.04), (1000, "supervised", 0.02),
    ...                 (100, "finetuned", 0.02)], names=("n_labels", "method", "sigma_mad"))
    >>> round(float(labels_saved(t)["factor"][0]), 6)
    10.0
    """
    from astropy.table import Table

    table = seed_summary(table, metrics=(metric,))
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


def seed_summary(table, *, metrics=("sigma_mad", "eta", "bias")):
    """Mean and spread over seeds of a `label_efficiency` table: one row per method and
    label count, in the order of first appearance, with ``<metric>`` (the mean),
    ``<metric>_std`` (standard deviation over seeds, 0 for one seed) and ``n_seeds``.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.research import seed_summary
    >>> t = Table(rows=[(200, "supervised", 0, 0.25), (200, "supervised", 1, 0.75)],
    ...           names=("n_labels", "method", "seed", "sigma_mad"))
    >>> s = seed_summary(t, metrics=("sigma_mad",))
    >>> float(s["sigma_mad"][0]), float(s["sigma_mad_std"][0]), int(s["n_seeds"][0])
    (0.5, 0.25, 2)
    """
    from astropy.table import Table

    keys = list(dict.fromkeys(zip(table["method"], table["n_labels"])))
    out = {"n_labels": [], "method": [], "n_seeds": []}
    for m in metrics:
        out[m], out[f"{m}_std"] = [], []
    for method, n in keys:
        sel = (table["method"] == method) & (table["n_labels"] == n)
        out["method"].append(str(method))
        out["n_labels"].append(int(n))
        out["n_seeds"].append(int(sel.sum()))
        for m in metrics:
            v = np.asarray(table[m][sel], dtype=float)
            out[m].append(float(np.mean(v)))
            out[f"{m}_std"].append(float(np.std(v)))
    return Table(out)
