"""Devices written from their data sheets (issue 19, part 3): NVIDIA L4, L40S, H100 NVL, GH200, B200,
Jetson Orin NX 16GB and Jetson Orin Nano 8GB.

Each loads, names its architecture family, gives dense peaks that equal the data sheet's figures
(printed with 2:4 sparsity, so halved here), states its memory and SM count, simulates ResNet-50 and
BERT-base, and its average power lies between its static (idle) and its maximum power. A profile that
inherits its expected model from a family member says so, and none of its own rows was fitted. The Ada
cards (L4, L40S) extend no profile (their memory and L2 are their own) but carry the NVIDIA datacenter
TensorRT family's figures written out (simulator.calibration.cv_model's family rule: launch cost,
compute fraction, tile and L2 share are the software stack's, shared across Ampere, Ada and Hopper), with
their own SM counts.
"""

from __future__ import annotations

import pytest

from simulator.accuracy import load_measurements
from simulator.compat import tomllib
from simulator.hardware.loader import available_devices, resolve_device
from simulator.simulation import simulate

GIB, MIB = 2**30, 2**20

# name: family, the base it inherits its expected model from (None: ideal bound only), SMs,
# main memory [bytes] and bandwidth [bytes/s], static and maximum power [W]
DEVICES = {
    "l4": ("Ada", "h100-sxm", 58, 24 * GIB, 300e9, 16, 72),                  # L4 data sheet; nvidia-smi
    "l40s": ("Ada", "h100-sxm", 142, 48 * GIB, 864e9, 33, 350),              # L40S data sheet; nvidia-smi
    "h100-nvl": ("Hopper", "h100-sxm", 132, 94 * GIB, 3.9e12, 62, 400),      # H100 NVL data sheet
    "gh200": ("Hopper", "h100-sxm", 132, 96 * GIB, 4.0e12, 85, 1000),        # GH200 data sheet (96 GB HBM3)
    "b200": ("Blackwell", None, 148, 180 * GIB, 8.0e12, 170, 1000),          # HGX B200: 1,440 GB, 64 TB/s / 8
    "jetson-orin-nx-16gb": ("Orin", "jetson-agx-orin", 8, 16 * GIB, 102.4e9, 2.18, 25),   # DS-10712
    "jetson-orin-nano-8gb": ("Orin", "jetson-agx-orin", 8, 8 * GIB, 68.26e9, 2.18, 15),   # DS-11105
}
#: data-sheet profiles that extend no profile but write the family's figures out (a different memory
#: system and L2: an Ada card is no H100 with other peaks), inherited by the family rule
WRITTEN_OUT = ("l4", "l40s")

# the data sheets' Tensor Core figures with 2:4 sparsity [TFLOPS or TOPS] and CUDA-core FP32 [TFLOPS];
# the profile's dense peak is half the sparse figure, within the data sheets' rounding
SPARSE_TENSOR = {
    "l4": ({"fp16": 242, "bf16": 242, "fp8": 485, "int8": 485}, 30.3),
    "l40s": ({"fp8": 1466, "int8": 1466}, 91.6),
    "h100-nvl": ({"fp16": 1671, "bf16": 1671, "fp8": 3341, "int8": 3341}, 60),
    "gh200": ({"fp16": 1979, "bf16": 1979, "fp8": 3958, "int8": 3958}, 67),
    "b200": ({"fp16": 36000 / 8, "bf16": 36000 / 8, "fp8": 72000 / 8, "int8": 72000 / 8}, 600 / 8),
    "jetson-orin-nx-16gb": ({"int8": 60}, 1.88),   # the GPU's share of the module's 100 sparse TOPS
    "jetson-orin-nano-8gb": ({"int8": 40}, 1.28),
}
ROUNDING = 0.025  # the data sheets round (Orin Nano "40 TOPS" for 40.96); the derivation test is tighter


def test_every_datasheet_device_is_shipped():
    assert set(DEVICES) <= set(available_devices())


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_the_profile_names_its_family_and_states_memory_sms_and_power(name):
    family, _, sms, capacity, bandwidth, static_w, max_w = DEVICES[name]
    device = resolve_device(name)
    assert f"architecture family: {family}" in device.description
    assert device.main_memory.capacity_bytes == capacity
    assert device.main_memory.bandwidth_bytes_per_s == pytest.approx(bandwidth)
    names = [level.name for level in device.memory_levels]
    assert names == ["dram", "l2", "l1", "register-file"], names
    assert device.level("l1").stores == frozenset()     # listed, but the roofline routes no data to it
    l2, rf = device.level("l2"), device.level("register-file")
    assert l2.capacity_bytes < capacity and rf.capacity_bytes >= 256 * 1024 * sms  # 256 KB of registers/SM
    assert (device.static_power_w, device.max_power_w) == (static_w, max_w)
    assert device.static_power_source.strip() and device.max_power_source.strip()


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_peaks_are_the_data_sheets_dense_figures(name):
    sparse, fp32_tflops = SPARSE_TENSOR[name]
    device = resolve_device(name)
    for precision, figure in sparse.items():
        assert device.peak_for(precision) == pytest.approx(figure * 1e12 / 2, rel=ROUNDING), precision
    assert device.peak_for("fp32") == pytest.approx(fp32_tflops * 1e12, rel=ROUNDING)
    assert "sparsity" in device.peak_source  # the printed sparse figures are halved, sparsity stays off


def test_l40s_fp16_is_half_its_fp8_not_the_data_sheets_l40_clock_figure():
    # the data sheet's 362.05 dense FP16 TFLOPS is the L40's 2490 MHz figure; at the L40S's 2520 MHz the
    # Tensor Cores do 142 SMs x 512 FMA x 2 ops = half the FP8 rate, 366.4 TFLOPS: the larger one bounds
    device = resolve_device("l40s")
    assert device.peak_for("fp16") == pytest.approx(device.peak_for("fp8") / 2)
    assert device.peak_for("fp16") > 362.05e12


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_the_expected_model_is_inherited_from_the_family_or_absent(name):
    _, base, sms, *_ = DEVICES[name]
    device = resolve_device(name)
    raw = tomllib.loads(available_devices()[name].read_text(encoding="utf-8"))
    if base is None:  # no shipped profile of its family: the ideal bound only
        assert "extends" not in raw and device.efficiency is None
        return
    base_device = resolve_device(base)
    assert device.efficiency.parallel_units == sms
    # the family's fitted fractions (the gemv class's share is an LLM term, fitted per TensorRT-LLM
    # architecture as step_overhead_s below: a Hopper figure, not an Ada card's)
    family_classes = {cls: entry for cls, entry in base_device.efficiency.classes.items()
                      if cls != "gemv" or name not in WRITTEN_OUT}
    assert device.efficiency.classes == family_classes
    if name in WRITTEN_OUT:
        # NVIDIA GPUs running TensorRT share the launch cost, tile and L2 share (cv_model's family rule)
        assert "extends" not in raw
        # (step_overhead_s is an LLM term, fitted per TensorRT-LLM architecture; an Ada card has none)
        for figure in ("kernel_overhead_s", "tile_outputs", "buffer_capacity_fraction"):
            assert getattr(device.efficiency, figure) == getattr(base_device.efficiency, figure), figure
        # the family's figures, fitted on every dataset row of the family (tools/fit_profiles.py)
        family_fit = 'the family "NVIDIA datacenter GPUs (TensorRT)" fitted on every one of its'
        assert family_fit in " ".join(device.efficiency.source.split())
    else:
        assert raw["extends"] == base
        assert f"Inherited from the {DEVICES[name][0]} family's profile {base}" in device.efficiency.source
        assert "fitted on every one of its" in " ".join(device.efficiency.source.split())  # fit_profiles.py
    # the fit reads no row's role (tools/fit_profiles.py); the dataset still marks this device's rows check
    assert all(row["role"] == "check" for row in load_measurements() if row["device"] == name)


@pytest.mark.parametrize("name", ["jetson-orin-nx-16gb", "jetson-orin-nano-8gb"])
def test_orin_modules_pay_the_agx_kernel_overhead_in_gpu_cycles(name):
    # AGX MAXN's fitted overhead at 1300 MHz, the same number of cycles at the module's GPU clock (the
    # fit reads the clock ratio from the peaks per SM; AGX's 85 int8 TOPS is the data sheet's rounding
    # of 85.2: 0.3%)
    clock_mhz = {"jetson-orin-nx-16gb": 918, "jetson-orin-nano-8gb": 625}[name]
    overhead_s = resolve_device(name).efficiency.kernel_overhead_s
    agx_s = resolve_device("jetson-agx-orin").efficiency.kernel_overhead_s
    assert overhead_s == pytest.approx(agx_s * 1300 / clock_mhz, rel=5e-3)


@pytest.mark.parametrize("network", ["resnet50", "bert_base"])
@pytest.mark.parametrize("name", sorted(DEVICES))
def test_simulates_and_average_power_lies_between_static_and_maximum(name, network):
    device = resolve_device(name)
    for precision in ("fp16", "int8"):
        result = simulate(network, device, precision=precision)
        assert result.latency_s > 0 and result.energy_j > 0
        power_w = result.energy_j / result.latency_s
        assert device.static_power_w <= power_w <= device.max_power_w, (precision, power_w)
        if device.efficiency is not None:  # the expected model is never faster than the ideal bound
            ideal = simulate(network, device, precision=precision, ideal=True)
            assert result.latency_s >= ideal.latency_s


def test_a_faster_device_of_the_family_gives_a_shorter_bound():
    # the ideal bound of ResNet-50 int8 at batch 64 scales with the hardware: B200 < H100 NVL < L40S < L4
    latency = {name: simulate("resnet50", name, precision="int8", batch=64, ideal=True).latency_s
               for name in ("b200", "h100-nvl", "l40s", "l4")}
    assert latency["b200"] < latency["h100-nvl"] < latency["l40s"] < latency["l4"]
