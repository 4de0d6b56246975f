"""ONNX: reading models into layer graphs and writing layer graphs as runnable models.

* :mod:`~simulator.onnx.reader`: ONNX model -> :class:`~simulator.model.graph.Network`, through the
  operator readers registered beside each layer kind (:data:`simulator.model.layers.ONNX_READERS`);
* :mod:`~simulator.onnx.structure`: the graph's well-formedness (single assignment, acyclic, no control
  flow, a supported opset), checked before anything else is read;
* :mod:`~simulator.onnx.patterns`: operator subgraphs recognized as one layer (LayerNorm, GELU, ...);
* :mod:`~simulator.onnx.shapes`: shape propagation and constant folding over the ONNX graph;
* :mod:`~simulator.onnx.writer`: :class:`~simulator.model.graph.Network` -> ONNX model, through the
  writer registered beside each layer kind (:data:`simulator.model.layers.ONNX_WRITERS`).

Imports go one way: this package uses :mod:`simulator.model`, never the reverse.

Needs the optional ``onnx`` package (the ``onnx`` extra).
"""
