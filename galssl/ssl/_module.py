# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The MoCo v2 LightningModule: training step, shuffle-BN, queue, optimiser, checkpoints."""

import copy
import math

import lightning as L
import torch

from ..augment import default_pretraining_views, eval_transform
from ..nn import (MoCoQueue, PhotometryHead, ProjectionHead, create_backbone,
                  decorrelation_loss, info_nce, momentum_update, set_batchnorm_splits)
from ..engine import CutoutDataset, collate_batch
from ..engine import RunStateHooks, cosine_schedule, seed_from

__all__ = ["MoCoModule"]


class _RankMajorBatchSampler(torch.utils.data.BatchSampler):
    """Batches reordered as ``cat([b[r::k] for r in range(k)])``: the batch that ``k``
    DDP ranks would see together (rank r gets every k-th index of the epoch's order),
    laid out rank after rank, so that batch-norm group r is virtual rank r."""

    def __init__(self, sampler, batch_size, splits):
        super().__init__(sampler, batch_size, drop_last=True)
        self.splits = splits

    def __iter__(self):
        for batch in super().__iter__():
            yield [i for r in range(self.splits) for i in batch[r::self.splits]]


class MoCoModule(RunStateHooks, L.LightningModule):
    """MoCo v2 (Chen et al. 2020) as a LightningModule.

    Batch-norm statistics never mix a positive pair: across devices the key batch is
    shuffled between ranks before the momentum encoder (shuffle-BN, He et al. 2020); on one
    device this is emulated: the batch is laid out as ``bn_splits`` virtual ranks, batch-norm
    statistics are computed per group (`galssl.nn.SplitBatchNorm2d`), and the keys are
    shuffled across the groups before the momentum encoder, exactly as across ranks. Keys of
    all ranks are gathered before they enter the queue.
    """

    def __init__(self, config, noise_mad, data=None):
        super().__init__()
        self.config = dict(config)
        c = self.config
        # batch-norm layers become SplitBatchNorm2d now, before any DDP wrapping; only their
        # number of groups changes later (see _set_splits)
        self.backbone = set_batchnorm_splits(
            create_backbone(c["arch"], c["in_chans"], input_stretch=c.get("input_stretch"),
                            bands=c["bands"]), c["bn_splits"])
        dim = self.backbone.num_features
        self.head = ProjectionHead(dim, dim, c["proj_dim"])
        self.backbone_k = copy.deepcopy(self.backbone)
        self.head_k = copy.deepcopy(self.head)
        for p in list(self.backbone_k.parameters()) + list(self.head_k.parameters()):
            p.requires_grad_(False)
        self.queue = MoCoQueue(c["proj_dim"], c["queue_size"], seed=c["seed"])
        if c.get("photometry", 0.0) > 0:  # the view's own photometry as a second target
            self.photometry_head = PhotometryHead(dim, c["bands"], c["crop"])
        if c["augment"]:
            self.views = default_pretraining_views(
                noise_mad, bands=c["bands"], ebv_max=c["ebv_max"], out=c["crop"],
                jitter=c["jitter"], noise_scale=tuple(c["noise_scale"]), psf=c["psf"])
        else:  # deterministic views: for debugging and equivalence tests
            self.views = eval_transform(bands=c["bands"], out=c["crop"])
        self._data = data  # (images, ebv, rows) used by train_dataloader
        self.loss_history = []  # per-step training loss of this process

    # ------------------------------------------------------------------ data
    def train_dataloader(self):
        images, ebv, rows = self._data
        c = self.config
        world, rank = self.trainer.world_size, self.trainer.global_rank
        sampler = torch.utils.data.DistributedSampler(
            range(len(rows)), num_replicas=world, rank=rank, shuffle=True, seed=c["seed"],
            drop_last=True)
        # Lightning calls sampler.set_epoch through the batch sampler every epoch
        if world == 1 and c["bn_splits"] > 1:
            batch_sampler = _RankMajorBatchSampler(sampler, c["batch_size"], c["bn_splits"])
        else:
            batch_sampler = torch.utils.data.BatchSampler(sampler, c["batch_size"] // world,
                                                          drop_last=True)
        return torch.utils.data.DataLoader(
            CutoutDataset(images, ebv, rows), batch_sampler=batch_sampler,
            collate_fn=collate_batch, num_workers=c["num_workers"],
            persistent_workers=c["num_workers"] > 0, pin_memory=self.device.type == "cuda")

    # ------------------------------------------------------------------ model
    def _world(self):
        return self.trainer.world_size if self._trainer is not None else 1

    def _splits(self):
        if self._world() > 1:
            return 1
        return self.config["bn_splits"]

    def _set_splits(self):
        """Batch-norm groups for this run: one per device under DDP, else ``bn_splits``."""
        splits = self._splits()
        if getattr(self, "_bn_splits_set", None) != splits:
            for net in (self.backbone, self.backbone_k):
                set_batchnorm_splits(net, splits)
            self._bn_splits_set = splits

    def _encode_query(self, x):
        """(representations, projections) of the query view."""
        # SplitBatchNorm2d normalises each of the bn_splits consecutive groups separately
        self._set_splits()
        h = self.backbone(x)
        return h, self.head(h)

    @torch.no_grad()
    def _encode_key(self, x, step):
        """Momentum-encoder projections with shuffled batch-norm groups."""
        g = torch.Generator().manual_seed(seed_from(self.config["seed"], step, 7))
        world = self._world()
        self._set_splits()  # one batch-norm group per rank under DDP, bn_splits on one device
        if world > 1:  # shuffle-BN across ranks
            xs = self.all_gather(x).reshape(-1, *x.shape[1:])  # rank-major
            perm = torch.randperm(len(xs), generator=g).to(x.device)
            b, rank = len(x), self.global_rank
            k_local = self.head_k(self.backbone_k(xs[perm[rank * b:(rank + 1) * b]]))
            k_all = self.all_gather(k_local).reshape(len(xs), -1)
            k = torch.empty_like(k_all)
            k[perm] = k_all
            return k[rank * b:(rank + 1) * b]
        splits = self.config["bn_splits"]
        if splits == 1:
            return self.head_k(self.backbone_k(x))
        # the batch is rank-major (see _RankMajorBatchSampler): shuffled group r is
        # x[perm[r*c:(r+1)*c]], the keys DDP rank r would encode
        perm = torch.randperm(len(x), generator=g).to(x.device)
        k_shuffled = self.head_k(self.backbone_k(x[perm]))
        k = torch.empty_like(k_shuffled)
        k[perm] = k_shuffled
        return k

    def momentum_at(self, step):
        """The momentum encoder's m at optimiser step ``step``: constant, or with
        ``momentum_schedule="cosine"`` rising from ``momentum`` to 1 over the planned steps
        (`configure_optimizers` sets them; before that, and outside a trainer, constant)."""
        c = self.config
        m = c["momentum"]
        total = getattr(self, "_planned_steps", None)
        if c.get("momentum_schedule", "constant") == "constant" or not total:
            return m
        t = min(1.0, step / total)
        return 1.0 - (1.0 - m) * (math.cos(math.pi * t) + 1.0) / 2.0

    def moco_loss(self, v1, v2, step):
        """InfoNCE of one step on two views, plus the weighted extra terms of the query
        representations where their weights are > 0: `galssl.nn.decorrelation_loss`
        (``decorrelation``) and the `galssl.nn.PhotometryHead` regression of the query
        view's own aperture photometry (``photometry``). Updates the momentum encoder and
        the queue. Returns (loss, logits, {name: unweighted term} of the extra terms)."""
        c = self.config
        if c["channels_last"]:
            v1 = v1.contiguous(memory_format=torch.channels_last)
            v2 = v2.contiguous(memory_format=torch.channels_last)
        h, q = self._encode_query(v1)
        m = self.momentum_at(step)
        with torch.no_grad():
            momentum_update(self.backbone, self.backbone_k, m)
            momentum_update(self.head, self.head_k, m)
            k = self._encode_key(v2, step)
        loss, logits = info_nce(q, k, self.queue.queue.clone(), c["temperature"])
        keys = self.all_gather(k).reshape(-1, k.shape[1]) if self._world() > 1 else k
        self.queue.enqueue(keys)
        terms = {}
        if c.get("decorrelation", 0.0) > 0:
            terms["decorrelation"] = decorrelation_loss(h)
        if c.get("photometry", 0.0) > 0:
            gather = None
            if self._world() > 1:  # statistics of the global batch, as on one device
                gather = lambda t: self.all_gather(t).reshape(-1, t.shape[1])  # noqa: E731
            terms["photometry"] = self.photometry_head.loss(h, v1, gather=gather)
        for name, value in terms.items():
            loss = loss + c[name] * value
        return loss, logits, terms

    def training_step(self, batch, batch_idx):
        x, ebv = batch
        c = self.config
        step = self.global_step
        g = torch.Generator().manual_seed(seed_from(c["seed"], step, self.global_rank))
        if c["augment"]:
            v1, v2 = self.views(x, ebv=ebv, generator=g)
        else:
            v1 = v2 = self.views(x, ebv=ebv)
        loss, logits, terms = self.moco_loss(v1, v2, step)
        acc = (logits.argmax(dim=1) == 0).float().mean()
        for name, value in terms.items():
            self.log(f"train_{name}", value.detach(), sync_dist=self._world() > 1)
        self.loss_history.append(loss.detach())  # a tensor: no host sync per step
        self.log("train_loss", loss, prog_bar=True, sync_dist=self._world() > 1)
        self.log("train_acc", acc, prog_bar=True, sync_dist=self._world() > 1)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        return loss

    def configure_optimizers(self):
        c = self.config
        # backbone, head and (photometry > 0) photometry head, in that order; the momentum
        # encoder's parameters are frozen
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=c["lr"], momentum=0.9, weight_decay=c["weight_decay"])
        # the schedule plans the run's epochs (run_trainer sets planned_epochs), not the
        # epoch this sitting stops at, and is rebuilt on resume (cosine_schedule)
        per_epoch = len(self.train_dataloader())
        total = per_epoch * int(getattr(self, "planned_epochs", self.trainer.max_epochs))
        if self.trainer.max_steps > 0:
            total = min(total, self.trainer.max_steps)
        self._planned_steps = total  # the momentum schedule's length (momentum_at)
        sched = cosine_schedule(opt, total, round(c.get("warmup_epochs", 0) * per_epoch))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
