"""Peak memory of a streamed sweep against the bound the sweep documents (issue 21).

A streamed sweep (:func:`simulator.sweeps.iter_sweep`) holds one chunk of at most
:data:`~simulator.sweeps.CHUNK_ROWS` rows at a time; the engine works on it in cache-sized blocks
(:data:`simulator.engine.evaluate.BLOCK_ELEMENTS`, :data:`~simulator.engine.evaluate.FIRST_PASS_ELEMENTS`)
and keeps per configuration only its sums. :func:`simulator.sweeps.chunk_memory_bound_bytes` states
the bound of what one chunk adds to a process: the chunk's columns, twice (the engine's and the
frame's), plus the engine's block temporaries, plus the network's own per-layer arrays.

Each network runs in a fresh subprocess: the sweep is warmed on one configuration (imports, the
network's workload), the peak resident memory is read (``ru_maxrss``), then ``--chunks`` chunks of
the product (batches 1..1024 x fp16/int8 x DRAM bandwidth scales on the H100) are computed and
dropped one by one, and the peak is read again. The difference is what the chunks added; the
check is that it stays within twice the bound.

    python bench/bench_sweep_memory.py [--networks segformer_b5,resnet50] [--chunks 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

import numpy as np

DEVICE = "h100-sxm"
BATCHES = tuple(2**k for k in range(11))
PRECISIONS = ("fp16", "int8")


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _resident_bytes() -> int:
    """Resident memory now (Linux ``/proc/self/statm``; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _peak_bytes()


def child(network: str, chunks: int) -> dict:
    from simulator.sweeps import CHUNK_ROWS, chunk_memory_bound_bytes, iter_sweep, plan_sweep

    configs = chunks * CHUNK_ROWS
    scales = np.geomspace(0.25, 3.5, -(-configs // (len(BATCHES) * len(PRECISIONS))))
    kwargs = dict(networks=network, devices=DEVICE, batches=BATCHES, precisions=PRECISIONS,
                  overrides={"dram.bandwidth_scale": scales})
    for _ in iter_sweep(network, DEVICE, batches=(1,), precisions=PRECISIONS[:1]):  # warm
        pass
    plan = plan_sweep(**kwargs)
    bound = chunk_memory_bound_bytes(plan)
    before = _resident_bytes()  # not the peak: compiling bytecode in the warm-up may have passed it
    rows = 0
    for table in iter_sweep(**kwargs):
        rows += len(table)
        del table
        if rows >= configs:
            break
    return {"network": network, "rows": rows, "added_bytes": _peak_bytes() - before, "bound_bytes": bound}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="segformer_b5,resnet50")
    parser.add_argument("--chunks", type=int, default=3, help="chunks of the streamed sweep")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.chunks)))
        return 0
    failed = False
    print(f"streamed sweep on {DEVICE}, {args.chunks} chunks each: peak resident memory the chunks add, "
          "against the documented bound (simulator.sweeps.chunk_memory_bound_bytes)")
    for network in args.networks.split(","):
        done = subprocess.run([sys.executable, __file__, "--child", network, "--chunks", str(args.chunks)],
                              capture_output=True, text=True, check=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        ratio = run["added_bytes"] / run["bound_bytes"]
        failed |= ratio > 2
        print(f"  {network:<14} {run['rows']:>8,} rows  added {run['added_bytes'] / 2**20:8.1f} MiB  "
              f"bound {run['bound_bytes'] / 2**20:8.1f} MiB  ratio {ratio:5.2f}  "
              f"({'within 2x' if ratio <= 2 else 'ABOVE 2x'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
