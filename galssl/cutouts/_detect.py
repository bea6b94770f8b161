# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Detection of sources in frames (sep), star/galaxy separation and centroid refinement."""

import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from ..surveys import SURVEYS
from ..utils._progress import progress_bar
from ._flags import CutoutFlag
from ._frames import find_frames, group_fields, read_frame_data
from ._tasks import _run_fields

__all__ = ["detect_sources", "tile_positions", "concentration_index", "extract",
           "core_structure", "saturated_cores"]

#: Raw counts (DN) above which an SDSS pixel is treated as saturated (`galssl.surveys`).
SDSS_SATURATION_DN = SURVEYS["sdss"].saturation

#: Cores brighter than this fraction of the saturation level are examined for the marks of
#: saturation: the pixels around a saturated (and interpolated) core are this bright, and no
#: galaxy centre is (in SDSS r, 8 % of 50,000 DN is 17.2 mag/arcsec^2 in a 0.396" pixel;
#: the brightest galaxy centres of the seven shared SDSS fields stay below 4 %).
NEAR_SATURATION = 0.08

#: A local minimum inside the bright core (pixels above 30 % of the peak) deeper than this
#: fraction of the peak. A single source seen through the PSF has a smooth, single-peaked
#: core; interpolation over saturated pixels leaves dips and rings in it.
CORE_DIP_LIMIT = 0.08

#: How much sharper than the field's unsaturated stars a core may be before it counts as
#: an artefact: nothing on the sky is sharper than the PSF (see `core_structure`).
SHARPNESS_MARGIN = 0.2

#: Core sharpness of unsaturated stars in SDSS r (1.4" seeing), used when a field has too
#: few bright stars to measure it (field 003918-3-0213: 0.27).
TYPICAL_SDSS_STELLAR_SHARPNESS = 0.27

#: Sources per square arcminute above which a field counts as crowded (a high-latitude SDSS
#: field has 2-5; the Galactic-plane field 005405-6-0099 has 70).
CROWDED_DENSITY = 20.0

#: Concentration index of stars in SDSS r (1.4" seeing), measured on field 003918-3-0213.
TYPICAL_SDSS_STELLAR_CONCENTRATION = 0.47


def concentration_index(image, x, y, *, r_inner=1.5, r_outer=4.0, err=None, segmap=None):
    """Ratio of the flux within ``r_inner`` to that within ``r_outer`` pixels.

    Point sources have the concentration of the point-spread function; extended sources
    (galaxies) are less concentrated. The same idea as SDSS's psfMag - modelMag > 0.145
    criterion, measured with two circular apertures. With a sep segmentation map (object
    ``k`` at position ``k - 1``), pixels of neighbouring objects are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.cutouts import concentration_index
    >>> yy, xx = np.mgrid[:41, :41]
    >>> def gauss(s): return np.exp(-((xx - 20)**2 + (yy - 20)**2) / (2 * s**2))
    >>> star, galaxy = (concentration_index(gauss(s), [20.0], [20.0]) for s in (1.2, 3.0))
    >>> bool(star[0] > galaxy[0])
    True
    """
    import sep

    kw = {}
    if segmap is not None:
        kw = dict(segmap=segmap, seg_id=np.arange(1, len(x) + 1, dtype=np.int32))
    f_in, _, _ = sep.sum_circle(image, x, y, r_inner, err=err, subpix=5, **kw)
    f_out, _, _ = sep.sum_circle(image, x, y, r_outer, err=err, subpix=5, **kw)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f_out > 0, f_in / f_out, np.nan)


def core_structure(image, xpeak, ypeak, *, half=3, core=0.3):
    """Sharpness and dip depth of the bright core of each source.

    For every pixel of the ``(2 half + 1)``-pixel box around the source's peak pixel that is
    brighter than ``core`` times the box's maximum, the second difference along rows and
    along columns is measured. The *sharpness* is the largest ``(v - m) / v`` over those
    pixels, ``v`` the pixel and ``m`` the larger of the means of its two row neighbours and
    of its two column neighbours (sharp in both directions); the *dip* is the largest depth
    below both neighbours along a row or a column, as a fraction of the peak.

    Any source on the sky is seen through the PSF, so its core is no sharper than the PSF's
    and has a single maximum: stars reach the PSF's sharpness (about 0.27 in SDSS r at
    1.4" seeing), galaxies stay below it, and a core has no dip (dips are negative: on a
    smooth peak no pixel lies below both its neighbours). Saturated pixels, bleed trails
    and the interpolation that replaces them break both rules; so do cosmic rays.

    Parameters
    ----------
    image : 2-d array
        Background-subtracted image.
    xpeak, ypeak : int arrays
        Peak pixel of each source (sep's ``xpeak``, ``ypeak``).

    Returns
    -------
    sharpness, dip : float arrays

    Examples
    --------
    >>> import numpy as np
    >>> from galssl.cutouts import core_structure
    >>> yy, xx = np.mgrid[:41, :41]
    >>> star = 1e4 * np.exp(-((xx - 20)**2 + (yy - 20)**2) / (2 * 1.5**2))
    >>> sharp, dip = core_structure(star, [20], [20])
    >>> print(f"{sharp[0]:.2f} {dip[0] < 0}")
    0.20 True
    >>> clipped = star.copy(); clipped[20, 20] = 0.5 * clipped[20, 21]  # a holed core
    >>> print(f"{core_structure(clipped, [20], [20])[1][0]:.2f}")
    0.50
    """
    image = np.asarray(image, dtype=np.float64)
    xpeak = np.asarray(xpeak, dtype=np.intp)
    ypeak = np.asarray(ypeak, dtype=np.intp)
    pad = half + 1
    padded = np.pad(image, pad, constant_values=np.nan)
    offsets = np.arange(-pad, pad + 1)
    rows = (ypeak + pad)[:, None, None] + offsets[None, :, None]
    cols = (xpeak + pad)[:, None, None] + offsets[None, None, :]
    box = padded[rows, cols]  # (n, 2 pad + 1, 2 pad + 1)
    centre = box[:, 1:-1, 1:-1]
    left, right = box[:, 1:-1, :-2], box[:, 1:-1, 2:]
    up, down = box[:, :-2, 1:-1], box[:, 2:, 1:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        peak = np.nanmax(centre.reshape(len(xpeak), -1), axis=1) if len(xpeak) else \
            np.zeros(0)
        in_core = centre > core * peak[:, None, None]
        smooth = np.fmax((left + right) / 2, (up + down) / 2)
        sharp = np.where(in_core, (centre - smooth) / centre, -np.inf)
        # a dip needs both neighbours along an axis (np.minimum keeps the NaN past an edge)
        below = np.fmax(np.minimum(left, right), np.minimum(up, down)) - centre
        dip = np.where(in_core, below / peak[:, None, None], -np.inf)
    sharp = np.nanmax(np.where(np.isfinite(sharp), sharp, -np.inf).reshape(len(xpeak), -1),
                      axis=1, initial=-np.inf)
    dip = np.nanmax(np.where(np.isfinite(dip), dip, -np.inf).reshape(len(xpeak), -1),
                    axis=1, initial=-np.inf)
    return sharp, dip


def saturated_cores(peak_raw, sharpness, dip, extended, *, saturation, stellar_sharpness):
    """Which sources are saturated stars: the one place where galssl decides it.

    A source is saturated when its peak is above ``saturation`` (raw counts), or when its
    core is near it (above `NEAR_SATURATION` of it) with one of the marks that saturation
    and the interpolation over saturated pixels leave (`core_structure`): a dip deeper than
    `CORE_DIP_LIMIT` of the peak, a core sharper than the field's stars
    (``stellar_sharpness``) by more than `SHARPNESS_MARGIN`, or a light profile less
    concentrated than the PSF's (``extended``): a core that bright is a star's, and a
    star's profile is flattened only by its saturated top. Such sources are flagged
    ``CutoutFlag.SATURATED`` and are never galaxies.

    Parameters
    ----------
    peak_raw : array
        Peak of each source in raw counts (with the sky).
    sharpness, dip : array
        From `core_structure`.
    extended : bool array
        The source's concentration is below the stellar locus (a galaxy's, were it faint).
    saturation : float
        Saturation level in raw counts.
    stellar_sharpness : float
        Core sharpness of the field's unsaturated stars.
    """
    peak_raw = np.asarray(peak_raw, dtype=float)
    near = peak_raw > NEAR_SATURATION * saturation
    marks = (np.asarray(dip) > CORE_DIP_LIMIT) | np.asarray(extended, dtype=bool) | \
        (np.asarray(sharpness) > stellar_sharpness + SHARPNESS_MARGIN)
    return (peak_raw > saturation) | (near & marks)


#: sep's sub-object limits tried in turn when deblending overflows (sep's default is 1024).
SUB_OBJECT_LIMITS = (4096, 16384, 65536)


class _SepLimits:
    """Set sep's process-wide pixel-stack and sub-object limits for one call and restore
    the caller's values afterwards, whatever happens: a result never depends on what ran
    before in the process, and galssl leaves sep as it found it."""

    def __init__(self, pixstack, sub_objects):
        self.pixstack, self.sub_objects = int(pixstack), int(sub_objects)

    def __enter__(self):
        import sep

        self.saved = (sep.get_extract_pixstack(), sep.get_sub_object_limit())
        sep.set_extract_pixstack(max(self.pixstack, self.saved[0]))
        sep.set_sub_object_limit(self.sub_objects)
        return self

    def __exit__(self, *exc):
        import sep

        sep.set_extract_pixstack(self.saved[0])
        sep.set_sub_object_limit(self.saved[1])
        return False


def extract(data, thresh, *, err, what, minarea=5, deblend_nthresh=32, deblend_cont=0.005,
            segmentation_map=False, sub_object_limits=SUB_OBJECT_LIMITS):
    """`sep.extract` as every galssl caller runs it (detection, empty-sky placement for
    injection, PSF stars): sep's limits are set for the call and restored after it. When
    deblending overflows, the call is retried with each larger sub-object limit of
    ``sub_object_limits``, then with coarser deblending (8 thresholds, contrast 0.05); only
    then a ValueError names ``what`` (e.g. the frame). Returns what `sep.extract` returns."""
    import sep

    pixstack = max(300000, data.size // 2)
    attempts = [(lim, deblend_nthresh, deblend_cont) for lim in sub_object_limits]
    attempts.append((sub_object_limits[-1], min(8, deblend_nthresh),
                     max(0.05, deblend_cont)))
    last = None
    for limit, nthresh, cont in attempts:
        try:
            with _SepLimits(pixstack, limit):
                return sep.extract(data, thresh, err=err, minarea=minarea,
                                   deblend_nthresh=nthresh, deblend_cont=cont,
                                   segmentation_map=segmentation_map)
        except Exception as exc:  # sep raises a bare Exception
            if "overflow" not in str(exc):
                raise ValueError(f"source extraction failed on {what}: {exc}") from None
            last = exc
    raise ValueError(f"source extraction on {what} overflowed sep's limits even with "
                     f"{sub_object_limits[-1]} sub-objects and coarse deblending (a very "
                     f"crowded frame, or a huge bright halo): {str(last).splitlines()[0]}")


def _measure(data, frame, *, thresh, minarea, deblend_nthresh, deblend_cont, bw):
    import sep

    bkg = sep.Background(data, bw=bw, bh=bw, fw=3, fh=3)
    sub = data - bkg.back()
    rms = bkg.rms()
    objs, segmap = extract(sub, thresh, err=rms, what=f"frame {frame.path!r}",
                           minarea=minarea, deblend_nthresh=deblend_nthresh,
                           deblend_cont=deblend_cont, segmentation_map=True)
    x, y = objs["x"].astype(float), objs["y"].astype(float)
    a, b = objs["a"].astype(float), objs["b"].astype(float)
    theta = np.clip(objs["theta"].astype(float), -np.pi / 2, np.pi / 2)
    kron, _ = sep.kron_radius(sub, x, y, a, b, theta, 6.0)
    kron = np.where(np.isfinite(kron) & (kron > 0), kron, 1.0)
    flux, flux_err, _ = sep.sum_ellipse(sub, x, y, a, b, theta, 2.5 * np.maximum(kron, 1.4),
                                        err=rms, subpix=1)
    r50, _ = sep.flux_radius(sub, x, y, 6.0 * a, 0.5, normflux=flux, subpix=5)
    conc = concentration_index(sub, x, y, err=rms, segmap=segmap)
    nmgy = float(frame.header.get("NMGY", np.nan))
    peak_dn = (objs["peak"] + bkg.back()[objs["ypeak"], objs["xpeak"]]) / nmgy \
        if np.isfinite(nmgy) and nmgy > 0 else np.zeros(len(objs))
    sharpness, dip = core_structure(sub, objs["xpeak"], objs["ypeak"])
    return dict(x=x, y=y, a=a, b=b, theta=theta, flux=flux, flux_err=flux_err, r50=r50,
                concentration=conc, sep_flag=objs["flag"], peak_dn=peak_dn,
                sharpness=sharpness, dip=dip,
                footprint=footprints(segmap, len(objs))), sub


def footprints(segmap, n):
    """The detection footprint of each of ``n`` objects of a sep segmentation map (object
    k has pixels ``segmap == k + 1``): the 8-connected region of all segments that its
    segment belongs to, numbered from 1. Objects deblended from one parent detection touch
    and share a footprint; isolated objects have one each."""
    from scipy import ndimage

    if n == 0:
        return np.zeros(0, np.int64)
    regions, _ = ndimage.label(segmap > 0, structure=np.ones((3, 3), bool))
    return np.asarray(ndimage.maximum(regions, segmap, index=np.arange(1, n + 1)),
                      dtype=np.int64)


def _refine_centroids(sub, x, y, *, box_size=7, max_shift=1.5):
    """photutils quadratic-peak centroids, kept where they move less than ``max_shift`` px."""
    from photutils.centroids import centroid_quadratic, centroid_sources

    ny, nx = sub.shape
    h = box_size // 2
    inside = (x > h) & (x < nx - 1 - h) & (y > h) & (y < ny - 1 - h)
    xc, yc = x.copy(), y.copy()
    if np.any(inside):
        with warnings.catch_warnings():
            # photutils warns when a quadratic fit fails and returns NaN for that source;
            # those sources keep their sep position below.
            warnings.simplefilter("ignore")
            rx, ry = centroid_sources(sub, x[inside], y[inside], box_size=box_size,
                                      centroid_func=centroid_quadratic)
        ok = np.isfinite(rx) & np.isfinite(ry) & \
            (np.hypot(rx - x[inside], ry - y[inside]) < max_shift)
        xc[np.flatnonzero(inside)[ok]] = rx[ok]
        yc[np.flatnonzero(inside)[ok]] = ry[ok]
    return xc, yc


def detect_sources(frames, *, band="r", thresh=1.5, minarea=8, deblend_nthresh=32,
                   deblend_cont=0.005, min_snr=10.0, concentration_margin=0.07,
                   stellar_concentration=None, background_box=64, client=None,
                   progress=True):
    """Detect, measure and classify sources in the ``band`` frame of every field.

    Sources are found with sep (SExtractor's algorithm: a mesh background of
    ``background_box`` pixels, detection at ``thresh`` times the background rms over at least
    ``minarea`` connected pixels, multi-threshold deblending), measured (Kron-aperture flux,
    half-light radius, concentration), re-centred with photutils' quadratic peak fit, and
    classified as stars or galaxies.

    Star/galaxy separation: the concentration index c = F(<1.5 px) / F(<4 px) of a point
    source is that of the PSF. Per field, the stellar locus c_* is the 90th percentile of c
    among sources with S/N > 30 (stars are the most concentrated sources); a source is a
    galaxy when c < c_* - ``concentration_margin``. Apertures leave out the pixels of
    neighbouring objects (sep segmentation). On field 003918-3-0213, against the SDSS
    calibObj classes (matched within 2 px), this gives 98.2 % accuracy for sources with
    S/N > 10 (99.3 % of galaxies kept, 3.0 % of stars let in; ``benchmarks/bench_cutouts.py``).

    Saturated stars are never galaxies: ``saturated_cores`` finds them (a peak above 50000
    DN, or a core above 8 % of it with a dip, an edge sharper than the PSF or a profile
    flatter than the PSF's; see `core_structure`), they are flagged SATURATED, and the
    sources deblended from their detection footprints (spikes, halo) STAR_HALO. In
    crowded fields (more than 20 sources per arcmin^2, i.e. near the Galactic plane)
    blended stars pass for galaxies; an `~astropy.utils.exceptions.AstropyUserWarning` says so.

    Parameters
    ----------
    frames : str, path, or list of them
        Frames (see `CutoutCatalog.from_table`); only the ``band`` frame of each field is read.
    band : str, optional
        Detection band.
    thresh, minarea, deblend_nthresh, deblend_cont : optional
        `sep.extract` parameters.
    min_snr : float, optional
        Keep sources with flux S/N above this.
    concentration_margin : float, optional
        How much less concentrated than the PSF a galaxy must be.
    stellar_concentration : float, optional
        The stellar locus c_*; by default measured per field, or 0.47 (typical of SDSS r-band
        seeing) when a field has fewer than 5 sources with S/N > 30.
    background_box : int, optional
        Background mesh size in pixels.
    client : `distributed.Client`, optional
        Detect on a Dask cluster, one task per field; the table is the same as without.
    progress : bool, optional

    Returns
    -------
    `~astropy.table.QTable`
        ``ra``, ``dec`` (deg), ``field``, ``x``, ``y`` (0-based pixels of the ``band`` frame),
        ``flux_<band>`` (nanomaggies), ``flux_<band>_err``, ``mag_<band>`` (AB, 22.5 - 2.5
        log10 flux), ``r50`` (half-light radius, arcsec), ``concentration``, ``snr``, ``a``,
        ``b`` (arcsec), ``theta`` (rad), ``is_galaxy``, ``detect_flags`` (`CutoutFlag` bits
        BLENDED, SATURATED, STAR_HALO), ``system`` (sources deblended from one detection footprint,
        such as the nuclei of a merger or the members of a compact group, share this
        number; see `footprints`). Sources detected twice in overlapping fields are kept once,
        from the field where they lie deepest inside.
    """
    from astropy.table import vstack

    fields = group_fields(find_frames(frames))
    params = dict(band=band, thresh=thresh, minarea=minarea, deblend_nthresh=deblend_nthresh,
                  deblend_cont=deblend_cont, min_snr=min_snr,
                  concentration_margin=concentration_margin,
                  stellar_concentration=stellar_concentration, background_box=background_box)
    tasks = []
    for name, field in fields.items():
        frame = field.frames.get(band)
        if frame is None:
            raise ValueError(f"field {name} has no {band}-band frame to detect sources on")
        tasks.append((name, (name, frame, params)))
    done = {}
    with progress_bar(total=len(tasks), desc="detecting", progress=progress,
                      unit="field") as bar:
        for name, (t, density) in _run_fields(_detect_field, tasks, client):
            done[name] = t
            bar.update(1)
            if density > CROWDED_DENSITY:
                warnings.warn(
                    f"field {name} is crowded ({density:.0f} sources per arcmin^2 with "
                    f"S/N > {min_snr}): blended stars pass for galaxies there, so treat its "
                    "is_galaxy column with caution", AstropyUserWarning)
    tables = [done[name] for name, _ in tasks]  # in field order, however they completed
    if not tables:
        raise ValueError("no fields to detect sources on")
    out = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
    out = _deduplicate(out)
    out.remove_column("_depth")
    # one number per detection footprint over all fields, in order of first appearance
    keys = [f"{f}/{k}" for f, k in zip(out["field"], out["_footprint"])]
    first = {}
    out["system"] = np.array([first.setdefault(k, len(first)) for k in keys], np.int64)
    out.remove_column("_footprint")
    out.meta["galssl_detection"] = (f"sep thresh={thresh} minarea={minarea} band={band} "
                                    f"min_snr={min_snr} concentration_margin="
                                    f"{concentration_margin}")
    return out


def _detect_field(name, frame, params):
    """`detect_sources` on one field's frame: its table and its density of sources (per
    arcmin^2), for the crowding warning."""
    import astropy.units as u
    from astropy.table import QTable

    p = params
    band, min_snr = p["band"], p["min_snr"]
    data = read_frame_data(frame)
    m, sub = _measure(data, frame, thresh=p["thresh"], minarea=p["minarea"],
                      deblend_nthresh=p["deblend_nthresh"], deblend_cont=p["deblend_cont"],
                      bw=p["background_box"])
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(m["flux_err"] > 0, m["flux"] / m["flux_err"], 0.0)
    keep = (snr > min_snr) & np.isfinite(m["flux"])
    m = {k: v[keep] for k, v in m.items()}
    snr = snr[keep]
    x, y = _refine_centroids(sub, m["x"], m["y"])
    ra, dec = frame.wcs.pixel_to_world_values(x, y)
    pixscale = frame.pixel_scale

    near = m["peak_dn"] > NEAR_SATURATION * SDSS_SATURATION_DN
    bright = (snr > 30) & ~near & np.isfinite(m["concentration"])
    if p["stellar_concentration"] is not None:
        c_star = float(p["stellar_concentration"])
    elif bright.sum() >= 5:
        c_star = float(np.percentile(m["concentration"][bright], 90))
    else:  # too few bright sources to see the stellar locus
        c_star = TYPICAL_SDSS_STELLAR_CONCENTRATION
    # the sharpness of the field's unsaturated stars (bright sources on the stellar locus)
    stars = bright & (m["concentration"] > c_star - p["concentration_margin"]) & \
        np.isfinite(m["sharpness"])
    s_star = float(np.median(m["sharpness"][stars])) if stars.sum() >= 5 else \
        TYPICAL_SDSS_STELLAR_SHARPNESS
    extended = m["concentration"] < c_star - p["concentration_margin"]
    saturated = saturated_cores(m["peak_dn"], m["sharpness"], m["dip"], extended,
                                saturation=SDSS_SATURATION_DN, stellar_sharpness=s_star)
    # what the saturated stars' footprints hold besides them is their halo and spikes
    halo = np.isin(m["footprint"], m["footprint"][saturated]) & ~saturated
    is_galaxy = extended & ~saturated & ~halo
    detect_flags = np.where(m["sep_flag"] & 1, int(CutoutFlag.BLENDED), 0) | \
        np.where(saturated, int(CutoutFlag.SATURATED), 0) | \
        np.where(halo, int(CutoutFlag.STAR_HALO), 0)

    t = QTable()
    t["ra"] = np.mod(ra, 360.0) * u.deg
    t["dec"] = dec * u.deg
    t["field"] = np.full(len(x), name, dtype=f"U{max(16, len(name))}")
    t["x"], t["y"] = x, y
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(m["flux"] > 0, 22.5 - 2.5 * np.log10(m["flux"]), np.nan)
    t[f"flux_{band}"] = m["flux"]
    t[f"flux_{band}_err"] = m["flux_err"]
    # plain "mag" (FITS's unit), AB in the description: astropy's mag(AB) cannot be written
    # to FITS without a warning nobody can act on
    t[f"mag_{band}"] = mag * u.mag
    t[f"mag_{band}"].info.description = f"AB magnitude in {band}, 22.5 - 2.5 log10(flux_{band})"
    t["r50"] = m["r50"] * pixscale * u.arcsec
    t["concentration"] = m["concentration"]
    t["snr"] = snr
    t["a"] = m["a"] * pixscale * u.arcsec
    t["b"] = m["b"] * pixscale * u.arcsec
    t["theta"] = m["theta"] * u.rad
    t["is_galaxy"] = np.asarray(is_galaxy, dtype=bool)
    t["detect_flags"] = detect_flags.astype(np.int32)
    t["_footprint"] = m["footprint"]
    t["_depth"] = frame.depth(x, y)
    t.meta[f"stellar_concentration_{name}"] = float(c_star)
    t.meta[f"stellar_sharpness_{name}"] = s_star
    area = frame.shape[0] * frame.shape[1] * (pixscale / 60.0) ** 2
    return t, len(t) / area


def _deduplicate(table, radius_arcsec=1.0):
    """Drop repeat detections of one source in overlapping fields (keep the deepest)."""
    from astropy.coordinates import SkyCoord

    if len(table) < 2 or len(set(table["field"])) < 2:
        return table
    sc = SkyCoord(table["ra"], table["dec"])
    i, j, _, _ = sc.search_around_sky(sc, radius_arcsec / 3600.0 * sc.ra.unit)
    pair = (i < j) & (np.asarray(table["field"])[i] != np.asarray(table["field"])[j])
    depth = np.asarray(table["_depth"])
    drop = np.where(depth[i[pair]] >= depth[j[pair]], j[pair], i[pair])
    keep = np.ones(len(table), dtype=bool)
    keep[drop] = False
    return table[keep]


def tile_positions(frames, *, size=107, pixel_scale=None, band="r"):
    """Centres of a regular grid of non-overlapping cutouts covering each field's frame
    (``pixel_scale`` of the cutouts: None, that of the survey of ``band``)."""
    import astropy.units as u
    from astropy.table import QTable, vstack

    from ..surveys import pixel_scale_of

    pixel_scale = pixel_scale_of([band], pixel_scale)
    fields = group_fields(find_frames(frames))
    tables = []
    for name, field in fields.items():
        frame = field.frames.get(band) or next(iter(field.frames.values()))
        step = size * pixel_scale / frame.pixel_scale
        ny, nx = frame.shape
        xs = np.arange(step / 2, nx - step / 2 + 1e-9, step)
        ys = np.arange(step / 2, ny - step / 2 + 1e-9, step)
        gx, gy = np.meshgrid(xs, ys)
        ra, dec = frame.wcs.pixel_to_world_values(gx.ravel(), gy.ravel())
        t = QTable()
        t["ra"] = np.mod(ra, 360.0) * u.deg
        t["dec"] = dec * u.deg
        t["tile_field"] = np.full(ra.size, name, dtype=f"U{max(16, len(name))}")
        tables.append(t)
    return vstack(tables) if len(tables) > 1 else tables[0]
