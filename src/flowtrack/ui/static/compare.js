// Compare runs: hide equal rows on request, overlay each metric's histories (one line
// per run), and plot a chosen parameter against a chosen metric.
"use strict";

const compared = {runs: []};

async function overlay(chart) {
  const key = chart.dataset.metric;
  const traces = [];
  for (const run of compared.runs) {
    const response = await fetch(`/ui-api/runs/${run.run_id}/metrics/${encodeURIComponent(key)}`);
    if (!response.ok) continue;
    const series = await response.json();
    traces.push({x: series.steps, y: series.values, type: "scatter", mode: "lines+markers",
                 name: run.run_name, marker: {size: 3}});
  }
  Plotly.react(chart, traces, {title: {text: key, font: {size: 13}},
                               margin: {l: 50, r: 10, t: 30, b: 40},
                               xaxis: {title: {text: "step"}}}, {displaylogo: false});
  chart.dataset.traces = String(traces.length);
}

function scatter() {
  const param = document.getElementById("scatter-param").value;
  const metric = document.getElementById("scatter-metric").value;
  const target = document.getElementById("scatter");
  if (!param || !metric) return;
  const runs = compared.runs.filter((r) => r.params[param] !== undefined
                                           && r.metrics[metric] !== undefined);
  const numeric = runs.every((r) => r.params[param] !== "" && !isNaN(Number(r.params[param])));
  Plotly.react(target, [{
    x: runs.map((r) => numeric ? Number(r.params[param]) : r.params[param]),
    y: runs.map((r) => r.metrics[metric]), text: runs.map((r) => r.run_name),
    mode: "markers", type: "scatter", marker: {size: 10}}],
    {margin: {l: 50, r: 10, t: 20, b: 40}, xaxis: {title: {text: `params.${param}`}},
     yaxis: {title: {text: `metrics.${metric}`}}}, {displaylogo: false});
  target.dataset.points = String(runs.length);
}

document.addEventListener("DOMContentLoaded", () => {
  compared.runs = JSON.parse(document.getElementById("compare-data").textContent).runs;
  document.getElementById("differences-only").addEventListener("change", (event) => {
    for (const row of document.querySelectorAll("#comparison tbody tr.same")) {
      row.hidden = event.target.checked;
    }
  });
  for (const chart of document.querySelectorAll("#overlays .chart")) overlay(chart);
  for (const id of ["scatter-param", "scatter-metric"]) {
    document.getElementById(id).addEventListener("change", scatter);
  }
  scatter();
});
