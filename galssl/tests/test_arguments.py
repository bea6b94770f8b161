# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""One check per kind of argument, on every entry point that takes it."""

import numpy as np
import pytest

from galssl import ContrastiveEncoder, MorphologyClassifier, PhotoZEstimator
from galssl.cli import main
from galssl.photoz.tests.test_estimator import toy_photoz
from galssl.search import retrieval_invariance
from galssl.utils._validate import check_devices, check_positive_int

ENC = dict(arch="resnet10-small", crop=32, jitter=2, queue_size=16)


def _entry_points():
    cat = toy_photoz(n=40, size=40)
    enc = ContrastiveEncoder(**ENC)
    pz = PhotoZEstimator(crop=32, n_bins=40)
    pz._trained = True  # random weights: only the argument checks are tested
    mc = MorphologyClassifier(enc, questions=["smooth"])
    labels = {"smooth": np.linspace(0, 1, 40)}
    fast = dict(progress=False, precision="32-true")
    return {
        "ContrastiveEncoder.encode": lambda b: enc.encode(cat, batch_size=b, progress=False),
        "ContrastiveEncoder.fit": lambda b: enc.fit(cat, batch_size=b, **fast),
        "PhotoZEstimator.predict": lambda b: pz.predict(cat, batch_size=b, progress=False),
        "PhotoZEstimator.fit": lambda b: pz.fit(cat, batch_size=b, **fast),
        "MorphologyClassifier.predict": lambda b: mc.predict(cat, batch_size=b,
                                                             progress=False),
        "MorphologyClassifier.fit": lambda b: mc.fit(cat, labels, batch_size=b,
                                                     progress=False),
        "retrieval_invariance": lambda b: retrieval_invariance(
            enc, cat, lambda x, ebv=None, generator=None: x, batch_size=b, progress=False),
    }


@pytest.mark.parametrize("entry", list(_entry_points()))
@pytest.mark.parametrize("value, error", [(0, ValueError), (-1, ValueError),
                                          (2.5, TypeError), ("64", TypeError),
                                          (True, TypeError)])
def test_batch_size_is_checked_by_every_entry_point(entry, value, error):
    # -1 used to return every row NaN
    with pytest.raises(error, match=r"batch_size must be (a positive integer|an integer >= 2)"):
        _entry_points()[entry](value)


@pytest.mark.parametrize("argv", [
    ["encode", "--model", "m.pt", "--data", "d.h5", "--out", "r.npy", "--batch-size", "-1"],
    ["photoz", "--data", "d.h5", "--out", "z.fits", "--batch-size", "0"],
    ["pretrain", "--data", "d.h5", "--out", "run", "--batch-size", "x"],
    ["pretrain", "--data", "d.h5", "--out", "run", "--epochs", "0"],
])
def test_cli_integer_options_are_checked_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    opt = argv[-2]
    assert f"argument {opt}: must be a positive integer" in capsys.readouterr().err


def test_devices_are_checked(tmp_path, capsys):
    assert check_devices(None) is None and check_devices("auto") == "auto"
    assert check_devices("2") == 2 and check_devices([0, 1]) == [0, 1]
    assert check_devices("0, 1") == [0, 1]
    with pytest.raises(ValueError, match="devices must be a positive integer"):
        check_devices("abc")
    with pytest.raises(ValueError, match="devices must be a positive integer"):
        check_devices("0,x")
    with pytest.raises(ValueError, match="devices must be a positive integer"):
        check_devices(0)
    with pytest.raises(ValueError, match="devices must be a positive integer"):
        ContrastiveEncoder(**ENC).fit(toy_photoz(n=40, size=40), batch_size=8, devices=-2,
                                      progress=False)
    assert main(["pretrain", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path),
                 "--devices", "abc"]) == 2
    assert "--devices must be a positive integer" in capsys.readouterr().err
    assert check_positive_int(np.int64(3), "n") == 3


def _pz():
    pz = PhotoZEstimator(crop=32, n_bins=40)
    pz._trained = True  # random weights: only the input handling is tested
    return pz


def test_predict_refuses_what_it_cannot_use():
    pz, cat = _pz(), toy_photoz(n=6, size=40)
    with pytest.raises(TypeError, match="data must be a CutoutCatalog.*got NoneType"):
        pz.predict(None, progress=False)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['device_count'\]"):
        pz.predict(cat, device_count=2, progress=False)  # used to be swallowed silently
    with pytest.raises(TypeError, match=r"\['frames'\]"):
        pz.predict(cat, frames=["x.fits"], progress=False)
    mc = MorphologyClassifier(ContrastiveEncoder(**ENC), questions=["smooth"])
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['size'\]"):
        mc.predict(cat, size=64, progress=False)
    with pytest.raises(TypeError, match="real numbers"):
        pz.predict(np.asarray(cat.images) * (1 + 1j), progress=False)


def test_scalar_skycoord_is_one_row(tmp_path):
    from astropy.coordinates import SkyCoord

    from galssl.tests.helpers import make_frames

    make_frames(tmp_path / "f", noise=0.01)
    out = _pz().predict(SkyCoord(0.0, 0.0, unit="deg"), frames=str(tmp_path / "f"),
                        progress=False)
    assert len(out) == 1 and out["photoz_flag"][0] != 0


def test_missing_pixels_and_ebv_are_flagged_whatever_the_flags_say():
    from galssl.cutouts import CutoutCatalog
    from galssl.photoz import PhotoZFlag

    cat = toy_photoz(n=6, size=40)
    cat.images[1, :, :4] = np.nan  # flags still 0
    cat.table["ebv"][3] = np.nan
    out = _pz().predict(cat, progress=False)
    flagged = (np.asarray(out["photoz_flag"]) & int(PhotoZFlag.CUTOUT)) != 0
    assert flagged.tolist() == [False, True, False, True, False, False]
    # a hand-built catalogue without flags gets them from its pixels
    images = np.asarray(cat.images).copy()
    images[4] = np.nan
    table = cat.table.copy()
    del table["flags"]
    hand = CutoutCatalog(table, images)
    assert list(hand.table["flags"] != 0) == [False, True, False, False, True, False]
    out = _pz().predict(hand, progress=False)
    assert len(out) == 6 and out["photoz_flag"][4] & int(PhotoZFlag.NO_DATA)


def test_constructor_numbers_are_checked_before_any_work():
    """Values that used to fail only after training (ood_quantile=2: inside numpy after
    the fit) or silently (lr=inf: all-NaN representations) are refused by the
    constructor, naming the argument; fit refuses negative workers and seeds at once."""
    import math

    from galssl import ContrastiveEncoder, PhotoZEstimator

    for kwargs, message in [
            (dict(ood_quantile=2), r"ood_quantile must be a finite number in \(0, 1\)"),
            (dict(ood_quantile=float("nan")), "ood_quantile must be a finite number"),
            (dict(lr_head=-1e-3), r"lr_head must be a finite number in \[0, inf\)"),
            (dict(weight_decay=math.inf), "weight_decay must be a finite number"),
            (dict(max_err=0), "max_err must be a finite number"),
            (dict(milestones=(0.5, 7)), r"milestones must be a finite number in \[0, 1\]"),
            (dict(ood_k=0), "ood_k must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            PhotoZEstimator(**kwargs)
    with pytest.raises(TypeError, match="ood_quantile must be a real number, got '0.9'"):
        PhotoZEstimator(ood_quantile="0.9")
    for kwargs, message in [(dict(lr=math.inf), "lr must be a finite number"),
                            (dict(temperature=0), "temperature must be a finite number"),
                            (dict(momentum=1.5), r"momentum must be a finite number in \[0, 1\]"),
                            (dict(ebv_max=-0.1), "ebv_max must be a finite number")]:
        with pytest.raises(ValueError, match=message):
            ContrastiveEncoder(**kwargs)
    from galssl.search.tests.helpers import toy_catalog

    cat = toy_catalog(n=4, size=16)
    with pytest.raises(ValueError, match="num_workers must be an integer >= 0, got -1"):
        ContrastiveEncoder(crop=16).fit(cat, num_workers=-1, progress=False)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        PhotoZEstimator(crop=16).fit(cat, seed=-1, progress=False)


def test_the_ebv_column_is_read_one_way():
    """Masked, negative and non-finite E(B-V) are unknown (NaN: dereddened by 0 and the row
    flagged CUTOUT), never the hidden or negative value; a column of strings is a
    TypeError naming it; a catalogue without the column has every E(B-V) unknown."""
    from astropy.table import MaskedColumn, Table

    from galssl.cutouts import CutoutCatalog
    from galssl.engine import read_batch, read_ebv

    t = Table({"ebv": MaskedColumn([0.02, 0.5, -0.1, np.nan, 0.03],
                                   mask=[False, True, False, False, False])})
    ebv = read_ebv(t)
    np.testing.assert_array_equal(np.isnan(ebv), [False, True, True, True, False])
    assert ebv[0] == np.float32(0.02)
    x, e, empty, incomplete = read_batch(np.ones((5, 2, 4, 4), np.float32), ebv, np.arange(5))
    assert incomplete.tolist() == [False, True, True, True, False]
    assert e.tolist()[1:4] == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="column 'ebv' must hold numbers"):
        read_ebv(Table({"ebv": ["0.1", "0.2"]}))
    assert np.isnan(read_ebv(Table({"ra": [1.0, 2.0]}))).all()
    # through a model: the rows with unknown E(B-V) carry PhotoZFlag.CUTOUT
    from galssl.photoz import PhotoZFlag

    images = np.random.default_rng(0).random((5, 5, 64, 64)).astype(np.float32)
    t = Table({"ra": np.arange(5.0), "dec": np.zeros(5), "flags": np.zeros(5, int),
               "ebv": MaskedColumn([0.02, 0.5, -0.1, np.nan, 0.03],
                                   mask=[False, True, False, False, False])})
    with pytest.warns(Warning, match="not been trained"):
        out = PhotoZEstimator(crop=32).predict(CutoutCatalog(t, images), progress=False,
                                               devices="cpu")
    cutout = (np.asarray(out["photoz_flag"]) & int(PhotoZFlag.CUTOUT)) != 0
    assert cutout.tolist() == [False, True, True, True, False]


def test_masked_and_string_columns_are_read_one_way():
    """A masked z_spec is not counted by evaluate (its hidden value would be), a float flags
    column of whole numbers is the same catalogue as the integer one, and fractional flags
    or string columns are errors naming the column. Slips caught: dropping the mask in the
    column reader (n = 5, not 4), a `flags` column cast by truncation (0.5 -> 0)."""
    from astropy.table import MaskedColumn, Table

    from galssl.cutouts import CutoutCatalog, CutoutFlag
    from galssl.photoz.metrics import evaluate

    zs = MaskedColumn([0.1, 0.2, 0.3, 9.0, 0.15], mask=[False, False, False, True, False])
    zp = np.array([0.1, 0.21, 0.3, 0.1, 0.16])
    out = evaluate(zp, zs)
    ref = evaluate(zp[[0, 1, 2, 4]], np.asarray(zs)[[0, 1, 2, 4]])
    assert out["n"] == 4 and out["eta"] == ref["eta"] == 0.0
    assert out["sigma_mad"] == ref["sigma_mad"]
    with pytest.raises(TypeError, match="z_spec must hold numbers"):
        evaluate(zp, np.array(["0.1"] * 5))

    images = np.ones((3, 5, 8, 8), np.float32)
    bits = [0, int(CutoutFlag.PARTIAL), int(CutoutFlag.PARTIAL | CutoutFlag.BLENDED)]
    as_int = CutoutCatalog(Table({"flags": np.array(bits)}), images)
    as_float = CutoutCatalog(Table({"flags": np.array(bits, float)}), images)
    assert as_float.table["flags"].dtype == np.int32
    assert as_float.good.tolist() == as_int.good.tolist() == [True, False, False]
    with pytest.raises(ValueError, match="flags must hold whole, non-negative bit flags; "
                                         "row 1 holds 0.5"):
        CutoutCatalog(Table({"flags": [0.0, 0.5, 1.0]}), images)
    with pytest.raises(TypeError, match="flags must hold bit flags"):
        CutoutCatalog(Table({"flags": ["a", "b", "c"]}), images)
    with pytest.raises(ValueError, match="row 2 holds a masked value"):
        CutoutCatalog(Table({"flags": MaskedColumn([0, 1, 2], mask=[0, 0, 1])}), images)


def test_half_precision_tensors_are_images():
    """bfloat16 and float16 tensors (what a mixed-precision pipeline hands over) are read
    as float32 images, giving the representations of the float32 images they round to;
    complex tensors are a TypeError naming the images."""
    import torch

    from galssl.cutouts import CutoutCatalog
    from galssl.engine import as_image_source

    x = torch.rand(3, 5, 40, 40)
    enc = ContrastiveEncoder(**ENC)
    for dtype in (torch.bfloat16, torch.float16):
        half = x.to(dtype)
        images, ebv, good = as_image_source(half)
        assert images.dtype == np.float32 and good.all() and ebv is None
        np.testing.assert_array_equal(images, half.float().numpy())
        a = enc.encode(half, progress=False, devices="cpu")
        b = enc.encode(half.float(), progress=False, devices="cpu")
        np.testing.assert_array_equal(a, b)
        cat = CutoutCatalog(Table_of(3), half)
        assert cat.images.dtype == np.float32
    with pytest.raises(TypeError, match="images must be real numbers"):
        as_image_source(torch.zeros(1, 5, 4, 4, dtype=torch.complex64))


def Table_of(n):
    from astropy.table import Table

    return Table({"ra": np.arange(float(n))})


@pytest.mark.parametrize("call", ["summarize_pdfs", "fit", "apply", "to_qp", "evaluate",
                                  "pit"])
@pytest.mark.parametrize("damage, message", [
    ("one_d", "must be 2-d"), ("bins", "has 9 bins per row, but 11 bin edges make 10 bins"),
    ("negative", r"non-negative and not all zero in every row; 1 row\(s\) are not: \[2\]"),
    ("zero", r"not all zero in every row; 1 row\(s\) are not: \[3\]"),
    ("rows", "has 19 rows for 20 objects"), ("edges", "strictly increasing")])
def test_every_pdf_function_checks_its_pdfs_one_way(call, damage, message):
    """One PDF check shared by every PDF function: a 1-D PDF, a different bin count,
    negative or all-zero rows, a row count that differs from the redshifts', and edges that
    do not increase are each the same ValueError from each function, before any work."""
    from galssl.photoz import PITCalibration, summarize_pdfs, to_qp
    from galssl.photoz.metrics import evaluate, pit

    rng = np.random.default_rng(1)
    edges = np.linspace(0, 0.4, 11)
    pdfs = rng.random((20, 10))
    z = rng.uniform(0.01, 0.39, 20)
    if damage == "one_d":
        pdfs = pdfs[0]
    elif damage == "bins":
        pdfs = pdfs[:, :9]
    elif damage == "negative":
        pdfs[2, 4] = -0.1
    elif damage == "zero":
        pdfs[3] = 0.0
    elif damage == "rows":
        if call in ("summarize_pdfs", "apply", "to_qp"):
            pytest.skip("no redshifts to count rows against")
        pdfs = pdfs[:19]
    elif damage == "edges":
        edges = edges[::-1].copy()
    fitted = PITCalibration().fit(rng.random((20, 10)), np.linspace(0, 0.4, 11), z)
    run = {"summarize_pdfs": lambda: summarize_pdfs(pdfs, edges),
           "fit": lambda: PITCalibration().fit(pdfs, edges, z),
           "apply": lambda: fitted.apply(pdfs, edges),
           "to_qp": lambda: to_qp(pdfs, edges),
           "evaluate": lambda: evaluate(z, z, pdfs=pdfs, bin_edges=edges),
           "pit": lambda: pit(pdfs, edges, z)}[call]
    if call == "to_qp":
        pytest.importorskip("qp")
    with pytest.raises(ValueError, match=message):
        run()


def test_calibrate_checks_the_redshift_length():
    """calibrate/fit with a redshift array of another length than the images: a ValueError
    naming the lengths, not a numpy broadcasting error."""
    cat = toy_photoz(n=12, size=40)
    pz = PhotoZEstimator(crop=32, n_bins=40)
    pz._trained = True
    with pytest.raises(ValueError, match=r"redshift must hold one value per row \(12\), got "
                                         r"shape \(11,\)"):
        pz.calibrate(cat.images, redshift=np.full(11, 0.1), progress=False)


def test_devices_is_the_one_spelling_and_device_warns(tmp_path, capsys):
    """``devices`` takes a device name as well as a count, everywhere a model runs; the old
    ``device=`` gives the same result with an AstropyDeprecationWarning, and both together
    are a TypeError."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    from galssl.engine import inference_device, lightning_devices
    from galssl.search import SimilaritySearch

    assert str(inference_device("cpu")) == "cpu"
    assert lightning_devices("cuda:1", None) == ([1], "gpu")
    assert lightning_devices("cpu", None) == (1, "cpu")
    assert lightning_devices(2, "gpu") == (2, "gpu")
    with pytest.raises(ValueError, match="devices='cpu' is a cpu device, but accelerator='gpu'"):
        lightning_devices("cpu", "gpu")
    with pytest.raises(ValueError, match="a device name"):
        check_devices("gpu0")
    cat = toy_photoz(n=6, size=40)
    enc = ContrastiveEncoder(**ENC)
    pz = PhotoZEstimator(crop=32, n_bins=40)
    pz._trained = True
    new = enc.encode(cat, devices="cpu", progress=False)
    with pytest.warns(AstropyDeprecationWarning, match=r"encode: device= is deprecated.*"
                                                       r"devices='cpu'"):
        old = enc.encode(cat, device="cpu", progress=False)
    np.testing.assert_array_equal(new, old)
    with pytest.warns(AstropyDeprecationWarning, match="PhotoZEstimator.predict: device="):
        a = pz.predict(cat, device="cpu", progress=False)
    b = pz.predict(cat, devices="cpu", progress=False)
    np.testing.assert_array_equal(a["z_phot"], b["z_phot"])
    with pytest.raises(TypeError, match="got both device='cpu' and devices='cpu'"):
        pz.predict(cat, device="cpu", devices="cpu", progress=False)
    ss = SimilaritySearch(new, progress=False, encoder=enc)
    with pytest.warns(AstropyDeprecationWarning, match="SimilaritySearch.query: device="):
        ss.query(cat.images[:1], k=2, device="cpu")
    assert main(["encode", "--data", "x.h5", "--out", str(tmp_path / "r.npy"), "--device",
                 "cpu", "--devices", "cpu"]) == 2
    assert "give --devices alone" in capsys.readouterr().err
    with pytest.warns(AstropyDeprecationWarning, match="--device is deprecated"):
        main(["encode", "--data", str(tmp_path / "x.h5"), "--out", str(tmp_path / "r.npy"),
              "--device", "cpu"])


def test_one_english_spelling_with_the_old_names_kept_for_a_release():
    """The public names are spelt one way (American, as astropy); the British ones still
    work for one release and say what they are now."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    import galssl.photoz
    import galssl.research
    import galssl.visualization

    pz = PhotoZEstimator(crop=32, n_bins=40)
    with pytest.warns(AstropyDeprecationWarning, match="bin_centres is deprecated: use "
                                                       "bin_centers"):
        np.testing.assert_array_equal(pz.bin_centres, pz.bin_centers)
    for module, old, new in [(galssl.visualization, "plot_neighbours", "plot_neighbors"),
                             (galssl.research, "ColourBaseline", "ColorBaseline"),
                             (galssl.research, "aperture_colours", "aperture_colors"),
                             (galssl.photoz, "ColourBaseline", "ColorBaseline")]:
        with pytest.warns(AstropyDeprecationWarning, match=rf"\.{old} .*\.{new}"):
            assert getattr(module, old) is getattr(galssl.research if new != "plot_neighbors"
                                                   else galssl.visualization, new)


def test_photoz_to_encoder_and_the_deprecated_encoder_method():
    """``to_encoder()`` gives the encoder behind a photo-z model; the old ``encoder()`` (named
    like the constructor's ``encoder=``) warns and gives the same weights."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    pz = PhotoZEstimator(crop=32, n_bins=40)
    enc = pz.to_encoder()
    with pytest.warns(AstropyDeprecationWarning, match=r"encoder\(\) is deprecated: use "
                                                       r"to_encoder\(\)"):
        old = pz.encoder()
    for (k, a), b in zip(enc.backbone.state_dict().items(), old.backbone.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k


def test_models_share_one_base_and_save_half_precision(tmp_path):
    """PhotoZEstimator and MorphologyClassifier share `galssl.engine.ImageModel`: the same
    save (``half=``, ``overwrite=``) and load, and the same input handling; a half-precision
    morphology file is half the size and loads to float32 weights within float16 rounding."""
    from galssl.engine import ImageModel

    assert issubclass(PhotoZEstimator, ImageModel) and issubclass(MorphologyClassifier,
                                                                  ImageModel)
    mc = MorphologyClassifier(ContrastiveEncoder(**ENC), questions=["smooth"])
    mc.save(tmp_path / "full.pt")
    mc.save(tmp_path / "half.pt", half=True)
    with pytest.raises(FileExistsError):
        mc.save(tmp_path / "half.pt", half=True)
    full, half = (tmp_path / "full.pt").stat().st_size, (tmp_path / "half.pt").stat().st_size
    assert half < 0.6 * full
    back = MorphologyClassifier.load(tmp_path / "half.pt", questions=["smooth"])
    for (k, a), b in zip(mc.net.backbone.state_dict().items(),
                         back.net.backbone.state_dict().values()):
        assert b.dtype == a.dtype
        if a.is_floating_point():
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-3, atol=1e-4,
                                       err_msg=k)


def test_experiment_runners_take_model_kwargs_and_the_old_names_warn():
    """label_efficiency and label_count_curve name the model's keywords alike
    (``model_kwargs``); their old names warn and still reach the model, and both together
    are a TypeError."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    from galssl.research import label_count_curve, label_efficiency

    cat = toy_photoz(n=20, size=40)
    with pytest.raises(ValueError, match="model_kwargs cannot set 'mode'"):
        label_count_curve(None, cat, cat, modes=["supervised"], model_kwargs={"mode": "linear"})
    with pytest.warns(AstropyDeprecationWarning, match="classifier_kwargs= is deprecated"):
        with pytest.raises(ValueError, match="model_kwargs cannot set 'questions'"):
            label_count_curve(None, cat, cat, modes=["supervised"],
                              classifier_kwargs={"questions": ["x"]})
    with pytest.raises(TypeError, match="got both estimator_kwargs= and model_kwargs="):
        label_efficiency(None, cat, cat, methods=["supervised"], model_kwargs={},
                         estimator_kwargs={})


def test_training_views_need_room_for_the_jitter_before_any_work():
    """Every model's fit checks crop + 2 x jitter against the images before any work (it
    failed at the first optimiser step)."""
    cat = toy_photoz(n=20, size=40)
    with pytest.raises(ValueError, match="40x40 images are too small for the training views: "
                                         "a 32-pixel crop with a jitter of 7 pixels needs"):
        PhotoZEstimator(crop=32, jitter=7).fit(cat, progress=False)
    mc = MorphologyClassifier(ContrastiveEncoder(**ENC), mode="finetune", questions=["smooth"],
                              jitter=7)
    with pytest.raises(ValueError, match="needs 46x46"):
        mc.fit(cat, {"smooth": np.linspace(0, 1, 20)}, progress=False)
