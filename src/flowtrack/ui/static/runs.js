// The run table of one experiment or flow: pages of runs from /ui-api, sorted and
// filtered on the server with the search grammar, columns chosen here.
"use strict";

const table = {
  experiment: null, filter: "", orderBy: "attributes.start_time DESC", token: null,
  rows: [], columns: {params: [], metrics: [], tags: []}, hidden: new Set(),
  selected: new Set(),
};
const FIXED = [
  ["run_name", "Run", "attributes.run_name"], ["status", "Status", "attributes.status"],
  ["start_time", "Started", "attributes.start_time"],
  ["duration_ms", "Duration", "attributes.duration"],
  ["user", "User", "attributes.user_id"],
];

async function fetchPage(token, maxResults) {
  const query = new URLSearchParams({filter: table.filter, order_by: table.orderBy,
                                     max_results: String(maxResults || 100)});
  if (token) query.set("page_token", token);
  const response = await fetch(`/ui-api/experiments/${table.experiment}/runs?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

function mergeColumns(columns) {
  for (const kind of ["params", "metrics", "tags"]) {
    const known = new Set(table.columns[kind]);
    for (const key of columns[kind]) known.add(key);
    table.columns[kind] = [...known].sort();
  }
}

function allColumns() {
  const found = FIXED.map(([id, label, order]) => ({id, label, order, get: (r) => r[id]}));
  for (const [kind, prefix] of [["params", "params"], ["metrics", "metrics"], ["tags", "tags"]]) {
    for (const key of table.columns[kind]) {
      found.push({id: `${prefix}.${key}`, label: `${prefix}.${key}`,
                  order: `${prefix}.\`${key}\``, get: (r) => r[kind][key]});
    }
  }
  return found.filter((c) => !table.hidden.has(c.id));
}

function cellText(column, row) {
  const value = column.get(row);
  if (column.id === "start_time") return formatTime(value);
  if (column.id === "duration_ms") return formatDuration(value);
  if (value === null || value === undefined) return "";
  return String(value);
}

function render() {
  const element = document.getElementById("runs");
  const columns = allColumns();
  const head = el("tr", {}, el("th", {text: "", class: "select"}));
  for (const column of columns) {
    const th = el("th", {text: column.label, "data-column": column.id});
    if (column.order) {
      if (table.orderBy === `${column.order} ASC`) th.classList.add("sorted-asc");
      if (table.orderBy === `${column.order} DESC`) th.classList.add("sorted-desc");
      th.addEventListener("click", () => {
        table.orderBy = table.orderBy === `${column.order} DESC` ? `${column.order} ASC`
          : `${column.order} DESC`;
        reload();
      });
    }
    head.append(th);
  }
  element.tHead.replaceChildren(head);
  const body = document.createDocumentFragment();
  for (const row of table.rows) {
    const tr = el("tr", {"data-run": row.run_id});
    const pick = el("input", {type: "checkbox", "aria-label": `select ${row.run_name}`});
    pick.checked = table.selected.has(row.run_id);
    pick.addEventListener("change", () => {
      if (pick.checked) table.selected.add(row.run_id); else table.selected.delete(row.run_id);
      updateCompare();
    });
    tr.append(el("td", {class: "select"}, pick));
    for (const column of columns) {
      const td = el("td", column.id.startsWith("metrics.") ? {class: "num"} : {});
      if (column.id === "run_name") {
        td.append(el("a", {href: `/runs/${row.run_id}`, text: row.run_name || row.run_id}));
      } else if (column.id === "status") {
        td.append(el("span", {class: `status ${row.status.toLowerCase()}`, text: row.status}));
      } else {
        td.textContent = cellText(column, row);
      }
      tr.append(td);
    }
    body.append(tr);
  }
  element.tBodies[0].replaceChildren(body);
  document.getElementById("more").hidden = !table.token;
  document.getElementById("run-count").textContent =
    `${table.rows.length} run${table.rows.length === 1 ? "" : "s"}${table.token ? " shown" : ""}`;
}

function updateCompare() {
  const count = table.selected.size;
  const button = document.getElementById("compare");
  button.disabled = count < 2 || count > 20;
  button.textContent = `Compare selected (${count})`;
}

function showError(message) {
  const box = document.getElementById("filter-error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function reload() {
  try {
    const page = await fetchPage(null);
    table.rows = page.runs;
    table.token = page.next_page_token || null;
    table.columns = {params: [], metrics: [], tags: []};
    mergeColumns(page.columns);
    showError(null);
  } catch (error) {
    showError(error.message);
    return;
  }
  render();
}

async function loadMore() {
  try {
    const page = await fetchPage(table.token);
    table.rows = table.rows.concat(page.runs);
    table.token = page.next_page_token || null;
    mergeColumns(page.columns);
  } catch (error) {
    showError(error.message);
    return;
  }
  render();
}

function toggleChooser() {
  const box = document.getElementById("column-chooser");
  if (!box.hidden) { box.hidden = true; return; }
  box.replaceChildren();
  const every = FIXED.map(([id]) => id).concat(
    ...["params", "metrics", "tags"].map((k) => table.columns[k].map((key) => `${k}.${key}`)));
  for (const id of every) {
    const box_ = el("input", {type: "checkbox", "data-column": id});
    box_.checked = !table.hidden.has(id);
    box_.addEventListener("change", () => {
      if (box_.checked) table.hidden.delete(id); else table.hidden.add(id);
      render();
    });
    box.append(el("label", {}, box_, " " + id));
  }
  box.hidden = false;
}

function csvCell(text) {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function exportCsv(event) {
  event.preventDefault();
  let rows = [], token = null;
  try {
    do {
      const page = await fetchPage(token, 5000);
      rows = rows.concat(page.runs);
      mergeColumns(page.columns);
      token = page.next_page_token || null;
    } while (token);
  } catch (error) {
    showError(error.message);
    return;
  }
  const columns = allColumns();
  const lines = [columns.map((c) => csvCell(c.id)).join(",")].concat(
    rows.map((row) => columns.map((c) => csvCell(c.id === "start_time" ? String(row.start_time ?? "")
      : cellText(c, row))).join(",")));
  const link = el("a", {href: URL.createObjectURL(new Blob([lines.join("\n")], {type: "text/csv"})),
                        download: `runs-${table.experiment}.csv`});
  document.body.append(link);
  link.click();
  link.remove();
}

document.addEventListener("DOMContentLoaded", () => {
  table.experiment = document.getElementById("runs").dataset.experiment;
  document.getElementById("run-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    table.filter = document.getElementById("filter").value;
    reload();
  });
  document.getElementById("more").addEventListener("click", loadMore);
  document.getElementById("choose-columns").addEventListener("click", toggleChooser);
  document.getElementById("export").addEventListener("click", exportCsv);
  document.getElementById("compare").addEventListener("click", () => {
    location.href = `/compare?runs=${[...table.selected].join(",")}`;
  });
  reload();
});
