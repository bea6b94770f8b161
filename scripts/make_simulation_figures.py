# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Make the figures of the injection-simulation page (docs/simulate.rst).

Reads the injected sets written by ``scripts/build_datasets.py`` (``data/injected_train.h5``
and ``data/injected_val.h5``) and the shared SDSS frames, and writes five small PNGs into
``docs/_static/simulate/``:

``examples.png``
    Twelve injected galaxies (Lupton et al. 2004 i, r, g colour images), labelled with
    their redshift.
``size_vs_redshift.png``
    Half-light radius against redshift, coloured by bulge fraction, with the median.
``psf_fwhm.png``
    The PSF FWHM measured in every field and band.
``flux_recovery.png``
    Forced photometry of ~60 galaxies injected into one validation field: the flux
    measured on (injected - original) r frame against the injected flux.
``redshift_hist.png``
    Redshift distributions of the training and validation sets and the fractions of the
    simulated ``smooth`` and ``edge_on`` labels.

The numbers quoted on the page are printed. Run from the repository root (a few minutes,
most of it the flux-recovery injection)::

    python scripts/make_simulation_figures.py [--data ../shared/data] [--sets data]
"""

import argparse
import os

import numpy as np

DPI = 90


def _save(fig, out, name, palette=False):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=DPI, pil_kwargs={"optimize": True})
    if palette:  # colour images: a 256-colour palette keeps the file small
        from PIL import Image

        with Image.open(path) as im:
            small = im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
        small.save(path, optimize=True)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB)")


def examples(train, out, rng):
    """(a) a grid of 12 injected galaxies, bright enough to see, spread in redshift."""
    import matplotlib.pyplot as plt

    from galssl.visualization import plot_cutouts

    t = train.table
    mag_r = np.asarray(getattr(t["mag_r"], "value", t["mag_r"]))
    pool = np.flatnonzero((t["flags"] == 0) & (mag_r < 17.5))
    pick = rng.choice(pool, 12, replace=False)
    pick = pick[np.argsort(np.asarray(t["redshift"])[pick])]
    fig = plot_cutouts(train, pick, ncols=6, label="redshift", figsize_per_panel=1.5)
    fig.suptitle('Injected galaxies (i, r, g; 107 × 107 px = 42"), labelled with redshift',
                 fontsize=9)
    fig.tight_layout()
    _save(fig, out, "examples.png", palette=True)
    plt.close(fig)
    print("examples: rows", pick.tolist())
    for k in pick:
        print(f"  z={t['redshift'][k]:.3f} r={mag_r[k]:.2f} B/T={t['bulge_fraction'][k]:.2f} "
              f"r50={t['r50_arcsec'][k]:.2f}\" q={t['axis_ratio'][k]:.2f} "
              f"smooth={bool(t['smooth'][k])} edge_on={bool(t['edge_on'][k])}")


def size_vs_redshift(tables, out):
    """(b) r50_arcsec vs redshift coloured by bulge fraction, with the median curve."""
    import matplotlib.pyplot as plt

    z = np.concatenate([np.asarray(t["redshift"]) for t in tables])
    r50 = np.concatenate([np.asarray(t["r50_arcsec"]) for t in tables])
    bt = np.concatenate([np.asarray(t["bulge_fraction"]) for t in tables])
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    order = np.random.default_rng(0).permutation(len(z))
    sc = ax.scatter(z[order], r50[order], c=bt[order], s=2, cmap="coolwarm", vmin=0, vmax=1,
                    rasterized=True, linewidths=0)
    edges = np.r_[0, np.quantile(z, np.linspace(0.05, 0.95, 13)), z.max()]
    mid, med = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (z >= lo) & (z < hi)
        if sel.sum() >= 20:
            mid.append(np.median(z[sel]))
            med.append(np.median(r50[sel]))
    ax.plot(mid, med, "k-", lw=2, label="median")
    ax.set_yscale("log")
    ax.set_xlim(0, min(0.4, np.quantile(z, 0.999) * 1.05))
    ax.set_xlabel("redshift")
    ax.set_ylabel('half-light radius r50 (")')
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(sc, ax=ax, label="bulge fraction B/T")
    fig.tight_layout()
    _save(fig, out, "size_vs_redshift.png")
    plt.close(fig)
    print(f"size: median r50 {np.median(r50):.2f}\", 5-95 % {np.quantile(r50, 0.05):.2f}-"
          f"{np.quantile(r50, 0.95):.2f}\"; at the 0.2\" floor {np.mean(r50 <= 0.2001):.2%}, at "
          f"the 15\" cap {np.mean(r50 >= 14.999):.2%}")
    for lo, hi in ((0, 0.05), (0.05, 0.1), (0.1, 0.15), (0.15, 0.25), (0.25, 1)):
        sel = (z >= lo) & (z < hi)
        print(f"  z {lo:.2f}-{hi:.2f}: N={sel.sum():5d} median r50 {np.median(r50[sel]):.2f}\"")


def psf_fwhm(sets, out):
    """(c) the PSF FWHM of every field and band (one value per field in the tables)."""
    import matplotlib.pyplot as plt

    bands = "ugriz"
    fig, ax = plt.subplots(figsize=(5.2, 3.5))
    ax.axhspan(0.8, 2.0, color="0.9", label='SDSS range 0.8-2.0"')
    all_fwhm = []
    for name, t, style in sets:
        fields = np.array([str(f) for f in t["field"]])  # bytes when read from HDF5
        for field in sorted(set(fields) - {""}):
            k = np.flatnonzero(fields == field)[0]
            fwhm = [float(t[f"psf_fwhm_{b}"][k]) for b in bands]
            all_fwhm.append(fwhm)
            ax.plot(range(5), fwhm, style, marker="o", label=f"{field} ({name})")
            print(f"PSF FWHM {field} ({name}): " +
                  ", ".join(f"{b} {v:.2f}\"" for b, v in zip(bands, fwhm)))
    all_fwhm = np.array(all_fwhm)
    print(f"PSF FWHM range {all_fwhm.min():.2f}-{all_fwhm.max():.2f}\", median r "
          f"{np.median(all_fwhm[:, 2]):.2f}\"")
    ax.set_xticks(range(5), list(bands))
    ax.set_ylim(0.6, 2.2)
    ax.set_xlabel("band")
    ax.set_ylabel('PSF FWHM (")')
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    _save(fig, out, "psf_fwhm.png")
    plt.close(fig)


def flux_recovery(data, field_name, n, out, seed):
    """(d) forced photometry on (injected - original) frames of one validation field.

    The same measurement as ``test_injected_flux_is_recovered_and_sky_is_empty`` in
    galssl/simulate/tests/test_simulate.py, on more galaxies: one round of ``n`` validation
    catalogue rows (every fifth row) is injected with the private function that renders a
    round into copies of the frames (``_inject_into_frames``); the
    r-band flux in a circle of radius 6 r50 + 3 FWHM around each injected centre of the
    difference frame is compared with the injected flux.
    """
    import matplotlib.pyplot as plt
    import sep
    from astropy.cosmology import Planck18
    from astropy.table import Table

    from galssl.cutouts import find_frames, group_fields
    from galssl.dust import SF11_SDSS
    from galssl.simulate import galaxy_structure, measure_psf, read_photometry
    # the frames of one round before they are cut
    from galssl.simulate import frame_pixels as _frame_pixels
    from galssl.simulate import inject_into_frames as inject_round

    cat = Table.read(os.path.join(data, "catalogs", "sdss_galaxies_specz_10k.fits"))
    *_, good = read_photometry(cat, redshift="Z", errors="mask")
    rows = np.flatnonzero(good)
    rows = rows[rows % 5 == 0][:n]
    flux, z, ebv = read_photometry(cat[rows], redshift="Z")
    field = group_fields(find_frames(os.path.join(data, "sdss_frames", field_name)))[field_name]
    bands = tuple("ugriz")
    # the structure is drawn from dereddened photometry, as in inject_galaxies
    r_b = np.array([SF11_SDSS[3.1][b] for b in bands])
    mag0 = 22.5 - 2.5 * np.log10(flux * 10 ** (0.4 * ebv[:, None] * r_b[None, :]))
    props = galaxy_structure(z, mag0[:, 2], mag0[:, 0] - mag0[:, 2],
                             np.random.default_rng(seed), cosmology=Planck18)
    psf = {b: measure_psf(_frame_pixels(field.frames[b]), field.frames[b])["fwhm_pix"]
           for b in bands}
    got, ra, dec, injected, ebv_new, props_k, modified = inject_round(
        (field, np.arange(len(rows)), flux, ebv, props, seed, 107, bands, psf))
    print(f"flux recovery: {len(got)} of {len(rows)} validation rows placed in {field_name}")
    dmag = {}
    for j, b in enumerate(bands):
        frame = field.frames[b]
        diff = modified[frame.path].astype(np.float64) - _frame_pixels(frame)
        x, y = frame.pixel(ra, dec)
        radius = np.clip(6 * props_k["disk_r50_arcsec"] / 0.396 + 3 * psf[b], 15, 200)
        measured = np.array([sep.sum_circle(diff, [x[k]], [y[k]], radius[k])[0][0]
                             for k in range(len(x))])
        dmag[b] = -2.5 * np.log10(measured / injected[:, j])
        print(f"  {b}: whole difference frame / injected flux = "
              f"{diff.sum() / injected[:, j].sum():.5f}")
        if b == "r":
            # the aperture of a large galaxy can reach into the light of an injected
            # neighbour (>= 107 px away, but 6 r50 + 3 FWHM can be ~100 px): flag those
            dist = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
            np.fill_diagonal(dist, np.inf)
            overlap = np.any(radius[:, None] + radius[None] > dist, axis=1)
    mag_in = 22.5 - 2.5 * np.log10(injected[:, 2])
    bright = mag_in < 18
    for b in bands:
        d = dmag[b][bright]
        print(f"  {b}: N(r < 18) = {bright.sum()}, median dmag {np.median(d):+.4f}, "
              f"rms {np.std(d):.4f}, max |dmag| {np.max(np.abs(d)):.4f}")
    d_all = dmag["r"]
    clean = ~overlap
    print(f"  r, all {len(d_all)}: median dmag {np.median(d_all):+.4f}, "
          f"rms {np.std(d_all):.4f}; input r {mag_in.min():.1f}-{mag_in.max():.1f}")
    print(f"  r, {clean.sum()} with apertures clear of injected neighbours: median dmag "
          f"{np.median(d_all[clean]):+.4f}, rms {np.std(d_all[clean]):.4f}, range "
          f"{d_all[clean].min():+.4f} to {d_all[clean].max():+.4f}; "
          f"{overlap.sum()} overlapping: {np.round(np.sort(d_all[overlap]), 3).tolist()}")
    print(f"  r, clean and r < 18: N={np.sum(clean & bright)}, median dmag "
          f"{np.median(d_all[clean & bright]):+.4f}")

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.axhline(0, color="0.5", lw=1)
    kw = dict(c=np.asarray(props_k["bulge_fraction"]), cmap="coolwarm", vmin=0, vmax=1, s=16)
    sc = ax.scatter(mag_in[clean], dmag["r"][clean], edgecolors="k", linewidths=0.3,
                    label="aperture clear", **{**kw, "c": kw["c"][clean]})
    ax.scatter(mag_in[overlap], dmag["r"][overlap], marker="s", edgecolors="k",
               linewidths=0.3, label="aperture overlaps an injected neighbour",
               **{**kw, "c": kw["c"][overlap]})
    ax.set_xlabel("injected r magnitude (AB)")
    ax.set_ylabel(r"$\Delta m_r = -2.5\,\log_{10}(F_\mathrm{meas}/F_\mathrm{inj})$")
    ax.set_title(f"{len(d_all)} galaxies in {field_name}: median $\\Delta m_r$ = "
                 f"{np.median(d_all[bright]):+.4f} (r < 18)", fontsize=9)
    lim = max(0.05, 1.1 * np.max(np.abs(d_all)))
    ax.set_ylim(-lim, lim)
    ax.legend(fontsize=7, loc="lower right")
    fig.colorbar(sc, ax=ax, label="B/T")
    fig.tight_layout()
    _save(fig, out, "flux_recovery.png")
    plt.close(fig)


def redshift_hist(train, val, out):
    """(e) redshift distributions and label fractions of the training and validation sets."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.2, 3.0),
                                 gridspec_kw={"width_ratios": [2, 1]})
    bins = np.linspace(0, 0.4, 41)
    fracs = {}
    for name, t, colour in (("train", train, "C0"), ("validation", val, "C1")):
        z = np.asarray(t["redshift"])
        ax.hist(z, bins=bins, density=True, histtype="step", lw=1.5, color=colour,
                label=f"{name} (N = {len(z)})")
        fracs[name] = [np.mean(np.asarray(t["smooth"])), np.mean(np.asarray(t["edge_on"]))]
        print(f"{name}: N={len(z)}, median z {np.median(z):.3f}, z > 0.4: {np.sum(z > 0.4)}, "
              f"smooth {fracs[name][0]:.1%}, edge_on {fracs[name][1]:.1%}, "
              f"flags != 0: {np.sum(np.asarray(t['flags']) != 0)}")
    ax.set_xlabel("redshift")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    width = 0.38
    for i, (name, colour) in enumerate((("train", "C0"), ("validation", "C1"))):
        xs = np.arange(2) + (i - 0.5) * width
        bars = bx.bar(xs, fracs[name], width, color=colour, label=name)
        bx.bar_label(bars, [f"{f:.0%}" for f in fracs[name]], fontsize=7)
    bx.set_xticks(range(2), ["smooth", "edge_on"])
    bx.set_ylabel("fraction (simulated labels)")
    bx.set_ylim(0, 1.15 * max(max(v) for v in fracs.values()))
    fig.tight_layout()
    _save(fig, out, "redshift_hist.png")
    plt.close(fig)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(root, "..", "shared", "data"))
    p.add_argument("--sets", default=os.path.join(root, "data"),
                   help="folder with injected_train.h5 and injected_val.h5")
    p.add_argument("--out", default=os.path.join(root, "docs", "_static", "simulate"))
    p.add_argument("--val-field", default="003918-3-0213")
    p.add_argument("--n-flux", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    from galssl.cutouts import CutoutCatalog

    os.makedirs(args.out, exist_ok=True)
    train = CutoutCatalog.read(os.path.join(args.sets, "injected_train.h5"))
    val = CutoutCatalog.read(os.path.join(args.sets, "injected_val.h5"))
    rng = np.random.default_rng(args.seed)
    examples(train, args.out, rng)
    size_vs_redshift([train.table, val.table], args.out)
    psf_fwhm([("train", train.table, "-"), ("val", val.table, "--")], args.out)
    redshift_hist(train.table, val.table, args.out)
    flux_recovery(args.data, args.val_field, args.n_flux, args.out, args.seed)


if __name__ == "__main__":
    main()
