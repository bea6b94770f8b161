# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Photo-z figures: z_phot against z_spec, PIT histograms, metrics against label count."""

import numpy as np

__all__ = ["plot_zphot_zspec", "plot_pit", "plot_label_efficiency", "plot_pdfs"]


def _figure(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize)
    return fig, fig.add_subplot()


def plot_zphot_zspec(z_phot, z_spec, *, z_max=0.4, bins=80, threshold=0.05, title=None,
                     ax=None):
    """Density of z_phot against z_spec (Hayat et al. 2021, Figure 5), with the 1:1 line,
    the outlier limits abs(Delta z) = ``threshold`` and sigma_MAD, eta and bias written on it.

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    from matplotlib.colors import LogNorm

    from ..photoz import metrics

    zp = np.asarray(z_phot, dtype=float)
    zs = np.asarray(z_spec, dtype=float)
    ok = np.isfinite(zp) & np.isfinite(zs)
    fig, ax = _figure(ax, (4.6, 4.2))
    edges = np.linspace(0, z_max, bins + 1)
    h, _, _ = np.histogram2d(zs[ok], zp[ok], bins=[edges, edges])
    im = ax.pcolormesh(edges, edges, np.ma.masked_equal(h.T, 0), norm=LogNorm(),
                       cmap="viridis")
    fig.colorbar(im, ax=ax, label="galaxies per pixel")
    z = np.linspace(0, z_max, 2)
    ax.plot(z, z, "k-", lw=0.8)
    for s in (1, -1):
        ax.plot(z, z + s * threshold * (1 + z), "k--", lw=0.6)
    m = metrics.evaluate(zp[ok], zs[ok], threshold=threshold)
    ax.text(0.03, 0.97, f"N = {m['n']}\n$\\sigma_{{MAD}}$ = {m['sigma_mad']:.4f}\n"
            f"$\\eta$ = {100 * m['eta']:.2f} %\nbias = {m['bias']:+.4f}",
            transform=ax.transAxes, va="top", fontsize=9,
            bbox=dict(facecolor="white", alpha=0.8, lw=0))
    ax.set(xlim=(0, z_max), ylim=(0, z_max), xlabel="$z_{spec}$", ylabel="$z_{phot}$",
           aspect="equal")
    if title:
        ax.set_title(title)
    return fig


def plot_pit(pit_values, *, others=None, labels=None, bins=20, ax=None):
    """PIT histogram(s) with the KS statistic against uniform; ``others`` adds more sets of
    PIT values (e.g. after calibration), ``labels`` names them all."""
    from scipy.stats import kstest

    sets = [np.asarray(pit_values, dtype=float)]
    sets += [np.asarray(o, dtype=float) for o in (others or [])]
    labels = list(labels or [f"set {i + 1}" for i in range(len(sets))])
    fig, ax = _figure(ax, (4.6, 3.4))
    for values, label in zip(sets, labels):
        v = values[np.isfinite(values)]
        ks = kstest(v, "uniform").statistic
        ax.hist(v, bins=bins, range=(0, 1), density=True, histtype="step", lw=1.5,
                label=f"{label} (KS {ks:.3f})")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set(xlabel="PIT", ylabel="density", xlim=(0, 1))
    ax.legend(fontsize=8, loc="upper center")
    return fig


def plot_label_efficiency(table, *, metrics=("sigma_mad", "eta", "bias"), axes=None):
    """Metrics against the number of labels per method (Hayat et al. 2021, Figure 4), from
    the table of `galssl.research.label_efficiency`; with several seeds, their mean with the
    spread (standard deviation) as error bars."""
    import matplotlib.pyplot as plt

    from ..research import seed_summary

    from matplotlib.ticker import FixedLocator, NullFormatter

    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.8))
    else:
        fig = np.ravel(axes)[0].figure
    axes = np.ravel(axes)
    names = {"sigma_mad": r"$\sigma_{MAD}$", "eta": r"$\eta$ (|$\Delta z$| > 0.05)",
             "bias": "bias"}
    summary = seed_summary(table, metrics=metrics)
    for ax, metric in zip(axes, metrics):
        for method in dict.fromkeys(summary["method"]):
            t = summary[summary["method"] == method]
            t = t[np.argsort(t["n_labels"])]
            ax.errorbar(t["n_labels"], t[metric], yerr=t[f"{metric}_std"], fmt="o-",
                        capsize=2, label=method)
        ax.set(xscale="log", xlabel="number of labels", ylabel=names.get(metric, metric))
        counts = sorted(set(int(n) for n in summary["n_labels"]))
        ax.xaxis.set_major_locator(FixedLocator(counts))  # the label counts, spelled out
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticklabels([f"{n:,}" for n in counts])
        if metric == "bias":
            ax.axhline(0, color="k", lw=0.6)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08 + 0.05 * (len(labels) > 4), 1, 1))
    return fig


def plot_pdfs(z_pdf, bin_edges, *, labels=None, smooth=0.005, z_max=None, ax=None):
    """Redshift PDFs as probability densities, readable by people: one line per object
    with its own colour and line style, optionally smoothed, legend outside the axes.

    Parameters
    ----------
    z_pdf : array-like, shape (N, n_bins)
        Per-bin probabilities (the ``z_pdf`` column of `galssl.PhotoZEstimator.predict`).
    bin_edges : array-like, shape (n_bins + 1,)
    labels : sequence of str, optional
        Legend entry of each object.
    smooth : float, optional
        Standard deviation in z of a Gaussian smoothing of the density (default 0.005,
        about the scatter of the best photo-z on this scale); 0: the per-bin density as
        it is. Smoothing keeps the area 1 inside the binned range.
    z_max : float, optional
        Upper limit of the z axis (default: the last edge).

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    z_pdf = np.atleast_2d(np.asarray(z_pdf, dtype=float))
    edges = np.asarray(bin_edges, dtype=float)
    if z_pdf.shape[1] != len(edges) - 1:
        raise ValueError(f"z_pdf has {z_pdf.shape[1]} bins but bin_edges has {len(edges)} "
                         f"edges; expected {z_pdf.shape[1] + 1}")
    fig, ax = _figure(ax, (8, 4.5))
    widths = np.diff(edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = z_pdf / widths
    if smooth and smooth > 0:
        kernel = np.exp(-0.5 * ((centres[:, None] - centres[None, :]) / smooth) ** 2)
        kernel /= (kernel * widths[:, None]).sum(axis=0, keepdims=True)  # area 1 per column
        density = np.where(np.isfinite(z_pdf), z_pdf, 0.0) @ kernel.T
    styles = ["-", "--", "-.", ":"]
    for i, d in enumerate(density):
        if not np.isfinite(z_pdf[i]).all():
            continue
        ax.plot(centres, d, lw=1.6, ls=styles[(i // 10) % len(styles)],
                label=None if labels is None else labels[i])
    ax.set(xlabel="redshift z", ylabel="p(z)  (probability density)",
           xlim=(edges[0], z_max if z_max is not None else edges[-1]))
    ax.set_ylim(bottom=0)
    if labels is not None:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig
