# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""How galssl's output tables print: a display format per kind of column, so that a printed
table shows the digits that mean something (not 18). Formats change only how values print;
ECSV, FITS and HDF5 files keep every digit."""

import numpy as np

__all__ = ["set_display_formats"]

#: Display format of each column galssl writes, by exact name or by prefix (ending "_").
DISPLAY_FORMATS = {
    "ra": ".6f", "dec": ".6f", "x": ".2f", "y": ".2f", "flux_": ".4g", "mag_": ".3f",
    "r50": ".3f", "a": ".3f", "b": ".3f", "theta": ".3f", "concentration": ".3f",
    "snr": ".1f", "ebv": ".4f", "nan_fraction": ".3f", "z_phot": ".4f", "z_phot_err": ".4f",
    "z_mode": ".4f", "odds": ".3f", "ood_distance": ".4f", "similarity": ".4f",
    "anomaly_score": ".4f", "redshift": ".5f",
}


def set_display_formats(table, formats=None):
    """Give every float column of ``table`` that has no display format one from
    ``formats`` (default `DISPLAY_FORMATS`), matched by name, then by prefix; returns the
    table.

    Examples
    --------
    >>> from astropy.table import QTable
    >>> from galssl.utils._tables import set_display_formats
    >>> t = set_display_formats(QTable({"ra": [229.528722361], "mag_r": [13.569467]}))
    >>> t["ra"].info.format, t["mag_r"].info.format
    ('.6f', '.3f')
    """
    formats = DISPLAY_FORMATS if formats is None else formats
    for name in table.colnames:
        col = table[name]
        if col.info.format is not None or col.ndim > 1:
            continue
        kind = np.asarray(getattr(col, "value", col)).dtype.kind
        if kind != "f":
            continue
        fmt = formats.get(name)
        if fmt is None:
            fmt = next((f for key, f in formats.items()
                        if key.endswith("_") and name.startswith(key)), None)
        if fmt is not None:
            col.info.format = fmt
    return table
