# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Merge the results page's per-variant tables into one table per experiment.

Earlier sessions wrote one ECSV file per experiment, variant and tag
(``label_efficiency_ebv01.ecsv``, ``labels_saved_v2_finetuned_..._1e-05.ecsv`` ...: 45 files)
and a reader could not tell which was current. This folds them into
`galssl.research.RESULT_TABLES`, one file per experiment with ``variant``, ``encoder`` and
``machine`` columns (the encoder from the file's metadata or the run log, the machine
where the run log or the results page records it), and removes the per-variant files.
The experiment scripts now write those tables themselves (``--tag`` is the variant).

Run once from the repository root::

    python scripts/collect_results.py [--dry-run]
"""

import argparse
import glob
import json
import os
import re

import numpy as np

from galssl.research import RESULT_TABLES, collect_variant_files

OUT = os.path.join("docs", "_static", "results")
MAIN = "main"  # the variant of the runs made without a tag
#: Where the results page says which machine ran a variant (the run log has no such key).
MACHINES = {MAIN: "2-core Intel Xeon CPU (results page)"}
NOT_RECORDED = "2-core CPU, model not recorded"


def variants_of(stem, skip=()):
    """main, then the suffixes of ``{stem}_*.ecsv`` that name variants."""
    found = []
    for path in sorted(glob.glob(os.path.join(OUT, f"{stem}_*.ecsv"))):
        tag = os.path.basename(path)[len(stem) + 1:-len(".ecsv")]
        if not tag.startswith(skip):
            found.append(tag)
    return [MAIN] + found


def encoders_from_log():
    path = os.path.join(OUT, "photoz_results.json")
    log = json.load(open(path)) if os.path.isfile(path) else {}
    out = {}
    for key, entry in log.items():
        if key == "efficiency" or key.startswith("efficiency_"):
            variant = MAIN if key == "efficiency" else key[len("efficiency_"):]
            if isinstance(entry, dict) and entry.get("encoder"):
                out[variant] = os.path.normpath(entry["encoder"]).replace("../main/", "")
    return out


def labels_saved_table(variants):
    """One table of every ``labels_saved*_<method>.ecsv``, with variant and method."""
    from astropy.table import Table, vstack

    parts, read = [], []
    known = sorted((v for v in variants if v != MAIN), key=len, reverse=True)
    for path in sorted(glob.glob(os.path.join(OUT, "labels_saved_*.ecsv"))):
        rest = os.path.basename(path)[len("labels_saved_"):-len(".ecsv")]
        variant = next((v for v in known if rest == v or rest.startswith(v + "_")), MAIN)
        method = rest if variant == MAIN else rest[len(variant) + 1:] or "(not recorded)"
        t = Table.read(path)
        t.meta.clear()
        t.add_column(np.array([method] * len(t)), name="method", index=0)
        t.add_column(np.array([variant] * len(t)), name="variant", index=0)
        parts.append(t)
        read.append(path)
    return (vstack(parts) if parts else None), read


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dry-run", action="store_true", help="print, write and remove nothing")
    args = p.parse_args()
    encoders = encoders_from_log()
    runs_variants = variants_of("label_efficiency", skip=("summary", "table", "runs",
                                                          "summaries"))
    machines = {v: MACHINES.get(v, NOT_RECORDED) for v in runs_variants}
    done = []
    for stem, key in (("label_efficiency", "label_efficiency"),
                      ("label_efficiency_summary", "label_efficiency_summary"),
                      ("morphology_label_counts", "morphology_label_counts")):
        variants = variants_of(stem, skip=("runs",)) if stem != "label_efficiency" else \
            runs_variants
        table, read = collect_variant_files(OUT, stem, variants, encoders=encoders,
                                            machines={v: machines.get(v, NOT_RECORDED)
                                                      for v in variants})
        if table is None:
            continue
        done.append((os.path.join(OUT, RESULT_TABLES[key]), table, read))
    saved, read = labels_saved_table(runs_variants)
    if saved is not None:
        enc = np.array([encoders.get(v, "") for v in saved["variant"]])
        mach = np.array([machines.get(v, NOT_RECORDED) for v in saved["variant"]])
        saved.add_column(enc, name="encoder", index=1)
        saved.add_column(mach, name="machine", index=2)
        done.append((os.path.join(OUT, RESULT_TABLES["labels_saved"]), saved, read))
    for path, table, files in done:
        print(f"{path}: {len(table)} rows from {len(files)} files "
              f"(variants: {', '.join(dict.fromkeys(table['variant']))})")
        if args.dry_run:
            continue
        table.write(path, overwrite=True)
        for f in files:
            if os.path.abspath(f) != os.path.abspath(path):
                os.remove(f)
    if not args.dry_run:
        stale = [f for f in glob.glob(os.path.join(OUT, "*.ecsv"))
                 if re.match(r"(label_efficiency|labels_saved|morphology_label_counts)_",
                             os.path.basename(f))
                 and os.path.basename(f) not in RESULT_TABLES.values()]
        print("left:", sorted(os.path.basename(f) for f in stale) or "none")


if __name__ == "__main__":
    main()
