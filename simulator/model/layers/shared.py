"""A convolution that runs the weights of an earlier one (weight sharing across inputs).

RetinaNet's classification and regression heads (torchvision, and MLPerf's copy of it) apply the same
``nn.Conv2d`` modules to every pyramid level: one set of parameters, five runs. The graph holds one
node per run; the first is a plain :class:`~simulator.model.layers.compute.Conv` that owns the
weights, the others are :class:`SharedConv` naming it in ``shares``. The kind with its builder
method; it has no ONNX writer yet (the ONNX reader would import a reused initializer as a second
Conv with its own parameters, so no round trip could keep the count): export refuses it in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import builder_method, layer_kind
from simulator.model.layers.compute import Conv


@layer_kind
@dataclass(frozen=True)
class SharedConv(Conv):
    """A :class:`Conv` whose weights belong to the layer named ``shares`` (same hyper-parameters).

    Cost: the MACs of the convolution it runs; no parameters (counted once, at the owner, as
    ``sum(p.numel() for p in model.parameters())`` counts a module once however often it runs).
    The engine reads a layer's weights as many elements as its parameters, so a shared run reads
    none: the owner's read stands for all runs (the runs of one module follow each other per level).
    """

    shares: str = ""
    exportable: ClassVar[bool] = False

    def output_shape(self, inputs):
        """As :class:`Conv`'s, once the owner is named."""
        if not self.shares:
            raise ShapeError("a shared convolution names the layer that owns its weights (shares)")
        return super().output_shape(inputs)


@builder_method("shared_conv2d", makes=SharedConv)
def shared_conv2d(net, x: str, owner: str, name: str | None = None) -> str:
    """Runs the 2-D Conv node ``owner`` (already in ``net``) again, on ``x``, with its weights."""
    layer = next((node.layer for node in net._nodes if node.name == owner), None)
    if type(layer) is not Conv:
        raise ShapeError(f"shared_conv2d: {owner!r} is not a Conv layer of network {net.name!r}")
    fields = {f: getattr(layer, f) for f in ("out_channels", "kernel_size", "stride", "padding", "dilation",
                                             "groups", "bias", "in_channels")}
    return net.add(SharedConv(**fields, shares=owner), x, name=name)
