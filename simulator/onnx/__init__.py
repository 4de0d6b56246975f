"""ONNX: reading models into layer graphs and writing layer graphs as runnable models.

* :mod:`~simulator.onnx.reader`: ONNX model -> :class:`~simulator.model.graph.Network`;
* :mod:`~simulator.onnx.handlers`: one handler per ONNX operator type;
* :mod:`~simulator.onnx.patterns`: operator subgraphs recognized as one layer (LayerNorm, GELU, ...);
* :mod:`~simulator.onnx.shapes`: shape propagation and constant folding over the ONNX graph;
* :mod:`~simulator.onnx.writer`: :class:`~simulator.model.graph.Network` -> ONNX model.

Needs the optional ``onnx`` package (the ``onnx`` extra).
"""
