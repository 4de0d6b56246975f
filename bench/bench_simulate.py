"""Time simulating ResNet-50 on Jetson AGX Orin in-process, as ratios to baselines measured in the same run.

Baselines: building the ResNet-50 graph (what any by-name simulation starts with), and counting it
(``count_network``, the hardware-independent pass, which is what ``simulator.count`` runs on a
prebuilt Network; by name it builds the graph first). Target (issue 21): ``simulate`` warm at most
3x ``count`` of the same network, prebuilt and by name alike. ``simulate`` by name rebuilds the graph, finds
its cached workload (per-layer arrays, residency thresholds), runs the roofline and energy kernels
for one configuration and counts the inference view for the report; with a prebuilt Network it
skips the build. The last line evaluates 512 configurations in one call of the vectorized kernels,
the way a sweep does.

    python bench/bench_simulate.py
"""

from __future__ import annotations

import time
import timeit

import numpy as np

import simulator
from simulator.catalog import NETWORKS
from simulator.engine.configs import hardware_arrays
from simulator.engine.energy import layer_energy
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.hardware.loader import resolve_device
from simulator.model.counts import count_network
from simulator.simulation import simulate


def best_of(function, repeat: int = 7, number: int = 20) -> float:
    """Best time of one call, over ``repeat`` runs of ``number`` calls [s]."""
    function()  # warm caches (device profile, workload)
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def paired_best(first, second, rounds: int = 15, number: int = 20) -> tuple[float, float]:
    """Best CPU time of one call of each function, the two timed in turn, ``rounds`` times: a load
    that comes and goes on a shared machine then slows both alike, and time spent waiting for a
    core is not counted [s]."""
    first(), second()
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, function in enumerate((first, second)):
            timer = timeit.Timer(function, timer=time.process_time)
            best[k] = min(best[k], timer.timeit(number=number) / number)
    return best[0], best[1]


def main() -> None:
    device = resolve_device("jetson-agx-orin")
    network = NETWORKS["resnet50"]()
    # first, so that `network` itself keys the engine's caches (inference view, counts, workload): an
    # equal network built anew (by name) finds the same entries but is compared node by node each time
    count_s, prebuilt_s = paired_best(lambda: count_network(network),
                                      lambda: simulate(network, device, batch=1, precision="int8"))
    count_by_name_s, by_name_s = paired_best(
        lambda: simulator.count("resnet50"),
        lambda: simulate("resnet50", "jetson-agx-orin", batch=1, precision="int8"))
    ratios = (f"prebuilt {prebuilt_s / count_s:.2f}x, by name {by_name_s / count_by_name_s:.2f}x")
    build_s = best_of(lambda: NETWORKS["resnet50"]())
    count_s = best_of(lambda: count_network(network))
    by_name_s = best_of(lambda: simulate("resnet50", "jetson-agx-orin", batch=1, precision="int8"))
    prebuilt_s = best_of(lambda: simulate(network, device, batch=1, precision="int8"))
    workload_s = best_of(lambda: build_workload(network), repeat=5, number=5)

    configs = 512
    batches = np.arange(1.0, configs + 1)
    bits = np.full(configs, 8.0)
    hardware = hardware_arrays(device, ["int8"] * configs)
    workload = build_workload(network)

    def sweep() -> None:
        timing = roofline_timing(workload, hardware, batches, bits, bits)
        layer_energy(workload, hardware, timing, batches)

    sweep_s = best_of(sweep, repeat=5, number=5)

    print(f"resnet50 on jetson-agx-orin, int8, batch 1 ({len(network.nodes)} nodes)")
    print(f"  baseline: build the graph          {build_s * 1e3:8.3f} ms")
    print(f"  baseline: count_network            {count_s * 1e3:8.3f} ms")
    rows = [("simulate by name", by_name_s), ("simulate, prebuilt network", prebuilt_s),
            ("build_workload (cached by simulate)", workload_s),
            (f"sweep kernels, {configs} configs", sweep_s)]
    for label, seconds in rows:
        print(f"  {label:<35}{seconds * 1e3:8.3f} ms  ({seconds / build_s:5.2f}x build, "
              f"{seconds / count_s:5.2f}x count)")
    print(f"  sweep per configuration            {sweep_s / configs * 1e6:8.3f} µs")
    print(f"  simulate / count of the same network, CPU time, timed in turn (target <= 3x): {ratios}")


if __name__ == "__main__":
    main()
