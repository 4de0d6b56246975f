"""Energy (simulator.engine.energy) and model size: the lecture's worked examples, and hand-derived energies.

``E = n·(MACs·(E_mult + E_add) + element-wise ops·E_add) + Σ_levels bytes_level · E_per_byte(level)``

with the lecture's 45 nm table (Horowitz, ISSCC 2014, as simplified by Han et al., NeurIPS 2015):
fp32 add 0.9 pJ, fp32 mult 3.7 pJ, 32-bit register file 1 pJ, SRAM 5 pJ, DRAM 640 pJ per access.
``reference-45nm`` uses that table unscaled.
"""

from __future__ import annotations

import pytest

from simulator.catalog import NETWORKS
from simulator.hardware.loader import available_devices, resolve_device
from simulator.model.counts import count_network
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

PJ = 1e-12  # joules per picojoule

FP32_ADD_PJ = 0.9
FP32_MULT_PJ = 3.7
# per byte: the energy of one 32-bit access over its 4 bytes
RF_PJ_PER_BYTE = 1 / (32 / 8)
SRAM_PJ_PER_BYTE = 5 / (32 / 8)
DRAM_PJ_PER_BYTE = 640 / (32 / 8)

LECTURE_ALEXNET_PARAMS = 61e6  # "AlexNet has 61M parameters"


def linear(in_features: int, out_features: int, bias: bool = True):
    net = NetworkBuilder(f"linear{in_features}x{out_features}", (in_features,))
    net.linear(net.input, out_features, bias=bias)
    return net.build()


# --- model size -----------------------------------------------------------------------------------


def test_lecture_alexnet_model_size_arithmetic():
    # The slide prints "61M × 4 Bytes (32 bits) = 224 MB": a typo for 244 MB, which is what the
    # arithmetic gives. 8-bit weights: 61M × 1 Byte = 61 MB.
    assert LECTURE_ALEXNET_PARAMS * 32 / 8 == 244e6
    assert LECTURE_ALEXNET_PARAMS * 8 / 8 == 61e6


@pytest.mark.parametrize(("precision", "bits", "lecture_mb"), [("fp32", 32, 244), ("int8", 8, 61)])
def test_alexnet_model_size_is_params_times_bits_over_8(precision, bits, lecture_mb):
    params = count_network(NETWORKS["alexnet"]()).params
    result = simulate("alexnet", "reference-45nm", precision=precision)
    assert result.model_size_bytes == params * bits / 8
    assert round(result.model_size_bytes / 1e6) == lecture_mb  # the lecture's 244 MB and 61 MB
    assert params == pytest.approx(LECTURE_ALEXNET_PARAMS, rel=0.01)


def test_model_size_follows_the_weight_precision_only():
    params = count_network(NETWORKS["alexnet"]()).params
    result = simulate("alexnet", "reference-45nm", weight_precision="int4", activation_precision="fp16")
    assert result.model_size_bytes == params * 4 / 8  # half a byte per weight (params is even)


# --- compute energy -------------------------------------------------------------------------------


def test_one_fp32_mac_costs_3_7_plus_0_9_pj():
    energy = resolve_device("reference-45nm").energy
    assert energy.mac_energy_pj("fp32") == pytest.approx(FP32_MULT_PJ + FP32_ADD_PJ)  # 4.6 pJ
    assert energy.op_energy_pj("add", "fp32") == FP32_ADD_PJ


def test_compute_energy_is_macs_times_4_6_pj_plus_adds_times_0_9_pj():
    k = n = 4096
    for batch in (1, 3):
        result = simulate(linear(k, n), "reference-45nm", batch=batch, precision="fp32")
        macs, bias_adds = k * n, n
        expected_pj = batch * (macs * (FP32_MULT_PJ + FP32_ADD_PJ) + bias_adds * FP32_ADD_PJ)
        assert result.energy_breakdown_j["compute"] == pytest.approx(expected_pj * PJ)


def test_one_mac_network():
    # Linear 1 → 1 without bias: one MAC; one weight and two activations (in, out) of 4 bytes
    result = simulate(linear(1, 1, bias=False), "reference-45nm", precision="fp32")
    assert result.energy_breakdown_j == pytest.approx({
        "compute": 4.6 * PJ,                               # 3.7 + 0.9
        "dram": (1 + 2) * 4 * DRAM_PJ_PER_BYTE * PJ,       # 12 bytes × 160 pJ: 1.92 nJ
        "sram": (1 + 2) * 4 * SRAM_PJ_PER_BYTE * PJ,       # 12 bytes × 1.25 pJ
        "register-file": 2 * 4 * RF_PJ_PER_BYTE * PJ,      # two 32-bit operands: 2 pJ
    })
    # moving the data costs over 400 times the arithmetic
    assert result.energy_breakdown_j["dram"] / result.energy_breakdown_j["compute"] > 400


def test_tiny_network_per_level_energies():
    # Linear 3 → 2 with bias, batch 5, fp32, on reference-45nm:
    # per sample 6 MACs and 2 bias adds; 3·2 + 2 = 8 weights (read once); 3 + 2 = 5 activations
    batch, macs, adds, weights, activations = 5, 3 * 2, 2, 3 * 2 + 2, 3 + 2
    result = simulate(linear(3, 2), "reference-45nm", batch=batch, precision="fp32")
    memory_bytes = (weights + batch * activations) * 4  # 132 bytes, through DRAM and SRAM both
    rf_bytes = batch * (macs * 2 * 4 + adds * 4)        # two operands per MAC, one per add: 280 bytes
    expected = {
        "compute": batch * (macs * (FP32_MULT_PJ + FP32_ADD_PJ) + adds * FP32_ADD_PJ) * PJ,
        "dram": memory_bytes * DRAM_PJ_PER_BYTE * PJ,
        "sram": memory_bytes * SRAM_PJ_PER_BYTE * PJ,
        "register-file": rf_bytes * RF_PJ_PER_BYTE * PJ,
    }
    assert result.energy_breakdown_j == pytest.approx(expected)
    assert result.energy_j == pytest.approx(sum(expected.values()))
    assert result.layers[0].energy_j == pytest.approx(sum(expected.values()))


def test_int8_compute_energy():
    # Horowitz: int8 mult 0.2 pJ, int8 add 0.03 pJ
    result = simulate(linear(64, 64), "reference-45nm", precision="int8")
    assert result.energy_breakdown_j["compute"] == pytest.approx((64 * 64 * (0.2 + 0.03) + 64 * 0.03) * PJ)


def test_process_scale_applies_to_compute_but_not_to_dram():
    # jetson-agx-orin scales the 45 nm table by 0.28 (8 nm); DRAM (off-chip) stays 384 pJ per 64 bits
    network = linear(256, 256)
    reference = simulate(network, "reference-45nm", precision="fp32")
    orin = simulate(network, "jetson-agx-orin", precision="fp32")
    assert orin.energy_breakdown_j["compute"] == pytest.approx(0.28 * reference.energy_breakdown_j["compute"])
    dram_bytes = (256 * 256 + 256 + 256 + 256) * 4  # weights + bias + input + output, all pinned to DRAM
    assert orin.energy_breakdown_j["dram"] == pytest.approx(dram_bytes * 384 / (64 / 8) * PJ)


# --- the lecture's point: data movement dominates -------------------------------------------------


def test_data_movement_dominates_alexnet_fp32():
    result = simulate("alexnet", "reference-45nm", precision="fp32")
    parts = result.energy_breakdown_j
    movement = parts["dram"] + parts["sram"] + parts["register-file"]
    assert movement > 0.9 * result.energy_j
    assert max(parts, key=parts.get) == "dram"
    # DRAM alone: at least every fp32 weight read once, 4 bytes × 160 pJ each
    assert parts["dram"] >= result.counts.params * 4 * DRAM_PJ_PER_BYTE * PJ
    # compute: the 724M MACs at 4.6 pJ plus element-wise adds at 0.9 pJ
    assert parts["compute"] >= result.counts.macs * 4.6 * PJ


# --- consistency for every shipped device ---------------------------------------------------------


@pytest.mark.parametrize("device_name", sorted(available_devices()))
def test_energy_parts_sum_to_the_total(device_name):
    device = resolve_device(device_name)
    for precision in device.precisions:
        result = simulate("resnet18", device, batch=2, precision=precision)
        parts = result.energy_breakdown_j
        static = {"static"} if device.static_power_w else set()
        assert set(parts) == {"compute", *(level.name for level in device.memory_levels), *static}
        assert all(value >= 0 for value in parts.values())
        if static:  # static power times the latency (the whole run)
            assert parts["static"] == pytest.approx(device.static_power_w * result.latency_s)
        assert result.energy_j == pytest.approx(sum(parts.values()))
        assert sum(layer.energy_j for layer in result.layers) == pytest.approx(result.energy_j)
        assert result.energy_per_sample_j == pytest.approx(result.energy_j / 2)
