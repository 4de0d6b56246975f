"""The inference view: BatchNorm and activations folded into the preceding convolution or linear.

Deployment runtimes (TensorRT, ONNX Runtime) fold an inference BatchNorm into the weights and
bias of the convolution or linear layer before it, and apply a following activation in the same
kernel's epilogue. The time and energy model uses this view by default:

* a layer that absorbs BatchNorm (Conv, Linear: the kind's ``absorbs_batchnorm`` trait) whose output
  is read only by a BatchNorm absorbs it: the BatchNorm's arithmetic
  disappears (it is in the folded weights) and its output tensor is never written;
* a convolution (``absorbs_residual``) whose output, after folding, is read only by a two-operand
  Add (a residual sum) adds the other operand in its epilogue, as TensorRT's and ONNX Runtime's
  conv + element-wise-sum fusions do: the convolution reads the skip tensor and writes the sum;
  its own output and the add's reads are never made. The fused node runs where the add ran (the
  skip may be computed after the convolution, as ResNet's downsampling branch is);
* a layer that absorbs activations (Conv, Linear, and an element-wise Add/Mul such as a residual
  add: ``absorbs_activation``), after folding, whose output is read only by an activation applies
  it in its epilogue;
* a residual Add whose sum is read only by a LayerNorm (a post-norm transformer, BERT) normalizes
  it in the same kernel (``absorbs_norm``), as TensorRT's skipLayerNorm plugin and ONNX Runtime's
  SkipLayerNormalization do: the sum is never written;
* parameter counts stay as trained (the BatchNorm's gamma and beta remain counted), which
  overstates the folded weights by at most one bias per channel.

Fused nodes are :class:`Fused` layers named ``conv+bn+relu`` after their parts.
:func:`simulated_graph` is the graph a simulation runs: this view, or the eager graph unfused.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from simulator.model.graph import Network, Node
from simulator.model.layers import Activation, Add, BatchNorm, Fused, Layer, LayerNorm


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
    deferred: dict[str, Node] = {}  # a residual add's name -> the fused node emitted in its place
    nodes: list[Node] = []
    for node in network.nodes:
        if node.name in deferred:  # its other operand may have been fused since
            fused = deferred.pop(node.name)
            nodes.append(replace(fused, inputs=tuple(absorbed.get(t, t) for t in fused.inputs)))
            continue
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
        residual = sole_reader(tail, Add) if node.layer.absorbs_residual else None
        if residual is not None and len(residual.inputs) == 2 and residual.name not in absorbed:
            parts.append(residual)
            tail = residual.name
        else:
            residual = None
        activation = sole_reader(tail, Activation)
        if activation is not None:
            parts.append(activation)
            tail = activation.name
        norm = sole_reader(tail, LayerNorm) if node.layer.absorbs_norm and not parts else None
        if norm is not None:
            parts.append(norm)
            tail = norm.name
        if not parts:
            nodes.append(node)
            continue
        fused_name = "+".join([node.name, *(part.name for part in parts)])
        extra = ()
        if residual is not None:
            chain = {node.name, *(part.name for part in parts)}
            extra = tuple(absorbed.get(t, t) for t in residual.inputs if t not in chain)
        layer = Fused(node.layer, tuple(part.layer for part in parts),
                      tuple(part.output_shape for part in parts),
                      tuple(2 if part is residual else 1 for part in parts) if residual else ())
        fused = replace(node, name=fused_name, layer=layer, inputs=(*node.inputs, *extra),
                        input_shapes=(*node.input_shapes, *(network.shape_of(t) for t in residual.inputs
                                                            if t not in chain)) if residual else
                        node.input_shapes, inplace=False)
        for part in parts:
            absorbed[part.name] = fused_name
        absorbed[node.name] = fused_name
        if residual is None:
            nodes.append(fused)
        else:  # at the add's place: its other operand may be computed after this layer
            deferred[residual.name] = fused
    new_outputs = tuple(absorbed.get(t, t) for t in network.outputs)
    return Network(network.name, network.input_shape, tuple(nodes), new_outputs)


@lru_cache(maxsize=64)
def simulated_graph(network: Network, fuse: bool) -> Network:
    """The graph a simulation runs: the inference view unless ``fuse`` is false (cached, so that
    a simulation, a sweep and the counts of one network share one view)."""
    return inference_view(network) if fuse else network
