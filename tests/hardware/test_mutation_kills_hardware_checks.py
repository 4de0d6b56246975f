"""The profile loader's one-key-per-field rules, its error messages' field names, and the bounds of
the device model (issue 12, "Tests that catch real bugs").

A field may be written in one unit only (``give only one of ...``); an error names the field as
the file writes it (``efficiency.gemm.compute_fraction``, ``interconnect.latency_us``), not the
model's internal path; ``energy_table_entry`` names an entry (a string). Bounds, from
:mod:`simulator.hardware.device`: a level's name needs one character, its capacity one byte; an
energy table's process scale is any positive number (0.5 halves the on-chip entries and leaves
DRAM alone: Horowitz's 45 nm SRAM 5 pJ and DRAM 640 pJ per 32-bit access); a device without
``static_power_w`` draws none ("0 when unknown"). Unit conversions are exact for the integers
written (``capacity_kib = 2**53 + 1`` is ``(2**53 + 1)·1024`` bytes, not its float rounding).
"""

from __future__ import annotations

import pytest

from simulator.errors import ProfileError
from simulator.hardware.loader import load_device

BASE = """name = "checks"
source = "test device"

[energy]
table = "horowitz-45nm"
{energy}

[peak]
fp32_tera_ops_per_s = 1
source = "test"

[[memory]]
name = "dram"
{dram_capacity}
bandwidth_gb_per_s = 100
stores = ["weights", "activations"]
energy_table_entry = "dram-32bit"
source = "test"

[[memory]]
name = "{sram_name}"
{sram_capacity}
bandwidth_tb_per_s = 1
stores = ["activations"]
energy_table_entry = {sram_entry}
source = "test"
{extra}
"""


def write(profile_file, energy="", sram_name="sram", sram_capacity="capacity_mib = 1",
          sram_entry='"sram-32bit"', extra="", dram_capacity="capacity_gib = 8"):
    return profile_file(BASE.format(energy=energy, sram_name=sram_name, sram_capacity=sram_capacity,
                                    sram_entry=sram_entry, extra=extra, dram_capacity=dram_capacity),
                        "checks.toml")


INTERCONNECT = """
[interconnect]
name = "link"
bandwidth_gb_per_s = 100
source = "test"
"""


@pytest.mark.parametrize("extra, message", [
    ('\n[efficiency]\nsource = "t"\nkernel_overhead_us = 2\nkernel_overhead_s = 2e-6\n',
     "efficiency: give only one of kernel_overhead_s, kernel_overhead_us"),
    ('\n[efficiency]\nsource = "t"\nstep_overhead_ms = 2\nstep_overhead_us = 2000\n',
     "efficiency: give only one of step_overhead_ms, step_overhead_us"),
    ('\n[efficiency]\nsource = "t"\n[efficiency.gemm]\noverhead_s = 1e-6\noverhead_us = 1\n',
     "efficiency.gemm: give only one of overhead_s, overhead_us"),
    (INTERCONNECT + "latency_us = 2\nlatency_s = 2e-6\n",
     "interconnect: give only one of latency_s, latency_us"),
    (INTERCONNECT + "bandwidth_tb_per_s = 0.1\n", "interconnect: give only one of bandwidth_gb_per_s, "
                                                   "bandwidth_tb_per_s"),
    (INTERCONNECT + "allreduce_overhead_s = 1e-5\nallreduce_overhead_us = 10\n",
     "interconnect: give only one of allreduce_overhead_s, allreduce_overhead_us"),
], ids=["kernel overhead", "step overhead", "class overhead", "link latency", "link bandwidth",
        "all-reduce overhead"])
def test_a_field_written_in_two_units_is_an_error(profile_file, extra, message):
    with pytest.raises(ProfileError, match=message):
        load_device(write(profile_file, extra=extra))


@pytest.mark.parametrize("extra, field", [
    ('\n[efficiency]\nsource = "t"\n[efficiency.gemm]\ncompute_fraction = 2\nbandwidth_fraction = 1\n',
     "efficiency.gemm.compute_fraction"),
    (INTERCONNECT + "latency_us = -3\n", "interconnect.latency_us"),
    (INTERCONNECT + "latency_us = true\n", "interconnect.latency_us"),
    (INTERCONNECT + 'latency_us = "fast"\n', "interconnect.latency_us"),
], ids=["fraction above 1", "negative latency", "boolean latency", "string latency"])
def test_an_error_names_the_field_as_the_file_writes_it(profile_file, extra, field):
    with pytest.raises(ProfileError, match=rf"checks.toml: {field}: "):
        load_device(write(profile_file, extra=extra))


def test_an_energy_table_entry_must_be_a_name(profile_file):
    with pytest.raises(ProfileError, match=r"memory\[1\]\.energy_table_entry: must be the name of an "
                                           r"entry of 'horowitz-45nm' \(a string\), got 5"):
        load_device(write(profile_file, sram_entry="5"))


def test_an_energy_table_entry_and_an_explicit_energy_are_exclusive(profile_file):
    with pytest.raises(ProfileError, match=r"memory\[1\]\.energy_table_entry: give either energy_table_entry "
                                           r"or energy_per_access_pj and access_bits"):
        load_device(write(profile_file, sram_entry='"sram-32bit"\nenergy_per_access_pj = 5'))


def test_a_one_character_name_and_a_one_byte_level_are_accepted(profile_file):
    device = load_device(write(profile_file, sram_name="L", sram_capacity="capacity_bytes = 1"))
    assert [(level.name, level.capacity_bytes) for level in device.memory_levels][1] == ("L", 1)


def test_a_process_scale_below_one_scales_the_on_chip_entries_only(profile_file):
    device = load_device(write(profile_file, energy='scale = 0.5\nsource = "a smaller process"'))
    dram, sram = device.memory_levels
    assert sram.energy_per_access_pj == pytest.approx(0.5 * 5.0) and sram.access_bits == 32
    assert dram.energy_per_access_pj == pytest.approx(640.0)


def test_a_device_without_static_power_draws_none(profile_file):
    assert load_device(write(profile_file)).static_power_w == 0.0


def test_an_integer_capacity_converts_exactly(profile_file):
    kib = 2**53 + 1  # above float64's exact integers: the conversion must stay in integers
    device = load_device(write(profile_file, dram_capacity=f"capacity_kib = {kib}"))
    assert device.memory_levels[0].capacity_bytes == kib * 1024


def test_an_energy_table_file_may_carry_a_scale_below_one(profile_file):
    # EnergyTable: "energies already include scale (1 for the table as published)"; a table written
    # for a smaller process, e.g. 0.5 x the 45 nm figures, says so with scale = 0.5
    from simulator.hardware.loader import load_energy_table

    path = profile_file("""name = "half-45nm"
source = "test: Horowitz 45 nm x 0.5"
scale = 0.5
scale_source = "test"

[operations.add]
energy_pj = { fp32 = 0.45 }
source = "0.5 x 0.9 pJ"

[memory_access.sram-32bit]
access_bits = 32
energy_per_access_pj = 2.5
on_chip = true
source = "0.5 x 5 pJ"
""", "half-45nm.toml")
    table = load_energy_table(path)
    assert table.scale == 0.5
    assert table.access("sram-32bit").energy_per_access_pj == 2.5
