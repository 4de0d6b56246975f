"""The LLM terms of the expected model as fitted figures, for the cross-validation of the LLM rows.

An LLM row (``llm.csv``) is predicted by :func:`simulator.llm.inference.simulate_llm` with the
device profile's kernel figures (its ``[efficiency]`` classes, per-kernel launch cost and fill, fitted
on CNN rows only: no LLM row is behind them). A forward pass costs its kernels' roofline times, plus
one launch per kernel counted from the built network (:func:`simulator.llm.phases.kernels_per_step`,
each all-reduce one NCCL kernel), plus the runtime's host cost per pass. Three LLM terms are fitted
here per family, each in a physical range:

* ``step_overhead_s``: the serving runtime's host cost per forward pass outside its kernels (the
  per-step synchronization and bookkeeping of a C++ generation loop) [s], 0–100 µs (default 20 µs,
  the profiles' documented estimate); TinyChat's Python loop 0–2 ms;
* ``gemv_bandwidth_fraction`` (a profile's ``[efficiency.gemv] bandwidth_fraction``,
  :data:`LLM_FIGURES`): the share of bandwidth the runtime's projection kernels stream their weights
  at in a decode pass (a decode Linear, one row per sequence, runs as the ``gemv`` kernel class: at
  batch 1 ``weight bytes / (bandwidth · fraction)``; a prefill's projections are GEMMs at the ``gemm``
  class's streaming share, :func:`simulator.model.layers.base.projection_class`), 0.3–1 for
  TensorRT-LLM (0.05–1 for TinyChat);
* ``llm_compute_fraction``: the share of the dense tensor peak the runtime's GEMM-like kernels
  (projections, fused attention) reach in an LLM pass, where it is compute-bound (a long prefill, a
  large decode batch: ``ops / (peak · fill · fraction)``), 0.2–0.9 [1]; the prior's centre 0.5 (the
  range's centre: no documented figure), and a fold with no row of the family predicts with the
  profile's ``gemm`` class's fraction (:func:`default_llm_fit`). Without it the LLM pass borrowed
  the CNN family's compute fraction (TensorRT's int8 convolutions), and a compute-bound misfit had
  only the two decode-regime terms above to go to.

The all-reduce has no fitted term any more: its fixed cost is the launch of its kernel
(:func:`simulator.llm.parallel.allreduce_launch_s`) on top of the ring time. A figure's default
(what a fold with no row of the family predicts with, and the prior's centre) is the profiles'
documented value or the engine's (the ``gemm`` class's 0.9).

**Family rule.** TensorRT-LLM's families are split by architecture (Ampere, Hopper): the terms are the
runtime's kernels on that chip. A device belongs to the family that lists it, else to the family of
the shipped profile it ``extends`` (:func:`llm_family_of`), the rule of the CNN families
(:func:`simulator.calibration.cv_model.family_of`): H100 NVL and GH200 are data-sheet profiles on
h100-sxm's GH100 SMs and inherit its ``[efficiency]``, so their rows are the Hopper family's. The Ada
L40S stays in no LLM family: the CNN rule puts it in the one datacenter TensorRT family because that
family is shared across Ampere, Ada and Hopper, but the LLM families are per architecture and none is
Ada's (its kernels are neither the Ampere nor the Hopper ones; an Ada family of its own would rest on
its rows alone). This rule was written before those rows' errors were looked at.

The step cost enters every metric linearly: a row's time ``L`` (``ttft_s``, ``tpot_s``, or one over
``output_tokens_per_s``) is ``L0(g, c) + a·step_overhead (+ b·allreduce_overhead``, a link's extra
cost per all-reduce, 0 in every fitted family). :func:`llm_case` simulates each row once per grid
point (``g`` in :data:`GEMV_GRID`, ``c`` in :data:`COMPUTE_GRID` and the ``gemm`` class's) and once
more per linear term (``a``, ``b`` from the difference), and :func:`predict_llm` interpolates ``L0``
bilinearly in ``(1/g, 1/c)`` between the grid points (exact at them; a pass's time is a sum of
``max(compute / c, bytes / (g · bandwidth), …)``, piecewise linear in each). Both fractions apply to
prefill and decode alike, so every row is simulated on the grid. A prediction simulates the row at
the fitted figures (:func:`simulate_cases`): the interpolation is the fit's objective only.

**Model changes made after seeing out-of-sample errors** (disclosed; the figures after them are
validation figures):

* ``llm_compute_fraction`` was added after seeing batch-1 GPT-J decode on H100 at −25% against
  NVIDIA's published table (out of sample) once the Hopper fit took the MLPerf v4.1/v4.0 H100 and
  H200 Llama-2-70B Offline rows: those rows are 81–90% compute-bound in the model, and with no
  compute term of its own the fit pushed the host cost and the GEMV bandwidth share to their range
  edges. The extends rule above was applied at the same time (it follows the CNN rule, not an error);
* a fold with no row of an LLM family (Orin's leave-one-device-out: TinyChat has one device) predicts
  with the ``gemm`` class's compute fraction (the CNN runtime's, as before the figure existed), not the
  prior's centre 0.5: chosen after seeing Orin's leave-one-device-out median go from 19% to 36% with
  0.5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.calibration.cv_fit import PRIOR_WEIGHT, levenberg_marquardt
from simulator.calibration.cv_model import Parameter, extends_chain
from simulator.hardware.device import KernelEfficiency
from simulator.hardware.loader import resolve_device
from simulator.llm.inference import simulate_llm

#: the physical range of ``llm_compute_fraction`` (a share of the dense tensor peak)
COMPUTE_LOW, COMPUTE_HIGH = 0.2, 0.9
#: the values of ``gemv_bandwidth_fraction`` each decoding row is simulated at
GEMV_GRID = tuple(float(g) for g in np.geomspace(0.05, 1.0, 8))
#: the values of ``llm_compute_fraction`` each row is simulated at (and the profile's ``gemm`` class's)
COMPUTE_GRID = tuple(float(c) for c in np.geomspace(COMPUTE_LOW, COMPUTE_HIGH, 5))
#: the steps the linear terms' coefficients are measured with [s]
_STEP_S, _ALLREDUCE_S = 1e-3, 1e-5


@dataclass(frozen=True)
class LLMFamily:
    """Devices whose LLM serving runtime shares its figures."""

    name: str
    device_class: str
    devices: tuple[str, ...]
    parameters: tuple[Parameter, ...]


#: TensorRT-LLM's host cost per pass: 0–100 µs, default the profiles' documented 20 µs (a C++ loop:
#: two sampling/stop-check kernel launches and one device-to-host synchronization per step)
HOST_STEP_TRTLLM = Parameter("step_overhead_s", "s", 0.0, 100e-6, 20e-6)
#: TinyChat's generation loop runs in Python (PyTorch eager): its host cost per pass up to 2 ms
HOST_STEP_TINYCHAT = Parameter("step_overhead_s", "s", 0.0, 2e-3, 0.0)
#: the share of bandwidth the runtime's projections stream weights at (default the gemm class's 0.9)
GEMV_TRTLLM = Parameter("gemv_bandwidth_fraction", "1", 0.3, 1.0, 0.9)
GEMV_TINYCHAT = Parameter("gemv_bandwidth_fraction", "1", 0.05, 1.0, 0.9)
#: the share of the dense tensor peak the runtime's GEMM-like kernels reach in an LLM pass: 0.2–0.9,
#: default 0.5 (the range's centre: no documented figure for an LLM pass's mix of GEMM shapes)
COMPUTE_LLM = Parameter("llm_compute_fraction", "1", COMPUTE_LOW, COMPUTE_HIGH, 0.5)
#: the LLM families: TensorRT-LLM per architecture (the projections' share of bandwidth and the GEMMs'
#: share of the peak are the runtime's kernels on that chip: the profiles fit Ampere's FP16 and Hopper's
#: FP8 apart), TinyChat on Orin
LLM_FAMILIES = (
    LLMFamily("TensorRT-LLM (Ampere)", "LLM", ("a100-sxm-80gb", "a100-sxm-40gb"),
              (HOST_STEP_TRTLLM, GEMV_TRTLLM, COMPUTE_LLM)),
    LLMFamily("TensorRT-LLM (Hopper)", "LLM", ("h100-sxm", "h200-sxm"),
              (HOST_STEP_TRTLLM, GEMV_TRTLLM, COMPUTE_LLM)),
    LLMFamily("TinyChat (Orin)", "LLM", ("jetson-agx-orin",),
              (HOST_STEP_TINYCHAT, GEMV_TINYCHAT, COMPUTE_LLM)),
)


def llm_family_of(device: str) -> LLMFamily | None:
    """The LLM family of ``device``: the one that lists it, else that of the shipped profile it
    ``extends`` (the rule of :func:`simulator.calibration.cv_model.family_of`: H100 NVL and GH200 from
    h100-sxm); None for any other device (an Ada card: no TensorRT-LLM family of its architecture)."""
    return next((f for name in extends_chain(device) for f in LLM_FAMILIES if name in f.devices), None)


@dataclass(frozen=True, eq=False)
class LLMCase:
    """One LLM row: its time without the linear terms at each grid point ``(g, c)``, and their
    coefficients."""

    id: str
    device: str
    family: LLMFamily
    metric: str
    measured: float
    base_s: np.ndarray          # L0 at each (GEMV_GRID value, compute_grid value): shape (G, C)
    step_coefficient: float
    allreduce_coefficient: float
    #: the dataset row, simulated again at the fitted figures for the prediction (:class:`LLMFit`)
    row: Mapping[str, str] | None = None
    #: the values of ``llm_compute_fraction`` of ``base_s``'s columns (increasing): COMPUTE_GRID and the
    #: profile's ``gemm`` class's (a figure of None; fitted on CNN rows only, so the grid, and the fit,
    #: do not depend on the LLM figures a profile holds)
    compute_grid: tuple[float, ...] = COMPUTE_GRID
    compute_own: float = COMPUTE_LLM.default
    compute_none: float = COMPUTE_LLM.default


def _time(row: Mapping[str, str], device) -> float:
    result = simulate_llm(row["network"], device, int(row["batch"]), int(row["input_len"]),
                          int(row["output_len"]), int(row["tp"]), int(row.get("pp") or 1),
                          row["weight_precision"], row["activation_precision"], row["kv_precision"])
    value = float(result.metrics[row["metric"]][0])
    return 1.0 / value if row["metric"] == "output_tokens_per_s" else value


#: where each fitted LLM term lives in a profile: ``term -> (table, key)`` of the loaded
#: :class:`~simulator.hardware.device.EfficiencyModel` (``efficiency``: a field of the model;
#: ``efficiency.<class>``: a field of that kernel class's entry). The GEMV share is the ``gemv``
#: class's bandwidth fraction; its other figures stay the ``gemm`` class's.
LLM_FIGURES = {"step_overhead_s": ("efficiency", "step_overhead_s"),
               "gemv_bandwidth_fraction": ("efficiency.gemv", "bandwidth_fraction"),
               "llm_compute_fraction": ("efficiency", "llm_compute_fraction")}


def llm_figure(efficiency, term: str) -> float | None:
    """The value of the LLM term ``term`` (:data:`LLM_FIGURES`) that ``efficiency`` holds (a class's
    figure as the engine looks it up: a profile without a ``gemv`` entry gives the ``gemm`` class's)."""
    table, key = LLM_FIGURES[term]
    owner = efficiency if table == "efficiency" else efficiency.for_class(table.split(".", 1)[1])
    return getattr(owner, key)


def with_llm_figures(efficiency, values: Mapping[str, float | None]):
    """``efficiency`` (an :class:`~simulator.hardware.device.EfficiencyModel`) holding the LLM terms
    ``values`` (those of :data:`LLM_FIGURES` it names): a class's figure in that class's entry (an
    entry of its own given only that figure, the rest the class it refines), the others as fields."""
    fields = {}
    classes = dict(efficiency.classes)
    for term, value in values.items():
        if term not in LLM_FIGURES:
            continue
        table, key = LLM_FIGURES[term]
        if table == "efficiency":
            fields[key] = value
            continue
        name = table.split(".", 1)[1]
        entry = classes.get(name)
        given = {} if entry is None else {f: getattr(entry, f) for f in entry.model_fields_set}
        given.pop(key, None)
        if value is not None:
            given[key] = value
        if given:
            classes[name] = KernelEfficiency(**given)
        else:
            classes.pop(name, None)
    return efficiency.model_copy(update={**fields, "classes": classes})


def _device(base, step: float, allreduce: float, gemv: float, compute: float | None = None):
    terms = {"step_overhead_s": step, "gemv_bandwidth_fraction": gemv}
    if compute is not None:
        terms["llm_compute_fraction"] = compute
    efficiency = with_llm_figures(base.efficiency, terms)
    update = {"efficiency": efficiency}
    if base.interconnect is not None:
        update["interconnect"] = base.interconnect.model_copy(update={"allreduce_overhead_s": allreduce})
    return base.model_copy(update=update)


def _own_compute(device) -> tuple[float, float]:
    """The ``llm_compute_fraction`` an LLM pass on ``device`` runs at as loaded, and without the figure
    (the ``gemm`` class's own fraction: the CNN runtime's, fitted on no LLM row)."""
    eff = device.efficiency
    none = float(eff.for_class("gemm").compute_fraction)
    return (float(eff.llm_compute_fraction) if eff.llm_compute_fraction is not None else none), none


def llm_case(row: Mapping[str, str]) -> LLMCase:
    """Simulate ``row`` at every grid point ``(g, c)`` (``c``: :data:`COMPUTE_GRID` and the profile's
    ``gemm`` class's fraction) and once per linear term (linear whatever ``g`` and ``c``)."""
    base = resolve_device(row["device"])
    own, none = _own_compute(base)
    computes = tuple(sorted({*COMPUTE_GRID, none}))
    # both fractions apply to prefill and decode alike
    base_s = np.array([[_time(row, _device(base, 0.0, 0.0, g, c)) for c in computes] for g in GEMV_GRID])
    at = computes.index(none)
    step = (_time(row, _device(base, _STEP_S, 0.0, GEMV_GRID[-1], none)) - base_s[-1, at]) / _STEP_S
    allreduce = 0.0
    if int(row["tp"]) > 1:
        allreduce = (_time(row, _device(base, 0.0, _ALLREDUCE_S, GEMV_GRID[-1], none))
                     - base_s[-1, at]) / _ALLREDUCE_S
    return LLMCase(row["id"], row["device"], llm_family_of(row["device"]), row["metric"],
                   float(row["value"]), base_s, step, allreduce, dict(row), computes, own, none)


def _interpolate(case: LLMCase, gemv: float, compute: float) -> float:
    """``L0`` at ``(gemv, compute)``: bilinear in ``(1/g, 1/c)`` between the grid points (exact at
    them; a pass's time is a sum of ``max(ops / (peak · c), bytes / (bandwidth · g), …)``, piecewise
    linear in each of ``1/g`` and ``1/c``); outside the grid, the nearest edge."""
    grid_u = 1.0 / np.array(GEMV_GRID)[::-1]  # increasing 1/g
    grid_v = 1.0 / np.array(case.compute_grid)[::-1]  # increasing 1/c
    by_g = np.array([np.interp(1.0 / gemv, grid_u, column[::-1]) for column in case.base_s.T])
    return float(np.interp(1.0 / compute, grid_v, by_g[::-1]))


def predict_llm(cases: Sequence[LLMCase], values: Mapping[str, float]) -> np.ndarray:
    """Each case's expected value in its metric at the figures ``values`` (a figure the family lacks:
    0 for an overhead, 1 for the bandwidth share, the profile's own for the compute share; a compute
    share of None: the ``gemm`` class's, as a profile without the figure)."""
    gemv = values.get("gemv_bandwidth_fraction", 1.0)
    out = []
    for case in cases:
        compute = values.get("llm_compute_fraction", case.compute_own)
        base = _interpolate(case, gemv, case.compute_none if compute is None else compute)
        time = (base + case.step_coefficient * values.get("step_overhead_s", 0.0)
                + case.allreduce_coefficient * values.get("allreduce_overhead_s", 0.0))
        out.append(1.0 / time if case.metric == "output_tokens_per_s" else time)
    return np.array(out)


def simulate_cases(cases: Sequence[LLMCase], values: Mapping[str, float]) -> np.ndarray:
    """Each case's expected value in its metric, simulated (:func:`simulate_llm`) on its device with
    the figures ``values`` in its ``[efficiency]`` (the rest of the profile as shipped): what
    ``roofline llm`` and ``roofline accuracy`` give on a profile that holds those figures, without
    :func:`predict_llm`'s interpolation in ``(g, c)`` (for a case without its row: the interpolation).
    A compute share of None: the profile's ``gemm`` class's (no LLM figure)."""
    out = []
    for case in cases:
        if case.row is None:
            out.append(float(predict_llm([case], values)[0]))
            continue
        base = resolve_device(case.device)
        efficiency = with_llm_figures(base.efficiency, values)
        time = _time(case.row, base.model_copy(update={"efficiency": efficiency}))
        out.append(1.0 / time if case.metric == "output_tokens_per_s" else time)
    return np.array(out)


@dataclass(frozen=True)
class LLMFit:
    """An LLM family's fitted figures. The fit's objective interpolates each row's time in ``(g, c)``
    (:func:`predict_llm`); a prediction simulates the row at the fitted figures
    (:func:`simulate_cases`), so that it is the figure a profile holding them gives."""

    family: str
    values: Mapping[str, float]
    objective: float

    def predict_cases(self, cases: Sequence[LLMCase]) -> np.ndarray:
        return simulate_cases(cases, self.values)


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
    """The family's documented defaults (a fold that leaves it no row); the compute share None: an LLM
    pass computes at the profile's ``gemm`` class's fraction (the CNN runtime's on that chip, fitted on
    no LLM row), as the model did before the figure existed."""
    values = {p.name: p.default for p in family.parameters}
    if "llm_compute_fraction" in values:
        values["llm_compute_fraction"] = None
    return LLMFit(family.name, values, float("nan"))


def least_squares_term(rows: Sequence[Mapping], make, low: float, high: float,
                       tolerance: float = 1e-6) -> float:
    """The value ``x`` in ``[low, high]`` that minimizes ``Σ_rows log²(predicted / measured)`` on
    ``make(x)`` (a device), by golden-section search (deterministic, numpy only): the least-squares
    figure behind rows from more than one source. Assumes one minimum in the range (each row's log
    error is monotone in the figure)."""
    def cost(x: float) -> float:
        total = 0.0
        for row in rows:
            measured = float(row["value"])
            measured_time = 1.0 / measured if row["metric"] == "output_tokens_per_s" else measured
            total += float(np.log(_time(row, make(x)) / measured_time)) ** 2
        return total

    ratio = (np.sqrt(5.0) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = cost(c), cost(d)
    while b - a > tolerance * max(1.0, abs(b)):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = cost(d)
    return (a + b) / 2


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
