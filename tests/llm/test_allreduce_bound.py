"""The per-layer bound of a tensor-parallel all-reduce row: ``link``, not ``compute``.

An AllReduce row (:mod:`simulator.model.layers.collective`) has no operations and no memory traffic
(tests/llm/test_allreduce_layer.py): ``T_compute = T_memory = 0``, and its whole time is the link's,
``T_comm > 0`` at ``tp = 2`` (a ring all-reduce of ``d = 4096`` fp16 elements over NVLink). Its bound is
therefore ``link`` (``T_comm > max(T_compute, T_memory)``); every other row has no link time and keeps
its compute or memory bound. One device has no link, so no row is link-bound.

The pass is built as :func:`simulator.llm.as_network.simulate_phase` builds it (one decode step of
Llama-2-7B over 2,048 cached tokens, fp16), with the tensor-parallel network and link arrays that
``roofline llm --tp 2`` uses (the public ``simulate`` has no ``tp``).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.hardware.loader import resolve_device
from simulator.llm.config import load_config
from simulator.llm.groups import per_layer_evaluation
from simulator.llm.network import build_network
from simulator.llm.parallel import link_arrays
from simulator.llm.phases import at_context, phase_workload, run_phase
from simulator.model.counts import count_network
from simulator.results import SimulationResult
from simulator.simulation import simulation_result

CONTEXT = 2048


def _decode_pass(tp: int) -> SimulationResult:
    """One decode step of Llama-2-7B at ``tp`` on h100-sxm, ideal fp16 (as ``simulate_phase``)."""
    cfg, device = load_config("llama_2_7b"), resolve_device("h100-sxm")
    bits, batch = np.array([16.0]), np.array([1.0])
    link = link_arrays(device, np.array([float(tp)]), True)
    with per_layer_evaluation():
        evaluation = run_phase(cfg, device, 1, tp, np.zeros(1), batch, ["fp16"], bits, bits, bits, True,
                               link, cached=CONTEXT)
    network = build_network(cfg, 1, CONTEXT, tp)
    return simulation_result(
        cfg.name, device, 1, ("fp16", "fp16", "fp16"), count_network(network, 1),
        at_context(phase_workload(cfg, 1, tp, CONTEXT), np.zeros(1), bits), evaluation, None,
        ideal=True, fused=True, overrides={}, resolution=None, params={}, attention=device.attention,
        expected_model=False)


@pytest.fixture(scope="module")
def tp2() -> SimulationResult:
    return _decode_pass(2)


def test_every_all_reduce_row_and_no_other_is_link_bound(tp2):
    reduces = [layer for layer in tp2.layers if layer.kind == "AllReduce"]
    assert len(reduces) == 2 * 32 + 1  # two per block and one after the embedding
    for layer in reduces:  # no work of its own: all its time is the link's
        assert layer.t_compute_s == layer.t_memory_s == 0.0 and layer.latency_s > 0
        assert (layer.bound, layer.binding) == ("link", "link")
    others = [layer for layer in tp2.layers if layer.kind != "AllReduce"]
    assert not [layer.name for layer in others if "link" in (layer.bound, layer.binding)]
    assert {layer.bound for layer in others} <= {"compute", "memory", "none"}
    frame = tp2.to_frame()
    assert frame.loc[frame["kind"] == "AllReduce", "bound"].eq("link").all()
    # a decode step is memory-bound as a whole; the link rows are not counted as compute or memory
    assert tp2.bound == "memory"


def test_one_device_has_no_link_bound_row():
    single = _decode_pass(1)
    assert not any(layer.kind == "AllReduce" for layer in single.layers)
    assert not [layer.name for layer in single.layers if "link" in (layer.bound, layer.binding)]


@pytest.mark.parametrize("group_by", [None, "kind"])
def test_the_layer_chart_of_a_tp_2_pass_draws_link_rows(tp2, tmp_path, group_by):
    from simulator.plots import layer_latency_chart
    from simulator.plots._common import BOUND_COLORS

    assert "link" in BOUND_COLORS
    figure = layer_latency_chart(tp2, top=80, group_by=group_by)
    path = tmp_path / "layers.png"
    figure.savefig(path)
    assert path.stat().st_size > 0
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any(text.startswith("link-bound: 65 layers") for text in legend)
