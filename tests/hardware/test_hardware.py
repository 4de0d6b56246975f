"""Tests of simulator.hardware and its loader (simulator.hardware.loader): shipped profiles, units, errors."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from simulator.compat import tomllib
from simulator.errors import ProfileError, SimulatorError, UnknownNameError
from simulator.hardware.device import Device, MemoryLevel
from simulator.hardware.loader import (
    available_devices,
    available_energy_tables,
    load_device,
    load_energy_table,
    resolve_device,
)
from simulator.model.formulas import OPS_PER_MAC

SHIPPED = sorted(available_devices())

#: A small valid device file; the error tests break one thing in a copy of it.
MINIMAL = """
name = "tiny"
source = "test"

[energy]
table = "horowitz-45nm"

[peak]
fp32_tera_ops_per_s = 1
source = "test"

[[memory]]
name = "dram"
capacity_gib = 1
bandwidth_gb_per_s = 100
stores = ["weights", "activations"]
energy_table_entry = "dram-32bit"
source = "test"

[[memory]]
name = "sram"
capacity_kib = 256
bandwidth_gb_per_s = 1000
stores = ["activations"]
access_bits = 64
energy_per_access_pj = 20.0
source = "test"
"""


def broken(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


def horowitz():
    return load_energy_table(available_energy_tables()["horowitz-45nm"])


# --- shipped profiles ---------------------------------------------------------------------------


def test_the_expected_profiles_are_shipped():
    assert {"jetson-agx-orin", "stm32f746", "h100-sxm", "a100-sxm-80gb", "reference-45nm"} <= set(SHIPPED)
    assert "horowitz-45nm" in available_energy_tables()


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_loads_with_a_source_for_every_figure(name):
    device = resolve_device(name)
    assert device.name == name  # the name in the file matches the file name
    assert device.source and device.peak_source and device.energy.source
    assert all(entry.source for entry in device.energy.operations.values())
    assert device.energy_scale == 1 or device.energy_scale_source
    for level in device.memory_levels:
        assert level.source and level.energy_source, level.name
    assert device.weight_store.capacity_bytes > 0 and device.activation_store.capacity_bytes > 0
    for precision in device.precisions:
        assert device.ridge_point_ops_per_byte(precision) > 0
        assert device.energy.mac_energy_pj(precision) > 0


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_order_levels_outermost_first(name):
    levels = resolve_device(name).memory_levels
    assert levels[0].stores  # DRAM or Flash holds data; the register file (last) holds none
    assert levels[-1].stores == frozenset()
    assert levels[0].bandwidth_bytes_per_s < levels[-1].bandwidth_bytes_per_s


def test_resolve_device_accepts_a_path_as_well_as_a_name():
    path = available_devices()["reference-45nm"]
    assert resolve_device(path) == resolve_device(str(path)) == resolve_device("reference-45nm")


# --- unit conversion ----------------------------------------------------------------------------


def test_orin_figures_are_converted_to_si():
    orin = resolve_device("jetson-agx-orin")
    dram = orin.memory_levels[0]
    assert dram.bandwidth_bytes_per_s == 256 * 6400e6 / 8  # 256-bit LPDDR5 at 6400 MT/s = 204.8 GB/s
    assert dram.bandwidth_bytes_per_s == 204.8e9
    assert dram.capacity_bytes == 64 * 2**30  # "64 GB" of DRAM is binary (JEDEC)
    assert orin.level("l2").capacity_bytes == 4 * 2**20
    assert orin.peak_for("fp32") == pytest.approx(2048 * OPS_PER_MAC * 1.3e9, rel=1e-3)  # 2048 cores, FMA
    assert orin.peak_for("int8") == 170e12 / 2  # data sheet's 170 sparse TOPS, dense = half
    assert orin.peak_for("bf16") == orin.peak_for("fp16")


def test_stm32_figures_are_converted_to_si():
    mcu = resolve_device("stm32f746")
    assert mcu.activation_store.name == "sram"
    assert mcu.activation_store.capacity_bytes == (64 + 240 + 16) * 1024  # DTCM + SRAM1 + SRAM2, Kbyte = 1024
    assert mcu.activation_store.capacity_bytes == 327_680
    assert mcu.weight_store.name == "flash"
    assert mcu.weight_store.stores == frozenset({"weights"})
    assert mcu.weight_store.capacity_bytes == 2**20  # 1 Mbyte: 0x0800_0000 to 0x080F_FFFF
    assert mcu.peak_for("int8") == OPS_PER_MAC * 2 * 216e6  # one SMLAD (2 MACs) per cycle at 216 MHz
    assert mcu.activation_store.bandwidth_bytes_per_s == 8 * 216e6  # one 64-bit access per cycle
    assert mcu.precisions == ("int8", "fp32")


def test_datacenter_figures_are_converted_to_si():
    a100, h100 = resolve_device("a100-sxm-80gb"), resolve_device("h100-sxm")
    assert a100.memory_levels[0].bandwidth_bytes_per_s == 2039e9  # exact, though 2.039 * 1e12 is not
    assert a100.level("l2").capacity_bytes == 40 * 2**20
    assert a100.peak_for("fp16") == 312e12
    assert h100.memory_levels[0].bandwidth_bytes_per_s == 3.35e12
    assert h100.peak_for("fp16") == 1979e12 / 2  # datasheet's figure is with 2:4 sparsity
    assert h100.peak_for("int8") == 3958e12 / 2


# --- energy -------------------------------------------------------------------------------------


def test_unscaled_table_has_horowitz_figures():
    table = horowitz()
    assert table.scale == 1
    assert table.mac_energy_pj("fp32") == pytest.approx(3.7 + 0.9)
    assert table.mac_energy_pj("int8") == pytest.approx(0.2 + 0.03)
    assert table.op_energy_pj("mult", "int32") == 3.1
    assert table.op_energy_pj("add", "bf16") == table.op_energy_pj("add", "fp16")  # no bf16 in source
    assert table.access("sram-1mib-64bit").energy_per_byte_pj == 100 / 8
    assert table.access("dram-64bit-min").energy_per_access_pj == 1300
    assert table.access("dram-64bit-max").energy_per_access_pj == 2600


def test_reference_device_has_the_lecture_energy_table():
    ref = resolve_device("reference-45nm")
    assert ref.energy_scale == 1
    assert ref.level("dram").energy_per_byte_pj == 640 / 4  # 640 pJ per 32-bit access
    assert ref.level("sram").energy_per_byte_pj == 5 / 4
    assert ref.level("register-file").energy_per_byte_pj == 1 / 4
    assert ref.energy.mac_energy_pj("fp32") == pytest.approx(3.7 + 0.9)
    assert ref.ridge_point_ops_per_byte("fp32") == 1e12 / 100e9  # = 10 ops/byte against DRAM
    assert ref.ridge_point_ops_per_byte("fp32", "sram") == 1e12 / 1e12
    assert ref.ridge_point_ops_per_byte("int8", ref.level("register-file")) == 4e12 / 10e12


def test_scaling_applies_to_operations_and_on_chip_memory_only():
    table = horowitz()
    scaled = table.scaled(0.5, "test")
    assert scaled.scale == 0.5 and scaled.scale_source == "test"
    assert scaled.mac_energy_pj("fp32") == pytest.approx(0.5 * (3.7 + 0.9))
    assert scaled.access("sram-32bit").energy_per_access_pj == 0.5 * 5
    assert scaled.access("dram-32bit") == table.access("dram-32bit")  # off-chip: unscaled
    orin = resolve_device("jetson-agx-orin")
    assert orin.energy.mac_energy_pj("fp16") == pytest.approx(orin.energy_scale * (1.1 + 0.4))
    assert orin.level("l2").energy_per_access_pj == pytest.approx(orin.energy_scale * 100)


def test_energy_errors_name_the_value_and_the_choices():
    table = horowitz()
    with pytest.raises(SimulatorError, match=r"'div'.*add, mult"):
        table.op_energy_pj("div", "fp32")
    with pytest.raises(SimulatorError, match=r"'int2'.*int8, int16, int32, fp8, fp16, bf16, fp32"):
        table.mac_energy_pj("int2")
    with pytest.raises(SimulatorError, match=r"'sram'.*sram-8kib-64bit"):
        table.access("sram")


# --- device API errors ------------------------------------------------------------------------


def test_unknown_precision_lists_the_device_precisions():
    with pytest.raises(SimulatorError, match=r"stm32f746.*'fp16'.*int8, fp32"):
        resolve_device("stm32f746").peak_for("fp16")
    with pytest.raises(SimulatorError, match="'fp64'"):
        resolve_device("h100-sxm").ridge_point_ops_per_byte("fp64")


def test_unknown_level_lists_the_levels():
    with pytest.raises(SimulatorError, match=r"'l3'.*dram, l2, register-file"):
        resolve_device("h100-sxm").level("l3")


def test_unknown_device_name_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'jetson-agx-orin'"):
        resolve_device("jetson-orin")
    with pytest.raises(UnknownNameError, match=r"did you mean 'h100-sxm'"):
        resolve_device("h100")


def test_devices_are_frozen_and_hashable():
    ref = resolve_device("reference-45nm")
    with pytest.raises(ValidationError):
        ref.name = "other"
    assert len({ref, resolve_device("reference-45nm")}) == 1


def test_device_validators_in_code():
    ref = resolve_device("reference-45nm")
    dram, sram, rf = ref.memory_levels
    with pytest.raises(ValidationError, match="unique"):
        ref.model_validate({**ref.model_dump(), "memory_levels": (dram, sram, sram.model_copy())})
    with pytest.raises(ValidationError, match="larger than"):
        Device.model_validate({**ref.model_dump(), "memory_levels": (sram, dram)})
    with pytest.raises(ValidationError, match="stores weights"):
        Device.model_validate({**ref.model_dump(), "memory_levels": (rf,)})
    with pytest.raises(ValidationError, match="greater than 0"):
        MemoryLevel(name="x", capacity_bytes=1, bandwidth_bytes_per_s=-1.0, energy_per_access_pj=1.0,
                    access_bits=32, source="test")


# --- loading files ------------------------------------------------------------------------------


def test_minimal_file_loads(profile_file):
    device = load_device(profile_file(MINIMAL))
    assert device.memory_levels[0].capacity_bytes == 2**30
    assert device.memory_levels[1].capacity_bytes == 256 * 1024
    assert device.memory_levels[0].energy_per_byte_pj == 640 / 4  # from the table entry
    assert device.peak_ops_per_s == {"fp32": 1e12}


def test_json_is_accepted(profile_file):
    as_json = json.dumps(tomllib.loads(MINIMAL))
    assert load_device(profile_file(as_json, "tiny.json")) == load_device(profile_file(MINIMAL))


def test_an_energy_table_next_to_the_device_file_is_found(profile_file):
    table = (available_energy_tables()["horowitz-45nm"].read_text(encoding="utf-8")
             .replace('name = "horowitz-45nm"', 'name = "custom"'))
    profile_file(table, "energy/custom.toml")
    device = load_device(profile_file(broken('table = "horowitz-45nm"', 'table = "custom"')))
    assert device.energy.name == "custom"


@pytest.mark.parametrize(("old", "new", "field", "reason"), [
    ("bandwidth_gb_per_s = 100", "bandwidth_gb_per_s = -100", "memory[0].bandwidth_gb_per_s",
     "Input should be greater than 0"),
    ('name = "sram"', 'name = "sram"\nspeed = 3', "memory[1].speed", "Extra inputs are not permitted"),
    ("capacity_kib = 256", "", "memory[1].capacity_*", "Field required"),
    ('source = "test"\n\n[energy]', "[energy]", "source", "Field required"),
    ("capacity_kib = 256", "capacity_kib = 256\ncapacity_mib = 1", "memory[1]", "give only one of"),
    ("capacity_kib = 256", "capacity_kib = 0.3", "memory[1].capacity_kib", "fractional part"),
    ('stores = ["activations"]', 'stores = ["bias"]', "memory[1].stores[0]", "'weights' or 'activations'"),
    ('stores = ["weights", "activations"]', 'stores = ["activations"]', "memory",
     "no memory level stores weights"),
    ("capacity_gib = 1", "capacity_kib = 1", "memory", "larger than"),
    ('table = "horowitz-45nm"', 'table = "horowitz-45"', "energy.table", "did you mean 'horowitz-45nm'"),
    ('table = "horowitz-45nm"', 'table = "horowitz-45nm"\nscale = 0', "energy.scale", "greater than 0"),
    ('energy_table_entry = "dram-32bit"', 'energy_table_entry = "dram"', "memory[0].energy_table_entry",
     "no memory access entry 'dram'"),
    ("fp32_tera_ops_per_s = 1", "fp32_teraops = 1", "peak.fp32_teraops", "_tera_ops_per_s"),
    ("fp32_tera_ops_per_s = 1", "int4_tera_ops_per_s = 1", "peak", "no add and mult energy for int4"),
])
def test_broken_files_name_file_field_and_reason(profile_file, old, new, field, reason):
    path = profile_file(broken(old, new))
    with pytest.raises(ProfileError) as info:
        load_device(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}"), message
    assert reason in message
    assert "pydantic" not in message and "Traceback" not in message


def test_bad_toml_names_the_file_and_line(profile_file):
    path = profile_file(broken('name = "tiny"', 'name = "tiny'))
    with pytest.raises(ProfileError, match=rf"^{re.escape(str(path))}: invalid TOML: .*line 2"):
        load_device(path)


def test_bad_json_and_unsupported_files(profile_file, tmp_path):
    with pytest.raises(ProfileError, match="invalid JSON"):
        load_device(profile_file("{", "tiny.json"))
    with pytest.raises(ProfileError, match="must hold a table"):
        load_device(profile_file("[1, 2]", "tiny.json"))
    with pytest.raises(ProfileError, match=r"unsupported file type '\.yaml'"):
        load_device(profile_file(MINIMAL, "tiny.yaml"))
    with pytest.raises(ProfileError, match="cannot read file"):
        load_device(tmp_path / "absent.toml")


def test_a_broken_energy_table_is_reported_with_its_own_file(profile_file):
    table = (available_energy_tables()["horowitz-45nm"].read_text(encoding="utf-8")
             .replace("int8 = 0.03", "int8 = -0.03"))
    table_path = profile_file(table, "energy/horowitz-45nm.toml")
    expected = rf"^{re.escape(str(table_path))}: operations\.add\.energy_pj: .*greater than 0.*int8"
    with pytest.raises(ProfileError, match=expected):
        load_device(profile_file(MINIMAL))


def test_orin_maxq_takes_maxn_per_kernel_overhead_in_gpu_cycles():
    # MLPerf v3.0 Orin MaxQ sets the GPU to 624.75 MHz (of MAXN's 1.3 GHz); the overhead is GPU cycles
    maxn, maxq = resolve_device("jetson-agx-orin"), resolve_device("jetson-agx-orin-maxq")
    scaled_s = maxn.efficiency.kernel_overhead_s * 1300 / 624.75
    assert maxq.efficiency.kernel_overhead_s == pytest.approx(scaled_s, rel=1e-3)
