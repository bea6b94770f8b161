# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Photometric redshifts: `PhotoZEstimator` (PDFs over redshift bins from cutouts), its flags,
PIT recalibration, metrics (`galssl.photoz.metrics`) and the label-efficiency experiment.
"""

from . import metrics  # noqa: F401
from ._estimator import CHECKPOINT_FORMAT, PhotoZEstimator, PhotoZFlag  # noqa: F401
from ._experiments import (ColourBaseline, aperture_colours, label_efficiency,  # noqa: F401
                           labels_saved)
from ._pdf import (PITCalibration, redshift_bins, redshift_labels,  # noqa: F401
                   summarize_pdfs, to_qp)

__all__ = ["PhotoZEstimator", "PhotoZFlag", "PITCalibration", "redshift_bins",
           "redshift_labels", "summarize_pdfs", "to_qp", "CHECKPOINT_FORMAT",
           "label_efficiency", "labels_saved", "aperture_colours", "ColourBaseline"]
