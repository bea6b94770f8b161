# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os
import shutil

import numpy as np
import pytest
import torch

from galssl import ContrastiveEncoder, PhotoZEstimator
from galssl.pretrained import (DEFAULT_ENCODER, DEFAULT_PHOTOZ, get_pretrained,
                               hayat2021_key_map, list_pretrained, sha256sum)


def test_registry_records_and_cards():
    t = list_pretrained()
    assert {DEFAULT_PHOTOZ, "hayat2021-pretrained", "hayat2021-photoz-finetuned",
            "hayat2021-photoz-supervised"} <= set(t["name"])
    rec = get_pretrained()
    assert rec.name == DEFAULT_PHOTOZ and rec.shipped and rec.kind == "photoz"
    assert rec.size_bytes <= 10_000_000 and os.path.getsize(rec.path) == rec.size_bytes
    for key in ("sigma_mad", "eta", "bias", "pit_ks_uncalibrated", "pit_ks_calibrated"):
        assert key in rec.metrics
    card = rec.card()
    assert "Training data" in card and "sigma_mad" in card and rec.sha256 in card
    seed = get_pretrained("hayat2021-photoz-finetuned")
    assert seed.url.startswith("https://portal.nersc.gov/") and seed.arch == "resnet50-paper"
    with pytest.raises(KeyError, match="no pretrained weights named 'nope'"):
        get_pretrained("nope")


def test_default_model_loads_offline_and_predicts():
    from galssl.datasets import sample_frames
    from galssl.cutouts import CutoutCatalog

    pz = PhotoZEstimator.from_pretrained()
    assert pz._trained and pz.calibration.fitted and pz.ood_threshold > 0
    assert pz.card["name"] == DEFAULT_PHOTOZ
    cat = CutoutCatalog.from_frames(sample_frames(), progress=False)
    out = pz.predict(cat, progress=False)
    assert len(out) == len(cat)
    good = np.asarray(cat.good)
    z = np.asarray(out["z_phot"])[good]
    assert np.isfinite(z).all() and np.all((z > 0) & (z < 0.4))
    # the shipped photo-z model also gives an encoder for representations
    enc = ContrastiveEncoder.from_pretrained(DEFAULT_PHOTOZ)
    assert isinstance(enc, ContrastiveEncoder)
    assert repr(enc).endswith(" trained>")  # trained weights, though no MoCo head comes along
    assert enc.encode(cat[:3], progress=False).shape == (3, enc.num_features)


def test_shipped_encoder_loads_offline_with_its_card(tmp_path, monkeypatch):
    rec = get_pretrained(DEFAULT_ENCODER)
    assert rec.kind == "encoder" and rec.shipped and rec.size_bytes <= 10_000_000
    assert os.path.getsize(rec.path) == rec.size_bytes
    card = rec.card()
    assert "Redshift bins" not in card and "eff. rank" in card and "untrained" in card
    enc = ContrastiveEncoder.from_pretrained()
    assert enc.card["name"] == DEFAULT_ENCODER and repr(enc).endswith(" trained>")
    assert enc.config["input_stretch"] == "asinh" and enc.module is None
    from galssl.datasets import sample_frames
    from galssl.cutouts import CutoutCatalog

    cat = CutoutCatalog.from_frames(sample_frames(), progress=False)
    reps = enc.encode(cat, progress=False)
    assert reps.shape == (len(cat), 256) and np.isfinite(reps).all()
    # the encoder's own representations, not the photo-z model's backbone
    other = ContrastiveEncoder.from_pretrained(DEFAULT_PHOTOZ).encode(cat, progress=False)
    assert not np.allclose(reps, other)
    # damaged bytes fail the checksum, like the photo-z model's
    _damage_shipped(DEFAULT_ENCODER, tmp_path, monkeypatch)
    with pytest.raises(OSError, match="fails its sha256 check"):
        ContrastiveEncoder.from_pretrained()


def _damage_shipped(name, tmp_path, monkeypatch):
    """Point the registry at a copy of the shipped files with one byte of ``name`` flipped."""
    import galssl.pretrained._registry as reg

    shutil.copytree(reg._DATA, tmp_path / "data")
    path = tmp_path / "data" / (name + ".pt")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    monkeypatch.setattr(reg, "_DATA", str(tmp_path / "data"))


def test_damaged_shipped_weights_fail_the_checksum(tmp_path, monkeypatch):
    _damage_shipped(DEFAULT_PHOTOZ, tmp_path, monkeypatch)
    with pytest.raises(OSError, match="fails its sha256 check"):
        PhotoZEstimator.from_pretrained()


def test_local_checkpoint_path(tmp_path):
    pz = PhotoZEstimator(n_bins=30)
    pz.save(tmp_path / "mine.pt")
    back = PhotoZEstimator.from_pretrained(tmp_path / "mine.pt")
    assert back.config["n_bins"] == 30
    assert sha256sum(tmp_path / "mine.pt") != sha256sum(get_pretrained().path)


def _seed_checkpoint(net, head=None, prefix="module."):
    """A checkpoint laid out like the seed's: model_state with torchvision ResNet names."""
    state = {prefix + k[len("body."):]: v.clone() for k, v in net.state_dict().items()}
    if head is not None:
        state.update({prefix + "fc." + k: v.clone() for k, v in head.state_dict().items()})
    return {"model_state": state, "epoch": 99}


def test_hayat2021_layout_maps_to_identical_networks(tmp_path):
    ref = PhotoZEstimator(arch="resnet50-paper", input_stretch=None)  # the seed's input
    torch.nn.init.normal_(ref.net.head.weight)
    ckpt = _seed_checkpoint(ref.net.backbone, ref.net.head)
    torch.save(ckpt, tmp_path / "photoz_finetuned_model.pth.tar")
    pz = PhotoZEstimator.from_pretrained("hayat2021-photoz-finetuned",
                                         path=tmp_path / "photoz_finetuned_model.pth.tar")
    x = torch.randn(2, 5, 64, 64)
    ref.net.eval(), pz.net.eval()
    with torch.no_grad():
        torch.testing.assert_close(pz.net(x)[0], ref.net(x)[0])
    assert pz.card["name"] == "hayat2021-photoz-finetuned"
    assert pz.config["input_stretch"] is None and pz.net.backbone.stretch is None
    # the MoCo checkpoint: query encoder kept, momentum encoder and queue dropped
    moco = _seed_checkpoint(ref.net.backbone, prefix="module.encoder_q.")
    moco["model_state"]["module.encoder_k.conv1.weight"] = torch.zeros(1)
    moco["model_state"]["module.queue"] = torch.zeros(128, 4)
    backbone, head, dropped = hayat2021_key_map(moco)
    assert head == {} and len(dropped) == 2
    enc = ContrastiveEncoder.from_hayat2021(moco)
    with torch.no_grad():
        enc.backbone.eval()
        torch.testing.assert_close(enc.backbone(x), ref.net.backbone(x))
    assert enc.config["input_stretch"] is None and enc.config["momentum"] == 0.999


def test_hayat2021_mismatches_are_named():
    ref = PhotoZEstimator(arch="resnet50-paper")
    ckpt = _seed_checkpoint(ref.net.backbone, ref.net.head)
    del ckpt["model_state"]["module.layer4.2.bn3.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['body.layer4.2.bn3.bias'\]"):
        PhotoZEstimator.from_hayat2021(ckpt, source="test")
    small = PhotoZEstimator(arch="resnet18")
    with pytest.raises(ValueError, match="do not match the architecture"):
        PhotoZEstimator.from_hayat2021(_seed_checkpoint(small.net.backbone, small.net.head))
    with pytest.raises(ValueError, match="no 'model_state'"):
        PhotoZEstimator.from_hayat2021({"something": 1})


def test_download_failure_says_how_to_work_offline(monkeypatch):
    import astropy.utils.data

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(astropy.utils.data, "download_file", offline)
    with pytest.raises(OSError, match=r"could not download 'hayat2021-photoz-supervised'.*"
                                      r"path="):
        PhotoZEstimator.from_pretrained("hayat2021-photoz-supervised")


@pytest.mark.remote_data
def test_hayat2021_photoz_checkpoint_downloads_and_loads():
    pz = PhotoZEstimator.from_pretrained("hayat2021-photoz-finetuned")
    assert pz.config["arch"] == "resnet50-paper" and pz.config["n_bins"] == 180


@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
def test_shipped_model_on_the_galaxies_of_a_real_field():
    """The tutorial's steps on a whole shared field: rows in = rows out; the galaxies as
    bright as the spectroscopic training sample (r < 18.5) get PDFs of width < 0.05 and
    redshifts where such galaxies lie (median 0.05 < z < 0.3); fainter galaxies, outside
    the training sample, get broader PDFs (width rising with magnitude) rather than
    confident answers."""
    from scipy.stats import spearmanr

    from galssl.cutouts import CutoutCatalog
    from galssl.tests.helpers import shared_data_dir

    data = shared_data_dir()
    if data is None:
        pytest.skip("the shared SDSS data folder is not present")
    cat = CutoutCatalog.from_frames(os.path.join(data, "sdss_frames", "001035-6-0017"),
                                    progress=False)
    out = PhotoZEstimator.from_pretrained().predict(cat, progress=False)
    assert len(out) == len(cat) and np.all(out["ra"] == cat.table["ra"])
    good = np.asarray(cat.good)
    mag = np.asarray(cat.table["mag_r"].value)
    err = np.asarray(out["z_phot_err"])
    bright = good & (mag < 18.5)
    assert bright.sum() >= 5
    assert np.median(err[bright]) < 0.05
    assert 0.05 < np.median(np.asarray(out["z_phot"])[bright]) < 0.3
    assert spearmanr(mag[good], err[good]).statistic > 0.3


def test_old_loaders_warn_and_give_the_same_models(tmp_path):
    """``galssl.pretrained.load_pretrained`` and ``from_hayat2021`` (deprecated: the
    registry no longer builds models) still work for one release, with a warning that
    names what to use."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    import galssl.pretrained

    with pytest.warns(AstropyDeprecationWarning, match="ContrastiveEncoder.from_pretrained"):
        load = galssl.pretrained.load_pretrained
    enc = load(DEFAULT_PHOTOZ, kind="encoder")
    new = ContrastiveEncoder.from_pretrained(DEFAULT_PHOTOZ)
    for a, b in zip(enc.backbone.state_dict().values(), new.backbone.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the photo-z model's encoder, built by the encoder class from the registry's state,
    # gives the representations of the model's own encoder() bit for bit
    images = torch.randn(3, 5, 64, 64).numpy()
    np.testing.assert_array_equal(new.encode(images, progress=False),
                                  PhotoZEstimator.from_pretrained().to_encoder().encode(
                                      images, progress=False))
    assert load(kind="photoz").card == PhotoZEstimator.from_pretrained().card
    with pytest.warns(AstropyDeprecationWarning, match="from_hayat2021"):
        old = galssl.pretrained.from_hayat2021
    ref = PhotoZEstimator(arch="resnet50-paper", input_stretch=None)
    pz = old(_seed_checkpoint(ref.net.backbone, ref.net.head), source="test")
    assert pz.config["arch"] == "resnet50-paper"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        galssl.pretrained.nothing


def test_a_missing_checkpoint_path_is_not_a_registry_name(tmp_path):
    for cls in (PhotoZEstimator, ContrastiveEncoder):
        with pytest.raises(FileNotFoundError, match="nowhere.pt"):
            cls.from_pretrained(str(tmp_path / "nowhere.pt"))
    with pytest.raises(KeyError, match="no pretrained weights named 'no-such-model'"):
        PhotoZEstimator.from_pretrained("no-such-model")
    with pytest.raises(ValueError, match="holds encoder weights, not photoz"):
        PhotoZEstimator.from_pretrained(DEFAULT_ENCODER)
