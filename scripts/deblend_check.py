# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Deblending contrast against the SDSS catalogue of field 003918-3-0213 (docs: Cutouts).

For each ``deblend_cont``, detect sources on the r frame of the full field and count the
SDSS-catalogued galaxies matched within 2.5 px and the detections with no SDSS object
(galaxy or star) within 3 px. Run from the repository root::

    python scripts/deblend_check.py [--shared ../shared/data]
"""

import argparse
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIELD = "003918-3-0213"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--conts", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05, 0.1])
    args = p.parse_args()

    from scipy.spatial import cKDTree

    from galssl.cutouts import detect_sources

    def truth(kind):
        return np.loadtxt(os.path.join(args.shared, "catalogs", f"{FIELD}_{kind}_pixels.csv"),
                          delimiter=",", ndmin=2)[:, :2]

    galaxies = truth("galaxy")
    every = cKDTree(np.vstack([galaxies, truth("star")]))
    gal_tree = cKDTree(galaxies)
    print(f"{'deblend_cont':>12s} {'sources':>8s} {'SDSS galaxies matched':>22s} "
          f"{'unmatched detections':>21s}")
    for cont in args.conts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = detect_sources(os.path.join(args.shared, "sdss_frames", FIELD),
                               deblend_cont=cont, progress=False)
        xy = np.c_[t["x"], t["y"]]
        d_any, _ = every.query(xy)
        d_gal, i_gal = gal_tree.query(xy)
        matched = len(set(i_gal[d_gal < 2.5].tolist()))
        print(f"{cont:>12g} {len(t):>8d} {matched:>15d} / {len(galaxies)} "
              f"{int((d_any > 3).sum()):>21d}")


if __name__ == "__main__":
    main()
