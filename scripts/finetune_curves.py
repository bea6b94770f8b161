# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""How photo-z networks learn from few labels, step by step: the diagnosis behind the
results page's section on fine-tuning with few labels.

For the labelled subset that `galssl.photoz.label_efficiency` draws at ``--n-labels`` and
``--seed``, trains each variant of ``--variants`` and records sigma_MAD every ``--every``
steps on two held-out sets of the validation fields: the calibration half (the *dev* set,
on which ``PhotoZEstimator.fit(validation=...)`` keeps the best weights) and the test half
(the set of every results table; recorded here only to show the curves, never used to
choose). Writes ``docs/_static/results/finetune_curves.ecsv`` (one row per variant, seed and
evaluation step; rerun with more seeds or variants to add rows) and the figure
``finetune_curves.png``. Run from the repository root::

    python scripts/finetune_curves.py --variants supervised probe-frozen --seeds 0

Variants: ``supervised`` (from scratch), ``finetuned`` (random head, backbone rate
``--lr-backbone``), ``frozen`` (the same with batch norm frozen), ``probe`` (head fitted on
the frozen representations first as a softmax regression), ``probe-frozen`` (both),
``regression`` and ``regression-frozen`` (the head fitted as a ridge regression, Gaussian
PDFs over the bins).
"""

import argparse
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

VARIANTS = {
    "supervised": None,
    "finetuned": {},
    "frozen": {"freeze_batchnorm": True},
    "probe": {"head_init": "probe"},
    "probe-frozen": {"head_init": "probe", "freeze_batchnorm": True},
    "regression": {"head_init": "regression"},
    "regression-frozen": {"head_init": "regression", "freeze_batchnorm": True},
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--work", default=os.path.join(HERE, "..", "data", "shipped_encoder"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "_static", "results"))
    p.add_argument("--variants", nargs="+", default=["supervised", "probe-frozen"],
                   choices=sorted(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-labels", type=int, default=200)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--lr-backbone", type=float, default=1e-4)
    p.add_argument("--lr-head", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=0, metavar="STEPS",
                   help="fine-tuned variants: raise both rates linearly over these steps")
    p.add_argument("--batch-size", type=int, default=256,
                   help="at most this many labelled images per step (the label-efficiency "
                        "runs' batch)")
    args = p.parse_args()

    from astropy.table import Table, vstack

    from galssl import ContrastiveEncoder, PhotoZEstimator
    from galssl.photoz import PhotoZScore
    from galssl.engine import as_image_source
    from galssl.engine import KeepBest
    from galssl.research import in_memory, validation_halves

    train = in_memory(os.path.join(args.data, "injected_train.h5"))
    dev, test = validation_halves(args.data)
    enc = ContrastiveEncoder.load(os.path.join(args.work, "encoder.pt"))
    same = {k: enc.config.get(k) for k in ("arch", "in_chans", "bands", "crop",
                                           "input_stretch")}
    z_train = np.asarray(train.table["redshift"], dtype=float)
    usable = np.flatnonzero(np.asarray(train.good) & np.isfinite(z_train))
    path = os.path.join(args.out, "finetune_curves.ecsv")
    tables = [Table.read(path)] if os.path.isfile(path) else []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)  # the subset of label_efficiency
        subset = np.sort(rng.permutation(usable)[:args.n_labels])
        for name in args.variants:
            kw = VARIANTS[name]
            pz = PhotoZEstimator(**same) if kw is None else \
                PhotoZEstimator(enc, lr_backbone=args.lr_backbone, lr_head=args.lr_head,
                                warmup_steps=args.warmup, **kw)
            z_test = np.asarray(test.table["redshift"], dtype=float)
            ok = np.flatnonzero(np.asarray(test.good) & (z_test >= 0) & (z_test <= 0.4))
            curve = KeepBest(PhotoZScore(*as_image_source(test)[:2], ok, z_test[ok], pz.config),
                             args.every, keep=False, name="test curve")
            t0 = time.time()
            batch = min(args.n_labels, args.batch_size)
            per_epoch = -(-len(subset) // batch)
            pz.fit(train[subset], redshift="redshift", epochs=-(-args.steps // per_epoch),
                   batch_size=batch, seed=seed, validation=dev,
                   val_every_n_steps=args.every, callbacks=[curve], progress=False)
            h = pz.history
            if "head_fit" in h:
                print("head fit:", h["head_fit"], flush=True)
            assert h["val_steps"] == curve.steps, (h["val_steps"], curve.steps)
            final = pz.evaluate(test, calibrated=False, progress=False)["sigma_mad"]
            lr = "" if kw is None else \
                f" lr_backbone {args.lr_backbone:g} lr_head {args.lr_head:g}" + \
                (f" warm-up {args.warmup}" if args.warmup else "")
            label = f"{name}{lr}"
            t = Table({"variant": [label] * len(curve.steps),
                       "n_labels": [len(subset)] * len(curve.steps),
                       "seed": [seed] * len(curve.steps), "step": curve.steps,
                       "dev_sigma_mad": h["val_scores"], "test_sigma_mad": curve.scores,
                       "chosen": [s == h["best_step"] for s in curve.steps],
                       "test_sigma_mad_chosen": [final] * len(curve.steps),
                       "seconds": [round(time.time() - t0, 1)] * len(curve.steps)})
            tables = [x[(x["variant"] != label) | (x["seed"] != seed)
                        | (x["n_labels"] != len(subset))] for x in tables] + [t]
            vstack(tables).write(path, overwrite=True)
            print(f"{label} seed {seed}: {time.time() - t0:.0f} s; dev-chosen step "
                  f"{h['best_step']}, test sigma_MAD there {final:.4f}, last step "
                  f"{curve.scores[-1]:.4f}", flush=True)
            for s, d, te in zip(curve.steps, h["val_scores"], curve.scores):
                print(f"   step {s:4d}  dev {d:.4f}  test {te:.4f}", flush=True)
    plot(vstack(tables), args.out)


def plot(table, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, col, title in ((axes[0], "dev_sigma_mad", "dev set (chooses the step)"),
                           (axes[1], "test_sigma_mad", "test set (shown only)")):
        runs = dict.fromkeys(zip(table["variant"], table["n_labels"]))
        for i, (variant, n) in enumerate(runs):
            this = (table["variant"] == variant) & (table["n_labels"] == n)
            for j, seed in enumerate(sorted(set(table["seed"][this]))):
                t = table[this & (table["seed"] == seed)]
                ax.plot(t["step"], t[col], color=f"C{i % 10}", ls=("-", "--", ":")[j % 3],
                        label=f"{variant} ({n} labels)" if j == 0 else None)
        ax.set_xlabel("optimiser step")
        ax.set_title(title)
    axes[0].set_ylabel(r"$\sigma_{\rm MAD}$")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "finetune_curves.png"), dpi=110)


if __name__ == "__main__":
    main()
