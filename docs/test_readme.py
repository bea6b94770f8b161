# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The README's Python tour runs as written (tox passes this folder to pytest)."""

import os
import pathlib
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.rst"


def _tour():
    text = README.read_text()
    start = text.index("A short tour")
    block = text.index(".. code-block:: python", start)
    lines = []
    for line in text[block:].splitlines()[2:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines)


def test_readme_tour_runs_as_written(tmp_path, monkeypatch):
    code = _tour()
    assert "CutoutCatalog.from_frames(frames)" in code and "path/to" not in code
    monkeypatch.chdir(tmp_path)  # "from an empty folder"
    from astropy.utils.exceptions import AstropyUserWarning

    ns = {}
    with warnings.catch_warnings():
        # the tour pretrains on a few tiles on purpose: galssl says so
        warnings.filterwarnings("ignore", ".* training images cannot fill",
                                AstropyUserWarning)
        exec(compile(code, str(README), "exec"), ns)
    assert ns["cat"].images.shape[1:] == (5, 107, 107)
    assert len(ns["out"]) == len(ns["cat"]) and ns["reps"].shape == (len(ns["cat"]), 256)
    assert os.path.isfile("encoder.pt") and os.path.isfile("cutouts.h5")


if not README.is_file():  # pragma: no cover - docs folder without the README beside it
    pytestmark = pytest.mark.skip(reason="README.rst not beside the docs folder")
