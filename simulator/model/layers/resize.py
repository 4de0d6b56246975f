"""Layers that change the spatial size without weights: Resize (interpolation) and Pad (zero padding).

Each kind with its builder method, its ONNX writer and the readers of the ONNX operators that make it
(``Resize``, ``Upsample``; ``Pad`` with constant zero padding). Both have no parameters and no
MACs; Resize's operations per output element are :data:`simulator.model.formulas.OPS_PER_ELEMENT`
``resize_<mode>``, Pad has none (data movement only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
    pair,
)
from simulator.model.layers.imported import generic

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: interpolation modes, as ``torch.nn.functional.interpolate`` names them
RESIZE_MODES = ("nearest", "bilinear", "bicubic")
_ONNX_MODES = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic"}
#: PyTorch's bicubic convolution coefficient (``upsample_bicubic2d``); ONNX's default is -0.75 too
CUBIC_COEFF_A = -0.75


@layer_kind
@dataclass(frozen=True)
class Resize(Layer):
    """Interpolation of a ``(C, H, W)`` tensor to spatial ``size`` (``F.interpolate``).

    ``mode`` is one of :data:`RESIZE_MODES`; ``align_corners`` as in PyTorch (bilinear, bicubic).
    A scale factor is turned into the size at build time (``floor(in · factor)``, PyTorch's rule).
    """

    mode: str
    size: Shape
    align_corners: bool = False
    kind: ClassVar[str] = "Resize"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 3, "(C, H, W)")
        if self.mode not in RESIZE_MODES:
            raise ShapeError(f"mode {self.mode!r} is not one of {', '.join(RESIZE_MODES)}")
        if len(self.size) != 2 or min(self.size) < 1:
            raise ShapeError(f"size {self.size} is not a positive (height, width)")
        return (shape[0], *self.size)


@layer_kind
@dataclass(frozen=True)
class Pad(Layer):
    """Zero padding of the trailing ``len(begin)`` dimensions: ``begin[i]`` before, ``end[i]`` after."""

    begin: Shape
    end: Shape
    kind: ClassVar[str] = "Pad"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        n = len(self.begin)
        if len(self.end) != n or not 0 < n <= len(shape):
            raise ShapeError(f"pads {self.begin} / {self.end} do not fit shape {shape}")
        if min(*self.begin, *self.end) < 0:
            raise ShapeError(f"pads {self.begin} / {self.end} are negative (cropping is not padding)")
        lead = len(shape) - n
        return (*shape[:lead], *(s + b + e for s, b, e in zip(shape[lead:], self.begin, self.end,
                                                                strict=True)))


# Builder methods (``NetworkBuilder.<name>``), named and shaped as in PyTorch.


@builder_method("interpolate", makes=Resize)
def interpolate(net, x: str, size: int | Shape | None = None, scale_factor: float | None = None,
                mode: str = "nearest", align_corners: bool = False, name: str | None = None) -> str:
    """``F.interpolate(x, size=size)`` or ``scale_factor=scale_factor`` (output ``floor(in · factor)``)."""
    if (size is None) == (scale_factor is None):
        raise ShapeError("interpolate takes exactly one of size and scale_factor")
    if size is None:
        size = tuple(int(s * scale_factor) for s in net.shape(x)[1:])
    return net.add(Resize(mode, pair(size, 2), align_corners), x, name=name)


@builder_method("pad", makes=Pad)
def pad(net, x: str, pad: int | Shape, name: str | None = None) -> str:
    """``F.pad(x, pad)`` with zeros: ``pad`` = (last dim begin, last dim end, second-to-last begin, ...);
    an int pads the two trailing dimensions by it on every side (``nn.ZeroPad2d(p)``)."""
    pads = (pad,) * 4 if isinstance(pad, int) else tuple(pad)
    if len(pads) % 2:
        raise ShapeError(f"pad {pads} must have an even length (begin, end per dimension)")
    begin, end = pads[0::2][::-1], pads[1::2][::-1]
    return net.add(Pad(begin, end), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


@onnx_writer(Resize)
def write_resize(g: Any, node: Node) -> None:
    """``Resize`` to ``sizes`` (batch taken from the input); PyTorch's coordinate rules: nearest
    ``asymmetric`` + ``floor``, (bi)linear and cubic ``pytorch_half_pixel`` or ``align_corners``,
    cubic coefficient -0.75."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    sizes = g.batch_shape(x, (node.input_shapes[0][0], *layer.size), f"{name}/sizes")
    if layer.mode == "nearest":
        attributes = dict(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attributes = dict(coordinate_transformation_mode="align_corners" if layer.align_corners
                          else "pytorch_half_pixel", cubic_coeff_a=CUBIC_COEFF_A)
    g.op("Resize", [x, "", "", sizes], name, mode=_ONNX_MODES[layer.mode], **attributes)


@onnx_writer(Pad)
def write_pad(g: Any, node: Node) -> None:
    """``Pad`` (constant mode, zero) with begin/end pads over every dimension, the batch's 0."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    lead = 1 + len(node.input_shapes[0]) - len(layer.begin)
    pads = [0] * lead + list(layer.begin) + [0] * lead + list(layer.end)
    g.op("Pad", [x, g.const(f"{name}/pads", pads)], name, mode="constant")


# ONNX readers (:class:`simulator.onnx.reader.Translator`): ``t`` maps ONNX tensors onto the network.


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def _per_sample(t: Any, x: str, out: str) -> bool:
    """Whether ``x`` and ``out`` hold the batch alone in their first dimension."""
    return all(t.sample(n).batch_axis == 0 and t.sample(n).dropped for n in (x, out))


@onnx_reader("Resize", "Upsample", makes=Resize)
def read_resize(t: Any, node: Any) -> None:
    """Resize of an ``(N, C, H, W)`` tensor keeping N and C; any other a GenericOp (no MACs either way)."""
    acts = t.acts(node)
    mode = {"nearest": "nearest", "linear": "bilinear", "cubic": "bicubic"}.get(
        _text(t.attribute(node, "mode"), "nearest"))
    x, out = (acts[0] if acts else None), node.output[0]
    if (mode is None or len(acts) != 1 or x != node.input[0] or not _per_sample(t, x, out)
            or len(t.sample(x).shape) != 3 or t.sample(out).shape[0] != t.sample(x).shape[0]):
        generic(t, node, 0 if mode == "nearest" else 6)
        return
    transform = _text(t.attribute(node, "coordinate_transformation_mode"), "half_pixel")
    t.add(Resize(mode, t.sample(out).shape[1:], transform == "align_corners"), [x], out)


def _pads(t: Any, node: Any, rank: int) -> list[int] | None:
    """The node's begin/end pads over all ``rank`` dimensions, or None when they are not constant."""
    if len(node.input) < 2:
        values = t.attribute(node, "pads")
        return None if values is None else list(values)
    value = t.constant(node.input[1]) if t.is_const(node.input[1]) else None
    if value is None:
        return None
    pads = [int(v) for v in value.reshape(-1)]
    if len(node.input) > 3 and node.input[3]:  # opset 18: pads for the listed axes only
        axes = t.constant(node.input[3]) if t.is_const(node.input[3]) else None
        if axes is None:
            return None
        full = [0] * (2 * rank)
        axes = [int(a) % rank for a in axes.reshape(-1)]
        for k, axis in enumerate(axes):
            full[axis], full[rank + axis] = pads[k], pads[len(axes) + k]
        return full
    return pads


@onnx_reader("Pad", makes=Pad)
def read_pad(t: Any, node: Any) -> None:
    """Pad with constant zeros of the per-sample dimensions; reflect/edge modes, a non-zero value,
    negative or batch pads: a GenericOp (data movement, no arithmetic)."""
    acts = t.acts(node)
    x, out = (acts[0] if acts else None), node.output[0]
    rank = len(t.full(x)) if x else 0
    pads = _pads(t, node, rank) if len(acts) == 1 and x == node.input[0] else None
    has_value = len(node.input) > 2 and bool(node.input[2])
    value = t.value(node.input[2]) if has_value else t.attribute(node, "value", 0.0)
    if (pads is None or len(pads) != 2 * rank or _text(t.attribute(node, "mode"), "constant") != "constant"
            or value != 0 or min(pads) < 0 or pads[0] or pads[rank]
            or not _per_sample(t, x, out) or not any(pads)):
        generic(t, node, 0)
        return
    begin, end = pads[1:rank], pads[rank + 1:]
    while len(begin) > 1 and begin[0] == 0 and end[0] == 0:  # only the padded trailing dimensions
        begin, end = begin[1:], end[1:]
    t.add(Pad(tuple(begin), tuple(end)), [x], out)
