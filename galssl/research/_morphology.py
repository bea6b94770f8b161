# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Morphology quality against the number of labels (Hayat et al. 2021, Sect. 4)."""

import time
import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from ..utils._deprecate import renamed_argument

__all__ = ["label_count_curve"]

_MODES = ("linear", "finetune", "supervised")


#: Numbers of labels of `label_count_curve` by default.
LABEL_COUNTS = (64, 128, 256, 512, 1024, 2048, 4096)


def label_count_curve(encoder, train, test, *, label_counts=LABEL_COUNTS,
                      questions=("smooth", "edge_on"), modes=_MODES, train_labels=None,
                      test_labels=None, epochs=20, batch_size=256, seed=0,
                      model_kwargs=None, progress=True, classifier_kwargs=None,
                      **fit_kwargs):
    """Morphology metrics against the number of labelled training galaxies.

    For every count, the same random subset of the usable training galaxies (complete
    images, at least one label; the subsets are nested: a larger count adds galaxies) trains

    - ``"linear"``: a linear probe on the frozen representations of ``encoder`` (the
      training and test sets are encoded once for all counts);
    - ``"finetune"``: ``encoder`` fine-tuned with the head for ``epochs`` epochs;
    - ``"supervised"``: the same architecture trained from scratch (``encoder=None``),

    and every question is scored on ``test`` with `galssl.morphology.metrics.evaluate`
    (rows with complete images).

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder`
        The pretrained encoder (its architecture and input are also those of the
        supervised baseline).
    train, test : `~galssl.cutouts.CutoutCatalog`
        Labelled catalogues.
    label_counts : sequence of int, optional
        Numbers of labelled training galaxies; counts above the number available are
        skipped with a warning.
    questions : sequence of str, optional
        The label columns (e.g. the simulated ``smooth`` and ``edge_on`` of
        `galssl.simulate.inject_galaxies`, or GZ2 targets from
        `galssl.morphology.gz2_targets`).
    modes : sequence of str, optional
        Any of ``"linear"``, ``"finetune"``, ``"supervised"``.
    train_labels, test_labels : `~astropy.table.Table`, optional
        Labels aligned with ``train`` / ``test``; default the catalogues' table columns.
    epochs, batch_size, seed : optional
        Of every network training (batch size capped at the subset size).
    model_kwargs : dict, optional
        Passed to `~galssl.MorphologyClassifier` (e.g. ``weight_decay``), as in
        `label_efficiency` (``classifier_kwargs`` is its deprecated name, which warns).
    progress : bool, optional
    **fit_kwargs
        Passed to `~galssl.MorphologyClassifier.fit` when fine-tuning (devices,
        precision, ...).

    Returns
    -------
    `~astropy.table.Table`
        One row per count, mode and question: ``n_labels`` (training galaxies),
        ``n_labels_question`` (of them, labelled for this question), ``mode``,
        ``question``, ``accuracy``, ``precision``, ``recall``, ``roc_auc``, ``eta``,
        ``mae``, ``n_test``, ``n_test_hq`` and ``seconds`` (training and prediction of that
        mode at that count; the linear mode's one-off encoding of both sets is
        ``meta["encode_seconds"]``).
    """
    from astropy.table import Table

    from ..morphology import MorphologyClassifier, check_questions, metrics

    modes = tuple(modes)
    unknown = sorted(set(modes) - set(_MODES))
    if unknown:
        raise ValueError(f"unknown modes {unknown}; choose from {list(_MODES)}")
    if encoder is None and set(modes) & {"linear", "finetune"}:
        raise ValueError("modes 'linear' and 'finetune' need a pretrained encoder")
    questions = check_questions(questions)
    counts = sorted({int(c) for c in label_counts})
    if not counts or counts[0] < 2:
        raise ValueError(f"label_counts must be integers >= 2, got {list(label_counts)}")
    kw = dict(renamed_argument(classifier_kwargs, model_kwargs, "classifier_kwargs",
                               "model_kwargs", "label_count_curve") or {})
    for key in ("questions", "mode"):
        if key in kw:
            raise ValueError(f"model_kwargs cannot set {key!r}")
    probe = MorphologyClassifier(encoder, questions=questions, **kw) if encoder is not None \
        else MorphologyClassifier(mode="finetune", questions=questions, **kw)
    y_train, _ = probe._targets(train, train_labels, len(train))
    y_test, _ = probe._targets(test, test_labels, len(test))
    usable = np.flatnonzero(np.asarray(train.good) & np.isfinite(y_train).any(axis=1))
    test_ok = np.asarray(test.good)
    too_many = [c for c in counts if c > len(usable)]
    if too_many:
        warnings.warn(f"label counts {too_many} exceed the {len(usable)} usable labelled "
                      f"training galaxies and are skipped", AstropyUserWarning)
        counts = [c for c in counts if c <= len(usable)]
    order = np.random.default_rng(seed).permutation(usable)
    # the supervised baseline: the encoder's architecture and input (unless given)
    same = {k: probe.config[k] for k in ("arch", "in_chans", "bands", "crop", "jitter")}
    same.update(kw)
    feats_train = feats_test = None
    encode_seconds = 0.0
    if "linear" in modes:  # encode once for every count
        t0 = time.time()
        feats_train = np.full((len(train), probe.num_features), np.nan, np.float32)
        src = probe._source(train)[1]
        feats_train[usable] = probe._run(src[0], src[1], usable, batch_size=batch_size,
                                         progress=progress, desc="encoding")["features"]
        src = probe._source(test)[1]
        feats_test = probe._run(src[0], src[1], batch_size=batch_size, progress=progress,
                                desc="encoding")["features"]
        encode_seconds = time.time() - t0
    rows = []
    for count in counts:
        subset = np.sort(order[:count])
        for mode in modes:
            t0 = time.time()
            if mode == "linear":
                mc = MorphologyClassifier(encoder, mode="linear", questions=questions, **kw)
                mc.fit(feats_train[subset], y_train[subset], progress=False)
                pred = mc.predict(feats_test, progress=False)
            else:
                mc = MorphologyClassifier(encoder, mode="finetune", questions=questions,
                                          **kw) if mode == "finetune" else \
                    MorphologyClassifier(mode="finetune", questions=questions, **same)
                mc.fit(train[subset], y_train[subset], epochs=epochs,
                       batch_size=min(batch_size, len(subset)), seed=seed,
                       progress=progress, **fit_kwargs)
                pred = mc.predict(test, batch_size=batch_size, progress=False)
            seconds = time.time() - t0
            for k, q in enumerate(questions):
                p = np.asarray(pred[q], dtype=float)
                sel = test_ok & np.isfinite(p) & np.isfinite(y_test[:, k])
                m = metrics.evaluate(p[sel], y_test[sel, k])
                rows.append((count, int(np.isfinite(y_train[subset, k]).sum()), mode, q,
                             m["accuracy"], m["precision"], m["recall"], m["roc_auc"],
                             m["eta"], m["mae"], m["n"], m["n_hq"], round(seconds, 2)))
    names = ("n_labels", "n_labels_question", "mode", "question", "accuracy", "precision",
             "recall", "roc_auc", "eta", "mae", "n_test", "n_test_hq", "seconds")
    if not rows:
        return Table(names=names, dtype=(int, int, str, str) + (float,) * 6 + (int, int, float))
    out = Table(rows=rows, names=names)
    out.meta.update(epochs=int(epochs), seed=int(seed), n_usable=int(len(usable)),
                    encode_seconds=round(encode_seconds, 2),
                    arch=same["arch"], conventions="galssl.morphology.metrics: HQ labels "
                    "true > 0.8 or < 0.2; eta = HQ labels predicted on the wrong side")
    return out
