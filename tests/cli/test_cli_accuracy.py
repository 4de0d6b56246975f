"""``roofline accuracy``: selecting rows by device, and by the runtime that predicts them."""

from __future__ import annotations

from simulator.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_accuracy_of_one_device_at_a_runtime_shows_the_rows_that_runtime_predicts(capsys):
    code, out, _ = run(capsys, "accuracy", "--device", "stm32h743@tinyengine", "--format", "csv")
    assert code == 0
    ids = [line.split(",")[0] for line in out.splitlines()[1:]]
    # the TinyEngine README's MCUNet-in0..in4 rows on the STM32H743, TinyEngine 0363956
    assert ids == [f"tinyengine-stm32h743-mcunet_in{i}-tinyengine036-latency" for i in range(5)]


def test_accuracy_of_an_unknown_device_is_one_line_with_a_suggestion(capsys):
    code, _, err = run(capsys, "accuracy", "--device", "stm32h74")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "did you mean 'stm32h743'" in err
