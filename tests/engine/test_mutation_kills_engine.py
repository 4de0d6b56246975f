"""Independent checks of the engine through a sweep (issue 12, "Tests that catch real bugs"):
sweep rows against values derived by hand from the roofline formulas, not against ``simulate()``
(which runs the same kernels).

Device: ``reference-45nm`` (hardware_profiles/reference-45nm.toml: fp32 1 TOPS, fp16 2 TOPS, int8
4 TOPS; DRAM 100 GB/s; SRAM 1 MiB at 1 TB/s; no efficiency model; energy: the lecture's 45 nm
table, DRAM 640 pJ per 32-bit access = 160 pJ/byte). Network: one 4096 x 4096 linear layer with
bias, whose weights (64 MiB in fp32) cannot stay in the 1 MiB SRAM, so per batch of n:

* ``T_compute = n · (2·K·N + N) / (peak · peak_scale)``;
* ``DRAM bytes = (K·N + N) · w/8 + n · (K + N) · a/8`` (weights once per batch, input and output
  once per sample), ``T_memory = DRAM bytes / (100 GB/s · bandwidth_scale)``;
* ``latency = max(T_compute, T_memory)``, ``throughput = n / latency``;
* ``energy_dram_j = DRAM bytes · 160 pJ · energy_per_byte_scale``.
"""

from __future__ import annotations

import itertools

import pytest

from simulator.model.graph import NetworkBuilder
from simulator.sweeps import sweep

K = N = 4096
WEIGHTS = K * N + N
OPS = 2 * K * N + N
ACTIVATIONS = K + N
PEAK = {"fp32": 1e12, "fp16": 2e12, "int8": 4e12}
BITS = {"fp32": 32, "fp16": 16, "int8": 8}
DRAM_BYTES_PER_S = 100e9
DRAM_J_PER_BYTE = 640e-12 / 4


def linear():
    net = NetworkBuilder("linear4096", (K,))
    net.linear(net.input, N, bias=True)
    return net.build()


def test_sweep_rows_equal_the_hand_derived_roofline():
    batches, precisions = [1, 8, 64, 1024], ["fp32", "fp16", "int8"]
    bandwidth_scales, peak_scales, energy_scales = [0.5, 2.0], [0.25, 1.0], [1.0, 3.0]
    table = sweep(linear(), "reference-45nm", batches=batches, precisions=precisions,
                  overrides={"dram.bandwidth_scale": bandwidth_scales, "peak_scale": peak_scales,
                             "dram.energy_per_byte_scale": energy_scales}, ideal=True)
    expected = list(itertools.product(batches, precisions, bandwidth_scales, peak_scales, energy_scales))
    assert len(table) == len(expected)
    bounds = set()
    for row, (n, precision, bw, peak, energy) in zip(table.itertuples(), expected, strict=True):
        assert (row.batch, row.precision) == (n, precision)
        byte = BITS[precision] / 8
        dram_bytes = WEIGHTS * byte + n * ACTIVATIONS * byte
        t_compute = n * OPS / (PEAK[precision] * peak)
        t_memory = dram_bytes / (DRAM_BYTES_PER_S * bw)
        assert row.t_compute_s == pytest.approx(t_compute, rel=1e-12)
        assert row.t_memory_s == pytest.approx(t_memory, rel=1e-12)
        assert row.latency_s == pytest.approx(max(t_compute, t_memory), rel=1e-12)
        assert row.throughput_per_s == pytest.approx(n / max(t_compute, t_memory), rel=1e-12)
        assert row.energy_dram_j == pytest.approx(dram_bytes * DRAM_J_PER_BYTE * energy, rel=1e-12)
        assert row.energy_per_sample_j == pytest.approx(row.energy_j / n, rel=1e-12)
        assert row.macs == n * K * N and row.params == WEIGHTS
        assert row.model_size_bytes == WEIGHTS * byte
        assert row.bound == ("memory" if t_memory > t_compute else "compute")
        bounds.add(row.bound)
    assert bounds == {"memory", "compute"}  # both sides of the ridge are checked


def test_an_absolute_override_replaces_the_figure_and_a_scale_multiplies_it():
    # 250 GB/s given absolutely equals 2.5 x the profile's 100 GB/s; both: T_memory = bytes / 250 GB/s
    absolute = sweep(linear(), "reference-45nm", precisions=["fp32"], ideal=True,
                     overrides={"dram.bandwidth_gb_per_s": [250]})
    scaled = sweep(linear(), "reference-45nm", precisions=["fp32"], ideal=True,
                   overrides={"dram.bandwidth_scale": [2.5]})
    dram_bytes = (WEIGHTS + ACTIVATIONS) * 4
    for table in (absolute, scaled):
        assert table["t_memory_s"].iloc[0] == pytest.approx(dram_bytes / 250e9, rel=1e-12)


# --- the efficiency model, by hand -----------------------------------------------------------------
# latency = max(T_compute / compute_fraction, T_memory / bandwidth_fraction) + overhead_s per layer
# that does work (simulator/engine/efficiency.py); a class without an entry uses ``default``; a view
# (Flatten) does no work and is charged nothing.


def linear_then_view():
    net = NetworkBuilder("linear_view", (K,))
    net.flatten(net.linear(net.input, N, bias=True))
    return net.build()


def with_efficiency(classes, kernel_overhead_s=0.0):
    from simulator.hardware.device import EfficiencyModel
    from simulator.hardware.loader import resolve_device

    model = EfficiencyModel(source="test", classes=classes, kernel_overhead_s=kernel_overhead_s)
    return resolve_device("reference-45nm").model_copy(update={"efficiency": model})


@pytest.mark.parametrize("entry", ["default", "gemm"])
def test_the_efficiency_fractions_and_overhead_apply_as_the_formula_says(entry):
    from simulator.hardware.device import KernelEfficiency

    fractions = {entry: KernelEfficiency(compute_fraction=0.5, bandwidth_fraction=0.25, overhead_s=3e-6)}
    if entry == "gemm":  # the class's own entry wins over a default
        fractions["default"] = KernelEfficiency(compute_fraction=0.9, bandwidth_fraction=0.9, overhead_s=1e-3)
    device = with_efficiency(fractions)
    table = sweep(linear_then_view(), device, batches=[1, 1024], precisions=["fp32"])
    ideal = sweep(linear_then_view(), device, batches=[1, 1024], precisions=["fp32"], ideal=True)
    for n, row, pure in zip([1, 1024], table.itertuples(), ideal.itertuples(), strict=True):
        dram_bytes = (WEIGHTS + n * ACTIVATIONS) * 4
        t_compute, t_memory = n * OPS / 1e12, dram_bytes / DRAM_BYTES_PER_S
        # one layer does work (the linear), the view adds nothing
        assert row.latency_s == pytest.approx(max(t_compute / 0.5, t_memory / 0.25) + 3e-6, rel=1e-12)
        assert pure.latency_s == pytest.approx(max(t_compute, t_memory), rel=1e-12)  # --ideal: pure roofline


def test_a_kernel_overhead_is_charged_to_each_working_layer_only():
    from simulator.hardware.device import KernelEfficiency

    device = with_efficiency({"default": KernelEfficiency(compute_fraction=1, bandwidth_fraction=1,
                                                          overhead_s=0)}, kernel_overhead_s=5e-6)
    (row,) = sweep(linear_then_view(), device, precisions=["fp32"]).itertuples()
    dram_bytes = (WEIGHTS + ACTIVATIONS) * 4
    assert row.latency_s == pytest.approx(max(OPS / 1e12, dram_bytes / DRAM_BYTES_PER_S) + 5e-6, rel=1e-12)


# --- the override grammar's units, by definition ------------------------------------------------------


@pytest.mark.parametrize(("key", "si_key", "si"), [
    ("sram.capacity_kb", "sram.capacity_bytes", 3e3), ("sram.capacity_kib", "sram.capacity_bytes", 3 * 1024),
    ("sram.capacity_mb", "sram.capacity_bytes", 3e6), ("sram.capacity_mib", "sram.capacity_bytes", 3 * 2**20),
    ("sram.capacity_gb", "sram.capacity_bytes", 3e9), ("sram.capacity_gib", "sram.capacity_bytes", 3 * 2**30),
    ("dram.bandwidth_mb_per_s", "dram.bandwidth_bytes_per_s", 3e6),
    ("dram.bandwidth_gb_per_s", "dram.bandwidth_bytes_per_s", 3e9),
    ("dram.bandwidth_tb_per_s", "dram.bandwidth_bytes_per_s", 3e12),
    ("dram.energy_per_byte_pj", "dram.energy_per_byte_pj", 3.0),
    ("peak_giga_ops_per_s", "peak_ops_per_s", 3e9), ("peak_tera_ops_per_s", "peak_ops_per_s", 3e12),
])
def test_override_keys_convert_to_si_by_their_unit(key: str, si_key: str, si: float):
    from simulator.engine.configs import ACCEPTED_KEYS, parse_overrides

    (override,) = parse_overrides({key: [3]})
    assert override.key == si_key and not override.scale
    assert override.values[0] == pytest.approx(si, rel=1e-15)
    listed = key.replace(key.split(".")[0] + ".", "<level>.") if "." in key else key
    assert listed in ACCEPTED_KEYS


def test_an_energy_per_byte_override_sets_the_dram_energy():
    (row,) = sweep(linear(), "reference-45nm", precisions=["fp32"], ideal=True,
                   overrides={"dram.energy_per_byte_pj": [100.0]}).itertuples()
    assert row.energy_dram_j == pytest.approx((WEIGHTS + ACTIVATIONS) * 4 * 100e-12, rel=1e-12)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"dram.bandwidth_bytes_per_s": [0.0]}, "greater than 0|positive|must be"),
    ({"register-file.bandwidth_scale": [1.0, 0.01]}, "'register-file' slower than 'sram'"),
    ({"sram.capacity_scale": [1.0, 10_000.0]}, "'sram' larger than 'dram'"),
])
def test_overrides_that_break_the_level_order_or_are_not_positive_are_errors(overrides, message):
    # reference-45nm: DRAM 8 GiB at 100 GB/s, SRAM 1 MiB at 1 TB/s, register file 10 TB/s; 0.01 x
    # 10 TB/s = 100 GB/s is slower than the SRAM, 10^4 x 1 MiB larger than the DRAM
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError, match=message):
        sweep(linear(), "reference-45nm", precisions=["fp32"], overrides=overrides)
