"""Table lookups (``nn.Embedding``): token, position and segment embeddings of BERT.

The kind with its builder method, its ONNX writer (``Gather``) and the reader of ``Gather`` from a
learned 2-D table at activation indices (other Gathers: :func:`simulator.model.layers.tensor.read_gather`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    builder_method,
    elements,
    layer_kind,
    onnx_reader,
    onnx_writer,
    take_over_reader,
)
from simulator.model.layers.tensor import SelectToken
from simulator.model.layers.tensor import read_gather as read_other_gather

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: what indexes an embedding table: the network input's token ids, positions ``0..L-1``, segment ids 0
EMBEDDING_SOURCES = ("tokens", "positions", "segments")
#: ONNX ``TensorProto.INT64``
_INT64 = 7


@layer_kind
@dataclass(frozen=True)
class Embedding(Layer):
    """Lookup of rows of a learned ``(num_embeddings, embedding_dim)`` table: ``(L,) -> (L, E)``.

    ``source`` says what indexes it: the token ids (the network input), the positions ``0..L-1``
    (BERT's ``position_ids`` buffer) or the segment ids (``token_type_ids``, 0 by default); the
    input tensor supplies the length ``L``. Params ``V·E``; a gather moves ``L·E`` elements and does
    no arithmetic (no MACs, no element-wise operations).
    """

    num_embeddings: int
    embedding_dim: int
    source: str = "tokens"
    kind: ClassVar[str] = "Embedding"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if self.source not in EMBEDDING_SOURCES:
            raise ShapeError(f"source must be one of {', '.join(EMBEDDING_SOURCES)}, got {self.source!r}")
        if self.source != "tokens" and len(shape) != 1:
            raise ShapeError(f"{self.source}: expects a (tokens,) index vector, got {shape}")
        if self.source == "positions" and shape[0] > self.num_embeddings:
            raise ShapeError(f"sequence length {shape[0]} exceeds the {self.num_embeddings} positions")
        return (*shape, self.embedding_dim)

    def gathered_weight_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Weight elements one lookup reads per sample: the ``L·E`` gathered rows (``L`` indices in the
        input), not the ``V·E`` table (which stays the parameter count and the model size).

        The one definition of an embedding's weight traffic: the engine's workload
        (:func:`simulator.engine.workload.build_workload`) reads these per sample, at the weights'
        precision, from the weight store, for BERT's lookups and an LLM's token embedding alike.
        BERT-base at 128 tokens: ``128·768`` elements (196 kB in fp16), not ``30522·768`` (47 MB).
        """
        (shape,) = inputs
        return elements(shape) * self.embedding_dim


@builder_method("embedding", makes=Embedding)
def embedding(net, x: str, num_embeddings: int, embedding_dim: int, source: str = "tokens",
              name: str | None = None) -> str:
    """``nn.Embedding(num_embeddings, embedding_dim)`` indexed by ``source`` (``x`` gives the length)."""
    return net.add(Embedding(num_embeddings, embedding_dim, source), x, name=name)


@onnx_writer(Embedding)
def write_embedding(g: Any, node: Node) -> None:
    """``Cast`` of the input to int64 and ``Gather`` from the table (``<name>.weight``).

    Positions ``0..L-1`` and segment ids 0 are written into the ids by ``ScatterElements`` (data
    movement), so that the lookup still reads the network input: a lookup at constant indices would
    be folded away as a constant on import, losing the table's parameters.
    """
    layer, name, (x,) = node.layer, node.name, node.inputs
    ids = g.op("Cast", [x], f"{name}/ids", to=_INT64)
    if layer.source != "tokens":
        import numpy as np  # only the ONNX writer needs arrays: counting a network never loads numpy

        length = node.input_shapes[0][0]
        shape = g.batch_shape(x, (length,), f"{name}/shape")
        where = g.op("Expand", [g.const(f"{name}/positions", np.arange(length)), shape], f"{name}/where")
        values = where if layer.source == "positions" else g.op(
            "Expand", [g.const(f"{name}/zeros", np.zeros(length, dtype=np.int64)), shape], f"{name}/values")
        ids = g.op("ScatterElements", [ids, where, values], f"{name}/indices", axis=1)
    table = g.param(f"{name}.weight", (layer.num_embeddings, layer.embedding_dim), 0.02)
    g.op("Gather", [table, ids], name, axis=0)


# ``Gather`` has one reader: this one, for a lookup in a learned 2-D table, which hands every other
# Gather (``x[:, 0]``, data movement) to the reader registered beside SelectToken.
take_over_reader("Gather", read_other_gather, SelectToken)


@onnx_reader("Gather", makes=(Embedding, SelectToken))
def read_gather(t: Any, node: Any) -> None:
    """Embedding for ``Gather(table, ids)`` with a learned 2-D floating-point table, axis 0 and ids
    that depend on the input; else :func:`simulator.model.layers.tensor.read_gather`."""
    data, indices = node.input[0], node.input[1]
    if (t.is_learned(data) and t.param_size(data) and len(t.full(data)) == 2 and not t.is_const(indices)
            and t.attribute(node, "axis", 0) == 0):
        rows, dim = t.full(data)
        t.add(Embedding(rows, dim), [indices], node.output[0], t.param_name(data))
        return
    read_other_gather(t, node)
