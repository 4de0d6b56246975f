"""LLM sweep speed per configuration as ratios to two baselines timed in the same process (issue 21).

Grid: Llama-3-8B on 3 devices (H100 SXM, L4, Jetson AGX Orin) x 3 prompt lengths (128, 512, 2048) x
batches 1..128 (every integer), 128 output tokens, fp16: 1,152 configurations through
:func:`simulator.llm.sweep_llm`, where each transformer block's layers are evaluated once per group of
identical layers (:func:`simulator.llm.phases.grouped_phase`). Baselines:

* **before**: the sweep as it was before that change (at faeff3b), reproduced here: every layer
  evaluated (:func:`~simulator.llm.phases.per_layer_evaluation`), the device's profile resolved per
  (device, prompt) block and one DataFrame per block, concatenated; also, for the share of the grouping
  alone, today's :func:`sweep_llm` with every layer evaluated (**per-layer**);
* **loop**: :func:`simulate_llm` called once per configuration, on a sample of ``--sample``
  configurations spread over the grid (its time per configuration does not depend on which).

Each time is the best of ``--repeat`` runs, taken in turn, so that a loaded machine slows all of them
alike; the figures are ratios of times per configuration. Targets: at least 10x the ``before`` sweep
and 20x the loop. The rows are checked against the per-layer sweep (1e-12 relative).

    python bench/bench_llm_sweep.py [--repeat 3] [--sample 24] [--check]

``--check`` exits with status 1 when a ratio is below its target.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import pandas as pd

from simulator.hardware.loader import resolve_device
from simulator.llm import simulate_llm, sweep_llm
from simulator.llm.config import load_config
from simulator.llm.inference import METRICS, evaluate_llm
from simulator.llm.phases import per_layer_evaluation
from simulator.llm.precision import default_activation_precision

MODEL = "llama_3_8b"
DEVICES = ("h100-sxm", "l4", "jetson-agx-orin")
PROMPTS = (128, 512, 2048)
BATCHES = tuple(range(1, 129))
GENERATE = 128
#: least speed-up per configuration over each baseline
TARGETS = {"before": 10.0, "loop": 20.0}


def sweep_before(model: str, devices, batches, prompts, generate: int) -> pd.DataFrame:
    """The fp16 sweep as :func:`sweep_llm` ran it at faeff3b: per-layer evaluation, a profile resolved
    and a frame built per (device, prompt) block."""
    cfg = load_config(model)
    frames = []
    with per_layer_evaluation():
        for device_name, prompt in itertools.product(devices, prompts):
            device = resolve_device(device_name)
            count = len(batches)
            batch = np.array(batches, dtype=float)
            weights = ["fp16"] * count
            acts = [default_activation_precision(w) for w in weights]
            metrics = evaluate_llm(cfg, device, batch, np.full(count, float(prompt)),
                                   np.full(count, float(generate)), 1, weights, acts, acts)
            frames.append(pd.DataFrame({"model": cfg.name, "device": device.name, "tp": 1, "prompt": prompt,
                                        "generate": generate, "weight_precision": weights,
                                        "activation_precision": acts, "kv_precision": acts,
                                        "batch": batch.astype(int), **{k: metrics[k] for k in METRICS}}))
    return pd.concat(frames, ignore_index=True)


def measure(devices=DEVICES, prompts=PROMPTS, batches=BATCHES, repeat: int = 3, sample: int = 24,
            check_rows: bool = True) -> dict[str, float]:
    """Seconds per configuration of the sweep and of each baseline (best of ``repeat``, in turn)."""
    configs = len(devices) * len(prompts) * len(batches)

    def sweep():
        return sweep_llm(MODEL, devices, batches, prompts, (GENERATE,))

    def per_layer():
        with per_layer_evaluation():
            return sweep()

    def before():
        return sweep_before(MODEL, devices, batches, prompts, GENERATE)

    grid = list(itertools.product(devices, prompts, batches))
    picks = [grid[i] for i in np.linspace(0, len(grid) - 1, sample).round().astype(int)]

    def loop():
        for device, prompt, batch in picks:
            simulate_llm(MODEL, device, batch, prompt, GENERATE)

    runs = {"sweep": (sweep, configs), "per-layer": (per_layer, configs), "before": (before, configs),
            "loop": (loop, len(picks))}
    for run, _ in runs.values():  # warm: imports, workload caches
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, (run, count) in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - start) / count)
    if check_rows:
        grouped, reference = sweep(), per_layer()
        for column in reference.columns:
            if reference[column].dtype.kind == "f":
                np.testing.assert_allclose(grouped[column], reference[column], rtol=1e-12, atol=0)
            else:
                assert grouped[column].tolist() == reference[column].tolist(), column
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings of each (the best is kept)")
    parser.add_argument("--sample", type=int, default=24, help="configurations the loop simulates")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is below its target")
    args = parser.parse_args()
    best = measure(repeat=args.repeat, sample=args.sample)
    configs = len(DEVICES) * len(PROMPTS) * len(BATCHES)
    print(f"{MODEL}: {len(DEVICES)} devices x {len(PROMPTS)} prompts x {len(BATCHES)} batches = {configs:,} "
          f"configurations, generate {GENERATE}, fp16 (best of {args.repeat}, per configuration)")
    for name in ("sweep", "per-layer", "before", "loop"):
        print(f"  {name:<10}{best[name] * 1e6:10.1f} µs")
    ratios = {name: best[name] / best["sweep"] for name in ("before", "per-layer", "loop")}
    print(f"  sweep vs before (per-layer, a frame per block): {ratios['before']:6.1f}x  (target >= 10x)")
    print(f"  sweep vs today's sweep evaluating every layer:  {ratios['per-layer']:6.1f}x")
    print(f"  sweep vs looped simulate_llm:                   {ratios['loop']:6.1f}x  (target >= 20x)")
    print("  sweep rows equal the per-layer sweep's (1e-12 relative)")
    failed = [name for name, target in TARGETS.items() if ratios[name] < target]
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
