"""Shapes, sliding-window arithmetic, the base class of every layer kind and the registries of kinds.

Registries, each filled by a decorator beside the kind it serves: :data:`LAYER_KINDS`
(:func:`layer_kind`), :data:`BUILDER_METHODS` (:func:`builder_method`), :data:`ONNX_WRITERS`
(:func:`onnx_writer`) and :data:`ONNX_READERS` (:func:`onnx_reader`); :data:`PRODUCERS` records
which builder methods and ONNX readers make each kind. The ONNX writers and readers are written
against the objects :mod:`simulator.onnx` passes in (its writer's graph and its reader's
translator), so this package never imports ``onnx`` (an optional extra) nor :mod:`simulator.onnx`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from simulator.errors import ShapeError

Shape = tuple[int, ...]


def elements(shape: Shape) -> int:
    """Number of elements of a shape (an exact Python int)."""
    return math.prod(shape)


def window_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, dim: str,
                       ceil_mode: bool = False) -> int:
    """Output length of a sliding window (convolution or pooling), as in the lecture and PyTorch.

    ``out = floor((in + 2p - d(k-1) - 1) / s) + 1``; with ``d = 1`` this is the lecture's
    ``(h_i + 2p - k_h) / s + 1``. With ``ceil_mode`` the division rounds up, but the last window
    must start inside the input or left padding (PyTorch's rule).
    """
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if room < 0:
        raise ShapeError(
            f"{dim}: input {size} + 2×{padding} padding is smaller than the "
            f"{'dilated ' if dilation > 1 else ''}kernel {span}"
        )
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _check_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"expects a {what} input of {rank} dimensions per sample, got shape {shape}")


def gated_halves_output(inputs: tuple[Shape, ...], halves: str) -> Shape:
    """A gated linear unit's output (GEGLU, SwiGLU): one ``(tokens, 2·I)`` input, the fused projection
    of two halves named by ``halves`` (e.g. ``"gate and up"``), multiplied elementwise -> ``(tokens, I)``;
    an odd feature count raises ShapeError."""
    (shape,) = inputs
    _check_rank(shape, 2, "(tokens, 2·intermediate)")
    if shape[1] % 2:
        raise ShapeError(f"features: {shape[1]} is not even ({halves} halves)")
    return (shape[0], shape[1] // 2)


def _spatial_output(shape: Shape, kernel: Shape, stride: Shape, padding: Shape, dilation: Shape,
                    ceil_mode: bool = False) -> Shape:
    names = ("height", "width") if len(kernel) == 2 else ("length",)
    return tuple(
        window_output_size(size, k, s, p, d, name, ceil_mode)
        for size, k, s, p, d, name in zip(shape, kernel, stride, padding, dilation, names, strict=True)
    )


#: the modules that define layer kinds, in the order :mod:`simulator.model.layers` lists them: a command
#: imports only the kinds it uses, and a registry loads the rest (:func:`load_kinds`) before it is listed
#: or when a lookup misses (a module that takes over another's ONNX reader imports that module first)
KIND_MODULES = (
    "llm_export", "attention", "collective", "compute", "conv3d", "diffusion", "elementwise", "embedding",
    "embedding_bag", "fused", "imported", "llm", "lstm", "matrix_decomposition", "resize", "shared", "tensor",
    "transformer", "whisper_attention",
)
_kinds_loaded = False
K = TypeVar("K")
V = TypeVar("V")


def load_kinds() -> bool:
    """Imports every module of :data:`KIND_MODULES` (their decorators fill the registries); True when
    this call loaded them, False when they were loaded, or are being loaded, already."""
    global _kinds_loaded
    if _kinds_loaded:
        return False
    _kinds_loaded = True
    import importlib

    for module in KIND_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return True


class _Lazy(dict[K, V]):
    """A registry's reads: listing it (iteration, ``len``, ``keys``/``values``/``items``) loads every kind
    first (:func:`load_kinds`), and so does a lookup that misses; registering writes the plain dict."""

    __slots__ = ()

    def __iter__(self):
        load_kinds()
        return super().__iter__()

    def __len__(self) -> int:
        load_kinds()
        return super().__len__()

    def keys(self):
        load_kinds()
        return super().keys()

    def values(self):
        load_kinds()
        return super().values()

    def items(self):
        load_kinds()
        return super().items()

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (load_kinds() and super().__contains__(key))

    def get(self, key, default=None):
        if not super().__contains__(key):
            load_kinds()
        return super().get(key, default)


class Registry(_Lazy[K, V]):
    """A registry keyed by a kind, a builder method's name or an ONNX operator (:class:`_Lazy`)."""

    __slots__ = ()

    def __missing__(self, key):
        if load_kinds():
            return self[key]
        raise KeyError(key)


class ReaderRegistry(Registry[str, Callable[[Any, Any], None]]):
    """:data:`ONNX_READERS`: every lookup loads every kind first, since a kind module loaded later may take
    over the reader of an operator that is already registered (:func:`take_over_reader`)."""

    def __getitem__(self, key):
        load_kinds()
        return super().__getitem__(key)

    def get(self, key, default=None):
        load_kinds()
        return super().get(key, default)


class _Producers(_Lazy[Any, list[str]], defaultdict[Any, list[str]]):
    """:data:`PRODUCERS`: a ``defaultdict(list)`` whose listings and ``get`` load every kind first."""


#: every layer kind, by class name, registered where its class is defined (:func:`layer_kind`)
LAYER_KINDS: Registry[str, type[Layer]] = Registry()
#: builder methods of :class:`simulator.model.graph.NetworkBuilder`, registered next to their kind
BUILDER_METHODS: Registry[str, Callable[..., str]] = Registry()
#: ``writer(g, node)``: writes ``node`` (a :class:`simulator.model.graph.Node` of the kind) as ONNX
#: operators through ``g``, the graph being written by :func:`simulator.onnx.writer.to_onnx`
ONNX_WRITERS: Registry[type[Layer], Callable[[Any, Any], None]] = Registry()
#: ``reader(t, node)``, by ONNX operator type: maps one ONNX node onto layers through ``t``, the
#: :class:`simulator.onnx.reader.Translator` (operators with none: :mod:`simulator.model.layers.imported`)
ONNX_READERS: ReaderRegistry = ReaderRegistry()
#: which builder methods (``NetworkBuilder.<name>``) and ONNX readers (``ONNX <op>``) make each kind
PRODUCERS: _Producers = _Producers(list)

# ONNX operator-set facts the writers need: the first opset with each operator (or form of it)
GELU_OPSET = 20
GROUP_NORM_OPSET = 21          # per-channel affine, as PyTorch's GroupNorm
AVG_POOL_DILATION_OPSET = 19
#: epsilon of the normalizations written to ONNX (PyTorch's default)
NORM_EPSILON = 1e-5


class Layer:
    """Base of all layer kinds. ``kind`` is the display name used in tables and charts.

    A kind is declared once, in its module: the class, decorated with :func:`layer_kind` (shape
    inference and the traits below), its builder methods (:func:`builder_method`), its ONNX writer
    (:func:`onnx_writer`) and ONNX readers (:func:`onnx_reader`); its cost formula lives in
    :mod:`simulator.model.formulas`. Traits:

    * ``is_view``: the output aliases the input (Flatten, Reshape): no new tensor, no traffic;
    * ``inplace_capable``: may overwrite its first input (``nn.ReLU(inplace=True)``);
    * ``absorbs_batchnorm`` / ``absorbs_activation`` / ``absorbs_residual``: the inference view folds
      a following BatchNorm / applies a following activation / adds a residual (a two-operand Add
      that is the sole reader of its output) in this layer's epilogue; ``absorbs_norm``: a residual
      add normalizes its sum with the LayerNorm that alone reads it, in one kernel (skip-LayerNorm);
    * ``efficiency_class``: the kernel class it runs as (:data:`simulator.kernels.EFFICIENCY_CLASSES`);
    * ``exportable``: has an ONNX writer (False for kinds that only stand for imported operators or
      exist only in the inference view);
    * ``made_by``: how the kind is made when no builder method or ONNX reader makes it
      (:data:`PRODUCERS`), e.g. ``"inference view"``.
    """

    kind: ClassVar[str] = "Layer"
    #: number of inputs the layer takes; None means two or more
    arity: ClassVar[int | None] = 1
    is_view: ClassVar[bool] = False
    inplace_capable: ClassVar[bool] = False
    absorbs_batchnorm: ClassVar[bool] = False
    absorbs_activation: ClassVar[bool] = False
    absorbs_residual: ClassVar[bool] = False
    absorbs_norm: ClassVar[bool] = False
    efficiency_class: ClassVar[str] = "elementwise"
    #: projection GEMMs an attention kind runs besides the attention itself (its own kernels)
    projection_kernels: ClassVar[int] = 0
    exportable: ClassVar[bool] = True
    made_by: ClassVar[str | None] = None

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    def efficiency_class_for(self, inputs: tuple[Shape, ...]) -> str:
        """The kernel class the layer runs as on per-sample input shapes ``inputs``: the kind's
        ``efficiency_class``, unless its kernel depends on the shapes (a projection of one row per
        sequence is a ``gemv``: :func:`projection_class`)."""
        return self.efficiency_class

    def kernel_count(self, materialized: bool) -> int:
        """Kernels this layer launches: none for a view, one otherwise. An attention kind (one with
        ``score_elements``) launches its projections plus one fused attention kernel, or three when
        the score matrix is materialized (scores ``Q Kᵀ``, softmax, ``P V``)."""
        if self.is_view:
            return 0
        if hasattr(self, "score_elements"):
            return self.projection_kernels + (3 if materialized else 1)
        return 1

    @property
    def display_kind(self) -> str:
        return self.kind


L = TypeVar("L", bound=type)


def layer_kind(cls: L) -> L:
    """Class decorator: registers a layer kind in :data:`LAYER_KINDS` (its name must be new)."""
    if dict.__contains__(LAYER_KINDS, cls.__name__):
        raise RuntimeError(f"layer kind {cls.__name__!r} is registered twice")
    LAYER_KINDS[cls.__name__] = cls
    return cls


Kinds = type[Layer] | tuple[type[Layer], ...]
F = TypeVar("F", bound=Callable[..., Any])


def _produces(makes: Kinds, producer: str) -> None:
    for kind in makes if isinstance(makes, tuple) else (makes,):
        PRODUCERS[kind].append(producer)


def builder_method(name: str, makes: Kinds = ()) -> Callable[[F], F]:
    """Registers ``function(builder, *inputs, ...)`` as ``NetworkBuilder.<name>``, making ``makes``."""
    def register(function: F) -> F:
        if dict.__contains__(BUILDER_METHODS, name):
            raise RuntimeError(f"builder method {name!r} is registered twice")
        BUILDER_METHODS[name] = function
        _produces(makes, f"NetworkBuilder.{name}")
        return function
    return register


def onnx_writer(kind: type[Layer]) -> Callable[[F], F]:
    """Registers ``function(g, node)`` as the ONNX writer of layer kind ``kind``.

    ``g`` is the graph being written (:class:`simulator.onnx.writer.OnnxGraph`: ``g.op``, ``g.param``,
    ``g.const``, ``g.reshape``, ``g.opset``, ...); the function appends the operators of ``node``,
    whose last one writes the tensor named ``node.name``.
    """
    def register(function: F) -> F:
        if dict.__contains__(ONNX_WRITERS, kind):
            raise RuntimeError(f"layer kind {kind.__name__} has two ONNX writers")
        ONNX_WRITERS[kind] = function
        return function
    return register


def onnx_reader(*op_types: str, makes: Kinds = ()) -> Callable[[F], F]:
    """Registers ``function(t, node)`` as the reader of ONNX operators ``op_types``, making ``makes``.

    ``t`` is the :class:`simulator.onnx.reader.Translator` (``t.add``, ``t.acts``, ``t.full``,
    ``t.attribute``, ...); ``node`` an ``onnx.NodeProto`` of one of ``op_types``.
    """
    def register(function: F) -> F:
        for op_type in op_types:
            if dict.__contains__(ONNX_READERS, op_type):
                raise RuntimeError(f"ONNX operator {op_type!r} has two readers")
            ONNX_READERS[op_type] = function
            _produces(makes, f"ONNX {op_type}")
        return function
    return register


def take_over_reader(op_type: str, previous: Callable[..., Any], kinds: Kinds) -> None:
    """Unregisters ``previous``, the reader of ONNX ``op_type``, for a reader registered next that reads
    some of its nodes and hands it the others (Gather's table lookups, Conv's shared weights, MatMul's
    tied LM head); ``kinds`` stop listing ``ONNX <op_type>`` among their producers (the new reader's
    ``makes`` lists them again)."""
    if ONNX_READERS.pop(op_type) is not previous:
        raise RuntimeError(f"ONNX {op_type} has a reader other than "
                           f"{previous.__module__}.{previous.__name__}")
    for kind in kinds if isinstance(kinds, tuple) else (kinds,):
        PRODUCERS[kind].remove(f"ONNX {op_type}")


def pair(value: int | tuple[int, ...], dims: int) -> Shape:
    """``3 -> (3, 3)`` for ``dims = 2``; a tuple is kept as it is."""
    return (value,) * dims if isinstance(value, int) else tuple(value)


def adaptive_windows(size: int, out: int) -> list[int]:
    """Window lengths of adaptive pooling: window i spans ``[floor(i*in/out), ceil((i+1)*in/out))``."""
    return [-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)]


def projection_class(inputs: tuple[Shape, ...]) -> str:
    """The kernel class of a weight projection (Linear, the LM head, MoE experts: ``gemm`` kinds) on
    per-sample input ``(rows, …, features)``: ``gemv`` when there is exactly one row per sample (one
    token per sequence: an LLM decode step), ``gemm`` otherwise.

    One row per sample is a GEMM of ``batch`` rows that streams the whole weight matrix for few
    outputs: a GEMV at batch 1, memory-bound up to a large batch, which a serving runtime runs with
    its own kernels (TensorRT-LLM's and TinyChat's GEMV/split-K kernels) at a share of bandwidth of
    its own (``[efficiency.gemv] bandwidth_fraction``; a profile without one predicts with ``gemm``'s,
    :data:`simulator.kernels.CLASS_FALLBACK`).

    A rank-1 input (one feature vector per sample: a CNN's classifier head, an MLP such as DLRM's, a
    BERT pooler) is the same kernel physically, but stays ``gemm``: the ``gemv`` figures are fitted on
    LLM decode steps under the LLM serving runtime (TensorRT-LLM, TinyChat), not on the CNN runtime's
    (TensorRT's) heads, and the CNN fit has no such class: with them VGG-16 at batch 1 on H100 (its
    120-million-weight classifier at the ``gemv`` class's 0.37 of bandwidth against ``gemm``'s 0.9)
    would take 45% longer (265 to 386 µs), DLRM-v2 5% and ResNet-50 0.6%, on a figure no CNN row was
    fitted on (ResNet-50 on A100: unchanged). A sequence's single row (SDXL's time-embedding
    projections, ``(1, 1280)``) is a ``gemv``."""
    shape = inputs[0] if inputs else ()
    return "gemv" if len(shape) >= 2 and math.prod(shape[:-1]) == 1 else "gemm"


def broadcast_shapes(shapes: tuple[Shape, ...]) -> Shape:
    """NumPy broadcasting of per-sample shapes (trailing dimensions aligned)."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(sizes) > 1:
            raise ShapeError(f"shapes {' and '.join(map(str, shapes))} do not broadcast "
                             f"(dimension {i}: sizes {sorted(sizes)})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
