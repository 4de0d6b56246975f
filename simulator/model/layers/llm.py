"""Layer kinds of decoder-only LLMs: RMSNorm, rotary position embedding, grouped-query causal
attention over a KV cache (with an optional sliding window), multi-head latent attention (MLA),
SwiGLU gating, mixture-of-experts feed-forward and the LM head.

Shapes are per sequence: ``(tokens, features)``, where ``tokens`` is the number of new tokens a
forward pass processes (the prompt in prefill, 1 in a decode step). A KV cache of ``cached_tokens``
earlier tokens is a field of :class:`CausalAttention`, not an input tensor: it persists across decode
steps and lives in the activation store (its traffic is the workload's ``kv_elements``, set by
:mod:`simulator.llm.phases`).

The ONNX writers of RMSNorm, RoPE, CausalAttention (the KV cache as graph inputs), SwiGLU and the LM
head are in :mod:`simulator.model.layers.llm_export`; LatentAttention and MoEExperts have none
(``exportable = False``). Cost formulas live in
:mod:`simulator.model.formulas`. Token and position embeddings are
:class:`simulator.model.layers.embedding.Embedding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    _check_rank,
    builder_method,
    gated_halves_output,
    layer_kind,
    projection_class,
)


def _check_features(shape: Shape, features: int, what: str) -> None:
    _check_rank(shape, 2, "(tokens, features)")
    if shape[1] != features:
        raise ShapeError(f"{what}: expects {features} features, got {shape[1]}")


@layer_kind
@dataclass(frozen=True)
class RMSNorm(Layer):
    """``x / sqrt(mean(x²) + eps) · γ`` over the last dimension (Llama's ``LlamaRMSNorm``), or over
    each group of ``dim`` features with one shared ``γ`` when the features are a multiple of ``dim``
    (Qwen3's and Gemma-3's ``q_norm``/``k_norm``: one norm of ``head_dim`` applied to every head)."""

    dim: int
    kind: ClassVar[str] = "RMSNorm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 2, "(tokens, features)")
        if self.dim < 1 or shape[1] % self.dim:
            raise ShapeError(f"RMSNorm: expects a multiple of {self.dim} features, got {shape[1]}")
        return shape


@layer_kind
@dataclass(frozen=True)
class RotaryEmbedding(Layer):
    """Rotary position embedding (RoPE) applied in place to the Q and K parts of a fused QKV tensor
    ``(tokens, (H + 2·KV)·hd)``; V passes through."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    kind: ClassVar[str] = "RoPE"
    inplace_capable: ClassVar[bool] = True

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_features(shape, (self.num_heads + 2 * self.num_kv_heads) * self.head_dim, "QKV")
        return shape


@layer_kind
@dataclass(frozen=True)
class CausalAttention(Layer):
    """The attention core ``softmax(Q Kᵀ / sqrt(hd) + causal mask) V`` with grouped-query heads.

    Input: fused QKV ``(T, (H + 2·KV)·hd)`` of ``T`` new tokens; output ``(T, H·hd)``. The new
    tokens attend to ``cached_tokens`` earlier tokens (the KV cache) and causally to each other, as
    a causal kernel (FlashAttention) computes it: query ``i`` of the ``T`` sees ``c + i + 1`` keys,
    the lower triangle including the diagonal, not the full ``T × T`` square. Prefill: ``c = 0``;
    a decode step: ``T = 1`` over ``c`` cached keys (plus its own). ``KV < H`` is GQA, ``KV = 1`` MQA.

    ``window`` ``W > 0``: sliding-window attention (Mistral, Gemma-2's local layers): the query at
    position ``p`` sees the ``min(p + 1, W)`` positions ``p − W + 1 … p`` (transformers' mask drops
    ``p − j >= W``), so attention reads at most the window, and the cache keeps ``W`` positions.
    """

    num_heads: int
    num_kv_heads: int
    head_dim: int
    cached_tokens: int = 0
    window: int = 0
    kind: ClassVar[str] = "CausalAttention"
    efficiency_class: ClassVar[str] = "attention"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if self.num_heads % self.num_kv_heads:
            raise ShapeError(f"heads: {self.num_heads} query heads are not a multiple of "
                             f"{self.num_kv_heads} KV heads")
        if self.cached_tokens < 0:
            raise ShapeError(f"cached_tokens must be at least 0, got {self.cached_tokens}")
        if self.window < 0:
            raise ShapeError(f"window must be at least 0 (0: no window), got {self.window}")
        _check_features(shape, (self.num_heads + 2 * self.num_kv_heads) * self.head_dim, "QKV")
        return (shape[0], self.num_heads * self.head_dim)

    def attended_pairs(self, tokens: int) -> int:
        """(query, key) pairs per head: ``T·c + T(T+1)/2`` (the causal lower triangle with the cache);
        with a window ``Σ_{n=c+1}^{c+T} min(n, W)`` (query ``i`` sees ``min(c + i + 1, W)`` keys)."""
        c, w = self.cached_tokens, self.window
        if not w or c + tokens <= w:
            return tokens * c + tokens * (tokens + 1) // 2
        below = max(0, w - c)  # queries n = c+1 … min(c+T, W) see n keys, the rest see W
        return below * c + below * (below + 1) // 2 + (tokens - below) * w

    def cached_read(self) -> int:
        """Cached positions the pass reads: ``c``, or ``min(c, W − 1)`` with a window (the first new
        query sees ``W − 1`` earlier positions and itself)."""
        return min(self.cached_tokens, self.window - 1) if self.window else self.cached_tokens

    def kv_cache_elements(self, tokens: int) -> int:
        """KV-cache elements one sequence's pass reads and writes: ``2·KV·hd·(c + T)`` (reads the
        ``c`` cached keys and values, writes the ``T`` new ones); ``c`` is :meth:`cached_read`."""
        return 2 * self.num_kv_heads * self.head_dim * (self.cached_read() + tokens)


@layer_kind
@dataclass(frozen=True)
class LatentAttention(Layer):
    """DeepSeek-V2's multi-head latent attention core (MLA), as serving runtimes run it (vLLM, FlashMLA).

    Inputs: ``q (T, H·(dn + dr))`` (``q_proj``), ``kv (T, H·(dn + dv))`` (``kv_b_proj`` of the
    normalized latent) and the shared rotary key ``k_pe (T, dr)``; output ``(T, H·dv)``. The cache
    holds the latent, ``r + dr`` elements per token and layer (``kv_lora_rank`` 512 + 64 in
    DeepSeek-V2), shared by every head; the key and value projections are absorbed into the query and
    the output (their MACs are the ``kv_b_proj`` linear's on the ``T`` new tokens), so each (query,
    key) pair costs ``r + dr`` MACs for the score and ``r`` for the weighted latent, per head.
    Pairs as in :class:`CausalAttention`: ``T·c + T(T+1)/2``.
    """

    num_heads: int
    qk_nope_dim: int
    qk_rope_dim: int
    v_head_dim: int
    kv_lora_rank: int
    cached_tokens: int = 0
    kind: ClassVar[str] = "LatentAttention"
    efficiency_class: ClassVar[str] = "attention"
    exportable: ClassVar[bool] = False
    arity: ClassVar[int | None] = 3

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        if len(inputs) != 3:
            raise ShapeError(f"LatentAttention takes q, kv and k_pe, got {len(inputs)} inputs")
        q, kv, k_pe = inputs
        if self.cached_tokens < 0:
            raise ShapeError(f"cached_tokens must be at least 0, got {self.cached_tokens}")
        _check_features(q, self.num_heads * (self.qk_nope_dim + self.qk_rope_dim), "MLA query")
        _check_features(kv, self.num_heads * (self.qk_nope_dim + self.v_head_dim), "MLA key-value")
        _check_features(k_pe, self.qk_rope_dim, "MLA rotary key")
        if not q[0] == kv[0] == k_pe[0]:
            raise ShapeError(f"MLA inputs must have one token count, got {q[0]}, {kv[0]}, {k_pe[0]}")
        return (q[0], self.num_heads * self.v_head_dim)

    @property
    def latent_dim(self) -> int:
        """Cached elements per token: ``kv_lora_rank + qk_rope_head_dim``."""
        return self.kv_lora_rank + self.qk_rope_dim

    def attended_pairs(self, tokens: int) -> int:
        """(query, key) pairs per head: ``T·c + T(T+1)/2``."""
        return tokens * self.cached_tokens + tokens * (tokens + 1) // 2

    def kv_cache_elements(self, tokens: int) -> int:
        """Latent-cache elements one sequence's pass reads and writes: ``(r + dr)·(c + T)``."""
        return self.latent_dim * (self.cached_tokens + tokens)


@layer_kind
@dataclass(frozen=True)
class SwiGLU(Layer):
    """``silu(gate) · up`` on a fused ``(tokens, 2·I)`` gate-and-up projection -> ``(tokens, I)``."""

    kind: ClassVar[str] = "SwiGLU"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return gated_halves_output(inputs, "gate and up")


@layer_kind
@dataclass(frozen=True)
class MoEExperts(Layer):
    """Mixtral's sparse MoE block after its router: each token runs ``top_k`` of ``num_experts``
    SwiGLU experts (``w1, w3: d -> I``, ``w2: I -> d``, no biases) and sums their outputs weighted
    by the router. Input and output ``(tokens, d)``."""

    num_experts: int
    top_k: int
    hidden_size: int
    intermediate_size: int
    kind: ClassVar[str] = "MoEExperts"
    efficiency_class: ClassVar[str] = "gemm"
    exportable: ClassVar[bool] = False

    def efficiency_class_for(self, inputs: tuple[Shape, ...]) -> str:
        """``gemv`` for one token per sequence (a decode step: each expert streams its weights for a few
        rows), else ``gemm`` (:func:`~simulator.model.layers.base.projection_class`)."""
        return projection_class(inputs)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if not 1 <= self.top_k <= self.num_experts:
            raise ShapeError(f"top_k: {self.top_k} must be between 1 and {self.num_experts} experts")
        _check_features(shape, self.hidden_size, "MoE")
        return shape

    @property
    def expert_params(self) -> int:
        """Weights of one expert: ``3·d·I``."""
        return 3 * self.hidden_size * self.intermediate_size


@layer_kind
@dataclass(frozen=True)
class LMHead(Layer):
    """The output projection to the vocabulary, ``(tokens, d) -> (rows, V)``.

    ``tied``: shares the token embedding's matrix (GPT-2), so its parameters are counted once, there.
    ``last_only``: logits of the last token only (``rows = 1``), as serving runtimes compute in prefill.
    ``bias``: a bias of ``V`` (GPT-J's ``lm_head``), its own parameters even when the matrix is tied.
    """

    vocab_size: int
    hidden_size: int
    tied: bool = False
    last_only: bool = False
    bias: bool = False
    kind: ClassVar[str] = "LMHead"
    efficiency_class: ClassVar[str] = "gemm"

    def efficiency_class_for(self, inputs: tuple[Shape, ...]) -> str:
        """``gemv`` for one input token per sequence (a decode step), else ``gemm``
        (:func:`~simulator.model.layers.base.projection_class`). By the input's rows: a prefill's head
        on the last token only (``last_only``) stays ``gemm``, as the ``gemv`` figures were fitted
        (on decode steps, with the prefill's head at the ``gemm`` class's share)."""
        return projection_class(inputs)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_features(shape, self.hidden_size, "LM head")
        return (1 if self.last_only else shape[0], self.vocab_size)

    def weight_read_elements(self) -> int:
        """Weight elements one pass reads, once per pass whatever the batch: the ``V·d`` matrix
        (``+ V`` with a bias). The one definition of the head's weight traffic: a tied head owns no
        parameters (they are the token embedding's, counted there) but still streams the whole matrix,
        as an untied one does (:func:`simulator.llm.phases.phase_workload` reads it)."""
        return self.vocab_size * self.hidden_size + (self.vocab_size if self.bias else 0)


# Builder methods (``NetworkBuilder.<name>``).


@builder_method("rms_norm", makes=RMSNorm)
def rms_norm(net, x: str, name: str | None = None) -> str:
    return net.add(RMSNorm(net.shape(x)[-1]), x, name=name)


@builder_method("rotary_embedding", makes=RotaryEmbedding)
def rotary_embedding(net, qkv: str, num_heads: int, num_kv_heads: int, head_dim: int,
                     name: str | None = None) -> str:
    return net.add(RotaryEmbedding(num_heads, num_kv_heads, head_dim), qkv, name=name, inplace=True)


@builder_method("causal_attention", makes=CausalAttention)
def causal_attention(net, qkv: str, num_heads: int, num_kv_heads: int, head_dim: int,
                     cached_tokens: int = 0, name: str | None = None, window: int = 0) -> str:
    return net.add(CausalAttention(num_heads, num_kv_heads, head_dim, cached_tokens, window), qkv, name=name)


@builder_method("latent_attention", makes=LatentAttention)
def latent_attention(net, q: str, kv: str, k_pe: str, num_heads: int, qk_nope_dim: int, qk_rope_dim: int,
                     v_head_dim: int, kv_lora_rank: int, cached_tokens: int = 0,
                     name: str | None = None) -> str:
    layer = LatentAttention(num_heads, qk_nope_dim, qk_rope_dim, v_head_dim, kv_lora_rank, cached_tokens)
    return net.add(layer, q, kv, k_pe, name=name)


@builder_method("swiglu", makes=SwiGLU)
def swiglu(net, gate_up: str, name: str | None = None) -> str:
    return net.add(SwiGLU(), gate_up, name=name)


@builder_method("moe_experts", makes=MoEExperts)
def moe_experts(net, x: str, num_experts: int, top_k: int, intermediate_size: int,
                name: str | None = None) -> str:
    return net.add(MoEExperts(num_experts, top_k, net.shape(x)[-1], intermediate_size), x, name=name)


@builder_method("lm_head", makes=LMHead)
def lm_head(net, x: str, vocab_size: int, tied: bool = False, last_only: bool = False,
            name: str | None = None, bias: bool = False) -> str:
    return net.add(LMHead(vocab_size, net.shape(x)[-1], tied, last_only, bias), x, name=name)
