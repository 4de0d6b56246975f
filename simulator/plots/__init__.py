"""Charts of simulation results, each returned as a :class:`matplotlib.figure.Figure`.

Nothing here calls ``pyplot`` or shows a window: save a chart with :func:`save_figure` (PNG, SVG
or PDF; text kept as text, the pixel count bounded) or ``figure.savefig(path)``. Charts read what
they show from simulation results and ask for a device only where they simulate networks
themselves.

* :func:`roofline_chart`: a device's roofs with a network's layers on them;
* :func:`latency_throughput_chart`: latency against throughput over batch sizes;
* :func:`energy_breakdown_chart`: compute against data-movement (and static) energy, per network or
  layer group;
* :func:`layer_latency_chart`: per-layer latency, coloured by bound (the slowest layers, or per kind
  or block, for a large network);
* :func:`memory_chart`: live activations per layer against the device's activation memory, and the
  weights against their store (an MCU's Flash).
"""

from simulator.plots._common import save_figure
from simulator.plots.compare import compare_chart
from simulator.plots.energy import energy_breakdown_chart
from simulator.plots.latency import DEFAULT_BATCHES, latency_throughput_chart
from simulator.plots.layers import layer_latency_chart, memory_chart
from simulator.plots.llm import llm_memory_chart, llm_throughput_chart, llm_ttft_chart
from simulator.plots.roofline import roofline_chart

__all__ = [
    "DEFAULT_BATCHES",
    "compare_chart",
    "energy_breakdown_chart",
    "latency_throughput_chart",
    "layer_latency_chart",
    "llm_memory_chart",
    "llm_throughput_chart",
    "llm_ttft_chart",
    "memory_chart",
    "roofline_chart",
    "save_figure",
]
