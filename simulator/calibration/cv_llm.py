"""The LLM terms of the expected model as fitted figures, for the cross-validation of the LLM rows.

An LLM row (``llm.csv``) is predicted by :func:`simulator.llm.inference.simulate_llm` with the
device profile's kernel figures (its ``[efficiency]`` classes, per-kernel overhead and fill, fitted
on CNN rows only: no LLM row is behind them) and three LLM terms, fitted here per family:

* ``step_overhead_s``: a serving runtime's fixed cost per forward pass (scheduling, sampling, host
  synchronization), added once to the prefill and once per decode step [s], 0–10 ms;
* ``allreduce_overhead_s``: the fixed cost of one all-reduce on top of its ring time [s], 0–100 µs
  (NCCL's small-message latency is 10–20 µs);
* ``gemv_bandwidth_fraction``: the share of bandwidth a decode step's GEMV-like projections reach,
  0.05–1.

A figure's default (what a fold with no row of the family predicts with, and the prior's centre) is
the engine's value when a profile omits it: no fixed cost, and the ``gemm`` class's 0.9.

The first two enter every metric linearly: a row's time ``L`` (``ttft_s``, ``tpot_s``, or one over
``output_tokens_per_s``) is ``L0(g) + a·step_overhead + b·allreduce_overhead``. :func:`llm_case`
simulates each row once per value of :data:`GEMV_GRID` and once more per linear term (``a``, ``b``
from the difference), and :func:`predict_llm` interpolates ``L0`` linearly in ``1/g`` between the
grid values (exact at them; a decode step's time is a sum of ``max(compute, bytes / (g · bandwidth))``,
piecewise linear in ``1/g``). Rows that never decode (``ttft_s``) do not depend on ``g``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.calibration.cv_fit import PRIOR_WEIGHT, levenberg_marquardt
from simulator.calibration.cv_model import Parameter
from simulator.hardware.loader import resolve_device
from simulator.llm.inference import simulate_llm

#: the values of ``gemv_bandwidth_fraction`` each decoding row is simulated at
GEMV_GRID = tuple(float(g) for g in np.geomspace(0.05, 1.0, 8))
#: the steps the linear terms' coefficients are measured with [s]
_STEP_S, _ALLREDUCE_S = 1e-3, 1e-5


@dataclass(frozen=True)
class LLMFamily:
    """Devices whose LLM serving runtime shares its figures."""

    name: str
    device_class: str
    devices: tuple[str, ...]
    parameters: tuple[Parameter, ...]


# defaults: the engine's value when a profile omits the figure (no fixed cost; the GEMM class's 0.9)
_STEP = Parameter("step_overhead_s", "s", 0.0, 10e-3, 0.0)
_ALLREDUCE = Parameter("allreduce_overhead_s", "s", 0.0, 100e-6, 0.0)
_GEMV = Parameter("gemv_bandwidth_fraction", "1", 0.05, 1.0, 0.9)
#: the LLM families (TensorRT-LLM on the datacenter GPUs, TinyChat on Orin)
LLM_FAMILIES = (
    LLMFamily("TensorRT-LLM (Ampere/Hopper)", "LLM",
              ("a100-sxm-80gb", "a100-sxm-40gb", "h100-sxm", "h200-sxm"), (_STEP, _ALLREDUCE, _GEMV)),
    LLMFamily("TinyChat (Orin)", "LLM", ("jetson-agx-orin",), (_STEP, _GEMV)),
)


def llm_family_of(device: str) -> LLMFamily | None:
    return next((f for f in LLM_FAMILIES if device in f.devices), None)


@dataclass(frozen=True, eq=False)
class LLMCase:
    """One LLM row: its time without the linear terms at each grid value of ``g``, and their
    coefficients."""

    id: str
    device: str
    family: LLMFamily
    metric: str
    measured: float
    base_s: np.ndarray          # L0 at each GEMV_GRID value (one value when the row does not decode)
    step_coefficient: float
    allreduce_coefficient: float


def _time(row: Mapping[str, str], device) -> float:
    result = simulate_llm(row["network"], device, int(row["batch"]), int(row["input_len"]),
                          int(row["output_len"]), int(row["tp"]), int(row.get("pp") or 1),
                          row["weight_precision"], row["activation_precision"], row["kv_precision"])
    value = float(result.metrics[row["metric"]][0])
    return 1.0 / value if row["metric"] == "output_tokens_per_s" else value


def _device(base, step: float, allreduce: float, gemv: float):
    efficiency = base.efficiency.model_copy(update={"step_overhead_s": step, "gemv_bandwidth_fraction": gemv})
    update = {"efficiency": efficiency}
    if base.interconnect is not None:
        update["interconnect"] = base.interconnect.model_copy(update={"allreduce_overhead_s": allreduce})
    return base.model_copy(update=update)


def llm_case(row: Mapping[str, str]) -> LLMCase:
    """Simulate ``row`` at every grid value of ``g`` (once, for a row that does not decode) and once
    per linear term."""
    base = resolve_device(row["device"])
    decodes = row["metric"] != "ttft_s"
    grid = GEMV_GRID if decodes else GEMV_GRID[-1:]
    base_s = np.array([_time(row, _device(base, 0.0, 0.0, g)) for g in grid])
    step = (_time(row, _device(base, _STEP_S, 0.0, grid[-1])) - base_s[-1]) / _STEP_S
    allreduce = 0.0
    if int(row["tp"]) > 1:
        allreduce = (_time(row, _device(base, 0.0, _ALLREDUCE_S, grid[-1])) - base_s[-1]) / _ALLREDUCE_S
    return LLMCase(row["id"], row["device"], llm_family_of(row["device"]), row["metric"],
                   float(row["value"]), base_s, step, allreduce)


def predict_llm(cases: Sequence[LLMCase], values: Mapping[str, float]) -> np.ndarray:
    """Each case's expected value in its metric at the figures ``values`` (a figure the family lacks:
    0 for an overhead)."""
    gemv = values.get("gemv_bandwidth_fraction", 1.0)
    grid_u = 1.0 / np.array(GEMV_GRID)[::-1]  # increasing 1/g
    out = []
    for case in cases:
        base = (float(np.interp(1.0 / gemv, grid_u, case.base_s[::-1])) if len(case.base_s) > 1
                else float(case.base_s[0]))
        time = (base + case.step_coefficient * values.get("step_overhead_s", 0.0)
                + case.allreduce_coefficient * values.get("allreduce_overhead_s", 0.0))
        out.append(1.0 / time if case.metric == "output_tokens_per_s" else time)
    return np.array(out)


@dataclass(frozen=True)
class LLMFit:
    """An LLM family's fitted figures."""

    family: str
    values: Mapping[str, float]
    objective: float

    def predict_cases(self, cases: Sequence[LLMCase]) -> np.ndarray:
        return predict_llm(cases, self.values)


def fit_llm(cases: Sequence[LLMCase]) -> LLMFit:
    """The family's figures that minimize the squared log error on ``cases`` plus the weak prior of
    :mod:`simulator.calibration.cv_fit` (Levenberg–Marquardt from the defaults)."""
    parameters = cases[0].family.parameters
    prior = np.array([p.coordinate(p.default) for p in parameters])
    measured = np.log([c.measured for c in cases])
    weight = np.sqrt(PRIOR_WEIGHT)

    def values(z: np.ndarray) -> dict[str, float]:
        return {p.name: p.value(float(x)) for p, x in zip(parameters, z, strict=True)}

    def residuals(z: np.ndarray) -> np.ndarray:
        return np.concatenate([np.log(predict_llm(cases, values(z))) - measured, weight * (z - prior)])

    z, cost = levenberg_marquardt(residuals, prior.copy())
    return LLMFit(cases[0].family.name, values(z), cost)


def default_llm_fit(family: LLMFamily) -> LLMFit:
    """The family's documented defaults (a fold that leaves it no row)."""
    return LLMFit(family.name, {p.name: p.default for p in family.parameters}, float("nan"))


def solve_term(row: Mapping[str, str], make, low: float, high: float, tolerance: float = 1e-12) -> float:
    """The value ``x`` in ``[low, high]`` at which ``row`` is predicted exactly on ``make(x)`` (a
    device), by bisection on the log error (monotone in each LLM term); numpy only. A row the range
    cannot reach gets the end nearer to it, which the caller can see in its residual."""
    measured = float(row["value"])
    measured_time = 1.0 / measured if row["metric"] == "output_tokens_per_s" else measured

    def error(x: float) -> float:
        return float(np.log(_time(row, make(x)) / measured_time))

    at_low, at_high = error(low), error(high)
    if at_low * at_high > 0:
        return low if abs(at_low) < abs(at_high) else high
    while high - low > tolerance * max(1.0, abs(high)):
        middle = (low + high) / 2
        at_middle = error(middle)
        if at_middle == 0:
            return middle
        if (at_middle > 0) == (at_low > 0):
            low, at_low = middle, at_middle
        else:
            high = middle
    return (low + high) / 2
