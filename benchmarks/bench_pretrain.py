# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""MoCo v2 training throughput of galssl against a MoCo v2 built from lightly's blocks.

What is measured
----------------
For each encoder architecture, a training step (query forward + backward, momentum update,
momentum-encoder forward, InfoNCE against the queue, enqueue, SGD step) on the same two
batches of augmented 64x64 5-band views, batch 64:

* galssl: ``MoCoModule.moco_loss`` (the step ``ContrastiveEncoder.fit`` runs, with its
  shuffle-BN emulation, ``bn_splits=2``, and its default photometry target) plus the SGD
  step;
* the peer: lightly's ``MoCoProjectionHead``, ``update_momentum`` and ``NTXentLoss`` with a
  memory bank of the same size, on the same backbone.

Both are timed in the same run (median of ``--repeats`` steps after warm-up). The achieved
GFLOP/s of the galssl step (FLOPs counted by ``torch.utils.flop_counter``) is compared with
this machine's fp32 matrix-multiplication peak, measured in the same run. Variants tried:
``channels_last`` memory format (kept if faster). On a CUDA device the step also runs in
bf16 autocast.

Targets: the galssl step at >= 1.0x the lightly step's rate, and >= 35 % of the fp32
matmul peak.

Run::

    python benchmarks/bench_pretrain.py [--archs resnet10-small resnet18] [--batch 64] \\
        [--json out.json]
"""

import argparse
import copy
import json
import os
import platform
import time

import numpy as np
import torch
from _timing import timed


def timed_round_robin(fns, repeats, warmup=2):
    """Median time of each function, timed in alternation (fair under a varying load)."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def matmul_peak(device, n=2048, repeats=5):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    t = timed(lambda: a @ b, repeats, sync)
    return 2 * n**3 / t / 1e9


def galssl_step_fn(arch, batch, queue, device, channels_last=False, autocast=False,
                   bn_splits=2, input_stretch="asinh", photometry=1.0):
    from galssl.augment import default_pretraining_views  # noqa: F401 (module import check)
    from galssl.ssl import MoCoModule

    config = dict(arch=arch, in_chans=5, bands="ugriz", queue_size=queue, momentum=0.999,
                  temperature=0.1, lr=0.03, weight_decay=1e-4, proj_dim=128, crop=64,
                  jitter=7, ebv_max=0.5, psf=False, noise_scale=[1.0, 3.0], bn_splits=bn_splits,
                  augment=True, channels_last=channels_last, seed=0, batch_size=batch,
                  num_workers=0, input_stretch=input_stretch, photometry=photometry)
    m = MoCoModule(config, [0.02] * 5).to(device)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    params = [p for p in m.parameters() if p.requires_grad]  # as MoCoModule's optimiser
    opt = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)
    state = {"step": 0}

    def step(v1, v2):
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast):
            loss = m.moco_loss(v1, v2, state["step"])[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] += 1
        return loss
    return step


def lightly_step_fn(arch, batch, queue, device, channels_last=False):
    from lightly.loss import NTXentLoss
    from lightly.models.modules import MoCoProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    from galssl.nn import create_backbone

    backbone = create_backbone(arch).to(device)
    dim = backbone.num_features
    head = MoCoProjectionHead(dim, dim, 128).to(device)
    backbone_k, head_k = copy.deepcopy(backbone), copy.deepcopy(head)
    deactivate_requires_grad(backbone_k)
    deactivate_requires_grad(head_k)
    if channels_last:
        for net in (backbone, backbone_k):
            net.to(memory_format=torch.channels_last)
    criterion = NTXentLoss(temperature=0.1, memory_bank_size=(queue, 128))
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)

    def step(v1, v2):
        if channels_last:
            v1 = v1.contiguous(memory_format=torch.channels_last)
            v2 = v2.contiguous(memory_format=torch.channels_last)
        q = head(backbone(v1))
        update_momentum(backbone, backbone_k, 0.999)
        update_momentum(head, head_k, 0.999)
        with torch.no_grad():
            k = head_k(backbone_k(v2))
        loss = criterion(q, k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


def count_flops(step, v1, v2):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step(v1, v2)
    return counter.get_total_flops()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", nargs="+", default=["resnet10-small", "resnet18"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--queue", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--gpu-archs", nargs="+",
                        default=["resnet10-small", "resnet18", "resnet50-paper"])
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU part")
    parser.add_argument("--gpu-batch", type=int, default=256)
    parser.add_argument("--json", default=None, help="write the numbers as JSON to this path")
    args = parser.parse_args()

    print("galssl pretraining benchmark")
    print(f"platform: {platform.platform()}, {os.cpu_count()} CPU cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    from galssl.augment import default_pretraining_views

    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 5, 107, 107, generator=g) * 0.1
    views = default_pretraining_views([0.02] * 5, seed=0)
    v1, v2 = views(images, ebv=torch.full((args.batch,), 0.03))
    from galssl.engine import cpu_supports_bf16

    bf16 = cpu_supports_bf16()
    peak = matmul_peak("cpu")
    print(f"native bf16 on this CPU: {bf16}")
    rows = []
    for arch in ([] if args.skip_cpu else args.archs):
        # variants: memory format and (where the CPU has native bf16) bf16 autocast; the
        # fastest is kept, as ContrastiveEncoder.fit's default precision does
        variants = [(cl, ac) for cl in (False, True) for ac in ((False, True) if bf16
                                                                else (False,))]
        steps = [galssl_step_fn(arch, args.batch, args.queue, "cpu", channels_last=cl,
                                autocast=ac) for cl, ac in variants]
        times = timed_round_robin([lambda s=s: s(v1, v2) for s in steps],
                                  max(3, args.repeats // 2))
        best = int(np.argmin(times))
        (cl, ac), step = variants[best], steps[best]
        fp32 = [i for i, v in enumerate(variants) if not v[1]]
        fp32_step = steps[min(fp32, key=lambda i: times[i])]
        flops = count_flops(step, v1, v2)
        one = galssl_step_fn(arch, args.batch, args.queue, "cpu", channels_last=cl,
                             autocast=ac, bn_splits=1)
        bare = galssl_step_fn(arch, args.batch, args.queue, "cpu", channels_last=cl,
                              autocast=ac, input_stretch=None)
        nophot = galssl_step_fn(arch, args.batch, args.queue, "cpu", channels_last=cl,
                                autocast=ac, photometry=0.0)
        peer = lightly_step_fn(arch, args.batch, args.queue, "cpu", channels_last=cl)
        t_g, t_1, t_f, t_l, t_b, t_p = timed_round_robin(
            [lambda: step(v1, v2), lambda: one(v1, v2), lambda: fp32_step(v1, v2),
             lambda: peer(v1, v2), lambda: bare(v1, v2), lambda: nophot(v1, v2)],
            args.repeats)
        peak = max(peak, matmul_peak("cpu"))
        rows.append((arch, args.batch / t_g, args.batch / t_1, args.batch / t_f,
                     args.batch / t_l, t_l / t_g, t_l / t_f, flops / t_g / 1e9, flops / t_g,
                     "bf16" if ac else "fp32", "CL" if cl else "NCHW", args.batch / t_b,
                     args.batch / t_p))
    print(f"fp32 matmul peak (best of the run): {peak:.1f} GFLOP/s")
    hdr = ("arch", "galssl", "1 BN grp", "no stretch", "no phot", "galssl fp32", "lightly",
           "ratio", "fp32 ratio", "GFLOP/s", "of peak", "kept")
    line = "=" * 131
    print(line)
    print("{:<15} {:>8} {:>9} {:>10} {:>7} {:>12} {:>8} {:>7} {:>11} {:>8} {:>8} {:>10}"
          .format(*hdr))
    for r in rows:
        print(f"{r[0]:<15} {r[1]:>8.1f} {r[2]:>9.1f} {r[11]:>10.1f} {r[12]:>7.1f} {r[3]:>12.1f} "
              f"{r[4]:>8.1f} {r[5]:>6.2f}x {r[6]:>10.2f}x {r[7]:>8.1f} "
              f"{100 * r[8] / 1e9 / peak:>7.1f}% {r[9] + ' ' + r[10]:>10}")
    print(line)
    print("images/s at batch", args.batch, "; galssl = ContrastiveEncoder's step with its "
          "one-device shuffle-BN (bn_splits=2), its default asinh input stretch and "
          "photometry target, '1 BN grp' = the same without shuffle-BN, 'no stretch' = "
          "without the stretch, 'no phot' = without the photometry target (photometry=0), "
          "'galssl fp32' = the best fp32 variant; lightly peer in fp32, without a stretch or "
          "a second target")
    print("targets: ratio >= 1.0x lightly; >= 35 % of the fp32 matmul peak")
    keys = ("arch", "galssl_images_per_s", "galssl_1bn_images_per_s",
            "galssl_fp32_images_per_s", "lightly_images_per_s", "ratio", "fp32_ratio",
            "gflops", "flops_per_s", "precision", "memory_format",
            "galssl_nostretch_images_per_s", "galssl_nophotometry_images_per_s")
    res = {"hardware": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "torch": torch.__version__, "threads": torch.get_num_threads()},
           "batch": args.batch, "queue": args.queue, "repeats": args.repeats,
           "native_bf16": bool(bf16), "matmul_peak_gflops": peak,
           "cpu": [dict(zip(keys, r), fraction_of_peak=r[7] / peak) for r in rows],
           "targets": {"ratio": 1.0, "fraction_of_peak": 0.35}, "gpu": None}

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        gpeak = matmul_peak("cuda", n=8192)
        print(f"\nGPU: {name}, fp32 matmul peak {gpeak / 1e3:.1f} TFLOP/s (TF32 off: "
              f"{not torch.backends.cuda.matmul.allow_tf32})")
        gi = torch.rand(args.gpu_batch, 5, 107, 107, device="cuda") * 0.1
        w1, w2 = views(gi, ebv=torch.full((args.gpu_batch,), 0.03, device="cuda"))
        sync = torch.cuda.synchronize
        res["gpu"] = {"device": name, "matmul_peak_gflops": gpeak, "batch": args.gpu_batch,
                      "rows": []}
        for arch in args.gpu_archs:
            peers = {}
            for cl in (False, True):
                try:
                    peer = lightly_step_fn(arch, args.gpu_batch, args.queue, "cuda",
                                           channels_last=cl)
                    peers[cl] = args.gpu_batch / timed(lambda: peer(w1, w2), args.repeats,
                                                       sync, warmup=3)
                except ImportError as exc:
                    print(f"lightly not available: {exc}")
            for cl in (False, True):
                for ac in (False, True):
                    for splits in (2, 1):
                        step = galssl_step_fn(arch, args.gpu_batch, args.queue, "cuda",
                                              channels_last=cl, autocast=ac, bn_splits=splits)
                        t = timed(lambda: step(w1, w2), args.repeats, sync, warmup=3)
                        mode = f"{'CL' if cl else 'NCHW'} {'bf16' if ac else 'fp32'} " \
                            f"bn_splits={splits}"
                        peer_txt = f"lightly fp32 {'CL' if cl else 'NCHW'} " \
                            f"{peers[cl]:8.0f} img/s" if cl in peers else ""
                        print(f"{arch:<15} batch {args.gpu_batch} {mode:>22}: galssl "
                              f"{args.gpu_batch / t:8.0f} img/s   {peer_txt}")
                        res["gpu"]["rows"].append(
                            {"arch": arch, "memory_format": "CL" if cl else "NCHW",
                             "precision": "bf16" if ac else "fp32", "bn_splits": splits,
                             "galssl_images_per_s": args.gpu_batch / t,
                             "lightly_fp32_images_per_s": peers.get(cl)})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
