"""``roofline serve`` without a browser: it listens on 127.0.0.1 only, refuses requests addressed to
another host and files outside its folder, and answers bad input with one line (status 400) while it
stays up. The server (conftest's ``server``) runs in a thread on a free port and is always shut down."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading

import pytest

from simulator.cli import main
from simulator.errors import SimulatorError
from simulator.serve import LOOPBACK, inside
from tests.helpers import serve_request


def _error(server, body: dict) -> str:
    status, data = serve_request(server, "POST", "/api/report", body)
    assert status == 400
    line = json.loads(data)["error"]
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line
    return line


def _other_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: it only picks the outgoing interface
        address = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def test_it_listens_on_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"
    status, page = serve_request(server, "GET", "/")
    assert status == 200 and b'id="compute"' in page and b'id="roofline"' in page
    other = _other_address()
    if other is not None:
        with pytest.raises(OSError), socket.create_connection((other, server.server_address[1]), timeout=2):
            pass


def test_a_request_addressed_to_another_host_is_refused(server):
    status, data = serve_request(server, "GET", "/", host="attacker.example:80")
    assert status == 403 and "answers requests to 127.0.0.1" in json.loads(data)["error"]


def test_the_report_is_simulates(server):
    from simulator.simulation import simulate

    status, data = serve_request(server, "POST", "/api/report",
                            {"networks": "mobilenet_v2", "devices": "jetson-agx-orin", "batches": "1,4"})
    assert status == 200
    configs = json.loads(data)["configs"]
    assert [c["batch"] for c in configs] == [1, 4]
    assert configs[1]["latency_s"] == simulate("mobilenet_v2", "jetson-agx-orin", batch=4).latency_s


@pytest.mark.parametrize(("body", "message"), [
    ({"networks": "/etc/passwd", "devices": "h100-sxm"}, "network '/etc/passwd' is outside the working"),
    ({"networks": "../x.onnx", "devices": "h100-sxm"}, "is outside the working directory"),
    ({"networks": "resnet18", "devices": "~/my.toml"}, "home folder is outside the working directory"),
    ({"networks": "resnet18", "devices": "h100-sxm", "batches": "0"}, "batch must be integers of at least 1"),
    ({"networks": "resnet_18", "devices": "h100-sxm"}, "unknown network 'resnet_18'"),
    ({"networks": "resnet18", "devices": "h100-sxm", "precisions": "fp7"}, "fp7"),
    ({"networks": "inside.onnx", "devices": "h100-sxm"}, "cannot read ONNX model"),
    ({"devices": "h100-sxm", "uploads": [{"name": "bad.onnx", "data": base64.b64encode(b"junk").decode()}]},
     "cannot read ONNX model 'bad.onnx (uploaded)'"),
    ({"devices": "h100-sxm", "uploads": [{"name": "model.exe", "data": ""}]}, "upload 'model.exe'"),
    ({"devices": "h100-sxm", "uploads": [{"name": "bad.onnx", "data": "@@@"}]}, "not base64"),
    ({"networks": "resnet18", "devices": "h100-sxm", "batches": "1-2001"}, "2,001 configurations asked for"),
    ([1, 2], "JSON object"),
])
def test_bad_input_is_one_line_and_the_server_stays_up(server, served_folder, body, message):
    (served_folder / "inside.onnx").write_bytes(b"not a model")  # a file under the folder, not ONNX
    assert message in _error(server, body)
    assert serve_request(server, "GET", "/")[0] == 200


def test_a_body_that_is_not_json_is_one_line(server):
    status, data = serve_request(server, "POST", "/api/report", b"{not json")
    assert status == 400 and "is not JSON" in json.loads(data)["error"]


def test_paths_under_the_folder_are_read_and_others_refused(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "outside").symlink_to("/etc")
    assert inside("resnet18", tmp_path, "network") == "resnet18"
    assert inside("model.onnx", tmp_path, "network") == str((tmp_path / "model.onnx").resolve())
    assert inside("meta-llama/Llama-3-8B", tmp_path, "network") == "meta-llama/Llama-3-8B"  # a hub id
    assert inside("jetson-agx-orin@trt", tmp_path, "device") == "jetson-agx-orin@trt"
    for text in ("/etc/passwd", "../a.onnx", "outside/passwd", "~/a.toml"):
        with pytest.raises(SimulatorError, match="outside the working directory"):
            inside(text, tmp_path, "network")


@pytest.mark.parametrize(("argv", "message"), [
    (["--port", "70000"], "--port must be an integer from 0"),
    (["--host", " "], "--host must name an address"),
])
def test_bad_options_are_one_line(capsys, argv, message):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_uploaded_config_json_and_profile_are_read(server):
    from pathlib import Path

    from simulator.llm import simulate_llm

    root = Path(__file__).resolve().parents[1]
    files = {"config.json": root / "simulator" / "llm" / "configs" / "llama_3_8b.json",
             "jetson-agx-orin.toml": root / "hardware_profiles" / "jetson-agx-orin.toml"}
    uploads = [{"name": name, "data": base64.b64encode(path.read_bytes()).decode()}
               for name, path in files.items()]
    body = {"batches": "1,4", "contexts": "512", "uploads": uploads}
    status, data = serve_request(server, "POST", "/api/report", body)
    assert status == 200
    report = json.loads(data)
    assert report["networks"] == ["config.json (uploaded)"]  # not the temporary path
    run = report["llm"]["config.json (uploaded)"]["runs"][0]
    expected = simulate_llm("llama_3_8b", "jetson-agx-orin", [1, 4], 512, 128)
    assert run["ttft_s"] == expected.metrics["ttft_s"].tolist()


def test_the_command_serves_on_loopback_and_stops(tmp_path):
    """``roofline serve --port 0`` in a subprocess: it prints its URL on 127.0.0.1, answers there, and is
    always stopped (terminated, then killed if it lingers)."""
    import os
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", "0"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert lines and lines[0].startswith("serving http://127.0.0.1:"), (lines, process.poll())
        port = int(lines[0].split()[1].rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)  # no proxy in between
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200 and b'id="compute"' in response.read()
        finally:
            connection.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_what_if_values_are_the_reports_axes(server):
    from simulator.simulation import simulate

    body = {"networks": "resnet18", "devices": "jetson-agx-orin", "settings": "dram.bandwidth_scale=0.5,1"}
    status, data = serve_request(server, "POST", "/api/report", body)
    assert status == 200
    report = json.loads(data)
    assert report["whatifs"] == [{"dram.bandwidth_scale": 0.5}, {"dram.bandwidth_scale": 1.0}]
    halved = simulate("resnet18", "jetson-agx-orin", overrides={"dram.bandwidth_scale": 0.5})
    assert report["configs"][0]["latency_s"] == halved.latency_s
    assert "dram.bandwidth_scale" in _error(server, {**body, "settings": "dram.bandwidth_scale=0"})
