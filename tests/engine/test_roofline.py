"""Roofline timing and the traffic rule (simulator.engine.timing, simulator.engine.workload), derived by hand.

Every expected value is arithmetic from the formulas of the module docstrings, on the round numbers
of ``reference-45nm`` (fp32 1 TOPS, fp16 2 TOPS, int8 4 TOPS; DRAM 100 GB/s; SRAM 1 MiB at 1 TB/s;
register file 10 TB/s) or of small device files written by the ``device_file`` fixture (``conftest.py``):

* ``T_compute = n·(2·MACs + element-wise ops) / peak``;
* ``T_memory = max over levels (bytes_level / bandwidth_level)``, the register file left out;
* weights are read once per batch, activations ``n`` times; bytes are ``elements · bits / 8``;
* an intermediate tensor stays in the on-chip buffer when ``n · L · bits / 8 <= capacity`` for its
  largest live set ``L``; the network input and outputs always live in the activation store.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.configs import hardware_arrays
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.hardware.loader import load_device, resolve_device
from simulator.model.graph import Network, NetworkBuilder
from simulator.simulation import simulate

# reference-45nm, as written in hardware_profiles/reference-45nm.toml
PEAK_FP32_OPS_PER_S = 1e12
PEAK_FP16_OPS_PER_S = 2e12
PEAK_INT8_OPS_PER_S = 4e12
DRAM_BYTES_PER_S = 100e9
SRAM_BYTES_PER_S = 1e12
SRAM_CAPACITY_BYTES = 2**20  # capacity_mib = 1
RF_BYTES_PER_S = 10e12

FP32_BYTES = 32 / 8
FP16_BYTES = 16 / 8
INT8_BYTES = 8 / 8

# 16 channels of 32×32: the tensor of the conv chain and the residual block below
CHANNELS, SIDE = 16, 32
E = CHANNELS * SIDE * SIDE                     # elements per tensor per sample
CONV_WEIGHTS = CHANNELS * CHANNELS * 3 * 3 + CHANNELS  # 3×3 kernels plus bias


# --- small networks ------------------------------------------------------------------------------


def linear(in_features: int, out_features: int, rows: tuple[int, ...] = (), bias: bool = True) -> Network:
    net = NetworkBuilder(f"linear{in_features}x{out_features}", (*rows, in_features))
    net.linear(net.input, out_features, bias=bias)
    return net.build()


def conv_chain(convs: int = 2) -> Network:
    """``convs`` 3×3 convolutions (16 → 16 channels, 32×32, padding 1), each but the last with a ReLU."""
    net = NetworkBuilder("chain", (CHANNELS, SIDE, SIDE))
    x = net.input
    for i in range(convs):
        x = net.conv2d(x, CHANNELS, 3, padding=1)
        if i < convs - 1:
            x = net.relu(x, inplace=True)
    return net.build()


def residual_block() -> Network:
    """conv → relu → conv → relu → conv, added to the first conv's output (a skip), then relu."""
    net = NetworkBuilder("residual", (CHANNELS, SIDE, SIDE))
    skip = net.relu(net.conv2d(net.input, CHANNELS, 3, padding=1), inplace=True)
    x = net.relu(net.conv2d(skip, CHANNELS, 3, padding=1), inplace=True)
    x = net.conv2d(x, CHANNELS, 3, padding=1)
    return net.build([net.relu(net.add_(x, skip), inplace=True)])


# --- device files --------------------------------------------------------------------------------


ROUND_PEAKS = {"fp32_tera_ops_per_s": 1, "fp16_tera_ops_per_s": 2, "int8_tera_ops_per_s": 4}
DRAM = {"name": "dram", "capacity_gib": 8, "bandwidth_gb_per_s": 100, "stores": ["weights", "activations"],
        "energy_table_entry": "dram-32bit"}


def rf(bandwidth_gb_per_s: float) -> dict:
    return {"name": "register-file", "capacity_bytes": 256, "bandwidth_gb_per_s": bandwidth_gb_per_s,
            "stores": [], "energy_table_entry": "rf-32bit"}


def dram_only_device(device_file):
    """DRAM and a register file as fast as the DRAM (so that counting it would show)."""
    return load_device(device_file("dram-only", ROUND_PEAKS, [DRAM, rf(100)]))


def timing(network: Network, device, precision: str, batches, weight_bits: float, activation_bits: float,
           overrides=None):
    """``roofline_timing`` of ``network`` for every batch in ``batches`` (one configuration each)."""
    batches = np.asarray(batches, dtype=float)
    count = len(batches)
    hardware = hardware_arrays(device, [precision] * count, overrides)
    return roofline_timing(build_workload(network), hardware, batches, np.full(count, float(weight_bits)),
                           np.full(count, float(activation_bits)))


def test_reference_device_has_the_round_numbers_these_tests_assume():
    device = resolve_device("reference-45nm")
    assert [device.peak_for(p) for p in ("fp32", "fp16", "int8")] == [
        PEAK_FP32_OPS_PER_S, PEAK_FP16_OPS_PER_S, PEAK_INT8_OPS_PER_S]
    dram, sram, register_file = device.memory_levels
    assert (dram.bandwidth_bytes_per_s, sram.bandwidth_bytes_per_s, register_file.bandwidth_bytes_per_s) == (
        DRAM_BYTES_PER_S, SRAM_BYTES_PER_S, RF_BYTES_PER_S)
    assert sram.capacity_bytes == SRAM_CAPACITY_BYTES
    assert register_file.stores == frozenset()
    assert device.ridge_point_ops_per_byte("fp32") == 10  # 1e12 ops/s / 100e9 bytes/s


# --- both sides of the ridge ----------------------------------------------------------------------

K = N = 4096
LINEAR_WEIGHTS = K * N + N          # weight matrix plus bias
LINEAR_OPS = 2 * K * N + N          # 2 ops per MAC plus one bias add per output, per sample
LINEAR_ACTIVATIONS = K + N          # input read plus output written, per sample


def test_batch_1_linear_is_memory_bound():
    result = simulate(linear(K, N), "reference-45nm", batch=1, precision="fp32")
    (layer,) = result.layers
    # the input and the output are pinned to DRAM, so every byte crosses DRAM
    dram_bytes = LINEAR_WEIGHTS * FP32_BYTES + LINEAR_ACTIVATIONS * FP32_BYTES
    assert layer.ops == LINEAR_OPS
    assert layer.level_bytes["dram"] == dram_bytes
    assert layer.level_bytes["sram"] == dram_bytes  # weights and activations pass through the SRAM too
    assert layer.t_compute_s == pytest.approx(LINEAR_OPS / PEAK_FP32_OPS_PER_S)     # 33.6 µs
    assert layer.t_memory_s == pytest.approx(dram_bytes / DRAM_BYTES_PER_S)         # 671 µs
    assert layer.latency_s == layer.t_memory_s
    assert layer.bound == "memory" and result.bound == "memory"
    assert layer.arithmetic_intensity == pytest.approx(LINEAR_OPS / dram_bytes)     # ~0.5 ops/byte
    assert layer.arithmetic_intensity < 10  # below the DRAM ridge point of 10 ops/byte


def test_large_batch_linear_is_compute_bound():
    n = 1024
    result = simulate(linear(K, N), "reference-45nm", batch=n, precision="fp32")
    (layer,) = result.layers
    dram_bytes = LINEAR_WEIGHTS * FP32_BYTES + n * LINEAR_ACTIVATIONS * FP32_BYTES  # weights once per batch
    assert layer.level_bytes["dram"] == dram_bytes
    assert layer.t_compute_s == pytest.approx(n * LINEAR_OPS / PEAK_FP32_OPS_PER_S)  # 34.4 ms
    assert layer.t_memory_s == pytest.approx(dram_bytes / DRAM_BYTES_PER_S)          # 1.0 ms
    assert layer.latency_s == layer.t_compute_s
    assert layer.bound == "compute" and result.bound == "compute"
    assert layer.arithmetic_intensity > 10
    assert result.throughput_per_s == pytest.approx(n / (n * LINEAR_OPS / PEAK_FP32_OPS_PER_S))


def test_bound_flips_at_the_hand_derived_ridge_batch():
    # n·c = (W + n·a) / bw  <=>  n* = (W / bw) / (c - a / bw)
    c = LINEAR_OPS / PEAK_FP32_OPS_PER_S                     # compute time per sample
    a = LINEAR_ACTIVATIONS * FP32_BYTES / DRAM_BYTES_PER_S   # activation time per sample
    w = LINEAR_WEIGHTS * FP32_BYTES / DRAM_BYTES_PER_S       # weight time per batch
    n_star = w / (c - a)                                     # ≈ 20.2
    batches = np.arange(1, 65)
    result = timing(linear(K, N), resolve_device("reference-45nm"), "fp32", batches, 32, 32)
    memory_bound = result.memory_bound[:, 0]
    assert list(memory_bound) == [n < n_star for n in batches]
    assert memory_bound[19] and not memory_bound[20]  # batch 20 memory-bound, batch 21 compute-bound


def test_latency_is_the_max_of_compute_and_memory_time():
    for network in (linear(K, N), conv_chain(3), residual_block()):
        for batch in (1, 8, 9, 64):
            result = simulate(network, "reference-45nm", batch=batch, precision="fp16")
            for layer in result.layers:
                assert layer.latency_s == max(layer.t_compute_s, layer.t_memory_s)
                assert layer.bound == ("memory" if layer.t_memory_s > layer.t_compute_s else "compute")
            assert result.latency_s == pytest.approx(sum(layer.latency_s for layer in result.layers))


# --- bytes: batch, precision ---------------------------------------------------------------------


def test_weights_are_read_once_per_batch_and_activations_scale_with_it(device_file):
    batches = [1, 2, 4, 8, 1000]
    result = timing(linear(K, N), dram_only_device(device_file), "fp32", batches, 32, 32)
    for c, n in enumerate(batches):
        assert result.weight_bytes[c, 0] == LINEAR_WEIGHTS * FP32_BYTES                # independent of n
        assert result.activation_bytes[c, 0] == n * LINEAR_ACTIVATIONS * FP32_BYTES    # n times
        assert result.level_bytes[c, 0, 0] == (LINEAR_WEIGHTS + n * LINEAR_ACTIVATIONS) * FP32_BYTES
        assert result.ops[c, 0] == n * LINEAR_OPS


@pytest.mark.parametrize(("precision", "element_bytes", "peak"), [
    ("fp32", FP32_BYTES, PEAK_FP32_OPS_PER_S),
    ("fp16", FP16_BYTES, PEAK_FP16_OPS_PER_S),
    ("int8", INT8_BYTES, PEAK_INT8_OPS_PER_S),
])
def test_bytes_are_elements_times_bits_over_8(precision, element_bytes, peak):
    (layer,) = simulate(linear(K, N), "reference-45nm", precision=precision).layers
    assert layer.bytes_moved == (LINEAR_WEIGHTS + LINEAR_ACTIVATIONS) * element_bytes
    assert layer.t_compute_s == pytest.approx(LINEAR_OPS / peak)
    assert layer.t_memory_s == pytest.approx((LINEAR_WEIGHTS + LINEAR_ACTIVATIONS) * element_bytes
                                             / DRAM_BYTES_PER_S)


def test_int8_moves_a_quarter_of_the_fp32_bytes():
    fp32 = simulate(linear(K, N), "reference-45nm", precision="fp32")
    int8 = simulate(linear(K, N), "reference-45nm", precision="int8")
    assert int8.layers[0].bytes_moved * 4 == fp32.layers[0].bytes_moved  # 8 bits vs 32 bits
    assert int8.model_size_bytes * 4 == fp32.model_size_bytes
    assert int8.latency_s == pytest.approx(fp32.latency_s / 4)  # memory-bound: time follows bytes


def test_w8a16_moves_int8_weights_and_fp16_activations_and_computes_at_fp16():
    result = simulate(linear(K, N), "reference-45nm", weight_precision="int8", activation_precision="fp16")
    (layer,) = result.layers
    assert result.precision == "fp16"  # the wider of the two operands
    assert (result.weight_precision, result.activation_precision) == ("int8", "fp16")
    dram_bytes = LINEAR_WEIGHTS * INT8_BYTES + LINEAR_ACTIVATIONS * FP16_BYTES
    assert layer.level_bytes["dram"] == dram_bytes
    # each MAC reads an 8-bit weight and a 16-bit activation; each bias add one 16-bit operand
    assert layer.level_bytes["register-file"] == K * N * (8 + 16) / 8 + N * FP16_BYTES
    assert layer.t_compute_s == pytest.approx(LINEAR_OPS / PEAK_FP16_OPS_PER_S)  # fp16, not int8, peak
    assert result.model_size_bytes == LINEAR_WEIGHTS * INT8_BYTES


def test_int4_weights_take_half_a_byte():
    result = simulate(linear(K, N), "reference-45nm", weight_precision="int4", activation_precision="fp16")
    assert result.precision == "fp16"
    assert result.layers[0].level_bytes["dram"] == LINEAR_WEIGHTS * 4 / 8 + LINEAR_ACTIVATIONS * FP16_BYTES
    assert result.model_size_bytes == LINEAR_WEIGHTS * 4 / 8  # 8,392,704 weights: an even count


# --- activation residency -------------------------------------------------------------------------


def test_an_intermediate_tensor_that_fits_in_sram_never_reaches_dram():
    # conv1 → relu (in place, fused) → conv2. The intermediate tensor lives while conv1 runs (with the
    # input: 2E alive) and while conv2 runs (with the output: 2E alive), so L = 2E elements per sample.
    # fp32: n · 2E · 4 bytes <= 1 MiB  <=>  n <= 8.
    assert 8 * 2 * E * FP32_BYTES == SRAM_CAPACITY_BYTES
    conv1, conv2 = simulate(conv_chain(), "reference-45nm", batch=8, precision="fp32").layers
    assert conv1.name == "conv2d1+relu1"
    weight_bytes = CONV_WEIGHTS * FP32_BYTES
    # conv1 reads the input from DRAM and writes its output to SRAM only; conv2 the other way round
    assert conv1.level_bytes["dram"] == weight_bytes + 8 * E * FP32_BYTES
    assert conv2.level_bytes["dram"] == weight_bytes + 8 * E * FP32_BYTES
    # every activation still crosses the SRAM
    assert conv1.level_bytes["sram"] == weight_bytes + 8 * 2 * E * FP32_BYTES

    # one more sample and the intermediate tensor no longer fits: written to and read from DRAM
    conv1, conv2 = simulate(conv_chain(), "reference-45nm", batch=9, precision="fp32").layers
    assert conv1.level_bytes["dram"] == weight_bytes + 9 * 2 * E * FP32_BYTES
    assert conv2.level_bytes["dram"] == weight_bytes + 9 * 2 * E * FP32_BYTES


def test_a_skip_connection_keeps_more_alive_and_spills_earlier():
    # residual block: while conv3 runs the skip tensor, conv2's output and conv3's output are alive:
    # L = 3E for every intermediate tensor, against 2E in a plain chain of three convolutions.
    def dram_activation_bytes(network, batch):
        # the residency rule for the whole batch at once (simulate() may split a batch that spills)
        workload = build_workload(network)
        hardware = hardware_arrays(resolve_device("reference-45nm"), ["fp32"])
        fp32 = np.array([32.0])
        timing = roofline_timing(workload, hardware, np.array([float(batch)]), fp32, fp32)
        return timing.level_bytes[0, 0].sum() - 3 * CONV_WEIGHTS * FP32_BYTES

    # batch 5: 5 · 3E · 4 B = 960 KiB fits in 1 MiB: only the input read and the output write reach DRAM
    assert 5 * 3 * E * FP32_BYTES <= SRAM_CAPACITY_BYTES
    assert dram_activation_bytes(residual_block(), 5) == 5 * (E + E) * FP32_BYTES
    # batch 8: 8 · 3E · 4 B = 1.5 MiB does not fit: every tensor goes through DRAM. Traffic per sample:
    # three convs read E and write E, and the last one also reads the skip E, the residual add being
    # fused into its epilogue (as TensorRT does): 7E.
    assert dram_activation_bytes(residual_block(), 8) == 8 * 7 * E * FP32_BYTES
    # ... while the chain's intermediate tensors (8 · 2E · 4 B = 1 MiB) still fit
    assert dram_activation_bytes(conv_chain(3), 8) == 8 * (E + E) * FP32_BYTES


def test_input_and_output_always_reach_dram():
    # even with a buffer large enough for everything, the input is read from and the output written to DRAM
    n = 1000
    # 1 GiB of SRAM holds all three tensors and the weights (3·n·E·4 B ≈ 197 MB) and stays below the
    # 8 GiB of DRAM (an inner level larger than an outer one is refused)
    assert 3 * n * E * FP32_BYTES + 2 * CONV_WEIGHTS * FP32_BYTES < 2**30 < 8 * 2**30
    result = timing(conv_chain(), resolve_device("reference-45nm"), "fp32", [n], 32, 32,
                    overrides={"sram.capacity_bytes": np.array([2.0**30])})
    weight_bytes = CONV_WEIGHTS * FP32_BYTES
    assert result.level_bytes[0, 0, 0] == weight_bytes + n * E * FP32_BYTES  # conv1: input
    assert result.level_bytes[0, 0, 1] == weight_bytes + n * E * FP32_BYTES  # conv2: output
    # a network of one layer has no intermediate tensor: everything goes through DRAM at any capacity
    (layer,) = simulate(linear(K, N), "reference-45nm", batch=1, precision="fp32").layers
    assert layer.level_bytes["dram"] == (LINEAR_WEIGHTS + LINEAR_ACTIVATIONS) * FP32_BYTES


def test_a_buffer_too_small_for_any_tensor_spills_everything(device_file):
    tiny_sram = {"name": "sram", "capacity_kib": 1, "bandwidth_tb_per_s": 1,
                 "stores": ["weights", "activations"], "energy_table_entry": "sram-32bit"}
    device = load_device(device_file("tiny-sram", ROUND_PEAKS, [DRAM, tiny_sram, rf(10_000)]))
    # 2E · 4 B = 128 KiB per sample > 1 KiB: the intermediate tensor is spilled at batch 1
    for layer in simulate(conv_chain(), device, batch=1, precision="fp32").layers:
        assert layer.level_bytes["dram"] == layer.level_bytes["sram"] == (CONV_WEIGHTS + 2 * E) * FP32_BYTES
        assert layer.t_memory_s == pytest.approx((CONV_WEIGHTS + 2 * E) * FP32_BYTES / DRAM_BYTES_PER_S)


def test_without_an_on_chip_buffer_every_activation_goes_through_dram(device_file):
    device = dram_only_device(device_file)
    for batch in (1, 8):
        for layer in simulate(conv_chain(), device, batch=batch, precision="fp32").layers:
            assert layer.level_bytes["dram"] == (CONV_WEIGHTS + batch * 2 * E) * FP32_BYTES


# --- a microcontroller: weights in Flash, activations in SRAM -------------------------------------


def mcu_device(device_file):
    flash = {"name": "flash", "capacity_mib": 1, "bandwidth_mb_per_s": 100, "stores": ["weights"],
             "energy_table_entry": "sram-1mib-64bit"}
    sram = {"name": "sram", "capacity_kib": 256, "bandwidth_gb_per_s": 1, "stores": ["activations"],
            "energy_table_entry": "sram-32kib-64bit"}
    register_file = {"name": "register-file", "capacity_bytes": 192, "bandwidth_gb_per_s": 4, "stores": [],
                     "energy_table_entry": "rf-32bit"}
    return load_device(device_file("mcu", {"int8_giga_ops_per_s": 1, "fp32_giga_ops_per_s": 0.5},
                                   [flash, sram, register_file]))


FLASH_BYTES_PER_S = 100e6
MCU_SRAM_BYTES_PER_S = 1e9
MCU_INT8_OPS_PER_S = 1e9


def test_mcu_reads_weights_from_flash_and_activations_from_sram(device_file):
    device = mcu_device(device_file)
    # 64 → 64 features, batch 1: 4,160 weight bytes from Flash dominate 128 activation bytes from SRAM
    (layer,) = simulate(linear(64, 64), device, precision="int8").layers
    weight_bytes = (64 * 64 + 64) * INT8_BYTES
    activation_bytes = (64 + 64) * INT8_BYTES
    assert layer.level_bytes["flash"] == weight_bytes        # no activation ever reaches Flash
    assert layer.level_bytes["sram"] == activation_bytes     # no weight passes through SRAM
    assert layer.t_memory_s == pytest.approx(weight_bytes / FLASH_BYTES_PER_S)       # 41.6 µs
    assert layer.t_compute_s == pytest.approx((2 * 64 * 64 + 64) / MCU_INT8_OPS_PER_S)  # 8.3 µs
    assert layer.bound == "memory"

    # 4 → 4 features over 4096 rows: 20 weight bytes, 32,768 activation bytes: SRAM is the slow level
    (layer,) = simulate(linear(4, 4, rows=(4096,)), device, precision="int8").layers
    assert layer.level_bytes["flash"] == (4 * 4 + 4) * INT8_BYTES
    assert layer.level_bytes["sram"] == 4096 * (4 + 4) * INT8_BYTES
    assert layer.t_memory_s == pytest.approx(4096 * 8 * INT8_BYTES / MCU_SRAM_BYTES_PER_S)  # 32.8 µs
    # weights and activations are held in different levels, each checked against its own capacity
    checks = {check.level: check for check in simulate(linear(64, 64), device, precision="int8").memory}
    assert checks["flash"].holds == "weights" and checks["flash"].required_bytes == weight_bytes
    assert checks["sram"].holds == "peak activations" and checks["sram"].required_bytes == activation_bytes


def test_stm32_weights_come_only_from_flash():
    result = simulate("mobilenet_v2", "stm32f746", precision="int8")
    for layer in result.layers:
        weight_bytes = layer.level_bytes["flash"]
        assert layer.level_bytes["sram"] + weight_bytes == layer.bytes_moved
    assert sum(layer.level_bytes["flash"] for layer in result.layers) == result.counts.params * INT8_BYTES


# --- the register file: energy, not time -----------------------------------------------------------


def test_register_file_costs_energy_but_no_memory_time(device_file):
    # the register file is as slow as the DRAM (100 GB/s) and sees far more bytes, yet does not set T_memory
    device = dram_only_device(device_file)
    result = simulate(linear(K, N), device, precision="fp32")
    (layer,) = result.layers
    rf_bytes = K * N * (32 + 32) / 8 + N * FP32_BYTES  # two operands per MAC, one per bias add
    dram_bytes = (LINEAR_WEIGHTS + LINEAR_ACTIVATIONS) * FP32_BYTES
    assert layer.level_bytes["register-file"] == rf_bytes
    assert rf_bytes > dram_bytes
    assert layer.t_memory_s == pytest.approx(dram_bytes / DRAM_BYTES_PER_S)
    rf_pj_per_byte = 1.0 / (32 / 8)  # 1 pJ per 32-bit access
    assert result.energy_breakdown_j["register-file"] == pytest.approx(rf_bytes * rf_pj_per_byte * 1e-12)
