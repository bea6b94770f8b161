# Licensed under a 3-clause BSD style license - see LICENSE.rst
# The tutorials are run as wholes, every block in order, by test_tutorials.py (which checks
# their doctest outputs too); doctestplus does not collect them a second time.
collect_ignore_glob = ["tutorial_*.rst"]
