"""The LLM families' membership (simulator.calibration.cv_llm.llm_family_of) and the prediction of a fold
that leaves a family no row. Expected members come from the profiles' data sheets (the chip each one
is built on), not from the function."""

import pytest

from simulator.calibration import cv_llm
from simulator.calibration.cv_llm import (
    LLM_FAMILIES,
    default_llm_fit,
    llm_case,
    llm_family_of,
    simulate_cases,
)
from simulator.calibration.cv_model import family_of
from simulator.compat import tomllib
from simulator.hardware.loader import available_devices, resolve_device

HOPPER, AMPERE, ORIN = (next(f for f in LLM_FAMILIES if word in f.name)
                        for word in ("Hopper", "Ampere", "Orin"))


@pytest.mark.parametrize("device, family", [
    ("h100-sxm", HOPPER), ("h200-sxm", HOPPER),
    # data-sheet profiles on h100-sxm's GH100 (same SMs, TensorRT-LLM's Hopper kernels): its family
    ("h100-nvl", HOPPER), ("gh200", HOPPER),
    ("a100-sxm-80gb", AMPERE), ("a100-sxm-40gb", AMPERE),
    ("jetson-agx-orin", ORIN),
    # Ada (AD102, AD104): no TensorRT-LLM family of its architecture; a microcontroller runs no LLM
    ("l40s", None), ("l4", None), ("stm32f746", None), ("no-such-device", None),
])
def test_a_device_belongs_to_the_llm_family_of_its_chip(device, family):
    assert llm_family_of(device) is family


def test_extends_gives_the_base_profiles_llm_family_as_it_gives_its_cnn_family():
    """The rule of cv_model.family_of: a profile that extends a member belongs to its family."""
    checked = 0
    for name, path in sorted(available_devices().items()):
        base = tomllib.loads(path.read_text(encoding="utf-8")).get("extends")
        if isinstance(base, str) and llm_family_of(base) is not None:
            assert llm_family_of(name) is llm_family_of(base)
            assert family_of(name) is family_of(base)
            checked += 1
    assert checked >= 2  # H100 NVL and GH200 at least


def test_a_fold_without_rows_computes_at_the_gemm_class_fraction():
    """Leave-one-device-out on Orin leaves TinyChat no row: the prediction is the profile without
    llm_compute_fraction (its gemm class's, the CNN runtime's), host cost 0 and the GEMV share at
    the family's defaults."""
    row = {"id": "probe", "network": "llama_3_8b", "device": "jetson-agx-orin", "batch": "1",
           "input_len": "1024", "output_len": "1", "tp": "1", "pp": "1", "weight_precision": "int4",
           "activation_precision": "fp16", "kv_precision": "fp16", "metric": "ttft_s", "value": "0.1"}
    case = llm_case(row)
    predicted = simulate_cases([case], default_llm_fit(ORIN).values)[0]
    base = resolve_device("jetson-agx-orin")
    plain = base.efficiency.model_copy(update={"llm_compute_fraction": None, "step_overhead_s": 0.0,
                                               "gemv_bandwidth_fraction": cv_llm.GEMV_TINYCHAT.default})
    expected = cv_llm._time(row, base.model_copy(update={"efficiency": plain}))
    assert predicted == pytest.approx(expected, rel=1e-12)
    # the same through the fit's interpolation (the gemm class's fraction is a grid point of the case)
    assert cv_llm.predict_llm([case], default_llm_fit(ORIN).values)[0] == pytest.approx(expected, rel=1e-9)
    # and it differs from the profile's fitted figure (the compute-bound prefill depends on it)
    assert base.efficiency.llm_compute_fraction != base.efficiency.for_class("gemm").compute_fraction
    assert cv_llm._time(row, base) != pytest.approx(expected, rel=1e-3)
