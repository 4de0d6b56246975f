"""``main`` builds a parser that lists only the command it runs (issue 21: start-up); what that command
prints about its own arguments (help, usage errors) must be what the full parser prints."""

from __future__ import annotations

import pytest

from simulator import cli


def _sub(parser, command):
    return parser._subparsers._group_actions[0].choices[command]


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_a_command_alone_prints_the_help_and_usage_of_the_full_parser(command, capsys):
    full = cli.build_parser(configured=(command,))
    alone = cli.build_parser(configured=(command,), listed=(command,))
    assert list(alone._subparsers._group_actions[0].choices) == [command]
    assert _sub(alone, command).format_help() == _sub(full, command).format_help()
    outputs = []
    for parser in (full, alone):  # an unknown option (or a missing required argument): one line, status 2
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([command, "--no-such-option"])
        outputs.append((exited.value.code, capsys.readouterr().err))
    assert outputs[0] == outputs[1] and outputs[0][0] == 2 and outputs[0][1].count("\n") == 1
