// Shared helpers. Values from the store are only ever set as text (textContent),
// never as HTML, so a param like <script> shows as what it is.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function formatTime(ms) {
  if (ms === null || ms === undefined || ms === "") return "";
  return new Date(Number(ms)).toLocaleString();
}

function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const cell of document.querySelectorAll(".time[data-ms]")) {
    cell.textContent = formatTime(cell.dataset.ms);
  }
  const search = document.getElementById("experiment-search");
  if (search) {
    search.addEventListener("input", () => {
      const wanted = search.value.trim().toLowerCase();
      for (const row of document.querySelectorAll("#experiments tbody tr[data-name]")) {
        row.hidden = wanted !== "" && !row.dataset.name.includes(wanted);
      }
    });
  }
});
