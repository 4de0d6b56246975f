"""Kernel classes that refine another one (pointwise_conv, matmul, global_pool): which layers get
them, and that a profile without an entry for them predicts as it did before they existed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulator.compat import tomllib
from simulator.engine.workload import build_workload
from simulator.kernels import CLASS_FALLBACK, EFFICIENCY_CLASSES, TILE_OUTPUTS, class_lookup
from simulator.model.graph import NetworkBuilder
from simulator.model.layers import AdaptivePool, Conv, MatMul
from simulator.simulation import simulate

PROFILES = Path(__file__).resolve().parents[1] / "hardware_profiles"


def _conv(kernel: int, groups: int = 1, channels: int = 64) -> Conv:
    return Conv(channels, (kernel, kernel), (1, 1), (kernel // 2,) * 2, (1, 1), groups=groups)


def test_a_layer_is_assigned_its_class():
    assert _conv(1).efficiency_class == "pointwise_conv"          # 1x1, groups 1
    assert _conv(3).efficiency_class == "conv"
    assert _conv(1, groups=2).efficiency_class == "conv"          # grouped 1x1: not a plain GEMM
    assert _conv(3, groups=64).efficiency_class == "depthwise_conv"
    assert _conv(5, groups=64).efficiency_class == "depthwise_conv"
    assert Conv(8, (1,), (1,), (0,), (1,)).efficiency_class == "pointwise_conv"  # Conv1d
    assert MatMul().efficiency_class == "matmul"
    assert AdaptivePool("avg", (1, 1)).efficiency_class == "global_pool"
    assert AdaptivePool("avg", (7, 7)).efficiency_class == "elementwise"


def test_fused_layers_keep_their_base_class():
    net = NetworkBuilder("n", (16, 8, 8))
    x = net.relu(net.conv2d(net.input, 32, 1, name="pw"), name="pw_relu")
    net.adaptive_avg_pool2d(x, 1, name="pool")
    workload = build_workload(net.build())
    classes = dict(zip(workload.names, workload.efficiency_classes, strict=True))
    assert classes == {"pw+pw_relu": "pointwise_conv", "pool": "global_pool"}


def test_every_refinement_falls_back_to_a_class_it_refines():
    assert set(CLASS_FALLBACK) <= set(EFFICIENCY_CLASSES)
    assert set(CLASS_FALLBACK.values()) <= set(EFFICIENCY_CLASSES) - {"default"}
    table = {"conv": 1, "gemm": 2, "default": 0}
    assert class_lookup(table, "pointwise_conv") == 1
    assert class_lookup(table, "matmul") == 2
    assert class_lookup(table, "global_pool") == 0          # elementwise missing too: default
    assert class_lookup({**table, "pointwise_conv": 5}, "pointwise_conv") == 5
    assert class_lookup({}, "matmul", "ideal") == "ideal"


def _probe_network(probe: str) -> tuple[object, int]:
    """A layer of each refined class between a producer and a consumer; its per-sample outputs."""
    net = NetworkBuilder(probe, (64, 28, 28))
    x = net.relu(net.input, name="producer")
    if probe == "pointwise":
        y = net.conv2d(x, 256, 1, name="probe")
        outputs = 256 * 28 * 28
    elif probe == "matmul":
        y = net.matmul(x, net.permute(x, (0, 2, 1), name="t"), name="probe")
        outputs = 64 * 28 * 28
    else:
        y = net.adaptive_avg_pool2d(x, 1, name="probe")
        outputs = 64
    net.add_(y, y, name="consumer")
    return net.build(), outputs


@pytest.mark.parametrize(("probe", "refined"), [("pointwise", "conv"), ("matmul", "gemm"),
                                                ("global", "elementwise")])
@pytest.mark.parametrize("profile", ["jetson-agx-orin", "h100-sxm"])
def test_a_shipped_profile_predicts_a_refined_class_with_the_class_it_refines(probe, refined, profile):
    """Expected latency from the profile's TOML figures for the refined class: fill (waves of the
    class's tile over the SMs) derates the compute time, plus the per-kernel overhead."""
    figures = tomllib.loads((PROFILES / f"{profile}.toml").read_text(encoding="utf-8"))["efficiency"]
    assert "pointwise_conv" not in figures and "matmul" not in figures and "global_pool" not in figures
    entry = figures.get(refined, figures["default"])  # as the layer was predicted before the refinement
    tile = {**TILE_OUTPUTS, **figures.get("tile_outputs", {})}[refined]
    units = figures["parallel_units"]
    network, outputs = _probe_network(probe)
    # the expected model keeps activations in buffer_capacity_fraction of the on-chip buffer (L2): the
    # ideal roofline of a device whose buffer is that share (and its register file, to keep the order)
    share = figures.get("buffer_capacity_fraction")
    smaller = {"l2.capacity_scale": share, "register-file.capacity_scale": share} if share else None
    ideal = next(layer for layer in simulate(network, profile, batch=1, precision="fp16", ideal=True,
                                             overrides=smaller).layers if layer.name == "probe")
    fill = outputs / (math.ceil(math.ceil(outputs / tile) / units) * units * tile)
    expected = (max(ideal.t_compute_s / (entry["compute_fraction"] * fill),
                    ideal.t_memory_s / entry["bandwidth_fraction"])
                + figures["kernel_overhead_us"] * 1e-6 + entry.get("overhead_us", 0.0) * 1e-6)
    layer = next(layer for layer in simulate(network, profile, batch=1, precision="fp16").layers
                 if layer.name == "probe")
    assert layer.latency_s == pytest.approx(expected, rel=1e-9)


def test_the_profile_model_looks_a_refined_class_up_as_the_engine_does():
    # pointwise_conv -> conv, global_pool -> elementwise, matmul -> gemm (absent here) -> default
    from simulator.hardware.device import EfficiencyModel, KernelEfficiency

    conv, elementwise, default = (KernelEfficiency(compute_fraction=f) for f in (0.8, 0.2, 0.5))
    classes = {"conv": conv, "elementwise": elementwise, "default": default}
    model = EfficiencyModel(source="test", classes=classes)
    assert model.for_class("pointwise_conv").compute_fraction == 0.8
    assert model.for_class("global_pool").compute_fraction == 0.2
    assert model.for_class("matmul").compute_fraction == 0.5
    assert EfficiencyModel(source="test", classes={}).for_class("conv").compute_fraction == 1.0
