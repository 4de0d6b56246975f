"""Time a sweep of 10,000 LLM configurations against the CNN sweep of bench/bench_sweep.py, per
configuration, in the same process.

LLM: Llama-3-8B, 2 devices (H100 SXM, H200 SXM) x tp 1, 2 x 5 prompt lengths (128..2048) x 5 output
lengths (16..256) x 4 weight precisions (fp16, fp8, int8, int4) x 25 batch sizes (1..384) = 10,000
configurations through :func:`simulator.llm.sweep_llm` (each configuration: prefill, the first and last
decode steps and the closed-form sum over the generation, memory). CNN: ResNet-50, 2 devices x 11
batches x 3 precisions x 160 DRAM bandwidth scales (0.25x to 2x) = 10,560 configurations through
:func:`simulator.sweeps.sweep`. Both are warmed once (imports, workload caches) and the best of
``--repeat`` runs is reported; a sample of LLM rows is checked against :func:`simulate_llm` alone.

    python bench/bench_llm.py [--repeat 3] [--sample 50]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from simulator.catalog import build_network
from simulator.hardware.loader import resolve_device
from simulator.llm import simulate_llm, sweep_llm
from simulator.sweeps import sweep

MODEL = "llama_3_8b"
LLM_DEVICES = ("h100-sxm", "h200-sxm")
TPS = (1, 2)
PROMPTS = (128, 256, 512, 1024, 2048)
GENERATES = (16, 32, 64, 128, 256)
WEIGHTS = ("fp16", "fp8", "int8", "int4")
BATCHES = (*range(1, 17), 24, 32, 48, 64, 96, 128, 192, 256, 384)

CNN_DEVICES = ("jetson-agx-orin", "h100-sxm")
CNN_BATCHES = tuple(2**k for k in range(11))
CNN_PRECISIONS = ("fp32", "fp16", "int8")
CNN_SCALES = tuple(np.geomspace(0.25, 2.0, 160))  # 4x would make H100 DRAM faster than L2: refused


def best_of(repeat: int, run) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings of each sweep (the best is reported)")
    parser.add_argument("--sample", type=int, default=50, help="LLM rows checked against simulate_llm")
    args = parser.parse_args()

    def llm():
        return sweep_llm(MODEL, LLM_DEVICES, BATCHES, PROMPTS, GENERATES, WEIGHTS, TPS)

    network = build_network("resnet50")
    devices = [resolve_device(name) for name in CNN_DEVICES]

    def cnn():
        return sweep(network, devices, batches=CNN_BATCHES, precisions=CNN_PRECISIONS,
                     overrides={"dram.bandwidth_scale": CNN_SCALES})

    sweep_llm(MODEL, LLM_DEVICES[:1], BATCHES[:2], PROMPTS[:1], GENERATES[:1], WEIGHTS[:1], TPS)  # warm
    sweep(network, devices, batches=CNN_BATCHES[:1], precisions=CNN_PRECISIONS[:1])
    llm_s, table = best_of(args.repeat, llm)
    cnn_s, cnn_table = best_of(args.repeat, cnn)
    llm_n, cnn_n = len(table), len(cnn_table)
    assert llm_n == len(LLM_DEVICES) * len(TPS) * len(PROMPTS) * len(GENERATES) * len(WEIGHTS) * len(BATCHES)

    rows = random.Random(0).sample(range(llm_n), args.sample)
    start = time.perf_counter()
    for i in rows:
        r = table.iloc[i]
        alone = simulate_llm(MODEL, r["device"], int(r["batch"]), int(r["prompt"]), int(r["generate"]),
                             tp=int(r["tp"]), weight_precision=r["weight_precision"])
        assert np.isclose(alone.metrics["tpot_s"][0], r["tpot_s"], rtol=1e-9)
        assert np.isclose(alone.metrics["ttft_s"][0], r["ttft_s"], rtol=1e-9)
    one_s = (time.perf_counter() - start) / args.sample

    llm_per, cnn_per = llm_s / llm_n, cnn_s / cnn_n
    print(f"LLM sweep  {MODEL}: {llm_n:,} configurations in {llm_s:.3f} s = {llm_per * 1e6:.1f} µs each "
          f"({llm_n / llm_s:,.0f} configs/s)")
    print(f"CNN sweep  resnet50: {cnn_n:,} configurations in {cnn_s:.3f} s = {cnn_per * 1e6:.1f} µs each "
          f"({cnn_n / cnn_s:,.0f} configs/s)")
    print(f"ratio      LLM / CNN per configuration = {llm_per / cnn_per:.2f}")
    print(f"simulate_llm alone: {one_s * 1e3:.2f} ms per configuration (mean of {args.sample}); the sweep is "
          f"{one_s / llm_per:.0f}x faster; the sampled rows equal it")


if __name__ == "__main__":
    main()
