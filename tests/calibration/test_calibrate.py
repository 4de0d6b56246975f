"""Calibration and validation machinery: the fit, the [efficiency] loader, the kernel cases, and
quick runs of calibrate / validate / the CLI. Measurements are noisy, so nothing here asserts
that a measurement is accurate; the fit is checked against synthetic times instead."""

from __future__ import annotations

import datetime
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.calibration.fit import PRIOR_WEIGHT, fit_kernel_efficiency, modelled_latency_s
from simulator.calibration.harness import TimingStats, time_quietly
from simulator.calibration.kernel_cases import KernelCase, case_network, kernel_suite, weight_copies
from simulator.cli import main
from simulator.errors import ProfileError, SimulatorError
from simulator.hardware.device import KernelEfficiency
from simulator.hardware.loader import load_device, resolve_device
from simulator.kernels import EFFICIENCY_CLASSES
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

HAVE_ORT = all(__import__("importlib").util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason="needs onnx and onnxruntime")

# --- the fit, on synthetic times ----------------------------------------------------------------

TRUE = KernelEfficiency(compute_fraction=0.5, bandwidth_fraction=0.7, overhead_s=20e-6)


def synthetic_times(noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ideal times on both sides of the ridge (T_compute/T_memory from 1/30 to 30), 1 µs to 10 ms."""
    rng = np.random.default_rng(seed)
    t_compute = 10 ** rng.uniform(-6, -2, 60)
    t_memory = t_compute * 10 ** rng.uniform(-1.5, 1.5, 60)
    measured = modelled_latency_s(t_compute, t_memory, TRUE) * np.exp(noise * rng.standard_normal(60))
    return t_compute, t_memory, measured


def test_fit_recovers_the_parameters_that_generated_the_times():
    fitted = fit_kernel_efficiency(*synthetic_times())
    assert fitted.compute_fraction == pytest.approx(TRUE.compute_fraction, rel=0.02)
    assert fitted.bandwidth_fraction == pytest.approx(TRUE.bandwidth_fraction, rel=0.02)
    assert fitted.overhead_s == pytest.approx(TRUE.overhead_s, rel=0.03)


def test_fit_tolerates_noise():
    fitted = fit_kernel_efficiency(*synthetic_times(noise=0.05, seed=1))  # 5% log-normal noise
    assert fitted.compute_fraction == pytest.approx(TRUE.compute_fraction, rel=0.1)
    assert fitted.bandwidth_fraction == pytest.approx(TRUE.bandwidth_fraction, rel=0.1)
    assert fitted.overhead_s == pytest.approx(TRUE.overhead_s, rel=0.3)


def test_the_fitted_formula_is_the_simulators_calibrated_time(tmp_path):
    from simulator.calibration.calibrate import ideal_times
    from simulator.calibration.kernel_cases import probe_index
    from simulator.engine.configs import hardware_arrays
    from simulator.engine.timing import roofline_timing
    from simulator.engine.workload import build_workload

    device = load_device(write(tmp_path, DEVICE + EFFICIENCY))
    for case in (KernelCase("conv", (64, 28, 28), 2, out=64, kernel=3, activation="relu"),  # compute-bound
                 KernelCase("conv", (64, 28, 28), 2, out=64, kernel=1, groups=64)):  # memory-bound, default
        workload = build_workload(case_network(case))
        timing = roofline_timing(workload, hardware_arrays(device, ["fp32"]), np.array([2.0]),
                                 np.array([32.0]), np.array([32.0]))
        _, _, t_compute, t_memory = ideal_times(case, device)
        expected = modelled_latency_s(t_compute, t_memory, device.efficiency.for_class(case.efficiency_class))
        assert timing.latency_s[0, probe_index(workload)] == pytest.approx(expected, rel=1e-12)


def test_an_undetermined_fraction_is_pulled_towards_one():
    t_compute = np.geomspace(1e-5, 1e-2, 20)
    t_memory = t_compute / 100  # always compute-bound: the bandwidth fraction is not determined
    measured = t_compute / 0.6 + 5e-6
    fitted = fit_kernel_efficiency(t_compute, t_memory, measured)
    assert fitted.compute_fraction == pytest.approx(0.6, rel=0.02)
    assert fitted.bandwidth_fraction > 0.9


@pytest.mark.parametrize("true", [
    TRUE,
    KernelEfficiency(compute_fraction=0.9, bandwidth_fraction=0.3, overhead_s=0.0),  # no overhead
    KernelEfficiency(compute_fraction=0.2, bandwidth_fraction=1.0, overhead_s=5e-6),  # fraction at its bound
    KernelEfficiency(compute_fraction=1.0, bandwidth_fraction=1.0, overhead_s=100e-6),  # ideal + launch cost
    KernelEfficiency(compute_fraction=0.05, bandwidth_fraction=0.6, overhead_s=2e-6),  # far from the peak
])
def test_fit_recovers_known_parameters_of_the_max_model(true):
    rng = np.random.default_rng(3)
    t_compute = 10 ** rng.uniform(-6, -2, 40)
    t_memory = t_compute * 10 ** rng.uniform(-1.5, 1.5, 40)  # both sides of the ridge
    fitted = fit_kernel_efficiency(t_compute, t_memory, modelled_latency_s(t_compute, t_memory, true))
    assert fitted.compute_fraction == pytest.approx(true.compute_fraction, rel=0.01)
    assert fitted.bandwidth_fraction == pytest.approx(true.bandwidth_fraction, rel=0.01)
    # 2%: the prior shifts a 2 µs overhead on kernels of 20 µs and more by a few ns; 10 ns is "none"
    assert fitted.overhead_s == pytest.approx(true.overhead_s, rel=0.02, abs=1e-8)


def additive_times(ratio_decades: tuple[float, float], seed: int) -> tuple[np.ndarray, ...]:
    """Times of a model other than the fitted one: ``T_compute / 0.5 + T_memory / 0.7 + 20 µs``
    (compute and memory in series, not overlapped), with 3% log-normal noise; T_memory / T_compute
    is 10^±u for u uniform in ``ratio_decades``."""
    rng = np.random.default_rng(seed)
    t_compute = 10 ** rng.uniform(-6, -2, 60)
    t_memory = t_compute * 10 ** (rng.choice([-1, 1], 60) * rng.uniform(*ratio_decades, 60))
    measured = (t_compute / 0.5 + t_memory / 0.7 + 20e-6) * np.exp(0.03 * rng.standard_normal(60))
    return t_compute, t_memory, measured


def test_fit_to_another_model_predicts_its_times_away_from_the_ridge():
    # T_memory / T_compute beyond 10^±1.5: the sum and the max differ by at most 1/30 (3%)
    t_compute, t_memory, measured = additive_times((1.5, 2.5), seed=4)
    fitted = fit_kernel_efficiency(t_compute, t_memory, measured)
    log_error = np.log(modelled_latency_s(t_compute, t_memory, fitted) / measured)
    assert np.sqrt(np.mean(log_error**2)) < 0.04  # 3% noise plus at most 3% model difference
    assert np.abs(log_error).max() < 0.1  # every prediction within about 10%
    assert (fitted.compute_fraction, fitted.bandwidth_fraction) == pytest.approx((0.5, 0.7), rel=0.05)


def test_fit_to_another_model_is_the_best_max_model_near_the_ridge():
    # at the ridge the sum is twice the max: no max model fits, the fit must still be the best one
    t_compute, t_memory, measured = additive_times((0.0, 1.5), seed=5)
    fitted = fit_kernel_efficiency(t_compute, t_memory, measured)

    def objective(compute_fraction, bandwidth_fraction, overhead_s):  # as in simulator.calibration.fit
        model = np.maximum(t_compute[:, None] / compute_fraction, t_memory[:, None] / bandwidth_fraction)
        log_error = np.log((model + overhead_s) / measured[:, None])
        prior = PRIOR_WEIGHT * (np.log(compute_fraction) ** 2 + np.log(bandwidth_fraction) ** 2)
        return np.mean(log_error**2, axis=0) + prior

    c, b, o = (grid.ravel() for grid in np.meshgrid(np.linspace(0.2, 1.0, 41), np.linspace(0.2, 1.0, 41),
                                                    np.linspace(0.0, 60e-6, 31)))
    best_on_grid = objective(c, b, o).min()
    found = objective(np.array([fitted.compute_fraction]), np.array([fitted.bandwidth_fraction]),
                      np.array([fitted.overhead_s]))[0]
    assert found <= best_on_grid + 1e-6  # at least as good as a brute-force search (50,000 points)
    log_error = np.log(modelled_latency_s(t_compute, t_memory, fitted) / measured)
    assert np.sqrt(np.mean(log_error**2)) < 0.25 and np.abs(log_error).max() < np.log(2)  # within 2x


def test_a_layer_without_work_costs_no_overhead():
    zero = modelled_latency_s(np.array([0.0, 1e-3]), np.array([0.0, 0.0]), TRUE)
    assert zero.tolist() == [0.0, 1e-3 / TRUE.compute_fraction + TRUE.overhead_s]  # a view costs nothing


def test_fit_without_scipy_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # makes the import fail
    with pytest.raises(SimulatorError, match="needs SciPy: pip install"):
        fit_kernel_efficiency(*synthetic_times())


def test_fit_errors_name_the_problem():
    with pytest.raises(SimulatorError, match="at least one case"):
        fit_kernel_efficiency([], [], [])
    with pytest.raises(SimulatorError, match="greater than 0"):
        fit_kernel_efficiency([1e-3], [1e-3], [0.0])


def test_timing_stats_are_median_and_quartiles():
    stats = TimingStats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (stats.median_s, stats.q1_s, stats.q3_s, stats.min_s) == (3.0, 2.0, 4.0, 1.0)
    assert stats.iqr_s == 4.0 - 2.0  # q3 - q1
    assert stats.scaled(0.5).median_s == 1.5


def test_time_quietly_returns_the_requested_runs():
    stats = time_quietly(lambda: sum(range(100)), warmup=1, repeats=4, patience_s=0.0)
    assert stats.repeats == 4 and stats.median_s > 0


def test_calibration_modules_import_each_other_one_way_only():
    import ast
    import graphlib

    import simulator.calibration as package

    folder = Path(package.__file__).parent
    graph = {}
    for path in folder.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if module == "simulator.calibration":
                imported |= {alias.name for alias in node.names}
            elif module.startswith("simulator.calibration."):
                imported.add(module.rpartition(".")[2])
        graph[path.stem] = imported
    assert graph["harness"] == set()  # the bottom of the stack
    tuple(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle


# --- the [efficiency] table of device files -----------------------------------------------------

DEVICE = """
name = "tiny"
source = "test"

[energy]
table = "horowitz-45nm"

[peak]
fp32_giga_ops_per_s = 100
source = "test"

[[memory]]
name = "dram"
capacity_gib = 1
bandwidth_gb_per_s = 10
stores = ["weights", "activations"]
energy_table_entry = "dram-32bit"
source = "test"
"""

EFFICIENCY = """
[efficiency]
source = "synthetic"

[efficiency.conv]
compute_fraction = 0.6
bandwidth_fraction = 0.8
overhead_us = 12.0

[efficiency.default]
compute_fraction = 0.5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_efficiency_table_is_read_in_si_units(tmp_path):
    device = load_device(write(tmp_path, DEVICE + EFFICIENCY))
    assert device.efficiency.source == "synthetic"
    conv = device.efficiency.classes["conv"]
    assert (conv.compute_fraction, conv.bandwidth_fraction) == (0.6, 0.8)
    assert conv.overhead_s == pytest.approx(12.0 * 1e-6)  # overhead_us -> s
    assert device.efficiency.for_class("gemm") == device.efficiency.classes["default"]
    assert load_device(write(tmp_path, DEVICE)).efficiency is None


@pytest.mark.parametrize(("old", "new", "message"), [
    ("[efficiency.conv]", "[efficiency.convolution]",
     "efficiency.convolution: unknown efficiency class 'convolution'; valid: conv, pointwise_conv, "
     "depthwise_conv"),
    ("compute_fraction = 0.6", "compute_fraction = 1.5",
     "efficiency.conv.compute_fraction: Input should be less than or equal to 1"),
    ("bandwidth_fraction = 0.8", "bandwidth_fraction = 0",
     "efficiency.conv.bandwidth_fraction: Input should be greater than 0"),
    ("overhead_us = 12.0", "overhead_us = -1.0", "efficiency.conv.overhead_us: Input should be greater"),
    ("overhead_us = 12.0", "overhead_us = 12.0\noverhead_s = 1e-5",
     "efficiency.conv: give only one of overhead_s, overhead_us"),
    ('source = "synthetic"\n', "", "efficiency.source: Field required"),
])
def test_bad_efficiency_tables_name_the_field(tmp_path, old, new, message):
    assert old in EFFICIENCY
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_device(write(tmp_path, DEVICE + EFFICIENCY.replace(old, new, 1)))


def test_the_calibrated_model_is_never_faster_than_the_ideal_roofline(tmp_path):
    device = load_device(write(tmp_path, DEVICE + EFFICIENCY))
    ideal = simulate("resnet18", device, precision="fp32", ideal=True)
    calibrated = simulate("resnet18", device, precision="fp32")
    assert calibrated.latency_s > ideal.latency_s


def test_a_measured_machine_is_written_as_a_valid_profile(tmp_path):
    from simulator.calibration.roofs import REGISTER_BYTES_PER_OP, MachineMeasurement, profile_toml

    machine = MachineMeasurement(
        cpu='Test "CPU" \\ 9000', threads=2, measured_at="2026-01-02 03:04 UTC", versions="test",
        vector_register_bytes=512, numpy_fp32_ops_per_s=100e9, ort_fp32_ops_per_s=120e9, int8_ops_per_s=None,
        measured_levels=(("dram", 2**34, 20e9, "test"), ("l3", 2**25, 90e9, "test"),
                         ("l2", 2**20, 80e9, "test")),
        foreign_cores=0.0, kernel_fp32_ops_per_s=150e9, kernel_dram_bytes_per_s=25e9)
    path = tmp_path / "machine.toml"
    path.write_text(profile_toml(machine, "machine", {"conv": TRUE}, "synthetic"), encoding="utf-8")
    device = load_device(path)
    assert device.description.startswith('Test "CPU" \\ 9000')
    assert device.peak_ops_per_s == {"fp32": 150e9}  # the best of the three; no int8 measured
    assert [level.name for level in device.memory_levels] == ["dram", "l3", "l2", "register-file"]
    bandwidths = [level.bandwidth_bytes_per_s for level in device.memory_levels[:3]]
    assert bandwidths == [25e9, 90e9, 90e9]  # DRAM raised to the kernels' stream, L2 to L3's figure
    register_file = device.memory_levels[-1]
    assert register_file.capacity_bytes == 512 * 2  # vector registers x threads
    assert register_file.bandwidth_bytes_per_s == pytest.approx(REGISTER_BYTES_PER_OP * 150e9, rel=1e-3)
    assert device.efficiency.classes["conv"].overhead_s == pytest.approx(TRUE.overhead_s, rel=1e-3)
    assert device.efficiency.source == "synthetic"


def test_any_cpu_name_and_note_survive_the_profile_file(tmp_path):
    from simulator.calibration.roofs import MachineMeasurement, profile_toml, write_profile

    odd = 'CPU "x" \\ [y] = z # not a comment\n\tµ'
    machine = MachineMeasurement(
        cpu=odd, threads=1, measured_at="2026-01-02 03:04 UTC", versions="test", vector_register_bytes=512,
        numpy_fp32_ops_per_s=1e9, ort_fp32_ops_per_s=1e9, int8_ops_per_s=2e9,
        measured_levels=(("dram", 2**30, 1e9, odd),), foreign_cores=0.0)
    device = load_device(write_profile(tmp_path / "odd.toml", profile_toml(machine, "odd")))
    assert device.description.startswith(odd) and odd in device.source
    assert device.peak_ops_per_s == {"fp32": 1e9, "int8": 2e9}


def test_profiles_are_written_atomically(tmp_path):
    from simulator.calibration.roofs import write_profile

    path = write_profile(tmp_path / "sub" / "p.toml", 'name = "old"\n')  # creates the folder
    with pytest.raises(TypeError):
        write_profile(path, b"not text")  # fails while writing
    assert path.read_text(encoding="utf-8") == 'name = "old"\n'  # the old profile is kept
    assert [p.name for p in path.parent.iterdir()] == ["p.toml"]  # and no temporary file is left


# --- single-operator cases ----------------------------------------------------------------------


def test_every_case_builds_its_layer_and_the_suite_covers_the_measured_classes():
    suite = kernel_suite()
    classes = {case.efficiency_class for case in suite}
    assert classes == {"conv", "pointwise_conv", "depthwise_conv", "gemm", "matmul", "elementwise",
                       "global_pool"}
    assert classes <= set(EFFICIENCY_CLASSES)
    assert {case.batch for case in suite} == {1, 4, 16}
    for case in suite + kernel_suite(quick=True):
        assert "probe" in [node.name for node in case_network(case).nodes]


def test_weight_heavy_cases_are_copied_to_stream_their_weights():
    evict = 64 * 2**20
    gemm = KernelCase("gemm", (2048,), 1, out=1000)  # 8 MB of weights, 2 ops per 4-byte weight
    assert weight_copies(gemm, evict) == math.ceil(evict / (2048 * 1000 * 4 + 1000 * 4))
    assert weight_copies(KernelCase("conv", (64, 56, 56), 1, out=64, kernel=3), evict) == 1
    with pytest.raises(SimulatorError, match="unknown kernel case operator 'sum'"):
        KernelCase("sum", (8,))


def test_a_fused_activation_is_part_of_the_probe():
    from simulator.calibration.kernel_cases import probe_index
    from simulator.engine.workload import build_workload

    case = KernelCase("conv", (8, 16, 16), 1, out=8, kernel=1, activation="relu6")
    workload = build_workload(case_network(case))
    assert workload.names[probe_index(workload)] == "probe+act"
    assert case.efficiency_class == "pointwise_conv" and "+relu6" in case.label
    with pytest.raises(SimulatorError, match="activation 'relu6' of a add case"):
        KernelCase("add", (8, 4, 4), activation="relu6")
    with pytest.raises(SimulatorError, match="activation 'tanh' of a conv case"):
        KernelCase("conv", (8, 4, 4), out=8, activation="tanh")


@needs_ort
def test_case_models_run_and_match_the_simulated_layer():
    import onnx

    from simulator.calibration.kernel_cases import case_model
    from simulator.calibration.session import bind, make_session

    for case in kernel_suite(quick=True):
        model, inputs, outputs = case_model(case, copies=2)
        onnx.checker.check_model(model)
        session = make_session(model, threads=1)
        feeds = {name: np.ones(shape, dtype=np.float32) for name, shape in inputs.items()}
        session.run_with_iobinding(binding := bind(session, feeds))
        shapes = [tuple(value.shape) for value in binding.copy_outputs_to_cpu()]
        probe = next(node for node in case_network(case).nodes if node.name == "probe")
        assert shapes == [(case.batch, *probe.output_shape)] * 2 == list(outputs.values())


# --- quick runs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    from simulator.calibration.calibrate import calibrate

    path = tmp_path_factory.mktemp("calibration") / "this-machine.toml"
    calibrate(path, quick=True)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    from simulator.onnx.writer import export_onnx

    net = NetworkBuilder("tiny", (3, 16, 16))
    x = net.relu(net.conv2d(net.input, 8, 3, padding=1, name="conv"), inplace=True, name="relu")
    x = net.max_pool2d(x, 2, name="pool")
    net.linear(net.flatten(x), 10, name="fc")
    return export_onnx(net.build(), tmp_path_factory.mktemp("models") / "tiny.onnx", batch=None)


@needs_ort
def test_quick_calibration_writes_a_loadable_profile(quick_profile):
    device = resolve_device(quick_profile)
    assert device.name == "this-machine"
    assert device.peak_ops_per_s["fp32"] > 0
    names = [level.name for level in device.memory_levels]
    assert names[0] == "dram" and names[-1] == "register-file"
    assert all(level.bandwidth_bytes_per_s > 0 and level.capacity_bytes > 0 for level in device.memory_levels)
    if Path("/sys/devices/system/cpu/cpu0/cache/index0").exists():
        assert len(names) >= 3  # at least one cache between DRAM and the register file
    assert device.efficiency is not None
    assert {"conv", "depthwise_conv", "gemm", "elementwise", "default"} <= set(device.efficiency.classes)
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert today in device.source and today in device.efficiency.source
    assert "not measured" in Path(quick_profile).read_text()  # CPU energy: a placeholder table


@needs_ort
def test_validate_returns_one_row_per_batch_with_both_predictions(quick_profile, tiny_model):
    from simulator.calibration.validate import validate, validate_layers

    frame = validate(tiny_model, resolve_device(quick_profile), batches=(1, 2), repeats=2, warmup=1,
                     patience_s=0.0)
    assert list(frame.batch) == [1, 2]
    assert (frame.measured_median_s > 0).all() and (frame.ideal_s > 0).all()
    assert (frame.calibrated_s > 0).all()
    assert frame.ideal_error.tolist() == pytest.approx((frame.ideal_s / frame.measured_median_s - 1).tolist())
    layers = validate_layers(tiny_model, quick_profile, batch=1, repeats=2)
    measured = dict(zip(layers.layer, layers.measured_s, strict=True))
    assert measured["conv+relu"] > 0 and measured["fc"] > 0  # ONNX Runtime nodes matched by name


@needs_ort
def test_validate_errors_name_the_value(quick_profile, tiny_model, tmp_path):
    from simulator.calibration.validate import validate
    from simulator.onnx.writer import export_onnx

    with pytest.raises(SimulatorError, match="does not exist"):
        validate(tmp_path / "missing.onnx", quick_profile)
    with pytest.raises(SimulatorError, match="batches must be integers of at least 1"):
        validate(tiny_model, quick_profile, batches=(0,))
    net = NetworkBuilder("fixed", (4,))
    net.linear(net.input, 2)
    fixed = export_onnx(net.build(), tmp_path / "fixed.onnx", batch=1)
    with pytest.raises(SimulatorError, match="fixed batch of 1, not 4"):
        validate(fixed, quick_profile, batches=(4,), repeats=1, patience_s=0.0)


@needs_ort
def test_cli_calibrate_and_validate(capsys, tmp_path, quick_profile, tiny_model):
    assert main(["calibrate", "-o", str(tmp_path / "profile.json"), "--quick"]) == 2
    assert "give a .toml path" in capsys.readouterr().err
    assert main(["calibrate", "-o", str(tmp_path / "quick.toml"), "--quick"]) == 0
    assert "peak fp32" in capsys.readouterr().out and (tmp_path / "quick.toml").is_file()

    argv = ["validate", str(tiny_model), "--device", str(quick_profile), "--batch", "1,2", "--repeats", "2",
            "--patience", "0"]
    assert main([*argv, "--format", "json"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert [p["batch"] for p in points] == [1, 2] and all(p["measured_median_s"] > 0 for p in points)
    assert main([*argv, "--per-layer"]) == 0
    out = capsys.readouterr().out
    assert "calibrated error" in out and "per layer" in out
    assert main([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("model,batch,threads,measured_median_s")
    assert main(["validate", str(tmp_path / "missing.onnx"), "--device", str(quick_profile)]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv[:3], "--batch", "0"])
    assert exit_info.value.code == 2
