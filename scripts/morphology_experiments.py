# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Morphology with few labels on the simulated proxy labels of the injected galaxies.

`galssl.morphology.label_count_curve` for the ``smooth`` (bulge fraction > 0.5) and
``edge_on`` (disk axis ratio < 0.3) labels of `galssl.simulate.inject_galaxies`: trained on
the injected training fields, scored on the injected validation fields (other fields, other
galaxies). These labels are simulated, not Galaxy Zoo votes. Files its rows as the variant
``--tag`` (``main`` without one) of ``morphology_label_counts_runs.ecsv`` in ``--out``, beside
the other variants, and draws ``morphology_label_countsTAG.png``. Run from
the repository root after ``scripts/train_default_model.py``::

    python scripts/morphology_experiments.py --encoder data/model_v2/encoder.pt
"""

import argparse
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def plot(table, path):
    import matplotlib.pyplot as plt

    questions = sorted(set(table["question"]))
    fig, axes = plt.subplots(1, len(questions), figsize=(4.5 * len(questions), 3.6),
                             squeeze=False)
    for ax, q in zip(axes[0], questions):
        for mode, marker in (("linear", "o"), ("finetune", "s"), ("supervised", "^")):
            sel = (table["question"] == q) & (table["mode"] == mode)
            if sel.any():
                ax.plot(table["n_labels"][sel], table["roc_auc"][sel], marker=marker,
                        label=mode)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("labelled training galaxies")
        ax.set_ylabel("ROC AUC (validation fields)")
        ax.set_title(f"{q} (simulated label)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("wrote", path, flush=True)


def supervised_rows(path, variant, seed):
    """The supervised rows of an earlier variant of this script's table, checked to be of
    ``seed``."""
    from galssl.research import variant_rows

    earlier = variant_rows(path, variant)
    if earlier is None:
        raise ValueError(f"{path} has no rows of the variant {variant!r}")
    rows = earlier[earlier["mode"] == "supervised"]
    if len(rows) == 0:
        raise ValueError(f"{path} has no supervised rows in the variant {variant!r}")
    if "seed" in rows.colnames and set(int(s) for s in rows["seed"]) != {seed}:
        raise ValueError(f"the variant {variant!r} was made with seed "
                         f"{sorted(set(int(s) for s in rows['seed']))}, not {seed}")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--encoder", default=os.path.join(HERE, "..", "data", "default_model",
                                                     "encoder.pt"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "_static", "results"))
    p.add_argument("--counts", type=int, nargs="+", default=[64, 256, 1024, 4096])
    p.add_argument("--network-counts", type=int, nargs="+", default=[256, 1024, 4096],
                   help="counts at which the fine-tuned and supervised networks are trained")
    p.add_argument("--linear-only", action="store_true",
                   help="only the linear probe (the networks from scratch do not depend on "
                        "the encoder)")
    p.add_argument("--tag", default="",
                   help="the variant of this run (e.g. _ebv01): its rows of "
                   "morphology_label_counts_runs.ecsv and the suffix of its figure")
    p.add_argument("--network-modes", nargs="+", default=["finetune", "supervised"],
                   choices=["finetune", "supervised"],
                   help="the networks trained at --network-counts (the supervised one does "
                        "not depend on the encoder)")
    p.add_argument("--supervised-from", default=None, metavar="VARIANT",
                   help="add the supervised rows of an earlier variant of this script's "
                        "table (same labels, test galaxies and seed; 'main' for the run "
                        "without a tag) to the table and the figure, e.g. with "
                        "--network-modes finetune")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import matplotlib

    matplotlib.use("agg")
    from astropy.table import vstack
    from galssl.research import in_memory

    from galssl import ContrastiveEncoder
    from galssl.research import RESULT_TABLES, label_count_curve, replace_variant

    path = os.path.join(args.out, RESULT_TABLES["morphology_label_counts"])

    train = in_memory(os.path.join(args.data, "injected_train.h5"))
    test = in_memory(os.path.join(args.data, "injected_val.h5"))
    enc = ContrastiveEncoder.load(args.encoder)
    parts = [label_count_curve(enc, train, test, label_counts=args.counts, modes=["linear"],
                               seed=args.seed, progress=False)]
    if not args.linear_only:
        parts.append(label_count_curve(enc, train, test, label_counts=args.network_counts,
                                       modes=args.network_modes, epochs=args.epochs,
                                       seed=args.seed, progress=False))
    if args.supervised_from:
        parts.append(supervised_rows(path, args.supervised_from, args.seed))
    table = vstack(parts, metadata_conflicts="silent")
    table.meta.clear()
    table["epochs"], table["seed"] = args.epochs, args.seed
    if args.supervised_from:
        table["supervised_from"] = args.supervised_from
    os.makedirs(args.out, exist_ok=True)
    replace_variant(path, args.tag.lstrip("_") or "main", table,
                    encoder=os.path.relpath(args.encoder))
    cols = ["n_labels", "mode", "question", "accuracy", "roc_auc", "eta", "n_test", "seconds"]
    table[cols].pprint(max_lines=-1, max_width=-1)
    plot(table, os.path.join(args.out, f"morphology_label_counts{args.tag}.png"))
    print("positive fraction in the test set:",
          {q: float(np.nanmean(np.asarray(test.table[q], float))) for q in ("smooth", "edge_on")})


if __name__ == "__main__":
    main()
