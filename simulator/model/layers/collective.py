"""Collective communication between tensor-parallel devices: the ring all-reduce.

Under Megatron-LM's tensor parallelism over ``N`` devices each row-parallel projection (an LLM's
attention output, its MLP's down projection or experts) and the vocab-parallel embedding leave a
partial ``(tokens, d)`` sum on every device; an :class:`AllReduce` node sums them. It has no
parameters and no arithmetic counted (the ``N − 1`` additions per element are negligible beside the
link time), writes its result in place (a view of its input: no memory traffic, no kernel of its own;
NCCL's one kernel launch is part of the link cost, :func:`simulator.llm.parallel.allreduce_launch_s`),
and declares the elements each device moves over the link: :func:`ring_link_elements`.

The kind has no ONNX writer (``exportable = False``): an exported pass is one device's single-device
graph, and ONNX has no collective operator; the writer's refusal names the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, builder_method, elements, layer_kind

N = TypeVar("N")


def ring_link_elements(reduced_elements: N, devices: N) -> N:
    """Elements each of ``N = devices`` devices sends over the link in a ring all-reduce of
    ``n = reduced_elements``: ``2·(N − 1)/N · n`` (a reduce-scatter then an all-gather, each ``N − 1``
    steps of ``n/N`` elements; Patarasuk & Yuan 2009, NCCL's ring algorithm). 0 on one device. The one
    definition of this factor: the engine's link time (:func:`simulator.engine.timing.link_time_s`)
    and :meth:`AllReduce.link_elements` both call it. Works on Python numbers and NumPy arrays."""
    return 2 * (devices - 1) / devices * reduced_elements


@layer_kind
@dataclass(frozen=True)
class AllReduce(Layer):
    """Sums the input tensor across ``devices`` tensor-parallel devices, in place (a view: the output
    is the input's buffer). Per sample it all-reduces all of its input's elements
    (:meth:`allreduce_elements`) and each device moves ``2·(N − 1)/N`` of them over the link
    (:meth:`link_elements`)."""

    devices: int
    kind: ClassVar[str] = "AllReduce"
    is_view: ClassVar[bool] = True
    exportable: ClassVar[bool] = False

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if self.devices < 2:
            raise ShapeError(f"AllReduce: devices must be at least 2, got {self.devices}")
        return shape

    def allreduce_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Elements all-reduced per sample: the whole input (``T·d`` for an LLM's ``(T, d)``)."""
        return elements(inputs[0])

    def link_elements(self, inputs: tuple[Shape, ...]) -> float:
        """Elements each device moves over the link per sample: ``2·(N − 1)/N · n``
        (:func:`ring_link_elements`; a float: not a whole number when ``N`` does not divide ``2n``)."""
        return ring_link_elements(float(self.allreduce_elements(inputs)), self.devices)


@builder_method("all_reduce", makes=AllReduce)
def all_reduce(net, x: str, devices: int, name: str | None = None) -> str:
    """Sums ``x`` across ``devices`` tensor-parallel devices (in place)."""
    return net.add(AllReduce(devices), x, name=name)
