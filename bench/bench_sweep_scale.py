"""Large sweeps: a 10⁷-configuration sweep streamed to Parquet in bounded memory, on one and on two
worker processes, against the single-process in-memory sweep.

The product: AlexNet on the Jetson AGX Orin x 10 batches (1..512) x 2 precisions (fp16, int8) x N
DRAM bandwidth scales (0.25x to 4x, log-spaced), N = configurations / 20. Each measurement runs in
a fresh subprocess, which reports its wall time and its peak resident memory
(``resource.getrusage``: ``ru_maxrss`` of itself, and of its worker processes, which are its
children). The in-memory baseline (``sweep()``, the whole DataFrame) runs on ``--baseline``
configurations (default 10⁶; its memory grows with the table, which is the point); ratios are
of configurations per second.

    python bench/bench_sweep_scale.py [--configs 10000000] [--baseline 1000000] [--workers 1,2]
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

NETWORK, DEVICE = "alexnet", "jetson-agx-orin"
BATCHES = tuple(2**k for k in range(10))
PRECISIONS = ("fp16", "int8")


def arguments(configs: int) -> dict:
    per = len(BATCHES) * len(PRECISIONS)
    scales = np.geomspace(0.25, 4.0, max(1, configs // per))
    return dict(networks=NETWORK, devices=DEVICE, batches=BATCHES, precisions=PRECISIONS,
                overrides={"dram.bandwidth_scale": scales})


def child(mode: str, configs: int, workers: int, output: str | None) -> dict:
    from simulator.sweeps import iter_sweep, sweep, write_sweep

    kwargs = arguments(configs)
    sweep(NETWORK, DEVICE)  # imports and workload cache, not timed
    start = time.perf_counter()
    if mode == "memory":
        rows = len(sweep(**kwargs))
    else:
        rows = write_sweep(iter_sweep(**kwargs, workers=workers), output)
    seconds = time.perf_counter() - start
    return {"mode": mode, "workers": workers, "rows": rows, "seconds": seconds,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "bytes": os.path.getsize(output) if output else 0}


def measure(mode: str, configs: int, workers: int = 1, output: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--configs", str(configs),
               "--workers", str(workers)]
    if output:
        command += ["--output", output]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=float, default=1e7, help="configurations of the streamed sweep")
    parser.add_argument("--baseline", type=float, default=1e6, help="configurations of the in-memory sweep")
    parser.add_argument("--workers", default="1,2", help="worker counts of the streamed sweep")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, int(args.configs), int(args.workers), args.output)))
        return

    configs, baseline = int(args.configs), int(args.baseline)
    base = measure("memory", baseline)
    base_rate = base["rows"] / base["seconds"]
    print(f"{NETWORK} on {DEVICE}: {len(BATCHES)} batches x {len(PRECISIONS)} precisions x DRAM scales")
    print(f"  in memory, 1 process : {base['rows']:>11,} configs {base['seconds']:8.1f} s "
          f"{base_rate:10,.0f} configs/s  peak {base['peak_mib']:7.0f} MiB   ratio 1.00")
    with tempfile.TemporaryDirectory() as scratch:
        for workers in (int(w) for w in args.workers.split(",")):
            run = measure("stream", configs, workers, str(Path(scratch) / "sweep.parquet"))
            rate = run["rows"] / run["seconds"]
            peak = f"peak {run['peak_mib']:7.0f} MiB" + (
                f" (+ workers {run['children_peak_mib']:.0f} MiB each at most)" if workers > 1 else "")
            print(f"  streamed, {workers} worker{'s' if workers > 1 else ' '}: {run['rows']:>11,} configs "
                  f"{run['seconds']:8.1f} s {rate:10,.0f} configs/s  {peak}   ratio {rate / base_rate:.2f}  "
                  f"({run['bytes'] / 2**20:,.0f} MiB of Parquet)")


if __name__ == "__main__":
    main()
