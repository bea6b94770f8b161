# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Ship a pretrained encoder of ``pretrain_experiments.py`` as galssl's default encoder.

Writes the backbone in float16 without the training state (projection head, momentum
encoder, queue) to ``galssl/pretrained/data/<DEFAULT_ENCODER>.pt``, its registry record
(model card, with the run's recipe and its probe table against an untrained encoder) beside
it, and the card to ``docs/_static/results/encoder_card.rst``. Run from the repository root
after ``pretrain_experiments.py --name NAME`` has finished and been probed::

    python scripts/ship_encoder.py --name NAME --supersedes galssl-sdss-moco-resnet10-small-v3

(first set ``galssl.pretrained.DEFAULT_ENCODER`` to the new name). ``--supersedes OLD``
rewrites the description of the previous default's record, which stays in the registry,
to say which encoder replaced it.
"""

import argparse
import dataclasses
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PREFIX = "galssl's default encoder"


def retired(path, new_name):
    """The record at ``path`` (the previous default encoder) with a description that names
    ``new_name`` as the encoder that replaced it; its weights stay as they are. Write it
    with ``.write(path)``."""
    from galssl.pretrained import PretrainedModel

    with open(path) as f:
        rec = PretrainedModel(**json.load(f))
    if not rec.description.startswith(DEFAULT_PREFIX):
        raise ValueError(f"{path}: the description does not start with "
                         f"{DEFAULT_PREFIX!r}; edit it by hand")
    rest = rec.description[len(DEFAULT_PREFIX):]
    return dataclasses.replace(
        rec, description=f"galssl's former default encoder, replaced by {new_name} (kept "
        f"for the results that used it){rest}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True, help="run name of pretrain_experiments.py")
    p.add_argument("--work", default=os.path.join(HERE, "..", "data", "pretrain_runs"))
    p.add_argument("--log", default=os.path.join(HERE, "..", "docs", "_static", "results",
                                                 "pretraining_probe.json"))
    p.add_argument("--supersedes", metavar="OLD", default=None,
                   help="the registry name of the previous default encoder, whose record "
                        "is rewritten to name the new one")
    p.add_argument("--hardware", default="2-core AMD EPYC CPU (AVX512-BF16), bf16 autocast")
    p.add_argument("--data-note", default="",
                   help="a sentence appended to the card's training data (e.g. how the "
                        "images reached the machine that trained it)")
    args = p.parse_args()
    from galssl.research import PROBE_TABLE_ROWS as TABLE_ROWS
    from galssl.research import input_convention

    from galssl import ContrastiveEncoder
    from galssl.pretrained import DEFAULT_ENCODER, PretrainedModel, sha256sum

    out = os.path.join(HERE, "..", "galssl", "pretrained", "data")
    if args.supersedes == DEFAULT_ENCODER:
        p.error(f"--supersedes {args.supersedes} is DEFAULT_ENCODER: set "
                "galssl.pretrained.DEFAULT_ENCODER to the new encoder's name first")
    old = None
    if args.supersedes:  # checked before anything is written
        old_path = os.path.join(out, args.supersedes + ".json")
        if not os.path.isfile(old_path):
            p.error(f"--supersedes {args.supersedes}: no such record in "
                    f"{os.path.abspath(out)}")
        try:
            old = retired(old_path, DEFAULT_ENCODER)
        except ValueError as e:
            p.error(str(e))
    with open(args.log) as f:
        run = json.load(f)[args.name]
    enc = ContrastiveEncoder.load(os.path.join(args.work, args.name, "encoder.pt"))
    weights = os.path.join(out, DEFAULT_ENCODER + ".pt")
    enc.save(weights, half=True, training_state=False, overwrite=True)
    st, c = run["settings"], enc.config
    probe = run["probe"]
    metrics = {label: f"{probe[key][0]:.4g} (untrained: {probe[key][1]:.4g})"
               for key, label in TABLE_ROWS if key in probe}
    rec = PretrainedModel(
        name=DEFAULT_ENCODER, kind="encoder", filename=os.path.basename(weights),
        description=DEFAULT_PREFIX + ": resnet10-small pretrained with MoCo v2 on "
        "unlabelled galaxies of the SDSS training fields (real detections and injected "
        "galaxies), 256-d representations for similarity search, anomalies, morphology "
        "probes and fine-tuning. Metrics: the representation probe "
        "(galssl.ssl.probe_representations) against an untrained encoder of the same "
        "architecture and input stretch, on the validation fields.",
        arch=c["arch"], in_chans=c["in_chans"], bands=c["bands"], pixel_scale=0.396,
        cutout_size=107, crop=c["crop"],
        normalisation=input_convention(c),
        z_min=0.0, z_max=0.0, n_bins=0,
        sha256=sha256sum(weights), size_bytes=os.path.getsize(weights),
        licence="BSD-3-Clause (as galssl); trained on SDSS data (public, SDSS terms)",
        citation="galssl; Hayat et al. 2021, ApJL 911, L33 (method)",
        training_data=f"{st['n_unlabelled']} unlabelled galaxies: {st['n_real']} real "
        "galaxies detected in the shared SDSS frames outside the validation fields, the "
        "injected training galaxies"
        + (" and the injected unlabelled set of scripts/build_unlabelled.py"
           if st.get("extra_unlabelled") else "")
        + " (four training fields; no validation field, no redshift used)"
        + (f". {args.data_note}" if args.data_note else ""),
        recipe=f"MoCo v2, {st['epochs']} epochs ({run['steps']} steps), batch "
        f"{st['batch_size']}, queue {c['queue_size']}, momentum {c['momentum']:g}, "
        f"temperature {c['temperature']:g}, SGD lr {c['lr']:g} cosine, the seed's "
        f"augmentations (E(B-V) up to {c['ebv_max']:g}, "
        + ("PSF blur, " if c["psf"] else "")
        + f"noise {c['noise_scale'][0]:g}-"
        f"{c['noise_scale'][1]:g} x MAD, rotation, jitter {c['jitter']} px)"
        + (f", the photometry target (weight {c['photometry']:g})"
           if c.get("photometry", 0) > 0 else "")
        + f"; seed "
        f"{st['seed']}; run '{args.name}' of scripts/pretrain_experiments.py",
        hardware=args.hardware,
        wall_time=f"{run['minutes_total']:.0f} min" if run.get("minutes_total") else "",
        metrics=metrics,
        limitations="Trained on 7 SDSS fields (semi-real: injected parametric galaxies and "
        "the real galaxies of 4 fields); SDSS ugriz at 0.396 arcsec/px only; a small "
        f"encoder trained on {st['n_unlabelled']:,} galaxies, far from the seed's 1.2M; "
        "float16 "
        "weights (cast to float32 on load); no training state, so pretraining cannot be "
        "resumed from this file.",
        shipped=True)
    rec.write(os.path.join(out, DEFAULT_ENCODER + ".json"),
              card=os.path.join(HERE, "..", "docs", "_static", "results", "encoder_card.rst"))
    print(f"wrote {weights} ({rec.size_bytes / 1e6:.2f} MB) and its record")
    if old is not None:
        old.write(old_path)
        print(f"{args.supersedes}: record now names {DEFAULT_ENCODER} as its replacement")


if __name__ == "__main__":
    main()
