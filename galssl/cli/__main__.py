# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""``python -m galssl.cli`` runs the ``galssl`` command (useful under torchrun)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
