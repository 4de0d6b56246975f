"""The range of every override key (simulator.engine.overrides: issue 23, and issue 17's --help example).

Every overridden figure stays within 10^4 of the profile's own either way (a ``*_scale`` factor from
1e-4 to 1e4; an absolute peak from the device's lowest peak / 1e4 to its highest x 1e4), a supply
voltage within the part's operating range stated in its profile (nucleo-l4r5zi: the STM32L4R5's
VDD, 1.71 V to 3.6 V, data sheet DS12023), levels in their order. Out of range: one stderr line
naming the value and the range, exit status 2, no traceback, no numpy warning.

Hand-derived figures use ``reference-45nm`` (hardware_profiles/reference-45nm.toml: fp32 1 TOPS; DRAM
8 GiB at 100 GB/s, 640 pJ per 32-bit access = 160 pJ/byte; SRAM 1 MiB at 1 TB/s; no efficiency
model) and one 4096 x 4096 linear layer with bias in fp32, whose 64 MiB of weights stream from DRAM:

* ``T_compute = (2·K·N + N) / peak``;
* ``DRAM bytes = (K·N + N + K + N) · 4`` (weights, bias, input and output once), ``T_memory = DRAM
  bytes / DRAM bandwidth``;
* ``E_dram = DRAM bytes · 160 pJ · V / V_profile`` behind a linear regulator.
"""

from __future__ import annotations

import json
import re

import pytest

from simulator.cli import main
from simulator.engine.overrides import FACTOR_LIMIT, RANGES_HELP
from simulator.errors import SimulatorError
from simulator.hardware.device import Supply
from simulator.hardware.loader import available_devices, resolve_device
from simulator.simulation import simulate
from tests.helpers import linear, one_line_error

K = N = 4096
OPS = 2 * K * N + N
DRAM_BYTES = (K * N + N + K + N) * 4
DRAM_J_PER_BYTE = 640e-12 / 4
NUCLEO = "nucleo-l4r5zi"


# --- out of range: one line, the value and the range ------------------------------------------------

@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_a_peak_of_1e_minus_300_is_refused_with_its_range(capsys, command):
    # H100: lowest peak fp32 67 TOPS, highest int8/fp8 1,979 TOPS: 67e12 / 1e4 = 6.7e9 .. 1979e12 x 1e4
    argv = [command, "resnet18", "--device", "h100-sxm", "--set", "peak_ops_per_s=1e-300"]
    line = one_line_error(capsys, argv, "peak_ops_per_s", "1e-300", "6.7e+09", "1.979e+19", "ops/s")
    assert "warning" not in line


@pytest.mark.parametrize("volts", ["1e-300", "1e6", "0.5", "1.7", "3.61"])
def test_a_supply_voltage_outside_the_parts_operating_range_is_refused(capsys, volts):
    argv = ["simulate", "resnet8_cifar10", "--device", NUCLEO, "--set", f"supply_voltage_v={volts}"]
    one_line_error(capsys, argv, "supply_voltage_v", "from 1.71 to 3.6 V", "operating range")


def test_the_supply_range_of_the_profile_is_the_data_sheets():
    supply = resolve_device(NUCLEO).supply
    assert (supply.min_voltage_v, supply.voltage_v, supply.max_voltage_v) == (1.71, 1.8, 3.6)
    with pytest.raises(ValueError, match="min_voltage_v <= voltage_v <= max_voltage_v"):
        Supply(voltage_v=5.0, regulator="ldo", source="test", min_voltage_v=1.71, max_voltage_v=3.6)


@pytest.mark.parametrize("volts", [1.71, 3.6])
def test_the_ends_of_the_operating_range_scale_energy_by_v_over_the_profiles(volts):
    at_profile = simulate("resnet8_cifar10", NUCLEO)
    at_volts = simulate("resnet8_cifar10", NUCLEO, overrides={"supply_voltage_v": volts})
    assert at_volts.latency_s == at_profile.latency_s
    assert at_volts.energy_j == pytest.approx(at_profile.energy_j * volts / 1.8, rel=1e-12)


def test_a_supply_voltage_needs_the_operating_range_in_the_profile():
    device = resolve_device("reference-45nm")
    no_range = device.model_copy(update={"supply": Supply(voltage_v=1.0, regulator="ldo", source="test")})
    with pytest.raises(SimulatorError, match="states no operating range"):
        simulate(linear(), no_range, precision="fp32", overrides={"supply_voltage_v": 1.0})


@pytest.mark.parametrize(("setting", "parts"), [
    ("dram.bandwidth_scale=1e5", ("'dram.bandwidth_scale' = 100000", "from 0.0001 to 10000")),
    ("peak_scale=0.00009", ("'peak_scale' = 9e-05", "from 0.0001 to 10000")),
    ("dram.energy_per_byte_scale=20000", ("20000", "from 0.0001 to 10000")),
    # DRAM 100 GB/s: 1e7 .. 1e15 bytes/s
    ("dram.bandwidth_gb_per_s=1e-300", ("dram.bandwidth_bytes_per_s", "from 1e+07 to 1e+15 bytes/s")),
    # 160 pJ/byte: 0.016 .. 1.6e6 pJ/byte
    ("dram.energy_per_byte_pj=1e7", ("dram.energy_per_byte_pj", "from 0.016 to 1.6e+06 pJ/byte")),
    # the outermost level (8 GiB) and the register file (64 KiB) are bounded by 1e4 x their own
    ("dram.capacity_gib=1e6", ("dram.capacity_bytes", "to 8.58993e+13 bytes")),
    ("register-file.capacity_mib=1000", ("register-file.capacity_bytes", "to 6.5536e+08 bytes")),
])
def test_figures_beyond_four_orders_of_magnitude_of_the_profile_are_refused(capsys, setting, parts):
    for command in ("simulate", "sweep"):
        one_line_error(capsys, [command, "resnet18", "--device", "reference-45nm", "--set", setting], *parts)


def test_an_absolute_figure_times_a_scale_must_stay_in_range_too():
    # 1 GB/s (within 1e4 of 100 GB/s) x 0.01 (a valid factor) = 1e7 bytes/s... is the lower end itself;
    # x 0.001 makes 1e6 bytes/s, below it
    with pytest.raises(SimulatorError, match=r"together make it 1e\+06 bytes/s.*from 1e\+07 to 1e\+15"):
        simulate(linear(), "reference-45nm", precision="fp32",
                 overrides={"dram.bandwidth_gb_per_s": 1, "dram.bandwidth_scale": 0.001})


def test_the_ends_of_the_factor_range_give_the_hand_derived_figures():
    # peak x 1e-4 = 1e8 ops/s: compute-bound by far (T_compute = OPS / 1e8 ~ 0.34 s against
    # T_memory = DRAM bytes / 100 GB/s ~ 0.7 ms); DRAM energy x 1e4 = 1.6 nJ per byte
    result = simulate(linear(), "reference-45nm", precision="fp32", ideal=True,
                      overrides={"peak_scale": 1 / FACTOR_LIMIT, "dram.energy_per_byte_scale": FACTOR_LIMIT})
    assert result.t_compute_s == pytest.approx(OPS / 1e8, rel=1e-12)
    assert result.latency_s == pytest.approx(OPS / 1e8, rel=1e-12)
    assert result.energy_breakdown_j["dram"] == pytest.approx(DRAM_BYTES * DRAM_J_PER_BYTE * 1e4, rel=1e-12)


# --- every override given together applies --------------------------------------------------------

@pytest.mark.parametrize("order", [("peak", "supply", "bandwidth"), ("supply", "peak", "bandwidth"),
                                   ("bandwidth", "peak", "supply")])
def test_several_overrides_given_together_all_apply(order):
    # reference-45nm with a stated supply of 1.0 V (0.5 .. 2.0 V): peak 0.5 TOPS, DRAM 50 GB/s and
    # 2.0 V, in every order: T_compute = OPS / 0.5e12, T_memory = DRAM bytes / 50e9, E_dram doubled
    supply = Supply(voltage_v=1.0, regulator="ldo", source="test", min_voltage_v=0.5, max_voltage_v=2.0)
    device = resolve_device("reference-45nm").model_copy(update={"supply": supply})
    given = {"peak": ("peak_ops_per_s", 0.5e12), "supply": ("supply_voltage_v", 2.0),
             "bandwidth": ("dram.bandwidth_gb_per_s", 50)}
    overrides = dict(given[name] for name in order)
    result = simulate(linear(), device, precision="fp32", ideal=True, overrides=overrides)
    assert result.t_compute_s == pytest.approx(OPS / 0.5e12, rel=1e-12)
    assert result.t_memory_s == pytest.approx(DRAM_BYTES / 50e9, rel=1e-12)
    assert result.energy_breakdown_j["dram"] == pytest.approx(DRAM_BYTES * DRAM_J_PER_BYTE * 2.0, rel=1e-12)


# --- issue 17: the --help example, on every GPU profile ----------------------------------------------

def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


GPUS = sorted(name for name in available_devices()
              if "l2" in [level.name for level in resolve_device(name).memory_levels])


def test_there_are_gpu_profiles_to_check():
    assert {"h100-sxm", "a100-sxm-80gb", "jetson-agx-orin"} <= set(GPUS)


@pytest.mark.parametrize("device", GPUS)
def test_the_help_examples_l2_capacity_scale_runs_on_every_gpu_and_halves_the_l2(capsys, device):
    (example,) = re.findall(r"l2\.capacity_scale=[0-9.]+", _help(capsys, "simulate"))
    assert example == "l2.capacity_scale=0.5"
    status = main(["simulate", "resnet18", "--device", device, "--set", example, "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 0 and "error" not in err, err
    printed = json.loads(out)
    # the same as a profile whose L2 is half as large (every GPU's L2 is a whole number of MiB, even)
    profile = resolve_device(device)
    levels = tuple(level.model_copy(update={"capacity_bytes": level.capacity_bytes // 2})
                   if level.name == "l2" else level for level in profile.memory_levels)
    halved = simulate("resnet18", profile.model_copy(update={"memory_levels": levels}))
    overridden = simulate("resnet18", device, overrides={"l2.capacity_scale": 0.5})
    assert overridden.latency_s == halved.latency_s and overridden.energy_j == halved.energy_j
    assert printed["totals"]["latency_s"] == pytest.approx(halved.latency_s, rel=1e-12)


def test_a_register_file_larger_than_the_scaled_l2_is_a_valid_profile():
    # H100: 132 SMs x 256 KiB = 33 MiB of registers against a 50 MiB L2 (whitepaper); a register file
    # holds operands in flight, not a copy of the L2's data, so an L2 of 25 MiB is a device too
    h100 = resolve_device("h100-sxm")
    dram, l2, registers = h100.memory_levels
    assert registers.capacity_bytes == 132 * 256 * 2**10 and l2.capacity_bytes == 50 * 2**20
    smaller = l2.model_copy(update={"capacity_bytes": 25 * 2**20})
    type(h100).model_validate({**h100.model_dump(), "memory_levels": (dram, smaller, registers)})
    # a level holding data still may not be larger than the one outside it
    with pytest.raises(ValueError, match="larger than"):
        type(h100).model_validate({**h100.model_dump(), "memory_levels": (
            dram, l2.model_copy(update={"capacity_bytes": dram.capacity_bytes + 1}), registers)})


# --- the ranges are documented where the user looks -------------------------------------------------

@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_help_states_the_range_of_every_set_key(capsys, command):
    text = _help(capsys, command)
    assert " ".join(RANGES_HELP.split()) in text
    # one clause per kind of key: scales, absolute peaks and level figures, capacities, the supply
    for clause in ("*_scale factor from 1e-4 to 1e4", "capacities at least 1 byte",
                   "peak, bandwidth, capacity or energy per byte from 1e-4 to 1e4 times the profile's own",
                   "supply_voltage_v within the part's operating range"):
        assert clause in text, clause
    assert f"{1 / FACTOR_LIMIT:g}" == "0.0001" and f"{FACTOR_LIMIT:g}" == "10000"  # the text's 1e-4, 1e4


def test_readme_states_the_ranges():
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert "1e-4 to 1e4" in readme and "1.71" in readme and "3.6 V" in readme
