"""The AllReduce layer kind: what it declares, where the LLM builder puts it, and that the engine costs it.

By hand: a ring all-reduce of ``n`` elements over ``N`` devices sends ``2·(N−1)/N · n`` elements per device
(a reduce-scatter and an all-gather of ``N − 1`` steps of ``n/N`` each). For ``(T, d) = (128, 4096)``,
``n = 524,288``: ``N = 2`` -> 524,288; ``N = 4`` -> 786,432; ``N = 8`` -> 917,504.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.workload import build_workload
from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.groups import grouped_phase, per_layer_evaluation
from simulator.llm.network import build_network
from simulator.llm.parallel import link_arrays
from simulator.llm.phases import run_phase
from simulator.model.counts import analyze
from simulator.model.layers import LAYER_KINDS, ONNX_WRITERS, AllReduce, ring_link_elements

T, D = 128, 4096


@pytest.mark.parametrize(("devices", "link"), [(2, 524_288), (4, 786_432), (8, 917_504)])
def test_link_elements_are_the_ring_share_of_t_times_d(devices, link):
    layer = AllReduce(devices)
    assert layer.allreduce_elements(((T, D),)) == T * D == 524_288
    assert layer.link_elements(((T, D),)) == link
    assert ring_link_elements(float(T * D), devices) == link


def test_the_kind_is_registered_costs_nothing_and_is_not_exported():
    assert LAYER_KINDS["AllReduce"] is AllReduce
    assert AllReduce not in ONNX_WRITERS and not AllReduce.exportable
    network = build_network(load_config("llama_2_7b"), T, 0, 2)
    costs = analyze(network).costs
    reduces = [c for node, c in zip(network.nodes, costs, strict=True) if node.kind == "AllReduce"]
    assert len(reduces) == 65 and all((c.params, c.macs, c.elementwise_ops) == (0, 0, 0) for c in reduces)


def test_llama_2_7b_at_tp_2_has_two_all_reduces_per_block_and_one_for_the_embedding():
    cfg = load_config("llama_2_7b")
    assert cfg.num_layers == 32 and cfg.hidden_size == 4096
    nodes = build_network(cfg, T, 0, 2).nodes
    reduces = [node for node in nodes if node.kind == "AllReduce"]
    assert len(reduces) == 2 * 32 + 1 == 65
    assert {node.layer.devices for node in reduces} == {2}
    assert {node.input_shapes for node in reduces} == {((T, 4096),)}
    assert not any(node.kind == "AllReduce" for node in build_network(cfg, T, 0, 1).nodes)


def test_the_engine_puts_the_link_time_on_the_all_reduce_rows_only():
    cfg = load_config("llama_2_7b")
    workload = build_workload(build_network(cfg, T, 0, 4))
    rows = [i for i, kind in enumerate(workload.kinds) if kind == "AllReduce"]
    assert len(rows) == 65
    reduced = workload.allreduce_elements
    assert np.flatnonzero(reduced).tolist() == rows and set(reduced[rows]) == {T * 4096}
    assert build_workload(build_network(cfg, T, 0, 1)).allreduce_elements is None
    # in place and launched as part of the link cost: no memory traffic, no kernel of the layer's own
    assert not workload.activation_elements[rows].any() and not workload.kernels[rows].any()


def test_grouped_evaluation_equals_the_per_layer_one_at_tp_2():
    cfg = load_config("llama_2_7b")
    phase, groups = grouped_phase(cfg, 1, 2)
    reduce_groups = [g for g, kind in enumerate(phase.workload.kinds) if kind == "AllReduce"]
    assert [groups.multiplicity[g] for g in reduce_groups] == [65]   # every (1, d) all-reduce alike
    device = resolve_device("h100-sxm")
    bits = np.full(2, 16.0)
    args = (cfg, device, 1, 2, np.array([100.0, 2000.0]), np.array([1.0, 16.0]), ["fp16"] * 2, bits, bits,
            bits, False, link_arrays(device, np.full(2, 2.0), False))
    grouped = run_phase(*args)
    with per_layer_evaluation():
        reference = run_phase(*args)
    np.testing.assert_allclose(grouped.totals.latency_s, reference.totals.latency_s, rtol=1e-12)
    np.testing.assert_allclose(grouped.totals.t_comm_s, reference.totals.t_comm_s, rtol=1e-12)
    assert (reference.totals.t_comm_s > 0).all()
    per_layer = reference.timing.t_comm_s
    kinds = np.array(build_workload(build_network(cfg, 1, 0, 2)).kinds)
    assert (per_layer[:, kinds != "AllReduce"] == 0).all() and (per_layer[:, kinds == "AllReduce"] > 0).all()


def test_an_onnx_export_of_a_tensor_parallel_pass_refuses_in_one_line_naming_the_kind():
    pytest.importorskip("onnx")
    from simulator.errors import SimulatorError
    from simulator.onnx.writer import to_onnx

    with pytest.raises(SimulatorError, match=r"^layer 'embed\.allreduce': no ONNX mapping for layer kind "
                                             r"AllReduce \(available: [^\n]*\)$"):
        to_onnx(build_network(load_config("gpt2"), 1, 0, 2), weights=False)
