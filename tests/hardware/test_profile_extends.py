"""``extends``: a new device's profile written as the changes to a shipped one (issue 17).

Tables merge key by key, memory levels match by name (ignoring case), a quantity given in another unit
replaces the base's, a level the base lacks goes after the level listed before it; the name is the
file's. Bad references are one line naming the value and the choices.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main
from simulator.compat import tomllib
from simulator.errors import ProfileError
from simulator.hardware.loader import available_devices, available_energy_tables, load_device, resolve_device
from simulator.simulation import simulate

H100 = resolve_device("h100-sxm")
GIB = 2**30


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_profile_that_changes_only_the_dram_keeps_everything_else(tmp_path):
    # an "H100 96GB": the same die with 96 GB at 3.9 TB/s
    path = write(tmp_path, "h100-96gb", 'extends = "h100-sxm"\n\n[[memory]]\nname = "dram"\n'
                 "capacity_gib = 96\nbandwidth_tb_per_s = 3.9\n")
    device = load_device(path)
    assert device.name == "h100-96gb"  # the file's name, not the base's
    dram = device.level("dram")
    assert dram.capacity_bytes == 96 * GIB and dram.bandwidth_bytes_per_s == 3.9e12
    assert dram.energy_per_access_pj == H100.level("dram").energy_per_access_pj and dram.stores == H100.level(
        "dram").stores
    assert device.memory_levels[1:] == H100.memory_levels[1:]
    assert device.peak_ops_per_s == H100.peak_ops_per_s and device.efficiency == H100.efficiency
    assert (device.static_power_w, device.max_power_w, device.interconnect) == (
        H100.static_power_w, H100.max_power_w, H100.interconnect)


def test_the_extended_device_simulates_as_its_base_where_they_agree(tmp_path):
    # ResNet-50 int8 batch 1 is far from both capacities: more DRAM, the same time and energy
    path = write(tmp_path, "bigger", 'extends = "h100-sxm"\n[[memory]]\nname = "dram"\ncapacity_gib = 96\n')
    base, bigger = simulate("resnet50", H100, precision="int8"), simulate("resnet50", path, precision="int8")
    assert (bigger.latency_s, bigger.energy_j) == (base.latency_s, base.energy_j)


def test_a_level_matches_ignoring_case_and_a_unit_replaces_the_bases(tmp_path):
    path = write(tmp_path, "dev", 'extends = "h100-sxm"\n[peak]\nfp16_giga_ops_per_s = 500000\n'
                 '[[memory]]\nname = "DRAM"\ncapacity_gb = 100\n')
    device = load_device(path)
    assert [level.name for level in device.memory_levels] == ["DRAM", "l2", "register-file"]
    assert device.memory_levels[0].capacity_bytes == 100 * 10**9        # capacity_gb replaced capacity_gib
    assert device.peak_ops_per_s["fp16"] == 500e12                        # 500,000 GOPS replaced 989.5 TOPS
    assert device.peak_ops_per_s["int8"] == H100.peak_ops_per_s["int8"]


def test_nested_tables_merge_key_by_key(tmp_path):
    path = write(tmp_path, "dev", 'extends = "h100-sxm"\nstatic_power_w = 100\n'
                 "[efficiency.conv]\noverhead_us = 3\n[energy]\nscale = 0.25\n")
    device = load_device(path)
    conv, base = device.efficiency.classes["conv"], H100.efficiency.classes["conv"]
    assert conv.overhead_s == pytest.approx(3e-6)
    assert conv.compute_fraction == base.compute_fraction
    assert conv.bandwidth_fraction == base.bandwidth_fraction
    assert device.efficiency.kernel_overhead_s == H100.efficiency.kernel_overhead_s
    assert device.static_power_w == 100 and device.energy_scale == 0.25
    # the table is the base's (horowitz-45nm), scaled by the new factor: fp16 MAC 1.1 + 0.4 pJ at 45 nm
    assert device.energy.mac_energy_pj("fp16") == pytest.approx(0.25 * (1.1 + 0.4))


def test_a_new_level_goes_after_the_level_listed_before_it(tmp_path):
    path = write(tmp_path, "dev", 'extends = "h100-sxm"\n[[memory]]\nname = "dram"\n\n[[memory]]\n'
                 'name = "l3"\ncapacity_mib = 256\nbandwidth_tb_per_s = 6\n'
                 'stores = ["weights", "activations"]\naccess_bits = 64\nenergy_per_access_pj = 50.0\n'
                 'source = "hypothetical"\n')
    assert [level.name for level in load_device(path).memory_levels] == ["dram", "l3", "l2", "register-file"]


def test_a_profile_can_extend_a_file_that_extends_a_shipped_one(tmp_path):
    write(tmp_path, "base", 'extends = "h100-sxm"\nmax_power_w = 500\n')
    path = write(tmp_path, "child", 'extends = "base.toml"\nstatic_power_w = 60\n')
    device = load_device(path)
    assert (device.name, device.max_power_w, device.static_power_w) == ("child", 500, 60)
    assert device.peak_ops_per_s == H100.peak_ops_per_s


@pytest.mark.parametrize(("extends", "message"), [
    ('"h100-sxn"', "unknown device 'h100-sxn'; did you mean 'h100-sxm'"),
    ('"missing.toml"', "no profile file"),
    ("3", "must name a shipped device or a profile file (a string), got 3"),
    ('"loop.toml"', "cannot extend itself"),
])
def test_a_bad_extends_is_one_line(tmp_path, capsys, extends, message):
    path = write(tmp_path, "loop", f"extends = {extends}\n")
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_device(path)
    assert main(["simulate", "alexnet", "--device", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "extends" in err


def test_the_merged_profile_is_validated_as_any_profile(tmp_path):
    # an L2 larger than the DRAM it sits under: the ordering check sees the merged levels
    path = write(tmp_path, "dev", 'extends = "h100-sxm"\n[[memory]]\nname = "dram"\ncapacity_mib = 10\n')
    with pytest.raises(ProfileError, match="'l2' is larger than 'dram'"):
        load_device(path)
    path = write(tmp_path, "dev2", 'extends = "h100-sxm"\n[[memory]]\ncapacity_gib = 96\n')
    with pytest.raises(ProfileError, match="matched by name"):
        load_device(path)


# --- a boolean is not a number, in any numeric field (issue 23: `static_power_w = true` read as 1 W) ---


def _numeric_fields(name: str) -> list[tuple[str, ...]]:
    """Every numeric value of a shipped profile, as the path to it (a level by its name)."""
    raw = tomllib.loads(available_devices()[name].read_text(encoding="utf-8"))
    found: list[tuple[str, ...]] = []

    def walk(table: dict, path: tuple[str, ...]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, (*path, key))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                found.append((*path, key))
    walk({k: v for k, v in raw.items() if k != "memory"}, ())
    for level in raw["memory"]:
        found += [("memory", level["name"], key) for key, value in level.items()
                  if isinstance(value, int | float) and not isinstance(value, bool)]
    return found


NUMERIC = [("h100-sxm", path) for path in _numeric_fields("h100-sxm")] + [
    ("nucleo-l4r5zi", path) for path in _numeric_fields("nucleo-l4r5zi") if path[0] == "supply"]


@pytest.mark.parametrize(("base", "path"), NUMERIC, ids=[".".join(path) for _, path in NUMERIC])
def test_every_numeric_field_refuses_a_boolean(tmp_path, base, path):
    if path[0] == "memory":
        body = f'[[memory]]\nname = "{path[1]}"\n{path[2]} = true\n'
    elif len(path) == 1:
        body = f"{path[0]} = true\n"
    else:
        body = f"[{'.'.join(path[:-1])}]\n{path[-1]} = true\n"
    file = write(tmp_path, "dev", f'extends = "{base}"\n{body}')
    with pytest.raises(ProfileError, match="must be a number") as error:
        load_device(file)
    assert path[-1] in str(error.value) and len(str(error.value).splitlines()) == 1


def test_an_energy_tables_on_chip_flag_is_a_boolean_not_a_number(tmp_path):
    energy = tmp_path / "energy"
    energy.mkdir()
    table = available_energy_tables()["horowitz-45nm"].read_text(encoding="utf-8")
    assert "on_chip = true" in table
    (energy / "horowitz-45nm.toml").write_text(table.replace("on_chip = true", "on_chip = 1", 1))
    file = write(tmp_path, "dev", 'extends = "reference-45nm"\n')
    with pytest.raises(ProfileError, match="on_chip: Input should be a valid boolean"):
        load_device(file)
