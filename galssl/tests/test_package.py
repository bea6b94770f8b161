# Licensed under a 3-clause BSD style license - see LICENSE.rst
import subprocess
import sys

import pytest

import galssl


def test_version():
    assert isinstance(galssl.__version__, str) and galssl.__version__[0].isdigit()


def test_import_is_cheap():
    code = ("import sys, galssl; heavy = [m for m in ('torch', 'h5py', 'reproject', 'sep', "
            "'photutils', 'astropy.io.fits', 'dustmaps', 'lightning') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_lazy_public_names():
    from galssl.cutouts import CutoutCatalog

    assert galssl.CutoutCatalog is CutoutCatalog
    from galssl.augment import ExtinctionAugment

    assert galssl.ExtinctionAugment is ExtinctionAugment
    from galssl.photoz import PhotoZEstimator

    assert galssl.PhotoZEstimator is PhotoZEstimator
    from galssl.morphology import MorphologyClassifier

    assert galssl.MorphologyClassifier is MorphologyClassifier
    assert "CutoutCatalog" in dir(galssl)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        galssl.Nope
