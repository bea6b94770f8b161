# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Morphology figures: predicted against true vote fractions."""

import numpy as np

__all__ = ["plot_vote_fractions"]

__doctest_requires__ = {"plot_vote_fractions": ["matplotlib"]}


def plot_vote_fractions(pred, true, *, bins=25, threshold=0.5, low=0.2, high=0.8,
                        title=None, ax=None):
    """Density of the predicted probability against the true vote fraction (Hayat et al.
    2021, Figure 3), with the 1:1 line, the high-quality limits and the metrics of
    `galssl.morphology.metrics.evaluate` written on it.

    Parameters
    ----------
    pred : array-like
        Predicted probabilities (a column of `~galssl.MorphologyClassifier.predict`).
    true : array-like
        Vote fractions; pairs where either is NaN are left out.
    bins : int, optional
        Bins per axis of the 2-d histogram.
    threshold, low, high : float, optional
        As in `galssl.morphology.metrics.evaluate`.
    title : str, optional
    ax : `~matplotlib.axes.Axes`, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    `~matplotlib.figure.Figure`
        A new figure not registered with pyplot (no window opens), or the figure of ``ax``.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.visualization import plot_vote_fractions
    >>> rng = np.random.default_rng(0)
    >>> true = rng.uniform(0, 1, 500)
    >>> fig = plot_vote_fractions(np.clip(true + rng.normal(0, 0.1, 500), 0, 1), true)
    >>> fig.axes[0].get_xlabel()
    'true vote fraction'
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    from ..morphology import metrics

    p, t = metrics._arrays(pred, true)
    ok = np.isfinite(p) & np.isfinite(t)
    m = metrics.evaluate(p[ok], t[ok], threshold=threshold, low=low, high=high)
    if ax is None:
        fig = Figure(figsize=(4.6, 4.2))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    edges = np.linspace(0, 1, int(bins) + 1)
    h, _, _ = np.histogram2d(t[ok], p[ok], bins=[edges, edges])
    if h.any():
        im = ax.pcolormesh(edges, edges, np.ma.masked_equal(h.T, 0), norm=LogNorm(),
                           cmap="viridis")
        fig.colorbar(im, ax=ax, label="galaxies per pixel")
    ax.plot([0, 1], [0, 1], "k-", lw=0.8)
    for v in (low, high):
        ax.axvline(v, color="k", ls="--", lw=0.6)
        ax.axhline(v, color="0.5", ls=":", lw=0.6)

    def fmt(v, pct=False):
        return "n/a" if not np.isfinite(v) else (f"{100 * v:.1f} %" if pct else f"{v:.3f}")

    ax.text(0.03, 0.97, f"N = {m['n']} (HQ {m['n_hq']})\naccuracy = {fmt(m['accuracy'])}\n"
            f"precision = {fmt(m['precision'])}\nrecall = {fmt(m['recall'])}\n"
            f"AUC = {fmt(m['roc_auc'])}\n$\\eta$ = {fmt(m['eta'], pct=True)}",
            transform=ax.transAxes, va="top", fontsize=8,
            bbox=dict(facecolor="white", alpha=0.8, lw=0))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="true vote fraction",
           ylabel="predicted probability", aspect="equal")
    if title:
        ax.set_title(title)
    return fig
