"""simulate() and ``roofline simulate``: properties over devices, networks and batches, a published
calibration point, and the CLI's formats and errors.

Properties (hypothesis; networks are built once and their workloads cached by simulate):

* latency never decreases with the batch, on every device;
* throughput never decreases with the batch while residency is fixed, i.e. on a device without an
  on-chip activation buffer: ``throughput(n) = n / Σ_i max(n·c_i, (W_i + n·a_i) / bw)`` and each
  term ``max(c_i, W_i / (n·bw) + a_i / bw)`` of ``1 / throughput`` is non-increasing in ``n``.
  With a buffer (the L2 of a GPU) a larger batch can push activations out of it, and throughput
  legitimately drops: pinned below for ResNet-50 on H100;
* more peak, bandwidth or buffer capacity never makes a layer slower.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.catalog import NETWORKS
from simulator.cli import main
from simulator.engine.configs import hardware_arrays
from simulator.engine.timing import roofline_timing
from simulator.engine.workload import build_workload
from simulator.errors import SimulatorError
from simulator.hardware.device import Device
from simulator.hardware.loader import available_devices, load_device, resolve_device
from simulator.model.counts import count_network
from simulator.model.fusion import inference_view
from simulator.model.graph import Network, NetworkBuilder
from simulator.precision import bits_of
from simulator.report import SIMULATION_COLUMNS
from simulator.simulation import simulate

DEVICES = sorted(available_devices())
PROPERTY_NETWORKS = ("alexnet", "resnet18", "mobilenet_v2", "vit_b_16", "residual")
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None)
RELATIVE_SLACK = 1e-12  # floating-point rounding of sums over layers


def residual_block() -> Network:
    """Two 3×3 convolutions with a skip connection: small enough to cross the residency threshold."""
    net = NetworkBuilder("residual", (16, 32, 32))
    skip = net.relu(net.conv2d(net.input, 16, 3, padding=1), inplace=True)
    x = net.conv2d(net.relu(net.conv2d(skip, 16, 3, padding=1), inplace=True), 16, 3, padding=1)
    return net.build([net.relu(net.add_(x, skip), inplace=True)])


@functools.cache
def network(name: str) -> Network:
    return residual_block() if name == "residual" else NETWORKS[name]()


def batches() -> st.SearchStrategy[tuple[int, int]]:
    """Two batch sizes ``b1 < b2``."""
    return st.tuples(st.integers(1, 512), st.integers(1, 512)).filter(lambda b: b[0] != b[1]).map(sorted)


# --- properties -----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(device_name=st.sampled_from(DEVICES), network_name=st.sampled_from(PROPERTY_NETWORKS),
       pair=batches(), data=st.data())
def test_latency_never_decreases_with_batch(device_name, network_name, pair, data):
    device = resolve_device(device_name)
    precision = data.draw(st.sampled_from(device.precisions), label="precision")
    small, large = (simulate(network(network_name), device, batch=b, precision=precision) for b in pair)
    assert large.latency_s >= small.latency_s * (1 - RELATIVE_SLACK)
    if small.micro_batch == small.batch and large.micro_batch == large.batch:  # both run whole
        for before, after in zip(small.layers, large.layers, strict=True):
            assert after.latency_s >= before.latency_s * (1 - RELATIVE_SLACK)  # equal up to the last bits


@PROPERTY_SETTINGS
@given(use_stm32=st.booleans(), network_name=st.sampled_from(PROPERTY_NETWORKS), pair=batches(),
       data=st.data())
def test_throughput_never_decreases_with_batch_without_an_activation_buffer(dram_only_path, use_stm32,
                                                                             network_name, pair, data):
    # stm32f746 keeps activations in its SRAM (the activation store itself): residency is fixed too
    device = resolve_device("stm32f746") if use_stm32 else load_device(dram_only_path)
    assert hardware_arrays(device, ["fp32"]).activation_buffer is None
    precision = data.draw(st.sampled_from(device.precisions), label="precision")
    small, large = (simulate(network(network_name), device, batch=b, precision=precision) for b in pair)
    assert large.throughput_per_s >= small.throughput_per_s * (1 - RELATIVE_SLACK)


def batch_sweep(device: Device, network_name: str, precision: str, largest: int = 512) -> np.ndarray:
    """Network latency at every batch ``1..largest``, in one call of the vectorized kernel."""
    n = np.arange(1.0, largest + 1)
    bits = np.full(len(n), float(bits_of(precision)))
    hardware = hardware_arrays(device, [precision] * len(n))
    timing = roofline_timing(build_workload(network(network_name)), hardware, n, bits, bits)
    return timing.latency_s.sum(axis=1)


@pytest.mark.parametrize("device_name", DEVICES)
def test_latency_never_decreases_with_batch_at_any_batch_up_to_512(device_name):
    device = resolve_device(device_name)
    for network_name in PROPERTY_NETWORKS:
        for precision in device.precisions:
            latency = batch_sweep(device, network_name, precision)
            # equal latencies (a kernel whose waves do not change) may differ in the last bit
            assert np.all(np.diff(latency) >= -1e-12 * latency[1:]), (network_name, precision)


def test_throughput_never_decreases_with_batch_at_any_batch_up_to_512(dram_only_path):
    for device in (load_device(dram_only_path), resolve_device("stm32f746")):
        for network_name in PROPERTY_NETWORKS:
            for precision in device.precisions:
                throughput = np.arange(1, 513) / batch_sweep(device, network_name, precision)
                rounding = RELATIVE_SLACK * throughput[1:]
                assert np.all(np.diff(throughput) >= -rounding), (network_name, precision)


def test_a_batch_that_spills_runs_in_micro_batches_so_throughput_does_not_drop_on_h100():
    # Run whole, a batch of 256 int8 ResNet-50 activations spills out of the 50 MiB L2 to HBM, and the
    # extra traffic outweighs the better reuse of the weights: fewer images per second than batch 16.
    workload = build_workload(network("resnet50"))
    hardware = hardware_arrays(resolve_device("h100-sxm"), ["int8", "int8"], ideal=True)
    n = np.array([16.0, 256.0])
    whole = roofline_timing(workload, hardware, n, np.full(2, 8.0), np.full(2, 8.0)).latency_s.sum(axis=1)
    assert n[1] / whole[1] < n[0] / whole[0]
    # simulate() runs it as passes of a power-of-two micro-batch instead: 256 / m passes of m samples
    large = simulate(network("resnet50"), "h100-sxm", batch=256, precision="int8", ideal=True)
    m = large.micro_batch
    assert m < 256 and 256 % m == 0
    part = simulate(network("resnet50"), "h100-sxm", batch=m, precision="int8", ideal=True)
    assert large.latency_s == pytest.approx(256 / m * part.latency_s, rel=1e-12)
    assert large.latency_s < whole[1]
    small = simulate(network("resnet50"), "h100-sxm", batch=16, precision="int8", ideal=True)
    assert large.throughput_per_s >= small.throughput_per_s * (1 - 1e-12)
    # the weights are read once per pass
    weights = 25_557_032 * 1   # int8 weight bytes (params as trained)
    dram = sum(layer.level_bytes["dram"] for layer in large.layers)
    assert dram >= 256 / m * weights


@PROPERTY_SETTINGS
@given(device_name=st.sampled_from(DEVICES), network_name=st.sampled_from(PROPERTY_NETWORKS),
       batch=st.integers(1, 256), peak_factor=st.floats(1, 100),
       bandwidth_factors=st.lists(st.floats(1, 100), min_size=4, max_size=4),
       capacity_factor=st.floats(1, 1000), data=st.data())
def test_more_peak_bandwidth_or_capacity_is_never_slower(device_name, network_name, batch, peak_factor,
                                                          bandwidth_factors, capacity_factor, data):
    device = resolve_device(device_name)
    precision = data.draw(st.sampled_from(device.precisions), label="precision")
    overrides = {"peak_ops_per_s": np.array([1.0, peak_factor]) * device.peak_for(precision)}
    # the hierarchy must stay ordered (an inner level never slower than the one outside it): an inner
    # level whose drawn factor would leave it below its (faster) outer neighbour is scaled along to
    # match it, so every level still gets at least its drawn factor; one capacity factor for all levels
    # keeps the capacities ordered
    assert len(device.memory_levels) <= len(bandwidth_factors)
    outer_bandwidth = 0.0
    for level, factor in zip(device.memory_levels, bandwidth_factors, strict=False):
        bandwidth, capacity = level.bandwidth_bytes_per_s, level.capacity_bytes
        outer_bandwidth = max(factor * bandwidth, outer_bandwidth)
        overrides[f"{level.name}.bandwidth_bytes_per_s"] = np.array([bandwidth, outer_bandwidth])
        overrides[f"{level.name}.capacity_bytes"] = np.array([1.0, capacity_factor]) * capacity
    hardware = hardware_arrays(device, [precision, precision], overrides)
    bits = np.full(2, float(bits_of(precision)))
    timing = roofline_timing(build_workload(network(network_name)), hardware, np.full(2, float(batch)),
                             bits, bits)
    baseline, faster = timing.latency_s
    assert np.all(faster <= baseline * (1 + RELATIVE_SLACK))
    assert np.all(timing.t_compute_s[1] <= timing.t_compute_s[0] * (1 + RELATIVE_SLACK))
    assert np.all(timing.t_memory_s[1] <= timing.t_memory_s[0] * (1 + RELATIVE_SLACK))


@PROPERTY_SETTINGS
@given(device_name=st.sampled_from(DEVICES), network_name=st.sampled_from(PROPERTY_NETWORKS),
       batch=st.integers(1, 64), data=st.data())
def test_totals_are_sums_over_layers(device_name, network_name, batch, data):
    device = resolve_device(device_name)
    precision = data.draw(st.sampled_from(device.precisions), label="precision")
    result = simulate(network(network_name), device, batch=batch, precision=precision)
    layers = result.layers
    assert result.latency_s == pytest.approx(sum(layer.latency_s for layer in layers))
    assert result.t_compute_s == pytest.approx(sum(layer.t_compute_s for layer in layers))
    assert result.t_memory_s == pytest.approx(sum(layer.t_memory_s for layer in layers))
    assert result.energy_j == pytest.approx(sum(layer.energy_j for layer in layers))
    assert result.energy_j == pytest.approx(sum(result.energy_breakdown_j.values()))
    assert result.counts.macs == sum(layer.macs for layer in layers)
    assert result.throughput_per_s == pytest.approx(batch / result.latency_s)
    assert max(result.t_compute_s, result.t_memory_s) <= result.latency_s * (1 + RELATIVE_SLACK)
    # the roofline bound (no per-kernel overheads): between the larger term and the sum of both
    bound = simulate(network(network_name), device, batch=batch, precision=precision, ideal=True)
    assert bound.latency_s <= (bound.t_compute_s + bound.t_memory_s) * (1 + RELATIVE_SLACK)


# --- every shipped profile ------------------------------------------------------------------------


@pytest.mark.parametrize("device_name", DEVICES)
def test_every_shipped_profile_simulates_at_each_of_its_precisions(device_name):
    device = resolve_device(device_name)
    assert isinstance(device, Device)
    for precision in device.precisions:
        result = simulate(network("resnet18"), device, precision=precision)
        assert result.device == device_name and result.precision == precision
        assert 0 < result.latency_s < math.inf and 0 < result.energy_j < math.inf
        assert result.bound in ("compute", "memory")
        assert {layer.bound for layer in result.layers} <= {"compute", "memory", "none"}


# --- calibration against a published figure -------------------------------------------------------


def test_resnet50_on_orin_is_a_lower_bound_of_mlperf():
    # MLPerf Inference v3.1, edge, closed division, NVIDIA Jetson AGX Orin 64GB (TensorRT, int8):
    # ResNet-50 SingleStream 90th-percentile latency 0.64 ms. The roofline is a lower bound, and
    # should be within a factor of 10 of a well-tuned measurement.
    measured_s = 0.64e-3
    latency_s = simulate("resnet50", "jetson-agx-orin", batch=1, precision="int8", ideal=True).latency_s
    assert measured_s / 10 <= latency_s <= measured_s


# --- API errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_bad_batch_is_rejected(batch):
    with pytest.raises(SimulatorError, match="batch size must be an integer of at least 1"):
        simulate("alexnet", "reference-45nm", batch=batch)


def test_a_precision_the_device_lacks_names_its_precisions():
    with pytest.raises(SimulatorError, match=r"no peak for precision 'fp16'; its precisions: int8, fp32"):
        simulate("alexnet", "stm32f746", precision="fp16")


# --- the CLI --------------------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


COUNT_KEYS = {"params", "macs", "flops", "total_activations", "peak_activations"}
TOTAL_KEYS = COUNT_KEYS | {"model_size_bytes", "t_compute_s", "t_memory_s", "latency_s", "throughput_per_s",
                           "energy_j", "energy_breakdown_j", "bound", "fits",
                           # the expected value and the bound of the same configuration (issue 10)
                           "ideal_latency_s", "latency_model",
                           # the energy's dynamic and static parts and the average power (issue 17)
                           "energy_dynamic_j", "energy_static_j", "static_power_w", "average_power_w",
                           "energy_includes",
                           # the expected value's out-of-sample error on its device class (issue 19)
                           "expected_error_band"}
LAYER_KEYS = {"name", "kind", "macs", "bytes_moved", "arithmetic_intensity", "t_compute_s", "t_memory_s",
              "latency_s", "bound", "energy_j"}
# the brief's keys, plus the two operand precisions (mixed precision), the memory-fit checks, and
# what produced the document (the tool's version, the settings)
TOP_KEYS = {"network", "device", "batch", "precision", "weight_precision", "activation_precision", "totals",
            "memory", "layers", "tool", "settings"}


def test_json_has_the_documented_keys_and_totals_are_sums(capsys):
    code, out, _ = run(capsys, "simulate", "resnet18", "--device", "jetson-agx-orin", "--batch", "4",
                       "--precision", "int8", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert set(document) == TOP_KEYS
    assert (document["network"], document["device"], document["batch"], document["precision"]) == (
        "resnet18", "jetson-agx-orin", 4, "int8")
    totals, layers = document["totals"], document["layers"]
    assert set(totals) == TOTAL_KEYS
    assert all(set(layer) == LAYER_KEYS for layer in layers)
    assert set(totals["energy_breakdown_j"]) == {"compute", "dram", "l2", "register-file", "static"}
    for key in ("macs", "t_compute_s", "t_memory_s", "latency_s", "energy_j"):
        assert totals[key] == pytest.approx(sum(layer[key] for layer in layers)), key
    assert totals["energy_j"] == pytest.approx(sum(totals["energy_breakdown_j"].values()))
    assert totals["throughput_per_s"] == pytest.approx(4 / totals["latency_s"])
    assert totals["fits"] is True and all(check["fits"] for check in document["memory"])
    # the counts are those of `roofline count --fused`: the simulated inference view
    code, out, _ = run(capsys, "count", "resnet18", "--batch", "4", "--fused", "--format", "json")
    assert {key: totals[key] for key in COUNT_KEYS} == json.loads(out)["totals"]
    assert totals["model_size_bytes"] == totals["params"] * 8 / 8


def test_no_fuse_counts_are_those_of_roofline_count(capsys):
    _, out, _ = run(capsys, "simulate", "resnet18", "--device", "reference-45nm", "--no-fuse",
                    "--format", "json")
    totals = json.loads(out)["totals"]
    _, out, _ = run(capsys, "count", "resnet18", "--format", "json")
    assert {key: totals[key] for key in COUNT_KEYS} == json.loads(out)["totals"]
    fused = count_network(inference_view(network("resnet18")))
    assert totals["params"] == fused.params and totals["macs"] == fused.macs


def test_table_output(capsys):
    code, out, _ = run(capsys, "simulate", "alexnet", "--device", "reference-45nm", "--precision", "fp32")
    assert code == 0
    assert "alexnet on reference-45nm, batch 1" in out
    assert "latency" in out and "throughput" in out and "energy" in out
    assert f"({count_network(network('alexnet')).params:,} params)" in out
    assert "WARNING" not in out


def test_csv_output(capsys):
    code, out, _ = run(capsys, "simulate", "mobilenet_v2", "--device", "h100-sxm", "--batch", "8",
                       "--format", "csv")
    assert code == 0
    header, *rows = list(csv.reader(io.StringIO(out.strip())))
    # the configuration on every row, then the per-layer columns; a last row of totals (layer "total")
    assert header == ["network", "device", "batch", "precision", "weight_precision", "activation_precision",
                      "fits", *SIMULATION_COLUMNS]
    assert SIMULATION_COLUMNS == ["layer", "kind", "macs", "bytes_moved", "arithmetic_intensity",
                                  "t_compute_s", "t_memory_s", "latency_s", "bound", "energy_j"]
    result = simulate(network("mobilenet_v2"), "h100-sxm", batch=8)
    *layer_rows, total = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(layer_rows) == len(result.layers)
    assert [row["layer"] for row in layer_rows] == [layer.name for layer in result.layers]
    for row in (*layer_rows, total):
        assert (row["network"], row["device"], row["batch"], row["precision"], row["fits"]) == (
            "mobilenet_v2", "h100-sxm", "8", result.precision, "True")
    assert sum(float(row["latency_s"]) for row in layer_rows) == pytest.approx(result.latency_s)
    assert (total["layer"], total["kind"]) == ("total", "")
    assert float(total["latency_s"]) == pytest.approx(result.latency_s)
    assert int(total["macs"]) == sum(int(row["macs"]) for row in layer_rows)
    assert float(total["bytes_moved"]) == pytest.approx(sum(float(row["bytes_moved"]) for row in layer_rows))
    assert float(total["energy_j"]) == pytest.approx(sum(float(row["energy_j"]) for row in layer_rows))


def test_mixed_precision_and_ideal_flags(capsys):
    code, out, _ = run(capsys, "simulate", "resnet50", "--device", "jetson-agx-orin", "--weight-precision",
                       "int8", "--activation-precision", "fp16", "--ideal", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert (document["precision"], document["weight_precision"], document["activation_precision"]) == (
        "fp16", "int8", "fp16")


def test_a_network_that_does_not_fit_reports_the_numbers(capsys):
    # MobileNetV2 at int8: 3,504,872 weight bytes against the 1 MiB (1,048,576 bytes) Flash of the STM32F746
    code, out, _ = run(capsys, "simulate", "mobilenet_v2", "--device", "stm32f746", "--precision", "int8")
    assert code == 0
    params = count_network(network("mobilenet_v2")).params
    assert params == 3_504_872
    assert f"weights need 3.5 MB ({params * 8 // 8:,} bytes), does NOT fit in flash" in out
    assert f"({2**20:,} bytes)" in out
    assert "WARNING: mobilenet_v2 does not fit on stm32f746" in out
    code, out, _ = run(capsys, "simulate", "mobilenet_v2", "--device", "stm32f746", "--precision", "int8",
                       "--format", "json")
    document = json.loads(out)
    assert document["totals"]["fits"] is False
    flash = next(check for check in document["memory"] if check["level"] == "flash")
    assert (flash["required_bytes"], flash["capacity_bytes"], flash["fits"]) == (params, 2**20, False)


@pytest.mark.parametrize(("argv", "message"), [
    (["simulate", "resnet50", "--device", "jetson-agx-orn"],
     # the MaxQ profile is a close name too (and the Orin NX after it); the closest comes first
     "unknown device 'jetson-agx-orn'; did you mean 'jetson-agx-orin', 'jetson-agx-orin-maxq'"),
    (["simulate", "resnet05", "--device", "jetson-agx-orin"], "unknown network 'resnet05'; did you mean"),
    (["simulate", "alexnet", "--device", "stm32f746", "--precision", "fp16"],
     "device 'stm32f746' has no peak for precision 'fp16'; its precisions: int8, fp32"),
    (["simulate", "alexnet", "--device", "reference-45nm", "--precision", "fp4"], "unknown precision 'fp4'"),
    (["simulate", "alexnet", "--device", "/nonexistent/device.toml"],
     "/nonexistent/device.toml: cannot read file"),
])
def test_errors_exit_2_with_a_clear_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("roofline simulate: error: ")
    assert message in err and "Traceback" not in err


def test_an_invalid_profile_names_the_field(dram_only_path, capsys, tmp_path):
    path = tmp_path / "broken.toml"
    text = dram_only_path.read_text(encoding="utf-8")
    path.write_text(text.replace("bandwidth_gb_per_s = 100", "bandwidth_gb_per_s = -100"), encoding="utf-8")
    code, _, err = run(capsys, "simulate", "alexnet", "--device", str(path))
    assert code == 2
    assert f"{path}: memory[0].bandwidth_gb_per_s" in err


def test_a_profile_path_is_accepted(capsys, dram_only_path):
    code, out, _ = run(capsys, "simulate", "alexnet", "--device", str(dram_only_path), "--format", "json")
    assert code == 0 and json.loads(out)["device"] == "dram-only"


@pytest.mark.parametrize("batch", ["0", "-3", "two"])
def test_bad_batch_exits_non_zero(capsys, batch):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "alexnet", "--device", "reference-45nm", "--batch", batch])
    assert exit_info.value.code != 0
    assert "--batch" in capsys.readouterr().err


def test_list_devices_shows_every_shipped_profile(capsys):
    code, out, _ = run(capsys, "list", "devices")
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines()[2:]}
    assert listed == set(DEVICES)


def test_what_if_overrides_and_per_layer_frame():
    base = simulate("resnet50", "jetson-agx-orin", precision="int8")
    faster = simulate("resnet50", "jetson-agx-orin", precision="int8",
                      overrides={"dram.bandwidth_bytes_per_s": 2 * 204.8e9})
    assert faster.latency_s < base.latency_s
    # bandwidth changes time, not the bytes moved: the dynamic energy stays, the static part follows the time
    assert faster.dynamic_energy_j == base.dynamic_energy_j
    assert faster.static_energy_j / base.static_energy_j == pytest.approx(faster.latency_s / base.latency_s)
    frame = base.layers_frame()
    assert len(frame) == len(base.layers)
    assert frame["latency_s"].sum() == pytest.approx(base.latency_s)
    assert frame["bytes_dram"].sum() == pytest.approx(base.level_bytes()["dram"])
    memory_s = sum(layer.latency_s for layer in base.layers if layer.bound == "memory")
    assert base.memory_bound_fraction == pytest.approx(memory_s / base.latency_s)


def test_default_precision_is_fp16_or_the_devices_first():
    assert simulate("alexnet", "jetson-agx-orin").precision == "fp16"
    device = resolve_device("stm32f746")
    assert "fp16" not in device.precisions
    assert simulate("alexnet", device).precision == device.precisions[0]
