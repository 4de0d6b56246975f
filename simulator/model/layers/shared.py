"""A convolution that runs the weights of an earlier one (weight sharing across inputs).

RetinaNet's classification and regression heads (torchvision, and MLPerf's copy of it) apply the same
``nn.Conv2d`` modules to every pyramid level: one set of parameters, five runs. The graph holds one
node per run; the first is a plain :class:`~simulator.model.layers.compute.Conv` that owns the
weights, the others are :class:`SharedConv` naming it in ``shares``. The kind with its builder
method, its ONNX writer (a ``Conv`` reading the owner's initializers) and the reader of ``Conv``: it
takes over the reader (as :mod:`~simulator.model.layers.embedding` takes over Gather's) and turns a
Conv whose weight and bias initializers an earlier Conv already read into a SharedConv of that one,
so that an imported model counts shared weights once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
    take_over_reader,
)
from simulator.model.layers.compute import Conv
from simulator.model.layers.conv3d import Conv3d
from simulator.model.layers.conv3d import read_conv as read_other_conv

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: the fields a SharedConv copies from its owner
_CONV_FIELDS = ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
                "in_channels")


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
    return net.add(SharedConv(**{f: getattr(layer, f) for f in _CONV_FIELDS}, shares=owner), x, name=name)


@onnx_writer(SharedConv)
def write_shared_conv(g: Any, node: Node) -> None:
    """``Conv`` reading the owner's ``<owner>.weight`` (and ``.bias``) initializers: written once."""
    layer, name = node.layer, node.name
    inputs = [node.inputs[0], f"{layer.shares}.weight"]
    if layer.bias:
        inputs.append(f"{layer.shares}.bias")
    g.op("Conv", inputs, name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
         pads=list(layer.padding) * 2, dilations=list(layer.dilation), group=layer.groups)


# ``Conv`` has one reader: this one, which reads the node with the reader before it (Conv3d's, which
# hands 1-D/2-D convolutions to compute.read_conv) and then marks a reuse of initializers
take_over_reader("Conv", read_other_conv, (Conv, Conv3d))


@onnx_reader("Conv", makes=(Conv, Conv3d, SharedConv))
def read_conv(t: Any, node: Any) -> None:
    """The Conv of :func:`simulator.model.layers.conv3d.read_conv`; a 1-D/2-D Conv whose weight (and
    bias) initializers an earlier Conv read becomes a SharedConv of it (no parameters of its own)."""
    read_other_conv(t, node)
    weight, bias = node.input[1], node.input[2] if len(node.input) > 2 else ""
    if not t.is_learned(weight):
        return
    nodes = t.builder._nodes
    out = t.tensors.get(node.output[0])
    index = next((i for i in range(len(nodes) - 1, -1, -1) if nodes[i].name == out), None)
    if index is None or type(nodes[index].layer) is not Conv:
        return
    owners = t.__dict__.setdefault("_conv_weight_owners", {})
    owner = owners.setdefault((weight, bias), out)
    if owner != out:
        layer = nodes[index].layer
        shared = SharedConv(**{f: getattr(layer, f) for f in _CONV_FIELDS}, shares=owner)
        nodes[index] = dataclasses.replace(nodes[index], layer=shared)
