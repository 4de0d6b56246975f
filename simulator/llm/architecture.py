"""The architecture of a decoder-only LLM (:class:`LLMConfig`): the fields that set its shapes and counts,
each checked against its range (:data:`LIMITS`) on construction, and the families it may belong to.

Reading a Hugging Face ``config.json`` into one is :mod:`simulator.llm.families`; finding the file (a
built-in name, a path, a model folder, a hub id) is :mod:`simulator.llm.config`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from simulator.errors import SimulatorError

LLAMA_FAMILY = ("llama", "mistral", "qwen2", "mixtral", "phi3", "gemma", "gemma2", "qwen2_moe", "deepseek_v2",
                "deepseek_v3", "qwen3", "gemma3_text", "falcon", "gptj")
#: families with learned positions, LayerNorm and biases (GPT-2, OPT)
GPT_FAMILY = ("gpt2", "opt")
#: families with an RMSNorm of head_dim on every query and key head (``q_norm``, ``k_norm``)
QK_NORM_FAMILIES = ("qwen3", "gemma3_text")
#: families with Gemma-2's four norms per layer (after attention and after the MLP as well)
POST_NORM_FAMILIES = ("gemma2", "gemma3_text")
FAMILIES = (*LLAMA_FAMILY, *GPT_FAMILY)
#: families whose config's ``sliding_window`` limits every layer's attention (transformers' classes);
#: Qwen2 only with ``use_sliding_window`` (layers from ``max_window_layers`` on), Gemma-2 on even layers
WINDOWED_FAMILIES = ("mistral", "mixtral", "phi3")

#: ``(low, high)`` of every integer field of :class:`LLMConfig`, inclusive. The upper bounds lie far
#: beyond every published model (the largest of each today: Llama-3.1-405B's 126 layers, 16,384
#: hidden, 53,248 intermediate and 128 heads; Gemma's 256 head dim and 256k vocabulary; 256 routed
#: experts in DeepSeek-V3; a 10M-token context in Llama 4 Scout) and bound the work of one run:
#: the engine's cost grows with the square of the layer count (1,000 layers take seconds).
LIMITS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 131_072),
    "intermediate_size": (1, 1_048_576),
    "num_layers": (1, 1_000),
    "num_heads": (1, 4_096),
    "num_kv_heads": (1, 4_096),
    "head_dim": (1, 4_096),
    "vocab_size": (1, 4_194_304),
    "max_positions": (1, 16_777_216),
    "num_experts": (0, 1_024),
    "experts_per_token": (0, 1_024),
    "sliding_window": (0, 16_777_216),
    "q_lora_rank": (0, 131_072),
    "kv_lora_rank": (0, 131_072),
    "qk_nope_head_dim": (0, 4_096),
    "qk_rope_head_dim": (0, 4_096),
    "v_head_dim": (0, 4_096),
    "moe_intermediate_size": (0, 1_048_576),
    "shared_intermediate_size": (0, 1_048_576),
}
#: the config.json key of each field, per family (GPT-2's own names; the Llama family's)
KEYS: dict[str, dict[str, str]] = {
    "gpt2": {"hidden_size": "n_embd", "intermediate_size": "n_inner", "num_layers": "n_layer",
             "num_heads": "n_head", "vocab_size": "vocab_size", "max_positions": "n_positions"},
    "llama": {"hidden_size": "hidden_size", "intermediate_size": "intermediate_size",
              "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
              "num_kv_heads": "num_key_value_heads", "head_dim": "head_dim", "vocab_size": "vocab_size",
              "max_positions": "max_position_embeddings", "num_experts": "num_local_experts",
              "experts_per_token": "num_experts_per_tok", "sliding_window": "sliding_window",
              "q_lora_rank": "q_lora_rank", "kv_lora_rank": "kv_lora_rank",
              "qk_nope_head_dim": "qk_nope_head_dim", "qk_rope_head_dim": "qk_rope_head_dim",
              "v_head_dim": "v_head_dim", "moe_intermediate_size": "moe_intermediate_size",
              "shared_intermediate_size": "shared_expert_intermediate_size"},
}
KEYS["opt"] = {**KEYS["llama"], "intermediate_size": "ffn_dim"}
KEYS["falcon"] = {**KEYS["llama"], "num_kv_heads": "num_kv_heads"}
KEYS["gptj"] = KEYS["gpt2"]


def keys_of(family: str) -> dict[str, str]:
    """The config.json key of each field in ``family`` (GPT-2's, OPT's and Falcon's own names)."""
    return KEYS.get(family, KEYS["llama"])


def _shown(value: Any) -> str:
    """``repr(value)``, shortened to one readable line (a 400-digit integer, a long string)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} characters)"


def check_int(value: Any, what: str, low: int, high: int | None = None) -> int:
    """``value`` when it is an integer (not a bool, not a float such as ``4096.0``) in
    ``[low, high]`` (no upper bound when ``high`` is None); else a one-line :class:`SimulatorError`
    naming ``what``, the value and the range."""
    expected = f"an integer of at least {low:,}" if high is None else f"an integer from {low:,} to {high:,}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or \
            (high is not None and value > high):
        raise SimulatorError(f"{what} must be {expected}, got {_shown(value)}")
    return int(value)


def check_bool(value: Any, what: str) -> bool:
    """``value`` when it is ``true`` or ``false`` (JSON booleans; the string ``"false"`` is not)."""
    if not isinstance(value, bool):
        raise SimulatorError(f"{what} must be true or false, got {_shown(value)}")
    return value


@dataclass(frozen=True)
class LLMConfig:
    """The architecture fields that set shapes and counts (names follow the HF Llama config).

    Every integer field lies in its :data:`LIMITS` range; the fields are checked on construction
    (:meth:`check`), so a config built in Python is held to the same ranges as a config.json."""

    name: str
    family: str  # model_type
    hidden_size: int  # d
    intermediate_size: int  # I (per expert for MoE)
    num_layers: int
    num_heads: int  # H
    num_kv_heads: int  # KV (GQA: KV < H; MQA: 1)
    head_dim: int  # hd
    vocab_size: int  # V
    max_positions: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # biases on q, k, v (and o for Llama's flag; Qwen2: q, k, v only)
    mlp_bias: bool = False
    num_experts: int = 0  # E (0: dense MLP)
    experts_per_token: int = 0  # k
    sliding_window: int = 0  # W: a windowed layer's query sees its last W positions (0: no window)
    sliding_layers: tuple[bool, ...] = ()  # which layers the window limits (empty: all of them)
    # DeepSeek-V2 multi-head latent attention (kv_lora_rank 0: standard attention)
    q_lora_rank: int = 0  # 0: q_proj d -> H·(dn+dr); else q_a_proj, q_a_layernorm, q_b_proj
    kv_lora_rank: int = 0  # r: the cached latent's width (plus dr)
    qk_nope_head_dim: int = 0  # dn
    qk_rope_head_dim: int = 0  # dr
    v_head_dim: int = 0  # dv
    # DeepSeek's and Qwen-MoE's experts: their own width, shared experts, dense layers among them
    moe_intermediate_size: int = 0  # one expert's width (0: intermediate_size, as Mixtral)
    shared_intermediate_size: int = 0  # the always-on shared experts as one gated MLP of this width
    shared_expert_gate: bool = False  # Qwen-MoE: sigmoid(Linear d -> 1) scales the shared output
    qk_norm: bool = False  # an RMSNorm of head_dim on every query and key head (Qwen3, Gemma-3)
    parallel_block: int = 0  # Falcon: attention and MLP side by side from 1 shared norm or 2 (0: in turn)
    embed_proj_dim: int = 0  # OPT's word_embed_proj_dim when it differs from d (project_in/out); 0: none
    final_norm: bool = True  # a norm before the LM head (OPT with do_layer_norm_before false: none)
    moe_layers: tuple[bool, ...] = ()  # which layers have the experts (empty: all, when is_moe)
    lm_head_bias: bool = False  # GPT-J: the LM head has a bias of V
    router_bias: bool = False  # DeepSeek-V3: the router's e_score_correction_bias (E per MoE layer)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Each field in its range, KV heads dividing the query heads, ``1 <= k <= E`` for MoE."""
        if self.family not in FAMILIES:
            raise SimulatorError(f"{self.name}: family {_shown(self.family)} is not supported; "
                                 f"supported: {', '.join(FAMILIES)}")
        for field, (low, high) in LIMITS.items():
            check_int(getattr(self, field), f"{self.name}: {field}", low, high)
        for field in ("tie_word_embeddings", "attention_bias", "mlp_bias"):
            check_bool(getattr(self, field), f"{self.name}: {field}")
        check_bool(self.shared_expert_gate, f"{self.name}: shared_expert_gate")
        check_bool(self.qk_norm, f"{self.name}: qk_norm")
        check_bool(self.final_norm, f"{self.name}: final_norm")
        check_bool(self.lm_head_bias, f"{self.name}: lm_head_bias")
        check_bool(self.router_bias, f"{self.name}: router_bias")
        check_int(self.parallel_block, f"{self.name}: parallel_block", 0, 2)
        check_int(self.embed_proj_dim, f"{self.name}: embed_proj_dim", 0, LIMITS["hidden_size"][1])
        for field in ("sliding_layers", "moe_layers"):
            flags = getattr(self, field)
            if not isinstance(flags, tuple) or any(not isinstance(flag, bool) for flag in flags) or \
                    len(flags) not in (0, self.num_layers):
                raise SimulatorError(f"{self.name}: {field} must be a tuple of {self.num_layers} booleans "
                                     f"(one per layer) or empty (every layer), got {_shown(flags)}")
        if self.num_heads % self.num_kv_heads:
            raise SimulatorError(f"{self.name}: {self.num_heads} attention heads are not a multiple of "
                                 f"{self.num_kv_heads} key-value heads (grouped-query attention needs "
                                 f"num_attention_heads divisible by num_key_value_heads)")
        if self.kv_lora_rank and not (self.qk_nope_head_dim and self.qk_rope_head_dim and self.v_head_dim):
            raise SimulatorError(f"{self.name}: multi-head latent attention (kv_lora_rank "
                                 f"{self.kv_lora_rank}) needs qk_nope_head_dim, qk_rope_head_dim and "
                                 f"v_head_dim of at least 1")
        if (self.num_experts == 0) != (self.experts_per_token == 0) or \
                self.experts_per_token > self.num_experts:
            raise SimulatorError(f"{self.name}: experts per token {self.experts_per_token} must be from 1 "
                                 f"to the {self.num_experts} experts (both 0: a dense MLP)")

    def key(self, field: str) -> str:
        """The config.json key of ``field`` in this family (``num_layers``: ``num_hidden_layers``)."""
        return keys_of(self.family).get(field, field)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek-V2): ``kv_lora_rank > 0``."""
        return self.kv_lora_rank > 0

    @property
    def expert_intermediate_size(self) -> int:
        """One routed expert's width: ``moe_intermediate_size``, else ``intermediate_size``."""
        return self.moe_intermediate_size or self.intermediate_size

    def is_moe_layer(self, layer: int) -> bool:
        """Whether layer ``layer`` has the mixture of experts (:attr:`moe_layers`; Mixtral: every layer)."""
        return self.is_moe and (not self.moe_layers or self.moe_layers[layer])

    def window(self, layer: int) -> int:
        """Layer ``layer``'s attention window ``W`` (0: it attends to the whole context)."""
        if self.sliding_layers and not self.sliding_layers[layer]:
            return 0
        return self.sliding_window
