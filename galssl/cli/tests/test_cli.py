# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
from astropy.table import Table

from galssl.cli import main
from galssl.cutouts import CutoutCatalog
from galssl.tests.helpers import SOURCES, make_frames


def test_demo_runs_on_the_bundled_sample(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "objects" in text and "cutouts written to" in text
    cat = CutoutCatalog.read(tmp_path / "cutouts.h5")
    assert len(cat) >= 5 and cat.images.shape[1:] == (5, 107, 107)
    assert (tmp_path / "cutouts.png").stat().st_size > 10_000


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
    assert main(["cutouts", str(tmp_path / "missing.fits"), "--out", str(out)]) == 2
    assert "missing.fits" in capsys.readouterr().err
    assert len(frames) == 5
