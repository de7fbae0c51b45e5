// Compare runs: hide equal rows on request, overlay each metric's histories (one line
// per run), and plot a chosen parameter against a chosen metric.
"use strict";

const compared = {runs: []};

async function overlay(chart) {
  const key = chart.dataset.metric;
  const series = [];
  for (const run of compared.runs) {
    const response = await fetch(`/ui-api/runs/${run.run_id}/metrics/${encodeURIComponent(key)}`);
    if (!response.ok) continue;
    const data = await response.json();
    series.push({name: run.run_name, x: data.steps, y: data.values});
  }
  FlowChart.lines(chart, {title: key, xTitle: "step", series});
}

function scatter() {
  const param = document.getElementById("scatter-param").value;
  const metric = document.getElementById("scatter-metric").value;
  if (!param || !metric) return;
  const runs = compared.runs.filter((r) => r.params[param] !== undefined
                                           && r.metrics[metric] !== undefined);
  const numeric = runs.every((r) => r.params[param] !== "" && !isNaN(Number(r.params[param])));
  FlowChart.scatter(document.getElementById("scatter"), {
    title: `metrics.${metric} by params.${param}`, xTitle: `params.${param}`,
    points: runs.map((r) => ({x: numeric ? Number(r.params[param]) : r.params[param],
                              y: r.metrics[metric], label: r.run_name}))});
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
