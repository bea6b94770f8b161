# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""ContrastiveEncoder: MoCo v2 pretraining on cutout catalogues, and representations."""

import os

import numpy as np

from ..dust import parse_bands
from ..nn import check_queue_size, create_backbone, default_queue_size
from ..nn import photometry_apertures
from ..engine import as_image_source, check_view_room, data_fingerprint, training_rows
from ..utils._checkpoint import CheckpointError
from ..utils._validate import check_number, check_positive_int
from ..utils._checkpoint import read_checkpoint, write_checkpoint  # noqa: F401 (re-exported)
from ..engine import (TRAINING_PARTS, check_checkpoint, load_strict, resume_checkpoint,
                      run_trainer)
from ..surveys import band_label

__all__ = ["ContrastiveEncoder", "CHECKPOINT_FORMAT", "PRESETS", "PRESET_BATCH_SIZE"]

#: Named pretraining recipes for `ContrastiveEncoder.from_preset`.
PRESETS = {
    # Hayat, Stein et al. 2021 (and DESIGN.md): MoCo v2 as the seed ran it.
    "hayat2021": dict(arch="resnet50-paper", input_stretch=None, momentum=0.999,
                      temperature=0.1, lr=0.03, weight_decay=1e-4, queue_size=None,
                      proj_dim=128, crop=64, jitter=7, ebv_max=0.5, psf=False,
                      noise_scale=(1.0, 3.0), warmup_epochs=0, photometry=0.0),
    # The recipe of the representation probe on a 2-core CPU (docs: results, probe).
    "cpu-small": dict(arch="resnet10-small", input_stretch="asinh", momentum=0.99,
                      temperature=0.1, lr=0.03, weight_decay=1e-4, queue_size=4096,
                      proj_dim=128, crop=64, jitter=7, ebv_max=0.1, psf=False,
                      noise_scale=(1.0, 3.0), warmup_epochs=0, photometry=1.0),
}

#: The schedules of the momentum encoder's m (``ContrastiveEncoder(momentum_schedule=...)``).
MOMENTUM_SCHEDULES = ("constant", "cosine")

#: The global batch each preset is meant to train with.
PRESET_BATCH_SIZE = {"hayat2021": 256, "cpu-small": 64}

#: Version of the plain-dict checkpoint written by `ContrastiveEncoder.save`.
CHECKPOINT_FORMAT = 1

#: The photo-z checkpoint formats whose backbone an encoder can be built from.
PHOTOZ_FORMAT_READ = 1


def encode_step(net, x):
    """The representations of a batch (`run_inference` step of `ContrastiveEncoder.encode`)."""
    return {"representation": net(x).float().cpu().numpy()}


class ContrastiveEncoder:
    """Self-supervised representations of multi-band cutouts with MoCo v2.

    Parameters
    ----------
    arch : str, optional
        Encoder architecture (`galssl.nn.list_backbones`): ``"resnet50-paper"`` is the
        seed configuration (Hayat et al. 2021); ``"resnet10-small"`` (default) trains at a
        practical speed on a CPU.
    in_chans : int, optional
        Number of bands.
    bands : str, optional
        Band of each channel.
    queue_size : int, optional
        Number of negatives. Default: ~5 % of the training set, a multiple of the global
        batch (the seed's rule; `galssl.nn.default_queue_size`).
    momentum, temperature, lr, weight_decay : float, optional
        MoCo v2: momentum encoder m = 0.999, InfoNCE temperature 0.1, SGD learning rate 0.03
        (cosine schedule), weight decay 1e-4 (SGD momentum 0.9).
    proj_dim : int, optional
        Output dimension of the projection head (128).
    crop, jitter, ebv_max, psf, noise_scale : optional
        Pretraining augmentations (`galssl.augment.default_pretraining_views`). The new
        E(B-V) of each view is drawn from U(0, ``ebv_max``), 0.1 mag by default: the seed's
        0.5 (preset ``"hayat2021"``) reddens u by up to 2.1 mag and teaches the network to
        ignore a direction of colour that carries redshift; with 0.1 the representation
        probe of the results page gives a kNN photo-z sigma_MAD of 0.0197-0.0198 against
        0.0235-0.0306 (two pretraining seeds each).
    noise_mad : array-like, optional
        Per-band noise level; estimated from the training catalogue by default.
    bn_splits : int, optional
        On one device, number of virtual ranks emulating shuffle-BN (default 2): the batch
        is laid out rank after rank, each group of consecutive images gets its own
        batch-norm statistics, and keys are shuffled across groups; with several devices
        shuffle-BN runs across them instead.
    augment : bool, optional
        With False both views are the deterministic evaluation view (debugging only).
    channels_last : bool, optional
        Run the encoders in channels-last memory format (faster on some hardware).
    input_stretch : {"asinh", "asinh-noise", None}, optional
        ``"asinh"`` (default): the backbone's first layer is a fixed per-band asinh stretch
        with the SDSS softening (`galssl.nn.AsinhStretch`); ``"asinh-noise"`` the same with
        a softening at the sky noise of a pixel (`galssl.nn.PIXEL_NOISE_SOFTENING`); None
        feeds nanomaggies as they are (the seed's input, preset ``"hayat2021"``). Photo-z
        and morphology models built on the encoder keep it. The representation probe of
        the results page prefers the stretch (ridge photo-z sigma_MAD 0.0196 against
        0.0268 with 3,200 labels).
    warmup_epochs : float, optional
        Linear learning-rate warm-up before the cosine schedule.
    momentum_schedule : {"constant", "cosine"}, optional
        ``"constant"`` (default, MoCo): the momentum encoder's m stays at ``momentum``;
        ``"cosine"`` (BYOL, Grill et al. 2020): m rises from ``momentum`` at the first step
        to 1 at the last planned one, m_t = 1 - (1 - m) (cos(pi t / T) + 1) / 2, a closed
        form of the step, so a resumed run follows the uninterrupted one.
    decorrelation : float, optional
        Weight of `galssl.nn.decorrelation_loss` of the query view's backbone
        representations, added to InfoNCE (0, the default: MoCo as it is). A positive
        weight spreads the representations over more dimensions, against the dimensional
        collapse that leaves colours out of them (see the results page).
    photometry : float, optional
        Weight of a second, self-supervised target added to InfoNCE: the squared error of
        a linear read-off of the query view's own aperture magnitude and colours from its
        representation (`galssl.nn.PhotometryHead`; about 1 - R², batch-standardized). It
        keeps in the representations the colours that instance discrimination
        suppresses: with the default of 1 the representation probe's ridge photo-z is 3-5 %
        lower than with MoCo alone (0, the seed's objective and preset ``"hayat2021"``),
        beyond the spread of two pretraining seeds (see the results page).

    Attributes
    ----------
    backbone : `galssl.nn.Backbone`
        The encoder whose representations `encode` returns.
    module : `lightning.LightningModule` or None
        After `fit` or `load`: projection head, momentum encoder and queue.
    history : dict or None
        After `fit`: ``"loss"``, the training loss of every step, and the last logged
        metrics.

    Examples
    --------
    >>> from galssl import ContrastiveEncoder
    >>> enc = ContrastiveEncoder(arch="resnet10-small")
    >>> enc.num_features
    256
    >>> ContrastiveEncoder.from_preset("hayat2021").config["arch"]
    'resnet50-paper'

    References
    ----------
    Chen, X., Fan, H., Girshick, R. & He, K. 2020, arXiv:2003.04297 (MoCo v2).
    Hayat, M. A., Stein, G., Harrington, P., Lukic, Z. & Mustafa, M. 2021, ApJL 911, L33.
    """

    def __init__(self, arch="resnet10-small", in_chans=5, *, bands="ugriz", queue_size=None,
                 momentum=0.999, temperature=0.1, lr=0.03, weight_decay=1e-4, proj_dim=128,
                 crop=64, jitter=7, ebv_max=0.1, psf=False, noise_scale=(1.0, 3.0),
                 noise_mad=None, bn_splits=2, augment=True, channels_last=False,
                 input_stretch="asinh", warmup_epochs=0, momentum_schedule="constant",
                 decorrelation=0.0, photometry=1.0):
        bands = parse_bands(bands)
        if len(bands) != in_chans:
            raise ValueError(f"in_chans={in_chans} but bands={band_label(bands)!r} names "
                             f"{len(bands)} bands")
        momentum = check_number(momentum, "momentum", low=0, high=1)
        temperature = check_number(temperature, "temperature", low=0, low_open=True)
        lr = check_number(lr, "lr", low=0, low_open=True)
        weight_decay = check_number(weight_decay, "weight_decay", low=0)
        ebv_max = check_number(ebv_max, "ebv_max", low=0)
        if momentum_schedule not in MOMENTUM_SCHEDULES:
            raise ValueError(f"momentum_schedule must be one of {MOMENTUM_SCHEDULES}, got "
                             f"{momentum_schedule!r}")
        if int(bn_splits) < 1:
            raise ValueError(f"bn_splits must be a positive integer, got {bn_splits!r}")
        for name, weight in (("decorrelation", decorrelation), ("photometry", photometry)):
            if not 0 <= float(weight) < float("inf"):
                raise ValueError(f"{name} must be a finite weight >= 0, got {weight!r}")
        self.config = dict(
            arch=arch, in_chans=int(in_chans), bands=band_label(bands), queue_size=queue_size,
            momentum=float(momentum), temperature=float(temperature), lr=float(lr),
            weight_decay=float(weight_decay), proj_dim=int(proj_dim), crop=int(crop),
            jitter=int(jitter), ebv_max=float(ebv_max), psf=bool(psf),
            noise_scale=[float(v) for v in noise_scale], bn_splits=int(bn_splits),
            augment=bool(augment), channels_last=bool(channels_last),
            input_stretch=input_stretch, warmup_epochs=float(warmup_epochs),
            momentum_schedule=momentum_schedule, decorrelation=float(decorrelation),
            photometry=float(photometry))
        self.noise_mad = None if noise_mad is None else [float(v) for v in noise_mad]
        self.backbone = create_backbone(arch, in_chans, input_stretch=input_stretch, bands=bands)
        if float(photometry) > 0:  # the view's photometry must be measurable
            photometry_apertures(bands, int(crop))
        self.module = None  # the MoCoModule after fit (projection head, momentum encoder)
        self.history = None
        self._trained = False  # True once the weights come from training or a checkpoint

    @property
    def bands(self):
        """Band of each input channel."""
        return parse_bands(self.config["bands"])

    @property
    def num_features(self):
        """Dimension of the representation."""
        return self.backbone.num_features

    def __repr__(self):
        return (f"<ContrastiveEncoder arch={self.config['arch']!r} bands="
                f"{self.config['bands']} D={self.num_features} "
                f"{'trained' if self._trained else 'untrained'}>")

    # ------------------------------------------------------------------ training
    def fit(self, catalog, *, epochs=1, batch_size=256, devices=None, accelerator=None,
            num_nodes=1, strategy=None, checkpoint_dir=None, resume=False, stop_epoch=None,
            seed=0,
            num_workers=0, precision=None, deterministic=False, max_steps=-1,
            callbacks=None, log_every_n_steps=10, progress=True):
        """Pretrain with MoCo v2 on the complete cutouts of ``catalog``.

        Parameters
        ----------
        catalog : `~galssl.cutouts.CutoutCatalog` or array
            Training images (rows with incomplete images, see ``CutoutCatalog.good``, are
            left out); the catalogue's ``ebv`` column feeds the extinction augmentation.
        epochs : int
            Total number of epochs the run plans (the learning-rate schedule spans them; a
            resumed run continues up to this number).
        batch_size : int
            Global batch (split across devices). A catalogue too small to fill one batch
            trains with the largest power of two up to half its size, with a warning.
        devices, accelerator, num_nodes, strategy : optional
            Passed to `lightning.Trainer`; ``None`` chooses (all GPUs if any, else one CPU;
            DDP when several devices). Multi-node runs under torchrun or SLURM as usual for
            Lightning.
        checkpoint_dir : str, optional
            Where checkpoints (``last.ckpt`` after every epoch) and CSV logs go.
        resume : bool, optional
            Continue from ``checkpoint_dir/last.ckpt``: model, momentum encoder, queue,
            optimiser, schedule, epoch and step, RNG states. The checkpoint is read safely
            (integrity check, no executable pickle content) and refused, with the settings
            that differ, unless it was written with the same settings, seed, batch size and
            training data. A run planned for ``epochs``, stopped with ``stop_epoch`` (or
            killed) and resumed equals an uninterrupted run bit for bit on the CPU. Resuming
            a finished run with more ``epochs`` re-plans the cosine schedule over the new
            total from the current step (its learning rate jumps up): plan the total with
            ``epochs`` and split it with ``stop_epoch`` instead.
        stop_epoch : int, optional
            End this call after this epoch (a checkpoint is written) without changing the
            plan: for long runs over several sittings.
        seed : int, optional
            Seeds initialisation (of an encoder that holds no trained weights yet), data order
            (per epoch), augmentations and shuffle-BN (per step), so that a run is
            reproducible and a resumed run equals an uninterrupted one.
        num_workers : int, optional
            DataLoader worker processes (HDF5 files are opened in each).
        precision : str, optional
            Lightning precision. Default: mixed precision (bf16, else fp16) on CUDA; on a
            CPU, bf16 autocast where the CPU has native bfloat16 (AVX512-BF16/AMX: about
            twice as fast), else fp32. Weights and optimiser state stay fp32.
        deterministic : bool, optional
            Ask torch for deterministic algorithms.
        max_steps : int, optional
            Stop after this many optimiser steps (-1: no limit).
        callbacks : list of `lightning.Callback`, optional
            Extra Lightning callbacks.
        log_every_n_steps : int, optional
            Interval of the CSV log (``checkpoint_dir/logs``); the per-step losses are
            always kept in ``history["loss"]``.
        progress : bool, optional
            Show a progress bar (Lightning's start-up messages and tips are never shown).

        Returns
        -------
        self
        """
        import lightning as L

        from ._module import MoCoModule

        batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
        num_workers = check_positive_int(num_workers, "num_workers", minimum=0)
        seed = check_positive_int(seed, "seed", minimum=0)
        images, ebv, good = as_image_source(catalog, bands=self.bands)
        if images.shape[1] != self.config["in_chans"]:
            raise ValueError(f"the images have {images.shape[1]} channels, the encoder expects "
                             f"{self.config['in_chans']} ({self.config['bands']})")
        check_view_room(images, self.config["crop"], self.config["jitter"])
        rows = np.flatnonzero(training_rows(good, ebv))
        if len(rows) == 0:
            raise ValueError("no complete images to train on (empty catalogue, or every row "
                             "flagged)")
        if len(rows) < batch_size:
            batch_size = self._small_data_batch(len(rows), batch_size, resume)
        ckpt = resume_checkpoint(checkpoint_dir, resume)

        config = dict(self.config)
        if config["queue_size"] is None:
            config["queue_size"] = default_queue_size(len(rows), batch_size)
        check_queue_size(config["queue_size"], len(rows))
        if self.noise_mad is None:
            from ..augment import estimate_noise_mad

            sample = rows[:: max(1, len(rows) // 2000)]
            self.noise_mad = [float(v) for v in estimate_noise_mad(
                np.asarray(images[np.sort(sample)]), progress=False)]
        config.update(seed=int(seed), batch_size=int(batch_size), num_workers=int(num_workers),
                      noise_mad=list(self.noise_mad), data=data_fingerprint(images, ebv, rows))

        L.seed_everything(seed, workers=True, verbose=False)
        module = MoCoModule(config, self.noise_mad, data=(images, ebv, rows))
        if self._trained:  # continue from the weights held; else a fresh init from `seed`
            module.backbone.load_state_dict(self.backbone.state_dict())
            module.backbone_k.load_state_dict(self.backbone.state_dict())
            if self.module is not None:
                for name in ("head", "head_k", "backbone_k", "photometry_head"):
                    if hasattr(module, name) and hasattr(self.module, name):
                        getattr(module, name).load_state_dict(getattr(self.module, name)
                                                              .state_dict())

        trainer = run_trainer(
            module, epochs=epochs, stop_epoch=stop_epoch, max_steps=max_steps, devices=devices,
            accelerator=accelerator, num_nodes=num_nodes, strategy=strategy,
            checkpoint_dir=checkpoint_dir, ckpt=ckpt, precision=precision,
            deterministic=deterministic, callbacks=callbacks,
            log_every_n_steps=log_every_n_steps, progress=progress)
        module._data = None
        self._trained = True
        self.module = module.cpu()
        self.backbone = self.module.backbone
        self.config = {k: config[k] for k in self.config}
        self.config["queue_size"] = config["queue_size"]
        self.history = {"loss": [float(v) for v in module.loss_history],
                        **{k: float(v) for k, v in trainer.callback_metrics.items()}}
        return self

    @staticmethod
    def _small_data_batch(n, batch_size, resume):
        """The batch for ``n`` training images that cannot fill ``batch_size``: the largest
        power of two up to n / 2 (so that an epoch has two steps and the queue fits), with
        a warning that says so; a resumed run must keep its batch, so it raises."""
        import warnings

        from astropy.utils.exceptions import AstropyUserWarning

        if resume or n < 4:
            raise ValueError(f"{n} training images cannot fill one batch of {batch_size}"
                             + ("" if n >= 4 else " (pretraining needs at least 4)"))
        new = 2 ** int(np.floor(np.log2(n // 2)))
        warnings.warn(
            f"{n} training images cannot fill one batch of {batch_size}: using "
            f"batch_size={new} (and a queue to match). Contrastive pretraining learns "
            f"little from so few galaxies: it pays off with tens of thousands of unlabelled "
            f"galaxies or more (see the results page of the documentation)",
            AstropyUserWarning)
        return new

    # ------------------------------------------------------------------ inference
    def encode(self, data, *, batch_size=256, devices=None, progress=True, num_nodes=1,
               accelerator=None, strategy=None, device=None):
        """Representations of images: deredden, centre-crop, encode (no projection head).

        Parameters
        ----------
        data : `~galssl.cutouts.CutoutCatalog` or array
            Cutouts (HDF5-backed catalogues are streamed batch by batch). NaN pixels count
            as 0; rows with no data at all get NaN representations.
        batch_size : int, optional
            Images per forward pass (per device).
        devices : str, int, list or None, optional
            Where to run: one device by name (``"cpu"``, ``"cuda:1"``; ``"cuda"`` without
            CUDA raises), or several (a count or list of indices): the rows are split into
            one contiguous shard per process on Lightning's DDP and gathered again, giving
            the result of a one-process run. None: one process, on CUDA when available.
        progress : bool, optional
            Show a progress bar.
        num_nodes, accelerator, strategy : optional
            As in `fit`.
        device : str, optional
            Deprecated spelling of ``devices`` (warns).

        Returns
        -------
        ndarray
            (N, D) float32, one row per input row, in order.
        """
        from ..augment import eval_transform
        from ..engine import devices_alias, run_inference

        devices = devices_alias(device, devices, "ContrastiveEncoder.encode")
        images, ebv, _ = as_image_source(data, bands=self.bands)
        n = len(images)
        if n and images.shape[1] != self.config["in_chans"]:
            raise ValueError(f"the images have {images.shape[1]} channels, the encoder expects "
                             f"{self.config['in_chans']} ({self.config['bands']})")
        transform = eval_transform(bands=self.bands, out=self.config["crop"])
        res = run_inference(self.backbone, images, ebv, None, transform, encode_step,
                            batch_size=batch_size, progress=progress,
                            desc="encoding", devices=devices, num_nodes=num_nodes,
                            accelerator=accelerator, strategy=strategy)
        if not n:
            return np.zeros((0, self.num_features), np.float32)
        reps = res["representation"]
        reps[res["empty"]] = np.nan
        return reps

    # ------------------------------------------------------------------ persistence
    def state_dict(self, *, half=False, training_state=True):
        """The plain-dict checkpoint (tensors, numbers, strings only).

        ``half`` stores floating-point weights as float16 (half the size; loading casts
        them back to float32). ``training_state=False`` keeps only what `encode` needs (the
        backbone), leaving out the projection head, momentum encoder and queue that
        continuing the pretraining needs.
        """
        from .. import __version__

        def tensors(sd):
            return {k: (v.half() if half and v.is_floating_point() else v.clone())
                    for k, v in sd.items()}

        state = {"format": "galssl.ContrastiveEncoder", "format_version": CHECKPOINT_FORMAT,
                 "galssl_version": __version__, "config": dict(self.config),
                 "noise_mad": self.noise_mad,
                 "backbone": tensors(self.backbone.state_dict())}
        if self.module is not None and training_state:
            m = self.module
            state.update({name: tensors(getattr(m, name).state_dict())
                          for name in TRAINING_PARTS if hasattr(m, name)})
        return state

    def save(self, path, *, half=False, training_state=True, overwrite=False):
        """Save a plain-dict checkpoint (loadable with ``torch.load(weights_only=True)``);
        ``half`` and ``training_state`` as in `state_dict`. The file is written atomically
        (an interrupted save leaves the old file intact); an existing ``path`` is replaced
        only with ``overwrite=True``."""
        write_checkpoint(self.state_dict(half=half, training_state=training_state), path,
                         overwrite=overwrite)

    @classmethod
    def load(cls, path, *, map_location="cpu"):
        """Load a checkpoint written by `save`; keys must match exactly."""
        return cls.from_state_dict(read_checkpoint(path, map_location),
                                   source=os.fspath(path))

    @classmethod
    def from_pretrained(cls, name=None, *, path=None, map_location="cpu"):
        """Load a pretrained encoder (`galssl.pretrained`), offline for shipped weights.

        ``name=None`` gives the encoder shipped with galssl (sha256-checked); a registry
        name (`galssl.pretrained.list_pretrained`) loads those weights (for a photo-z
        record, the backbone of that model; for the seed's checkpoints, a download into
        astropy's cache unless ``path`` names a local copy); the path of a galssl
        checkpoint loads that file (a path that does not exist is a `FileNotFoundError`).

        Examples
        --------
        >>> from galssl import ContrastiveEncoder
        >>> enc = ContrastiveEncoder.from_pretrained()
        >>> enc.num_features, enc.bands
        (256, ('u', 'g', 'r', 'i', 'z'))
        """
        import dataclasses

        from ..pretrained import is_checkpoint_path, pretrained_state

        if is_checkpoint_path(name):
            return cls.load(name, map_location=map_location)
        got = pretrained_state(name, kind="encoder", path=path, map_location=map_location)
        if got.layout == "hayat2021":
            return cls.from_hayat2021(got.state, source=got.source)
        if got.record.kind == "photoz":
            return cls.from_photoz_checkpoint(got.state, source=got.source)
        enc = cls.from_state_dict(got.state, source=got.source)
        enc.card = dataclasses.asdict(got.record)
        return enc

    @classmethod
    def from_hayat2021(cls, state, *, source="checkpoint"):
        """The encoder of a Hayat et al. (2021) checkpoint (their dict, or the
        ``{"backbone": ..., "head": ...}`` of `galssl.pretrained.hayat2021_key_map`),
        loaded strictly into the ``hayat2021`` preset (ResNet-50, nanomaggies in)."""
        from ..pretrained import hayat2021_key_map

        backbone = state["backbone"] if isinstance(state, dict) and \
            set(state) == {"backbone", "head"} else hayat2021_key_map(state)[0]
        enc = cls.from_preset("hayat2021")
        load_strict(enc.backbone, backbone, "backbone", source)
        enc._trained = True
        return enc

    @classmethod
    def from_photoz_checkpoint(cls, state, *, source="photo-z checkpoint"):
        """The encoder behind a photo-z model: the settings and a copy of the backbone of a
        `~galssl.PhotoZEstimator` checkpoint dict (its ``state_dict()``; what
        ``PhotoZEstimator.to_encoder()`` and ``from_pretrained`` of a photo-z record give).

        Examples
        --------
        >>> import numpy as np
        >>> from galssl import ContrastiveEncoder, PhotoZEstimator
        >>> pz = PhotoZEstimator(crop=32)
        >>> enc = ContrastiveEncoder.from_photoz_checkpoint(pz.state_dict())
        >>> enc.encode(np.zeros((2, 5, 32, 32), np.float32), progress=False).shape
        (2, 256)
        """
        check_checkpoint(state, "PhotoZEstimator", PHOTOZ_FORMAT_READ, source,
                         required=("backbone", "head"))
        c = state["config"]
        enc = cls(arch=c["arch"], in_chans=c["in_chans"], bands=c["bands"],
                  input_stretch=c.get("input_stretch"), crop=c["crop"])
        enc.backbone = create_backbone(c["arch"], c["in_chans"],
                                       input_stretch=c.get("input_stretch"),
                                       bands=parse_bands(c["bands"]))
        load_strict(enc.backbone, {k: (v.float() if v.is_floating_point() else v)
                                   for k, v in state["backbone"].items()}, "backbone", source)
        enc._trained = bool(state.get("trained", True))
        return enc

    @classmethod
    def from_preset(cls, name, **overrides):
        """A new, untrained encoder with the settings of a named recipe (`PRESETS`).

        ``"hayat2021"`` is the seed's exact configuration (ResNet50, nanomaggies in, m =
        0.999, queue ~5 % of the data; train it with ``batch_size=256``); ``"cpu-small"``
        is the recipe the representation probe chose on a 2-core CPU (resnet10-small,
        asinh stretch, m = 0.99, queue 4,096; ``batch_size=64``). ``overrides`` replace
        single settings. The batch size of each preset is ``PRESET_BATCH_SIZE[name]``.

        Examples
        --------
        >>> from galssl import ContrastiveEncoder
        >>> enc = ContrastiveEncoder.from_preset("hayat2021", arch="resnet10-small")
        >>> enc.config["momentum"], enc.config["input_stretch"]
        (0.999, None)
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**dict(PRESETS[name], **overrides))

    @classmethod
    def from_state_dict(cls, state, *, source="state dict"):
        """Build an encoder from the dict of `state_dict` (``source`` names it in errors)."""
        check_checkpoint(state, "ContrastiveEncoder", CHECKPOINT_FORMAT, source)
        config = dict(state["config"])
        config.setdefault("input_stretch", None)  # checkpoints from before the option
        config.setdefault("photometry", 0.0)  # likewise: trained with InfoNCE alone
        queue_size = config.pop("queue_size", None)
        enc = cls(**config, noise_mad=state.get("noise_mad"))
        enc.config["queue_size"] = queue_size
        load_strict(enc.backbone, state["backbone"], "backbone", source)
        enc._trained = True
        if "head" in state:
            from ._module import MoCoModule

            mc = dict(enc.config, seed=0, batch_size=2, num_workers=0,
                      queue_size=state["queue"]["queue"].shape[0])
            module = MoCoModule(mc, enc.noise_mad or [1.0] * config["in_chans"])
            module.backbone = enc.backbone
            for name in TRAINING_PARTS:
                if hasattr(module, name) != (name in state):
                    raise CheckpointError(
                        f"{source}: its {name} weights do not match its config "
                        f"(photometry={config['photometry']})")
                if name in state:
                    load_strict(getattr(module, name), state[name], name, source)
            enc.module = module
        return enc


def backbone_for_head(encoder, *, arch, in_chans, bands, crop, input_stretch=None):
    """What a supervised model on top of ``encoder`` starts from: ``(arch, in_chans, bands,
    crop, input_stretch, backbone)``, the encoder's settings and a copy of its backbone with
    plain batch norm; without an encoder (None) the given settings and a new backbone of
    ``arch``. ``bands`` (a tuple) is checked against ``in_chans``."""
    import copy

    from ..nn import set_batchnorm_splits

    if encoder is not None:
        if not isinstance(encoder, ContrastiveEncoder):
            raise TypeError(f"encoder must be a ContrastiveEncoder or None, got "
                            f"{type(encoder).__name__}")
        ec = encoder.config
        arch, in_chans, bands, crop = ec["arch"], ec["in_chans"], ec["bands"], ec["crop"]
        input_stretch = ec.get("input_stretch")
        backbone = set_batchnorm_splits(copy.deepcopy(encoder.backbone), 1)
    bands = parse_bands(bands)
    if len(bands) != in_chans:
        raise ValueError(f"in_chans={in_chans} but bands={band_label(bands)!r} names "
                         f"{len(bands)} bands")
    if encoder is None:
        backbone = create_backbone(arch, in_chans, input_stretch=input_stretch, bands=bands)
    return arch, in_chans, bands, crop, input_stretch, backbone
