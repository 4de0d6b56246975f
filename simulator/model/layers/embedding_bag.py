"""Pooled table lookups (``nn.EmbeddingBag``, torchrec's ``EmbeddingBagCollection``): DLRM's sparse features.

The kind with its builder method and its ONNX writer: the bag's indices are a graph input of their own
(``<layer>.indices``, int64 ``(N, lookups)``: a fixed multi-hot size per sample, as the layer counts it),
``Gather`` from the table and ``ReduceSum``/``ReduceMean`` over the lookups; the reader's
EmbeddingBag pattern (:mod:`simulator.onnx.patterns`) takes the pair back as one bag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, builder_method, layer_kind, onnx_writer

if TYPE_CHECKING:
    from simulator.model.graph import Node

#: the first opset whose ReduceMean takes its axes as an input (ReduceSum does from opset 13)
REDUCE_MEAN_AXES_INPUT_OPSET = 18

#: pooling of the gathered rows, as ``nn.EmbeddingBag(mode=...)`` (torchrec's PoolingType SUM / MEAN)
BAG_MODES = ("sum", "mean")


@layer_kind
@dataclass(frozen=True)
class EmbeddingBag(Layer):
    """``lookups`` rows of a learned ``(num_embeddings, embedding_dim)`` table, gathered and pooled into
    one ``(embedding_dim,)`` vector per sample.

    ``lookups`` is the number of indices per sample (the multi-hot size, DLRM-v2's pooling factor).
    The indices are a side input of the sample (``lookups`` int64 each, 1/16 of a fp32 row of 128
    per lookup), not a tensor of the graph: the input tensor only orders the layer. Params ``V·E``
    (the whole table); a gather reads the ``lookups·E`` elements of the rows it looks up
    (:meth:`gathered_weight_elements`), never the table, and pools them: ``(lookups − 1)·E`` adds
    (sum), ``lookups·E`` (mean: the adds and one divide per element). No MACs.
    """

    num_embeddings: int
    embedding_dim: int
    lookups: int
    mode: str = "sum"
    kind: ClassVar[str] = "EmbeddingBag"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        if self.mode not in BAG_MODES:
            raise ShapeError(f"mode must be one of {', '.join(BAG_MODES)}, got {self.mode!r}")
        if self.lookups < 1 or self.num_embeddings < 1 or self.embedding_dim < 1:
            raise ShapeError(f"lookups {self.lookups}, rows {self.num_embeddings} and dimension "
                             f"{self.embedding_dim} must each be at least 1")
        return (self.embedding_dim,)

    def gathered_weight_elements(self, inputs: tuple[Shape, ...]) -> int:
        """Weight elements one sample's lookup reads: ``lookups·E`` (the rows it gathers), not the
        ``V·E`` table. The engine reads these per sample from the weight store at the weights'
        precision (:func:`simulator.engine.workload.build_workload`), as for an Embedding. Rows
        repeated across a batch are read again (no cache of hot rows is modelled)."""
        return self.lookups * self.embedding_dim


@builder_method("embedding_bag", makes=EmbeddingBag)
def embedding_bag(net, x: str, num_embeddings: int, embedding_dim: int, lookups: int, mode: str = "sum",
                  name: str | None = None) -> str:
    """``nn.EmbeddingBag(num_embeddings, embedding_dim, mode=mode)`` over ``lookups`` indices per sample;
    ``x`` orders it after the tensor it depends on (the network input)."""
    return net.add(EmbeddingBag(num_embeddings, embedding_dim, lookups, mode), x, name=name)


@onnx_writer(EmbeddingBag)
def write_embedding_bag(g: Any, node: Node) -> None:
    """The indices as a graph input ``<layer>.indices`` (int64, ``(N, lookups)``), ``Gather`` of the
    ``(V, E)`` table (``<layer>.weight``) -> ``(N, lookups, E)``, ``ReduceSum`` (``mean``: ``ReduceMean``)
    over the lookups -> ``(N, E)``."""
    layer, name = node.layer, node.name
    ids = g.graph_input(f"{name}.indices", (layer.lookups,), integer=True)
    table = g.param(f"{name}.weight", (layer.num_embeddings, layer.embedding_dim), 0.02)
    rows = g.op("Gather", [table, ids], f"{name}/rows", axis=0)
    if layer.mode == "mean" and g.opset < REDUCE_MEAN_AXES_INPUT_OPSET:
        g.op("ReduceMean", [rows], name, axes=[1], keepdims=0)
    else:
        g.op("ReduceMean" if layer.mode == "mean" else "ReduceSum", [rows, g.const(f"{name}/axes", [1])],
             name, keepdims=0)
