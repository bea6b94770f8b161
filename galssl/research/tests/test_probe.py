# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest
import torch
from astropy import units as u

from galssl import ContrastiveEncoder, PhotoZEstimator
from galssl.photoz.tests.test_estimator import toy_photoz
from galssl.research import effective_rank, probe_features, probe_representations

SMALL = dict(arch="resnet10-small", crop=32, jitter=2, queue_size=16)


def _with_factors(cat, seed):
    """toy_photoz galaxies with the injection columns the probe recovers: magnitudes that
    follow the toy's colour law (band b dimmed by exp(-k_b z)), so the colours are linear
    in z and known exactly."""
    z = np.asarray(cat.table["redshift"])
    k = np.array([8.0, 5.0, 2.0, 0.0, -1.0])
    for j, b in enumerate("ugriz"):
        cat.table[f"mag_{b}"] = (20 + 2.5 / np.log(10) * k[j] * z) * u.ABmag
    cat.table["axis_ratio"] = np.random.default_rng(seed).uniform(0.3, 1, len(z))
    cat.table["bulge_fraction"] = np.full(len(z), 0.5)  # a constant: nothing to recover
    return cat


def test_effective_rank_of_known_spectra():
    rng = np.random.default_rng(0)
    line = rng.normal(size=(500, 1)) * rng.normal(size=(1, 16)) + 1e-9 * rng.normal(
        size=(500, 16))
    assert effective_rank(line) < 1.1
    iso = rng.normal(size=(20000, 16))
    assert 15.5 < effective_rank(iso) <= 16
    assert np.isfinite(effective_rank(np.vstack([iso, np.full((3, 16), np.nan)])))


def test_probe_table_compares_an_encoder_with_an_untrained_one():
    labelled = _with_factors(toy_photoz(n=240, size=40, seed=0), 0)
    test = _with_factors(toy_photoz(n=160, size=40, seed=1), 1)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        enc = ContrastiveEncoder(**SMALL)
    enc._trained = True
    table = probe_representations(enc, labelled, test, label_counts=(50, 500), splits=2,
                                  seed=0, progress=False)
    rows = dict(zip(table["measure"], range(len(table))))
    # counts above the labelled rows are capped at them
    assert "photo-z ridge sigma_MAD, 240 labels" in rows and "photo-z knn eta %, 50 labels" \
        in rows
    for name in ("R^2 u-g", "R^2 g-r", "R^2 i-z", "R^2 r mag", "R^2 axis ratio",
                 "effective rank", "mean cosine"):
        assert name in rows
    assert "R^2 log r50" not in rows  # no such column in these tables
    assert "R^2 bulge fraction" not in rows  # constant
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(table["ratio"], table["encoder"] / table["untrained"])
    # the baseline is an untrained encoder of the same architecture, not the encoder
    assert not np.allclose(table["encoder"], table["untrained"])
    # the colours encode z: even random convolutional features recover them and z
    ridge = table["encoder"][rows["photo-z ridge sigma_MAD, 240 labels"]]
    assert ridge < 0.05 < np.std(np.asarray(test.table["redshift"]))
    assert table["encoder"][rows["R^2 u-g"]] > 0.5
    assert table.meta["n_test"] == 160 and table.meta["seconds"] > 0


def test_probe_features_scores_given_features_like_the_encoder_probe():
    labelled = _with_factors(toy_photoz(n=240, size=40, seed=0), 0)
    test = _with_factors(toy_photoz(n=160, size=40, seed=1), 1)

    def mags(cat, noise, seed):  # the toy's magnitudes with noise: photometry features
        m = np.column_stack([np.asarray(cat.table[f"mag_{b}"].value) for b in "ugriz"])
        return m + np.random.default_rng(seed).normal(0, noise, m.shape)

    exact = probe_features(mags(labelled, 0.0, 0), mags(test, 0.0, 1), labelled, test,
                           label_counts=(50, 500), splits=2)
    noisy = probe_features(mags(labelled, 0.3, 0), mags(test, 0.3, 1), labelled, test,
                           label_counts=(50, 500), splits=2)
    rows = dict(zip(exact["measure"], range(len(exact))))
    ridge = rows["photo-z ridge sigma_MAD, 240 labels"]
    # magnitudes linear in z: the colours give z almost exactly; noise costs accuracy
    assert exact["features"][ridge] < 0.01 < noisy["features"][ridge]
    assert exact["features"][rows["R^2 u-g"]] > 0.999 > noisy["features"][rows["R^2 u-g"]]
    # the same measures as the encoder probe, without the retrieval rows
    enc = ContrastiveEncoder(**SMALL)
    enc._trained = True
    full = probe_representations(enc, labelled, test, label_counts=(50, 500), splits=2,
                                 baseline=False, progress=False)
    assert list(exact["measure"]) == list(full["measure"])
    # a NaN row is left out, not a crash; row counts must match the catalogues
    bad = mags(test, 0.0, 1)
    bad[3] = np.nan
    assert np.isfinite(probe_features(mags(labelled, 0.0, 0), bad, labelled, test,
                                      label_counts=(50,), splits=1)["features"]).all()
    with pytest.raises(ValueError, match=r"test_features must have shape \(160, D\)"):
        probe_features(mags(labelled, 0, 0), mags(test, 0, 1)[:-1], labelled, test)
    with pytest.raises(ValueError, match="5 and 4 columns"):
        probe_features(mags(labelled, 0, 0), mags(test, 0, 1)[:, :4], labelled, test)
    with pytest.raises(KeyError, match="no column 'z'"):
        probe_features(mags(labelled, 0, 0), mags(test, 0, 1), labelled, test, redshift="z")


def test_probe_checks_its_inputs():
    cat = toy_photoz(n=20, size=40)
    enc = ContrastiveEncoder(**SMALL)
    with pytest.raises(TypeError, match="ContrastiveEncoder"):
        probe_representations("enc", cat, cat)
    with pytest.raises(ValueError, match="label_counts"):
        probe_representations(enc, cat, cat, label_counts=(1,))
    with pytest.raises(KeyError, match="no column 'z'"):
        probe_representations(enc, cat, cat, redshift="z")


def test_input_stretch_travels_from_encoder_to_heads_and_checkpoints(tmp_path):
    enc = ContrastiveEncoder(**SMALL, input_stretch="asinh")
    assert enc.backbone.stretch is not None
    enc.save(tmp_path / "e.pt")
    back = ContrastiveEncoder.load(tmp_path / "e.pt")
    assert back.config["input_stretch"] == "asinh" and back.backbone.stretch is not None
    pz = PhotoZEstimator(back)
    assert pz.config["input_stretch"] == "asinh" and pz.net.backbone.stretch is not None
    assert pz.to_encoder().backbone.stretch is not None
    scratch = PhotoZEstimator(input_stretch="asinh", crop=32)
    assert scratch.net.backbone.stretch is not None
    scratch.save(tmp_path / "p.pt")
    assert PhotoZEstimator.load(tmp_path / "p.pt").net.backbone.stretch is not None
    # a checkpoint from before the option has no stretch
    state = ContrastiveEncoder(**SMALL).state_dict()
    del state["config"]["input_stretch"]
    assert ContrastiveEncoder.from_state_dict(state).backbone.stretch is None


def test_asinh_stretch_is_the_default_and_the_seed_recipe_is_a_preset():
    from galssl.morphology import MorphologyClassifier
    from galssl.ssl import PRESET_BATCH_SIZE, PRESETS

    assert ContrastiveEncoder(**SMALL).config["input_stretch"] == "asinh"
    assert PhotoZEstimator(crop=32).net.backbone.stretch is not None
    assert MorphologyClassifier(mode="finetune", questions=["smooth"]) \
        .config["input_stretch"] == "asinh"
    seed = ContrastiveEncoder.from_preset("hayat2021")
    c = seed.config
    assert (c["arch"], c["momentum"], c["temperature"], c["lr"], c["queue_size"],
            c["input_stretch"]) == ("resnet50-paper", 0.999, 0.1, 0.03, None, None)
    assert seed.backbone.stretch is None and PRESET_BATCH_SIZE["hayat2021"] == 256
    cpu = ContrastiveEncoder.from_preset("cpu-small", crop=32)
    assert (cpu.config["momentum"], cpu.config["queue_size"], cpu.config["crop"]) == \
        (0.99, 4096, 32)
    assert set(PRESETS) == set(PRESET_BATCH_SIZE)
    with pytest.raises(ValueError, match="unknown preset 'moco'"):
        ContrastiveEncoder.from_preset("moco")
