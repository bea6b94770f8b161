# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Stars passed as galaxies and galaxies lost, by r magnitude, for the Cutouts page.

Detects the sources of the r frame of field 003918-3-0213 (``galssl.cutouts.detect_sources``)
and matches them to the SDSS star and galaxy lists of ``../shared/data/catalogs`` (nearest
detection within 2 px of each listed object, one to one; a detection with both a listed star
and a listed galaxy within 3.5 px is left out as ambiguous). With ``--fields`` it also counts,
for the other SDSS fields, the sources flagged SATURATED and the galaxies brighter than
r = 16 by magnitude (no truth lists there)::

    python scripts/bright_stars.py [--data ../shared/data] [--fields]
"""

import argparse
import os

import numpy as np
from scipy.spatial import cKDTree

from galssl.cutouts import CutoutFlag, detect_sources

FIELD = "003918-3-0213"
BINS = [(-np.inf, 15), (15, 16), (16, 17), (17, 18), (18, 19), (19, 20), (20, np.inf)]


def _label(lo, hi):
    if not np.isfinite(lo):
        return f"r < {hi}"
    if not np.isfinite(hi):
        return f"r >= {lo}"
    return f"{lo} - {hi}"


def truth_table(data):
    det = detect_sources(os.path.join(data, "sdss_frames", FIELD, f"frame-r-{FIELD}.fits.bz2"),
                         progress=False)
    xy = np.c_[det["x"], det["y"]]
    label = np.full(len(det), -1)
    near = []
    for value, name in ((1, "galaxy"), (0, "star")):
        truth = np.loadtxt(os.path.join(data, "catalogs", f"{FIELD}_{name}_pixels.csv"),
                           delimiter=",", ndmin=2)[:, :2]
        dist, idx = cKDTree(xy).query(truth, distance_upper_bound=2.0)
        label[idx[np.isfinite(dist)]] = value
        near.append(cKDTree(truth).query(xy)[0] < 3.5)
    label[near[0] & near[1]] = -1
    mag = np.asarray(det["mag_r"].value)
    gal = np.asarray(det["is_galaxy"])
    sat = (np.asarray(det["detect_flags"]) & int(CutoutFlag.SATURATED)) != 0
    print(f"field {FIELD}: {len(det)} detections, {int((label == 1).sum())} matched galaxies, "
          f"{int((label == 0).sum())} matched stars")
    print(f"{'r (mag)':<10} {'galaxies':>9} {'lost':>5} {'stars':>6} {'passed':>7} "
          f"{'saturated':>10}")
    for lo, hi in BINS:
        b = (mag >= lo) & (mag < hi)
        g, s = b & (label == 1), b & (label == 0)
        print(f"{_label(lo, hi):<10} {int(g.sum()):>9} {int((g & ~gal).sum()):>5} "
              f"{int(s.sum()):>6} {int((s & gal).sum()):>7} {int((b & sat).sum()):>10}")


def field_counts(data):
    folder = os.path.join(data, "sdss_frames")
    print(f"\n{'field':<15} {'r<15 sat':>9} {'15-16 sat':>10} {'16-17 sat':>10} "
          f"{'>=17 sat':>9} {'halo':>5} {'galaxies r<16':>14} {'galaxies':>9}")
    for field in sorted(os.listdir(folder)):
        det = detect_sources(os.path.join(folder, field, f"frame-r-{field}.fits.bz2"),
                             progress=False)
        mag = np.asarray(det["mag_r"].value)
        sat = (np.asarray(det["detect_flags"]) & int(CutoutFlag.SATURATED)) != 0
        counts = [int((sat & (mag >= lo) & (mag < hi)).sum())
                  for lo, hi in ((-np.inf, 15), (15, 16), (16, 17), (17, np.inf))]
        gal = np.asarray(det["is_galaxy"])
        halo = int(((np.asarray(det["detect_flags"]) & int(CutoutFlag.STAR_HALO)) != 0).sum())
        print(f"{field:<15} {counts[0]:>9} {counts[1]:>10} {counts[2]:>10} {counts[3]:>9} "
              f"{halo:>5} {int((gal & (mag < 16)).sum()):>14} {int(gal.sum()):>9}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data"),
                        help="the shared data folder (default ../shared/data)")
    parser.add_argument("--fields", action="store_true",
                        help="also count SATURATED flags on every SDSS field")
    args = parser.parse_args(argv)
    truth_table(args.data)
    if args.fields:
        field_counts(args.data)


if __name__ == "__main__":
    main()
