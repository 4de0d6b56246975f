"""ONNX Runtime sessions as deployed on this CPU, and per-node kernel times from its profiler.

Sessions enable every graph optimization (``ORT_ENABLE_ALL``: constant folding, BatchNorm and
activation fusion, the NCHWc layout of convolutions) on the ``CPUExecutionProvider``, with the
intra-op thread count set explicitly (ONNX Runtime's default is one thread per core) so that it
can be recorded. :func:`profiled_node_times` reads the ``*_kernel_time`` events of ONNX Runtime's
profiler (``SessionOptions.enable_profiling``): one duration per node per run, in µs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.calibration.harness import TimingStats, core_count
from simulator.errors import SimulatorError

#: ONNX Runtime layout-conversion nodes (NCHWc): a layer graph has no such layers
LAYOUT_OPS = frozenset({"ReorderInput", "ReorderOutput"})


def require_onnxruntime() -> Any:
    """The ``onnxruntime`` module; if it or ``onnx`` is missing, a SimulatorError that says how to
    install them."""
    try:
        import onnx  # noqa: F401 - the single-operator models are written with it
        import onnxruntime
    except ModuleNotFoundError:
        raise SimulatorError("measuring needs ONNX Runtime and onnx: pip install onnx onnxruntime") from None
    return onnxruntime


def make_session(model: Any, threads: int | None = None, profile_prefix: str | None = None) -> Any:
    """A CPU session with every graph optimization (as deployed) and ``threads`` intra-op threads.

    ``model`` is an ``onnx.ModelProto``, serialized bytes or a path. ONNX Runtime defaults to one
    thread per core; the count is set explicitly so that it is recorded.
    """
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or core_count()
    options.inter_op_num_threads = 1
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    if isinstance(model, bytes):
        source: bytes | str = model
    elif hasattr(model, "SerializeToString"):
        source = model.SerializeToString()
    else:
        source = str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SimulatorError(f"ONNX Runtime cannot run the model: {first}") from None


def bind(session: Any, feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray] | None = None) -> Any:
    """An I/O binding of ``feeds`` (C-contiguous arrays, kept alive by the caller) and of ``outputs``:
    preallocated arrays by name, else buffers that ONNX Runtime allocates (no copy per run)."""
    binding = session.io_binding()
    for name, array in feeds.items():
        if not array.flags.c_contiguous:
            raise ValueError(f"input {name!r} must be C-contiguous")
        binding.bind_cpu_input(name, array)
    for output in session.get_outputs():
        array = (outputs or {}).get(output.name)
        if array is None:
            binding.bind_output(output.name, "cpu")
        else:
            binding.bind_output(output.name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
    return binding


@dataclass(frozen=True)
class NodeTime:
    """One node of ONNX Runtime's executed graph and its kernel times over the profiled runs [s]."""

    name: str
    op_type: str
    times_s: tuple[float, ...]


def read_profile(path: str | Path) -> list[NodeTime]:
    """Kernel times per node from an ONNX Runtime profile (``*_kernel_time`` events, µs)."""
    events = json.loads(Path(path).read_text(encoding="utf-8"))
    nodes: dict[str, tuple[str, list[float]]] = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        name = event["name"].removesuffix("_kernel_time")
        op_type = event.get("args", {}).get("op_name", "")
        nodes.setdefault(name, (op_type, []))[1].append(event["dur"] * 1e-6)
    return [NodeTime(name, op_type, tuple(times)) for name, (op_type, times) in nodes.items()]


def profiled_node_times(model: Any, feeds: dict[str, np.ndarray], threads: int | None = None,
                        warmup: int = 2, repeats: int = 7,
                        outputs: dict[str, np.ndarray] | None = None) -> list[NodeTime]:
    """Runs ``model`` with ONNX Runtime's profiler and returns each node's kernel times.

    The ``warmup`` runs are dropped from every node's times; ``outputs`` are preallocated output
    arrays (see :func:`bind`).
    """
    with tempfile.TemporaryDirectory() as folder:
        session = make_session(model, threads, profile_prefix=str(Path(folder) / "profile"))
        binding = bind(session, feeds, outputs)
        for _ in range(warmup + repeats):
            session.run_with_iobinding(binding)
        nodes = read_profile(session.end_profiling())
    return [NodeTime(n.name, n.op_type, n.times_s[warmup:]) for n in nodes if len(n.times_s) > warmup]


def compute_time_stats(nodes: Sequence[NodeTime]) -> TimingStats:
    """Per-run sum of the kernel times of every node but layout conversions, summarized."""
    kept = [n.times_s for n in nodes if n.op_type not in LAYOUT_OPS]
    if not kept:
        raise SimulatorError("the ONNX Runtime profile holds no compute node")
    runs = min(len(times) for times in kept)
    return TimingStats.of(np.sum([times[:runs] for times in kept], axis=0))
