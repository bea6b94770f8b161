# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""How well representations identify a galaxy across augmentations."""

import numpy as np

from ._knn import exact_knn, normalised, normalised_rows, positive_int, usable_rows

__all__ = ["retrieval_invariance"]


def retrieval_invariance(encoder, catalog, transform, *, seed=0, batch_size=256, devices=None,
                         per_object=False, progress=True, device=None, num_nodes=1,
                         accelerator=None, strategy=None):
    """Fraction of augmented views whose most similar original is their own galaxy.

    Every object with image data is encoded twice: as the encoder always encodes it (its
    ``eval_transform``: deredden, centre crop; `~galssl.ContrastiveEncoder.encode`), giving
    the *originals*, and as ``transform`` makes it, giving a *view*. A view is retrieved when
    the original most similar to it (cosine similarity, exact search over all originals) is
    its own. Representations invariant to the transform score 1; a transform that destroys
    what tells galaxies apart scores about 1/N.

    Parameters
    ----------
    encoder : `~galssl.ContrastiveEncoder`
    catalog : `~galssl.cutouts.CutoutCatalog` or array
        The galaxies ((N, C, H, W) images in nanomaggies, or a catalogue whose ``ebv``
        column is handed to the transform). Use distinct objects: a duplicate counts as a
        failure.
    transform : callable
        Called as ``transform(images, ebv=ebv, generator=generator)`` on (B, C, H, W) float
        tensors of the catalogue's (observed, not dereddened) cutouts with NaN set to 0,
        like every `galssl.augment` transform and pipeline. Its output is what the
        network sees, as in pretraining and fine-tuning: a transform should therefore
        deredden first, as `~galssl.augment.finetune_transform` and
        `~galssl.augment.eval_transform` do (``Compose([ExtinctionAugment(0.0),
        RandomRotate()])``, not a bare ``RandomRotate()``, which shows the network the
        reddened image). Outputs larger than the encoder's crop are centre-cropped to it,
        so full-size transforms (rotation, noise, PSF) and cropping ones (jitter-crop) both
        work; smaller outputs are an error. ``eval_transform(out=crop)`` reproduces the
        originals and scores 1.
    seed : int, optional
        Seeds the `torch.Generator` passed to each call of ``transform``: one per batch,
        from ``seed`` and the batch's position (the views depend on ``seed`` and
        ``batch_size``, not on the number of processes).
    batch_size : int, optional
        Images per forward pass.
    devices, num_nodes, accelerator, strategy : optional
        As in `~galssl.ContrastiveEncoder.encode`: one device by name (``"cpu"``), or the
        rows shared between several devices or nodes with the same result.
    device : str, optional
        Deprecated spelling of ``devices`` (warns).
    per_object : bool, optional
        Also return which objects were retrieved.
    progress : bool, optional

    Returns
    -------
    fraction : float
        Fraction of the objects with a representation whose view was retrieved.
    retrieved : `numpy.ma.MaskedArray`
        With ``per_object=True``: (N,) booleans, one per row in order, masked for rows
        without image data (not evaluated).

    Examples
    --------
    >>> import numpy as np
    >>> from galssl import ContrastiveEncoder
    >>> from galssl.augment import eval_transform
    >>> from galssl.search import retrieval_invariance
    >>> images = np.random.default_rng(0).gamma(2.0, size=(8, 5, 40, 40)).astype(np.float32)
    >>> enc = ContrastiveEncoder(crop=32)
    >>> retrieval_invariance(enc, images, eval_transform(out=32), progress=False)
    1.0
    """
    from ..engine import SeededView, as_image_source, devices_alias, run_inference
    from ..ssl import ContrastiveEncoder, encode_step

    devices = devices_alias(device, devices, "retrieval_invariance")
    if not isinstance(encoder, ContrastiveEncoder):
        raise TypeError(f"encoder must be a ContrastiveEncoder, got {type(encoder).__name__}")
    if not callable(transform):
        raise TypeError(f"transform must be callable (a galssl.augment transform), got "
                        f"{type(transform).__name__}")
    batch_size = positive_int(batch_size, "batch_size")
    images, ebv, _ = as_image_source(catalog, bands=encoder.bands)
    n = len(images)
    if n == 0:
        raise ValueError("the catalogue is empty")
    out = encoder.config["crop"]
    originals = encoder.encode(catalog, batch_size=batch_size,
                               progress=progress, devices=devices, num_nodes=num_nodes,
                               accelerator=accelerator, strategy=strategy)
    rows = np.flatnonzero(usable_rows(originals))
    if rows.size < 2:
        raise ValueError(f"retrieval needs at least 2 objects with image data, got {rows.size}")
    reference = normalised_rows(originals, rows)

    dist = dict(devices=devices, num_nodes=num_nodes, accelerator=accelerator,
                strategy=strategy)
    views = run_inference(encoder.backbone, images, ebv, rows, SeededView(transform, seed, out),
                          encode_step, batch_size=batch_size,
                          progress=progress, desc="views", **dist)["representation"]
    ok = usable_rows(views)
    retrieved = np.zeros(rows.size, dtype=bool)
    if ok.any():
        _, labels = exact_knn(reference, normalised(views[ok]), 1)
        retrieved[ok] = labels[:, 0] == np.flatnonzero(ok)
    fraction = float(retrieved.mean())
    if not per_object:
        return fraction
    result = np.ma.MaskedArray(np.zeros(n, dtype=bool), mask=np.ones(n, dtype=bool))
    result[rows] = retrieved
    return fraction, result
