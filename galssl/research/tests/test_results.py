# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""One table per experiment: a variant's rows replace only that variant's, in place, with
the encoder and machine beside them; per-variant files fold into it."""

import numpy as np
from astropy.table import Table

from galssl.research import collect_variant_files, replace_variant, variant_rows


def _runs(n, value):
    return Table({"n_labels": np.arange(n) * 100 + 100, "sigma_mad": np.full(n, value)})


def test_a_variant_replaces_only_its_own_rows(tmp_path):
    path = tmp_path / "label_efficiency_runs.ecsv"
    replace_variant(path, "main", _runs(3, 0.02), encoder="enc/a", machine="m1")
    replace_variant(path, "ebv01", _runs(2, 0.03), encoder="enc/b", machine="m2")
    table = replace_variant(path, "main", _runs(4, 0.025), encoder="enc/c", machine="m3")
    assert table.colnames[:3] == ["variant", "encoder", "machine"]
    assert list(table["variant"]) == ["ebv01"] * 2 + ["main"] * 4
    main = variant_rows(path, "main")
    assert len(main) == 4 and np.allclose(main["sigma_mad"], 0.025)
    assert "variant" not in main.colnames
    back = Table.read(path)
    assert set(back["encoder"][back["variant"] == "ebv01"]) == {"enc/b"}
    assert variant_rows(path, "v9") is None and variant_rows(tmp_path / "none.ecsv", "main") \
        is None
    # the machine is described when not given
    auto = replace_variant(tmp_path / "t.ecsv", "main", _runs(1, 0.1))
    assert "cores" in auto["machine"][0]


def test_per_variant_files_fold_into_one_table(tmp_path):
    a = _runs(2, 0.02)
    a.meta["encoder"], a.meta["seed"] = "enc/main", 3
    a.write(tmp_path / "curve.ecsv")
    _runs(3, 0.04).write(tmp_path / "curve_v2.ecsv")
    table, read = collect_variant_files(tmp_path, "curve", ["main", "v2", "v3"],
                                        encoders={"v2": "enc/v2"}, machines={"main": "Xeon"})
    assert [p.split("/")[-1] for p in read] == ["curve.ecsv", "curve_v2.ecsv"]
    assert list(table["variant"]) == ["main"] * 2 + ["v2"] * 3
    assert list(table["encoder"]) == ["enc/main"] * 2 + ["enc/v2"] * 3
    assert list(table["machine"]) == ["Xeon"] * 2 + ["not recorded"] * 3
    assert list(table["seed"][:2]) == [3, 3]   # a run's setting from the file's metadata
    np.testing.assert_allclose(table["sigma_mad"], [0.02] * 2 + [0.04] * 3)
