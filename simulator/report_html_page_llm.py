"""The report page's LLM panel (:mod:`simulator.report_html_llm`'s data): HTML and the JavaScript that
draws it with the helpers of :mod:`simulator.report_html_page` (``el``, ``fmt``, ``logAxes``, ...).

For the network, device, precision and batch of the page's controls and the context of its own
control, it shows ``roofline llm``'s numbers to four significant digits: TTFT, TPOT, end-to-end
latency, tokens/s and energy per token; TTFT and TPOT against batch and against context; output and
total tokens/s against batch; weights, KV cache and activations against the device's memory. It
computes none of them (only positions on the charts).
"""

from __future__ import annotations

LLM_PANEL = """
<div id="llm-panel" style="display:none">
<h2>LLM inference: prefill and generation (<code>roofline llm</code>)</h2>
<p class="note" id="llm-conditions"></p><span id="llm-missing" class="bad"></span>
<div class="grid">
<div class="panel"><h2>At this batch and context</h2><dl id="llm-summary"></dl></div>
<div class="panel"><h2>TTFT and TPOT against batch</h2>
<svg id="llm-batch" class="chart llm-chart"></svg></div>
<div class="panel"><h2>Tokens/s against batch</h2><svg id="llm-tokens" class="chart llm-chart"></svg></div>
<div class="panel"><h2>TTFT and TPOT against context (prompt tokens)</h2>
<svg id="llm-context" class="chart llm-chart"></svg></div>
<div class="panel"><h2>KV cache against capacity</h2><svg id="llm-memory" class="chart llm-chart"></svg></div>
</div></div>
"""

LLM_SCRIPT = r"""
let CONTEXTS = [];
function setupContext() {
  CONTEXTS = [...new Set(Object.values(D.llm || {}).flatMap(r => r.contexts))].sort((a, b) => a - b);
  const node = select("context", CONTEXTS.map((c, i) => [i, `${c} tokens`]),
                      v => { state.context = Number(v); });
  state.context = Math.max(0, CONTEXTS.indexOf(2048));
  node.value = state.context;
}

/* a log-log chart of `series` ({name, values, color, dash, ok}) against xs, the point `mark` larger,
   a point whose `ok` is false hollow, and horizontal `lines` ({value, label, color}) */
function seriesChart(id, xs, series, labels, units, mark, lines) {
  const svg = clear(id, 640, 300), box = {l: 70, r: 620, t: 14, b: 250};
  lines = lines || [];
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(series.flatMap(s => s.values).concat(lines.map(l => l.value)));
  const [x, y] = logAxes(svg, box, [x0 / 1.5, x1 * 1.5], [y0 / 2, y1 * 2], labels[0], labels[1],
                         units[0], units[1]);
  for (const l of lines) {
    titled(el("line", {x1: box.l, x2: box.r, y1: y(l.value), y2: y(l.value), stroke: l.color,
      "stroke-dasharray": "6 3", class: "limit"}, svg), `${l.label}: ${fmt(l.value, units[1])}`);
    el("text", {x: box.r - 4, y: y(l.value) - 4, "text-anchor": "end"}, svg,
       `${l.label} ${fmt(l.value, units[1])}`);
  }
  for (const s of series) {
    el("polyline", {points: xs.map((v, i) => `${x(v)},${y(s.values[i])}`).join(" "), fill: "none",
      stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dash || ""}, svg);
    xs.forEach((v, i) => {
      const ok = !s.ok || s.ok[i];
      titled(el("circle", {cx: x(v), cy: y(s.values[i]), r: i === mark ? 6 : 3, fill: ok ? s.color : "white",
        stroke: s.color, "stroke-width": 1.5, class: "llm-point"}, svg),
        `${s.name} at ${labels[2]} ${v}: ${fmt(s.values[i], units[1])}` + (ok ? "" : " (does not fit)"));
    });
  }
  legend(svg, box.l + 8, box.t + 10, series.map(s => [s.name, s.color]));
}

function llmSummary(run, i, generate) {
  const rows = [
    ["TTFT (prefill)", fmt(run.ttft_s[i], "s"), "ttft"],
    ["TPOT (mean decode step)", fmt(run.tpot_s[i], "s"), "tpot"],
    [`end to end (${generate} tokens)`, fmt(run.e2e_latency_s[i], "s"), "e2e"],
    ["output tokens/s", fmt(run.output_tokens_per_s[i], "tokens/s"), "output"],
    ["prompt + output tokens/s", fmt(run.total_tokens_per_s[i], "tokens/s"), "total"],
    ["energy per output token", fmt(run.energy_per_token_j[i], "J"), "energy"],
    ["weights", fmt(run.weight_bytes[i], "B"), "weights"],
    ["KV cache", fmt(run.kv_cache_bytes[i], "B"), "kv"],
    ["activations", fmt(run.activation_bytes[i], "B"), "activations"],
    ["memory needed", `${fmt(run.memory_bytes[i], "B")} of ${fmt(run.capacity_bytes[i], "B")}`, "memory"],
    ["fits", run.fits[i] ? "yes" : "NO", "fits"],
    ["largest batch that fits", String(run.max_batch[i]), "max-batch"],
    ["bound", `prefill ${run.prefill_bound[i]}, decode ${run.decode_bound[i]} (${run.decode_dominant[i]})`,
     "bound"],
  ];
  const dl = document.getElementById("llm-summary");
  dl.innerHTML = "";
  for (const [k, v, id] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k; dl.appendChild(dt);
    const dd = document.createElement("dd"); dd.textContent = v; dd.id = "v-llm-" + id; dl.appendChild(dd);
    if (id === "fits" && !run.fits[i]) dd.className = "bad";
  }
}

function llm() {
  const L = D.llm && D.llm[state.network];
  document.getElementById("llm-panel").style.display = L ? "" : "none";
  document.getElementById("context-label").style.display = L ? "" : "none";
  if (!L) return;
  const context = CONTEXTS[state.context], i = state.batch, batch = D.batches[i];
  const runs = L.runs.filter(r => r.device === state.device && r.precision === state.precision)
    .sort((a, b) => a.prompt - b.prompt);
  const run = runs.find(r => r.prompt === context);
  document.getElementById("llm-missing").textContent = run ? "" :
    `context ${context} is not in the report for ${state.network} on this device at this precision`;
  for (const svg of document.querySelectorAll("svg.llm-chart")) svg.style.display = run ? "" : "none";
  if (!run) { document.getElementById("llm-summary").innerHTML = ""; return; }
  document.getElementById("llm-conditions").textContent =
    `${state.network} on ${deviceRecord().name}: weights ${run.precision}, activations ` +
    `${run.activation_precision}, KV cache ${run.kv_precision}, arithmetic ${run.compute_precision}; ` +
    `prompt ${context} tokens, ${L.generate} generated per sequence, batch ${batch}`;
  llmSummary(run, i, L.generate);
  seriesChart("llm-batch", D.batches, [
    {name: "TTFT", values: run.ttft_s, color: "#4c72b0", ok: run.fits},
    {name: "TPOT", values: run.tpot_s, color: "#dd8452", ok: run.fits}],
    ["batch (sequences)", "time (s)", "batch"], ["", "s"], i);
  seriesChart("llm-tokens", D.batches, [
    {name: "output tokens/s", values: run.output_tokens_per_s, color: "#55a868", ok: run.fits},
    {name: "prompt + output tokens/s", values: run.total_tokens_per_s, color: "#8172b3", dash: "5 3",
     ok: run.fits}], ["batch (sequences)", "tokens/s", "batch"], ["", ""], i);
  seriesChart("llm-context", runs.map(r => r.prompt), [
    {name: `TTFT at batch ${batch}`, values: runs.map(r => r.ttft_s[i]), color: "#4c72b0",
     ok: runs.map(r => r.fits[i])},
    {name: `TPOT at batch ${batch}`, values: runs.map(r => r.tpot_s[i]), color: "#dd8452",
     ok: runs.map(r => r.fits[i])}],
    ["context (prompt tokens)", "time (s)", "context"], ["", "s"], runs.indexOf(run));
  seriesChart("llm-memory", D.batches, [
    {name: "weights + KV cache + activations", values: run.memory_bytes, color: "#c44e52", ok: run.fits},
    {name: `KV cache (context ${context} + ${L.generate})`, values: run.kv_cache_bytes, color: "#4c72b0"},
    {name: "weights", values: run.weight_bytes, color: "#937860", dash: "5 3"}],
    ["batch (sequences)", "bytes", "batch"], ["", "B"], i,
    [{value: run.capacity_bytes[i], label: "capacity", color: "#000"}]);
  for (const svg of document.querySelectorAll("svg.llm-chart"))
    svg.setAttribute("data-config",
                     [state.network, deviceRecord().name, run.precision, context, batch].join("|"));
}
"""
