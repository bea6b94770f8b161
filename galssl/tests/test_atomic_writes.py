# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Every galssl writer is atomic: interrupted at any one of the write calls it makes, the
file it replaces is intact (or, for a new file, absent), never partial, and nothing is left
beside it.

The fault-injection fixture counts the write calls a writer makes (HDF5 dataset and
attribute writes, astropy table writes of any format, ``torch.save``, ``numpy.save``,
``savefig`` and the final ``os.replace``) and then runs the writer once per call, raising
``KeyboardInterrupt`` at that call. Calls that produce bytes (table writes, ``torch.save``,
``numpy.save``, ``savefig``) leave half of their output in the file before the interrupt,
as an interrupted process would. A writer that wrote in place would leave a partial file and
fail; one that forgot to remove its temporary file would fail on the extra file.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from astropy.table import QTable

from galssl.cutouts import CutoutCatalog
from galssl.utils._atomic import OutputBusyError, atomic_output, save_array, save_figure, \
    write_table


class WriteInterrupter:
    """Patches the write calls galssl's writers make; ``arm(k)`` raises KeyboardInterrupt
    at the k-th call (1-based) after leaving that call's output half written."""

    def __init__(self, monkeypatch):
        import h5py
        import torch
        from astropy.io.registry import UnifiedOutputRegistry

        self.count = 0
        self.fire_at = None
        self.fired = False
        plain = ((h5py.Group, "create_dataset"), (h5py.Dataset, "__setitem__"),
                 (h5py.AttributeManager, "__setitem__"))
        for owner, name in plain:
            monkeypatch.setattr(owner, name, self._plain(getattr(owner, name)))
        monkeypatch.setattr(UnifiedOutputRegistry, "write",
                            self._bytes(UnifiedOutputRegistry.write, target=2))
        monkeypatch.setattr(torch, "save", self._bytes(torch.save, target=1))
        monkeypatch.setattr(np, "save", self._bytes(np.save, target=0))
        try:
            from matplotlib.figure import Figure
        except ImportError:
            pass
        else:
            monkeypatch.setattr(Figure, "savefig", self._bytes(Figure.savefig, target=1))
        monkeypatch.setattr(os, "replace", self._plain(os.replace))

    def arm(self, k):
        self.count, self.fire_at, self.fired = 0, k, False

    def _due(self):
        if self.fired:
            return False
        self.count += 1
        if self.fire_at is not None and self.count == self.fire_at:
            self.fired = True
            return True
        return False

    def _plain(self, real):
        def call(*args, **kwargs):
            if self._due():
                raise KeyboardInterrupt("interrupted by the fault-injection fixture")
            return real(*args, **kwargs)
        return call

    def _bytes(self, real, *, target):
        """A call that writes its output to ``args[target]`` (a path or a file)."""
        def call(*args, **kwargs):
            if not self._due():
                return real(*args, **kwargs)
            dest = args[target]
            if isinstance(dest, (str, os.PathLike)):
                real(*args, **kwargs)
                if os.path.isfile(dest):
                    with open(dest, "r+b") as f:
                        f.truncate(os.path.getsize(dest) // 2)
            else:  # a file object: half of what would have been written
                buf = io.BytesIO()
                real(*args[:target], buf, *args[target + 1:], **kwargs)
                data = buf.getvalue()
                dest.write(data[:len(data) // 2])
                dest.flush()
            raise KeyboardInterrupt("interrupted by the fault-injection fixture")
        return call


def _snapshot(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def interrupt_every_write(monkeypatch):
    """``check(write, path)``: interrupt ``write()`` at each of its write calls in turn and
    assert that ``path`` keeps its old bytes (or stays absent) and that the folder holds
    nothing new; then run it uninterrupted and return the number of calls."""
    interrupter = WriteInterrupter(monkeypatch)

    def check(write, path, *, replaces=True):
        path = os.fspath(path)
        folder = os.path.dirname(path)
        old = _snapshot(path) if replaces else None
        assert replaces == os.path.exists(path)
        before = sorted(os.listdir(folder))
        interrupter.arm(None)
        write()  # a dry run counts the calls
        n_calls = interrupter.count
        assert n_calls >= 2, "the fixture saw no write calls: nothing was tested"
        if replaces:  # put the old file back for the interrupted runs
            with open(path, "wb") as f:
                f.write(old)
        else:
            os.remove(path)
        for k in range(1, n_calls + 1):
            interrupter.arm(k)
            with pytest.raises(KeyboardInterrupt):
                write()
            assert interrupter.fired, f"call {k} of {n_calls} was never reached"
            if replaces:
                assert _snapshot(path) == old, f"interrupted at write call {k} of {n_calls}"
            else:
                assert not os.path.exists(path), f"partial file after call {k} of {n_calls}"
            assert sorted(os.listdir(folder)) == before, f"left over after call {k}"
        interrupter.arm(None)
        write()
        assert interrupter.count == n_calls
        if replaces:
            assert _snapshot(path) != old
        return n_calls

    return check


@pytest.fixture
def catalogue(tmp_path):
    from galssl.search.tests.helpers import toy_catalog

    cat = toy_catalog(n=300, size=16)  # two blocks of the writer's 256 rows
    path = tmp_path / "cat.h5"
    toy_catalog(n=5, size=16, seed=1).write(path, progress=False)
    return cat, path


def test_catalogue_write(catalogue, interrupt_every_write):
    cat, path = catalogue
    n = interrupt_every_write(lambda: cat.write(path, overwrite=True, progress=False), path)
    assert n > 5
    back = CutoutCatalog.read(path)
    assert len(back) == 300
    np.testing.assert_array_equal(np.asarray(back.images), cat.images)


def test_catalogue_write_new_file(catalogue, interrupt_every_write):
    cat, path = catalogue
    new = path.with_name("new.h5")
    interrupt_every_write(lambda: cat.write(new, progress=False), new, replaces=False)
    assert len(CutoutCatalog.read(new)) == 300


def test_cutting_into_out(tmp_path, interrupt_every_write):
    from galssl.tests.helpers import make_frames

    frames = make_frames(tmp_path / "frames", bands="gri")
    out = tmp_path / "cut.h5"
    t = QTable({"ra": [150.0, 150.003, 149.998], "dec": [2.0, 2.001, 1.999]})
    CutoutCatalog.from_table(t[:1], frames, bands="gri", size=9, out=out, progress=False)
    interrupt_every_write(lambda: CutoutCatalog.from_table(
        t, frames, bands="gri", size=9, out=out, overwrite=True, progress=False), out)
    assert len(CutoutCatalog.read(out)) == 3


def test_detect_and_cut_into_out(tmp_path, interrupt_every_write):
    """`from_frames` merges the detection flags before the file is written: the file's
    table is the returned one, written once."""
    from galssl.tests.helpers import make_frames

    frames = make_frames(tmp_path / "frames", bands="gri", noise=0.05)
    out = tmp_path / "found.h5"
    kwargs = dict(bands="gri", size=9, galaxies_only=False, detect_band="r", progress=False)
    interrupt_every_write(lambda: CutoutCatalog.from_frames(frames, out=out, **kwargs), out,
                          replaces=False)
    back = CutoutCatalog.read(out)
    mem = CutoutCatalog.from_frames(frames, **kwargs)
    assert back.table["flags"].tolist() == mem.table["flags"].tolist()
    assert (np.asarray(back.table["flags"]) & np.asarray(back.table["detect_flags"])
            == np.asarray(back.table["detect_flags"])).all()


def test_failure_mid_cut_leaves_no_file(tmp_path, monkeypatch):
    """An error inside the cutting loop (not only an interrupt) removes the partial file."""
    from galssl.cutouts import _catalog
    from galssl.tests.helpers import make_frames

    frames = make_frames(tmp_path / "frames", bands="gri")
    out = tmp_path / "cut.h5"

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_catalog, "_cut_frame", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        CutoutCatalog.from_table(QTable({"ra": [150.0], "dec": [2.0]}), frames, bands="gri",
                                 size=9, out=out, progress=False)
    assert os.listdir(tmp_path) == ["frames"]
    # a bad argument is refused before any file is made
    with pytest.raises(ValueError, match="order must be one of"):
        CutoutCatalog.from_table(QTable({"ra": [150.0], "dec": [2.0]}), frames, bands="gri",
                                 size=9, out=out, order="nope", progress=False)
    assert os.listdir(tmp_path) == ["frames"]


def test_search_save(tmp_path, interrupt_every_write):
    pytest.importorskip("faiss")
    from galssl.search import SimilaritySearch
    from galssl.search.tests.helpers import clustered

    table = QTable({"name": [f"g{i}" for i in range(200)]})
    old = SimilaritySearch(clustered(50, 8), table[:50], progress=False)
    path = tmp_path / "search.h5"
    old.save(path)
    ss = SimilaritySearch(clustered(200, 8, seed=3), table, progress=False)
    interrupt_every_write(lambda: ss.save(path, overwrite=True), path)
    assert len(SimilaritySearch.load(path)) == 200


def test_model_saves(tmp_path, interrupt_every_write):
    from galssl.photoz import PhotoZEstimator
    from galssl.ssl import ContrastiveEncoder

    cases = [(ContrastiveEncoder, dict(arch="resnet10-small", crop=32), dict(crop=48)),
             (PhotoZEstimator, dict(crop=32, n_bins=40), dict(crop=32, n_bins=20))]
    for cls, new, old in cases:
        path = tmp_path / f"{cls.__name__}.pt"
        cls(**old).save(path)
        model = cls(**new)
        with pytest.raises(FileExistsError, match=f"{path.name}' exists; pass overwrite=True"):
            model.save(path)
        interrupt_every_write(lambda: model.save(path, overwrite=True), path)
        assert cls.load(path).config == model.config


def test_morphology_save(tmp_path, interrupt_every_write):
    from galssl.morphology import MorphologyClassifier

    path = tmp_path / "morph.pt"
    MorphologyClassifier(mode="finetune", questions=["smooth"], crop=32).save(path)
    mc = MorphologyClassifier(mode="finetune", questions=["smooth", "extended"], crop=32)
    interrupt_every_write(lambda: mc.save(path, overwrite=True), path)
    assert MorphologyClassifier.load(path).questions == ("smooth", "extended")


def test_training_checkpoints(tmp_path, interrupt_every_write):
    """``last.ckpt`` of a pretraining run is written through the same helper."""
    import torch

    from galssl.engine import SafeCheckpointIO

    io_ = SafeCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io_.save_checkpoint({"epoch": 1, "w": torch.zeros(1000)}, path)
    state = {"epoch": 2, "w": torch.ones(1000)}
    interrupt_every_write(lambda: io_.save_checkpoint(state, path), path)
    assert io_.load_checkpoint(path)["epoch"] == 2


def test_table_array_and_figure_outputs(tmp_path, interrupt_every_write):
    table = QTable({"z_phot": np.linspace(0, 0.4, 50), "name": [f"g{i}" for i in range(50)]})
    for name in ("photoz.ecsv", "photoz.fits", "photoz.h5"):
        path = tmp_path / name
        extra = {"path": "table"} if name.endswith(".h5") else {}
        write_table(table[:3], path, **extra)
        with pytest.raises(FileExistsError, match="--overwrite"):
            write_table(table, path, flag="--overwrite", **extra)
        interrupt_every_write(lambda: write_table(table, path, overwrite=True, **extra), path)
        assert len(QTable.read(path, **extra)) == 50
    path = tmp_path / "reps"  # no .npy: the file is exactly the name given
    save_array(np.zeros((2, 3)), path)
    interrupt_every_write(lambda: save_array(np.ones((40, 3)), path, overwrite=True), path)
    assert np.load(path).shape == (40, 3)
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "figure.png"
    save_figure(fig, path)
    ax.plot([0, 1], [0, 1])
    interrupt_every_write(lambda: save_figure(fig, path), path)
    plt.close(fig)


def test_cli_encode_refuses_existing_output(tmp_path, catalogue):
    from galssl.cli import main
    from galssl.ssl import ContrastiveEncoder

    cat, path = catalogue
    enc = tmp_path / "enc.pt"
    ContrastiveEncoder(arch="resnet10-small", crop=16).save(enc)
    out = tmp_path / "reps.npy"
    out.write_bytes(b"keep me")
    args = ["encode", "--model", str(enc), "--data", str(path), "--out", str(out),
            "--no-progress", "--devices", "cpu"]
    assert main(args) != 0
    assert out.read_bytes() == b"keep me"
    assert main(args + ["--overwrite"]) == 0
    assert np.load(out).shape[0] == 5


def test_same_rule_for_every_writer(tmp_path):
    """Missing folders and directories are named before anything is written."""
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere.* does not exist"):
        save_array(np.zeros(3), tmp_path / "nowhere" / "a.npy")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        save_array(np.zeros(3), tmp_path, overwrite=True)
    with pytest.raises(RuntimeError, match="nothing was written"):
        with atomic_output(tmp_path / "empty.txt"):
            pass
    assert os.listdir(tmp_path) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "a.npy"
    save_array(np.zeros(3), path)
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
    os.chmod(path, 0o640)  # a replaced file keeps its own
    save_array(np.ones(3), path, overwrite=True)
    assert os.stat(path).st_mode & 0o777 == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks are POSIX")
def test_a_second_writer_is_refused_with_the_file_name(tmp_path, catalogue):
    """While one process writes a file, another gets an error naming it, and the first
    finishes with its own images and table (not a mix of the two)."""
    cat, _ = catalogue
    path = tmp_path / "shared.h5"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from galssl.utils._atomic import atomic_output\n"
         f"with atomic_output({str(path)!r}) as tmp:\n"
         "    open(tmp, 'w').write('other')\n"
         "    print('holding', flush=True)\n"
         "    sys.stdin.readline()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(OutputBusyError, match=r"shared\.h5' is being written by another"):
            cat.write(path, progress=False)
        assert isinstance(OutputBusyError("x"), OSError)
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0 and path.read_text() == "other"
    cat.write(path, overwrite=True, progress=False)  # the lock went with the process
    back = CutoutCatalog.read(path)
    np.testing.assert_array_equal(np.asarray(back.images), cat.images)
    assert sorted(os.listdir(tmp_path)) == ["cat.h5", "shared.h5"]
