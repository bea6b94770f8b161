# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Progress bars (tqdm), silenced with ``progress=False``."""

__all__ = ["progress_bar"]


def progress_bar(iterable=None, *, total=None, desc=None, progress=True, unit="it"):
    """Wrap ``iterable`` in a tqdm bar unless ``progress`` is False."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not progress, unit=unit,
                dynamic_ncols=True, leave=False)
