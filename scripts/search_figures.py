# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Similarity search and anomalies among the real galaxies of the shared SDSS fields.

Representations: the shipped MoCo encoder (`galssl.pretrained.DEFAULT_ENCODER`; or the
encoder file ``--moco``) on the complete cutouts of ``data/real.h5``
(``scripts/build_datasets.py``) with E(B-V) at most 0.5 (the low-latitude field
005405-6-0099, E(B-V) 3.5-4.6, is left out). Writes to ``docs/_static/results``:
``neighbours_real.png`` (the four brightest galaxies fainter than r = 15.5 and their nearest
neighbours), ``anomalies_real.png`` (the 24 highest kNN anomaly scores), ``umap_real.png``
(the UMAP map with thumbnails) and ``search_real.json`` (counts and the
augmentation-invariance fractions of the MoCo encoder and of the shipped photo-z model's
encoder). Run from the repository root::

    python scripts/search_figures.py
"""

import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "_static", "results"))
    p.add_argument("--moco", default=None,
                   help="a MoCo encoder file (default: the shipped encoder, "
                   "galssl.pretrained.DEFAULT_ENCODER)")
    args = p.parse_args()

    import matplotlib

    matplotlib.use("agg")

    from galssl import ContrastiveEncoder
    from galssl.augment import Compose, ExtinctionAugment, GaussianNoise, RandomRotate
    from galssl.augment import estimate_noise_mad
    from galssl.cutouts import HIGH_EXTINCTION_EBV
    from galssl.pretrained import DEFAULT_ENCODER, DEFAULT_PHOTOZ
    from galssl.search import (SimilaritySearch, retrieval_invariance, top_anomalies,
                               umap_embedding)
    from galssl.visualization import plot_anomalies, plot_neighbors, plot_umap
    from galssl.research import in_memory

    cat = in_memory(os.path.join(args.data, "real.h5"), lambda c: c.good & (
        np.asarray(c.table["ebv"]) <= HIGH_EXTINCTION_EBV))
    # the encoder inside the shipped photo-z model (fine-tuned for redshifts)
    shipped = ContrastiveEncoder.from_pretrained(DEFAULT_PHOTOZ)
    if args.moco:
        enc, used = ContrastiveEncoder.load(args.moco), os.path.relpath(args.moco)
    else:
        enc, used = ContrastiveEncoder.from_pretrained(), f"shipped MoCo encoder {DEFAULT_ENCODER}"
    reps = enc.encode(cat, progress=False)
    ss = SimilaritySearch(reps, cat.table, encoder=enc)
    # the four brightest galaxies fainter than r = 15.5: the brighter objects of these
    # fields are saturated stars, which the star/galaxy separation lets through
    mag = np.asarray(cat.table["mag_r"].value)
    pick = np.flatnonzero(mag > 15.5)
    queries = pick[np.argsort(mag[pick], kind="stable")[:4]]
    fig = plot_neighbors(ss, cat, queries, k=7)
    fig.savefig(os.path.join(args.out, "neighbours_real.png"), dpi=90)
    top = top_anomalies(reps, cat.table, n=24, k=10)
    fig = plot_anomalies(cat, top, n=24)
    fig.savefig(os.path.join(args.out, "anomalies_real.png"), dpi=90)
    xy = umap_embedding(reps, seed=0)
    fig = plot_umap(reps, cat, color="mag_r", embedding=xy, grid=12)
    fig.savefig(os.path.join(args.out, "umap_real.png"), dpi=90)
    fields = [str(f) for f in top["field"]]
    noise = estimate_noise_mad(np.asarray(cat.images[:500]), progress=False)
    sub = cat[np.arange(0, len(cat), 2)]

    encoders = {"shipped photo-z encoder": shipped, f"MoCo encoder ({used})": enc}
    transforms = {
        "rotation": Compose([ExtinctionAugment(0.0), RandomRotate()]),
        "rotation + noise U(1,3) x MAD": Compose([ExtinctionAugment(0.0), RandomRotate(),
                                                  GaussianNoise(noise, scale=(1.0, 3.0))])}
    inv = {}
    for ename, e in encoders.items():
        for name, tf in transforms.items():
            inv[f"{ename}: {name}"] = float(retrieval_invariance(e, sub, tf, seed=0,
                                                                 progress=False))
    res = {"n_galaxies": len(cat), "encoder": used,
           "top_anomaly_fields": {f: fields.count(f) for f in set(fields)},
           "invariance_n": len(sub), "retrieval_invariance": inv}
    with open(os.path.join(args.out, "search_real.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
