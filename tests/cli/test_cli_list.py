"""``roofline list``: patterns, LLM names, and what each device computes in or only stores."""

from __future__ import annotations

import pytest

from simulator.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_pattern_lists_the_matching_networks(capsys):
    code, out, _ = run(capsys, "list", "networks", "efficientvit_seg_*")
    assert code == 0
    assert out.split() == [f"efficientvit_seg_{v}" for v in ("b0", "b1", "b2", "b3", "l1", "l2")]


def test_a_pattern_that_matches_nothing_is_one_line(capsys):
    code, _, err = run(capsys, "list", "networks", "nothing_*")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nothing_*" in err


def test_llm_names_are_listed(capsys):
    code, out, _ = run(capsys, "list", "llms")
    assert code == 0
    assert {"llama_2_7b", "llama_3_8b", "mixtral_8x7b", "gpt2"} <= set(out.split())


def test_devices_say_what_they_compute_in_and_what_they_only_store(capsys):
    code, out, _ = run(capsys, "list", "devices", "stm32f746")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("stm32f746"))
    # the F746 profile has int8 and fp32 peaks; int4 is narrower than any of them: stored only
    assert "int8" in line and "fp32" in line and "int4" in line.split("op/s")[-1]


def test_runtimes_are_listed_with_the_device_they_were_fitted_on(capsys):
    code, out, _ = run(capsys, "list", "runtimes", "x-cube-ai-*")
    assert code == 0
    lines = [row for row in out.splitlines() if row.startswith("x-cube-ai-")]
    assert [row.split()[0] for row in lines] == ["x-cube-ai-8.1", "x-cube-ai-9.0"]
    assert all("nucleo-l4r5zi (fit)" in row and "depthwise_conv x" in row for row in lines)


def test_an_unknown_runtime_is_one_line_with_a_suggestion(capsys):
    code, _, err = run(capsys, "simulate", "ds_cnn_kws", "--device", "nucleo-l4r5zi@x-cube-ai-9")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown runtime 'x-cube-ai-9'" in err and "x-cube-ai-9.0" in err



def test_devices_name_the_runtimes_that_apply_to_them(capsys):
    code, out, _ = run(capsys, "list", "devices", "stm32h743")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("stm32h743"))
    assert line.endswith("@cmsis-nn, @tf-lite-micro, @tinyengine")


@pytest.mark.parametrize("what", ["networks", "devices", "llms", "runtimes"])
def test_an_empty_listing_is_the_same_one_line_for_every_kind(capsys, what):
    """No match prints nothing on stdout, one line on stderr naming the pattern and how to list all,
    and exits with 2, whatever is listed (devices printed an empty table with status 0, LLMs an
    empty line)."""
    code, out, err = run(capsys, "list", what, "no_such_name_*")
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "'no_such_name_*'" in err and f"`roofline list {what}`" in err
