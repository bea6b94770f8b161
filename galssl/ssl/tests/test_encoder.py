# Licensed under a 3-clause BSD style license - see LICENSE.rst
import csv
import math
import os

import numpy as np
import pytest
import torch
from astropy.table import QTable

from galssl import ContrastiveEncoder
from galssl.cutouts import CutoutCatalog
from galssl.tests.helpers import requires_shared_data, shared_data_dir

SMALL = dict(arch="resnet10-small", crop=32, jitter=4, queue_size=32)


def _toy_catalog(n=64, size=48, seed=0):
    """Noise plus a centred blob of random brightness, colour and width per object."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    width = rng.uniform(1.5, 5.0, n)
    prof = np.exp(-(xx**2 + yy**2)[None] / (2 * width[:, None, None] ** 2))
    colour = rng.uniform(0.2, 1.0, (n, 5))
    images = colour[:, :, None, None] * prof[:, None] + rng.normal(0, 0.02, (n, 5, size, size))
    table = QTable({"ra": np.zeros(n), "dec": np.zeros(n), "flags": np.zeros(n, int),
                    "ebv": rng.uniform(0, 0.1, n)})
    return CutoutCatalog(table, images.astype(np.float32))


def _weights(enc):
    return {k: v.clone() for k, v in enc.backbone.state_dict().items()}


def test_fit_encode_save_load_round_trip(tmp_path):
    cat = _toy_catalog()
    enc = ContrastiveEncoder(**SMALL).fit(cat, epochs=1, batch_size=16, progress=False)
    assert len(enc.history["loss"]) == 4  # 64 images / 16 per batch
    # on the CPU, where the same weights give the same numbers (TF32 convolutions on a GPU
    # vary at the 1e-3 level with the algorithm cuDNN picks)
    reps = enc.encode(cat, batch_size=20, progress=False, devices="cpu")
    assert reps.shape == (64, 256) and reps.dtype == np.float32 and np.isfinite(reps).all()
    path = tmp_path / "enc.pt"
    enc.save(path)
    state = torch.load(path, weights_only=True)  # a plain dict of tensors and numbers
    assert state["format"] == "galssl.ContrastiveEncoder" and "queue" in state
    back = ContrastiveEncoder.load(path)
    np.testing.assert_allclose(back.encode(cat, progress=False, devices="cpu"), reps,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(back.module.queue.queue, enc.module.queue.queue)
    assert back.config == enc.config and "trained" in repr(back)
    # the shippable form: float16 backbone only, half the bytes of the backbone, and
    # representations within float16 rounding of the full checkpoint's
    lean = tmp_path / "lean.pt"
    enc.save(lean, half=True, training_state=False)
    state = torch.load(lean, weights_only=True)
    assert "queue" not in state and "head" not in state and "backbone_k" not in state
    assert all(v.dtype == torch.float16 for v in state["backbone"].values()
               if v.is_floating_point())
    small = ContrastiveEncoder.load(lean)
    assert small.module is None and small.config == enc.config
    assert all(v.dtype != torch.float16 for v in small.backbone.state_dict().values())
    got = small.encode(cat, progress=False, devices="cpu")
    cos = np.sum(got * reps, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reps, axis=1)
    assert cos.min() > 0.999


def test_high_extinction_rows_are_left_out_of_training():
    # a low-latitude field (E(B-V) ~ 4) dereddened would reach the network 10^7 times
    # too bright in u: training leaves such rows out and says how many
    from astropy.utils.exceptions import AstropyUserWarning

    cat = _toy_catalog(n=80)
    cat.table["ebv"][:16] = 4.2
    with pytest.warns(AstropyUserWarning, match=r"16 of 80 training rows have E\(B-V\) > 0.5"):
        enc = ContrastiveEncoder(**SMALL).fit(cat, epochs=1, batch_size=16, progress=False)
    assert len(enc.history["loss"]) == 4  # 64 rows left, 16 per batch
    assert np.isfinite(enc.history["loss"]).all()


def test_load_reports_mismatched_keys(tmp_path):
    enc = ContrastiveEncoder(**SMALL)
    state = enc.state_dict()
    state["backbone"]["extra.weight"] = torch.zeros(1)
    del state["backbone"]["body.0.weight"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"missing keys \['body.0.weight'\].*unexpected keys "
                                         r"\['extra.weight'\]"):
        ContrastiveEncoder.load(tmp_path / "bad.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a galssl ContrastiveEncoder checkpoint"):
        ContrastiveEncoder.load(tmp_path / "other.pt")


def test_bad_input_errors():
    cat = _toy_catalog(n=8)
    enc = ContrastiveEncoder(**SMALL)
    with pytest.raises(ValueError, match="4 channels, the encoder expects 5"):
        enc.fit(np.zeros((8, 4, 48, 48), np.float32), batch_size=4, progress=False)
    with pytest.raises(ValueError, match="no complete images"):
        enc.fit(cat[np.zeros(8, bool)], progress=False)
    with pytest.raises(ValueError, match=r"3 training images .*needs at least 4"):
        enc.fit(cat[:3], batch_size=16, progress=False)
    with pytest.raises(ValueError, match="as large as the training set"):
        small_queue = ContrastiveEncoder(**dict(SMALL, queue_size=8))
        small_queue.fit(cat, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="48x48 images are too small for the training views: "
                                         "a 64-pixel crop with a jitter of 7 pixels needs 78x78"):
        ContrastiveEncoder(arch="resnet10-small").fit(cat, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="in_chans=4"):
        ContrastiveEncoder(in_chans=4)
    with pytest.raises(ValueError, match="4 channels"):
        enc.encode(np.zeros((2, 4, 48, 48), np.float32), progress=False)
    with pytest.raises(FileNotFoundError, match="last.ckpt"):
        enc.fit(cat, batch_size=4, checkpoint_dir="/nonexistent-dir", resume=True,
                progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            enc.encode(cat, devices="cuda", progress=False)


def test_encode_keeps_rows_and_flags_empty_images():
    cat = _toy_catalog(n=6)
    cat.images[2] = np.nan
    cat.images[4, :, :3] = np.nan  # partly missing: NaN pixels count as zero
    reps = ContrastiveEncoder(**SMALL).encode(cat, progress=False)
    assert reps.shape[0] == 6
    assert np.isnan(reps[2]).all() and np.isfinite(np.delete(reps, 2, axis=0)).all()


class _Kill(Exception):
    pass


def _killer(epoch, batch):
    import lightning as L

    class Kill(L.Callback):
        def on_train_batch_start(self, trainer, module, b, batch_idx):
            if trainer.current_epoch == epoch and batch_idx == batch:
                raise _Kill("simulated crash")
    return Kill()


def test_killed_and_resumed_training_equals_an_uninterrupted_run(tmp_path):
    cat = _toy_catalog(n=48)
    kw = dict(epochs=3, batch_size=16, seed=5, deterministic=True, progress=False)
    straight = ContrastiveEncoder(**SMALL).fit(cat, checkpoint_dir=tmp_path / "a", **kw)
    crashed = ContrastiveEncoder(**SMALL)
    with pytest.raises(_Kill):
        crashed.fit(cat, checkpoint_dir=tmp_path / "b", callbacks=[_killer(2, 1)], **kw)
    assert os.path.isfile(tmp_path / "b" / "last.ckpt")  # written at the end of epoch 2
    resumed = ContrastiveEncoder(**SMALL).fit(cat, checkpoint_dir=tmp_path / "b",
                                              resume=True, **kw)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=k)
    torch.testing.assert_close(resumed.module.queue.queue, straight.module.queue.queue,
                               rtol=0, atol=0)
    assert int(resumed.module.queue.ptr) == int(straight.module.queue.ptr)


def _losses(folder):
    path = os.path.join(folder, "logs", "version_0", "metrics.csv")
    with open(path) as f:
        return [float(r["train_loss"]) for r in csv.DictReader(f) if r.get("train_loss")]


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path, monkeypatch):
    """Two gloo ranks of 8 images each = one process of 16 with two batch-norm groups.

    With deterministic views (augment=False), shuffle-BN across two ranks and its emulation
    on one device (bn_splits=2) see the same batch-norm groups, so losses and weights agree.
    """
    import socket

    with socket.socket() as s:  # a free loopback port for the gloo rendezvous
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(s.getsockname()[1]))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    cat = _toy_catalog(n=64)
    # no input stretch: on this toy the stretched run's fourth loss is ill-conditioned
    # (float32 and float64 runs of one process differ by 9e-4 there, and two ranks land on
    # the float64 value), so it could not tell a DDP fault from rounding
    cfg = dict(SMALL, augment=False, bn_splits=2, input_stretch=None)
    # fp32: bf16 rounding would differ between the two ways of grouping the batch
    kw = dict(epochs=1, batch_size=16, seed=3, progress=False, precision="32-true",
              log_every_n_steps=1, accelerator="cpu")
    one = ContrastiveEncoder(**cfg).fit(cat, checkpoint_dir=tmp_path / "one", **kw)
    two = ContrastiveEncoder(**cfg).fit(cat, checkpoint_dir=tmp_path / "two", devices=2,
                                        strategy="ddp_spawn", **kw)
    l1, l2 = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(l1) == len(l2) == 4
    np.testing.assert_allclose(l2, l1, atol=1e-4)
    # weights and batch-norm running statistics (DDP keeps rank 0's; one process those of
    # group 0, the same images) agree
    s1, s2 = one.state_dict(), two.state_dict()
    for part in ("backbone", "head", "backbone_k", "head_k"):
        assert s1[part].keys() == s2[part].keys()
        for k, v in s1[part].items():
            torch.testing.assert_close(s2[part][k], v, rtol=1e-4, atol=1e-5, msg=f"{part}.{k}")


@requires_shared_data
def test_a_few_steps_on_real_cutouts_lower_the_loss():
    folder = os.path.join(shared_data_dir(), "sdss_frames", "003918-3-0213")
    cat = CutoutCatalog.from_frames(folder, size=72, progress=False)
    cat = cat[cat.good]
    assert len(cat) > 100
    enc = ContrastiveEncoder(arch="resnet10-small", crop=48, jitter=4, queue_size=64, lr=0.06)
    enc.fit(cat, epochs=6, batch_size=32, seed=0, progress=False)
    # the first 64 / 32 = 2 steps compare against the random initial queue (an easy task);
    # from then on the negatives are real keys and the loss must go down as it learns
    # (step-to-step scatter ~0.05, so 0.1 between means of 5 steps is ~4 sigma; the asinh
    # stretch makes the first steps easier: 4.16 -> 4.02 here, 0.3 without it)
    loss = np.array(enc.history["loss"])[2:]
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.1, loss


@pytest.mark.parametrize("progress", [False, True])
def test_fit_prints_no_lightning_chatter(progress, capfd):
    ContrastiveEncoder(**SMALL).fit(_toy_catalog(n=48), batch_size=16, progress=progress,
                                    precision="32-true")
    out = capfd.readouterr()
    text = out.out + out.err
    for chatter in ("GPU available", "TPU available", "Tip", "litlogger", "Total params"):
        assert chatter not in text
    assert ("train_loss" in text) == progress  # the bar, when asked for


def test_shuffle_bn_emulation_really_shuffles_keys_across_batch_norm_groups():
    # on one device the key batch is permuted across the bn_splits groups before the
    # momentum encoder and un-permuted after: a key's batch-norm statistics then come from
    # other images than its query's (shuffle-BN), which removing the permutation breaks
    from galssl.engine import seed_from as _seed
    from galssl.ssl._module import MoCoModule

    enc = ContrastiveEncoder(**SMALL, bn_splits=2)
    config = dict(enc.config, seed=7, batch_size=16, num_workers=0, queue_size=32)
    module = MoCoModule(config, [0.01] * 5).train()
    x = torch.randn(16, 5, 32, 32) * torch.linspace(0.1, 3, 16)[:, None, None, None]
    with torch.no_grad():
        keys = module._encode_key(x, step=3)
        perm = torch.randperm(16, generator=torch.Generator().manual_seed(_seed(7, 3, 7)))
        assert (perm[:8] >= 8).any() and (perm[:8] < 8).any()  # the groups are mixed
        shuffled = module.head_k(module.backbone_k(x[perm]))
        expected = torch.empty_like(shuffled)
        expected[perm] = shuffled
        unshuffled = module.head_k(module.backbone_k(x))
    torch.testing.assert_close(keys, expected)
    # without the permutation each key would be normalised with its query's group
    assert not torch.allclose(keys, unshuffled, atol=1e-4)


def _shuffle_bn_module(world=1, rank=0):
    """A MoCo module of fixed weights that believes it is rank ``rank`` of ``world``
    (gathering through torch.distributed directly, without a Lightning trainer)."""
    from galssl.ssl._module import MoCoModule

    class Ranked(MoCoModule):
        @property
        def global_rank(self):
            return rank

        def _world(self):
            return world

        def all_gather(self, t):
            import torch.distributed as dist

            out = [torch.empty_like(t) for _ in range(world)]
            dist.all_gather(out, t.contiguous())
            return torch.stack(out)

    config = dict(ContrastiveEncoder(**SMALL, bn_splits=2).config, seed=7, batch_size=16,
                  num_workers=0, queue_size=32)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return Ranked(config, [0.01] * 5).train()


def _keys_of_rank(rank, port, x, folder):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        with torch.no_grad():
            keys = _shuffle_bn_module(2, rank)._encode_key(x[rank * 8:(rank + 1) * 8], step=3)
        torch.save(keys, os.path.join(folder, f"keys{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_shuffle_bn_across_two_ranks_encodes_keys_in_the_shuffled_groups(tmp_path):
    # each rank's momentum encoder normalises a shuffled half of the global batch, as the
    # one-device emulation does (tested above to really mix the groups); a rank that
    # encoded its own images, unshuffled, would give other keys
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    x = torch.randn(16, 5, 32, 32) * torch.linspace(0.1, 3, 16)[:, None, None, None]
    mp.start_processes(_keys_of_rank, args=(port, x, str(tmp_path)), nprocs=2,
                       start_method="spawn")
    ranks = torch.cat([torch.load(tmp_path / f"keys{r}.pt") for r in (0, 1)])
    one = _shuffle_bn_module()
    with torch.no_grad():
        emulated = one._encode_key(x, step=3)
        unshuffled = torch.cat([one.head_k(one.backbone_k(x[:8])),
                                one.head_k(one.backbone_k(x[8:]))])
    torch.testing.assert_close(ranks, emulated, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(ranks, unshuffled, atol=1e-4)


def test_a_catalogue_smaller_than_the_batch_adapts_with_a_warning(tmp_path):
    # one SDSS field has ~150 galaxies, the bundled sample 8: defaults must still run
    from astropy.utils.exceptions import AstropyUserWarning

    cat = _toy_catalog(n=40)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=4)
    with pytest.warns(AstropyUserWarning, match=r"40 training images cannot fill one batch "
                      r"of 256: using batch_size=16"):
        enc.fit(cat, epochs=1, progress=False, precision="32-true")
    assert len(enc.history["loss"]) == 2 and enc.config["queue_size"] < 40
    with pytest.raises(ValueError, match="cannot fill one batch of 256"):
        enc.fit(cat, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_views_key_shuffle_and_momentum_follow_the_global_step_across_epochs(monkeypatch):
    """Three epochs of two steps: the random views, the shuffle-BN permutation and the
    momentum m are drawn for optimiser steps 0..5, not for the step within the epoch
    (a per-epoch counter repeats epoch 1's views in every epoch, and its m never rises),
    and m follows the cosine schedule to its planned end. Stop-and-resume tests cannot see
    this slip: it is deterministic either way."""
    from galssl.ssl import _module

    seeds, moments = [], []
    real_seed_from, real_momentum_at = _module.seed_from, _module.MoCoModule.momentum_at

    def spy_seed(seed, step, salt):
        seeds.append((step, salt))
        return real_seed_from(seed, step, salt)

    def spy_momentum(self, step):
        m = real_momentum_at(self, step)
        moments.append((step, m, self._planned_steps))
        return m

    monkeypatch.setattr(_module, "seed_from", spy_seed)
    monkeypatch.setattr(_module.MoCoModule, "momentum_at", spy_momentum)
    enc = ContrastiveEncoder(**dict(SMALL, queue_size=16), bn_splits=2, momentum=0.9,
                             momentum_schedule="cosine")
    enc.fit(_toy_catalog(n=32), epochs=3, batch_size=16, progress=False,
            precision="32-true", seed=3)
    views = [s for s, salt in seeds if salt == 0]        # rank 0's view generator
    keys = [s for s, salt in seeds if salt == 7]         # the key-shuffle generator
    assert views == keys == [0, 1, 2, 3, 4, 5]
    assert [s for s, _, _ in moments] == [0, 1, 2, 3, 4, 5]
    assert {total for _, _, total in moments} == {6}
    expected = [1 - 0.1 * (math.cos(math.pi * s / 6) + 1) / 2 for s in range(6)]
    np.testing.assert_allclose([m for _, m, _ in moments], expected, rtol=1e-12)
