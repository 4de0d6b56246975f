"""Layers that only rearrange or extend tensors: views, concatenation and ViT tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    elements,
    layer_kind,
)


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


@builder_method("flatten")
def flatten(net, x: str, start_dim: int = 0, end_dim: int = -1, name: str | None = None) -> str:
    return net.add(Flatten(start_dim, end_dim), x, name=name)


@builder_method("reshape")
def reshape(net, x: str, shape: Shape, name: str | None = None) -> str:
    return net.add(Reshape(tuple(shape)), x, name=name)


@builder_method("permute")
def permute(net, x: str, dims: Shape, name: str | None = None) -> str:
    return net.add(Permute(tuple(dims)), x, name=name)


@builder_method("concat")
def concat(net, *tensors: str, dim: int = 0, name: str | None = None) -> str:
    return net.add(Concat(dim), *tensors, name=name)


@builder_method("class_token")
def class_token(net, x: str, name: str | None = None) -> str:
    return net.add(ClassToken(net.shape(x)[-1]), x, name=name)


@builder_method("positional_embedding")
def positional_embedding(net, x: str, name: str | None = None) -> str:
    return net.add(PositionalEmbedding(*net.shape(x)), x, name=name)


@builder_method("select_token")
def select_token(net, x: str, index: int = 0, name: str | None = None) -> str:
    return net.add(SelectToken(index), x, name=name)
