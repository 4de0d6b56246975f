"""Static power and the power limit of every shipped device (issue 17): the energy of a run includes the
power the device draws whatever the work, so its average power, ``energy / latency``, lies between the
profile's static (idle) power and its maximum (TDP) power; the report names both parts.

The figures are checked against the readings and data-sheet arithmetic the profiles cite, written here
again: idle GPUs' nvidia-smi readings, the STM32s' run current × clock × supply, the absolute-maximum
supply current × 3.6 V, and the reference accelerator's units each at its peak rate.
"""

from __future__ import annotations

import json
from statistics import mean

import pytest

from simulator.catalog import NETWORKS, available_networks
from simulator.cli import main
from simulator.errors import ProfileError
from simulator.hardware.loader import available_devices, load_device, resolve_device
from simulator.model.counts import count_network
from simulator.precision import PRECISION_BITS
from simulator.report import format_simulation
from simulator.simulation import simulate

DEVICES = sorted(available_devices())
REFERENCE = available_devices()["reference-45nm"].read_text()
PJ = 1e-12


def test_every_profile_states_its_static_and_its_maximum_power_with_a_source():
    for name in DEVICES:
        device = resolve_device(name)
        assert device.static_power_source.strip(), name
        assert device.max_power_w is not None and device.max_power_source.strip(), name
        assert 0 <= device.static_power_w < device.max_power_w, name
        if name != "reference-45nm":  # the lecture's table: dynamic energy only, by choice (its source)
            assert device.static_power_w > 0, name
    assert "Chosen" in resolve_device("reference-45nm").static_power_source


# idle GPUs, 0% utilization, nothing allocated (the captures the profiles cite): W per GPU
NVIDIA_SMI_IDLE_W = {
    "h100-sxm": [100, 82, 85, 85, 84, 85, 86, 75],   # thamada/nvidia-smi nvsim/H100SXMx8_smi.py
    "a100-sxm-80gb": [59, 60, 58, 58],               # thamada/nvidia-smi gls/A100SXMx4_smi.py
    "a100-sxm-40gb": [45, 50, 51],
    "h200-sxm": [73, 74, 74, 76],
}
TDP_W = {"h100-sxm": 700, "h200-sxm": 700, "a100-sxm-80gb": 400, "a100-sxm-40gb": 400,  # NVIDIA data sheets
         "jetson-agx-orin": 60, "jetson-agx-orin-maxq": 60}                          # 64GB module, MAXN


@pytest.mark.parametrize("name", sorted(NVIDIA_SMI_IDLE_W))
def test_gpu_static_power_is_the_mean_idle_reading(name):
    assert resolve_device(name).static_power_w == pytest.approx(mean(NVIDIA_SMI_IDLE_W[name]), abs=1.5)


@pytest.mark.parametrize("name", sorted(TDP_W))
def test_gpu_maximum_power_is_the_data_sheets(name):
    assert resolve_device(name).max_power_w == TDP_W[name]


#: the data sheet loop's own work per cycle, which a kernel's instructions replace: two 32-bit register
#: reads and one write (1 pJ each) and one 32-bit add (0.1 pJ), Horowitz 45 nm, times the profile's scale
LOOP_PJ_PER_CYCLE = 3 * 1.0 + 0.1


@pytest.mark.parametrize(("name", "supply_v", "run_a", "mhz", "scale"), [
    ("stm32f746", 3.3, 0.47e-3 * 216, 216, 2.9),       # 0.47 mA/MHz (an estimate), LDO at 3.3 V
    ("stm32h743", 3.3, 0.35e-3 * 480, 480, 2.2),       # 0.35 mA/MHz (an estimate), LDO at 3.3 V
    ("nucleo-h7a3zi-q", 3.3, 120e-6 * 280, 280, 2.1),  # ST: 120 uA/MHz, SMPS, 3.3 V (Table 37: ~34 mA)
    ("nucleo-l4r5zi", 1.8, 100e-6 * 120, 120, 2.9),    # ST's feature list: 100 uA/MHz run mode
    ("nucleo-u575zi-q", 3.0, 7.15e-3, 160, 1.8)])      # DS13737 Rev 8 Table 39: 7.15 mA, 160 MHz, SMPS
def test_microcontroller_static_power_is_the_data_sheet_run_power_less_the_loops_own_work(
        name, supply_v, run_a, mhz, scale):
    # run mode, code from Flash, peripherals off; no MCU static power is fitted on energy rows any more
    # (the NUCLEO boards' were 0.16, 0.0467 and 0.0259 W: each board's whole measured active power)
    device = resolve_device(name)
    assert device.energy.scale == scale
    expected_w = supply_v * run_a - LOOP_PJ_PER_CYCLE * 1e-12 * scale * mhz * 1e6
    assert device.static_power_w == pytest.approx(expected_w, rel=0.002)
    assert "Fitted" not in device.static_power_source and "counted twice" in device.static_power_source


@pytest.mark.parametrize(("name", "total_vdd_ma"), [("stm32f746", 320), ("stm32h743", 620),
                                                    ("nucleo-h7a3zi-q", 620), ("nucleo-l4r5zi", 150),
                                                    ("nucleo-u575zi-q", 200)])
def test_microcontroller_maximum_power_is_the_absolute_maximum_current_at_3_6_v(name, total_vdd_ma):
    assert resolve_device(name).max_power_w == pytest.approx(total_vdd_ma * 1e-3 * 3.6, rel=0.005)


def test_fitted_static_powers_are_kept():
    # fitted on its MLPerf energy row over the measured latency when the profiles were fitted by hand
    # (the retired tools/fit_efficiency.py --static-power); kept, not refitted by tools/fit_profiles.py
    fitted = {"jetson-agx-orin-maxq": 11.34}
    for name, watts in fitted.items():
        device = resolve_device(name)
        assert device.static_power_w == watts and "Kept as fitted" in device.static_power_source, name


def test_reference_maximum_power_is_every_unit_at_its_peak_rate():
    device = resolve_device("reference-45nm")
    # fp32 draws the most: 1e12 op/s = 0.5e12 MAC/s at 3.7 + 0.9 pJ; each level at its bandwidth
    compute_w = 1e12 / 2 * (3.7 + 0.9) * PJ                     # 2.3 W
    levels_w = (100e9 * 640 / 4 + 1e12 * 5 / 4 + 10e12 * 1 / 4) * PJ   # DRAM 16 W, SRAM 1.25 W, RF 2.5 W
    assert device.max_power_w == pytest.approx(compute_w + levels_w)
    for precision in device.precisions:  # no precision draws more
        mac_w = device.peak_for(precision) / 2 * device.energy.mac_energy_pj(precision) * PJ
        assert mac_w <= compute_w


@pytest.fixture(scope="module")
def built():
    """Every built-in network, built once, with its parameter count."""
    networks = {name: NETWORKS[name]() for name in available_networks()}
    return {name: (network, count_network(network).params) for name, network in networks.items()}


#: the devices CI's second Python runs this for too; the others run once per CI (``once_per_ci``)
EVERY_PYTHON = ("h100-sxm", "jetson-agx-orin", "stm32h743")


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=() if name in EVERY_PYTHON else pytest.mark.once_per_ci) for name in DEVICES])
def test_average_power_while_running_lies_between_static_and_maximum_power(name, built):
    device = resolve_device(name)
    bits, capacity = PRECISION_BITS[device.default_precision], device.weight_store.capacity_bytes
    held = [network for network, params in built.values() if params * bits / 8 <= capacity]
    assert held, name
    for network in held:  # batch 1 at the device's default precision, expected model where it has one
        result = simulate(network, device, batch=1)
        power_w = result.energy_j / result.latency_s
        assert device.static_power_w <= power_w <= device.max_power_w, (network.name, power_w)
        assert result.static_energy_j == pytest.approx(device.static_power_w * result.latency_s)


def test_orin_maxn_is_not_orders_of_magnitude_more_efficient_than_maxq():
    # the same board, ResNet-50 int8 batch 1: MAXN runs faster at higher clocks; without static power
    # it came out 4.9x (and up to 235x on other networks) more energy-efficient than MaxQ
    maxn = simulate("resnet50", "jetson-agx-orin", precision="int8")
    maxq = simulate("resnet50", "jetson-agx-orin-maxq", precision="int8")
    assert 0.5 <= maxq.energy_j / maxn.energy_j <= 2


def test_the_table_names_the_dynamic_and_the_static_part():
    result = simulate("resnet50", "jetson-agx-orin", precision="int8")
    lines = format_simulation(result).splitlines()
    dynamic = next(line for line in lines if line.strip().startswith("dynamic"))
    static = next(line for line in lines if line.strip().startswith("static"))
    total = next(line for line in lines if line.strip().startswith("energy"))
    assert all(part in dynamic for part in ("arithmetic 263 µJ", "memory dram", "l2", "register-file"))
    # 11.34 W over the expected latency (the family fit's, tools/fit_profiles.py)
    assert f"static power 11.3 W x latency {result.latency_s * 1e6:.0f} µs" in static
    average_w = (result.dynamic_energy_j + 11.34 * result.latency_s) / result.latency_s  # dynamic + static
    assert f"average power {average_w:.1f} W" in total
    assert result.static_energy_j == pytest.approx(11.34 * result.latency_s)
    assert result.dynamic_energy_j + result.static_energy_j == pytest.approx(result.energy_j)


def test_the_json_names_the_parts_and_what_the_energy_includes(capsys):
    assert main(["simulate", "resnet18", "--device", "h100-sxm", "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["static_power_w"] == pytest.approx(85)
    assert totals["energy_static_j"] == pytest.approx(85 * totals["latency_s"])
    assert totals["energy_static_j"] == pytest.approx(totals["energy_breakdown_j"]["static"])
    assert totals["energy_dynamic_j"] + totals["energy_static_j"] == pytest.approx(totals["energy_j"])
    assert totals["average_power_w"] == pytest.approx(totals["energy_j"] / totals["latency_s"])
    for part in ("arithmetic", "dram", "l2", "register-file", "static power"):
        assert part in totals["energy_includes"]


def test_a_profile_without_static_power_says_so():
    result = simulate("alexnet", "reference-45nm", precision="fp32")
    lines = format_simulation(result).splitlines()
    static = next(line for line in lines if line.strip().startswith("static"))
    assert "0 W" in static and result.static_energy_j == 0


@pytest.mark.parametrize("field", ["static_power_w", "max_power_w"])
@pytest.mark.parametrize("value", ["true", "false", '"11"'])
def test_a_power_must_be_a_number(tmp_path, capsys, field, value):
    # a boolean was read as 1 W (issue 23), a quoted number as a number
    written = {"static_power_w": "static_power_w = 0\n", "max_power_w": "max_power_w = 22.05\n"}[field]
    path = tmp_path / "dev.toml"
    path.write_text(REFERENCE.replace('name = "reference-45nm"', 'name = "dev"').replace(
        written, f"{field} = {value}\n"))
    with pytest.raises(ProfileError, match=f"{field}: must be a number"):
        load_device(path)
    assert main(["simulate", "alexnet", "--device", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and field in err


def test_static_power_above_the_maximum_is_refused(tmp_path):
    path = tmp_path / "dev.toml"
    path.write_text(REFERENCE.replace('name = "reference-45nm"', 'name = "dev"').replace(
        "static_power_w = 0\n", "static_power_w = 30\n"))
    with pytest.raises(ProfileError, match=r"static_power_w 30 W exceeds max_power_w 22\.05 W"):
        load_device(path)


def test_the_devices_every_python_runs_are_shipped():
    assert set(EVERY_PYTHON) <= set(DEVICES)
