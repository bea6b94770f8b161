# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Inference over image sources, in one process or on several devices and nodes
(Lightning's ``Trainer.predict`` on DDP): the shared loop of ``encode`` and ``predict``."""

import os

import lightning as L
import numpy as np
import torch

from ._data import read_batch

__all__ = ["run_inference", "shard_bounds", "is_distributed", "InferenceModule", "SeededView"]


def is_distributed(devices=None, num_nodes=1):
    """True when ``devices`` / ``num_nodes`` ask for more than one process."""
    from ..utils._validate import check_devices, check_positive_int

    devices = check_devices(devices)
    num_nodes = check_positive_int(num_nodes, "num_nodes")
    if isinstance(devices, (list, tuple)):
        many = len(devices) > 1
    else:
        many = (isinstance(devices, int) and devices > 1) or \
            (devices == "auto" and torch.cuda.device_count() > 1)
    return bool(many or num_nodes > 1)


def shard_bounds(n, world):
    """Contiguous shards of ``n`` rows for ``world`` ranks, sizes differing by at most one
    and no row repeated (`torch.utils.data.DistributedSampler` pads with duplicates): rank
    r takes rows ``bounds[r]:bounds[r + 1]``.

    Examples
    --------
    >>> from galssl.engine import shard_bounds
    >>> shard_bounds(10, 3).tolist()
    [0, 4, 7, 10]
    """
    sizes = [n // world + (r < n % world) for r in range(world)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def run_inference(net, images, ebv, rows, transform, step, *, batch_size=256,
                  progress=True, desc="evaluating", devices=None, num_nodes=1,
                  accelerator=None, strategy=None):
    """``step(net, x)`` over batches of the given rows (all if None), in evaluation mode.

    ``transform(x, ebv=ebv)`` makes what the network sees of a batch (or a `SeededView`
    draws random views reproducibly). ``step`` maps it to a dict of arrays with one row
    per image. Returns
    that dict with each array covering all the rows, in the order of ``rows``, plus the
    masks ``"empty"`` (no finite pixel) and ``"incomplete"`` (any non-finite pixel or
    E(B-V)).

    One process by default, on the device ``devices`` names (``"cpu"``, ``"cuda:1"``; None:
    CUDA when available). With several ``devices`` or ``num_nodes`` it runs
    on Lightning's DDP (``strategy``; default ``"ddp_spawn"`` when started from one
    process, ``"ddp"`` when launched by ``torchrun`` or SLURM): each rank reads and
    evaluates one contiguous shard of the batches (`shard_bounds` of the batches: the
    batches of a one-process run, none twice; an HDF5-backed catalogue read only where
    the shard lies) and the shards are gathered, so
    that every rank, and the process that spawned them, gets exactly the rows of a
    one-process run, in order. ``step`` must then be picklable (a module-level function or
    an instance of a module-level class).
    """
    from ..utils._validate import check_positive_int

    batch_size = check_positive_int(batch_size, "batch_size")
    rows = np.arange(len(images)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) and is_distributed(devices, num_nodes):
        module = InferenceModule(net, transform, step, (images, ebv, rows, int(batch_size)))
        try:
            return _predict(module, devices=devices, num_nodes=num_nodes,
                            accelerator=accelerator, strategy=strategy, progress=progress)
        finally:
            net.cpu()
    from ..utils._progress import progress_bar
    from ._runner import inference_device

    dev = inference_device(devices, accelerator)
    net.to(dev).eval()
    parts = []
    try:
        for start in progress_bar(range(0, len(rows), batch_size), desc=desc,
                                  progress=progress, unit="batch"):
            x, e, empty, incomplete = read_batch(images, ebv, rows[start:start + batch_size])
            with torch.no_grad():
                out = step(net, _view(transform, x.to(dev), e.to(dev), start))
            parts.append((start, dict(out, empty=empty, incomplete=incomplete)))
    finally:
        net.cpu()
    return _assemble(parts, len(rows))


def _view(transform, x, ebv, start):
    """What the network sees of a batch: ``transform(x, ebv=ebv)``, or for a `SeededView`
    its view drawn from the position of the batch."""
    if isinstance(transform, SeededView):
        return transform(x, ebv, start)
    return transform(x, ebv=ebv)


class SeededView:
    """A random ``transform`` (a `galssl.augment` transform or pipeline) applied with a
    generator seeded by ``seed`` and the position of each batch among the rows, so that the
    views do not depend on how the rows are shared between processes; outputs larger than
    ``out`` are centre-cropped to it."""

    def __init__(self, transform, seed, out):
        self.transform, self.seed, self.out = transform, int(seed), int(out)

    def __call__(self, x, ebv, start):
        from ..augment import crop
        from ._runner import seed_from

        g = torch.Generator().manual_seed(seed_from(self.seed, start, 23))
        v = self.transform(x, ebv=ebv, generator=g)
        if not isinstance(v, torch.Tensor) or v.ndim != 4 or len(v) != len(x) or \
                v.shape[1] != x.shape[1]:
            raise ValueError(f"transform must return a ({len(x)}, {x.shape[1]}, H, W) tensor "
                             f"for a batch of {len(x)} images, got "
                             f"{getattr(v, 'shape', type(v).__name__)}")
        if min(v.shape[-2:]) < self.out:
            raise ValueError(f"the transform returns {tuple(v.shape[-2:])} images, smaller "
                             f"than the encoder's {self.out}x{self.out} input")
        return crop(v, self.out) if tuple(v.shape[-2:]) != (self.out, self.out) else v


def _predict(module, *, devices, num_nodes, accelerator, strategy, progress):
    """Run ``module`` on Lightning's DDP and return the gathered rows: every rank gathers
    them in memory; under a spawning strategy rank 0 also writes them to a file in a
    temporary folder, which the calling process reads back (Lightning returns nothing
    from spawned ranks) and removes."""
    import shutil
    import tempfile

    from ._runner import QuietLightning

    if strategy is None:
        launched = "LOCAL_RANK" in os.environ or "SLURM_NTASKS" in os.environ
        strategy = "ddp" if launched else "ddp_spawn"
    folder = tempfile.mkdtemp(prefix="galssl-inference-")
    module.result_path = os.path.join(folder, "rows.npz")
    try:
        with QuietLightning():
            trainer = L.Trainer(accelerator=accelerator or "auto", devices=devices,
                                num_nodes=num_nodes, strategy=strategy, precision="32-true",
                                logger=False, enable_progress_bar=progress,
                                enable_model_summary=False, enable_checkpointing=False,
                                use_distributed_sampler=False)
            trainer.predict(module, return_predictions=False)
        if module.result is not None:  # this process was a rank
            return module.result
        if not os.path.isfile(module.result_path):  # pragma: no cover - a rank failed
            raise RuntimeError("the inference ranks ended without returning their rows")
        with np.load(module.result_path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _assemble(parts, n):
    """Concatenate ``(start, dict of arrays)`` pieces into arrays of ``n`` rows, checking
    that they cover every row exactly once."""
    if not parts:
        return {"empty": np.zeros(0, bool), "incomplete": np.zeros(0, bool)}
    parts = sorted(parts, key=lambda p: p[0])
    lengths = [len(p[1]["empty"]) for p in parts]
    ends = np.cumsum(lengths)
    if [p[0] for p in parts] != [0] + ends[:-1].tolist() or ends[-1] != n:
        raise RuntimeError(f"the gathered batches do not cover the {n} rows exactly once")
    return {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}


def _quiet_lightning():
    """Lightning's informational logging and notes off in this process (a spawned rank,
    which does not inherit the caller's settings)."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


class _ShardBatches(torch.utils.data.Dataset):
    """The batches of one rank's shard: item k is (position of its first row among all
    rows, images with NaN set to 0, E(B-V), empty, incomplete), read in one call."""

    def __init__(self, images, ebv, rows, lo, hi, batch_size):
        self.images, self.ebv, self.rows = images, ebv, rows
        # an empty shard (fewer rows than ranks) still yields one empty batch: Lightning
        # refuses a rank without batches
        self.starts = list(range(int(lo), int(hi), int(batch_size))) or [int(lo)]
        self.hi, self.batch_size = int(hi), int(batch_size)

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, k):
        s = self.starts[k]
        if s >= self.hi:
            return s, torch.zeros((0,) + tuple(self.images.shape[1:])), torch.zeros(0), \
                np.zeros(0, bool), np.zeros(0, bool)
        x, e, empty, incomplete = read_batch(
            self.images, self.ebv, self.rows[s:min(s + self.batch_size, self.hi)])
        return s, x, e, empty, incomplete


class InferenceModule(L.LightningModule):
    """``step`` over this rank's shard of the rows (`run_inference`); the shards are
    gathered on every rank when the epoch ends."""

    def __init__(self, net, transform, step, data):
        super().__init__()
        self.net, self.transform, self.step = net, transform, step
        self._data = data  # (images, ebv, rows, batch_size)
        self.result_path = None
        self.result = None
        self._parts = []

    def __setstate__(self, state):
        # unpickled in a spawned rank: quiet Lightning's banners and notes there too
        _quiet_lightning()
        super().__setstate__(state)
        self._spawned_rank = True

    def teardown(self, stage):
        # A spawned rank ends its process group itself, all ranks together, before it exits:
        # Lightning destroys only NCCL groups at exit, and a gloo group left to the
        # interpreter's shutdown could abort a rank ('terminate called without an active
        # exception') while its peer was already gone. Ranks the user launched (torchrun,
        # SLURM) keep their group for the rest of their script.
        import torch.distributed as dist

        if getattr(self, "_spawned_rank", False) and dist.is_available() \
                and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def predict_dataloader(self):
        images, ebv, rows, bs = self._data
        # whole batches per rank: the batches are those of a one-process run (same
        # seeds for random views, same arithmetic)
        n = len(rows)
        bounds = np.minimum(shard_bounds(-(-n // bs), self.trainer.world_size) * bs, n)
        rank = self.trainer.global_rank
        return torch.utils.data.DataLoader(
            _ShardBatches(images, ebv, rows, bounds[rank], bounds[rank + 1], bs),
            batch_size=None, shuffle=False)

    def on_predict_start(self):
        self._parts = []

    def predict_step(self, batch, batch_idx):
        start, x, e, empty, incomplete = batch
        if not len(x):
            return
        self.net.eval()
        out = self.step(self.net, _view(self.transform, x.to(self.device), e.to(self.device),
                                        int(start)))
        self._parts.append((int(start), dict(out, empty=np.asarray(empty),
                                             incomplete=np.asarray(incomplete))))
        return len(x)  # the rows are gathered in on_predict_epoch_end

    def on_predict_epoch_end(self):
        parts = self._parts
        if self.trainer.world_size > 1:
            import torch.distributed as dist

            everyone = [None] * self.trainer.world_size
            dist.all_gather_object(everyone, parts)
            parts = [p for r in everyone for p in r]
        self.result = _assemble(parts, len(self._data[2]))
        self._parts = []
        if self.trainer.global_rank == 0 and self.result_path is not None:
            np.savez(self.result_path, **self.result)
