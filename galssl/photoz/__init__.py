# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Photometric redshifts: `PhotoZEstimator` (PDFs over redshift bins from cutouts), its flags,
PIT recalibration and metrics (`galssl.photoz.metrics`). The label-efficiency experiment
lives in `galssl.research`.
"""

from . import metrics  # noqa: F401
from ._estimator import CHECKPOINT_FORMAT, PhotoZEstimator, PhotoZFlag  # noqa: F401
# package-internal (the early-stopping score; scripts/finetune_curves.py), not in __all__
from ._estimator import PhotoZScore  # noqa: F401
from ._module import fit_regression_head, fit_softmax_head  # noqa: F401
from ._pdf import (PITCalibration, redshift_bins, redshift_labels,  # noqa: F401
                   summarize_pdfs, to_qp)

from ..utils._deprecate import moved_names

__all__ = ["PhotoZEstimator", "PhotoZFlag", "PITCalibration", "redshift_bins",
           "redshift_labels", "summarize_pdfs", "to_qp", "CHECKPOINT_FORMAT",
           "fit_softmax_head", "fit_regression_head"]

__getattr__ = moved_names(__name__, {
    **{name: ("galssl.research", name) for name in (
        "label_efficiency", "labels_saved", "aperture_features", "magnitude_table",
        "seed_summary", "METHODS")},
    # moved and respelt (one English spelling: American)
    "ColourBaseline": ("galssl.research", "ColorBaseline"),
    "aperture_colours": ("galssl.research", "aperture_colors")})
