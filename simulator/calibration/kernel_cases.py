"""Single-operator cases for calibration: each one as an ONNX model and as the simulator's layer.

A :class:`KernelCase` is one operator (convolution, Gemm, Add, Relu, MaxPool, GlobalAveragePool)
at one shape and batch. :func:`case_model` writes it as a one-node ONNX model with random weights
(``onnx.helper``); :func:`case_network` builds the same layer with
:class:`~simulator.model.graph.NetworkBuilder`, named ``probe``, between a producer (a ReLU of the
input) and a consumer (an Add of the probe's output to itself). Inside a network, a layer's
activations follow the residency rule of :mod:`simulator.engine.workload`; a network's own input and
output always live in DRAM, so without producer and consumer the probe would be modelled as
reading and writing DRAM, which a layer in the middle of a network does not. Counts, bytes and
the efficiency class all come from the simulator, never from formulas here.

:func:`kernel_suite` lists the cases: layer shapes typical of CNNs (the ResNet, VGG, AlexNet and
MobileNetV2 families) at batch 1, 4 and 16, or a few tiny ones for a quick run.

Weights: inside a network each layer's weights are read once per inference and evicted by the
other layers' weights before the next, so they come from DRAM, which is what the simulator
assumes. A lone operator run again and again would find weights smaller than the last-level
cache still there. Where weights weigh on the time (fewer than :data:`WEIGHT_HEAVY_OPS_PER_BYTE`
ops per weight byte: fully connected layers, late convolutions at batch 1), :func:`case_model`
therefore writes ``copies`` of the operator, each with its own weights, all reading the same
input: together their weights overflow the cache, so each copy streams its weights from DRAM
while the input stays warm. Its time is the total divided by ``copies``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.engine.workload import Workload, build_workload
from simulator.errors import SimulatorError
from simulator.model.formulas import OPS_PER_MAC
from simulator.model.graph import Network, NetworkBuilder

OPS = ("conv", "gemm", "matmul", "add", "mul", "relu", "softmax", "layernorm", "maxpool", "globalavgpool")
#: activations a convolution or Gemm case may have fused after it: SiLU is written as PyTorch exports
#: it (``Sigmoid`` and ``Mul``, which ONNX Runtime runs as one ``QuickGelu`` node after the
#: convolution), GELU as ``Erf`` and its arithmetic (fused into one ``Gelu`` node)
ACTIVATIONS = ("", "relu", "relu6", "silu", "sigmoid", "gelu")
OPSET = 17

#: (in channels, height = width, out channels, kernel, stride) of convolutions typical of CNNs, by
#: the activation fused into them: ReLU (ResNet, VGG, AlexNet), ReLU6 (MobileNetV2 stem and 1x1
#: expansions) and none (MobileNetV2 1x1 projections). ONNX Runtime fuses ReLU for free, but ReLU6
#: (Clip) costs up to 40% more on convolutions with large outputs, so both are represented.
CONV_SHAPES: dict[str, tuple[tuple[int, int, int, int, int], ...]] = {
    "relu": (
        # ResNet family: 7x7 stem, bottleneck 1x1 and 3x3, strided 3x3 and 1x1 projections
        (3, 224, 64, 7, 2), (64, 56, 64, 3, 1), (64, 56, 64, 1, 1), (64, 56, 256, 1, 1), (256, 56, 64, 1, 1),
        (256, 56, 128, 1, 1), (128, 56, 128, 3, 2), (128, 28, 128, 3, 1), (128, 28, 512, 1, 1),
        (512, 28, 128, 1, 1), (256, 56, 512, 1, 2), (256, 28, 256, 3, 2), (256, 14, 256, 3, 1),
        (256, 14, 1024, 1, 1), (1024, 14, 256, 1, 1), (512, 14, 512, 3, 2), (512, 7, 512, 3, 1),
        (512, 7, 2048, 1, 1), (2048, 7, 512, 1, 1),
        # VGG: 3x3 at full resolution
        (3, 224, 64, 3, 1), (64, 224, 64, 3, 1), (128, 112, 128, 3, 1), (256, 56, 256, 3, 1),
        (512, 28, 512, 3, 1), (512, 14, 512, 3, 1),
        # AlexNet: large kernels
        (3, 224, 64, 11, 4), (64, 27, 192, 5, 1), (192, 13, 384, 3, 1), (384, 13, 256, 3, 1),
        (256, 13, 256, 3, 1),
    ),
    "relu6": ((3, 224, 32, 3, 2), (16, 112, 96, 1, 1), (24, 56, 144, 1, 1), (32, 28, 192, 1, 1),
              (64, 14, 384, 1, 1), (96, 14, 576, 1, 1), (160, 7, 960, 1, 1), (320, 7, 1280, 1, 1)),
    "": ((32, 112, 16, 1, 1), (96, 56, 24, 1, 1), (144, 56, 24, 1, 1), (144, 28, 32, 1, 1),
         (192, 28, 32, 1, 1), (192, 14, 64, 1, 1), (384, 14, 64, 1, 1), (384, 14, 96, 1, 1),
         (576, 14, 96, 1, 1), (576, 7, 160, 1, 1), (960, 7, 160, 1, 1), (960, 7, 320, 1, 1),
         # EfficientNet-B0 projections
         (240, 28, 40, 1, 1), (672, 14, 112, 1, 1), (1152, 7, 192, 1, 1)),
    # EfficientNet-B0: the stem, 1x1 expansions and the head with SiLU; squeeze-excitation's 1x1
    # reduction (SiLU) and expansion (Sigmoid) on one pixel per channel
    "silu": ((3, 224, 32, 3, 2), (16, 112, 96, 1, 1), (24, 56, 144, 1, 1), (40, 28, 240, 1, 1),
             (80, 14, 480, 1, 1), (112, 14, 672, 1, 1), (192, 7, 1152, 1, 1), (320, 7, 1280, 1, 1),
             (96, 1, 4, 1, 1), (240, 1, 10, 1, 1), (672, 1, 28, 1, 1), (1152, 1, 48, 1, 1)),
    "sigmoid": ((4, 1, 96, 1, 1), (10, 1, 240, 1, 1), (28, 1, 672, 1, 1), (48, 1, 1152, 1, 1)),
}
#: (channels, height = width, stride) of 3x3 depthwise convolutions with ReLU6 (MobileNetV2)
DEPTHWISE_SHAPES = ((32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2),
                    (384, 14, 1), (576, 14, 1), (576, 14, 2), (960, 7, 1))
#: (channels, height = width, kernel, stride) of depthwise convolutions with SiLU (EfficientNet-B0)
DEPTHWISE_SILU_SHAPES = ((32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 5, 2), (240, 28, 5, 1), (240, 28, 3, 2),
                         (480, 14, 3, 1), (480, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1), (1152, 7, 3, 1))
#: ((tokens, in features), out features, activation) of a transformer's linear layers on a sequence
#: (ViT-B/16: the packed Q, K, V projection, the output projection, the MLP with GELU)
SEQUENCE_GEMM_SHAPES = (((197, 768), 2304, ""), ((197, 768), 768, ""), ((197, 768), 3072, "gelu"),
                        ((197, 3072), 768, ""))
#: per-sample (heads, rows, inner) of the left operand and the columns of attention's matrix
#: products: ``Q Kᵀ`` (the right operand a transposed copy of the left) and ``softmax(.) V``
MATMUL_SHAPES = (((12, 197, 64), 197), ((12, 197, 197), 64))
#: per-sample shapes of attention's softmax (over the last dimension) and the blocks' LayerNorm
SOFTMAX_SHAPES = ((12, 197, 197),)
LAYERNORM_SHAPES = ((197, 768),)
#: (channels, height = width) of squeeze-excitation's channel scaling ``x * s`` and its pooling
SE_SHAPES = ((96, 56), (240, 28), (672, 14), (1152, 7))
#: (in features, out features) of fully connected layers
GEMM_SHAPES = ((512, 1000), (1280, 1000), (2048, 1000), (4096, 1000), (4096, 4096), (9216, 4096), (768, 3072))
#: (channels, height = width) of element-wise layers and pooling
ELEMENTWISE_SHAPES = ((64, 112), (256, 56), (512, 28), (2048, 7))
BATCHES = (1, 4, 16)
#: below this many ops per byte of weights, a case's weights are made to come from DRAM (copies)
WEIGHT_HEAVY_OPS_PER_BYTE = 50
MAX_COPIES = 32
FLOAT32_BYTES = 4


@dataclass(frozen=True)
class KernelCase:
    """One operator at one shape: ``shape`` is the per-sample input, (C, H, W) or (features,)."""

    op: str
    shape: tuple[int, ...]
    batch: int = 1
    out: int = 0        # output channels (conv) or features (gemm)
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    activation: str = ""  # fused after a convolution or Gemm: "", "relu" or "relu6"

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise SimulatorError(f"unknown kernel case operator {self.op!r}; valid: {', '.join(OPS)}")
        if self.op == "matmul" and (len(self.shape) != 3 or self.shape[1] not in (self.shape[2], self.out)):
            raise SimulatorError(f"a matmul case's left operand is (heads, rows, inner), with its columns "
                                 f"equal to the rows (Q Kᵀ) or its inner dimension equal to the rows (A V): "
                                 f"{self.shape}, {self.out}")
        if self.activation not in ACTIVATIONS or (self.activation and self.op not in ("conv", "gemm")):
            raise SimulatorError(f"activation {self.activation!r} of a {self.op} case: valid "
                                 f"{', '.join(map(repr, ACTIVATIONS))}, and only after conv or gemm")

    @property
    def label(self) -> str:
        shape = "x".join(map(str, self.shape))
        activation = f" +{self.activation}" if self.activation else ""
        if self.op == "conv":
            kind = "depthwise" if self.groups > 1 else "conv"
            return f"{kind} {shape} -> {self.out} k{self.kernel} s{self.stride}{activation} n{self.batch}"
        if self.op in ("gemm", "matmul"):
            return f"{self.op} {shape} -> {self.out}{activation} n{self.batch}"
        return f"{self.op} {shape} n{self.batch}"

    @property
    def efficiency_class(self) -> str:
        """The class of :mod:`simulator.engine.efficiency` the simulator gives this layer."""
        workload = build_workload(case_network(self))
        return workload.efficiency_classes[probe_index(workload)]


@functools.cache
def case_network(case: KernelCase) -> Network:
    """The case's layer, named ``probe`` (``probe+act`` with its activation fused), between a
    producer and a consumer (see the module doc)."""
    net = NetworkBuilder(case.label, case.shape)
    x = net.relu(net.input, name="producer")
    if case.op == "conv":
        y = net.conv2d(x, case.out, case.kernel, stride=case.stride, padding=case.kernel // 2,
                       groups=case.groups, name="probe")
    elif case.op == "gemm":
        y = net.linear(x, case.out, name="probe")
    elif case.op == "matmul":
        # the right operand: Kᵀ (a view of the left one) or V (made by a producer from the left one)
        right = (net.linear(x, case.out, name="right") if case.shape[1] == case.shape[2] else
                 net.permute(x, (0, 2, 1), name="right"))
        y = net.matmul(x, right, name="probe")
    elif case.op == "add":
        y = net.add_(x, x, name="probe")
    elif case.op == "mul":
        y = net.mul(x, net.adaptive_avg_pool2d(x, 1, name="scale"), name="probe")
    elif case.op == "softmax":
        y = net.softmax(x, name="probe")
    elif case.op == "layernorm":
        y = net.layer_norm(x, name="probe")
    elif case.op == "relu":
        y = net.relu(x, name="probe")
    elif case.op == "maxpool":
        y = net.max_pool2d(x, 3, 2, 1, name="probe")
    else:
        y = net.adaptive_avg_pool2d(x, 1, name="probe")
    if case.activation:
        y = net.activation(y, case.activation, name="act")  # fused into the probe: "probe+act"
    net.add_(y, y, name="consumer")
    return net.build()


Shapes = dict[str, tuple[int, ...]]


def probe_index(workload: Workload) -> int:
    """Index of the case's layer in the workload of :func:`case_network` (fused or not)."""
    return next(i for i, name in enumerate(workload.names) if name.split("+")[0] == "probe")


def weight_copies(case: KernelCase, evict_bytes: int) -> int:
    """How many copies of a weight-heavy case hold ``evict_bytes`` of weights (1 if not weight-heavy)."""
    workload = build_workload(case_network(case))
    index = probe_index(workload)
    weight_bytes = FLOAT32_BYTES * workload.weight_elements[index]
    ops = case.batch * (OPS_PER_MAC * workload.macs[index] + workload.elementwise_ops[index])
    if weight_bytes == 0 or ops / weight_bytes >= WEIGHT_HEAVY_OPS_PER_BYTE:
        return 1
    return int(min(MAX_COPIES, max(1, math.ceil(evict_bytes / weight_bytes))))


def _nodes(case: KernelCase, output: str, rng: np.random.Generator, initializers: list[Any]) -> list[Any]:
    """The ONNX nodes of one copy of the case reading ``x`` (and ``x2`` for Add), with fresh random
    weights: the operator and its activation, which ONNX Runtime fuses into it."""
    from onnx import helper, numpy_helper

    def weight(name: str, shape: tuple[int, ...], scale: float) -> str:
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)
        initializers.append(numpy_helper.from_array(values, f"{output}.{name}"))
        return f"{output}.{name}"

    linear = f"{output}.linear" if case.activation else output
    nodes: list[Any] = []
    if case.op == "conv":
        fan_in = case.shape[0] // case.groups * case.kernel**2
        names = ["x", weight("w", (case.out, case.shape[0] // case.groups, case.kernel, case.kernel),
                             fan_in**-0.5), weight("b", (case.out,), 0.1)]
        nodes = [helper.make_node("Conv", names, [linear], kernel_shape=[case.kernel] * 2,
                                  strides=[case.stride] * 2, pads=[case.kernel // 2] * 4, group=case.groups)]
    elif case.op == "gemm" and len(case.shape) == 1:
        names = ["x", weight("w", (case.out, case.shape[0]), case.shape[0]**-0.5),
                 weight("b", (case.out,), 0.1)]
        nodes = [helper.make_node("Gemm", names, [linear], transB=1)]
    elif case.op == "gemm":  # on a sequence, as PyTorch exports nn.Linear: MatMul and Add
        names = ["x", weight("w", (case.shape[-1], case.out), case.shape[-1]**-0.5)]
        nodes = [helper.make_node("MatMul", names, [f"{output}.product"]),
                 helper.make_node("Add", [f"{output}.product", weight("b", (case.out,), 0.1)], [linear])]
    if case.activation == "relu":
        nodes.append(helper.make_node("Relu", [linear], [output]))
    elif case.activation == "relu6":
        for name, value in (("min", 0.0), ("max", 6.0)):
            bound = np.array(value, dtype=np.float32)
            initializers.append(numpy_helper.from_array(bound, f"{output}.{name}"))
        nodes.append(helper.make_node("Clip", [linear, f"{output}.min", f"{output}.max"], [output]))
    elif case.activation == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", [linear], [output]))
    elif case.activation == "silu":
        nodes += [helper.make_node("Sigmoid", [linear], [f"{output}.sigmoid"]),
                  helper.make_node("Mul", [linear, f"{output}.sigmoid"], [output])]
    elif case.activation == "gelu":  # 0.5 · x · (1 + erf(x / √2)), as PyTorch exports it
        for name, value in (("sqrt2", math.sqrt(2.0)), ("one", 1.0), ("half", 0.5)):
            constant = np.array(value, dtype=np.float32)
            initializers.append(numpy_helper.from_array(constant, f"{output}.{name}"))
        nodes += [helper.make_node("Div", [linear, f"{output}.sqrt2"], [f"{output}.scaled"]),
                  helper.make_node("Erf", [f"{output}.scaled"], [f"{output}.erf"]),
                  helper.make_node("Add", [f"{output}.erf", f"{output}.one"], [f"{output}.shifted"]),
                  helper.make_node("Mul", [linear, f"{output}.shifted"], [f"{output}.product2"]),
                  helper.make_node("Mul", [f"{output}.product2", f"{output}.half"], [output])]
    if case.op in ("conv", "gemm"):
        return nodes
    if case.op == "matmul":
        return [helper.make_node("MatMul", ["x", "x2"], [output])]
    if case.op == "mul":
        return [helper.make_node("Mul", ["x", "x2"], [output])]
    if case.op == "softmax":
        return [helper.make_node("Softmax", ["x"], [output], axis=-1)]
    if case.op == "layernorm":
        names = ["x", weight("gamma", case.shape[-1:], 1.0), weight("beta", case.shape[-1:], 0.1)]
        return [helper.make_node("LayerNormalization", names, [output], axis=-1, epsilon=1e-6)]
    if case.op == "add":
        return [helper.make_node("Add", ["x", "x2"], [output])]
    if case.op == "relu":
        return [helper.make_node("Relu", ["x"], [output])]
    if case.op == "maxpool":
        return [helper.make_node("MaxPool", ["x"], [output], kernel_shape=[3, 3], strides=[2, 2],
                                 pads=[1] * 4)]
    return [helper.make_node("GlobalAveragePool", ["x"], [output])]


def case_model(case: KernelCase, copies: int = 1, seed: int = 0) -> tuple[Any, Shapes, Shapes]:
    """The case as an ONNX model of ``copies`` nodes (each with its own weights, all reading input
    ``x``, writing ``y0``, ``y1``, ...), with the shapes of its inputs and outputs (with batch)."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    x_shape = (case.batch, *case.shape)
    network = case_network(case)
    inputs: Shapes = {"x": x_shape}
    if case.op in ("add", "mul", "matmul"):  # the second operand, as the probe in the network reads it
        probe_node = next(node for node in network.nodes if node.name == "probe")
        inputs["x2"] = (case.batch, *probe_node.input_shapes[1])
    probe = next(node for node in network.nodes if node.name == "probe")
    outputs: Shapes = {f"y{k}": (case.batch, *probe.output_shape) for k in range(copies)}
    initializers: list[Any] = []
    nodes = [node for name in outputs for node in _nodes(case, name, rng, initializers)]

    def values(shapes: Shapes) -> list[Any]:
        return [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
                for name, shape in shapes.items()]

    graph = helper.make_graph(nodes, case.op, values(inputs), values(outputs), initializers)
    opsets = [helper.make_opsetid("", OPSET)]
    # the oldest IR version that holds the opset: an older ONNX Runtime (the newest for Python 3.10)
    # refuses a model stamped with the installed onnx's newest IR version
    return (helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets)),
            inputs, outputs)


def kernel_suite(quick: bool = False) -> tuple[KernelCase, ...]:
    """The calibration cases: CNN layer shapes at :data:`BATCHES`, or tiny ones with ``quick``."""
    if quick:
        return tuple(case for n in (1, 2) for case in (
            KernelCase("conv", (8, 16, 16), n, out=8, kernel=3, activation="relu"),
            KernelCase("conv", (8, 16, 16), n, out=16, kernel=1, activation="silu"),
            KernelCase("conv", (8, 16, 16), n, out=8, kernel=3, groups=8, activation="relu6"),
            KernelCase("gemm", (64,), n, out=32),
            KernelCase("matmul", (2, 16, 8), n, out=16),
            KernelCase("add", (8, 16, 16), n),
            KernelCase("globalavgpool", (8, 16, 16), n),
            KernelCase("maxpool", (8, 16, 16), n)))
    cases = []
    for n in BATCHES:
        cases += [KernelCase("conv", (c, hw, hw), n, out=o, kernel=k, stride=s, activation=activation)
                  for activation, shapes in CONV_SHAPES.items() for c, hw, o, k, s in shapes]
        cases += [KernelCase("conv", (c, hw, hw), n, out=c, kernel=3, stride=s, groups=c, activation="relu6")
                  for c, hw, s in DEPTHWISE_SHAPES]
        cases += [KernelCase("conv", (c, hw, hw), n, out=c, kernel=k, stride=s, groups=c, activation="silu")
                  for c, hw, k, s in DEPTHWISE_SILU_SHAPES]
        cases += [KernelCase("gemm", (i,), n, out=o) for i, o in GEMM_SHAPES]
        cases += [KernelCase("gemm", shape, n, out=o, activation=activation)
                  for shape, o, activation in SEQUENCE_GEMM_SHAPES]
        cases += [KernelCase("matmul", shape, n, out=o) for shape, o in MATMUL_SHAPES]
        cases += [KernelCase(op, (c, hw, hw), n) for op in ("add", "relu", "maxpool", "globalavgpool")
                  for c, hw in ELEMENTWISE_SHAPES]
        cases += [KernelCase(op, (c, hw, hw), n) for op in ("mul", "globalavgpool") for c, hw in SE_SHAPES]
        cases += [KernelCase("softmax", shape, n) for shape in SOFTMAX_SHAPES]
        cases += [KernelCase("layernorm", shape, n) for shape in LAYERNORM_SHAPES]
    return tuple(cases)
