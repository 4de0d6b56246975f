"""Hamburger's "ham": non-negative matrix factorization by multiplicative updates (SegNeXt's LightHamHead).

The kind :class:`NMF2D` with its builder method and ONNX writer. Reference: open-mmlab/mmsegmentation
@267d54767a618c0ee7f901827c1840e1811267c7 ``mmseg/models/decode_heads/ham_head.py``
(``Matrix_Decomposition_2D_Base``, ``NMF2D``), from Visual-Attention-Network/SegNeXt. Cost formula:
:mod:`simulator.model.formulas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.errors import ShapeError
from simulator.model.layers.base import Layer, Shape, _check_rank, builder_method, layer_kind, onnx_writer

if TYPE_CHECKING:
    from simulator.model.graph import Node


@layer_kind
@dataclass(frozen=True)
class NMF2D(Layer):
    """``NMF2D`` on a ``(C, H, W)`` map, evaluation mode: ``S`` groups (``MD_S``) of ``D = C/S`` rows,
    ``N = H·W`` columns, rank ``R`` (``MD_R``), ``steps`` multiplicative updates (``eval_steps``).

    Per group, with ``x`` ``(D, N)`` and random bases ``B`` ``(D, R)`` (``torch.rand``, L2-normalized
    over ``D``): ``coef = softmax(inv_t · xᵀB)`` (``N·D·R`` MACs); each step ``coef ← coef ⊙ (xᵀB) /
    (coef (BᵀB) + ε)`` and ``B ← B ⊙ (x coef) / (B (coefᵀcoef) + ε)`` (``2·N·D·R + 2·D·R² + 2·N·R²``
    MACs); a last coefficient update (``N·D·R + D·R² + N·R²``); the reconstruction ``B coefᵀ``
    (``D·R·N``). MACs ``S·[(2·steps + 3)·N·D·R + (2·steps + 1)·(D·R² + N·R²)]``; no parameters (the
    bases are drawn per forward pass). The iterations depend on each other: one GEMM-class kernel
    per batched matmul, ``kernel_count`` ``6·steps + 5`` (the elementwise updates and the softmax
    counted as fused into them).
    """

    rank: int
    steps: int
    groups: int = 1
    kind: ClassVar[str] = "NMF2D"
    efficiency_class: ClassVar[str] = "gemm"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 3, "(C, H, W)")
        if self.rank < 1 or self.steps < 0 or self.groups < 1:
            raise ShapeError(f"rank {self.rank} and groups {self.groups} must be at least 1 and steps "
                             f"{self.steps} at least 0")
        if shape[0] % self.groups:
            raise ShapeError(f"channels {shape[0]} must be divisible by MD_S groups {self.groups}")
        return shape

    def kernel_count(self, materialized: bool) -> int:
        """One per ``bmm``: ``xᵀB`` (1), per step two numerators and four denominator products (6),
        the last coefficient update (3) and the reconstruction (1): ``6·steps + 5``."""
        return 6 * self.steps + 5


@builder_method("nmf2d", makes=NMF2D)
def nmf2d(net, x: str, rank: int, steps: int, groups: int = 1, name: str | None = None) -> str:
    """``NMF2D(dict(MD_S=groups, MD_R=rank, eval_steps=steps))`` on the ``(C, H, W)`` map ``x``."""
    return net.add(NMF2D(rank, steps, groups), x, name=name)


@onnx_writer(NMF2D)
def write_nmf2d(g: Any, node: Node) -> None:
    """The updates unrolled: ``Reshape`` to ``(N·S, D, H·W)``, initial bases the absolute first ``R``
    columns (``Slice``, ``Abs``: the reference draws them per pass with ``torch.rand``, which changes
    values, not counts; needs ``H·W ≥ R``),
    ``MatMul``/``Softmax``/``Mul``/``Div`` as the reference's ``bmm`` chain, ``Reshape`` back."""
    layer, name, (x,) = node.layer, node.name, node.inputs
    c, h, w = node.input_shapes[0]
    if h * w < layer.rank:
        raise ShapeError(f"NMF2D {name!r}: export takes its initial bases from the map's columns and needs "
                         f"H·W ({h * w}) of at least the rank ({layer.rank})")
    d, r, eps = c // layer.groups, layer.rank, g.const(f"{name}/eps", 1e-6)
    x = g.op("Reshape", [x, g.const(f"{name}/groups_shape", [-1, d, h * w])], f"{name}/x")
    xt = g.op("Transpose", [x], f"{name}/xT", perm=[0, 2, 1])
    # the reference's bases are torch.rand, drawn per pass: here the first R columns of |x| stand in
    bases = g.op("Abs", [g.op("Slice", [x, g.const(f"{name}/start", [0]), g.const(f"{name}/stop", [r]),
                                        g.const(f"{name}/axis", [2])], f"{name}/columns")], f"{name}/bases0")
    coef = g.op("Softmax", [g.op("MatMul", [xt, bases], f"{name}/logits")], f"{name}/coef0", axis=-1)

    def update_coef(coef: str, bases: str, tag: str) -> str:
        numerator = g.op("MatMul", [xt, bases], f"{name}/{tag}/coef_num")
        gram = g.op("MatMul", [g.op("Transpose", [bases], f"{name}/{tag}/bT", perm=[0, 2, 1]), bases],
                    f"{name}/{tag}/bTb")
        denominator = g.op("Add", [g.op("MatMul", [coef, gram], f"{name}/{tag}/coef_den0"), eps],
                           f"{name}/{tag}/coef_den")
        return g.op("Div", [g.op("Mul", [coef, numerator], f"{name}/{tag}/coef_mul"), denominator],
                    f"{name}/{tag}/coef")

    for step in range(layer.steps):
        tag = f"step{step}"
        coef = update_coef(coef, bases, tag)
        numerator = g.op("MatMul", [x, coef], f"{name}/{tag}/bases_num")
        gram = g.op("MatMul", [g.op("Transpose", [coef], f"{name}/{tag}/cT", perm=[0, 2, 1]), coef],
                    f"{name}/{tag}/cTc")
        denominator = g.op("Add", [g.op("MatMul", [bases, gram], f"{name}/{tag}/bases_den0"), eps],
                           f"{name}/{tag}/bases_den")
        bases = g.op("Div", [g.op("Mul", [bases, numerator], f"{name}/{tag}/bases_mul"), denominator],
                     f"{name}/{tag}/bases")
    coef = update_coef(coef, bases, "final")
    coef_t = g.op("Transpose", [coef], f"{name}/coefT", perm=[0, 2, 1])
    y = g.op("MatMul", [bases, coef_t], f"{name}/reconstruction")
    g.op("Reshape", [y, g.const(f"{name}/map_shape", [-1, c, h, w])], name)


@layer_kind
@dataclass(frozen=True)
class LayerScale(Layer):
    """A learned per-channel scale ``γ ⊙ x`` on a ``(C, H, W)`` map (MSCAN's ``layer_scale_1/2``,
    ``γ`` ``(C,)`` initialised to 0.01): params ``C``, one multiply per element, no MACs."""

    channels: int
    kind: ClassVar[str] = "LayerScale"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (shape,) = inputs
        _check_rank(shape, 3, "(C, H, W)")
        if shape[0] != self.channels:
            raise ShapeError(f"channels: LayerScale of {self.channels}, got {shape[0]}")
        return shape


@builder_method("layer_scale", makes=LayerScale)
def layer_scale(net, x: str, name: str | None = None) -> str:
    """``layer_scale.unsqueeze(-1).unsqueeze(-1) * x`` on the ``(C, H, W)`` map ``x``."""
    return net.add(LayerScale(net.shape(x)[0]), x, name=name)


@onnx_writer(LayerScale)
def write_layer_scale(g: Any, node: Node) -> None:
    """``Mul`` by the ``(C, 1, 1)`` parameter ``<layer>.weight``."""
    scale = g.param(f"{node.name}.weight", (node.layer.channels, 1, 1), 0.01, mean=0.01)
    g.op("Mul", [node.inputs[0], scale], node.name)
