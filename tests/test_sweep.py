"""Tests of simulator.sweeps and ``roofline sweep``: every row equals the single simulation of its
configuration exactly, the product has the right rows and columns, and bad input is refused."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import simulator.sweeps as sweep_module
from simulator.cli import main
from simulator.cli.common import parse_setting
from simulator.cli.sweep import parse_batches
from simulator.errors import SimulatorError, UnknownNameError
from simulator.hardware.device import Device, EfficiencyModel, KernelEfficiency
from simulator.hardware.loader import available_devices, resolve_device
from simulator.precision import bits_of
from simulator.simulation import SimulationResult, simulate
from simulator.sweeps import COLUMNS, sweep
from tests.helpers import (
    BUFFERED_DRAM_BYTES_PER_S,
    BUFFERED_PEAK_OPS_PER_S,
    BUFFERED_SRAM_BYTES,
    BUFFERED_SRAM_BYTES_PER_S,
)

ORIN = "jetson-agx-orin"
STM32 = "stm32f746"


def level_column(name: str) -> str:
    return "energy_" + name.replace("-", "_") + "_j"


def assert_row_is(row: pd.Series, result: SimulationResult) -> None:
    """Every total of ``row`` equals the same quantity of ``result`` exactly (``==`` on floats)."""
    assert (row["network"], row["device"], row["batch"]) == (result.network, result.device, result.batch)
    assert (row["precision"], row["weight_precision"], row["activation_precision"]) == (
        result.precision, result.weight_precision, result.activation_precision)
    assert (row["params"], row["macs"], row["flops"]) == (
        result.counts.params, result.counts.macs, result.counts.flops)
    assert row["model_size_bytes"] == result.model_size_bytes
    # ceil(peak elements x bits / 8), in exact integers
    bits = bits_of(result.activation_precision)
    assert row["peak_activation_bytes"] == -(-result.counts.peak_activations * bits // 8)
    assert row["t_compute_s"] == result.t_compute_s
    assert row["t_memory_s"] == result.t_memory_s
    assert row["latency_s"] == result.latency_s
    assert row["throughput_per_s"] == result.throughput_per_s
    assert row["energy_j"] == result.energy_j
    assert row["energy_per_sample_j"] == result.energy_per_sample_j
    assert row["energy_compute_j"] == result.energy_breakdown_j["compute"]
    for level in result.energy_breakdown_j.keys() - {"compute"}:
        assert row[level_column(level)] == result.energy_breakdown_j[level]
    assert row["bound"] == result.bound
    assert row["fits"] == result.fits
    memory_bound_s = sum(layer.latency_s for layer in result.layers if layer.bound == "memory")
    # Python's sum() compensates its rounding from 3.12 on, numpy's pairwise sum does not: the last bit
    assert row["memory_bound_fraction"] == pytest.approx(memory_bound_s / result.latency_s, rel=1e-12)


def with_changes(device: Device, peak_scale: float = 1.0, **levels: dict[str, float]) -> Device:
    """``device`` with its peaks times ``peak_scale`` and level fields replaced (``dram={...}``)."""
    memory = tuple(lv.model_copy(update=levels.get(lv.name.replace("-", "_"), {}))
                   for lv in device.memory_levels)
    peaks = {p: peak * peak_scale for p, peak in device.peak_ops_per_s.items()}
    return device.model_copy(update={"peak_ops_per_s": peaks, "memory_levels": memory})


def test_rows_equal_simulate_exactly_on_both_sides_of_the_ridge():
    table = sweep(["resnet18", "mobilenet_v2"], [ORIN, STM32], batches=[1, 3, 64],
                  precisions=["int8", "fp32"], resolutions=[None, 160])
    assert len(table) == 2 * 2 * 2 * 3 * 2
    # the sample covers both bounds and both memory verdicts, so the comparison means something
    assert set(table["bound"]) == {"memory", "compute"} and set(table["fits"]) == {True, False}
    for _, row in table.iterrows():
        resolution = None if pd.isna(row["resolution"]) else int(row["resolution"])
        assert_row_is(row, simulate(row["network"], row["device"], batch=int(row["batch"]),
                                    precision=row["precision"], resolution=resolution))


def test_mixed_precision_rows_equal_simulate():
    table = sweep("resnet50", ORIN, batches=[1, 16], precisions=["fp16"], weight_precisions=["int8", "int4"])
    assert list(table["activation_precision"].unique()) == ["fp16"]
    assert set(table["weight_precision"]) == {"int8", "int4"}
    for _, row in table.iterrows():
        assert_row_is(row, simulate("resnet50", ORIN, batch=int(row["batch"]), precision="fp16",
                                    weight_precision=row["weight_precision"]))
    both = sweep("alexnet", STM32, weight_precisions=["int8"], activation_precisions=["int8", "fp32"])
    # arithmetic runs at the wider operand: int8 x fp32 computes in fp32
    assert list(both["precision"]) == ["int8", "fp32"]


def test_override_rows_equal_simulate_on_a_modified_device():
    orin = resolve_device(ORIN)
    dram = orin.level("dram")
    # Orin's L2 and register file are both 4 MiB: an L2 below that needs a register file no larger
    # (overrides are validated like a profile); DRAM x3 (614 GB/s) stays below the L2's 986 GB/s
    overrides = {"peak_scale": [0.25, 1.7], "dram.bandwidth_scale": [0.5, 3.0],
                 "l2.capacity_bytes": [2**19, 3 * 2**20 + 0.5], "register-file.energy_per_byte_pj": [0.1],
                 "register-file.capacity_bytes": [2**18]}
    table = sweep("resnet50", ORIN, batches=[1, 32], precisions=["fp16", "int8"], overrides=overrides)
    assert len(table) == 2 * 2 * 2 * 2 * 2 * 1 * 1
    assert {"peak_scale", "dram.bandwidth_scale", "l2.capacity_bytes"} <= set(table.columns)
    for _, row in table.iterrows():
        device = with_changes(
            orin, peak_scale=row["peak_scale"],
            dram={"bandwidth_bytes_per_s": dram.bandwidth_bytes_per_s * row["dram.bandwidth_scale"]},
            # capacities are whole bytes: 3 MiB + 0.5 is rounded down
            l2={"capacity_bytes": math.floor(row["l2.capacity_bytes"])},
            # 0.1 pJ per byte: one 8-bit access of 0.1 pJ
            register_file={"energy_per_access_pj": 0.1, "access_bits": 8, "capacity_bytes": 2**18})
        assert_row_is(row, simulate("resnet50", device, batch=int(row["batch"]), precision=row["precision"]))
    assert set(table["bound"]) == {"memory", "compute"}


def test_capacity_scale_is_rounded_down_to_whole_bytes():
    orin = resolve_device(ORIN)
    # 0.3 x 4 MiB = 1,258,291.2 bytes; the register file (also 4 MiB) is scaled to 0.25 (1 MiB) so the
    # L2 is never smaller than the level inside it
    table = sweep("resnet18", orin, batches=[8],
                  overrides={"l2.capacity_scale": [0.3, 1.0], "register-file.capacity_scale": [0.25]})
    assert len(table) == 2
    for _, row in table.iterrows():
        capacity_bytes = math.floor(orin.level("l2").capacity_bytes * row["l2.capacity_scale"])
        assert capacity_bytes in (1_258_291, 4 * 2**20)
        device = with_changes(orin, l2={"capacity_bytes": capacity_bytes},
                              register_file={"capacity_bytes": 2**20})
        assert_row_is(row, simulate("resnet18", device, batch=8))


def test_absolute_peak_and_scale_combine_absolute_first():
    # peak_ops_per_s sets the peak at every precision, peak_scale then multiplies it
    table = sweep("alexnet", ORIN, precisions=["fp16", "int8"],
                  overrides={"peak_scale": [2.0], "peak_ops_per_s": [10e12]})
    device = with_changes(resolve_device(ORIN))
    device = device.model_copy(update={"peak_ops_per_s": {p: 10e12 * 2.0 for p in device.precisions}})
    for _, row in table.iterrows():
        assert_row_is(row, simulate("alexnet", device, precision=row["precision"]))


def test_a_profile_written_to_disk_matches_the_friendly_cli_value(tmp_path: Path):
    text = available_devices()[ORIN].read_text(encoding="utf-8")
    assert "bandwidth_gb_per_s = 204.8" in text
    path = tmp_path / "orin-slow.toml"
    path.write_text(text.replace("bandwidth_gb_per_s = 204.8", "bandwidth_gb_per_s = 51.2"), encoding="utf-8")
    key, values = parse_setting("dram.bandwidth_gb_per_s=51.2")
    assert (key, values) == ("dram.bandwidth_bytes_per_s", [51.2e9])
    row = sweep("resnet50", ORIN, batches=[4], overrides={key: values}).iloc[0]
    assert_row_is(row, simulate("resnet50", str(path), batch=4))
    assert_row_is(sweep("resnet50", path, batches=[4]).iloc[0], simulate("resnet50", str(path), batch=4))


@pytest.mark.parametrize("ideal", [False, True])
def test_efficiency_model_and_ideal_match_simulate(ideal: bool):
    model = EfficiencyModel(source="test", classes={
        "conv": KernelEfficiency(compute_fraction=0.6, bandwidth_fraction=0.8, overhead_s=4e-6),
        "default": KernelEfficiency(compute_fraction=0.9, bandwidth_fraction=0.7, overhead_s=2e-6)})
    device = resolve_device(ORIN).model_copy(update={"efficiency": model})
    table = sweep("resnet18", device, batches=[1, 128], overrides={"dram.bandwidth_scale": [1.0, 2.0]},
                  ideal=ideal)
    for _, row in table.iterrows():
        bandwidth_bytes_per_s = device.level("dram").bandwidth_bytes_per_s * row["dram.bandwidth_scale"]
        scaled = with_changes(device, dram={"bandwidth_bytes_per_s": bandwidth_bytes_per_s})
        assert_row_is(row, simulate("resnet18", scaled, batch=int(row["batch"]), ideal=ideal))


def test_row_count_is_the_product_and_the_last_axis_varies_fastest():
    axes = {"batches": [1, 2, 4], "precisions": ["fp16", "int8"], "resolutions": [None, 160]}
    overrides = {"peak_scale": [1, 2, 3], "dram.bandwidth_scale": [1, 2]}
    table = sweep(["alexnet", "resnet18"], ["h100-sxm", "a100-sxm-80gb"], overrides=overrides, **axes)
    assert len(table) == 2 * 2 * 2 * 3 * 2 * 3 * 2
    block = table[(table["network"] == "alexnet") & (table["resolution"] == 224)
                  & (table["device"] == "h100-sxm")]
    expected = list(itertools.product([1, 2, 4], ["fp16", "int8"], [1, 2, 3], [1, 2]))
    got = list(zip(block["batch"], block["precision"], block["peak_scale"], block["dram.bandwidth_scale"],
                   strict=True))
    assert got == expected


def test_columns_carry_units_and_energy_parts_add_up():
    table = sweep(["alexnet"], [ORIN, STM32], precisions=["int8"])
    for column in COLUMNS:
        assert column in table.columns
    # level energies of both devices; NaN on the device without that level
    levels = {"energy_dram_j", "energy_l2_j", "energy_register_file_j", "energy_flash_j", "energy_sram_j"}
    assert levels <= set(table.columns)
    assert table.loc[table["device"] == STM32, "energy_dram_j"].isna().all()
    unitless = {"network", "device", "input_shape", "resolution", "batch", "precision", "weight_precision",
                "activation_precision", "params", "macs", "flops", "bound", "fits", "memory_bound_fraction",
                "micro_batch"}
    for column in set(table.columns) - unitless:
        assert column.endswith(("_s", "_j", "_bytes")), column
    for _, row in table.iterrows():
        device = resolve_device(row["device"])
        total = row["energy_compute_j"]  # compute, then each level from the outermost: simulate's order
        for level in device.memory_levels:
            total += row[level_column(level.name)]
        total += row["energy_static_j"]  # then static power x latency, last
        assert total == row["energy_j"]


def test_chunked_evaluation_gives_the_same_table(monkeypatch: pytest.MonkeyPatch):
    arguments = dict(networks=["resnet18"], devices=[ORIN], batches=[1, 2, 4, 8, 16],
                     precisions=["fp16", "int8"], overrides={"dram.bandwidth_scale": [0.5, 1, 2]})
    whole = sweep(**arguments)
    monkeypatch.setattr(sweep_module, "MAX_CHUNK_ELEMENTS", 1000)  # a few configurations per chunk
    pd.testing.assert_frame_equal(sweep(**arguments), whole, check_exact=True)


def test_progress_goes_to_a_callback_and_the_library_prints_nothing(capsys: pytest.CaptureFixture[str]):
    reports = []
    sweep("alexnet", [ORIN, "h100-sxm"], batches=[1, 2, 4], progress=reports.append)
    assert capsys.readouterr() == ("", "")  # issue 12: library code prints nothing
    assert [(r.done, r.total) for r in reports] == [(3, 6), (6, 6)]
    assert reports[0].label == f"alexnet on {ORIN}" and reports[1].label == "alexnet on h100-sxm"
    with pytest.raises(SimulatorError, match="progress takes a callable"):
        sweep("alexnet", ORIN, progress=True)


def test_unsupported_precision_raises_or_is_skipped():
    with pytest.raises(SimulatorError, match=r"stm32f746.*no peak for precision 'fp16'.*int8, fp32"):
        sweep("alexnet", [ORIN, STM32], precisions=["fp16", "int8"])
    table = sweep("alexnet", [ORIN, STM32], precisions=["fp16", "int8"], skip_unsupported=True)
    # Orin runs both precisions, the STM32 only int8
    assert len(table) == 2 + 1
    assert list(table.loc[table["device"] == STM32, "precision"]) == ["int8"]
    empty = sweep("alexnet", STM32, precisions=["fp16"], skip_unsupported=True)
    assert len(empty) == 0 and set(COLUMNS) <= set(empty.columns)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"dram.speed": [1]}, r"unknown override 'dram.speed'; accepted keys: peak_ops_per_s, peak_scale, "
                          r"<level>.bandwidth_bytes_per_s"),
    ({"bandwidth_scale": [1]}, r"unknown override 'bandwidth_scale'"),
    ({"hbm.bandwidth_scale": [2]}, r"no level 'hbm'; its levels: dram, l2, register-file"),
    ({"peak_scale": [0]}, r"'peak_scale' needs one or more finite numbers greater than 0, got \[0\]"),
    ({"peak_scale": [1, float("nan")]}, r"finite numbers greater than 0"),
    ({"dram.capacity_bytes": []}, r"'dram.capacity_bytes' needs one or more"),
    ({"dram.bandwidth_scale": [1], "DRAM.bandwidth_scale": [2]}, r"same field as 'dram.bandwidth_scale'"),
])
def test_bad_overrides_name_the_key_and_the_valid_choices(overrides, message):
    with pytest.raises(SimulatorError, match=message):
        sweep("alexnet", ORIN, overrides=overrides)


def test_bad_axes_are_refused():
    with pytest.raises(SimulatorError, match=r"batch sizes must be integers of at least 1, got \[1, 0\]"):
        sweep("alexnet", ORIN, batches=[1, 0])
    with pytest.raises(UnknownNameError, match="unknown precision 'int2'"):
        sweep("alexnet", ORIN, precisions=["int2"])
    with pytest.raises(SimulatorError, match="precisions has no effect"):
        sweep("alexnet", ORIN, precisions=["fp16", "int8"], weight_precisions=["int8"],
              activation_precisions=["int8"])
    with pytest.raises(UnknownNameError, match="unknown device"):
        sweep("alexnet", "orin")
    from simulator.catalog import build_network

    with pytest.raises(SimulatorError, match="applies to networks given by name"):
        sweep(build_network("alexnet"), ORIN, resolutions=[160])


def test_batch_ranges_double_up_to_the_end():
    assert parse_batches("1..1024") == [2**k for k in range(11)]
    assert parse_batches("3..100") == [3, 6, 12, 24, 48, 96]
    assert parse_batches("1..8,12,8") == [1, 2, 4, 8, 12]
    for bad in ("8..1", "0", "two", "1..x", ""):
        with pytest.raises(SimulatorError):
            parse_batches(bad)


@pytest.mark.parametrize(("text", "expected"), [
    ("peak_tera_ops_per_s=42.5,85", ("peak_ops_per_s", [42.5e12, 85e12])),
    ("sram.capacity_kib=320", ("sram.capacity_bytes", [320 * 2**10])),
    ("l2.capacity_mib=4", ("l2.capacity_bytes", [4 * 2**20])),
    ("dram.bandwidth_scale=0.5,2", ("dram.bandwidth_scale", [0.5, 2.0])),
    ("peak_scale=3", ("peak_scale", [3.0])),
])
def test_friendly_units_become_si(text, expected):
    assert parse_setting(text) == expected


@pytest.mark.parametrize("text", ["dram.speed_gb=1", "peak=1", "dram.bandwidth_gb_per_s", "peak_scale=0",
                                  "peak_scale=x"])
def test_bad_settings_are_refused(text):
    with pytest.raises(SimulatorError):
        parse_setting(text)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("suffix", "read"), [
    (".csv", pd.read_csv), (".jsonl", lambda p: pd.read_json(p, lines=True)), (".json", pd.read_json)])
def test_cli_writes_a_file_pandas_reads_back(tmp_path: Path, capsys, suffix, read):
    path = tmp_path / f"results{suffix}"
    code, _, err = run(capsys, "sweep", "alexnet", "resnet18", "--device", ORIN, "h100-sxm",
                       "--batch", "1..8", "--precision", "fp16,int8",
                       "--set", "dram.bandwidth_gb_per_s=100,200,400", "--set", "peak_scale=1,2",
                       "-o", str(path))
    assert code == 0 and "wrote 192 configurations" in err
    table = read(path)
    assert len(table) == 2 * 2 * 4 * 2 * 3 * 2  # networks x devices x batches x precisions x overrides
    assert {"dram.bandwidth_bytes_per_s", "peak_scale", "latency_s", "energy_j"} <= set(table.columns)
    assert sorted(table["dram.bandwidth_bytes_per_s"].unique()) == [100e9, 200e9, 400e9]
    assert sorted(table["batch"].unique()) == [1, 2, 4, 8]


def test_cli_json_writes_null_for_a_missing_level(tmp_path: Path, capsys):
    path = tmp_path / "mixed.jsonl"
    code, _, _ = run(capsys, "sweep", "alexnet", "--device", f"{ORIN},{STM32}", "--precision", "int8",
                     "-o", str(path))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert code == 0 and len(records) == 2
    assert records[1]["device"] == STM32 and records[1]["energy_dram_j"] is None


def test_cli_prints_a_table_without_output(capsys):
    code, out, _ = run(capsys, "sweep", "alexnet", "--device", ORIN, "--batch", "1,4",
                       "--set", "l2.capacity_scale=1")
    assert code == 0
    assert "latency" in out and "l2.capacity_scale" in out and out.rstrip().endswith("2 configurations")


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "dram.speed=1"], "unknown --set key 'dram.speed'; accepted: peak_ops_per_s"),
    (["--set", "hbm.bandwidth_gb_per_s=1"], "no level 'hbm'"),
    (["--precision", "fp16", "--device", STM32], "no peak for precision 'fp16'"),
    (["-o", "results.xlsx"], "use a file name ending in .csv, .json, .jsonl"),
    (["--batch", "0..4"], "--batch must be integers of at least 1"),
    (["--set", "peak_scale=1", "--set", "peak_scale=2"], "sets 'peak_scale' a second time"),
])
def test_cli_errors_exit_2_with_the_reason(capsys, argv, message):
    code, _, err = run(capsys, "sweep", "alexnet", "--device", ORIN, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_the_resolution_column_is_the_effective_one_for_a_default_square_input():
    # resnet18's default input is 3x224x224 (torchvision); ds_cnn_kws's is 1x49x10 (MFCC frames x bins)
    table = sweep(["resnet18", "ds_cnn_kws"], [ORIN], precisions=["int8"])
    by_network = table.set_index("network")["resolution"]
    assert by_network["resnet18"] == 224
    assert pd.isna(by_network["ds_cnn_kws"])
    assert sweep(["resnet18"], [ORIN], resolutions=[160])["resolution"].tolist() == [160]


def test_without_precisions_each_device_runs_its_own_default_as_simulate_does():
    # the profiles: Orin has an fp16 peak; the L4R5 board only int8 (hardware_profiles/*.toml)
    table = sweep("resnet8_cifar10", ["nucleo-l4r5zi", ORIN], batches=(1, 2))
    assert list(zip(table.device, table.precision, table.batch, strict=True)) == [
        ("nucleo-l4r5zi", "int8", 1), ("nucleo-l4r5zi", "int8", 2), (ORIN, "fp16", 1), (ORIN, "fp16", 2)]
    for row in table.itertuples():
        assert row.latency_s == simulate("resnet8_cifar10", row.device, batch=row.batch).latency_s


def test_the_cli_sweep_of_an_int8_only_device_needs_no_precision(capsys):
    assert main(["sweep", "ds_cnn_kws", "--device", "nucleo-l4r5zi", "nucleo-l4r5zi@x-cube-ai-9.0"]) == 0
    out = capsys.readouterr().out
    assert out.count(" int8 ") == 2 and "nucleo-l4r5zi@x-cube-ai-9.0" in out


# Micro-batching within a sweep of several configurations. Two bias-free D -> D linears over T tokens
# (T = 256, D = 64, fp32) on a device with a 1 MiB SRAM for activations (the setup of
# tests/engine/test_mutation_kills_engine_batches.py, whose docstring derives it): the intermediate
# stays in the SRAM for passes of p <= 8 samples (p x 2·T·D x 4 bytes <= 1 MiB). Per pass of p
# samples each layer moves W + A (+ A more when the intermediate spills) through the DRAM, with
# W = D·D·4 weight bytes and A = p·T·D·4 bytes, 2A through the SRAM, and p·2·T·D·D ops; a batch of
# n in passes of m (q = n // m, plus one of n - q·m) takes q·t(m) + t(n - q·m), the fastest of m = n
# and the powers of two below it. Each row's plan is its own: the leftover pass of one
# configuration never counts in another's.
T, D = 256, 64
PEAK_OPS_PER_S, DRAM_BYTES_PER_S, SRAM_BYTES_PER_S, SRAM_BYTES = (
    BUFFERED_PEAK_OPS_PER_S, BUFFERED_DRAM_BYTES_PER_S, BUFFERED_SRAM_BYTES_PER_S, BUFFERED_SRAM_BYTES)


def _pass_latency_s(p: int) -> float:
    if p == 0:
        return 0.0
    a = p * T * D * 4
    dram = D * D * 4 + a + (a if p * 2 * T * D * 4 > SRAM_BYTES else 0)
    return 2 * max(p * 2 * T * D * D / PEAK_OPS_PER_S, dram / DRAM_BYTES_PER_S, 2 * a / SRAM_BYTES_PER_S)


def _plan_latency_s(n: int) -> tuple[int, float]:
    """(micro-batch, latency) of the fastest plan for a batch of ``n``, by the formula above."""
    plans = [(m, n // m * _pass_latency_s(m) + _pass_latency_s(n - n // m * m))
             for m in [n] + [2**j for j in range(n.bit_length()) if 2**j < n]]
    return min(plans, key=lambda plan: plan[1])


def test_each_row_of_a_micro_batched_sweep_has_its_own_plan(buffered_device):
    from simulator.model.graph import NetworkBuilder

    net = NetworkBuilder("two-linears", (T, D))
    net.linear(net.linear(net.input, D, bias=False), D, bias=False)
    network = net.build()
    device = buffered_device
    batches = [12, 13, 20, 28, 4, 16]  # 8 + 4, 8 + 5, 2 x 8 + 4, 3 x 8 + 4: leftover passes in four rows
    assert [_plan_latency_s(n)[0] for n in batches] == [8, 8, 8, 8, 4, 8]
    table = sweep(network, device, batches=batches, precisions=["fp32"], ideal=True)
    for n, row in zip(batches, table.itertuples(), strict=True):
        micro, latency_s = _plan_latency_s(n)
        assert (row.batch, row.micro_batch) == (n, micro)
        assert row.latency_s == pytest.approx(latency_s, rel=1e-12)
        single = simulate(network, device, batch=n, precision="fp32", ideal=True)
        assert row.latency_s == single.latency_s and row.energy_j == single.energy_j
