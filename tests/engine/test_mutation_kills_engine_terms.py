"""The expected model's per-layer times and the expected experts of a mixture of experts, by hand
(issue 12).

* Efficiency fractions (:func:`simulator.engine.timing.roofline_timing`): a layer's reported
  compute time is ``ops / (peak · compute_fraction · fill)`` and its time at a level
  ``bytes / (bandwidth · bandwidth_fraction)``.
* Fill of a parallel device (:func:`simulator.engine.efficiency.fill_fraction`):
  ``fill = n·outputs / (waves·units·tile)``, ``waves = ceil(ceil(n·outputs / tile) / units)``;
  1 where the workload gives no output sizes.
* Expected experts (:meth:`simulator.engine.workload.Workload.expected_experts`):
  ``E·(1 − (1 − k/E)^T)`` with ``T = batch · routed_tokens_per_sample``.

Device: ``reference-45nm`` (fp32 1 TOPS, DRAM 100 GB/s) with an efficiency model set here; network:
one bias-free 4096 → 4096 linear (weights 64 MiB in fp32, DRAM-resident).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from simulator.engine.evaluate import evaluate
from simulator.engine.workload import build_workload
from simulator.hardware.device import EfficiencyModel, KernelEfficiency
from simulator.hardware.loader import resolve_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

K = N = 4096
OPS = 2 * K * N
COMPUTE_FRACTION, BANDWIDTH_FRACTION = 0.5, 0.25


def linear():
    net = NetworkBuilder("linear4096", (K,))
    net.linear(net.input, N, bias=False)
    return net.build()


def device(units=None, tile=None):
    model = EfficiencyModel(source="test", classes={"gemm": KernelEfficiency(
        compute_fraction=COMPUTE_FRACTION, bandwidth_fraction=BANDWIDTH_FRACTION)},
        parallel_units=units, tile_outputs={} if tile is None else {"gemm": tile})
    return resolve_device("reference-45nm").model_copy(update={"efficiency": model})


def test_the_reported_compute_and_level_times_are_derated_by_the_fractions():
    (layer,) = simulate(linear(), device(), batch=1, precision="fp32").layers
    dram_bytes = (K * N + K + N) * 4  # weights, input and output (fp32)
    assert layer.t_compute_s == pytest.approx(OPS / 1e12 / COMPUTE_FRACTION, rel=1e-12)
    assert layer.level_time_s["dram"] == pytest.approx(dram_bytes / 100e9 / BANDWIDTH_FRACTION, rel=1e-12)


@pytest.mark.parametrize("n, units, tile", [(1, 3, 1024), (1, 8, 1024), (3, 5, 2048)])
def test_a_partial_wave_derates_the_compute_time_by_its_fill(n, units, tile):
    # n = 1, 3 units, tiles of 1024: 4 tiles in 2 waves of 3, fill 4096 / 6144 = 2/3; 8 units: 4 of
    # 8 busy, fill 1/2; n = 3, 5 units, tiles of 2048: 6 tiles in 2 waves, fill 12288 / 20480 = 3/5
    useful = n * N
    fill = useful / (math.ceil(math.ceil(useful / tile) / units) * units * tile)
    assert fill in (2 / 3, 1 / 2, 3 / 5)
    (layer,) = simulate(linear(), device(units, tile), batch=n, precision="fp32").layers
    assert layer.t_compute_s == pytest.approx(n * OPS / 1e12 / (COMPUTE_FRACTION * fill), rel=1e-12)


def test_without_output_sizes_a_parallel_device_is_filled():
    work = dataclasses.replace(build_workload(linear()), output_elements=None)
    bits = np.array([32.0])
    ev = evaluate(work, device(3, 1024), ["fp32"], np.array([1.0]), bits, bits)
    assert ev.timing.t_compute_s[0, 0] == pytest.approx(OPS / 1e12 / COMPUTE_FRACTION, rel=1e-12)


def test_expected_experts_count_every_routed_token_of_the_batch():
    work = dataclasses.replace(build_workload(linear()), num_experts=8, experts_per_token=2,
                               routed_tokens_per_sample=4)
    # 2 samples of 4 routed tokens: T = 8 tokens, each missing a given expert with chance 3/4
    assert work.expected_experts(np.array([2.0]))[0] == pytest.approx(8 * (1 - 0.75**8), rel=1e-12)
    # one sample of 4 tokens: 8·(1 − 0.75⁴) = 5.47 experts
    assert work.expected_experts(np.array([1.0]))[0] == pytest.approx(8 * (1 - 0.75**4), rel=1e-12)


def test_each_kernel_of_a_layer_pays_the_kernel_overhead():
    # Layer.kernel_count: self-attention launches its 2 projections and 1 fused attention kernel,
    # so on a parallel device a 7 µs per-kernel overhead adds 3 x 7 µs to its latency
    net = NetworkBuilder("attention", (16, 64))
    net.self_attention(net.input, 4)

    def latency(kernel_overhead_s):
        model = EfficiencyModel(source="test", classes={"default": KernelEfficiency()}, parallel_units=4,
                                kernel_overhead_s=kernel_overhead_s)
        on = resolve_device("reference-45nm").model_copy(update={"efficiency": model})
        return simulate(net.build(), on, precision="fp32").latency_s

    assert latency(7e-6) - latency(0.0) == pytest.approx(3 * 7e-6, rel=1e-9)


@pytest.mark.parametrize("make", ["override", "timing", "workload"])
def test_the_engines_values_are_immutable(make):
    # STYLE.md rule 3: data is immutable
    from simulator.engine.configs import parse_overrides

    work = build_workload(linear())
    bits = np.array([32.0])
    value = {"override": lambda: parse_overrides({"peak_scale": [2.0]})[0],
             "timing": lambda: evaluate(work, device(), ["fp32"], np.array([1.0]), bits, bits).timing,
             "workload": lambda: work}[make]()
    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


@pytest.mark.parametrize("written", ["1e-400", "1e400"])
def test_an_override_that_underflows_or_overflows_a_float_is_refused(written):
    # a decimal string is read exactly (configs._to_si) but must end as a finite float > 0:
    # 1e-400 rounds to 0 and 1e400 to infinity, so bandwidth x scale would be 0 or inf
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError, match="it must be a finite number greater than 0"):
        simulate(linear(), "reference-45nm", precision="fp32", overrides={"dram.bandwidth_scale": written})
