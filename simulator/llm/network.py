"""One forward pass of an LLM as a :class:`~simulator.model.graph.Network` of layer kinds, per device.

``tokens`` new tokens per sequence (the prompt in prefill, 1 in a decode step) after ``cached`` tokens
already in the KV cache. With tensor parallelism over ``tp`` devices (Megatron-LM's split) each device
holds ``H/tp`` query heads, ``max(1, KV/tp)`` KV heads (replicated when ``KV < tp``), ``I/tp`` of the MLP
(of every expert), ``V/tp`` rows of the embedding and of the LM head; the attention output projection
and the MLP's down projection (or the experts) are row-parallel and all-reduce their ``(tokens, d)``
output, as does the vocab-parallel embedding: the builder adds an
:class:`~simulator.model.layers.AllReduce` node after each (none on one device), two per decoder layer
and one for the embedding (a shared expert's output is summed with the routed experts' before their one
all-reduce, as vLLM runs it, so that layer's node follows ``shared_add``; OPT-350m's narrower embedding
is all-reduced after ``project_in``, at ``d``).

Node names: ``l<i>.<part>`` (``l0.qkv``, ``l0.attn``, ``l0.o_proj``, ``l0.down`` ...), ``embed``,
``norm``, ``lm_head``; an all-reduce is named after the node it follows plus ``.allreduce``
(``l0.o_proj.allreduce``).

Families on the Llama layout (RMSNorm, RoPE, GQA, gated MLP): ``llama``, ``mistral``, ``mixtral``,
``qwen2`` (q/k/v biases), ``phi3`` (its fused ``qkv_proj`` and ``gate_up_proj`` hold exactly Llama's
q/k/v and gate/up matrices, which this builder fuses anyway), ``gemma`` and ``gemma2``. Gemma differs
in what costs nothing or little here: ``head_dim`` 256 ≠ d/H (a config field), the tied LM head, the
embedding scaled by ``sqrt(d)`` (not counted), a GeGLU MLP (``gelu_tanh(gate)·up``, costed as the
SwiGLU kind: the same MACs and parameters) and, in Gemma-2, two more RMSNorms per layer
(``post_attn_norm`` after ``o_proj``, ``post_mlp_norm`` after ``down``: four per layer), the
attention and final logits soft-capping (``tanh``, a few element-wise ops per score: not counted) and
sliding-window attention on even layers (:meth:`~simulator.llm.config.LLMConfig.window`).

GPT-J (``gptj``) is Falcon-7B's block without attention biases: one LayerNorm feeding attention and
a GELU MLP side by side (``fc_in``/``fc_out`` with biases), rotary positions, and an untied LM head
with a bias. Its rotary embedding turns only ``rotary_dim`` (64) of each head's 256 dimensions; the
RoPE kind is costed over the whole head (a few element-wise ops per token more, no parameters).
"""

from __future__ import annotations

import functools

from simulator.errors import SimulatorError
from simulator.llm.config import GPT_FAMILY, POST_NORM_FAMILIES, LLMConfig
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.layers import RMSNorm

#: the activation of the plain (ungated) MLP: ``fc`` (d -> I), activation, ``down`` (I -> d)
PLAIN_MLP_ACTIVATION = {"gpt2": "gelu_tanh", "opt": "relu", "falcon": "gelu", "gptj": "gelu_tanh"}
#: families with LayerNorm and a plain MLP but rotary positions (no learned table)
ROTARY_LAYER_NORM = ("falcon", "gptj")



def shard(cfg: LLMConfig, tp: int) -> tuple[int, int, int, int]:
    """Per-device ``(heads, kv_heads, intermediate, vocab)`` over ``tp`` devices.

    ``tp`` must divide the query heads and the intermediate size, and the KV heads must split evenly
    (``KV % tp == 0``) or be replicated evenly (``tp % KV == 0``), as vLLM and Megatron-LM require."""
    if tp < 1 or cfg.num_heads % tp:
        raise SimulatorError(f"{cfg.name}: tensor parallelism {tp} must divide its {cfg.num_heads} heads")
    if cfg.num_kv_heads % tp and tp % cfg.num_kv_heads:
        raise SimulatorError(
            f"{cfg.name}: tensor parallelism {tp} must divide its {cfg.num_kv_heads} key-value heads or be "
            f"a multiple of them (each device holds whole KV heads)"
        )
    for what, size in (("intermediate size", cfg.intermediate_size),
                       ("expert intermediate size", cfg.expert_intermediate_size if cfg.is_moe else 0),
                       ("shared expert intermediate size", cfg.shared_intermediate_size)):
        if size % tp:
            raise SimulatorError(f"{cfg.name}: tensor parallelism {tp} must divide {what} {size}")
    return (
        cfg.num_heads // tp,
        max(1, cfg.num_kv_heads // tp),
        cfg.intermediate_size // tp,
        -(-cfg.vocab_size // tp),
    )


@functools.lru_cache(maxsize=256)
def build_network(
    cfg: LLMConfig, tokens: int, cached: int = 0, tp: int = 1, last_only: bool = True
) -> Network:
    """The forward pass of ``tokens`` new tokens per sequence with ``cached`` tokens in the cache,
    on one of ``tp`` devices, with an :class:`~simulator.model.layers.AllReduce` after each
    row-parallel projection and the embedding when ``tp > 1``. ``last_only``: the LM head computes the
    last token's logits only."""
    if tokens < 1:
        raise SimulatorError(f"tokens must be at least 1, got {tokens}")
    heads, kv_heads, inter, vocab = shard(cfg, tp)
    d, hd = cfg.hidden_size, cfg.head_dim
    net = NetworkBuilder(cfg.name, (tokens,))
    gpt = cfg.family in GPT_FAMILY

    def all_reduced(tensor: str) -> str:
        """``tensor`` summed across the ``tp`` devices (row-parallel, vocab-parallel): an
        :class:`~simulator.model.layers.AllReduce` node named ``<tensor>.allreduce``; on one device
        ``tensor`` itself."""
        return net.all_reduce(tensor, tp, name=tensor + ".allreduce") if tp > 1 else tensor

    x = net.embedding(net.input, vocab, cfg.embed_proj_dim or d, name="embed")
    if cfg.embed_proj_dim:  # OPT-350m: embeddings narrower than the model
        x = net.linear(x, d, bias=False, name="project_in")
    x = all_reduced(x)
    if gpt:  # learned positions; OPT's table has 2 more rows (its position offset)
        rows = cfg.max_positions + (2 if cfg.family == "opt" else 0)
        x = net.add_(x, net.embedding(net.input, rows, d, source="positions", name="wpe"), name="embed_add")
    norm = net.layer_norm if gpt or cfg.family in ROTARY_LAYER_NORM else net.rms_norm
    for i in range(cfg.num_layers):
        p = f"l{i}."
        h = norm(x, name=p + "attn_norm")
        if cfg.is_mla:
            a = _latent_attention(net, cfg, h, heads, cached, p)
        else:
            qkv = net.linear(h, (heads + 2 * kv_heads) * hd, bias=cfg.attention_bias, name=p + "qkv")
            if cfg.qk_norm:  # q_norm and k_norm, each of head_dim (element-wise ops counted over q, k, v)
                qkv = net.add(RMSNorm(hd), qkv, name=p + "q_norm")
                qkv = net.add(RMSNorm(hd), qkv, name=p + "k_norm")
            if not gpt:
                qkv = net.rotary_embedding(qkv, heads, kv_heads, hd, name=p + "rope")
            a = net.causal_attention(qkv, heads, kv_heads, hd, cached, name=p + "attn", window=cfg.window(i))
        o_bias = cfg.attention_bias and cfg.family in ("llama", "falcon", *GPT_FAMILY)
        o = all_reduced(net.linear(a, d, bias=o_bias, name=p + "o_proj"))
        if cfg.family in POST_NORM_FAMILIES:
            o = norm(o, name=p + "post_attn_norm")
        if cfg.parallel_block:  # Falcon: the MLP reads the block's input too (its own norm with 2)
            h = h if cfg.parallel_block == 1 else norm(x, name=p + "mlp_norm")
        else:
            x = net.add_(x, o, name=p + "attn_add")
            h = norm(x, name=p + "mlp_norm")
        if gpt or cfg.family in ROTARY_LAYER_NORM:
            fc = net.linear(h, inter, bias=cfg.mlp_bias, name=p + "fc")
            m = all_reduced(net.linear(net.activation(fc, PLAIN_MLP_ACTIVATION[cfg.family], name=p + "act"),
                                       d, bias=cfg.mlp_bias, name=p + "down"))
        elif cfg.is_moe_layer(i):
            expert = cfg.expert_intermediate_size // tp
            net.linear(h, cfg.num_experts, bias=cfg.router_bias, name=p + "router")  # V3: correction bias
            m = net.moe_experts(h, cfg.num_experts, cfg.experts_per_token, expert, name=p + "experts")
            if cfg.shared_intermediate_size:
                shared = _gated_mlp(net, h, cfg.shared_intermediate_size // tp, d, False, p + "shared_")
                if cfg.shared_expert_gate:  # sigmoid(h W) scales the shared output (not counted: T·d ops)
                    net.linear(h, 1, bias=False, name=p + "shared_gate")
                m = net.add_(m, shared, name=p + "shared_add")
            m = all_reduced(m)
        else:
            m = all_reduced(_gated_mlp(net, h, inter, d, cfg.mlp_bias, p))
        if cfg.family in POST_NORM_FAMILIES:
            m = norm(m, name=p + "post_mlp_norm")
        if cfg.parallel_block:
            m = net.add_(o, m, name=p + "branch_add")
        x = net.add_(x, m, name=p + "mlp_add")
    if cfg.final_norm:
        x = norm(x, name="norm")
    if cfg.embed_proj_dim:
        x = net.linear(x, cfg.embed_proj_dim, bias=False, name="project_out")
    logits = net.lm_head(x, vocab, tied=cfg.tie_word_embeddings, last_only=last_only, name="lm_head",
                         bias=cfg.lm_head_bias)
    return net.build([logits])


def _gated_mlp(net: NetworkBuilder, h: str, inter: int, d: int, bias: bool, prefix: str) -> str:
    """``down(act(gate(h)) · up(h))``: a fused ``gate_up`` (``d -> 2I``), the gating and ``down``."""
    gate_up = net.linear(h, 2 * inter, bias=bias, name=prefix + "gate_up")
    return net.linear(net.swiglu(gate_up, name=prefix + "swiglu"), d, bias=bias, name=prefix + "down")


def _latent_attention(net: NetworkBuilder, cfg: LLMConfig, h: str, heads: int, cached: int, p: str) -> str:
    """DeepSeek-V2's MLA projections around the :class:`~simulator.model.layers.LatentAttention` core:
    ``q_proj`` (``d -> H·(dn+dr)``; or ``q_a_proj`` ``d -> q_lora``, ``q_a_layernorm``, ``q_b_proj``),
    ``kv_a_proj_with_mqa`` (``d -> r + dr``: here its ``r`` columns ``kv_a`` and its ``dr`` columns
    ``k_rope``, the same parameters), ``kv_a_layernorm`` (``r``) and ``kv_b_proj`` (``r -> H·(dn+dv)``).
    Under tensor parallelism the query and ``kv_b`` projections split by heads; ``kv_a`` is replicated
    (vLLM). RoPE on the ``dr`` dimensions is not counted (a few element-wise ops per token)."""
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    if cfg.q_lora_rank:
        q_a = net.linear(h, cfg.q_lora_rank, bias=False, name=p + "q_a_proj")
        q_a = net.rms_norm(q_a, name=p + "q_a_norm")
        q = net.linear(q_a, heads * qk, bias=False, name=p + "q_b_proj")
    else:
        q = net.linear(h, heads * qk, bias=False, name=p + "q_proj")
    latent = net.rms_norm(net.linear(h, cfg.kv_lora_rank, bias=False, name=p + "kv_a"), name=p + "kv_a_norm")
    k_pe = net.linear(h, cfg.qk_rope_head_dim, bias=False, name=p + "k_rope")
    kv = net.linear(latent, heads * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False,
                    name=p + "kv_b_proj")
    return net.latent_attention(q, kv, k_pe, heads, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim,
                                cfg.v_head_dim, cfg.kv_lora_rank, cached, name=p + "attn")
