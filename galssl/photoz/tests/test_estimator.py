# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from astropy.utils.exceptions import AstropyUserWarning

from galssl import ContrastiveEncoder, PhotoZEstimator
from galssl.cutouts import CutoutCatalog, CutoutFlag
from galssl.photoz import PhotoZFlag, metrics

SMALL = dict(crop=32, jitter=2, n_bins=40)


def toy_photoz(n=320, size=40, seed=0, z=None):
    """Blobs whose colours encode the redshift: band b has amplitude exp(-k_b z) with
    k = (8, 5, 2, 0, -1), so every colour is a linear function of z; widths and overall
    brightness vary independently of z."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.38, n) if z is None else np.asarray(z, float)
    n = len(z)
    k = np.array([8.0, 5.0, 2.0, 0.0, -1.0])
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    width = rng.uniform(2.0, 4.0, n)
    prof = np.exp(-(xx**2 + yy**2)[None] / (2 * width[:, None, None] ** 2))
    amp = rng.uniform(1.0, 2.0, n)[:, None] * np.exp(-k[None] * z[:, None])
    images = amp[:, :, None, None] * prof[:, None] + rng.normal(0, 0.01, (n, 5, size, size))
    table = QTable({"ra": np.zeros(n), "dec": np.zeros(n), "flags": np.zeros(n, int),
                    "ebv": np.zeros(n), "redshift": z})
    return CutoutCatalog(table, images.astype(np.float32))


@pytest.fixture(scope="module")
def trained():
    cat = toy_photoz()
    pz = PhotoZEstimator(**SMALL).fit(cat, epochs=12, batch_size=32, seed=1, progress=False)
    return pz, cat


def test_learns_redshift_from_colours_on_held_out_objects(trained):
    pz, _ = trained
    test = toy_photoz(n=200, seed=7)
    res = pz.evaluate(test, progress=False)
    zs = np.asarray(test.table["redshift"])
    # predicting the training mean would give sigma_MAD ~ 0.1 here
    baseline = metrics.sigma_mad(np.full_like(zs, zs.mean()), zs)
    assert baseline > 0.08
    assert res["sigma_mad"] < 0.25 * baseline
    assert res["n"] == 200 and 0 <= res["eta"] < 0.2


def test_predict_columns_conventions_and_row_order(trained):
    pz, cat = trained
    sub = cat[np.arange(10)]
    images = np.asarray(sub.images).copy()
    images[3] = np.nan  # no data at all
    table = QTable(sub.table, copy=True)
    table["flags"][5] = int(CutoutFlag.PARTIAL)
    table["flags"][6] = int(CutoutFlag.HIGH_EXTINCTION)
    table["name"] = [f"g{i}" for i in range(10)]
    out = pz.predict(CutoutCatalog(table, images), progress=False)
    assert len(out) == 10 and list(out["name"]) == [f"g{i}" for i in range(10)]
    for col in ("z_phot", "z_phot_err", "z_mode", "odds", "z_pdf", "ood_distance",
                "photoz_flag"):
        assert col in out.colnames
    assert out["z_pdf"].shape == (10, 40)
    assert np.isnan(out["z_phot"][3]) and out["photoz_flag"][3] & PhotoZFlag.NO_DATA
    assert out["photoz_flag"][5] & PhotoZFlag.CUTOUT
    assert out["photoz_flag"][6] & PhotoZFlag.CUTOUT and np.isfinite(out["z_phot"][6])
    assert not out["photoz_flag"][7] & PhotoZFlag.CUTOUT
    # every flag value is spelled out, and every output column says what it holds
    for flag, names in zip(out["photoz_flag"], out["photoz_flag_names"]):
        assert names == "|".join(PhotoZFlag.describe(flag))
    assert "NO_DATA" in out["photoz_flag_names"][3].split("|")
    assert "density" in out["z_pdf"].description and out["z_phot"].description
    ok = np.isfinite(out["z_phot"])
    np.testing.assert_allclose(np.asarray(out["z_pdf"])[ok].sum(axis=1), 1, rtol=1e-5)
    # z_phot is the PDF mean over bin centres, z_mode the centre of the top bin
    pdf = np.asarray(out["z_pdf"], float)[ok]
    np.testing.assert_allclose(out["z_phot"][ok], pdf @ pz.bin_centers / pdf.sum(1),
                               rtol=1e-5)
    np.testing.assert_allclose(out["z_mode"][ok], pz.bin_centers[pdf.argmax(1)])
    assert len(out.meta["z_bin_edges"]) == 41


def test_rows_across_batch_and_summary_chunk_boundaries_are_in_place(trained, monkeypatch):
    # each row predicted alone is the reference: batches of 3 and summary chunks of 4 rows
    # (8,192 in use) must put every row back where it came from, empty rows included
    import copy

    pz, cat = trained
    pz = copy.deepcopy(pz)
    sub = cat[np.arange(11)]
    images = np.asarray(sub.images).copy()
    images[[2, 8]] = np.nan
    sub = CutoutCatalog(QTable(sub.table, copy=True), images)
    alone = [pz.predict(sub[[i]], progress=False, devices="cpu") for i in range(11)]
    monkeypatch.setattr(pz, "summary_chunk", 4)
    out = pz.predict(sub, batch_size=3, progress=False, devices="cpu")
    for i in range(11):
        for col in ("z_phot", "z_phot_err", "photoz_flag", "ood_distance"):
            np.testing.assert_allclose(out[col][i], alone[i][col][0], rtol=2e-5, atol=1e-7,
                                       err_msg=f"{col} of row {i}")


def test_predict_on_array_and_empty_inputs(trained):
    pz, cat = trained
    arr = np.asarray(cat.images[:4])
    out = pz.predict(arr, progress=False)
    assert list(out["row"]) == [0, 1, 2, 3]
    empty = pz.predict(Table({"ra": [], "dec": []}), progress=False)
    assert len(empty) == 0 and "z_phot" in empty.colnames
    with pytest.raises(ValueError, match="3 bands, the model expects 5"):
        pz.predict(arr[:, :3], progress=False)
    with pytest.raises(ValueError, match="24 pixels wide.*at least 32"):
        pz.predict(arr[:, :, :24, :24], progress=False)
    with pytest.raises(ValueError, match="already has a column 'z_phot'"):
        t = QTable(cat.table[:2], copy=True)
        t["z_phot"] = 0.0
        pz.predict(CutoutCatalog(t, np.asarray(cat.images[:2])), progress=False)


def test_out_of_distribution_flag(trained):
    pz, cat = trained
    assert pz.ood_threshold > 0 and pz.reference.shape[1] == pz.net.backbone.num_features
    like = pz.predict(toy_photoz(n=100, seed=3), progress=False)
    # a different population: a bright point source in u only
    odd = np.zeros((50, 5, 40, 40), np.float32)
    odd[:, 0, 19:21, 19:21] = 50.0
    odd += np.random.default_rng(0).normal(0, 0.01, odd.shape).astype(np.float32)
    weird = pz.predict(odd, progress=False)
    frac_like = np.mean(like["photoz_flag"] & PhotoZFlag.OUT_OF_DISTRIBUTION > 0)
    frac_weird = np.mean(weird["photoz_flag"] & PhotoZFlag.OUT_OF_DISTRIBUTION > 0)
    assert frac_like < 0.1 and frac_weird > 0.9


def test_ood_threshold_is_the_stated_quantile_of_the_reference_distances(trained):
    """The threshold is exactly the ``ood_quantile`` quantile of each reference row's mean
    cosine distance to its ``ood_k`` nearest other reference rows, recomputed here in
    numpy; and a row is flagged exactly when its distance exceeds it. Slips caught: a
    threshold lowered or raised by a quarter, the row itself counted among its neighbours
    (distance 0), a distance instead of its mean over k, a >= instead of >."""
    pz, cat = trained
    ref = pz.reference.double().numpy()
    assert np.allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-5)
    cos = 1.0 - ref @ ref.T
    np.fill_diagonal(cos, np.inf)
    k = pz.config["ood_k"]
    mean_k = np.sort(cos, axis=1)[:, :k].mean(axis=1)
    expected = np.quantile(mean_k, pz.config["ood_quantile"])
    assert pz.ood_threshold == pytest.approx(expected, rel=1e-5)
    out = pz.predict(cat[:80], progress=False, devices="cpu")
    d = np.asarray(out["ood_distance"])
    flagged = (np.asarray(out["photoz_flag"]) & PhotoZFlag.OUT_OF_DISTRIBUTION) != 0
    np.testing.assert_array_equal(flagged, d > pz.ood_threshold)
    # the distance of a new row: its k nearest reference rows, none left out
    feats = pz.to_encoder().encode(cat[:3], progress=False, devices="cpu")
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    np.testing.assert_allclose(d[:3], np.sort(1 - f @ ref.T, axis=1)[:, :k].mean(axis=1),
                               rtol=1e-4, atol=1e-6)


def test_training_label_checks():
    cat = toy_photoz(n=40)
    z = np.asarray(cat.table["redshift"]).copy()
    z[[2, 7]] = np.nan
    with pytest.raises(ValueError, match="2 training rows have no finite redshift"):
        PhotoZEstimator(**SMALL).fit(cat, redshift=z, epochs=1, progress=False)
    z = np.asarray(cat.table["redshift"]).copy()
    z[:3] = 0.55
    with pytest.raises(ValueError, match="3 redshifts lie outside"):
        PhotoZEstimator(**SMALL).fit(cat, redshift=z, out_of_range="error", epochs=1,
                                     progress=False)
    with pytest.warns(AstropyUserWarning, match="3 of 40 .* put into the edge bins"):
        pz = PhotoZEstimator(**SMALL).fit(cat, redshift=z, epochs=1, batch_size=20,
                                          progress=False)
    assert pz.history["n_train"] == 40
    with pytest.warns(AstropyUserWarning, match="left out"):
        pz = PhotoZEstimator(**SMALL).fit(cat, redshift=z, out_of_range="exclude", epochs=1,
                                          batch_size=20, progress=False)
    assert pz.history["n_train"] == 37
    pz = PhotoZEstimator(**SMALL).fit(cat, epochs=1, fraction=0.25, batch_size=8,
                                      progress=False)
    assert pz.history["n_train"] == 10
    with pytest.raises(KeyError, match="no redshift column 'zspec'"):
        PhotoZEstimator(**SMALL).fit(cat, redshift="zspec", epochs=1, progress=False)


def test_save_load_round_trip_and_mismatches(trained, tmp_path):
    pz, cat = trained
    pz.save(tmp_path / "pz.pt")
    back = PhotoZEstimator.load(tmp_path / "pz.pt")
    a = pz.predict(cat[:20], progress=False, devices="cpu")
    b = back.predict(cat[:20], progress=False, devices="cpu")
    np.testing.assert_allclose(b["z_pdf"], a["z_pdf"], rtol=1e-5, atol=1e-7)
    assert back.config == pz.config and back.ood_threshold == pz.ood_threshold
    pz.save(tmp_path / "half.pt", half=True)
    assert os.path.getsize(tmp_path / "half.pt") < 0.6 * os.path.getsize(tmp_path / "pz.pt")
    h = PhotoZEstimator.load(tmp_path / "half.pt").predict(cat[:20], progress=False)
    np.testing.assert_allclose(h["z_phot"], a["z_phot"], atol=2e-3)
    # an encoder checkpoint is not a photo-z model
    ContrastiveEncoder(arch="resnet10-small").save(tmp_path / "enc.pt")
    with pytest.raises(ValueError, match="not a galssl PhotoZEstimator checkpoint.*"
                                         "galssl.ContrastiveEncoder"):
        PhotoZEstimator.load(tmp_path / "enc.pt")
    # weights of another architecture under this config
    state = pz.state_dict()
    state["backbone"] = PhotoZEstimator(arch="resnet18").net.backbone.state_dict()
    with pytest.raises(ValueError, match="backbone weights do not match the architecture"):
        PhotoZEstimator.from_state_dict(state)
    state = pz.state_dict()
    state["head"]["weight"] = torch.zeros(180, 256)
    with pytest.raises(ValueError, match=r"shapes differ.*weight: \(180, 256\) in the file, "
                                         r"\(40, 256\)"):
        PhotoZEstimator.from_state_dict(state)


def test_finetune_uses_encoder_weights_rates_and_schedule():
    import lightning as L

    cat = toy_photoz(n=64)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)
    enc.fit(cat, epochs=1, batch_size=16, progress=False)
    pz = PhotoZEstimator(enc, n_bins=40, jitter=2)
    assert pz.config["lr_backbone"] == 1e-4 and pz.config["lr_head"] == 1e-3
    torch.testing.assert_close(pz.net.backbone.state_dict()["body.0.weight"],
                               enc.backbone.state_dict()["body.0.weight"])
    seen = []

    class Rates(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            seen.append([g["lr"] for g in trainer.optimizers[0].param_groups])

    pz.fit(cat, epochs=10, batch_size=32, callbacks=[Rates()], progress=False)
    np.testing.assert_allclose(seen[0], [1e-4, 1e-3])
    np.testing.assert_allclose(seen[6], [1e-5, 1e-4])  # x0.1 after 60 % of 10 epochs
    np.testing.assert_allclose(seen[9], [1e-6, 1e-5])  # and again after 90 %
    np.testing.assert_allclose(seen[5], [1e-4, 1e-3])
    # the encoder itself is untouched by fine-tuning
    assert not torch.equal(pz.net.backbone.state_dict()["body.0.weight"],
                           enc.backbone.state_dict()["body.0.weight"])


def test_probe_head_is_the_softmax_regression_on_frozen_representations():
    from galssl.photoz import fit_softmax_head, redshift_labels

    cat = toy_photoz(n=96)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)
    feats = enc.encode(cat, progress=False)
    # rates 0: fine-tuning leaves the head as the probe set it
    pz = PhotoZEstimator(enc, n_bins=40, jitter=2, head_init="probe", lr_backbone=0.0,
                         lr_head=0.0, weight_decay=0.0)
    pz.fit(cat, epochs=1, batch_size=32, progress=False)
    head = torch.nn.Linear(feats.shape[1], 40)
    labels = redshift_labels(np.asarray(cat.table["redshift"]), pz.bin_edges)
    fit_softmax_head(head, feats, labels)
    torch.testing.assert_close(pz.net.head.weight, head.weight)
    torch.testing.assert_close(pz.net.head.bias, head.bias)
    # a random head is not that
    rnd = PhotoZEstimator(enc, n_bins=40, jitter=2, lr_backbone=0.0, lr_head=0.0,
                          weight_decay=0.0).fit(cat, epochs=1, batch_size=32, progress=False)
    assert not torch.allclose(rnd.net.head.weight, head.weight)
    with pytest.raises(ValueError, match="head_init"):
        PhotoZEstimator(enc, head_init="linear")


def test_fit_softmax_head_classifies_separable_classes_from_raw_features():
    from galssl.photoz import fit_softmax_head

    rng = np.random.default_rng(0)
    # features on very different scales: the fit standardizes, the head takes raw values
    f = (rng.normal(size=(400, 12)) * np.logspace(-2, 3, 12) + 7).astype(np.float32)
    w = rng.normal(size=(4, 12))
    y = np.argmax(((f - 7) / np.logspace(-2, 3, 12)) @ w.T, axis=1)
    head = torch.nn.Linear(12, 6)  # two classes never seen
    fit_softmax_head(head, f, y, weight_decay=1e-4)
    with torch.no_grad():
        p = torch.softmax(head(torch.from_numpy(f)), dim=1).numpy()
    assert np.mean(p.argmax(axis=1) == y) > 0.97
    assert p[:, 4:].max() < 0.01  # unseen classes get little probability
    again = torch.nn.Linear(12, 6)
    fit_softmax_head(again, f, y, weight_decay=1e-4)
    torch.testing.assert_close(again.weight, head.weight)  # deterministic
    with pytest.raises(ValueError, match="features"):
        fit_softmax_head(head, f[:, :5], y)


def test_fit_regression_head_is_the_ridge_regression_as_gaussian_pdfs():
    from sklearn.linear_model import Ridge

    from galssl.photoz import fit_regression_head
    from galssl.photoz._pdf import redshift_bins

    rng = np.random.default_rng(2)
    # features on very different scales; log(1 + z) linear in them, with noise 0.01
    scale = np.logspace(-2, 3, 10)
    f = rng.normal(size=(300, 10)) * scale + 3
    coef = rng.normal(size=10) * 0.02
    u = 0.15 + ((f - 3) / scale) @ coef + rng.normal(0, 0.01, 300)
    z = np.expm1(u)
    assert z.min() > 0 and z.max() < 0.4
    _, centres = redshift_bins(0.0, 0.4, 180)
    head = torch.nn.Linear(10, 180)
    fit = fit_regression_head(head, f.astype(np.float32), z, centres)
    # the chosen penalty's ridge (sklearn, on standardized features) ...
    mu, sd = f.mean(axis=0), f.std(axis=0)
    ridge = Ridge(alpha=fit["alpha"]).fit((f - mu) / sd, u)
    test = rng.normal(size=(50, 10)) * scale + 3
    u_ridge = ridge.predict((test - mu) / sd)
    # ... is the mean of the head's PDF, in log(1 + z), to a small part of a bin (0.0022),
    # away from the edges of the bins, which cut the Gaussian and pull the mean inwards
    with torch.no_grad():
        p = torch.softmax(head(torch.from_numpy(test.astype(np.float32))), dim=1).double()
    u_head = (p @ torch.from_numpy(np.log1p(centres))).numpy()
    inside = (u_ridge > 4 * fit["width"]) & (u_ridge < np.log1p(0.4) - 4 * fit["width"])
    assert inside.sum() > 40
    np.testing.assert_allclose(u_head[inside], u_ridge[inside], atol=1e-5)
    assert np.all(u_head[~inside] > u_ridge[~inside])
    # its width is the RMS of the leave-one-out residuals (the same standardisation,
    # refitted without each row in turn): the noise, to ~10 %
    loo = np.array([u[i] - Ridge(alpha=fit["alpha"]).fit(
        np.delete((f - mu) / sd, i, axis=0), np.delete(u, i)).predict(((f[i] - mu) / sd)[None])[0]
        for i in range(300)])
    assert fit["width"] == pytest.approx(np.sqrt(np.mean(loo ** 2)), rel=1e-6)
    assert 0.009 < fit["width"] < 0.012
    # (features in float32 for the fit)
    assert fit["loo_sigma_mad"] == pytest.approx(metrics.sigma_mad(np.expm1(u - loo), z),
                                                 rel=1e-4)
    with pytest.raises(ValueError, match="bin centres"):
        fit_regression_head(head, f.astype(np.float32), z, centres[:-1])
    with pytest.raises(ValueError, match="finite"):
        fit_regression_head(head, f.astype(np.float32), np.where(z > 0.2, np.nan, z),
                            centres)


def test_regression_head_starts_fine_tuning_from_the_linear_probe():
    from galssl.research._photoz import _linear_photoz

    cat, test = toy_photoz(n=96), toy_photoz(n=60, seed=9)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32, jitter=2, queue_size=16)
    # rates 0 and batch norm frozen: the trained network is the probe
    pz = PhotoZEstimator(enc, jitter=2, head_init="regression", freeze_batchnorm=True,
                         lr_backbone=0.0, lr_head=0.0, weight_decay=0.0)
    pz.fit(cat, epochs=1, batch_size=32, progress=False)
    assert set(pz.history["head_fit"]) == {"alpha", "width", "loo_sigma_mad"}
    z_probe = _linear_photoz(enc.encode(cat, progress=False),
                             np.asarray(cat.table["redshift"], dtype=float),
                             enc.encode(test, progress=False))
    z_net = np.asarray(pz.predict(test, calibrated=False, progress=False)["z_phot"])
    # the same regression up to the bins (width 0.0022) and the sklearn/numpy penalties
    assert np.median(np.abs(z_net - z_probe)) < 0.002
    # training on: the head is not fitted again, and the history does not say it was
    pz.fit(cat, epochs=1, batch_size=32, progress=False)
    assert "head_fit" not in pz.history
    # batch norm frozen: the encoder's statistics are kept, not refreshed
    bn = [m for m in pz.net.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bn_enc = [m for m in enc.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for a, b in zip(bn, bn_enc):
        torch.testing.assert_close(a.running_mean, b.running_mean, rtol=0, atol=0)
    # without freezing they are refreshed from the training batches
    moved = PhotoZEstimator(enc, jitter=2, head_init="regression", lr_backbone=0.0,
                            lr_head=0.0).fit(cat, epochs=1, batch_size=32, progress=False)
    bn = [m for m in moved.net.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not torch.allclose(bn[0].running_mean, bn_enc[0].running_mean)


def test_validation_scores_the_network_returned_after_the_batchnorm_refresh():
    from galssl.photoz._estimator import PhotoZScore
    from galssl.engine import as_image_source

    cat, val = toy_photoz(n=48), toy_photoz(n=40, seed=7)
    a = PhotoZEstimator(**SMALL).fit(cat, epochs=2, batch_size=16, seed=1, progress=False,
                                     validation=val, val_every_n_steps=2)
    z = np.asarray(val.table["redshift"], dtype=float)
    score = PhotoZScore(*as_image_source(val)[:2], np.arange(len(val)), z, a.config)
    a.net.eval()
    with torch.no_grad():
        assert a.history["val_score_final"] == pytest.approx(score(a.net), rel=1e-6)


def test_validation_keeps_the_weights_of_the_best_step_and_resumes_exactly(tmp_path):
    import lightning as L

    from galssl.photoz._estimator import PhotoZScore
    from galssl.engine import as_image_source

    class Kill(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.current_epoch == 2 and batch_idx == 1:
                raise KeyboardInterrupt

    cat, val = toy_photoz(n=48), toy_photoz(n=40, seed=7)
    kw = dict(epochs=4, batch_size=16, seed=4, deterministic=True, progress=False,
              validation=val, val_every_n_steps=5)
    # a rate too high for this toy: the scores get worse after the start
    est = dict(SMALL, freeze_batchnorm=True, lr_head=0.03)
    a = PhotoZEstimator(**est).fit(cat, checkpoint_dir=tmp_path / "a", **kw)
    h = a.history
    # scored before the first step, every 5 steps and after the last (12)
    assert h["val_steps"] == [0, 5, 10, 12]
    assert h["best_step"] == h["val_steps"][int(np.argmin(h["val_scores"]))]
    # the network kept is the one of the best score
    z = np.asarray(val.table["redshift"], dtype=float)
    score = PhotoZScore(*as_image_source(val)[:2], np.arange(len(val)), z, a.config)
    a.net.eval()
    with torch.no_grad():
        assert score(a.net) == pytest.approx(min(h["val_scores"]), rel=1e-6)
    assert h["best_step"] < 12 and min(h["val_scores"]) < h["val_scores"][-1]
    # batch norm frozen: no refresh afterwards, the final score is the chosen one
    assert h["val_score_final"] == pytest.approx(min(h["val_scores"]), rel=1e-6)
    # killed after epoch 2 and resumed: the same scores, the same choice, the same weights
    crashed = PhotoZEstimator(**est)
    try:
        crashed.fit(cat, checkpoint_dir=tmp_path / "b", callbacks=[Kill()], **kw)
    except (KeyboardInterrupt, SystemExit):
        pass
    b = PhotoZEstimator(**est).fit(cat, checkpoint_dir=tmp_path / "b", resume=True, **kw)
    assert b.history["val_steps"] == h["val_steps"]
    np.testing.assert_allclose(b.history["val_scores"], h["val_scores"], rtol=0, atol=0)
    sa, sb = a.net.state_dict(), b.net.state_dict()
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=0, atol=0, msg=k)
    with pytest.raises(ValueError, match="are the training images"):
        PhotoZEstimator(**SMALL).fit(cat, validation=cat, epochs=1, progress=False)
    with pytest.raises(TypeError, match="as .images, redshifts."):
        PhotoZEstimator(**SMALL).fit(cat, redshift=np.asarray(cat.table["redshift"]),
                                     validation=val, epochs=1, progress=False)
    with pytest.raises(ValueError, match="need at least 10"):
        PhotoZEstimator(**SMALL).fit(cat, validation=val[:5], epochs=1, progress=False)


def test_from_scratch_uses_head_rate_for_the_backbone():
    assert PhotoZEstimator().config["lr_backbone"] == 1e-3


def test_killed_and_resumed_fit_equals_an_uninterrupted_run(tmp_path):
    import lightning as L

    class Kill(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.current_epoch == 2 and batch_idx == 1:
                raise KeyboardInterrupt

    cat = toy_photoz(n=48)
    kw = dict(epochs=3, batch_size=16, seed=4, deterministic=True, progress=False)
    a = PhotoZEstimator(**SMALL).fit(cat, checkpoint_dir=tmp_path / "a", **kw)
    crashed = PhotoZEstimator(**SMALL)
    try:
        crashed.fit(cat, checkpoint_dir=tmp_path / "b", callbacks=[Kill()], **kw)
    except (KeyboardInterrupt, SystemExit):
        pass
    # the run really was interrupted: its last checkpoint is the end of epoch 2 of 3 (index
    # 1), and the step counter stopped there (3 batches of 16 per epoch)
    from galssl.ssl import read_checkpoint

    state = read_checkpoint(tmp_path / "b" / "last.ckpt")
    assert state["epoch"] == 1 and state["global_step"] == 6
    b = PhotoZEstimator(**SMALL).fit(cat, checkpoint_dir=tmp_path / "b", resume=True, **kw)
    sa, sb = a.net.state_dict(), b.net.state_dict()
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=0, atol=0, msg=k)


def test_warmup_ramps_both_rates_per_step_then_keeps_the_milestones(tmp_path):
    import lightning as L

    class Rates(L.Callback):
        def __init__(self, kill=False):
            self.seen, self.kill = [], kill

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if self.kill and trainer.global_step == 4:
                raise KeyboardInterrupt
            self.seen.append([g["lr"] for g in trainer.optimizers[0].param_groups])

    cat = toy_photoz(n=48)
    est = dict(SMALL, lr_backbone=1e-4, lr_head=1e-3, warmup_steps=5)
    kw = dict(epochs=4, batch_size=16, seed=2, deterministic=True, progress=False)
    rates = Rates()
    a = PhotoZEstimator(**est).fit(cat, checkpoint_dir=tmp_path / "a", callbacks=[rates],
                                   **kw)
    # 3 steps per epoch; the rates rise over steps 0-4, then x0.1 from epoch 2 (step 6) and
    # again from epoch 4 (60 % and 90 % of 4 epochs, rounded), which this run never reaches
    factor = [min(1, (s + 1) / 5) * 0.1 ** (s >= 6) for s in range(12)]
    np.testing.assert_allclose(np.array(rates.seen),
                               np.outer(factor, [1e-4, 1e-3]), rtol=1e-12)
    assert a.config["warmup_steps"] == 5
    # killed inside the warm-up and resumed: the rates and weights of the uninterrupted run
    try:
        PhotoZEstimator(**est).fit(cat, checkpoint_dir=tmp_path / "b",
                                   callbacks=[Rates(kill=True)], **kw)
    except (KeyboardInterrupt, SystemExit):
        pass
    again = Rates()
    b = PhotoZEstimator(**est).fit(cat, checkpoint_dir=tmp_path / "b", resume=True,
                                   callbacks=[again], **kw)
    np.testing.assert_allclose(np.array(again.seen), np.array(rates.seen[3:]), rtol=1e-12)
    sa, sb = a.net.state_dict(), b.net.state_dict()
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=0, atol=0, msg=k)
    with pytest.raises(ValueError, match="warmup_steps must be an integer >= 0"):
        PhotoZEstimator(warmup_steps=-1)


def test_calibration_improves_pit_of_held_out_objects(trained):
    pz, _ = trained
    import copy

    pz = copy.deepcopy(pz)
    cal, test = toy_photoz(n=300, seed=11), toy_photoz(n=300, seed=12)
    before = pz.evaluate(test, progress=False)
    fit = pz.calibrate(cal, progress=False)
    after = pz.evaluate(test, progress=False)
    assert fit["ks_after"] < fit["ks_before"]
    assert after["pit_ks"] < before["pit_ks"]
    out = pz.predict(test[:5], progress=False)
    assert out.meta["photoz_conventions"]["calibrated"]
    raw = pz.predict(test[:5], progress=False, calibrated=False)
    assert not np.allclose(out["z_pdf"], raw["z_pdf"])


def test_calibrated_summaries_are_those_of_the_calibrated_pdfs_in_every_chunk(
        trained, monkeypatch):
    """After `calibrate`, predict recalibrates and summarises in chunks of
    ``summary_chunk`` rows: with chunks of 4 rows, batches of 3 and two empty rows, every
    row's z_pdf, z_phot, z_phot_err, z_mode and odds are `summarize_pdfs` of
    `PITCalibration.apply` of its uncalibrated PDF computed at once, and they differ from
    the uncalibrated summaries. Slips caught: a chunk summarised before it is recalibrated,
    the calibration applied twice or to the wrong rows, summaries of chunk 1 reused."""
    import copy

    from galssl.photoz import summarize_pdfs

    pz, _ = trained
    pz = copy.deepcopy(pz)
    pz.calibrate(toy_photoz(n=300, seed=11), progress=False, devices="cpu")
    assert pz.calibration.fitted
    sub = toy_photoz(n=11, seed=12)
    images = np.asarray(sub.images).copy()
    images[[2, 8]] = np.nan
    sub = CutoutCatalog(QTable(sub.table, copy=True), images)
    raw = pz.predict(sub, progress=False, devices="cpu", calibrated=False)
    monkeypatch.setattr(pz, "summary_chunk", 4)
    out = pz.predict(sub, batch_size=3, progress=False, devices="cpu")
    ok = np.array([i not in (2, 8) for i in range(11)])
    pdf = pz.calibration.apply(np.asarray(raw["z_pdf"])[ok], pz.bin_edges)
    expected = summarize_pdfs(pdf, pz.bin_edges)
    np.testing.assert_allclose(np.asarray(out["z_pdf"])[ok], pdf, rtol=1e-5, atol=1e-7)
    for col, values in expected.items():
        np.testing.assert_allclose(np.asarray(out[col])[ok], values, rtol=1e-5, atol=1e-7,
                                   err_msg=col)
        assert np.isnan(np.asarray(out[col])[~ok]).all()
    assert not np.allclose(np.asarray(out["z_phot_err"])[ok], np.asarray(raw["z_phot_err"])[ok])


def test_table_and_skycoord_input_cut_from_frames(tmp_path, trained):
    from galssl.tests.helpers import SOURCES, make_frames

    pz, _ = trained
    frames = make_frames(tmp_path)
    coords = SkyCoord([s[0] for s in SOURCES] + [10.0], [s[1] for s in SOURCES] + [-5.0],
                      unit="deg")
    t = Table({"ra": coords.ra.deg, "dec": coords.dec.deg, "id": [1, 2, 3, 4]})
    out = pz.predict(t, frames=frames, size=40, progress=False)
    assert list(out["id"]) == [1, 2, 3, 4]
    assert out["cutout_flags"][3] & CutoutFlag.OFF_FRAMES
    assert out["photoz_flag"][3] & PhotoZFlag.NO_DATA
    assert np.isfinite(out["z_phot"][:3]).all()
    out2 = pz.predict(coords, frames=frames, size=40, progress=False)
    np.testing.assert_allclose(out2["z_phot"], out["z_phot"], equal_nan=True)
    np.testing.assert_allclose(out2["ra"].to_value("deg"), coords.ra.deg)
