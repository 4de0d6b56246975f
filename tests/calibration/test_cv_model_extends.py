"""cv_model's ``extends`` lookup: each profile's TOML is parsed once per version of the file."""

from __future__ import annotations

import os

from simulator.calibration import cv_model


def test_a_profiles_extends_is_read_again_once_the_file_changes(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text('name = "board"\nextends = "h100-sxm"\n', encoding="utf-8")
    first = path.stat().st_mtime_ns
    assert cv_model._extends_of(path, first) == "h100-sxm"
    path.write_text('name = "board"\n', encoding="utf-8")
    os.utime(path, ns=(first + 10**9, first + 10**9))   # a later version, whatever the clock's grain
    assert cv_model._extends_of(path, path.stat().st_mtime_ns) is None
    assert cv_model._extends_of(path, first) == "h100-sxm"   # the cached parse of the first version


def test_the_chain_follows_extends_to_the_family_member():
    # hardware_profiles/gh200.toml: extends = "h100-sxm", which extends nothing
    assert cv_model.extends_chain("gh200") == ("gh200", "h100-sxm")
    assert cv_model.extends_chain("not-a-device") == ("not-a-device",)
    assert cv_model.family_of("gh200") is cv_model.family_of("h100-sxm") is not None
