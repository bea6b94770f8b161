# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""One base for the models that turn images into table columns (photo-z, morphology and
any later head): what goes in (a catalogue, images, or positions to cut), how images are
checked, what comes out (the input's rows and columns, then the model's), and how the
model is saved and loaded."""

import os

import numpy as np

__all__ = ["ImageModel"]


class ImageModel:
    """Base of `galssl.PhotoZEstimator` and `galssl.MorphologyClassifier`.

    A subclass has ``config`` (with ``in_chans``, ``bands`` and ``crop``) and ``bands``,
    implements ``state_dict(half=False)`` and ``from_state_dict(state, source=...)``, and
    gets from here:

    - ``_positions_to_cutouts``: a Table/SkyCoord of positions becomes a catalogue cut from
      ``frames`` or fetched from SDSS (other inputs pass through), with the input table the
      output keeps;
    - ``_check_images``: the bands and size the network needs;
    - ``_output_table``: the table the model's columns are added to: the input table, the
      catalogue's table, or a ``row`` column for bare images, refusing a column the model
      would overwrite;
    - ``save(path, half=False, overwrite=False)`` and ``load(path, map_location="cpu")``,
      atomic and checked (`galssl.utils._checkpoint`).
    """

    #: Columns the model adds to its output table (a subclass sets them).
    output_columns = ()

    # ------------------------------------------------------------------ inputs
    def _check_images(self, images, training=False):
        """The bands and size the network needs; for ``training``, room for the random
        jitter of the views around the crop as well (checked before any work, not at the
        first step)."""
        from ._data import check_images, check_view_room

        check_images(images, self.config)
        if training:
            check_view_room(images, self.config["crop"], self.config.get("jitter", 0))

    def _positions_to_cutouts(self, data, frames, cutout_kwargs, progress):
        """(data, input table): Table/SkyCoord positions become a `CutoutCatalog` (None when
        there are none) cut from ``frames`` (or fetched from SDSS without them), and the
        input table is kept for the output; other inputs come back unchanged, without a
        table."""
        from astropy.coordinates import SkyCoord
        from astropy.table import QTable, Table

        from ..cutouts import CutoutCatalog

        if not isinstance(data, (SkyCoord, Table)) or isinstance(data, CutoutCatalog):
            return data, None
        table = QTable(data) if isinstance(data, Table) else \
            QTable({"ra": data.icrs.ra, "dec": data.icrs.dec})
        if len(data) == 0:
            return None, table
        if frames is not None:
            cat = CutoutCatalog.from_table(data, frames, bands=self.bands, progress=progress,
                                           **cutout_kwargs)
        else:
            cat = CutoutCatalog.from_sdss(data, bands=self.bands, progress=progress,
                                          **cutout_kwargs)
        table["cutout_flags"] = cat.table["flags"]
        return cat, table

    def _output_table(self, data, table, n):
        """The table the model's columns go into: ``table`` (the input's), else a copy of a
        catalogue's table, else a ``row`` column; a column named like an output is refused
        (it would be overwritten)."""
        from astropy.table import QTable

        from ..cutouts import CutoutCatalog

        if table is None:
            table = QTable(data.table, copy=True) if isinstance(data, CutoutCatalog) else \
                QTable({"row": np.arange(n)})
        for name in self.output_columns:
            if name in table.colnames:
                raise ValueError(f"the input already has a column {name!r}; rename it")
        return table

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def _weights(state, half=False):
        """Copies of a module's state dict; ``half`` stores floating tensors as float16."""
        return {k: (v.half() if half and v.is_floating_point() else v.clone())
                for k, v in state.items()}

    @staticmethod
    def _float32(state):
        """A stored state dict with its floating tensors back in float32 (``half`` files)."""
        return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}

    def save(self, path, *, half=False, overwrite=False):
        """Save a plain-dict checkpoint (loadable with ``torch.load(weights_only=True)``),
        atomically: an interrupted save leaves the old file intact. An existing ``path`` is
        replaced only with ``overwrite=True``; ``half`` stores the floating-point weights in
        float16 (half the size; loading casts them back to float32)."""
        from ..utils._checkpoint import write_checkpoint

        write_checkpoint(self.state_dict(half=half), path, overwrite=overwrite)

    @classmethod
    def load(cls, path, *, map_location="cpu", **kwargs):
        """Load a checkpoint written by `save`; keys and shapes must match exactly (other
        keywords go to ``from_state_dict``)."""
        from ..utils._checkpoint import read_checkpoint

        return cls.from_state_dict(read_checkpoint(path, map_location),
                                   source=os.fspath(path), **kwargs)
