# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Synthetic source injection: real-photometry galaxies added to real SDSS frames."""

import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from ..cutouts import CutoutFlag
from ..cutouts import find_frames, group_fields, read_frame_data
from ..dust import SF11_SDSS
from ..surveys import pixel_scale_of
from ..utils._progress import progress_bar
from ._galaxies import galaxy_structure, render_stamp
from ._psf import measure_psf

__all__ = ["inject_galaxies", "SDSS_GAIN", "read_photometry"]

#: SDSS CCD gains (electrons per DN) by camcol and band (SDSS frame data model); frames
#: carry no GAIN keyword. Camcol 2 u is 1.595 for runs before 1100, 1.825 after.
SDSS_GAIN = {1: (1.62, 3.32, 4.71, 5.165, 4.745), 2: (1.825, 3.855, 4.6, 6.565, 5.155),
             3: (1.59, 3.845, 4.72, 4.86, 4.885), 4: (1.6, 3.995, 4.76, 4.885, 4.775),
             5: (1.47, 4.05, 4.725, 4.64, 3.48), 6: (2.17, 4.035, 4.895, 4.76, 4.69)}


_FRAME_CACHE = {}


def _frame_pixels(frame):
    """A frame's pixels, decompressed once per process (the 5 frames of the field at hand
    are kept: rounds of one field follow each other)."""
    if frame.path not in _FRAME_CACHE:
        if len(_FRAME_CACHE) >= 5:
            _FRAME_CACHE.pop(next(iter(_FRAME_CACHE)))
        data = read_frame_data(frame)
        _FRAME_CACHE[frame.path] = data
    return _FRAME_CACHE[frame.path]


def _gain(frame):
    camcol, run = int(frame.header.get("CAMCOL", 3)), int(frame.header.get("RUN", 2000))
    g = SDSS_GAIN.get(camcol, SDSS_GAIN[3])["ugriz".index(frame.band)]
    return 1.595 if (camcol == 2 and frame.band == "u" and run < 1100) else g


def read_photometry(catalog, *, bands="ugriz", mag_columns=None, flux_columns=None,
                    redshift="redshift", ebv_column="ebv", errors="raise"):
    """Fluxes (nanomaggies), redshifts and source E(B-V) of a photometric catalogue.

    Parameters
    ----------
    catalog : `~astropy.table.Table`
    bands : str, optional
    mag_columns : list of str, optional
        AB magnitude columns, one per band.
    flux_columns : str or list of str, optional
        Flux columns in nanomaggies, or one (N, n_bands) vector column.
    redshift : str, optional
        Redshift column.
    ebv_column : str, optional
        E(B-V) column of the sources (else SDSS ``EXTINCTION``/``extinction_r`` columns).
    errors : {"raise", "mask"}, optional

    Returns
    -------
    flux, z, ebv : ndarray
        (N, n_bands) fluxes as observed, redshifts, source E(B-V); with ``errors="mask"``
        also ``good``, True for usable rows.

    Columns, in order of preference: ``mag_columns`` (AB magnitudes, default ``mag_u`` ...),
    ``flux_columns`` (nanomaggies: a list of columns or one (N, 5) vector column such as
    SDSS ``MODELFLUX``). The source's E(B-V) comes from ``ebv_column`` or SDSS
    ``EXTINCTION`` columns (else 0: the catalogue is taken to be dereddened).

    With ``errors="mask"`` bad rows do not raise: a fourth array, True for usable rows, is
    returned as well.

    Raises
    ------
    ValueError
        Naming the columns or the rows at fault: missing photometry, redshift < 0 or NaN,
        fluxes <= 0.
    """
    from ..dust import ebv_for

    names = list(bands)
    cols = catalog.colnames
    if mag_columns is None and flux_columns is None:
        default = [f"mag_{b}" for b in names]
        if all(c in cols for c in default):
            mag_columns = default
        elif "MODELFLUX" in cols:
            flux_columns = "MODELFLUX"
        else:
            raise ValueError(f"no photometry found: expected columns {default}, a MODELFLUX "
                             "vector column, or pass mag_columns=/flux_columns=")
    if mag_columns is not None:
        missing = [c for c in mag_columns if c not in cols]
        if missing:
            raise ValueError(f"magnitude columns {missing} not in the catalogue")
        mags = np.column_stack([np.asarray(getattr(catalog[c], "value", catalog[c]), float)
                                for c in mag_columns])
        flux = 10 ** (-0.4 * (mags - 22.5))
    elif isinstance(flux_columns, str):
        if flux_columns not in cols:
            raise ValueError(f"flux column {flux_columns!r} not in the catalogue")
        flux = np.asarray(catalog[flux_columns], dtype=float)
        if flux.ndim != 2 or flux.shape[1] != len(names):
            raise ValueError(f"column {flux_columns!r} must be (N, {len(names)}), got "
                             f"{flux.shape}")
    else:
        missing = [c for c in flux_columns if c not in cols]
        if missing:
            raise ValueError(f"flux columns {missing} not in the catalogue")
        flux = np.column_stack([np.asarray(catalog[c], float) for c in flux_columns])
    if redshift not in cols:
        raise ValueError(f"redshift column {redshift!r} not in the catalogue")
    z = np.asarray(catalog[redshift], dtype=float)
    bad_z = np.flatnonzero(~np.isfinite(z) | (z < 0))
    bad_f = np.flatnonzero(~np.all(np.isfinite(flux) & (flux > 0), axis=1))
    good = np.ones(len(z), dtype=bool)
    good[bad_z] = good[bad_f] = False
    if errors == "mask":
        bad_z = bad_f = np.zeros(0, dtype=int)
    if bad_z.size:
        raise ValueError(f"redshift must be finite and >= 0; bad rows {bad_z[:10].tolist()}"
                         f"{' ...' if bad_z.size > 10 else ''}")
    if bad_f.size:
        raise ValueError(f"fluxes must be finite and > 0 in every band; bad rows "
                         f"{bad_f[:10].tolist()}{' ...' if bad_f.size > 10 else ''}")
    has_ebv = ebv_column in cols or any(c.lower().startswith("extinction") for c in cols)
    ebv = np.zeros(len(z))
    if has_ebv:
        for source in ("column", "extinction"):
            try:
                got = ebv_for(catalog, source=source, ebv_column=ebv_column)
            except ValueError:
                continue
            take = got["ebv_source"] != "none"
            ebv = np.where(take & (ebv == 0), np.asarray(got["ebv"]), ebv)
    ebv = np.nan_to_num(ebv)
    return (flux, z, ebv, good) if errors == "mask" else (flux, z, ebv)


def _empty_sky_positions(data_r, frame_r, field, n, size, radii_pix, rng, min_sep):
    """Pixel positions (r frame) on empty sky, away from detected sources and edges."""
    import sep
    from scipy.ndimage import binary_dilation, distance_transform_edt

    from ..cutouts import extract

    bkg = sep.Background(data_r, bw=64, bh=64, fw=3, fh=3)
    _, seg = extract(data_r - bkg.back(), 1.5, err=bkg.rms(), minarea=5,
                     segmentation_map=True, what=f"frame {frame_r.path!r}")
    dist = distance_transform_edt(~binary_dilation(seg > 0, iterations=2))
    ny, nx = data_r.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    # the whole north-up cutout must lie on every band's frame: centre depth > size / sqrt 2
    ok = np.ones_like(dist, dtype=bool)
    ra, dec = frame_r.wcs.pixel_to_world_values(xx[::8, ::8], yy[::8, ::8])
    for frame in field.frames.values():
        x, y = frame.pixel(ra, dec)
        coarse = frame.depth(x, y) > size / np.sqrt(2) + 4
        ok &= np.kron(coarse, np.ones((8, 8), dtype=bool))[:ny, :nx]
    candidates = np.flatnonzero(ok.ravel())
    chosen = []
    order = rng.permutation(candidates)
    taken = np.zeros(0, dtype=int)
    for k in range(n):
        need = radii_pix[k]
        for j, c in enumerate(order):
            y, x = divmod(int(c), nx)
            if dist[y, x] <= need:
                continue
            if taken.size and np.min(np.hypot(xx.ravel()[taken] - x, yy.ravel()[taken] - y)) \
                    < min_sep:
                continue
            chosen.append((x + rng.uniform(-0.5, 0.5), y + rng.uniform(-0.5, 0.5)))
            taken = np.append(taken, c)
            order = order[j + 1:]
            break
        else:
            break
    return np.array(chosen).reshape(-1, 2)


def _inject_round(task):
    """Inject one batch of galaxies into one field and cut them (runs in a worker).

    Returns the rows placed, their positions, injected fluxes, new E(B-V), cutouts and
    flags (the modified frames stay in the worker)."""
    from astropy.table import QTable

    from ..cutouts import CutoutCatalog
    from ..utils._coords import parse_positions

    field, size, bands = task[0], task[6], task[7]
    rows, ra, dec, injected, ebv_new, _, modified = _inject_into_frames(task)
    if not len(rows):
        return rows, ra, dec, injected, ebv_new, None, None
    cut = CutoutCatalog._from_fields(
        parse_positions(QTable({"ra": ra, "dec": dec})), {field.name: field}, bands=bands,
        size=size, pixel_scale=pixel_scale_of(bands), missing_band="raise", order="bilinear",
        ebv_source=None, out=None, overwrite=False, progress=False,
        reader=lambda frame: modified[frame.path])
    return rows, ra, dec, injected, ebv_new, cut.images, np.asarray(cut.table["flags"])


def _inject_into_frames(task):
    """Render one batch of galaxies into copies of one field's frames."""
    (field, rows, flux, ebv_src, props, seed, size, bands, psf) = task
    rng = np.random.default_rng(seed)
    frame_r = field.frames["r"]
    data = {b: _frame_pixels(field.frames[b]) for b in bands}
    radii = np.clip(3 * props["r50_arcsec"] / frame_r.pixel_scale, 6, size / 2)
    pos = _empty_sky_positions(data["r"], frame_r, field, len(rows), size, radii, rng,
                               min_sep=size)
    n = len(pos)
    rows, flux, ebv_src = rows[:n], flux[:n], ebv_src[:n]
    props = {k: v[:n] for k, v in props.items()}
    ra, dec = frame_r.wcs.pixel_to_world_values(pos[:, 0], pos[:, 1])
    from astropy.coordinates import SkyCoord

    from ..dust import sfd_healpix_ebv

    ebv_new = sfd_healpix_ebv(SkyCoord(ra, dec, unit="deg")) if n else np.zeros(0)
    r_b = np.array([SF11_SDSS[3.1][b] for b in bands])
    # deredden with the source's own E(B-V), redden with the new position's
    injected = flux * 10 ** (-0.4 * (ebv_new - ebv_src)[:, None] * r_b[None, :])
    modified = {}
    for j, b in enumerate(bands):
        frame = field.frames[b]
        img = data[b].astype(np.float64)
        x, y = frame.pixel(ra, dec)
        jac = frame.wcs.pixel_scale_matrix * 3600.0
        nmgy, gain = float(frame.header.get("NMGY", 0.005)), _gain(frame)
        scale = frame.pixel_scale  # arcsec per pixel of this frame (0.396 for SDSS)
        for k in range(n):
            half = int(np.clip(np.ceil(6 * props["disk_r50_arcsec"][k] / scale + 3 * psf[b]),
                               15, 200))
            cx, cy = int(round(x[k])), int(round(y[k]))
            st = render_stamp(injected[k, j], {key: v[k] for key, v in props.items()},
                              psf[b] * scale, jac, (x[k] - cx, y[k] - cy), 2 * half + 1)
            # the stamp (>= 6 disk half-light radii) holds the catalogue flux exactly: the
            # little light drawn beyond its edge is folded back
            st *= injected[k, j] / st.sum()
            # Poisson noise of the added light: electrons = flux / NMGY * gain
            electrons = np.clip(st, 0, None) / nmgy * gain
            st = st + (rng.poisson(electrons) - electrons) / gain * nmgy
            y0, x0 = cy - half, cx - half
            ys = slice(max(y0, 0), min(y0 + st.shape[0], img.shape[0]))
            xs = slice(max(x0, 0), min(x0 + st.shape[1], img.shape[1]))
            img[ys, xs] += st[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
        modified[frame.path] = img.astype(np.float32)
    return rows, ra, dec, injected, ebv_new, props, modified


def inject_galaxies(catalog, frames, *, n=None, seed=0, cosmology=None, bands="ugriz",
                    size=107, per_round=60, mag_columns=None, flux_columns=None,
                    redshift="redshift", ebv_column="ebv", n_jobs=1, progress=True):
    """Render catalogue galaxies with GalSim into real frames and cut them like real ones.

    Each galaxy keeps the fluxes of its catalogue row (dereddened with its own E(B-V), then
    reddened with the SFD E(B-V) at its new position, Schlafly & Finkbeiner 2011
    coefficients) and its redshift; it is drawn as a de Vaucouleurs bulge plus an
    exponential disk (`galaxy_structure`: bulge fraction from the u - r colour, sizes from
    the Shen et al. 2003 size-luminosity relations at its absolute magnitude and angular
    diameter distance, random inclination and position angle), convolved with the PSF of
    that frame and band measured from its stars (Moffat, beta = 3), with Poisson noise for
    the added light (SDSS gains, NMGY of the header), placed on empty sky (sep segmentation)
    and cut by `CutoutCatalog` code from each band's own WCS. Galaxies are injected in
    rounds of ``per_round`` per field, each round into a fresh copy of the frames.

    Parameters
    ----------
    catalog : `~astropy.table.Table`
        Photometry (see `read_photometry`) and redshifts.
    frames : str, path, or list of them
        Frames of complete fields (all ``bands``); galaxies are spread over the fields.
    n : int, optional
        Number of catalogue rows to inject (the first ``n``, the only ones read and checked;
        default all).
    seed : int, optional
        Everything random (structures, positions, noise) follows from it.
    cosmology : `astropy.cosmology.Cosmology`, optional
        Default Planck18.
    bands : str, optional
        Bands to inject and cut; fields lacking one of them are not used.
    size : int, optional
        Cutout side in pixels; galaxies of one round are at least this far apart.
    per_round : int, optional
        Galaxies per field and round (each round on fresh copies of the frames). Galaxies
        that find no empty sky go into further rounds (5 attempts, then RuntimeError).
    mag_columns, flux_columns, redshift, ebv_column : optional
        Catalogue columns (see `read_photometry`).
    n_jobs : int, optional
        Worker processes (each round of each field is one task).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    `~galssl.cutouts.CutoutCatalog`
        One row per injected galaxy, in catalogue order, with the truth columns: input
        columns, ``redshift``, ``flux_<b>``/``mag_<b>`` as injected (nanomaggies / AB),
        ``ebv`` at the new position, ``bulge_fraction``, ``r50_arcsec``, ``axis_ratio``,
        ``position_angle``, ``psf_fwhm_<b>`` (arcsec), ``field``, and the simulated
        morphology labels ``smooth`` (bulge fraction > 0.5) and ``edge_on`` (bulge fraction
        < 0.3 and disk axis ratio < 0.3).
    """
    try:
        import galsim  # noqa: F401
    except ImportError as exc:
        raise ImportError("galssl.simulate needs GalSim: pip install galsim (or galssl's "
                          "extra: pip install '.[sim]' in its folder)") from exc
    import astropy.units as u
    from astropy.cosmology import Planck18
    from astropy.table import QTable

    from ..cutouts import CutoutCatalog

    cosmology = Planck18 if cosmology is None else cosmology
    band_list = tuple(bands)
    if n is not None:  # only the rows to inject are read (and checked)
        catalog = catalog[:int(n)]
    flux, z, ebv_src = read_photometry(catalog, bands=band_list, mag_columns=mag_columns,
                                       flux_columns=flux_columns, redshift=redshift,
                                       ebv_column=ebv_column)
    count = len(z) if n is None else min(int(n), len(z))
    fields = {k: f for k, f in group_fields(find_frames(frames)).items()
              if all(b in f.frames for b in band_list)}
    if not fields:
        raise ValueError(f"no field has frames in all of the bands {''.join(band_list)}")
    rng = np.random.default_rng(seed)
    r_b = np.array([SF11_SDSS[3.1][b] for b in band_list])
    flux0 = flux[:count] * 10 ** (0.4 * ebv_src[:count, None] * r_b[None, :])
    mag0 = 22.5 - 2.5 * np.log10(flux0)
    props = galaxy_structure(z[:count], mag0[:, band_list.index("r")],
                             mag0[:, band_list.index("u")] - mag0[:, band_list.index("r")],
                             rng, cosmology=cosmology)
    psf, scale = {}, {}
    for name, field in fields.items():
        for b in band_list:
            psf[(name, b)] = measure_psf(_frame_pixels(field.frames[b]),
                                         field.frames[b])["fwhm_pix"]
            scale[(name, b)] = field.frames[b].pixel_scale

    def rounds(name, rows):
        """Tasks injecting ``rows`` into field ``name``, ``per_round`` at a time."""
        return [(fields[name], sel, flux[sel], ebv_src[sel],
                 {k: v[sel] for k, v in props.items()}, int(rng.integers(2**63 - 1)), size,
                 band_list, {b: psf[(name, b)] for b in band_list})
                for sel in (rows[s:s + per_round] for s in range(0, len(rows), per_round))]

    # spread the rows over the fields, then in rounds of per_round; galaxies that found no
    # empty sky in their round (large ones, in busy fields) go into further rounds
    names = list(fields)
    owner = rng.permutation(count) % len(names)
    pending = [t for fi, name in enumerate(names)
               for t in rounds(name, np.flatnonzero(owner == fi))]
    images = np.full((count, len(band_list), size, size), np.nan, dtype=np.float32)
    truth = {k: np.full(count, np.nan) for k in ("ra", "dec", "ebv_new")}
    injected_flux = np.full((count, len(band_list)), np.nan)
    flags = np.zeros(count, dtype=np.int32)
    field_of = np.full(count, "", dtype="U16")
    for attempt in range(5):
        retry = {}
        for task, (rows, ra, dec, inj, ebv_new, imgs, fl) in zip(
                pending, _run(pending, n_jobs, progress)):
            name = task[0].name
            if len(rows) < len(task[1]):
                retry.setdefault(name, []).extend(task[1][len(rows):].tolist())
            if not len(rows):
                continue
            images[rows], flags[rows], field_of[rows] = imgs, fl, name
            truth["ra"][rows], truth["dec"][rows], truth["ebv_new"][rows] = ra, dec, ebv_new
            injected_flux[rows] = inj
        if not retry:
            break
        # the next attempt tries the next field: a field full of galaxies stays full
        pending = [t for name, rows in retry.items()
                   for t in rounds(names[(names.index(name) + 1) % len(names)],
                                   np.array(sorted(rows)))]
    else:
        # rows in = rows out: galaxies that found no empty sky anywhere are kept, flagged,
        # rather than losing the whole injection run to an error at its end
        left = np.array(sorted(r for rows in retry.values() for r in rows), dtype=int)
        flags[left] |= int(CutoutFlag.OFF_FRAMES)
        warnings.warn(f"no empty sky found for {len(left)} of {count} galaxies (rows "
                      f"{left[:10].tolist()}) after 5 attempts over the fields: they are kept "
                      f"without images, flagged OFF_FRAMES (lower per_round or add fields)",
                      AstropyUserWarning)

    table = QTable(catalog[:count], copy=True)
    for col in ("ra", "dec", "flags", "field", "ebv", "ebv_source", "nan_fraction"):
        if col in table.colnames:
            table.rename_column(col, f"input_{col}")
    table["ra"] = truth["ra"] * u.deg
    table["dec"] = truth["dec"] * u.deg
    table["redshift"] = z[:count]
    for j, b in enumerate(band_list):
        table[f"flux_{b}"] = injected_flux[:, j]
        table[f"mag_{b}"] = (22.5 - 2.5 * np.log10(injected_flux[:, j])) * u.mag
        table[f"mag_{b}"].info.description = f"AB magnitude injected in {b}"
    table["ebv"] = truth["ebv_new"]
    table["ebv_source"] = np.full(count, "sfd_healpix")
    table["source_ebv"] = ebv_src[:count]
    for k in ("bulge_fraction", "r50_kpc", "r50_arcsec", "disk_r50_arcsec", "bulge_r50_arcsec",
              "axis_ratio", "bulge_axis_ratio", "position_angle", "abs_mag_r"):
        table[k] = props[k]
    for b in band_list:
        table[f"psf_fwhm_{b}"] = np.array([psf[(f, b)] * scale[(f, b)] if f else np.nan
                                           for f in field_of])
    table["field"] = field_of
    table["flags"] = flags
    table["nan_fraction"] = np.mean(~np.isfinite(images), axis=(1, 2, 3))
    table["smooth"] = props["bulge_fraction"] > 0.5
    table["edge_on"] = (props["bulge_fraction"] < 0.3) & (props["axis_ratio"] < 0.3)
    table.meta["galssl_simulation"] = (
        f"inject_galaxies seed={seed} cosmology={cosmology.name} per_round={per_round}; "
        "labels smooth/edge_on are SIMULATED from the injected structure")
    return CutoutCatalog(table, images, bands=band_list)


def _run(tasks, n_jobs, progress):
    if n_jobs == 1 or len(tasks) < 2:
        bar = progress_bar(tasks, desc="injecting", progress=progress, unit="round")
        return [_inject_round(t) for t in bar]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        return list(progress_bar(pool.map(_inject_round, tasks), total=len(tasks),
                                 desc="injecting", progress=progress, unit="round"))
