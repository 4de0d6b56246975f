"""``--resolution`` through the ``roofline`` entry point: the spellings of issue #23 and non-square
inputs (issue #17) in count, simulate, sweep and plot; bad values exit 2 with one line."""

import json

import pytest

import simulator
from simulator.catalog import MAX_RESOLUTION_PX
from simulator.cli import main
from simulator.errors import SimulatorError

DEVICE = "h100-sxm"


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def totals(capsys, network, *extra):
    code, out, err = run(capsys, "count", network, "--format", "json", *extra)
    assert code == 0, err
    document = json.loads(out)
    return document["input_shape"], document["totals"]


@pytest.mark.parametrize("network", ["resnet50", "vit_b_16"])
@pytest.mark.parametrize("text", ["224X224", "224×224", " 224 x 224 ", "224x224"])
def test_square_spellings_count_as_the_plain_size(capsys, network, text):
    assert totals(capsys, network, "--resolution", text) == totals(capsys, network, "--resolution", "224")


def test_non_square_count_on_resnet_and_vit(capsys):
    shape, resnet = totals(capsys, "resnet50", "--resolution", "224x320")
    assert shape == [1, 3, 224, 320] and resnet["params"] == 25_557_032
    shape, vit = totals(capsys, "vit_b_16", "--resolution", "224x320")
    # 14·20 patches + the class token, one positional-embedding row each (768 wide)
    assert shape == [1, 3, 224, 320] and vit["params"] == 86_567_656 + (14 * 20 + 1 - 197) * 768


def test_non_square_simulate_sweep_and_plot(capsys, tmp_path):
    code, out, err = run(capsys, "simulate", "resnet50", "--device", DEVICE, "--resolution", "224x320",
                         "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    # convolution MACs scale with the output maps, 10/7 as wide at every stage (224 = 7·32, 320 = 10·32)
    assert document["totals"]["macs"] == (4_089_184_256 - 2048 * 1000) * 10 // 7 + 2048 * 1000
    table = tmp_path / "sweep.csv"
    code, _, err = run(capsys, "sweep", "resnet50", "vit_b_16", "--device", DEVICE, "--resolution", "224x320",
                       "-o", str(table))
    assert code == 0, err
    rows = table.read_text().splitlines()
    assert len(rows) == 3 and all("224" in row and "320" in row for row in rows[1:])
    chart = tmp_path / "layers.png"
    code, _, err = run(capsys, "plot", "layers", "vit_b_16", "--device", DEVICE, "--resolution", "224x320",
                       "-o", str(chart))
    assert code == 0 and chart.stat().st_size > 0, err


BAD = [  # (network, --resolution value, words the one line must hold)
    ("resnet50", "-1x224", ("'-1x224'", "at least 1", f"1 to {MAX_RESOLUTION_PX:,}")),
    ("resnet50", "1000000x1000000", ("'1000000x1000000'", f"exceeds the maximum {MAX_RESOLUTION_PX:,}")),
    ("vit_b_16", "1000000x1000000", ("'1000000x1000000'", f"exceeds the maximum {MAX_RESOLUTION_PX:,}")),
    ("vit_b_16", "1x1", ("resolution 1x1 is too small", "from 16 to", "patch size 16")),
    ("alexnet", "1x1", ("resolution 1x1 is too small", "from 63 to")),
    ("vgg16", "1x224", ("resolution 1x224 is too small", "from 32 to")),
    ("vit_b_16", "225x317", ("resolution 225x317", "multiples of")),
    ("resnet50", "224x", ("SIZE or HEIGHTxWIDTH", "'224x'")),
    ("resnet50", "224x224x3", ("SIZE or HEIGHTxWIDTH", "'224x224x3'")),
]


@pytest.mark.parametrize("command", ["count", "simulate"])
@pytest.mark.parametrize("network, value, words", BAD)
def test_bad_resolutions_exit_2_with_one_line(capsys, command, network, value, words):
    device = ["--device", DEVICE] if command == "simulate" else []
    # --resolution=VALUE: argparse takes "-1x224" after a space for an option of its own
    code, out, err = run(capsys, command, network, *device, f"--resolution={value}")
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err


@pytest.mark.parametrize("argv", [
    ["sweep", "resnet50", "--device", DEVICE, "--resolution", "224,1000000x1000000"],
    ["plot", "layers", "vit_b_16", "--device", DEVICE, "--resolution", "1x1", "-o", "never.png"],
])
def test_bad_resolutions_in_sweep_and_plot(capsys, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"exceeds the maximum {MAX_RESOLUTION_PX:,}" in err or "1x1 is too small" in err
    assert not (tmp_path / "never.png").exists()


def test_the_library_takes_the_same_spellings_and_refuses_the_same_values():
    def macs(result):
        return sum(layer.macs for layer in result.layers)

    wide = simulator.simulate("vit_b_16", DEVICE, resolution="224×320")
    assert macs(wide) == macs(simulator.simulate("vit_b_16", DEVICE, resolution=(224, 320)))
    assert simulator.count("resnet50", resolution=" 224 X 320 ").macs == simulator.count(
        "resnet50", resolution=(224, 320)).macs
    for value, words in (("1x1", "too small"), ((1_000_000, 1_000_000), "exceeds the maximum"),
                         ((-1, 224), "at least 1")):
        with pytest.raises(SimulatorError, match=words):
            simulator.simulate("vit_b_16", DEVICE, resolution=value)
