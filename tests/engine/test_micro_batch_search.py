"""Micro-batching runs only the plans that can win (issue 21), and picks what the exhaustive search picks.

:func:`simulator.engine.evaluate._run_batches` tries passes of ``m = 1, 2, 4, ...`` samples; a plan of
``q = n // m`` passes runs only where its lower bound (:class:`simulator.engine.evaluate._PlanFloor`:
``Σ_layers max(n·c, q·M(m)) + q·o``, compute, the weights read once per pass and the activations the
residency rule spills at ``m`` samples, overheads; first from the network's sums alone, a weaker
bound) is below the best latency so far. Checked here:

* the bound never exceeds the plan's latency as the engine computes it (``q·L(m) + L(n − q·m)``),
  nor the first bound the per-layer one,
  for every power of two below the batch, in the ideal and the expected model, with the weights
  and activations in one memory and in two;
* every array of the evaluation (totals, per-layer timing and energy, the micro-batch) equals the
  exhaustive search's exactly (every plan run for every configuration);
* the search runs fewer configuration-passes than the exhaustive one.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import simulator.engine.evaluate as engine
from simulator.catalog import build_network
from simulator.engine.configs import hardware_arrays
from simulator.engine.overrides import override_arrays, parse_overrides
from simulator.engine.workload import simulated_workload
from simulator.hardware.loader import resolve_device

BATCHES = (2, 3, 8, 64, 100, 256, 1000, 1024)
PRECISIONS = ("fp16", "int8")
BITS = {"fp16": 16.0, "int8": 8.0}


def split_stores_device():
    """H100 NVL with its weights in DRAM and its activations in L2 (L1 the on-chip buffer): the
    weight store and the activation store are two levels."""
    device = resolve_device("h100-nvl")
    stores = {"dram": frozenset({"weights"}), "l2": frozenset({"weights", "activations"}),
              "l1": frozenset({"activations"})}
    levels = tuple(level.model_copy(update={"stores": stores.get(level.name, level.stores)})
                   for level in device.memory_levels)
    return device.model_copy(update={"memory_levels": levels})


def configurations(device, scales=(0.25, 1.0, 2.5)):
    """(precisions, batches, bits, SI overrides) of BATCHES x PRECISIONS x DRAM bandwidth scales."""
    combos = list(itertools.product(BATCHES, PRECISIONS, scales))
    precisions = [p for _, p, _ in combos]
    batches = np.array([float(n) for n, _, _ in combos])
    bits = np.array([BITS[p] for p in precisions])
    parsed = parse_overrides({"dram.bandwidth_scale": [s for _, _, s in combos]})
    si = override_arrays(device, parsed, precisions, [np.array([s for _, _, s in combos])])
    return precisions, batches, bits, si


CASES = [("resnet50", "h100-sxm", "fused"), ("resnet50", "jetson-agx-orin", "fused"),
         ("mobilenet_v2", "a100-sxm-40gb", "fused"), ("vit_b_16", "jetson-agx-orin", "materialized"),
         ("resnet18", "split-stores", "fused")]


def setup(network, device_name, attention):
    device = split_stores_device() if device_name == "split-stores" else resolve_device(device_name)
    return simulated_workload(build_network(network), True, attention), device


@pytest.mark.parametrize("ideal", [False, True], ids=["expected", "ideal"])
@pytest.mark.parametrize(("network", "device_name", "attention"), CASES)
def test_the_bound_never_exceeds_the_plan_latency(network, device_name, attention, ideal):
    workload, device = setup(network, device_name, attention)
    precisions, batches, bits, si = configurations(device)
    hardware = hardware_arrays(device, precisions, si, ideal)
    floor = engine._PlanFloor(workload, hardware, bits, bits)
    index = np.arange(len(batches))
    checked = 0
    for j in range(int(np.log2(batches.max()))):
        m = 2.0 ** j
        rows = index[batches > m]
        sub = engine._take(hardware, rows, len(batches))
        q, rest = np.floor(batches[rows] / m), batches[rows] - np.floor(batches[rows] / m) * m
        passes, _ = engine._run(workload, sub, np.full(len(rows), m), bits[rows], bits[rows], None)
        remainder, _ = engine._run(workload, sub, np.maximum(rest, 1.0), bits[rows], bits[rows], None)
        plan_s = q * passes.latency_s.sum(axis=1) + np.where(rest > 0, remainder.latency_s.sum(axis=1), 0.0)
        bound_s = floor.bound_s(rows, batches[rows], m)
        assert np.all(bound_s <= plan_s * (1 + 1e-12)), (m, (bound_s / plan_s).max())
        # the first, cheaper bound (the network's sums) lies below the per-layer one
        assert np.all(floor.quick_bound_s(rows, batches[rows], m) <= bound_s * (1 + 1e-12))
        checked += len(rows)
    assert checked >= len(batches) * 2  # every configuration, at several plans


def exhaustive(monkeypatch):
    """Every plan runs for every configuration, as before the bound."""
    monkeypatch.setattr(engine._PlanFloor, "can_win",
                        lambda self, index, n, m, best: np.ones(len(index), bool))


def evaluate_all(workload, device, ideal):
    precisions, batches, bits, si = configurations(device, scales=tuple(np.geomspace(0.25, 2.5, 6)))
    return engine.evaluate(workload, device, precisions, batches, bits, bits, si, ideal)


@pytest.mark.parametrize("ideal", [False, True], ids=["expected", "ideal"])
@pytest.mark.parametrize(("network", "device_name", "attention"), CASES)
def test_the_search_picks_what_the_exhaustive_search_picks(network, device_name, attention, ideal,
                                                            monkeypatch):
    workload, device = setup(network, device_name, attention)
    searched = evaluate_all(workload, device, ideal)
    exhaustive(monkeypatch)
    every = evaluate_all(workload, device, ideal)
    assert searched.totals.columns().keys() == every.totals.columns().keys()
    for key, value in every.totals.columns().items():
        assert np.array_equal(getattr(searched.totals, key), value), key
    for part in ("timing", "energy"):
        for name, value in vars(getattr(every, part)).items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(getattr(getattr(searched, part), name), value), (part, name)
    if ideal:  # micro-batching wins somewhere (with the expected model's overheads it rarely does here)
        assert (every.totals.micro_batch < every.batch).any()


def test_the_search_runs_fewer_passes_than_the_exhaustive_search(monkeypatch):
    workload, device = setup("resnet50", "h100-sxm", "fused")
    passes: list[int] = []
    run = engine._run

    def counting(workload, hardware, batch, *bits):
        passes.append(len(batch))
        return run(workload, hardware, batch, *bits)

    monkeypatch.setattr(engine, "_run", counting)
    evaluate_all(workload, device, ideal=False)
    searched = sum(passes)
    passes.clear()
    exhaustive(monkeypatch)
    evaluate_all(workload, device, ideal=False)
    # the first pass runs every configuration whole in both; the exhaustive search then runs each
    # configuration that spills at every power of two below its batch
    assert searched < sum(passes) / 2, (searched, sum(passes))


@pytest.mark.parametrize("ideal", [False, True], ids=["expected", "ideal"])
@pytest.mark.parametrize(("network", "device_name", "attention"), CASES)
def test_a_sweep_s_totals_pick_what_the_exhaustive_search_picks(network, device_name, attention, ideal,
                                                                 monkeypatch):
    """:func:`simulator.engine.evaluate.evaluate_totals` (what a sweep runs: the first pass once per
    distinct row, the plans' bound per distinct row of it) against :func:`evaluate` with every plan
    run for every configuration."""
    workload, device = setup(network, device_name, attention)
    precisions, batches, bits, si = configurations(device, scales=tuple(np.geomspace(0.25, 2.5, 6)))
    searched, _ = engine.evaluate_totals(workload, device, precisions, batches, bits, bits, si, ideal)
    exhaustive(monkeypatch)
    every = engine.evaluate(workload, device, precisions, batches, bits, bits, si, ideal).totals
    assert searched.columns().keys() == every.columns().keys()
    for key, value in every.columns().items():
        assert np.array_equal(getattr(searched, key), value), key
