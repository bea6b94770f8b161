# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Shift-aware validation of photo-z on the injected galaxies of the shared fields.

`galssl.research.shift_validation` over the union of ``data/injected_train.h5`` and
``data/injected_val.h5`` (scripts/build_datasets.py): one fold per field (train on the five
others) and a covariate-shift split by r magnitude (train on the brighter galaxies, test on
the fainter ones), each beside the photometric ceiling of the same training rows (the best
regressor on the noiseless catalogue magnitudes the galaxies were injected with,
dereddened). The rows are filed as the variant ``--variant`` of
``shift_validation_runs.ecsv`` in ``--out``, with the encoder and the machine. Run from
the repository root::

    python scripts/shift_experiments.py [--method linear] [--encoder shipped]
"""

import argparse
import os

import numpy as np

from galssl.research import RESULT_TABLES, replace_variant, shift_validation


def union(paths):
    """One in-memory catalogue of the rows of several catalogue files."""
    from astropy.table import vstack

    from galssl.cutouts import CutoutCatalog
    from galssl.research import in_memory

    cats = [in_memory(p) for p in paths]
    table = vstack([c.table for c in cats], metadata_conflicts="silent")
    return CutoutCatalog(table, np.concatenate([np.asarray(c.images) for c in cats]),
                         bands=cats[0].bands, pixel_scale=cats[0].pixel_scale)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(here, "..", "data"))
    p.add_argument("--out", default=os.path.join(here, "..", "docs", "_static", "results"))
    p.add_argument("--encoder", default="shipped",
                   help="'shipped' (the encoder of the shipped photo-z model) or encoder.pt")
    p.add_argument("--method", default="linear",
                   choices=("linear", "finetuned", "supervised"))
    p.add_argument("--faint", type=float, default=17.0,
                   help="r magnitude of the covariate-shift split (test on fainter)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variant", default=None, help="default: the method")
    args = p.parse_args()

    from galssl import ContrastiveEncoder, PhotoZEstimator
    from galssl.research import magnitude_table

    cat = union([os.path.join(args.data, f"injected_{s}.h5") for s in ("train", "val")])
    t = cat.table
    flux = np.column_stack([np.asarray(t[f"flux_{b}"], float) for b in "ugriz"])
    # the injected fluxes are reddened at the new position: deredden with its E(B-V)
    phot = magnitude_table(flux, ebv=np.asarray(t["ebv"], float))
    if args.encoder == "shipped":
        encoder = PhotoZEstimator.from_pretrained().to_encoder()
        name = "shipped photo-z model's encoder"
    else:
        encoder, name = ContrastiveEncoder.load(args.encoder), os.path.relpath(args.encoder)
    mag_r = np.asarray(getattr(t["mag_r"], "value", t["mag_r"]), float)
    out = shift_validation(cat, encoder=encoder, method=args.method, by="field",
                           shift={f"r >= {args.faint:g}": mag_r >= args.faint},
                           photometry=phot, epochs=args.epochs, seed=args.seed,
                           progress=False)
    out.pprint(max_lines=-1, max_width=-1)
    path = os.path.join(args.out, RESULT_TABLES["shift_validation"])
    replace_variant(path, args.variant or args.method, out, encoder=name)
    print(f"written to {path} (variant {args.variant or args.method!r})")


if __name__ == "__main__":
    main()
