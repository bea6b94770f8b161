# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""A fast probe of frozen representations: what an encoder has learnt, measured against an
untrained encoder of the same architecture."""

import time

import numpy as np

__all__ = ["probe_representations", "probe_features", "effective_rank", "FACTORS",
           "PROBE_TABLE_ROWS"]

#: Known factors of injected galaxies that the probe tries to recover linearly, as
#: (name, function of the table). Colours and magnitudes are dereddened with the table's
#: E(B-V) (the network sees dereddened images).
FACTORS = ("u-g", "g-r", "r-i", "i-z", "r mag", "log r50", "axis ratio", "bulge fraction")


#: The probe rows of the results page's table, and their headings.
PROBE_TABLE_ROWS = [("photo-z ridge sigma_MAD, 200 labels", "ridge σ_MAD 200"),
                    ("photo-z ridge sigma_MAD, 3200 labels", "ridge σ_MAD 3,200"),
                    ("photo-z ridge eta %, 3200 labels", "ridge η % 3,200"),
                    ("photo-z knn sigma_MAD, 3200 labels", "kNN σ_MAD 3,200"),
                    ("R^2 g-r", "R² g−r"), ("R^2 log r50", "R² log r50"),
                    ("R^2 axis ratio", "R² b/a"), ("effective rank", "eff. rank"),
                    ("retrieval, rotation", "rotation")]


def _factor_columns(table, bands):
    """The `FACTORS` that ``table`` allows, as {name: float array}."""
    from ..dust import extinction_coefficients

    cols = table.colnames
    out = {}
    ebv = np.asarray(table["ebv"], float) if "ebv" in cols else 0.0
    coeff = dict(zip(bands, extinction_coefficients("".join(bands))))

    def mag(b):
        return np.asarray(getattr(table[f"mag_{b}"], "value", table[f"mag_{b}"]),
                          float) - coeff[b] * ebv

    for a, b in zip("ugri", "griz"):
        if f"mag_{a}" in cols and f"mag_{b}" in cols:
            out[f"{a}-{b}"] = mag(a) - mag(b)
    if "mag_r" in cols:
        out["r mag"] = mag("r")
    if "r50_arcsec" in cols:
        out["log r50"] = np.log10(np.asarray(table["r50_arcsec"], float))
    if "axis_ratio" in cols:
        out["axis ratio"] = np.asarray(table["axis_ratio"], float)
    if "bulge_fraction" in cols:
        out["bulge fraction"] = np.asarray(table["bulge_fraction"], float)
    return out


def effective_rank(reps):
    """exp of the entropy of the normalised eigenvalue spectrum of the covariance of the
    unit-normalised representations (Roy & Vetterli 2007): 1 for representations on one
    line, D for isotropic ones. Rows with NaN are skipped."""
    r = np.asarray(reps, float)
    r = r[np.isfinite(r).all(axis=1)]
    r = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    ev = np.clip(np.linalg.eigvalsh(np.atleast_2d(np.cov(r.T))), 0, None)
    p = ev[ev > 0] / ev.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _mean_cosine(reps, rng, n=2000):
    r = np.asarray(reps, float)
    r = r[np.isfinite(r).all(axis=1)]
    r = r[rng.permutation(len(r))[:n]]
    r = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    return float((r @ r.T).mean())


def _photoz_stats(z_phot, z):
    dz = (z_phot - z) / (1 + z)
    return (float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
            float(100 * np.mean(np.abs(dz) > 0.05)))


def _standardize(train, test):
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return (train - mu) / sd, (test - mu) / sd


def _ridge(train_x, train_y, test_x):
    """Ridge regression with the penalty chosen by efficient leave-one-out (RidgeCV)."""
    from sklearn.linear_model import RidgeCV

    x, t = _standardize(train_x, test_x)
    model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(x, train_y)
    return model.predict(t)


def _knn(train_x, train_y, test_x, k=10):
    from ..search import exact_knn, normalised

    _, nearest = exact_knn(normalised(train_x.astype(np.float32)),
                           normalised(test_x.astype(np.float32)), min(k, len(train_x)))
    return np.median(train_y[nearest], axis=1)


def _measure(name, feats_l, feats_t, z_l, z_t, factors_l, factors_t, label_counts, splits,
             rng_seed, real_scores):
    """The probe's numbers for one set of representations: {metric: value}."""
    out = {}
    ok_l = np.isfinite(feats_l).all(axis=1) & np.isfinite(z_l)
    ok_t = np.isfinite(feats_t).all(axis=1) & np.isfinite(z_t)
    idx_l = np.flatnonzero(ok_l)
    ft, zt = feats_t[ok_t], z_t[ok_t]
    for n in label_counts:
        n_use = min(int(n), len(idx_l))
        stats = {"ridge": [], "knn": []}
        for s in range(splits):
            pick = np.random.default_rng([rng_seed, n, s]).permutation(idx_l)[:n_use]
            target = np.log1p(z_l[pick])  # regress log(1+z): Delta z/(1+z) is the metric
            stats["ridge"].append(_photoz_stats(np.expm1(_ridge(feats_l[pick], target, ft)),
                                                zt))
            stats["knn"].append(_photoz_stats(_knn(feats_l[pick], z_l[pick], ft), zt))
        for method, vals in stats.items():
            vals = np.array(vals)
            out[f"photo-z {method} sigma_MAD, {n_use} labels"] = float(vals[:, 0].mean())
            out[f"photo-z {method} eta %, {n_use} labels"] = float(vals[:, 1].mean())
            if splits > 1 and method == "ridge":
                out[f"photo-z ridge sigma_MAD spread, {n_use} labels"] = float(vals[:, 0].std())
    n_fac = min(max(label_counts), len(idx_l))
    pick = np.random.default_rng([rng_seed, 99]).permutation(idx_l)[:n_fac]
    for fac, values in factors_l.items():
        y_l, y_t = values[pick], factors_t[fac][ok_t]
        good_l, good_t = np.isfinite(y_l), np.isfinite(y_t)
        if good_l.sum() < 10 or good_t.sum() < 10 or np.ptp(y_t[good_t]) == 0:
            continue  # too few values, or a constant: nothing to recover
        pred = _ridge(feats_l[pick][good_l], y_l[good_l], ft[good_t])
        resid = np.sum((y_t[good_t] - pred) ** 2)
        out[f"R^2 {fac}"] = float(1 - resid / np.sum((y_t[good_t] - y_t[good_t].mean()) ** 2))
    out["effective rank"] = effective_rank(ft)
    out["mean cosine"] = _mean_cosine(ft, np.random.default_rng(rng_seed))
    out.update(real_scores)
    return out


def probe_representations(encoder, labelled, test, *, redshift="redshift", real=None,
                          label_counts=(200, 800, 3200), splits=3, baseline=True, seed=0,
                          batch_size=256, devices=None, progress=True, device=None):
    """What the frozen representations of ``encoder`` carry, beside an untrained encoder.

    The inner loop of pretraining research: every number is measured on held-out galaxies
    (``test``, which should come from other fields than ``labelled``) for the encoder and,
    with ``baseline``, for an untrained encoder of the same architecture and input stretch
    (the floor that pretraining must beat).

    - **photo-z from frozen representations**: a ridge regression of log(1 + z) (penalty by
      leave-one-out) and a 10-nearest-neighbour median (cosine) trained on ``n`` random
      labelled galaxies for each ``n`` of ``label_counts``, ``splits`` random subsets each;
      sigma_MAD and eta (% with abs(Delta z) > 0.05) of Delta z = (z_phot - z)/(1 + z) on
      ``test``, averaged over the subsets (and the spread of the ridge sigma_MAD);
    - **linear recovery** (R^2 on ``test``) of the known factors of injected galaxies
      (`FACTORS`: dereddened colours, r magnitude, log half-light radius, axis ratio,
      bulge fraction), where the tables have them;
    - **spread**: effective rank (`effective_rank`) and mean pairwise cosine similarity of
      the test representations (a collapsed encoder has both near 1);
    - with ``real`` (real galaxies, e.g. of the validation fields):
      `~galssl.search.retrieval_invariance` under a random rotation alone and under the
      encoder's full pretraining views.

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder`
    labelled, test : `~galssl.cutouts.CutoutCatalog`
        Galaxies with ``redshift`` (and, for the factors, the columns of
        `~galssl.simulate.inject_galaxies`: ``mag_<band>``, ``r50_arcsec``, ``axis_ratio``,
        ``bulge_fraction``).
    redshift : str, optional
        Column of the redshifts.
    real : `~galssl.cutouts.CutoutCatalog`, optional
        Galaxies for the retrieval measures.
    label_counts : sequence of int, optional
        Numbers of labelled galaxies of the photo-z probes (capped at the labelled rows).
    splits : int, optional
        Random labelled subsets per count.
    baseline : bool, optional
        Also probe an untrained encoder of the same architecture.
    seed : int, optional
        Seeds the subsets, the untrained weights and the augmented views.
    batch_size, devices, progress : optional
        Encoding (`~galssl.ContrastiveEncoder.encode`).
    device : str, optional
        Deprecated spelling of ``devices`` (warns).

    Returns
    -------
    `~astropy.table.QTable`
        One row per measure: ``measure``, ``encoder``, and with ``baseline`` ``untrained``
        and ``ratio`` (encoder / untrained); ``meta`` records the settings and the seconds
        taken.

    Examples
    --------
    On the shared data (``scripts/probe.py`` does this; ``labelled``: injected galaxies of
    the training fields, ``test``: those of the validation fields, ``real``: the real
    galaxies of the validation fields):

    >>> from galssl import ContrastiveEncoder
    >>> from galssl.research import probe_representations
    >>> enc = ContrastiveEncoder.load("run/encoder.pt")  # doctest: +SKIP
    >>> table = probe_representations(enc, labelled, test, real=real)  # doctest: +SKIP
    >>> table.pprint_all()  # doctest: +SKIP
    """
    import torch
    from astropy.table import QTable

    from ..augment import Compose, ExtinctionAugment, RandomRotate, default_pretraining_views
    from ..engine import devices_alias
    from ..search import retrieval_invariance
    from ..ssl import ContrastiveEncoder

    devices = devices_alias(device, devices, "probe_representations")
    if not isinstance(encoder, ContrastiveEncoder):
        raise TypeError(f"encoder must be a ContrastiveEncoder, got {type(encoder).__name__}")
    counts = _check_probe_args(labelled, test, redshift, label_counts, splits)
    t0 = time.time()
    z_l, z_t, fac_l, fac_t = _targets(labelled, test, redshift, encoder.bands)
    encoders = {"encoder": encoder}
    if baseline:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            c = encoder.config
            floor = ContrastiveEncoder(**{k: v for k, v in c.items() if k != "queue_size"},
                                       noise_mad=encoder.noise_mad)
        floor._trained = True  # random weights, used as they are
        encoders["untrained"] = floor
    results = {}
    for key, enc in encoders.items():
        kw = dict(batch_size=batch_size, devices=devices, progress=progress)
        feats_l, feats_t = enc.encode(labelled, **kw), enc.encode(test, **kw)
        real_scores = {}
        if real is not None:
            rot = Compose([ExtinctionAugment(0.0, bands=enc.bands),
                           RandomRotate(bands=enc.bands)])
            real_scores["retrieval, rotation"] = retrieval_invariance(
                enc, real, rot, seed=seed, **kw)
            if enc.noise_mad is not None:
                c = enc.config
                views = default_pretraining_views(
                    enc.noise_mad, bands=c["bands"], ebv_max=c["ebv_max"], out=c["crop"],
                    jitter=c["jitter"], noise_scale=tuple(c["noise_scale"]), psf=c["psf"])
                real_scores["retrieval, pretraining views"] = retrieval_invariance(
                    enc, real, lambda x, ebv=None, generator=None: views(
                        x, ebv=ebv, generator=generator)[0], seed=seed, **kw)
        results[key] = _measure(key, feats_l, feats_t, z_l, z_t, fac_l, fac_t, counts,
                                int(splits), seed, real_scores)
    names = list(results["encoder"])
    table = QTable({"measure": names,
                    "encoder": [results["encoder"][n] for n in names]})
    if baseline:
        table["untrained"] = [results["untrained"].get(n, np.nan) for n in names]
        with np.errstate(divide="ignore", invalid="ignore"):
            table["ratio"] = np.asarray(table["encoder"]) / np.asarray(table["untrained"])
    table.meta.update(n_labelled=len(labelled), n_test=len(test),
                      n_real=0 if real is None else len(real), label_counts=counts,
                      splits=int(splits), seed=int(seed), encoder=repr(encoder),
                      seconds=round(time.time() - t0, 1))
    return table


def _check_probe_args(labelled, test, redshift, label_counts, splits):
    """The label counts as ints, after checking the probe's common arguments."""
    counts = [int(n) for n in label_counts]
    if not counts or min(counts) < 2:
        raise ValueError(f"label_counts must be integers >= 2, got {label_counts!r}")
    if int(splits) < 1:
        raise ValueError(f"splits must be a positive integer, got {splits!r}")
    for name, cat in (("labelled", labelled), ("test", test)):
        if redshift not in cat.table.colnames:
            raise KeyError(f"the {name} catalogue has no column {redshift!r}")
    return counts


def _targets(labelled, test, redshift, bands):
    """Redshifts and known factors of the labelled and test galaxies."""
    z_l = np.asarray(labelled.table[redshift], float)
    z_t = np.asarray(test.table[redshift], float)
    fac_l = _factor_columns(labelled.table, bands)
    fac_t = _factor_columns(test.table, bands)
    return z_l, z_t, {k: v for k, v in fac_l.items() if k in fac_t}, fac_t


def probe_features(labelled_features, test_features, labelled, test, *, redshift="redshift",
                   label_counts=(200, 800, 3200), splits=3, seed=0, bands=None):
    """The photo-z and linear-recovery measures of `probe_representations` on features
    computed in any other way, e.g. aperture photometry of the same cutouts: the reference
    a learnt representation has to beat.

    Parameters
    ----------
    labelled_features, test_features : array-like, shape (N, D)
        One row per row of ``labelled`` and ``test``, in order (rows with NaN are left out
        of the fits and the scores).
    labelled, test : `~galssl.cutouts.CutoutCatalog`
        The galaxies the features describe, with ``redshift`` (and the injection columns
        for the factors; see `probe_representations`).
    redshift : str, optional
    label_counts, splits, seed : optional
        As in `probe_representations` (the same seed draws the same labelled subsets).
        The features are standardized with the mean and spread of the labelled rows
        before the fits and the 10-nearest-neighbour (cosine) median.
    bands : str, optional
        Bands of the catalogues' magnitude columns (default: ``labelled.bands``).

    Returns
    -------
    `~astropy.table.QTable`
        One row per measure: ``measure`` and ``features`` (the photo-z, R^2, effective
        rank and mean-cosine rows of `probe_representations`).

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.photoz.tests.test_estimator import toy_photoz
    >>> from galssl.research import probe_features
    >>> lab, test = toy_photoz(n=120, size=32, seed=0), toy_photoz(n=80, size=32, seed=1)
    >>> feats = lambda c: np.log1p(np.asarray(c.table["redshift"]))[:, None]  # z itself
    >>> t = probe_features(feats(lab), feats(test), lab, test, label_counts=[100])
    >>> bool(t["features"][0] < 1e-3)  # ridge sigma_MAD with 100 labels: near exact
    True
    """
    from astropy.table import QTable

    counts = _check_probe_args(labelled, test, redshift, label_counts, splits)
    feats_l = np.asarray(labelled_features, dtype=float)
    feats_t = np.asarray(test_features, dtype=float)
    for name, feats, cat in (("labelled_features", feats_l, labelled),
                             ("test_features", feats_t, test)):
        if feats.ndim != 2 or len(feats) != len(cat):
            raise ValueError(f"{name} must have shape ({len(cat)}, D), one row per galaxy, "
                             f"got {feats.shape}")
    if feats_l.shape[1] != feats_t.shape[1]:
        raise ValueError(f"labelled_features and test_features have {feats_l.shape[1]} and "
                         f"{feats_t.shape[1]} columns")
    # standardized by the labelled rows, so that the kNN's cosine compares all features
    # on one scale (the ridge regression standardizes anyway)
    with np.errstate(invalid="ignore"):
        mu, sd = np.nanmean(feats_l, axis=0), np.nanstd(feats_l, axis=0)
    sd = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
    feats_l, feats_t = (feats_l - mu) / sd, (feats_t - mu) / sd
    bands = bands or getattr(labelled, "bands", "ugriz")
    z_l, z_t, fac_l, fac_t = _targets(labelled, test, redshift, bands)
    out = _measure("features", feats_l, feats_t, z_l, z_t, fac_l, fac_t, counts,
                   int(splits), seed, {})
    table = QTable({"measure": list(out), "features": list(out.values())})
    table.meta.update(n_labelled=len(labelled), n_test=len(test), label_counts=counts,
                      splits=int(splits), seed=int(seed))
    return table
