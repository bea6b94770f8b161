# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os

import lightning as L
import numpy as np
import pytest
import torch
from astropy.table import MaskedColumn, QTable, Table
from astropy.utils.exceptions import AstropyUserWarning

from galssl import ContrastiveEncoder
from galssl.cutouts import CutoutCatalog
from galssl.morphology import MorphologyClassifier, metrics
from galssl.morphology._module import masked_bce

QUESTIONS = ["smooth", "extended"]
FAST = dict(progress=False, precision="32-true")  # fine-tuning on the CPU


def toy_morphology(n=300, size=40, seed=0):
    """Elliptical blobs whose labels are known functions of the images: ``smooth`` is a
    logistic function of the colour (a log amplitude slope across the bands) and
    ``extended`` of the blob width; brightness, axis ratio and orientation vary
    independently of both."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(-1, 1, n)
    width = rng.uniform(1.5, 4.5, n)
    q = rng.uniform(0.3, 1.0, n)
    ang = rng.uniform(0, np.pi, n)[:, None, None]
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    u = xx[None] * np.cos(ang) + yy[None] * np.sin(ang)
    v = -xx[None] * np.sin(ang) + yy[None] * np.cos(ang)
    prof = np.exp(-(u**2 + (v / q[:, None, None]) ** 2) / (2 * width[:, None, None] ** 2))
    slope = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    amp = rng.uniform(1, 2, n)[:, None] * np.exp(slope[None] * colour[:, None])
    images = amp[:, :, None, None] * prof[:, None] + rng.normal(0, 0.01, (n, 5, size, size))
    table = QTable({"ra": np.zeros(n), "dec": np.zeros(n), "flags": np.zeros(n, int),
                    "ebv": np.zeros(n), "smooth": 1 / (1 + np.exp(-6 * colour)),
                    "extended": 1 / (1 + np.exp(-3 * (width - 3)))})
    return CutoutCatalog(table, images.astype(np.float32))


def toy_encoder(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)


@pytest.fixture(scope="module")
def linear():
    enc = toy_encoder()
    train, test = toy_morphology(300, seed=0), toy_morphology(200, seed=1)
    mc = MorphologyClassifier(enc, questions=QUESTIONS).fit(train, progress=False)
    feats = enc.encode(train, progress=False)
    return mc, enc, train, test, feats


def test_linear_probe_learns_known_functions_on_held_out_objects(linear):
    mc, _, _, test, _ = linear
    res = mc.evaluate(test, progress=False)
    for q in QUESTIONS:
        p, t = np.asarray(res["table"][q]), np.asarray(test.table[q])
        baseline = np.mean(np.abs(t - t.mean()))  # predicting the mean
        assert res[q]["mae"] < 0.3 * baseline, q
        assert np.corrcoef(p, t)[0, 1] > 0.95, q
        assert res[q]["n_hq"] > 80 and res[q]["accuracy"] > 0.95 and res[q]["roc_auc"] > 0.98
        assert res[q]["eta"] < 0.02
    assert mc.history["n_train"] == 300 and mc.history["n_labels"] == {"smooth": 300,
                                                                       "extended": 300}


def test_predict_rows_in_rows_out_and_representations(linear):
    mc, enc, train, _, feats = linear
    sub = train[np.arange(8)]
    images = np.asarray(sub.images).copy()
    images[2] = np.nan  # no data at all
    out = mc.predict(CutoutCatalog(sub.table, images), progress=False)
    assert isinstance(out, QTable) and out.colnames == QUESTIONS and len(out) == 8
    assert np.isnan(out["smooth"][2]) and np.isnan(out["extended"][2])
    ok = np.arange(8) != 2
    assert np.all((out["smooth"][ok] > 0) & (out["smooth"][ok] < 1))
    assert out.meta["morphology"]["mode"] == "linear"
    # the same from the representations and from a plain image array, in order
    from_feats = mc.predict(feats[:8], progress=False)
    np.testing.assert_allclose(from_feats["smooth"][ok], out["smooth"][ok], rtol=1e-4,
                               atol=1e-5)
    rev = mc.predict(np.asarray(sub.images)[::-1], progress=False)
    np.testing.assert_allclose(rev["extended"][::-1][ok], out["extended"][ok], rtol=1e-4,
                               atol=1e-5)
    assert len(mc.predict(Table({"ra": [], "dec": []}), progress=False)) == 0
    # a linear fit on the representations equals the fit on the images
    again = MorphologyClassifier(enc, questions=QUESTIONS).fit(
        feats, Table({q: train.table[q] for q in QUESTIONS}))
    np.testing.assert_allclose(again.net.head.linear.weight.detach(),
                               mc.net.head.linear.weight.detach(), rtol=1e-3, atol=1e-4)


def test_masked_labels_are_ignored(linear):
    mc, enc, train, test, feats = linear
    labels = Table({q: np.asarray(train.table[q]) for q in QUESTIONS})
    full = MorphologyClassifier(enc, questions=QUESTIONS).fit(feats, labels)
    hidden = np.arange(0, 300, 2)
    half = labels.copy()
    half["extended"][hidden] = np.nan
    a = MorphologyClassifier(enc, questions=QUESTIONS).fit(feats, half)
    assert a.history["n_labels"] == {"smooth": 300, "extended": 150}
    # a masked column is the same as NaN
    masked = labels.copy()
    masked["extended"] = MaskedColumn(labels["extended"], mask=np.isin(np.arange(300),
                                                                       hidden))
    b = MorphologyClassifier(enc, questions=QUESTIONS).fit(feats, masked)
    np.testing.assert_array_equal(a.net.head.linear.weight.detach(),
                                  b.net.head.linear.weight.detach())
    # the other question is untouched: its fit equals the fit with every label present
    np.testing.assert_array_equal(a.net.head.linear.weight[0].detach(),
                                  full.net.head.linear.weight[0].detach())
    # and the half-labelled question is still learned (hidden labels as 0 would not be)
    test_feats = enc.encode(test, progress=False)
    t = np.asarray(test.table["extended"])
    p = np.asarray(a.predict(test_feats)["extended"])
    assert np.corrcoef(p, t)[0, 1] > 0.9
    zeros = labels.copy()
    zeros["extended"][hidden] = 0.0
    pz = np.asarray(MorphologyClassifier(enc, questions=QUESTIONS).fit(feats, zeros)
                    .predict(test_feats)["extended"])
    assert np.mean(pz) < np.mean(p) - 0.1


def test_masked_bce_values_and_gradients():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0], [3.0, 0.5]], requires_grad=True)
    y = torch.tensor([[0.25, np.nan], [1.0, 0.0], [np.nan, np.nan]])

    def bce(z, t):
        p = 1 / (1 + np.exp(-z))
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    loss = masked_bce(logits, y)
    expected = (bce(0.0, 0.25) + bce(1.0, 1.0) + bce(-1.0, 0.0)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    g = logits.grad.numpy()
    assert g[0, 1] == 0 and np.all(g[2] == 0) and g[0, 0] != 0
    per_q = masked_bce(logits.detach(), y, per_question=True)
    assert float(per_q) == pytest.approx((bce(0.0, 0.25) + bce(1.0, 1.0)) / 2 + bce(-1.0, 0.0),
                                         rel=1e-6)
    assert float(masked_bce(logits.detach(), torch.full((3, 2), np.nan))) == 0.0


def test_save_load_round_trip_and_checks(linear, tmp_path):
    mc, _, train, _, _ = linear
    path = os.path.join(tmp_path, "morph.pt")
    mc.save(path)
    state = torch.load(path, weights_only=True)  # plain dict
    assert state["format"] == "galssl.MorphologyClassifier"
    assert state["config"]["questions"] == QUESTIONS
    back = MorphologyClassifier.load(path)
    assert back.questions == tuple(QUESTIONS) and back.config == mc.config
    a = mc.predict(train[:16], progress=False)
    b = back.predict(train[:16], progress=False)
    for q in QUESTIONS:
        np.testing.assert_array_equal(a[q], b[q])
    MorphologyClassifier.load(path, questions=QUESTIONS)
    with pytest.raises(ValueError, match=r"predicts the questions \['smooth', 'extended'\], "
                                         r"not \['smooth', 'edge_on'\]"):
        MorphologyClassifier.load(path, questions=["smooth", "edge_on"])
    bad = dict(state, config=dict(state["config"], arch="resnet18"))
    torch.save(bad, path)
    with pytest.raises(ValueError, match="backbone weights do not match the architecture"):
        MorphologyClassifier.load(path)
    bad = dict(state, config=dict(state["config"], questions=["smooth"]))
    with pytest.raises(ValueError, match="1 questions .* but 2 head outputs"):
        MorphologyClassifier.from_state_dict(bad)
    with pytest.raises(ValueError, match="not a galssl MorphologyClassifier checkpoint"):
        MorphologyClassifier.from_state_dict({"format": "galssl.PhotoZEstimator"})
    with pytest.raises(ValueError, match="format 99"):
        MorphologyClassifier.from_state_dict(dict(state, format_version=99))


def test_finetune_trains_backbone_with_its_own_rate_and_round_trips(tmp_path):
    enc = toy_encoder()
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    cat = toy_morphology(64, seed=2)
    labels = Table({q: np.asarray(cat.table[q]) for q in QUESTIONS})
    labels["extended"][::3] = np.nan
    mc = MorphologyClassifier(enc, mode="finetune", questions=QUESTIONS)
    assert (mc.config["lr_backbone"], mc.config["lr_head"]) == (1e-4, 1e-3)
    assert mc.config["jitter"] == 2  # the encoder's
    seen = {}

    class Record(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            seen[trainer.current_epoch] = [g["lr"] for g in trainer.optimizers[0].param_groups]

    mc.fit(cat, labels, epochs=3, batch_size=32, seed=0, callbacks=[Record()], **FAST)
    # backbone and head rates, x0.1 after 60 % and 90 % of the epochs (epochs 2 and 3)
    np.testing.assert_allclose(seen[0], [1e-4, 1e-3])
    np.testing.assert_allclose(seen[2], [1e-5, 1e-4])
    loss = np.array(mc.history["loss"])
    assert len(loss) == 6 and np.all(np.isfinite(loss))
    assert loss[-2:].mean() < loss[:2].mean()
    assert mc.history["n_labels"] == {"smooth": 64, "extended": 42}
    # the backbone was trained, the encoder's own weights were not
    w = next(k for k, v in before.items() if v.ndim == 4)  # the first convolution
    assert torch.equal(enc.backbone.state_dict()[w], before[w])
    assert not torch.equal(mc.net.backbone.state_dict()[w], before[w])
    path = os.path.join(tmp_path, "ft.pt")
    mc.save(path)
    back = MorphologyClassifier.load(path)
    assert back.config["mode"] == "finetune" and back.config["pretrained_encoder"]
    a, b = mc.predict(cat[:8], progress=False), back.predict(cat[:8], progress=False)
    np.testing.assert_array_equal(a["smooth"], b["smooth"])


def test_supervised_from_scratch():
    mc = MorphologyClassifier(mode="finetune", arch="resnet10-small", crop=32, jitter=2,
                              questions=["smooth"])
    assert mc.config["lr_backbone"] == mc.config["lr_head"] == 1e-3
    assert not mc.config["pretrained_encoder"]
    cat = toy_morphology(32, seed=3)
    mc.fit(cat, epochs=1, batch_size=16, **FAST)  # labels from the catalogue's table
    assert mc.history["n_train"] == 32 and len(mc.history["loss"]) == 2
    assert np.all(np.isfinite(mc.predict(cat[:4], progress=False)["smooth"]))


def test_boolean_labels_from_the_catalogue_table():
    enc = toy_encoder()
    cat = toy_morphology(120, seed=4)
    cat.table["smooth_flag"] = np.asarray(cat.table["smooth"]) > 0.5  # like simulated labels
    mc = MorphologyClassifier(enc, questions=["smooth_flag"]).fit(cat, progress=False)
    p = np.asarray(mc.predict(toy_morphology(60, seed=5), progress=False)["smooth_flag"])
    truth = np.asarray(toy_morphology(60, seed=5).table["smooth"]) > 0.5
    assert metrics.accuracy(p, truth.astype(float)) > 0.9


def test_input_validation():
    enc = toy_encoder()
    cat = toy_morphology(20, seed=6)
    with pytest.raises(ValueError, match="mode must be 'linear' or 'finetune'"):
        MorphologyClassifier(enc, mode="probe")
    with pytest.raises(ValueError, match="mode='linear' needs a pretrained encoder"):
        MorphologyClassifier()
    with pytest.raises(TypeError, match="encoder must be a ContrastiveEncoder"):
        MorphologyClassifier("resnet18")
    with pytest.raises(ValueError, match="questions must be unique"):
        MorphologyClassifier(enc, questions=["a", "a"])
    mc = MorphologyClassifier(enc, questions=QUESTIONS)
    with pytest.raises(ValueError, match="19 label rows for 20 catalogue rows"):
        mc.fit(cat, cat.table[:19], progress=False)
    with pytest.raises(ValueError, match="no column for the questions"):
        mc.fit(cat, Table({"smooth": np.zeros(20)}), progress=False)
    bad = Table({"smooth": np.full(20, 3.0), "extended": np.zeros(20)})
    with pytest.raises(ValueError, match="label column 'smooth' must hold vote fractions"):
        mc.fit(cat, bad, progress=False)
    nan = Table({"smooth": np.zeros(20), "extended": np.full(20, np.nan)})
    with pytest.raises(ValueError, match=r"no training labels for the questions \['extended'\]"):
        mc.fit(cat, nan, progress=False)
    with pytest.raises(ValueError, match="3 columns for 2 questions"):
        mc.fit(cat, np.zeros((20, 3)), progress=False)
    with pytest.raises(ValueError, match="representations have 7 dimensions"):
        mc.fit(np.zeros((20, 7)), np.zeros((20, 2)))
    with pytest.raises(ValueError, match="the images have 3 bands"):
        mc.fit(np.asarray(cat.images)[:, :3], np.zeros((20, 2)), progress=False)
    with pytest.raises(ValueError, match="name its columns with questions="):
        MorphologyClassifier(enc).fit(cat, np.zeros(20), progress=False)
    with pytest.raises(ValueError, match="fit it first"):
        MorphologyClassifier(enc).predict(cat, progress=False)
    ft = MorphologyClassifier(enc, mode="finetune", questions=QUESTIONS)
    with pytest.raises(ValueError, match="only be used with mode='linear'"):
        ft.fit(np.zeros((20, 256)), np.zeros((20, 2)))
    with pytest.warns(AstropyUserWarning, match="has not been trained"):
        ft.predict(cat[:2], progress=False)
    # a trained classifier keeps its questions
    trained = MorphologyClassifier(enc).fit(np.random.default_rng(0).normal(size=(20, 256)),
                                            Table({"smooth": np.linspace(0, 1, 20)}))
    assert trained.questions == ("smooth",)
    with pytest.raises(ValueError, match=r"no column for the questions \['smooth'\]"):
        trained.fit(np.zeros((20, 256)), Table({"bar": np.zeros(20)}))


def test_linear_fit_leaves_out_unflagged_images_without_data():
    cat = toy_morphology(40, seed=3)
    cat.images[7] = np.nan  # a hand-built catalogue whose flags say complete
    mc = MorphologyClassifier(toy_encoder(), questions=QUESTIONS)
    with pytest.warns(AstropyUserWarning, match=r"1 training rows have no image data.*\[7\]"):
        mc.fit(cat, progress=False)
    out = mc.predict(cat, progress=False)
    assert len(out) == 40 and np.isnan(out["smooth"][7])
    assert np.isfinite(np.delete(np.asarray(out["smooth"]), 7)).all()
