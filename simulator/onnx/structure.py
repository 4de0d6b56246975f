"""The structure of an ONNX graph, checked before any shape is propagated (:mod:`simulator.onnx.reader`).

A model the importer reads must be what the ONNX spec (``docs/IR.md``) calls a well-formed graph,
else the counts would be of some other graph, or the failure would surface later as an unrelated
shape message. Each rule below is refused with one line naming the node (name and operator), the
tensor and what was found:

* **operator set**: the default domain's opset must lie in :data:`MIN_OPSET` ..
  ``onnx.defs.onnx_opset_version()`` (older opsets use legacy operator forms the readers do not
  know, ONNX Runtime guarantees only 7 and later; a newer one is beyond this ``onnx`` package);
* **no control flow**: a node with a subgraph attribute (``If``, ``Loop``, ``Scan``) runs a branch or
  a data-dependent number of iterations, and its subgraph reads outer tensors that are not its
  inputs, so neither its cost nor its dependencies are static;
* **single assignment**: every tensor is written once, by one node output, an initializer or a
  graph input (ONNX Runtime refuses a model where two nodes write one tensor);
* **no dangling input**: every node input and graph output is written by a node, an initializer or
  a graph input;
* **acyclic**: no node depends on itself through other nodes. Nodes out of topological order (the
  spec requires it, ONNX Runtime sorts them itself) are put in order (:func:`in_order`).
"""

from __future__ import annotations

import heapq

import onnx

from simulator.errors import GraphError, SimulatorError

#: the oldest default-domain opset the importer reads (ONNX Runtime's guaranteed minimum; older
#: opsets have legacy forms such as ``consumed_inputs`` and BatchNormalization's ``spatial``)
MIN_OPSET = 7
#: attribute types holding a subgraph: control flow
SUBGRAPH_ATTRIBUTES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def describe(node: onnx.NodeProto, index: int) -> str:
    """``'conv0' (Conv)``; an unnamed node by its position, ``#3 (Relu)``."""
    return f"{node.name!r} ({node.op_type})" if node.name else f"#{index} ({node.op_type})"


def _is_standard(node: onnx.NodeProto) -> bool:
    return node.domain in ("", "ai.onnx")


def check_opset(model: onnx.ModelProto, name: str) -> int:
    """The default domain's opset, refused outside ``MIN_OPSET .. onnx.defs.onnx_opset_version()``."""
    newest = onnx.defs.onnx_opset_version()
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    supported = f"the simulator reads opsets {MIN_OPSET} to {newest}"
    if not versions:
        standard = next((describe(node, i) for i, node in enumerate(model.graph.node) if _is_standard(node)),
                        None)
        if standard is not None:
            raise SimulatorError(f"ONNX model {name!r} imports no opset of the default ONNX domain but "
                                 f"its node {standard} is a standard operator; {supported}")
        return newest
    opset = versions[0]
    if not MIN_OPSET <= opset <= newest:
        hint = ("convert it with onnx.version_converter" if opset < MIN_OPSET
                else f"{newest} is the newest this onnx package {onnx.__version__} knows")
        raise SimulatorError(f"ONNX model {name!r} uses opset {opset} of the default ONNX domain; "
                             f"{supported} ({hint})")
    return opset


def node_order(graph: onnx.GraphProto, name: str) -> list[int] | None:
    """Checks the graph's structure (module docstring); returns a topological order of its nodes
    (indices) when the stored order is not one, else None."""
    nodes = list(graph.node)
    initializers = {init.name for init in graph.initializer}
    sources = initializers | {value.name for value in graph.input}
    writer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        subgraph = next((a.name for a in node.attribute if a.type in SUBGRAPH_ATTRIBUTES), None)
        if subgraph is not None:
            raise SimulatorError(
                f"ONNX model {name!r}: node {describe(node, i)} is control flow (its attribute {subgraph!r} "
                f"is a subgraph); the simulator counts static graphs only: export with loops unrolled and "
                f"branches resolved")
        for out in filter(None, node.output):
            if out in sources:
                what = "an initializer" if out in initializers else "a graph input"
                raise GraphError(f"ONNX model {name!r}: tensor {out!r} is {what} and also written by node "
                                 f"{describe(node, i)}; an ONNX tensor is written once")
            if out in writer:
                first = writer[out]
                raise GraphError(f"ONNX model {name!r}: tensor {out!r} is written by two nodes, "
                                 f"{describe(nodes[first], first)} and {describe(node, i)}; an ONNX tensor "
                                 f"is written once (ONNX Runtime refuses this model)")
            writer[out] = i
    for i, node in enumerate(nodes):
        for tensor in filter(None, node.input):
            if tensor not in sources and tensor not in writer:
                raise GraphError(f"ONNX model {name!r}: node {describe(node, i)} reads tensor {tensor!r}, "
                                 f"which no node, initializer or graph input writes")
    for out in graph.output:
        if out.name not in sources and out.name not in writer:
            raise GraphError(f"ONNX model {name!r}: graph output {out.name!r} is written by no node, "
                             f"initializer or graph input")
    return _topological_order(nodes, writer, name)


def in_order(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """``model`` after :func:`node_order`'s checks; a copy with its nodes sorted when they are out of
    topological order (the caller's model is left as it is)."""
    order = node_order(model.graph, name)
    if order is None:
        return model
    nodes = [model.graph.node[i] for i in order]
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy


def _topological_order(nodes: list[onnx.NodeProto], writer: dict[str, int], name: str) -> list[int] | None:
    """Kahn's algorithm, taking the lowest-index ready node first (so a sorted graph keeps its order);
    a cycle is refused naming its nodes and tensors."""
    needs = [{writer[t] for t in node.input if t in writer} for node in nodes]
    readers: dict[int, list[int]] = {}
    for i, producers in enumerate(needs):
        for producer in producers:
            readers.setdefault(producer, []).append(i)
    waiting = [len(producers) for producers in needs]
    ready = [i for i, count in enumerate(waiting) if count == 0]  # a heap: sorted already
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for reader in readers.get(i, []):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) < len(nodes):
        raise GraphError(f"ONNX model {name!r}: {_describe_cycle(nodes, writer, needs, set(order))}; an ONNX "
                         f"graph must be acyclic")
    return None if order == list(range(len(nodes))) else order


def _describe_cycle(nodes: list[onnx.NodeProto], writer: dict[str, int], needs: list[set[int]],
                    done: set[int]) -> str:
    """``nodes form a cycle: 'add' (Add) -> 't' -> 'relu' (Relu) -> 'u' -> 'add' (Add)``.

    Every node left after Kahn's algorithm waits on another one left, so walking from one to a
    producer it waits on must come back to a node already seen: that loop is a cycle."""
    start = next(i for i in range(len(nodes)) if i not in done)
    path, seen = [start], {start: 0}
    while True:
        producer = min(p for p in needs[path[-1]] if p not in done)
        if producer in seen:
            cycle = path[seen[producer]:][::-1]  # producers first
            break
        seen[producer] = len(path)
        path.append(producer)
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]  # from the node stored first
    steps = []
    for position, i in enumerate(cycle):
        following = cycle[(position + 1) % len(cycle)]
        tensor = next(t for t in nodes[following].input if writer.get(t) == i)
        steps += [describe(nodes[i], i), repr(tensor)]
    return "nodes form a cycle: " + " -> ".join([*steps, describe(nodes[cycle[0]], cycle[0])])
