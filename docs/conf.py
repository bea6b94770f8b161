# Licensed under a 3-clause BSD style license - see LICENSE.rst
#
# Sphinx configuration of the galssl documentation.
#
# The shared astropy configuration (sphinx-astropy, "v2": pydata-sphinx-theme, numpydoc,
# sphinx-automodapi, intersphinx, the matplotlib plot directive, doctestplus) is imported
# first; only what galssl needs differently is set below.
#
# Build with (warnings are errors, as in ``tox -e build_docs``)::
#
#     cd docs && sphinx-build -W --keep-going -b html . _build/html

import datetime
import importlib.util
import os

try:
    from sphinx_astropy.conf.v2 import *  # noqa: F401, F403
except ImportError:
    raise ImportError("The galssl documentation needs sphinx-astropy: "
                      "pip install 'galssl[docs]'") from None

import galssl

# -- Project information ------------------------------------------------------------------

project = "galssl"
author = "galssl Developers"
copyright = f"{datetime.datetime.now(datetime.timezone.utc).year}, {author}"

# The full version (``release``) and the short X.Y version (``version``).
release = galssl.__version__
version = ".".join(release.split(".")[:2])

# -- General configuration ----------------------------------------------------------------

needs_sphinx = "7.0"

# sphinx-astropy's "confv2" extra brings sphinx-copybutton; it is only a convenience (a copy
# button on code blocks), so a build environment without it still builds the same pages.
if importlib.util.find_spec("sphinx_copybutton") is None:
    extensions.remove("sphinx_copybutton")  # noqa: F405

exclude_patterns = ["_build", "api/*.inc", "**.ipynb_checkpoints"]

# The reST default role (`text`) is "obj" (set by sphinx-astropy): `CutoutCatalog`-style
# references resolve to Python objects.

# -- API documentation ---------------------------------------------------------------------

# Graphviz (``dot``) is not a requirement of the documentation: no inheritance diagrams.
automodapi_inheritance_diagram = False
automodsumm_inherited_members = False

numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# Unresolved references are not errors: offline (no intersphinx) every reference to
# astropy, numpy, reproject... is unresolved and renders as plain text. ``sphinx-build -n``
# lists them.
nitpicky = False

# -- Intersphinx ---------------------------------------------------------------------------

# Where the projects galssl's pages refer to are documented.
_INTERSPHINX = {
    "python": ("https://docs.python.org/3/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "astropy": ("https://docs.astropy.org/en/stable/", None),
    "reproject": ("https://reproject.readthedocs.io/en/stable/", None),
    "photutils": ("https://photutils.readthedocs.io/en/stable/", None),
    "h5py": ("https://docs.h5py.org/en/stable/", None),
}
# Fetching the inventories needs the network, and an unreachable inventory is a warning,
# which ``-W`` turns into a failed build. The documentation must build offline, so the
# inventories are only fetched on Read the Docs or when asked for with
# GALSSL_DOCS_INTERSPHINX=1; otherwise intersphinx_mapping is empty and references to
# those projects render as plain text (sphinx-astropy's ``-D disable_intersphinx=1`` also
# works).
if os.environ.get("READTHEDOCS") == "True" or os.environ.get("GALSSL_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = _INTERSPHINX
else:
    intersphinx_mapping = {}

# -- Plots (matplotlib.sphinxext.plot_directive) ------------------------------------------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# -- HTML output -------------------------------------------------------------------------

html_title = f"{project} v{release}"
html_theme_options.update({  # noqa: F405
    "icon_links": [],
    "navigation_with_keys": False,
})
htmlhelp_basename = project + "doc"
html_static_path = []

# -- Other builders ------------------------------------------------------------------------

latex_documents = [("index", project + ".tex", project + " Documentation", author, "manual")]
man_pages = [("index", project.lower(), project + " Documentation", [author], 1)]

# -- Extension hooks ----------------------------------------------------------------------


def _private_module_attr_doc(app, what, name, obj, options, lines):
    """Document re-exported constants with their ``#:`` comment in the defining module.

    galssl defines constants such as ``SDSS_PIXEL_SCALE`` in private modules
    (``galssl.cutouts._catalog``) and re-exports them from the subpackage. autodoc looks for
    the ``#:`` comment in the subpackage's ``__init__`` only, finds none and falls back to
    the docstring of the value's type ("Convert a string or number to a floating point
    number..."). Use the comment from the private module that defines the name instead.
    """
    if what != "data":
        return
    import sys

    from sphinx.pycode import ModuleAnalyzer

    package, _, attr = name.rpartition(".")
    for modname in sorted(m for m in sys.modules if m.startswith(package + "._")):
        if getattr(sys.modules[modname], attr, None) is not obj:
            continue
        try:
            comment = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", attr))
        except Exception:  # no source available: keep what autodoc found
            return
        if comment:
            lines[:] = list(comment)
        return


def setup(app):
    app.connect("autodoc-process-docstring", _private_module_attr_doc)

# The torch modules' __init__, forward and extra_repr would otherwise bring torch's own
# docstrings ("Initialize internal Module state...") into every class page.
autoclass_content = "class"
autodoc_inherit_docstrings = False
