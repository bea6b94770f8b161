# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Injection throughput: galaxies injected per second into real SDSS frames.

Injects ``--n`` galaxies of the 10,000-galaxy catalogue into one shared field with
``galssl.simulate.inject_galaxies`` (PSF measurement, GalSim rendering of 5 bands, Poisson
noise, cutting), once with one worker and once with ``--n-jobs`` workers, and prints
galaxies per second. With ``--report data/build_report.json`` (written by
``scripts/build_datasets.py``) it also prints the build time of the full injected sets.

Run from the repository root::

    python benchmarks/bench_simulate.py [--n 120] [--n-jobs 2] [--json out.json]
"""

import argparse
import json
import os
import platform
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    p.add_argument("--field", default="003184-2-0169")
    p.add_argument("--n", type=int, default=120)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--report", default=os.path.join(here, "..", "data", "build_report.json"))
    p.add_argument("--json", default=None, help="write the numbers as JSON to this path")
    args = p.parse_args()

    from astropy.table import Table

    from galssl.simulate import inject_galaxies, read_photometry

    print("galssl injection benchmark")
    print(f"platform: {platform.platform()}, {os.cpu_count()} CPU cores")
    cat = Table.read(os.path.join(args.data, "catalogs", "sdss_galaxies_specz_10k.fits"))
    *_, good = read_photometry(cat, redshift="Z", errors="mask")
    cat = cat[good][:args.n]
    frames = os.path.join(args.data, "sdss_frames", args.field)
    rows = []
    for jobs in sorted({1, args.n_jobs}):
        t0 = time.perf_counter()
        out = inject_galaxies(cat, frames, redshift="Z", seed=0, per_round=30, n_jobs=jobs,
                              progress=False)
        dt = time.perf_counter() - t0
        rows.append((jobs, len(out), dt, len(out) / dt))
    print("=" * 60)
    print(f"{'workers':>8} {'galaxies':>9} {'seconds':>9} {'galaxies/s':>11}")
    for r in rows:
        print(f"{r[0]:>8} {r[1]:>9} {r[2]:>9.1f} {r[3]:>11.2f}")
    print("=" * 60)
    res = {"hardware": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
           "field": args.field, "n": args.n, "n_jobs": args.n_jobs,
           "runs": [{"workers": r[0], "galaxies": r[1], "seconds": r[2], "galaxies_per_s": r[3]}
                    for r in rows],
           "speedup": rows[1][3] / rows[0][3] if len(rows) == 2 else None,
           "build_report": None}
    if len(rows) == 2:
        print(f"speed-up with {args.n_jobs} workers: {rows[1][3] / rows[0][3]:.2f}x")
    if os.path.isfile(args.report):
        with open(args.report) as f:
            report = json.load(f)
        for name, r in report.items():
            print(f"build {name}: {r['n']} objects in {r['seconds']} s, {r['MB']} MB")
        res["build_report"] = report
    else:
        print(f"(no build report at {args.report}: run scripts/build_datasets.py)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
