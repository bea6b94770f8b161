# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.utils.exceptions import AstropyUserWarning

from galssl.research import label_count_curve

from galssl.morphology.tests.test_classifier import toy_encoder, toy_morphology


@pytest.mark.slow
def test_label_count_curve_on_toy_catalogues():
    enc = toy_encoder()
    train, test = toy_morphology(64, size=36, seed=10), toy_morphology(40, size=36, seed=11)
    train.table["extended"][::4] = np.nan  # unlabelled for one question
    with pytest.warns(AstropyUserWarning, match=r"label counts \[500\] exceed the 64"):
        t = label_count_curve(enc, train, test, label_counts=(16, 48, 500),
                              questions=("smooth", "extended"), epochs=1, batch_size=16,
                              progress=False, precision="32-true", max_steps=1)
    assert len(t) == 2 * 3 * 2  # counts x modes x questions
    assert set(t["mode"]) == {"linear", "finetune", "supervised"}
    assert sorted(set(t["n_labels"])) == [16, 48]
    ext = t[(t["question"] == "extended") & (t["mode"] == "linear")]
    assert np.all(ext["n_labels_question"] < ext["n_labels"])
    for col in ("accuracy", "roc_auc", "eta", "mae"):
        assert np.all(np.isfinite(t[col]))
    assert np.all(t["n_test"] == 40)
    # the linear probe at 48 labels already separates the smooth galaxies
    row = t[(t["mode"] == "linear") & (t["n_labels"] == 48) & (t["question"] == "smooth")]
    assert row["roc_auc"][0] > 0.95 and row["accuracy"][0] > 0.85
    assert t.meta["n_usable"] == 64 and t.meta["arch"] == "resnet10-small"


def test_label_count_curve_checks():
    enc = toy_encoder()
    cat = toy_morphology(20, seed=12)
    with pytest.raises(ValueError, match="unknown modes"):
        label_count_curve(enc, cat, cat, modes=("linear", "probe"), questions=("smooth",))
    with pytest.raises(ValueError, match="need a pretrained encoder"):
        label_count_curve(None, cat, cat, modes=("linear",), questions=("smooth",))
    with pytest.raises(ValueError, match="no column for the questions"):
        label_count_curve(enc, cat, cat, label_counts=(8,), questions=("edge_on",))
