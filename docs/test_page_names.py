# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""Run by the test suite (tox passes this folder to pytest)."""

import pathlib

DOCS = pathlib.Path(__file__).resolve().parent
RESERVED = {"search", "genindex", "modindex", "py-modindex"}


def test_no_docs_page_or_label_takes_a_name_sphinx_reserves():
    # a page named search.rst is overwritten by Sphinx's own search page in the HTML
    # build, silently (-W does not catch it): the similarity-search guide was lost so
    pages = {p.stem for p in DOCS.glob("*.rst")}
    assert "similarity_search" in pages
    assert not pages & RESERVED
    labels = set()
    for page in DOCS.glob("*.rst"):
        labels |= {line[4:-1] for line in page.read_text().splitlines()
                   if line.startswith(".. _") and line.endswith(":")}
    assert "similarity-search" in labels and not labels & RESERVED
