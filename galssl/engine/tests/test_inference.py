# Licensed under a 3-clause BSD style license - see LICENSE.rst
import socket

import numpy as np
import pytest
import torch
from astropy.table import QTable

from galssl import ContrastiveEncoder, MorphologyClassifier, PhotoZEstimator
from galssl.cutouts import CutoutCatalog, CutoutFlag
from galssl.engine import is_distributed, shard_bounds
from galssl.engine._inference import _assemble, _ShardBatches

TWO = dict(devices=2, accelerator="cpu", strategy="ddp_spawn")


def _catalog(n=23, size=40, seed=0):
    """Blobs of random colour and width; row 5 has no data, row 9 one NaN pixel (both
    flagged, as the cutout maker would)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    width = rng.uniform(1.5, 4.5, n)
    prof = np.exp(-(xx**2 + yy**2)[None] / (2 * width[:, None, None] ** 2))
    amp = rng.uniform(0.5, 2, (n, 5))
    images = (amp[:, :, None, None] * prof[:, None]
              + rng.normal(0, 0.01, (n, 5, size, size))).astype(np.float32)
    images[5] = np.nan
    images[9, 2, 3, 3] = np.nan
    flags = np.zeros(n, int)
    flags[[5, 9]] = [CutoutFlag.OFF_FRAMES, CutoutFlag.NAN_PIXELS]
    table = QTable({"ra": np.arange(n, dtype=float), "dec": np.zeros(n), "flags": flags,
                    "ebv": rng.uniform(0, 0.1, n), "smooth": rng.uniform(0, 1, n)})
    return CutoutCatalog(table, images)


@pytest.fixture
def rendezvous(monkeypatch):
    with socket.socket() as s:  # a free loopback port for the gloo rendezvous
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(s.getsockname()[1]))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")


def _encoder():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)


def test_shards_cover_every_row_once_without_padding():
    for n in (0, 1, 5, 23, 64):
        for world in (1, 2, 3, 8):
            b = shard_bounds(n, world)
            assert b[0] == 0 and b[-1] == n and len(b) == world + 1
            sizes = np.diff(b)
            assert sizes.min() >= 0 and sizes.max() - sizes.min() <= 1
    # a rank whose shard is empty still yields one batch, of no rows
    images = np.ones((3, 5, 8, 8), np.float32)
    empty = _ShardBatches(images, None, np.arange(3), 3, 3, 2)
    assert len(empty) == 1 and len(empty[0][1]) == 0
    full = _ShardBatches(images, None, np.arange(3), 0, 3, 2)
    assert [len(full[k][1]) for k in range(len(full))] == [2, 1]
    # pieces gathered out of order are put back in order; gaps and overlaps are refused
    part = {"x": np.arange(2), "empty": np.zeros(2, bool), "incomplete": np.zeros(2, bool)}
    later = {k: v + 2 if k == "x" else v for k, v in part.items()}
    np.testing.assert_array_equal(_assemble([(2, later), (0, part)], 4)["x"], [0, 1, 2, 3])
    with pytest.raises(RuntimeError, match="exactly once"):
        _assemble([(0, part), (1, later)], 4)
    with pytest.raises(RuntimeError, match="exactly once"):
        _assemble([(0, part)], 4)


def test_is_distributed_reads_devices_and_nodes():
    assert not is_distributed(None) and not is_distributed(1) and not is_distributed([0])
    assert is_distributed(2) and is_distributed([0, 1]) and is_distributed(1, num_nodes=2)
    with pytest.raises(ValueError, match="num_nodes"):
        is_distributed(1, num_nodes=0)


@pytest.mark.slow
def test_cli_encode_on_two_processes_equals_one_process_from_hdf5(tmp_path, rendezvous, capfd):
    from galssl.cli import main

    cat = _catalog()
    cat.write(tmp_path / "cat.h5", progress=False)  # each rank reads its own shard
    enc = _encoder()
    enc.save(tmp_path / "encoder.pt")
    one = enc.encode(cat, batch_size=4, progress=False)
    assert main(["encode", "--model", str(tmp_path), "--data", str(tmp_path / "cat.h5"),
                 "--out", str(tmp_path / "reps.npy"), "--batch-size", "4", "--devices", "2",
                 "--accelerator", "cpu", "--no-progress"]) == 0
    two = np.load(tmp_path / "reps.npy")
    assert two.shape == one.shape == (23, enc.num_features)
    assert np.isnan(two[5]).all() and np.isfinite(np.delete(two, 5, axis=0)).all()
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
    out = capfd.readouterr()  # at the file descriptors: the spawned ranks' output too
    assert "23 representations" in out.out
    # Lightning's banners stay quiet in the spawned ranks
    assert "Initializing distributed" not in out.out + out.err


@pytest.mark.slow
def test_photoz_and_morphology_predict_on_two_processes_equal_one_process(rendezvous):
    cat = _catalog()
    pz = PhotoZEstimator(crop=32, jitter=2, n_bins=40)
    pz._trained = True  # random weights: the distribution of the work is tested
    ref = torch.nn.functional.normalize(torch.randn(30, pz.net.backbone.num_features), dim=1)
    pz.reference, pz.ood_threshold = ref, 0.5
    one = pz.predict(cat, batch_size=4, progress=False)
    two = pz.predict(cat, batch_size=4, progress=False, **TWO)
    assert len(two) == len(cat) and list(two["ra"]) == list(cat.table["ra"])
    for name in ("z_phot", "z_phot_err", "ood_distance", "z_pdf"):
        np.testing.assert_allclose(np.asarray(two[name]), np.asarray(one[name]), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(two["photoz_flag"], one["photoz_flag"])
    assert np.isnan(two["z_phot"][5])

    mc = MorphologyClassifier(_encoder(), questions=["smooth"]).fit(cat, progress=False)
    one = mc.predict(cat, batch_size=4, progress=False)
    two = mc.predict(cat, batch_size=4, progress=False, **TWO)
    np.testing.assert_allclose(np.asarray(two["smooth"]), np.asarray(one["smooth"]),
                               rtol=1e-5, atol=1e-6)
    assert np.isnan(two["smooth"][5]) and np.isfinite(np.delete(two["smooth"], 5)).all()


@pytest.mark.slow
def test_retrieval_invariance_on_two_processes_equals_one_process(rendezvous):
    from galssl.augment import finetune_transform
    from galssl.search import retrieval_invariance

    cat = _catalog()
    enc = _encoder()
    views = finetune_transform(out=32, jitter=2)
    one = retrieval_invariance(enc, cat, views, seed=4, batch_size=4, per_object=True,
                               progress=False)
    two = retrieval_invariance(enc, cat, views, seed=4, batch_size=4, per_object=True,
                               progress=False, **TWO)
    assert two[0] == one[0]
    np.testing.assert_array_equal(two[1].mask, one[1].mask)
    np.testing.assert_array_equal(two[1].filled(False), one[1].filled(False))
    assert one[1].mask[5] and not one[1].mask[9]  # no data: not evaluated


def test_read_batch_zeroes_non_finite_pixels_flags_rows_and_leaves_the_source_alone():
    from galssl.engine import CutoutDataset, read_batch

    rng = np.random.default_rng(3)
    images = rng.normal(size=(12, 5, 9, 9)).astype(np.float32)
    images[2, 1, 3, 4] = np.nan
    images[4, :, 0, 0] = [np.inf, -np.inf, np.nan, 1.0, 2.0]
    images[7] = np.nan  # no finite pixel
    images[9, 0, :2] = 3e38  # finite, but its row sum overflows: neither zeroed nor flagged
    source = images.copy()
    ebv = np.full(12, 0.03, np.float32)
    ebv[5] = np.nan
    for sel in (np.arange(12), np.arange(1, 10), np.array([9, 4, 2, 7, 0])):  # slice, fancy
        x, e, empty, incomplete = read_batch(images, ebv, sel)
        expected = np.nan_to_num(source[sel], nan=0.0, posinf=0.0, neginf=0.0)
        np.testing.assert_array_equal(x.numpy(), expected)
        np.testing.assert_array_equal(empty, sel == 7)
        np.testing.assert_array_equal(incomplete, np.isin(sel, [2, 4, 5, 7]))
        np.testing.assert_array_equal(e.numpy(), np.nan_to_num(ebv[sel]))
        # the caller's array is never modified nor shared
        np.testing.assert_array_equal(images, source)
        assert not np.shares_memory(x.numpy(), images)
    # nor is a torch tensor's (np.asarray of a tensor slice shares its memory)
    tensor = torch.from_numpy(source.copy())
    x, _, _, incomplete = read_batch(tensor, None, np.arange(3, 6))
    np.testing.assert_array_equal(tensor.numpy(), source)
    np.testing.assert_array_equal(x.numpy(), np.nan_to_num(source[3:6], nan=0.0, posinf=0.0,
                                                           neginf=0.0))
    np.testing.assert_array_equal(incomplete, [False, True, False])
    # the training dataset's batches are cleaned the same way
    x, e = CutoutDataset(images, ebv).__getitems__([4, 7, 9])
    np.testing.assert_array_equal(x.numpy(), np.nan_to_num(source[[4, 7, 9]], nan=0.0,
                                                           posinf=0.0, neginf=0.0))
    np.testing.assert_array_equal(images, source)
    # rows without pixels are empty
    _, _, empty, incomplete = read_batch(np.zeros((3, 5, 0, 0), np.float32), None, [0, 1])
    assert empty.all() and not incomplete.any()


def test_a_spawned_rank_ends_its_process_group_and_a_launched_rank_keeps_it(tmp_path):
    import pickle

    import torch.distributed as dist

    from galssl.engine import InferenceModule

    module = InferenceModule(torch.nn.Identity(), None, None, None)
    spawned = pickle.loads(pickle.dumps(module))  # as ddp_spawn hands it to a rank
    assert not getattr(module, "_spawned_rank", False) and spawned._spawned_rank
    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        module.teardown("predict")  # a rank the user launched (torchrun): group kept
        assert dist.is_initialized()
        spawned.teardown("predict")
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
