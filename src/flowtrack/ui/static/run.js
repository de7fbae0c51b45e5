// A run's metric charts: each history is fetched downsampled from /ui-api and drawn
// by chart.js (hover values, drag to zoom); log scale, smoothing and the x axis apply
// to all.
"use strict";

const charts = {runId: null, series: {}};

function smooth(values, weight) {
  if (!weight) return values;
  let last = null;
  return values.map((v) => {
    if (v === null) return null;
    last = last === null ? v : last * weight + (1 - weight) * v;
    return last;
  });
}

function draw(key) {
  const data = charts.series[key];
  const target = document.querySelector(`.chart[data-metric="${CSS.escape(key)}"]`);
  if (!data || !target) return;
  const byTime = document.getElementById("x-axis").value === "time";
  const weight = Number(document.getElementById("smoothing").value);
  FlowChart.lines(target, {
    title: key, xTitle: byTime ? "time" : "step", xTime: byTime,
    logY: document.getElementById("log-scale").checked,
    series: [{name: key, x: byTime ? data.timestamps : data.steps,
              y: smooth(data.values, weight)}]});
}

async function load(key) {
  const response = await fetch(`/ui-api/runs/${charts.runId}/metrics/${encodeURIComponent(key)}`);
  if (!response.ok) return;
  charts.series[key] = await response.json();
  draw(key);
}

document.addEventListener("DOMContentLoaded", () => {
  charts.runId = document.getElementById("run").dataset.run;
  const keys = [...document.querySelectorAll(".chart[data-metric]")].map((c) => c.dataset.metric);
  for (const key of keys) load(key);
  for (const id of ["log-scale", "x-axis", "smoothing"]) {
    document.getElementById(id)?.addEventListener("input", () => keys.forEach(draw));
  }
});

// A flow run: clicking a step shows only its tasks; a running run's page reloads when
// its tasks change (polling every two seconds).
document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("flow");
  if (!section) return;
  const label = document.getElementById("task-step-filter");
  for (const step of document.querySelectorAll("#dag .step")) {
    step.addEventListener("click", () => {
      const chosen = step.classList.toggle("selected") ? step.dataset.step : null;
      for (const other of document.querySelectorAll("#dag .step")) {
        if (other !== step) other.classList.remove("selected");
      }
      for (const row of document.querySelectorAll("#tasks tbody tr")) {
        row.hidden = chosen !== null && row.dataset.step !== chosen;
      }
      label.textContent = chosen ? `of step ${chosen}` : "";
    });
  }
  if (section.dataset.live !== "yes") return;
  let last = null;
  setInterval(async () => {
    const response = await fetch(`/ui-api/runs/${charts.runId}/progress`);
    if (!response.ok) return;
    const now = JSON.stringify(await response.json());
    if (last !== null && now !== last) location.reload();
    last = now;
  }, 2000);
});

// Logged files: a tree opened a directory at a time; a file shows a safe preview
// (text, a small table, or an image) and a download link.
async function listFiles(path, into) {
  const query = path ? `?path=${encodeURIComponent(path)}` : "";
  const response = await fetch(`/ui-api/runs/${charts.runId}/files${query}`);
  if (!response.ok) return;
  const entries = await response.json();
  if (!path && entries.length === 0) into.append(el("li", {text: "No files logged."}));
  for (const entry of entries) {
    const name = entry.path.split("/").pop();
    const link = el("a", {href: "#", "data-path": entry.path, class: entry.is_dir ? "dir" : "file",
                          text: entry.is_dir ? `${name}/` : `${name} (${entry.size} B)`});
    const item = el("li", {}, link);
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      if (entry.is_dir) {
        const open = item.querySelector("ul");
        if (open) { open.remove(); return; }
        const sub = el("ul");
        item.append(sub);
        await listFiles(entry.path, sub);
      } else {
        await preview(entry.path);
      }
    });
    into.append(item);
  }
}

async function preview(path) {
  const box = document.getElementById("file-preview");
  const response = await fetch(`/ui-api/runs/${charts.runId}/preview/${path.split("/").map(encodeURIComponent).join("/")}`);
  const body = await response.json();
  const download = el("a", {href: `/files/${charts.runId}/${path}`, text: "download", id: "file-download"});
  const parts = [el("h3", {text: `${path} (${body.size} B) `}, download)];
  if (!response.ok) parts.push(el("p", {class: "error", text: body.message}));
  else if (body.kind === "image") parts.push(el("img", {src: body.src, alt: path, class: "preview"}));
  else if (body.kind === "table") {
    const table = el("table", {class: "grid"});
    body.rows.forEach((row, i) => table.append(el("tr", {}, ...row.map(
      (cell) => el(i === 0 ? "th" : "td", {text: cell})))));
    parts.push(table);
  } else if (body.kind === "text") parts.push(el("pre", {class: "log", text: body.text}));
  else parts.push(el("p", {text: "No preview for this kind of file; download it."}));
  if (body.truncated) parts.push(el("p", {text: "(preview cut; download for the whole file)"}));
  box.replaceChildren(...parts);
  box.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  const tree = document.getElementById("file-tree");
  if (tree) listFiles(null, tree);
});
