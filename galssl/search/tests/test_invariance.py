# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest

from galssl.search.tests.helpers import toy_catalog

torch = pytest.importorskip("torch")

from galssl import ContrastiveEncoder  # noqa: E402
from galssl.augment import (Compose, ExtinctionAugment, GaussianNoise,  # noqa: E402
                            RandomRotate, eval_transform)
from galssl.search import retrieval_invariance  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)  # the test's own initialisation of the untrained network
    return ContrastiveEncoder(crop=32, jitter=2, queue_size=16)


def test_identity_like_transform_retrieves_every_galaxy(encoder):
    cat = toy_catalog(n=24)
    images = np.asarray(cat.images).copy()
    images[5] = np.nan  # no data: not evaluated, masked in the per-object result
    cat.images = images
    frac, per_object = retrieval_invariance(encoder, cat, eval_transform(out=32),
                                            per_object=True, progress=False)
    assert frac == 1.0
    assert per_object.shape == (24,) and per_object.dtype == bool
    assert np.flatnonzero(per_object.mask).tolist() == [5]
    assert per_object.compressed().all()

    # a full-size view (dereddened only) is centre-cropped to the encoder's input: it is
    # the original again
    def identity(images, *, ebv=None, generator=None):
        return ExtinctionAugment(0.0)(images, ebv=ebv)

    assert retrieval_invariance(encoder, cat, identity, progress=False) == 1.0


def test_destructive_transform_scores_lower(encoder):
    cat = toy_catalog(n=24, seed=1)
    heavy_noise = Compose([ExtinctionAugment(0.0), GaussianNoise([30.0] * 5, scale=(1, 1))])
    frac = retrieval_invariance(encoder, cat, heavy_noise, seed=3, progress=False)
    assert frac <= 0.25
    # the same seed gives the same views
    assert retrieval_invariance(encoder, cat, heavy_noise, seed=3, progress=False) == frac
    rotated = Compose([ExtinctionAugment(0.0), RandomRotate()])
    assert 0.0 <= retrieval_invariance(encoder, cat, rotated, progress=False) <= 1.0


def test_errors(encoder):
    cat = toy_catalog(n=6)
    with pytest.raises(TypeError, match="encoder must be a ContrastiveEncoder"):
        retrieval_invariance("resnet", cat, eval_transform(out=32))
    with pytest.raises(TypeError, match="transform must be callable"):
        retrieval_invariance(encoder, cat, 3)
    with pytest.raises(ValueError, match="smaller than the encoder's 32x32 input"):
        retrieval_invariance(encoder, cat, eval_transform(out=16), progress=False)

    def flat(images, *, ebv=None, generator=None):
        return images.mean(dim=1)

    with pytest.raises(ValueError, match="transform must return a"):
        retrieval_invariance(encoder, cat, flat, progress=False)
    with pytest.raises(ValueError, match="at least 2 objects with image data"):
        retrieval_invariance(encoder, np.full((3, 5, 40, 40), np.nan, np.float32),
                             eval_transform(out=32), progress=False)
