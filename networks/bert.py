"""BERT (Devlin et al., NAACL 2019) encoders with pooler, exactly as Hugging Face ``BertModel``.

Reference: transformers 5.24.0 ``transformers/models/bert/modeling_bert.py`` (``BertEmbeddings``,
``BertSelfAttention``, ``BertSelfOutput``, ``BertIntermediate``, ``BertOutput``, ``BertPooler``) with
``BertConfig`` defaults (vocab 30522, 512 positions, 2 token types). Parameters: bert_base
109,482,240, bert_large 335,141,888 (``sum(p.numel() for p in BertModel(config).parameters())``,
/work/research/segformer_sam_bert/reference_counts.json);
NVIDIA/TensorRT@9973b2f4ab5c0d0055e9d36cd94a5692f8f8da1f ``demo/BERT/README.md`` quotes 110M / 330M and
benchmarks sequence lengths 128 and 384.

Embeddings: word + token type + position lookups, summed, LayerNorm. Each encoder layer is
post-norm: self-attention (the simulator's :class:`~simulator.model.layers.MultiheadSelfAttention`
is exactly ``BertSelfAttention`` + ``BertSelfOutput.dense`` without an attention mask: Q, K, V and
output projections with biases, ``softmax(Q Kᵀ/√d) V``), residual add, LayerNorm, Linear → GELU
(erf) → Linear, residual add, LayerNorm. The pooler takes token 0 through Linear + tanh. Dropout is
the identity at inference and omitted. MACs per layer ``4·L·E² + 2·L²·E + 2·L·E·F``.
"""

from __future__ import annotations

from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

#: the sequence lengths NVIDIA's TensorRT BERT demo benchmarks (demo/BERT/README.md, S5)
TENSORRT_SEQ_LENS = (128, 384)
VOCAB_SIZE = 30522
MAX_POSITIONS = 512
TYPE_VOCAB_SIZE = 2


def bert(name: str, hidden_size: int, num_layers: int, num_heads: int, intermediate_size: int,
         seq_len: int = 128) -> Network:
    """HF ``BertModel`` on ``seq_len`` token ids (input ``(seq_len,)``); outputs
    ``last_hidden_state (seq_len, E)`` and ``pooler_output (E,)``."""
    net = NetworkBuilder(name, (seq_len,))
    e = hidden_size
    words = net.embedding(net.input, VOCAB_SIZE, e, "tokens", name="embeddings.word_embeddings")
    types = net.embedding(net.input, TYPE_VOCAB_SIZE, e, "segments", name="embeddings.token_type_embeddings")
    positions = net.embedding(net.input, MAX_POSITIONS, e, "positions", name="embeddings.position_embeddings")
    x = net.add_(words, types, positions, name="embeddings.add")
    x = net.layer_norm(x, name="embeddings.LayerNorm")
    for i in range(num_layers):
        p = f"encoder.layer.{i}"
        y = net.self_attention(x, num_heads, name=f"{p}.attention")
        x = net.add_(y, x, name=f"{p}.attention.output.add")
        x = net.layer_norm(x, name=f"{p}.attention.output.LayerNorm")
        y = net.linear(x, intermediate_size, name=f"{p}.intermediate.dense")
        y = net.gelu(y, name=f"{p}.intermediate.act")
        y = net.linear(y, e, name=f"{p}.output.dense")
        y = net.add_(y, x, name=f"{p}.output.add")
        x = net.layer_norm(y, name=f"{p}.output.LayerNorm")
    pooled = net.select_token(x, 0, name="pooler.first_token")
    pooled = net.linear(pooled, e, name="pooler.dense")
    pooled = net.activation(pooled, "tanh", name="pooler.activation")
    return net.build(outputs=(x, pooled))


@register_network
def bert_base(seq_len: int = 128) -> Network:
    """BERT-Base: 12 layers, hidden 768, 12 heads, FFN 3072 (109,482,240 parameters)."""
    return bert("bert_base", 768, 12, 12, 3072, seq_len)


@register_network
def bert_large(seq_len: int = 128) -> Network:
    """BERT-Large: 24 layers, hidden 1024, 16 heads, FFN 4096 (335,141,888 parameters)."""
    return bert("bert_large", 1024, 24, 16, 4096, seq_len)
