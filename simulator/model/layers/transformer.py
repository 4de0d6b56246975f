"""Attention variants of vision transformers: SegFormer's spatial-reduction attention, SAM's windowed
attention with decomposed relative positions, and the ``Einsum`` operator they import as.

* :class:`SpatialReductionAttention`: multi-head attention whose queries come from ``N`` tokens and
  keys/values from ``M`` (spatially reduced) tokens, as ``SegformerEfficientSelfAttention``
  (NVlabs/SegFormer@65fa8cfa9b52b6ee7e8897a98705abf8570f9e32 ``mmseg/models/backbones/mix_transformer.py``
  ``Attention``; transformers 5.24.0 ``models/segformer/modeling_segformer.py``). The reduction (a
  Conv2d with kernel = stride = ``sr_ratio`` and a LayerNorm) is built from ordinary nodes before it.
* :class:`WindowedAttention`: ``Block.attn`` of SAM's image encoder with its window partition
  (facebookresearch/segment-anything@dca509fe793f601edb92606367a655c15ac00fdf
  ``segment_anything/modeling/image_encoder.py``: ``Attention``, ``window_partition``,
  ``window_unpartition``, ``get_rel_pos``, ``add_decomposed_rel_pos``).
* :class:`Einsum`: an imported two-operand ``Einsum`` (SAM's relative-position terms), MACs the
  product of the index sizes; it only stands for imported operators (no writer).

Both attention kinds report :meth:`score_elements`, the per-sample elements of the attention-score
matrix an unfused (materialized) execution writes and reads back; a fused kernel never stores it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import (
    Layer,
    Shape,
    builder_method,
    layer_kind,
    onnx_reader,
    onnx_writer,
)
from simulator.model.layers.imported import unsupported

if TYPE_CHECKING:
    import numpy as np

    from simulator.model.graph import Node


def _check_heads(embed_dim: int, num_heads: int) -> None:
    if embed_dim % num_heads:
        raise ShapeError(f"embed_dim {embed_dim} is not divisible by num_heads={num_heads}")


@layer_kind
@dataclass(frozen=True)
class SpatialReductionAttention(Layer):
    """SegFormer's efficient self-attention: queries ``(N, C)``, keys/values ``(M, C)``.

    ``q = W_q x``, ``k = W_k r``, ``v = W_v r`` (mmseg: one ``kv`` Linear ``C → 2C``, the same
    parameters and MACs), per head ``softmax(q kᵀ / √d) v``, output projection ``W_o``, all with
    biases. Inputs: the query tokens ``x`` and the reduced tokens ``r`` (``r = x`` when
    ``sr_ratio == 1``); ``sr_ratio`` is informational, the reduction happened upstream.
    """

    embed_dim: int
    num_heads: int
    sr_ratio: int = 1
    bias: bool = True
    kind: ClassVar[str] = "SRAttention"
    arity: ClassVar[int | None] = 2
    efficiency_class: ClassVar[str] = "attention"
    projection_kernels: ClassVar[int] = 3  # q, kv and the output projection

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        for what, shape in zip(("queries", "keys/values"), inputs, strict=True):
            if len(shape) != 2 or shape[1] != self.embed_dim:
                raise ShapeError(f"{what}: expects (tokens, {self.embed_dim}), got {shape}")
        _check_heads(self.embed_dim, self.num_heads)
        return inputs[0]

    def score_elements(self, inputs: tuple[Shape, ...]) -> int:
        """``heads · N · M``: the score matrix ``softmax(q kᵀ)`` of every head, per sample."""
        return self.num_heads * inputs[0][0] * inputs[1][0]


@layer_kind
@dataclass(frozen=True)
class WindowedAttention(Layer):
    """SAM / ViTDet attention on a ``(H, W, C)`` token grid, with its window partition.

    ``window > 0``: zero-pad H and W up to multiples of ``window`` (64 → 70 for 14: 25 windows) and
    attend within each ``window × window`` window; ``window == 0``: global attention over all
    ``H·W`` tokens. ``qkv`` (Linear ``C → 3C``) and ``proj`` (``C → C``), with biases, run on every
    *padded* token; the padding is cropped after. With ``rel_pos``, learned tables ``rel_pos_h``
    ``(2·w_h − 1, d)`` and ``rel_pos_w`` ``(2·w_w − 1, d)`` add ``q·R_h`` and ``q·R_w`` (two einsums)
    to the scores, ``R_h[i, j] = rel_pos_h[i − j + w_h − 1]``.
    """

    embed_dim: int
    num_heads: int
    window: int = 0
    rel_pos: bool = True
    bias: bool = True
    kind: ClassVar[str] = "WindowAttention"
    efficiency_class: ClassVar[str] = "attention"
    projection_kernels: ClassVar[int] = 2  # qkv and the output projection

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        if len(shape) != 3 or shape[2] != self.embed_dim:
            raise ShapeError(f"expects a (H, W, {self.embed_dim}) token grid, got {shape}")
        _check_heads(self.embed_dim, self.num_heads)
        if self.window < 0:
            raise ShapeError(f"window must be 0 (global) or positive, got {self.window}")
        return shape

    def geometry(self, shape: Shape) -> tuple[int, int, int, int, int]:
        """``(windows, window_h, window_w, padded_h, padded_w)`` for a ``(H, W, C)`` grid."""
        h, w = shape[0], shape[1]
        if self.window == 0:
            return 1, h, w, h, w
        hp, wp = -(-h // self.window) * self.window, -(-w // self.window) * self.window
        return (hp // self.window) * (wp // self.window), self.window, self.window, hp, wp

    def score_elements(self, inputs: tuple[Shape, ...]) -> int:
        """``windows · heads · T²`` with ``T = w²`` tokens per window (``(H·W)²`` per head when
        global): the score matrices of every window and head, per sample."""
        windows, wh, ww, _, _ = self.geometry(inputs[0])
        return windows * self.num_heads * (wh * ww) ** 2


@layer_kind
@dataclass(frozen=True)
class Einsum(Layer):
    """An imported ``Einsum`` (``a,b->c``); ``contracted`` is the product of the sizes of the indices
    summed over, so each output element costs that many multiply-accumulates (one operand: adds).

    ``params`` counts a learned constant operand, also through the ``Gather`` that expands a
    relative-position table (SAM's ``get_rel_pos``). The output shape is the source graph's.
    """

    equation: str
    output: Shape
    num_inputs: int = 1
    operands: int = 2
    contracted: int = 1
    params: int = 0
    efficiency_class: ClassVar[str] = "gemm"
    exportable: ClassVar[bool] = False

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "Einsum"

    @property
    def arity(self) -> int:  # type: ignore[override]
        return self.num_inputs

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.output


# Builder methods (``NetworkBuilder.<name>``).


@builder_method("spatial_reduction_attention", makes=SpatialReductionAttention)
def spatial_reduction_attention(net, x: str, reduced: str, num_heads: int, sr_ratio: int = 1,
                                name: str | None = None) -> str:
    """Queries from ``x`` ``(N, C)``, keys and values from ``reduced`` ``(M, C)``."""
    return net.add(SpatialReductionAttention(net.shape(x)[-1], num_heads, sr_ratio), x, reduced, name=name)


@builder_method("windowed_attention", makes=WindowedAttention)
def windowed_attention(net, x: str, num_heads: int, window: int = 0, rel_pos: bool = True,
                       name: str | None = None) -> str:
    """Attention on the ``(H, W, C)`` grid ``x`` in ``window × window`` windows (0: global)."""
    return net.add(WindowedAttention(net.shape(x)[-1], num_heads, window, rel_pos), x, name=name)


# ONNX writers (:func:`simulator.onnx.writer.to_onnx`): ``g`` is the graph being written.


def _projection(g: Any, name: str, x: str, c_in: int, c_out: int, bias: bool, output: str) -> str:
    """``MatMul`` + ``Add`` (read back as one Linear)."""
    std = g.fan_in_std(c_in)
    product = g.op("MatMul", [x, g.param(f"{name}.weight", (c_in, c_out), std)],
                   f"{output}/matmul" if bias else output)
    return g.op("Add", [product, g.param(f"{name}.bias", (c_out,), std)], output) if bias else product


@onnx_writer(SpatialReductionAttention)
def write_sr_attention(g: Any, node: Node) -> None:
    """Q from the queries, K and V from the reduced tokens (``MatMul`` + ``Add``), per head
    ``Softmax(Q Kᵀ · d^-½) V``, output projection; ``Reshape``/``Transpose`` to heads and back."""
    layer, name, (x, r) = node.layer, node.name, node.inputs
    (tokens, c), (reduced, _) = node.input_shapes
    heads, d = layer.num_heads, c // layer.num_heads

    def split_heads(part: str, source: str, length: int, perm: list[int]) -> str:
        projected = _projection(g, f"{name}.{part}", source, c, c, layer.bias, f"{name}/{part}")
        per_head = g.reshape(projected, (length, heads, d), f"{name}/{part}_heads")
        return g.op("Transpose", [per_head], f"{name}/{part}_t", perm=perm)

    q = split_heads("query", x, tokens, [0, 2, 1, 3])      # (B, h, N, d)
    k = split_heads("key", r, reduced, [0, 2, 3, 1])       # (B, h, d, M)
    v = split_heads("value", r, reduced, [0, 2, 1, 3])     # (B, h, M, d)
    scores = g.op("MatMul", [q, k], f"{name}/scores")
    scaled = g.op("Mul", [scores, g.const(f"{name}/scale", 1.0 / math.sqrt(d))], f"{name}/scaled")
    weights = g.op("Softmax", [scaled], f"{name}/softmax", axis=-1)
    context = g.op("MatMul", [weights, v], f"{name}/context")
    merged = g.op("Transpose", [context], f"{name}/context_t", perm=[0, 2, 1, 3])
    merged = g.reshape(merged, (tokens, c), f"{name}/merged")
    _projection(g, f"{name}.output", merged, c, c, layer.bias, name)


def relative_indices(size: int) -> np.ndarray:
    """``idx[i, j] = i − j + size − 1``: the row of the relative-position table for query ``i`` and key
    ``j`` (``get_rel_pos`` with equal query and key sizes)."""
    import numpy as np  # only the ONNX writer needs arrays: counting a network never loads numpy

    coords = np.arange(size)
    return coords[:, None] - coords[None, :] + size - 1


@onnx_writer(WindowedAttention)
def write_windowed_attention(g: Any, node: Node) -> None:
    """As SAM's ``Block``: ``Pad`` → window partition (``Reshape``/``Transpose``) → ``qkv`` (``MatMul`` +
    ``Add``) → ``Slice`` ×3 → ``Mul`` (q·scale) → ``MatMul`` (Q Kᵀ) → relative positions (``Gather`` of
    the tables, two ``Einsum`` s, two broadcast ``Add`` s) → ``Softmax`` → ``MatMul`` (A V) → ``proj``
    → window unpartition → ``Slice`` (crop the padding)."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    h, w, c = node.input_shapes[0]
    heads, d = layer.num_heads, c // layer.num_heads
    windows, wh, ww, hp, wp = layer.geometry((h, w, c))
    t = wh * ww
    padded = x
    if (hp, wp) != (h, w):
        pads = g.const(f"{name}/pads", [0, 0, 0, 0, 0, hp - h, wp - w, 0])
        padded = g.op("Pad", [x, pads], f"{name}/padded")
    nh, nw = hp // wh, wp // ww
    grid = g.reshape(padded, (nh, wh, nw, ww, c), f"{name}/grid")
    grid = g.op("Transpose", [grid], f"{name}/grid_t", perm=[0, 1, 3, 2, 4, 5])
    tokens = g.reshape(grid, (windows, t, c), f"{name}/windows")                 # (B, nW, T, C)
    qkv = _projection(g, f"{name}.qkv", tokens, c, 3 * c, layer.bias, f"{name}/qkv")
    for i, part in enumerate("qkv"):  # Slice, as torch.onnx writes qkv.unbind
        bounds = [g.const(f"{name}/{part}_{what}", [value])
                  for what, value in (("start", i * c), ("end", (i + 1) * c), ("axis", -1))]
        g.op("Slice", [qkv, *bounds], f"{name}/{part}")

    def heads_of(part: str, perm: list[int]) -> str:
        per_head = g.reshape(f"{name}/{part}", (windows, t, heads, d), f"{name}/{part}_heads")
        return g.op("Transpose", [per_head], f"{name}/{part}_t", perm=perm)

    q = heads_of("q", [0, 1, 3, 2, 4])                                            # (B, nW, h, T, d)
    k = heads_of("k", [0, 1, 3, 4, 2])                                            # (B, nW, h, d, T)
    v = heads_of("v", [0, 1, 3, 2, 4])
    scaled = g.op("Mul", [q, g.const(f"{name}/scale", d ** -0.5)], f"{name}/q_scaled")
    scores = g.op("MatMul", [scaled, k], f"{name}/scores")                        # (B, nW, h, T, T)
    if layer.rel_pos:
        q_grid = g.reshape(q, (windows, heads, wh, ww, d), f"{name}/q_grid")
        terms = []
        for axis, size, equation in (("h", wh, "bnhyxc,ykc->bnhyxk"), ("w", ww, "bnhyxc,xkc->bnhyxk")):
            table = g.param(f"{name}.rel_pos_{axis}", (2 * size - 1, d), 0.02)
            expanded = g.op("Gather", [table, g.const(f"{name}/rel_index_{axis}", relative_indices(size))],
                            f"{name}/R_{axis}", axis=0)                           # (size, size, d)
            terms.append(g.op("Einsum", [q_grid, expanded], f"{name}/rel_{axis}", equation=equation))
        grid_scores = g.reshape(scores, (windows, heads, wh, ww, wh, ww), f"{name}/scores_grid")
        rel_h = g.reshape(terms[0], (windows, heads, wh, ww, wh, 1), f"{name}/rel_h_b")
        rel_w = g.reshape(terms[1], (windows, heads, wh, ww, 1, ww), f"{name}/rel_w_b")
        summed = g.op("Add", [grid_scores, rel_h], f"{name}/scores_rel_h")
        summed = g.op("Add", [summed, rel_w], f"{name}/scores_rel")
        scores = g.reshape(summed, (windows, heads, t, t), f"{name}/scores_rel_flat")
    weights = g.op("Softmax", [scores], f"{name}/softmax", axis=-1)
    context = g.op("MatMul", [weights, v], f"{name}/context")                     # (B, nW, h, T, d)
    context = g.op("Transpose", [context], f"{name}/context_t", perm=[0, 1, 3, 2, 4])
    context = g.reshape(context, (windows, t, c), f"{name}/merged")
    projected = _projection(g, f"{name}.proj", context, c, c, layer.bias, f"{name}/proj")
    grid = g.reshape(projected, (nh, nw, wh, ww, c), f"{name}/out_grid")
    grid = g.op("Transpose", [grid], f"{name}/out_grid_t", perm=[0, 1, 3, 2, 4, 5])
    if (hp, wp) == (h, w):
        g.reshape(grid, (h, w, c), name)
        return
    full = g.reshape(grid, (hp, wp, c), f"{name}/unpartitioned")
    g.op("Slice", [full, g.const(f"{name}/starts", [0, 0]), g.const(f"{name}/ends", [h, w]),
                   g.const(f"{name}/axes", [1, 2])], name)


# ONNX readers (:class:`simulator.onnx.reader.Translator`).

#: single-input plumbing through which a learned table reaches an Einsum operand
_TABLE_PLUMBING = ("Gather", "Slice", "Transpose", "Reshape", "Unsqueeze", "Squeeze", "Cast", "Identity")


def _learned_size(t: Any, tensor: str) -> int:
    """Elements of the learned table behind a constant operand (through Gather/Slice/... plumbing)."""
    for _ in range(8):
        if t.is_learned(tensor):
            return t.param_size(tensor)
        producer = t.g.produced_by(tensor, *_TABLE_PLUMBING)
        if producer is None:
            return 0
        tensor = t.g.nodes[producer].input[0]
    return 0


@onnx_reader("Einsum", makes=Einsum)
def read_einsum(t: Any, node: Any) -> None:
    """Einsum with an explicit output (``a,b->c``, no ellipsis): MACs ``|output| · Π contracted sizes``,
    a learned constant operand (or the table it was gathered from) as parameters; else Unsupported."""
    equation = t.attribute(node, "equation", b"")
    equation = (equation.decode() if isinstance(equation, bytes) else equation).replace(" ", "")
    acts = t.acts(node)
    if "->" not in equation or "." in equation or not acts:
        unsupported(t, node)
        return
    left, right = equation.split("->")
    terms = left.split(",")
    sizes: dict[str, int] = {}
    for term, operand in zip(terms, node.input, strict=True):
        shape = t.full(operand)
        if len(shape) != len(term):
            unsupported(t, node)
            return
        sizes.update(zip(term, shape, strict=True))
    contracted = math.prod(sizes[i] for i in set("".join(terms)) - set(right))
    params = sum(_learned_size(t, name) for name in node.input if t.is_const(name))
    out = node.output[0]
    t.add(Einsum(equation, t.sample(out).shape, len(acts), len(terms), contracted, params), acts, out)

