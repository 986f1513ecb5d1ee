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

// One event from the "add a timeline event" row, or a reason it cannot be made.
function eventOf(at, type, detail) {
  if (!at) return "give the instant (RFC 3339, with its offset)";
  const event = { at: at, type: type };
  if (type === "reply") event.by = detail || "agent";
  else if (type === "status") event.status = detail || "pending";
  else if (type === "agent_priority" || type === "priority_requested") event.level = detail || null;
  else if (type === "fact") {
    const eq = detail.indexOf("=");
    if (eq < 1) return "write the fact as fact=value, e.g. environment=production";
    const raw = detail.slice(eq + 1).trim();
    let value = raw;
    try { value = JSON.parse(raw); } catch (e) { /* a plain string */ }
    event.fact = detail.slice(0, eq).trim();
    event.value = value;
  }
  return event;
}

function setUpEvents(form) {
  const row = form.querySelector("#add-event");
  const events = form.querySelector("#events");
  if (!row || !events) return;
  row.hidden = false;
  form.querySelector("#ev-add").addEventListener("click", () => {
    const said = form.querySelector("#ev-said");
    const event = eventOf(form.querySelector("#ev-at").value.trim(),
                          form.querySelector("#ev-type").value,
                          form.querySelector("#ev-detail").value.trim());
    if (typeof event === "string") { said.textContent = event; return; }
    let list = [];
    if (events.value.trim() !== "") {
      try { list = JSON.parse(events.value); } catch (e) {
        said.textContent = "the events below are not a JSON list: fix or clear them first";
        return;
      }
    }
    if (!Array.isArray(list)) list = [];
    list.push(event);
    events.value = JSON.stringify(list, null, 1);
    said.textContent = "added: " + JSON.stringify(event);
  });
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
  setUpEvents(form);
  const json = form.querySelector("#json");
  form.querySelector("#mode-json").addEventListener("change", () => {
    json.value = JSON.stringify(formToJson(form), null, 2);
  });
  form.querySelector("#mode-form").addEventListener("change", () => jsonToForm(form, json.value));
});
