# Licensed under a 3-clause BSD style license - see LICENSE.rst
import argparse
import os

import numpy as np
import pytest
from astropy.table import Table

from galssl.cli import main
from galssl.cutouts import CutoutCatalog, CutoutFlag
from galssl.tests.helpers import SOURCES, make_frames, requires_shared_data, shared_data_dir


def test_demo_runs_on_the_bundled_sample(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "objects" in text and "cutouts written to" in text
    cat = CutoutCatalog.read(tmp_path / "cutouts.h5")
    # the merger's pieces and the compact group's members (each a galaxy in the SDSS
    # catalogue too) share a system number: 8 rows, 4 systems
    systems = np.asarray(cat.table["system"])
    assert len(np.unique(systems)) < len(cat)
    assert f"in {len(np.unique(systems))} systems" in text
    assert len(cat) >= 5 and cat.images.shape[1:] == (5, 107, 107)
    assert (tmp_path / "cutouts.png").stat().st_size > 10_000
    assert "photometric redshifts with the shipped model" in text
    out = Table.read(tmp_path / "photoz.ecsv")
    assert len(out) == len(cat) and out["z_pdf"].shape == (len(cat), 180)
    good = np.asarray(cat.good)
    assert np.isfinite(out["z_phot"][good]).all()
    assert (tmp_path / "photoz_pdfs.png").stat().st_size > 5_000


def test_photoz_command_on_a_catalogue_and_a_table(tmp_path, capsys):
    from galssl.datasets import sample_frames

    frames = sample_frames()
    cat = CutoutCatalog.from_frames(frames, out=tmp_path / "c.h5", progress=False)
    assert main(["photoz", "--data", str(tmp_path / "c.h5"), "--out", str(tmp_path / "p.ecsv"),
                 "--no-progress"]) == 0
    out = Table.read(tmp_path / "p.ecsv")
    assert len(out) == len(cat) and "z_pdf" in out.colnames
    Table({"ra": cat.table["ra"][:2], "dec": cat.table["dec"][:2]}).write(tmp_path / "t.ecsv")
    assert main(["photoz", "--table", str(tmp_path / "t.ecsv"), "--frames", *frames,
                 "--no-pdf", "--out", str(tmp_path / "q.ecsv"), "--no-progress"]) == 0
    q = Table.read(tmp_path / "q.ecsv")
    assert "z_pdf" not in q.colnames
    np.testing.assert_allclose(q["z_phot"], out["z_phot"][:2], rtol=1e-5)
    assert "2 photometric redshifts" in capsys.readouterr().out
    # FITS: no HIERARCH chatter; flags spelled out; no absolute paths of this machine
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["photoz", "--data", str(tmp_path / "c.h5"), "--out",
                     str(tmp_path / "p.fits"), "--no-progress"]) == 0
    assert not [w for w in caught if "HIERARCH" in str(w.message)]
    f = Table.read(tmp_path / "p.fits")
    assert list(f["photoz_flag_names"]) == list(out["photoz_flag_names"])
    assert all(os.path.basename(p) == p for p in out.meta["galssl_frames"])
    assert main(["photoz", "--data", str(tmp_path / "c.h5"), "--model", "no-such-model",
                 "--out", str(tmp_path / "x.ecsv")]) == 2
    assert "no pretrained weights named 'no-such-model'" in capsys.readouterr().err


def test_cutouts_from_a_table_file(tmp_path, capsys):
    frames = make_frames(tmp_path / "f")
    Table({"RAJ": [s[0] for s in SOURCES] + [0.0], "DEJ": [s[1] for s in SOURCES] + [0.0]}
          ).write(tmp_path / "pos.ecsv")
    out = tmp_path / "c.h5"
    assert main(["cutouts", *frames, "--table", str(tmp_path / "pos.ecsv"), "--ra", "RAJ",
                 "--dec", "DEJ", "--size", "21", "--out", str(out), "--no-progress"]) == 0
    cat = CutoutCatalog.read(out)
    assert len(cat) == 4 and np.asarray(cat.table["flags"]).tolist() == [0, 0, 0, 1]
    assert "OFF_FRAMES" in capsys.readouterr().out
    # an existing output is an error, reported without a traceback
    assert main(["cutouts", *frames, "--table", str(tmp_path / "pos.ecsv"), "--ra", "RAJ",
                 "--dec", "DEJ", "--out", str(out), "--no-progress"]) == 2
    assert "exists" in capsys.readouterr().err


def test_cutouts_detect_and_bad_frames(tmp_path, capsys):
    frames = make_frames(tmp_path / "f", noise=0.01, sigma_pix=3.0)
    out = tmp_path / "d.h5"
    assert main(["cutouts", str(tmp_path / "f"), "--detect", "--size", "15", "--out", str(out),
                 "--no-progress"]) == 0
    assert len(CutoutCatalog.read(out)) == len(SOURCES)
    assert main(["cutouts", str(tmp_path / "missing.fits"), "--out",
                 str(tmp_path / "new.h5")]) == 2
    assert "missing.fits" in capsys.readouterr().err
    assert len(frames) == 5


@pytest.mark.filterwarnings("ignore:1 of 38 training rows have E")  # fit warns, as it should
def test_pretrain_then_encode(tmp_path, capsys):
    from astropy.table import QTable

    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.02, (40, 5, 48, 48)).astype(np.float32)
    images[:, :, 20:28, 20:28] += rng.uniform(0.1, 1, (40, 5, 1, 1)).astype(np.float32)
    table = QTable({"ra": np.zeros(40), "dec": np.zeros(40), "flags": np.zeros(40, int),
                    "ebv": np.full(40, 0.02)})
    table["flags"][:2] = CutoutFlag.PARTIAL  # left out of training, and the summary says so
    table["ebv"][2] = 0.9
    CutoutCatalog(table, images).write(tmp_path / "c.h5", progress=False)
    out = tmp_path / "run"
    assert main(["pretrain", "--data", str(tmp_path / "c.h5"), "--out", str(out), "--epochs",
                 "1", "--batch-size", "8", "--queue-size", "16", "--crop", "32",
                 "--precision", "32-true", "--bn-splits", "2", "--no-progress"]) == 0
    assert (out / "encoder.pt").is_file() and (out / "checkpoints" / "last.ckpt").is_file()
    said = capsys.readouterr().out
    assert "on 37 of 40 images (left out: 2 with missing pixels (CutoutFlag image defects), " \
        "1 behind E(B-V) > 0.5)" in said
    assert "chance level ln(queue + 1) = ln(17) = 2.833" in said
    assert "positive ranked first among 17 candidates" in said
    assert main(["pretrain", "--data", str(tmp_path / "c.h5"), "--out", str(out), "--epochs",
                 "2", "--batch-size", "8", "--queue-size", "16", "--crop", "32", "--resume",
                 "--no-progress"]) == 0
    assert main(["encode", "--model", str(out), "--data", str(tmp_path / "c.h5"), "--out",
                 str(tmp_path / "reps.npy"), "--no-progress"]) == 0
    reps = np.load(tmp_path / "reps.npy")
    assert reps.shape == (40, 256) and np.isfinite(reps).all()
    assert "written to" in capsys.readouterr().out
    assert main(["encode", "--model", str(tmp_path / "none.pt"), "--data",
                 str(tmp_path / "c.h5"), "--out", str(tmp_path / "r.npy")]) == 2
    # a preset gives the recipe; single options override it
    seed_run = tmp_path / "seed"
    assert main(["pretrain", "--data", str(tmp_path / "c.h5"), "--out", str(seed_run),
                 "--preset", "hayat2021", "--arch", "resnet10-small", "--epochs", "1",
                 "--batch-size", "8", "--queue-size", "16", "--crop", "32",
                 "--no-progress"]) == 0
    from galssl import ContrastiveEncoder

    c = ContrastiveEncoder.load(seed_run / "encoder.pt").config
    assert (c["arch"], c["momentum"], c["input_stretch"], c["queue_size"], c["crop"]) == \
        ("resnet10-small", 0.999, None, 16, 32)
    assert ContrastiveEncoder.load(out / "encoder.pt").config["input_stretch"] == "asinh"
    assert main(["pretrain", "--data", str(tmp_path / "c.h5"), "--out", str(seed_run),
                 "--preset", "moco"]) == 2
    assert "unknown preset 'moco'" in capsys.readouterr().err


def test_pretrain_help_names_every_preset_and_architecture_without_importing_torch():
    import subprocess
    import sys

    from galssl.cli._main import _parser
    from galssl.nn import list_backbones
    from galssl.ssl import PRESETS

    sub = next(a for a in _parser()._actions if a.dest == "command").choices["pretrain"]
    text = " ".join(sub.format_help().split())
    for name in list(PRESETS) + list(list_backbones()):
        assert name in text, name
    # `galssl --help` and `--version` stay instant: building the parser loads no torch
    code = ("import sys; from galssl.cli._main import _parser; _parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


@requires_shared_data
def test_simulate_command(tmp_path, capsys):
    import os

    pytest.importorskip("galsim")
    base = shared_data_dir()
    out = tmp_path / "inj.h5"
    assert main(["simulate", "--catalog",
                 os.path.join(base, "catalogs", "sdss_galaxies_specz_10k.fits"),
                 "--redshift", "Z", "--n", "6", "--per-round", "6", "--frames",
                 os.path.join(base, "sdss_frames", "003918-3-0213"), "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "left out" in text and "injected 6 galaxies" in text
    cat = CutoutCatalog.read(out)
    assert len(cat) == 6 and "smooth" in cat.table.colnames


def test_photoz_output_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    import galssl.photoz

    def no_work(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(galssl.photoz.PhotoZEstimator, "from_pretrained", no_work)
    data = tmp_path / "none.h5"
    assert main(["photoz", "--data", str(data), "--out", str(tmp_path / "z.weird")]) == 2
    assert "cannot tell the table format of --out" in capsys.readouterr().err
    (tmp_path / "z.fits").write_text("old")
    assert main(["photoz", "--data", str(data), "--out", str(tmp_path / "z.fits")]) == 2
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    (tmp_path / "c.h5").write_text("old")
    assert main(["cutouts", str(tmp_path), "--out", str(tmp_path / "c.h5")]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_every_subcommand_describes_itself_and_states_its_defaults(capsys):
    from galssl.cli._main import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert command.description, f"galssl {name} --help has no description"
        text = command.format_help()
        assert "(default:" in text, name
    text = sub.choices["simulate"].format_help()
    assert "--redshift REDSHIFT   redshift column (default: redshift)" in text
    assert "worker processes (default: 1)" in text
    assert "(default: leave them out" in text  # --keep-bad-rows says what it keeps


def test_encode_uses_the_shipped_encoder_or_a_registry_name(tmp_path):
    import numpy as np

    from galssl.cli import main
    from galssl.search.tests.helpers import toy_catalog

    data = tmp_path / "cat.h5"
    toy_catalog(n=3, size=64).write(data, progress=False)
    out = tmp_path / "reps.npy"
    assert main(["encode", "--data", str(data), "--out", str(out), "--no-progress",
                 "--devices", "cpu"]) == 0
    shipped = np.load(out)
    assert shipped.shape == (3, 256)
    assert main(["encode", "--model", "galssl-sdss-moco-resnet10-small-v3", "--data",
                 str(data), "--out", str(out), "--overwrite", "--no-progress",
                 "--devices", "cpu"]) == 0
    np.testing.assert_array_equal(np.load(out), shipped)
    assert main(["encode", "--model", str(tmp_path / "missing.pt"), "--data", str(data),
                 "--out", str(out), "--overwrite", "--no-progress"]) == 2


def test_progress_bars_honour_tqdm_disable(monkeypatch):
    from galssl.utils._progress import progress_bar

    assert not progress_bar(range(3), progress=True).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress_bar(range(3), progress=True).disable
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not progress_bar(range(3), progress=True).disable
