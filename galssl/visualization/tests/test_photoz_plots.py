# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.table import Table

from galssl.photoz import metrics

pytest.importorskip("matplotlib")


def test_zphot_zspec_figure_states_the_metrics():
    import matplotlib

    matplotlib.use("agg")
    from galssl.visualization import plot_zphot_zspec

    rng = np.random.default_rng(0)
    zs = rng.uniform(0.02, 0.35, 2000)
    zp = zs + 0.01 * (1 + zs) * rng.normal(size=2000)
    fig = plot_zphot_zspec(zp, zs, title="test")
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{metrics.sigma_mad(zp, zs):.4f}" in text and "N = 2000" in text
    assert f"{100 * metrics.outlier_fraction(zp, zs):.2f} %" in text


def test_pit_and_label_efficiency_figures():
    import matplotlib

    matplotlib.use("agg")
    from galssl.visualization import plot_label_efficiency, plot_pit

    rng = np.random.default_rng(1)
    fig = plot_pit(rng.uniform(size=500), others=[rng.beta(0.5, 0.5, 500)],
                   labels=["calibrated", "raw"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("calibrated (KS") and legend[1].startswith("raw (KS")
    t = Table(rows=[(100, "supervised", 0.04, 0.1, 0.0), (1000, "supervised", 0.02, 0.05, 0.0),
                    (100, "finetuned", 0.03, 0.08, 0.0), (1000, "finetuned", 0.015, 0.03, 0.0)],
              names=("n_labels", "method", "sigma_mad", "eta", "bias"))
    fig = plot_label_efficiency(t)
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 2
