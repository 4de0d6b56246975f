"""A sweep's totals go through the engine in cache-sized blocks (issue 21) and equal one evaluation's.

:func:`simulator.engine.evaluate.evaluate_totals` splits C configurations into blocks of at most
``BLOCK_ELEMENTS`` ``(configs, levels, layers)`` elements; each configuration's totals depend on it
alone, so the concatenated totals equal :func:`~simulator.engine.evaluate.evaluate`'s on all C at once,
exactly, whatever the block size (one configuration, a few, all).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import simulator.engine.evaluate as engine
from simulator.catalog import build_network
from simulator.engine.overrides import override_arrays, parse_overrides
from simulator.engine.workload import simulated_workload
from simulator.hardware.loader import resolve_device
from simulator.precision import bits_of


@pytest.mark.parametrize("block_configs", [1, 7, 64, 10**6])
@pytest.mark.parametrize("device_name", ["jetson-agx-orin", "stm32h743"])
def test_blocks_of_any_size_give_one_evaluation_s_totals(device_name, block_configs, monkeypatch):
    device = resolve_device(device_name)
    network = "resnet18" if device_name == "jetson-agx-orin" else "mobilenet_v2"
    workload = simulated_workload(build_network(network), True, "fused")
    combos = list(itertools.product((1, 3, 16, 256), device.precisions[:2], (0.25, 0.5, 1.0)))
    precisions = [p for _, p, _ in combos]
    batch = np.array([float(n) for n, _, _ in combos])
    bits = np.array([float(bits_of(p)) for p in precisions])
    key = "dram" if device_name == "jetson-agx-orin" else "flash"
    parsed = parse_overrides({f"{key}.bandwidth_scale": [s for _, _, s in combos]})
    si = override_arrays(device, parsed, precisions, [np.array([s for _, _, s in combos])])
    whole = engine.evaluate(workload, device, precisions, batch, bits, bits, si, False)
    # blocks of `block_configs` configurations
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", block_configs * len(device.memory_levels) * workload.layers)
    totals, names = engine.evaluate_totals(workload, device, precisions, batch, bits, bits, si, False)
    assert names == whole.hardware.level_names
    assert totals.columns().keys() == whole.totals.columns().keys()
    for name, values in whole.totals.columns().items():
        block = getattr(totals, name)
        assert values.shape == block.shape and np.array_equal(block, values), name
