# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""PhotoZEstimator: redshift PDFs over 180 bins from multi-band cutouts."""

import enum
import warnings

import numpy as np
import torch
from astropy.utils.exceptions import AstropyUserWarning

from ..engine import (ImageModel, KeepBest, as_image_source, check_checkpoint,
                      check_predict_input, devices_alias, load_strict, resume_checkpoint,
                      run_finetune, training_rows)
from ..nn import create_backbone
from ..ssl import backbone_for_head
from ..utils._checkpoint import CheckpointError
from ..utils._bitflags import NamedBits
from ..utils._tables import set_display_formats
from ..utils._validate import as_float_values, check_number, check_positive_int
from ..utils._checkpoint import describe_value as _describe
from ..surveys import band_label, parse_bands
from ._module import PhotoZModule, PhotoZNet
from ._pdf import PITCalibration, redshift_bins, redshift_labels, summarize_pdfs

__all__ = ["PhotoZEstimator", "PhotoZFlag", "CHECKPOINT_FORMAT"]

#: Version of the plain-dict checkpoint written by `PhotoZEstimator.save`.
CHECKPOINT_FORMAT = 1

OUTPUT_COLUMNS = ("z_phot", "z_phot_err", "z_mode", "odds", "z_pdf", "ood_distance",
                  "photoz_flag", "photoz_flag_names")

#: Description of each output column of `PhotoZEstimator.predict` (kept in the table).
COLUMN_DESCRIPTIONS = {
    "z_phot": "photometric redshift: mean of the PDF over bin centres",
    "z_phot_err": "standard deviation of the PDF (uniform within bins)",
    "z_mode": "centre of the most probable redshift bin",
    "odds": "probability within z_phot +- 0.05 (1 + z_phot)",
    "z_pdf": "probability of each redshift bin (sums to 1; divide by the bin width for a "
             "density); bin edges in meta['z_bin_edges']",
    "ood_distance": "mean cosine distance of the representation to its nearest training "
                    "representations",
    "photoz_flag": "bits of galssl.photoz.PhotoZFlag (0: no warning)",
    "photoz_flag_names": "names of the photoz_flag bits set, joined by '|'",
}


class PhotoZFlag(NamedBits, enum.IntFlag):
    """Bits of the ``photoz_flag`` column of `PhotoZEstimator.predict`.

    Examples
    --------
    >>> from galssl.photoz import PhotoZFlag
    >>> PhotoZFlag.describe(5)
    ['OUT_OF_DISTRIBUTION', 'CUTOUT']
    >>> PhotoZFlag.names_column([0, 6]).tolist()
    ['', 'BROAD_PDF|CUTOUT']
    """

    #: The representation is farther from the training set's than the threshold: the mean
    #: cosine distance to its ``ood_k`` nearest training representations exceeds the
    #: ``ood_quantile`` (99 %) quantile of the same distance among training objects.
    OUT_OF_DISTRIBUTION = 1
    #: The PDF is broad: its standard deviation ``z_phot_err`` exceeds ``max_err``.
    BROAD_PDF = 2
    #: The cutout has an image defect (`galssl.cutouts.IMAGE_DEFECTS` bits of ``flags``) or
    #: lies behind E(B-V) > 0.5 (``CutoutFlag.HIGH_EXTINCTION``: its dereddened fluxes are
    #: unreliable).
    CUTOUT = 4
    #: No image data at all: z_phot and the PDF are NaN.
    NO_DATA = 8


def knn_distance(feats, reference, k, exclude_self=False):
    """Mean cosine distance of each row of ``feats`` to its ``k`` nearest rows of the
    unit-norm ``reference`` (leaving out row i of the reference for row i with
    ``exclude_self``), in blocks of 4096 rows."""
    ref = reference.float()
    feats = torch.as_tensor(feats)
    out = np.empty(len(feats))
    for s in range(0, len(feats), 4096):
        f = torch.nn.functional.normalize(feats[s:s + 4096].float(), dim=1)
        sim = f @ ref.T
        if exclude_self:
            sim[torch.arange(len(f)), torch.arange(s, s + len(f))] = -np.inf
        top = sim.topk(min(k, ref.shape[0] - exclude_self), dim=1).values
        out[s:s + len(f)] = (1 - top).mean(dim=1).numpy()
    return out


class PhotoZStep:
    """The inference step of `PhotoZEstimator` (`galssl.ssl.run_inference`): bin
    probabilities, the out-of-distribution distance to ``reference`` (when there is one)
    and, with ``features``, the representations of a batch."""

    def __init__(self, reference, k, features=False):
        self.reference, self.k, self.features = reference, int(k), bool(features)

    def __call__(self, net, x):
        logits, f = net(x)
        f = f.float().cpu()
        out = {"pdf": torch.softmax(logits.float(), dim=1).cpu().numpy()}
        if self.reference is not None:
            out["distance"] = knn_distance(f, self.reference, self.k)
        if self.features:
            out["features"] = f.numpy()
        return out


class PhotoZScore:
    """sigma_MAD of a photo-z network's point estimates (the uncalibrated PDF means) on
    held-out labelled images, the score of early stopping (`galssl.engine._finetune.KeepBest`).
    The evaluation views (dereddened, centre-cropped) are made once and kept in memory."""

    def __init__(self, images, ebv, rows, z, config, batch_size=256):
        from ..augment import eval_transform
        from ..engine import read_batch

        view = eval_transform(bands=config["bands"], out=config["crop"])
        parts = []
        for s in range(0, len(rows), batch_size):
            x, e, _, _ = read_batch(images, ebv, rows[s:s + batch_size])
            parts.append(view(x, ebv=e))
        self.views = torch.cat(parts)
        self.z = np.asarray(z, dtype=float)
        self.centres = torch.as_tensor(
            redshift_bins(config["z_min"], config["z_max"], config["n_bins"])[1],
            dtype=torch.float32)
        self.batch_size = int(batch_size)

    def __call__(self, net):
        from .metrics import sigma_mad

        dev = next(net.parameters()).device
        zp = []
        for s in range(0, len(self.views), self.batch_size):
            logits, _ = net(self.views[s:s + self.batch_size].to(dev))
            zp.append(torch.softmax(logits.float(), dim=1).cpu() @ self.centres)
        return sigma_mad(torch.cat(zp).numpy(), self.z)


class PhotoZEstimator(ImageModel):
    """Photometric redshifts as PDFs over redshift bins, from multi-band galaxy cutouts.

    A classifier over ``n_bins`` equal bins on [z_min, z_max] (Pasquet et al. 2019; Hayat
    et al. 2021): the network outputs a probability per bin, and the point estimate is the
    PDF's mean over the bin **centres** (Pasquet et al. used the left edges, which biases
    z_phot low by half a bin, 0.0011 at the default binning).

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder`, optional
        A pretrained encoder to fine-tune (its architecture, bands and crop are used). None:
        a network of architecture ``arch`` trained from scratch (the supervised baseline).
    arch, in_chans, bands : optional
        Architecture and bands when there is no encoder.
    z_min, z_max, n_bins : optional
        The redshift bins (default 180 bins on [0, 0.4]).
    crop, jitter : int, optional
        Input size (centre crop of the cutouts) and the fine-tuning jitter in pixels.
    lr_backbone, lr_head : float, optional
        Learning rates of the encoder and of the head: 1e-4 and 1e-3 when fine-tuning; from
        scratch the encoder uses ``lr_head`` as well (default ``lr_backbone=None``).
    milestones : tuple of float, optional
        Fractions of the epochs after which both rates are multiplied by 0.1 (60 % and 90 %).
    optimizer : {"adamw", "sgd"}, optional
        AdamW (default) or SGD with momentum 0.9.
    weight_decay : float, optional
    max_err : float, optional
        ``BROAD_PDF`` is set where ``z_phot_err`` exceeds this.
    ood_k, ood_quantile : optional
        The out-of-distribution test (see `PhotoZFlag`).
    input_stretch : {"asinh", "asinh-noise", None}, optional
        Input scaling when there is no encoder (with one, the encoder's is used): the fixed
        per-band asinh stretch of `galssl.nn.AsinhStretch` (default) or raw nanomaggies.
    head_init : {"random", "probe", "regression"}, optional
        How a fine-tuning starts its new head: drawn at random (default); ``"regression"``:
        fitted first on the frozen representations of the training images as a ridge
        regression of log(1 + z) expressed as Gaussian PDFs over the bins
        (`galssl.photoz.fit_regression_head`), so that fine-tuning starts from the linear
        probe's estimates; or ``"probe"``:
        fitted first on the frozen representations of the training images as a
        multinomial logistic regression over the bins with L2 penalty
        ``head_weight_decay`` (`galssl.photoz.fit_softmax_head`), then fine-tuned with the
        backbone ("linear probe, then fine-tune", Kumar et al. 2022: the backbone's first
        steps then follow a useful head instead of a random one). Without an encoder the
        head is always random.
    head_weight_decay : float, optional
        The L2 penalty of the ``"probe"`` head fit (on standardized representations).
    freeze_batchnorm : bool, optional
        Keep the backbone's batch-norm layers in evaluation mode while training: they
        normalise with the statistics they came with (the encoder's, when fine-tuning) and
        do not update them; their scale and offset still learn. With few labels this keeps
        the features the encoder learnt, and the ones a ``"probe"`` head was fitted to,
        from shifting with each small batch. Default False (batch statistics, refreshed
        after training as ``robust_bn`` says).
    warmup_steps : int, optional
        Raise both learning rates linearly over the first ``warmup_steps`` optimiser steps
        (default 0: none). Adam's first steps move every weight by about the rate whatever
        the gradient; a warm-up keeps them from undoing a pretrained backbone and a fitted
        head at once.

    Examples
    --------
    >>> from galssl import PhotoZEstimator
    >>> pz = PhotoZEstimator(arch="resnet10-small")
    >>> pz
    <PhotoZEstimator arch='resnet10-small' bands=ugriz 180 bins on [0, 0.4] untrained>
    """

    #: The columns `predict` adds to the input's.
    output_columns = OUTPUT_COLUMNS

    def __init__(self, encoder=None, *, arch="resnet10-small", in_chans=5, bands="ugriz",
                 z_min=0.0, z_max=0.4, n_bins=180, crop=64, jitter=7, lr_backbone=None,
                 lr_head=1e-3, milestones=(0.6, 0.9), optimizer="adamw", weight_decay=1e-4,
                 max_err=0.05, ood_k=5, ood_quantile=0.99, input_stretch="asinh",
                 head_init="random", head_weight_decay=1e-3, freeze_batchnorm=False,
                 warmup_steps=0):
        redshift_bins(z_min, z_max, n_bins)  # validates
        warmup_steps = check_positive_int(warmup_steps, "warmup_steps", minimum=0)
        # every number checked here, before any work (not in numpy after training)
        lr_head = check_number(lr_head, "lr_head", low=0)  # 0: a frozen head
        if lr_backbone is not None:
            lr_backbone = check_number(lr_backbone, "lr_backbone", low=0)
        weight_decay = check_number(weight_decay, "weight_decay", low=0)
        head_weight_decay = check_number(head_weight_decay, "head_weight_decay", low=0)
        max_err = check_number(max_err, "max_err", low=0, low_open=True)
        ood_k = check_positive_int(ood_k, "ood_k")
        ood_quantile = check_number(ood_quantile, "ood_quantile", low=0, high=1,
                                    low_open=True, high_open=True)
        jitter = check_positive_int(jitter, "jitter", minimum=0)
        crop = check_positive_int(crop, "crop")
        milestones = [check_number(m, "milestones", low=0, high=1) for m in milestones]
        if head_init not in ("random", "probe", "regression"):
            raise ValueError(f"head_init must be 'random', 'probe' or 'regression', got "
                             f"{head_init!r}")
        if optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}")
        arch, in_chans, bands, crop, input_stretch, backbone = backbone_for_head(
            encoder, arch=arch, in_chans=in_chans, bands=bands, crop=crop,
            input_stretch=input_stretch)
        finetune = encoder is not None
        self.config = dict(
            arch=arch, in_chans=int(in_chans), bands=band_label(bands), z_min=float(z_min),
            z_max=float(z_max), n_bins=int(n_bins), crop=int(crop), jitter=int(jitter),
            lr_backbone=float(lr_backbone if lr_backbone is not None else
                              (1e-4 if finetune else lr_head)),
            lr_head=float(lr_head), milestones=[float(m) for m in milestones],
            optimizer=optimizer, weight_decay=float(weight_decay), max_err=float(max_err),
            ood_k=int(ood_k), ood_quantile=float(ood_quantile), pretrained_encoder=finetune,
            input_stretch=input_stretch, head_init=head_init,
            head_weight_decay=float(head_weight_decay), freeze_batchnorm=bool(freeze_batchnorm),
            warmup_steps=warmup_steps)
        self.net = PhotoZNet(backbone, n_bins)
        self.calibration = PITCalibration()
        self.reference = None  # (M, D) unit-norm training representations
        self.ood_threshold = None
        self.history = None
        self.card = {}
        self._from_encoder = finetune
        self._trained = False
        self._head_fit = None

    # ------------------------------------------------------------------ properties
    @property
    def bands(self):
        """Band of each input channel."""
        return parse_bands(self.config["bands"])

    @property
    def bin_edges(self):
        """Edges of the redshift bins."""
        c = self.config
        return redshift_bins(c["z_min"], c["z_max"], c["n_bins"])[0]

    @property
    def bin_centers(self):
        """Centers of the redshift bins (where z_phot = E(z) is evaluated)."""
        c = self.config
        return redshift_bins(c["z_min"], c["z_max"], c["n_bins"])[1]

    @property
    def bin_centres(self):
        """Deprecated spelling of `bin_centers` (warns; removed in galssl 0.3)."""
        from astropy.utils.exceptions import AstropyDeprecationWarning

        warnings.warn("PhotoZEstimator.bin_centres is deprecated: use bin_centers",
                      AstropyDeprecationWarning, stacklevel=2)
        return self.bin_centers

    def __repr__(self):
        c = self.config
        return (f"<PhotoZEstimator arch={c['arch']!r} bands={c['bands']} {c['n_bins']} bins "
                f"on [{c['z_min']:g}, {c['z_max']:g}] "
                f"{'trained' if self._trained else 'untrained'}>")

    # ------------------------------------------------------------------ labels
    def _labels(self, catalog, redshift):
        """Redshift of every row and the mask of usable ones, with the documented checks."""
        from ..cutouts import CutoutCatalog

        if isinstance(redshift, str):
            if not isinstance(catalog, CutoutCatalog):
                raise TypeError("with images as an array, pass the redshifts as an array "
                                "(redshift=...)")
            if redshift not in catalog.table.colnames:
                raise KeyError(f"the catalogue has no redshift column {redshift!r}; its "
                               f"columns are {catalog.table.colnames}")
            z = as_float_values(catalog.table[redshift], f"the column {redshift!r}",
                                what="redshifts (numbers)")
        else:
            z = as_float_values(redshift, "redshift", what="redshifts (numbers)")
        n = len(catalog)
        if z.shape != (n,):
            raise ValueError(f"redshift must hold one value per row ({n}), got shape "
                             f"{z.shape}")
        return z

    # ------------------------------------------------------------------ training
    def fit(self, catalog, *, redshift="redshift", epochs=100, batch_size=256, fraction=1.0,
            seed=0, out_of_range="clip", devices=None, accelerator=None, num_nodes=1,
            strategy=None, checkpoint_dir=None, resume=False, stop_epoch=None, num_workers=0,
            precision=None,
            deterministic=False, max_steps=-1, callbacks=None, log_every_n_steps=10,
            augment=True, reference_size=2000, robust_bn=True, validation=None,
            val_every_n_steps=25, progress=True):
        """Train (or fine-tune) on labelled cutouts.

        Parameters
        ----------
        catalog : `~galssl.cutouts.CutoutCatalog` or array
            Training images; rows with image defects (``CutoutCatalog.good`` False) are left
            out.
        redshift : str or array, optional
            Column of spectroscopic redshifts (or the values, one per row). NaN is an error.
        epochs, batch_size : int, optional
            The seed recipe is 100 epochs of batch 256.
        fraction : float, optional
            Train on this fraction of the usable labelled rows (a random subset drawn with
            ``seed``), for label-efficiency experiments.
        seed : int, optional
            Seeds the subset, the initialisation of new layers, the data order and the
            augmentations.
        out_of_range : {"clip", "error", "exclude"}, optional
            Redshifts outside [z_min, z_max]: put into the first/last bin with a warning that
            counts them (the seed's convention), raise, or leave those rows out (counted in a
            warning).
        devices, accelerator, num_nodes, strategy, checkpoint_dir, resume, stop_epoch, \
num_workers, precision, deterministic, max_steps, callbacks, log_every_n_steps, progress : optional
            The Lightning engine, as in `galssl.ContrastiveEncoder.fit`.
        augment : bool, optional
            Fine-tuning augmentations (rotation, jitter-crop); False trains on the
            evaluation view.
        reference_size : int, optional
            Number of training representations kept for the out-of-distribution flag.
        robust_bn : bool, optional
            After training, set the batch-norm statistics to the median over training
            batches of those the network normalised with (`refresh_batchnorm`); False keeps
            the running averages of training.
        validation : `~galssl.cutouts.CutoutCatalog` or tuple, optional
            Held-out labelled images for early stopping: a catalogue with the ``redshift``
            column, or ``(images, redshifts)``. Their sigma_MAD (uncalibrated point
            estimates, rows with complete images and a redshift in [z_min, z_max]) is
            measured before the first step, every ``val_every_n_steps`` steps and after the
            last, and the network keeps the weights of the lowest (the choice, and every
            score, are in ``history``: ``best_step``, ``val_steps``, ``val_scores``).
            Rows must not be among the training rows.
        val_every_n_steps : int, optional

        Returns
        -------
        self
        """
        import lightning as L

        batch_size = check_positive_int(batch_size, "batch_size")
        num_workers = check_positive_int(num_workers, "num_workers", minimum=0)
        seed = check_positive_int(seed, "seed", minimum=0)
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        if out_of_range not in ("clip", "error", "exclude"):
            raise ValueError(f"out_of_range must be 'clip', 'error' or 'exclude', got "
                             f"{out_of_range!r}")
        images, ebv, good = as_image_source(catalog, bands=self.bands)
        self._check_images(images, training=True)
        good = training_rows(good, ebv)
        z = self._labels(catalog, redshift)
        bad = good & ~np.isfinite(z)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} training rows have no finite redshift (first "
                             f"rows {np.flatnonzero(bad)[:5].tolist()}); select the labelled "
                             f"rows first")
        c = self.config
        outside = good & ((z < c["z_min"]) | (z > c["z_max"]))
        n_out = int(outside.sum())
        if n_out and out_of_range == "error":
            raise ValueError(f"{n_out} redshifts lie outside [{c['z_min']}, {c['z_max']}] "
                             f"(first rows {np.flatnonzero(outside)[:5].tolist()})")
        if n_out:
            what = "put into the edge bins" if out_of_range == "clip" else "left out"
            warnings.warn(f"{n_out} of {int(good.sum())} training redshifts lie outside "
                          f"[{c['z_min']}, {c['z_max']}] and are {what}", AstropyUserWarning)
        usable = good & ~outside if out_of_range == "exclude" else good
        rows = np.flatnonzero(usable)
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.permutation(rows)[:max(1, int(round(fraction * len(rows))))])
        if len(rows) < 2:
            raise ValueError(f"{len(rows)} usable training images; need at least 2")
        labels = redshift_labels(np.where(np.isfinite(z), z, c["z_min"]), self.bin_edges)
        ckpt = resume_checkpoint(checkpoint_dir, resume)

        L.seed_everything(seed, workers=True, verbose=False)
        self._head_fit = None
        if not self._trained:  # fresh layers drawn from the seed (the encoder's are kept)
            backbone = self.net.backbone if self._from_encoder else \
                create_backbone(c["arch"], c["in_chans"],
                                input_stretch=c["input_stretch"], bands=c["bands"])
            self.net = PhotoZNet(backbone, c["n_bins"])
            if self._from_encoder and c["head_init"] != "random" and ckpt is None:
                self._probe_head(images, ebv, rows, labels[rows], z[rows], progress)
        config = dict(c, seed=int(seed), batch_size=int(batch_size),
                      num_workers=int(num_workers), augment=bool(augment),
                      robust_bn=bool(robust_bn))
        keep_best = None
        if validation is not None:
            keep_best = KeepBest(self._validation_score(validation, redshift, catalog),
                                 val_every_n_steps)
            config["validation"] = int(len(keep_best.score.z))
        self.net, history = run_finetune(
            PhotoZModule, self.net, config, (images, ebv, rows, labels), keep_best=keep_best,
            epochs=epochs,
            stop_epoch=stop_epoch, max_steps=max_steps, devices=devices,
            accelerator=accelerator,
            num_nodes=num_nodes, strategy=strategy, checkpoint_dir=checkpoint_dir, ckpt=ckpt,
            precision=precision, deterministic=deterministic, callbacks=callbacks,
            log_every_n_steps=log_every_n_steps, progress=progress)
        self._trained = True
        self.history = dict(history, n_train=int(len(rows)), n_outside_range=n_out)
        if self._head_fit is not None:
            self.history["head_fit"] = self._head_fit
        self._set_reference(images, ebv, rows, reference_size, seed)
        return self

    def _validation_score(self, validation, redshift, catalog):
        """The `PhotoZScore` of ``fit(validation=...)``."""
        if isinstance(validation, tuple):
            if len(validation) != 2:
                raise ValueError("validation must be a catalogue or an (images, redshifts) "
                                 "pair")
            data, z = validation
        else:
            data, z = validation, redshift
            if not isinstance(z, str):
                raise TypeError("with the training redshifts as an array, pass validation "
                                "as (images, redshifts)")
        if data is catalog:
            raise ValueError("the validation images are the training images; hold out "
                             "other labelled rows")
        images, ebv, good = as_image_source(data, bands=self.bands)
        self._check_images(images)
        z = self._labels(data, z)
        c = self.config
        rows = np.flatnonzero(np.asarray(good) & np.isfinite(z) & (z >= c["z_min"])
                              & (z <= c["z_max"]))
        if len(rows) < 10:
            raise ValueError(f"validation has {len(rows)} usable rows (complete images, "
                             f"redshift in [{c['z_min']}, {c['z_max']}]); need at least 10")
        return PhotoZScore(images, ebv, rows, z[rows], c)

    def _probe_head(self, images, ebv, rows, labels, z, progress):
        """Fit the head on the frozen representations of ``rows`` (``head_init`` "probe"
        or "regression")."""
        from ._module import fit_regression_head, fit_softmax_head

        feats = self._run(images, ebv, rows, progress=progress, desc="encoding",
                          features=True)["features"]
        ok = np.isfinite(feats).all(axis=1)
        if self.config["head_init"] == "regression":
            z = np.clip(z[ok], self.config["z_min"], self.config["z_max"])
            self._head_fit = fit_regression_head(self.net.head, feats[ok], z,
                                                 self.bin_centers)
        else:
            fit_softmax_head(self.net.head, feats[ok], labels[ok],
                             weight_decay=self.config["head_weight_decay"])

    def refresh_batchnorm(self, catalog, *, n_batches=32, batch_size=256, seed=0,
                          reference_size=2000):
        """Set the batch-norm statistics from training images (what `fit` does at its end).

        Up to ``n_batches`` batches of complete images of ``catalog``, with the fine-tuning
        augmentations, run through the network in training mode; each batch-norm layer's
        running mean and variance become the median over batches of the statistics it
        normalised with (`galssl.nn.robust_batchnorm_statistics`, which explains why the
        usual running average biases photo-z on galaxy images). The representations kept
        for the out-of-distribution flag are then recomputed from ``catalog`` (pass the
        training set). Returns self.
        """
        from ..engine import refresh_batchnorm

        images, ebv, good = as_image_source(catalog, bands=self.bands)
        self._check_images(images)
        rows = np.flatnonzero(good)
        if len(rows) == 0:
            raise ValueError("no complete images to take batch-norm statistics from")
        config = dict(self.config, batch_size=int(batch_size))
        refresh_batchnorm(self.net, images, ebv, rows, config, n_batches=n_batches,
                          batch_size=batch_size, seed=seed)
        self._set_reference(images, ebv, rows, reference_size, seed)
        return self

    def _set_reference(self, images, ebv, rows, size, seed):
        """Keep up to ``size`` unit-norm training representations and the OOD threshold."""
        rng = np.random.default_rng(seed + 1)
        pick = np.sort(rng.permutation(rows)[:int(size)])
        if len(pick) <= self.config["ood_k"]:
            self.reference, self.ood_threshold = None, None
            return
        feats = self._run(images, ebv, pick, progress=False, features=True)["features"]
        self.reference = torch.nn.functional.normalize(torch.from_numpy(feats), dim=1)
        d = self._knn_distance(self.reference, exclude_self=True)
        self.ood_threshold = float(np.quantile(d, self.config["ood_quantile"]))

    def _knn_distance(self, feats, exclude_self=False):
        """Mean cosine distance of each row to its ``ood_k`` nearest reference rows."""
        return knn_distance(feats, self.reference, self.config["ood_k"], exclude_self)

    # ------------------------------------------------------------------ inference
    def _run(self, images, ebv, rows=None, *, batch_size=256, progress=True,
             desc="photo-z", features=False, devices=None, num_nodes=1, accelerator=None,
             strategy=None):
        """Bin probabilities (float32), out-of-distribution distances and, with
        ``features``, the representations of the given rows (all by default), streamed
        batch by batch, in one process or on several (`galssl.ssl.run_inference`)."""
        from ..augment import eval_transform
        from ..engine import run_inference

        c = self.config
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        n = len(rows)
        transform = eval_transform(bands=self.bands, out=c["crop"])
        step = PhotoZStep(self.reference, c["ood_k"], features)
        res = run_inference(self.net, images, ebv, rows, transform, step,
                            batch_size=batch_size, progress=progress, desc=desc,
                            devices=devices, num_nodes=num_nodes, accelerator=accelerator,
                            strategy=strategy)
        if not n:
            res = {"pdf": np.zeros((0, c["n_bins"]), np.float32), "distance": np.zeros(0),
                   "features": np.zeros((0, self.net.backbone.num_features), np.float32),
                   "empty": np.zeros(0, bool), "incomplete": np.zeros(0, bool)}
        empty = res["empty"]
        probs = res["pdf"]
        probs[empty] = np.nan
        dist = res.get("distance", np.full(n, np.nan))
        dist[empty] = np.nan
        feats = res.get("features") if features else None
        if feats is not None:
            feats[empty] = np.nan
        return {"pdf": probs, "distance": dist, "features": feats,
                "incomplete": res["incomplete"]}

    def predict(self, data, *, frames=None, batch_size=256, devices=None, calibrated=True,
                progress=True, num_nodes=1, accelerator=None, strategy=None, device=None,
                **cutout_kwargs):
        """Redshift PDFs, point estimates and flags, one row per input row, in order.

        Parameters
        ----------
        data : `~galssl.cutouts.CutoutCatalog`, `~astropy.table.Table`, \
`~astropy.coordinates.SkyCoord` or array
            Cutouts, or positions (a Table with ra/dec, or a SkyCoord) whose cutouts are made
            from ``frames`` with `~galssl.cutouts.CutoutCatalog.from_table` or, without
            ``frames``, fetched from SDSS (`~galssl.cutouts.CutoutCatalog.from_sdss`, needs
            the network). HDF5-backed catalogues are streamed.
        frames : str or list, optional
            Frame files, globs or directories for Table/SkyCoord input.
        batch_size : int, optional
        devices : str, int, list or None, optional
            Where to run: one device by name (``"cpu"``, ``"cuda:1"``), or several (a count
            or list of indices): each process evaluates one contiguous shard of the rows on
            Lightning's DDP and the shards are gathered, giving the table of a one-process
            run. None: one process, on CUDA when available.
        calibrated : bool, optional
            Apply the PIT recalibration (if `calibrate` was run).
        progress : bool, optional
        num_nodes, accelerator, strategy : optional
            As in `fit`.
        device : str, optional
            Deprecated spelling of ``devices`` (warns).
        **cutout_kwargs
            Passed to the cutout maker for Table/SkyCoord input.

        Returns
        -------
        `~astropy.table.QTable`
            The input columns (a catalogue's table, or the input table) plus ``z_phot``
            (PDF mean over bin centres), ``z_phot_err`` (PDF standard deviation), ``z_mode``,
            ``odds`` (probability within z_phot ± 0.05 (1 + z_phot)), ``z_pdf`` (n_bins
            probabilities; edges in ``meta["z_bin_edges"]``), ``ood_distance`` and
            ``photoz_flag`` (`PhotoZFlag` bits). Rows without data hold NaN and NO_DATA.
        """
        from ..cutouts import IMAGE_DEFECTS, CutoutCatalog, CutoutFlag

        batch_size = check_positive_int(batch_size, "batch_size")
        devices = devices_alias(device, devices, "PhotoZEstimator.predict")
        if not self._trained:
            warnings.warn("this PhotoZEstimator has not been trained: its predictions are "
                          "meaningless", AstropyUserWarning)
        data = check_predict_input(data, frames, cutout_kwargs)
        data, table = self._positions_to_cutouts(data, frames, cutout_kwargs, progress)
        if data is None:
            n, images, ebv, defects = 0, np.zeros((0, self.config["in_chans"], 1, 1)), None, \
                np.zeros(0, bool)
        else:
            images, ebv, good = as_image_source(data, bands=self.bands)
            self._check_images(images)
            n = len(images)
            defects = ~good
            if isinstance(data, CutoutCatalog):
                defects = (np.asarray(data.table["flags"])
                           & int(IMAGE_DEFECTS | CutoutFlag.HIGH_EXTINCTION)) != 0
        table = self._output_table(data, table, n)
        res = self._run(images, ebv, batch_size=batch_size,
                        progress=progress, devices=devices, num_nodes=num_nodes,
                        accelerator=accelerator, strategy=strategy) if n else \
            {"pdf": np.zeros((0, self.config["n_bins"]), np.float32), "distance": np.zeros(0),
             "incomplete": np.zeros(0, bool)}
        return self._table(table, res, defects, calibrated)

    #: Rows whose PDFs are recalibrated and summarised at once (bounds the float64
    #: temporaries of catalogues of millions of rows).
    summary_chunk = 8192

    def _table(self, table, res, defects, calibrated):
        chunk = self.summary_chunk
        pdf = res["pdf"]  # float32, recalibrated in place chunk by chunk
        n = len(pdf)
        empty = ~np.isfinite(pdf).all(axis=1)
        edges = self.bin_edges
        summ = {k: np.full(n, np.nan) for k in ("z_phot", "z_phot_err", "z_mode", "odds")}
        for s in range(0, n, chunk):
            ok = np.flatnonzero(~empty[s:s + chunk]) + s
            if len(ok) == 0:
                continue
            if calibrated:
                pdf[ok] = self.calibration.apply(pdf[ok], edges)
            for k, v in summarize_pdfs(pdf[ok], edges).items():
                summ[k][ok] = v
        dist = res["distance"]
        flag = np.zeros(n, np.int32)
        if self.ood_threshold is not None:
            flag[dist > self.ood_threshold] |= PhotoZFlag.OUT_OF_DISTRIBUTION
        flag[summ["z_phot_err"] > self.config["max_err"]] |= PhotoZFlag.BROAD_PDF
        # flagged image defects, and pixels or E(B-V) found missing whatever the flags say
        flag[defects | res["incomplete"]] |= PhotoZFlag.CUTOUT
        flag[empty] |= PhotoZFlag.NO_DATA
        for k, v in summ.items():
            table[k] = v
        table["z_pdf"] = pdf
        table["ood_distance"] = dist
        table["photoz_flag"] = flag
        table["photoz_flag_names"] = PhotoZFlag.names_column(flag)
        set_display_formats(table)
        for name, text in COLUMN_DESCRIPTIONS.items():
            table[name].description = text
        table.meta["z_bin_edges"] = [float(v) for v in edges]
        table.meta["photoz_conventions"] = {  # the column descriptions, in one place
            **{k: COLUMN_DESCRIPTIONS[k] for k in ("z_phot", "z_phot_err", "odds",
                                                   "photoz_flag")},
            "calibrated": bool(calibrated and self.calibration.fitted)}
        return table

    # ------------------------------------------------------------------ calibration
    def calibrate(self, catalog, *, redshift="redshift", n_knots=101, batch_size=256,
                  devices=None, progress=True, device=None):
        """Fit the PIT recalibration of the PDFs on a validation set and keep it.

        ``devices`` is where to run, as in `predict` (``device`` is its deprecated
        spelling).

        Returns
        -------
        dict
            ``pit_before``/``pit_after`` (PIT values of the validation objects),
            ``ks_before``/``ks_after`` (KS statistic against uniform; the "after" value is
            in-sample: judge the calibration on objects not used here) and ``n``.
        """
        from scipy.stats import kstest

        from .metrics import pit

        devices = devices_alias(device, devices, "PhotoZEstimator.calibrate")
        images, ebv, good = as_image_source(catalog, bands=self.bands)
        self._check_images(images)
        good = training_rows(good, ebv)
        z = self._labels(catalog, redshift)
        c = self.config
        use = np.flatnonzero(good & np.isfinite(z) & (z >= c["z_min"]) & (z <= c["z_max"]))
        pdf = self._run(images, ebv, use, batch_size=batch_size, devices=devices,
                        progress=progress)["pdf"].astype(np.float64)
        ok = np.isfinite(pdf).all(axis=1)
        pdf, zs = pdf[ok], z[use][ok]
        self.calibration = PITCalibration().fit(pdf, self.bin_edges, zs, n_knots=n_knots)
        before = pit(pdf, self.bin_edges, zs)
        after = pit(self.calibration.apply(pdf, self.bin_edges), self.bin_edges, zs)
        return {"n": int(len(zs)), "pit_before": before, "pit_after": after,
                "ks_before": float(kstest(before, "uniform").statistic),
                "ks_after": float(kstest(after, "uniform").statistic)}

    def evaluate(self, catalog, *, redshift="redshift", calibrated=True, bins=None,
                 progress=True, **kwargs):
        """Predict on a labelled catalogue and return `galssl.photoz.metrics.evaluate` of
        the rows with complete images and a redshift in [z_min, z_max], plus the table."""
        from .metrics import evaluate

        out = self.predict(catalog, calibrated=calibrated, progress=progress, **kwargs)
        z = self._labels(catalog, redshift)
        c = self.config
        sel = ((np.asarray(out["photoz_flag"]) & (PhotoZFlag.CUTOUT | PhotoZFlag.NO_DATA))
               == 0) & np.isfinite(z) & (z >= c["z_min"]) & (z <= c["z_max"])
        res = evaluate(np.asarray(out["z_phot"])[sel], z[sel],
                       pdfs=np.asarray(out["z_pdf"])[sel], bin_edges=self.bin_edges,
                       bins=bins)
        res["table"] = out
        res["selected"] = sel
        return res

    def encoder(self):
        """Deprecated name of `to_encoder` (warns; removed in galssl 0.3): a method named
        like the constructor's ``encoder=`` argument, which it is not."""
        from astropy.utils.exceptions import AstropyDeprecationWarning

        warnings.warn("PhotoZEstimator.to_encoder() is deprecated: use to_encoder()",
                      AstropyDeprecationWarning, stacklevel=2)
        return self.to_encoder()

    def to_encoder(self):
        """A `~galssl.ContrastiveEncoder` holding a copy of this model's backbone, whose
        ``encode`` gives the representations behind the photo-z (e.g. for similarity
        search with the shipped model)."""
        from ..ssl import ContrastiveEncoder

        return ContrastiveEncoder.from_photoz_checkpoint(self.state_dict(),
                                                         source=f"this {type(self).__name__}")

    # ------------------------------------------------------------------ persistence
    def state_dict(self, *, half=False):
        """Plain-dict checkpoint (tensors, numbers, strings); ``half`` stores the floating
        weights in float16 (halves the size; loading casts back to float32)."""
        from .. import __version__

        def conv(sd):
            return self._weights(sd, half)

        return {"format": "galssl.PhotoZEstimator", "format_version": CHECKPOINT_FORMAT,
                "galssl_version": __version__, "config": dict(self.config),
                "backbone": conv(self.net.backbone.state_dict()),
                "head": conv(self.net.head.state_dict()),
                "calibration": self.calibration.to_dict(),
                "reference": None if self.reference is None else
                (self.reference.half() if half else self.reference.clone()),
                "ood_threshold": self.ood_threshold, "card": dict(self.card),
                "trained": bool(self._trained)}

    @classmethod
    def from_state_dict(cls, state, *, source="state dict"):
        """Build an estimator from the dict of `state_dict`."""
        check_checkpoint(state, "PhotoZEstimator", CHECKPOINT_FORMAT, source,
                         required=("backbone", "head"))
        config = dict(state["config"])
        config.setdefault("input_stretch", None)  # checkpoints from before the option
        finetune = config.pop("pretrained_encoder", False)
        pz = cls(**config)
        pz.config["pretrained_encoder"] = finetune
        pz._from_encoder = finetune

        load_strict(pz.net.backbone, cls._float32(state["backbone"]), "backbone", source)
        load_strict(pz.net.head, cls._float32(state["head"]), "photo-z head", source)
        try:
            pz.calibration = PITCalibration.from_dict(state.get("calibration"))
        except ValueError as exc:
            raise CheckpointError(f"{source}: its calibration is not valid ({exc})") from None
        ref = state.get("reference")
        if ref is not None and not (isinstance(ref, torch.Tensor) and ref.ndim == 2
                                    and ref.is_floating_point()
                                    and ref.shape[1] == pz.net.backbone.num_features
                                    and bool(torch.isfinite(ref).all())):
            raise CheckpointError(
                f"{source}: its reference representations must be a finite (N, "
                f"{pz.net.backbone.num_features}) floating tensor or None, got "
                f"{_describe(ref)}")
        pz.reference = None if ref is None else ref.float()
        thr = state.get("ood_threshold")
        if thr is not None and (isinstance(thr, bool) or not isinstance(thr, (int, float))
                                or not np.isfinite(thr)):
            raise CheckpointError(f"{source}: its ood_threshold must be a finite number or "
                                  f"None, got {_describe(thr)}")
        if (thr is None) != (ref is None):
            raise CheckpointError(f"{source}: it has a reference set without an "
                                  f"ood_threshold, or the other way round")
        pz.ood_threshold = None if thr is None else float(thr)
        card = state.get("card")
        if card is not None and not isinstance(card, dict):
            raise CheckpointError(f"{source}: its model card must be a dict, got "
                                  f"{_describe(card)}")
        pz.card = dict(card or {})
        pz._trained = bool(state.get("trained", True))
        return pz

    @classmethod
    def from_pretrained(cls, name=None, *, path=None, map_location="cpu"):
        """Load named or local weights (`galssl.pretrained`).

        ``name=None`` loads the default model shipped inside the package (offline, sha256
        checked); a path loads a local galssl checkpoint (a path that does not exist is a
        `FileNotFoundError`); a registry name (`galssl.pretrained.list_pretrained`) loads
        those weights, downloading them into astropy's cache when they are not shipped
        (``path``: a local copy of that download).
        """
        import dataclasses

        from ..pretrained import is_checkpoint_path, pretrained_state

        if is_checkpoint_path(name):
            return cls.load(name, map_location=map_location)
        got = pretrained_state(name, kind="photoz", path=path, map_location=map_location)
        card = dataclasses.asdict(got.record)
        if got.layout == "hayat2021":
            return cls.from_hayat2021(got.state, source=got.source, card=card)
        model = cls.from_state_dict(got.state, source=got.source)
        model.card = dict(card, **model.card)
        return model

    @classmethod
    def from_hayat2021(cls, state, *, source="checkpoint", card=None):
        """The photo-z model of a Hayat et al. (2021) checkpoint (their dict, or the
        ``{"backbone": ..., "head": ...}`` of `galssl.pretrained.hayat2021_key_map`),
        loaded strictly: a ResNet-50 with a linear head over their bins, nanomaggies in."""
        from ..pretrained import hayat2021_key_map

        if isinstance(state, dict) and set(state) == {"backbone", "head"}:
            backbone, head = state["backbone"], state["head"]
        else:
            backbone, head, _ = hayat2021_key_map(state)
        if set(head) != {"weight", "bias"}:
            raise ValueError(f"{source}: expected a linear fc head (fc.weight, fc.bias), "
                             f"got fc keys {sorted(head)}")
        pz = cls(arch="resnet50-paper", n_bins=head["weight"].shape[0],
                 input_stretch=None)  # the seed's networks take nanomaggies
        load_strict(pz.net.backbone, backbone, "backbone", source)
        load_strict(pz.net.head, head, "photo-z head", source)
        pz._trained = True
        pz.card = dict(card or {})
        return pz
