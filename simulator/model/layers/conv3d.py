"""Volumetric layers: 3-D convolution and 3-D transposed convolution on ``(C, D, H, W)`` (3D-UNet).

Each kind with its builder method, its ONNX writer (``Conv``, ``ConvTranspose``) and reader: this
module takes over the reader of ``Conv`` (a 5-D weight makes a Conv3d, any other goes on to
:func:`simulator.model.layers.compute.read_conv`) and reads ``ConvTranspose`` with a 5-D weight
(others: Unsupported). Cost formulas: :mod:`simulator.model.formulas`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    ONNX_READERS,
    PRODUCERS,
    Layer,
    Shape,
    _check_rank,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
    pair,
    window_output_size,
)
from simulator.model.layers.compute import Conv
from simulator.model.layers.compute import read_conv as read_other_conv
from simulator.model.layers.imported import unsupported

if TYPE_CHECKING:
    from simulator.model.graph import Node

_AXES = ("depth", "height", "width")


def _check_channels(c_in: int, out_channels: int, groups: int) -> None:
    if c_in % groups:
        raise ShapeError(f"channels: {c_in} input channels are not divisible by groups={groups}")
    if out_channels % groups:
        raise ShapeError(f"channels: {out_channels} output channels are not divisible by groups={groups}")


@layer_kind
@dataclass(frozen=True)
class Conv3d(Layer):
    """``nn.Conv3d``: a ``k_d×k_h×k_w`` kernel slid over depth, height and width, with groups.

    Output per axis ``floor((n + 2p − d(k−1) − 1)/s) + 1``, as a 2-D convolution's.
    """

    out_channels: int
    kernel_size: Shape
    stride: Shape
    padding: Shape
    dilation: Shape
    groups: int = 1
    bias: bool = True
    kind: ClassVar[str] = "Conv3d"
    absorbs_batchnorm: ClassVar[bool] = True
    absorbs_activation: ClassVar[bool] = True
    efficiency_class: ClassVar[str] = "conv"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 4, "(C, D, H, W)")
        _check_channels(shape[0], self.out_channels, self.groups)
        return (self.out_channels, *(
            window_output_size(n, k, s, p, d, axis) for n, k, s, p, d, axis in
            zip(shape[1:], self.kernel_size, self.stride, self.padding, self.dilation, _AXES, strict=True)))


@layer_kind
@dataclass(frozen=True)
class ConvTranspose3d(Layer):
    """``nn.ConvTranspose3d`` (the gradient of a Conv3d): each input voxel scatters a ``k³`` kernel.

    Output per axis ``(n − 1)·s − 2p + d(k − 1) + output_padding + 1`` (PyTorch's formula).
    """

    out_channels: int
    kernel_size: Shape
    stride: Shape
    padding: Shape
    output_padding: Shape
    dilation: Shape
    groups: int = 1
    bias: bool = True
    kind: ClassVar[str] = "ConvTranspose3d"
    absorbs_activation: ClassVar[bool] = True
    efficiency_class: ClassVar[str] = "conv"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 4, "(C, D, H, W)")
        _check_channels(shape[0], self.out_channels, self.groups)
        out = []
        for n, k, s, p, op, d, axis in zip(shape[1:], self.kernel_size, self.stride, self.padding,
                                            self.output_padding, self.dilation, _AXES, strict=True):
            if op >= max(s, d):
                raise ShapeError(f"{axis}: output_padding {op} must be smaller than the stride {s} "
                                 f"or the dilation {d}")
            size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            if size < 1:
                raise ShapeError(f"{axis}: input {n} gives an empty output ({size}) with padding {p}")
            out.append(size)
        return (self.out_channels, *out)


@builder_method("conv3d", makes=Conv3d)
def conv3d(net, x: str, out_channels: int, kernel_size: int | Shape, stride: int | Shape = 1,
           padding: int | Shape = 0, dilation: int | Shape = 1, groups: int = 1, bias: bool = True,
           name: str | None = None) -> str:
    """``nn.Conv3d(C_in, out_channels, kernel_size, stride, padding, dilation, groups, bias)``."""
    layer = Conv3d(out_channels, pair(kernel_size, 3), pair(stride, 3), pair(padding, 3),
                   pair(dilation, 3), groups, bias)
    return net.add(layer, x, name=name)


@builder_method("conv_transpose3d", makes=ConvTranspose3d)
def conv_transpose3d(net, x: str, out_channels: int, kernel_size: int | Shape, stride: int | Shape = 1,
                     padding: int | Shape = 0, output_padding: int | Shape = 0, dilation: int | Shape = 1,
                     groups: int = 1, bias: bool = True, name: str | None = None) -> str:
    """``nn.ConvTranspose3d(C_in, out_channels, kernel_size, stride, padding, output_padding, groups,
    bias, dilation)``."""
    layer = ConvTranspose3d(out_channels, pair(kernel_size, 3), pair(stride, 3), pair(padding, 3),
                            pair(output_padding, 3), pair(dilation, 3), groups, bias)
    return net.add(layer, x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`), readers (:class:`simulator.onnx.reader.Translator`).


def _write(g: Any, node: Node, op_type: str, weight_shape: Shape, **attributes) -> None:
    layer, name = node.layer, node.name
    std = g.fan_in_std(node.input_shapes[0][0] // layer.groups * math.prod(layer.kernel_size))
    inputs = [node.inputs[0], g.param(f"{name}.weight", weight_shape, std)]
    if layer.bias:
        inputs.append(g.param(f"{name}.bias", (layer.out_channels,), std))
    g.op(op_type, inputs, name, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
         pads=list(layer.padding) * 2, dilations=list(layer.dilation), group=layer.groups, **attributes)


@onnx_writer(Conv3d)
def write_conv3d(g: Any, node: Node) -> None:
    """``Conv`` with a ``(c_o, c_i/g, k_d, k_h, k_w)`` weight."""
    layer = node.layer
    _write(g, node, "Conv", (layer.out_channels, node.input_shapes[0][0] // layer.groups, *layer.kernel_size))


@onnx_writer(ConvTranspose3d)
def write_conv_transpose3d(g: Any, node: Node) -> None:
    """``ConvTranspose`` with a ``(c_i, c_o/g, k_d, k_h, k_w)`` weight and ``output_padding``."""
    layer = node.layer
    _write(g, node, "ConvTranspose", (node.input_shapes[0][0], layer.out_channels // layer.groups,
                                      *layer.kernel_size), output_padding=list(layer.output_padding))


def _window(t: Any, node: Any, kernel: Shape) -> tuple[Shape, Shape, Shape] | None:
    """Strides, symmetric pads and dilations of a 3-D window; None for ``auto_pad`` or asymmetric pads."""
    auto = t.attribute(node, "auto_pad", b"NOTSET")
    pads = tuple(t.attribute(node, "pads", [0] * 6))
    if (auto.decode() if isinstance(auto, bytes) else auto) != "NOTSET" or pads[:3] != pads[3:]:
        return None
    return (tuple(t.attribute(node, "strides", [1] * 3)), pads[:3],
            tuple(t.attribute(node, "dilations", [1] * 3)))


# ``Conv`` has one reader: this one, which makes a Conv3d of a 5-D weight and hands the others to
# compute.read_conv (as embedding.py takes over Gather)
if ONNX_READERS.pop("Conv") is not read_other_conv:
    raise RuntimeError("ONNX Conv has a reader other than simulator.model.layers.compute.read_conv")
PRODUCERS[Conv].remove("ONNX Conv")


@onnx_reader("Conv", makes=(Conv, Conv3d))
def read_conv(t: Any, node: Any) -> None:
    """Conv3d for a constant 5-D weight with explicit symmetric pads; else the 1-D/2-D reader."""
    x, weight = node.input[0], node.input[1]
    if t.is_const(x) or not t.is_const(weight) or len(t.full(weight)) != 5:
        read_other_conv(t, node)
        return
    shape = t.full(weight)
    kernel = tuple(t.attribute(node, "kernel_shape", shape[2:]))
    window = _window(t, node, kernel)
    if window is None:
        unsupported(t, node)
        return
    bias = len(node.input) > 2 and bool(node.input[2])
    layer = Conv3d(shape[0], kernel, *window, t.attribute(node, "group", 1), bias)
    t.add(layer, [x], node.output[0], t.param_name(weight))


@onnx_reader("ConvTranspose", makes=ConvTranspose3d)
def read_conv_transpose(t: Any, node: Any) -> None:
    """ConvTranspose3d for a constant 5-D weight ``(c_i, c_o/g, k…)`` with explicit symmetric pads and
    no ``output_shape``; every other ConvTranspose is Unsupported."""
    x, weight = node.input[0], node.input[1]
    if (t.is_const(x) or not t.is_const(weight) or len(t.full(weight)) != 5
            or t.attribute(node, "output_shape") is not None):
        unsupported(t, node)
        return
    shape = t.full(weight)
    groups = t.attribute(node, "group", 1)
    kernel = tuple(t.attribute(node, "kernel_shape", shape[2:]))
    window = _window(t, node, kernel)
    if window is None:
        unsupported(t, node)
        return
    stride, padding, dilation = window
    output_padding = tuple(t.attribute(node, "output_padding", [0] * 3))
    bias = len(node.input) > 2 and bool(node.input[2])
    layer = ConvTranspose3d(shape[1] * groups, kernel, stride, padding, output_padding, dilation, groups,
                            bias)
    t.add(layer, [x], node.output[0], t.param_name(weight))
