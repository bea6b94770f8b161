# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Validation of user positions: Tables with ra/dec columns, or SkyCoord objects."""

import numpy as np

__all__ = ["parse_positions", "Positions"]

_RA_NAMES = ("ra", "RA", "Ra", "RAJ2000", "ra_deg", "RA_DEG")
_DEC_NAMES = ("dec", "DEC", "Dec", "DEJ2000", "dec_deg", "DEC_DEG")


class Positions:
    """ICRS positions parsed from user input, with a validity mask.

    Attributes
    ----------
    ra, dec : ndarray
        Right ascension in [0, 360) and declination in degrees; NaN where invalid.
    valid : ndarray of bool
        False for rows whose coordinates are missing, masked, not finite or out of range.
    table : `~astropy.table.QTable`
        The input rows as a table (a SkyCoord input becomes a table with ``ra``/``dec``).
    """

    def __init__(self, ra, dec, valid, table):
        self.ra = ra
        self.dec = dec
        self.valid = valid
        self.table = table

    def __len__(self):
        return len(self.ra)

    def skycoord(self):
        """Return a `~astropy.coordinates.SkyCoord` (invalid rows become (0, 0))."""
        from astropy.coordinates import SkyCoord

        return SkyCoord(np.where(self.valid, self.ra, 0.0), np.where(self.valid, self.dec, 0.0),
                        unit="deg", frame="icrs")


def _find(colnames, wanted, candidates):
    if wanted is not None:
        if wanted not in colnames:
            raise ValueError(f"column {wanted!r} not found in the table "
                             f"(columns: {', '.join(colnames) or 'none'})")
        return wanted
    for name in candidates:
        if name in colnames:
            return name
    lower = {c.lower(): c for c in colnames}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    return None


def _column_degrees(table, name):
    """Return column ``name`` as float degrees, NaN where masked; errors name the column."""
    import astropy.units as u

    col = table[name]
    mask = np.zeros(len(col), dtype=bool)
    if hasattr(col, "mask") and col.mask is not None:
        mask = np.asarray(np.ma.getmaskarray(col), dtype=bool)
    unit = getattr(col, "unit", None)
    if unit is not None and not unit.is_equivalent(u.deg):
        raise ValueError(f"column {name!r} has unit {unit}, which is not an angle")
    raw = np.ma.getdata(getattr(col, "value", col)) if unit is not None else np.ma.getdata(col)
    raw = np.asarray(raw)
    if raw.ndim != 1:
        raise ValueError(f"column {name!r} must be one value per row, got shape {raw.shape}")
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"column {name!r} must be numeric (degrees), got dtype {raw.dtype}")
    values = raw.astype(float)
    if unit is not None:
        values = (values * unit).to_value(u.deg)
    values[mask] = np.nan
    return values


def parse_positions(positions, *, ra=None, dec=None):
    """Validate a table or SkyCoord of positions once, at the public boundary.

    Parameters
    ----------
    positions : `~astropy.table.Table`, `~astropy.table.QTable` or `~astropy.coordinates.SkyCoord`
        A SkyCoord (any celestial frame, converted to ICRS), or a table with right ascension
        and declination columns (``ra``/``dec`` in any case, or a SkyCoord column). Unitless
        columns are taken to be degrees.
    ra, dec : str, optional
        Names of the coordinate columns when they are not ``ra``/``dec``.

    Returns
    -------
    Positions

    Raises
    ------
    TypeError
        If ``positions`` is neither a table nor a SkyCoord, or a coordinate column is not numeric.
    ValueError
        If the coordinate columns cannot be found or are not angles.
    """
    from astropy.coordinates import SkyCoord
    from astropy.table import QTable, Table

    if isinstance(positions, SkyCoord):
        sc = positions.reshape(-1) if positions.ndim else positions.reshape(1)
        icrs = sc.icrs
        ra_deg = np.array(icrs.ra.deg, dtype=float)
        dec_deg = np.array(icrs.dec.deg, dtype=float)
        table = QTable()
    elif isinstance(positions, Table):
        table = QTable(positions, copy=False)
        colnames = list(table.colnames)
        sky_cols = [c for c in colnames if isinstance(table[c], SkyCoord)]
        ra_name = _find(colnames, ra, _RA_NAMES)
        dec_name = _find(colnames, dec, _DEC_NAMES)
        if ra_name is None and dec_name is None and sky_cols:
            icrs = table[sky_cols[0]].icrs
            ra_deg = np.array(icrs.ra.deg, dtype=float)
            dec_deg = np.array(icrs.dec.deg, dtype=float)
        elif ra_name is None or dec_name is None:
            missing = "ra" if ra_name is None else "dec"
            raise ValueError(
                f"no {missing!r} column found in the table (columns: "
                f"{', '.join(colnames) or 'none'}); pass ra=/dec= to name the coordinate "
                "columns or give a SkyCoord")
        else:
            ra_deg = _column_degrees(table, ra_name)
            dec_deg = _column_degrees(table, dec_name)
    else:
        raise TypeError("positions must be an astropy Table/QTable or a SkyCoord, "
                        f"got {type(positions).__name__}")

    valid = np.isfinite(ra_deg) & np.isfinite(dec_deg) & (np.abs(dec_deg) <= 90.0)
    ra_deg = np.mod(np.where(valid, ra_deg, 0.0), 360.0)
    ra_deg[ra_deg >= 360.0] = 0.0  # np.mod(-1e-47, 360) rounds to 360
    ra_deg[~valid] = np.nan
    dec_deg = np.where(valid, dec_deg, np.nan)
    return Positions(ra_deg, dec_deg, valid, table)
