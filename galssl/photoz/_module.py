# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The photo-z network and its fine-tuning module: cross-entropy over redshift bins."""

import torch

from ..ssl._finetune import FinetuneModule

__all__ = ["PhotoZNet", "PhotoZModule"]


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
