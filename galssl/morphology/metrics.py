# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Morphology metrics on Galaxy Zoo vote fractions, with their conventions stated.

``pred`` is the predicted probability of an answer, ``true`` the vote fraction. Pairs where
either is NaN are ignored. As in Hayat et al. (2021), the classification metrics use only
**high-quality** labels, galaxies whose vote fraction is decisive: ``true > high`` (0.8;
positives) or ``true < low`` (0.2; negatives).

- accuracy, precision, recall: the prediction is positive when ``pred >= threshold``
  (0.5). Precision (recall) is NaN when nothing is predicted (truly) positive.
- ROC AUC: the probability that a random HQ positive gets a higher ``pred`` than a random
  HQ negative (ties count one half; the Mann-Whitney statistic, equal to
  `sklearn.metrics.roc_auc_score`); NaN without both classes.
- eta (outlier fraction): the fraction of HQ labels predicted confidently on the wrong side,
  ``pred <= low`` for a positive (``true > high``) or ``pred >= high`` for a negative
  (``true < low``); with the defaults, a galaxy voted > 80 % one way and predicted ≤ 0.2,
  or voted < 20 % and predicted ≥ 0.8 (the "≥ 0.8 vs ≤ 0.2" of the seed). The prediction
  limits are inclusive, the HQ limits strict. A fraction, not a percentage (figures print
  it in %).

All functions return a float; `evaluate` returns them all with the counts.
"""

import numpy as np

__all__ = ["high_quality", "accuracy", "precision", "recall", "roc_auc",
           "outlier_fraction", "mean_absolute_error", "evaluate"]


def _arrays(pred, true):
    """``pred`` and ``true`` as float arrays of one length (Quantity values unwrapped)."""
    p = np.asarray(getattr(pred, "value", pred), dtype=float)
    t = np.asarray(getattr(true, "value", true), dtype=float)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"pred and true must be 1-d arrays of one length, got shapes "
                         f"{p.shape} and {t.shape}")
    return p, t


def _pair(pred, true):
    p, t = _arrays(pred, true)
    ok = np.isfinite(p) & np.isfinite(t)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("pred must be probabilities in [0, 1]")
    if np.any((t[ok] < 0) | (t[ok] > 1)):
        raise ValueError("true must be vote fractions in [0, 1]")
    return p[ok], t[ok]


def _check_limits(low, high):
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")


def high_quality(true, *, low=0.2, high=0.8):
    """Mask of decisive labels: ``true > high`` or ``true < low`` (NaN is not).

    Examples
    --------
    >>> from galssl.morphology.metrics import high_quality
    >>> high_quality([0.9, 0.8, 0.5, 0.1, float("nan")]).tolist()
    [True, False, False, True, False]
    """
    _check_limits(low, high)
    t = np.asarray(getattr(true, "value", true), dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(t) & ((t > high) | (t < low))


def _hq(pred, true, low, high):
    """Predictions and boolean truth of the HQ pairs."""
    _check_limits(low, high)
    p, t = _pair(pred, true)
    hq = (t > high) | (t < low)
    return p[hq], t[hq] > high


def _confusion(pred, true, threshold, low, high):
    p, y = _hq(pred, true, low, high)
    yhat = p >= threshold
    return (int(np.sum(yhat & y)), int(np.sum(yhat & ~y)), int(np.sum(~yhat & y)),
            int(np.sum(~yhat & ~y)))


def accuracy(pred, true, *, threshold=0.5, low=0.2, high=0.8):
    """Fraction of HQ labels classified correctly (``pred >= threshold`` = positive).

    Examples
    --------
    >>> from galssl.morphology.metrics import accuracy
    >>> accuracy([0.9, 0.4, 0.3, 0.6], [0.95, 0.85, 0.1, 0.5])   # last one is not HQ
    0.6666666666666666
    """
    tp, fp, fn, tn = _confusion(pred, true, threshold, low, high)
    n = tp + fp + fn + tn
    return (tp + tn) / n if n else float("nan")


def precision(pred, true, *, threshold=0.5, low=0.2, high=0.8):
    """Of the HQ labels predicted positive, the fraction truly positive (NaN if none)."""
    tp, fp, fn, tn = _confusion(pred, true, threshold, low, high)
    return tp / (tp + fp) if tp + fp else float("nan")


def recall(pred, true, *, threshold=0.5, low=0.2, high=0.8):
    """Of the HQ positives, the fraction predicted positive (NaN if none)."""
    tp, fp, fn, tn = _confusion(pred, true, threshold, low, high)
    return tp / (tp + fn) if tp + fn else float("nan")


def roc_auc(pred, true, *, low=0.2, high=0.8):
    """Area under the ROC curve of ``pred`` separating HQ positives from HQ negatives.

    Examples
    --------
    >>> from galssl.morphology.metrics import roc_auc
    >>> roc_auc([0.9, 0.3, 0.4, 0.1], [1.0, 0.9, 0.0, 0.05])
    0.75
    """
    from scipy.stats import rankdata

    p, y = _hq(pred, true, low, high)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def outlier_fraction(pred, true, *, low=0.2, high=0.8):
    """eta: fraction of HQ labels predicted confidently on the wrong side (``true > high``
    with ``pred <= low``, or ``true < low`` with ``pred >= high``); NaN without HQ labels.

    Examples
    --------
    >>> from galssl.morphology.metrics import outlier_fraction
    >>> outlier_fraction([0.1, 0.5, 0.7, 0.95], [0.9, 0.9, 0.1, 0.5])
    0.3333333333333333
    """
    p, y = _hq(pred, true, low, high)
    if len(p) == 0:
        return float("nan")
    wrong = np.where(y, p <= low, p >= high)
    return float(np.mean(wrong))


def mean_absolute_error(pred, true):
    """Mean of abs(pred - true) over all pairs (not only HQ labels)."""
    p, t = _pair(pred, true)
    return float(np.mean(np.abs(p - t))) if len(p) else float("nan")


def evaluate(pred, true, *, threshold=0.5, low=0.2, high=0.8):
    """All metrics of one question, with the counts and conventions.

    Parameters
    ----------
    pred : array-like
        Predicted probabilities (e.g. a column of `~galssl.MorphologyClassifier.predict`).
    true : array-like
        Vote fractions, NaN where unlabelled.
    threshold : float, optional
        Decision threshold of accuracy, precision and recall.
    low, high : float, optional
        The high-quality limits.

    Returns
    -------
    dict
        ``n`` (pairs with both values finite), ``n_hq``, ``n_hq_positive``, ``accuracy``,
        ``precision``, ``recall``, ``roc_auc``, ``eta`` (fractions, on HQ labels),
        ``mae`` (on all ``n`` pairs) and ``conventions`` (a short text).

    Examples
    --------
    >>> from galssl.morphology.metrics import evaluate
    >>> m = evaluate([0.9, 0.4, 0.3, 0.6], [0.95, 0.85, 0.1, 0.5])
    >>> m["n"], m["n_hq"], m["accuracy"], m["recall"]
    (4, 3, 0.6666666666666666, 0.5)
    """
    p, t = _pair(pred, true)
    hq = high_quality(t, low=low, high=high)
    return {"n": int(len(p)), "n_hq": int(hq.sum()), "n_hq_positive": int(np.sum(t > high)),
            "accuracy": accuracy(p, t, threshold=threshold, low=low, high=high),
            "precision": precision(p, t, threshold=threshold, low=low, high=high),
            "recall": recall(p, t, threshold=threshold, low=low, high=high),
            "roc_auc": roc_auc(p, t, low=low, high=high),
            "eta": outlier_fraction(p, t, low=low, high=high),
            "mae": mean_absolute_error(p, t),
            "conventions": (f"HQ labels: true > {high} or < {low}; positive prediction: "
                            f"pred >= {threshold}; eta: HQ labels with pred on the wrong "
                            f"side (<= {low} for true > {high}, >= {high} for true < {low})")}
