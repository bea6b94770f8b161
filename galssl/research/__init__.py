# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Experiments on the models: the runners behind the results page.

`label_efficiency` (photo-z accuracy against the number of labels, every method of
`METHODS`), `labels_saved` and `seed_summary` (its summaries), the photometric baselines
(`ColorBaseline`, `aperture_colors`, `aperture_features`, `magnitude_table`),
`label_count_curve` (morphology AUC against the number of labels), and the probe of
frozen representations (`probe_representations`, `probe_features`, `effective_rank`,
`FACTORS`).

This subpackage sits above the models (it trains and compares them); the models never
import it. ``scripts/`` are thin command-line entry points on it.
"""

from ._morphology import LABEL_COUNTS, label_count_curve  # noqa: F401
from ._photoz import (METHODS, ColorBaseline, aperture_colors,  # noqa: F401
                      aperture_features, label_efficiency, labels_saved, magnitude_table,
                      seed_summary)
from ._probe import (FACTORS, PROBE_TABLE_ROWS, effective_rank, probe_features,  # noqa: F401
                     probe_representations)
from ..utils._deprecate import moved_names
from ._shift import SHIFT_METHODS, shift_validation  # noqa: F401
from ._results import (RESULT_TABLES, collect_variant_files, machine_description,  # noqa: F401
                       replace_variant, variant_rows)
# the datasets and bookkeeping of the results page's runs (scripts/), not in __all__
from ._runs import (COMMON, EBV_LIMIT, TRAIN_FIELDS, VAL_FIELDS,  # noqa: F401
                    augmentation_summary,
                    in_memory, input_convention, load_probe_data, pretraining_catalog, read_log,
                    rst_grid, validation_halves)

# respelt (one English spelling: American); the old names warn for one release
__getattr__ = moved_names(__name__, {"ColourBaseline": ("galssl.research", "ColorBaseline"),
                                     "aperture_colours": ("galssl.research", "aperture_colors")})

__all__ = ["label_efficiency", "labels_saved", "seed_summary", "METHODS", "ColorBaseline",
           "aperture_colors", "aperture_features", "magnitude_table", "label_count_curve",
           "LABEL_COUNTS", "probe_representations", "probe_features", "effective_rank",
           "FACTORS", "shift_validation", "SHIFT_METHODS"]
