"""Cross-validation of the expected model (simulator.calibration.crossval): the fast per-row model
against simulate(), a fit that recovers figures set by hand, held-out rows that never reach their
fold's fit, the fold rules by hand, the CLI, and the generated out-of-sample document."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator.accuracy import load_measurements, parse_params, row_sequence_lengths
from simulator.calibration import crossval, host_transfer
from simulator.calibration.cv_energy import with_energy_lines
from simulator.calibration.cv_fit import Fit, fit_family
from simulator.calibration.cv_llm import COMPUTE_GRID, GEMV_GRID, llm_case, predict_llm, with_llm_figures
from simulator.calibration.cv_model import FAMILIES, Parameter, efficiency_model, family_of, stack
from simulator.calibration.folds import before_split, network_family, published
from simulator.catalog import resolve_network
from simulator.cli import main
from simulator.hardware.loader import resolve_device
from simulator.llm.inference import simulate_llm
from simulator.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset():
    rows = load_measurements()
    return rows, {row["id"]: row for row in rows}


@pytest.fixture(scope="module")
def mcu_cases(dataset):
    """The microcontroller rows in scope, built once (they build in well under a second)."""
    rows, _ = dataset
    selected = crossval.scope(row for row in rows if row["table"] == "mcu")
    return crossval.build_cases(selected), {row["id"]: row for row, _ in selected.rows}


def _row(dataset, row_id):
    return dataset[1][row_id]


#: the EfficientViT README's B1 at 224x224, batch 1, fp16 on Orin ("data transfer time included"): one
#: copy in (3x224x224 fp16 elements) and one out (1000 logits), each a 10 us call and synchronization,
#: over Orin's LPDDR5 copy rate (80 GB/s taken)
ORIN_B1_HOST_S = 2 * 10e-6 + (3 * 224 * 224 + 1000) * 2 / 80e9


@pytest.mark.parametrize("row_id, values, tile, buffer, host_s", [
    # a GEMM-heavy A100 row and an Orin row with depthwise kernels (the memory-bound share), at
    # figures that are not the shipped ones, and an MCU row (its board's derived per-core fractions)
    ("mlperf-v3.0-a100-sxm-80gb-x1-resnet50-multistream",
     {"kernel_overhead_s": 7e-6, "conv_overhead_s": 2e-6, "compute_fraction": 0.5}, 2048, 0.25, 0.0),
    ("efficientvit-cls-jetson-agx-orin-efficientvit_b1-224x224-b1",
     {"kernel_overhead_s": 4e-6, "compute_fraction": 0.7, "bandwidth_fraction": 0.3}, 4096, 0.125,
     ORIN_B1_HOST_S),
    ("mlperf-v3.0-jetson-agx-orin-maxq-resnet50-singlestream",
     {"kernel_overhead_s": 4e-6, "compute_fraction": 0.7, "bandwidth_fraction": 0.3}, 1024, 1.0, 0.0),
    ("mlperf-tiny-v1.0-nucleo-l4r5zi-ds_cnn_kws-x-cube-ai730-latency",
     {"kernel_share": 0.45}, None, None, 0.0),
    # MLPerf BERT-99 runs SQuAD v1.1's lengths with the padding removed on TensorRT, as the shipped
    # prediction does (simulator.accuracy.row_sequence_lengths), not 384 padded tokens
    ("mlperf-v3.0-a100-sxm-80gb-x1-bert_large-singlestream-nvidia_dgx_a100_a100_sxm_80gbx1_trt",
     {"kernel_overhead_s": 6e-6, "conv_overhead_s": 2e-6, "compute_fraction": 0.55}, 1024, 1.0, 0.0),
])
def test_the_cached_row_model_equals_simulate_with_the_same_figures(dataset, row_id, values, tile, buffer,
                                                                    host_s):
    """Two paths, one answer: the fit's vectorized model of a row and simulate() on a device whose
    [efficiency] holds the same figures (MaxQ's per-kernel overhead scaled by the clocks' ratio), plus
    the host copies where the row's conditions include them (by hand above)."""
    row = _row(dataset, row_id)
    (case,) = crossval.build_cases(crossval.Scope(((row, None),), {}))
    fast = float(Fit("t", values, tile, buffer, 0.0, ()).predict(stack([case]))[0])
    device = resolve_device(row["device"])
    model = efficiency_model(family_of(row["device"]), values, tile, buffer, device, row["precision"])
    params = parse_params(row.get("params", "")) | row_sequence_lengths(row)
    resolution = params.pop("resolution", None)
    result = simulate(row["network"], device.model_copy(update={"efficiency": model}),
                      batch=int(row["batch"]), precision=row["precision"], resolution=resolution,
                      params=params, micro_batching=False)
    latency_s = result.latency_s + host_s
    slow = latency_s if row["metric"] == "latency_s" else int(row["batch"]) / latency_s
    assert fast == pytest.approx(slow, rel=1e-9)


def test_maxq_pays_the_per_kernel_overhead_in_gpu_cycles():
    """MaxQ runs the GPU at 624.75 MHz against MAXN's 1300 MHz (the profiles' sources): the same
    per-kernel cycles take 1300 / 624.75 as long."""
    family = family_of("jetson-agx-orin-maxq")
    model = efficiency_model(family, {"kernel_overhead_s": 6e-6, "compute_fraction": 0.7,
                                      "bandwidth_fraction": 0.3}, 1024, 1.0,
                             resolve_device("jetson-agx-orin-maxq"), "int8")
    assert model.kernel_overhead_s == pytest.approx(6e-6 * 1300 / 624.75, rel=1e-3)


def test_a_fit_recovers_figures_set_by_hand(mcu_cases):
    """Rows whose 'measured' values the model computes at chosen figures: the fit finds those figures
    again."""
    cases, _ = mcu_cases
    base = [c for c in cases if c.device == "nucleo-l4r5zi" and all(s is None for s in c.scales)]
    truth = {"kernel_share": 0.5}
    synthetic = Fit("t", truth, None, None, 0.0, ()).predict(stack(base))
    fitted = fit_family([dataclasses.replace(c, measured=float(v))
                         for c, v in zip(base, synthetic, strict=True)])
    # one board: its rows fix the product of the family's share and the board's factor (the weak prior
    # splits it between them); within 0.1%: the prior pulls by about 0.01%
    product = fitted.values["kernel_share"] * fitted.values["device:nucleo-l4r5zi"]
    assert product == pytest.approx(truth["kernel_share"], rel=1e-3)


def test_every_figure_stays_in_its_stated_range():
    """A parameter's coordinate maps into [low, high] whatever the search tries."""
    for family in FAMILIES:
        for parameter in family.parameters:
            for z in (-1e6, -30.0, 0.0, 30.0, 1e6):
                assert parameter.low <= parameter.value(z) <= parameter.high
            back = parameter.value(parameter.coordinate(parameter.default))
            assert back == pytest.approx(parameter.default)
    log = Parameter("x", "s", 1e-6, 1e-4, 1e-5, log=True)
    assert log.value(0.0) == pytest.approx(1e-5)  # the geometric middle of the range


@pytest.mark.parametrize("protocol, held_out", [
    ("leave-one-device-out", lambda row: row["device"] == "nucleo-u575zi-q"),
    ("leave-one-family-out", lambda row: network_family(row["network"]) == "MobileNet"),
    ("time-split", lambda row: before_split(row) is False),
])
def test_a_held_out_row_never_reaches_its_folds_fit(mcu_cases, protocol, held_out):
    """Making the held-out rows' measured values absurd (x1000) leaves their predictions unchanged
    under the protocol, while the in-sample prediction, which fits them, moves."""
    cases, rows = mcu_cases
    hidden = {c.id for c in cases if held_out(rows[c.id])}
    assert hidden
    absurd = [dataclasses.replace(c, measured=c.measured * 1000) if c.id in hidden else c for c in cases]
    before = crossval.cross_validate(cases, rows, [protocol, "in-sample"])
    after = crossval.cross_validate(absurd, rows, [protocol, "in-sample"])
    for row_id in hidden:
        assert after[protocol][row_id] == before[protocol][row_id]
    assert any(not math.isclose(after["in-sample"][i], before["in-sample"][i], rel_tol=1e-3) for i in hidden)


def test_leave_one_device_out_tests_each_row_once_without_its_device_in_training(mcu_cases):
    cases, rows = mcu_cases
    tested = []
    for train, test in crossval.folds("leave-one-device-out", cases, rows):
        assert {c.device for c in test}.isdisjoint(c.device for c in train)
        tested += [c.id for c in test]
    assert sorted(tested) == sorted(c.id for c in cases)


@pytest.mark.parametrize("network, family", [
    ("resnet50", "ResNet"), ("resnet8_cifar10", "ResNet"), ("mobilenet_v1_025_vww", "MobileNet"),
    ("efficientvit_b1", "EfficientViT"), ("efficientvit_seg_l2", "EfficientViT"),
    ("efficientvit_sam_xl1", "SAM"), ("segformer_b5", "SegFormer"), ("bert_large", "BERT"),
    ("mcunet_in3", "MCUNet"), ("ds_cnn_kws", "MLPerf Tiny (DS-CNN, autoencoder)"),
    ("fc_autoencoder_ad", "MLPerf Tiny (DS-CNN, autoencoder)"), ("llama_2_70b", "Llama 2"),
    ("llama_3_8b", "Llama 3"), ("alexnet", "alexnet"),
])
def test_network_family_rule(network, family):
    assert network_family(network) == family


@pytest.mark.parametrize("source, version, month", [
    # MLPerf Inference v3.0 was published in April 2023, v4.1 in August 2024; MLPerf Tiny v1.2 in
    # April 2024; TensorRT-LLM 0.5.0 in October 2023; a README at a commit has no date here
    ("mlcommons/inference_results_v3.0@1948f9b:closed/NVIDIA/results/Orin_TRT/resnet50", "", "2023-04"),
    ("mlcommons/inference_results_v4.1@abc:closed/NVIDIA/results/H200", "", "2024-08"),
    ("mlcommons/tiny_results_v1.2@abc:closed/STMicroelectronics", "", "2024-04"),
    ("mlcommons/tiny_results_v1.0@abc:closed/STMicroelectronics", "", "2022-04"),
    ("NVIDIA/TensorRT-LLM/docs/source/performance.md@138f96d", "0.5", "2023-10"),
    ("mit-han-lab/efficientvit, README.md @ 1234", "", None),
])
def test_publication_date_rule(source, version, month):
    row = {"source": source, "runtime_version": version}
    assert published(row) == month
    assert before_split(row) == (None if month is None else month < "2024-01")


def test_the_dataset_rows_get_their_dates(dataset):
    rows, _ = dataset
    by_prefix = {row["id"]: published(row) for row in rows}
    assert by_prefix["mlperf-v3.0-jetson-agx-orin-x1-resnet50-singlestream"] == "2023-04"
    assert published(_row(dataset, "llm-001")) == "2023-12"  # TensorRT-LLM 0.6.1's table
    assert all(published(row) is None for row in rows if row["id"].startswith(("trt-bert", "efficientvit")))


def test_cli_protocol_needs_cv_and_an_unknown_device_is_one_line(capsys):
    assert main(["accuracy", "--protocol", "in-sample"]) == 2
    err = capsys.readouterr().err
    assert "--protocol needs --cv" in err and len(err.strip().splitlines()) == 1
    assert main(["accuracy", "--cv", "--table", "mcu", "--device", "nucleo-f999"]) == 2
    err = capsys.readouterr().err
    assert "nucleo-f999" in err and "nucleo-l4r5zi" in err and len(err.strip().splitlines()) == 1


def test_cli_cv_json_names_each_protocol_and_what_was_left_out(capsys):
    assert main(["accuracy", "--cv", "--table", "mcu", "--device", "stm32h743", "--protocol",
                 "leave-one-device-out", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lines = out["summary"]
    # every class line is kept, the microcontroller energy rows' (simulator.calibration.cv_energy) too
    assert {line["name"] for line in lines} == {"microcontroller", "microcontroller energy", "stm32h743"}
    assert {line["protocol"] for line in lines} == {"leave-one-device-out"}
    assert all(line["out_of_sample"] for line in lines)
    # the STM32H743's 18 rows: 5 TinyEngine, 4 CMSIS-NN, 4 TF-Lite Micro (runtime files) and 5 X-CUBE-AI
    assert next(line["n"] for line in lines if line["name"] == "stm32h743") == 18
    assert out["not_cross_validated"]["energy_per_sample_j row (latency and throughput only)"] > 0


@pytest.mark.once_per_ci
def test_out_of_sample_document_and_readme_hold_the_generators_figures():
    """docs/out_of_sample.md and the README's out-of-sample block hold the figures the
    cross-validation gives now. Reduced for CI: the GPU and microcontroller tables only (a family's
    fits see only its own rows, so their lines are the same as in the full run); the LLM lines are
    checked by regenerating: python tools/update_readme_accuracy.py (about 20 s on 2 cores)."""
    rows = [row for row in load_measurements() if row["table"] in ("gpu", "mcu")]
    table, selected = crossval.run(rows, extra=with_energy_lines)
    stale = "out of date: regenerate with `python tools/update_readme_accuracy.py`"
    document = (ROOT / "docs" / "out_of_sample.md").read_text(encoding="utf-8")
    lines = [line for line in crossval.format_markdown(table, selected).splitlines() if line.startswith("| ")]
    assert len(lines) > 20 and all(line in document for line in lines), f"docs/out_of_sample.md is {stale}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = crossval.README_MARKERS
    block = readme.split(start, 1)[1].split(end, 1)[0]
    classes = crossval.readme_block(table[table.scope == "class"]).splitlines()
    assert all(line in block for line in classes if line.startswith("| **")), f"the README is {stale}"
    assert "| **LLM** |" in block and "leave-one-device-out" in block
    assert np.isfinite(table.median_abs_error).all()


@pytest.fixture(scope="module")
def llm_rows(dataset):
    return [row for row in dataset[0] if row["table"] == "llm"]


@pytest.mark.parametrize("row_id, values", [
    # a TTFT row on four H100s (all-reduces), and Orin's batch-1 decode (GEMV and compute shares at grid
    # values: between them the cached time is interpolated)
    ("llm-018", {"step_overhead_s": 2e-3, "allreduce_overhead_s": 40e-6,
                 "gemv_bandwidth_fraction": GEMV_GRID[-1], "llm_compute_fraction": COMPUTE_GRID[2]}),
    ("llm-027", {"step_overhead_s": 1e-3, "gemv_bandwidth_fraction": GEMV_GRID[3],
                 "llm_compute_fraction": COMPUTE_GRID[3]}),
])
def test_the_cached_llm_row_equals_simulate_llm_with_the_same_terms(llm_rows, row_id, values):
    """The step and all-reduce costs enter a row's time linearly, as the cached case assumes: its
    prediction equals simulate_llm on a profile holding the same terms."""
    (row,) = [r for r in llm_rows if r["id"] == row_id]
    fast = predict_llm([llm_case(row)], values)[0]
    base = resolve_device(row["device"])
    terms = {key: values[key] for key in ("step_overhead_s", "gemv_bandwidth_fraction",
                                          "llm_compute_fraction")}
    device = base.model_copy(update={"efficiency": with_llm_figures(base.efficiency, terms)})
    if "allreduce_overhead_s" in values:
        device = device.model_copy(update={"interconnect": base.interconnect.model_copy(
            update={"allreduce_overhead_s": values["allreduce_overhead_s"]})})
    result = simulate_llm(row["network"], device, int(row["batch"]), int(row["input_len"]),
                          int(row["output_len"]), int(row["tp"]), 1, row["weight_precision"],
                          row["activation_precision"], row["kv_precision"])
    assert fast == pytest.approx(float(result.metrics[row["metric"]][0]), rel=1e-9)


def test_an_llm_device_held_out_never_reaches_its_folds_fit(llm_rows):
    """TensorRT-LLM's TTFT rows: the H100's predictions under leave-one-device-out come from the A100
    rows alone, whatever the H100 rows say."""
    picked = [r for r in llm_rows if r["metric"] == "ttft_s" and r["device"] in ("h100-sxm", "a100-sxm-80gb")]
    cases = [llm_case(r) for r in picked]
    rows = {r["id"]: r for r in picked}
    absurd = [dataclasses.replace(c, measured=c.measured * 1000) if c.device == "h100-sxm" else c
              for c in cases]
    before = crossval.cross_validate(cases, rows, ["leave-one-device-out", "in-sample"])
    after = crossval.cross_validate(absurd, rows, ["leave-one-device-out", "in-sample"])
    hidden = [c.id for c in cases if c.device == "h100-sxm"]
    assert all(after["leave-one-device-out"][i] == before["leave-one-device-out"][i] for i in hidden)
    assert any(not math.isclose(after["in-sample"][i], before["in-sample"][i], rel_tol=1e-3) for i in hidden)


def test_host_links_are_their_data_sheets_rates_and_stay_in_range():
    """PCIe 4.0 x16 (A100 SXM4, data sheet "PCIe Gen4: 64 GB/s" both ways): 16 GT/s x 16 lanes,
    128b/130b, 8 bits a byte = 31.5 GB/s a direction; PCIe 5.0 twice that (H100/H200 "128 GB/s");
    Orin's copy reads and writes its 204.8 GB/s LPDDR5. Achievable rates 60-100% of nominal, a copy's
    fixed cost 2-20 us (the ranges the module states)."""
    pcie4, pcie5 = host_transfer.PCIE4_X16_BYTES_PER_S, host_transfer.PCIE5_X16_BYTES_PER_S
    assert pcie4 == pytest.approx(64e9 / 2, rel=0.02)
    assert pcie4 == pytest.approx(16e9 * 16 * 128 / 130 / 8)
    assert pcie5 == pytest.approx(128e9 / 2, rel=0.02)
    assert host_transfer.HOST_LINKS["a100-sxm-80gb"].nominal_bytes_per_s == pcie4
    assert host_transfer.HOST_LINKS["h100-sxm"].nominal_bytes_per_s == pcie5
    assert host_transfer.HOST_LINKS["jetson-agx-orin"].nominal_bytes_per_s == pytest.approx(204.8e9 / 2)
    for link in host_transfer.HOST_LINKS.values():
        assert 0.6 * link.nominal_bytes_per_s <= link.bandwidth_bytes_per_s <= link.nominal_bytes_per_s
        assert 2e-6 <= link.latency_s <= 20e-6
    # every datacenter and Orin device the cross-validation covers has its link
    assert set(FAMILIES[0].devices) | set(FAMILIES[1].devices) <= set(host_transfer.HOST_LINKS)


def test_host_copies_count_only_where_the_rows_conditions_include_them(dataset):
    """The rule reads the documented conditions: the EfficientViT READMEs' "data transfer time
    included" rows (on Orin and the A100) take the term; MLPerf's "host preprocessing and copies
    excluded" rows do not."""
    rows, _ = dataset
    included = [row for row in rows if host_transfer.transfers_included(row)]
    assert included and all(row["source"].startswith("mit-han-lab/efficientvit") for row in included)
    assert {row["device"] for row in included} == {"jetson-agx-orin", "a100-sxm-80gb"}
    assert not any(host_transfer.transfers_included(row) for row in rows if "copies excluded" in row["notes"])
    # a 1024x2048 fp16 image in and out of an A100 over PCIe 4.0 at 25 GB/s: at least 2 x 10 us plus
    # the input's 3 x 1024 x 2048 x 2 bytes / 25 GB/s = 503 us
    network = resolve_network("efficientvit_seg_l1", (1024, 2048), 1, {})
    assert host_transfer.host_transfer_s(network, 1, 16, "a100-sxm-80gb") > 20e-6 + 3 * 1024 * 2048 * 2 / 25e9
    assert host_transfer.host_transfer_s(network, 1, 16, "stm32h743") == 0.0


def test_datacenter_kernel_costs_stay_in_the_launch_range_the_gpu_profiles_state():
    """The datacenter family's per-kernel overhead is searched in the range the GPU profiles state for
    kernel_overhead_us ("range 2-10 us per kernel", NVIDIA's CUDA Graphs blog), and a convolution's
    extra fixed cost at most one more such kernel (10 us)."""
    text = (ROOT / "hardware_profiles" / "a100-sxm-80gb.toml").read_text(encoding="utf-8")
    assert "range 2-10 us per kernel" in text
    figures = {p.name: p for p in FAMILIES[0].parameters}
    assert (figures["kernel_overhead_s"].low, figures["kernel_overhead_s"].high) == (2e-6, 10e-6)
    assert (figures["conv_overhead_s"].low, figures["conv_overhead_s"].high) == (0.0, 10e-6)


@pytest.mark.parametrize(("device", "family_device"), [
    ("jetson-orin-nx-16gb", "jetson-agx-orin"), ("jetson-orin-nano-8gb", "jetson-agx-orin"),
    ("gh200", "h100-sxm"), ("h100-nvl", "h100-sxm")])
def test_a_profile_that_extends_a_family_member_is_in_its_family(device, family_device):
    from simulator.calibration.cv_model import family_of

    assert family_of(device) is family_of(family_device) is not None


@pytest.mark.parametrize(("device", "gpu_clock_mhz"), [
    # NVIDIA Jetson Orin data sheets: GPU maximum frequency of the AGX Orin 64GB (MAXN) 1300 MHz,
    # Orin NX 16GB 918 MHz, Orin Nano 8GB 625 MHz; MLPerf Power's MaxQ run 624.75 MHz
    ("jetson-orin-nx-16gb", 918), ("jetson-orin-nano-8gb", 625), ("jetson-agx-orin-maxq", 624.75)])
def test_the_kernel_overhead_scales_with_the_clock_not_the_sm_count(device, gpu_clock_mhz):
    """The per-kernel overhead is read as GPU cycles: an Orin NX (8 SMs) at 918 MHz pays 1300 / 918
    of the AGX's (16 SMs) overhead, not the ratio of the two peaks (which also halves with the SMs)."""
    from simulator.calibration.cv_model import family_of, overhead_scale
    from simulator.hardware.loader import resolve_device

    scale = overhead_scale(family_of(device), resolve_device(device), "int8")
    assert scale == pytest.approx(1300 / gpu_clock_mhz, rel=0.01)


# Ada data-center cards: CUDA cores / 128 per Ada SM (L4 data sheet and deviceQuery: 7,424 CUDA cores;
# L40S data sheet: 18,176)
ADA_SMS = {"l4": 7424 // 128, "l40s": 18176 // 128}


@pytest.mark.parametrize("device", sorted(ADA_SMS))
def test_ada_datacenter_cards_share_the_tensorrt_family_with_their_own_sms(device):
    """The family rule (cv_model's docstring, decided before the Ada cards' held-out errors were seen):
    NVIDIA GPUs running TensorRT share the launch cost, the compute fraction, the tile and the L2 share
    across Ampere, Ada and Hopper, so an L4 or L40S is predicted by the A100/H100 family (its rows held
    out: leave-one-device-out) and ships that family's figures, over its own SM count."""
    from simulator.hardware.loader import resolve_device

    assert family_of(device) is family_of("a100-sxm-80gb") is family_of("h100-sxm") is not None
    own, fitted = resolve_device(device).efficiency, resolve_device("a100-sxm-80gb").efficiency
    assert own is not None and own.parallel_units == ADA_SMS[device]
    for figure in ("kernel_overhead_s", "tile_outputs", "buffer_capacity_fraction"):
        assert getattr(own, figure) == getattr(fitted, figure), figure
    # the kernel classes, but the gemv class's share: an LLM term of the TensorRT-LLM (Ampere) family
    assert own.classes == {cls: entry for cls, entry in fitted.classes.items() if cls != "gemv"}
