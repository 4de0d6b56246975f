"""Scaling of a sweep over worker processes: the same streamed sweep with ``workers=1`` and
``workers=2``, each as a whole process, wall-clock time (issue 21: two workers at least 1.8x one).

The sweep: ResNet-50 on the Jetson AGX Orin and the H100 x batches 1..1024 x fp32/fp16/int8 x
``--scales`` DRAM bandwidth scales (default 1,600: 105,600 configurations), its chunks computed and
dropped (:func:`simulator.sweeps.iter_sweep`). Each run is a fresh ``python`` process that imports
the simulator, warms its workload cache on one configuration and then times the sweep alone; the
two runs alternate ``--repeat`` times and each keeps its least wall time. ``workers=1`` evaluates in
the process itself; ``workers=2`` in two worker processes while the parent frames the chunks.

A ratio near 2 needs two idle cores: on a loaded machine both runs wait for a core, the two-worker
one more, so the figure is only meaningful where nothing else runs (``os.getloadavg`` is printed).

    python bench/bench_workers.py [--scales 1600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def child(workers: int, scales: int) -> dict:
    from simulator.sweeps import iter_sweep

    kwargs = dict(networks="resnet50", devices=("jetson-agx-orin", "h100-sxm"),
                  batches=tuple(2**k for k in range(11)), precisions=("fp32", "fp16", "int8"),
                  overrides={"dram.bandwidth_scale": np.geomspace(0.25, 3.5, scales)})
    for _ in iter_sweep("resnet50", "h100-sxm"):  # imports and the workload cache, not timed
        pass
    start = time.perf_counter()
    rows = sum(len(table) for table in iter_sweep(**kwargs, workers=workers))
    return {"workers": workers, "rows": rows, "seconds": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, default=1600, help="DRAM bandwidth scales of the product")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (the least wall time counts)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.scales)))
        return 0
    load = os.getloadavg()
    best = {1: float("inf"), 2: float("inf")}
    rows = 0
    for _ in range(args.repeat):
        for workers in (1, 2):
            command = [sys.executable, __file__, "--child", str(workers), "--scales", str(args.scales)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            best[workers], rows = min(best[workers], run["seconds"]), run["rows"]
    print(f"resnet50 sweep, {rows:,} configurations, least wall time of {args.repeat} runs each "
          f"(load average {load[0]:.2f} on {os.cpu_count()} cores):")
    for workers in (1, 2):
        print(f"  workers={workers}: {best[workers]:7.3f} s  {rows / best[workers]:12,.0f} configs/s")
    print(f"  two workers over one: {best[1] / best[2]:.2f}x (target >= 1.8x on two idle cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
