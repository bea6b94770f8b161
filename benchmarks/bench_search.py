# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Similarity search: faiss indexes (`galssl.search.SimilaritySearch`) against numpy.

What is measured
----------------
On ``--n`` (default 1,000,000) ``--d``-dimensional (128) representations scaled to unit
length (float32), and ``--queries`` (1000) further ones drawn the same way. ``--data
galaxies`` (default): vectors shaped like real representations, drawn from a Gaussian
mixture (``--components``, 32, full covariances) fitted to the representations of the
real galaxies of the shared SDSS fields (``data/real.h5`` encoded by the shipped encoder,
in the span of their first d singular vectors; on a fresh checkout without ``data/real.h5``
the galaxies are detected in the frames of ``--shared``'s ``sdss_frames`` folders, the
``--fields`` given or all; without the shared data the run is skipped, saying why).
``random`` (isotropic directions, where no approximate index can work, kept for reference)
and ``clustered`` (``--clusters`` random centres plus noise of the same size, ``--spread``)
are the older variants; ``both`` runs all three.

1. **Exact search.** The peer, measured in the same run on the same queries: a numpy brute
   force, queries in chunks, ``chunk @ reps.T`` (BLAS) then ``numpy.argpartition`` and a
   sort of the top ``--k`` (10) per query. Against it, ``SimilaritySearch(index="flat")``
   (`faiss.IndexFlatIP`): the raw ``index.search`` and the full ``query()`` (which also
   builds the output QTable). Queries per second, median of ``--repeats``; both must
   return the same neighbours (checked).
2. **Approximate search.** ``index="ivf"`` (`faiss.IndexIVFFlat`) and ``index="ivfpq"``
   (`faiss.IndexIVFPQ`, 32 bytes per vector at d=128, candidates reranked exactly from the
   representations) for a range of ``nprobe``, and ``index="hnsw"``
   (`faiss.IndexHNSWFlat`) for a range of ``ef_search``, all inner product: build time,
   queries per second, speed-up over the numpy brute force, and recall@k against the exact
   neighbours. Target: recall >= 0.95 at >= 100x the numpy rate.
3. **Memory** of each index: the size of its `faiss.serialize_index` image (what it holds
   in RAM: vectors or codes, lists, graph links), next to the raw float32 array. Target:
   an IVF-PQ or on-disk setting holds 10M x 128 in < 2 GB.
4. **IVF on disk** (``--index ivf-disk``, ``SimilaritySearch(..., ivf_file=...)``): the
   representations are written to ``--mmap-dir`` and memory-mapped, the inverted lists go to
   a file there, and the process's anonymous memory (``RssAnon``: what it holds, without the
   file pages the operating system caches and may drop) is reported after building and
   after the queries. ``--skip-flat`` leaves out the in-memory faiss exact index (the numpy
   brute force, on the memory-mapped array, gives the true neighbours). The search is then
   saved and loaded again with ``SimilaritySearch.load(..., mmap=True)``: the anonymous
   memory that the load adds, against a load into memory (below 2 GB of representations).

How to run
----------
From the repository root::

    python benchmarks/bench_search.py [--n 1000000] [--d 128] [--queries 1000] \\
        [--data galaxies|random|clustered|both] [--index ivf|ivfpq|hnsw|all] [--json out.json]

The 1M-row run needs about 3 GB of memory and, on 2 CPU cores, about 15 minutes per data
set (the IVF k-means and the HNSW graph take a few minutes each to build); ``--index ivf``
measures one kind only, and ``--n 200000`` takes a few minutes. ``--n 10000000 --index
ivfpq`` or ``--n 10000000 --index ivf-disk --skip-flat --nlist 4096`` is the survey-scale
run (the vectors are drawn in memory, 5 GB, then written to ``--mmap-dir``; another 5 GB
there for the lists).
"""

import argparse
import json
import os
import platform
import time

import numpy as np
from _timing import timed


def unit_rows(x):
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def random_data(n, d, q, seed):
    rng = np.random.default_rng(seed)
    reps = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):  # in blocks: float64 temporaries stay small
        reps[s:s + 100_000] = rng.standard_normal((min(100_000, n - s), d), dtype=np.float32)
    queries = rng.standard_normal((q, d), dtype=np.float32)
    return unit_rows(reps), unit_rows(queries)


def clustered_data(n, d, q, seed, clusters, spread):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    out = []
    for m in (n, q):
        x = np.empty((m, d), dtype=np.float32)
        for s in range(0, m, 100_000):
            b = min(100_000, m - s)
            x[s:s + b] = centres[rng.integers(0, clusters, b)] + \
                spread * rng.standard_normal((b, d), dtype=np.float32)
        out.append(unit_rows(x))
    return out


class Skipped(Exception):
    """The benchmark cannot run here (its data are absent); the message says why."""


def real_galaxies(folder, shared, fields):
    """The real galaxies to encode: ``folder/real.h5`` (scripts/build_datasets.py) when
    it is there, else those detected in the SDSS frames of ``shared`` (the ``fields``
    given, or every field folder); `Skipped` when neither exists."""
    import glob

    from galssl.cutouts import CutoutCatalog

    real = os.path.join(folder, "real.h5")
    if os.path.isfile(real):
        return CutoutCatalog.read(real), real
    frames = os.path.join(shared, "sdss_frames")
    chosen = sorted(glob.glob(os.path.join(frames, "*"))) if not fields else \
        [os.path.join(frames, f) for f in fields]
    chosen = [f for f in chosen if os.path.isdir(f)]
    if not chosen:
        raise Skipped(f"no real galaxies: neither {real} (scripts/build_datasets.py) nor "
                      f"SDSS frames in {frames}")
    cat = CutoutCatalog.from_frames(chosen, progress=False)
    return cat, f"{len(chosen)} fields of {frames}"


def galaxy_model(path, d, components, seed, shared=None, fields=None):
    """A Gaussian mixture of ``components`` full-covariance Gaussians fitted to the
    representations of the real galaxies of the shared fields (``path``: an .npy of them,
    made on first use by encoding them with the shipped encoder: `real_galaxies`), in the
    span of their first ``d`` right singular vectors (uncentred, so that cosines keep
    their meaning; the representations have an effective rank far below d)."""
    from sklearn.mixture import GaussianMixture

    if not os.path.isfile(path):
        from galssl import ContrastiveEncoder

        cat, source = real_galaxies(os.path.dirname(path), shared, fields)
        print(f"galaxies: encoding the {len(cat)} real galaxies of {source}")
        reps = ContrastiveEncoder.from_pretrained().encode(cat, progress=False)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        np.save(path, reps[np.isfinite(reps).all(axis=1)])
    reps = np.load(path).astype(np.float64)
    _, sv, vt = np.linalg.svd(reps, full_matrices=False)
    basis = vt[:d].T
    energy = float(np.sum(sv[:d] ** 2) / np.sum(sv ** 2))
    y = reps @ basis
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=1e-6 * y.var(),
                          random_state=seed).fit(y)
    return gmm, len(reps), energy


def galaxy_data(n, q, gmm, seed):
    """``n`` + ``q`` unit vectors drawn from the fitted mixture, in blocks."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(gmm.covariances_)
    out = []
    for m in (n, q):
        x = np.empty((m, gmm.means_.shape[1]), dtype=np.float32)
        for s in range(0, m, 100_000):
            b = min(100_000, m - s)
            comp = rng.choice(len(gmm.weights_), b, p=gmm.weights_)
            z = rng.standard_normal((b, x.shape[1]))
            block = np.empty_like(z)
            for c in np.unique(comp):  # one component at a time: small temporaries
                sel = comp == c
                block[sel] = gmm.means_[c] + z[sel] @ chol[c].T
            x[s:s + b] = unit_rows(block)
        out.append(x)
    return out


def numpy_knn(reps, queries, k, chunk=None):
    """Brute-force top-k inner products: chunked BLAS products, argpartition, sort. The
    chunk is 64 queries, fewer beyond 3 million objects so that the (chunk, N) products
    stay below about 1 GB."""
    if chunk is None:
        chunk = int(np.clip(200_000_000 // max(1, len(reps)), 1, 64))
    labels = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for s in range(0, len(queries), chunk):
        block = queries[s:s + chunk] @ reps.T
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-top, axis=1)
        labels[s:s + chunk] = np.take_along_axis(part, order, axis=1)
        sims[s:s + chunk] = np.take_along_axis(top, order, axis=1)
    return sims, labels


def recall_at_k(found, exact):
    k = exact.shape[1]
    return float(np.mean([len(set(f[f >= 0]) & set(e)) / k for f, e in zip(found, exact)]))


def anon_memory():
    """The process's anonymous resident memory in bytes (``RssAnon``; None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def index_bytes(index):
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def run_ivf(reps, queries, exact, t_np, args):
    from galssl.search import SimilaritySearch

    t0 = time.perf_counter()
    ivf = SimilaritySearch(reps, index="ivf", nlist=args.nlist, seed=0, progress=False)
    build = time.perf_counter() - t0
    nlist = ivf.config["nlist"]
    mem = index_bytes(ivf.index)
    print(f"ivf: nlist={nlist}, built in {build:.1f} s, {mem / 1e6:.0f} MB", flush=True)
    return nprobe_sweep(ivf, "ivf", queries, exact, t_np, args, build_s=build, bytes=mem)


def nprobe_sweep(ss, kind, queries, exact, t_np, args, *, after=None, **fields):
    """One row per ``--nprobe-fractions`` of the IVF search ``ss``: queries per second
    through ``ss._search`` (the raw faiss search, plus the exact reranking of IVF-PQ), the
    speed-up over numpy and recall@k, with ``fields`` and what ``after()`` returns once the
    queries of the row have run."""
    q, k, rows = len(queries), args.k, []
    nlist = ss.config["nlist"]
    for frac in args.nprobe_fractions:
        ss.nprobe = max(1, int(round(nlist * frac)))
        t = timed(lambda: ss._search(queries, k), args.repeats)
        rec = recall_at_k(ss._search(queries, k)[1], exact)
        row = {"index": kind, "nlist": nlist, "nprobe": ss.nprobe, "queries_per_s": q / t,
               "speedup_vs_numpy": t_np / t, "recall": rec, **fields,
               **(after() if after else {})}
        rows.append(row)
        memory = (f"; anonymous memory {row['anon_bytes_after_queries'] / 1e9:.2f} GB"
                  if row.get("anon_bytes_after_queries") is not None else "")
        print(f"  nprobe={ss.nprobe:5d}: {q / t:10.1f} queries/s = {t_np / t:7.1f}x numpy, "
              f"recall@{k} {rec:.3f}{memory}", flush=True)
    return rows


def run_ivfpq(reps, queries, exact, t_np, args):
    """IVF-PQ (``pq_m`` bytes per vector) with the exact reranking of SimilaritySearch:
    timed through ``_search``, which reranks ``rerank`` x k candidates from the
    representations."""
    from galssl.search import SimilaritySearch

    t0 = time.perf_counter()
    pq = SimilaritySearch(reps, index="ivfpq", nlist=args.nlist, seed=0, progress=False)
    build = time.perf_counter() - t0
    nlist, mem = pq.config["nlist"], index_bytes(pq.index)
    print(f"ivfpq: nlist={nlist}, {pq.config['pq_m']} bytes per vector, rerank "
          f"{pq.config['rerank']}, built in {build:.1f} s, index {mem / 1e6:.0f} MB "
          f"({mem / reps.nbytes:.3f} of the float32 array)", flush=True)
    return nprobe_sweep(pq, "ivfpq", queries, exact, t_np, args, build_s=build, bytes=mem,
                        pq_m=pq.config["pq_m"])


def run_ivf_disk(reps, queries, exact, t_np, args):
    """IVF with its lists in a file and the representations memory-mapped."""
    from galssl.search import SimilaritySearch

    path = os.path.join(args.mmap_dir, "bench_search.ivfdata")
    if os.path.exists(path):
        os.remove(path)
    t0 = time.perf_counter()
    ivf = SimilaritySearch(reps, index="ivf", nlist=args.nlist, ivf_file=path,
                           train_size=args.train_size, seed=0, progress=False)
    build = time.perf_counter() - t0
    nlist, mem = ivf.config["nlist"], index_bytes(ivf.index)
    anon = anon_memory()
    print(f"ivf on disk: nlist={nlist}, built in {build:.1f} s; in memory {mem / 1e6:.1f} MB "
          f"(lists file {os.path.getsize(path) / 1e9:.2f} GB); process anonymous memory "
          f"{anon / 1e9:.2f} GB", flush=True)
    rows = nprobe_sweep(ivf, "ivf-disk", queries, exact, t_np, args, build_s=build, bytes=mem,
                        file_bytes=os.path.getsize(path), anon_bytes_after_build=anon,
                        after=lambda: {"anon_bytes_after_queries": anon_memory()})
    rows[-1].update(reload_memory(ivf, queries, reps.nbytes, args))
    ivf.index.reset()  # closes the lists file
    os.remove(path)
    return rows


def reload_memory(ss, queries, reps_bytes, args):
    """Save the on-disk search ``ss``, load it again with ``mmap=True`` (and, below 2 GB of
    representations, without), and report the anonymous memory each load adds and whether
    the loaded search returns the same neighbours."""
    from galssl.search import SimilaritySearch

    path = os.path.join(args.mmap_dir, "bench_search.h5")
    t0 = time.perf_counter()
    ss.save(path, overwrite=True)
    out = {"save_s": time.perf_counter() - t0}
    expected = ss._search(queries, args.k)[1]
    for mmap in (True, False) if reps_bytes < 2e9 else (True,):
        before = anon_memory()
        t0 = time.perf_counter()
        loaded = SimilaritySearch.load(path, mmap=mmap)
        key = "mmap" if mmap else "in_memory"
        out[f"load_{key}_s"] = time.perf_counter() - t0
        out[f"load_{key}_anon_bytes"] = anon_memory() - before
        same = bool(np.array_equal(loaded._search(queries, args.k)[1], expected))
        out[f"load_{key}_same_neighbours"] = same
        print(f"  saved ({out['save_s']:.1f} s) and loaded again with mmap={mmap}: "
              f"{out[f'load_{key}_s']:.1f} s, +{out[f'load_{key}_anon_bytes'] / 1e6:.0f} MB "
              f"anonymous memory (representations {reps_bytes / 1e6:.0f} MB), same neighbours: "
              f"{same}", flush=True)
        loaded.index.reset()
        del loaded
    os.remove(path)
    return out


def run_hnsw(reps, queries, exact, t_np, args):
    from galssl.search import SimilaritySearch

    q, k, rows = len(queries), args.k, []
    t0 = time.perf_counter()
    hnsw = SimilaritySearch(reps, index="hnsw", hnsw_m=args.hnsw_m,
                            ef_construction=args.ef_construction, progress=False)
    build = time.perf_counter() - t0
    mem = index_bytes(hnsw.index)
    print(f"hnsw: M={args.hnsw_m}, ef_construction={args.ef_construction}, built in "
          f"{build:.1f} s, {mem / 1e6:.0f} MB", flush=True)
    for ef in args.ef_search:
        hnsw.ef_search = ef
        t = timed(lambda: hnsw.index.search(queries, k), args.repeats)
        rec = recall_at_k(hnsw.index.search(queries, k)[1], exact)
        rows.append({"index": "hnsw", "hnsw_m": args.hnsw_m, "ef_search": ef,
                     "build_s": build, "queries_per_s": q / t, "speedup_vs_numpy": t_np / t,
                     "recall": rec, "bytes": mem})
        print(f"  ef_search={ef:5d}: {q / t:10.1f} queries/s = {t_np / t:7.1f}x numpy, "
              f"recall@{k} {rec:.3f}", flush=True)
    return rows


def run(name, reps, queries, args):
    n, d = reps.shape
    q, k = len(queries), args.k
    res = {"data": name, "n": n, "d": d, "queries": q, "k": k}
    print(f"\n== {name} data: {n:,} x {d} representations, {q} queries, k={k} ==", flush=True)

    t_np = timed(lambda: numpy_knn(reps, queries, k), args.repeats)
    np_sims, np_labels = numpy_knn(reps, queries, k)
    rate_np = q / t_np
    res["numpy"] = {"queries_per_s": rate_np, "bytes": int(reps.nbytes)}
    print(f"numpy brute force      : {rate_np:10.1f} queries/s  (array {reps.nbytes / 1e6:.0f} MB)",
          flush=True)

    # how far apart the neighbours are: where the 100th is barely farther than the 10th,
    # an index must order near-ties, which compressed codes (PQ) cannot
    far_sims, _ = numpy_knn(reps, queries, min(100, n))
    dist = np.sqrt(np.clip(2 - 2 * far_sims.astype(np.float64), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        res["distance_ratios"] = {
            "d10_over_d1": float(np.nanmedian(dist[:, min(k, n) - 1] / dist[:, 0])),
            "d100_over_d10": float(np.nanmedian(dist[:, -1] / dist[:, min(k, n) - 1]))}
    print(f"neighbour distances (median): d{k}/d1 = {res['distance_ratios']['d10_over_d1']:.3f}"
          f", d{dist.shape[1]}/d{k} = {res['distance_ratios']['d100_over_d10']:.3f}", flush=True)

    if args.skip_flat:
        exact = np_labels
        print("faiss flat (exact)     : skipped (--skip-flat); numpy gives the true neighbours")
    else:
        exact = run_flat(reps, queries, np_sims, np_labels, t_np, args, res)

    rows = []
    kinds = ("ivf", "ivfpq", "hnsw") if "all" in args.index else args.index
    runners = {"ivf": run_ivf, "ivfpq": run_ivfpq, "hnsw": run_hnsw, "ivf-disk": run_ivf_disk}
    for kind in kinds:
        rows += runners[kind](reps, queries, exact, t_np, args)
    res["approximate"] = rows

    good = [r for r in rows if r["recall"] >= 0.95]
    best = max(good, key=lambda r: r["speedup_vs_numpy"]) if good else None
    res["best_at_recall_0.95"] = best
    if "flat" in res:
        flat_ok = res["flat"]["speedup_vs_numpy"] >= 10
        print(f"summary ({name}): exact faiss {res['flat']['speedup_vs_numpy']:.1f}x numpy "
              f"(target >= 10x: {'met' if flat_ok else 'NOT met'}); ", end="")
    else:
        print(f"summary ({name}): ", end="")
    if not rows:
        print("no approximate index run")
    elif best is None:
        top = max(rows, key=lambda r: r["recall"])
        print(f"no approximate setting reached recall 0.95 (best {top['recall']:.3f} at "
              f"{top['speedup_vs_numpy']:.1f}x, {top['index']}); target NOT met")
    else:
        setting = (f"nprobe={best['nprobe']}" if best["index"] in ("ivf", "ivfpq", "ivf-disk")
                   else f"ef_search={best['ef_search']}")
        met = best["speedup_vs_numpy"] >= 100
        print(f"fastest with recall >= 0.95: {best['index']} {setting}, recall "
              f"{best['recall']:.3f} at {best['speedup_vs_numpy']:.1f}x numpy (target >= "
              f"100x: {'met' if met else 'NOT met'})")
    return res


def run_flat(reps, queries, np_sims, np_labels, t_np, args, res):
    """The faiss exact index against the numpy brute force; its neighbours."""
    from galssl.search import SimilaritySearch

    q, k = len(queries), args.k
    t0 = time.perf_counter()
    flat = SimilaritySearch(reps, index="flat", progress=False)
    build = time.perf_counter() - t0
    t_raw = timed(lambda: flat.index.search(queries, k), args.repeats)
    t_api = timed(lambda: flat.query(queries, k=k), args.repeats)
    exact_sims, exact = flat.index.search(queries, k)
    same = float(np.mean(exact == np_labels))
    res["flat"] = {"build_s": build, "queries_per_s": q / t_raw, "query_api_per_s": q / t_api,
                   "speedup_vs_numpy": t_np / t_raw, "api_speedup_vs_numpy": t_np / t_api,
                   "same_neighbours_as_numpy": same,
                   "max_similarity_difference": float(np.abs(exact_sims - np_sims).max()),
                   "bytes": index_bytes(flat.index)}
    print(f"faiss flat (exact)     : {q / t_raw:10.1f} queries/s  = {t_np / t_raw:6.1f}x numpy "
          f"(query() with QTable: {q / t_api:.1f}/s = {t_np / t_api:.1f}x); "
          f"{100 * same:.2f} % same neighbours; {res['flat']['bytes'] / 1e6:.0f} MB", flush=True)
    return exact


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="indexed representations")
    p.add_argument("--d", type=int, default=128, help="dimension")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--data", choices=("random", "clustered", "galaxies", "both"),
                   default="galaxies")
    p.add_argument("--galaxy-reps", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "real_representations.npy"),
        help="galaxies: representations of the real galaxies (made on first use)")
    p.add_argument("--shared", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"),
        help="galaxies: the shared data folder whose SDSS frames stand in for "
             "data/real.h5 on a fresh checkout")
    p.add_argument("--fields", nargs="+", default=None,
                   help="galaxies: the shared fields to detect them in (default: all)")
    p.add_argument("--components", type=int, default=32,
                   help="galaxies: Gaussians of the mixture")
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--spread", type=float, default=1.0,
                   help="clustered data: noise per dimension, in units of the centres'")
    p.add_argument("--nlist", type=int, default=None, help="IVF cells (default 4 sqrt(n))")
    p.add_argument("--nprobe-fractions", type=float, nargs="+",
                   default=[1 / 256, 1 / 64, 1 / 32, 1 / 16, 1 / 8],
                   help="IVF nprobe as fractions of nlist")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument("--ef-search", type=int, nargs="+", default=[16, 64, 256, 1024])
    p.add_argument("--index", nargs="+", choices=("ivf", "ivfpq", "hnsw", "ivf-disk", "all"),
                   default=["all"],
                   help="approximate indexes to measure")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=None,
                   help="IVF on disk: k-means training vectors (default 256 x nlist)")
    p.add_argument("--mmap-dir", default=os.path.join(os.path.dirname(__file__), "..", "data"),
                   help="IVF on disk: where the memory-mapped representations and lists go")
    p.add_argument("--skip-flat", action="store_true",
                   help="leave out faiss' in-memory exact index")
    p.add_argument("--json", default=None)
    args = p.parse_args()

    import faiss

    hardware = (f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                f"faiss {faiss.__version__} with {faiss.omp_get_max_threads()} threads, "
                f"numpy {np.__version__}")
    print(hardware)
    results = {"hardware": hardware, "args": vars(args), "runs": []}
    kinds = ("random", "clustered", "galaxies") if args.data == "both" else (args.data,)
    for kind in kinds:
        if kind == "galaxies":
            try:
                gmm, n_real, energy = galaxy_model(args.galaxy_reps, args.d,
                                                   args.components, args.seed,
                                                   shared=args.shared, fields=args.fields)
            except Skipped as exc:  # run_all counts it as skipped, with the reason
                print(f"skipped: {exc}")
                if args.json:
                    with open(args.json, "w") as f:
                        json.dump({"skipped": str(exc)}, f)
                return
            print(f"galaxies: a {args.components}-Gaussian mixture fitted to {n_real} real "
                  f"galaxies' representations in {args.d} dimensions ({100 * energy:.2f} % of "
                  f"their energy)")
            reps, queries = galaxy_data(args.n, args.queries, gmm, args.seed)
        elif kind == "random":
            reps, queries = random_data(args.n, args.d, args.queries, args.seed)
        else:
            reps, queries = clustered_data(args.n, args.d, args.queries, args.seed,
                                           args.clusters, args.spread)
        if "ivf-disk" in args.index:  # the representations memory-mapped from a file
            os.makedirs(args.mmap_dir, exist_ok=True)
            mapped = os.path.join(args.mmap_dir, "bench_search_reps.npy")
            np.save(mapped, reps)
            del reps
            reps = np.load(mapped, mmap_mode="r")
            print(f"representations memory-mapped from {mapped}; process anonymous memory "
                  f"{anon_memory() / 1e9:.2f} GB", flush=True)
        results["runs"].append(run(kind, reps, queries, args))
        del reps, queries
        if "ivf-disk" in args.index:
            os.remove(mapped)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
