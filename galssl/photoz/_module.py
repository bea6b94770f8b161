# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The photo-z network and its fine-tuning module: cross-entropy over redshift bins."""

import torch

from ..engine import FinetuneModule

__all__ = ["PhotoZNet", "PhotoZModule", "fit_softmax_head", "fit_regression_head"]


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
    et al. 2022): standardize the features with their training mean and standard deviation,
    minimise the mean cross-entropy + ``weight_decay`` times the squared norm of the weights
    (not the biases) by full-batch L-BFGS from zero, and fold the standardisation into the
    weights and biases so that ``head`` takes raw representations. Bins without a training
    label get the probability the fit gives them (small, not zero).

    The problem is convex with a fixed start, so the result is deterministic. Returns the
    final penalised loss.
    """
    from ..engine import lbfgs_minimize, standardize

    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    if x.ndim != 2 or len(x) != len(y) or x.shape[1] != head.in_features:
        raise ValueError(f"need ({len(y)}, {head.in_features}) features, got "
                         f"{tuple(x.shape)}")
    xs, mean, std = standardize(x)
    w = torch.zeros(head.out_features, x.shape[1], requires_grad=True)
    b = torch.zeros(head.out_features, requires_grad=True)
    loss = lbfgs_minimize([w, b], lambda: torch.nn.functional.cross_entropy(xs @ w.T + b, y)
                          + weight_decay * (w * w).sum(), max_iter)
    with torch.no_grad():
        head.weight.copy_(w / std)
        head.bias.copy_(b - (w / std) @ mean)
    return loss


def fit_regression_head(head, features, z, bin_centres, *, alphas=None):
    """Fit the linear layer ``head`` on frozen representations so that it gives what a ridge
    regression of log(1 + z) gives, as a PDF over the bins.

    A ridge regression f(x) = w.x + b of u = log(1 + z) on the standardized features (the
    penalty chosen by leave-one-out cross-validation among ``alphas``, default 13 values on
    [1e-2, 1e4]), and s, the RMS of its leave-one-out residuals. A Gaussian density of mean
    f(x) and width s in u, integrated over bins of equal width in z (width exp(-u_k) in u
    up to a constant), has logits

        -(u_k - f(x))^2 / (2 s^2) - u_k = (u_k / s^2) f(x) - u_k^2 / (2 s^2) - u_k + c(x),

    linear in x: the head gets weights (u_k / s^2) w and biases (u_k / s^2) b - u_k^2 /
    (2 s^2) - u_k, with the standardisation folded in, so that it takes raw
    representations. Its
    PDF mean is the ridge estimate (up to the bin width, and where the Gaussian is cut by
    the edges of the bins). This starts fine-tuning from the linear probe that works with
    few labels, where a softmax regression over 180 bins (`fit_softmax_head`) fits ~1
    galaxy per bin.

    Returns
    -------
    dict
        ``alpha`` (the penalty chosen), ``width`` (s) and ``loo_sigma_mad`` (sigma_MAD of
        the leave-one-out estimates, Delta z / (1 + z)).
    """
    import numpy as np

    from ..engine import standardize
    from .metrics import sigma_mad

    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    z = np.asarray(z, dtype=float)
    if x.ndim != 2 or len(x) != len(z) or x.shape[1] != head.in_features:
        raise ValueError(f"need ({len(z)}, {head.in_features}) features, got "
                         f"{tuple(x.shape)}")
    if len(z) < 3 or not np.isfinite(z).all() or not torch.isfinite(x).all():
        raise ValueError(f"need at least 3 rows of finite features and redshifts, got "
                         f"{len(z)}")
    xs, mean, std = standardize(x)
    xs = xs.double().numpy()
    u = np.log1p(z)
    xc = xs - xs.mean(axis=0)
    uc = u - u.mean()
    gram = xc.T @ xc
    best = None
    for alpha in (np.logspace(-2, 4, 13) if alphas is None else np.asarray(alphas, float)):
        inv = np.linalg.inv(gram + alpha * np.eye(len(gram)))
        w = inv @ (xc.T @ uc)
        hat = np.einsum("ij,jk,ik->i", xc, inv, xc) + 1.0 / len(u)  # with the intercept
        loo = (uc - xc @ w) / (1.0 - hat)
        err = float(np.mean(loo ** 2))
        if best is None or err < best[0]:
            best = (err, float(alpha), w, loo)
    err, alpha, w, loo = best
    b = u.mean() - xs.mean(axis=0) @ w
    width = float(np.sqrt(err))
    uk = np.log1p(np.asarray(bin_centres, dtype=float))
    if len(uk) != head.out_features:
        raise ValueError(f"{len(uk)} bin centres for a head of {head.out_features} bins")
    w_raw = w / std.double().numpy()  # on raw features
    b_raw = b - w_raw @ mean.double().numpy()
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(np.outer(uk / width ** 2, w_raw)))
        # - u_k: the bins are equal in z, so denser in u by (1 + z) = exp(u); without it
        # the PDF mean would lie s^2 above f(x)
        head.bias.copy_(torch.as_tensor(uk / width ** 2 * b_raw - uk ** 2 / (2 * width ** 2)
                                        - uk))
    return {"alpha": alpha, "width": width,
            "loo_sigma_mad": sigma_mad(np.expm1(u - loo), z)}
