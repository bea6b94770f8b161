# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Internal helpers shared by the galssl subpackages (coordinate parsing, progress bars)."""
