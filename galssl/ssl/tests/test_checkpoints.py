# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Training state: safe loading on every path, integrity, exact resume, and refusal of a
resume by a run with other settings."""

import os

import numpy as np
import pytest
import torch
from astropy.table import Table

from galssl import ContrastiveEncoder, MorphologyClassifier, PhotoZEstimator
from galssl.cli import main
from galssl.morphology.tests.test_classifier import toy_morphology
from galssl.photoz.tests.test_estimator import toy_photoz
from galssl.ssl import CheckpointError, read_checkpoint
from galssl.ssl.tests.test_encoder import SMALL, _toy_catalog

PZ = dict(crop=32, jitter=2, n_bins=40)
FAST = dict(progress=False, precision="32-true", deterministic=True)


class _Payload:
    """Pickles as a call of ``os.mkdir(marker)``: loading it without ``weights_only`` runs
    that call."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _craft(path, marker, **extra):
    """An executable pickle that looks like a checkpoint (format keys, a config)."""
    torch.save({"format": "galssl.PhotoZEstimator", "format_version": 1, "config": {},
                "galssl_config": {}, "payload": _Payload(marker), **extra}, path)


def test_the_crafted_payload_really_runs_code_when_unpickled(tmp_path):
    # the control: without galssl's reader the file does run code, so the tests below
    # that it does not are meaningful
    _craft(tmp_path / "evil.pt", tmp_path / "ran")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert (tmp_path / "ran").is_dir()


def _load_paths(tmp_path):
    """Every galssl call that reads a checkpoint file by path, on the file ``evil``."""
    def as_last_ckpt(evil, folder):
        """Put ``evil`` where a resume looks for it; returns the checkpoint folder."""
        ckdir = tmp_path / folder
        ckdir.mkdir(parents=True, exist_ok=True)
        os.replace(evil, ckdir / "last.ckpt")
        return ckdir

    def pretrain_resume(evil):
        ContrastiveEncoder(**SMALL).fit(_toy_catalog(n=48), epochs=1, batch_size=16,
                                        checkpoint_dir=as_last_ckpt(evil, "enc"), resume=True,
                                        **FAST)

    def photoz_resume(evil):
        PhotoZEstimator(**PZ).fit(toy_photoz(n=32), epochs=1, batch_size=16,
                                  checkpoint_dir=as_last_ckpt(evil, "pz"), resume=True, **FAST)

    def morphology_resume(evil):
        cat = toy_morphology(32)
        mc = MorphologyClassifier(mode="finetune", arch="resnet10-small", crop=32, jitter=4,
                                  questions=["smooth"])
        mc.fit(cat, Table({"smooth": np.asarray(cat.table["smooth"])}), epochs=1,
               batch_size=16, checkpoint_dir=as_last_ckpt(evil, "mc"), resume=True, **FAST)

    def cli_resume(evil):
        as_last_ckpt(evil, "cli/checkpoints")
        _toy_catalog(n=48).write(tmp_path / "c.h5", overwrite=True, progress=False)
        code = main(["pretrain", "--data", str(tmp_path / "c.h5"), "--out",
                     str(tmp_path / "cli"), "--epochs", "1", "--batch-size", "16",
                     "--queue-size", "32", "--crop", "32", "--resume", "--no-progress"])
        if code != 0:
            raise CheckpointError(f"the CLI refused it (exit code {code})")

    return {
        "read_checkpoint": read_checkpoint,
        "ContrastiveEncoder.load": ContrastiveEncoder.load,
        "PhotoZEstimator.load": PhotoZEstimator.load,
        "MorphologyClassifier.load": MorphologyClassifier.load,
        "PhotoZEstimator.from_pretrained": PhotoZEstimator.from_pretrained,
        "ContrastiveEncoder.from_pretrained": ContrastiveEncoder.from_pretrained,
        "ContrastiveEncoder.fit(resume=True)": pretrain_resume,
        "PhotoZEstimator.fit(resume=True)": photoz_resume,
        "MorphologyClassifier.fit(resume=True)": morphology_resume,
        "galssl pretrain --resume": cli_resume,
    }


PATHS = list(_load_paths(None))


@pytest.mark.parametrize("name", PATHS)
def test_executable_pickles_are_refused_on_every_load_path(name, tmp_path, monkeypatch,
                                                           capsys):
    # torch's escape hatch that turns weights_only off where a caller did not ask for it
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    evil, marker = tmp_path / "evil.pt", tmp_path / "ran"
    _craft(evil, marker)
    with pytest.raises(CheckpointError) as info:
        _load_paths(tmp_path)[name](evil)
    assert not marker.exists(), f"{name} ran the pickled code"
    msg = str(info.value) + capsys.readouterr().err
    assert "refused" in msg and "evil.pt" in msg or "last.ckpt" in msg


def _flip_byte(path, where=0.5):
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x55
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_caught_on_load_by_path(tmp_path):
    enc = ContrastiveEncoder(**SMALL)
    path = tmp_path / "enc.pt"
    enc.save(path)
    assert torch.load(path, weights_only=True)  # loads before the damage
    _flip_byte(path)
    # torch itself does not notice: the check is galssl's
    torch.load(path, weights_only=True)
    for load in (ContrastiveEncoder.load, ContrastiveEncoder.from_pretrained):
        with pytest.raises(CheckpointError, match=r"enc\.pt.*(CRC|damaged)"):
            load(path)
    pz_path = tmp_path / "pz.pt"
    PhotoZEstimator(**PZ).save(pz_path)
    _flip_byte(pz_path, 0.6)
    with pytest.raises(CheckpointError, match=r"pz\.pt.*CRC"):
        PhotoZEstimator.from_pretrained(pz_path)
    with pytest.raises(CheckpointError, match="not a readable"):
        (tmp_path / "text.pt").write_text("not a checkpoint")
        PhotoZEstimator.load(tmp_path / "text.pt")


@pytest.mark.parametrize("field, value, match", [
    ("reference", [[0.1, 0.2]], "reference representations"),
    ("reference", torch.zeros(5, 3), r"reference representations must be a finite \(N, 256\)"),
    ("ood_threshold", "0.3", "ood_threshold must be a finite number"),
    ("ood_threshold", float("nan"), "ood_threshold must be a finite number"),
    ("calibration", {"x": [0.0, 1.0], "y": [1.0]}, "calibration is not valid"),
    ("calibration", "bogus", "calibration is not valid"),
    ("calibration", {"x": [0.0, 2.0, 1.0], "y": [0.0, 1.0, 2.0]}, "strictly increasing"),
    ("card", ["a list"], "model card must be a dict"),
    ("config", "arch=resnet10-small", "config must be a dict"),
    ("head", [1, 2], "head weights must be a dict of tensors"),
])
def test_checkpoint_fields_of_the_wrong_type_are_refused_at_load(field, value, match, tmp_path):
    pz = PhotoZEstimator(**PZ)
    state = pz.state_dict()
    state["reference"] = torch.nn.functional.normalize(torch.randn(20, 256), dim=1)
    state["ood_threshold"] = 0.3
    PhotoZEstimator.from_state_dict(state)  # the valid one loads
    state[field] = value
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=match) as info:
        PhotoZEstimator.load(path)
    assert "bad.pt" in str(info.value)


class _Lrs:
    """Records the learning rate of the first parameter group at every step."""

    def __init__(self):
        import lightning as L

        self.seen = []
        outer = self

        class Cb(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                outer.seen.append(trainer.optimizers[0].param_groups[0]["lr"])

        self.callback = Cb()


def _same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize("extra", [{}, {"momentum_schedule": "cosine"},
                                   {"decorrelation": 0.5}, {"photometry": 0.0}])
def test_pretraining_stopped_and_resumed_equals_the_planned_run_bit_for_bit(extra, tmp_path):
    cat = _toy_catalog(n=48)
    kw = dict(batch_size=16, seed=3, **FAST)
    enc = dict(SMALL, **extra)
    straight = ContrastiveEncoder(**enc).fit(cat, epochs=3, checkpoint_dir=tmp_path / "a",
                                             **kw)
    ContrastiveEncoder(**enc).fit(cat, epochs=3, stop_epoch=1,
                                  checkpoint_dir=tmp_path / "b", **kw)
    assert read_checkpoint(tmp_path / "b" / "last.ckpt")["epoch"] == 0  # one epoch done
    resumed = ContrastiveEncoder(**enc).fit(cat, epochs=3, checkpoint_dir=tmp_path / "b",
                                            resume=True, **kw)
    _same_weights(straight.backbone.state_dict(), resumed.backbone.state_dict())
    torch.testing.assert_close(resumed.module.queue.queue, straight.module.queue.queue,
                               rtol=0, atol=0)
    assert hasattr(straight.module, "photometry_head") == (extra != {"photometry": 0.0})
    if hasattr(straight.module, "photometry_head"):
        _same_weights(straight.module.photometry_head.state_dict(),
                      resumed.module.photometry_head.state_dict())


def test_cosine_momentum_rises_from_m_to_one_over_the_planned_steps():
    import lightning as L

    cat = _toy_catalog(n=48)
    seen = []

    class Cb(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append(module.momentum_at(trainer.global_step))

    ContrastiveEncoder(**dict(SMALL, momentum=0.9, momentum_schedule="cosine")).fit(
        cat, epochs=3, batch_size=16, seed=3, callbacks=[Cb()], **FAST)
    steps = np.arange(9)  # 3 epochs of 3 steps: m_t = 1 - 0.1 (cos(pi t / 9) + 1) / 2
    np.testing.assert_allclose(seen, 1 - 0.1 * (np.cos(np.pi * steps / 9) + 1) / 2,
                               rtol=0, atol=1e-12)
    assert seen[0] == 0.9 and np.all(np.diff(seen) > 0)
    constant = ContrastiveEncoder(**dict(SMALL, momentum=0.9)).fit(
        cat, epochs=1, batch_size=16, seed=3, **FAST)
    assert constant.module.momentum_at(2) == 0.9
    with pytest.raises(ValueError, match="momentum_schedule must be one of"):
        ContrastiveEncoder(momentum_schedule="linear")


def test_decorrelation_adds_its_weighted_term_to_infonce():
    cat = _toy_catalog(n=48)
    kw = dict(epochs=1, batch_size=16, seed=3, **FAST)
    plain = ContrastiveEncoder(**SMALL).fit(cat, **kw)
    spread = ContrastiveEncoder(**dict(SMALL, decorrelation=0.5)).fit(cat, **kw)
    # the first step starts from the same weights and views: InfoNCE is the same, and the
    # term (> 0 for 16 representations of dimension 256) is added on top
    l0, l1 = float(plain.module.loss_history[0]), float(spread.module.loss_history[0])
    assert l1 > l0
    assert spread.history["train_decorrelation"] > 0
    assert "train_decorrelation" not in plain.history
    assert spread.config["decorrelation"] == 0.5 and plain.config["decorrelation"] == 0.0
    with pytest.raises(ValueError, match="decorrelation must be a finite weight >= 0"):
        ContrastiveEncoder(decorrelation=-1)
    with pytest.raises(ValueError, match="photometry must be a finite weight >= 0"):
        ContrastiveEncoder(photometry=-1)


def test_the_photometry_target_is_added_learnt_and_saved(tmp_path):
    cat = _toy_catalog(n=48)
    kw = dict(batch_size=16, seed=3, **FAST)
    plain = ContrastiveEncoder(**dict(SMALL, photometry=0.0)).fit(cat, epochs=1, **kw)
    phot = ContrastiveEncoder(**dict(SMALL, photometry=2.0)).fit(cat, epochs=4, **kw)
    # same weights and views at the first step: InfoNCE + 2 x (about 1 - R^2, > 0)
    l0, l1 = float(plain.module.loss_history[0]), float(phot.module.loss_history[0])
    assert l1 > l0 + 0.5
    assert "train_photometry" in phot.history and "train_photometry" not in plain.history
    # the linear read-off of the toy blobs' brightness and colours is learnt
    head = phot.module.photometry_head
    assert 0 < phot.history["train_photometry"] < 0.9
    # the head travels with the training state, and continuing the run keeps it
    phot.save(tmp_path / "phot.pt")
    back = ContrastiveEncoder.load(tmp_path / "phot.pt")
    _same_weights(head.state_dict(), back.module.photometry_head.state_dict())
    assert back.config["photometry"] == 2.0
    back.fit(cat, epochs=1, **kw)
    assert not torch.equal(back.module.photometry_head.linear.weight, head.linear.weight)
    state = phot.state_dict()
    del state["photometry_head"]
    with pytest.raises(CheckpointError, match="photometry_head weights do not match its "
                                              "config"):
        ContrastiveEncoder.from_state_dict(state)
    with pytest.raises(ValueError, match="photometry must be a finite weight >= 0"):
        ContrastiveEncoder(photometry=float("nan"))
    with pytest.raises(ValueError, match="views of 6 pixels are smaller"):
        ContrastiveEncoder(**dict(SMALL, crop=6, photometry=1.0))


def test_extending_a_finished_run_replans_the_schedule(tmp_path):
    # 1 epoch, then resumed to 2: the second epoch runs on the learning rates that a
    # 2-epoch run has in its second epoch (not the restored schedule of the 1-epoch run,
    # which had already decayed to zero)
    cat = _toy_catalog(n=48)
    kw = dict(batch_size=16, seed=3, **FAST)
    straight, resumed = _Lrs(), _Lrs()
    ContrastiveEncoder(**SMALL).fit(cat, epochs=2, callbacks=[straight.callback], **kw)
    ContrastiveEncoder(**SMALL).fit(cat, epochs=1, checkpoint_dir=tmp_path, **kw)
    ContrastiveEncoder(**SMALL).fit(cat, epochs=2, checkpoint_dir=tmp_path, resume=True,
                                    callbacks=[resumed.callback], **kw)
    assert len(straight.seen) == 6 and len(resumed.seen) == 3
    np.testing.assert_array_equal(resumed.seen, straight.seen[3:])
    assert resumed.seen[0] > 0.01  # 0.03 x cos schedule half-way: 0.015


def test_photoz_stopped_and_resumed_equals_the_planned_run_bit_for_bit(tmp_path):
    cat = toy_photoz(n=48)
    kw = dict(batch_size=16, seed=2, **FAST)
    straight = PhotoZEstimator(**PZ).fit(cat, epochs=3, checkpoint_dir=tmp_path / "a", **kw)
    PhotoZEstimator(**PZ).fit(cat, epochs=3, stop_epoch=1, checkpoint_dir=tmp_path / "b",
                              **kw)
    resumed = PhotoZEstimator(**PZ).fit(cat, epochs=3, checkpoint_dir=tmp_path / "b",
                                        resume=True, **kw)
    _same_weights(straight.net.state_dict(), resumed.net.state_dict())


@pytest.mark.parametrize("change, names", [
    (dict(seed=4), ["seed"]),
    (dict(batch_size=8), ["batch_size"]),
    (dict(data=1), ["data"]),
    (dict(crop=24), ["crop"]),
    (dict(temperature=0.2), ["temperature"]),
])
def test_resume_refuses_a_run_with_other_settings(change, names, tmp_path):
    cat = _toy_catalog(n=48)
    kw = dict(epochs=2, batch_size=16, seed=3, **FAST)
    ContrastiveEncoder(**SMALL).fit(cat, stop_epoch=1, checkpoint_dir=tmp_path, **kw)
    if "data" in change:
        cat = _toy_catalog(n=48, seed=change.pop("data"))
    arch = dict(SMALL, **{k: change.pop(k) for k in ("crop", "temperature") if k in change})
    with pytest.raises(CheckpointError, match="other settings") as info:
        ContrastiveEncoder(**arch).fit(cat, checkpoint_dir=tmp_path, resume=True,
                                       **dict(kw, **change))
    for name in names:
        assert f"{name}:" in str(info.value)
    # the same settings resume
    ContrastiveEncoder(**SMALL).fit(_toy_catalog(n=48), checkpoint_dir=tmp_path, resume=True,
                                    **kw)


def test_stop_epoch_is_checked():
    with pytest.raises(ValueError, match="stop_epoch must be between 1 and epochs=2"):
        ContrastiveEncoder(**SMALL).fit(_toy_catalog(n=48), epochs=2, stop_epoch=3,
                                        batch_size=16, **FAST)


def test_cosine_schedule_with_warmup_is_the_closed_form():
    import math

    from galssl.engine import cosine_schedule, step_schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    sched = cosine_schedule(opt, total_steps=10, warmup_steps=3)
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.03 * (s + 1) / 3 for s in range(3)] + \
        [0.03 * 0.5 * (1 + math.cos(math.pi * (s - 3) / 7)) for s in range(3, 10)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = step_schedule(opt, [2, 4])
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 0.01])
    # step-wise: 2 steps per epoch, milestones still in epochs, a 3-step warm-up
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = step_schedule(opt, [2], steps_per_epoch=2, warmup_steps=3)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [1 / 3, 2 / 3, 1, 1, 0.1, 0.1])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        step_schedule(opt, [2], warmup_steps=3)
