# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Timing helpers shared by the benchmark scripts."""

import platform
import time

import numpy as np


def cpu_name():
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fn, repeats, sync=None, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls;
    ``sync`` (e.g. ``torch.cuda.synchronize``) is called around each timed call."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
