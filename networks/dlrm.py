"""DLRM-v2 (DLRM with a DCNv2 low-rank cross network) on Criteo 1TB multi-hot, as MLPerf Inference runs it.

References:

* mlcommons/inference @ 32ffe690c6e2ec208693322e93275cb492730eb9,
  ``recommendation/dlrm_v2/pytorch/python/backend_pytorch_native.py``: torchrec's ``DLRM_DCN`` with
  ``embedding_dim=128``, ``dcn_num_layers=3``, ``dcn_low_rank_dim=512``,
  ``dense_arch_layer_sizes=[512, 256, 128]``, ``over_arch_layer_sizes=[1024, 1024, 512, 256, 1]``, 13
  dense features (``DEFAULT_INT_NAMES``) and 26 sparse ones (``DEFAULT_CAT_NAMES``) with the table
  sizes of :data:`CRITEO_1TB_TABLE_ROWS` (the file's ``num_embeddings_per_feature``);
* the multi-hot sizes of MLPerf's synthetic multi-hot Criteo (:data:`CRITEO_MULTI_HOT_SIZES`,
  ``--multi_hot_sizes`` of mlcommons/training's and mlcommons/inference's dataset scripts,
  ``materialize_synthetic_multihot_dataset.py``);
* pytorch/torchrec @ 0aa1417345c6567967d469705ba91a1cad3a7a5e ``torchrec/models/dlrm.py``
  (``DenseArch``: MLP with ReLU after every layer; ``OverArch``: MLP with ReLU over all but the last
  size, then a plain ``Linear``; ``SparseArch``: ``EmbeddingBagCollection``, sum pooling) and
  @ eaf62738eb2adb43d6aec7701d85800836e1bc6b ``torchrec/modules/crossnet.py`` (``LowRankCrossNet``:
  ``x_{l+1} = x_0 * (W_l (V_l x_l) + b_l) + x_l``, ``V_l: (r, N)``, ``W_l: (N, r)``, ``b_l: (N,)``).

Structure: bottom MLP 13 -> 512 -> 256 -> 128 (ReLU each); 26 embedding bags of 128 (sum of the
looked-up rows); concatenation to ``N = 27·128 = 3456``; three low-rank cross layers (Linear
``N -> 512`` without bias, Linear ``512 -> N`` with bias, ``x_0 *``, ``+ x_l``); top MLP 3456 -> 1024
-> 1024 -> 512 -> 256 (ReLU each) -> 1. The output is the logit (the sigmoid is in the loss).

The embedding tables hold 204,184,588 rows × 128 = 26,135,627,264 of the 26.16 G parameters, and
a sample reads only its 214 looked-up rows: the workload is bound by gathers, not MACs
(:class:`~simulator.model.layers.EmbeddingBag`). The network's input is the 13 dense features; the
214 sparse indices of a sample are each bag's side input.
"""

from __future__ import annotations

from simulator.errors import SimulatorError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

#: rows of the 26 tables (Criteo 1TB categorical features capped at 40 M rows), MLPerf's order
CRITEO_1TB_TABLE_ROWS = (40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956,
                         405282, 10, 2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152,
                         12973, 108, 36)
#: indices per sample of each table (MLPerf's synthetic multi-hot Criteo)
CRITEO_MULTI_HOT_SIZES = (3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1)
DENSE_FEATURES = 13
BOTTOM_MLP = (512, 256)          # then the embedding dimension
TOP_MLP = (1024, 1024, 512, 256)  # then the logit
DCN_LAYERS = 3
DCN_LOW_RANK = 512
#: MLPerf's cap on a table's rows (``max_ind_range``); a smaller cap shrinks the largest tables
MLPERF_MAX_TABLE_ROWS = 40_000_000


def build_dlrm(name: str, table_rows: tuple[int, ...], lookups: tuple[int, ...], embedding_dim: int = 128,
               dcn_layers: int = DCN_LAYERS, low_rank: int = DCN_LOW_RANK) -> Network:
    """torchrec ``DLRM_DCN`` with one bag per table (``lookups[i]`` indices each) on 13 dense features."""
    net = NetworkBuilder(name, (DENSE_FEATURES,))
    x = net.input
    for i, size in enumerate((*BOTTOM_MLP, embedding_dim)):
        x = net.relu(net.linear(x, size, name=f"dense_arch.model._mlp.{i}"), inplace=True,
                     name=f"dense_arch.relu.{i}")
    bags = [net.embedding_bag(net.input, rows, embedding_dim, n, name=f"sparse_arch.t_cat_{i}")
            for i, (rows, n) in enumerate(zip(table_rows, lookups, strict=True))]
    x0 = net.concat(x, *bags, dim=0, name="inter_arch.concat")
    features = net.shape(x0)[0]
    xl = x0
    for layer in range(dcn_layers):
        p = f"inter_arch.crossnet.{layer}"
        v = net.linear(xl, low_rank, bias=False, name=f"{p}.V_kernels")
        w = net.linear(v, features, name=f"{p}.W_kernels")              # with the bias b_l
        xl = net.add_(net.mul(x0, w, name=f"{p}.mul_x0"), xl, name=f"{p}.add_xl")
    x = xl
    for i, size in enumerate(TOP_MLP):
        x = net.relu(net.linear(x, size, name=f"over_arch.model.0._mlp.{i}"), inplace=True,
                     name=f"over_arch.relu.{i}")
    net.linear(x, 1, name="over_arch.model.1")
    return net.build()


@register_network
def dlrm_v2(embedding_dim: int = 128, max_table_rows: int = MLPERF_MAX_TABLE_ROWS) -> Network:
    """MLPerf's ``dlrm-v2``: DCNv2 on the 26 Criteo 1TB tables, multi-hot (214 lookups per sample).

    ``max_table_rows`` caps every table (MLPerf's 40 M is the default and the largest the data has).
    """
    if not 1 <= max_table_rows <= MLPERF_MAX_TABLE_ROWS:
        raise SimulatorError(f"max_table_rows must be from 1 to {MLPERF_MAX_TABLE_ROWS:,} (the Criteo 1TB "
                             f"tables' largest size), got {max_table_rows:,}")
    rows = tuple(min(r, max_table_rows) for r in CRITEO_1TB_TABLE_ROWS)
    return build_dlrm("dlrm_v2", rows, CRITEO_MULTI_HOT_SIZES, embedding_dim)
