"""The index of an ONNX graph that pattern matchers walk (:class:`GraphIndex`) and what they return
(:class:`Match`): :mod:`simulator.onnx.patterns` and :mod:`simulator.onnx.llm_patterns` use it."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx

from simulator.model.layers import Layer
from simulator.onnx.shapes import GraphFacts, attribute


@dataclass(frozen=True)
class Match:
    """A layer standing for ``nodes`` (indices), reading ``source`` and writing ``output``."""

    layer: Layer
    source: str
    output: str
    nodes: frozenset[int]
    #: tensors whose names may name the layer (a weight, a bias), else the last node's name is used
    names: tuple[str, ...] = ()


class GraphIndex:
    """Producers and readers of every tensor of a graph, with its constant values."""

    def __init__(self, graph: onnx.GraphProto, facts: GraphFacts):
        self.nodes = list(graph.node)
        self.facts = facts
        self.producer = {out: i for i, node in enumerate(self.nodes) for out in node.output if out}
        self.readers: dict[str, list[int]] = defaultdict(list)
        for i, node in enumerate(self.nodes):
            for name in dict.fromkeys(node.input):
                if name:
                    self.readers[name].append(i)
        self.outputs = {out.name for out in graph.output}

    def sole_reader(self, tensor: str, *op_types: str) -> int | None:
        """The one node reading ``tensor`` if it is one of ``op_types`` and ``tensor`` is internal."""
        readers = self.readers.get(tensor, [])
        if len(readers) != 1 or tensor in self.outputs or self.nodes[readers[0]].op_type not in op_types:
            return None
        return readers[0]

    def only_read_by(self, tensor: str, reader: int) -> bool:
        """Whether node ``reader`` alone reads ``tensor`` (and it is no graph output)."""
        return self.readers.get(tensor) == [reader] and tensor not in self.outputs

    def feeding(self, tensor: str, op_type: str, reader: int) -> int | None:
        """The ``op_type`` node writing ``tensor`` when node ``reader`` alone reads it, else None."""
        producer = self.produced_by(tensor, op_type)
        return producer if producer is not None and self.only_read_by(tensor, reader) else None

    def produced_by(self, tensor: str, *op_types: str) -> int | None:
        index = self.producer.get(tensor)
        return index if index is not None and self.nodes[index].op_type in op_types else None

    def other(self, index: int, tensor: str) -> str | None:
        """The other operand of a binary node that reads ``tensor``."""
        inputs = list(self.nodes[index].input)
        if len(inputs) != 2 or tensor not in inputs:
            return None
        return inputs[1] if inputs[0] == tensor else inputs[0]

    def scalar(self, tensor: str | None) -> float | None:
        if tensor is None or tensor not in self.facts.constants:
            return None
        value = self.facts.value(tensor)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def is_scalar(self, tensor: str | None, expected: float) -> bool:
        value = self.scalar(tensor)
        return value is not None and math.isclose(value, expected, rel_tol=1e-3)

    def constant_size(self, tensor: str | None) -> int | None:
        if tensor is None or tensor not in self.facts.constants or tensor not in self.facts.shapes:
            return None
        return int(np.prod(self.facts.shapes[tensor]))

    def affine_tail(self, tensor: str, channels: int) -> tuple[str, set[int]]:
        """Follows an optional ``Mul(·, γ)`` → ``Add(·, β)`` of ``channels`` constants after ``tensor``."""
        mul = self.sole_reader(tensor, "Mul")
        if mul is None or self.constant_size(self.other(mul, tensor)) != channels:
            return tensor, set()
        scaled = self.nodes[mul].output[0]
        add = self.sole_reader(scaled, "Add")
        if add is None or self.constant_size(self.other(add, scaled)) != channels:
            return scaled, {mul}
        return self.nodes[add].output[0], {mul, add}


def reduce_axes(g: GraphIndex, i: int) -> tuple[int, ...] | None:
    """The sorted axes a keepdims reduction (node ``i``) reduces, from its attribute or its constant input."""
    node = g.nodes[i]
    axes = attribute(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        value = g.facts.value(node.input[1])
        axes = None if value is None else value.tolist()
    rank = len(g.facts.shapes.get(node.input[0], ()))
    if axes is None or not rank or not attribute(node, "keepdims", 1):
        return None
    return tuple(sorted(a % rank for a in axes))
