"""Time counting ResNet-50 in-process, as a ratio to a baseline measured in the same run.

The baseline is one dense Python pass over the network's nodes that only reads each node's
shape (the least work any per-layer counter must do), so the ratio says how much the formulas,
liveness analysis and batch scaling cost on top of walking the graph.

    python bench/bench_count.py
"""

from __future__ import annotations

import timeit

from simulator.catalog import NETWORKS
from simulator.model.counts import count_network
from simulator.model.fusion import inference_view
from simulator.model.layers import elements


def best_of(function, repeat: int = 7, number: int = 20) -> float:
    return min(timeit.repeat(function, repeat=repeat, number=number)) / number


def main() -> None:
    network = NETWORKS["resnet50"]()
    build_s = best_of(lambda: NETWORKS["resnet50"]())
    baseline_s = best_of(lambda: sum(elements(node.output_shape) for node in network.nodes))
    count_s = best_of(lambda: count_network(network, batch=8))
    fused_s = best_of(lambda: count_network(inference_view(network), batch=8))
    print(f"resnet50: {len(network.nodes)} nodes")
    print(f"  baseline pass over nodes   {baseline_s * 1e3:8.3f} ms")
    print(f"  build the graph            {build_s * 1e3:8.3f} ms  ({build_s / baseline_s:.0f}x baseline)")
    print(f"  count_network              {count_s * 1e3:8.3f} ms  ({count_s / baseline_s:.0f}x baseline)")
    print(f"  inference view + count     {fused_s * 1e3:8.3f} ms  ({fused_s / baseline_s:.0f}x baseline)")


if __name__ == "__main__":
    main()
