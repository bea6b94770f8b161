# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Run every galssl benchmark and write one summary table.

Each ``bench_*.py`` script of this folder runs as a subprocess with
``--json <out>/<name>.json`` (its printed output goes to ``<out>/<name>.log``, its errors
to ``<out>/<name>.err``). From each JSON the headline ratio against the peer measured in
the same run is read back and set next to the target the benchmark states, with the
absolute numbers behind it:

========  ================================================================================
augment   ``default_pretraining_views`` against a per-sample numpy loop; augmentation share
          of a ResNet18 MoCo step
cutouts   ``CutoutCatalog.from_table`` against a naive per-object astropy/reproject loop
pretrain  the galssl MoCo v2 step against one built from lightly's blocks; share of the
          fp32 matmul peak
predict   ``PhotoZEstimator.predict`` against the bare forward pass; peak memory on a large
          HDF5-backed catalogue
search    faiss flat index against a numpy brute force; fastest approximate index with
          recall >= 0.95
simulate  injected galaxies per second, n workers against one
========  ================================================================================

A benchmark that fails does not stop the others: its row says "failed" with the last line
of its standard error. The table is printed, written to ``<out>/summary.rst`` and
``<out>/summary.json``, and with ``--rst`` to a reStructuredText file for the docs (the
table, then a line naming the hardware, the date and the command).

Run from the repository root::

    python benchmarks/run_all.py [--quick] [--only search predict] [--out benchmarks/results]
        [--rst docs/_static/results/performance.rst] [--timeout SECONDS]

Without ``--quick`` each benchmark runs with its own defaults (the million-vector search
alone takes about 15 minutes on two CPU cores); ``--quick`` uses small sizes, a few minutes
in all.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)

# benchmark name -> arguments of the --quick run (each benchmark's defaults otherwise)
QUICK = {
    "augment": ["--repeats", "3"],
    "cutouts": ["--n-naive", "5", "--fields", "003918-3-0213"],
    "pretrain": ["--repeats", "9", "--archs", "resnet10-small"],
    "predict": ["--n", "512", "--n-big", "20000"],
    # a fresh checkout has no data/real.h5: the galaxies of two shared fields stand in,
    # their representations cached apart from the full run's
    "search": ["--n", "100000", "--fields", "003918-3-0213", "001035-6-0017",
               "--components", "4", "--galaxy-reps",
               os.path.join("benchmarks", "results", "quick_real_representations.npy")],
    "simulate": ["--n", "20"],
}
BENCHMARKS = list(QUICK)

# what each benchmark's headline row measures (used as is for a failed run)
HEADLINE = {
    "augment": "galssl views / per-sample loop",
    "cutouts": "galssl from_table / naive per-object loop",
    "pretrain": "galssl MoCo step / lightly MoCo step",
    "predict": "predict() / bare forward pass",
    "search": "faiss flat / numpy brute force",
    "simulate": "galaxies/s, n workers / 1 worker",
}

# targets stated in the docstrings of the benchmarks that do not write them to their JSON
TARGET_CUTOUT_SPEEDUP = 10.0  # bench_cutouts: galssl >= 10x the naive loop
TARGET_PREDICT_RATIO = 0.8  # bench_predict: predict >= 0.8x the raw forward rate
TARGET_PREDICT_PEAK_MB = 2000.0  # bench_predict: peak resident memory < 2 GB
TARGET_SEARCH_APPROX = 100.0  # bench_search: recall >= 0.95 at >= 100x numpy
SEARCH_RECALL = 0.95

COLUMNS = ("benchmark", "measure", "result", "target", "met", "measured in the same run")


# ---------------------------------------------------------------------- formatting
def num(x):
    """A rate or duration with a sensible number of digits."""
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def ratio(x):
    return f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def percent(fraction):
    return f"{100 * fraction:.1f} %"


def target_text(op, value, unit):
    text = f"{value:g}"
    if "." not in text and "e" not in text and value < 10:
        text += ".0"
    return f"{op} {text}{unit}"


def row(measure, result, numbers, target=None, value=None):
    """A summary row; ``target`` is (op, threshold, unit) with op ">=" or "<" and ``value``
    the measured number it applies to (in the threshold's unit)."""
    if target is None:
        met, target_str = None, "none stated"
    else:
        op, threshold, unit = target
        met = value >= threshold if op == ">=" else value < threshold
        target_str = target_text(op, threshold, unit)
    return {"measure": measure, "result": result, "target": target_str, "met": met,
            "numbers": numbers}


# ---------------------------------------------------------------------- summaries
def summarise_augment(res):
    targets, batch = res["targets"], res["batch"]
    rows = []
    for name, peer in res["peers"].items():
        rows.append(row(
            f"galssl views / per-sample loop with {name}", ratio(peer["speedup"]),
            f"galssl {num(res['galssl_images_per_s'])} images/s (batch {batch}); peer "
            f"{num(peer['images_per_s'])} images/s (on {res['ref_images']} images)",
            (">=", targets["speedup"], "x"), peer["speedup"]))
    share = res["augmentation_share"]
    rows.append(row(
        "augmentation share of a ResNet18 MoCo step, CPU", percent(share),
        f"views {num(res['galssl_batch_s'])} s, MoCo step {num(res['moco_step_s'])} s "
        f"(batch {batch})", ("<", 100 * targets["augmentation_share"], " %"), 100 * share))
    gpu = res.get("gpu")
    if gpu:
        rows.append(row(
            f"galssl views on {gpu['device']}", f"{num(gpu['images_per_s'])} images/s",
            f"augmentation share of a MoCo step {percent(gpu['augmentation_share'])}"))
    return rows


def summarise_cutouts(res):
    s = res["summary"]
    speedup = s["speed-up galssl / naive"]
    fields = s["fields"]
    return [row(
        "galssl CutoutCatalog.from_table / naive per-object loop", ratio(speedup),
        f"galssl {num(s['galssl objects/s (5 bands, 107 px)'])} objects/s "
        f"({s['galssl cutout objects']} objects, {fields} field{'s' * (fields != 1)}); "
        f"naive {num(s['naive objects/s'])} objects/s ({s['naive objects']} objects); "
        f"max rel. difference {s['naive vs galssl max rel. difference']:.1e}",
        (">=", TARGET_CUTOUT_SPEEDUP, "x"), speedup)]


def summarise_pretrain(res):
    targets, batch, peak = res["targets"], res["batch"], res["matmul_peak_gflops"]
    if not res["cpu"]:
        raise ValueError("no CPU architecture was measured")
    rows = []
    for r in res["cpu"]:
        rows.append(row(
            f"galssl MoCo step / lightly MoCo step ({r['arch']}, batch {batch})",
            ratio(r["ratio"]),
            f"galssl {num(r['galssl_images_per_s'])} images/s ({r['precision']} "
            f"{r['memory_format']}), lightly {num(r['lightly_images_per_s'])} images/s "
            f"(fp32); galssl fp32 {ratio(r['fp32_ratio'])} lightly",
            (">=", targets["ratio"], "x"), r["ratio"]))
        rows.append(row(
            f"galssl MoCo step, share of the fp32 matmul peak ({r['arch']})",
            percent(r["fraction_of_peak"]),
            f"{num(r['gflops'])} GFLOP/s of {num(peak)} GFLOP/s",
            (">=", 100 * targets["fraction_of_peak"], " %"), 100 * r["fraction_of_peak"]))
    gpu = res.get("gpu")
    if gpu:
        for arch in dict.fromkeys(r["arch"] for r in gpu["rows"]):
            runs = [r for r in gpu["rows"] if r["arch"] == arch]
            best = max(runs, key=lambda r: r["galssl_images_per_s"])
            peers = [r["lightly_fp32_images_per_s"] for r in runs
                     if r["lightly_fp32_images_per_s"]]
            mode = f"{best['precision']} {best['memory_format']} bn_splits={best['bn_splits']}"
            if peers:
                rows.append(row(
                    f"galssl MoCo step / lightly MoCo step on {gpu['device']} ({arch}, "
                    f"batch {gpu['batch']})", ratio(best["galssl_images_per_s"] / max(peers)),
                    f"galssl {num(best['galssl_images_per_s'])} images/s ({mode}), lightly "
                    f"{num(max(peers))} images/s (fp32)"))
            else:
                rows.append(row(
                    f"galssl MoCo step on {gpu['device']} ({arch}, batch {gpu['batch']})",
                    f"{num(best['galssl_images_per_s'])} images/s", f"{mode}; no lightly peer"))
    return rows


def summarise_predict(res):
    mem = res["memory"]
    return [
        row("PhotoZEstimator.predict / bare forward pass", ratio(res["ratio"]),
            f"predict {num(res['predict_rows_per_s'])} rows/s, forward "
            f"{num(res['raw_forward_rows_per_s'])} rows/s ({res['n']} rows, batch "
            f"{res['batch_size']})", (">=", TARGET_PREDICT_RATIO, "x"), res["ratio"]),
        row(f"peak resident memory, predict on {mem['rows']:,} HDF5-backed rows",
            f"{mem['peak_MB']:.0f} MB",
            f"{num(mem['rows'] / mem['seconds'])} rows/s; {mem['rss_before_MB']:.0f} MB "
            "resident after loading the model and opening the file",
            ("<", TARGET_PREDICT_PEAK_MB, " MB"), mem["peak_MB"]),
    ]


def summarise_search(res):
    rows = []
    for run in res["runs"]:
        flat, np_rate = run["flat"], run["numpy"]["queries_per_s"]
        what = f"{run['data']} data, {run['n']:,} x {run['d']}"
        rows.append(row(
            f"faiss flat / numpy brute force ({what})", ratio(flat["speedup_vs_numpy"]),
            f"faiss {num(flat['queries_per_s'])} queries/s, numpy {num(np_rate)} queries/s "
            f"({run['queries']} queries, k={run['k']}); query() with its QTable "
            f"{ratio(flat['api_speedup_vs_numpy'])} numpy; "
            f"{100 * flat['same_neighbours_as_numpy']:.1f} % same neighbours; no speed target "
            "(retired: exact faiss and numpy are the same BLAS product)"))
        best = run["best_at_recall_0.95"]
        measure = f"best approximate index at recall >= {SEARCH_RECALL} / numpy ({what})"
        if best is not None:
            setting = (f"nprobe={best['nprobe']}" if best["index"] in ("ivf", "ivfpq", "ivf-disk")
                       else f"ef_search={best['ef_search']}")
            rows.append(row(
                measure, ratio(best["speedup_vs_numpy"]),
                f"{best['index']} {setting}: recall {best['recall']:.3f}, "
                f"{num(best['queries_per_s'])} queries/s, built in {num(best['build_s'])} s",
                (">=", TARGET_SEARCH_APPROX, "x"), best["speedup_vs_numpy"]))
        elif run["approximate"]:
            top = max(run["approximate"], key=lambda r: r["recall"])
            rows.append(row(
                measure, f"none reached recall {SEARCH_RECALL}",
                f"best recall {top['recall']:.3f} ({top['index']}, "
                f"{ratio(top['speedup_vs_numpy'])} numpy)",
                (">=", TARGET_SEARCH_APPROX, "x"), 0.0))
    return rows


def summarise_simulate(res):
    runs = res["runs"]
    one = runs[0]
    where = f"{one['galaxies']} galaxies into field {res['field']}"
    if len(runs) == 1:
        return [row("galaxies/s, 1 worker", f"{num(one['galaxies_per_s'])} galaxies/s",
                    f"{where}, {num(one['seconds'])} s")]
    many = runs[-1]
    return [row(f"galaxies/s, {many['workers']} workers / 1 worker", ratio(res["speedup"]),
                f"1 worker {num(one['galaxies_per_s'])} galaxies/s, {many['workers']} "
                f"workers {num(many['galaxies_per_s'])} galaxies/s ({where})")]


SUMMARISE = {"augment": summarise_augment, "cutouts": summarise_cutouts,
             "pretrain": summarise_pretrain, "predict": summarise_predict,
             "search": summarise_search, "simulate": summarise_simulate}


# ---------------------------------------------------------------------- running
def last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def run_benchmark(name, out, quick, timeout):
    """Run one benchmark; return its summary rows (one "failed" row if it failed)."""
    json_path = os.path.join(out, f"{name}.json")
    log, err = (os.path.join(out, f"{name}.{ext}") for ext in ("log", "err"))
    if os.path.exists(json_path):  # never report the numbers of an earlier run
        os.remove(json_path)
    cmd = [sys.executable, os.path.join(HERE, f"bench_{name}.py")]
    cmd += (QUICK[name] if quick else []) + ["--json", json_path]
    print(f"[{name}] {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as fout, open(err, "w") as ferr:
        # a session of its own, so that a timeout also ends the benchmark's workers
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=fout, stderr=ferr,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    seconds = time.perf_counter() - t0
    if rc is None:
        error = f"timed out after {timeout:g} s; {last_line(err)}".rstrip("; ")
    elif rc != 0:
        error = last_line(err) or f"exit status {rc}"
    elif not os.path.exists(json_path):
        error = f"no JSON written ({last_line(err) or 'no error output'})"
    else:
        error = None
    skipped = None
    if error is None:
        try:
            with open(json_path) as f:
                res = json.load(f)
            skipped = res.get("skipped") if isinstance(res, dict) else None
            rows = None if skipped else SUMMARISE[name](res)
        except Exception as exc:  # a JSON the summary cannot read counts as a failure
            rows, error = None, f"summary: {type(exc).__name__}: {exc}"
    if skipped:  # the benchmark could not run here and said why: not a result, not a failure
        rows = [{"measure": HEADLINE[name], "result": "skipped", "target": "", "met": None,
                 "numbers": skipped, "skipped": True}]
    if error is not None:
        rows = [{"measure": HEADLINE[name], "result": "failed", "target": "", "met": None,
                 "numbers": error, "failed": True}]
    state = "failed" if error else "skipped" if skipped else "done"
    print(f"[{name}] {state} in {seconds:.0f} s"
          + (f": {error or skipped}" if error or skipped else ""), flush=True)
    for r in rows:
        r["benchmark"] = name
        r["seconds"] = seconds
    return rows


# ---------------------------------------------------------------------- environment
def cpu_model():
    from _timing import cpu_name

    return cpu_name()


def source_commit():
    """Commit of the source checkout the benchmarks run from (``+dirty`` with uncommitted
    changes), or None outside a git checkout: an editable install's version string is
    frozen at install time and does not follow later commits."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty else "")


def hardware():
    from importlib.metadata import PackageNotFoundError, version

    info = {"cpu": cpu_model(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        info["galssl"] = version("galssl")
    except PackageNotFoundError:
        info["galssl"] = "not installed"
    info["commit"] = source_commit()
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    except ImportError:
        info["torch"], info["cuda"] = "not installed", None
    try:
        info["load_average"] = os.getloadavg()[0]
    except OSError:
        info["load_average"] = None
    return info


def hardware_line(hw, date, command):
    gpu = f"CUDA device {hw['cuda']}" if hw["cuda"] else "no CUDA device"
    commit = f" (source commit {hw['commit']})" if hw.get("commit") else ""
    load = (f"; 1-minute load average {hw['load_average']:.2f} before the run"
            if hw["load_average"] is not None else "")
    return (f"Measured on {hw['cpu']} ({hw['cpu_count']} cores, {gpu}), torch {hw['torch']}, "
            f"galssl {hw['galssl']}{commit}, on {date}{load}, with ``{command}``.")


# ---------------------------------------------------------------------- output
def rst_literal(text):
    text = " ".join(text.replace("``", "''").split())
    if len(text) > 150:
        text = text[:147] + "..."
    return f"``{text}``" if text else "(no error output)"


def table_cells(rows):
    cells = []
    for r in rows:
        met = {True: "yes", False: "no", None: "n/a"}[r["met"]]
        numbers = rst_literal(r["numbers"]) if r.get("failed") or r.get("skipped") else r["numbers"]
        cells.append((r["benchmark"], r["measure"], r["result"], r["target"], met, numbers))
    return cells


def rst_table(cells, header=COLUMNS):
    """A reStructuredText simple table (no cell of the first column is empty)."""
    widths = [max(len(c[k]) for c in [header, *cells]) for k in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def fmt(cs):
        return "  ".join(c.ljust(w) for c, w in zip(cs, widths)).rstrip()

    return "\n".join([rule, fmt(header), rule, *(fmt(c) for c in cells), rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join("benchmarks", "results"),
                        help="folder for the JSON, logs and summary (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a few minutes in all on two CPU cores")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    parser.add_argument("--rst", default=None,
                        help="also write the summary as a reStructuredText file")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds after which a benchmark is stopped and counted failed")
    args = parser.parse_args(argv)

    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    hw = hardware()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", os.path.relpath(os.path.abspath(__file__), REPO_ROOT),
                          *argv])
    line = hardware_line(hw, date, command)
    print(line, flush=True)

    rows = []
    for name in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        rows += run_benchmark(name, args.out, args.quick, args.timeout)

    table = rst_table(table_cells(rows))
    ran = list(dict.fromkeys(r["benchmark"] for r in rows))
    failed = sorted({r["benchmark"] for r in rows if r.get("failed")})
    skipped = sorted({r["benchmark"] for r in rows if r.get("skipped")})
    missed = sorted({r["benchmark"] for r in rows if r["met"] is False})
    tally = (f"{len(ran)} benchmarks: {len(ran) - len(failed) - len(skipped)} ran, "
             f"{len(failed)} failed{' (' + ', '.join(failed) + ')' if failed else ''}, "
             f"{len(skipped)} skipped{' (' + ', '.join(skipped) + ')' if skipped else ''}; "
             f"targets missed: {', '.join(missed) if missed else 'none'}")
    print()
    print(table)
    print()
    print(tally)
    print(line)
    with open(os.path.join(args.out, "summary.rst"), "w") as f:
        f.write(f"{table}\n\n{tally}\n\n{line}\n")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"hardware": hw, "date": date, "command": command, "rows": rows,
                   "failed": failed, "skipped": skipped}, f, indent=1)
    if args.rst:
        os.makedirs(os.path.dirname(os.path.abspath(args.rst)), exist_ok=True)
        with open(args.rst, "w") as f:
            f.write(f".. This file is written by {command}; do not edit.\n\n"
                    f"{table}\n\n{line}\n")
        print(f"summary written to {args.rst}")
    return 1 if any(r.get("failed") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
