"""The profiles' data-sheet figures against their published values (issue 19, parts 3 and 5).

A bound is only a bound if no figure under it is below what the hardware does: every peak is at least the
dense figure its vendor prints (Tensor Core rows are printed with 2:4 sparsity, so they are halved here),
and where a vendor prints two figures for one quantity the larger is kept. Every expected value below is
written from its published source (named beside it), not read back from a profile.

A figure that could not be checked against a stored source must say so: a source text that quotes a figure
"from memory" (or "as remembered") also calls it an estimate ("not found in a published source"). Only the
data-sheet sections are scanned; ``[efficiency]`` holds fitted figures with sources of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from simulator.compat import tomllib
from simulator.hardware.loader import available_devices, resolve_device

DEVICES = sorted(available_devices())
ROUNDING = 0.005  # vendors print three significant figures (A100 312 TFLOPS for 311.9)

RECOLLECTION = re.compile(r"from memory|as remembered", re.IGNORECASE)
MARKED = re.compile(r"estimate|not found in a published source", re.IGNORECASE)


def source_texts(node: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every ``source`` / ``*_source`` string of a raw profile outside ``[efficiency]``, with its key path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "efficiency":
                yield from source_texts(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from source_texts(value, (*path, str(index)))
    elif isinstance(node, str) and path and (path[-1] == "source" or path[-1].endswith("_source")):
        yield ".".join(path), " ".join(node.split())


def unmarked_recollections(text: str) -> list[str]:
    """The source fields of a profile's TOML text that quote a figure from memory without calling it an
    estimate."""
    return [where for where, source in source_texts(tomllib.loads(text))
            if RECOLLECTION.search(source) and not MARKED.search(source)]


@pytest.mark.parametrize("name", DEVICES)
def test_a_figure_quoted_from_memory_is_marked_an_estimate(name):
    text = available_devices()[name].read_text(encoding="utf-8")
    assert unmarked_recollections(text) == [], name


def test_the_scan_finds_an_unmarked_recollection():
    # the check itself, on the F746's former maximum-power source (320 mA "from memory", no estimate)
    text = ('name = "x"\nmax_power_source = """Absolute maximum rating: total current into all VDD lines, '
            "320 mA (DS10916, 'Current characteristics', from memory), at 3.6 V.\"\"\"\n"
            '[efficiency]\nsource = "fitted, from memory"\n')
    assert unmarked_recollections(text) == ["max_power_source"]


# the vendors' printed dense figures [TFLOPS or TOPS]: CUDA-core FP32 as printed, Tensor Core rows half
# the printed sparse figure; the profile's peak may exceed them (a derivation at the boost clock), never fall
# short
PRINTED_DENSE = {
    "a100-sxm-40gb": {"fp32": 19.5, "fp16": 312, "bf16": 312, "int8": 624},      # A100 data sheet, SXM
    "a100-sxm-80gb": {"fp32": 19.5, "fp16": 312, "bf16": 312, "int8": 624},
    "h100-sxm": {"fp32": 67, "fp16": 1979 / 2, "bf16": 1979 / 2, "fp8": 3958 / 2, "int8": 3958 / 2},
    "h200-sxm": {"fp32": 67, "fp16": 1979 / 2, "bf16": 1979 / 2, "fp8": 3958 / 2, "int8": 3958 / 2},
    "gh200": {"fp32": 67, "fp16": 1979 / 2, "bf16": 1979 / 2, "fp8": 3958 / 2, "int8": 3958 / 2},
    "h100-nvl": {"fp32": 60, "fp16": 1671 / 2, "bf16": 1671 / 2, "fp8": 3341 / 2, "int8": 3341 / 2},
    "l4": {"fp32": 30.3, "fp16": 242 / 2, "bf16": 242 / 2, "fp8": 485 / 2, "int8": 485 / 2},
    "l40s": {"fp32": 91.6, "fp16": 362.05, "bf16": 362.05, "fp8": 733, "int8": 733},  # printed dense
    # HGX B200 per GPU: FP32 75 TFLOPS; FP16/BF16 4.5, FP8 and INT8 9 P(FL)OPS with sparsity
    "b200": {"fp32": 75, "fp16": 4500 / 2, "bf16": 4500 / 2, "fp8": 9000 / 2, "int8": 9000 / 2},
    "jetson-agx-orin": {"fp32": 5.32, "int8": 170 / 2},            # DS-10662-001, GPU only, MAXN
    "jetson-orin-nx-16gb": {"int8": 60 / 2},   # the GPU's share of the module's 100 sparse TOPS (2 DLAs: 40)
    "jetson-orin-nano-8gb": {"int8": 40 / 2},  # DS-11105-001, 15 W (no DLA)
}


@pytest.mark.parametrize("name", sorted(PRINTED_DENSE))
def test_no_peak_is_below_the_vendors_printed_dense_figure(name):
    device = resolve_device(name)
    for precision, printed_tera in PRINTED_DENSE[name].items():
        assert device.peak_for(precision) >= printed_tera * 1e12 * (1 - ROUNDING), (name, precision)


def test_b200_l2_is_the_capacity_the_cuda_driver_reports():
    # a B200 as read by CUDA: 148 SMs, L2 132,644,864 bytes = 126.5 MiB (NVIDIA's data sheets print no L2)
    assert resolve_device("b200").level("l2").capacity_bytes == 132_644_864
    assert 132_644_864 == 126 * 2**20 + 2**19


def test_b200_keeps_the_larger_of_nvidias_two_figures_so_the_bound_stays_a_bound():
    b200 = resolve_device("b200")
    # HBM: DGX B200 data sheet 64 TB/s for 8 GPUs; NVIDIA's per-GPU HGX B200 table prints 7.7 TB/s
    assert b200.main_memory.bandwidth_bytes_per_s == max(64e12 / 8, 7.7e12)
    # FP32: NVIDIA prints 75 TFLOPS; a read maximum SM clock of 1965 MHz gives 148 x 128 FMA x 2 x 1965 MHz
    assert b200.peak_for("fp32") >= max(75e12, 148 * 128 * 2 * 1965e6)


@pytest.mark.parametrize(("name", "clock_hz"), [("jetson-orin-nx-16gb", 918e6),
                                                ("jetson-orin-nano-8gb", 625e6)])
def test_orin_modules_have_the_sms_and_l2_a_device_query_reports(name, clock_hz):
    # deviceQuery on an Orin NX 16GB: "(008) Multiprocessors, (128) CUDA Cores/MP", "GPU Max Clock rate:
    # 918 MHz", "L2 Cache Size: 2097152 bytes" (atinfinity/l4t-base-docker README); the Nano 8GB has the same
    # 1024 CUDA cores (DS-11105-001) at 625 MHz
    device = resolve_device(name)
    sms = device.peak_for("fp32") / (128 * 2 * clock_hz)   # 128 FP32 FMA lanes per Ampere SM
    assert sms == pytest.approx(8, rel=ROUNDING)  # the profile rounds to 1.880 TFLOPS
    assert device.level("l2").capacity_bytes == 2_097_152


@pytest.mark.parametrize("name", ["a100-sxm-40gb", "a100-sxm-80gb"])
def test_a100_link_is_nvlink_3(name):
    # A100 data sheet, SXM: NVLink 600 GB/s = 12 links x 50 GB/s, both directions: 300 GB/s per direction
    link = resolve_device(name).interconnect
    assert link.bandwidth_bytes_per_s == 12 * 50e9 / 2
    assert "NVLink 3" in link.source and "NVLink 4" not in link.source
