"""Layers that only rearrange or extend tensors: views, concatenation and ViT tokens.

Each kind with its builder method, its ONNX writer and the readers of the ONNX operators that make it
(``Reshape``/``Flatten``/``Squeeze``/``Unsqueeze``, ``Transpose``, ``Concat``, ``Gather``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    elements,
    layer_kind,
    onnx_reader,
    onnx_writer,
)
from simulator.model.layers.imported import generic, unsupported

if TYPE_CHECKING:
    from simulator.model.graph import Node


@layer_kind
@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens dimensions ``start_dim..end_dim`` of the per-sample shape (a view, no copy)."""

    start_dim: int = 0
    end_dim: int = -1
    kind: ClassVar[str] = "Flatten"
    is_view: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        return (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])


@layer_kind
@dataclass(frozen=True)
class Reshape(Layer):
    """Reshape to ``shape`` (per sample; one ``-1`` allowed). A view, no copy."""

    shape: Shape
    kind: ClassVar[str] = "Reshape"
    is_view: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        total = elements(shape)
        known = math.prod(d for d in self.shape if d != -1)
        if list(self.shape).count(-1) > 1:
            raise ShapeError(f"target {self.shape} has more than one -1")
        if -1 in self.shape:
            if known == 0 or total % known:
                raise ShapeError(f"cannot reshape {shape} ({total} elements) to {self.shape}")
            return tuple(total // known if d == -1 else d for d in self.shape)
        if known != total:
            raise ShapeError(f"cannot reshape {shape} ({total} elements) to {self.shape} ({known} elements)")
        return self.shape


@layer_kind
@dataclass(frozen=True)
class Permute(Layer):
    """Reorders the per-sample dimensions (``Transpose``). Treated as a view, as in PyTorch."""

    dims: Shape
    kind: ClassVar[str] = "Permute"
    is_view: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if sorted(self.dims) != list(range(len(shape))):
            raise ShapeError(f"dims {self.dims} are not a permutation of the {len(shape)} dimensions "
                             f"of {shape}")
        return tuple(shape[d] for d in self.dims)


@layer_kind
@dataclass(frozen=True)
class Concat(Layer):
    """Concatenation along ``dim`` of the per-sample shapes (a new tensor)."""

    dim: int = 0
    kind: ClassVar[str] = "Concat"
    arity: ClassVar[int | None] = None

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        first = inputs[0]
        dim = self.dim % len(first)
        for other in inputs[1:]:
            if len(other) != len(first) or any(
                    a != b for i, (a, b) in enumerate(zip(first, other, strict=True)) if i != dim):
                raise ShapeError(f"shapes {first} and {other} differ outside the concatenation "
                                 f"dim {self.dim}")
        return (*first[:dim], sum(s[dim] for s in inputs), *first[dim + 1:])


@layer_kind
@dataclass(frozen=True)
class ClassToken(Layer):
    """Prepends a learned class token to a ``(L, E)`` sequence (ViT): ``(L, E) -> (L+1, E)``."""

    embed_dim: int
    kind: ClassVar[str] = "ClassToken"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, embed_dim)")
        if shape[1] != self.embed_dim:
            raise ShapeError(f"embed_dim: expects {self.embed_dim}, got {shape[1]}")
        return (shape[0] + 1, shape[1])


@layer_kind
@dataclass(frozen=True)
class PositionalEmbedding(Layer):
    """Adds a learned positional embedding of shape ``(L, E)`` to the sequence."""

    seq_len: int
    embed_dim: int
    kind: ClassVar[str] = "PosEmbedding"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if shape != (self.seq_len, self.embed_dim):
            raise ShapeError(f"expects a sequence of shape {(self.seq_len, self.embed_dim)}, got {shape}")
        return shape


@layer_kind
@dataclass(frozen=True)
class SelectToken(Layer):
    """Takes token ``index`` of a ``(L, E)`` sequence (``x[:, 0]`` in ViT): a view."""

    index: int = 0
    kind: ClassVar[str] = "SelectToken"
    is_view: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if len(shape) < 2 or not -shape[0] <= self.index < shape[0]:
            raise ShapeError(f"cannot take token {self.index} of shape {shape}")
        return shape[1:]


# Builder methods (``NetworkBuilder.<name>``).


@builder_method("flatten", makes=Flatten)
def flatten(net, x: str, start_dim: int = 0, end_dim: int = -1, name: str | None = None) -> str:
    return net.add(Flatten(start_dim, end_dim), x, name=name)


@builder_method("reshape", makes=Reshape)
def reshape(net, x: str, shape: Shape, name: str | None = None) -> str:
    return net.add(Reshape(tuple(shape)), x, name=name)


@builder_method("permute", makes=Permute)
def permute(net, x: str, dims: Shape, name: str | None = None) -> str:
    return net.add(Permute(tuple(dims)), x, name=name)


@builder_method("concat", makes=Concat)
def concat(net, *tensors: str, dim: int = 0, name: str | None = None) -> str:
    return net.add(Concat(dim), *tensors, name=name)


@builder_method("class_token", makes=ClassToken)
def class_token(net, x: str, name: str | None = None) -> str:
    return net.add(ClassToken(net.shape(x)[-1]), x, name=name)


@builder_method("positional_embedding", makes=PositionalEmbedding)
def positional_embedding(net, x: str, name: str | None = None) -> str:
    return net.add(PositionalEmbedding(*net.shape(x)), x, name=name)


@builder_method("select_token", makes=SelectToken)
def select_token(net, x: str, index: int = 0, name: str | None = None) -> str:
    return net.add(SelectToken(index), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


@onnx_writer(Flatten)
def write_flatten(g: Any, node: Node) -> None:
    """``Flatten`` of everything after the batch, else ``Reshape``."""
    rank = len(node.input_shapes[0])
    if node.layer.start_dim % rank == 0 and node.layer.end_dim % rank == rank - 1:
        g.op("Flatten", [node.inputs[0]], node.name, axis=1)
    else:
        g.reshape(node.inputs[0], node.output_shape, node.name)


@onnx_writer(Reshape)
def write_reshape(g: Any, node: Node) -> None:
    g.reshape(node.inputs[0], node.output_shape, node.name)


@onnx_writer(Permute)
def write_permute(g: Any, node: Node) -> None:
    """``Transpose`` (the batch stays first)."""
    g.op("Transpose", [node.inputs[0]], node.name, perm=[0, *(d + 1 for d in node.layer.dims)])


@onnx_writer(Concat)
def write_concat(g: Any, node: Node) -> None:
    rank = len(node.input_shapes[0])
    g.op("Concat", list(node.inputs), node.name, axis=node.layer.dim % rank + 1)


@onnx_writer(ClassToken)
def write_class_token(g: Any, node: Node) -> None:
    """``Expand`` of the token over the batch + ``Concat`` on the token axis."""
    (x,), name, embed = node.inputs, node.name, node.layer.embed_dim
    token = g.param(f"{name}.weight", (1, 1, embed), 0.02)
    expanded = g.op("Expand", [token, g.batch_shape(x, (1, embed), f"{name}/shape")], f"{name}/expanded")
    g.op("Concat", [expanded, x], name, axis=1)


@onnx_writer(PositionalEmbedding)
def write_positional(g: Any, node: Node) -> None:
    """``Add`` of the embedding."""
    layer = node.layer
    g.op("Add", [node.inputs[0], g.param(f"{node.name}.weight", (1, layer.seq_len, layer.embed_dim), 0.02)],
         node.name)


@onnx_writer(SelectToken)
def write_select_token(g: Any, node: Node) -> None:
    """``Gather`` on the token axis."""
    index = g.const(f"{node.name}/index", node.layer.index)
    g.op("Gather", [node.inputs[0], index], node.name, axis=1)


# ONNX readers (:class:`simulator.onnx.reader.Translator`): ``t`` maps ONNX tensors onto the network.


@onnx_reader("Reshape", "Flatten", "Squeeze", "Unsqueeze", makes=(Reshape, Flatten))
def read_view(t: Any, node: Any) -> None:
    """A Reshape (Flatten when everything after the batch is flattened); none when the per-sample
    shape is unchanged."""
    x, out = t.acts(node)[0], node.output[0]
    flat = t.sample(out).shape == (math.prod(t.sample(x).shape),) and t.sample(x).dropped
    t.view(x, out, Flatten() if node.op_type == "Flatten" and flat else None)


@onnx_reader("Transpose", makes=Permute)
def read_transpose(t: Any, node: Any) -> None:
    """Permute of the per-sample axes; a view when the batch moves; none for the identity."""
    x, out = node.input[0], node.output[0]
    rank = len(t.full(x))
    perm = t.attribute(node, "perm") or list(reversed(range(rank)))
    source, target = t.sample(x), t.sample(out)
    skip = target.batch_axis if target.dropped else None
    dims = [source.axis(p, rank) for j, p in enumerate(perm) if j != skip]
    if None in dims or sorted(dims) != list(range(len(source.shape))) or (
            tuple(source.shape[d] for d in dims) != target.shape):
        t.view(x, out)  # the batch moves: same elements, a view in our memory model
    elif dims == sorted(dims):
        t.alias(out, x)
    else:
        t.add(Permute(tuple(dims)), [x], out)


@onnx_reader("Concat", makes=(Concat, ClassToken))
def read_concat(t: Any, node: Any) -> None:
    """Concat of activations; with one learned token ClassToken; other constants: data movement."""
    acts, out = t.acts(node), node.output[0]
    constants = [name for name in node.input if name and t.is_const(name)]
    axis = t.sample(acts[0]).axis(t.attribute(node, "axis"), len(t.full(out)))
    shape = t.sample(out).shape
    if axis is None:
        unsupported(t, node)  # concatenating samples
    elif not constants and len(acts) == 1:
        t.alias(out, acts[0])
    elif not constants:
        t.add(Concat(axis), acts, out)
    elif len(acts) == 1 and len(constants) == 1 and len(shape) == 2 and axis == 0 and (
            t.is_learned(constants[0]) and t.full(constants[0])[t.attribute(node, "axis")] == 1):
        t.add(ClassToken(shape[1]), acts, out)
    else:
        generic(t, node, 0)


@onnx_reader("Gather", makes=SelectToken)
def read_gather(t: Any, node: Any) -> None:
    """SelectToken for a scalar index on the first per-sample axis (``x[:, 0]``), else data movement."""
    data, indices = node.input[0], node.input[1]
    index = t.constant(indices) if t.is_const(indices) and not t.is_const(data) else None
    if index is not None and index.ndim == 0:
        source = t.sample(data)
        if source.axis(t.attribute(node, "axis", 0), len(t.full(data))) == 0 and len(source.shape) >= 2:
            t.add(SelectToken(int(index)), [data], node.output[0])
            return
    generic(t, node, 0)
