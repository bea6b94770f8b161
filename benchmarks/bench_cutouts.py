# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Benchmark of galssl cutouts and detection on the real SDSS fields of ``shared/data``.

What is measured
----------------
1. **Cutout throughput.** Sources are first detected with `galssl.cutouts.detect_sources`
   on the r-band frames of all the selected fields (not timed as part of the throughput).
   The detected galaxies of *all* fields are then cut at once with
   ``CutoutCatalog.from_table(galaxies, frames, bands="ugriz", size=107, progress=False)``,
   which is timed end to end (header reading, one decompression per frame, reprojection of
   every band, flags, E(B-V)). Throughput is objects per second, each object being five
   107x107 bands.
2. **Naive peer, measured in the same run.** The per-object loop people usually write
   first: for ``--n-naive`` galaxies (a random subset, seed 0) and for each band, re-open
   and decompress the frame with `astropy.io.fits`, build its WCS, take an
   `astropy.nddata.Cutout2D` of 1.5 x 107 pixels around the object (room for the rotation),
   and `reproject.reproject_interp` it (through ``cutout.wcs``) onto the 107x107 north-up
   TAN grid of 0.396"/px centred on the object (`galssl.cutouts.cutout_wcs`). Reported:
   objects per second, the speed-up of galssl over it, and the agreement of the two results
   (max |naive - galssl| over pixels finite in both, relative to the max |galssl| of that
   image).
3. **Dask scaling** (with ``dask[distributed]`` installed; ``--no-dask`` skips it): the
   same ``from_table`` call with a ``client=`` of a local cluster of 1 and of 2 worker
   processes, one thread each: time of each, the 2-worker speed-up, and the check that
   flags equal the serial run's and pixels agree.
4. **Detection report.** Number of sources (S/N > 10) and of sources classified galaxies,
   per field.
5. **Star/galaxy separation** on field 003918-3-0213 against the SDSS calibObj pixel lists in
   ``catalogs/`` (372 galaxies, 271 stars): detections are matched to the truth positions
   within 2 px (the convention of the truth pixels, 0- or 1-based, is chosen as the one with
   the smaller median offset); reported for S/N > 10 and for all detections (S/N > 0):
   matched galaxies and stars, accuracy, galaxy completeness (fraction of true galaxies
   classified galaxy) and star contamination (fraction of true stars classified galaxy).
6. A summary table in reStructuredText simple-table format, also written as JSON with
   ``--json``.

How to run
----------
From the repository root, with galssl installed (the data folder defaults to
``../shared/data`` relative to the repository root)::

    python benchmarks/bench_cutouts.py
    python benchmarks/bench_cutouts.py --n-naive 5 --fields 003918-3-0213 --json out.json

It takes a few minutes; most of it is the naive loop (bz2 decompression of a frame for
every object and band) and the detection.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
TRUTH_FIELD = "003918-3-0213"
BANDS = "ugriz"
SIZE = 107
MATCH_RADIUS = 2.0  # pixels


# ---------------------------------------------------------------------- environment
def _cpu_name():
    from _timing import cpu_name

    return cpu_name()


def print_environment():
    from importlib.metadata import PackageNotFoundError, version

    print(f"platform      : {platform.platform()}")
    print(f"processor     : {platform.processor()!r} ({_cpu_name()})")
    print(f"cpu_count     : {os.cpu_count()}")
    print(f"python        : {sys.version.split()[0]}")
    versions = {}
    for name in ("galssl", "astropy", "reproject", "sep", "photutils", "numpy", "scipy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
        print(f"{name:<14}: {versions[name]}")
    print()
    return {"processor": platform.processor(), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "versions": versions}


def _field_dirs(data, fields):
    root = Path(data) / "sdss_frames"
    if not root.is_dir():
        raise SystemExit(f"no sdss_frames/ folder in {data!r}: pass --data")
    available = sorted(p.name for p in root.iterdir() if p.is_dir())
    if fields is None:
        fields = available
    unknown = [f for f in fields if f not in available]
    if unknown:
        raise SystemExit(f"unknown fields {unknown}; available: {available}")
    return {f: str(root / f) for f in fields}


def _header(title):
    print(title)
    print("=" * len(title))


# ---------------------------------------------------------------------- naive peer
def naive_cutouts(galaxies, dirs, size=SIZE, bands=BANDS):
    """The naive per-object loop: re-read every frame for every object and band."""
    from astropy.io import fits
    from astropy.nddata import Cutout2D
    from astropy.wcs import WCS
    from reproject import reproject_interp

    from galssl.cutouts import cutout_wcs

    big = int(round(1.5 * size))
    out = np.full((len(galaxies), len(bands), size, size), np.nan, dtype=np.float32)
    for i, row in enumerate(galaxies):
        ra, dec = float(row["ra"].value), float(row["dec"].value)
        field = str(row["detect_field"])
        target = cutout_wcs(ra, dec, size)
        for j, band in enumerate(bands):
            path = os.path.join(dirs[field], f"frame-{band}-{field}.fits.bz2")
            with fits.open(path) as hdul:
                data = hdul[0].data
                wcs = WCS(hdul[0].header)
            x, y = wcs.world_to_pixel_values(ra, dec)
            cut = Cutout2D(data, (float(x), float(y)), (big, big), wcs=wcs, mode="trim")
            image, _ = reproject_interp((cut.data, cut.wcs), target, shape_out=(size, size))
            out[i, j] = image
    return out


def compare(naive, ours):
    """Max over objects and bands of max|naive - ours| / max|ours| on pixels finite in both."""
    worst, n_pix = 0.0, 0
    for a, b in zip(naive.reshape(-1, *naive.shape[2:]), ours.reshape(-1, *ours.shape[2:])):
        ok = np.isfinite(a) & np.isfinite(b)
        if not ok.any():
            continue
        n_pix += int(ok.sum())
        scale = np.max(np.abs(b[ok]))
        if scale > 0:
            worst = max(worst, float(np.max(np.abs(a[ok] - b[ok])) / scale))
    return worst, n_pix


# ---------------------------------------------------------------------- star/galaxy truth
def _read_truth(data):
    cat = Path(data) / "catalogs"
    gal = np.loadtxt(cat / f"{TRUTH_FIELD}_galaxy_pixels.csv", delimiter=",", ndmin=2)
    star = np.loadtxt(cat / f"{TRUTH_FIELD}_star_pixels.csv", delimiter=",", ndmin=2)
    xy = np.vstack([gal, star])
    is_gal = np.r_[np.ones(len(gal), bool), np.zeros(len(star), bool)]
    return xy, is_gal


def _match(truth_xy, det_xy, radius=MATCH_RADIUS):
    """Index of the detection matched to each truth object (-1: none), one-to-one."""
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(det_xy).query(truth_xy, distance_upper_bound=radius)
    idx = np.where(np.isfinite(dist), idx, -1)
    # a detection claimed by two truth objects goes to the closer one
    order = np.argsort(dist)
    taken = set()
    for k in order:
        if idx[k] < 0:
            continue
        if idx[k] in taken:
            idx[k] = -1
        else:
            taken.add(idx[k])
    return idx, dist


def choose_convention(truth_xy, det_xy):
    """Offset to add to the truth pixels (0 or -1) that gives the smaller median offset."""
    from scipy.spatial import cKDTree

    tree = cKDTree(det_xy)
    result = {}
    for shift in (0.0, -1.0):
        dist, _ = tree.query(truth_xy + shift, distance_upper_bound=MATCH_RADIUS)
        result[shift] = (float(np.median(dist[np.isfinite(dist)])), int(np.isfinite(dist).sum()))
    best = min(result, key=lambda s: result[s][0])
    return best, result


def separation_metrics(truth_xy, is_true_gal, sources):
    det_xy = np.column_stack([np.asarray(sources["x"]), np.asarray(sources["y"])])
    idx, _ = _match(truth_xy, det_xy)
    matched = idx >= 0
    classified = np.zeros(len(truth_xy), bool)
    classified[matched] = np.asarray(sources["is_galaxy"])[idx[matched]]
    g = matched & is_true_gal
    s = matched & ~is_true_gal
    n_g, n_s = int(g.sum()), int(s.sum())
    correct = int((classified & g).sum() + (~classified & s).sum())
    return {
        "n_detections": len(sources),
        "matched_galaxies": n_g,
        "matched_stars": n_s,
        "accuracy": correct / max(n_g + n_s, 1),
        "galaxy_completeness": float(classified[g].mean()) if n_g else float("nan"),
        "star_contamination": float(classified[s].mean()) if n_s else float("nan"),
    }


# ---------------------------------------------------------------------- output
def rst_table(rows, header=("quantity", "value")):
    """A reStructuredText simple table of (str, str) rows."""
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(rule)
    return "\n".join(lines)


def dask_scaling(galaxies, frames, serial):
    """The same ``from_table`` on a local Dask cluster of 1 and of 2 worker processes (one
    thread each; the cluster's start-up not timed): time per run and the 2-worker speed-up,
    with the check that the catalogues equal the serial one."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("(Dask scaling skipped: pip install 'dask[distributed]')\n")
        return []
    from galssl.cutouts import CutoutCatalog

    _header("Dask: CutoutCatalog.from_table(client=...) on 1 and 2 local workers")
    times = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            t0 = time.perf_counter()
            cat = CutoutCatalog.from_table(galaxies, frames, bands=BANDS, size=SIZE,
                                           client=client, progress=False)
            times[n] = time.perf_counter() - t0
        same = np.array_equal(np.asarray(cat.table["flags"]), np.asarray(serial.table["flags"]))
        diff = np.nanmax(np.abs(np.asarray(cat.images) - np.asarray(serial.images)))
        print(f"{n} worker(s): {times[n]:.1f} s -> {len(cat) / times[n]:.1f} objects/s; flags "
              f"{'identical' if same else 'DIFFER'} to the serial run, max pixel difference "
              f"{diff:.1e}")
    speedup = times[1] / times[2]
    print(f"speed-up 2 workers / 1 worker: {speedup:.2f}x (on {os.cpu_count()} cores)\n")
    return [("Dask 1 worker time (s)", times[1], ".1f"),
            ("Dask 2 workers time (s)", times[2], ".1f"),
            ("speed-up Dask 2 / 1 workers", speedup, ".2f")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="shared data folder (default: %(default)s)")
    parser.add_argument("--n-naive", type=int, default=20,
                        help="objects in the naive per-object loop (default: %(default)s)")
    parser.add_argument("--fields", nargs="+", default=None,
                        help="field names (run-camcol-field) to use (default: all)")
    parser.add_argument("--json", default=None, help="write the summary as JSON to this path")
    parser.add_argument("--no-dask", dest="dask", action="store_false",
                        help="skip the 1- vs 2-worker Dask rows")
    args = parser.parse_args(argv)

    from astropy.table import QTable
    from astropy.wcs import FITSFixedWarning

    from galssl.cutouts import CutoutCatalog, detect_sources

    # SDSS headers carry the deprecated RADECSYS keyword (the naive loop builds raw WCSs)
    warnings.simplefilter("ignore", FITSFixedWarning)

    _header("galssl cutout benchmark")
    env = print_environment()
    dirs = _field_dirs(args.data, args.fields)
    frames = list(dirs.values())
    print(f"data: {args.data}  fields: {len(dirs)}  bands: {BANDS}  size: {SIZE}\n")
    summary = []

    # ------------------------------------------------------------------ detection
    _header("Detection (sep + photutils, r band, S/N > 10)")
    t0 = time.perf_counter()
    sources = detect_sources(frames, band="r", progress=False)
    t_detect = time.perf_counter() - t0
    rows = []
    det_fields = np.asarray(sources["field"])
    is_gal = np.asarray(sources["is_galaxy"])
    for name in dirs:
        sel = det_fields == name
        c_star = sources.meta.get(f"stellar_concentration_{name}", float("nan"))
        rows.append((name, int(sel.sum()), int((sel & is_gal).sum()), f"{c_star:.3f}"))
    rows.append(("total", len(sources), int(is_gal.sum()), ""))
    print(rst_table(rows, header=("field", "sources", "galaxies", "c_star")))
    print(f"detection time: {t_detect:.1f} s for {len(dirs)} fields "
          f"({t_detect / len(dirs):.2f} s per field)\n")
    summary += [("fields", len(dirs), "d"), ("sources detected (S/N > 10)", len(sources), "d"),
                ("classified galaxies", int(is_gal.sum()), "d"),
                ("detection time per field (s)", t_detect / len(dirs), ".2f")]

    # ------------------------------------------------------------------ galssl cutouts
    _header("Cutout throughput: CutoutCatalog.from_table, all fields at once")
    galaxies = QTable({"ra": sources["ra"][is_gal], "dec": sources["dec"][is_gal],
                       "detect_field": sources["field"][is_gal]})
    t0 = time.perf_counter()
    cat = CutoutCatalog.from_table(galaxies, frames, bands=BANDS, size=SIZE, progress=False)
    t_galssl = time.perf_counter() - t0
    rate_galssl = len(cat) / t_galssl
    n_good = int(np.sum(cat.good))
    print(f"objects: {len(cat)} ({n_good} with no flag), images {cat.images.shape}")
    print(f"time: {t_galssl:.1f} s -> {rate_galssl:.1f} objects/s "
          f"({rate_galssl * len(BANDS):.1f} band-cutouts/s)\n")
    summary += [("galssl cutout objects", len(cat), "d"),
                ("galssl cutout time (s)", t_galssl, ".1f"),
                ("galssl objects/s (5 bands, 107 px)", rate_galssl, ".1f")]

    # ------------------------------------------------------------------ Dask scaling
    if args.dask:
        summary += dask_scaling(galaxies, frames, cat)

    # ------------------------------------------------------------------ naive peer
    n_naive = min(args.n_naive, len(galaxies))
    _header(f"Naive peer: per-object loop over {n_naive} objects (seed 0)")
    pick = np.sort(np.random.default_rng(0).choice(len(galaxies), n_naive, replace=False))
    t0 = time.perf_counter()
    naive = naive_cutouts(galaxies[pick], dirs)
    t_naive = time.perf_counter() - t0
    rate_naive = n_naive / t_naive
    speedup = rate_galssl / rate_naive
    worst, n_pix = compare(naive, np.asarray(cat.images[pick]))
    print(f"time: {t_naive:.1f} s -> {t_naive / n_naive:.2f} s per object, "
          f"{rate_naive:.3f} objects/s")
    print(f"speed-up galssl / naive: {speedup:.1f}x (target >= 10x)")
    print(f"agreement: max |naive - galssl| / max |galssl| = {worst:.2e} "
          f"over {n_pix} pixels finite in both\n")
    summary += [("naive objects", n_naive, "d"), ("naive objects/s", rate_naive, ".3f"),
                ("speed-up galssl / naive", speedup, ".1f"),
                ("naive vs galssl max rel. difference", worst, ".2e")]

    # ------------------------------------------------------------------ star/galaxy
    if TRUTH_FIELD in dirs:
        _header(f"Star/galaxy separation on {TRUTH_FIELD} (match radius {MATCH_RADIUS} px)")
        truth_xy, truth_gal = _read_truth(args.data)
        all_snr = detect_sources(dirs[TRUTH_FIELD], band="r", min_snr=0.0, progress=False)
        det_xy = np.column_stack([np.asarray(all_snr["x"]), np.asarray(all_snr["y"])])
        shift, conventions = choose_convention(truth_xy, det_xy)
        for s, (med, n) in conventions.items():
            label = "0-based" if s == 0 else "1-based"
            print(f"truth pixels as {label}: median offset {med:.3f} px, {n} within "
                  f"{MATCH_RADIUS} px")
        label = "0-based" if shift == 0 else "1-based"
        print(f"using: {label}\n")
        truth_xy = truth_xy + shift
        results = {}
        for key, sel in (("S/N > 10", np.asarray(all_snr["snr"]) > 10),
                         ("all S/N", np.ones(len(all_snr), bool))):
            results[key] = separation_metrics(truth_xy, truth_gal, all_snr[sel])
        keys = ("n_detections", "matched_galaxies", "matched_stars", "accuracy",
                "galaxy_completeness", "star_contamination")
        rows = []
        for k in keys:
            vals = [results[c][k] for c in results]
            rows.append((k, *(f"{v:.3f}" if isinstance(v, float) else v for v in vals)))
        print(rst_table(rows, header=("metric", *results)))
        print()
        for c, r in results.items():
            summary += [(f"star/galaxy accuracy ({c})", r["accuracy"], ".3f"),
                        (f"galaxy completeness ({c})", r["galaxy_completeness"], ".3f"),
                        (f"star contamination ({c})", r["star_contamination"], ".3f")]
    else:
        print(f"(star/galaxy separation skipped: field {TRUTH_FIELD} not selected)\n")

    # ------------------------------------------------------------------ summary
    _header("Summary")
    print(rst_table([(name, format(value, fmt)) for name, value, fmt in summary]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env,
                       "summary": {name: value for name, value, _ in summary}}, f, indent=2)
        print(f"\nsummary written to {args.json}")


if __name__ == "__main__":
    main()
