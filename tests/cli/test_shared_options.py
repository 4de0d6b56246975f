"""The options several commands take are defined once (simulator/cli/common.py), and every command
still parses the examples the README gives for it."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from simulator.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "simulator" / "cli"

#: option -> the commands that take it with one meaning (one definition in cli/common.py); the help of
#: --require-fit and --progress names what each command checks or counts, the rest is word for word
SHARED = {
    "--force": ("calibrate", "export", "plot"),
    "--threads": ("calibrate", "validate"),
    "--ideal": ("simulate", "compare", "sweep", "llm"),
    "--no-fuse": ("simulate", "sweep"),
    "--require-fit": ("simulate", "compare"),
    "--format": ("count", "simulate", "compare", "validate", "llm"),
    "--progress": ("accuracy", "calibrate"),
    "--weight-precision": ("simulate", "sweep"),
    "--activation-precision": ("simulate", "sweep"),
}
OWN_HELP = {"--require-fit", "--progress", "--weight-precision", "--activation-precision"}


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def readme_examples() -> list[str]:
    """Every complete ``roofline ...`` command line of the README: in code blocks (with or without a
    ``$`` prompt, comments dropped) and in inline code; templates (``NETWORK...``, ``[--batch N]``,
    ``a|b``) are left out."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ").split("  #")[0].strip()
            if line.startswith("roofline "):
                lines.append(line)
    spans = re.findall(r"`(roofline [^`\n]+)`", text)
    lines += [span for span in spans if len(span.split()) > 2]  # `roofline calibrate` alone is prose
    template = re.compile(r"\.\.\.|\[|\||\b[A-Z]{2,}\b|<")
    return sorted({line for line in lines if not template.search(line)})


EXAMPLES = readme_examples()


def test_the_readme_gives_examples_of_most_commands():
    commands = {shlex.split(line)[1] for line in EXAMPLES}
    assert {"simulate", "compare", "sweep", "llm", "accuracy", "list"} <= commands


@pytest.mark.parametrize("line", EXAMPLES)
def test_every_readme_example_parses(line):
    argv = shlex.split(line)[1:]
    if argv == ["--version"] or "--help" in argv:
        pytest.skip("exits by design")
    args = build_parser(configured=(argv[0],)).parse_args(argv)  # SystemExit(2) on any option it lost
    assert args.command == argv[0]


@pytest.mark.parametrize("flag", sorted(SHARED))
def test_a_shared_option_is_defined_once_and_means_the_same_everywhere(flag):
    parsers = command_parsers()
    actions = [option(parsers[command], flag) for command in SHARED[flag]]
    first = actions[0]
    for action in actions[1:]:
        assert (action.option_strings, action.default, action.type, action.required, type(action)) == (
            first.option_strings, first.default, first.type, first.required, type(first))
        assert flag in OWN_HELP or action.help == first.help
    # written out in cli/common.py, in none of these commands' modules
    written = re.compile(rf"add_argument\(\s*\"{re.escape(flag)}\"")
    assert written.search((CLI / "common.py").read_text(encoding="utf-8"))
    assert not [command for command in SHARED[flag]
                if written.search((CLI / f"{command}.py").read_text(encoding="utf-8"))]


def test_output_is_one_option_with_the_same_flags_everywhere():
    parsers = command_parsers()
    writers = {"calibrate": True, "export": True, "plot": True, "sweep": False}  # sweep: stdout by default
    for command, required in writers.items():
        action = option(parsers[command], "-o")
        assert action.option_strings == ["-o", "--output"] and action.required is required
    defined_in = sorted(path.name for path in CLI.glob("*.py")
                        if '"-o", "--output"' in path.read_text(encoding="utf-8"))
    assert defined_in == ["common.py"]


def test_the_format_option_of_accuracy_adds_markdown_to_the_shared_choices():
    parsers = command_parsers()
    shared = option(parsers["simulate"], "--format").choices
    assert option(parsers["accuracy"], "--format").choices == (*shared, "markdown")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser(configured=(command,)).parse_args([command, "--help"])
    assert exit_info.value.code == 0 and f"usage: roofline {command}" in capsys.readouterr().out
