"""Shapes, sliding-window arithmetic and the base class of every layer kind."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, TypeVar

from simulator.errors import ShapeError

Shape = tuple[int, ...]


def elements(shape: Shape) -> int:
    """Number of elements of a shape (an exact Python int)."""
    return math.prod(shape)


def window_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, dim: str,
                       ceil_mode: bool = False) -> int:
    """Output length of a sliding window (convolution or pooling), as in the lecture and PyTorch.

    ``out = floor((in + 2p - d(k-1) - 1) / s) + 1``; with ``d = 1`` this is the lecture's
    ``(h_i + 2p - k_h) / s + 1``. With ``ceil_mode`` the division rounds up, but the last window
    must start inside the input or left padding (PyTorch's rule).
    """
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if room < 0:
        raise ShapeError(
            f"{dim}: input {size} + 2×{padding} padding is smaller than the "
            f"{'dilated ' if dilation > 1 else ''}kernel {span}"
        )
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _check_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"expects a {what} input of {rank} dimensions per sample, got shape {shape}")


def _spatial_output(shape: Shape, kernel: Shape, stride: Shape, padding: Shape, dilation: Shape,
                    ceil_mode: bool = False) -> Shape:
    names = ("height", "width") if len(kernel) == 2 else ("length",)
    return tuple(
        window_output_size(size, k, s, p, d, name, ceil_mode)
        for size, k, s, p, d, name in zip(shape, kernel, stride, padding, dilation, names, strict=True)
    )


#: every layer kind, by class name, registered where its class is defined (:func:`layer_kind`)
LAYER_KINDS: dict[str, type[Layer]] = {}
#: builder methods of :class:`simulator.model.graph.NetworkBuilder`, registered next to their kind
BUILDER_METHODS: dict[str, Callable[..., str]] = {}


class Layer:
    """Base of all layer kinds. ``kind`` is the display name used in tables and charts.

    A kind is declared once, in its module: the class, decorated with :func:`layer_kind` (shape
    inference and the traits below), its
    builder method (:func:`builder_method`), its ONNX writer (:meth:`to_onnx`) and ONNX reader
    handlers (:func:`simulator.model.layers.base.onnx_reader`); its cost formula lives in
    :mod:`simulator.model.formulas`. Traits:

    * ``is_view``: the output aliases the input (Flatten, Reshape): no new tensor, no traffic;
    * ``inplace_capable``: may overwrite its first input (``nn.ReLU(inplace=True)``);
    * ``absorbs_batchnorm`` / ``absorbs_activation``: the inference view folds a following
      BatchNorm / applies a following activation in this layer's epilogue;
    * ``efficiency_class``: the kernel class it runs as (:data:`simulator.kernels.EFFICIENCY_CLASSES`).
    """

    kind: ClassVar[str] = "Layer"
    #: number of inputs the layer takes; None means two or more
    arity: ClassVar[int | None] = 1
    is_view: ClassVar[bool] = False
    inplace_capable: ClassVar[bool] = False
    absorbs_batchnorm: ClassVar[bool] = False
    absorbs_activation: ClassVar[bool] = False
    efficiency_class: ClassVar[str] = "elementwise"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    @property
    def display_kind(self) -> str:
        return self.kind



L = TypeVar("L", bound=type)


def layer_kind(cls: L) -> L:
    """Class decorator: registers a layer kind in :data:`LAYER_KINDS` (its name must be new)."""
    if cls.__name__ in LAYER_KINDS:
        raise RuntimeError(f"layer kind {cls.__name__!r} is registered twice")
    LAYER_KINDS[cls.__name__] = cls
    return cls


def builder_method(name: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Registers ``function(builder, *inputs, ...)`` as ``NetworkBuilder.<name>``."""
    def register(function: Callable[..., str]) -> Callable[..., str]:
        if name in BUILDER_METHODS:
            raise RuntimeError(f"builder method {name!r} is registered twice")
        BUILDER_METHODS[name] = function
        return function
    return register


def pair(value: int | tuple[int, ...], dims: int) -> Shape:
    """``3 -> (3, 3)`` for ``dims = 2``; a tuple is kept as it is."""
    return (value,) * dims if isinstance(value, int) else tuple(value)


def adaptive_windows(size: int, out: int) -> list[int]:
    """Window lengths of adaptive pooling: window i spans ``[floor(i*in/out), ceil((i+1)*in/out))``."""
    return [-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)]


def broadcast_shapes(shapes: tuple[Shape, ...]) -> Shape:
    """NumPy broadcasting of per-sample shapes (trailing dimensions aligned)."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(sizes) > 1:
            raise ShapeError(f"shapes {' and '.join(map(str, shapes))} do not broadcast "
                             f"(dimension {i}: sizes {sorted(sizes)})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
