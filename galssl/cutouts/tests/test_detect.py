# Licensed under a 3-clause BSD style license - see LICENSE.rst
import os

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from scipy.spatial import cKDTree

from galssl.cutouts import (CutoutCatalog, CutoutFlag, detect_sources, find_frames,
                            tile_positions)
from galssl.cutouts._frames import read_frame_data
from galssl.cutouts._detect import extract
from galssl.datasets import sample_frames
from galssl.tests.helpers import make_frames, requires_shared_data, shared_data_dir


@pytest.fixture(scope="module")
def sample_catalog():
    return CutoutCatalog.from_frames(sample_frames(), progress=False)


def _centroid(image, radius):
    """First moment of the positive light within ``radius`` px of the cutout centre."""
    n = image.shape[-1]
    yy, xx = np.indices(image.shape)
    c = (n - 1) / 2
    w = np.where(np.hypot(xx - c, yy - c) <= radius, np.clip(np.nan_to_num(image), 0, None), 0)
    return (w * xx).sum() / w.sum() - c, (w * yy).sum() / w.sum() - c


def test_detected_galaxies_are_centred_and_bands_aligned(sample_catalog):
    cat = sample_catalog
    assert len(cat) >= 5 and np.all(cat.table["is_galaxy"])
    assert cat.table["mag_r"].unit.to_string() == "mag"
    assert "AB magnitude" in cat.table["mag_r"].info.description
    bright = np.flatnonzero((cat.table["snr"] > 100) & (cat.table["flags"] & CutoutFlag.PARTIAL
                                                        == 0))
    assert len(bright) >= 3
    for i in bright:
        radius = 3.0
        # subtract the local sky level (median of the cutout border) before the moments
        img = cat.images[i] - np.nanmedian(np.concatenate(
            [cat.images[i][:, :5].reshape(5, -1), cat.images[i][:, -5:].reshape(5, -1)],
            axis=1), axis=1)[:, None, None]
        dx, dy = _centroid(img[2], radius)
        assert np.hypot(dx, dy) < 1.0, (i, dx, dy)
        for j in (1, 3):  # g and i against r
            bx, by = _centroid(img[j], radius)
            assert np.hypot(bx - dx, by - dy) < 0.5, (i, "gri"[j - 1], bx - dx, by - dy)


def test_detection_columns_and_units(sample_catalog):
    t = sample_catalog.table
    for name in ("ra", "dec", "flux_r", "mag_r", "r50", "concentration", "snr", "ebv", "flags",
                 "is_galaxy", "detect_field"):
        assert name in t.colnames
    assert np.all(t["snr"] > 10)
    assert np.all(t["r50"].to_value("arcsec") > 0)
    flux = np.asarray(t["flux_r"])
    np.testing.assert_allclose(t["mag_r"].value, 22.5 - 2.5 * np.log10(flux))


def test_stars_are_kept_on_request_and_detection_is_deterministic():
    a = detect_sources(sample_frames(), progress=False)
    b = detect_sources(sample_frames(), progress=False)
    np.testing.assert_array_equal(a["ra"], b["ra"])
    assert (~a["is_galaxy"]).sum() >= 2  # the sample holds a few stars
    cat = CutoutCatalog.from_frames(sample_frames(), galaxies_only=False, progress=False,
                                    size=32)
    assert len(cat) == len(a)


def test_point_sources_are_not_galaxies_and_extended_ones_are(tmp_path):
    stars = [(150.0 + dx / 3600, 2.0 + dy / 3600, 40.0) for dx, dy in
             ((-25, -18), (-10, 15), (12, -12), (25, 18), (0, 0), (20, 0))]
    paths = make_frames(tmp_path / "s", bands="r", sources=stars, noise=0.02, shape=(200, 240))
    found = detect_sources(paths, progress=False, stellar_concentration=None)
    assert len(found) == len(stars) and not found["is_galaxy"].any()
    blobs = make_frames(tmp_path / "g", bands="r", sources=stars, noise=0.02, sigma_pix=4.0,
                        shape=(200, 240))
    found = detect_sources(blobs, progress=False, stellar_concentration=0.47)
    assert len(found) == len(stars) and found["is_galaxy"].all()


def test_tiling_covers_the_frame(tmp_path):
    paths = make_frames(tmp_path, shape=(160, 200))
    tiles = tile_positions(paths, size=40)
    assert len(tiles) == 4 * 5
    cat = CutoutCatalog.from_frames(paths, detect=False, size=40, progress=False)
    assert len(cat) == 20 and "tile_field" in cat.table.colnames


def test_big_endian_frames_are_native_after_reading():
    frame = find_frames(sample_frames()[2])[0]
    data = read_frame_data(frame)
    assert data.dtype == np.dtype("float32") and data.dtype.isnative


@requires_shared_data
def test_star_galaxy_separation_against_sdss_classes():
    base = shared_data_dir()
    field = "003918-3-0213"
    det = detect_sources(os.path.join(base, "sdss_frames", field, f"frame-r-{field}.fits.bz2"),
                         progress=False)
    tree = cKDTree(np.c_[det["x"], det["y"]])
    label = np.full(len(det), -1)
    nearest = np.zeros((2, len(det)))
    for name, value in (("galaxy", 1), ("star", 0)):
        truth = np.loadtxt(os.path.join(base, "catalogs", f"{field}_{name}_pixels.csv"),
                           delimiter=",", ndmin=2)
        dist, idx = tree.query(truth[:, :2], distance_upper_bound=3.0)
        label[idx[np.isfinite(dist)]] = value
        nearest[value] = cKDTree(truth[:, :2]).query(np.c_[det["x"], det["y"]])[0]
    matched = label >= 0
    assert matched.sum() > 250
    accuracy = np.mean(det["is_galaxy"][matched] == (label[matched] == 1))
    assert accuracy > 0.9
    # a detection with both a star and a galaxy of the lists within 3.5 px (a star on the
    # disc of the big r = 13.6 galaxy) tells nothing below
    label[(nearest < 3.5).all(axis=0)] = -1
    # bright stars: the three saturated ones (r = 13.9-14.4, interpolated cores, spikes)
    # passed as galaxies before their cores were examined; now no star brighter than
    # r = 16 does, every one of them is flagged SATURATED or sits on the stellar locus,
    # and no galaxy is lost to the saturation test
    mag = np.asarray(det["mag_r"].value)
    saturated = (np.asarray(det["detect_flags"]) & int(CutoutFlag.SATURATED)) != 0
    bright_stars = (label == 0) & (mag < 16)
    assert bright_stars.sum() >= 12
    assert not det["is_galaxy"][bright_stars].any()
    assert saturated[bright_stars & (mag < 14.5)].sum() >= 3
    assert not saturated[label == 1].any()
    assert det["is_galaxy"][(label == 1) & (mag < 20)].all()
    assert 0.2 < det.meta[f"stellar_sharpness_{field}"] < 0.35


def test_saturated_cores_are_found_and_galaxy_cores_are_not():
    """A star whose saturated core was interpolated over (a flat top with steps) is
    flagged; an unsaturated star and a galaxy of the same flux are not, nor is a faint
    source with the same holed core (too far below saturation for the test to apply). A
    core near saturation whose profile is flatter than the PSF's is a saturated star's."""
    from galssl.cutouts._detect import (NEAR_SATURATION, SDSS_SATURATION_DN,
                                        core_structure, saturated_cores)

    yy, xx = np.mgrid[:121, :121] - 60.0
    star = np.exp(-(xx ** 2 + yy ** 2) / (2 * 1.5 ** 2))
    galaxy = np.exp(-np.hypot(xx, yy / 0.6) / 10.0)  # exponential disc, 4" scale length
    flux = 3000.0 / 0.00511  # r = 13.8, in raw counts at SDSS's NMGY
    images = {"star": flux * star / star.sum(), "galaxy": flux * galaxy / galaxy.sum()}
    sat = images["star"].copy()
    core = sat > 0.5 * SDSS_SATURATION_DN
    # the pipeline replaces the saturated pixels by interpolating along rows from the
    # unsaturated pixels either side: a flat top with a step at its edges
    for row in np.flatnonzero(core.any(axis=1)):
        cols = np.flatnonzero(core[row])
        lo, hi = cols[0] - 1, cols[-1] + 1
        sat[row, cols] = np.interp(cols, [lo, hi], [sat[row, lo], sat[row, hi]])
    images["interpolated star"] = sat
    images["faint holed"] = sat / 100.0
    expected = {"star": False, "galaxy": False, "interpolated star": True,
                "faint holed": False}
    assert images["galaxy"].max() < 0.5 * NEAR_SATURATION * SDSS_SATURATION_DN
    for name, img in images.items():
        sharp, dip = core_structure(img, [60], [60])
        flagged = saturated_cores([img.max()], sharp, dip, [name == "galaxy"],
                                  saturation=SDSS_SATURATION_DN, stellar_sharpness=0.27)
        assert flagged[0] == expected[name], (name, sharp, dip)
    # the same smooth star profile is a saturated star's when it is flatter than the PSF
    sharp, dip = core_structure(images["star"], [60], [60])
    args = dict(saturation=SDSS_SATURATION_DN, stellar_sharpness=0.27)
    assert saturated_cores([0.2 * SDSS_SATURATION_DN], sharp, dip, [True], **args)[0]
    assert not saturated_cores([0.2 * SDSS_SATURATION_DN], sharp, dip, [False], **args)[0]
    assert not saturated_cores([0.05 * SDSS_SATURATION_DN], sharp, dip, [True], **args)[0]
    # a core above the saturation level is saturated whatever its shape
    assert saturated_cores([1.2 * SDSS_SATURATION_DN], [0.1], [-0.1], [False], **args)[0]
    # sources at the image edge are measured on the pixels that exist: the saturated star
    # cut 2 px from its centre is still found, the plain star is not
    for name, flagged in (("interpolated star", True), ("star", False)):
        edge = images[name][58:, 58:]
        sharp, dip = core_structure(edge, [2], [2])
        assert not np.isnan(sharp[0]) and not np.isnan(dip[0])
        assert saturated_cores([edge.max()], sharp, dip, [False], **args)[0] == flagged


@requires_shared_data
def test_incomplete_field_names_the_missing_band():
    folder = os.path.join(shared_data_dir(), "sdss_frames_incomplete", "002188-2-0037")
    frames = find_frames(folder)
    assert sorted(f.band for f in frames) == sorted("grzu")
    centre = frames[0].wcs.pixel_to_world_values(1024, 744)
    coords = SkyCoord([centre[0]], [centre[1]], unit="deg")
    with pytest.raises(ValueError, match=r"field 002188-2-0037 has no i-band frame"):
        CutoutCatalog.from_table(coords, folder, progress=False)
    cat = CutoutCatalog.from_table(coords, folder, bands="gr", size=21, progress=False)
    assert cat.images.shape == (1, 2, 21, 21) and cat.table["flags"][0] == 0


_CROWDED = """
import numpy as np, sep
from galssl.cutouts._detect import extract
rng = np.random.default_rng(0)
yy, xx = np.mgrid[:200, :200]
# a bright extended halo with 40 knots on it: many sub-objects to deblend
img = 100 * np.exp(-((xx - 100) ** 2 + (yy - 100) ** 2) / (2 * 40 ** 2))
for x, y in rng.uniform(60, 140, (40, 2)):
    img = img + 500 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8)
img = (img + rng.normal(0, 1, img.shape)).astype(np.float32)
"""


def test_extract_survives_deblending_overflow_in_a_fresh_process():
    # a fresh process, where no earlier detection has raised sep's limits; the caller's
    # own setting (2 sub-objects) overflows on this frame and is restored afterwards
    import subprocess
    import sys

    code = _CROWDED + """
sep.set_sub_object_limit(2)
try:
    sep.extract(img, 1.5, err=1.0, minarea=5)
    raise SystemExit("the frame was meant to overflow")
except Exception as exc:
    assert "overflow" in str(exc)
objs = extract(img, 1.5, err=1.0, minarea=5, what="frame crowded.fits",
               sub_object_limits=(2, 4096))
assert len(objs) > 10, len(objs)
assert sep.get_sub_object_limit() == 2
print("ok", len(objs))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_extract_names_the_frame_when_every_retry_overflows():
    import sep

    ns = {}
    exec(_CROWDED, ns)
    before = sep.get_sub_object_limit()
    with pytest.raises(ValueError, match="source extraction on frame crowded.fits overflowed"):
        extract(ns["img"], 1.5, err=1.0, minarea=5, what="frame crowded.fits",
                sub_object_limits=(1,))
    assert sep.get_sub_object_limit() == before


def test_footprints_group_touching_segments_only():
    from galssl.cutouts._detect import footprints

    seg = np.zeros((8, 12), int)
    seg[1:4, 1:3] = 1   # objects 1 and 2 touch (deblended from one parent)
    seg[1:4, 3:5] = 2
    seg[6, 6] = 3       # object 3 touches object 4 only diagonally: still one footprint
    seg[5, 7] = 4
    seg[1:3, 9:11] = 5  # isolated
    fp = footprints(seg, 5)
    assert fp[0] == fp[1] and fp[2] == fp[3]
    assert len({fp[0], fp[2], fp[4]}) == 3
    assert footprints(np.zeros((4, 4), int), 0).shape == (0,)


def test_systems_of_the_sample_match_separate_sdss_galaxies(sample_catalog):
    """The sample's merger and compact group are several galaxies in the SDSS catalogue
    too; detection keeps them apart and says which rows belong together (``system``)."""
    t = sample_catalog.table
    systems, counts = np.unique(np.asarray(t["system"]), return_counts=True)
    groups = systems[counts > 1]
    assert len(groups) == 2 and len(systems) == len(t) - int((counts - 1).sum())
    for g in groups:  # members of a system are blended neighbours
        rows = np.flatnonzero(np.asarray(t["system"]) == g)
        assert all(int(t["flags"][i]) & CutoutFlag.BLENDED for i in rows)
    base = shared_data_dir()
    if not os.path.isdir(base):
        return
    field = "003918-3-0213"
    frame = find_frames(os.path.join(base, "sdss_frames", field, f"frame-r-{field}.fits.bz2"))
    x, y = frame[0].wcs.world_to_pixel_values(t["ra"].value, t["dec"].value)
    truth = np.loadtxt(os.path.join(base, "catalogs", f"{field}_galaxy_pixels.csv"),
                       delimiter=",", ndmin=2)
    dist, idx = cKDTree(truth[:, :2]).query(np.c_[x, y])
    for g in groups:
        rows = np.flatnonzero(np.asarray(t["system"]) == g)
        near = rows[dist[rows] < 2.5]  # members that are SDSS-catalogued galaxies
        assert len(near) >= 2 and len(set(idx[near])) == len(near)
