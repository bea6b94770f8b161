# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Supervised fine-tuning of an encoder with a head, shared by the photo-z and morphology
models: data sharding, the fine-tuning augmentations, parameter groups, the step schedule,
checkpoint RNG state, and running it on the Lightning engine."""

import lightning as L
import torch

from ..augment import eval_transform, finetune_transform
from ._data import CutoutDataset, collate_batch, data_fingerprint
from ._runner import RunStateHooks, run_trainer, step_schedule
from ._runner import seed_from

__all__ = ["FinetuneModule", "run_finetune", "refresh_batchnorm", "standardize",
           "lbfgs_minimize", "KeepBest", "freeze_batchnorm"]


class FinetuneModule(RunStateHooks, L.LightningModule):
    """A ``net`` returning (outputs, features), trained on ``loss(outputs, labels)`` with the
    fine-tuning augmentations (deredden, rotation, jitter-crop) drawn per step from the
    run's seed; parameter groups for the backbone and the head (``net.backbone`` and
    ``net.head``), each ×0.1 at the epochs of ``milestones``, after a linear warm-up over
    the first ``warmup_steps`` optimiser steps when the config has one. Subclasses define
    `loss`."""

    #: Distinguishes the augmentation streams of different subclasses.
    stream = 0

    def __init__(self, net, config, data=None):
        super().__init__()
        self.net = net
        self.config = dict(config)
        c = self.config
        self.transform = finetune_transform(bands=c["bands"], out=c["crop"], jitter=c["jitter"])
        self.eval_view = eval_transform(bands=c["bands"], out=c["crop"])
        self._data = data  # (images, ebv, rows, labels)
        self.loss_history = []

    def loss(self, outputs, labels):
        raise NotImplementedError

    def _rank_batches(self):
        """``(batch size, batches per epoch)`` of one rank: the one arithmetic that
        `train_dataloader` and a step-wise schedule share."""
        world = self.trainer.world_size
        batch = max(1, self.config["batch_size"] // world)
        per_rank = -(-len(self._data[2]) // world)  # DistributedSampler without drop_last
        return batch, -(-per_rank // batch)

    def train_dataloader(self):
        images, ebv, rows, labels = self._data
        c = self.config
        world, rank = self.trainer.world_size, self.trainer.global_rank
        sampler = torch.utils.data.DistributedSampler(
            range(len(rows)), num_replicas=world, rank=rank, shuffle=True, seed=c["seed"],
            drop_last=False)
        batch_sampler = torch.utils.data.BatchSampler(
            sampler, self._rank_batches()[0], drop_last=False)
        return torch.utils.data.DataLoader(
            CutoutDataset(images, ebv, rows, labels=labels), batch_sampler=batch_sampler,
            collate_fn=collate_batch, num_workers=c["num_workers"],
            persistent_workers=c["num_workers"] > 0, pin_memory=self.device.type == "cuda")

    def on_train_batch_start(self, batch, batch_idx):
        # Lightning puts the whole module in training mode at the start of fitting
        if self.config.get("freeze_batchnorm"):
            freeze_batchnorm(self.net.backbone)

    def training_step(self, batch, batch_idx):
        x, ebv, y = batch
        c = self.config
        if c["augment"]:
            g = torch.Generator().manual_seed(seed_from(c["seed"], self.global_step,
                                                        self.global_rank, self.stream))
            x = self.transform(x, ebv=ebv, generator=g)
        else:
            x = self.eval_view(x, ebv=ebv)
        outputs, _ = self.net(x)
        loss = self.loss(outputs.float(), y)
        self.loss_history.append(loss.detach())
        sync = self.trainer.world_size > 1
        self.log("train_loss", loss, prog_bar=True, sync_dist=sync, batch_size=len(y))
        return loss

    def configure_optimizers(self):
        c = self.config
        groups = [{"params": self.net.backbone.parameters(), "lr": c["lr_backbone"]},
                  {"params": self.net.head.parameters(), "lr": c["lr_head"]}]
        if c["optimizer"] == "sgd":
            opt = torch.optim.SGD(groups, lr=c["lr_head"], momentum=0.9,
                                  weight_decay=c["weight_decay"])
        else:
            opt = torch.optim.AdamW(groups, lr=c["lr_head"], weight_decay=c["weight_decay"])
        # milestones of the run's planned epochs (run_trainer sets planned_epochs), rebuilt
        # on resume (step_schedule)
        epochs = max(1, int(getattr(self, "planned_epochs", self.trainer.max_epochs)))
        milestones = sorted({max(1, round(f * epochs)) for f in c["milestones"]})
        warm = int(c.get("warmup_steps", 0))
        if not warm:
            sched = step_schedule(opt, milestones, gamma=0.1)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        # a warm-up: the same milestones, stepped every optimiser step (the batches of one
        # rank in an epoch, as train_dataloader makes them)
        sched = step_schedule(opt, milestones, gamma=0.1, steps_per_epoch=self._rank_batches()[1],
                              warmup_steps=warm)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def freeze_batchnorm(module):
    """Put every batch-norm layer of ``module`` in evaluation mode: it normalises with its
    stored statistics and no longer updates them (its scale and offset still learn)."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


class KeepBest(L.Callback):
    """Early stopping by model selection: ``score(net)`` (lower is better, e.g. sigma_MAD on
    held-out labelled rows) before the first optimiser step, every ``every_n_steps`` steps
    and after the last; the weights of the best score are kept (the earliest of equal
    scores) and put back into the network when the run ends.

    ``net`` is scored in evaluation mode and then returned to the modes it had. The
    history (``steps``, ``scores``) and the best weights are saved in the training
    checkpoints, so that a run resumed over sittings scores and selects as an
    uninterrupted one. With ``keep=False`` it only records the scores (a learning curve;
    ``name`` then tells it apart from the one that keeps weights in the checkpoints)."""

    def __init__(self, score, every_n_steps, *, keep=True, name="KeepBest"):
        from ..utils._validate import check_positive_int

        self.score = score
        self.every = check_positive_int(every_n_steps, "every_n_steps")
        self.keep, self.name = bool(keep), str(name)
        self.steps, self.scores = [], []
        self.best_step, self.best_state = None, None

    @property
    def state_key(self):
        return self.name

    @property
    def best(self):
        """The best score so far (inf before any)."""
        if self.best_step is None:
            return float("inf")
        return self.scores[self.steps.index(self.best_step)]

    def score_now(self, net):
        """``score(net)`` in evaluation mode, the modes of ``net`` restored."""
        modes = [(m, m.training) for m in net.modules()]
        net.eval()
        try:
            with torch.no_grad():
                return float(self.score(net))
        finally:
            for m, mode in modes:
                m.train(mode)

    def evaluate(self, net, step):
        if self.steps and self.steps[-1] == step:
            return
        value = self.score_now(net)
        self.steps.append(int(step))
        self.scores.append(value)
        if value < self.best:  # NaN never wins
            self.best_step = int(step)
            if self.keep:
                self.best_state = {k: v.detach().cpu().clone()
                                   for k, v in net.state_dict().items()}

    def on_train_start(self, trainer, pl_module):
        if pl_module.global_step == 0:
            self.evaluate(pl_module.net, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.global_step % self.every == 0:
            self.evaluate(pl_module.net, pl_module.global_step)

    def on_train_end(self, trainer, pl_module):
        # the last step of the planned run only: a sitting that stops early scores no extra
        # point, so that a resumed run selects among the same steps
        planned = getattr(pl_module, "planned_epochs", trainer.max_epochs)
        last = trainer.max_epochs >= planned or \
            (trainer.max_steps > 0 and pl_module.global_step >= trainer.max_steps)
        if last:
            self.evaluate(pl_module.net, pl_module.global_step)

    def state_dict(self):
        return {"steps": list(self.steps), "scores": list(self.scores),
                "best_step": self.best_step, "best_state": self.best_state}

    def load_state_dict(self, state_dict):
        self.steps = [int(s) for s in state_dict["steps"]]
        self.scores = [float(s) for s in state_dict["scores"]]
        self.best_step = state_dict["best_step"]
        self.best_state = state_dict["best_state"]


def run_finetune(module_cls, net, config, data, *, keep_best=None, **engine):
    """Train ``net`` (put in training mode: a backbone copied after ``encode`` would still be
    in eval mode; with ``config["freeze_batchnorm"]`` its batch-norm layers stay in
    evaluation mode) with ``module_cls`` on the Lightning engine; with ``keep_best`` (a
    `KeepBest`) put back the weights of its best score. Then set the batch-norm statistics
    with `refresh_batchnorm` (unless ``config["robust_bn"]`` is False or batch norm is
    frozen); returns the trained net (on the CPU) and ``history`` (per-step losses, the last
    logged metrics and, with ``keep_best``, ``val_steps``, ``val_scores`` and
    ``best_step``).

    The selection scores are measured with the batch-norm statistics the network has at
    that step (the running averages, or the frozen ones); the refresh that follows changes
    the chosen network's statistics, so its score after the refresh is measured once more
    and kept as ``val_score_final``."""
    images, ebv, rows, labels = data
    config = dict(config, data=data_fingerprint(images, ebv, rows, labels))
    net.train()
    module = module_cls(net, config, data=data)
    if keep_best is not None:
        engine["callbacks"] = list(engine.get("callbacks") or []) + [keep_best]
    trainer = run_trainer(module, **engine)
    module._data = None
    history = {"loss": [float(v) for v in module.loss_history],
               **{k: float(v) for k, v in trainer.callback_metrics.items()}}
    net = module.net.cpu()
    if keep_best is not None:
        history.update(val_steps=list(keep_best.steps), val_scores=list(keep_best.scores),
                       best_step=keep_best.best_step)
        if keep_best.best_state is not None:
            net.load_state_dict(keep_best.best_state)
    if config.get("robust_bn", True) and not config.get("freeze_batchnorm"):
        refresh_batchnorm(net, images, ebv, rows, config, seed=config["seed"])
    if keep_best is not None:
        history["val_score_final"] = keep_best.score_now(net)
    return net, history


def refresh_batchnorm(net, images, ebv, rows, config, *, n_batches=32, batch_size=None,
                      seed=0):
    """Batch-norm statistics of ``net`` from up to ``n_batches`` training batches (random
    rows, the fine-tuning augmentations), as the median over batches of what each layer
    normalises with in training (`galssl.nn.robust_batchnorm_statistics`)."""
    import numpy as np

    from ..nn import robust_batchnorm_statistics

    bs = int(batch_size or config["batch_size"])
    rows = np.asarray(rows)
    rng = np.random.default_rng(seed_from(seed, 17))
    order = rng.permutation(rows)
    transform = finetune_transform(bands=config["bands"], out=config["crop"],
                                   jitter=config["jitter"])
    dataset = CutoutDataset(images, ebv, order)
    device = next(net.parameters()).device

    def batches():
        for i, s in enumerate(range(0, len(order) - bs + 1 if len(order) >= bs else 1, bs)):
            if i >= n_batches:
                return
            x, e = dataset._fetch(np.arange(s, min(s + bs, len(order))))
            g = torch.Generator().manual_seed(seed_from(seed, i, 19))
            yield transform(x.to(device), ebv=e.to(device), generator=g)

    return robust_batchnorm_statistics(net, batches())


def standardize(features):
    """``(x - mean) / std``, ``mean`` and ``std`` of float32 ``features`` over the rows (a
    constant feature keeps std 1), for the linear heads fitted on frozen representations."""
    x = torch.as_tensor(features, dtype=torch.float32)
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-6 * std.max().clamp(min=1e-30), std, torch.ones_like(std))
    return (x - mean) / std, mean, std


def lbfgs_minimize(params, objective, max_iter):
    """Minimise ``objective()`` over the tensors ``params`` by full-batch L-BFGS (strong
    Wolfe line search) from their current values; returns the final objective."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=int(max_iter), history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
        return float(closure().detach())
