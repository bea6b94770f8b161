# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""
Similarity search and anomaly detection in representation space.

`SimilaritySearch` finds the galaxies most similar to a row, an image, a representation or
a sky position (cosine similarity, exact or approximate faiss indexes);
`anomaly_scores` and `top_anomalies` rank objects by how unlike the rest they are;
`retrieval_invariance` measures whether a galaxy is still recognised after an
augmentation; `umap_embedding` maps the representation space onto a plane.
"""

from ._anomaly import anomaly_scores, top_anomalies  # noqa: F401
from ._embedding import umap_embedding  # noqa: F401
from ._invariance import retrieval_invariance  # noqa: F401
# package-internal (used by galssl.research and galssl.visualization), not in __all__
from ._knn import as_representations, exact_knn, normalised, positive_int  # noqa: F401
from ._search import SEARCH_FORMAT, SimilaritySearch  # noqa: F401

__all__ = ["SimilaritySearch", "SEARCH_FORMAT", "anomaly_scores", "top_anomalies",
           "retrieval_invariance", "umap_embedding"]
