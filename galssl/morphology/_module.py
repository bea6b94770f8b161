# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Torch parts of the morphology classifier: the network, the masked soft-label loss, the
fine-tuning LightningModule and the full-batch linear probe."""

import torch

from ..engine import FinetuneModule

__all__ = ["MorphologyHead", "MorphologyNet", "MorphologyModule", "masked_bce",
           "fit_linear_head"]


def masked_bce(logits, targets, *, per_question=False):
    """Binary cross-entropy with soft targets (vote fractions); NaN targets are ignored.

    Parameters
    ----------
    logits, targets : `torch.Tensor`
        (N, Q); targets in [0, 1] or NaN.
    per_question : bool, optional
        False: the mean over all labelled (row, question) entries. True: the sum over
        questions of each question's mean over its labelled rows (questions without a
        label contribute 0), which makes the questions independent problems.

    Returns
    -------
    `torch.Tensor`
        A scalar; 0 (with zero gradients) when nothing is labelled.
    """
    mask = torch.isfinite(targets)
    y = torch.where(mask, targets, torch.zeros_like(targets)).to(logits.dtype)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    loss = torch.where(mask, loss, torch.zeros_like(loss))
    if per_question:
        n = mask.sum(dim=0)
        return (loss.sum(dim=0) / n.clamp(min=1)).sum()
    return loss.sum() / mask.sum().clamp(min=1)


class MorphologyHead(torch.nn.Module):
    """Standardise the representation (fixed ``mean``/``std`` buffers; 0 and 1 unless a
    linear probe set them) and map it to one logit per question."""

    def __init__(self, num_features, n_questions):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))
        self.linear = torch.nn.Linear(num_features, int(n_questions))

    def forward(self, features):
        return self.linear((features - self.mean) / self.std)


class MorphologyNet(torch.nn.Module):
    """Backbone and `MorphologyHead`: ``forward`` gives (logits, features)."""

    def __init__(self, backbone, n_questions):
        super().__init__()
        self.backbone = backbone
        self.head = MorphologyHead(backbone.num_features, n_questions)

    def forward(self, x):
        features = self.backbone(x)
        return self.head(features), features


def fit_linear_head(head, features, targets, *, weight_decay=1e-3, max_iter=500):
    """Fit ``head`` on frozen representations: standardize them with the training mean and
    standard deviation, then, for each question separately, minimise the mean binary
    cross-entropy over its labelled rows (NaN targets are left out) + ``weight_decay``
    times the squared norm of its weights (not the bias), by full-batch L-BFGS from zero.

    Each problem is convex with a fixed start, so the result is deterministic, and a
    question's fit does not depend on the others. Returns the summed final loss.
    """
    from ..engine import lbfgs_minimize, standardize

    xs, mean, std = standardize(features)
    y = torch.as_tensor(targets, dtype=torch.float32)
    head.mean.copy_(mean)
    head.std.copy_(std)
    total = 0.0
    for k in range(y.shape[1]):
        rows = torch.isfinite(y[:, k])
        xk, yk = xs[rows], y[rows, k]
        w = torch.zeros(xs.shape[1], requires_grad=True)
        b = torch.zeros((), requires_grad=True)

        def objective(xk=xk, yk=yk, w=w, b=b):
            return torch.nn.functional.binary_cross_entropy_with_logits(xk @ w + b, yk) \
                + weight_decay * (w * w).sum()

        if len(yk):
            total += lbfgs_minimize([w, b], objective, max_iter)
        with torch.no_grad():
            head.linear.weight[k].copy_(w)
            head.linear.bias[k].copy_(b)
    return total


class MorphologyModule(FinetuneModule):
    """Fine-tuning on `masked_bce` (mean over labelled entries), see `FinetuneModule`."""

    stream = 13

    def loss(self, logits, targets):
        return masked_bce(logits, targets.float())
