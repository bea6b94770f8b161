# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Throughput of galssl's batched pretraining augmentations against a per-sample loop.

What is measured
----------------
1. ``galssl.augment.default_pretraining_views`` (extinction, rotation, jitter-crop, noise;
   two views per image) on a batch of real 5-band 107x107 cutouts, cropped to 64x64:
   images per second, median of ``--repeats`` runs after a warm-up.
2. The peer, measured in the same run: a per-sample reference pipeline in the style of the
   seed paper's released data loader (Hayat et al. 2021, ``utils/data_loader.py``: an HWC
   image through ``skimage.transform.rotate`` and a numpy jitter-crop, one image at a time):
   for each image in a Python loop, numpy reddening per band, a bilinear rotation, numpy
   jitter-crop and numpy Gaussian noise, twice (two views). Two rotations are measured:
   ``skimage.transform.rotate`` on the HWC image (as the seed's loader; skipped when
   scikit-image is not installed) and ``scipy.ndimage.rotate`` per channel.
3. The share of a MoCo training step that the augmentation costs with a ResNet18 encoder
   (5-channel stem, 64x64 inputs): forward+backward of the query encoder on one view,
   forward of the key encoder on the other, SGD step; share = t_aug / (t_aug + t_model).
4. On a CUDA device (if present): images per second of the galssl views there.

Run from the repository root (real cutouts come from ``../shared/data`` when present,
otherwise the bundled sample's galaxies are repeated)::

    python benchmarks/bench_augment.py [--batch 256] [--repeats 5] [--json out.json]

Targets: galssl >= 10x the per-sample loop; augmentation < 15 % of a MoCo step on the CPU.
"""

import argparse
import json
import os
import platform

import numpy as np
import torch
from _timing import timed


def real_cutouts(n, data, saved=None):
    if saved:  # an .npz with "images" and "ebv" written by --save-cutouts
        with np.load(saved) as f:
            images, ebv = f["images"], f["ebv"]
        reps = int(np.ceil(n / len(images)))
        return np.tile(images, (reps, 1, 1, 1))[:n], np.tile(ebv, reps)[:n]
    from galssl.cutouts import CutoutCatalog

    fields = []
    if data and os.path.isdir(os.path.join(data, "sdss_frames")):
        base = os.path.join(data, "sdss_frames")
        # high-latitude fields first; the crowded Galactic-plane field last
        fields = [os.path.join(base, f) for f in ("003918-3-0213", "007264-3-0111",
                                                  "003184-2-0169", "001043-5-0025")]
    else:
        from galssl.datasets import sample_frames

        fields = [sample_frames()]
    images, ebv = [], []
    for frames in fields:
        cat = CutoutCatalog.from_frames(frames, progress=False)
        cat = cat[cat.good]
        images.append(np.asarray(cat.images))
        ebv.append(np.asarray(cat.table["ebv"], dtype=np.float32))
        if sum(len(i) for i in images) >= n:
            break
    images, ebv = np.concatenate(images), np.concatenate(ebv)
    reps = int(np.ceil(n / len(images)))
    return np.tile(images, (reps, 1, 1, 1))[:n], np.tile(ebv, reps)[:n]


def reference_views(images, ebv, noise_mad, rng, r_b, rotate_hwc, out=64, jitter=7):
    """Per-sample numpy pipeline, one image at a time (the peer)."""
    views = []
    for _ in range(2):
        batch = np.empty((len(images), images.shape[1], out, out), dtype=np.float32)
        for i, img in enumerate(images):
            e_new = rng.uniform(0, 0.5)
            x = img * 10 ** (-0.4 * (e_new - ebv[i]) * r_b)[:, None, None]
            x = rotate_hwc(x.transpose(1, 2, 0), rng.uniform(0, 360)).transpose(2, 0, 1)
            dy, dx = rng.integers(-jitter, jitter + 1, size=2)
            y0 = (x.shape[1] - out) // 2 + dy
            x0 = (x.shape[2] - out) // 2 + dx
            x = x[:, y0:y0 + out, x0:x0 + out]
            s = rng.uniform(1, 3)
            batch[i] = x + rng.normal(0, 1, x.shape) * (s * noise_mad)[:, None, None]
        views.append(batch)
    return views


def reference_rotations():
    """{name: (HWC image, degrees) -> rotated image} for the peers."""
    from scipy.ndimage import rotate

    peers = {"scipy.ndimage.rotate per channel":
             lambda img, angle: np.stack([rotate(img[..., c], angle, reshape=False, order=1)
                                          for c in range(img.shape[-1])], axis=-1)}
    try:
        import skimage.transform

        peers["skimage.transform.rotate (seed loader)"] = \
            lambda img, angle: skimage.transform.rotate(img, angle, order=1).astype(np.float32)
    except ImportError:
        pass
    return peers


def moco_step_time(batch, repeats, device="cpu"):
    """A MoCo-like step with a torchvision ResNet18 (5-channel stem) on 64x64 views."""
    import copy

    import torchvision

    q = torchvision.models.resnet18(num_classes=128)
    q.conv1 = torch.nn.Conv2d(5, 64, 7, 2, 3, bias=False)
    q = q.to(device)
    k = copy.deepcopy(q)
    opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    v1 = torch.randn(batch, 5, 64, 64, device=device)
    v2 = torch.randn(batch, 5, 64, 64, device=device)

    def step():
        zq = torch.nn.functional.normalize(q(v1), dim=1)
        with torch.no_grad():
            zk = torch.nn.functional.normalize(k(v2), dim=1)
        loss = torch.nn.functional.cross_entropy(zq @ zk.T / 0.1,
                                                 torch.arange(batch, device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if device == "cuda" else None
    return timed(step, repeats, sync)


def main():
    from galssl.augment import default_pretraining_views, estimate_noise_mad
    from galssl.dust import extinction_coefficients

    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref-images", type=int, default=64,
                        help="images run through the (slow) reference pipeline")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cutouts", help="read the cutouts from this .npz instead")
    parser.add_argument("--save-cutouts", help="write the first 128 cutouts to this .npz")
    parser.add_argument("--json", default=None, help="write the numbers as JSON to this path")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print("galssl augmentation benchmark")
    print(f"platform: {platform.platform()}, {os.cpu_count()} CPU cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    images, ebv = real_cutouts(args.batch, args.data, args.cutouts)
    if args.save_cutouts:
        np.savez(args.save_cutouts, images=images[:128], ebv=ebv[:128])
    noise_mad = estimate_noise_mad(images, progress=False)
    print(f"batch: {images.shape} real cutouts, noise_mad = {np.round(noise_mad, 4)}")
    x, e = torch.from_numpy(images), torch.from_numpy(ebv)

    views = default_pretraining_views(noise_mad, seed=0)
    t_galssl = timed(lambda: views(x, ebv=e), args.repeats)
    ips_galssl = len(x) / t_galssl

    rng = np.random.default_rng(0)
    r_b = extinction_coefficients("ugriz")
    n_ref = min(args.ref_images, len(images))
    peers = {}
    for name, rot in reference_rotations().items():
        t_ref = timed(lambda: reference_views(images[:n_ref], ebv[:n_ref], noise_mad, rng, r_b,
                                              rot), max(1, args.repeats // 2))
        peers[name] = n_ref / t_ref

    t_model = moco_step_time(args.batch, max(2, args.repeats // 2))
    share = t_galssl / (t_galssl + t_model)
    res = {"hardware": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "torch": torch.__version__, "threads": torch.get_num_threads()},
           "batch": int(len(x)), "ref_images": int(n_ref), "repeats": args.repeats,
           "galssl_images_per_s": ips_galssl, "galssl_batch_s": t_galssl,
           "peers": {name: {"images_per_s": ips, "speedup": ips_galssl / ips}
                     for name, ips in peers.items()},
           "moco_step_s": t_model, "augmentation_share": share,
           "targets": {"speedup": 10.0, "augmentation_share": 0.15}, "gpu": None}

    rows = [("galssl default_pretraining_views, CPU (images/s)", f"{ips_galssl:.0f}")]
    for name, ips in peers.items():
        rows += [(f"peer: {name} (images/s)", f"{ips:.1f}"),
                 ("  speed-up galssl / peer", f"{ips_galssl / ips:.1f}x (target >= 10x)")]
    rows += [(f"ResNet18 MoCo step, batch {args.batch}, CPU (s)", f"{t_model:.2f}"),
             ("augmentation share of a MoCo step, CPU", f"{100 * share:.1f} % (target < 15 %)")]
    if torch.cuda.is_available():
        xg, eg = x.cuda(), e.cuda()
        t_gpu = timed(lambda: views(xg, ebv=eg), args.repeats, torch.cuda.synchronize)
        t_model_gpu = moco_step_time(args.batch, max(2, args.repeats // 2), "cuda")
        rows += [(f"galssl views on {torch.cuda.get_device_name()} (images/s)",
                  f"{len(x) / t_gpu:.0f}"),
                 ("augmentation share of a MoCo step, GPU",
                  f"{100 * t_gpu / (t_gpu + t_model_gpu):.1f} %")]
        res["gpu"] = {"device": torch.cuda.get_device_name(), "images_per_s": len(x) / t_gpu,
                      "moco_step_s": t_model_gpu,
                      "augmentation_share": t_gpu / (t_gpu + t_model_gpu)}
    width = max(len(r[0]) for r in rows)
    line = "=" * width + "  " + "=" * 24
    print(line)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
