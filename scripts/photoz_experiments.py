# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The photo-z experiments of the docs' Results page, from ../shared/data.

1. ``shipped``: the shipped default model on the held-out half of the injected validation
   set: metrics, the z_phot-z_spec figure and the PIT histograms before/after calibration.
2. ``efficiency``: `galssl.photoz.label_efficiency` (supervised from scratch, fine-tuned
   from the pretrained encoder of ``scripts/train_default_model.py``, colour-only kNN) at
   label fractions of the injected training set, evaluated on the same held-out half; the
   Figure 4 plot, the "x N fewer labels" read-off and z_phot-z_spec figures of the two
   networks trained on all labels.

Outputs (tables as ECSV/JSON, figures as PNG) go to ``docs/_static/results``: the runs, their
summary over seeds and the labels-saved read-off are filed as the variant ``--tag``
(``main`` without one) of one table per experiment (``label_efficiency_runs.ecsv``,
``label_efficiency_summaries.ecsv``, ``labels_saved.ecsv``, with the encoder and the machine
as columns; `galssl.research.RESULT_TABLES`). Run from the
repository root after ``scripts/build_datasets.py`` and ``scripts/train_default_model.py``::

    python scripts/photoz_experiments.py [--parts shipped,efficiency] [--epochs 30]
"""

import argparse
import json
import os
import re
import time

import numpy as np

from galssl.research import replace_variant, variant_rows

HERE = os.path.dirname(os.path.abspath(__file__))


def _save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    print("wrote", path, flush=True)


def _estimator_kwargs(args):
    """`PhotoZEstimator` keywords of the fine-tuned runs (``--lr-backbone``, if given)."""
    return {} if args.lr_backbone is None else {"lr_backbone": args.lr_backbone}


def part_shipped(args, val_test, out, log):
    from galssl import PhotoZEstimator
    from galssl.visualization import plot_pit, plot_zphot_zspec

    pz = PhotoZEstimator.from_pretrained()
    res = pz.evaluate(val_test, progress=False)
    raw = pz.evaluate(val_test, calibrated=False, progress=False)
    sel = res["selected"]
    z = np.asarray(val_test.table["redshift"])[sel]
    _save(plot_zphot_zspec(np.asarray(res["table"]["z_phot"])[sel], z,
                           title="shipped model, held-out validation galaxies"),
          out, "zphot_zspec_shipped.png")
    from galssl.photoz.metrics import pit

    edges = pz.bin_edges
    p_cal = pit(np.asarray(res["table"]["z_pdf"])[sel], edges, z)
    p_raw = pit(np.asarray(raw["table"]["z_pdf"])[sel], edges, z)
    _save(plot_pit(p_raw, others=[p_cal], labels=["uncalibrated", "PIT-recalibrated"]), out,
          "pit_shipped.png")
    keys = ("n", "sigma_mad", "eta", "eta_rail", "bias", "bias_median", "pit_ks", "crps")
    log["shipped"] = {"calibrated": {k: res[k] for k in keys},
                      "uncalibrated": {k: raw[k] for k in keys},
                      "flagged_ood": float(np.mean(
                          np.asarray(res["table"]["photoz_flag"])[sel] & 1 > 0))}


def part_tutorial(args, out, log):
    """The tutorial's figure: the galaxies of field 003918-3-0213 and their photo-z."""
    import matplotlib.pyplot as plt

    from galssl import PhotoZEstimator
    from galssl.cutouts import CutoutCatalog
    from galssl.visualization import lupton_rgb

    cat = CutoutCatalog.from_frames(os.path.join(args.shared, "sdss_frames",
                                                 "003918-3-0213"), progress=False)
    pz = PhotoZEstimator.from_pretrained()
    res = pz.predict(cat, progress=False)
    ok = np.asarray(res["photoz_flag"]) == 0
    fig = plt.figure(figsize=(11, 6.4))
    ax = fig.add_axes([0.06, 0.58, 0.26, 0.36])
    ax.hist(np.asarray(res["z_phot"])[ok], bins=40, range=(0, 0.4))
    ax.set(xlabel="z_phot", ylabel="galaxies", title=f"{int(ok.sum())} unflagged galaxies")
    ax = fig.add_axes([0.40, 0.58, 0.26, 0.36])
    order = np.argsort(np.where(ok, np.asarray(res["mag_r"].value), np.inf))[:5]
    for i in order:
        ax.plot(pz.bin_centers, res["z_pdf"][i] / np.diff(pz.bin_edges),
                label=f"r = {res['mag_r'][i].value:.1f}")
    ax.set(xlabel="z", ylabel="p(z)", xlim=(0, 0.4), title="PDFs of the 5 brightest")
    ax.legend(fontsize=7)
    ax = fig.add_axes([0.73, 0.58, 0.25, 0.36])
    ax.scatter(np.asarray(res["mag_r"].value)[ok], np.asarray(res["z_phot"])[ok], s=6)
    ax.set(xlabel="r (mag)", ylabel="z_phot", title="redshift against magnitude")
    for j, i in enumerate(order[:5].tolist() + np.flatnonzero(ok)[5:10].tolist()):
        a = fig.add_axes([0.02 + 0.098 * j, 0.08, 0.09, 0.36])
        a.imshow(lupton_rgb(cat.images[i], cat.bands), origin="lower")
        a.set_axis_off()
        a.set_title(f"z={res['z_phot'][i]:.3f}\n±{res['z_phot_err'][i]:.3f}", fontsize=7)
    _save(fig, out, "tutorial_field.png")
    log["tutorial"] = {"n": len(cat), "unflagged": int(ok.sum()),
                       "median_z": float(np.median(np.asarray(res["z_phot"])[ok]))}


def catalogue_photometry(args, *cats):
    """The photometric ceiling's input: for each injected catalogue, the dereddened
    magnitudes of the spectroscopic catalogue rows its galaxies were rendered from
    (`galssl.photoz.magnitude_table`, one row per cutout, in order)."""
    from astropy.table import Table

    from galssl.research import magnitude_table
    from galssl.simulate import read_photometry

    cat = Table.read(os.path.join(args.shared, "catalogs", "sdss_galaxies_specz_10k.fits"))
    flux, _, ebv, _ = read_photometry(cat, redshift="Z", errors="mask")
    return [magnitude_table(flux[np.asarray(c.table["catalog_row"])],
                            ebv[np.asarray(c.table["catalog_row"])]) for c in cats]


def efficiency_summary(table, reference=None):
    """Mean and spread over seeds of every method and label count, and each mean
    sigma_MAD as a ratio to the photometric ceiling at the same label count (taken from
    the ``reference`` table, e.g. the main run, where ``table`` has no ceiling rows: the
    labelled subsets depend only on the seed and the label count)."""
    from galssl.research import seed_summary

    summary = seed_summary(table)
    ceiling = {}
    for t in (reference, summary):
        if t is not None:
            t = seed_summary(t) if t is not summary else t
            ceiling.update({int(r["n_labels"]): r["sigma_mad"] for r in t
                            if r["method"] == "ceiling"})
    summary["sigma_mad_over_ceiling"] = [r["sigma_mad"] / ceiling.get(int(r["n_labels"]), np.nan)
                                         for r in summary]
    return summary


def _variant(args):
    """The variant a run's rows are filed under: its ``--tag`` without the leading "_",
    "main" without one."""
    return args.tag.lstrip("_") or "main"


def _table_path(out, experiment):
    """The one table of an experiment (`galssl.research.RESULT_TABLES`)."""
    from galssl.research import RESULT_TABLES

    return os.path.join(out, RESULT_TABLES[experiment])


def write_summary(args, table, out):
    """The summary over seeds, the read-off and the figure of a label-efficiency table."""
    from galssl.research import labels_saved
    from galssl.visualization import plot_label_efficiency

    from astropy.table import vstack

    variant = _variant(args)
    reference = variant_rows(_table_path(out, "label_efficiency"), "main") \
        if variant != "main" else None
    summary = efficiency_summary(table, reference)
    replace_variant(_table_path(out, "label_efficiency_summary"), variant, summary,
                    encoder=os.path.relpath(args.work))
    summary.pprint(max_lines=-1, max_width=-1)
    read_offs = []
    for method in dict.fromkeys(table["method"]):  # the read-off of every pretrained method
        if method not in ("finetuned", "linear") and not method.startswith("finetuned ("):
            continue
        saved = labels_saved(table, method=method)
        print(method)
        saved.pprint(max_lines=-1, max_width=-1)
        # "finetuned (regression head, lr 1e-4/1e-3, warm-up 50)"
        # -> "finetuned_regression_head_lr_1e-4_1e-3_warm-up_50"
        saved.add_column([re.sub(r"[^A-Za-z0-9.+-]+", "_", method).strip("_")] * len(saved),
                         name="method", index=0)
        read_offs.append(saved)
    if read_offs:
        replace_variant(_table_path(out, "labels_saved"), variant, vstack(read_offs),
                        encoder=os.path.relpath(args.work))
    _save(plot_label_efficiency(table), out, f"label_efficiency{args.tag}.png")


def finetune_variants(args):
    """The fine-tuned runs beside the seed's rates: (method name, `PhotoZEstimator`
    keywords) at ``--lr-backbone`` with a random head and, at each backbone rate of
    ``--probe-head``, with the head fitted first on the frozen representations (linear
    probe, then fine-tune)."""
    out = []
    if args.lr_backbone is not None:
        out.append((f"finetuned (lr_backbone {args.lr_backbone:g})",
                    {"lr_backbone": args.lr_backbone}))
    for lr in args.probe_head or []:
        out.append((f"finetuned (probe head, lr_backbone {lr:g})",
                    {"lr_backbone": lr, "head_init": "probe"}))
    for lr in args.regression_head or []:
        warm = f", warm-up {args.warmup}" if args.warmup else ""
        head = f", lr_head {args.regression_lr_head:g}" if args.regression_lr_head != 1e-4 \
            else ""
        bn = "" if args.train_batchnorm else ", frozen BN"
        out.append((f"finetuned (regression head{bn}, lr_backbone {lr:g}{head}{warm})",
                    {"lr_backbone": lr, "lr_head": args.regression_lr_head,
                     "head_init": "regression",
                     "freeze_batchnorm": not args.train_batchnorm,
                     "warmup_steps": args.warmup}))
    return out


def part_efficiency(args, train, val_test, out, log):
    """Label efficiency at ``--fractions`` for each of ``--seeds`` (fraction by fraction,
    so that the smallest label counts have every seed first): the methods of
    ``--methods`` (the fine-tuned one at the seed's rates) and, with ``--lr-backbone``, a
    second fine-tuned run at that backbone rate ("finetuned (lr_backbone X)"), and with
    ``--probe-head LR ...`` those whose head is first fitted on the frozen representations
    ("finetuned (probe head, lr_backbone X)", `finetune_variants`). The table
    is written after every run; with ``--resume`` the (fraction, seed, method) runs
    already in it are kept and not run again."""
    from astropy.table import vstack

    from galssl import ContrastiveEncoder
    from galssl.research import aperture_colors, aperture_features, label_efficiency
    from galssl.research import validation_halves

    enc = ContrastiveEncoder.load(os.path.join(args.work, "encoder.pt"))
    shared = {}
    if "ceiling" in args.methods:
        shared["photometry"] = catalogue_photometry(args, train, val_test)
    if "colours" in args.methods:
        shared["colours"] = (aperture_colors(train, progress=args.progress),
                             aperture_colors(val_test, progress=args.progress))
    if "apertures" in args.methods:
        shared["apertures"] = (aperture_features(train, progress=args.progress),
                               aperture_features(val_test, progress=args.progress))
    if "linear" in args.methods:
        shared["representations"] = (enc.encode(train, progress=args.progress),
                                     enc.encode(val_test, progress=args.progress))
    path, variant = _table_path(out, "label_efficiency"), _variant(args)
    earlier = variant_rows(path, variant) if args.resume else None
    tables = [] if earlier is None else [earlier]
    done = {(round(float(r["fraction"]), 6), int(r["seed"]), str(r["method"]))
            for t in tables for r in t}
    t0 = time.time()
    common = dict(epochs=args.epochs, batch_size=256, min_steps=args.min_steps,
                  progress=args.progress)
    if args.dev:  # early stopping of every network on the calibration half
        common.update(validation=validation_halves(args.data)[0], val_every_n_steps=25)
    for frac in args.fractions:
        for seed in args.seeds:
            todo = [m for m in args.methods if (round(frac, 6), seed, m) not in done]
            if todo:
                tables.append(label_efficiency(enc, train, val_test, fractions=[frac],
                                               seed=seed, methods=todo, **shared, **common))
            for name, kw in finetune_variants(args):
                if (round(frac, 6), seed, name) in done:
                    continue
                v = label_efficiency(enc, train, val_test, fractions=[frac], seed=seed,
                                     methods=["finetuned"], **common, model_kwargs=kw)
                v["method"] = [name] * len(v)
                tables.append(v)
            table = vstack(tables)
            replace_variant(path, variant, table, encoder=os.path.relpath(args.work))
            print(f"fraction {frac}, seed {seed} done after {time.time() - t0:.0f} s",
                  flush=True)
    write_summary(args, vstack(tables), out)
    entry = {
        "seconds": round(time.time() - t0, 1), "fractions": list(args.fractions),
        "methods": list(args.methods), "epochs": args.epochs,
        "min_steps": args.min_steps, "seeds": list(args.seeds),
        "lr_backbone_variant": args.lr_backbone, "probe_head": args.probe_head,
        "regression_head": args.regression_head, "warmup": args.warmup,
        "train_batchnorm": args.train_batchnorm, "dev": args.dev,
        "encoder": os.path.relpath(args.work)}
    previous = log.get(f"efficiency{args.tag}")
    if previous:  # the runs of one tag add up (--resume): keep the settings of each
        entry["earlier"] = previous.pop("earlier", []) + [previous]
    log[f"efficiency{args.tag}"] = entry


def summary_rst(summary):
    """The results page's table of a label-efficiency summary: mean ± spread over seeds of
    sigma_MAD and eta, and sigma_MAD over the photometric ceiling."""
    from galssl.research import rst_grid

    head = ["labels", "method", "seeds", "σ_MAD", "η %", "σ_MAD / ceiling"]
    rows = [[f"{int(r['n_labels']):,}", str(r["method"]), str(int(r["n_seeds"])),
             f"{r['sigma_mad']:.4f} ± {r['sigma_mad_std']:.4f}",
             f"{100 * r['eta']:.1f} ± {100 * r['eta_std']:.1f}",
             f"{r['sigma_mad_over_ceiling']:.2f}"]
            for r in sorted(summary, key=lambda r: int(r["n_labels"]))]  # stable: runs in order
    return rst_grid(head, rows)


def part_rst(args, out):
    """Write (``label_efficiency_tableTAG.rst``, for the results page) and print the RST
    table of the variant's rows of ``label_efficiency_summaries.ecsv``."""
    summary = variant_rows(_table_path(out, "label_efficiency_summary"), _variant(args))
    if summary is None:
        raise SystemExit(f"no summary of the variant {_variant(args)!r} in "
                         f"{_table_path(out, 'label_efficiency_summary')}")
    text = summary_rst(summary)
    with open(os.path.join(out, f"label_efficiency_table{args.tag}.rst"), "w") as f:
        f.write(text + "\n")
    print(text)


def part_figure5(args, train, val_test, out, log):
    """z_phot-z_spec of the supervised and the fine-tuned network trained on all labels
    (Hayat et al. 2021, Figure 5), side by side."""
    import matplotlib.pyplot as plt

    from galssl import ContrastiveEncoder
    from galssl.research import label_efficiency
    from galssl.visualization import plot_zphot_zspec

    enc = ContrastiveEncoder.load(os.path.join(args.work, "encoder.pt"))
    kw = _estimator_kwargs(args)
    t = label_efficiency(enc, train, val_test, fractions=[1.0], epochs=args.epochs,
                         batch_size=256, seed=args.seed, methods=["supervised", "finetuned"],
                         model_kwargs=kw, predictions=True, progress=args.progress)
    z = np.asarray(val_test.table["redshift"], dtype=float)
    ok = np.asarray(val_test.good) & (z >= 0) & (z <= 0.4)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    titles = {"supervised": "supervised", "finetuned": "fine-tuned from MoCo"}
    for ax, row in zip(axes, t):
        plot_zphot_zspec(row["z_phot"][ok], z[ok], ax=ax,
                         title=f"{titles[row['method']]} ({row['n_labels']} labels)")
    fig.tight_layout()
    _save(fig, out, "zphot_zspec_methods.png")
    log["figure5"] = {str(row["method"]): {k: float(row[k])
                                           for k in ("sigma_mad", "eta", "bias")}
                      for row in t}
    log["figure5"].update(epochs=args.epochs, lr_backbone=args.lr_backbone)


def part_ablation(args, train, val_test, out, log):
    """Pretraining augmentations against photo-z quality (Hayat et al. 2021, Appendix D):
    the encoder of each ``--ablation NAME=WORK`` fine-tuned at ``--fractions``, beside the
    supervised baseline of the main label-efficiency run at the same label counts."""
    from astropy.table import vstack

    from galssl import ContrastiveEncoder
    from galssl.research import label_efficiency
    from galssl.visualization import plot_label_efficiency
    from galssl.research import augmentation_summary

    kw = _estimator_kwargs(args)
    tables = []
    for spec in args.ablation:
        name, work = spec.split("=", 1)
        enc = ContrastiveEncoder.load(os.path.join(work, "encoder.pt"))
        t = label_efficiency(enc, train, val_test, fractions=args.fractions,
                             epochs=args.epochs, batch_size=256, seed=args.seed,
                             min_steps=args.min_steps, methods=["finetuned"],
                             model_kwargs=kw, progress=args.progress)
        t["method"] = [f"fine-tuned, {name}"] * len(t)
        t["augmentations"] = [augmentation_summary(**enc.config)] * len(t)
        tables.append(t)
    table = vstack(tables)
    ref = variant_rows(_table_path(out, "label_efficiency"), "main")
    if ref is not None:
        ref = ref[(ref["method"] == "supervised") & np.isin(ref["n_labels"], table["n_labels"])]
        if len(ref):
            ref["augmentations"] = ["(none: no pretraining)"] * len(ref)
            table = vstack([ref, table], metadata_conflicts="silent")
    table.write(os.path.join(out, "augmentation_ablation.ecsv"), overwrite=True)
    table.pprint(max_lines=-1, max_width=-1)
    _save(plot_label_efficiency(table), out, "augmentation_ablation.png")
    log["ablation"] = {"epochs": args.epochs, "min_steps": args.min_steps,
                       "lr_backbone": args.lr_backbone, "encoders": list(args.ablation)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--work", default=os.path.join(HERE, "..", "data", "default_model"))
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "_static", "results"))
    p.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--parts", default="shipped,tutorial,efficiency")
    p.add_argument("--fractions", type=float, nargs="+",
                   default=[0.025, 0.0625, 0.125, 0.25, 0.5, 1.0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--min-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0, help="seed of figure5 and ablation")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                   help="seeds of the label-efficiency runs (label subsets and training)")
    p.add_argument("--methods", nargs="+",
                   default=["supervised", "finetuned", "linear", "colours", "ceiling"])
    p.add_argument("--lr-backbone", type=float, default=None,
                   help="efficiency: also fine-tune at this backbone rate; figure5 and "
                        "ablation: the backbone rate (default: the seed's 0.1 x head)")
    p.add_argument("--probe-head", type=float, nargs="+", default=None, metavar="LR",
                   help="efficiency: also fine-tune with the head fitted first on the frozen "
                        "representations (head_init='probe'), at each of these backbone "
                        "rates")
    p.add_argument("--regression-head", type=float, nargs="+", default=None, metavar="LR",
                   help="efficiency: also fine-tune with the head starting as the ridge "
                        "regression (head_init='regression') and batch norm frozen (unless "
                        "--train-batchnorm), at each of these backbone rates")
    p.add_argument("--regression-lr-head", type=float, default=1e-4,
                   help="the head's rate of the --regression-head runs")
    p.add_argument("--train-batchnorm", action="store_true",
                   help="the --regression-head runs normalise with batch statistics and "
                        "update them (freeze_batchnorm=False) instead of keeping the "
                        "encoder's")
    p.add_argument("--warmup", type=int, default=0, metavar="STEPS",
                   help="the --regression-head runs raise both rates linearly over these "
                        "first steps (PhotoZEstimator(warmup_steps=...))")
    p.add_argument("--dev", action="store_true",
                   help="efficiency: every network keeps the weights of its best sigma_MAD on "
                        "the calibration half of the validation fields (fit(validation=...), "
                        "scored every 25 steps); the test half stays untouched")
    p.add_argument("--tag", default="",
                   help="the variant of this run (e.g. _ebv01): its rows of the experiment "
                   "tables (label_efficiency_runs.ecsv, ...) and the suffix of its figure")
    p.add_argument("--ablation", nargs="+", metavar="NAME=WORK",
                   default=["all but PSF=data/model_v2", "with PSF=data/ablation/psf",
                            "no noise=data/ablation/nonoise",
                            "no extinction=data/ablation/noext"],
                   help="encoders of the augmentation ablation (part 'ablation'): a name and "
                        "the --work folder of scripts/train_default_model.py")
    p.add_argument("--resume", action="store_true",
                   help="efficiency: keep the runs (fraction, seed, method) already in the "
                        "table, run the others")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()

    import matplotlib

    matplotlib.use("agg")
    from galssl.research import in_memory, read_log, validation_halves

    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "photoz_results.json")
    parts = args.parts.split(",")
    if parts == ["rst"]:  # tables only: no data to read
        part_rst(args, args.out)
        return
    if parts == ["summary"]:  # of the efficiency table as it is (e.g. an interrupted run)
        write_summary(args, variant_rows(_table_path(args.out, "label_efficiency"),
                                         _variant(args)), args.out)
        return
    log = read_log(log_path)
    _, val_test = validation_halves(args.data)
    if "shipped" in parts:
        part_shipped(args, val_test, args.out, log)
    if "tutorial" in parts:
        part_tutorial(args, args.out, log)
    train = in_memory(os.path.join(args.data, "injected_train.h5")) \
        if {"efficiency", "figure5", "ablation"} & set(parts) else None
    if "efficiency" in parts:
        part_efficiency(args, train, val_test, args.out, log)
    if "figure5" in parts:
        part_figure5(args, train, val_test, args.out, log)
    if "ablation" in parts:
        part_ablation(args, train, val_test, args.out, log)
    with open(log_path, "w") as f:
        json.dump(log, f, indent=1)
    print(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
