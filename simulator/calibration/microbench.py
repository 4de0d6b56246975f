"""Micro-benchmarks of this machine's roofs, in the manner of the Empirical Roofline Toolkit.

ERT (Lo et al., "Toward Automated Application Profiling on Cray Systems", CUG 2014; Yang et al.,
"An Empirical Roofline Methodology for Quantitatively Assessing Performance Portability",
P3HPC 2018) measures a machine's roofs with kernels that stress one resource each and keeps the
best rate it reaches. Here:

* **peak fp32 ops/s**: large single-precision matrix products, ``2·n³ / t`` (a MAC is 2 ops),
  through NumPy's BLAS (:func:`numpy_matmul_ops_per_s`) and through ONNX Runtime's ``MatMul``
  (MLAS, :func:`ort_matmul_ops_per_s`). **int8**: ONNX Runtime's ``MatMulInteger`` (u8 x s8 -> i32),
  ``2·n³ / t``;
* **bandwidth**: ``np.copyto`` between two arrays, ``(bytes read + bytes written) / t``
  (:func:`copy_bytes_per_s`), and a matrix-vector product, ``matrix bytes / t`` (a read-only stream,
  :func:`matvec_bytes_per_s`), with the working set chosen by the caller
  (:mod:`simulator.calibration.roofs`) to sit in one level. This is rough: a copy through NumPy is
  bounded by its per-call overhead for the smallest levels (L1 is a lower bound), hardware
  prefetchers and the replacement policy blur the edges, and on a shared (virtual) machine the
  neighbours' traffic counts against us.

Each figure is the best over its trials [ops/s or bytes/s].
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from simulator.calibration.harness import time_callable
from simulator.calibration.session import bind, make_session
from simulator.model.formulas import OPS_PER_MAC

FLOAT32_BYTES = 4


# --- peaks and bandwidths -------------------------------------------------------------------------


def numpy_matmul_ops_per_s(n: int = 2048, repeats: int = 5) -> float:
    """Best ``2·n³ / t`` of ``a @ b`` with n x n float32 matrices (NumPy's BLAS, its own threads)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), dtype=np.float32)
    stats = time_callable(lambda: np.matmul(a, b, out=out), warmup=1, repeats=repeats)
    return OPS_PER_MAC * n**3 / stats.min_s


def _matmul_model(n: int, integer: bool) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if integer:
        weight = rng.integers(-64, 64, (n, n), dtype=np.int8)
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
        a_type, y_type = TensorProto.UINT8, TensorProto.INT32
    else:
        weight = rng.standard_normal((n, n), dtype=np.float32)
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        a_type = y_type = TensorProto.FLOAT
    graph = helper.make_graph([node], "matmul", [helper.make_tensor_value_info("a", a_type, [n, n])],
                              [helper.make_tensor_value_info("y", y_type, None)],
                              [numpy_helper.from_array(weight, "b")])
    opsets = [helper.make_opsetid("", 17)]
    # the oldest IR version that holds opset 17, which every supported ONNX Runtime reads
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def ort_matmul_ops_per_s(n: int = 2048, threads: int | None = None, integer: bool = False,
                         repeats: int = 5) -> float:
    """Best ``2·n³ / t`` of ONNX Runtime ``MatMul`` (fp32) or ``MatMulInteger`` (u8 x s8 -> i32)."""
    session = make_session(_matmul_model(n, integer), threads)
    rng = np.random.default_rng(1)
    a = (rng.integers(0, 128, (n, n), dtype=np.uint8) if integer
         else rng.standard_normal((n, n), dtype=np.float32))
    binding = bind(session, {"a": a})
    stats = time_callable(lambda: session.run_with_iobinding(binding), warmup=1, repeats=repeats)
    return OPS_PER_MAC * n**3 / stats.min_s


def _aligned_pair(elements: int) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination in one buffer, 4 KiB-aligned and offset by 528 bytes so that loads and
    stores do not alias modulo 4 KiB (which stalls store-to-load forwarding)."""
    pad = 132  # float32 elements = 528 bytes
    buffer = np.zeros(2 * elements + pad + 1024, dtype=np.float32)
    start = (-buffer.ctypes.data % 4096) // FLOAT32_BYTES
    source = buffer[start:start + elements]
    source[:] = 1.0
    return source, buffer[start + elements + pad:start + 2 * elements + pad]


def matvec_bytes_per_s(working_set_bytes: int, trials: int = 5) -> float:
    """Best ``matrix bytes / t`` of ``A @ x`` (NumPy's BLAS GEMV, its own threads): a read-only
    stream, as a fully connected layer streams its weights; copies also pay the destination's
    read-for-ownership and so understate what a read reaches."""
    columns = 1024
    rows = max(1, working_set_bytes // (FLOAT32_BYTES * columns))
    matrix = np.ones((rows, columns), dtype=np.float32)
    vector = np.ones(columns, dtype=np.float32)
    stats = time_callable(lambda: matrix @ vector, warmup=1, repeats=trials)
    return matrix.nbytes / stats.min_s


def copy_bytes_per_s(working_set_bytes: int, threads: int = 1, moved_bytes: float = 4e8,
                     trials: int = 5) -> float:
    """Best ``(bytes read + written) / t`` of ``np.copyto`` loops in ``threads`` threads.

    Each thread copies between its own arrays of ``working_set_bytes / threads`` (source plus
    destination); NumPy releases the GIL during the copy, so the threads run concurrently.
    """
    per_thread = max(2 * FLOAT32_BYTES, working_set_bytes // threads)
    elements = per_thread // (2 * FLOAT32_BYTES)
    pairs = [_aligned_pair(elements) for _ in range(threads)]
    step_bytes = 2 * elements * FLOAT32_BYTES
    reps = max(1, int(moved_bytes / threads / step_bytes))

    def work(source: np.ndarray, destination: np.ndarray, barrier: threading.Barrier) -> None:
        barrier.wait()
        for _ in range(reps):
            np.copyto(destination, source)

    best = 0.0
    for _ in range(trials):
        barrier = threading.Barrier(threads + 1)
        workers = [threading.Thread(target=work, args=(*pair, barrier)) for pair in pairs]
        for worker in workers:
            worker.start()
        barrier.wait()
        start = time.perf_counter()
        for worker in workers:
            worker.join()
        best = max(best, threads * reps * step_bytes / (time.perf_counter() - start))
    return best
