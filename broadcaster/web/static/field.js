// Field page, state and sync: the list and an outbox kept on the phone (per login), outcomes
// recorded without signal and sent when online. A refused outcome stays in the outbox, shown on
// its card, until the worker retries or discards it: nothing is dropped silently.
"use strict";
(function () {
  const View = window.FieldView, T = View.T;
  const user = document.getElementById("field").dataset.user;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const LIST = "bc-visits:" + user, OUTBOX = "bc-outbox:" + user, SENT = "bc-sent:" + user;
  const DONE = "bc-done:" + user, SHELTERS = "bc-shelters:" + user;
  const load = (key, fallback) => JSON.parse(localStorage.getItem(key) || fallback);
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));
  let loginExpired = false;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "v-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  }

  // The list as loaded, plus the visits of outcomes still in the outbox that the server no
  // longer lists (reassigned or cancelled meanwhile): their cards stay until sent or discarded.
  function state() {
    const visits = load(LIST, "[]");
    const outbox = load(OUTBOX, "[]");
    const listed = new Set(visits.map((v) => v.id));
    for (const item of outbox) {
      if (item.kind === "outcome" && item.visit && !listed.has(item.task_id)) {
        visits.push(item.visit);
        listed.add(item.task_id);
      }
    }
    return { visits, outbox, sent: load(SENT, "[]"), done: new Set(load(DONE, "[]")), loginExpired,
             shelters: load(SHELTERS, "[]") };
  }

  function note(text, bad) {
    const sent = load(SENT, "[]");
    sent.unshift({ at: new Date().toISOString(), text, bad: !!bad });
    save(SENT, sent.slice(0, 20));
  }

  function status() {
    const pending = load(OUTBOX, "[]").length;
    const bar = document.getElementById("status");
    bar.textContent = (navigator.onLine ? T.online : T.offline) + (pending ? " · " + T.pending + " " + pending : "");
    bar.className = "status" + (navigator.onLine ? "" : " offline");
  }

  function draw() { View.draw(state(), handlers); status(); }

  const handlers = {
    record(tasks, outcome, notes, evacuation) {
      const outbox = load(OUTBOX, "[]");
      const at = new Date().toISOString();
      for (const task of tasks) {
        if (outbox.some((item) => item.kind === "outcome" && item.task_id === task.id)) continue;
        outbox.push({ kind: "outcome", task_id: task.id, outcome, notes, client_id: newId(),
                      found_at: at, visit: task, problem: null, evacuation: evacuation || null });
      }
      save(OUTBOX, outbox);
      draw(); sync();
    },
    start(visit) {
      const outbox = load(OUTBOX, "[]");
      outbox.push({ kind: "start", task_id: visit.id, client_id: newId() });
      save(OUTBOX, outbox);
      save(LIST, load(LIST, "[]").map((v) => v.id === visit.id
        ? { ...v, state: "in_progress", started_at: new Date().toISOString() } : v));
      draw(); sync();
    },
    retry(clientId) {
      save(OUTBOX, load(OUTBOX, "[]").map((x) => x.client_id === clientId ? { ...x, problem: null } : x));
      draw(); sync();
    },
    discard(clientId) {
      if (!window.confirm(T.discard_confirm)) return;
      const item = load(OUTBOX, "[]").find((x) => x.client_id === clientId);
      save(OUTBOX, load(OUTBOX, "[]").filter((x) => x.client_id !== clientId));
      if (item && item.visit) note(item.visit.head_name + " · " + View.said(item) + " · " + T.discard, true);
      draw();
    },
  };

  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  }

  async function reason(answer) {
    try {
      const body = await answer.json();
      return body.message || String(answer.status);
    } catch (error) { return "HTTP " + answer.status; }
  }

  function settled(item, body) {
    if (item.outcome !== "not_home") {  // not at home: the task stays open for a second visit
      const done = load(DONE, "[]");
      done.push(item.task_id);
      save(DONE, done.slice(-500));
    }
    const parts = [item.visit.head_name + "（" + item.visit.household_code + "）" + View.said(item)];
    if (body.moved_on) parts.push(T["moved_" + body.moved_on] || body.moved_on);
    else parts.push(T.recorded);
    if (body.help_request_id) parts.push(T.help_opened);
    note(parts.join(" · "), false);
  }

  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      for (const item of load(OUTBOX, "[]")) {
        if (item.problem) continue;  // waits for the worker: retry or discard
        const path = "/api/v1/visits/" + item.task_id + "/" + (item.kind === "start" ? "start" : "outcome");
        const body = item.kind === "start" ? {} : { outcome: item.outcome, notes: item.notes,
          client_id: item.client_id, found_at: item.found_at };
        if (item.evacuation) {  // the people moved and where to; `where` is only for the card
          const { where, ...moved } = item.evacuation;
          Object.assign(body, moved);
        }
        let answer;
        try { answer = await post(path, body); } catch (error) { break; }  // no signal after all
        if (answer.status === 401) { loginExpired = true; break; }
        loginExpired = false;
        if (answer.status >= 500 || answer.status === 429) break;  // try again later
        const rest = load(OUTBOX, "[]").filter((x) => x.client_id !== item.client_id);
        if (answer.ok) {
          save(OUTBOX, rest);
          if (item.kind === "outcome") settled(item, await answer.json());
        } else if (item.kind === "start") {  // the task moved on: nothing the worker entered is lost
          save(OUTBOX, rest);
          note(T.start + " · " + (await reason(answer)), true);
        } else {
          const text = await reason(answer);
          save(OUTBOX, load(OUTBOX, "[]").map((x) => x.client_id === item.client_id
            ? { ...x, problem: { status: answer.status, text } } : x));
        }
      }
      await refresh();
    } finally { syncing = false; draw(); }
  }

  async function refresh() {
    if (!navigator.onLine) return;
    try {
      const answer = await fetch("/api/v1/visits", { credentials: "same-origin" });
      if (answer.status === 401) loginExpired = true;
      if (answer.ok) save(LIST, await answer.json());
      const shelters = await fetch("/api/v1/registry/shelters?active=true", { credentials: "same-origin" });
      if (shelters.ok) save(SHELTERS, await shelters.json());  // kept for evacuations offline
    } catch (error) { /* keep the lists we have */ }
  }

  window.addEventListener("online", () => { status(); sync(); });
  window.addEventListener("offline", status);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" });
  draw();
  refresh().then(() => { draw(); sync(); });
  setInterval(sync, 15000);
})();
