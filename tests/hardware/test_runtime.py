"""Runtimes (simulator.hardware.runtime) and the supply voltage of a board behind a linear regulator.

A runtime multiplies the compute fraction of the classes it names; expected values below are derived
by hand from the round figures of a test profile: DRAM 100 GB/s, fp32 peak 1 Tops/s, every class at
compute fraction 0.5 and bandwidth fraction 1, no overhead.
"""

from __future__ import annotations

import pytest

from simulator.accuracy import load_measurements, predict, row_device, supply_voltage_v
from simulator.compat import tomllib
from simulator.errors import ProfileError, SimulatorError, UnknownNameError
from simulator.hardware.loader import (
    available_runtimes,
    load_device,
    load_runtime,
    resolve_device,
    resolve_runtime,
)
from simulator.hardware.runtime import Runtime, with_runtime
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate
from simulator.sweeps import plan_sweep
from tests.conftest import DRAM_ONLY_PROFILE

EFFICIENCY = """
[efficiency]
source = "test: every class at half the peak"

[efficiency.default]
compute_fraction = 0.5
bandwidth_fraction = 1.0
"""


def runtime(**fields) -> Runtime:
    values = {"name": "fast", "runtime": "TestRT", "devices": ("dram-only",), "fitted_on": "dram-only",
              "compute_scale": {"conv": 1.6}, "source": "test"}
    return Runtime(**{**values, **fields})


@pytest.fixture
def device(profile_file):
    return load_device(profile_file(DRAM_ONLY_PROFILE + EFFICIENCY, "dram-only.toml"))


def matmul_network(n: int):
    """One n x n x n fp32 linear layer with n rows: 2·n³ ops, compute-bound on the test device."""
    net = NetworkBuilder("square", (n, n))
    net.linear(net.input, n, bias=False)
    return net.build()


def test_a_runtime_scales_the_compute_fraction_of_the_classes_it_names(device):
    fast = with_runtime(device, runtime(compute_scale={"conv": 1.6, "gemm": 0.5}))
    assert fast.name == "dram-only@fast"
    assert fast.efficiency.for_class("conv").compute_fraction == pytest.approx(0.8)  # 0.5 x 1.6
    assert fast.efficiency.for_class("pointwise_conv").compute_fraction == pytest.approx(0.8)  # follows conv
    assert fast.efficiency.for_class("gemm").compute_fraction == pytest.approx(0.25)
    assert fast.efficiency.for_class("matmul").compute_fraction == pytest.approx(0.25)  # follows gemm
    assert fast.efficiency.for_class("depthwise_conv").compute_fraction == 0.5  # not named: unchanged
    assert fast.efficiency.for_class("conv").bandwidth_fraction == 1.0


def test_the_expected_time_follows_the_scaled_fraction_and_the_ideal_does_not_move(device):
    n = 512
    ops = 2 * n**3  # a MAC is 2 ops; n rows of an n x n weight
    slow = with_runtime(device, runtime(compute_scale={"gemm": 0.5}))
    base = simulate(matmul_network(n), device, precision="fp32")
    scaled = simulate(matmul_network(n), slow, precision="fp32")
    assert base.latency_s == pytest.approx(ops / (1e12 * 0.5), rel=1e-9)  # T_compute / 0.5
    assert scaled.latency_s == pytest.approx(ops / (1e12 * 0.25), rel=1e-9)  # half the fraction
    ideal = [simulate(matmul_network(n), d, precision="fp32", ideal=True).latency_s for d in (device, slow)]
    assert ideal[0] == ideal[1] == pytest.approx(ops / 1e12, rel=1e-9)


def test_a_runtime_is_refused_where_it_does_not_apply(device):
    with pytest.raises(SimulatorError, match="not for device 'dram-only'"):
        with_runtime(device, runtime(devices=("other",), fitted_on="other"))
    with pytest.raises(SimulatorError, match="cannot exceed 1"):
        with_runtime(device, runtime(compute_scale={"conv": 2.5}))  # 0.5 x 2.5 = 1.25
    with pytest.raises(SimulatorError, match="no efficiency model"):
        with_runtime(device.model_copy(update={"efficiency": None}), runtime())


def test_a_runtime_file_is_validated_with_the_file_and_field(profile_file):
    text = ('name = "bad"\nruntime = "X"\ndevices = ["a"]\nfitted_on = "a"\nsource = "t"\n'
            'compute_scale = {convolution = 1.2}\n')
    with pytest.raises(ProfileError, match=r"bad\.toml: compute_scale: unknown efficiency class 'conv"):
        load_runtime(profile_file(text, "bad.toml"))
    text = text.replace("convolution", "conv").replace('fitted_on = "a"', 'fitted_on = "b"')
    with pytest.raises(ProfileError, match="fitted_on: 'b' must be one of devices"):
        load_runtime(profile_file(text, "bad.toml"))


def test_a_runtime_name_cannot_hold_the_separator_and_its_devices_must_exist(profile_file):
    body = 'runtime = "X"\nfitted_on = "stm32h743"\nsource = "t"\ncompute_scale = {conv = 1.2}\n'
    with pytest.raises(ProfileError, match="name: String should match pattern"):
        load_runtime(profile_file('name = "a@b"\ndevices = ["stm32h743"]\n' + body, "ab.toml"))
    with pytest.raises(ProfileError, match="devices: unknown device 'stm32h74'; did you mean 'stm32h743'"):
        load_runtime(profile_file('name = "t"\ndevices = ["stm32h743", "stm32h74"]\n' + body, "t.toml"))


def test_a_device_file_with_a_runtime_is_read_afresh(profile_file):
    # a profile file for the STM32H743 (the tinyengine runtime names that device) at fraction 0.5
    text = DRAM_ONLY_PROFILE.replace('name = "dram-only"', 'name = "stm32h743"') + EFFICIENCY
    path = profile_file(text, "stm32h743.toml")
    written = tomllib.loads(available_runtimes()["tinyengine"].read_text(encoding="utf-8"))
    factor = written["compute_scale"]["conv"]
    first = resolve_device(f"{path}@tinyengine")
    assert first.efficiency.for_class("conv").compute_fraction == pytest.approx(0.5 * factor)
    path.write_text(text.replace("compute_fraction = 0.5", "compute_fraction = 0.25"), encoding="utf-8")
    again = resolve_device(f"{path}@tinyengine")
    assert again.efficiency.for_class("conv").compute_fraction == pytest.approx(0.25 * factor)


def test_every_fit_row_is_of_its_profile_runtime_or_of_a_runtime_fitted_on_that_device():
    # the rows once marked fit (history: tools/fit_profiles.py now fits every row, whatever its role)
    for row in (r for r in load_measurements() if r["role"] == "fit"):
        device, modelled = row_device(row)
        assert modelled, row["id"]
        if "@" in device:
            assert resolve_runtime(device.partition("@")[2]).fitted_on == row["device"], row["id"]


def test_device_at_runtime_resolves_a_shipped_runtime_as_its_file_states():
    path = available_runtimes()["x-cube-ai-9.0"]
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    base = resolve_device("nucleo-u575zi-q")
    scaled = resolve_device("nucleo-u575zi-q@x-cube-ai-9.0")
    assert scaled.name == "nucleo-u575zi-q@x-cube-ai-9.0"
    for cls, factor in written["compute_scale"].items():
        assert scaled.efficiency.for_class(cls).compute_fraction == pytest.approx(
            base.efficiency.for_class(cls).compute_fraction * factor)
    with pytest.raises(UnknownNameError, match=r"did you mean 'x-cube-ai-9\.0'"):
        resolve_device("nucleo-u575zi-q@x-cube-ai-9")


def test_every_shipped_runtime_is_fitted_on_fit_rows_and_checked_on_another_device():
    rows = load_measurements()
    for name in available_runtimes():
        rt = resolve_runtime(name)
        mine = [r for r in rows if rt.covers(r.get("runtime", ""), r.get("runtime_version", ""))
                and r["device"] in rt.devices]
        fit = [r for r in mine if r["role"] == "fit"]
        assert fit and all(r["device"] == rt.fitted_on for r in fit), name
        assert [r for r in mine if r["role"] == "check"], name
        if len(rt.devices) > 1:  # the claim that the factors carry over is checked on another device
            assert [r for r in mine if r["device"] != rt.fitted_on and r["role"] == "check"], name


@pytest.mark.parametrize(("runtime_name", "version", "device", "expected"), [
    ("X-CUBE-AI", "9.0", "nucleo-u575zi-q", ("nucleo-u575zi-q@x-cube-ai-9.0", True)),
    ("X-CUBE-AI", "8.1.0", "nucleo-h7a3zi-q", ("nucleo-h7a3zi-q@x-cube-ai-8.1", True)),
    ("X-CUBE-AI", "8.0.0", "nucleo-l4r5zi", ("nucleo-l4r5zi", True)),  # 7.3's model
    ("Plumerai Inference Engine", "2023.05", "nucleo-l4r5zi", ("nucleo-l4r5zi", False)),  # bound only
])
def test_a_dataset_row_is_predicted_on_the_runtime_it_ran(runtime_name, version, device, expected):
    row = {"runtime": runtime_name, "runtime_version": version, "device": device, "table": "mcu"}
    assert row_device(row) == expected


# --- supply voltage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("power_mode", "volts"), [
    ("3.0V / Dual Bank Mode Activated, 120.0 MHz", 3.0), ("1.8V / SMPS, 160.0 MHz", 1.8),
    ("3V with SMPS, 280.0 MHz", 3.0), ("", None)])
def test_the_supply_voltage_is_read_from_the_power_mode(power_mode, volts):
    assert supply_voltage_v({"power_mode": power_mode}) == volts


def test_behind_a_linear_regulator_energy_scales_with_the_supply_voltage():
    at_18 = simulate("resnet8_cifar10", "nucleo-l4r5zi")
    at_30 = simulate("resnet8_cifar10", "nucleo-l4r5zi", overrides={"supply_voltage_v": 3.0})
    assert resolve_device("nucleo-l4r5zi").supply.voltage_v == 1.8
    assert at_30.latency_s == at_18.latency_s
    assert at_30.energy_j == pytest.approx(at_18.energy_j * 3.0 / 1.8)
    for part, joules in at_18.energy_breakdown_j.items():
        assert at_30.energy_breakdown_j[part] == pytest.approx(joules * 3.0 / 1.8), part


def test_the_accuracy_table_predicts_each_energy_row_at_its_own_supply():
    # MLPerf Tiny v1.0 (1.8 V) and v1.2 (3.0 V), X-CUBE-AI 7.3, same latency (7.579 ms): the model
    # predicts energies in the ratio of the voltages, and the published ones are within 3% of it
    rows = {r["id"]: r for r in load_measurements()}
    pair = [rows[f"mlperf-tiny-v1.{v}-nucleo-l4r5zi-fc_autoencoder_ad-x-cube-ai730-energy"] for v in (0, 2)]
    assert [supply_voltage_v(r) for r in pair] == [1.8, 3.0]
    predicted = [predict(r)["expected"] for r in pair]
    measured = [float(r["value"]) for r in pair]
    assert predicted[1] / predicted[0] == pytest.approx(3.0 / 1.8)
    assert measured[1] / measured[0] == pytest.approx(3.0 / 1.8, rel=0.03)


def test_the_supply_factor_applies_once_to_an_overridden_energy_per_byte():
    base = {"sram.energy_per_byte_pj": 2.0}
    at_18 = simulate("resnet8_cifar10", "nucleo-l4r5zi", overrides=base).energy_breakdown_j
    at_30 = simulate("resnet8_cifar10", "nucleo-l4r5zi", overrides={**base, "supply_voltage_v": 3.0})
    doubled = simulate("resnet8_cifar10", "nucleo-l4r5zi", overrides={"sram.energy_per_byte_pj": 4.0})
    assert at_30.energy_breakdown_j["sram"] == pytest.approx(at_18["sram"] * 3.0 / 1.8)
    assert doubled.energy_breakdown_j["sram"] == pytest.approx(at_18["sram"] * 2)  # linear in the figure


def test_a_sweep_refuses_a_supply_override_before_evaluating_anything():
    with pytest.raises(SimulatorError, match="'nucleo-u575zi-q': its profile states no"):
        plan_sweep("resnet8_cifar10", ["nucleo-l4r5zi", "nucleo-u575zi-q"],
                   overrides={"supply_voltage_v": [1.8, 3.0]})


def test_a_supply_voltage_needs_a_stated_supply():
    with pytest.raises(SimulatorError, match="states no \\[supply\\]"):
        simulate("resnet8_cifar10", "nucleo-u575zi-q", overrides={"supply_voltage_v": 3.0})
