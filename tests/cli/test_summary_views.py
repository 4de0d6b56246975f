"""``--summary``, ``--top N`` and ``--by kind`` of ``roofline simulate`` and ``roofline count``.

The expected figures come from elsewhere than the views: the layer MACs of AlexNet (Krizhevsky et
al. 2012, two groups in conv2, conv4 and conv5) written out by hand, and the full per-layer JSON
of the same command, sorted or grouped here.
"""

from __future__ import annotations

import json

import pytest

from simulator.cli import main

# AlexNet (the original, 96-256-384-384-256 channels), MACs = C_out * H_out * W_out * C_in/groups * k * k
CONV_MACS = {
    "conv1": 96 * 55 * 55 * 3 * 11 * 11,     # 105,415,200
    "conv2": 256 * 27 * 27 * 48 * 5 * 5,     # groups=2: 223,948,800
    "conv3": 384 * 13 * 13 * 256 * 3 * 3,    # 149,520,384
    "conv4": 384 * 13 * 13 * 192 * 3 * 3,    # groups=2: 112,140,288
    "conv5": 256 * 13 * 13 * 192 * 3 * 3,    # groups=2: 74,760,192
}
LINEAR_MACS = 9216 * 4096 + 4096 * 4096 + 4096 * 1000  # fc6, fc7, fc8: 58,621,952
SIMULATE = ("simulate", "alexnet", "--device", "jetson-agx-orin")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def full_layers():
    """The per-layer results of the plain command (every layer), as its JSON gives them."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main([*SIMULATE, "--format", "json"]) == 0
    return json.loads(buffer.getvalue())["layers"]


def test_summary_prints_the_totals_and_no_layer(capsys, full_layers):
    code, out, _ = run(capsys, *SIMULATE, "--summary")
    assert code == 0
    assert "latency" in out and "energy" in out and "alexnet on jetson-agx-orin" in out
    assert not any(line.split()[0] == layer["name"] for line in out.splitlines() if line.split()
                   for layer in full_layers)
    code, out, _ = run(capsys, *SIMULATE, "--summary", "--format", "json")
    document = json.loads(out)
    assert code == 0 and "layers" not in document
    assert document["totals"]["macs"] == sum(CONV_MACS.values()) + LINEAR_MACS  # 724,406,816


def test_summary_of_a_thousand_layer_network_is_a_few_lines(capsys):
    code, out, _ = run(capsys, "simulate", "segformer_b5", "--device", "jetson-agx-orin", "--summary")
    assert code == 0 and len(out.splitlines()) < 15  # the full table has over 1,000 rows


def test_top_lists_the_slowest_layers_slowest_first(capsys, full_layers):
    expected = [layer["name"] for layer in sorted(full_layers, key=lambda layer: -layer["latency_s"])[:3]]
    code, out, _ = run(capsys, *SIMULATE, "--top", "3", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert [layer["name"] for layer in document["slowest_layers"]] == expected
    assert document["layers_total"] == len(full_layers)
    code, out, _ = run(capsys, *SIMULATE, "--top", "3")
    rows = out.split("\n\n")[0].splitlines()
    body = rows[rows.index(next(r for r in rows if r.startswith("---"))) + 1:]
    assert [row.split()[0] for row in body[:3]] == expected and body[3].startswith("---")
    assert body[4].startswith("total")


def test_by_kind_sums_the_layers_of_each_kind(capsys, full_layers):
    code, out, _ = run(capsys, *SIMULATE, "--by", "kind", "--format", "json")
    assert code == 0
    kinds = {row["kind"]: row for row in json.loads(out)["by_kind"]}
    assert kinds["Conv2d"]["layers"] == 5 and kinds["Conv2d"]["macs"] == sum(CONV_MACS.values())
    assert kinds["Linear"]["layers"] == 3 and kinds["Linear"]["macs"] == LINEAR_MACS
    linear_s = sum(layer["latency_s"] for layer in full_layers if layer["kind"] == "Linear")
    assert kinds["Linear"]["latency_s"] == pytest.approx(linear_s, rel=1e-12)
    assert sum(row["latency_share"] for row in kinds.values()) == pytest.approx(1.0)
    code, out, _ = run(capsys, *SIMULATE, "--by", "kind")
    table = out.split("\n\n")[0].splitlines()
    assert table[0].split()[:2] == ["kind", "layers"] and "Conv2d" in out and "share" in table[0]


def test_views_are_alternatives(capsys):
    code, _, err = run(capsys, *SIMULATE, "--summary", "--top", "3")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--summary" in err and "--top" in err


def test_count_top_orders_the_layers_by_macs(capsys):
    code, out, _ = run(capsys, "count", "alexnet", "--top", "3", "--format", "json")
    assert code == 0
    largest = [layer["name"] for layer in json.loads(out)["largest_layers"]]
    assert largest == sorted(CONV_MACS, key=lambda name: -CONV_MACS[name])[:3]  # conv2, conv3, conv4
    code, out, _ = run(capsys, "count", "alexnet", "--top", "3", "--format", "csv")
    lines = out.strip().splitlines()
    assert len(lines) == 1 + 3 + 1  # header, three layers, total
    assert lines[-1].split(",")[4] == str(sum(CONV_MACS.values()) + LINEAR_MACS)


def test_count_by_kind_and_summary(capsys):
    code, out, _ = run(capsys, "count", "alexnet", "--by", "kind", "--format", "json")
    assert code == 0
    kinds = {row["kind"]: row for row in json.loads(out)["by_kind"]}
    assert kinds["Conv2d"]["macs"] == sum(CONV_MACS.values()) and kinds["Linear"]["macs"] == LINEAR_MACS
    assert kinds["ReLU"]["layers"] == 7  # after conv1..conv5, fc6 and fc7
    assert kinds["Conv2d"]["macs_share"] == pytest.approx(sum(CONV_MACS.values()) / 724_406_816)
    code, out, _ = run(capsys, "count", "alexnet", "--summary")
    assert code == 0 and out.strip().splitlines() == [out.strip()] and "724,406,816 MACs" in out
