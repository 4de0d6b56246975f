"""Time a vectorized sweep of ResNet-50 against looping :func:`simulator.simulation.simulate`.

The sweep: 2 devices x 11 batches (1..1024) x 3 precisions x 160 DRAM bandwidth scales (0.25x to
3.5x, log-spaced: an override may not make DRAM faster than the L2, 3.7x on the H100) = 10,560
configurations. The loop's total is estimated from a random sample of those configurations, each
simulated alone on a device copy with the scaled bandwidth (the network is built once and passed
in, so the loop is not charged for building the graph). The sampled rows are also checked to equal
the sweep exactly. Baselines in the same process, whose tables must equal the sweep's: the same
sweep with each chunk of up to 16,384 configurations through the engine in one block (before
cache-sized blocks, :data:`simulator.engine.evaluate.BLOCK_ELEMENTS`), and that with every
micro-batching plan run for every configuration that spills as well (the exhaustive search, before
plans were bounded, :class:`simulator.engine.evaluate._PlanFloor`); and the tight reference kernel of
the same roofline arithmetic on as many configurations (:func:`ci_ratios.reference_kernel`, timed in
turn with the sweep: issue 21 asks for 60% of its rate, or 5·10⁵ configurations/s). Times are CPU time
of this process (the sweep runs in it, without workers), so that a loaded machine slows every figure
alike.

Then each product alone (ResNet-50 on each device, on both; AlexNet on the Orin, 10,000
configurations) against the reference kernel on as many configurations, timed in turn.

    python bench/bench_sweep.py [--sample 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence

import numpy as np
from ci_ratios import reference_kernel

import simulator.engine.evaluate as engine
from simulator.catalog import build_network
from simulator.hardware.device import Device
from simulator.hardware.loader import resolve_device
from simulator.simulation import simulate
from simulator.sweeps import sweep

DEVICES = ("jetson-agx-orin", "h100-sxm")
BATCHES = tuple(2**k for k in range(11))
PRECISIONS = ("fp32", "fp16", "int8")
SCALES = tuple(np.geomspace(0.25, 3.5, 160))


def with_dram_scale(device: Device, scale: float) -> Device:
    levels = tuple(lv.model_copy(update={"bandwidth_bytes_per_s": lv.bandwidth_bytes_per_s * scale})
                   if lv.name == "dram" else lv for lv in device.memory_levels)
    return device.model_copy(update={"memory_levels": levels})


def _kernel_arguments(network, configs: int) -> tuple:
    """The reference kernel's per-layer arrays of ``network`` and ``configs`` random configurations
    (as bench/ci_ratios.py draws them)."""
    from simulator.engine.workload import simulated_workload

    w = simulated_workload(network, True)
    rng = np.random.default_rng(0)
    bounds = ((1, 1024), (0.5, 4), (0.5, 4), (1e12, 1e15), (1e11, 3e12), (1e-12, 5e-12), (1e-11, 1e-10))
    return (2 * w.macs + w.elementwise_ops, w.macs, w.weight_elements, w.activation_elements,
            *(rng.uniform(low, high, configs) for low, high in bounds))


def versus_kernel(name: str, device_names: Sequence[str], batches: Sequence[int], precisions: Sequence[str],
                  scales: Sequence[float], repeat: int) -> str:
    """One line: the sweep of ``name`` over that product and the reference kernel on as many
    configurations, timed in turn ``repeat`` times (CPU time): configurations/s and the ratio of the
    kernel's time to the sweep's, of the least times and of the medians."""
    network = build_network(name)
    devices = [resolve_device(device) for device in device_names]

    def run():
        return sweep(network, devices, batches=batches, precisions=precisions,
                     overrides={"dram.bandwidth_scale": scales}, progress=None)

    configs = len(run())  # also warms the workload cache
    kernel_args = _kernel_arguments(network, configs)
    sweep_s, kernel_s = [], []
    for _ in range(repeat):
        start = time.process_time()
        run()
        sweep_s.append(time.process_time() - start)
        start = time.process_time()
        reference_kernel(*kernel_args)
        kernel_s.append(time.process_time() - start)
    best, middle = min(sweep_s), statistics.median(sweep_s)
    return (f"  {name} on {'+'.join(device_names)}, {configs:,} configurations: {configs / best:,.0f} "
            f"configs/s (median {configs / middle:,.0f}); of the kernel's rate {min(kernel_s) / best:.2f} "
            f"(medians {statistics.median(kernel_s) / middle:.2f}; kernel {configs / min(kernel_s):,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200, help="configurations simulated one by one")
    parser.add_argument("--repeat", type=int, default=3, help="sweep timings (the best is reported)")
    args = parser.parse_args()

    network = build_network("resnet50")
    devices = [resolve_device(name) for name in DEVICES]
    overrides = {"dram.bandwidth_scale": SCALES}
    sweep(network, devices, batches=BATCHES[:1], precisions=PRECISIONS[:1])  # warm imports and caches
    sweep_s, kernel_s = [], float("inf")
    kernel_args = _kernel_arguments(network, len(DEVICES) * len(BATCHES) * len(PRECISIONS) * len(SCALES))
    for _ in range(args.repeat):  # the sweep and the reference kernel in turn
        start = time.process_time()
        table = sweep(network, devices, batches=BATCHES, precisions=PRECISIONS, overrides=overrides,
                      progress=None)
        sweep_s.append(time.process_time() - start)
        start = time.process_time()
        reference_kernel(*kernel_args)
        kernel_s = min(kernel_s, time.process_time() - start)
    configs = len(table)
    assert configs == len(DEVICES) * len(BATCHES) * len(PRECISIONS) * len(SCALES)

    def timed_sweep() -> tuple[float, object]:
        """The best time of the same sweep as it runs now, and its table."""
        best_s, result = float("inf"), None
        for _ in range(args.repeat):
            start = time.process_time()
            result = sweep(network, devices, batches=BATCHES, precisions=PRECISIONS, overrides=overrides,
                           progress=None)
            best_s = min(best_s, time.process_time() - start)
        return best_s, result

    bounded, block_elements = engine._PlanFloor.can_win, engine.BLOCK_ELEMENTS
    try:
        engine.BLOCK_ELEMENTS = 10**12  # one block per chunk of the sweep
        one_block_s, one_block = timed_sweep()
        engine._PlanFloor.can_win = lambda self, index, n, m, best: np.ones(len(index), bool)
        every_plan_s, every_plan = timed_sweep()
    finally:
        engine._PlanFloor.can_win, engine.BLOCK_ELEMENTS = bounded, block_elements
    assert every_plan.equals(table) and one_block.equals(table)

    rows = random.Random(0).sample(range(configs), args.sample)
    by_name = {device.name: device for device in devices}
    simulate(network, devices[0])  # warm the workload cache, as the sweep was warmed
    start = time.process_time()
    results = []
    for i in rows:
        row = table.iloc[i]
        device = with_dram_scale(by_name[row["device"]], row["dram.bandwidth_scale"])
        results.append(simulate(network, device, batch=int(row["batch"]), precision=row["precision"]))
    loop_s = (time.process_time() - start) / args.sample
    for i, result in zip(rows, results, strict=True):
        assert table.iloc[i]["latency_s"] == result.latency_s and table.iloc[i]["energy_j"] == result.energy_j

    best_s = min(sweep_s)
    print(f"resnet50: {len(DEVICES)} devices x {len(BATCHES)} batches x {len(PRECISIONS)} precisions x "
          f"{len(SCALES)} DRAM bandwidth scales = {configs:,} configurations")
    print(f"  sweep              {best_s:8.3f} s  (best of {args.repeat}: "
          f"{', '.join(f'{s:.3f}' for s in sweep_s)})  {configs / best_s:,.0f} configs/s")
    print(f"  reference kernel   {kernel_s:8.3f} s  {configs / kernel_s:,.0f} configs/s: the sweep runs at "
          f"{kernel_s / best_s:.2f} of its rate")
    print(f"  baselines, the same table: each chunk in one block {one_block_s:.3f} s (the sweep "
          f"{one_block_s / best_s:.2f}x faster); and every micro-batching plan run {every_plan_s:.3f} s "
          f"({every_plan_s / best_s:.2f}x)")
    print(f"  simulate, one      {loop_s * 1e3:8.3f} ms  (mean of {args.sample} random configurations)")
    print(f"  simulate, looped   {loop_s * configs:8.1f} s  (estimated for all {configs:,})")
    print(f"  speed-up           {loop_s * configs / best_s:8.0f} x")
    print(f"  {args.sample} sampled rows equal their single simulation exactly")
    print("each product alone, against the reference kernel in the same run (best and median of "
          f"{args.repeat}):")
    for names in ((DEVICES[0],), (DEVICES[1],), DEVICES):
        print(versus_kernel("resnet50", names, BATCHES, PRECISIONS, SCALES, args.repeat))
    # AlexNet as bench_sweep_scale.py sweeps it: 10 batches x fp16, int8 x 500 DRAM scales
    print(versus_kernel("alexnet", ("jetson-agx-orin",), BATCHES[:10], ("fp16", "int8"),
                        tuple(np.geomspace(0.25, 4.0, 500)), args.repeat))


if __name__ == "__main__":
    main()
