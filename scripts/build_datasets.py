# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Build galssl's training and validation sets from the real SDSS data in ../shared/data.

(a) ``real.h5``: the galaxies detected in all shared fields (unlabelled, real).
(b) ``injected_train.h5`` / ``injected_val.h5``: galaxies of the 10,000-galaxy spectroscopic
    catalogue injected into real frames (``galssl.simulate.inject_galaxies``), split by
    **field** (validation fields are never used for training) and by catalogue row (every
    fifth row goes to validation), so neither a sky region nor a galaxy is shared.

The field 005405-6-0099 (Galactic plane: crowded, E(B-V) ~ 0.7) is kept out of the
injected sets: it has too little empty sky. Outputs go to ``data/`` (git-ignored).

Run from the repository root::

    python scripts/build_datasets.py [--data ../shared/data] [--out data] [--n-jobs 2]
"""

import argparse
import json
import os
import time

import numpy as np

from galssl.research import TRAIN_FIELDS, VAL_FIELDS


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    p.add_argument("--out", default=os.path.join(here, "..", "data"))
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--n", type=int, default=None, help="use only the first N catalogue rows")
    p.add_argument("--skip-real", action="store_true")
    args = p.parse_args()

    from astropy.table import Table

    from galssl.cutouts import CutoutCatalog
    from galssl.simulate import inject_galaxies, read_photometry

    os.makedirs(args.out, exist_ok=True)
    frames = os.path.join(args.data, "sdss_frames")
    report_path = os.path.join(args.out, "build_report.json")
    report = {}
    if os.path.isfile(report_path):  # keep the entries of parts not rebuilt now
        with open(report_path) as f:
            report = json.load(f)
    if not args.skip_real:
        t0 = time.time()
        path = os.path.join(args.out, "real.h5")
        real = CutoutCatalog.from_frames(frames, out=path, overwrite=True)
        report["real"] = {"n": len(real), "good": int(real.good.sum()),
                          "seconds": round(time.time() - t0, 1),
                          "MB": round(os.path.getsize(path) / 1e6, 1)}
        print("real:", report["real"])

    cat = Table.read(os.path.join(args.data, "catalogs", "sdss_galaxies_specz_10k.fits"))
    *_, good = read_photometry(cat, redshift="Z", errors="mask")
    print(f"catalogue: {len(cat)} rows, {int((~good).sum())} left out (fluxes <= 0 or bad z)")
    rows = np.flatnonzero(good)
    if args.n:
        rows = rows[:args.n]
    val_rows, train_rows = rows[rows % 5 == 0], rows[rows % 5 != 0]
    for name, fields, sel, seed in (("train", TRAIN_FIELDS, train_rows, 1),
                                    ("val", VAL_FIELDS, val_rows, 2)):
        t0 = time.time()
        sub = cat[sel]
        sub["catalog_row"] = sel
        injected = inject_galaxies(sub, [os.path.join(frames, f) for f in fields],
                                   redshift="Z", seed=seed, n_jobs=args.n_jobs)
        path = os.path.join(args.out, f"injected_{name}.h5")
        injected.write(path, overwrite=True)
        report[f"injected_{name}"] = {
            "n": len(injected), "fields": fields, "seconds": round(time.time() - t0, 1),
            "MB": round(os.path.getsize(path) / 1e6, 1),
            "galaxies_per_s": round(len(injected) / (time.time() - t0), 2)}
        print(name, report[f"injected_{name}"])
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
