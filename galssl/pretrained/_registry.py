# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The registry of named weights: records (model cards), checksums, downloads and the key map
of the seed's checkpoints. It hands out checked state dicts (`pretrained_state`); each
model class builds itself from them (``from_pretrained``), so nothing here imports a model.

Each record says what the weights expect (architecture, bands, pixel scale, cutout and crop
size, dereddening convention, redshift bins), where they come from (training data, recipe,
hardware), how good they are (metrics on held-out data), their licence, citation and sha256.
"""

import collections
import dataclasses
import json
import os

from ..utils._checkpoint import read_checkpoint, sha256sum

__all__ = ["PretrainedModel", "list_pretrained", "get_pretrained", "pretrained_state",
           "PretrainedState", "is_checkpoint_path", "DEFAULT_PHOTOZ", "DEFAULT_ENCODER",
           "sha256sum", "hayat2021_key_map"]

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

#: Name of the photo-z model loaded by ``PhotoZEstimator.from_pretrained()``.
DEFAULT_PHOTOZ = "galssl-sdss-photoz-resnet10-small-v1"

#: Name of the encoder loaded by ``ContrastiveEncoder.from_pretrained()`` (shipped).
DEFAULT_ENCODER = "galssl-sdss-moco-resnet10-small-v3"

_HAYAT_URL = "https://portal.nersc.gov/project/dasrepo/self-supervised-learning-sdss/checkpoints/"
_HAYAT_COMMON = dict(
    arch="resnet50-paper", in_chans=5, bands="ugriz", pixel_scale=0.396, cutout_size=107,
    crop=64, normalisation="the seed's own preprocessing of SDSS DR12 cutouts (Hayat et al. "
    "2021, appendix); galssl feeds dereddened nanomaggies, centre-cropped to 64 px: check the "
    "photometric scale on your data before trusting absolute outputs", z_min=0.0, z_max=0.4,
    n_bins=180, sha256=None, licence="not stated by the authors (public download)",
    citation="Hayat, M. A., Stein, G., Harrington, P., Lukic, Z. & Mustafa, M. 2021, ApJL "
    "911, L33 (arXiv:2012.13083)",
    training_data="~1.2 M SDSS DR12 galaxies (pretraining); ~400k with spectroscopic "
    "redshifts (photo-z), Hayat et al. 2021",
    hardware="8 NVIDIA V100 GPUs (Hayat et al. 2021)", metrics={},
    limitations="Key layout mapped from the authors' code (torchvision ResNet-50 names, "
    "optional 'module.' prefix); the authors publish no checksum, so the download is checked "
    "by strict key and shape matching only.", shipped=False)


@dataclasses.dataclass(frozen=True)
class PretrainedModel:
    """A registry record: the model card of one set of weights."""

    name: str
    kind: str  # "photoz" or "encoder"
    description: str
    arch: str
    in_chans: int
    bands: str
    pixel_scale: float
    cutout_size: int
    crop: int
    normalisation: str
    z_min: float
    z_max: float
    n_bins: int
    sha256: str
    licence: str
    citation: str
    training_data: str
    hardware: str
    metrics: dict
    limitations: str
    shipped: bool
    filename: str = None
    url: str = None
    recipe: str = ""
    wall_time: str = ""
    size_bytes: int = 0

    @property
    def path(self):
        """Location of shipped weights inside the package (None if not shipped)."""
        return os.path.join(_DATA, self.filename) if self.shipped else None

    def write(self, path, *, card=None):
        """Write the record as JSON to ``path`` (the registry reads such files from the
        package's data folder) and, with ``card``, the model card without its title as
        reStructuredText to that path (for the docs)."""
        from ..utils._atomic import atomic_output

        with atomic_output(path, overwrite=True) as tmp, open(tmp, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)
            f.write("\n")
        if card is not None:
            with atomic_output(card, overwrite=True) as tmp, open(tmp, "w") as f:
                f.write("\n".join(self.card().splitlines()[3:]) + "\n")

    def card(self):
        """The model card as reStructuredText."""
        lines = [self.name, "=" * len(self.name), "", self.description, ""]
        fields = [("Kind", self.kind), ("Architecture", self.arch),
                  ("Bands", f"{self.bands} ({self.in_chans} channels)"),
                  ("Pixel scale", f"{self.pixel_scale} arcsec/pixel"),
                  ("Cutouts", f"{self.cutout_size} px, centre-cropped to {self.crop} px"),
                  ("Input convention", self.normalisation),
                  ("Redshift bins", f"{self.n_bins} on [{self.z_min}, {self.z_max}]"
                   if self.kind == "photoz" else ""),
                  ("Training data", self.training_data), ("Recipe", self.recipe),
                  ("Hardware", self.hardware), ("Wall time", self.wall_time),
                  ("Limitations", self.limitations), ("Licence", self.licence),
                  ("Citation", self.citation),
                  ("Source", "shipped inside galssl" if self.shipped else self.url),
                  ("sha256", self.sha256 or "not published")]
        for k, v in fields:
            if v:
                lines.append(f":{k}: {v}")
        if self.metrics:
            lines += ["", "Metrics", "-------", ""]
            for k, v in self.metrics.items():
                lines.append(f"* {k}: {v}")
        return "\n".join(lines) + "\n"


def _registry():
    models = {}
    for fn in sorted(os.listdir(_DATA)) if os.path.isdir(_DATA) else []:
        if fn.endswith(".json"):
            with open(os.path.join(_DATA, fn)) as f:
                rec = PretrainedModel(**json.load(f))
            models[rec.name] = rec
    for name, fn, kind, what in [
            ("hayat2021-pretrained", "pretrained_paper_model.pth.tar", "encoder",
             "The seed paper's MoCo v2 ResNet-50 encoder (2048-d representations)."),
            ("hayat2021-photoz-finetuned", "photoz_finetuned_model.pth.tar", "photoz",
             "The seed paper's photo-z model fine-tuned from the MoCo encoder "
             "(sigma_MAD 0.00825, eta 0.209 % on their test set)."),
            ("hayat2021-photoz-supervised", "photoz_supervised_baseline_model.pth.tar",
             "photoz", "The seed paper's supervised ResNet-50 photo-z baseline (sigma_MAD "
             "0.00890, eta 0.304 % on their test set).")]:
        models[name] = PretrainedModel(name=name, kind=kind, description=what, url=_HAYAT_URL
                                       + fn, filename=fn, **_HAYAT_COMMON)
    return models


def list_pretrained():
    """Table of the registered weights: name, kind, arch, bands, shipped, description.

    Examples
    --------
    >>> from galssl.pretrained import list_pretrained
    >>> t = list_pretrained()
    >>> "hayat2021-photoz-finetuned" in t["name"]
    True
    """
    from astropy.table import Table

    recs = list(_registry().values())
    return Table(rows=[(r.name, r.kind, r.arch, r.bands, r.shipped, r.description)
                       for r in recs],
                 names=("name", "kind", "arch", "bands", "shipped", "description"),
                 dtype=(str, str, str, str, bool, str))


def get_pretrained(name=None):
    """The `PretrainedModel` record of ``name`` (default: the shipped photo-z model).

    Examples
    --------
    >>> from galssl.pretrained import get_pretrained
    >>> rec = get_pretrained()
    >>> rec.arch, rec.bands, rec.n_bins, rec.shipped
    ('resnet10-small', 'ugriz', 180, True)
    """
    reg = _registry()
    name = DEFAULT_PHOTOZ if name is None else name
    if name not in reg:
        raise KeyError(f"no pretrained weights named {name!r}; known: {sorted(reg)}")
    return reg[name]


def _download(rec):
    from astropy.utils.data import download_file

    try:
        return download_file(rec.url, cache=True, pkgname="galssl", show_progress=True)
    except Exception as exc:
        raise OSError(f"could not download {rec.name!r} from {rec.url} ({exc}). Without "
                      f"network, fetch the file elsewhere and pass it: "
                      f"from_pretrained({rec.name!r}, path='...')") from exc


def hayat2021_key_map(state):
    """Split a Hayat et al. (2021) checkpoint into galssl backbone and head state dicts.

    Their ``model_state`` uses torchvision ResNet-50 names (``conv1``, ``bn1``,
    ``layer1..4``, ``fc``), possibly prefixed by ``module.`` (DistributedDataParallel) and,
    in the MoCo checkpoint, ``encoder_q.`` (the query encoder; ``encoder_k.`` and the queue
    are dropped). Backbone keys become ``body.<name>``; ``fc.*`` keys are the head.
    """
    import torch

    sd = state.get("model_state", state.get("state_dict", state)) \
        if isinstance(state, dict) else None
    if not isinstance(sd, dict) or not sd or \
            not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError("not a Hayat et al. checkpoint: no 'model_state' dict of weights")
    backbone, head, dropped = {}, {}, []
    for key, value in sd.items():
        k = key[len("module."):] if key.startswith("module.") else key
        if k.startswith("encoder_k.") or k in ("queue", "queue_ptr"):
            dropped.append(key)
            continue
        if k.startswith("encoder_q."):
            k = k[len("encoder_q."):]
        if k.startswith("fc."):
            head[k[len("fc."):]] = value
        else:
            backbone["body." + k] = value
    return backbone, head, dropped


#: What `pretrained_state` returns: the `PretrainedModel` record, the state dict, where it
#: came from (for messages) and its layout: ``"galssl"`` (a checkpoint written by a galssl
#: model's ``save``, of the record's kind) or ``"hayat2021"`` (``{"backbone": ...,
#: "head": ...}`` in galssl's key names, from `hayat2021_key_map`).
PretrainedState = collections.namedtuple("PretrainedState", "record state source layout")


def is_checkpoint_path(name):
    """Whether ``name`` is meant as a file rather than a registry name: it exists, or it has
    a folder or a checkpoint ending (a registry name has neither). A path that does not
    exist is then a `FileNotFoundError` for the caller, not an unknown registry name."""
    if name is None:
        return False
    name = os.fspath(name)
    if os.path.exists(name):
        return True
    return os.sep in name or "/" in name or name.endswith((".pt", ".pth", ".ckpt", ".tar"))


def pretrained_state(name=None, *, kind="photoz", path=None, map_location="cpu"):
    """The checked weights of a registry entry.

    Parameters
    ----------
    name : str, optional
        A registry name (`list_pretrained`); None: the shipped default of ``kind``
        (`DEFAULT_PHOTOZ` or `DEFAULT_ENCODER`).
    kind : {"photoz", "encoder"}
        What the caller builds. An encoder can be built from a photo-z record (its backbone);
        a photo-z model cannot be built from an encoder record.
    path : str, optional
        For entries that are downloaded: a local copy of the file instead of the download.

    Returns
    -------
    PretrainedState

    Raises
    ------
    KeyError
        If there is no such entry.
    OSError
        If shipped weights fail their sha256 check, or a download is impossible (offline);
        the message says where to get the file and how to pass it with ``path``.
    """
    if kind not in ("photoz", "encoder"):
        raise ValueError(f"kind must be 'photoz' or 'encoder', got {kind!r}")
    rec = get_pretrained(name if name is not None else
                         (DEFAULT_ENCODER if kind == "encoder" else DEFAULT_PHOTOZ))
    if rec.kind != kind and not (kind == "encoder" and rec.kind == "photoz"):
        raise ValueError(f"{rec.name!r} holds {rec.kind} weights, not {kind}")
    if rec.shipped:
        file = rec.path
        if not os.path.isfile(file):
            raise OSError(f"the shipped weights {file!r} are missing: reinstall galssl")
        digest = sha256sum(file)
        if digest != rec.sha256:
            raise OSError(f"{file!r} fails its sha256 check ({digest} != {rec.sha256}): "
                          f"the file is damaged; reinstall galssl")
        return PretrainedState(rec, read_checkpoint(file, map_location), file, "galssl")
    file = path if path is not None else _download(rec)
    if rec.sha256 and sha256sum(file) != rec.sha256:
        raise OSError(f"{file!r} does not match the sha256 of {rec.name!r}")
    state = read_checkpoint(file, map_location, what=f"checkpoint of {rec.name!r}")
    backbone, head, _ = hayat2021_key_map(state)
    return PretrainedState(rec, {"backbone": backbone, "head": head},
                           f"{rec.name} ({file})", "hayat2021")
