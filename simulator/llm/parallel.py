"""Several devices: tensor parallelism (TP) and, as an option, pipeline parallelism (PP).

* **Tensor parallelism** over ``N`` devices (Megatron-LM): each device holds ``1/N`` of the heads, the
  MLP (and every expert) and the vocabulary (:func:`simulator.llm.network.shard`); the attention output
  and the MLP output (and the vocab-parallel embedding) are all-reduced: the network builder adds an
  :class:`~simulator.model.layers.AllReduce` node after each, and a ring all-reduce of its
  ``(tokens, d)`` activations costs ``2(N−1)·latency + 2(N−1)/N · bytes / bandwidth``
  (:func:`simulator.engine.timing.link_time_s`; the factor ``2(N−1)/N`` is
  :func:`~simulator.model.layers.ring_link_elements`) over the profile's ``[interconnect]`` (NVLink:
  ``latency_us`` is the per-message step of NCCL's small-message ring, its source in the profile).
  The expected model adds the launch of the all-reduce's one kernel (NCCL runs a collective as one
  kernel), at the profile's per-kernel launch cost ``[efficiency] kernel_overhead_us``: derived, not
  fitted. A profile's ``[interconnect] allreduce_overhead_us`` is added on top (none shipped: the fitted
  53.6–57.9 µs it once held, 3–5× NCCL's small-message figure, had no physical reading).
  The expected model all-reduces at least 16 bits an element (:data:`ALLREDUCE_PAYLOAD_BITS`): an fp8
  or int8 network's row-parallel GEMMs write fp16/bf16 outputs, and that is what is all-reduced; the
  ideal roofline keeps the activation precision's bits, a lower bound either way.
* **Pipeline parallelism** over ``S`` stages: each stage holds ``1/S`` of the layers; one forward pass
  runs through the stages in turn, so its latency is that of the whole model plus ``S − 1``
  activation transfers (one message of ``B·T·d`` activations each).

Not modelled: overlap of communication with compute (all-reduces are added, not hidden), pipelined
micro-batches and their bubbles (PP improves neither latency nor throughput here, only memory),
request scheduling (continuous/inflight batching, paged KV blocks), the logits all-gather of the LM
head, and NVSwitch/PCIe topology beyond one bandwidth and one latency.
"""

from __future__ import annotations

import numpy as np

from simulator.errors import SimulatorError
from simulator.hardware.device import Device

#: Bits of an all-reduced element in the expected model, at least [bit]: TensorRT-LLM's custom
#: all-reduce kernels exist only for 16- and 32-bit elements (NVIDIA/TensorRT-LLM
#: ``cpp/tensorrt_llm/kernels/customAllReduceKernels.cu`` @027cd51: ``uint16_t``, ``__nv_bfloat16``,
#: ``uint32_t``), and its fp8 GEMMs write fp16/bf16 outputs, the tensors it all-reduces; NCCL under
#: vLLM and Megatron-LM likewise reduces bf16. Not a profile's figure: a property of the runtimes.
ALLREDUCE_PAYLOAD_BITS = 16


def link_arrays(device: Device, tp: np.ndarray, ideal: bool = True) -> dict[str, np.ndarray] | None:
    """The engine's ``link`` arrays for tensor parallelism ``tp`` per configuration (None on one device);
    unless ``ideal`` (and when the device has an efficiency model), with the fixed cost of one
    all-reduce (:func:`allreduce_launch_s`) and elements of at least :data:`ALLREDUCE_PAYLOAD_BITS`
    (``allreduce_payload_bits``; the ideal roofline all-reduces the activation precision's bits)."""
    tp = np.asarray(tp, dtype=float)
    if np.all(tp == 1):
        return None
    if device.interconnect is None:
        raise SimulatorError(
            f"device {device.name!r} has no [interconnect] in its profile: tensor parallelism "
            f"needs the link's bandwidth and latency (devices with one: h100-sxm, h200-sxm, "
            f"a100-sxm-80gb, a100-sxm-40gb)"
        )
    arrays = {
        "devices": tp,
        "link_bandwidth_bytes_per_s": np.full(len(tp), device.interconnect.bandwidth_bytes_per_s),
        "link_latency_s": np.full(len(tp), device.interconnect.latency_s),
        "allreduce_overhead_s": np.full(len(tp), 0.0 if ideal else allreduce_launch_s(device)),
    }
    if not ideal and device.efficiency is not None:
        arrays["allreduce_payload_bits"] = np.full(len(tp), float(ALLREDUCE_PAYLOAD_BITS))
    return arrays


def allreduce_launch_s(device: Device) -> float:
    """The expected model's fixed cost of one all-reduce [s]: the launch of its one NCCL kernel at the
    profile's per-kernel cost (``kernel_overhead_s``) plus the link's ``allreduce_overhead_s`` (0 in
    every shipped profile); 0 without an efficiency model (the ideal roofline's ring time only)."""
    if device.efficiency is None or device.interconnect is None:
        return 0.0
    return float(device.efficiency.kernel_overhead_s) + float(device.interconnect.allreduce_overhead_s)


def pipeline_transfer_s(device: Device, pp: np.ndarray, activation_bytes: np.ndarray) -> np.ndarray:
    """``(S − 1) · (latency + bytes / bandwidth)``: the activations handed from stage to stage."""
    pp = np.asarray(pp, dtype=float)
    if np.all(pp == 1):
        return np.zeros_like(pp)
    if device.interconnect is None:
        raise SimulatorError(
            f"device {device.name!r} has no [interconnect]: pipeline parallelism needs a link"
        )
    link = device.interconnect
    return (pp - 1) * (link.latency_s + activation_bytes / link.bandwidth_bytes_per_s)
