// A registered model's page: setting an alias posts to /ui-api and reloads.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("alias-form");
  const name = document.getElementById("versions").dataset.model;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch(`/ui-api/models/${encodeURIComponent(name)}/aliases`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({alias: document.getElementById("alias").value,
                            version: document.getElementById("alias-version").value}),
    });
    if (response.ok) { location.reload(); return; }
    const box = document.getElementById("alias-error");
    box.textContent = (await response.json()).message || response.statusText;
    box.hidden = false;
  });
});
