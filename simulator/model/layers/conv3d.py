"""Volumetric layers: 3-D convolution and 3-D transposed convolution on ``(C, D, H, W)`` (3D-UNet).

Each kind with its builder method. Neither has an ONNX writer yet (the ONNX reader maps 3-D ``Conv``
to Unsupported and has no ``ConvTranspose``, so no round trip could keep the counts): export refuses
them in one line. Cost formulas: :mod:`simulator.model.formulas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    layer_kind,
    pair,
    window_output_size,
)

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
    exportable: ClassVar[bool] = False

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
    exportable: ClassVar[bool] = False

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
