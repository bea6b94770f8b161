# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""MoCo v2 building blocks as modules and pure tensor functions (Chen et al. 2020)."""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ProjectionHead", "MoCoQueue", "info_nce", "decorrelation_loss", "momentum_update",
           "default_queue_size", "check_queue_size"]


class ProjectionHead(nn.Module):
    """The MoCo v2 projection head: Linear - ReLU - Linear, to ``out_dim`` (128).

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import ProjectionHead
    >>> ProjectionHead(512)(torch.zeros(4, 512)).shape
    torch.Size([4, 128])
    """

    def __init__(self, in_dim, hidden_dim=None, out_dim=128):
        super().__init__()
        hidden_dim = in_dim if hidden_dim is None else hidden_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dim, out_dim))
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim

    def forward(self, x):
        return self.net(x)


@torch.no_grad()
def momentum_update(online, target, momentum=0.999):
    """theta_k <- m theta_k + (1 - m) theta_q for every parameter of ``target``.

    Buffers (batch-norm statistics) are not averaged: the momentum encoder keeps its own,
    as in MoCo.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import momentum_update
    >>> q, k = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    >>> with torch.no_grad():
    ...     _ = q.weight.fill_(1.0), k.weight.fill_(0.0)
    >>> momentum_update(q, k, 0.9)
    >>> round(k.weight.item(), 6)
    0.1
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    q_params = list(online.parameters())
    k_params = list(target.parameters())
    if len(q_params) != len(k_params):
        raise ValueError("online and target networks must have the same parameters")
    torch._foreach_mul_(k_params, momentum)
    torch._foreach_add_(k_params, q_params, alpha=1.0 - momentum)


def info_nce(query, key, queue, temperature=0.1):
    """The InfoNCE loss of MoCo: cross-entropy of the positive among the queue's negatives.

    logits = [q . k, q . queue^T] / temperature, with q, k and the queue L2-normalised;
    the positive is class 0.

    Parameters
    ----------
    query, key : tensor
        (B, D) projections of the two views (normalised here).
    queue : tensor
        (K, D) negatives (normalised keys of earlier batches).
    temperature : float
        Softmax temperature tau (0.1 in MoCo v2).

    Returns
    -------
    loss : tensor
        Mean over the batch.
    logits : tensor
        (B, 1 + K), for accuracy monitoring.
    """
    q = F.normalize(query, dim=1)
    k = F.normalize(key, dim=1)
    pos = (q * k).sum(dim=1, keepdim=True)
    neg = q @ queue.T.to(q.dtype)
    logits = torch.cat([pos, neg], dim=1) / temperature
    labels = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels), logits


def decorrelation_loss(features, eps=1e-12):
    """Redundancy between the dimensions of a batch of representations: the sum of the
    squared off-diagonal correlation coefficients, divided by the dimension D.

    0 when every pair of dimensions is uncorrelated over the batch, D - 1 when all
    dimensions move together (a representation collapsed onto one direction); with B < D
    samples it cannot fall below about D / (B - 1) - 1. Independent of each dimension's
    scale. Added to InfoNCE (``ContrastiveEncoder(decorrelation=...)``), it spreads the
    representations over more dimensions, against the dimensional collapse of contrastive
    learning (the redundancy-reduction term of Barlow Twins, Zbontar et al. 2021, on the
    correlations within one view's batch).

    Parameters
    ----------
    features : tensor
        (B, D) representations, B >= 2.
    eps : float
        Smallest variance of a dimension: one with less (e.g. a constant dimension, a
        ReLU that never fires) counts as uncorrelated with the others.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import decorrelation_loss
    >>> x = torch.randn(4096, 8, generator=torch.Generator().manual_seed(0))
    >>> round(decorrelation_loss(x).item(), 2)      # independent: ~ (D - 1) / B
    0.0
    >>> round(decorrelation_loss(x[:, :1].expand(-1, 8) * torch.arange(1., 9.)).item(), 3)
    7.0
    """
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must have shape (B >= 2, D), got {tuple(features.shape)}")
    x = features.float()
    x = x - x.mean(dim=0)
    cov = x.T @ x / (len(x) - 1)
    std = torch.sqrt(torch.diagonal(cov).clamp_min(eps))
    corr = cov / (std[:, None] * std[None, :])
    off = corr.square().sum() - torch.diagonal(corr).square().sum()
    return off / x.shape[1]


class MoCoQueue(nn.Module):
    """A first-in first-out queue of ``size`` normalised keys of dimension ``dim``.

    The queue and its pointer are buffers, so they are saved and restored with the model.

    Examples
    --------
    >>> import torch
    >>> from galssl.nn import MoCoQueue
    >>> q = MoCoQueue(dim=8, size=5)
    >>> q.enqueue(torch.ones(3, 8)); q.enqueue(torch.ones(3, 8))
    >>> int(q.ptr)     # wrapped around
    1
    """

    def __init__(self, dim=128, size=4096, *, seed=0):
        super().__init__()
        if size < 1:
            raise ValueError(f"queue size must be positive, got {size}")
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("queue", F.normalize(torch.randn(size, dim, generator=g), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @property
    def size(self):
        return self.queue.shape[0]

    @torch.no_grad()
    def enqueue(self, keys):
        """Replace the oldest entries by ``keys`` (normalised here), wrapping around."""
        keys = F.normalize(keys.detach().to(self.queue.dtype), dim=1)
        n = keys.shape[0]
        if n > self.size:
            raise ValueError(f"cannot enqueue {n} keys into a queue of {self.size}")
        # positions computed on the queue's device: no host synchronisation on a GPU
        idx = (self.ptr + torch.arange(n, device=self.ptr.device)) % self.size
        self.queue.index_copy_(0, idx, keys)
        self.ptr.copy_((self.ptr + n) % self.size)


def default_queue_size(n_train, global_batch, fraction=0.05):
    """Queue size by the seed paper's rule: ~5 % of the training set, a multiple of the
    global batch (at least one batch).

    Raises
    ------
    ValueError
        If the training set is not larger than the resulting queue: negatives would then
        include the positive's own earlier keys.

    Examples
    --------
    >>> from galssl.nn import default_queue_size
    >>> default_queue_size(1_300_000, 256)
    65024
    >>> default_queue_size(2000, 64)
    128
    """
    if global_batch < 1 or n_train < 1:
        raise ValueError("n_train and global_batch must be positive")
    k = max(1, round(fraction * n_train / global_batch)) * global_batch
    check_queue_size(k, n_train)
    return k


def check_queue_size(queue_size, n_train):
    """Raise a ValueError when the queue is as large as the training set (or larger)."""
    if queue_size >= n_train:
        raise ValueError(f"a queue of {queue_size} negatives is as large as the training set "
                         f"({n_train} images): each image would be its own negative; use a "
                         "smaller queue_size or more data")
