# Licensed under a 3-clause BSD style license - see LICENSE.rst
from galssl.utils._checkpoint import describe_config_mismatch


def test_a_setting_added_later_takes_its_former_value_in_old_checkpoints():
    old = {"momentum": 0.99, "seed": 0}  # written before momentum_schedule existed
    assert describe_config_mismatch(old, dict(old, momentum_schedule="constant")) == []
    diffs = describe_config_mismatch(old, dict(old, momentum_schedule="cosine"))
    assert diffs == ["momentum_schedule: 'constant' in the checkpoint, 'cosine' now"]
    # likewise decorrelation, 0 (none) before it existed
    assert describe_config_mismatch(old, dict(old, decorrelation=0.0)) == []
    assert describe_config_mismatch(old, dict(old, decorrelation=0.5)) == [
        "decorrelation: 0.0 in the checkpoint, 0.5 now"]


def test_other_missing_settings_and_changes_are_named():
    diffs = describe_config_mismatch({"seed": 0}, {"seed": 1, "crop": 64, "num_workers": 2})
    assert diffs == ["crop: <absent> in the checkpoint, 64 now",
                     "seed: 0 in the checkpoint, 1 now"]
