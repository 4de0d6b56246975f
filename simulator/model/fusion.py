"""The inference view: BatchNorm and activations folded into the preceding convolution or linear.

Deployment runtimes (TensorRT, ONNX Runtime) fold an inference BatchNorm into the weights and
bias of the convolution or linear layer before it, and apply a following activation in the same
kernel's epilogue. The time and energy model uses this view by default:

* a Conv/Linear whose output is read only by a BatchNorm absorbs it: the BatchNorm's arithmetic
  disappears (it is in the folded weights) and its output tensor is never written;
* a Conv/Linear (after folding), or an element-wise Add/Mul (a residual add), whose output is read
  only by an activation applies it in its epilogue;
* parameter counts stay as trained (the BatchNorm's gamma and beta remain counted), which
  overstates the folded weights by at most one bias per channel.

Fused nodes are :class:`Fused` layers named ``conv+bn+relu`` after their parts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.model.formulas import FORMULAS, LayerCost, layer_cost
from simulator.model.graph import Network, Node
from simulator.model.layers import Activation, Add, BatchNorm, Conv, Layer, Linear, Mul, Shape

#: layers that absorb a following BatchNorm, and layers that absorb a following activation
FOLDS_BATCHNORM = (Conv, Linear)
FUSES_ACTIVATION = (Conv, Linear, Add, Mul)


@dataclass(frozen=True)
class Fused(Layer):
    """A convolution, linear or element-wise layer with the layers folded into it (``epilogue``)."""

    base: Layer
    epilogue: tuple[Layer, ...]
    #: per-sample input shapes of the epilogue layers, for their costs
    epilogue_shapes: tuple[Shape, ...]

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.base.kind

    @property
    def display_kind(self) -> str:
        return self.base.display_kind

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.base.output_shape(inputs)


def _fused_cost(layer: Fused, inputs: tuple[Shape, ...], output: Shape) -> LayerCost:
    """Base cost plus the epilogue's params; a folded BatchNorm costs no arithmetic at inference."""
    cost = layer_cost(layer.base, inputs, output)
    for part, shape in zip(layer.epilogue, layer.epilogue_shapes, strict=True):
        part_cost = layer_cost(part, (shape,), shape)
        if isinstance(part, BatchNorm):
            part_cost = LayerCost(part_cost.params, 0, 0)
        cost += part_cost
    return cost


FORMULAS[Fused] = _fused_cost


def inference_view(network: Network) -> Network:
    """``network`` with BatchNorm and activations folded into the layer before them."""
    readers: dict[str, list[str]] = {}
    for node in network.nodes:
        for tensor in node.inputs:
            readers.setdefault(tensor, []).append(node.name)
    by_name = {node.name: node for node in network.nodes}
    outputs = set(network.outputs)

    def sole_reader(tensor: str, kind: type[Layer]) -> Node | None:
        names = readers.get(tensor, [])
        if len(names) != 1 or tensor in outputs:
            return None
        node = by_name[names[0]]
        return node if isinstance(node.layer, kind) else None

    absorbed: dict[str, str] = {}  # absorbed node -> the fused node that replaces its output
    nodes: list[Node] = []
    for node in network.nodes:
        if node.name in absorbed:
            continue
        node = replace(node, inputs=tuple(absorbed.get(t, t) for t in node.inputs))
        if not isinstance(node.layer, FUSES_ACTIVATION):
            nodes.append(node)
            continue
        parts: list[Node] = []
        tail = node.name
        bn = sole_reader(tail, BatchNorm) if isinstance(node.layer, FOLDS_BATCHNORM) else None
        if bn is not None:
            parts.append(bn)
            tail = bn.name
        activation = sole_reader(tail, Activation)
        if activation is not None:
            parts.append(activation)
            tail = activation.name
        if not parts:
            nodes.append(node)
            continue
        fused_name = "+".join([node.name, *(part.name for part in parts)])
        layer = Fused(node.layer, tuple(part.layer for part in parts),
                      tuple(part.output_shape for part in parts))
        nodes.append(replace(node, name=fused_name, layer=layer))
        for part in parts:
            absorbed[part.name] = fused_name
        absorbed[node.name] = fused_name
    new_outputs = tuple(absorbed.get(t, t) for t in network.outputs)
    return Network(network.name, network.input_shape, tuple(nodes), new_outputs)
