"""Every peak is a hardware maximum with its derivation written in the profile (issue 19, part 5).

A profile's ``[peak] source`` states, per precision, ``<precision> = <units> <what> x <lanes> lanes x
<ops> ops x <clock> MHz``: compute units (SMs, cores), MAC lanes per unit per clock, ops per MAC (2) and
the clock. The test multiplies those figures itself and compares them with the peak the loader read;
a peak with no derivation, or one that is not the product of its figures, fails. Data sheets round their
figures (A100 312 TFLOPS for 311.87; Orin 85 TOPS for 85.2), so the product must agree within 0.5%.

The stm32f746's int8 peak was a sustained rate (0.5 MAC/cycle, 216 Mops/s), below what published MLPerf
Tiny results on the DISCO-F746NG reach; the Cortex-M7 TRM's instruction timing bounds it at one SMLAD
(two 16-bit MACs) per cycle.
"""

from __future__ import annotations

import re

import pytest

from simulator.accuracy import load_measurements
from simulator.hardware.loader import available_devices, load_device, resolve_device
from simulator.simulation import simulate

DEVICES = sorted(available_devices())
CLOCK_HZ = {"MHz": 1e6, "GHz": 1e9}
TERM = re.compile(r"\b(?P<precision>[a-z0-9]+) = (?P<units>\d+) [A-Za-z]+ x (?P<lanes>\d+) lanes x "
                  r"(?P<ops>\d+) ops x (?P<clock>\d+(?:\.\d+)?) (?P<unit>MHz|GHz)")
ROUNDING = 0.005  # the data sheets' rounding to three significant figures


def derivation(name: str) -> dict[str, float]:
    """The peaks [ops/s] the profile's written derivation gives: units x lanes x ops per MAC x clock."""
    text = " ".join(resolve_device(name).peak_source.split())
    _, _, written = text.partition("Derivation")
    assert written, f"{name}: the peak source has no 'Derivation' of its figures"
    terms = {}
    for match in TERM.finditer(written):
        product = (int(match["units"]) * int(match["lanes"]) * int(match["ops"])
                   * float(match["clock"]) * CLOCK_HZ[match["unit"]])
        assert match["precision"] not in terms, f"{name}: {match['precision']} derived twice"
        terms[match["precision"]] = product
    return terms


@pytest.mark.parametrize("name", DEVICES)
def test_every_peak_is_the_product_of_its_written_derivation(name):
    device = resolve_device(name)
    derived = derivation(name)
    assert set(derived) == set(device.peak_ops_per_s), (name, sorted(derived), sorted(device.peak_ops_per_s))
    for precision, peak in device.peak_ops_per_s.items():
        assert peak == pytest.approx(derived[precision], rel=ROUNDING), (name, precision)


@pytest.mark.parametrize("name", DEVICES)
def test_every_derivation_counts_a_mac_as_two_ops(name):
    text = " ".join(resolve_device(name).peak_source.split()).partition("Derivation")[2]
    assert {match["ops"] for match in TERM.finditer(text)} == {"2"}, name


def test_the_f746_peak_is_the_cortex_m7_smlad_and_vfma_rate():
    # Cortex-M7 TRM: one SMLAD (two 16 x 16-bit MACs) per cycle; one VFMA.F32 per cycle; 216 MHz
    device = resolve_device("stm32f746")
    assert device.peak_for("int8") == 2 * 2 * 216e6      # 2 MAC/cycle x 2 ops/MAC = 864 Mops/s
    assert device.peak_for("fp32") == 1 * 2 * 216e6      # 1 FMA/cycle = 432 Mops/s
    # the sustained-rate figure it replaces (0.5 MAC/cycle) was a quarter of the int8 bound
    assert device.peak_for("int8") == 4 * (2 * 0.5 * 216e6)


@pytest.mark.parametrize(("name", "mhz"), [("stm32h743", 480), ("nucleo-h7a3zi-q", 280),
                                           ("nucleo-l4r5zi", 120), ("nucleo-u575zi-q", 160)])
def test_every_microcontroller_peak_is_one_smlad_per_cycle(name, mhz):
    # Cortex-M4, M7 and M33 (DSP extension): SMLAD in one cycle, two 16-bit MACs
    assert resolve_device(name).peak_for("int8") == 2 * 2 * mhz * 1e6


@pytest.mark.parametrize(("name", "sparse_tensor_tops", "fp32_tflops"), [
    ("a100-sxm-80gb", {"fp16": 624, "int8": 1248}, 19.5),          # A100 data sheet, marked * (sparse)
    ("h100-sxm", {"fp16": 1979, "int8": 3958, "fp8": 3958}, 67),    # H100 data sheet, SXM
    ("h200-sxm", {"fp16": 1979, "int8": 3958, "fp8": 3958}, 67),    # H200 data sheet, SXM
    ("jetson-agx-orin", {"int8": 170}, 5.32),                        # DS-10662-001, MAXN
])
def test_gpu_tensor_peaks_are_the_data_sheets_dense_figures(name, sparse_tensor_tops, fp32_tflops):
    # NVIDIA prints Tensor Core figures with 2:4 sparsity; the dense maximum is half; sparsity stays off
    device = resolve_device(name)
    for precision, sparse in sparse_tensor_tops.items():
        assert device.peak_for(precision) == pytest.approx(sparse * 1e12 / 2, rel=ROUNDING), precision
    assert device.peak_for("fp32") == pytest.approx(fp32_tflops * 1e12, rel=ROUNDING)


def test_a_peak_that_is_not_its_derivation_is_caught(tmp_path):
    # the check itself: an F746 whose int8 peak is the old sustained rate disagrees with its derivation
    text = available_devices()["stm32f746"].read_text().replace("int8_mega_ops_per_s = 864",
                                                                  "int8_mega_ops_per_s = 216")
    path = tmp_path / "stm32f746.toml"
    path.write_text(text)
    device = load_device(path)
    assert device.peak_for("int8") == 216e6
    assert device.peak_for("int8") != pytest.approx(derivation("stm32f746")["int8"], rel=ROUNDING)


def test_the_f746_bound_holds_on_its_mlperf_tiny_rows_where_the_sustained_rate_did_not(tmp_path):
    # MLPerf Tiny v1.0-v1.2 latencies on the DISCO-F746NG (Plumerai, Bosch HALE): the ideal bound at the
    # hardware maximum is below every one; at the old 216 Mops/s some ran faster than the "bound"
    rows = [row for row in load_measurements()
            if row["device"] == "stm32f746" and row["metric"] == "latency_s"]
    assert len(rows) >= 8
    text = available_devices()["stm32f746"].read_text().replace("int8_mega_ops_per_s = 864",
                                                                  "int8_mega_ops_per_s = 216")
    (tmp_path / "stm32f746.toml").write_text(text)
    sustained = load_device(tmp_path / "stm32f746.toml")
    beaten = []
    for row in rows:
        measured_s = float(row["value"])
        assert simulate(row["network"], "stm32f746", precision="int8", ideal=True).latency_s <= measured_s
        if simulate(row["network"], sustained, precision="int8", ideal=True).latency_s > measured_s:
            beaten.append(row["id"])
    assert beaten, "the sustained-rate peak should have been beaten by a published row"
