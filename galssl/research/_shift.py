# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Shift-aware validation of photometric redshifts: leave-one-field-out folds and
covariate-shift splits of a labelled catalogue, each scored beside the photometric ceiling
trained on the same rows, with the fraction of outliers the flags catch."""

import time

import numpy as np

__all__ = ["shift_validation", "SHIFT_METHODS"]

#: How the photo-z of a fold is trained: "finetuned" (`PhotoZEstimator` from the encoder,
#: with its flags), "supervised" (the same network from scratch) or "linear" (a ridge
#: probe of log(1 + z) on the frozen representations: fast, no flags).
SHIFT_METHODS = ("finetuned", "supervised", "linear")


def _folds(table, by, shift, n_min):
    """[(name, kind, test mask)] of the leave-one-out groups of ``by`` and the ``shift``
    splits."""
    folds = []
    if by is not None:
        if by not in table.colnames:
            raise KeyError(f"the catalogue has no column {by!r} to make folds from; its "
                           f"columns are {table.colnames}")
        groups = np.asarray(table[by]).astype(str)
        for g in dict.fromkeys(groups):
            mask = groups == g
            if mask.sum() >= n_min and (~mask).sum() >= n_min:
                folds.append((f"{by}={g}", "leave-one-out", mask))
    for name, spec in (shift or {}).items():
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            column, threshold = spec
            if column not in table.colnames:
                raise KeyError(f"shift {name!r}: no column {column!r}")
            values = np.asarray(getattr(table[column], "value", table[column]), dtype=float)
            mask = values >= float(threshold)
        else:
            mask = np.asarray(spec, dtype=bool)
            if mask.shape != (len(table),):
                raise ValueError(f"shift {name!r} must be a boolean mask of the {len(table)} "
                                 f"rows or a (column, threshold) pair")
        folds.append((name, "shift", mask))
    if not folds:
        raise ValueError(f"no fold: ``by`` gives fewer than two groups of at least {n_min} "
                         f"rows and no ``shift`` split is given")
    return folds


def shift_validation(catalog, *, encoder=None, method="finetuned", redshift="redshift",
                     by="field", shift=None, photometry=None, model_kwargs=None, epochs=30,
                     batch_size=256, min_steps=300, seed=0, threshold=0.05, n_min=20,
                     predictions=False, progress=True, **fit_kwargs):
    """Photo-z quality when the test galaxies are not drawn like the training ones.

    Each fold trains on every usable row outside it and tests on the fold: one fold per
    value of the column ``by`` (leave-one-field-out: the sky, PSF, depth and extinction of
    a field the model never saw), and one per ``shift`` split (a new catalogue imitated:
    train on one part of colour-magnitude-redshift space, test on its neighbour). Beside
    each number stands the fair photometric ceiling of the same fold: the best regressor
    (`ColorBaseline` ``regressor="best"``) on the ``photometry`` of the same training rows.

    Parameters
    ----------
    catalog : `~galssl.cutouts.CutoutCatalog`
        Labelled cutouts, with the column ``by`` (e.g. ``field``) and ``redshift``.
    encoder : `~galssl.ContrastiveEncoder`, optional
        For "finetuned" and "linear" (and the architecture of "supervised").
    method : {"finetuned", "supervised", "linear"}
        See `SHIFT_METHODS`.
    by : str or None
        The column whose values are left out one at a time (groups of fewer than ``n_min``
        rows, or leaving fewer than ``n_min`` to train on, are not folds).
    shift : dict, optional
        ``{name: (column, threshold)}`` (test on rows with column >= threshold, e.g.
        ``("mag_r", 17.0)``) or ``{name: boolean test mask}``.
    photometry : `~astropy.table.Table`, optional
        One row per catalogue row: the magnitudes the ceiling learns from (e.g.
        `magnitude_table` of the catalogue's noiseless magnitudes).
    model_kwargs : dict, optional
        Passed to `~galssl.PhotoZEstimator`.
    epochs, batch_size, min_steps, seed : optional
        Of each fold's training (at least ``min_steps`` optimiser steps).
    threshold : float, optional
        Outlier threshold on abs(Delta z).
    predictions : bool, optional
        Add each fold's ``z_phot`` and flags (one array per catalogue row, NaN outside the
        fold) to the table.
    **fit_kwargs
        Passed to `~galssl.PhotoZEstimator.fit`.

    Returns
    -------
    `~astropy.table.Table`
        One row per fold: ``fold``, ``kind`` ("leave-one-out" or "shift"), ``n_train``,
        ``n_test``, ``sigma_mad``, ``eta``, ``bias``, ``ceiling_sigma_mad``,
        ``ceiling_eta``, ``sigma_mad_over_ceiling``, ``eta_over_ceiling``, ``flag_rate``
        (fraction of test rows with any ``photoz_flag``) and ``outliers_flagged`` (of the
        outliers, the fraction the flags catch; NaN without flags or outliers), and
        ``seconds``.
    """
    from astropy.table import Table

    from ..photoz import PhotoZEstimator, metrics
    from ..utils._validate import as_float_values, check_positive_int
    from ._photoz import ColorBaseline, _linear_photoz

    if method not in SHIFT_METHODS:
        raise ValueError(f"method must be one of {SHIFT_METHODS}, got {method!r}")
    if method in ("finetuned", "linear") and encoder is None:
        raise ValueError(f"method {method!r} needs the encoder")
    n_min = check_positive_int(n_min, "n_min", minimum=2)
    table = catalog.table
    n = len(table)
    if photometry is not None and len(photometry) != n:
        raise ValueError(f"photometry has {len(photometry)} rows, the catalogue {n}")
    z = as_float_values(table[redshift], f"the column {redshift!r}") \
        if isinstance(redshift, str) else as_float_values(redshift, "redshift")
    kw = dict(model_kwargs or {})
    c = PhotoZEstimator(**kw).config
    labelled = np.asarray(catalog.good) & np.isfinite(z) & (z >= c["z_min"]) & \
        (z <= c["z_max"])
    same = {k: encoder.config.get(k) for k in ("arch", "in_chans", "bands", "crop",
                                               "input_stretch")} if encoder else {}
    reps = encoder.encode(catalog, progress=progress) if method == "linear" else None
    rows, z_out, flag_out = [], [], []
    for name, kind, test_mask in _folds(table, by, shift, n_min):
        t0 = time.time()
        train = np.flatnonzero(labelled & ~test_mask)
        test = np.flatnonzero(labelled & test_mask)
        zp, flags = np.full(n, np.nan), None
        if method == "linear":
            zp[test] = _linear_photoz(reps[train], z[train], reps[test])
        else:
            pz = PhotoZEstimator(encoder, **kw) if method == "finetuned" else \
                PhotoZEstimator(**same, **kw)
            bs = min(batch_size, len(train))
            n_epochs = max(int(epochs), int(np.ceil(min_steps / np.ceil(len(train) / bs))))
            pz.fit(catalog[train], redshift=z[train], epochs=n_epochs, batch_size=bs,
                   seed=seed, progress=progress, **fit_kwargs)
            out = pz.predict(catalog[test], progress=False)
            zp[test] = np.asarray(out["z_phot"])
            flags = np.zeros(n, np.int64)
            flags[test] = np.asarray(out["photoz_flag"])
        ceiling = (np.nan, np.nan)
        if photometry is not None:
            zc = ColorBaseline(regressor="best", seed=seed).fit(
                photometry[train], z[train]).predict(photometry[test])
            ok = np.isfinite(zc)
            ceiling = (metrics.sigma_mad(zc[ok], z[test][ok]),
                       metrics.outlier_fraction(zc[ok], z[test][ok], threshold))
        sel = test[np.isfinite(zp[test])]
        dz = np.abs(metrics.delta_z(zp[sel], z[sel]))
        outlier = dz > threshold
        flagged = None if flags is None else flags[sel] != 0
        sigma = metrics.sigma_mad(zp[sel], z[sel])
        eta = float(np.mean(outlier)) if len(sel) else np.nan
        rows.append((name, kind, len(train), len(sel), sigma, eta,
                     metrics.bias(zp[sel], z[sel]), ceiling[0], ceiling[1],
                     sigma / ceiling[0] if ceiling[0] else np.nan,
                     eta / ceiling[1] if ceiling[1] else np.nan,
                     np.nan if flagged is None else float(np.mean(flagged)),
                     np.nan if flagged is None or not outlier.any()
                     else float(np.mean(flagged[outlier])),
                     round(time.time() - t0, 1)))
        z_out.append(zp)
        flag_out.append(np.full(n, -1) if flags is None else np.where(test_mask, flags, -1))
    result = Table(rows=rows, names=(
        "fold", "kind", "n_train", "n_test", "sigma_mad", "eta", "bias", "ceiling_sigma_mad",
        "ceiling_eta", "sigma_mad_over_ceiling", "eta_over_ceiling", "flag_rate",
        "outliers_flagged", "seconds"))
    result.meta.update(method=method, threshold=threshold, by=by, seed=seed)
    if predictions:
        result["z_phot"] = np.array(z_out)
        result["photoz_flag"] = np.array(flag_out)
    return result
