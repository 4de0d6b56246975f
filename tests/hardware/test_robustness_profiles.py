"""Bad device profiles and overrides (issue 12): a number is a number, finite; a profile's name is its
file's; a binary file is one line; an override goes through the profile's own checks.

Each case: the exact input, a non-zero exit (2) with one line naming the problem, or for a valid
input exit 0 with finite numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.errors import ProfileError, SimulatorError
from simulator.hardware.loader import available_devices, load_device, resolve_device
from simulator.simulation import simulate

REFERENCE = available_devices()["reference-45nm"].read_text()


def profile(tmp_path: Path, old: str = "", new: str = "", name: str = "dev") -> Path:
    """The reference profile with ``old`` replaced by ``new``, saved as ``<name>.toml``."""
    text = REFERENCE.replace('name = "reference-45nm"', f'name = "{name}"')
    if old:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(capsys, argv, *needles: str) -> str:
    status, _, err = cli(capsys, *argv)
    assert status == 2, err
    lines = [line for line in err.splitlines() if "warning:" not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize(("old", "new", "field"), [
    ("bandwidth_gb_per_s = 100", 'bandwidth_gb_per_s = "68"', "memory[0].bandwidth_gb_per_s"),
    ("bandwidth_gb_per_s = 100", "bandwidth_gb_per_s = true", "memory[0].bandwidth_gb_per_s"),
    ("fp16_tera_ops_per_s = 2", 'fp16_tera_ops_per_s = "13"', "peak.fp16_tera_ops_per_s"),
    ("capacity_gib = 8", 'capacity_gib = "8"', "memory[0].capacity_gib"),
])
def test_a_number_written_as_a_string_or_boolean_is_refused(tmp_path, capsys, old, new, field):
    path = profile(tmp_path, old, new)
    with pytest.raises(ProfileError, match="must be a number"):
        load_device(path)
    one_line_error(capsys, ["simulate", "resnet18", "--device", str(path)], field, "must be a number",
                   str(path))


@pytest.mark.parametrize(("old", "new", "field"), [
    ("fp16_tera_ops_per_s = 2", "fp16_tera_ops_per_s = inf", "peak.fp16_tera_ops_per_s"),
    ("fp16_tera_ops_per_s = 2", "fp16_tera_ops_per_s = nan", "peak.fp16_tera_ops_per_s"),
    ("bandwidth_gb_per_s = 100", "bandwidth_gb_per_s = inf", "memory[0].bandwidth_gb_per_s"),
    ("capacity_gib = 8", "capacity_gib = inf", "memory[0].capacity_gib"),
    ("scale = 1.0", "scale = inf", "energy.scale"),
    ("scale = 1.0", "scale = nan", "energy.scale"),
])
def test_a_non_finite_figure_is_refused_at_load(tmp_path, capsys, old, new, field):
    path = profile(tmp_path, old, new)
    one_line_error(capsys, ["simulate", "resnet18", "--device", str(path)], field, "finite")


def test_an_infinite_energy_in_an_energy_table_is_refused(tmp_path, capsys):
    shipped = Path(str(available_devices()["reference-45nm"])).parent / "energy" / "horowitz-45nm.toml"
    (tmp_path / "energy").mkdir()
    text = shipped.read_text()
    table = tmp_path / "energy" / "horowitz-45nm.toml"
    table.write_text(text.replace("fp32 = 3.7", "fp32 = inf", 1))
    assert table.read_text() != text
    path = profile(tmp_path)
    one_line_error(capsys, ["simulate", "resnet18", "--device", str(path), "--precision", "fp32"], "finite")


def test_a_valid_copy_gives_finite_json(tmp_path, capsys):
    path = profile(tmp_path)
    status, out, _ = cli(capsys, "simulate", "resnet18", "--device", str(path), "--format", "json")
    assert status == 0
    document = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert math.isfinite(document["totals"]["latency_s"]) and document["totals"]["latency_s"] > 0
    assert math.isfinite(document["totals"]["energy_j"])


def test_a_binary_profile_is_one_line(tmp_path, capsys):
    path = tmp_path / "dev.toml"
    path.write_bytes(b"\xff\xfe\x00\x89PNG\r\n\x1a\n" * 10)
    one_line_error(capsys, ["simulate", "resnet18", "--device", str(path)], str(path), "not a text file")


def test_a_binary_file_among_the_shipped_profiles_is_one_line(capsys, monkeypatch, tmp_path):
    binary = tmp_path / "broken.toml"
    binary.write_bytes(b"\x80\x81\x82")
    shipped = {**available_devices(), "broken": binary}
    monkeypatch.setattr("simulator.hardware.loader.available_devices", lambda: shipped)
    one_line_error(capsys, ["simulate", "resnet18", "--device", "broken"], "not a text file")


def test_a_shipped_profile_whose_name_is_not_its_file_name_is_refused(monkeypatch, tmp_path, capsys):
    path = profile(tmp_path, name="other")  # calls itself "other"
    renamed = tmp_path / "dropped.toml"
    path.rename(renamed)
    shipped = {**available_devices(), "dropped": renamed}
    monkeypatch.setattr("simulator.hardware.loader.available_devices", lambda: shipped)
    one_line_error(capsys, ["simulate", "resnet18", "--device", "dropped"], "'other'", "'dropped'",
                   "must match the file name")


def test_a_profile_given_by_path_with_another_name_warns_which(tmp_path):
    path = profile(tmp_path, name="other")
    renamed = tmp_path / "mine.toml"
    path.rename(renamed)
    with pytest.warns(UserWarning, match="calls itself 'other' but its file is named 'mine'"):
        device = resolve_device(renamed)
    assert device.name == "other"


def test_every_shipped_profile_is_named_after_its_file():
    for name in available_devices():
        assert resolve_device(name).name == name


@pytest.mark.parametrize("setting", ["l2.capacity_gib=1000", "sram.capacity_gib=1000"])
def test_an_override_making_a_level_larger_than_dram_is_refused(capsys, setting):
    device = "jetson-agx-orin" if setting.startswith("l2") else "reference-45nm"
    level = setting.split(".")[0]
    with pytest.raises(SimulatorError, match="larger than"):
        simulate("resnet18", device, overrides={setting.split("=")[0]: 1000})
    one_line_error(capsys, ["sweep", "resnet18", "--device", device, "--set", setting], level, "larger than")


def test_an_override_making_dram_faster_than_sram_is_refused(capsys):
    one_line_error(capsys, ["sweep", "resnet18", "--device", "reference-45nm",
                            "--set", "dram.bandwidth_tb_per_s=5"], "slower than")


def test_a_valid_override_still_works(capsys):
    status, out, _ = cli(capsys, "sweep", "resnet18", "--device", "reference-45nm",
                         "--set", "dram.bandwidth_gb_per_s=50,200")
    assert status == 0 and "2 configurations" in out


def test_a_string_override_that_is_not_a_number_is_refused():
    with pytest.raises(SimulatorError, match="finite numbers"):
        simulate("resnet18", "reference-45nm", overrides={"dram.bandwidth_gb_per_s": "fast"})
    with pytest.raises(SimulatorError, match="finite numbers"):
        simulate("resnet18", "reference-45nm", overrides={"dram.bandwidth_gb_per_s": math.inf})
