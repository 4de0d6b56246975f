"""Networks side by side (:mod:`simulator.compare`), ``roofline compare`` and the compare chart.

The expected values are each network's own simulation (:func:`simulator.simulation.simulate` at
the same configuration) and arithmetic on it written here: the speed-up ``latency_0 / latency_i``
and the latency per layer kind summed over the result's layers.
"""

import json
import math
import re

import pytest
from matplotlib.patches import Rectangle

from simulator.cli import main
from simulator.compare import COLUMNS, Comparison, compare
from simulator.errors import SimulatorError
from simulator.plots import compare_chart
from simulator.simulation import simulate

ORIN = "jetson-agx-orin"
#: the lecture's pair, at its configuration (Orin, TensorRT fp16, batch 1, Cityscapes 1024×2048)
LECTURE = ("efficientvit_seg_l1", "segformer_b5")
SMALL = ("efficientvit_seg_b0", "segformer_b0")


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def lecture() -> Comparison:
    return compare(list(LECTURE), ORIN, precision="fp16")


def test_each_network_is_its_own_simulation_and_the_first_is_the_reference(lecture):
    for name, result in zip(LECTURE, lecture.results, strict=True):
        alone = simulate(name, ORIN, precision="fp16")
        assert result.latency_s == alone.latency_s and result.energy_j == alone.energy_j
        assert result.counts.macs == alone.counts.macs
    first, second = lecture.results
    assert lecture.speedups == (1.0, first.latency_s / second.latency_s)
    assert lecture.relative_latencies[1] == second.latency_s / first.latency_s
    assert first.counts.input_shape == (1, 3, 1024, 2048)           # the lecture's street scenes


def test_kind_split_sums_to_each_latency(lecture):
    for result, split in zip(lecture.results, lecture.kind_latency_s(), strict=True):
        kinds = {layer.kind for layer in result.layers}
        assert set(split) == kinds
        for kind in kinds:
            assert split[kind] == pytest.approx(sum(x.latency_s for x in result.layers if x.kind == kind))
        assert sum(split.values()) == pytest.approx(result.latency_s, rel=1e-9)
    table = lecture.kinds_frame()
    assert list(table.columns) == [r.network for r in lecture.results]
    assert table.loc["ReLULinearAttention", "segformer_b5"] == 0.0    # SegFormer has no linear attention
    assert table.loc["SRAttention"].iloc[0] == 0.0 < table.loc["SRAttention"].iloc[1]


def test_frame_has_one_row_per_network_with_the_documented_columns(lecture):
    frame = lecture.frame()
    assert tuple(frame.columns) == COLUMNS and len(frame) == 2
    second = lecture.results[1]
    row = frame.iloc[1]
    assert row["params"] == second.counts.params and row["macs"] == second.counts.macs
    assert row["peak_activation_bytes"] == second.counts.peak_activations * 16 // 8    # fp16: 2 bytes
    assert row["throughput_per_s"] == pytest.approx(1 / second.latency_s)             # batch 1
    assert bool(row["fits"]) == second.fits


def test_attention_and_ideal_reach_every_simulation():
    fused = compare(list(SMALL), ORIN, attention="fused", ideal=True, resolution=(256, 512))
    materialized = compare(list(SMALL), ORIN, attention="materialized", ideal=True, resolution=(256, 512))
    assert {r.attention for r in fused.results} == {"fused"}
    assert all(r.ideal for r in fused.results)
    # SegFormer's score matrices go through DRAM only when materialized
    assert materialized.results[1].latency_s > fused.results[1].latency_s
    assert fused.results[0].counts.input_shape == (1, 3, 256, 512)


def test_errors_name_the_problem():
    with pytest.raises(SimulatorError, match="at least one network"):
        compare([], ORIN)
    with pytest.raises(SimulatorError, match="has no parameter 'seq_len'"):
        compare(["segformer_b0"], ORIN, params={"seq_len": 64})


# roofline compare

def test_cli_compares_the_lecture_pair(capsys, lecture):
    code, out, err = run(capsys, "compare", *LECTURE, "--device", ORIN, "--precision", "fp16")
    assert code == 0 and err == ""
    assert "efficientvit_seg_l1" in out and "segformer_b5" in out and "SRAttention" in out
    ratio = lecture.results[1].latency_s / lecture.results[0].latency_s
    assert f"{ratio:.3g}×" in out                                   # latency / first


def test_cli_json_and_csv_carry_the_simulated_values(capsys):
    code, out, _ = run(capsys, "compare", *SMALL, "--device", ORIN, "--resolution", "256x512",
                       "--attention", "fused", "--format", "json")
    assert code == 0
    document = json.loads(out)
    expected = [simulate(n, ORIN, resolution=(256, 512), attention="fused") for n in SMALL]
    assert document["attention"] == "fused"
    latencies = [network["latency_s"] for network in document["networks"]]
    assert latencies == pytest.approx([r.latency_s for r in expected], rel=1e-12)
    assert document["networks"][1]["speedup"] == pytest.approx(expected[0].latency_s / expected[1].latency_s)
    for network in document["networks"]:
        assert sum(network["latency_by_kind_s"].values()) == pytest.approx(network["latency_s"])
    code, out, _ = run(capsys, "compare", *SMALL, "--device", ORIN, "--resolution", "256x512",
                       "--format", "csv")
    header, *rows = out.strip().splitlines()
    assert header.startswith(",".join(COLUMNS)) and len(rows) == 2
    assert "latency_SRAttention_s" in header


def test_cli_errors_are_one_line(capsys):
    code, _, err = run(capsys, "compare", "segformer_b0", "--device", ORIN, "--param", "depth=3")
    assert code == 2 and "has no parameter 'depth'" in err and "num_classes" in err
    assert len(err.strip().splitlines()) == 1


# the chart

def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_chart_bars_are_the_simulated_latencies_and_labels_the_speedups(lecture):
    figure = compare_chart(lecture)
    ax = figure.axes[0]
    scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}[re.search(r"\((\S+)\)", ax.get_ylabel()).group(1)]
    tops: dict[int, float] = {}
    for bar in _bars(ax):
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
    results = lecture.results
    assert [tops[i] * scale for i in range(len(results))] == pytest.approx([r.latency_s for r in results])
    # one segment per layer kind with time: the SegFormer bar's attention segment is its SRAttention time
    segments = {container.get_label(): container.patches for container in ax.containers}
    assert segments["SRAttention"][1].get_height() * scale == pytest.approx(
        sum(x.latency_s for x in results[1].layers if x.kind == "SRAttention"))
    assert segments["SRAttention"][0].get_height() == 0                 # EfficientViT has none
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "speedup"]
    speedups = [results[0].latency_s / r.latency_s for r in results]   # the first network's latency / each
    assert [float(label.split("×")[0]) for label in labels] == pytest.approx(speedups, rel=5e-3)
    assert "slower" in labels[1] and math.isclose(
        float(re.search(r"\(([\d.]+)× slower\)", labels[1]).group(1)),
        results[1].latency_s / results[0].latency_s, rel_tol=5e-3)
    assert [t.get_text() for t in ax.get_xticklabels()] == [r.network for r in results]


def test_plot_compare_writes_the_chart(capsys, tmp_path):
    path = tmp_path / "chart.png"
    code, _, err = run(capsys, "plot", "compare", *SMALL, "--device", ORIN, "--resolution", "256x512",
                         "-o", str(path))
    assert code == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
