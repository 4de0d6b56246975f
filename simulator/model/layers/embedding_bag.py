"""Pooled table lookups (``nn.EmbeddingBag``, torchrec's ``EmbeddingBagCollection``): DLRM's sparse features.

The kind with its builder method. It has no ONNX writer (a bag reads a jagged index list the
network's single dense input does not carry): export refuses it in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, builder_method, layer_kind

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
    exportable: ClassVar[bool] = False

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
