# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""One table per experiment: every run of the results page's experiments, whatever its
variant, in one ECSV file with the variant, the encoder and the machine as columns (not one
file per variant and tag), and the helpers that read and replace a variant's rows."""

import os
import platform

import numpy as np

__all__ = ["RESULT_TABLES", "variant_rows", "replace_variant", "machine_description",
           "collect_variant_files"]

#: experiment -> the one file of its rows under the results folder.
RESULT_TABLES = {
    "label_efficiency": "label_efficiency_runs.ecsv",
    "label_efficiency_summary": "label_efficiency_summaries.ecsv",
    "labels_saved": "labels_saved.ecsv",
    "morphology_label_counts": "morphology_label_counts_runs.ecsv",
    "shift_validation": "shift_validation_runs.ecsv",
}

#: The variant of the runs made without a tag.
MAIN = "main"


def machine_description():
    """What ran it, in words: the CPU model and core count, and the CUDA GPU if there is
    one (a result's time and its numbers within float noise depend on it)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            text += f"; {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return text


def variant_rows(path, variant):
    """The rows of ``variant`` of the experiment table ``path`` (None when there is no
    such file or variant), without the bookkeeping columns."""
    from astropy.table import Table

    if not os.path.isfile(path):
        return None
    table = Table.read(path)
    rows = table[np.asarray(table["variant"]) == variant]
    if not len(rows):
        return None
    rows.remove_columns([c for c in ("variant", "encoder", "machine") if c in rows.colnames])
    return rows


def replace_variant(path, variant, rows, *, encoder="", machine=None):
    """Write ``rows`` into the experiment table ``path`` as the rows of ``variant``
    (replacing that variant's earlier rows, keeping the others, in order), with the
    ``variant``, ``encoder`` and ``machine`` columns first; atomically. Returns the table."""
    from astropy.table import Table, vstack

    from ..utils._atomic import write_table

    new = Table(rows, copy=True)
    for key in ("variant", "encoder", "machine"):
        if key in new.colnames:
            new.remove_column(key)
    n = len(new)
    new.add_column(np.array([variant] * n, dtype=str), name="variant", index=0)
    new.add_column(np.array([encoder] * n, dtype=str), name="encoder", index=1)
    new.add_column(np.array([machine or machine_description()] * n, dtype=str),
                   name="machine", index=2)
    parts = []
    if os.path.isfile(path):
        old = Table.read(path)
        parts.append(old[np.asarray(old["variant"]) != variant])
    parts.append(new)
    table = vstack(parts, metadata_conflicts="silent") if len(parts) > 1 else new
    table.meta.pop("encoder", None)
    write_table(table, path, overwrite=True)
    return table


def collect_variant_files(folder, stem, variants, *, encoders=None, machines=None,
                          extra=None):
    """One table from the per-variant files of one experiment (``{stem}.ecsv`` for the
    main variant, ``{stem}_{variant}.ecsv`` for the others), with ``variant``, ``encoder``
    and ``machine`` columns; ``extra(variant, table)`` may add columns. Returns (table,
    the files read)."""
    from astropy.table import Table, vstack

    encoders, machines = encoders or {}, machines or {}
    parts, read = [], []
    for variant in variants:
        name = f"{stem}.ecsv" if variant == MAIN else f"{stem}_{variant}.ecsv"
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        t = Table.read(path)
        encoder = str(t.meta.get("encoder", encoders.get(variant, "")))
        for key, value in t.meta.items():  # a run's settings (seed, epochs): columns
            if key != "encoder" and key not in t.colnames and \
                    isinstance(value, (int, float, str)) and not isinstance(value, bool):
                t[key] = [value] * len(t)
        t.meta.clear()
        if extra is not None:
            t = extra(variant, t)
        n = len(t)
        t.add_column(np.array([variant] * n, dtype=str), name="variant", index=0)
        t.add_column(np.array([encoder] * n, dtype=str), name="encoder", index=1)
        t.add_column(np.array([machines.get(variant, "not recorded")] * n, dtype=str),
                     name="machine", index=2)
        parts.append(t)
        read.append(path)
    if not parts:
        return None, read
    return vstack(parts, metadata_conflicts="silent"), read
