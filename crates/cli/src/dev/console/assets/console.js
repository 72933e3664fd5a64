// The hookbridge dev console: polls the JSON API under /api/ and renders it.
// Plain DOM (textContent only, never HTML from data), no build step.
"use strict";

const POLL_MS = 1500;
const PAGE = 50;
const state = { filter: new URLSearchParams(), shown: PAGE, cursor: null, open: null, rendered: {} };

const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body || {}) });
}

function say(text) {
  $("status").textContent = text;
}

function time(rfc3339) {
  return rfc3339 ? rfc3339.replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

function stateBadge(destination, status, extra) {
  const label = `${destination}: ${status.replace("_", "-")}${extra ? " " + extra : ""}`;
  return element("span", label, `state state-${status}`);
}

// Renders only when the data changed, so focus and selection survive polling.
function changed(key, data) {
  const text = JSON.stringify(data);
  if (state.rendered[key] === text) return false;
  state.rendered[key] = text;
  return true;
}

function renderCounts(counts) {
  for (const name of ["pending", "retrying", "dead_lettered", "delivered", "events", "refusals"]) {
    $(`count-${name}`).textContent = counts[name];
  }
}

function renderEvents(page) {
  if (!changed("events", page)) return;
  const body = $("events").tBodies[0];
  const focused = document.activeElement && document.activeElement.dataset.seq;
  body.replaceChildren();
  for (const event of page.events) {
    const row = document.createElement("tr");
    row.dataset.seq = event.seq;
    if (state.open === event.seq) row.className = "selected";
    row.append(element("td", time(event.received_at)), element("td", event.source), element("td", event.type));
    const idCell = document.createElement("td");
    const open = element("button", event.id, "event-link");
    open.type = "button";
    open.dataset.seq = event.seq;
    open.setAttribute("aria-label", `Show event ${event.id}`);
    open.addEventListener("click", () => openEvent(event.seq));
    idCell.append(open);
    const deliveries = document.createElement("td");
    if (event.deliveries.length === 0) deliveries.textContent = "matched no destination";
    for (const d of event.deliveries) {
      deliveries.append(stateBadge(d.destination, d.status, d.attempts ? `(${d.attempts} attempt${d.attempts > 1 ? "s" : ""})` : ""));
    }
    row.append(idCell, deliveries);
    body.append(row);
  }
  $("events-empty").hidden = page.events.length > 0;
  $("older").hidden = !page.next_cursor;
  state.cursor = page.next_cursor;
  if (focused) {
    const again = body.querySelector(`button[data-seq="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function renderRefusals(list) {
  if (!changed("refusals", list)) return;
  const body = $("refusals").tBodies[0];
  body.replaceChildren();
  for (const refusal of list.refusals) {
    const row = document.createElement("tr");
    row.append(element("td", time(refusal.at)), element("td", refusal.source), element("td", `${refusal.status} ${refusal.code}`), element("td", refusal.reason, "reason"));
    const details = document.createElement("td");
    const more = document.createElement("details");
    more.append(element("summary", "Headers and body"));
    const headers = refusal.headers.map(([name, value]) => `${name}: ${value}`).join("\n");
    more.append(element("pre", headers || "(no headers)"));
    more.append(element("pre", refusal.body_excerpt === null ? "(no body excerpt kept)" : refusal.body_excerpt));
    more.append(element("p", `Correlation id ${refusal.correlation_id}`));
    details.append(more);
    row.append(details);
    body.append(row);
  }
  $("refusals-empty").hidden = list.refusals.length > 0;
}

function fact(list, name, value) {
  list.append(element("dt", name), element("dd", value === null || value === undefined ? "—" : value));
}

function renderDetail(event) {
  if (!changed("detail", event)) return;
  $("detail-title").textContent = `Event ${event.id}`;
  const facts = $("detail-facts");
  facts.replaceChildren();
  fact(facts, "Source", event.source);
  fact(facts, "Type", event.type);
  fact(facts, "Received", time(event.received_at));
  fact(facts, "Occurred", time(event.occurred_at));
  fact(facts, "Correlation id", event.correlation_id);
  fact(facts, "Duplicates", event.duplicates);
  fact(facts, "Stored by the consumer", event.stored ? "yes" : event.consume_error ? `no: ${event.consume_error}` : "not yet");

  const deliveries = $("detail-deliveries");
  deliveries.replaceChildren();
  if (event.deliveries.length === 0) deliveries.append(element("p", "This event matched no destination: stored, not delivered."));
  for (const d of event.deliveries) {
    const block = element("div", null, "delivery");
    const title = element("h4");
    title.append(stateBadge(d.destination, d.status));
    block.append(title);
    if (d.next_attempt) block.append(element("p", `Next attempt: #${d.next_attempt.number} at ${time(d.next_attempt.at)}`));
    const table = document.createElement("table");
    table.className = "attempts";
    const head = table.createTHead().insertRow();
    for (const name of ["#", "At", "Outcome", "Latency", "Response"]) {
      const th = element("th", name);
      th.scope = "col";
      head.append(th);
    }
    const rows = table.createTBody();
    for (const a of d.attempts) {
      const row = rows.insertRow();
      const outcome = a.status !== null ? `${a.outcome}: HTTP ${a.status}` : `${a.outcome}: ${a.error || ""}`;
      row.append(element("td", a.number), element("td", time(a.at)), element("td", outcome), element("td", a.latency_ms === null ? "—" : `${a.latency_ms} ms`), element("td", a.response_excerpt || ""));
    }
    if (d.attempts.length === 0) {
      const row = rows.insertRow();
      const cell = element("td", "No attempt yet.");
      cell.colSpan = 5;
      row.append(cell);
    }
    const scroll = element("div", null, "scroll");
    scroll.append(table);
    block.append(scroll);
    if (d.status === "delivered" || d.status === "dead_lettered") {
      const again = element("button", d.status === "dead_lettered" ? `Replay to ${d.destination}` : `Redeliver to ${d.destination}`);
      again.type = "button";
      again.addEventListener("click", () => redeliver(event.seq, d.destination));
      block.append(again);
    }
    deliveries.append(block);
  }

  const headers = $("detail-headers").tBodies[0];
  headers.replaceChildren();
  for (const [name, value] of event.headers || []) {
    const row = headers.insertRow();
    row.append(element("td", name), element("td", value));
  }
  $("detail-headers").hidden = !event.headers;
  $("detail-no-headers").hidden = !!event.headers;
  const envelope = event.envelope;
  $("detail-payload").textContent = envelope.payload !== undefined
    ? JSON.stringify(envelope.payload, null, 2)
    : `Stored apart (${envelope.payload_ref ? envelope.payload_ref.size + " bytes, " + envelope.payload_ref.key : "no reference"})`;
  $("detail-envelope").textContent = JSON.stringify(envelope, null, 2);
}

async function openEvent(seq) {
  state.open = seq;
  delete state.rendered.detail;
  for (const row of $("events").tBodies[0].rows) row.classList.toggle("selected", Number(row.dataset.seq) === seq);
  try {
    renderDetail(await api(`/api/events/${seq}`));
    $("detail").hidden = false;
    $("detail").focus();
  } catch (error) {
    say(`Cannot show the event: ${error.message}`);
  }
}

async function redeliver(seq, destination) {
  try {
    const result = await post(`/api/events/${seq}/redeliver`, { destination });
    say(result.requeued.length ? `Re-queued for ${result.requeued.join(", ")}.` : "Nothing to re-queue: still pending or retrying.");
    await refresh();
  } catch (error) {
    say(`Redelivery failed: ${error.message}`);
  }
}

async function replayAll() {
  try {
    const result = await post("/api/replay", {});
    say(`Replayed ${result.requeued.length} dead letter${result.requeued.length === 1 ? "" : "s"}.`);
    await refresh();
  } catch (error) {
    say(`Replay failed: ${error.message}`);
  }
}

function eventsQuery() {
  const query = new URLSearchParams(state.filter);
  query.set("limit", String(Math.min(state.shown, 500)));
  return query;
}

async function refresh() {
  try {
    const [counts, page, refusals] = await Promise.all([
      api("/api/counts"),
      api(`/api/events?${eventsQuery()}`),
      api("/api/refusals?limit=50"),
    ]);
    renderCounts(counts);
    renderEvents(page);
    renderRefusals(refusals);
    if (state.open !== null) renderDetail(await api(`/api/events/${state.open}`));
    if ($("status").textContent.startsWith("Disconnected")) say("");
  } catch (error) {
    say(`Disconnected: ${error.message}`);
  }
}

async function older() {
  if (!state.cursor) return;
  const query = eventsQuery();
  query.set("limit", String(PAGE));
  query.set("cursor", state.cursor);
  const page = await api(`/api/events?${query}`);
  state.shown += page.events.length;
  const current = JSON.parse(state.rendered.events);
  renderEvents({ events: current.events.concat(page.events), next_cursor: page.next_cursor });
}

function applyFilters(event) {
  if (event) event.preventDefault();
  const query = new URLSearchParams();
  for (const [name, value] of new FormData($("filters"))) if (value.trim()) query.set(name, value.trim());
  state.filter = query;
  state.shown = PAGE;
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", applyFilters);
  $("filter-status").addEventListener("change", () => applyFilters());
  $("dead-letters").addEventListener("click", () => {
    $("filter-status").value = "dead_lettered";
    applyFilters();
  });
  $("replay-all").addEventListener("click", replayAll);
  $("older").addEventListener("click", older);
  $("close-detail").addEventListener("click", () => {
    const seq = state.open;
    state.open = null;
    $("detail").hidden = true;
    const row = $("events").querySelector(`button[data-seq="${seq}"]`);
    if (row) row.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("detail").hidden) $("close-detail").click();
  });
  refresh();
  setInterval(() => { if ($("live").checked) refresh(); }, POLL_MS);
});
