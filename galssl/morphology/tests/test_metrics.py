# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest

from galssl.morphology import metrics

# Ten galaxies worked by hand. HQ labels (true > 0.8 or < 0.2): rows 0-3 positive, rows 4-7
# negative; rows 8 (0.5) and 9 (0.8, not > 0.8) are not HQ.
PRED = np.array([0.95, 0.7, 0.4, 0.1, 0.05, 0.3, 0.6, 0.85, 0.99, 0.0])
TRUE = np.array([0.9, 0.85, 0.95, 1.0, 0.0, 0.1, 0.15, 0.05, 0.5, 0.8])
# at threshold 0.5: TP = rows 0, 1; FN = rows 2, 3; TN = rows 4, 5; FP = rows 6, 7
# eta: row 3 (positive predicted 0.1 <= 0.2) and row 7 (negative predicted 0.85 >= 0.8)
# AUC: positive scores {0.95, 0.7, 0.4, 0.1} vs negative {0.05, 0.3, 0.6, 0.85}:
# pairs won: 0.95 -> 4, 0.7 -> 3, 0.4 -> 2, 0.1 -> 1, total 10 of 16


def test_hand_computed_values():
    assert metrics.high_quality(TRUE).tolist() == [True] * 8 + [False, False]
    assert metrics.accuracy(PRED, TRUE) == pytest.approx(4 / 8)
    assert metrics.precision(PRED, TRUE) == pytest.approx(2 / 4)
    assert metrics.recall(PRED, TRUE) == pytest.approx(2 / 4)
    assert metrics.roc_auc(PRED, TRUE) == pytest.approx(10 / 16)
    assert metrics.outlier_fraction(PRED, TRUE) == pytest.approx(2 / 8)
    assert metrics.mean_absolute_error(PRED, TRUE) == pytest.approx(
        np.mean(np.abs(PRED - TRUE)))
    # a lower threshold turns row 2 (0.4) and row 5 (0.3) positive
    assert metrics.recall(PRED, TRUE, threshold=0.25) == pytest.approx(3 / 4)
    assert metrics.precision(PRED, TRUE, threshold=0.25) == pytest.approx(3 / 6)


def test_evaluate_counts_conventions_and_nan_pairs():
    pred = np.append(PRED, [np.nan, 0.5])
    true = np.append(TRUE, [0.9, np.nan])
    m = metrics.evaluate(pred, true)
    assert (m["n"], m["n_hq"], m["n_hq_positive"]) == (10, 8, 4)
    assert m["accuracy"] == pytest.approx(0.5) and m["eta"] == pytest.approx(0.25)
    assert m["roc_auc"] == pytest.approx(0.625)
    assert "true > 0.8 or < 0.2" in m["conventions"]


def test_eta_boundaries_are_inclusive_for_predictions_and_strict_for_labels():
    # positive predicted exactly 0.2 and negative predicted exactly 0.8 are outliers
    assert metrics.outlier_fraction([0.2, 0.8], [0.9, 0.1]) == 1.0
    assert metrics.outlier_fraction([0.21, 0.79], [0.9, 0.1]) == 0.0
    # labels of exactly 0.8 / 0.2 are not high quality
    assert np.isnan(metrics.outlier_fraction([0.0, 1.0], [0.8, 0.2]))


def test_roc_auc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    true = rng.uniform(0, 1, 400)
    pred = np.round(np.clip(true + rng.normal(0, 0.3, 400), 0, 1), 1)  # many ties
    hq = metrics.high_quality(true)
    assert metrics.roc_auc(pred, true) == pytest.approx(
        roc_auc_score(true[hq] > 0.8, pred[hq]))


def test_degenerate_cases_and_errors():
    assert np.isnan(metrics.precision([0.1, 0.1], [0.9, 0.05]))  # nothing predicted positive
    assert np.isnan(metrics.recall([0.9], [0.05]))  # no true positive
    assert np.isnan(metrics.roc_auc([0.9, 0.8], [0.95, 0.99]))  # one class
    assert np.isnan(metrics.accuracy([0.5], [0.5]))
    with pytest.raises(ValueError, match="1-d arrays of one length"):
        metrics.accuracy([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="pred must be probabilities"):
        metrics.accuracy([1.5], [0.9])
    with pytest.raises(ValueError, match="true must be vote fractions"):
        metrics.accuracy([0.5], [2.0])
    with pytest.raises(ValueError, match="low < high"):
        metrics.evaluate([0.5], [0.9], low=0.9, high=0.1)
