"""``roofline serve``: the report's views (:mod:`simulator.report_html`) computed live, in the browser,
for any network, ONNX file, LLM ``config.json`` or device profile the user names or uploads.

Only the standard library's :mod:`http.server`. ``GET /`` is the page (the report's views and a form);
``POST /api/report`` takes the form as JSON and answers :func:`~simulator.report_html.html_report_data`
for it, or ``{"error": LINE}`` with status 400: the one line the CLI would print for that input (the
text fields are read by the CLI's own parsers), so the page shows it and the server stays up.

Safety: it binds to :data:`LOOPBACK` unless the caller names another host, and then answers only
requests addressed to that host (a ``Host`` header naming another is refused: no DNS rebinding). A
file named in the form must lie under the working directory (resolved, symbolic links followed);
uploads are written to a temporary folder of the request's own, deleted after it, under a name of
safe characters, and are at most :data:`MAX_UPLOAD_BYTES` in all; a request holds at most
:data:`MAX_CONFIGURATIONS` configurations.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

from simulator.cli.common import parse_batches, split_list, swept_settings
from simulator.errors import SimulatorError
from simulator.hardware.runtime import RUNTIME_SEPARATOR
from simulator.io import dumps_json
from simulator.report_html import html_report_data

#: the only address the server binds to unless the caller names another
LOOPBACK = "127.0.0.1"
#: the most bytes a request may carry (uploads base64-encoded inside its JSON)
MAX_UPLOAD_BYTES = 64 * 2**20
#: the most configurations (networks × devices × precisions × batches × what-ifs) one request computes
MAX_CONFIGURATIONS = 2000
#: what an upload may be, by its name's ending: a network (ONNX, LLM config.json) or a device profile
UPLOAD_ROLES = {".onnx": "network", ".json": "network", ".toml": "device"}
#: names that are files rather than built-in names (by their ending)
FILE_SUFFIXES = (".onnx", ".json", ".toml")


def inside(text: str, root: Path, what: str) -> str:
    """``text`` as given when it names no file; a file it names (by a path separator, an ending of
    :data:`FILE_SUFFIXES` or because it exists under ``root``) resolved, and refused (one line) unless it
    lies under ``root``. A name that looks like a path but names no file (a hub id ``org/name``) is
    passed on as written once it would resolve under ``root``."""
    name = text.split(RUNTIME_SEPARATOR)[0] if what == "device" else text
    root = root.resolve()
    if name.startswith("~"):
        raise SimulatorError(f"{what} {text!r}: a path under the home folder is outside the working "
                             f"directory {root}; roofline serve reads files under it only (or upload "
                             f"the file)")
    looks = "/" in name or "\\" in name or name.endswith(FILE_SUFFIXES) or (root / name).exists()
    if not looks:
        return text
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise SimulatorError(f"{what} {text!r} is outside the working directory {root}; roofline serve reads "
                             f"files under it only (or upload the file)")
    return str(path) + text[len(name):] if path.exists() else text


def _texts(body: dict, key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise SimulatorError(f"{key} must be text, got {type(value).__name__}")
    return value.strip()


def _uploads(body: dict, folder: Path, shown: dict[str, str]) -> tuple[list[str], list[str], dict[str, str]]:
    """The uploaded files written under ``folder``: network paths, device paths, and ``shown`` with each
    path's name as the user gave it (to show instead of the temporary path)."""
    networks, devices = [], []
    uploads = body.get("uploads") or []
    if not isinstance(uploads, list):
        raise SimulatorError("uploads must be a list of {name, data} files")
    for k, upload in enumerate(uploads):
        name = upload.get("name") if isinstance(upload, dict) else None
        if not isinstance(name, str) or not isinstance(upload.get("data"), str):
            raise SimulatorError(f"upload {k + 1}: a file needs a name and its data (base64)")
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_ROLES:
            raise SimulatorError(f"upload {name!r}: a network (.onnx), an LLM's config.json (.json) or a "
                                 f"device profile (.toml), got {suffix or 'no ending'}")
        try:
            data = base64.b64decode(upload["data"], validate=True)
        except (binascii.Error, ValueError):
            raise SimulatorError(f"upload {name!r}: its data is not base64") from None
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).stem)[:80] or "upload"
        # a config.json keeps its name (LLM folders are read by it); each file gets a folder of its own
        path = folder / f"upload{k + 1}" / (safe + suffix)
        path.parent.mkdir()
        path.write_bytes(data)
        (networks if UPLOAD_ROLES[suffix] == "network" else devices).append(str(path))
        shown[str(path)] = re.sub(r"[^\w. -]", "_", Path(name).name)  # safe inside JSON text
    return networks, devices, shown


def report_for(body: dict, root: Path) -> dict:
    """The report data of one request's form (JSON fields: ``networks``, ``devices``, ``precisions``,
    ``batches``, ``contexts``, ``generate``, ``settings`` as the CLI's texts, ``uploads`` a list of
    ``{name, data}``), the uploads' temporary paths shown as their names."""
    if not isinstance(body, dict):
        raise SimulatorError("the request must be a JSON object of the form's fields")
    folder = Path(tempfile.mkdtemp(prefix="roofline-serve-"))
    shown: dict[str, str] = {}
    try:
        uploaded, uploaded_devices, shown = _uploads(body, folder, shown)
        networks = [inside(n, root, "network") for n in split_list(_texts(body, "networks"), "network")
                    ] if _texts(body, "networks") else []
        devices = [inside(d, root, "device") for d in split_list(_texts(body, "devices"), "device")
                   ] if _texts(body, "devices") else []
        networks, devices = networks + uploaded, devices + uploaded_devices
        if not networks:
            raise SimulatorError("name a network (roofline list, roofline list llms) or upload an .onnx "
                                 "file or a config.json")
        if not devices:
            raise SimulatorError("name a device (roofline list devices) or upload a profile (.toml)")
        precision_text = _texts(body, "precisions")
        precisions = split_list(precision_text, "precision") if precision_text else None
        batches = parse_batches(_texts(body, "batches") or "1", "batch")
        contexts = parse_batches(_texts(body, "contexts"), "context") if _texts(body, "contexts") else None
        generate = parse_batches(_texts(body, "generate"), "generate") if _texts(body, "generate") else [None]
        if len(generate) != 1:
            raise SimulatorError(f"generate takes one number of tokens, got {_texts(body, 'generate')!r}")
        # the CLI's parser (a key given twice is refused in one line, not silently the last one kept)
        overrides = swept_settings(SimpleNamespace(
            settings=[line.strip() for line in _texts(body, "settings").splitlines() if line.strip()]))
        whatifs = 1
        for values in overrides.values():
            whatifs *= len(values)
        count = len(networks) * len(devices) * len(precisions or [None]) * len(batches) * whatifs
        if count > MAX_CONFIGURATIONS:
            raise SimulatorError(f"{count:,} configurations asked for; roofline serve computes at most "
                                 f"{MAX_CONFIGURATIONS:,} per request (roofline report writes larger ones)")
        data = html_report_data(networks, devices, precisions, batches, overrides or None,
                                command="roofline serve", contexts=contexts, generate=generate[0])
    except SimulatorError as error:  # the uploads named as the user named them, not by their temporary path
        raise SimulatorError(_named(str(error), shown, folder)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return json.loads(_named(dumps_json(data, separators=(",", ":")), shown, folder))


def _named(text: str, shown: dict[str, str], folder: Path) -> str:
    """``text`` with each upload's temporary path (as written, and JSON-escaped) replaced by its name."""
    for path, name in shown.items():
        for written in (path, json.dumps(path)[1:-1]):
            text = text.replace(written, f"{name} (uploaded)")
    return text.replace(str(folder), "(uploads)")


FORM = """<style>#form-fields{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center;margin:8px 0}
#form-fields label{display:flex;gap:6px;align-items:center}</style>
<form id="form" onsubmit="computeReport(); return false;">
<div id="form-fields">
<label>network <input id="f-networks" list="network-names" size="28" value="__NETWORK__"
  title="built-in names, LLMs, .onnx or config.json paths under the working directory"></label>
<label>or upload <input id="f-network-file" type="file" accept=".onnx,.json"></label>
<label>device <input id="f-devices" list="device-names" size="22" value="__DEVICE__"
  title="device names or .toml profiles under the working directory; comma-separated"></label>
<label>or upload <input id="f-device-file" type="file" accept=".toml"></label>
<label>precision <input id="f-precisions" size="10" placeholder="device default"></label>
<label>batch <input id="f-batches" size="10" value="1..64"></label>
<label>LLM context <input id="f-contexts" size="12" placeholder="256..8192"></label>
<label>LLM generate <input id="f-generate" size="5" placeholder="128"></label>
<label>what-if <input id="f-settings" size="28" placeholder="dram.bandwidth_scale=0.5,1,2"
  title="KEY=V1,V2,... as roofline report --set; several separated by ;"></label>
<button id="compute" type="submit">compute</button> <span id="status" class="note"></span>
</div></form>
<p id="error" class="bad"></p>
<datalist id="network-names">__NETWORK_OPTIONS__</datalist>
<datalist id="device-names">__DEVICE_OPTIONS__</datalist>
"""

SERVE_SCRIPT = r"""
async function upload(id) {
  const file = document.getElementById(id).files[0];
  if (!file) return [];
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 32768)
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
  return [{name: file.name, data: btoa(text)}];
}
async function computeReport() {
  const error = document.getElementById("error"), status = document.getElementById("status");
  const field = id => document.getElementById("f-" + id).value;
  error.textContent = ""; status.textContent = "computing…";
  document.getElementById("compute").disabled = true;
  try {
    const body = {networks: field("networks"), devices: field("devices"), precisions: field("precisions"),
      batches: field("batches"), contexts: field("contexts"), generate: field("generate"),
      settings: field("settings").split(";").join("\n"),
      uploads: (await upload("f-network-file")).concat(await upload("f-device-file"))};
    const answer = await fetch("/api/report", {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json"}});
    const data = await answer.json();
    if (!answer.ok || data.error) { error.textContent = data.error; status.textContent = ""; return; }
    document.getElementById("report").style.display = "";
    start(data);
    status.textContent = `${data.configs.length} configurations computed`;
  } catch (e) {
    error.textContent = `error: no answer from the server (${e.message})`; status.textContent = "";
  } finally {
    document.getElementById("compute").disabled = false;
  }
}
"""


def serve_page(network: str = "resnet18", device: str = "jetson-agx-orin") -> str:
    """The page of ``roofline serve``: the report's views (:mod:`simulator.report_html_page`) under a
    form whose answer they draw (``start(data)``); the built-in names offered in lists."""
    from simulator.api import device_names, llm_names
    from simulator.catalog import available_networks
    from simulator.report import tool_record
    from simulator.report_html_page import HEAD, LLM_SCRIPT, NOTE, SCRIPT, VIEWS

    def options(names: list[str]) -> str:
        return "".join(f'<option value="{html.escape(n)}">' for n in names)

    form = (FORM.replace("__NETWORK_OPTIONS__", options(sorted(available_networks()) + llm_names()))
            .replace("__DEVICE_OPTIONS__", options(device_names()))
            .replace("__NETWORK__", html.escape(network)).replace("__DEVICE__", html.escape(device)))
    note = NOTE.replace("__VERSION__", html.escape(tool_record()["version"]))
    return (HEAD.replace("__TITLE__", "roofline serve") + note + form
            + '<div id="report" style="display:none">' + VIEWS + "</div>\n<script>" + SCRIPT + LLM_SCRIPT
            + SERVE_SCRIPT + "</script>\n</body></html>\n")


class Handler(BaseHTTPRequestHandler):
    """``GET /``: the page; ``POST /api/report``: the report data of a form, or one line of error."""

    server_version = "roofline-serve"
    root: Path = Path.cwd()
    allowed_hosts: frozenset[str] | None = None
    log: Callable[[str], None] | None = None

    def log_message(self, format: str, *args: object) -> None:
        if self.log is not None:
            self.log(format % args)

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, line: str) -> None:
        self._send(status, json.dumps({"error": f"error: {line}"}).encode(), "application/json")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        if self.allowed_hosts is None or host in self.allowed_hosts:
            return True
        self._error(HTTPStatus.FORBIDDEN, f"this server answers requests to {sorted(self.allowed_hosts)[0]} "
                                          f"only, not to {host!r}")
        return False

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        if self.path.split("?")[0] in ("/", "/index.html"):
            self._send(HTTPStatus.OK, serve_page().encode(), "text/html; charset=utf-8")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page {self.path!r}; the page is /")

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        if self.path != "/api/report":
            self._error(HTTPStatus.NOT_FOUND, f"no endpoint {self.path!r}; POST /api/report")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_UPLOAD_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"a request carries at most {MAX_UPLOAD_BYTES:,} bytes, got {length:,}")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            data = report_for(body, self.root)
        except json.JSONDecodeError as error:
            self._error(HTTPStatus.BAD_REQUEST, f"the request is not JSON ({error.msg})")
        except SimulatorError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error).splitlines()[0] if str(error) else repr(error))
        except (OSError, ValueError, KeyError, TypeError) as error:  # a malformed file the parsers missed
            self._error(HTTPStatus.BAD_REQUEST, f"{type(error).__name__}: {error}".splitlines()[0])
        except Exception as error:  # a bug answers one line too; the server stays up
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR,
                        f"internal error {type(error).__name__}: {error}".splitlines()[0])
        else:
            self._send(HTTPStatus.OK, dumps_json(data, separators=(",", ":")).encode(), "application/json")


def make_server(host: str = LOOPBACK, port: int = 0, root: str | Path | None = None,
                log: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0: a free one, read back from ``server_address``) that
    reads files under ``root`` (default the working directory); ``log`` gets one line per request."""
    root = Path.cwd() if root is None else Path(root)
    if not root.is_dir():
        raise SimulatorError(f"root {str(root)!r} is not a folder")
    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise SimulatorError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    port = server.server_address[1]
    hosts = {f"{host}:{port}"} | ({f"localhost:{port}"} if host == LOOPBACK else set())
    server.daemon_threads = True
    server.RequestHandlerClass = type("BoundHandler", (Handler,), {
        "root": root.resolve(),
        "allowed_hosts": frozenset(hosts) if host in (LOOPBACK, "localhost") else None,
        "log": staticmethod(log) if log else None})
    return server


def serve_report(host: str = LOOPBACK, port: int = 8000, root: str | Path | None = None,
                 ready: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serves the page until interrupted (or until ``stop`` is set); ``ready(url)`` is called once it
    listens. Binds to ``host`` (default :data:`LOOPBACK`: this machine only)."""
    server = make_server(host, port, root)
    url = f"http://{host}:{server.server_address[1]}/"
    if ready is not None:
        ready(url)
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
