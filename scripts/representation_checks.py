# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Is a pretrained encoder's representation any good? Checks on held-out data.

For each encoder given (and an untrained one of the same architecture as the floor):

- kNN photo-z on frozen representations: each held-out injected validation galaxy gets the
  median redshift of its 10 most similar (cosine) galaxies among 3,000 injected training
  galaxies; sigma_MAD and eta of that estimate.
- the spread of the representations: mean pairwise cosine similarity and effective rank
  (exp of the entropy of the normalised covariance spectrum); a collapsed encoder has mean
  cosine near 1 and effective rank near 1.
- retrieval invariance (`galssl.search.retrieval_invariance`) of real galaxies of the
  validation fields under a random rotation, and for the identity view (must be 1).

Writes ``representations.json`` to ``--out``. Run from the repository root::

    python scripts/representation_checks.py data/model_v2/encoder.pt [more.pt ...]
"""

import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def knn_photoz(train_reps, z_train, reps, z, k=10):
    from galssl.search import exact_knn, normalised

    _, nearest = exact_knn(normalised(train_reps), normalised(reps), k)
    z_phot = np.median(z_train[nearest], axis=1)
    dz = (z_phot - z) / (1 + z)
    return {"sigma_mad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
            "eta": float(np.mean(np.abs(dz) > 0.05))}


def spread(reps):
    from galssl.search import normalised

    r = normalised(reps)
    ev = np.clip(np.linalg.eigvalsh(np.cov(r.T)), 0, None)
    p = ev[ev > 0] / ev.sum()
    return {"mean_cosine": float((r @ r.T).mean()),
            "effective_rank": float(np.exp(-(p * np.log(p)).sum()))}


def check(enc, train, val, real):
    from galssl.augment import Compose, ExtinctionAugment, RandomRotate, eval_transform
    from galssl.search import retrieval_invariance

    a = enc.encode(train, progress=False)
    b = enc.encode(val, progress=False)
    out = knn_photoz(a, np.asarray(train.table["redshift"]), b,
                     np.asarray(val.table["redshift"]))
    out.update(spread(b))
    rot = Compose([ExtinctionAugment(0.0, bands=enc.bands), RandomRotate(bands=enc.bands)])
    out["invariance_rotation"] = retrieval_invariance(enc, real, rot, progress=False)
    out["invariance_identity"] = retrieval_invariance(
        enc, real, eval_transform(bands=enc.bands, out=enc.config["crop"]), progress=False)
    out["n_val"], out["n_real"] = len(val), len(real)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("encoders", nargs="+", help="ContrastiveEncoder checkpoints")
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "_static", "results"))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from galssl.research import EBV_LIMIT, VAL_FIELDS, in_memory

    from galssl import ContrastiveEncoder

    rng = np.random.default_rng(args.seed)
    train = in_memory(os.path.join(args.data, "injected_train.h5"))
    train = train[np.sort(rng.choice(len(train), 3000, replace=False))]
    val = in_memory(os.path.join(args.data, "injected_val.h5"))
    real = in_memory(os.path.join(args.data, "real.h5"), lambda c: c.good & np.isin(
        np.asarray(c.table["field"]), VAL_FIELDS) & (np.asarray(c.table["ebv"]) <= EBV_LIMIT))
    results = {}
    first = ContrastiveEncoder.load(args.encoders[0])
    untrained = ContrastiveEncoder(arch=first.config["arch"], crop=first.config["crop"],
                                   input_stretch=first.config.get("input_stretch"))
    untrained._trained = True
    results["untrained (random weights)"] = check(untrained, train, val, real)
    print(json.dumps(results), flush=True)
    for path in args.encoders:
        results[os.path.relpath(path)] = check(ContrastiveEncoder.load(path), train, val, real)
        print(json.dumps(results[os.path.relpath(path)]), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "representations.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
