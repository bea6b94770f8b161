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
    assert len(fig.axes) == 3 and len(fig.axes[0].containers) == 2
    # two seeds: the mean, with the spread as the error bar
    t2 = t.copy()
    t2["sigma_mad"] += 0.01
    both = Table(np.concatenate([t.as_array(), t2.as_array()]))
    ax = plot_label_efficiency(both).axes[0]
    line, caps, (bars,) = ax.containers[0]
    np.testing.assert_allclose(line.get_ydata(), [0.045, 0.025])
    segs = bars.get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segs], [0.01, 0.01])


def test_pdf_figure_draws_densities_of_unit_area():
    import matplotlib

    matplotlib.use("agg")
    from galssl.visualization import plot_pdfs

    edges = np.linspace(0, 0.4, 181)
    pdf = np.zeros((3, 180))
    pdf[0, 50] = 1.0                       # all probability in one bin
    pdf[1, 100:110] = 0.1
    pdf[2] = np.nan                        # a row without data is skipped
    for smooth in (0, 0.005):
        ax = plot_pdfs(pdf, edges, labels=["a", "b", "c"], smooth=smooth).axes[0]
        assert len(ax.lines) == 2
        for line in ax.lines:
            x, y = line.get_data()
            # densities: area 1 over the binned range, smoothed or not
            np.testing.assert_allclose(np.sum(y) * (edges[1] - edges[0]), 1.0, rtol=1e-6)
        peak = ax.lines[0].get_ydata().max()
        assert peak == pytest.approx(1 / (edges[1] - edges[0])) if smooth == 0 else \
            peak < 0.5 / (edges[1] - edges[0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="180 bins but bin_edges has 10 edges"):
        plot_pdfs(pdf, edges[:10])
