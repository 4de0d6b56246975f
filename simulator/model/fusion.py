"""The inference view: BatchNorm and activations folded into the preceding convolution or linear.

Deployment runtimes (TensorRT, ONNX Runtime) fold an inference BatchNorm into the weights and
bias of the convolution or linear layer before it, and apply a following activation in the same
kernel's epilogue. The time and energy model uses this view by default:

* a layer that absorbs BatchNorm (Conv, Linear: the kind's ``absorbs_batchnorm`` trait) whose output
  is read only by a BatchNorm absorbs it: the BatchNorm's arithmetic
  disappears (it is in the folded weights) and its output tensor is never written;
* a layer that absorbs activations (Conv, Linear, and an element-wise Add/Mul such as a residual
  add: ``absorbs_activation``), after folding, whose output is read only by an activation applies
  it in its epilogue;
* parameter counts stay as trained (the BatchNorm's gamma and beta remain counted), which
  overstates the folded weights by at most one bias per channel.

Fused nodes are :class:`Fused` layers named ``conv+bn+relu`` after their parts.
"""

from __future__ import annotations

from dataclasses import replace

from simulator.model.graph import Network, Node
from simulator.model.layers import Activation, BatchNorm, Fused, Layer


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
        if not node.layer.absorbs_activation:
            nodes.append(node)
            continue
        parts: list[Node] = []
        tail = node.name
        bn = sole_reader(tail, BatchNorm) if node.layer.absorbs_batchnorm else None
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
