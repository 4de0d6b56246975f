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
CPU time says where the time goes whatever the load: each run prints the parent's CPU during the
sweep (``resource.getrusage``, user + system), the workers' (the children's, counted once the pool has joined
them), and the share of the workers' CPU spent in :meth:`simulator.sweeps.SweepPlan.compute` (the
engine's arithmetic: timed in each process by a wrapper that forked workers inherit; the rest is
framing the counts, handing the chunk back, starting and stopping). With ``--scales 1600`` the whole
sweep takes about 0.2 s, so starting the pool and the parent's framing of the last chunk weigh;
``--scales 16000`` (1,056,000 configurations) shows the steady state.

    python bench/bench_workers.py [--scales 1600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _timed_compute(stats: Path):
    """SweepPlan.compute wrapped to add its thread CPU time to ``stats``/<pid> (JSON: the arithmetic's
    CPU seconds, the chunks) after each chunk, in whichever process runs it."""
    from simulator.sweeps import SweepPlan

    compute, spent = SweepPlan.compute, {"arithmetic_s": 0.0, "chunks": 0}

    def timed(self, unit, cache=None):
        start = time.thread_time()
        result = compute(self, unit, cache)
        spent["arithmetic_s"] += time.thread_time() - start
        spent["chunks"] += 1
        (stats / str(os.getpid())).write_text(json.dumps(spent))
        return result

    return timed


def _cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its children that have been waited for."""
    return tuple(usage.ru_utime + usage.ru_stime for usage in (resource.getrusage(resource.RUSAGE_SELF),
                                                               resource.getrusage(resource.RUSAGE_CHILDREN)))


def child(workers: int, scales: int) -> dict:
    from simulator.sweeps import SweepPlan, iter_sweep

    kwargs = dict(networks="resnet50", devices=("jetson-agx-orin", "h100-sxm"),
                  batches=tuple(2**k for k in range(11)), precisions=("fp32", "fp16", "int8"),
                  overrides={"dram.bandwidth_scale": np.geomspace(0.25, 3.5, scales)})
    for _ in iter_sweep("resnet50", "h100-sxm"):  # imports and the workload cache, not timed
        pass
    with tempfile.TemporaryDirectory() as folder:
        stats = Path(folder)
        SweepPlan.compute = _timed_compute(stats)  # forked workers inherit it
        before, start = _cpu_s(), time.perf_counter()
        rows = sum(len(table) for table in iter_sweep(**kwargs, workers=workers))
        seconds, after = time.perf_counter() - start, _cpu_s()
        spent = [json.loads(path.read_text()) for path in stats.iterdir()]
    own, children = after[0] - before[0], after[1] - before[1]
    arithmetic = sum(s["arithmetic_s"] for s in spent)
    return {"workers": workers, "rows": rows, "seconds": seconds, "parent_cpu_s": own,
            "workers_cpu_s": children, "arithmetic_cpu_s": arithmetic, "per_worker": spent}


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
    best: dict[int, dict] = {}
    for _ in range(args.repeat):
        for workers in (1, 2):
            command = [sys.executable, __file__, "--child", str(workers), "--scales", str(args.scales)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            if workers not in best or run["seconds"] < best[workers]["seconds"]:
                best[workers] = run
    rows = best[1]["rows"]
    print(f"resnet50 sweep, {rows:,} configurations, least wall time of {args.repeat} runs each "
          f"(load average {load[0]:.2f} on {os.cpu_count()} cores):")
    for workers in (1, 2):
        run = best[workers]
        print(f"  workers={workers}: {run['seconds']:7.3f} s  {rows / run['seconds']:12,.0f} configs/s")
    ratio = best[1]["seconds"] / best[2]["seconds"]
    print(f"  two workers over one: {ratio:.2f}x (target >= 1.8x on two idle cores)")
    print("CPU time of those runs (user + system):")
    one, two = best[1], best[2]
    print(f"  workers=1: {one['parent_cpu_s']:.3f} s, {one['arithmetic_cpu_s'] / one['parent_cpu_s']:.0%} in "
          "SweepPlan.compute")
    share = two["arithmetic_cpu_s"] / two["workers_cpu_s"] if two["workers_cpu_s"] else float("nan")
    each = ", ".join(f"{w['arithmetic_s']:.3f} s in {w['chunks']} chunks" for w in two["per_worker"])
    parent = two["parent_cpu_s"]
    print(f"  workers=2: parent {parent:.3f} s ({parent / two['seconds']:.0%} of a core during the sweep); "
          f"workers {two['workers_cpu_s']:.3f} s, {share:.0%} in SweepPlan.compute ({each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
