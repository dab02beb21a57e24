// The agent's desktop. The server decides everything: this page shows
// the cards it is sent, opens the card on "open" and closes it on
// "close". No build step, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { ext: "", source: null, calls: new Map(), openCall: "" };

async function whoami() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  return r.ok ? r.json() : null;
}

async function signIn(ev) {
  ev.preventDefault();
  $("signin-error").textContent = "";
  if (state.principal && !$("token").value) {
    start(state.principal); // the admin, now with an extension
    return;
  }
  const r = await fetch("/api/session", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
  if (!r.ok) {
    $("signin-error").textContent = r.status === 401 ? "Not a token of this callbridge." : "Sign-in failed (" + r.status + ").";
    return;
  }
  start(await r.json());
}

async function signOut() {
  if (state.source) state.source.close();
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
  location.reload();
}

function start(p) {
  state.principal = p;
  let ext = p.user;
  if (p.role === "admin") {
    ext = $("ext").value.trim() || new URLSearchParams(location.search).get("extension") || "";
    if (!ext) {
      $("ext").hidden = false;
      $("signin").hidden = false;
      $("signin-error").textContent = "Signed in as admin: give the extension whose desk to show.";
      return;
    }
  }
  if (p.role !== "agent" && p.role !== "admin") {
    $("signin").hidden = false;
    $("signin-error").textContent = "That is not an agent's token.";
    return;
  }
  state.ext = ext;
  $("signin").hidden = true;
  $("desk").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = p.name + (p.role === "admin" ? " · desk of " + ext : "");
  connect();
}

function connect() {
  const es = new EventSource("/api/agents/" + encodeURIComponent(state.ext) + "/events");
  state.source = es;
  es.onopen = () => { $("link").textContent = "live"; $("link").className = "status on"; };
  es.onerror = () => { $("link").textContent = "reconnecting"; $("link").className = "status off"; };
  for (const kind of ["offer", "open", "close", "connected", "ended"]) {
    es.addEventListener(kind, (m) => handle(JSON.parse(m.data)));
  }
}

function handle(ev) {
  const c = ev.call;
  if (c.device_name && state.principal && state.principal.role === "agent") {
    $("who").textContent = c.device_name + " · " + c.device_number;
  }
  state.calls.set(c.call_id, { card: c, at: ev.at, last: ev.event });
  if (ev.event === "open") {
    state.openCall = c.call_id;
    if ($("autoopen").checked && c.pop_url) window.open(c.pop_url, "_blank", "noopener,noreferrer");
  }
  if (ev.event === "close" && state.openCall === c.call_id) state.openCall = "";
  render();
}

function title(c) {
  if (c.records.length && c.records[0].name) return c.records[0].name;
  return c.remote_name || c.remote_national || c.remote_number || "unknown number";
}

function number(c) {
  const n = c.remote_national || c.remote_number;
  return c.remote_e164 && c.remote_e164 !== n ? n + "  ·  " + c.remote_e164 : n;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function link(href, text) {
  const a = el("a", text);
  // Only links a CRM page can be: no javascript: or data: URLs.
  if (/^(https?|mailto|tel|sip|callto):/i.test(href)) a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function render() {
  const box = $("card");
  const entry = state.calls.get(state.openCall);
  box.dataset.state = entry && entry.card.open ? "open" : "closed";
  if (entry) {
    const c = entry.card;
    box.dataset.call = c.call_id;
    box.querySelector(".type").textContent = c.type + (c.internal && c.type === "manual" ? " · internal" : "");
    box.querySelector(".state").textContent = c.state;
    box.querySelector(".line").textContent = c.ddi_name || c.ddi_national || c.ddi_number || "";
    box.querySelector(".name").textContent = title(c);
    box.querySelector(".number").textContent = number(c);
    const recs = box.querySelector(".records");
    recs.replaceChildren(...c.records.map((r) => {
      const li = el("li");
      li.append(r.url ? link(r.url, r.name || r.id) : el("span", r.name || r.id), el("span", r.entity, "kind"));
      const f = Object.entries(r.fields || {}).map(([k, v]) => k + ": " + v).join(" · ");
      if (f) li.append(el("span", f, "fields"));
      return li;
    }));
    const pop = box.querySelector(".pop a");
    pop.replaceWith(c.pop_url ? link(c.pop_url, c.new_record ? "New record in the CRM" : "Open in the CRM") : el("a"));
    box.querySelector(".scripts").replaceChildren(...c.scripts.map((s) => link(s.url, s.name)));
  }
  const list = $("calls");
  const rows = [...state.calls.values()].sort((a, b) => b.card.started_at.localeCompare(a.card.started_at)).slice(0, 20);
  list.replaceChildren(...rows.map(({ card: c }) => {
    const li = el("li", null, c.state === "ended" ? "ended" : "");
    li.dataset.call = c.call_id;
    li.append(el("span", new Date(c.started_at).toLocaleTimeString(), "when"),
      el("span", c.type + " · " + title(c) + " · " + c.state));
    return li;
  }));
}

async function dial(ev) {
  ev.preventDefault();
  const out = $("dial-result");
  out.className = "";
  out.textContent = "Placing the call…";
  const r = await fetch("/api/agents/" + encodeURIComponent(state.ext) + "/calls", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ number: $("dial-number").value }),
  });
  if (r.ok) {
    const res = await r.json();
    out.textContent = "Your phone is ringing: pick up and " + res.number + " is dialled.";
    $("dial-number").value = "";
  } else {
    out.className = "error";
    out.textContent = (await r.text()).trim();
  }
}

window.addEventListener("DOMContentLoaded", async () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("dial").addEventListener("submit", dial);
  $("autoopen").checked = localStorage.getItem("callbridge.autoopen") === "1";
  $("autoopen").addEventListener("change", () => localStorage.setItem("callbridge.autoopen", $("autoopen").checked ? "1" : "0"));
  const p = await whoami();
  if (p) start(p); else $("signin").hidden = false;
});
