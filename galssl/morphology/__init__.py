# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Morphology: `MorphologyClassifier` (Galaxy Zoo vote fractions from cutouts, as a linear probe
on frozen representations or by fine-tuning), the Galaxy Zoo 2 vote-table reader and
cross-match and classification metrics (`galssl.morphology.metrics`). The label-count
experiment lives in `galssl.research`.

Importing this subpackage does not import torch; the classifier does when it is used.
"""

from ..utils._deprecate import moved_names
from . import metrics  # noqa: F401
from ._classifier import CHECKPOINT_FORMAT, MorphologyClassifier, check_questions  # noqa: F401,E501
from ._gz2 import (DEFAULT_TARGETS, GZ2_FRACTIONS, gz2_labels, gz2_questions,  # noqa: F401
                   gz2_targets, gz2_vote_counts, gz2_vote_fractions, match_to_catalog,
                   read_gz2)

__all__ = ["MorphologyClassifier", "CHECKPOINT_FORMAT", "read_gz2", "gz2_questions",
           "gz2_vote_counts", "gz2_vote_fractions", "gz2_labels", "gz2_targets",
           "match_to_catalog", "GZ2_FRACTIONS", "DEFAULT_TARGETS"]

__getattr__ = moved_names(__name__, {
    "label_count_curve": ("galssl.research", "label_count_curve")})
