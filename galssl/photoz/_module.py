# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The photo-z network and its fine-tuning module: cross-entropy over redshift bins."""

import torch

from ..ssl._finetune import FinetuneModule

__all__ = ["PhotoZNet", "PhotoZModule", "fit_softmax_head"]


class PhotoZNet(torch.nn.Module):
    """Backbone and linear classification head: ``forward`` gives (logits, features)."""

    def __init__(self, backbone, n_bins):
        super().__init__()
        self.backbone = backbone
        self.head = torch.nn.Linear(backbone.num_features, int(n_bins))

    def forward(self, x):
        features = self.backbone(x)
        return self.head(features), features


class PhotoZModule(FinetuneModule):
    """Cross-entropy on the bin of each spectroscopic redshift (`FinetuneModule`)."""

    stream = 11

    def loss(self, logits, labels):
        return torch.nn.functional.cross_entropy(logits, labels)


def fit_softmax_head(head, features, labels, *, weight_decay=1e-3, max_iter=300):
    """Fit the linear layer ``head`` on frozen representations as a multinomial logistic
    regression over the bins (the head initialisation of linear-probe-then-fine-tune, Kumar
    et al. 2022): standardise the features with their training mean and standard deviation,
    minimise the mean cross-entropy + ``weight_decay`` times the squared norm of the weights
    (not the biases) by full-batch L-BFGS from zero, and fold the standardisation into the
    weights and biases so that ``head`` takes raw representations. Bins without a training
    label get the probability the fit gives them (small, not zero).

    The problem is convex with a fixed start, so the result is deterministic. Returns the
    final penalised loss.
    """
    from ..ssl._finetune import lbfgs_minimise, standardise

    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    if x.ndim != 2 or len(x) != len(y) or x.shape[1] != head.in_features:
        raise ValueError(f"need ({len(y)}, {head.in_features}) features, got "
                         f"{tuple(x.shape)}")
    xs, mean, std = standardise(x)
    w = torch.zeros(head.out_features, x.shape[1], requires_grad=True)
    b = torch.zeros(head.out_features, requires_grad=True)
    loss = lbfgs_minimise([w, b], lambda: torch.nn.functional.cross_entropy(xs @ w.T + b, y)
                          + weight_decay * (w * w).sum(), max_iter)
    with torch.no_grad():
        head.weight.copy_(w / std)
        head.bias.copy_(b - (w / std) @ mean)
    return loss
