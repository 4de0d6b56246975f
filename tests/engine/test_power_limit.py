"""The power-limited share of the dense peak (simulator.engine.power_limit), checked by hand from the
profiles' data-sheet figures, in the engine's expected model (not the ideal bound), in the sweep and
in the cross-validation's row model."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.calibration.cv_fit import starting_points
from simulator.calibration.cv_model import (
    TENSOR_ENERGY,
    efficiency_model,
    family_of,
    predict_stack,
    row_case,
    stack,
)
from simulator.catalog import resolve_network
from simulator.engine.configs import hardware_arrays
from simulator.engine.efficiency import efficiency_arrays
from simulator.engine.power_limit import device_power_share, power_share
from simulator.engine.workload import simulated_workload
from simulator.hardware.loader import resolve_device
from simulator.simulation import simulate
from simulator.sweeps import sweep


def with_energy(name: str, tensor_energy_pj: float):
    device = resolve_device(name)
    efficiency = device.efficiency.model_copy(update={"tensor_energy_pj": tensor_energy_pj})
    return device.model_copy(update={"efficiency": efficiency})


def test_the_l4_share_by_hand_from_its_data_sheet():
    # L4: 72 W limit, 16 W idle, 242.3 dense int8 TOPS, TSMC 4N (scale 0.19 = the reference's):
    # at 0.31 pJ/op its tensor cores at full rate would draw 0.31e-12 * 242.3e12 = 75.1 W of the 56 W left
    expected = (72 - 16) / (0.31 * 242.3)
    assert power_share(0.31, 242.3e12, 0.19, 72, 16) == pytest.approx(expected, rel=1e-12)
    assert device_power_share(resolve_device("l4"), 0.31) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.7455, abs=1e-4)


def test_the_same_die_at_400_w_sustains_less_than_at_700_w():
    # H100 NVL (400 W, 62 W idle, 1671 TOPS) and H100 SXM (700 W, 85 W idle, 1979 TOPS) at 0.5 pJ/op
    assert device_power_share(resolve_device("h100-nvl"), 0.5) == pytest.approx(338 / (0.5 * 1671), rel=1e-12)
    assert device_power_share(resolve_device("h100-sxm"), 0.5) == pytest.approx(615 / (0.5 * 1979), rel=1e-12)


def test_another_process_scales_the_energy_and_the_share_is_at_most_one():
    # A100 80 GB on N7 (energy scale 0.25 against 4N's 0.19): 0.5 pJ on 4N is 0.5 * 0.25 / 0.19 pJ there
    assert device_power_share(resolve_device("a100-sxm-80gb"), 0.5) == pytest.approx(
        (400 - 59) / (0.5 * 0.25 / 0.19 * 624), rel=1e-12)
    assert device_power_share(resolve_device("a100-sxm-80gb"), 0.2) == 1.0  # 341 W > 0.26 pJ * 624 TOPS


def test_no_term_without_an_energy_a_power_limit_or_an_sm_model():
    assert device_power_share(with_energy("l4", None)) is None  # no tensor_energy_pj
    assert device_power_share(resolve_device("stm32h743"), 0.5) is None  # no SMs (parallel_units)
    no_limit = resolve_device("l4").model_copy(update={"max_power_w": None})
    assert device_power_share(no_limit, 0.5) is None


def test_the_expected_compute_fraction_is_capped_and_the_ideal_bound_is_not():
    capped, plain = with_energy("l4", 0.5), with_energy("l4", None)
    share = 56 / (0.5 * 242.3)  # 0.462, below the family's compute fraction (0.54)
    hardware = hardware_arrays(capped, ["int8"])
    assert hardware.power_share == pytest.approx(share, rel=1e-12)
    assert hardware_arrays(capped, ["int8"], ideal=True).power_share is None
    workload = simulated_workload(resolve_network("bert_large", None, 16, {}), True, capped.attention)
    batch = np.array([16.0])
    fraction = efficiency_arrays(workload, hardware, batch)[0]
    before = efficiency_arrays(workload, hardware_arrays(plain, ["int8"]), batch)[0]
    assert fraction.max() == pytest.approx(share, rel=1e-12)
    assert (before > share).any()
    np.testing.assert_allclose(fraction, np.minimum(before, share), rtol=1e-12)
    limited = simulate("bert_large", capped, batch=16, precision="int8")
    free = simulate("bert_large", plain, batch=16, precision="int8")
    assert limited.latency_s > free.latency_s
    ideal = simulate("bert_large", capped, batch=16, precision="int8", ideal=True)
    assert ideal.latency_s == simulate("bert_large", plain, batch=16, precision="int8", ideal=True).latency_s


def test_the_sweep_gives_simulates_numbers_with_the_term():
    device = with_energy("h100-nvl", 0.6)
    table = sweep("resnet50", device, batches=[1, 256], precisions=["int8"],
                  overrides={"dram.bandwidth_scale": [1.0, 0.5]})
    assert len(table) == 4
    for _, row in table.iterrows():
        bandwidth = device.level("dram").bandwidth_bytes_per_s * row["dram.bandwidth_scale"]
        scaled = device.model_copy(update={"memory_levels": tuple(
            level.model_copy(update={"bandwidth_bytes_per_s": bandwidth}) if level.name == "dram" else level
            for level in device.memory_levels)})
        result = simulate("resnet50", scaled, batch=int(row["batch"]), precision="int8")
        assert row["latency_s"] == pytest.approx(result.latency_s, rel=1e-12)


def test_the_cross_validation_row_model_equals_the_engine_with_the_term():
    row = {"id": "t", "device": "h100-nvl", "network": "bert_large", "precision": "int8", "batch": "64",
           "metric": "latency_s", "value": "0.01", "notes": "", "source": "", "runtime": "TensorRT"}
    case = row_case(row, {}, None)
    family = family_of("h100-nvl")
    values = {"kernel_overhead_s": 5e-6, "conv_overhead_s": 1e-6, "compute_fraction": 0.55}
    device = resolve_device("h100-nvl")
    for energy in (0.15, 0.6):  # 0.15 pJ: no limit (share 1); 0.6 pJ: share 338 / (0.6 * 1671) = 0.337
        figures = {**values, TENSOR_ENERGY.name: energy}
        predicted = predict_stack(stack([case]), figures, 1024, 1.0)[0]
        model = efficiency_model(family, figures, 1024, 1.0, device, "int8")
        assert model.tensor_energy_pj == energy
        engine = simulate("bert_large", device.model_copy(update={"efficiency": model}), batch=64,
                          precision="int8", micro_batching=False)
        assert predicted == pytest.approx(engine.latency_s, rel=1e-9), energy
    slow = predict_stack(stack([case]), {**values, TENSOR_ENERGY.name: 0.6}, 1024, 1.0)[0]
    fast = predict_stack(stack([case]), {**values, TENSOR_ENERGY.name: 0.15}, 1024, 1.0)[0]
    assert slow > 1.2 * fast  # most of BERT's time is compute at 0.55 of the peak, capped to 0.337


def test_the_fit_also_starts_the_energy_from_its_starts():
    parameters = (TENSOR_ENERGY,)
    prior = np.array([TENSOR_ENERGY.coordinate(TENSOR_ENERGY.default)])
    points = starting_points(parameters, prior)
    # the quartiles of the 0.1-1 pJ log range: 0.1 * 10 ** (k / 4)
    starts = [TENSOR_ENERGY.value(float(p[0])) for p in points]
    assert starts == pytest.approx([0.1778, 0.3162, 0.5623], rel=1e-3)
