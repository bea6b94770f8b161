# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""``galssl`` command: ``demo`` (the main job on the bundled sample), ``cutouts``,
``simulate``, ``pretrain``, ``encode``, ``photoz`` and ``label-efficiency``."""

import argparse
import os
import sys
import warnings

from ..utils._atomic import check_new_output, save_array, save_figure, write_table


def _positive_int(text):
    """argparse type: a positive integer (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


__all__ = ["main"]


class _Formatter(argparse.HelpFormatter):
    """States each option's default where its help text does not already."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or \
                action.option_strings == [] or isinstance(default, list) and not default:
            return text
        return f"{text} (default: {default})"


def _parser():
    from .. import __version__

    p = argparse.ArgumentParser(
        prog="galssl",
        description="Self-supervised representations of multi-band galaxy images.")
    p.add_argument("--version", action="version", version=f"galssl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    # every subcommand: its help line is also its description, and its defaults are stated
    add_parser = sub.add_parser

    def described(name, **kwargs):
        kwargs.setdefault("description", kwargs.get("help"))
        kwargs.setdefault("formatter_class", _Formatter)
        return add_parser(name, **kwargs)

    sub.add_parser = described

    demo = sub.add_parser("demo", help="run the main job on the bundled real SDSS sample")
    demo.add_argument("--out", default="galssl-demo",
                      help="output directory (default: ./galssl-demo)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")

    cut = sub.add_parser("cutouts", help="cut multi-band cutouts out of frames into HDF5")
    cut.add_argument("frames", nargs="*", help="frame files, glob patterns or directories")
    cut.add_argument("--frames", dest="frames_opt", nargs="+", default=[],
                     help="frames, as an option (same as the positional arguments)")
    cut.add_argument("--out", required=True, help="output HDF5 file")
    src = cut.add_mutually_exclusive_group()
    src.add_argument("--detect", action="store_true",
                     help="detect the galaxies in the frames (default without --table)")
    src.add_argument("--table", help="a table of positions (any astropy-readable format)")
    cut.add_argument("--ra", help="right ascension column of --table")
    cut.add_argument("--dec", help="declination column of --table")
    cut.add_argument("--survey", default="sdss",
                     help="the survey of the frames (galssl.surveys: sdss, legacy-south, "
                     "legacy-north, hsc, des, rubin); sets the default bands and pixel scale "
                     "(default: sdss)")
    cut.add_argument("--bands", default=None,
                     help="bands in channel order: SDSS letters (ugriz) or survey-qualified "
                     "names separated by commas (hsc-g,hsc-r,hsc-i) (default: the survey's "
                     "bands, ugriz for sdss)")
    cut.add_argument("--pixel-scale", type=float, default=None,
                     help="output pixel scale in arcsec (default: the survey's, 0.396 for "
                     "sdss)")
    cut.add_argument("--size", type=_positive_int, default=107,
                     help="cutout side in pixels (default: 107, 42 arcsec at 0.396\"/px)")
    cut.add_argument("--all-sources", action="store_true",
                     help="with --detect, keep stars as well as galaxies")
    cut.add_argument("--missing-band", choices=("raise", "flag"), default="raise",
                     help="a field lacking a band's frame: stop with an error (raise, the "
                     "default) or keep its objects with NaN images and the MISSING_BAND flag")
    cut.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    cut.add_argument("--no-progress", action="store_true", help="hide progress bars")

    sim = sub.add_parser("simulate", help="inject catalogue galaxies into real frames (GalSim)")
    sim.add_argument("--catalog", required=True,
                     help="table with photometry (mag_u..mag_z, or MODELFLUX) and redshifts")
    sim.add_argument("--frames", nargs="+", required=True,
                     help="frames, globs or folders of complete fields")
    sim.add_argument("--out", required=True, help="output HDF5 file")
    sim.add_argument("--redshift", default="redshift", help="redshift column")
    sim.add_argument("--n", type=int, default=None, help="inject the first N usable rows")
    sim.add_argument("--seed", type=int, default=0,
                     help="random seed of positions, orientations and noise (default: 0)")
    sim.add_argument("--size", type=_positive_int, default=107,
                     help="cutout side in pixels (default: 107)")
    sim.add_argument("--per-round", type=_positive_int, default=60,
                     help="galaxies per field and round (each round on fresh frames)")
    sim.add_argument("--n-jobs", type=_positive_int, default=1, help="worker processes")
    sim.add_argument("--keep-bad-rows", action="store_true",
                     help="keep rows with unusable photometry or redshift in the catalogue "
                     "given to the injection, which then stops with an error naming them "
                     "(default: leave them out and say which)")
    sim.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    sim.add_argument("--no-progress", action="store_true", help="hide progress bars")

    pre = sub.add_parser("pretrain", help="MoCo v2 pretraining on an HDF5 cutout catalogue")
    pre.add_argument("--data", required=True, help="cutouts.h5 written by `galssl cutouts`")
    pre.add_argument("--out", required=True,
                     help="output folder: encoder.pt, checkpoints/ and CSV logs")
    # names spelled out rather than read from galssl.ssl.PRESETS and galssl.nn.list_backbones:
    # those import torch, and building the parser must stay cheap (`galssl --help`); a test
    # checks that the help names every one, and unknown names are refused by the library
    pre.add_argument("--preset", default=None,
                     help="start from a named recipe (galssl.ssl.PRESETS): hayat2021 (the "
                     "seed's exact settings, batch 256) or cpu-small (the probe's CPU recipe, "
                     "batch 64); the options below override it")
    pre.add_argument("--arch", default=None,
                     help="encoder architecture: resnet10-small (default), resnet18, "
                     "resnet50, resnet18-paper or resnet50-paper (galssl.nn.list_backbones)")
    pre.add_argument("--input-stretch", choices=("asinh", "asinh-noise", "none"), default=None,
                     help="input scaling: the fixed per-band asinh stretch with the SDSS "
                     "softening (default), with a softening at the pixel noise (asinh-noise), "
                     "or raw nanomaggies (none)")
    pre.add_argument("--epochs", type=_positive_int, default=10,
                     help="planned epochs of the run (default: 10)")
    pre.add_argument("--batch-size", type=_positive_int, default=None,
                     help="global batch (default: the preset's, else 256)")
    pre.add_argument("--queue-size", type=_positive_int, default=None,
                     help="negatives in the queue (default: ~5%% of the images, a multiple "
                     "of the batch)")
    pre.add_argument("--momentum", type=float, default=None,
                     help="momentum-encoder coefficient m (default: 0.999)")
    pre.add_argument("--temperature", type=float, default=None,
                     help="InfoNCE temperature (default: 0.1)")
    pre.add_argument("--lr", type=float, default=None,
                     help="initial SGD learning rate of the cosine schedule (default: 0.03)")
    pre.add_argument("--crop", type=_positive_int, default=None,
                     help="side of the centre crop the network sees, pixels (default: 64)")
    pre.add_argument("--devices", default=None, help="number of devices (default: choose)")
    pre.add_argument("--num-nodes", type=_positive_int, default=1,
                     help="nodes of a multi-node run (default: 1)")
    pre.add_argument("--num-workers", type=int, default=0,
                     help="data-loader worker processes (default: 0)")
    pre.add_argument("--seed", type=int, default=0,
                     help="seed of the initial weights and the augmentations (default: 0)")
    pre.add_argument("--precision", default=None,
                     help="Lightning precision, e.g. 32-true or bf16-mixed (default: choose)")
    pre.add_argument("--bn-splits", type=_positive_int, default=2,
                     help="batch-norm groups emulating shuffle-BN on one device")
    pre.add_argument("--resume", action="store_true",
                     help="continue from OUT/checkpoints/last.ckpt (same settings and data)")
    pre.add_argument("--stop-epoch", type=_positive_int, default=None,
                     help="end this sitting after this epoch, keeping the schedule planned "
                     "for --epochs; continue later with --resume")
    pre.add_argument("--no-progress", action="store_true", help="hide progress bars")

    enc = sub.add_parser("encode", help="representations of a cutout catalogue")
    enc.add_argument("--model", default=None,
                     help="encoder.pt, the folder holding it, or the name of a pretrained "
                     "encoder (galssl.pretrained) (default: the encoder shipped with galssl)")
    enc.add_argument("--data", required=True, help="cutouts.h5")
    enc.add_argument("--out", required=True, help="output .npy file, (N, D) float32")
    enc.add_argument("--batch-size", type=_positive_int, default=256,
                     help="images per forward pass (default: 256)")
    enc.add_argument("--device", default=None,
                     help="deprecated spelling of --devices (one device, e.g. cpu or cuda:0)")
    _distributed_options(enc)
    enc.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    enc.add_argument("--no-progress", action="store_true", help="hide progress bars")

    pz = sub.add_parser("photoz", help="photometric redshifts (PDFs, z_phot, flags) of "
                        "cutouts or of the positions of a table")
    src = pz.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="cutouts.h5 written by galssl cutouts")
    src.add_argument("--table", help="table with ra/dec (any astropy-readable file); cutouts "
                     "are made from --frames")
    pz.add_argument("--frames", nargs="+", default=None,
                    help="frames for --table (without: fetched from SDSS, needs network)")
    pz.add_argument("--model", default=None,
                    help="registry name or checkpoint path (default: the shipped model)")
    pz.add_argument("--out", required=True, help="output table (.fits, .ecsv, .h5, ...)")
    pz.add_argument("--no-calibration", action="store_true",
                    help="skip the PIT recalibration of the PDFs")
    pz.add_argument("--no-pdf", action="store_true", help="leave the z_pdf column out")
    pz.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    pz.add_argument("--batch-size", type=_positive_int, default=256,
                    help="images per forward pass (default: 256)")
    pz.add_argument("--device", default=None,
                    help="deprecated spelling of --devices (one device, e.g. cpu or cuda:0)")
    _distributed_options(pz)
    pz.add_argument("--no-progress", action="store_true", help="hide progress bars")

    le = sub.add_parser("label-efficiency", help="photo-z quality against the number of "
                        "labels: supervised, fine-tuned and colour-only")
    le.add_argument("--encoder", default=None, help="pretrained encoder.pt (for finetuned)")
    le.add_argument("--train", required=True, help="labelled training cutouts.h5")
    le.add_argument("--test", required=True, help="labelled test cutouts.h5")
    le.add_argument("--redshift", default="redshift", help="redshift column")
    le.add_argument("--fractions", type=float, nargs="+",
                    default=[0.025, 0.0625, 0.125, 0.25, 0.5, 1.0],
                    help="fractions of the training labels to train on (default: 0.025 "
                    "0.0625 0.125 0.25 0.5 1)")
    le.add_argument("--methods", nargs="+", default=["supervised", "finetuned", "colours"],
                    choices=("supervised", "finetuned", "linear", "colours"),
                    help="methods to compare; finetuned and linear need --encoder (default: "
                    "supervised finetuned colours)")
    le.add_argument("--epochs", type=_positive_int, default=100,
                    help="training epochs of every network (default: 100)")
    le.add_argument("--batch-size", type=_positive_int, default=256,
                    help="training batch (default: 256)")
    le.add_argument("--seed", type=int, default=0,
                    help="seed of the label subsets and of training (default: 0)")
    le.add_argument("--out", required=True, help="output directory (table and figure)")
    le.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def _distributed_options(parser):
    """The options of inference on several devices or nodes (encode, photoz)."""
    parser.add_argument("--devices", default=None,
                        help="where to run: one device by name (cpu, cuda, cuda:1), or "
                        "several (a number, or a comma-separated list of indices): the rows "
                        "are split between processes on Lightning's DDP (default: one "
                        "process, on a GPU if any)")
    parser.add_argument("--num-nodes", type=_positive_int, default=1,
                        help="nodes of a multi-node run under torchrun or SLURM (default: 1)")
    parser.add_argument("--accelerator", default=None,
                        help="Lightning accelerator with --devices, e.g. cpu or gpu "
                        "(default: choose)")
    parser.add_argument("--strategy", default=None,
                        help="Lightning strategy with --devices (default: ddp under torchrun "
                        "or SLURM, else ddp_spawn)")


def _distributed(args):
    """Keywords of `encode` / `predict` from `_distributed_options` (and the deprecated
    ``--device``, which warns)."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    from ..utils._validate import check_devices

    devices = args.devices
    if getattr(args, "device", None) is not None:
        if devices is not None:
            raise ValueError("give --devices alone (--device is its deprecated spelling)")
        warnings.warn("--device is deprecated and will be removed in galssl 0.3: use "
                      "--devices (a device name such as cpu or cuda:0, or a count)",
                      AstropyDeprecationWarning)
        devices = args.device
    return dict(devices=check_devices(devices, "--devices"), num_nodes=args.num_nodes,
                accelerator=args.accelerator, strategy=args.strategy)


def _writes_output():
    """False on the ranks other than 0 of a run launched by torchrun or SLURM: every rank
    gets all the rows, one writes them."""
    import sys

    dist = sys.modules.get("torch.distributed")
    return not (dist is not None and dist.is_available() and dist.is_initialized()
                and dist.get_rank() != 0)


def _photoz(args):
    from astropy.table import QTable

    from ..cutouts import CutoutCatalog
    from ..photoz import PhotoZEstimator

    progress = not args.no_progress
    _check_table_output(args.out, args.overwrite)  # before any work, not after it
    dist = _distributed(args)
    pz = PhotoZEstimator.from_pretrained(args.model)
    data = CutoutCatalog.read(args.data) if args.data else QTable.read(args.table)
    out = pz.predict(data, frames=args.frames, batch_size=args.batch_size,
                     calibrated=not args.no_calibration, progress=progress, **dist)
    if not _writes_output():
        return 0
    if args.no_pdf:
        del out["z_pdf"]
    out.meta.pop("photoz_conventions", None)  # nested dict: not every format writes it
    with warnings.catch_warnings():
        # long keywords become HIERARCH cards, a standard FITS convention: nothing is lost
        warnings.filterwarnings("ignore", message=".*a HIERARCH card will be created")
        write_table(out, args.out, overwrite=args.overwrite, flag="--overwrite")
    import numpy as np

    from ..photoz import PhotoZFlag

    flags = np.asarray(out["photoz_flag"])
    n_flag = int((flags != 0).sum())
    counts = ", ".join(f"{flag.name} {int(((flags & int(flag)) != 0).sum())}"
                       for flag in PhotoZFlag if ((flags & int(flag)) != 0).any())
    print(f"{len(out)} photometric redshifts ({n_flag} flagged"
          + (f": {counts}" if counts else "") + f") written to {args.out}")
    return 0


def _label_efficiency(args):
    from ..cutouts import CutoutCatalog
    from ..research import label_efficiency, labels_saved
    from ..ssl import ContrastiveEncoder

    os.makedirs(args.out, exist_ok=True)
    enc = ContrastiveEncoder.load(args.encoder) if args.encoder else None
    methods = [m for m in args.methods if enc is not None or m not in ("finetuned", "linear")]
    table = label_efficiency(enc, CutoutCatalog.read(args.train),
                             CutoutCatalog.read(args.test), fractions=args.fractions,
                             redshift=args.redshift, epochs=args.epochs,
                             batch_size=args.batch_size, seed=args.seed, methods=methods,
                             progress=not args.no_progress)
    write_table(table, os.path.join(args.out, "label_efficiency.ecsv"), overwrite=True)
    table.pprint(max_lines=-1, max_width=-1)
    if {"supervised", "finetuned"} <= set(methods):
        labels_saved(table).pprint(max_lines=-1, max_width=-1)
    _save_figure(lambda: __import__("galssl.visualization", fromlist=["x"])
                 .plot_label_efficiency(table), os.path.join(args.out, "label_efficiency.png"))
    return 0


def _check_table_output(path, overwrite):
    """Refuse an output table that astropy cannot write (format unknown from the extension)
    or that exists without --overwrite."""
    from astropy.table import QTable

    formats = QTable.write.registry.identify_format("write", QTable, path, None, [], {})
    if not formats:
        raise ValueError(f"cannot tell the table format of --out {path!r} from its extension; "
                         f"use e.g. .fits, .ecsv, .h5, .parquet, .csv or .vot")
    _check_new_file(path, overwrite)


def _check_new_file(path, overwrite):
    check_new_output(path, overwrite, flag="--overwrite")


def _save_figure(make, path):
    try:
        import matplotlib

        matplotlib.use("agg")
        save_figure(make(), path, dpi=110)
        print(f"figure written to {path}")
    except ImportError:
        print("install matplotlib to get the figure")


def _simulate(args):
    import time

    import numpy as np
    from astropy.table import Table

    from ..simulate import inject_galaxies, read_photometry

    _check_new_file(args.out, args.overwrite)  # before the injection, not after it
    catalog = Table.read(args.catalog)
    if not args.keep_bad_rows:
        # leave out, and report, rows whose photometry or redshift cannot be injected
        good = read_photometry(catalog, redshift=args.redshift, errors="mask")[3]
        if not good.all():
            print(f"left out {int((~good).sum())} rows with unusable photometry or redshift: "
                  f"{np.flatnonzero(~good)[:20].tolist()}")
        catalog = catalog[good]
    t0 = time.time()
    cat = inject_galaxies(catalog, args.frames, n=args.n, seed=args.seed,
                          redshift=args.redshift, size=args.size, per_round=args.per_round,
                          n_jobs=args.n_jobs, progress=not args.no_progress)
    cat.write(args.out, overwrite=args.overwrite, progress=not args.no_progress)
    print(f"injected {len(cat)} galaxies into {len(set(cat.table['field']))} fields in "
          f"{time.time() - t0:.0f} s; written to {args.out}")
    return 0


def _pretrain(args):
    from ..cutouts import CutoutCatalog
    from ..ssl import PRESET_BATCH_SIZE, ContrastiveEncoder
    from ..utils._validate import check_devices

    devices = check_devices(args.devices, "--devices")
    cat = CutoutCatalog.read(args.data)
    given = {k: getattr(args, k) for k in ("arch", "queue_size", "momentum", "temperature",
                                           "lr", "crop") if getattr(args, k) is not None}
    if args.input_stretch is not None:
        given["input_stretch"] = None if args.input_stretch == "none" else args.input_stretch
    given.update(in_chans=len(cat.bands), bands=cat.bands, bn_splits=args.bn_splits)
    enc = ContrastiveEncoder.from_preset(args.preset, **given) if args.preset else \
        ContrastiveEncoder(**given)
    batch_size = args.batch_size or (PRESET_BATCH_SIZE[args.preset] if args.preset else 256)
    os.makedirs(args.out, exist_ok=True)
    enc.fit(cat, epochs=args.epochs, batch_size=batch_size, devices=devices,
            num_nodes=args.num_nodes, num_workers=args.num_workers, seed=args.seed,
            checkpoint_dir=os.path.join(args.out, "checkpoints"), resume=args.resume,
            stop_epoch=args.stop_epoch, precision=args.precision,
            progress=not args.no_progress)
    path = os.path.join(args.out, "encoder.pt")
    enc.save(path, overwrite=True)  # the run's folder: a resumed run replaces it
    print(_training_summary(enc, cat))
    print(f"encoder written to {path}")
    return 0


def _training_summary(enc, cat):
    """What a pretraining run trained on and what its loss means: the rows left out and
    why, and the final loss beside the chance level ln(K + 1) of a network that cannot tell
    its K negatives from the positive."""
    import math

    import numpy as np

    from ..cutouts import HIGH_EXTINCTION_EBV
    from ..engine import read_ebv, training_rows

    good = np.asarray(cat.good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit has warned about these rows already
        used = training_rows(good, read_ebv(cat.table))
    lines = [f"trained {enc!r} on {int(used.sum())} of {len(cat)} images"]
    left = []
    if (~good).sum():
        left.append(f"{int((~good).sum())} with missing pixels (CutoutFlag image defects)")
    if (good & ~used).sum():
        left.append(f"{int((good & ~used).sum())} behind E(B-V) > {HIGH_EXTINCTION_EBV}")
    if left:
        lines[0] += " (left out: " + ", ".join(left) + ")"
    loss, acc = enc.history.get("train_loss"), enc.history.get("train_acc")
    if loss is not None:
        k = int(enc.config["queue_size"])
        chance = math.log(k + 1)
        verdict = ("below it: the network tells each image's view from the others" if
                   loss < 0.9 * chance else "not below it: the encoder has not learnt yet "
                   "(train longer or on more images)")
        lines.append(f"final InfoNCE loss {loss:.3f}; chance level ln(queue + 1) = "
                     f"ln({k + 1}) = {chance:.3f}, {verdict}")
        if acc is not None:
            lines.append(f"positive ranked first among {k + 1} candidates in {acc:.1%} of "
                         f"the last step's batch (chance {1 / (k + 1):.2%})")
    return "\n".join(lines)


def _encode(args):
    from ..cutouts import CutoutCatalog
    from ..ssl import ContrastiveEncoder

    _check_new_file(args.out, args.overwrite)  # before any work, not after it
    dist = _distributed(args)
    model = args.model
    if model is not None and os.path.isdir(model):
        model = os.path.join(model, "encoder.pt")
    enc = ContrastiveEncoder.from_pretrained(model)  # a path, a registry name or the default
    reps = enc.encode(CutoutCatalog.read(args.data), batch_size=args.batch_size,
                      progress=not args.no_progress, **dist)
    if not _writes_output():
        return 0
    save_array(reps, args.out, overwrite=args.overwrite, flag="--overwrite")
    print(f"{reps.shape[0]} representations of dimension {reps.shape[1]} written to "
          f"{args.out}")
    return 0


def _summary(cat):
    import numpy as np

    from ..cutouts import CutoutFlag

    flags = np.asarray(cat.table["flags"])
    print(f"{len(cat)} objects, {int((flags == 0).sum())} without flags")
    if "system" in cat.table.colnames:
        systems = np.asarray(cat.table["system"])
        shared = [int(v) for v, k in zip(*np.unique(systems, return_counts=True)) if k > 1]
        if shared:
            print(f"  in {len(np.unique(systems))} systems: rows sharing a detection "
                  f"footprint (the pieces of a merger, the members of a close group) share "
                  f"a number in the column 'system' (numbers shared by several rows: "
                  f"{', '.join(map(str, shared))})")
    for flag in CutoutFlag:
        n = int(((flags & flag) > 0).sum())
        if n:
            print(f"  {flag.name:<12s} {n}")


def _demo(args):
    import numpy as np

    from ..cutouts import CutoutCatalog, CutoutFlag
    from ..datasets import SAMPLE_FIELD, sample_frames
    from ..photoz import PhotoZEstimator

    progress = not args.no_progress
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "cutouts.h5")
    print(f"galssl demo: galaxies of the bundled SDSS sample (field {SAMPLE_FIELD}, ugriz)")
    cat = CutoutCatalog.from_frames(sample_frames(), out=path, overwrite=True,
                                    progress=progress)
    _summary(cat)
    print(f"cutouts written to {path}")
    pz = PhotoZEstimator.from_pretrained()
    print(f"photometric redshifts with the shipped model {pz.card.get('name', '')} "
          f"(held-out sigma_MAD {pz.card.get('metrics', {}).get('sigma_mad', float('nan'))})")
    out = pz.predict(cat, progress=progress)
    cols = [c for c in ("ra", "dec", "system", "mag_r", "r50", "ebv", "z_phot",
                        "z_phot_err", "odds", "photoz_flag_names") if c in out.colnames]
    view = out[cols]
    if "flags" in out.colnames:  # the cutout flags by name, as the photo-z flags
        view.add_column(CutoutFlag.names_column(out["flags"]), name="cutout_flags",
                        index=cols.index("z_phot"))
    for c in ("ra", "dec"):
        view[c].info.format = ".5f"
    for c in ("mag_r", "r50", "ebv", "z_phot", "z_phot_err", "odds"):
        view[c].info.format = ".3f"
    view.pprint(max_lines=-1, max_width=-1)
    table_path = os.path.join(args.out, "photoz.ecsv")
    out.meta.pop("photoz_conventions", None)
    write_table(out, table_path, overwrite=True)
    print(f"photo-z table (with the 180-bin PDFs in z_pdf) written to {table_path}")
    try:
        import matplotlib

        matplotlib.use("agg")
        from ..visualization import plot_cutouts, plot_pdfs

        def panel(i):  # what a person wants to read over each galaxy
            lines = [f"row {i}" + (f", system {out['system'][i]}"
                                   if "system" in out.colnames else "")]
            if np.isfinite(out["z_phot"][i]):
                lines.append(f"z_phot = {out['z_phot'][i]:.3f} ± {out['z_phot_err'][i]:.3f}")
            if "mag_r" in out.colnames:
                mag = np.asarray(getattr(out["mag_r"], "value", out["mag_r"]))[i]
                lines.append(f"r = {mag:.1f}")
            names = "|".join(CutoutFlag.describe(out["flags"][i])) if "flags" in out.colnames \
                else ""
            if names:
                lines.append(names.lower())
            return "\n".join(lines)

        fig = plot_cutouts(CutoutCatalog(out, cat.images, bands=cat.bands,
                                         pixel_scale=cat.pixel_scale),
                           label=panel, figsize_per_panel=2.4)
        png = os.path.join(args.out, "cutouts.png")
        save_figure(fig, png, dpi=100)
        rows = np.flatnonzero(np.isfinite(out["z_phot"]))
        fig = plot_pdfs(np.asarray(out["z_pdf"])[rows], pz.bin_edges,
                        labels=[f"row {i}: z_phot = {out['z_phot'][i]:.3f}" for i in rows])
        pdf_png = os.path.join(args.out, "photoz_pdfs.png")
        save_figure(fig, pdf_png, dpi=100)
        print(f"colour images (i, r, g) labelled with z_phot written to {png}, "
              f"redshift PDFs (smoothed densities) to {pdf_png}")
    except ImportError:
        print("install matplotlib to get the pictures")
    return 0


def _cutouts(args):
    from astropy.table import QTable

    from ..cutouts import CutoutCatalog

    from ..surveys import get_survey

    progress = not args.no_progress
    _check_new_file(args.out, args.overwrite)
    survey = get_survey(args.survey)
    if args.bands is None:
        args.bands = "ugriz" if survey.name == "sdss" else survey.band_names
    pixel_scale = survey.pixel_scale if args.pixel_scale is None else args.pixel_scale
    args.frames = list(args.frames) + list(args.frames_opt)
    if not args.frames:
        raise ValueError("no frames given (positional arguments or --frames)")
    if args.table:
        table = QTable.read(args.table)
        cat = CutoutCatalog.from_table(table, args.frames, bands=args.bands, size=args.size,
                                       pixel_scale=pixel_scale,
                                       ra=args.ra, dec=args.dec, out=args.out,
                                       overwrite=args.overwrite,
                                       missing_band=args.missing_band, progress=progress)
    else:
        cat = CutoutCatalog.from_frames(args.frames, bands=args.bands, size=args.size,
                                        pixel_scale=pixel_scale,
                                        galaxies_only=not args.all_sources,
                                        missing_band=args.missing_band, out=args.out,
                                        overwrite=args.overwrite, progress=progress)
    _summary(cat)
    print(f"cutouts written to {args.out}")
    return 0


def main(argv=None):
    """Entry point of the ``galssl`` command."""
    import pickle

    from astropy.io.registry import IORegistryError

    args = _parser().parse_args(argv)
    try:
        commands = {"demo": _demo, "cutouts": _cutouts, "simulate": _simulate,
                    "pretrain": _pretrain, "encode": _encode, "photoz": _photoz,
                    "label-efficiency": _label_efficiency}
        return commands[args.command](args)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, ImportError,
            IORegistryError, pickle.UnpicklingError) as exc:
        print(f"galssl {args.command}: error: {exc}", file=sys.stderr)
        return 2
