// ticket-policy UI: progressive enhancement only (every page works without this script).
// - the policy / version choosers load their choice when changed;
// - switching the ticket editor to the JSON tab writes the form's fields into the JSON text,
//   and back to the form fills the fields from the JSON text (when it parses).
"use strict";

function setPath(obj, path, value) {
  const parts = path.split(".");
  let node = obj;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part];
  }
  node[parts[parts.length - 1]] = value;
}

function getPath(obj, path) {
  let node = obj;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = node[part];
  }
  return node;
}

function formToJson(form) {
  const ticket = {};
  for (const el of form.querySelectorAll("[data-fact]")) {
    const raw = el.value.trim();
    if (raw === "") continue;
    let value = raw;
    if (el.dataset.type === "boolean") value = raw === "true";
    else if (el.dataset.type === "number" && !Number.isNaN(Number(raw))) value = Number(raw);
    setPath(ticket, el.dataset.fact, value);
  }
  const events = form.querySelector("#events");
  if (events && events.value.trim() !== "") {
    try { ticket.events = JSON.parse(events.value); } catch (e) { /* the server reports it */ }
  }
  return ticket;
}

function jsonToForm(form, text) {
  let ticket;
  try { ticket = JSON.parse(text); } catch (e) { return; }
  if (typeof ticket !== "object" || ticket === null) return;
  for (const el of form.querySelectorAll("[data-fact]")) {
    const value = getPath(ticket, el.dataset.fact);
    el.value = value === undefined || value === null ? "" : String(value);
  }
  const events = form.querySelector("#events");
  if (events) events.value = ticket.events ? JSON.stringify(ticket.events, null, 1) : "";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => {
      if (select.id === "choose-policy") {
        const version = document.getElementById("choose-version");
        if (version) version.disabled = true;   // a new policy: its served version
      }
      select.form.submit();
    });
  }
  const form = document.getElementById("ticket-form");
  if (!form) return;
  const json = form.querySelector("#json");
  form.querySelector("#mode-json").addEventListener("change", () => {
    json.value = JSON.stringify(formToJson(form), null, 2);
  });
  form.querySelector("#mode-form").addEventListener("change", () => jsonToForm(form, json.value));
});
