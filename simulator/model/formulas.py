"""Per-layer cost formulas: parameters, multiply-accumulates and other arithmetic, per sample.

One registry, :data:`FORMULAS`, maps each layer kind to a pure function of the layer and its
per-sample input/output shapes, in the manner of fvcore's ``jit_handles``. A kind with no
formula raises :class:`~simulator.errors.FormulaError` naming it; it is never counted as zero in silence.

Conventions (following PyTorch, torchvision and the lecture):

* ``params``: every trainable element, biases and normalization affine (gamma, beta) included,
  as ``sum(p.numel() for p in model.parameters())``. Buffers (BatchNorm running stats) are not
  parameters.
* ``macs``: multiply-accumulates of convolution, linear, matmul and attention only (the lecture's
  table; torchvision's published GFLOPS are these MACs). Biases are not MACs.
* ``elementwise_ops``: every other arithmetic operation, per :data:`OPS_PER_ELEMENT`, bias adds,
  pooling comparisons/sums and normalization. ``FLOPs = OPS_PER_MAC * macs + elementwise_ops``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.errors import FormulaError
from simulator.model.layers import (
    LAYER_KINDS,
    Activation,
    AdaptivePool,
    Add,
    AllReduce,
    BatchNorm,
    ClassToken,
    Concat,
    Conv,
    Flatten,
    Fused,
    GenericOp,
    GroupNorm,
    Layer,
    LayerNorm,
    LayerNorm2d,
    Linear,
    MatMul,
    Mul,
    MultiheadSelfAttention,
    Permute,
    Pool,
    PositionalEmbedding,
    Reshape,
    SelectToken,
    Shape,
    Softmax,
    Unsupported,
    adaptive_windows,
    elements,
)

if TYPE_CHECKING:  # kinds a CNN does not use: their formulas are registered by name
    from simulator.model.layers import (
        GEGLU,
        LSTM,
        NMF2D,
        CausalAttention,
        ConditioningInput,
        Conv3d,
        ConvTranspose3d,
        CrossAttention,
        Einsum,
        Embedding,
        EmbeddingBag,
        LatentAttention,
        LayerScale,
        LMHead,
        MoEExperts,
        NoKeyBiasSelfAttention,
        OutBiasSelfAttention,
        Pad,
        ReLULinearAttention,
        Resize,
        RMSNorm,
        RotaryEmbedding,
        SharedConv,
        SpatialReductionAttention,
        SwiGLU,
        WindowedAttention,
    )

#: A multiply-accumulate is two operations (one multiply, one add), as the lecture and vendors count.
OPS_PER_MAC = 2

#: Non-MAC operations per output element. A transcendental (exp, erf, tanh) counts as one operation.
OPS_PER_ELEMENT: dict[str, int] = {
    "relu": 1,        # max(x, 0)
    "relu6": 2,       # min(max(x, 0), 6)
    "sigmoid": 4,     # 1 / (1 + exp(-x)): negate, exp, add, divide
    "silu": 5,        # x * sigmoid(x)
    "tanh": 1,        # one transcendental
    "gelu": 5,        # 0.5 * x * (1 + erf(x / sqrt(2))): divide, erf, add, multiply, multiply
    # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))): x^3 (2 multiplies), * 0.044715, + x,
    # * sqrt(2/pi), tanh, + 1, * x, * 0.5
    "gelu_tanh": 9,
    "quick_gelu": 6,  # x * sigmoid(1.702 * x): multiply, sigmoid (4), multiply
    "hardswish": 5,   # x * min(max(x + 3, 0), 6) / 6: add, max, min, multiply, divide
    "softmax": 5,     # max-reduce, subtract, exp, sum-reduce, divide
    "batchnorm": 2,   # inference: x * scale + shift with the running statistics
    "norm_stats": 5,  # LayerNorm/GroupNorm statistics: mean add, subtract, square, variance add, scale
    "norm_affine": 2,  # gamma * x + beta
    "rms_stats": 3,   # RMSNorm statistics: square, mean add, scale by 1/rms (no mean subtraction)
    "rope": 3,        # x * cos + rotate_half(x) * sin: two multiplies, one add
    "bias": 1,        # one add per output element
    "add": 1,         # per extra operand
    # Resize, per output element, as PyTorch's separable upsample kernels compute it (weights per row
    # and column are not counted): nearest is a gather; bilinear is two 2-tap lerps along x and one
    # along y (3 × (2 multiplies + 1 add)); bicubic four 4-tap cubic interpolations along x and one
    # along y (5 × (4 multiplies + 3 adds))
    "resize_nearest": 0,
    "resize_bilinear": 9,
    "resize_bicubic": 35,
}


@dataclass(frozen=True)
class LayerCost:
    """Hardware-independent counts of one layer for one sample; costs add up."""

    params: int
    macs: int
    elementwise_ops: int

    @property
    def flops(self) -> int:
        """Operations: ``OPS_PER_MAC * macs + elementwise_ops`` (the only place the factor 2 lives)."""
        return OPS_PER_MAC * self.macs + self.elementwise_ops

    def __add__(self, other: LayerCost) -> LayerCost:
        return LayerCost(self.params + other.params, self.macs + other.macs,
                         self.elementwise_ops + other.elementwise_ops)


ZERO_COST = LayerCost(0, 0, 0)

Formula = Callable[[Layer, tuple[Shape, ...], Shape], LayerCost]
#: formulas of the kinds a command loads only when it uses them, by kind name (:data:`FORMULAS` reads them)
_BY_NAME: dict[str, Formula] = {}


class _Formulas(dict):
    """By layer kind. A kind whose formula was registered by name (:func:`formula`) enters on its first
    lookup; listing the registry loads every kind and enters them all."""

    def _enter(self, kind: Any) -> bool:
        name = getattr(kind, "__name__", "")
        function = _BY_NAME.get(name)
        if function is None or LAYER_KINDS.get(name) is not kind:
            return False
        self[kind] = function
        return True

    def __missing__(self, kind: type[Layer]) -> Formula:
        if self._enter(kind):
            return self[kind]
        raise KeyError(kind)

    def __contains__(self, kind: object) -> bool:
        return super().__contains__(kind) or self._enter(kind)

    def _enter_all(self) -> None:
        for name in _BY_NAME:
            self._enter(LAYER_KINDS[name])

    def __iter__(self):
        self._enter_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._enter_all()
        return super().__len__()

    def keys(self):
        self._enter_all()
        return super().keys()

    def values(self):
        self._enter_all()
        return super().values()

    def items(self):
        self._enter_all()
        return super().items()

    def get(self, kind, default=None):
        return super().get(kind, default) if kind in self else default


FORMULAS: dict[type[Layer], Formula] = _Formulas()


def formula(kind: type[Layer] | str) -> Callable[[Formula], Formula]:
    """Registers a cost formula for ``kind``: its class, or the name of a kind that a command imports only
    when it uses it (:data:`simulator.model.layers.LAZY`), so that this module does not import it."""
    def register(function: Formula) -> Formula:
        if isinstance(kind, str):
            _BY_NAME[kind] = function
        else:
            FORMULAS[kind] = function
        return function
    return register


def layer_cost(layer: Layer, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Counts of ``layer`` for one sample, from the registry; a kind without one raises FormulaError."""
    try:
        function = FORMULAS[type(layer)]
    except KeyError:
        raise FormulaError(f"no cost formula for layer kind {type(layer).__name__} "
                           f"(register one with @formula({type(layer).__name__}))") from None
    return function(layer, inputs, output)


@formula(Linear)
def _linear(layer: Linear, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``c_o·c_i (+ c_o)``; MACs ``rows·c_o·c_i`` (lecture: ``c_o·c_i`` for one row)."""
    c_in = inputs[0][-1]
    weights = layer.out_features * c_in
    bias = layer.out_features if layer.bias else 0
    return LayerCost(weights + bias, elements(inputs[0][:-1]) * weights,
                     elements(output) * OPS_PER_ELEMENT["bias"] if layer.bias else 0)


@formula(Conv)
@formula("Conv3d")
def _conv(layer: Conv | Conv3d, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``c_o·(c_i/g)·k_h·k_w (+ c_o)``; MACs ``c_o·(c_i/g)·k_h·k_w·h_o·w_o`` (lecture); a 3-D
    convolution the same with a depth axis: params ``c_o·(c_i/g)·k_d·k_h·k_w (+ c_o)``, MACs
    ``c_o·(c_i/g)·k_d·k_h·k_w·d_o·h_o·w_o``; bias: one add per output element."""
    weights = layer.out_channels * (inputs[0][0] // layer.groups) * elements(layer.kernel_size)
    bias = layer.out_channels if layer.bias else 0
    return LayerCost(weights + bias, weights * elements(output[1:]),
                     elements(output) * OPS_PER_ELEMENT["bias"] if layer.bias else 0)


@formula("ConvTranspose3d")
def _conv_transpose3d(layer: ConvTranspose3d, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``c_i·(c_o/g)·k_d·k_h·k_w (+ c_o)`` (PyTorch's weight ``(c_i, c_o/g, k…)``); MACs
    ``c_i·(c_o/g)·k_d·k_h·k_w·d_i·h_i·w_i``: every input voxel scatters its kernel into the output
    (k = s, p = 0, as 3D-UNet's 2×2×2/2: each output voxel receives exactly ``c_i/g`` products);
    bias: one add per output element."""
    weights = inputs[0][0] * (layer.out_channels // layer.groups) * elements(layer.kernel_size)
    bias = layer.out_channels if layer.bias else 0
    return LayerCost(weights + bias, weights * elements(inputs[0][1:]),
                     elements(output) * OPS_PER_ELEMENT["bias"] if layer.bias else 0)


@formula("SharedConv")
def _shared_conv(layer: SharedConv, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """A Conv's MACs and bias adds; params 0 (its weights are the owner's, counted there once)."""
    cost = _conv(layer, inputs, output)
    return LayerCost(0, cost.macs, cost.elementwise_ops)


@formula(Pool)
def _pool(layer: Pool, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Max: ``k-1`` comparisons per output; average: ``k-1`` adds and one divide (``k`` ops)."""
    window = elements(layer.kernel_size)
    per_output = window - 1 if layer.mode == "max" else window
    return LayerCost(0, 0, elements(output) * per_output)


@formula(AdaptivePool)
def _adaptive_pool(layer: AdaptivePool, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Sum over output elements of the window size (average) or window size - 1 (max)."""
    window_sum = math.prod(sum(adaptive_windows(size, out))
                           for size, out in zip(inputs[0][1:], layer.output_size, strict=True))
    ops = inputs[0][0] * window_sum
    if layer.mode == "max":
        ops -= elements(output)
    return LayerCost(0, 0, ops)


@formula(BatchNorm)
def _batchnorm(layer: BatchNorm, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``2·C`` (gamma, beta); inference ops ``2`` per element."""
    return LayerCost(2 * layer.num_features if layer.affine else 0, 0,
                     elements(output) * OPS_PER_ELEMENT["batchnorm"])


def _norm_ops(output: Shape, affine: bool) -> int:
    per_element = OPS_PER_ELEMENT["norm_stats"] + (OPS_PER_ELEMENT["norm_affine"] if affine else 0)
    return elements(output) * per_element


@formula(LayerNorm)
def _layernorm(layer: LayerNorm, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``2·prod(normalized_shape)``; statistics and affine ops per element."""
    params = 2 * elements(layer.normalized_shape) if layer.affine else 0
    return LayerCost(params, 0, _norm_ops(output, layer.affine))


@formula(GroupNorm)
def _groupnorm(layer: GroupNorm, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``2·C``; statistics and affine ops per element."""
    return LayerCost(2 * layer.num_channels if layer.affine else 0, 0, _norm_ops(output, layer.affine))


@formula(LayerNorm2d)
def _layernorm2d(layer: LayerNorm2d, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``2·C``; statistics over C at each position and affine, per element (as LayerNorm)."""
    return LayerCost(2 * layer.num_channels if layer.affine else 0, 0, _norm_ops(output, layer.affine))


@formula(Activation)
def _activation(layer: Activation, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    return LayerCost(0, 0, elements(output) * OPS_PER_ELEMENT[layer.function])


@formula(Softmax)
def _softmax(layer: Softmax, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    return LayerCost(0, 0, elements(output) * OPS_PER_ELEMENT["softmax"])


@formula(Add)
@formula(Mul)
def _elementwise(layer: Layer, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``(operands - 1)`` operations per output element."""
    return LayerCost(0, 0, elements(output) * (len(inputs) - 1) * OPS_PER_ELEMENT["add"])


@formula(Flatten)
@formula(Reshape)
@formula(Permute)
@formula(SelectToken)
@formula(Concat)
@formula(AllReduce)  # its link traffic is its own declaration (AllReduce.link_elements), not a cost
def _data_movement(layer: Layer, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Pure data movement: no parameters, no arithmetic (the time model still counts its bytes)."""
    return ZERO_COST


@formula("Resize")
def _resize(layer: Resize, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """No params, no MACs; ``OPS_PER_ELEMENT["resize_<mode>"]`` per output element: nearest 0,
    bilinear 9, bicubic 35 (see the table). An output of the input's size is a copy (PyTorch's
    same-size fast path): 0."""
    if tuple(inputs[0]) == tuple(output):
        return ZERO_COST
    return LayerCost(0, 0, elements(output) * OPS_PER_ELEMENT[f"resize_{layer.mode}"])


@formula("Pad")
def _pad(layer: Pad, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Zero padding: data movement only, no params, no arithmetic (the time model counts its bytes)."""
    return ZERO_COST


@formula(MatMul)
def _matmul(layer: MatMul, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """GEMM ``m·n·k`` MACs (lecture), times the broadcast batch dimensions."""
    return LayerCost(0, elements(output) * inputs[0][-1], 0)


@formula(MultiheadSelfAttention)
def _attention(layer: MultiheadSelfAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Self-attention on ``(L, E)`` with ``h`` heads, as ``nn.MultiheadAttention``.

    params ``4·E² + 4·E`` (Q, K, V and output projections with biases).
    MACs ``4·L·E²`` (projections) ``+ 2·L²·E`` (``Q K^T`` and ``A V`` over all heads).
    Other ops: projection biases ``4·L·E``, score scaling ``h·L²`` and softmax on ``h·L²`` scores.
    """
    tokens, embed = inputs[0]
    scores = layer.num_heads * tokens * tokens
    params = 4 * embed * embed + (4 * embed if layer.bias else 0)
    macs = 4 * tokens * embed * embed + 2 * tokens * tokens * embed
    ops = (4 * tokens * embed * OPS_PER_ELEMENT["bias"] if layer.bias else 0) + scores * (
        1 + OPS_PER_ELEMENT["softmax"])
    return LayerCost(params, macs, ops)


@formula("NoKeyBiasSelfAttention")
def _attention_no_key_bias(layer: NoKeyBiasSelfAttention, inputs: tuple[Shape, ...],
                           output: Shape) -> LayerCost:
    """:func:`_attention` less the key bias: params ``4·E² + 3·E``, bias adds ``3·L·E``; MACs the same."""
    tokens, embed = inputs[0]
    cost = _attention(layer, inputs, output)
    return LayerCost(cost.params - embed, cost.macs,
                     cost.elementwise_ops - tokens * embed * OPS_PER_ELEMENT["bias"])


@formula("OutBiasSelfAttention")
def _attention_out_bias(layer: OutBiasSelfAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """diffusers' self-attention (``attn1``): :func:`_attention` with the output bias only: params
    ``4·E² + E``, bias adds ``L·E``; MACs ``4·L·E² + 2·L²·E``."""
    tokens, embed = inputs[0]
    scores = layer.num_heads * tokens * tokens
    return LayerCost(4 * embed * embed + embed, 4 * tokens * embed * embed + 2 * tokens * tokens * embed,
                     tokens * embed * OPS_PER_ELEMENT["bias"] + scores * (1 + OPS_PER_ELEMENT["softmax"]))


@formula("CrossAttention")
def _cross_attention(layer: CrossAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Cross-attention, ``T`` query tokens of ``E``, ``L`` context tokens of ``D_c``, ``h`` heads.

    params ``2·E² + 2·D_c·E + E`` (to_q, to_out with its bias; to_k, to_v). MACs ``2·T·E²`` (q, out)
    ``+ 2·L·D_c·E`` (k, v) ``+ 2·T·L·E`` (``Q Kᵀ`` and ``A V`` over all heads). Other ops: the output
    bias ``T·E``, score scaling and softmax on ``h·T·L`` scores."""
    (tokens, embed), (context, context_dim) = inputs
    scores = layer.num_heads * tokens * context
    return LayerCost(2 * embed * embed + 2 * context_dim * embed + embed,
                     2 * tokens * embed * embed + 2 * context * context_dim * embed
                     + 2 * tokens * context * embed,
                     tokens * embed * OPS_PER_ELEMENT["bias"] + scores * (1 + OPS_PER_ELEMENT["softmax"]))


@formula("GEGLU")
def _geglu(layer: GEGLU, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``hidden · gelu(gate)``: per output element a GELU and a multiply."""
    return LayerCost(0, 0, elements(output) * (OPS_PER_ELEMENT["gelu"] + 1))


@formula("ConditioningInput")
def _conditioning_input(layer: ConditioningInput, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """A conditioning tensor handed to the network: no parameters, no operations."""
    return LayerCost(0, 0, 0)


@formula("ReLULinearAttention")
def _relu_linear_attention(layer: ReLULinearAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """EfficientViT's LiteMLA core on ``(3·d·G, H, W)``, ``N = H·W`` tokens, ``G`` groups of head dim ``d``.

    Linear form: MACs ``2·G·N·d·(d+1)`` (``v kᵀ``: ``(d+1)·N·d``; ``(v kᵀ) q``: ``(d+1)·d·N``);
    other ops ``2·G·d·N`` (ReLU of q and k) ``+ G·N`` (``+ eps``) ``+ G·d·N`` (divide by the
    normalizer row). Quadratic fallback (``N <= d``, mit's code): MACs ``2·G·d·N²``
    (``kᵀ q`` and ``v·att``); ops ``2·G·d·N`` (ReLU) ``+ G·N²`` (column sums) ``+ G·N`` (eps)
    ``+ G·N²`` (divide). No parameters (qkv, aggregation and projection are Conv layers).
    """
    shape = inputs[0]
    g, d, n = layer.groups(shape), layer.head_dim, shape[1] * shape[2]
    relu = 2 * g * d * n * OPS_PER_ELEMENT["relu"]
    if layer.is_quadratic(shape):
        return LayerCost(0, 2 * g * d * n * n, relu + 2 * g * n * n + g * n)
    return LayerCost(0, 2 * g * n * d * (d + 1), relu + g * n + g * d * n)


@formula("SpatialReductionAttention")
def _sr_attention(layer: SpatialReductionAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """SegFormer's efficient self-attention, queries ``(N, C)``, keys/values ``(M, C)``, ``h`` heads.

    params ``4·C² + 4·C`` (Q, K, V, output projections with biases).
    MACs ``2·N·C²`` (Q, output) ``+ 2·M·C²`` (K, V) ``+ 2·N·M·C`` (``Q Kᵀ`` and ``A V``, all heads).
    Other ops: biases ``(2·N + 2·M)·C``, score scaling and softmax on ``h·N·M`` scores (1 + 5 each).
    """
    (n, c), (m, _) = inputs
    scores = layer.num_heads * n * m
    params = 4 * c * c + (4 * c if layer.bias else 0)
    macs = 2 * n * c * c + 2 * m * c * c + 2 * n * m * c
    ops = ((2 * n + 2 * m) * c * OPS_PER_ELEMENT["bias"] if layer.bias else 0) + scores * (
        1 + OPS_PER_ELEMENT["softmax"])
    return LayerCost(params, macs, ops)


@formula("WindowedAttention")
def _windowed_attention(layer: WindowedAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """SAM's attention on a ``(H, W, C)`` grid in windows of ``T = w_h·w_w`` tokens (global: ``H·W``).

    With ``P = H_p·W_p`` padded tokens (H, W rounded up to multiples of the window), ``d = C/h``:
    params ``4·C² + 4·C`` (qkv, proj with biases) ``+ (2·w_h − 1 + 2·w_w − 1)·d`` (rel-pos tables).
    MACs ``4·P·C²`` (qkv, proj on every padded token) ``+ 2·P·T·C`` (``Q Kᵀ``, ``A V``)
    ``+ P·(w_h + w_w)·C`` (the two rel-pos einsums: ``T·w_h·d`` and ``T·w_w·d`` per window and head).
    Other ops: biases ``4·P·C``, ``q·scale`` ``P·C``; on the ``h·P·T`` scores softmax (5) and,
    with rel-pos, two broadcast adds.
    """
    c = layer.embed_dim
    d = c // layer.num_heads
    _, wh, ww, hp, wp = layer.geometry(inputs[0])
    padded, tokens = hp * wp, wh * ww
    scores = layer.num_heads * padded * tokens
    rel_params = (2 * wh - 1 + 2 * ww - 1) * d if layer.rel_pos else 0
    params = 4 * c * c + (4 * c if layer.bias else 0) + rel_params
    macs = 4 * padded * c * c + 2 * padded * tokens * c + (padded * (wh + ww) * c if layer.rel_pos else 0)
    ops = ((4 * padded * c * OPS_PER_ELEMENT["bias"] if layer.bias else 0) + padded * c
           + scores * (OPS_PER_ELEMENT["softmax"] + (2 * OPS_PER_ELEMENT["add"] if layer.rel_pos else 0)))
    return LayerCost(params, macs, ops)


@formula("Einsum")
def _einsum(layer: Einsum, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``|output| · Π contracted sizes`` MACs (two operands) or adds (one operand); params as imported."""
    work = elements(output) * layer.contracted
    return LayerCost(layer.params, work if layer.operands > 1 else 0, 0 if layer.operands > 1 else work)


@formula("Embedding")
def _embedding(layer: Embedding, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``V·E`` (the whole table, as ``nn.Embedding``); a gather: no MACs, no element-wise ops
    (the time model still moves the ``L·E`` looked-up elements)."""
    return LayerCost(layer.num_embeddings * layer.embedding_dim, 0, 0)


@formula("EmbeddingBag")
def _embedding_bag(layer: EmbeddingBag, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``V·E`` (the whole table); no MACs; pooling ``(n − 1)·E`` adds for ``sum`` over ``n``
    lookups, ``n·E`` for ``mean`` (the adds and a divide per element). The time model reads the
    ``n·E`` gathered elements (:meth:`EmbeddingBag.gathered_weight_elements`), not the table."""
    adds = (layer.lookups - 1) * layer.embedding_dim * OPS_PER_ELEMENT["add"]
    return LayerCost(layer.num_embeddings * layer.embedding_dim, 0,
                     adds + (layer.embedding_dim if layer.mode == "mean" else 0))


@formula("LSTM")
def _lstm(layer: LSTM, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """One ``nn.LSTM`` layer, ``L`` steps, input ``n``, hidden ``h``: params ``4h·(n + h) + 8h`` (``W_ih``,
    ``W_hh``, ``b_ih``, ``b_hh``); MACs ``L·4h·(n + h)``; per step ``4h`` adds (the two products), ``8h``
    bias adds, three sigmoids and two tanh on ``h`` each, ``3h`` for ``f⊙c + i⊙g`` and ``h`` for
    ``o⊙tanh(c)``: ``30h`` with the table's costs."""
    steps, n = inputs[0]
    h = layer.hidden_size
    per_step = (4 * h * OPS_PER_ELEMENT["add"] + 8 * h * OPS_PER_ELEMENT["bias"]
                + 3 * h * OPS_PER_ELEMENT["sigmoid"] + 2 * h * OPS_PER_ELEMENT["tanh"] + 4 * h)
    return LayerCost(4 * h * (n + h) + 8 * h, steps * 4 * h * (n + h), steps * per_step)


@formula("NMF2D")
def _nmf2d(layer: NMF2D, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``NMF2D`` on ``(C, H, W)``: ``S`` groups, ``D = C/S``, ``N = H·W``, rank ``R``, ``T`` steps: params 0;
    MACs ``S·[(2T + 3)·N·D·R + (2T + 1)·(D·R² + N·R²)]`` (:class:`NMF2D`); elementwise per group: the
    softmax on ``N·R``, per update ``⊙``, ``+ε`` and ``/`` (3 per element) on ``N·R`` (coefficients, ``T + 1``
    times) and ``D·R`` (bases, ``T`` times), and one per initial base element (``D·R``, drawing them):
    ``S·[5·N·R + 3·N·R·(T + 1) + 3·D·R·T + D·R]``, the operations of the exported graph. The reference's
    ``inv_t·`` scale (``inv_t`` = 1 in NMF2D) and the L2 normalization of its random bases are not
    counted."""
    c, h, w = inputs[0]
    s, r, t = layer.groups, layer.rank, layer.steps
    d, n = c // s, h * w
    macs = s * ((2 * t + 3) * n * d * r + (2 * t + 1) * (d * r * r + n * r * r))
    ops = s * (n * r * OPS_PER_ELEMENT["softmax"] + 3 * n * r * (t + 1) + 3 * d * r * t + d * r)
    return LayerCost(0, macs, ops)


@formula("LayerScale")
def _layer_scale(layer: LayerScale, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``C``; one multiply per element."""
    return LayerCost(layer.channels, 0, elements(output))


@formula(ClassToken)
def _class_token(layer: ClassToken, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``E`` (the learned token); concatenation only."""
    return LayerCost(layer.embed_dim, 0, 0)


@formula(PositionalEmbedding)
def _positional(layer: PositionalEmbedding, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``L·E``; one add per element."""
    return LayerCost(layer.seq_len * layer.embed_dim, 0, elements(output) * OPS_PER_ELEMENT["add"])


@formula(GenericOp)
def _generic(layer: GenericOp, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``ops_per_element · max(elements(first input), elements(output))``; params as imported."""
    return LayerCost(layer.params, 0,
                     layer.ops_per_element * max(elements(inputs[0]), elements(output)))


@formula(Unsupported)
def _unsupported(layer: Unsupported, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Zero by construction: the operator is listed by :func:`simulator.onnx.reader.unsupported_operators`
    and reported by the CLI, never counted as zero in silence."""
    return ZERO_COST


@formula(Fused)
def _fused(layer: Fused, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Base cost plus the epilogue's: its params, and its arithmetic except a folded BatchNorm's (in the
    weights at inference); a residual add in the epilogue costs one add per output element."""
    cost = layer_cost(layer.base, inputs[:len(inputs) - layer.extra_inputs], output)
    operands = layer.epilogue_operands or (1,) * len(layer.epilogue)
    for part, shape, count in zip(layer.epilogue, layer.epilogue_shapes, operands, strict=True):
        part_cost = layer_cost(part, (shape,) * count, shape)
        if isinstance(part, BatchNorm):
            part_cost = LayerCost(part_cost.params, 0, 0)
        cost += part_cost
    return cost


# LLM kinds (:mod:`simulator.model.layers.llm`), per sequence of T new tokens.


@formula("RMSNorm")
def _rms_norm(layer: RMSNorm, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``d`` (γ, no β); ops ``rms_stats + 1`` (the γ multiply) per element."""
    return LayerCost(layer.dim, 0, elements(output) * (OPS_PER_ELEMENT["rms_stats"] + 1))


@formula("RotaryEmbedding")
def _rotary(layer: RotaryEmbedding, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """No params (cos/sin tables are buffers); ``rope`` ops on each Q and K element: ``T·(H+KV)·hd·3``."""
    rotated = output[0] * (layer.num_heads + layer.num_kv_heads) * layer.head_dim
    return LayerCost(0, 0, rotated * OPS_PER_ELEMENT["rope"])


@formula("CausalAttention")
def _causal_attention(layer: CausalAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Grouped-query causal attention over ``c`` cached and ``T`` new tokens, as a causal kernel computes.

    ``pairs = T·c + T(T+1)/2`` (query, key) pairs per head: the lower triangle including the diagonal
    (a causal FlashAttention kernel skips the masked upper triangle). MACs ``2·H·hd·pairs``
    (``Q Kᵀ`` and ``A V``); element-wise ``H·pairs·(1 + softmax)`` (the ``1/sqrt(hd)`` scale and the
    softmax). GQA shares each K/V head among ``H/KV`` query heads: it changes the KV cache, not the MACs.
    """
    pairs = layer.attended_pairs(inputs[0][0])
    return LayerCost(0, 2 * layer.num_heads * layer.head_dim * pairs,
                     layer.num_heads * pairs * (1 + OPS_PER_ELEMENT["softmax"]))


@formula("LatentAttention")
def _latent_attention(layer: LatentAttention, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Multi-head latent attention with absorbed projections over ``pairs = T·c + T(T+1)/2`` per head:
    MACs ``H·(2r + dr)·pairs`` (scores over the ``r + dr`` latent, the weighted ``r``-latent sum);
    element-wise ``H·pairs·(1 + softmax)`` (scale, softmax)."""
    pairs = layer.attended_pairs(inputs[0][0])
    return LayerCost(0, layer.num_heads * (2 * layer.kv_lora_rank + layer.qk_rope_dim) * pairs,
                     layer.num_heads * pairs * (1 + OPS_PER_ELEMENT["softmax"]))


@formula("SwiGLU")
def _swiglu(layer: SwiGLU, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """``silu(gate) · up``: ``silu + 1`` ops per output element."""
    return LayerCost(0, 0, elements(output) * (OPS_PER_ELEMENT["silu"] + 1))


@formula("MoEExperts")
def _moe_experts(layer: MoEExperts, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``E·3·d·I`` (every expert; the router is a separate Linear ``d -> E``); per token ``k``
    experts: MACs ``k·3·d·I``, element-wise ``k·I·(silu + 1)`` (SwiGLU) ``+ k·d`` (the weighted sum
    of the experts' outputs) ``+ softmax·E`` (the router's top-k softmax)."""
    tokens, k = inputs[0][0], layer.top_k
    ops = tokens * (k * layer.intermediate_size * (OPS_PER_ELEMENT["silu"] + 1) + k * layer.hidden_size
                    + layer.num_experts * OPS_PER_ELEMENT["softmax"])
    return LayerCost(layer.num_experts * layer.expert_params, tokens * k * layer.expert_params, ops)


@formula("LMHead")
def _lm_head(layer: LMHead, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """params ``V·d``, or 0 when tied to the token embedding (counted there), ``+ V`` with a bias;
    MACs ``rows·V·d``; a bias adds one op per logit (``rows·V``)."""
    weights = layer.vocab_size * layer.hidden_size
    bias = layer.vocab_size if layer.bias else 0
    return LayerCost((0 if layer.tied else weights) + bias, output[0] * weights,
                     elements(output) * OPS_PER_ELEMENT["bias"] if layer.bias else 0)
