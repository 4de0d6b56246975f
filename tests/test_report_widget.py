"""``simulator.report_widget``: the report inline in Jupyter, an iframe whose ``srcdoc`` is the whole
page (scripts run inside the frame; nothing is loaded from the network)."""

from __future__ import annotations

import html
import re

import pytest

import simulator
from simulator.errors import SimulatorError
from simulator.report_html import embedded_data


def test_the_widget_is_an_iframe_holding_the_report():
    widget = simulator.report_widget("resnet18", "jetson-agx-orin", batches=[1, 2])
    frame = widget._repr_html_()
    found = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" style="[^"]*"></iframe>', frame)
    assert found, frame[:200]
    page = html.unescape(found.group(1))
    assert page == widget.html and page.startswith("<!DOCTYPE html>")
    data = embedded_data(page)
    assert [(c["network"], c["batch"]) for c in data["configs"]] == [("resnet18", 1), ("resnet18", 2)]
    expected = simulator.simulate("resnet18", "jetson-agx-orin", batch=2)
    assert data["configs"][1]["latency_s"] == expected.latency_s


@pytest.mark.parametrize("height", [0, 99, 1.5, True])
def test_a_bad_height_is_one_line(height):
    with pytest.raises(SimulatorError, match="height_px must be an integer of at least 100"):
        simulator.report_widget("resnet18", "jetson-agx-orin", height_px=height)
