"""Independent checks of the profile loader's units (issue 12: "``capacity_kb`` read as KiB
passes"): every unit key of a profile, written into a file here, against its SI value by
definition (kB = 10³ B, KiB = 2¹⁰ B, MB/s = 10⁶ B/s, ..., µs = 10⁻⁶ s), not against another table
of the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.hardware.loader import load_device

# key -> (value written, SI value expected)
CAPACITIES = {"capacity_bytes": (3, 3), "capacity_kb": (3, 3_000), "capacity_kib": (3, 3 * 1024),
              "capacity_mb": (3, 3_000_000), "capacity_mib": (3, 3 * 1024 * 1024),
              "capacity_gb": (3, 3_000_000_000), "capacity_gib": (3, 3 * 1024**3)}
BANDWIDTHS = {"bandwidth_bytes_per_s": (7, 7.0), "bandwidth_mb_per_s": (7, 7e6),
              "bandwidth_gb_per_s": (7, 7e9), "bandwidth_tb_per_s": (7, 7e12)}
PEAKS = {"fp32_ops_per_s": (5, 5.0), "fp32_mega_ops_per_s": (5, 5e6), "fp32_giga_ops_per_s": (5, 5e9),
         "fp32_tera_ops_per_s": (5, 5e12)}
KERNEL_OVERHEADS = {"kernel_overhead_s": (2, 2.0), "kernel_overhead_ms": (2, 2e-3),
                    "kernel_overhead_us": (2, 2e-6)}
OVERHEADS = {"overhead_s": (4, 4.0), "overhead_ms": (4, 4e-3), "overhead_us": (4, 4e-6)}
LATENCIES = {"latency_s": (6, 6.0), "latency_us": (6, 6e-6)}


def profile(tmp_path: Path, peak: tuple[str, float] = ("fp32_tera_ops_per_s", 1),
            dram: tuple[str, float] = ("capacity_gib", 64), sram: tuple[str, float] = ("capacity_bytes", 3),
            bandwidth: tuple[str, float] = ("bandwidth_gb_per_s", 100), extra: str = "") -> Path:
    text = f"""name = "units"
source = "test: one unit key at a time"

[energy]
table = "horowitz-45nm"

[peak]
{peak[0]} = {peak[1]}
source = "test"

[[memory]]
name = "dram"
{dram[0]} = {dram[1]}
{bandwidth[0]} = {bandwidth[1]}
stores = ["weights", "activations"]
energy_table_entry = "dram-32bit"
source = "test"

[[memory]]
name = "sram"
{sram[0]} = {sram[1]}
bandwidth_tb_per_s = 1000
stores = ["activations"]
energy_table_entry = "sram-32bit"
source = "test"
{extra}"""
    path = tmp_path / "units.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("key", CAPACITIES)
def test_capacity_units(tmp_path: Path, key: str):
    written, expected = CAPACITIES[key]
    device = load_device(profile(tmp_path, sram=(key, written)))
    assert device.level("sram").capacity_bytes == expected


@pytest.mark.parametrize("key", BANDWIDTHS)
def test_bandwidth_units(tmp_path: Path, key: str):
    written, expected = BANDWIDTHS[key]
    device = load_device(profile(tmp_path, bandwidth=(key, written)))
    assert device.level("dram").bandwidth_bytes_per_s == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("key", PEAKS)
def test_peak_units(tmp_path: Path, key: str):
    written, expected = PEAKS[key]
    device = load_device(profile(tmp_path, peak=(key, written), bandwidth=("bandwidth_bytes_per_s", 1)))
    assert device.peak_for("fp32") == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("key", KERNEL_OVERHEADS)
@pytest.mark.parametrize("class_key", OVERHEADS)
def test_overhead_units(tmp_path: Path, key: str, class_key: str):
    (written, expected), (class_written, class_expected) = KERNEL_OVERHEADS[key], OVERHEADS[class_key]
    extra = (f'\n[efficiency]\nsource = "test"\n{key} = {written}\nparallel_units = 3\n\n'
             "[efficiency.gemm]\ncompute_fraction = 0.5\nbandwidth_fraction = 0.25\n"
             f"{class_key} = {class_written}\n")
    device = load_device(profile(tmp_path, extra=extra))
    model = device.efficiency
    assert model.kernel_overhead_s == pytest.approx(expected, rel=1e-15)
    assert model.parallel_units == 3
    gemm = model.classes["gemm"]
    assert (gemm.compute_fraction, gemm.bandwidth_fraction) == (0.5, 0.25)
    assert gemm.overhead_s == pytest.approx(class_expected, rel=1e-15)


@pytest.mark.parametrize("key", LATENCIES)
def test_interconnect_units(tmp_path: Path, key: str):
    written, expected = LATENCIES[key]
    extra = f'\n[interconnect]\nname = "link"\nbandwidth_gb_per_s = 9\n{key} = {written}\nsource = "test"\n'
    link = load_device(profile(tmp_path, extra=extra)).interconnect
    assert link.bandwidth_bytes_per_s == pytest.approx(9e9, rel=1e-15)
    assert link.latency_s == pytest.approx(expected, rel=1e-15)


def test_the_same_profile_as_json_loads_the_same(tmp_path: Path):
    from simulator.compat import tomllib

    toml = profile(tmp_path, sram=("capacity_kb", 3))
    data = tomllib.loads(toml.read_text(encoding="utf-8"))
    path = tmp_path / "units-json" / "units.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_device(path) == load_device(toml)


# --- what a profile may not say ------------------------------------------------------------------


def test_a_number_too_large_for_a_float_is_refused(tmp_path: Path):
    from simulator.errors import ProfileError

    with pytest.raises(ProfileError, match="finite"):
        load_device(profile(tmp_path, bandwidth=("bandwidth_bytes_per_s", 10**400)))


def test_zero_parallel_units_are_refused_and_one_is_accepted(tmp_path: Path):
    from simulator.errors import ProfileError

    extra = ('\n[efficiency]\nsource = "test"\nparallel_units = {}\n\n'
             "[efficiency.default]\ncompute_fraction = 1\nbandwidth_fraction = 1\n")
    assert load_device(profile(tmp_path, extra=extra.format(1))).efficiency.parallel_units == 1
    with pytest.raises(ProfileError, match="parallel_units"):
        load_device(profile(tmp_path, extra=extra.format(0)))


def test_a_one_letter_name_is_a_name(tmp_path: Path):
    path = profile(tmp_path)
    short = tmp_path / "x.toml"
    text = path.read_text(encoding="utf-8").replace('name = "units"', 'name = "x"', 1)
    short.write_text(text, encoding="utf-8")
    assert load_device(short).name == "x"


def test_every_kind_of_data_needs_a_store(tmp_path: Path):
    from simulator.errors import ProfileError

    path = profile(tmp_path)
    text = path.read_text(encoding="utf-8").replace('stores = ["weights", "activations"]', 'stores = []', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match="no memory level stores weights"):
        load_device(path)


def test_scaling_an_energy_table_scales_operations_and_on_chip_entries_only():
    from simulator.errors import SimulatorError
    from simulator.hardware.loader import resolve_device

    table = resolve_device("reference-45nm").energy  # unscaled 45 nm figures
    scaled = table.scaled(0.5, "half")
    assert scaled.scale == table.scale * 0.5
    for op, entry in table.operations.items():
        for precision, energy in entry.energy_pj.items():
            assert scaled.operations[op].energy_pj[precision] == energy * 0.5
    for name, entry in table.memory_access.items():
        expected = entry.energy_per_access_pj * (0.5 if entry.on_chip else 1.0)
        assert scaled.memory_access[name].energy_per_access_pj == expected
    assert any(not e.on_chip for e in table.memory_access.values())  # DRAM kept: off-chip
    for bad in (0, -1.0):
        with pytest.raises(SimulatorError, match="greater than 0"):
            table.scaled(bad, "bad")


def test_an_operation_energy_of_zero_is_refused():
    from pydantic import ValidationError

    from simulator.hardware.device import OperationEnergy

    assert OperationEnergy(energy_pj={"fp32": 1e-9}, source="t").energy_pj["fp32"] == 1e-9
    with pytest.raises(ValidationError, match="greater than 0"):
        OperationEnergy(energy_pj={"fp32": 0.0}, source="t")


@pytest.mark.parametrize(("key", "written", "expected"), [
    ("step_overhead_s", 2, 2.0), ("step_overhead_ms", 2, 2e-3), ("step_overhead_us", 2, 2e-6)])
def test_step_overhead_units(tmp_path: Path, key: str, written: float, expected: float):
    extra = (f'\n[efficiency]\nsource = "test"\n{key} = {written}\n\n'
             "[efficiency.default]\ncompute_fraction = 1\nbandwidth_fraction = 1\n")
    assert load_device(profile(tmp_path, extra=extra)).efficiency.step_overhead_s == pytest.approx(expected)


@pytest.mark.parametrize(("key", "written", "expected"), [
    ("allreduce_overhead_s", 3, 3.0), ("allreduce_overhead_us", 3, 3e-6)])
def test_allreduce_overhead_units(tmp_path: Path, key: str, written: float, expected: float):
    extra = (f'\n[interconnect]\nname = "link"\nbandwidth_gb_per_s = 9\nlatency_us = 1\n{key} = {written}\n'
             'source = "test"\n')
    link = load_device(profile(tmp_path, extra=extra)).interconnect
    assert link.allreduce_overhead_s == pytest.approx(expected)


def test_the_default_precision_is_fp16_when_there_is_a_peak_for_it_else_the_first(tmp_path: Path):
    assert load_device(profile(tmp_path, peak=("fp16_tera_ops_per_s", 1))).default_precision == "fp16"
    assert load_device(profile(tmp_path, peak=("int8_tera_ops_per_s", 1))).default_precision == "int8"
