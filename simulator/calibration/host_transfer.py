"""Host transfers: the copies in and out of the GPU that a measurement includes when its conditions
say so, priced from the host link's data sheet (nothing here is fitted).

A row's ``notes`` state its conditions; where they say the host copies are part of the time
(:func:`transfers_included`: the EfficientViT READMEs' "data transfer time included"; MLPerf's
"host preprocessing and copies excluded" does not match), each inference of a batch costs, on top of
its kernels,

``t_host = 2 · latency_s + (input_bytes + output_bytes) / bandwidth_bytes_per_s``

one host-to-device copy of the network's input and one device-to-host copy of its outputs, each
tensor ``elements · batch · bits / 8`` bytes at the row's precision (the engine's I/O bindings; a
float32 binding would double the bytes, which the README does not state). Links
(:data:`HOST_LINKS`), each per direction:

* **PCIe 4.0 x16** (A100 SXM4: NVIDIA A100 Tensor Core GPU data sheet, "PCIe Gen4: 64 GB/s", both
  directions; the L4 and L40S are PCIe Gen4 x16 cards, their data sheets' "64 GB/s"): 16 GT/s · 16
  lanes · 128/130 (encoding) / 8 = 31.5 GB/s nominal per direction;
  achievable taken as 25 GB/s (about 80%: transaction-layer headers and flow control; a documented
  estimate, range 20–31.5 GB/s enforced by a test);
* **PCIe 5.0 x16** (H100 SXM5 and H200 SXM: data sheets, "PCIe Gen5: 128 GB/s"): 63 GB/s nominal per
  direction, 50 GB/s taken (same 80%);
* **Jetson AGX Orin** (integrated GPU, one LPDDR5 memory: a copy reads and writes DRAM): 204.8 GB/s /
  2 = 102.4 GB/s nominal, 80 GB/s taken.

``latency_s`` (10 µs a copy, range 2–20 µs): a copy is one call on the stream plus one
synchronization before the host reads the result: 3.8 µs a launch and 9.6 − 3.8 = 5.8 µs a
synchronization (NVIDIA Technical Blog, "Getting Started with CUDA Graphs", A. Gray, 2019, the
figures the GPU profiles already cite for the per-kernel overhead), about 10 µs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.model.graph import Network

#: a row's notes that say the host copies are part of the measured time
_INCLUDED = re.compile(r"(data )?transfer time included|copies included", re.IGNORECASE)


@dataclass(frozen=True)
class HostLink:
    """A device's link to its host, per direction: ``bandwidth_bytes_per_s`` achievable (of
    ``nominal_bytes_per_s``) and ``latency_s`` per copy."""

    name: str
    nominal_bytes_per_s: float
    bandwidth_bytes_per_s: float
    latency_s: float


#: nominal per-direction rates from the data sheets (module docstring)
PCIE4_X16_BYTES_PER_S = 16e9 * 16 * 128 / 130 / 8
PCIE5_X16_BYTES_PER_S = 32e9 * 16 * 128 / 130 / 8
ORIN_COPY_BYTES_PER_S = 204.8e9 / 2
#: a copy's fixed cost: a launch (3.8 µs) and a synchronization (5.8 µs), rounded
COPY_LATENCY_S = 10e-6

_PCIE4 = HostLink("PCIe 4.0 x16", PCIE4_X16_BYTES_PER_S, 25e9, COPY_LATENCY_S)
_PCIE5 = HostLink("PCIe 5.0 x16", PCIE5_X16_BYTES_PER_S, 50e9, COPY_LATENCY_S)
_ORIN = HostLink("LPDDR5 copy (integrated GPU)", ORIN_COPY_BYTES_PER_S, 80e9, COPY_LATENCY_S)
#: device -> its host link (a device not here has no host-transfer term)
HOST_LINKS: Mapping[str, HostLink] = {
    "a100-sxm-40gb": _PCIE4, "a100-sxm-80gb": _PCIE4, "h100-sxm": _PCIE5, "h200-sxm": _PCIE5,
    "l4": _PCIE4, "l40s": _PCIE4,
    "jetson-agx-orin": _ORIN, "jetson-agx-orin-maxq": _ORIN,
}


def transfers_included(row: Mapping[str, str]) -> bool:
    """Whether ``row``'s documented conditions (its ``notes``) include the host copies."""
    return bool(_INCLUDED.search(row.get("notes", "")))


def io_bytes(network: Network, batch: int, bits: float) -> float:
    """The bytes of the network's input and of all its outputs for ``batch`` samples at ``bits``."""
    elements = math.prod(network.input_shape) + sum(math.prod(network.shape_of(o)) for o in network.outputs)
    return elements * batch * bits / 8


def host_transfer_s(network: Network, batch: int, bits: float, device: str) -> float:
    """``2 · latency_s + io_bytes / bandwidth_bytes_per_s`` on ``device``'s link [s]; 0 for a device
    without one in :data:`HOST_LINKS`."""
    link = HOST_LINKS.get(device)
    if link is None:
        return 0.0
    return 2 * link.latency_s + io_bytes(network, batch, bits) / link.bandwidth_bytes_per_s
