# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Every tutorial runs as written: each ``.. code-block:: python`` and each doctest block of
``docs/tutorial_*.rst``, in page order, in one namespace, from an empty folder, with the
doctest outputs the page shows checked; the figures the page shows under
``_static/tutorials/`` are the files its own code saves.

``python docs/test_tutorials.py [name ...]`` runs the tutorials the same way and copies the
figures they save into ``docs/_static/tutorials/`` (that is how the page's figures are
made). Data a tutorial fetches from the SDSS archive (`galssl.cutouts.fetch_sdss_field`) is
served, in the tests, from the real frames of ``../shared/data``.
"""

import contextlib
import doctest
import io
import os
import re
import shutil
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent
TUTORIALS = sorted(DOCS.glob("tutorial_*.rst"))
FIGURES = "_static/tutorials/"


def blocks(path):
    """(kind, text, line) of every Python code block ("code") and doctest block ("doctest")
    of an rst page, in order; ``line`` is the 1-based line of the block's first line."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        code = re.match(r"\.\. code-block:: python\s*$", lines[i])
        doc = re.match(r"\.\. doctest-requires::", lines[i]) or (
            lines[i].endswith("::") and i + 2 < len(lines)
            and lines[i + 2].lstrip().startswith(">>>"))
        if not (code or doc):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or re.match(r"\s+:\w+:", lines[j])):
            j += 1
        start, body = j, []
        while j < len(lines) and (not lines[j].strip() or lines[j][:1] in " \t"):
            body.append(lines[j])
            j += 1
        out.append(("code" if code else "doctest", textwrap.dedent("\n".join(body)).strip()
                    + "\n", start + 1))
        i = j
    return out


def figures_shown(path):
    """Names of the figures the page shows from ``_static/tutorials/``."""
    return re.findall(r"\.\. image:: " + re.escape(FIGURES) + r"(\S+)", path.read_text())


def run(path, workdir):
    """Run every block of the tutorial ``path`` in ``workdir``; returns the namespace.
    A doctest output that differs from the page's is an AssertionError naming the line."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    checker, parser = doctest.OutputChecker(), doctest.DocTestParser()
    options = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    ns = {"__name__": "__tutorial__"}
    here = os.getcwd()
    os.chdir(workdir)
    try:
        for kind, text, line in blocks(path):
            if kind == "code":
                exec(compile(text, f"{path.name}:{line}", "exec"), ns)
                continue
            for ex in parser.get_examples(text):
                where = f"{path.name}:{line + ex.lineno}"
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    exec(compile(ex.source, where, "single"), ns)
                got = buffer.getvalue()
                if not checker.check_output(ex.want, got, options):
                    raise AssertionError(f"{where}: {ex.source.strip()!r} gives {got!r}; the "
                                         f"page shows {ex.want!r}")
    finally:
        os.chdir(here)
        plt.close("all")
    return ns


@contextlib.contextmanager
def sdss_archive_from(folder):
    """`galssl.cutouts.fetch_sdss_field` served from local frames: the URL it asks for
    (checked to be the archive's) is answered with the file of that name in ``folder``."""
    import astropy.utils.data

    from galssl.cutouts import conf

    real = astropy.utils.data.download_file

    def download_file(url, **kwargs):
        assert url.startswith(conf.sas_url.rstrip("/") + "/dr17/eboss/photoObj/frames/301/")
        name = url.rsplit("/", 1)[1]
        field = re.match(r"frame-\w-(\d{6}-\d-\d{4})\.fits\.bz2$", name).group(1)
        return str(Path(folder) / field / name)

    astropy.utils.data.download_file = download_file
    try:
        yield
    finally:
        astropy.utils.data.download_file = real


def _shared_frames():
    from galssl.tests.helpers import shared_data_dir

    root = shared_data_dir()
    return None if root is None else Path(root) / "sdss_frames"


def test_every_tutorial_is_found_and_every_block_read():
    """Nothing of a page escapes the runner: every ``>>>`` line is in a doctest block it
    runs, every python code block is found."""
    assert {p.name for p in TUTORIALS} >= {"tutorial_photoz.rst", "tutorial_pretraining.rst",
                                           "tutorial_search.rst"}
    for path in TUTORIALS:
        text = path.read_text()
        found = blocks(path)
        prompts = sum(t.count(">>> ") for kind, t, _ in found if kind == "doctest")
        assert prompts == text.count(">>> "), path.name
        assert sum(k == "code" for k, _, _ in found) == text.count(".. code-block:: python")


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_as_written_and_makes_its_figures(path, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("faiss")
    frames = _shared_frames()
    if "fetch_sdss_field" in path.read_text() and frames is None:
        pytest.skip("the shared SDSS frames that stand in for the archive are not present")
    with sdss_archive_from(frames), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tutorial's warnings are for its reader
        run(path, tmp_path)
    for name in figures_shown(path):
        made = tmp_path / name
        assert made.is_file() and made.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", \
            f"{path.name} shows {FIGURES}{name}, which its code does not save"


def main(names):
    """Run the named tutorials (all by default) and copy their figures into the docs."""
    chosen = [p for p in TUTORIALS if not names or p.stem.replace("tutorial_", "") in names
              or p.stem in names]
    frames = _shared_frames()
    for path in chosen:
        work = Path(tempfile.mkdtemp(prefix=path.stem + "-"))
        print(f"running {path.name} in {work}")
        with sdss_archive_from(frames) if frames is not None else contextlib.nullcontext():
            run(path, work)
        for name in figures_shown(path):
            target = DOCS / FIGURES / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / name, target)
            print(f"  {FIGURES}{name}")


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    main(sys.argv[1:])
