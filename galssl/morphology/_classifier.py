# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""MorphologyClassifier: Galaxy Zoo vote fractions from cutouts or representations."""

import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from ..engine import ImageModel
from ..surveys import band_label, parse_bands

__all__ = ["MorphologyClassifier", "CHECKPOINT_FORMAT"]

#: Version of the plain-dict checkpoint written by `MorphologyClassifier.save`.
CHECKPOINT_FORMAT = 1

_MODES = ("linear", "finetune")


def check_questions(questions):
    if questions is None:
        return None
    if isinstance(questions, str):
        questions = (questions,)
    questions = tuple(questions)
    if not questions:
        raise ValueError("questions must name at least one question")
    bad = [q for q in questions if not isinstance(q, str) or not q]
    if bad:
        raise TypeError(f"questions must be non-empty strings, got {bad}")
    dup = sorted({q for q in questions if questions.count(q) > 1})
    if dup:
        raise ValueError(f"questions must be unique; repeated: {dup}")
    return questions


def _as_fraction_column(values, name):
    """A label column as float vote fractions, NaN where unlabelled (masked); booleans
    become 0/1."""
    if np.ma.isMaskedArray(values) or hasattr(values, "mask"):
        arr = np.ma.asarray(values)
        data = np.ma.getdata(arr)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"label column {name!r} must be numeric or boolean, got dtype "
                            f"{data.dtype}")
        out = np.ma.filled(arr.astype(float), np.nan)
    else:
        data = np.asarray(getattr(values, "value", values))
        if data.dtype.kind not in "biuf":
            raise TypeError(f"label column {name!r} must be numeric or boolean, got dtype "
                            f"{data.dtype}")
        out = data.astype(float)
    if out.ndim != 1:
        raise ValueError(f"label column {name!r} must hold one value per row, got shape "
                         f"{out.shape}")
    ok = np.isfinite(out)
    if np.any((out[ok] < 0) | (out[ok] > 1)):
        raise ValueError(f"label column {name!r} must hold vote fractions in [0, 1] (NaN = "
                         f"unlabelled); found values from {out[ok].min():g} to "
                         f"{out[ok].max():g}")
    if np.any(np.isinf(out)):
        raise ValueError(f"label column {name!r} holds infinite values")
    return out


class MorphologyStep:
    """The inference step of `MorphologyClassifier` (`galssl.ssl.run_inference`): the
    representations of a batch and, for a network with a head (``with_head``), the
    predicted probability of each question."""

    def __init__(self, with_head):
        self.with_head = bool(with_head)

    def __call__(self, net, x):
        import torch

        if not self.with_head:
            return {"features": net(x).float().cpu().numpy()}
        logits, f = net(x)
        return {"features": f.float().cpu().numpy(),
                "probabilities": torch.sigmoid(logits.float()).cpu().numpy()}


class MorphologyClassifier(ImageModel):
    """Galaxy Zoo vote fractions (one binary target per question) from multi-band cutouts.

    Each question is a binary target whose label is a vote fraction (a soft label, binary
    cross-entropy): e.g. the fraction of Galaxy Zoo 2 volunteers who answered "smooth". The
    output is the predicted probability, per question. Following Hayat et al. (2021):

    - ``mode="linear"``: a linear layer and a sigmoid on the frozen representations of a
      pretrained encoder (the representations are standardized with the training mean and
      standard deviation, then fitted by full-batch L-BFGS with an L2 penalty; each
      question is an independent logistic regression with soft labels);
    - ``mode="finetune"``: the encoder is trained too, on the Lightning engine, with a
      lower learning rate for the backbone than for the head and the fine-tuning
      augmentations (rotation, jitter-crop); ``encoder=None`` trains the same network from
      scratch (the supervised baseline).

    Labels missing for a question (NaN; galaxies with fewer than 5 votes for it, see
    `galssl.morphology.gz2_targets`) are ignored by the loss of that question.

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder`, optional
        The pretrained encoder (a copy of its backbone is used; its architecture, bands and
        crop too). None: ``mode="finetune"`` from scratch with architecture ``arch``.
    mode : {"linear", "finetune"}, optional
    questions : str or sequence of str, optional
        Names of the targets: the label columns that `fit` uses, and the output columns of
        `predict`. Default: every column of the labels given to `fit`.
    arch, in_chans, bands, crop : optional
        Architecture, bands and input size when there is no encoder.
    jitter : int, optional
        Fine-tuning jitter in pixels (default: the encoder's, else 7).
    lr_backbone, lr_head : float, optional
        Fine-tuning learning rates: 1e-4 for a pretrained backbone and 1e-3 for the head;
        from scratch the backbone uses ``lr_head`` too (default ``lr_backbone=None``).
    milestones : tuple of float, optional
        Fine-tuning: fractions of the epochs after which both rates are multiplied by 0.1.
    optimizer : {"adamw", "sgd"}, optional
        Fine-tuning optimiser (SGD with momentum 0.9).
    weight_decay : float, optional
        L2 penalty: in the linear mode the coefficient of the squared norm of the weights
        added to each question's mean loss (default 1e-3), in fine-tuning the optimiser's
        weight decay (default 1e-4).
    input_stretch : {"asinh", "asinh-noise", None}, optional
        Input scaling without an encoder (with one, the encoder's is used): the fixed
        per-band asinh stretch of `galssl.nn.AsinhStretch` (default) or raw nanomaggies.

    Attributes
    ----------
    net : `torch.nn.Module`
        Backbone and head (``net.backbone``, ``net.head``); None before the questions are
        known.
    history : dict or None
        After `fit`: the training loss (``"loss"``, per step when fine-tuning, the final
        value in the linear mode) and ``n_train``.

    Examples
    --------
    >>> from galssl import ContrastiveEncoder
    >>> from galssl.morphology import MorphologyClassifier
    >>> enc = ContrastiveEncoder(arch="resnet10-small")
    >>> mc = MorphologyClassifier(enc, questions=["smooth", "edge_on"])
    >>> mc.questions, mc.config["mode"], mc.config["lr_backbone"]
    (('smooth', 'edge_on'), 'linear', 0.0001)

    References
    ----------
    Hayat, M. A., Stein, G., Harrington, P., Lukic, Z. & Mustafa, M. 2021, ApJL 911, L33.
    Willett, K. W., Lintott, C. J., Bamford, S. P., et al. 2013, MNRAS 435, 2835.
    """

    def __init__(self, encoder=None, *, mode="linear", questions=None, arch="resnet10-small",
                 in_chans=5, bands="ugriz", crop=64, jitter=None, lr_backbone=None, lr_head=1e-3,
                 milestones=(0.6, 0.9), optimizer="adamw", weight_decay=None,
                 input_stretch="asinh"):
        from ..ssl import backbone_for_head

        if mode not in _MODES:
            raise ValueError(f"mode must be 'linear' or 'finetune', got {mode!r}")
        if optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}")
        if encoder is None and mode == "linear":
            raise ValueError("mode='linear' needs a pretrained encoder (a linear probe on its "
                             "frozen representations); for the supervised baseline use "
                             "encoder=None with mode='finetune'")
        if encoder is not None and jitter is None:
            jitter = getattr(encoder, "config", {}).get("jitter", 7)
        arch, in_chans, bands, crop, input_stretch, backbone = backbone_for_head(
            encoder, arch=arch, in_chans=in_chans, bands=bands, crop=crop,
            input_stretch=input_stretch)
        jitter = 7 if jitter is None else jitter
        if weight_decay is None:
            weight_decay = 1e-3 if mode == "linear" else 1e-4
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        pretrained = encoder is not None
        questions = check_questions(questions)
        self.config = dict(
            mode=mode, arch=arch, in_chans=int(in_chans), bands=band_label(bands),
            crop=int(crop), jitter=int(jitter),
            questions=None if questions is None else list(questions),
            lr_backbone=float(lr_backbone if lr_backbone is not None else
                              (1e-4 if pretrained else lr_head)),
            lr_head=float(lr_head), milestones=[float(m) for m in milestones],
            optimizer=optimizer, weight_decay=float(weight_decay),
            pretrained_encoder=pretrained, input_stretch=input_stretch)
        self._backbone = backbone
        self.net = None
        if questions is not None:
            self._build(questions)
        self.history = None
        self._trained = False

    def _build(self, questions):
        from ._module import MorphologyNet

        self.config["questions"] = list(questions)
        self.net = MorphologyNet(self._backbone, len(questions))

    # ------------------------------------------------------------------ properties
    @property
    def questions(self):
        """Names of the targets (None until known)."""
        q = self.config["questions"]
        return None if q is None else tuple(q)

    @property
    def bands(self):
        """Band of each input channel."""
        return parse_bands(self.config["bands"])

    @property
    def num_features(self):
        """Dimension of the representation."""
        return self._backbone.num_features

    def __repr__(self):
        c = self.config
        return (f"<MorphologyClassifier mode={c['mode']!r} arch={c['arch']!r} "
                f"questions={c['questions']} {'trained' if self._trained else 'untrained'}>")

    # ------------------------------------------------------------------ inputs
    def _source(self, data):
        """("features", array) for a 2-d array of representations, else ("images",
        (images, ebv, good))."""
        from ..engine import as_image_source

        import torch

        from ..utils._validate import as_image_array

        arr = as_image_array(data, "data") if isinstance(data, torch.Tensor) else data
        if isinstance(arr, np.ndarray) and arr.ndim == 2:
            if self.config["mode"] != "linear":
                raise ValueError("a 2-d array of representations can only be used with "
                                 "mode='linear'; fine-tuning needs the images")
            if arr.shape[1] != self.num_features:
                raise ValueError(f"the representations have {arr.shape[1]} dimensions, the "
                                 f"encoder gives {self.num_features}")
            return "features", np.asarray(arr, dtype=np.float32)
        images, ebv, good = as_image_source(data, bands=self.bands)
        self._check_images(images)
        return "images", (images, ebv, good)

    def _targets(self, data, labels, n):
        """(N, Q) float vote fractions with NaN = unlabelled, and the question names."""
        from astropy.table import Table

        questions = self.questions
        if labels is None:
            table = getattr(data, "table", None)
            if table is None:
                raise TypeError("without labels=, the data must be a CutoutCatalog whose "
                                "table holds the label columns")
            if questions is None:
                raise ValueError("without labels=, name the label columns with questions= "
                                 "when creating the classifier")
            labels = table
        if isinstance(labels, dict):
            labels = Table(labels)
        if isinstance(labels, Table):
            if questions is None:
                questions = tuple(labels.colnames)
            missing = [q for q in questions if q not in labels.colnames]
            if missing:
                raise ValueError(f"the labels have no column for the questions {missing}; "
                                 f"their columns are {labels.colnames}")
            cols = [_as_fraction_column(labels[q], q) for q in questions]
            y = np.column_stack(cols) if cols else np.zeros((len(labels), 0))
        else:
            y = labels
            if hasattr(y, "detach"):
                y = y.detach().cpu().numpy()
            y = np.asarray(y)
            if y.ndim == 1:
                y = y[:, None]
            if y.ndim != 2:
                raise ValueError(f"labels must be a Table or an (N,) / (N, n_questions) "
                                 f"array, got shape {y.shape}")
            if questions is None:
                raise ValueError("with labels as an array, name its columns with questions= "
                                 "when creating the classifier")
            if y.shape[1] != len(questions):
                raise ValueError(f"labels has {y.shape[1]} columns for {len(questions)} "
                                 f"questions {list(questions)}")
            y = np.column_stack([_as_fraction_column(y[:, k], q)
                                 for k, q in enumerate(questions)])
        if len(y) != n:
            raise ValueError(f"{len(y)} label rows for {n} catalogue rows: the labels must be "
                             f"aligned with the catalogue, one row per object")
        return y.astype(np.float32), tuple(questions)

    # ------------------------------------------------------------------ training
    def fit(self, data, labels=None, *, epochs=10, batch_size=256, seed=0, augment=True,
            max_iter=500, devices=None, accelerator=None, num_nodes=1,
            strategy=None, checkpoint_dir=None, resume=False, stop_epoch=None, num_workers=0,
            precision=None,
            deterministic=False, max_steps=-1, callbacks=None, log_every_n_steps=10,
            progress=True, device=None):
        """Train on labelled galaxies.

        Parameters
        ----------
        data : `~galssl.cutouts.CutoutCatalog`, array of images, or array of representations
            Training cutouts; rows with image defects (``CutoutCatalog.good`` False) and rows
            without any label are left out. In the linear mode an (N, D) array of
            representations (`~galssl.ContrastiveEncoder.encode` of this encoder) may be
            given instead, so that nothing is encoded twice.
        labels : `~astropy.table.Table`, dict or array, optional
            Vote fractions in [0, 1] aligned with ``data`` (one row per row), one column per
            question, NaN (or masked) = unlabelled for that question; booleans count as 0/1.
            Default: the ``questions`` columns of the catalogue's table.
        epochs, batch_size : int, optional
            Fine-tuning.
        seed : int, optional
            Fine-tuning: seeds the new layers, the data order and the augmentations. (The
            linear fit is deterministic.)
        augment : bool, optional
            Fine-tuning augmentations; False trains on the evaluation view.
        max_iter : int, optional
            Linear mode: L-BFGS iterations.
        devices : str, int, list or None, optional
            Where to run, as in `galssl.ContrastiveEncoder.fit`: a device name (``"cpu"``,
            ``"cuda:1"``), a count or list of devices, None to choose. In the linear mode,
            where the representations are computed.
        accelerator, num_nodes, strategy, checkpoint_dir, resume, stop_epoch, \
num_workers, precision, deterministic, max_steps, callbacks, log_every_n_steps, progress : optional
            The Lightning engine, as in `galssl.ContrastiveEncoder.fit` (fine-tuning).
        device : str, optional
            Deprecated spelling of ``devices`` (warns).

        Returns
        -------
        self
        """
        from ..engine import devices_alias, training_rows
        from ..utils._validate import check_positive_int

        devices = devices_alias(device, devices, "MorphologyClassifier.fit")
        batch_size = check_positive_int(batch_size, "batch_size")
        num_workers = check_positive_int(num_workers, "num_workers", minimum=0)
        seed = check_positive_int(seed, "seed", minimum=0)
        kind, src = self._source(data)
        n = len(src) if kind == "features" else len(src[0])
        y, questions = self._targets(data, labels, n)
        if self.net is None or self.questions != questions:
            self._build(questions)
        if kind == "features":
            good = np.isfinite(src).all(axis=1)
        else:
            good = training_rows(src[2], src[1])
            if self.config["mode"] != "linear" and augment:
                self._check_images(src[0], training=True)
        labelled = np.isfinite(y).any(axis=1)
        rows = np.flatnonzero(good & labelled)
        if len(rows) < 2:
            raise ValueError(f"{len(rows)} usable training rows (complete images with at "
                             f"least one label); need at least 2")
        empty = [q for k, q in enumerate(questions) if not np.isfinite(y[rows, k]).any()]
        if empty:
            raise ValueError(f"no training labels for the questions {empty} (all NaN on the "
                             f"usable rows)")
        if self.config["mode"] == "linear":
            self._fit_linear(kind, src, y, rows, max_iter=max_iter, batch_size=batch_size,
                             devices=devices, progress=progress)
        else:
            if kind == "features":  # pragma: no cover - _source refuses it
                raise ValueError("fine-tuning needs images")
            self._fit_finetune(src, y, rows, epochs=epochs, batch_size=batch_size, seed=seed,
                               augment=augment, devices=devices, accelerator=accelerator,
                               num_nodes=num_nodes, strategy=strategy,
                               checkpoint_dir=checkpoint_dir, resume=resume,
                               stop_epoch=stop_epoch, num_workers=num_workers, precision=precision,
                               deterministic=deterministic, max_steps=max_steps,
                               callbacks=callbacks, log_every_n_steps=log_every_n_steps,
                               progress=progress)
        self.history["n_train"] = int(len(rows))
        self.history["n_labels"] = {q: int(np.isfinite(y[rows, k]).sum())
                                    for k, q in enumerate(questions)}
        self._trained = True
        return self

    def _fit_linear(self, kind, src, y, rows, *, max_iter, batch_size, devices, progress):
        from ._module import fit_linear_head

        if kind == "features":
            feats = src[rows]
        else:
            images, ebv, _ = src
            feats = self._run(images, ebv, rows, batch_size=batch_size, devices=devices,
                              progress=progress, desc="encoding")["features"]
        finite = np.isfinite(feats).all(axis=1)
        if not finite.all():  # images without any data that no flag marked
            warnings.warn(f"{int((~finite).sum())} training rows have no image data (all "
                          f"pixels non-finite, first rows "
                          f"{np.asarray(rows)[~finite][:5].tolist()}) although their flags "
                          f"say complete; they are left out", AstropyUserWarning)
            feats, rows = feats[finite], np.asarray(rows)[finite]
        if len(rows) < 2:
            raise ValueError(f"{len(rows)} training rows with image data; need at least 2")
        loss = fit_linear_head(self.net.head, feats, y[rows],
                               weight_decay=self.config["weight_decay"], max_iter=max_iter)
        self.history = {"loss": [loss]}

    def _fit_finetune(self, src, y, rows, *, epochs, batch_size, seed, augment, devices,
                      accelerator, num_nodes, strategy, checkpoint_dir, resume, stop_epoch,
                      num_workers, precision, deterministic, max_steps, callbacks,
                      log_every_n_steps, progress):
        import lightning as L

        from ..nn import create_backbone
        from ..engine import resume_checkpoint
        from ..engine import run_finetune
        from ._module import MorphologyModule, MorphologyNet

        images, ebv, _ = src
        c = self.config
        ckpt = resume_checkpoint(checkpoint_dir, resume)
        L.seed_everything(seed, workers=True, verbose=False)
        if not self._trained:  # fresh layers drawn from the seed (an encoder's are kept)
            if not c["pretrained_encoder"]:
                self._backbone = create_backbone(
                    c["arch"], c["in_chans"], input_stretch=c["input_stretch"],
                    bands=c["bands"])
            self.net = MorphologyNet(self._backbone, len(c["questions"]))
        config = dict(c, seed=int(seed), batch_size=int(batch_size),
                      num_workers=int(num_workers), augment=bool(augment))
        self.net, self.history = run_finetune(
            MorphologyModule, self.net, config, (images, ebv, rows, y), epochs=epochs,
            stop_epoch=stop_epoch, max_steps=max_steps, devices=devices,
            accelerator=accelerator,
            num_nodes=num_nodes, strategy=strategy, checkpoint_dir=checkpoint_dir, ckpt=ckpt,
            precision=precision, deterministic=deterministic, callbacks=callbacks,
            log_every_n_steps=log_every_n_steps, progress=progress)
        self._backbone = self.net.backbone

    # ------------------------------------------------------------------ inference
    def _run(self, images, ebv, rows=None, *, batch_size=256, progress=True,
             desc="morphology", devices=None, num_nodes=1, accelerator=None, strategy=None):
        """Probabilities (if the head exists) and representations of the given rows (all
        by default), float32, NaN for rows without data, streamed batch by batch in one
        process or on several (`galssl.ssl.run_inference`)."""
        from ..augment import eval_transform
        from ..engine import run_inference

        c = self.config
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        n = len(rows)
        nq = 0 if self.net is None else len(c["questions"])
        if not n:
            return {"probabilities": np.zeros((0, nq), np.float32),
                    "features": np.zeros((0, self.num_features), np.float32)}
        net = self._backbone if self.net is None else self.net
        transform = eval_transform(bands=self.bands, out=c["crop"])
        res = run_inference(net, images, ebv, rows, transform,
                            MorphologyStep(self.net is not None), batch_size=batch_size,
                            progress=progress, desc=desc, devices=devices,
                            num_nodes=num_nodes, accelerator=accelerator, strategy=strategy)
        probs = res.get("probabilities", np.zeros((n, 0), np.float32))
        feats = res["features"]
        probs[res["empty"]] = np.nan
        feats[res["empty"]] = np.nan
        return {"probabilities": probs, "features": feats}

    def _probabilities(self, feats):
        import torch

        out = np.full((len(feats), len(self.questions)), np.nan, np.float32)
        ok = np.isfinite(feats).all(axis=1)
        if ok.any():
            head = self.net.head.cpu().eval()
            with torch.no_grad():
                out[ok] = torch.sigmoid(head(torch.from_numpy(feats[ok]))).numpy()
        return out

    def predict(self, data, *, frames=None, batch_size=256, devices=None, progress=True,
                num_nodes=1, accelerator=None, strategy=None, device=None, **cutout_kwargs):
        """Predicted probability of each question, one row per input row, in order.

        Parameters
        ----------
        data : `~galssl.cutouts.CutoutCatalog`, array, `~astropy.table.Table` or \
`~astropy.coordinates.SkyCoord`
            Cutouts (HDF5-backed catalogues are streamed), an (N, D) array of
            representations (linear mode), or positions whose cutouts are made from
            ``frames`` (`~galssl.cutouts.CutoutCatalog.from_table`) or, without ``frames``,
            fetched from SDSS (needs the network).
        frames : str or list, optional
            Frame files, globs or directories for Table/SkyCoord input.
        batch_size : int, optional
        devices : str, int, list or None, optional
            Where to run: one device by name (``"cpu"``, ``"cuda:1"``), or several (a count
            or list of indices): each process evaluates one contiguous shard of the rows on
            Lightning's DDP and the shards are gathered, giving the table of a one-process
            run. None: one process, on CUDA when available.
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
            One float column per question (named as the questions): the probability, NaN
            for rows without any image data (or a NaN representation), one row per input
            row, in order. Cutouts with defects are predicted from what they hold; select
            with ``CutoutCatalog.good``. ``meta`` records the mode, architecture and
            questions.
        """
        from astropy.table import QTable

        from .. import __version__
        from ..engine import check_predict_input, devices_alias
        from ..utils._validate import check_positive_int

        batch_size = check_positive_int(batch_size, "batch_size")
        devices = devices_alias(device, devices, "MorphologyClassifier.predict")
        data = check_predict_input(data, frames, cutout_kwargs)
        if self.net is None:
            raise ValueError("this MorphologyClassifier has no questions yet: fit it first")
        if not self._trained:
            warnings.warn("this MorphologyClassifier has not been trained: its predictions "
                          "are meaningless", AstropyUserWarning)
        data, _ = self._positions_to_cutouts(data, frames, cutout_kwargs, progress)
        if data is None:  # no positions
            data = np.zeros((0, self.config["in_chans"], self.config["crop"],
                             self.config["crop"]), np.float32)
        kind, src = self._source(data)
        if kind == "features":
            probs = self._probabilities(src)
        else:
            images, ebv, _ = src
            probs = self._run(images, ebv, batch_size=batch_size,
                              progress=progress, devices=devices, num_nodes=num_nodes,
                              accelerator=accelerator,
                              strategy=strategy)["probabilities"] if len(images) else \
                np.zeros((0, len(self.questions)), np.float32)
        # only the model's columns: a labelled catalogue holds its labels under the
        # questions' names, which the input's columns would clash with
        out = QTable()
        for k, q in enumerate(self.questions):
            out[q] = probs[:, k].astype(float)
            out[q].info.format = ".3f"  # how it prints
        c = self.config
        out.meta["morphology"] = {
            "mode": c["mode"], "arch": c["arch"], "bands": c["bands"],
            "pretrained_encoder": c["pretrained_encoder"], "galssl_version": __version__,
            "output": "predicted probability of each question (sigmoid), NaN without data"}
        return out

    def evaluate(self, data, labels=None, *, threshold=0.5, low=0.2, high=0.8, **kwargs):
        """Predict and score every question with `galssl.morphology.metrics.evaluate`.

        Returns
        -------
        dict
            ``{question: metrics dict}`` and ``"table"``, the predictions.
        """
        from . import metrics

        out = self.predict(data, **kwargs)
        y, questions = self._targets(data, labels, len(out))
        if questions != self.questions:
            raise ValueError(f"the labels are for questions {list(questions)}, the classifier "
                             f"predicts {list(self.questions)}")
        res = {q: metrics.evaluate(np.asarray(out[q]), y[:, k], threshold=threshold,
                                   low=low, high=high)
               for k, q in enumerate(questions)}
        res["table"] = out
        return res

    # ------------------------------------------------------------------ persistence
    def state_dict(self, *, half=False):
        """Plain-dict checkpoint (tensors, numbers, strings only); ``half`` stores the
        floating weights in float16 (halves the size; loading casts back to float32)."""
        from .. import __version__

        if self.net is None:
            raise ValueError("this MorphologyClassifier has no questions yet: nothing to save")
        history = None
        if self.history is not None:
            history = {"loss": [float(v) for v in self.history.get("loss", [])],
                       "n_train": int(self.history.get("n_train", 0))}
        return {"format": "galssl.MorphologyClassifier", "format_version": CHECKPOINT_FORMAT,
                "galssl_version": __version__, "config": dict(self.config),
                "backbone": self._weights(self.net.backbone.state_dict(), half),
                "head": self._weights(self.net.head.state_dict(), half),
                "history": history, "trained": bool(self._trained)}

    @classmethod
    def load(cls, path, *, questions=None, map_location="cpu"):
        """Load a checkpoint written by `save`.

        Parameters
        ----------
        path : str or path
        questions : sequence of str, optional
            The questions expected: a ValueError if the checkpoint predicts others.
        map_location : optional
            Passed to `torch.load`.
        """
        return super().load(path, map_location=map_location, questions=questions)

    @classmethod
    def from_state_dict(cls, state, *, questions=None, source="state dict"):
        """Build a classifier from the dict of `state_dict`; keys and shapes must match the
        architecture exactly."""
        from ..engine import check_checkpoint, load_strict

        check_checkpoint(state, "MorphologyClassifier", CHECKPOINT_FORMAT, source,
                         required=("backbone", "head"))
        config = dict(state["config"])
        config.setdefault("input_stretch", None)  # checkpoints from before the option
        saved = list(config.get("questions") or [])
        if questions is not None:
            want = list(check_questions(questions))
            if want != saved:
                raise ValueError(f"{source} predicts the questions {saved}, not {want}")
        n_out = state["head"].get("linear.weight")
        if n_out is not None and n_out.shape[0] != len(saved):
            raise ValueError(f"{source} is inconsistent: {len(saved)} questions {saved} but "
                             f"{n_out.shape[0]} head outputs")
        pretrained = config.pop("pretrained_encoder", False)
        mode = config.pop("mode")
        # build without an encoder (weights come from the file), then restore the record
        mc = cls(mode="finetune", **config)
        mc.config["mode"] = mode
        mc.config["pretrained_encoder"] = pretrained
        load_strict(mc.net.backbone, cls._float32(state["backbone"]), "backbone", source)
        load_strict(mc.net.head, cls._float32(state["head"]), "morphology head", source)
        if state.get("history") is not None:
            mc.history = dict(state["history"])
        mc._trained = bool(state.get("trained", True))
        return mc
