# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Argument checks shared by every public entry point: one helper per kind of argument,
each raising TypeError/ValueError with the argument's name."""

import numbers

import numpy as np

__all__ = ["check_positive_int", "check_devices", "check_angle", "check_number",
           "as_float_values", "as_flag_values", "as_image_array", "check_pdfs"]


def check_positive_int(value, name, *, minimum=1):
    """``value`` as an int, or a TypeError (not an integer: bool, float, str...) or a
    ValueError (below ``minimum``) that names ``name``.

    Examples
    --------
    >>> from galssl.utils._validate import check_positive_int
    >>> check_positive_int(64, "batch_size")
    64
    >>> check_positive_int(-1, "batch_size")
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer, got -1
    """
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


#: Device names ``devices`` takes for one process on one device (``"cuda:1"`` too).
DEVICE_NAMES = ("cpu", "cuda", "mps", "xpu")


def check_devices(value, name="devices"):
    """galssl's one ``devices`` argument: None (choose: CUDA when available, all its GPUs
    for training), ``"auto"``, a positive integer (that many devices of the accelerator), a
    list of device indices, or the name of one device (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``); a string of digits (from a command line) becomes an integer, and one of
    comma-separated digits ("0,1") a list of indices.

    Examples
    --------
    >>> from galssl.utils._validate import check_devices
    >>> check_devices("cuda:1"), check_devices("0,1"), check_devices(2)
    ('cuda:1', [0, 1], 2)
    """
    if value is None or value == "auto":
        return value
    if isinstance(value, str) and value.split(":")[0].strip().lower() in DEVICE_NAMES:
        kind, _, index = value.strip().lower().partition(":")
        if index and not index.isdigit():
            raise ValueError(f"{name} must name a device like 'cuda:1', got {value!r}")
        return value.strip().lower()
    if hasattr(value, "type") and type(value).__name__ == "device":  # a torch.device
        return str(value)
    if isinstance(value, str) and "," in value:
        parts = [v.strip() for v in value.split(",")]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"{name} must be a positive integer, a list of device indices, "
                             f"a device name ('cpu', 'cuda:1') or 'auto', got {value!r}")
        return [int(p) for p in parts]
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise ValueError(f"{name} must be a positive integer, a list of device indices, "
                             f"a device name ('cpu', 'cuda:1') or 'auto', got {value!r}")
        value = int(value)
    if isinstance(value, (list, tuple)):
        return [check_positive_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(value)]
    return check_positive_int(value, name)


def check_angle(value, name):
    """``value`` as an angular `~astropy.units.Quantity` (a scalar >= 0), or a TypeError
    naming ``name`` (a bare number has no unit: 5 what?) or a ValueError.

    Examples
    --------
    >>> import astropy.units as u
    >>> from galssl.utils._validate import check_angle
    >>> check_angle(2 * u.arcsec, "max_separation")
    <Quantity 2. arcsec>
    >>> check_angle(5, "max_separation")
    Traceback (most recent call last):
    ...
    TypeError: max_separation must be an angle with a unit (e.g. 2 * u.arcsec), got 5
    """
    import astropy.units as u

    if not isinstance(value, u.Quantity) or value.unit.physical_type != "angle":
        raise TypeError(f"{name} must be an angle with a unit (e.g. 2 * u.arcsec), got "
                        f"{value!r}")
    if not value.isscalar or not np.isfinite(value.value) or value.value < 0:
        raise ValueError(f"{name} must be one finite angle >= 0, got {value!r}")
    return value


def check_number(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float within [``low``, ``high``] (an end excluded with
    ``low_open``/``high_open``), or a TypeError (not a real number) or ValueError (NaN,
    infinite, out of range) that names ``name``; checked in a constructor, before any work.

    Examples
    --------
    >>> from galssl.utils._validate import check_number
    >>> check_number(0.99, "ood_quantile", low=0, high=1, low_open=True, high_open=True)
    0.99
    >>> check_number(2, "ood_quantile", low=0, high=1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: ood_quantile must be a finite number in (0, 1), got 2
    """
    real = (numbers.Real, np.floating, np.integer)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, real):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    x = float(value)
    left = "(" if low_open else "["
    right = ")" if high_open or high is None else "]"
    where = ""
    if low is not None or high is not None:
        left = "(" if low is None else left
        where = (f" in {left}{'-inf' if low is None else f'{low:g}'}, "
                 f"{'inf' if high is None else f'{high:g}'}{right}")
    ok = np.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValueError(f"{name} must be a finite number{where}, got {value!r}")
    return x


def as_float_values(values, name, *, what="numbers"):
    """The one mask-aware reader of a numeric column or array: ``values`` (a Column,
    MaskedColumn, masked array, Quantity, list or array) as a float64 array in which masked
    entries are NaN (never the hidden value under the mask); a column of strings, objects or
    dates is a TypeError naming ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import MaskedColumn
    >>> from galssl.utils._validate import as_float_values
    >>> as_float_values(MaskedColumn([0.1, 0.2], mask=[False, True]), "z_spec")
    array([0.1, nan])
    >>> as_float_values(np.array(["0.1"]), "z_spec")
    Traceback (most recent call last):
    ...
    TypeError: z_spec must hold numbers, got dtype <U3
    """
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) or \
        getattr(values, "mask", None) is not None else None
    data = np.ma.getdata(getattr(values, "value", values))
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold {what} ({exc})") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold {what}, got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float64)
    if mask is not None and np.shape(mask) == out.shape:
        out[np.asarray(mask, dtype=bool)] = np.nan
    return out


def as_flag_values(values, name="flags"):
    """A bit-flag column as int64: integers as they are, floats only where every value is a
    whole number (a catalogue written through a float format); masked, NaN, fractional or
    negative flags, and non-numbers, are an error naming ``name`` (a flag nobody can read
    must not read as "no flag").

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.utils._validate import as_flag_values
    >>> as_flag_values(np.array([0., 6., 32.]), "flags")
    array([ 0,  6, 32])
    >>> as_flag_values(np.array([0.5]), "flags")
    Traceback (most recent call last):
    ...
    ValueError: flags must hold whole, non-negative bit flags; row 0 holds 0.5
    """
    arr = as_float_values(values, name, what="bit flags (integers)")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)) | (arr >= 2.0 ** 62)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must hold whole, non-negative bit flags; row {i} holds "
                         f"{'a masked value' if np.isnan(arr[i]) else repr(arr[i].item())}")
    return arr.astype(np.int64)


#: Image element types galssl reads (numpy kinds: float, signed, unsigned, bool); torch
#: half-precision tensors (float16, bfloat16) are converted to float32 first.
IMAGE_KINDS = "fiub"


def as_image_array(data, name="images"):
    """Images as a numpy array (not copied when already one): a torch tensor of any real
    dtype (bfloat16 and float16 included, which numpy cannot hold or torch cannot export)
    is detached and moved to the CPU as float32; anything that is not real numbers is a
    TypeError naming ``name``.

    Examples
    --------
    >>> import torch
    >>> from galssl.utils._validate import as_image_array
    >>> as_image_array(torch.ones(1, 5, 4, 4, dtype=torch.bfloat16)).dtype
    dtype('float32')
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(data, torch.Tensor):
        if data.is_complex() or data.dtype not in (torch.float16, torch.bfloat16,
                                                   torch.float32, torch.float64, torch.bool,
                                                   torch.uint8, torch.int8, torch.int16,
                                                   torch.int32, torch.int64):
            raise TypeError(f"{name} must be real numbers (nanomaggies), got a tensor of "
                            f"{data.dtype}")
        data = data.detach().cpu()
        if data.dtype in (torch.float16, torch.bfloat16):
            data = data.float()
        return data.numpy()
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers (nanomaggies): {exc}") from None
    if arr.dtype.kind not in IMAGE_KINDS:
        raise TypeError(f"{name} must be real numbers (nanomaggies), got dtype {arr.dtype}")
    return arr


def check_pdfs(pdfs, edges, *, n=None, name="pdfs", missing="error"):
    """The one check of binned redshift PDFs shared by every PDF function: ``pdfs`` an
    (N, n_bins) array of finite, non-negative probabilities with a positive sum per row,
    ``edges`` n_bins + 1 finite, strictly increasing bin edges, and N == ``n`` when given.
    Returns (pdfs normalised to unit sum per row as float64, edges as float64).
    ``missing="keep"`` lets rows that are entirely NaN (no prediction) through as NaN rows;
    anything else wrong is a ValueError naming ``name`` and the first bad row.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.utils._validate import check_pdfs
    >>> p, e = check_pdfs([[1.0, 3.0]], [0.0, 0.1, 0.2])
    >>> p.tolist()
    [[0.25, 0.75]]
    >>> check_pdfs([[1.0, 3.0]], [0.0, 0.1])
    Traceback (most recent call last):
    ...
    ValueError: pdfs has 2 bins per row, but 2 bin edges make 1 bin
    """
    e = as_float_values(edges, "bin edges")
    if e.ndim != 1 or len(e) < 2 or not np.isfinite(e).all() or not (np.diff(e) > 0).all():
        raise ValueError(f"the bin edges of {name} must be at least 2 finite, strictly "
                         f"increasing values, got {np.array2string(e, threshold=6)}")
    p = as_float_values(pdfs, name, what="probabilities")
    if p.ndim != 2:
        raise ValueError(f"{name} must be 2-d (one PDF of {len(e) - 1} bins per row), got "
                         f"shape {p.shape}")
    if p.shape[1] != len(e) - 1:
        raise ValueError(f"{name} has {p.shape[1]} bins per row, but {len(e)} bin edges make "
                         f"{len(e) - 1} bin{'s' if len(e) != 2 else ''}")
    if n is not None and len(p) != n:
        raise ValueError(f"{name} has {len(p)} rows for {n} objects")
    unknown = np.isnan(p).all(axis=1) if missing == "keep" else np.zeros(len(p), bool)
    with np.errstate(invalid="ignore"):
        total = p.sum(axis=1)
        bad = ~unknown & (~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1) | ~(total > 0))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} must be finite, non-negative and not all zero in every row; "
                         f"{len(rows)} row(s) are not: {rows[:10].tolist()}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return p / total[:, None], e
