"""One batch grammar in every command that takes batches (issue 17): ``1,8``, ``1..64`` (doubling),
``1-4`` (every integer), ``8..64:8`` (a step), each size from 1 to 2**63 - 1
(:func:`simulator.cli.common.parse_batches`).

Where a command shows several batches it takes the grammar (``llm --batch``, ``validate --batch``,
``plot --batches``, ``sweep --batch``); where it takes one (``simulate``, ``count``, ``compare``,
``export``, ``plot --batch``) a list or a range is refused in one line that points to the commands
that take several. Each says so in its ``--help``.
"""

from __future__ import annotations

import json

import pytest

from simulator.cli import build_parser, main
from simulator.cli.common import parse_batches
from simulator.errors import SimulatorError


@pytest.mark.parametrize(("text", "expected"), [
    ("1..64", [1, 2, 4, 8, 16, 32, 64]),                  # doubling
    ("3..100", [3, 6, 12, 24, 48, 96]),
    ("1-4", [1, 2, 3, 4]),                                 # every integer
    ("8..64:8", [8, 16, 24, 32, 40, 48, 56, 64]),          # a step
    ("1..4,3,16", [1, 2, 4, 3, 16]),                       # mixed, duplicates dropped
    ("1..9223372036854775807", [2**k for k in range(63)]),  # up to the largest batch, 2**63 - 1
    ("3074457345618258603..9223372036854775807", [3074457345618258603, 6148914691236517206]),
    ("9223372036854775807", [2**63 - 1]),
])
def test_the_grammar_gives_these_batches(text: str, expected: list[int]):
    assert parse_batches(text) == expected


@pytest.mark.parametrize("text", ["9223372036854775808", "1..9223372036854775808",
                                  "1..1000000000000000000000"])
def test_a_batch_past_2_63_minus_1_is_refused_naming_the_limit(text: str):
    with pytest.raises(SimulatorError, match=r"at most 2\*\*63 - 1 = 9,223,372,036,854,775,807"):
        parse_batches(text)


ONE_BATCH = {  # a command that takes one batch size, with its other arguments
    "simulate": ["simulate", "resnet18", "--device", "h100-sxm"],
    "count": ["count", "resnet18"],
    "compare": ["compare", "resnet18", "mobilenet_v2", "--device", "h100-sxm"],
    "export": ["export", "resnet18", "-o", "never-written.onnx"],
    "plot": ["plot", "layers", "resnet18", "--device", "h100-sxm", "-o", "never-written.png"],
}


@pytest.mark.parametrize("command", list(ONE_BATCH))
@pytest.mark.parametrize("batch", ["1..8", "2,4", "1-3"])
def test_a_command_of_one_batch_refuses_a_list_or_range_in_one_line(capsys, command: str, batch: str):
    with pytest.raises(SystemExit) as exit_:
        main([*ONE_BATCH[command], "--batch", batch])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage:" not in err and "Traceback" not in err
    assert err.startswith(f"roofline {command}: error: --batch takes one batch size here, got {batch!r}")
    assert "roofline sweep" in err


@pytest.mark.parametrize("command", list(ONE_BATCH))
def test_a_command_of_one_batch_refuses_a_batch_past_the_limit_in_one_line(capsys, command: str):
    with pytest.raises(SystemExit) as exit_:
        main([*ONE_BATCH[command], "--batch", "9223372036854775808"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "9,223,372,036,854,775,807" in err and "9223372036854775808" in err


def test_simulate_takes_one_batch_written_plainly(capsys):
    assert main(["simulate", "resnet18", "--device", "h100-sxm", "--batch", "4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["batch"] == 4


def test_llm_shows_every_batch_of_a_range(capsys):
    assert main(["llm", "llama_3_8b", "--device", "h100-sxm", "--batch", "1..8,12", "--prompt", "128",
                 "--generate", "8", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["configurations"]
    assert [row["batch"] for row in rows] == [1, 2, 4, 8, 12]


@pytest.mark.parametrize(("argv", "option", "expected"), [
    (["plot", "latency-throughput", "resnet18", "--device", "h100-sxm", "-o", "x.png", "--batches", "1..8"],
     "batches", (1, 2, 4, 8)),
    (["validate", "model.onnx", "--device", "cpu.toml", "--batch", "1-3,16"], "batch", (1, 2, 3, 16)),
])
def test_commands_of_several_batches_read_the_grammar(argv: list[str], option: str, expected: tuple):
    args = build_parser((argv[0],)).parse_args(argv)
    assert getattr(args, option) == expected


@pytest.mark.parametrize(("command", "says"), [
    ("simulate", "lists and ranges (1..64) are refused"),
    ("count", "lists and ranges (1..64) are refused"),
    ("compare", "lists and ranges (1..64) are refused"),
    ("export", "lists and ranges (1..64) are refused"),
    ("plot", "lists and ranges (1..64) are refused"),
    ("plot", "A..B doubles from A up to B"),
    ("llm", "A..B doubles from A up to B"),
    ("validate", "A..B doubles from A up to B"),
    ("sweep", "A..B doubles from A up to B"),
])
def test_every_help_says_what_its_batch_option_takes(capsys, command: str, says: str):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert says in " ".join(capsys.readouterr().out.split())
