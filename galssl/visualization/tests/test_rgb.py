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


def test_plot_cutouts_of_arrays_tensors_and_many_rows():
    """Augmented views come as tensors: they plot with their bands; a column label says
    which column it is; more rows than max_panels are shown with a warning, never a silent
    subset; a label column that does not exist is a KeyError naming the columns."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import torch
    from astropy.table import Table

    from galssl.cutouts import CutoutCatalog

    rng = np.random.default_rng(0)
    views = torch.as_tensor(rng.random((4, 5, 32, 32), dtype=np.float32))
    fig = plot_cutouts(views)
    assert len([a for a in fig.axes if a.images]) == 4
    plt.close(fig)
    fig = plot_cutouts(views[:, 1:4].numpy(), bands="gri", rgb="irg")
    assert len([a for a in fig.axes if a.images]) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match=r"images must be \(N, 5, H, W\)"):
        plot_cutouts(views[:, :3])
    with pytest.raises(ValueError, match="have no table"):
        plot_cutouts(views, label="z_phot")
    cat = CutoutCatalog(Table({"z_phot": np.linspace(0.1, 0.2, 12)}),
                        rng.random((12, 5, 16, 16), dtype=np.float32))
    with pytest.warns(UserWarning, match="showing the first 10 of 12 cutouts"):
        fig = plot_cutouts(cat, label="z_phot", max_panels=10)
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert "z_phot = 0.1" in texts and len([a for a in fig.axes if a.images]) == 10
    plt.close(fig)
    with pytest.raises(KeyError, match="'redshift' is not a column"):
        plot_cutouts(cat, label="redshift")
