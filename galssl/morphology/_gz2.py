# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Galaxy Zoo 2 vote tables (Willett et al. 2013): reading, questions, labels, matching."""

import os
import re

import numpy as np

__all__ = ["read_gz2", "gz2_questions", "gz2_vote_counts", "gz2_vote_fractions", "gz2_labels",
           "gz2_targets", "match_to_catalog", "GZ2_FRACTIONS", "DEFAULT_TARGETS"]

#: The vote-fraction columns of the GZ2 schema that can serve as targets: the raw fraction of
#: votes, the fraction weighted by user consistency (Willett et al. 2013, Sect. 3.3), and
#: the weighted fraction corrected for classification bias ("debiased").
GZ2_FRACTIONS = ("fraction", "weighted_fraction", "debiased")

#: Targets of `gz2_targets` by default: "smooth" = answer a01 (smooth) of task t01
#: (smooth or features), "edge_on" = answer a04 (yes) of task t02 (edge-on disk).
DEFAULT_TARGETS = {"smooth": ("t01_smooth_or_features", "a01_smooth"),
                   "edge_on": ("t02_edgeon", "a04_yes")}

_SUFFIXES = ("count", "weight", "weighted_fraction", "fraction", "debiased", "flag")
_COLUMN = re.compile(r"^(t\d\d_[a-z0-9_]+?)_(a\d\d_[a-z0-9_]+?)_("
                     + "|".join(_SUFFIXES) + r")$")


def _parse_columns(colnames):
    """{question: {answer: {suffix: column name}}} in column order."""
    out = {}
    for name in colnames:
        m = _COLUMN.match(name.lower())
        if m:
            q, a, s = m.groups()
            out.setdefault(q, {}).setdefault(a, {})[s] = name
    return out


def read_gz2(path_or_table, *, format=None):
    """Read a Galaxy Zoo 2 vote table in the standard schema of Willett et al. (2013).

    The schema: ``objid``, ``ra``, ``dec`` (deg), ``total_votes``, and for every answer of
    every task (question) the columns ``tNN_<question>_aNN_<answer>_<quantity>`` with
    quantity ``count`` (number of votes), ``weight`` (summed user weights), ``fraction``,
    ``weighted_fraction``, ``debiased`` and ``flag``. The main sample, the Stripe 82 samples
    (their Tables 1-5) and the GZ2 tables of Hart et al. (2016) share it.

    Parameters
    ----------
    path_or_table : str, path or `~astropy.table.Table`
        A file that `astropy.table.Table.read` reads (FITS, VOTable, ECSV, CSV; compressed
        ``.gz``/``.bz2`` files too), or a table already read.
    format : str, optional
        Passed to `~astropy.table.Table.read`; by default ``"ascii.csv"`` for names ending
        in ``.csv`` (optionally compressed), astropy's guess otherwise.

    Returns
    -------
    `~astropy.table.QTable`
        A copy, one row per input row, in order. Vote columns are renamed to lower case (as
        in the published files), ``ra`` and ``dec`` are in degrees. ``meta["gz2_source"]``
        names the file.

    Raises
    ------
    TypeError
        If ``path_or_table`` is neither a path nor a Table.
    ValueError
        If the table has no ``ra``/``dec`` columns, no GZ2 vote columns, or an answer
        without its ``_count`` column.

    Notes
    -----
    The published tables round the fractions to three decimals (a question's fractions sum
    to 1 within a few 0.001), and in the Stripe 82 tables the fractions of galaxies with
    only one to three votes for a question can all be 0. Galaxies with fewer than 5 votes
    for a question are not labels for it (`gz2_labels`).

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.morphology import read_gz2, gz2_questions
    >>> t = Table({"objid": [1, 2], "ra": [10.0, 10.1], "dec": [0.0, 0.1],
    ...            "t02_edgeon_a04_yes_count": [9, 0], "t02_edgeon_a05_no_count": [1, 3],
    ...            "t02_edgeon_a04_yes_weighted_fraction": [0.9, 0.0],
    ...            "t02_edgeon_a05_no_weighted_fraction": [0.1, 1.0]})
    >>> gz2 = read_gz2(t)
    >>> gz2["ra"].unit
    Unit("deg")
    >>> gz2_questions(gz2)
    {'t02_edgeon': ('a04_yes', 'a05_no')}

    References
    ----------
    Willett, K. W., Lintott, C. J., Bamford, S. P., et al. 2013, MNRAS 435, 2835.
    Hart, R. E., Bamford, S. P., Willett, K. W., et al. 2016, MNRAS 461, 3663.
    """
    import astropy.units as u
    from astropy.table import QTable, Table

    if isinstance(path_or_table, Table):
        table = QTable(path_or_table, copy=True)
        source = path_or_table.meta.get("gz2_source", "table")
    elif isinstance(path_or_table, (str, os.PathLike)):
        path = os.fspath(path_or_table)
        if format is None and re.search(r"\.csv(\.gz|\.bz2|\.xz)?$", path.lower()):
            format = "ascii.csv"
        table = QTable(Table.read(path, format=format))
        source = path
    else:
        raise TypeError(f"path_or_table must be a file name or an astropy Table, got "
                        f"{type(path_or_table).__name__}")

    renames = {}
    for name in table.colnames:
        low = name.lower()
        if low != name and (_COLUMN.match(low) or low in ("objid", "ra", "dec",
                                                          "total_votes")):
            renames[name] = low
    for old, new in renames.items():
        if new in table.colnames:
            raise ValueError(f"the table has both {old!r} and {new!r} columns")
        table.rename_column(old, new)
    missing = [c for c in ("ra", "dec") if c not in table.colnames]
    if missing:
        more = ", ..." if len(table.colnames) > 8 else ""
        raise ValueError(f"the GZ2 table has no {' or '.join(missing)} column (columns: "
                         f"{', '.join(table.colnames[:8])}{more})")
    for c in ("ra", "dec"):
        unit = getattr(table[c], "unit", None)
        if unit is None:
            table[c] = np.asarray(table[c], dtype=float) * u.deg
        elif not unit.is_equivalent(u.deg):
            raise ValueError(f"column {c!r} has unit {unit}, which is not an angle")
        else:
            table[c] = table[c].to(u.deg)
    parsed = _parse_columns(table.colnames)
    if not parsed:
        raise ValueError("the table has no Galaxy Zoo 2 vote columns "
                         "(tNN_<question>_aNN_<answer>_count, ...)")
    for q, answers in parsed.items():
        for a, cols in answers.items():
            if "count" not in cols:
                raise ValueError(f"answer {a!r} of question {q!r} has no vote-count column "
                                 f"{q}_{a}_count")
    table.meta["gz2_source"] = source
    return table


def gz2_questions(table):
    """The questions (tasks) and their answers, parsed from the column names.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A GZ2 table (see `read_gz2`).

    Returns
    -------
    dict
        ``{question: (answer, ...)}`` in column order, full names, e.g.
        ``"t01_smooth_or_features": ("a01_smooth", "a02_features_or_disk",
        "a03_star_or_artifact")``.
    """
    from astropy.table import Table

    if not isinstance(table, Table):
        raise TypeError(f"table must be an astropy Table, got {type(table).__name__}")
    return {q: tuple(a) for q, a in _parse_columns(table.colnames).items()}


def _pick(name, options, what, context=""):
    """The full name in ``options`` that ``name`` means: itself, its number (t01, a04) or
    its words (smooth_or_features, yes)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    key = name.lower()
    hits = [o for o in options if key in (o, o[:3], o[4:])]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ValueError(f"unknown {what} {name!r}{context}; choose one of {list(options)}")
    raise ValueError(f"{what} {name!r} is ambiguous{context}: {hits}")


def _question(table, question):
    qs = gz2_questions(table)
    if not qs:
        raise ValueError("the table has no Galaxy Zoo 2 vote columns")
    q = _pick(question, list(qs), "question")
    return q, qs[q]


def _column(table, question, answer, quantity):
    cols = _parse_columns(table.colnames)[question][answer]
    if quantity not in cols:
        raise ValueError(f"the table has no column {question}_{answer}_{quantity}")
    col = table[cols[quantity]]
    return np.ma.filled(np.ma.asarray(getattr(col, "value", col), dtype=float), np.nan)


def gz2_vote_counts(table, question):
    """Votes for each answer of a question.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A GZ2 table (`read_gz2`).
    question : str
        Full name (``"t01_smooth_or_features"``), task number (``"t01"``) or words
        (``"smooth_or_features"``).

    Returns
    -------
    `~astropy.table.QTable`
        One integer column per answer (full names), one row per input row; a question's
        number of votes is the sum over its answers. Masked or missing counts are 0.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.morphology import gz2_vote_counts
    >>> t = Table({"ra": [1.0], "dec": [2.0], "t02_edgeon_a04_yes_count": [3],
    ...            "t02_edgeon_a05_no_count": [4]})
    >>> gz2_vote_counts(t, "t02")
    <QTable length=1>
    a04_yes a05_no
     int64  int64
    ------- ------
          3      4
    """
    from astropy.table import QTable

    q, answers = _question(table, question)
    out = QTable()
    for a in answers:
        c = _column(table, q, a, "count")
        out[a] = np.where(np.isfinite(c), c, 0).astype(np.int64)
    out.meta["gz2_question"] = q
    return out


def _check_fraction(fraction):
    if fraction not in GZ2_FRACTIONS:
        raise ValueError(f"fraction must be one of {GZ2_FRACTIONS}, got {fraction!r}")


def gz2_vote_fractions(table, question, *, fraction="weighted_fraction"):
    """Vote fractions of each answer of a question.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A GZ2 table (`read_gz2`).
    question : str
        As for `gz2_vote_counts`.
    fraction : {"weighted_fraction", "fraction", "debiased"}, optional
        Which fractions (`GZ2_FRACTIONS`): consistency-weighted (default), raw, or debiased.

    Returns
    -------
    `~astropy.table.QTable`
        One float column per answer; masked values become NaN.
    """
    from astropy.table import QTable

    _check_fraction(fraction)
    q, answers = _question(table, question)
    out = QTable()
    for a in answers:
        out[a] = _column(table, q, a, fraction)
    out.meta["gz2_question"] = q
    out.meta["gz2_fraction"] = fraction
    return out


def gz2_labels(table, question, answer, *, min_votes=5, fraction="weighted_fraction",
               low=0.2, high=0.8):
    """The vote fraction of one answer as a label, with the masks of usable labels.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A GZ2 table (`read_gz2`).
    question, answer : str
        Full names, numbers (``"t01"``, ``"a01"``) or words (``"smooth"``).
    min_votes : int, optional
        A galaxy is labelled for the question when the question received at least this many
        votes (the sum of its answers' counts; 5 in Hayat et al. 2021).
    fraction : {"weighted_fraction", "fraction", "debiased"}, optional
        Which vote fraction is the target.
    low, high : float, optional
        High-quality labels: labelled galaxies whose fraction is > ``high`` or < ``low``.

    Returns
    -------
    `~astropy.table.QTable`
        One row per input row: ``fraction`` (float, as in the table, also where there are
        too few votes), ``n_votes`` (int), ``labelled`` (``n_votes >= min_votes`` and a
        finite fraction) and ``high_quality`` (``labelled`` and fraction > ``high`` or
        < ``low``). ``meta`` records the question, answer and conventions.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.morphology import gz2_labels
    >>> t = Table({"ra": [1.0, 2.0, 3.0], "dec": [0.0, 0.0, 0.0],
    ...            "t02_edgeon_a04_yes_count": [9, 2, 1],
    ...            "t02_edgeon_a05_no_count": [1, 2, 30],
    ...            "t02_edgeon_a04_yes_weighted_fraction": [0.9, 0.5, 0.032],
    ...            "t02_edgeon_a05_no_weighted_fraction": [0.1, 0.5, 0.968]})
    >>> lab = gz2_labels(t, "edgeon", "yes")
    >>> lab["n_votes"].tolist(), lab["labelled"].tolist(), lab["high_quality"].tolist()
    ([10, 4, 31], [True, False, True], [True, False, True])
    """
    from astropy.table import QTable

    _check_fraction(fraction)
    if isinstance(min_votes, bool) or not isinstance(min_votes, (int, np.integer)) \
            or min_votes < 0:
        raise ValueError(f"min_votes must be a non-negative integer, got {min_votes!r}")
    if not 0 <= low <= high <= 1:
        raise ValueError(f"need 0 <= low <= high <= 1, got low={low}, high={high}")
    q, answers = _question(table, question)
    a = _pick(answer, answers, "answer", f" of question {q!r}")
    counts = gz2_vote_counts(table, q)
    n_votes = np.sum([np.asarray(counts[c]) for c in counts.colnames], axis=0)
    f = _column(table, q, a, fraction)
    labelled = (n_votes >= min_votes) & np.isfinite(f)
    out = QTable({"fraction": f, "n_votes": np.asarray(n_votes, dtype=np.int64),
                  "labelled": labelled,
                  "high_quality": labelled & ((f > high) | (f < low))})
    out.meta.update(gz2_question=q, gz2_answer=a, gz2_fraction=fraction,
                    min_votes=int(min_votes), high_quality=f"fraction > {high} or < {low}")
    return out


def gz2_targets(table, targets=None, *, min_votes=5, fraction="weighted_fraction"):
    """Training targets for `~galssl.MorphologyClassifier`: one vote-fraction column per
    target, NaN where the galaxy has too few votes for the question.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A GZ2 table (`read_gz2`).
    targets : dict, optional
        ``{name: (question, answer)}``; default `DEFAULT_TARGETS` (``smooth`` = t01 a01,
        ``edge_on`` = t02 a04).
    min_votes, fraction : optional
        As for `gz2_labels`.

    Returns
    -------
    `~astropy.table.QTable`
        One float column per target, one row per input row, NaN = unlabelled.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from galssl.morphology import gz2_targets
    >>> t = Table({"ra": [1.0, 2.0], "dec": [0.0, 0.0],
    ...            "t02_edgeon_a04_yes_count": [9, 2], "t02_edgeon_a05_no_count": [1, 2],
    ...            "t02_edgeon_a04_yes_weighted_fraction": [0.9, 0.5],
    ...            "t02_edgeon_a05_no_weighted_fraction": [0.1, 0.5]})
    >>> gz2_targets(t, {"edge_on": ("t02", "yes")})["edge_on"].tolist()
    [0.9, nan]
    """
    from astropy.table import QTable

    targets = dict(DEFAULT_TARGETS if targets is None else targets)
    if not targets:
        raise ValueError("targets is empty")
    out = QTable()
    for name, spec in targets.items():
        if not isinstance(spec, (tuple, list)) or len(spec) != 2:
            raise TypeError(f"targets[{name!r}] must be a (question, answer) pair, got "
                            f"{spec!r}")
        lab = gz2_labels(table, spec[0], spec[1], min_votes=min_votes, fraction=fraction)
        out[name] = np.where(lab["labelled"], lab["fraction"], np.nan)
        out.meta[f"target_{name}"] = f"{lab.meta['gz2_question']}_{lab.meta['gz2_answer']}"
    out.meta.update(min_votes=int(min_votes), gz2_fraction=fraction)
    return out


def match_to_catalog(gz2_table, catalog, *, radius=None):
    """Cross-match catalogue positions to a GZ2 table on the sky.

    Parameters
    ----------
    gz2_table : `~astropy.table.Table`
        GZ2 table with ``ra``/``dec`` (`read_gz2`).
    catalog : `~galssl.cutouts.CutoutCatalog`, `~astropy.table.Table` or \
`~astropy.coordinates.SkyCoord`
        The objects to label.
    radius : `~astropy.units.Quantity`, optional
        Largest separation of a match (default 2 arcsec).

    Returns
    -------
    `~astropy.table.QTable`
        One row per catalogue row, in order: ``gz2_index``, the row of the nearest GZ2
        galaxy (`~astropy.coordinates.SkyCoord.match_to_catalog_sky`) or -1 when it is
        farther than ``radius`` (or a position is invalid), and ``separation`` to that
        nearest galaxy (arcsec; NaN without one). Several catalogue rows may match the
        same GZ2 galaxy.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.coordinates import SkyCoord
    >>> from astropy.table import Table
    >>> from galssl.morphology import match_to_catalog
    >>> gz2 = Table({"ra": [10.0, 20.0], "dec": [0.0, 0.0]})
    >>> cat = SkyCoord([20.0, 10.0, 30.0], [0.0003, 0.0, 0.0], unit="deg")
    >>> m = match_to_catalog(gz2, cat)
    >>> m["gz2_index"].tolist()
    [1, 0, -1]
    >>> m["separation"].to_value(u.arcsec).round(2).tolist()
    [1.08, 0.0, 36000.0]
    """
    import astropy.units as u
    from astropy.table import QTable, Table

    from ..cutouts import CutoutCatalog
    from ..utils._coords import parse_positions

    radius = 2 * u.arcsec if radius is None else radius
    if not isinstance(radius, u.Quantity) or not radius.unit.is_equivalent(u.deg):
        raise TypeError(f"radius must be an angle Quantity, e.g. 2 * u.arcsec, got {radius!r}")
    if radius.isscalar is False or not radius.value >= 0:
        raise ValueError(f"radius must be a non-negative scalar angle, got {radius!r}")
    if not isinstance(gz2_table, Table):
        raise TypeError(f"gz2_table must be an astropy Table, got {type(gz2_table).__name__}")
    if isinstance(catalog, CutoutCatalog):
        catalog = catalog.table
    ref = parse_positions(gz2_table)
    pos = parse_positions(catalog)
    n = len(pos)
    index = np.full(n, -1, dtype=np.int64)
    sep = np.full(n, np.nan)
    ok_ref = np.flatnonzero(ref.valid)
    ok = np.flatnonzero(pos.valid)
    if len(ok_ref) and len(ok):
        idx, d2d, _ = pos.skycoord()[ok].match_to_catalog_sky(ref.skycoord()[ok_ref])
        nearest = ok_ref[np.atleast_1d(idx)]
        d = np.atleast_1d(d2d.to_value(u.arcsec))
        sep[ok] = d
        close = d <= radius.to_value(u.arcsec)
        index[ok[close]] = nearest[close]
    out = QTable({"gz2_index": index, "separation": sep * u.arcsec})
    out.meta["match_radius_arcsec"] = float(radius.to_value(u.arcsec))
    return out
