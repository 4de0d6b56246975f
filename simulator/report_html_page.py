"""The page of ``roofline report`` (:mod:`simulator.report_html`): HTML, CSS and the JavaScript that
draws its SVG charts from the embedded data. Written for this project, no library: it reads the
numbers the library computed and formats them (four significant digits with an SI prefix); it
computes none of them, except positions on the charts and the latency of a published throughput
row, ``batch / throughput`` (so that it can be drawn on the latency axis).

``__TITLE__``, ``__VERSION__`` and ``__DATA__`` (JSON) are filled in by
:func:`simulator.report_html.render_html_report`. The script draws from ``start(data)`` (the page's
embedded data, :data:`START`); ``roofline serve`` (:mod:`simulator.serve`) shows the same
:data:`VIEWS` and calls ``start`` with each answer of its server.
"""

from __future__ import annotations

from simulator.report_html_page_llm import LLM_PANEL, LLM_SCRIPT

STYLE = """
body{font:14px system-ui,sans-serif;margin:16px;color:#222;max-width:1400px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:8px 0 4px}
#controls{display:flex;flex-wrap:wrap;gap:14px;align-items:center;padding:8px;background:#f3f3f3;
position:sticky;top:0;z-index:1;border-bottom:1px solid #ccc}
#controls label{display:flex;gap:6px;align-items:center}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
.panel{border:1px solid #ddd;border-radius:4px;padding:8px;overflow-x:auto;min-width:0}
svg{width:100%;height:auto;font-size:11px} svg text{fill:#333}
table{border-collapse:collapse;font-size:11px}
td,th{padding:2px 6px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td:first-child{max-width:240px;overflow-wrap:anywhere} pre{white-space:pre-wrap;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0} dt{color:#555} dd{margin:0}
.note{color:#666;font-size:12px} .bad{color:#c00;font-weight:bold}
"""

SCRIPT = r"""
"use strict";
let D = null, INDEX = null;  /* the report's data and its index, set by start() */
const NS = "http:/" + "/www.w3.org/2000/svg";
const COLORS = {compute: "#1f77b4", memory: "#ff7f0e", link: "#2ca02c", none: "#bbbbbb"};
const BOUND = {c: "compute", m: "memory", l: "link", n: "none"};
const PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
                 "#ccb974", "#64b5cd"];
const PREFIXES = [[1e18, "E"], [1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""],
                  [1e-3, "m"], [1e-6, "µ"], [1e-9, "n"], [1e-12, "p"]];

/* four significant digits and an SI prefix: fmt(0.014734, "s") = "14.73 ms" */
function fmt(v, unit) {
  unit = unit || "";
  if (v === null || v === undefined || !isFinite(v)) return String(v);
  if (v === 0) return "0 " + unit;
  const a = Math.abs(v);
  let i = PREFIXES.findIndex(([s]) => a >= s);
  if (i < 0) i = PREFIXES.length - 1;
  let text = (v / PREFIXES[i][0]).toPrecision(4);
  if (Math.abs(parseFloat(text)) >= 1000 && i > 0) { i -= 1; text = (v / PREFIXES[i][0]).toPrecision(4); }
  return text + " " + PREFIXES[i][1] + unit;
}
function pct(x) { return (100 * x).toFixed(1) + "%"; }
function signedPct(x) { return (x >= 0 ? "+" : "") + (100 * x).toFixed(1) + "%"; }

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function titled(node, text) { el("title", {}, node, text); return node; }
function logScale(d0, d1, r0, r1) {
  const l0 = Math.log10(d0), l1 = Math.log10(d1);
  return v => r0 + (Math.log10(v) - l0) / (l1 - l0) * (r1 - r0);
}
function linScale(d0, d1, r0, r1) { return v => r0 + (v - d0) / (d1 - d0 || 1) * (r1 - r0); }
function extent(values) {
  const good = values.filter(v => v > 0 && isFinite(v));
  return [Math.min(...good), Math.max(...good)];
}
function clear(id, w, h) {
  const svg = document.getElementById(id);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  return svg;
}
/* a tick per decade, and at 2 and 5 times each when the range spans fewer than three decades */
function logTicks(d) {
  const ticks = [], few = Math.log10(d[1] / d[0]) < 3;
  for (let e = Math.floor(Math.log10(d[0])); e <= Math.ceil(Math.log10(d[1])); e++)
    for (const m of few ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e;
      if (v >= d[0] && v <= d[1]) ticks.push(v);
    }
  return ticks;
}
/* log-log axes with a tick per decade; returns [x, y] scales */
function logAxes(svg, box, xd, yd, xlabel, ylabel, xunit, yunit) {
  const x = logScale(xd[0], xd[1], box.l, box.r), y = logScale(yd[0], yd[1], box.b, box.t);
  el("rect", {x: box.l, y: box.t, width: box.r - box.l, height: box.b - box.t, fill: "none",
              stroke: "#999"}, svg);
  for (const v of logTicks(xd)) {
    const px = x(v);
    el("line", {x1: px, x2: px, y1: box.t, y2: box.b, stroke: "#eee"}, svg);
    el("text", {x: px, y: box.b + 14, "text-anchor": "middle"}, svg, fmt(v, xunit));
  }
  for (const v of logTicks(yd)) {
    const py = y(v);
    el("line", {x1: box.l, x2: box.r, y1: py, y2: py, stroke: "#eee"}, svg);
    el("text", {x: box.l - 4, y: py + 4, "text-anchor": "end"}, svg, fmt(v, yunit));
  }
  el("text", {x: (box.l + box.r) / 2, y: box.b + 30, "text-anchor": "middle"}, svg, xlabel);
  el("text", {x: 12, y: (box.t + box.b) / 2, transform: `rotate(-90 12 ${(box.t + box.b) / 2})`,
              "text-anchor": "middle"}, svg, ylabel);
  return [x, y];
}

const state = {network: null, device: 0, precision: null, whatif: 0, batch: 0, context: 0};
/* shows the report of `data` from its first configuration (the page's own, or one the server sent) */
function start(data) {
  D = data;
  INDEX = new Map(D.configs.map((c, i) => [
    [c.network, c.device, c.precision, c.whatif, c.batch].join("|"), i]));
  Object.assign(state, {network: D.networks[0], device: 0, precision: null, whatif: 0, batch: 0, context: 0});
  describe(); setupControls(); update();
}
function configOf(batch) {
  const i = INDEX.get([state.network, state.device, state.precision, state.whatif, batch].join("|"));
  return i === undefined ? null : D.configs[i];
}
function current() { return configOf(D.batches[state.batch]); }
function deviceRecord() { return D.devices[state.device]; }
function devicePrecisions() {
  return D.precisions.filter(p => D.configs.some(c => c.device === state.device && c.precision === p));
}

function select(id, options, onchange) {
  const node = document.getElementById(id);
  node.innerHTML = "";
  options.forEach(([value, label]) => { const o = document.createElement("option"); o.value = value;
    o.textContent = label; node.appendChild(o); });
  node.onchange = () => { onchange(node.value); update(); };
  return node;
}
function setupControls() {
  select("network", D.networks.map(n => [n, n]), v => { state.network = v; });
  select("device", D.devices.map((d, i) => [i, d.name]), v => { state.device = Number(v); fixPrecision(); });
  const whatif = select("whatif", D.whatifs.map((w, i) => [i, whatifLabel(w)]),
                        v => { state.whatif = Number(v); });
  whatif.parentNode.style.display = D.whatifs.length > 1 ? "" : "none";
  const batch = document.getElementById("batch");
  batch.max = D.batches.length - 1; batch.value = 0;
  batch.oninput = () => { state.batch = Number(batch.value); update(); };
  fixPrecision(); setupContext();
}
function whatifLabel(w) {
  const parts = Object.entries(w).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : "profile as shipped";
}
function fixPrecision() {
  const options = devicePrecisions();
  if (!options.includes(state.precision)) state.precision = options[0];
  const node = select("precision", options.map(p => [p, p]), v => { state.precision = v; });
  node.value = state.precision;
}

function update() {
  document.getElementById("batch-value").textContent = D.batches[state.batch];
  const c = current();
  llm();
  const missing = document.getElementById("missing");
  missing.textContent = c ? "" : "this combination is not in the report";
  if (!c) return;
  summary(c); roofline(c); latencyChart(c); energy(c); slowest(c); kinds(c); memory(c);
  for (const svg of document.querySelectorAll("svg.chart"))
    svg.setAttribute("data-config",
                     [c.network, deviceRecord().name, c.precision, c.whatif, c.batch].join("|"));
}

function summary(c) {
  const acc = deviceRecord().accuracy;
  const rows = [
    ["configuration", `${c.network} on ${deviceRecord().name}, ${c.precision}, batch ${c.batch}` +
      (D.whatifs.length > 1 ? `, ${whatifLabel(D.whatifs[c.whatif])}` : ""), "config"],
    ...(D.llm_pass && D.llm_pass[c.network] ? [["pass", D.llm_pass[c.network], "pass"]] : []),
    [`latency (${c.latency_model})`, fmt(c.latency_s, "s"), "latency"],
    ["latency (ideal bound)", fmt(c.ideal_latency_s, "s"), "ideal-latency"],
    ["expected value's error", acc ? `${signedPct(acc.min)} … ${signedPct(acc.max)} (median ` +
      `${signedPct(acc.median)}) on ${acc.rows} published rows of this device (in sample: the profile ` +
      `is fitted on them); within ±20% on ${acc.within_20}` : "no published rows for this device",
      "error-band"],
    ["measured latencies fell", c.measured_band_s ? `${fmt(c.measured_band_s[0], "s")} … ` +
      `${fmt(c.measured_band_s[1], "s")} around this expected value on the device's ${acc.latency_rows} ` +
      "published latency rows (in sample)" : "no band: no published latency rows or no efficiency model",
      "band"],
    ["throughput", fmt(c.throughput_per_s, "samples/s") +
      ` (ideal ${fmt(c.ideal_throughput_per_s, "samples/s")})`, "throughput"],
    ["energy", `${fmt(c.energy_j, "J")} per batch, ${fmt(c.energy_per_sample_j, "J")} per sample`, "energy"],
    ["average power", fmt(c.average_power_w, "W"), "power"],
    ["bound", `${c.bound}-bound`, "bound"],
    ["work", `${fmt(c.macs, "MAC")}; model ${fmt(c.model_size_bytes, "B")}`, "work"],
    ["fits", c.fits ? "yes" : "NO", "fits"],
    ["micro-batch", String(c.micro_batch), "micro-batch"],
  ];
  const dl = document.getElementById("summary");
  dl.innerHTML = "";
  for (const [k, v, id] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k; dl.appendChild(dt);
    const dd = document.createElement("dd"); dd.textContent = v; dd.id = "v-" + id; dl.appendChild(dd);
    if (id === "fits" && !c.fits) dd.className = "bad";
  }
}

function roofline(c) {
  const svg = clear("roofline", 640, 420), box = {l: 70, r: 620, t: 14, b: 370};
  const roof = deviceRecord().roofs[c.roof], names = D.layersets[c.layers.layerset];
  const peaks = roof.peaks_ops_per_s, ridges = roof.ridges_ops_per_byte[c.precision];
  const xs = c.layers.points.map(p => p[1]).concat(ridges), ys = c.layers.points.map(p => p[2]);
  const [x0, x1] = extent(xs), [y0] = extent(ys.concat(Object.values(peaks)));
  const xd = [x0 / 4, x1 * 6], yd = [y0 / 3, Math.max(...Object.values(peaks)) * 3];
  const [x, y] = logAxes(svg, box, xd, yd, "arithmetic intensity at the binding level (ops/byte)",
                         "performance (ops/s)", "", "");
  roof.levels.forEach((level, v) => {
    const top = peaks[c.precision], xe = Math.min(top / level.bandwidth_bytes_per_s, xd[1]);
    const line = el("line", {x1: x(xd[0]), y1: y(xd[0] * level.bandwidth_bytes_per_s), x2: x(xe),
      y2: y(xe * level.bandwidth_bytes_per_s), stroke: "#333", "stroke-dasharray": v ? "5 3" : ""}, svg);
    titled(line, `${level.name}: ${fmt(level.bandwidth_bytes_per_s, "B/s")}`);
    el("text", {x: x(xd[0]) + 4, y: y(xd[0] * level.bandwidth_bytes_per_s) - 4}, svg,
       `${level.name} ${fmt(level.bandwidth_bytes_per_s, "B/s")}`);
  });
  for (const [p, peak] of Object.entries(peaks)) {
    const chosen = p === c.precision, start = Math.min(...roof.ridges_ops_per_byte[p]);
    titled(el("line", {x1: x(Math.max(start, xd[0])), x2: x(xd[1]), y1: y(peak), y2: y(peak),
      stroke: chosen ? "#333" : "#aaa", "stroke-width": chosen ? 2 : 1,
      "stroke-dasharray": chosen ? "" : "3 3", class: "ceiling"}, svg),
      `${p} ceiling: ${fmt(peak, "ops/s")}`);
    el("text", {x: box.r - 4, y: y(peak) - 3, "text-anchor": "end", fill: chosen ? "#000" : "#888"}, svg,
       `${p} ${fmt(peak, "ops/s")}`);
  }
  ridges.forEach((r, v) => titled(el("circle", {cx: x(r), cy: y(peaks[c.precision]), r: 5, fill: "white",
    stroke: "#000", "stroke-width": 2, class: "ridge"}, svg),
    `ridge point of ${roof.levels[v].name} at ${c.precision}: ${fmt(r, "ops/byte")}`));
  const L = c.layers;
  for (const [i, ai, perf] of L.points) {
    const bound = BOUND[L.bound[i]];
    titled(el("circle", {cx: x(ai), cy: y(perf), r: 3.5, fill: COLORS[bound], "fill-opacity": 0.75,
      class: "layer"}, svg),
      `${names.names[i]} (${names.kinds[i]})\nMACs ${fmt(L.macs[i], "")}\n` +
      `bytes ${fmt(L.bytes_moved[i], "B")}\n` +
      `intensity ${fmt(ai, "ops/byte")}, ${fmt(perf, "ops/s")}\nlatency ${fmt(L.latency_s[i], "s")}\n` +
      `${bound}-bound; binding level ${L.levels[L.binding_level[i]]}`);
  }
  legend(svg, box.l + 8, box.t + 10, [["compute-bound layer", COLORS.compute],
                                      ["memory-bound layer", COLORS.memory]]);
}

function legend(svg, x, y, items) {
  items.forEach(([label, color], k) => {
    el("rect", {x, y: y + 14 * k - 8, width: 10, height: 10, fill: color}, svg);
    el("text", {x: x + 14, y: y + 14 * k + 1}, svg, label);
  });
}

function latencyChart(c) {
  const svg = clear("latency", 640, 420), box = {l: 70, r: 620, t: 14, b: 370};
  const series = D.batches.map(b => configOf(b)).filter(Boolean);
  const base = deviceRecord().name.split("@")[0];
  const rows = D.measurements.filter(m => m.network === c.network && m.device === base);
  // a latency row at (batch / latency, latency); a throughput row at (throughput, batch / throughput)
  const points = rows.map(m => m.metric === "latency_s" ? [m.batch / m.value, m.value, m]
                                                        : [m.value, m.batch / m.value, m]);
  const xs = series.flatMap(s => [s.throughput_per_s, s.ideal_throughput_per_s])
    .concat(points.map(p => p[0]));
  const banded = series.filter(s => s.measured_band_s);
  const ys = series.flatMap(s => [s.latency_s, s.ideal_latency_s]).concat(points.map(p => p[1]))
    .concat(banded.flatMap(s => s.measured_band_s));
  const xsBand = banded.flatMap(s => s.measured_band_s.map(l => s.batch / l));
  const [x0, x1] = extent(xs.concat(xsBand)), [y0, y1] = extent(ys);
  const [x, y] = logAxes(svg, box, [x0 / 2, x1 * 2], [y0 / 2, y1 * 2], "throughput (samples/s)",
                         "latency (s)", "", "s");
  if (banded.length) {  // each batch's band runs along latency = batch / throughput
    const edge = k => banded.map(s => `${x(s.batch / s.measured_band_s[k])},${y(s.measured_band_s[k])}`);
    titled(el("polygon", {points: edge(0).concat(edge(1).reverse()).join(" "), fill: "#c44e52",
      "fill-opacity": 0.15, stroke: "none", class: "band"}, svg),
      "where the device's published latencies fell around the expected value (its latency rows, in sample)");
  }
  const draw = (key, tkey, color, dash, label) => {
    el("polyline", {points: series.map(s => `${x(s[tkey])},${y(s[key])}`).join(" "), fill: "none",
      stroke: color, "stroke-width": 2, "stroke-dasharray": dash}, svg);
    for (const s of series) titled(el("circle", {cx: x(s[tkey]), cy: y(s[key]),
      r: s.batch === c.batch ? 6 : 3, fill: color, class: "batch-point"}, svg),
      `${label}, batch ${s.batch}: ${fmt(s[key], "s")}, ` +
      `${fmt(s[tkey], "samples/s")}`);
  };
  draw("ideal_latency_s", "ideal_throughput_per_s", "#888", "5 3", "ideal bound");
  draw("latency_s", "throughput_per_s", "#c44e52", "", c.latency_model);
  for (const [px, py, m] of points) {
    const same = m.precision === c.precision;
    titled(el("rect", {x: x(px) - 4, y: y(py) - 4, width: 8, height: 8, fill: same ? "#2a7" : "white",
      stroke: "#2a7", "stroke-width": 1.5, class: "measurement"}, svg),
      `measured (${m.role}): ${m.id}\n${m.runtime}, ${m.precision}, batch ${m.batch}\n${m.metric} = ` +
      (m.metric === "latency_s" ? fmt(m.value, "s") : fmt(m.value, "samples/s")) + `\nsource: ${m.source}`);
  }
  legend(svg, box.l + 8, box.t + 10, [[c.latency_model + " (this precision)", "#c44e52"],
    ["ideal bound", "#888"],
    ["band: the device's published latency rows around expected (in sample)", "#ecc"],
    [`published measurements (${points.length}; filled: ${c.precision})`, "#2a7"]]);
}

function energy(c) {
  const svg = clear("energy", 640, 150), parts = Object.entries(c.energy_breakdown_j);
  const total = c.energy_j, x = linScale(0, total, 20, 620);
  let at = 0;
  parts.forEach(([name, j], k) => {
    const color = name === "static" ? "#999"
      : name === "compute" ? "#1f77b4" : PALETTE[(k + 1) % PALETTE.length];
    titled(el("rect", {x: x(at), y: 20, width: Math.max(0, x(at + j) - x(at)), height: 30, fill: color,
      class: "energy-part"}, svg), `${name}: ${fmt(j, "J")} (${pct(j / total)})`);
    el("rect", {x: 20 + 200 * (k % 3), y: 66 + 20 * Math.floor(k / 3), width: 10, height: 10,
                fill: color}, svg);
    el("text", {x: 34 + 200 * (k % 3), y: 75 + 20 * Math.floor(k / 3)}, svg,
       `${name === "compute" ? "arithmetic" : name} ${fmt(j, "J")} (${pct(j / total)})`);
    at += j;
  });
  el("text", {x: 20, y: 14}, svg, `energy per batch ${fmt(total, "J")}: ` +
     `dynamic ${fmt(c.energy_dynamic_j, "J")}, ` +
     `static ${fmt(c.energy_static_j, "J")} = static power ${fmt(c.static_power_w, "W")} × latency`);
}

function slowest(c) {
  const names = D.layersets[c.layers.layerset], L = c.layers, total = c.latency_s;
  const body = document.getElementById("slowest");
  body.innerHTML = "";
  for (const i of L.slowest) {
    const tr = document.createElement("tr");
    const cells = [names.names[i], names.kinds[i], fmt(L.latency_s[i], "s"), pct(L.latency_s[i] / total),
                   fmt(L.macs[i], ""), fmt(L.bytes_moved[i], "B"), BOUND[L.bound[i]],
                   L.levels[L.binding_level[i]]];
    cells.forEach((text, k) => { const td = document.createElement("td"); td.textContent = text;
      if (k >= 2 && k <= 5) td.className = "n"; tr.appendChild(td); });
    body.appendChild(tr);
  }
}

function kinds(c) {
  const rows = c.layers.kinds, svg = clear("kinds", 640, 24 + 20 * rows.length);
  const max = Math.max(...rows.map(r => r.latency_s)), x = linScale(0, max, 150, 520);
  rows.forEach((r, k) => {
    const yy = 10 + 20 * k;
    el("text", {x: 146, y: yy + 12, "text-anchor": "end"}, svg, `${r.kind} (${r.layers})`);
    titled(el("rect", {x: 150, y: yy, width: Math.max(1, x(r.latency_s) - 150), height: 15,
      fill: PALETTE[k % 10], class: "kind-bar"}, svg),
      `${r.kind}: ${fmt(r.latency_s, "s")}, ${pct(r.share)} of the latency`);
    el("text", {x: x(r.latency_s) + 4, y: yy + 12}, svg, `${fmt(r.latency_s, "s")} (${pct(r.share)})`);
  });
}

function memory(c) {
  const live = D.liveness[c.network], svg = clear("memory", 640, 90 + 36 * c.memory.length + 150);
  c.memory.forEach((m, k) => {
    const yy = 10 + 36 * k, x = linScale(0, Math.max(m.capacity_bytes, m.required_bytes), 20, 620);
    el("rect", {x: 20, y: yy + 14, width: 600, height: 14, fill: "#eee", stroke: "#999"}, svg);
    titled(el("rect", {x: 20, y: yy + 14, width: Math.max(1, x(m.required_bytes) - 20), height: 14,
      fill: m.fits ? "#4c72b0" : "#d62728", class: "memory-bar"}, svg),
      `${m.holds}: ${fmt(m.required_bytes, "B")} of ${fmt(m.capacity_bytes, "B")}`);
    el("text", {x: 20, y: yy + 10}, svg, `${m.level}: ${m.holds} need ${fmt(m.required_bytes, "B")} of ` +
       `${fmt(m.capacity_bytes, "B")} (${pct(m.required_bytes / m.capacity_bytes)}) — ` +
       (m.fits ? "fits" : "does NOT fit"));
  });
  const top = 30 + 36 * c.memory.length, h = 120, n = live.elements.length;
  const x = linScale(0, Math.max(1, n - 1), 20, 620);
  const y = linScale(0, Math.max(...live.elements), top + h, top + 14);
  el("text", {x: 20, y: top + 6}, svg, "activation elements alive per sample while each layer runs " +
     `(peak at ${live.names[live.peak_index]}: ${fmt(live.elements[live.peak_index], "")} elements)`);
  el("polyline", {points: live.elements.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none",
    stroke: "#4c72b0"}, svg);
  titled(el("circle", {cx: x(live.peak_index), cy: y(live.elements[live.peak_index]), r: 5, fill: "#d62728",
    class: "peak-layer"}, svg), `peak activations: ${live.names[live.peak_index]}, ` +
    `${fmt(live.elements[live.peak_index], "")} elements per sample`);
}

function describe() {
  const s = D.settings;
  document.getElementById("settings").textContent =
    `${s.command || "roofline report"}\nnetworks: ${s.networks.join(", ")}\n` +
    `devices: ${s.devices.join(", ")}\n` +
    `precisions: ${Array.isArray(s.precisions) ? s.precisions.join(", ") : s.precisions}\n` +
    `batches: ${s.batches.join(", ")}\n` +
    `what-if: ${Object.keys(s.overrides).length ? JSON.stringify(s.overrides) : "none"}` +
    (s.skipped.length ? `\nnot in the devices' profiles, left out: ${s.skipped.join(", ")}` : "");
  const list = document.getElementById("sources");
  list.innerHTML = "";
  for (const d of D.devices) {
    const li = document.createElement("li");
    li.textContent = `${d.name}: ${d.description} Source: ${d.source} Peaks: ${d.peak_source} ` +
      `Static power ${fmt(d.static_power_w, "W")}: ${d.static_power_source || "not stated"}` +
      (d.expected_model ? " Has an efficiency model (expected values)."
                        : " No efficiency model: values are the ideal bound.");
    list.appendChild(li);
  }
}
"""

#: what the report page runs once its scripts are defined: the embedded data
START = """
start(JSON.parse(document.getElementById("report-data").textContent));
"""

NOTE = """<p class="note">roofline-simulator __VERSION__. Every number is the library's
(<code>simulate</code>), printed to four significant digits: the expected value (the device's efficiency
model) beside the ideal roofline bound, and the expected value's error on the device's published rows
(in sample: the profiles are fitted on every row; the out-of-sample figures are
<code>roofline accuracy --cv</code>'s).</p>"""

HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<link rel="icon" href="data:,">
<style>""" + STYLE + """</style></head>
<body>
<h1>__TITLE__</h1>
"""

#: the controls and every view (the report's and ``roofline serve``'s page)
VIEWS = """<div id="controls">
<label>network <select id="network"></select></label>
<label>device <select id="device"></select></label>
<label>precision <select id="precision"></select></label>
<label>what-if <select id="whatif"></select></label>
<label>batch <input id="batch" type="range" min="0" max="0" step="1"> <span id="batch-value"></span></label>
<label id="context-label">LLM context <select id="context"></select></label>
<span id="missing" class="bad"></span>
</div>
<div class="grid">
<div class="panel"><h2>Summary</h2><dl id="summary"></dl></div>
<div class="panel"><h2>Roofline: every layer, the ceilings per precision, the ridge points</h2>
<svg id="roofline" class="chart"></svg></div>
<div class="panel"><h2>Latency against throughput as the batch grows</h2>
<svg id="latency" class="chart"></svg></div>
<div class="panel"><h2>Energy: arithmetic, each memory level, static power</h2>
<svg id="energy" class="chart"></svg></div>
<div class="panel"><h2>Slowest layers</h2><table><thead><tr><th>layer</th><th>kind</th><th>latency</th>
<th>share</th><th>MACs</th><th>bytes</th><th>bound</th><th>binding level</th></tr></thead>
<tbody id="slowest"></tbody>
</table><h2>Time by layer kind</h2><svg id="kinds" class="chart"></svg></div>
<div class="panel"><h2>Memory fit</h2><svg id="memory" class="chart"></svg></div>
</div>
""" + LLM_PANEL + """
<h2>Configuration</h2><pre id="settings"></pre>
<h2>Device profiles</h2><ul id="sources"></ul>
"""

PAGE = HEAD + NOTE + VIEWS + """<script id="report-data" type="application/json">__DATA__</script>
<script>""" + SCRIPT + LLM_SCRIPT + START + """</script>
</body></html>
"""
