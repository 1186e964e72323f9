// Field page: show the visit list, record outcomes even without signal, sync when online.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("field-text").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const LIST = "bc-visits", OUTBOX = "bc-outbox";
  const load = (key, fallback) => JSON.parse(localStorage.getItem(key) || fallback);
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "v-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  }

  function status() {
    const pending = load(OUTBOX, "[]").length;
    const bar = document.getElementById("status");
    bar.textContent = (navigator.onLine ? T.online : T.offline) +
      (pending ? " · " + T.pending + " " + pending : "");
    bar.className = "status" + (navigator.onLine ? "" : " offline");
  }

  function render() {
    const visits = load(LIST, "[]");
    const queued = new Set(load(OUTBOX, "[]").map((item) => item.task_id));
    const root = document.getElementById("visits");
    root.textContent = "";
    if (!visits.length) { root.textContent = T.none; return; }
    const template = document.getElementById("visit-template");
    for (const visit of visits) {
      const card = template.content.firstElementChild.cloneNode(true);
      card.dataset.id = visit.id;
      card.querySelector(".name").textContent = visit.head_name + "（" + visit.household_code + "）";
      card.querySelector(".address").textContent = visit.address;
      const phones = card.querySelector(".phones");
      for (const phone of visit.phones) {  // tap to call
        const link = document.createElement("a");
        link.href = "tel:" + phone; link.textContent = phone + " ";
        phones.appendChild(link);
      }
      card.querySelector(".alert").textContent = visit.alert_headline;
      card.querySelector(".reason").textContent = visit.outcome === "not_home" ? T.not_home
        : (visit.reason === "vulnerable" ? T.vulnerable : T.escalation);
      if (visit.vulnerability.length) card.querySelector(".vulnerable").hidden = false;
      if (visit.flagged) card.classList.add("flagged");
      const result = card.querySelector(".result");
      if (queued.has(visit.id) || visit.done) {
        card.classList.add("done");
        result.hidden = false;
        result.textContent = queued.has(visit.id) ? T.waiting : T.recorded;
        card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      }
      card.querySelectorAll("button[data-outcome]").forEach((button) => {
        button.addEventListener("click", () => record(visit.id, button.dataset.outcome,
          card.querySelector(".notes").value));
      });
      root.appendChild(card);
    }
  }

  function record(taskId, outcome, notes) {
    const outbox = load(OUTBOX, "[]");
    if (!outbox.some((item) => item.task_id === taskId)) {
      outbox.push({ task_id: taskId, outcome: outcome, notes: notes, client_id: newId() });
      save(OUTBOX, outbox);
    }
    render(); status(); sync();
  }

  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      for (const item of load(OUTBOX, "[]")) {
        let answer;
        try {
          answer = await fetch("/api/v1/visits/" + item.task_id + "/outcome", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify({ outcome: item.outcome, notes: item.notes,
                                   client_id: item.client_id }),
          });
        } catch (error) { break; }  // no signal after all: try again later
        if (answer.status >= 500 || answer.status === 401) break;
        const rest = load(OUTBOX, "[]").filter((x) => x.client_id !== item.client_id);
        save(OUTBOX, rest);
        const visits = load(LIST, "[]").map((v) => v.id === item.task_id ? { ...v, done: true } : v);
        save(LIST, visits);
      }
      await refresh();
    } finally { syncing = false; render(); status(); }
  }

  async function refresh() {
    if (!navigator.onLine) return;
    try {
      const answer = await fetch("/api/v1/visits", { credentials: "same-origin" });
      if (answer.ok) save(LIST, await answer.json());
    } catch (error) { /* keep the list we have */ }
  }

  window.addEventListener("online", () => { status(); sync(); });
  window.addEventListener("offline", status);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" });
  render(); status();
  refresh().then(() => { render(); sync(); });
  setInterval(sync, 15000);
})();
