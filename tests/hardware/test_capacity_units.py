"""Memory capacities in one convention, and memory level names (issue 23).

Every shipped profile reads a vendor's memory "GB" as binary (2**30 bytes, JEDEC usage) and says so;
each capacity is checked against the vendor's figure and, for the GPUs, against the total the driver
reports (nvidia-smi, MiB): the vendor's binary figure is at most 0.5% above it, never below. Read as
decimal, the H200's 141 GB (134,468 MiB) fell 6.5% short of what the driver exposes and refused a
model that a 141 GB part holds.
"""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.compat import tomllib
from simulator.errors import ProfileError
from simulator.hardware.loader import CAPACITY_UNITS, available_devices, load_device, resolve_device
from simulator.llm.inference import simulate_llm
from simulator.llm.memory import LLMMemoryError

GIB, MIB = 2**30, 2**20
BINARY_KEYS = {"capacity_bytes", "capacity_kib", "capacity_mib", "capacity_gib"}

# the vendor's capacity of the largest memory level, in the vendor's (binary) unit
VENDOR = {"h100-sxm": 80 * GIB, "h200-sxm": 141 * GIB, "a100-sxm-80gb": 80 * GIB, "a100-sxm-40gb": 40 * GIB,
          "jetson-agx-orin": 64 * GIB, "jetson-agx-orin-maxq": 64 * GIB, "reference-45nm": 8 * GIB,
          "stm32f746": 1 * MIB, "stm32h743": 2 * MIB, "nucleo-h7a3zi-q": 2 * MIB, "nucleo-l4r5zi": 2 * MIB,
          "nucleo-u575zi-q": 2 * MIB,
          # data-sheet profiles (issue 19); L4 and L40S run GDDR6 with in-band ECC: the driver shows 15/16
          "l4": 24 * GIB, "l40s": 48 * GIB, "h100-nvl": 94 * GIB, "gh200": 96 * GIB, "b200": 180 * GIB,
          "jetson-orin-nx-16gb": 16 * GIB, "jetson-orin-nano-8gb": 8 * GIB}
# nvidia-smi "memory.total" of the idle GPUs the profiles cite [MiB]
DRIVER_MIB = {"h100-sxm": 81559, "h200-sxm": 143771, "a100-sxm-80gb": 81920, "a100-sxm-40gb": 40960,
              "h100-nvl": 95830}


def test_every_shipped_device_is_listed_here():
    assert set(VENDOR) == set(available_devices())


@pytest.mark.parametrize("name", sorted(VENDOR))
def test_profiles_write_capacities_in_binary_units_and_say_so(name):
    raw = tomllib.loads(available_devices()[name].read_text(encoding="utf-8"))
    for level in raw["memory"]:
        given = set(level) & set(CAPACITY_UNITS)
        assert given and given <= BINARY_KEYS, (name, level["name"], given)
    assert "binary" in resolve_device(name).main_memory.source


@pytest.mark.parametrize("name", sorted(VENDOR))
def test_main_memory_is_the_vendors_figure_in_binary_units(name):
    assert resolve_device(name).main_memory.capacity_bytes == VENDOR[name]


@pytest.mark.parametrize("name", sorted(DRIVER_MIB))
def test_gpu_capacity_is_within_half_a_percent_above_what_the_driver_reports(name):
    capacity = resolve_device(name).main_memory.capacity_bytes
    driver = DRIVER_MIB[name] * MIB
    assert driver <= capacity <= 1.005 * driver


@pytest.mark.parametrize("name", ["jetson-agx-orin", "jetson-agx-orin-maxq"])
def test_orin_capacity_is_the_modules_64_gib_above_what_the_os_reports(name):
    # tegrastats "RAM x/62841MB" (MiB): the OS's share; firmware and carve-outs hold the other 4.1%
    capacity = resolve_device(name).main_memory.capacity_bytes
    assert 62841 * MIB < capacity <= 1.05 * 62841 * MIB


def test_llama_3_1_70b_fp16_fits_on_one_h200_not_on_one_h100():
    # 70.55e9 params x 2 bytes = 141.1e9 bytes of weights (+ KV cache and activations, 1.1e9):
    # above 80 x 2^30 = 85.9e9 bytes, below 141 x 2^30 = 151.4e9 (and above 141e9, the decimal reading)
    simulate_llm("llama_3_1_70b", "h200-sxm", weight_precision="fp16", check_memory=True)
    with pytest.raises(LLMMemoryError, match="does not fit on one h100-sxm"):
        simulate_llm("llama_3_1_70b", "h100-sxm", weight_precision="fp16", check_memory=True)


def test_list_devices_shows_the_capacity(capsys):
    assert main(["list", "devices"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "dram 141 GiB" in rows["h200-sxm"] and "dram 80 GiB" in rows["h100-sxm"]
    assert "flash 2 MiB" in rows["stm32h743"] and "flash 1 MiB" in rows["stm32f746"]


# --- level names: unique ignoring case, as `--set` matches them -------------------------------------


def test_memory_levels_differing_only_in_case_are_refused_in_one_line(device_file, capsys):
    levels = [{"name": "dram", "capacity_gib": 8, "bandwidth_gb_per_s": 100,
               "stores": ["weights", "activations"], "energy_table_entry": "dram-32bit"},
              {"name": "DRAM", "capacity_mib": 1, "bandwidth_tb_per_s": 1, "stores": ["activations"],
               "energy_table_entry": "sram-32bit"}]
    path = device_file("dev", {"fp32_tera_ops_per_s": 1}, levels)
    with pytest.raises(ProfileError, match="'dram' and 'DRAM' name the same level"):
        load_device(path)
    assert main(["simulate", "alexnet", "--device", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'dram'" in err and "'DRAM'" in err
