# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Property-based checks of the public contract on random shapes, dtypes, NaN/inf patterns,
empty batches and extreme values: a clear error (TypeError/ValueError) or finite, flagged
output with rows in = rows out. Nothing here asserts a value: the other tests do."""

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

# no example database: the suite writes nothing into the folder it runs from
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)


@SETTINGS
@given(n=st.integers(0, 30), data=st.data())
def test_evaluate_is_a_clear_error_or_counts_the_rows_it_used(n, data):
    from galssl.photoz.metrics import evaluate

    zp = data.draw(arrays(np.float64, n, elements=st.floats(-0.5, 2) | FLOATS))
    zs = data.draw(arrays(np.float64, n, elements=st.floats(0, 1) | st.just(np.nan)))
    try:
        out = evaluate(zp, zs)
    except ValueError as exc:
        assert "nothing to evaluate" in str(exc) or "z_spec" in str(exc)
        return
    assert out["n"] == int((np.isfinite(zp) & np.isfinite(zs)).sum()) > 0


@SETTINGS
@given(b=st.integers(0, 3), size=st.integers(16, 24),
       scale=st.sampled_from([0.0, 1e-12, 1.0, 1e6]), ebv=st.floats(0, 2))
def test_augmentations_keep_the_batch_and_finite_values(b, size, scale, ebv):
    from galssl.augment import (Compose, ExtinctionAugment, GaussianNoise, JitterCrop,
                                PSFAugment, RandomRotate)

    x = torch.rand(b, 5, size, size) * scale
    steps = Compose([ExtinctionAugment(0.5), PSFAugment(), RandomRotate(),
                     JitterCrop(out=12, jitter=2), GaussianNoise([0.01] * 5)])
    out = steps(x, ebv=torch.full((b,), ebv), generator=torch.Generator().manual_seed(0))
    assert out.shape == (b, 5, 12, 12) and torch.isfinite(out).all()


@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 5),
       pattern=st.sampled_from(["finite", "nan-row", "nan-pixel", "inf", "huge", "zeros"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int16]))
def test_encode_and_predict_keep_rows_and_flag_what_is_missing(n, pattern, dtype):
    from galssl import ContrastiveEncoder, PhotoZEstimator
    from galssl.photoz import PhotoZFlag

    x = np.random.default_rng(n).normal(0, 1, (n, 5, 32, 32))
    if n and pattern == "nan-row":
        x[0] = np.nan
    elif n and pattern == "nan-pixel":
        x[-1, 2, 3, 4] = np.nan
    elif n and pattern == "inf":
        x[0, 0, 0, 0] = np.inf
    elif pattern == "huge":
        x *= 1e30
    elif pattern == "zeros":
        x[:] = 0
    if dtype is np.int16:
        x = np.nan_to_num(np.clip(x, -1e4, 1e4)).astype(np.int16)
    else:
        x = x.astype(dtype)
    enc = ContrastiveEncoder(arch="resnet10-small", crop=32)
    reps = enc.encode(x, progress=False, devices="cpu")
    assert reps.shape == (n, 256)
    complete = np.isfinite(x.astype(np.float64)).all(axis=(1, 2, 3))
    empty = ~np.isfinite(x.astype(np.float64)).any(axis=(1, 2, 3))
    assert np.isnan(reps[empty]).all()
    if pattern != "huge":
        assert np.isfinite(reps[complete]).all()
    pz = PhotoZEstimator(crop=32, n_bins=20)
    pz._trained = True  # random weights: only the contract is tested
    out = pz.predict(x, progress=False, devices="cpu")
    assert len(out) == n
    flag = np.asarray(out["photoz_flag"])
    if n:
        assert np.all(flag[~complete] & int(PhotoZFlag.CUTOUT | PhotoZFlag.NO_DATA))
        finite = np.isfinite(np.asarray(out["z_phot"]))
        assert np.all(finite | (flag != 0))  # a NaN z_phot is always flagged


@SETTINGS
@given(n=st.integers(1, 40), d=st.integers(1, 8), k=st.integers(1, 5),
       nan_rows=st.integers(0, 3))
def test_similarity_search_answers_every_query_row(n, d, k, nan_rows):
    pytest.importorskip("faiss")
    from galssl import SimilaritySearch

    reps = np.random.default_rng(n).normal(size=(n, d)).astype(np.float32)
    reps[:min(nan_rows, n - 1)] = np.nan
    ss = SimilaritySearch(reps, progress=False)
    usable = int(np.isfinite(reps).all(axis=1).sum())
    queries = np.arange(min(nan_rows, n - 1), n)
    if k > usable:
        with pytest.raises(ValueError):
            ss.query(queries, k=k)
        return
    res = ss.query(queries, k=k)
    assert sorted(set(res["query"])) == list(range(len(queries)))
    assert np.isfinite(np.asarray(res["similarity"])).all()
