# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Progress bars (tqdm), silenced with ``progress=False``."""

__all__ = ["progress_bar"]


def progress_bar(iterable=None, *, total=None, desc=None, progress=True, unit="it"):
    """Wrap ``iterable`` in a tqdm bar unless ``progress`` is False or the environment
    variable ``TQDM_DISABLE`` is set (to anything but ``0``, ``false`` or nothing), as tqdm
    itself honours it."""
    import os

    from tqdm.auto import tqdm

    off = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
    return tqdm(iterable, total=total, desc=desc, disable=not progress or off, unit=unit,
                dynamic_ncols=True, leave=False)
