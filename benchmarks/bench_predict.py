# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Benchmark of `PhotoZEstimator.predict`: throughput against the bare network, and memory.

What is measured
----------------
1. **Throughput** on real cutouts: the galaxies detected in the bundled SDSS sample
   (`galssl.datasets.sample_frames`, 107x107 px, ugriz), tiled to ``--n`` rows in memory.
   ``predict(catalog)`` (dereddening, centre crop, forward pass, softmax, PIT recalibration,
   PDF summaries, out-of-distribution distances, flags, output QTable) is timed end to end,
   against its **peer measured in the same run on the same tensors**: the bare forward pass
   of the same network (``net(x)`` in eval mode under ``torch.no_grad``) over the same
   images already dereddened and cropped to 64x64, in the same batch size. Rounds are
   interleaved (predict, raw, predict, raw, ...) and the median of ``--repeats`` is kept.
   Target: predict >= 0.8x the raw rate.
2. **Memory** when predicting a 100,000-row HDF5-backed catalogue (``--n-big``): the rows
   are an HDF5 *virtual dataset* whose rows point at the real cutouts of a small file, so
   every batch is read through HDF5 as for any cutout file while the disk holds only the
   small one. Run in a fresh subprocess, which reports its peak resident memory (ru_maxrss)
   after loading the model and after predicting. Target: < 2 GB.

The model is the shipped default (`PhotoZEstimator.from_pretrained`); speed does not depend
on the weights.

How to run
----------
From the repository root::

    python benchmarks/bench_predict.py [--n 2048] [--n-big 100000] [--repeats 3]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def real_cutouts():
    from galssl.cutouts import CutoutCatalog
    from galssl.datasets import sample_frames

    cat = CutoutCatalog.from_frames(sample_frames(), progress=False)
    return cat[np.flatnonzero(cat.good)]


def tiled(cat, n):
    from galssl.cutouts import CutoutCatalog

    idx = np.arange(n) % len(cat)
    images = np.asarray(cat.images)[idx]
    return CutoutCatalog(cat.table[idx], images, bands=cat.bands)


def throughput(pz, cat, batch_size, repeats):
    import torch

    from galssl.augment import eval_transform

    x_all = torch.from_numpy(np.nan_to_num(np.asarray(cat.images)))
    ebv = torch.from_numpy(np.asarray(cat.table["ebv"], np.float32))
    inputs = eval_transform(bands=pz.bands, out=pz.config["crop"])(x_all, ebv=ebv)
    net = pz.net.eval()

    def raw():
        with torch.no_grad():
            for s in range(0, len(inputs), batch_size):
                logits, _ = net(inputs[s:s + batch_size])
        return logits

    def predict():
        return pz.predict(cat, batch_size=batch_size, devices="cpu", progress=False)

    predict(), raw()  # warm-up
    t_pred, t_raw = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict()
        t_pred.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw()
        t_raw.append(time.perf_counter() - t0)
    n = len(cat)
    return n / np.median(t_pred), n / np.median(t_raw)


def make_virtual(small_path, n_big, path):
    """An HDF5 cutout file of ``n_big`` rows whose images are a virtual dataset cycling
    through the rows of ``small_path``."""
    import h5py
    from astropy.table import QTable

    from galssl.cutouts import CutoutCatalog

    small = CutoutCatalog.read(small_path)
    m = len(small)
    idx = np.arange(n_big) % m
    table = QTable(small.table[idx])
    with h5py.File(small_path, "r") as src:
        shape, dtype = src["images"].shape, src["images"].dtype
        attrs = dict(src.attrs)
    layout = h5py.VirtualLayout(shape=(n_big,) + shape[1:], dtype=dtype)
    vsource = h5py.VirtualSource(os.path.abspath(small_path), "images", shape=shape)
    for start in range(0, n_big, m):
        k = min(m, n_big - start)
        layout[start:start + k] = vsource[:k]
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("images", layout, fillvalue=np.nan)
        for key, value in attrs.items():
            f.attrs[key] = value
    table.write(path, path="table", format="hdf5", serialize_meta=True, append=True)


def memory_child(path, batch_size):
    from galssl import PhotoZEstimator
    from galssl.cutouts import CutoutCatalog

    pz = PhotoZEstimator.from_pretrained()
    cat = CutoutCatalog.read(path)
    with open("/proc/self/statm") as f:  # resident now (Linux), after imports and loading
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    out = pz.predict(cat, batch_size=batch_size, devices="cpu", progress=False)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": len(out), "rss_before_MB": current, "peak_before_MB": before,
                      "peak_MB": after,
                      "seconds": seconds, "finite": int(np.isfinite(out["z_phot"]).sum())}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048, help="rows for the throughput test")
    p.add_argument("--n-big", type=int, default=100_000, help="rows for the memory test")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.batch_size)

    import torch

    from galssl import PhotoZEstimator

    pz = PhotoZEstimator.from_pretrained()
    base = real_cutouts()
    cat = tiled(base, args.n)
    pred_rate, raw_rate = throughput(pz, cat, args.batch_size, args.repeats)
    res = {"hardware": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, "
                       f"{torch.get_num_threads()} threads",
           "n": args.n, "batch_size": args.batch_size, "predict_rows_per_s": pred_rate,
           "raw_forward_rows_per_s": raw_rate, "ratio": pred_rate / raw_rate}
    print(f"predict: {pred_rate:.0f} rows/s; raw forward pass: {raw_rate:.0f} rows/s; "
          f"ratio {pred_rate / raw_rate:.2f} (target >= 0.8)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small.h5")
        # a source of 1024 rows: the virtual dataset then holds ~100 mappings, not one per
        # few rows (HDF5 keeps state per mapping)
        tiled(base, 1024).write(small, progress=False)
        big = os.path.join(tmp, "big.h5")
        make_virtual(small, args.n_big, big)
        out = subprocess.run([sys.executable, __file__, "--memory-child", big,
                              "--batch-size", str(args.batch_size)],
                             capture_output=True, text=True, check=True)
        mem = json.loads(out.stdout.strip().splitlines()[-1])
    res["memory"] = mem
    print(f"memory: {mem['rows']} HDF5-backed rows predicted in {mem['seconds']:.0f} s "
          f"({mem['rows'] / mem['seconds']:.0f} rows/s); peak resident memory "
          f"{mem['peak_MB']:.0f} MB ({mem['rss_before_MB']:.0f} MB resident after importing "
          f"galssl, loading the model and opening the catalogue, peak so far "
          f"{mem['peak_before_MB']:.0f} MB; target < 2000 MB)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
