# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Reproduce galssl's shipped default photo-z model from ../shared/data.

Stages (each resumes from what the previous one left in ``--work``):

1. ``pretrain``: MoCo v2 (`galssl.ContrastiveEncoder`, ``resnet10-small``) on the real
   galaxies detected in the shared frames **except the validation fields** plus the
   injected training set (unlabelled: redshifts are not used).
2. ``finetune``: `galssl.PhotoZEstimator` fine-tuned from that encoder on the injected
   training set (redshift labels, z <= 0.4).
3. ``calibrate``: PIT recalibration on the first half of the injected validation set
   (field-split: validation fields never enter stages 1-2); metrics on the other half.
4. ``ship``: write the weights (half precision) into the package with their sha256.

Needs the datasets of ``scripts/build_datasets.py`` in ``--data``. Run from the repository
root (about 25 minutes on a 2-core CPU; Lightning uses a GPU when there is one)::

    python scripts/train_default_model.py [--stages pretrain,finetune,calibrate,ship]

The augmentation ablation of the docs' Results page pretrains variants into other folders,
e.g. ``--work data/ablation/psf --stages pretrain --psf``.
"""

import argparse
import json
import os
import time

import numpy as np

from galssl.research import (augmentation_summary, in_memory, input_convention,
                             pretraining_catalog, read_log, validation_halves)

HERE = os.path.dirname(os.path.abspath(__file__))


def encoder_from_run(args, log):
    """The ``pretrain`` stage when ``--pretraining-run NAME`` is given: copy the encoder of
    that run of ``pretrain_experiments.py`` into ``--work`` and log its recipe from the
    probe log, instead of pretraining again."""
    from galssl import ContrastiveEncoder

    with open(args.pretraining_log) as f:
        run = json.load(f)[args.pretraining_run]
    enc = ContrastiveEncoder.load(os.path.join(args.pretraining_dir, args.pretraining_run,
                                               "encoder.pt"))
    enc.save(os.path.join(args.work, "encoder.pt"), overwrite=True)
    st = run["settings"]
    minutes = run.get("minutes_total") or run["seconds_last_sitting"] / 60
    log["pretrain"] = {"run": args.pretraining_run, "n_real": st["n_real"],
                       "n_injected": st["n_unlabelled"] - st["n_real"],
                       "epochs": st["epochs"], "steps": run["steps"],
                       "batch_size": st["batch_size"], "momentum": enc.config["momentum"],
                       "queue_size": enc.config["queue_size"],
                       "augmentations": augmentation_summary(**enc.config),
                       "input_stretch": enc.config["input_stretch"],
                       "seconds": round(60 * minutes, 1), "final_loss": run["final_loss"]}


def stage_pretrain(args, log):
    from galssl import ContrastiveEncoder

    if args.pretraining_run:
        return encoder_from_run(args, log)
    cat = pretraining_catalog(args.data)
    enc = ContrastiveEncoder(arch=args.arch, momentum=args.momentum, psf=args.psf,
                             ebv_max=args.ebv_max, noise_scale=args.noise_scale)
    log["pretrain"] = {"n_real": int(np.sum(cat.table["origin"] == "real")),
                       "n_injected": int(np.sum(cat.table["origin"] == "injected")),
                       "epochs": args.pretrain_epochs, "batch_size": args.batch_size,
                       "momentum": args.momentum,
                       "augmentations": augmentation_summary(**enc.config)}
    print("pretraining on", log["pretrain"], flush=True)
    ckdir = os.path.join(args.work, "pretrain")
    resume = os.path.isfile(os.path.join(ckdir, "last.ckpt"))
    t0 = time.time()
    enc.fit(cat, epochs=args.pretrain_epochs, batch_size=args.batch_size,
            checkpoint_dir=ckdir, resume=resume, seed=args.seed, progress=args.progress)
    enc.save(os.path.join(args.work, "encoder.pt"), overwrite=True)
    log["pretrain"].update(seconds=round(time.time() - t0, 1),
                           final_loss=float(np.mean(enc.history["loss"][-20:])),
                           queue_size=enc.config["queue_size"])


def stage_finetune(args, log):
    from galssl import ContrastiveEncoder, PhotoZEstimator

    train = in_memory(os.path.join(args.data, "injected_train.h5"))
    enc = ContrastiveEncoder.load(os.path.join(args.work, "encoder.pt"))
    ckdir = os.path.join(args.work, "finetune")
    resume = os.path.isfile(os.path.join(ckdir, "last.ckpt"))
    t0 = time.time()
    pz = PhotoZEstimator(enc, lr_backbone=args.lr_backbone)
    pz.fit(train, redshift="redshift", epochs=args.finetune_epochs,
           batch_size=args.batch_size, checkpoint_dir=ckdir, resume=resume, seed=args.seed,
           progress=args.progress)
    pz.save(os.path.join(args.work, "photoz_uncalibrated.pt"), overwrite=True)
    log["finetune"] = {"n_train": pz.history["n_train"], "epochs": args.finetune_epochs,
                       "lr_backbone": pz.config["lr_backbone"], "lr_head": pz.config["lr_head"],
                       "n_outside_range": pz.history["n_outside_range"],
                       "seconds": round(time.time() - t0, 1),
                       "final_loss": float(np.mean(pz.history["loss"][-20:]))}


def stage_refresh_bn(args, log):
    """Only for weights fine-tuned before `fit` set robust batch-norm statistics itself:
    the same step `fit` now ends with (same seed, batches and reference)."""
    from galssl import PhotoZEstimator

    train = in_memory(os.path.join(args.data, "injected_train.h5"))
    path = os.path.join(args.work, "photoz_uncalibrated.pt")
    pz = PhotoZEstimator.load(path)
    pz.refresh_batchnorm(train, batch_size=args.batch_size, seed=args.seed)
    pz.save(path, overwrite=True)
    log["refresh_bn"] = {"note": "batch-norm statistics set to the median over 32 training "
                         "batches (PhotoZEstimator.refresh_batchnorm, what fit now does)"}


def stage_calibrate(args, log):
    from galssl import PhotoZEstimator

    pz = PhotoZEstimator.load(os.path.join(args.work, "photoz_uncalibrated.pt"))
    cal, test = validation_halves(args.data)
    before = pz.evaluate(test, progress=False)
    fit = pz.calibrate(cal, progress=False)
    after = pz.evaluate(test, progress=False)
    pz.save(os.path.join(args.work, "photoz.pt"), overwrite=True)
    keys = ("n", "sigma_mad", "eta", "bias", "pit_ks", "crps")
    log["calibrate"] = {"n_calibration": fit["n"],
                        "test_uncalibrated": {k: before[k] for k in keys},
                        "test_calibrated": {k: after[k] for k in keys}}


def _schedule_note(log):
    note = log.get("pretrain_note")
    return f" ({note})" if note else ""


def stage_ship(args, log):
    from galssl import ContrastiveEncoder, PhotoZEstimator
    from galssl.pretrained import DEFAULT_PHOTOZ, PretrainedModel, sha256sum

    pz = PhotoZEstimator.load(os.path.join(args.work, "photoz.pt"))
    out = os.path.join(HERE, "..", "galssl", "pretrained", "data")
    weights = os.path.join(out, DEFAULT_PHOTOZ + ".pt")
    pz.save(weights, half=True, overwrite=True)
    pre, fin, cal = log["pretrain"], log["finetune"], log["calibrate"]
    defaults = ContrastiveEncoder().config  # for logs of runs that did not record them
    m = cal["test_calibrated"]
    u = cal["test_uncalibrated"]
    rec = PretrainedModel(
        name=DEFAULT_PHOTOZ, kind="photoz", filename=os.path.basename(weights),
        description="galssl's default photo-z model: a resnet10-small encoder pretrained "
        "with MoCo v2 on real SDSS galaxies and injected galaxies, fine-tuned on injected "
        "galaxies with spectroscopic redshifts, PDFs recalibrated by PIT.",
        arch=pz.config["arch"], in_chans=pz.config["in_chans"], bands=pz.config["bands"],
        pixel_scale=0.396, cutout_size=107, crop=pz.config["crop"],
        normalisation=input_convention(pz.config),
        z_min=pz.config["z_min"], z_max=pz.config["z_max"], n_bins=pz.config["n_bins"],
        sha256=sha256sum(weights), size_bytes=os.path.getsize(weights),
        licence="BSD-3-Clause (as galssl); trained on SDSS data (public, SDSS terms)",
        citation="galssl; Hayat et al. 2021, ApJL 911, L33 (method)",
        training_data=f"pretraining: {pre['n_real']} real galaxies detected in the shared "
        f"SDSS frames outside the validation fields + {pre['n_injected']} injected galaxies "
        f"of the 4 training fields (no redshift used); fine-tuning: "
        f"{fin['n_train']} injected galaxies ({fin['n_outside_range']} with z > 0.4 put in "
        f"the last bin); calibration: {cal['n_calibration']} injected galaxies of the "
        f"validation fields 003918-3-0213 and 007264-3-0111 (even rows); metrics: the odd "
        f"rows (field- and galaxy-disjoint from training)",
        recipe=(f"encoder: run '{pre['run']}' of scripts/pretrain_experiments.py; "
                if pre.get("run") else "")
        + f"MoCo v2 {pre['epochs']} epochs, batch {pre['batch_size']}, queue "
        f"{pre['queue_size']}, momentum {pre.get('momentum', defaults['momentum']):g}, SGD "
        f"lr 0.03 cosine{_schedule_note(log)}, augmentations: "
        f"{pre.get('augmentations', augmentation_summary(**defaults))}; "
        f"fine-tune {fin['epochs']} epochs batch {args.batch_size}, AdamW backbone "
        f"{pz.config['lr_backbone']:g} / head {pz.config['lr_head']:g}, x0.1 at 60 % and "
        f"90 %, rotation + jitter-crop; seed {args.seed}",
        hardware=args.hardware,
        wall_time=f"pretraining {pre['seconds'] / 60:.0f} min, fine-tuning "
        f"{fin['seconds'] / 60:.0f} min",
        metrics={"n_test": m["n"], "sigma_mad": round(m["sigma_mad"], 5),
                 "eta": round(m["eta"], 5), "bias": round(m["bias"], 5),
                 "pit_ks_uncalibrated": round(u["pit_ks"], 4),
                 "pit_ks_calibrated": round(m["pit_ks"], 4),
                 "crps": round(m["crps"], 5)},
        limitations="Trained on semi-real data: real SDSS frames (noise, PSF, neighbours, "
        "artefacts) with parametric bulge+disk galaxies of real spectroscopic photometry "
        "injected (no K-correction of morphology, type from one colour); 7 fields only; SDSS "
        "ugriz at 0.396 arcsec/px only; z <= 0.4; small encoder trained on a 2-core CPU.",
        shipped=True)
    docs = os.path.join(HERE, "..", "docs", "_static", "results")
    os.makedirs(docs, exist_ok=True)
    rec.write(os.path.join(out, DEFAULT_PHOTOZ + ".json"),
              card=os.path.join(docs, "model_card.rst"))
    log["ship"] = {"sha256": rec.sha256, "MB": round(rec.size_bytes / 1e6, 2)}


STAGES = {"pretrain": stage_pretrain, "finetune": stage_finetune,
          "refresh_bn": stage_refresh_bn, "calibrate": stage_calibrate, "ship": stage_ship}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "data"))
    p.add_argument("--work", default=os.path.join(HERE, "..", "data", "default_model"))
    p.add_argument("--stages", default="pretrain,finetune,calibrate,ship")
    p.add_argument("--pretraining-run", default=None, metavar="NAME",
                   help="the pretrain stage copies the encoder of this finished run of "
                        "scripts/pretrain_experiments.py instead of pretraining")
    p.add_argument("--pretraining-dir", default=os.path.join(HERE, "..", "data",
                                                             "pretrain_runs"))
    p.add_argument("--pretraining-log", default=os.path.join(
        HERE, "..", "docs", "_static", "results", "pretraining_probe.json"))
    p.add_argument("--arch", default="resnet10-small")
    p.add_argument("--pretrain-epochs", type=int, default=20)
    p.add_argument("--finetune-epochs", type=int, default=30)
    p.add_argument("--lr-backbone", type=float, default=1e-3,
                   help="fine-tuning learning rate of the encoder (the head's is 1e-3)")
    p.add_argument("--psf", action="store_true", help="pretrain with the PSF augmentation")
    p.add_argument("--ebv-max", type=float, default=0.5,
                   help="largest E(B-V) of the extinction augmentation (0: none)")
    p.add_argument("--noise-scale", type=float, nargs=2, default=[1.0, 3.0],
                   help="range of the noise augmentation in units of the noise MAD "
                        "(0 0: no noise)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--momentum", type=float, default=0.99,
                   help="MoCo momentum (0.99: the CPU run has only ~700 steps; the paper's "
                        "0.999 suits 10^5 steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--hardware", default="2-core AMD EPYC CPU (AVX512-BF16), bf16 autocast")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    log_path = os.path.join(args.work, "train_log.json")
    log = read_log(log_path)
    for stage in args.stages.split(","):
        STAGES[stage](args, log)
        with open(log_path, "w") as f:
            json.dump(log, f, indent=1)
        print(stage, "done:", json.dumps(log.get(stage)), flush=True)


if __name__ == "__main__":
    main()
