# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Pretraining recipe experiments, each steered by the representation probe.

Pretrains a `galssl.ContrastiveEncoder` with the given recipe on the unlabelled set of
``train_default_model.pretraining_catalog`` (real galaxies of the non-validation fields and
the injected training galaxies; no validation field, no redshift), resumable (the run's
checkpoint is ``WORK/NAME/checkpoints/last.ckpt``; ``--stop-epoch`` splits it over
sittings), then runs `galssl.ssl.probe_representations` against an untrained encoder of
the same architecture and input stretch, and appends the run, its settings and its probe
table to ``--log`` (JSON). Run from the repository root, e.g.::

    python scripts/pretrain_experiments.py --name b64-asinh --batch-size 64 \\
        --queue-size 4096 --momentum 0.99 --input-stretch asinh --epochs 12
"""

import argparse
import json
import os
import time

import numpy as np

from galssl.research import PROBE_TABLE_ROWS as TABLE_ROWS

HERE = os.path.dirname(os.path.abspath(__file__))


#: The columns of the shorter table of selected runs (``--rst --runs ...``), e.g. the
#: augmentation ablation of the results page: the headings of TABLE_ROWS and two more.
_HEADINGS = dict(TABLE_ROWS, **{"photo-z ridge sigma_MAD, 800 labels": "ridge σ_MAD 800",
                                "retrieval, pretraining views": "views"})
SHORT_ROWS = [(k, _HEADINGS[k]) for k in (
    "photo-z ridge sigma_MAD, 200 labels", "photo-z ridge sigma_MAD, 800 labels",
    "photo-z ridge sigma_MAD, 3200 labels", "photo-z knn sigma_MAD, 3200 labels", "R^2 g-r",
    "R^2 axis ratio", "effective rank", "retrieval, rotation", "retrieval, pretraining views")]


def rst_table(log, runs=None, columns=TABLE_ROWS):
    """An RST table of the runs of the log (all by default, in the log's order), with the
    untrained floor of each input stretch, in the probe rows ``columns``."""
    missing = [r for r in runs or [] if r not in log]
    if missing:
        raise KeyError(f"no run {', '.join(missing)} in the log (runs: {', '.join(log)})")
    head = ["run"] + [h for _, h in columns]
    rows, floors = [], set()
    for name in list(log) if runs is None else runs:
        stretch = log[name]["settings"].get("input_stretch")
        if stretch not in floors:  # the untrained floor of each input stretch, once
            floors.add(stretch)
            rows.append([f"untrained, input_stretch={stretch}"] +
                        [f"{log[name]['probe'][k][1]:.4g}" for k, _ in columns])
        rows.append([name] + [f"{log[name]['probe'][k][0]:.4g}" for k, _ in columns])
    from galssl.research import rst_grid

    return rst_grid(head, rows)


def _minutes_total(work):
    """Training minutes of all the sittings of a run (None if not recorded)."""
    path = os.path.join(work, "sittings.txt")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return round(sum(float(x) for x in f.read().split()) / 60, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", default=None)
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--work", default=os.path.join(HERE, "..", "data", "pretrain_runs"))
    p.add_argument("--log", default=os.path.join(HERE, "..", "docs", "_static", "results",
                                                 "pretraining_probe.json"))
    p.add_argument("--arch", default="resnet10-small")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--stop-epoch", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--queue-size", type=int, default=4096)
    p.add_argument("--momentum", type=float, default=0.99)
    p.add_argument("--momentum-schedule", default="constant", choices=["constant", "cosine"],
                   help="the momentum encoder's m: constant, or rising from --momentum to 1")
    p.add_argument("--proj-dim", type=int, default=128,
                   help="output dimension of the projection head")
    p.add_argument("--decorrelation", type=float, default=0.0,
                   help="weight of the decorrelation term of the representations (0: MoCo)")
    p.add_argument("--photometry", type=float, default=0.0,
                   help="weight of the view's own aperture photometry as a second target "
                        "(0: InfoNCE alone, this script's default, so that the results "
                        "page's commands reproduce; the library's default is 1)")
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--input-stretch", default="asinh", choices=["asinh", "asinh-noise", "none"])
    p.add_argument("--ebv-max", type=float, default=0.1,
                   help="E(B-V) range of the extinction augmentation (the library's "
                        "default; the seed's is 0.5)")
    p.add_argument("--noise-scale", type=float, nargs=2, default=[1.0, 3.0],
                   help="range of the noise augmentation in units of the pixel noise "
                        "('0 0': no added noise)")
    p.add_argument("--psf", action="store_true",
                   help="add the PSF augmentation (off by default, as in the library)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe-seed", type=int, default=0)
    p.add_argument("--unlabelled", action="store_true",
                   help="add the set of build_unlabelled.py (data/unlabelled_injected.h5)")
    p.add_argument("--rst", action="store_true",
                   help="print the log's runs as the results page's table and stop")
    p.add_argument("--runs", nargs="+", default=None, metavar="NAME",
                   help="with --rst: only these runs, in this order, with the shorter "
                        "set of columns (SHORT_ROWS)")
    p.add_argument("--probe-only", action="store_true",
                   help="probe WORK/NAME/encoder.pt of a finished run without training")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    if args.rst:
        with open(args.log) as f:
            log = json.load(f)
        try:
            print(rst_table(log) if args.runs is None else
                  rst_table(log, runs=args.runs, columns=SHORT_ROWS))
        except KeyError as e:
            p.error(e.args[0])
        return
    from galssl import ContrastiveEncoder
    from galssl.research import load_probe_data, pretraining_catalog, probe_representations

    if not args.name:
        p.error("--name is required (except with --rst)")
    work = os.path.join(args.work, args.name)
    ckdir = os.path.join(work, "checkpoints")
    cat = pretraining_catalog(args.data, unlabelled=args.unlabelled)
    stretch = None if args.input_stretch == "none" else args.input_stretch
    settings = dict(arch=args.arch, queue_size=args.queue_size, momentum=args.momentum,
                    momentum_schedule=args.momentum_schedule, proj_dim=args.proj_dim,
                    decorrelation=args.decorrelation, photometry=args.photometry,
                    temperature=args.temperature, lr=args.lr,
                    warmup_epochs=args.warmup_epochs, input_stretch=stretch,
                    ebv_max=args.ebv_max, noise_scale=args.noise_scale, psf=args.psf)
    if args.probe_only:
        enc = ContrastiveEncoder.load(os.path.join(work, "encoder.pt"))
        seconds, loss = None, None
    else:
        enc = ContrastiveEncoder(**settings)
        t0 = time.time()
        enc.fit(cat, epochs=args.epochs, stop_epoch=args.stop_epoch,
                batch_size=args.batch_size, checkpoint_dir=ckdir,
                resume=os.path.isfile(os.path.join(ckdir, "last.ckpt")), seed=args.seed,
                progress=args.progress)
        seconds = round(time.time() - t0, 1)
        enc.save(os.path.join(work, "encoder.pt"), overwrite=True)
        with open(os.path.join(work, "sittings.txt"), "a") as f:  # seconds of each sitting
            f.write(f"{seconds}\n")
        loss = float(np.mean(enc.history["loss"][-20:]))
        print(f"{args.name}: {len(enc.history['loss'])} steps this sitting in {seconds:.0f} s, "
              f"final loss {loss:.3f}", flush=True)
    if args.stop_epoch is not None and args.stop_epoch < args.epochs:
        return  # probe at the end of the run
    train, val, real = load_probe_data(args.data)
    table = probe_representations(enc, train, val, real=real, seed=args.probe_seed,
                                  progress=False)
    for row in table:
        print(f"  {row['measure']:<40s} {row['encoder']:9.4f} {row['untrained']:9.4f} "
              f"{row['ratio']:7.3f}")
    log = {}
    if os.path.isfile(args.log):
        with open(args.log) as f:
            log = json.load(f)
    log[args.name] = {
        "settings": dict(settings, epochs=args.epochs, batch_size=args.batch_size,
                         seed=args.seed, n_unlabelled=len(cat),
                         n_real=int(np.sum(cat.table["origin"] == "real")),
                         extra_unlabelled=args.unlabelled),
        "steps": int(args.epochs * (int(cat.good.sum()) // args.batch_size)),
        "seconds_last_sitting": seconds,
        "minutes_total": _minutes_total(work),
        "final_loss": loss,
        "probe_seconds": table.meta["seconds"],
        "probe": {r["measure"]: [round(float(r["encoder"]), 5), round(float(r["untrained"]), 5)]
                  for r in table}}
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    with open(args.log, "w") as f:
        json.dump(log, f, indent=1)


if __name__ == "__main__":
    main()
