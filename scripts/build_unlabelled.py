# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Build a large unlabelled pretraining set in the seed's regime (many more unlabelled than
labelled galaxies), from the training fields only.

Galaxies are drawn from a density model of the spectroscopic catalogue's **training rows**
(those of ``build_datasets.py``: every row not in the validation fifth): a Gaussian mixture
over the dereddened ugriz model magnitudes and log(1 + z), sampled and kept inside the
range of the training rows. The redshift only sets the rendered size (it is never a
label: the output has no redshift column). Each drawn galaxy is injected ``--repeats``
times into the four training fields (``galssl.simulate.inject_galaxies``: every copy at
its own empty-sky position with its own orientation). No validation field and no
validation galaxy is used. Writes ``OUT/unlabelled_injected.h5``, a JSON report, and the
magnitude/redshift histograms of the drawn galaxies against the training rows
(``--figure``). Run from the repository root::

    python scripts/build_unlabelled.py --n 20000 --repeats 2 [--n-jobs 2]
"""

import argparse
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def training_photometry(catalogue_path):
    """Dereddened ugriz AB magnitudes and redshifts of the catalogue's training rows."""
    from astropy.table import Table

    from galssl.simulate import read_photometry
    cat = Table.read(catalogue_path)
    flux, z, ebv, good = read_photometry(cat, redshift="Z", errors="mask")
    rows = np.flatnonzero(good)
    rows = rows[rows % 5 != 0]  # build_datasets.py keeps every fifth row for validation
    from galssl.dust import extinction_coefficients

    coeff = np.asarray(extinction_coefficients("ugriz"))
    mags = 22.5 - 2.5 * np.log10(flux[rows]) - coeff[None, :] * ebv[rows, None]
    return mags, z[rows]


def draw_galaxies(mags, z, n, *, seed=0, n_components=24):
    """``n`` galaxies (magnitudes, redshifts) from a Gaussian mixture fitted to the given
    ones, kept inside their range."""
    from sklearn.mixture import GaussianMixture

    x = np.column_stack([mags, np.log1p(z)])
    gmm = GaussianMixture(n_components=n_components, covariance_type="full",
                          random_state=seed).fit(x)
    lo, hi = x.min(axis=0), x.max(axis=0)
    out = np.zeros((0, x.shape[1]))
    draw = 0
    while len(out) < n:
        gmm.random_state = seed + 1 + draw
        s, _ = gmm.sample(2 * n)
        out = np.vstack([out, s[np.all((s >= lo) & (s <= hi), axis=1)]])
        draw += 1
    out = out[:n]
    return out[:, :5], np.expm1(out[:, 5])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--n", type=int, default=20000, help="injected galaxies in all")
    p.add_argument("--repeats", type=int, default=2, help="injections of each drawn galaxy")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", default=None, help="PNG of the histograms")
    args = p.parse_args()
    from astropy.table import Table

    from galssl.research import TRAIN_FIELDS
    from galssl.simulate import inject_galaxies

    mags, z = training_photometry(os.path.join(args.data, "catalogs",
                                               "sdss_galaxies_specz_10k.fits"))
    n_draw = -(-args.n // args.repeats)
    dm, dz = draw_galaxies(mags, z, n_draw, seed=args.seed)
    table = Table({f"mag_{b}": dm[:, j] for j, b in enumerate("ugriz")})
    table["redshift"] = dz  # sets the rendered size only; dropped from the output
    table["drawn_id"] = np.arange(n_draw)
    table = Table(np.tile(table.as_array(), args.repeats))[:args.n]
    t0 = time.time()
    frames = [os.path.join(args.data, "sdss_frames", f) for f in TRAIN_FIELDS]
    cat = inject_galaxies(table, frames, redshift="redshift", seed=args.seed + 100,
                          n_jobs=args.n_jobs)
    for col in ("redshift", "input_redshift"):
        if col in cat.table.colnames:
            del cat.table[col]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "unlabelled_injected.h5")
    cat.write(path, overwrite=True)
    report = {"n": len(cat), "good": int(cat.good.sum()), "drawn": int(n_draw),
              "repeats": args.repeats, "fields": TRAIN_FIELDS,
              "n_training_rows_modelled": int(len(z)),
              "seconds": round(time.time() - t0, 1),
              "MB": round(os.path.getsize(path) / 1e6, 1),
              "mag_r_median": float(np.median(dm[:, 2])),
              "z_median": float(np.median(dz))}
    with open(os.path.join(args.out, "unlabelled_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(report)
    if args.figure:
        import matplotlib

        matplotlib.use("agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
        for a, (name, tr, dr, bins) in zip(ax, (
                ("dereddened r (AB mag)", mags[:, 2], dm[:, 2], np.linspace(13, 19, 49)),
                ("redshift", z, dz, np.linspace(0, 0.4, 41)))):
            a.hist(tr, bins, density=True, histtype="step", lw=2,
                   label=f"catalogue training rows ({len(tr)})")
            a.hist(dr, bins, density=True, histtype="step", lw=2,
                   label=f"drawn for injection ({len(dr)})")
            a.set_xlabel(name)
        ax[0].set_ylabel("density")
        ax[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=110)


if __name__ == "__main__":
    main()
