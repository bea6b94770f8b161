# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Photometric redshifts: `PhotoZEstimator` (PDFs over redshift bins from cutouts), its flags,
PIT recalibration, metrics (`galssl.photoz.metrics`) and the label-efficiency experiment.
"""

from . import metrics  # noqa: F401
from ._estimator import CHECKPOINT_FORMAT, PhotoZEstimator, PhotoZFlag  # noqa: F401
from ._experiments import (METHODS, ColourBaseline, aperture_colours,  # noqa: F401
                           aperture_features,
                           label_efficiency, labels_saved, magnitude_table,
                           seed_summary)
from ._module import fit_regression_head, fit_softmax_head  # noqa: F401
from ._pdf import (PITCalibration, redshift_bins, redshift_labels,  # noqa: F401
                   summarize_pdfs, to_qp)

__all__ = ["PhotoZEstimator", "PhotoZFlag", "PITCalibration", "redshift_bins",
           "redshift_labels", "summarize_pdfs", "to_qp", "CHECKPOINT_FORMAT",
           "label_efficiency", "labels_saved", "aperture_colours", "aperture_features",
           "ColourBaseline",
           "magnitude_table", "seed_summary", "METHODS", "fit_softmax_head",
           "fit_regression_head"]
