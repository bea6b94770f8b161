# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The representation probe (`galssl.ssl.probe_representations`) on the shared data.

For each encoder checkpoint, beside an untrained encoder of the same architecture: photo-z
from frozen representations (ridge and kNN, 200/800/3,200 labelled injected galaxies of the
training fields, tested on the injected galaxies of the two validation fields), linear
recovery of the injected galaxies' colours, magnitude, size, axis ratio and bulge
fraction, spread (effective rank, mean cosine), and retrieval of the real galaxies of the
validation fields under rotation and under the pretraining views. Prints one table per
encoder and writes them to ``--out`` as JSON. Needs ``scripts/build_datasets.py``'s
output. Run from the repository root::

    python scripts/probe.py data/run/encoder.pt [more.pt ...] [--out probe.json]
"""

import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


APERTURES_ARCSEC = (1.5, 3.0, 6.0)


def aperture_features(cat):
    """Dereddened aperture magnitudes in every band and aperture of `APERTURES_ARCSEC`."""
    from galssl.research import aperture_colors

    cols = []
    for r in APERTURES_ARCSEC:
        t = aperture_colors(cat, radius=r, progress=False)
        cols += [np.asarray(t[f"mag_{b}"], float) for b in cat.bands]
    return np.column_stack(cols)


def photometry_probe(name, feats_l, feats_t, train, val, args):
    """The probe's measures on ``feats``: printed, and returned for the JSON."""
    import time

    from galssl.research import probe_features

    t0 = time.time()
    table = probe_features(feats_l, feats_t, train, val, label_counts=args.counts,
                           splits=args.splits, seed=args.seed)
    seconds = round(time.time() - t0, 1)
    print(f"\n{name} ({feats_l.shape[1]} features, {seconds} s; {len(train)} labelled, "
          f"{len(val)} test)")
    for row in table:
        print(f"  {row['measure']:<40s} {row['features']:9.4f}")
    return {"meta": dict(table.meta, seconds=seconds, apertures_arcsec=APERTURES_ARCSEC),
            "rows": {r["measure"]: float(r["features"]) for r in table}}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("encoders", nargs="*", help="ContrastiveEncoder checkpoints")
    p.add_argument("--photometry", action="store_true",
                   help="also probe dereddened aperture magnitudes (1.5, 3, 6 arcsec)")
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--out", default=None, help="JSON file for the tables")
    p.add_argument("--counts", type=int, nargs="+", default=[200, 800, 3200])
    p.add_argument("--splits", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-real", action="store_true", help="skip the retrieval measures")
    args = p.parse_args()
    if not args.encoders and not args.photometry:
        p.error("give encoder checkpoints, --photometry, or both")

    from galssl import ContrastiveEncoder
    from galssl.research import probe_representations

    from galssl.research import load_probe_data

    train, val, real = load_probe_data(args.data)
    results = {}
    if args.photometry:
        phot = aperture_features(train), aperture_features(val)
        results["aperture photometry"] = photometry_probe("aperture photometry", *phot,
                                                          train, val, args)
    for path in args.encoders:
        enc = ContrastiveEncoder.load(path)
        table = probe_representations(enc, train, val, real=None if args.no_real else real,
                                      label_counts=args.counts, splits=args.splits,
                                      seed=args.seed, progress=False)
        print(f"\n{path}  ({table.meta['seconds']} s; {len(train)} labelled, {len(val)} test,"
              f" {table.meta['n_real']} real)")
        for row in table:
            print(f"  {row['measure']:<40s} {row['encoder']:9.4f} {row['untrained']:9.4f} "
                  f"{row['ratio']:7.3f}")
        results[path] = {"meta": dict(table.meta),
                         "rows": {r["measure"]: [float(r["encoder"]), float(r["untrained"])]
                                  for r in table}}
        if args.photometry:  # what the representations add to the photometry
            reps = enc.encode(train, progress=False), enc.encode(val, progress=False)
            results[f"aperture photometry + {path}"] = photometry_probe(
                f"aperture photometry + representations of {path}",
                np.hstack([phot[0], reps[0]]), np.hstack([phot[1], reps[1]]), train, val,
                args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
