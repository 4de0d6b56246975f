"""CI guard on speed: short versions of the benchmarks, each figure a ratio to a baseline timed in the
same process, compared with the committed ratios of bench/ratios_baseline.json (issue 21).

Ratios (``better``: which way is better):

* ``startup_count`` and ``startup_simulate`` (lower): CPU time of ``roofline count resnet50`` and
  ``roofline simulate resnet50 --device jetson-agx-orin`` as processes, over ``python -c "import
  numpy"`` (:mod:`bench_startup`, bytecode cached, the least of ``--repeat`` runs each, taken in turn);
* ``sweep_vs_kernel`` (higher): configurations per second of :func:`simulator.sweeps.sweep` (ResNet-50
  on Orin and H100, batches 1..1024, fp32/fp16/int8, 160 DRAM bandwidth scales: 10,560
  configurations, bench/bench_sweep.py's product, one worker) over those of :func:`reference_kernel`,
  a tight numpy kernel of the same roofline arithmetic (per layer ``max(n·ops/peak,
  bytes/bandwidth)`` and ``n·MACs·E_MAC + bytes·E_byte``, summed over the layers) on the same
  workload and as many configurations; the sweep's own rate is printed too (issue 21's other
  target: 5·10⁵ configurations per second per core);
* ``sweep_memory_vs_bound`` (lower): the peak resident memory that two chunks of a streamed
  SegFormer-B5 sweep add to a process, over :func:`simulator.sweeps.chunk_memory_bound_bytes`
  (:mod:`bench_sweep_memory`; memory, not time: the same on a loaded machine);
* ``llm_sweep_vs_before`` and ``llm_sweep_vs_loop`` (higher): :mod:`bench_llm_sweep` on a smaller grid
  (Llama-3-8B, 2 devices x 2 prompts x 64 batches).

Each time is the least of ``--repeat`` runs. A ratio fails when it is worse than its baseline by more
than ``TOLERANCE`` (30%): ``value > 1.3·baseline`` where lower is better, ``value < baseline/1.3``
where higher is better; the exit status is then 1. About 30 s on an idle core.

    python bench/ci_ratios.py [--repeat 5] [--write-baseline]

``--write-baseline`` writes the measured ratios to bench/ratios_baseline.json instead of checking
(run it on a quiet machine, with ``--repeat 7`` or more).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_llm_sweep
import bench_startup
import bench_sweep_memory
import numpy as np

BASELINE = Path(__file__).with_name("ratios_baseline.json")
#: the largest worsening of a ratio, as a factor, before the check fails
TOLERANCE = 1.3
BETTER = {"startup_count": "lower", "startup_simulate": "lower", "sweep_vs_kernel": "higher",
          "sweep_memory_vs_bound": "lower", "llm_sweep_vs_before": "higher", "llm_sweep_vs_loop": "higher"}

SWEEP_DEVICES = ("jetson-agx-orin", "h100-sxm")
SWEEP_BATCHES = tuple(2**k for k in range(11))
SWEEP_PRECISIONS = ("fp32", "fp16", "int8")
SWEEP_SCALES = tuple(np.geomspace(0.25, 3.5, 160))


def startup_ratios(repeat: int) -> dict[str, float]:
    """CPU time of each command over the interpreter importing numpy."""
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="roofline-pycache-") as cache:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = cache
        best = bench_startup.measure(repeat, environment)
    labels = list(bench_startup.COMMANDS)
    base_cpu_s = best[labels[0]][1]
    return {"startup_count": best[labels[1]][1] / base_cpu_s,
            "startup_simulate": best[labels[2]][1] / base_cpu_s}


def reference_kernel(ops: np.ndarray, macs: np.ndarray, weights: np.ndarray, activations: np.ndarray,
                     batch: np.ndarray, weight_bytes: np.ndarray, activation_bytes: np.ndarray,
                     peak_ops_per_s: np.ndarray, bandwidth_bytes_per_s: np.ndarray, mac_energy_j: np.ndarray,
                     byte_energy_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latency [s] and energy [J] of C configurations over L layers: per layer
    ``t = max(n·ops / peak, (W·b_w + n·A·b_a) / bandwidth)`` and ``E = n·MACs·E_MAC + bytes·E_byte``,
    summed; per-layer arrays ``(L,)``, per-configuration ``(C,)``; blocks of 2**17 elements (cache-sized),
    reciprocals taken once per configuration."""
    latency, energy = np.empty(len(batch)), np.empty(len(batch))
    step = max(1, 2**17 // len(ops))
    inv_peak, inv_bw = 1.0 / peak_ops_per_s, 1.0 / bandwidth_bytes_per_s
    for start in range(0, len(batch), step):
        s = slice(start, start + step)
        n = batch[s, None]
        moved = weights * weight_bytes[s, None] + n * activations * activation_bytes[s, None]
        t = np.maximum(n * ops * inv_peak[s, None], moved * inv_bw[s, None])
        latency[s] = t.sum(axis=1)
        energy[s] = (n * macs * mac_energy_j[s, None] + moved * byte_energy_j[s, None]).sum(axis=1)
    return latency, energy


def sweep_ratio(repeat: int) -> float:
    """Configurations per second of the sweep over those of :func:`reference_kernel`."""
    from simulator.catalog import build_network
    from simulator.engine.workload import simulated_workload
    from simulator.hardware.loader import resolve_device
    from simulator.sweeps import sweep

    network = build_network("resnet50")
    devices = [resolve_device(name) for name in SWEEP_DEVICES]
    overrides = {"dram.bandwidth_scale": SWEEP_SCALES}

    def run():
        return sweep(network, devices, batches=SWEEP_BATCHES, precisions=SWEEP_PRECISIONS,
                     overrides=overrides, progress=None)

    configs = len(run())  # also warms imports and caches
    w = simulated_workload(network, True)
    rng = np.random.default_rng(0)
    # batch, weight and activation bytes per element, peak [ops/s], bandwidth [B/s], E_MAC, E_byte [J]
    bounds = ((1, 1024), (0.5, 4), (0.5, 4), (1e12, 1e15), (1e11, 3e12), (1e-12, 5e-12), (1e-11, 1e-10))
    per_config = [rng.uniform(low, high, configs) for low, high in bounds]
    layer = (2 * w.macs + w.elementwise_ops, w.macs, w.weight_elements, w.activation_elements)
    sweep_s = kernel_s = float("inf")
    for _ in range(repeat):  # in turn
        start = time.process_time()
        run()
        sweep_s = min(sweep_s, time.process_time() - start)
        start = time.process_time()
        reference_kernel(*layer, *per_config)
        kernel_s = min(kernel_s, time.process_time() - start)
    print(f"  (sweep: {configs / sweep_s:,.0f} configurations/s, reference kernel: "
          f"{configs / kernel_s:,.0f})")
    return kernel_s / sweep_s


def memory_ratio() -> float:
    """Peak memory two chunks of a streamed SegFormer-B5 sweep add, over the documented bound."""
    command = [sys.executable, bench_sweep_memory.__file__, "--child", "segformer_b5", "--chunks", "2"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    run = json.loads(done.stdout.strip().splitlines()[-1])
    return run["added_bytes"] / run["bound_bytes"]


def llm_ratios(repeat: int) -> dict[str, float]:
    best = bench_llm_sweep.measure(devices=("h100-sxm", "l4"), prompts=(128, 2048),
                                   batches=tuple(range(1, 65)), repeat=repeat, sample=16, check_rows=False)
    return {"llm_sweep_vs_before": best["before"] / best["sweep"],
            "llm_sweep_vs_loop": best["loop"] / best["sweep"]}


def measure(repeat: int) -> dict[str, float]:
    return {**startup_ratios(repeat), "sweep_vs_kernel": sweep_ratio(repeat),
            "sweep_memory_vs_bound": memory_ratio(), **llm_ratios(repeat)}


def regressed(name: str, value: float, baseline: float) -> bool:
    if BETTER[name] == "lower":
        return value > TOLERANCE * baseline
    return value < baseline / TOLERANCE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timing (the least counts)")
    parser.add_argument("--write-baseline", action="store_true", help=f"write {BASELINE.name} instead")
    args = parser.parse_args()
    start, load = time.perf_counter(), os.getloadavg()
    ratios = measure(args.repeat)
    if args.write_baseline:
        header = [
            f"Written by `python bench/ci_ratios.py --write-baseline --repeat {args.repeat}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: each time the least of {args.repeat} "
            "runs taken in turn in one process (start-up: CPU time of whole processes), each figure a "
            "ratio of two such times, so that load slows both sides alike. bench/ci_ratios.py fails when "
            f"a ratio is worse than its value here by more than a factor {TOLERANCE}.",
            f"Load average at the start: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min), on {os.cpu_count()} "
            f"cores; measured in {time.perf_counter() - start:.0f} s.",
        ]
        body = {"header": header, "ratios": {k: {"value": round(v, 3), "better": BETTER[k]}
                                             for k, v in ratios.items()}}
        BASELINE.write_text(json.dumps(body, indent=2) + "\n")
        print(f"wrote {BASELINE}: {json.dumps(body['ratios'])}")
        return 0
    baseline = json.loads(BASELINE.read_text())["ratios"]
    failed = []
    for name, value in ratios.items():
        if name not in baseline:
            print(f"  {name:<22}{value:9.3f}  no baseline yet ({BETTER[name]} is better)")
            continue
        base = baseline[name]["value"]
        bad = regressed(name, value, base)
        failed += [name] if bad else []
        print(f"  {name:<22}{value:9.3f}  baseline {base:9.3f} ({BETTER[name]} is better)  "
              f"{'REGRESSED' if bad else 'ok'}")
    print(f"ci_ratios: {len(ratios)} ratios in {time.perf_counter() - start:.0f} s, "
          f"{'failed: ' + ', '.join(failed) if failed else 'none regressed by more than 30%'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
