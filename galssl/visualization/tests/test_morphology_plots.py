# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest

from galssl.morphology import metrics

pytest.importorskip("matplotlib")


def test_vote_fraction_figure_states_the_metrics():
    from matplotlib.figure import Figure

    from galssl.visualization._morphology import plot_vote_fractions

    rng = np.random.default_rng(0)
    true = rng.uniform(0, 1, 1000)
    pred = np.clip(true + rng.normal(0, 0.15, 1000), 0, 1)
    pred[:5] = np.nan  # left out
    fig = plot_vote_fractions(pred, true, title="smooth")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "smooth" and ax.get_ylabel() == "predicted probability"
    text = " ".join(t.get_text() for t in ax.texts)
    m = metrics.evaluate(pred, true)
    assert f"N = 995 (HQ {m['n_hq']})" in text
    assert f"accuracy = {m['accuracy']:.3f}" in text and f"AUC = {m['roc_auc']:.3f}" in text
    assert f"{100 * m['eta']:.1f} %" in text


def test_vote_fraction_figure_into_given_axes_and_degenerate_input():
    from matplotlib.figure import Figure

    from galssl.visualization._morphology import plot_vote_fractions

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_vote_fractions([0.9, 0.95], [0.99, 0.9], ax=ax) is fig
    text = " ".join(t.get_text() for t in ax.texts)
    assert "AUC = n/a" in text  # one class only
    empty = plot_vote_fractions([], [])
    assert "N = 0" in " ".join(t.get_text() for t in empty.axes[0].texts)
    with pytest.raises(ValueError, match="1-d arrays of one length"):
        plot_vote_fractions([0.1, 0.2], [0.1])
