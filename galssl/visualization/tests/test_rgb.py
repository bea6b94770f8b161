# Licensed under a 3-clause BSD style license - see LICENSE.rst
import numpy as np
import pytest

from galssl.visualization import lupton_rgb, plot_cutouts


def test_lupton_rgb_colours_follow_the_bands():
    image = np.zeros((5, 6, 6))
    image[3] = 10.0  # i band only -> red
    out = lupton_rgb(image)
    assert out.dtype == np.uint8 and out.shape == (6, 6, 3)
    assert out[..., 0].min() > 0 and out[..., 1].max() == 0 and out[..., 2].max() == 0
    image[3, 0, 0] = np.nan
    assert lupton_rgb(image)[0, 0].tolist() == [0, 0, 0]


def test_lupton_rgb_errors():
    with pytest.raises(ValueError, match="image must have shape"):
        lupton_rgb(np.zeros((4, 6, 6)))
    with pytest.raises(ValueError, match="rgb must name"):
        lupton_rgb(np.zeros((3, 6, 6)), bands="gri", rgb="zrg")


def test_plot_cutouts_on_the_sample():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("agg")
    from astropy.coordinates import SkyCoord

    from galssl.cutouts import CutoutCatalog
    from galssl.datasets import sample_frames

    cat = CutoutCatalog.from_table(SkyCoord([229.5305, 229.5], [42.7439, 42.74], unit="deg"),
                                   sample_frames(), size=32, progress=False)
    fig = plot_cutouts(cat, label="ebv")
    assert len([a for a in fig.axes if a.images]) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)
