// Field page, drawing: visits grouped by alert, one card per household, every pending or
// refused outcome visible on its card. State and sync are in field.js.
"use strict";
(function () {
  const root = document.getElementById("field");
  const T = JSON.parse(root.dataset.text);
  const LABELS = JSON.parse(root.dataset.vulnerability);
  const lang = document.documentElement.lang || "zh-CN";

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    const opts = today ? { hour: "2-digit", minute: "2-digit" }
      : { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return d.toLocaleString(lang, opts);
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(href, text) {
    const a = el("a", "", text);
    a.href = href;
    return a;
  }

  // One entry per household, in the list's order (most urgent first); its other tasks
  // (the same household under another alert) ride along.
  function households(visits) {
    const byCode = new Map();
    for (const visit of visits) {
      const seen = byCode.get(visit.household_code);
      if (seen) seen.others.push(visit); else byCode.set(visit.household_code, { visit, others: [] });
    }
    return [...byCode.values()];
  }

  function groups(entries) {
    const byAlert = new Map();
    for (const entry of entries) {
      const id = entry.visit.alert_id;
      if (!byAlert.has(id)) byAlert.set(id, { visit: entry.visit, entries: [] });
      byAlert.get(id).entries.push(entry);
    }
    return [...byAlert.values()];
  }

  function maps(visit) {
    const box = el("span");
    if (visit.lat == null || visit.lon == null) return box;
    const name = encodeURIComponent(visit.head_name + " " + visit.address);
    box.append(
      link("geo:" + visit.lat + "," + visit.lon + "?q=" + visit.lat + "," + visit.lon + "(" + name + ")", T.map), " · ",
      link("https://uri.amap.com/marker?position=" + visit.lon + "," + visit.lat + "&name=" + name +
        "&coordinate=wgs84&callnative=1", T.amap), " · ",
      link("https://api.map.baidu.com/marker?location=" + visit.lat + "," + visit.lon + "&title=" + name +
        "&content=" + name + "&output=html&coord_type=wgs84&src=broadcaster", T.baidu));
    return box;
  }

  // What the worker is typing on each card (notes, an evacuation half filled in): the list is
  // drawn again after every sync, and must give it back.
  function drafts() {
    const found = new Map();
    document.querySelectorAll("article.task").forEach((node) => {
      const box = node.querySelector(".evacuate");
      const active = node.contains(document.activeElement) ? document.activeElement.className : "";
      found.set(node.dataset.id, {
        notes: node.querySelector(".notes").value, open: !box.hidden, active,
        people: box.querySelector(".people").value, where: box.querySelector(".placement").value,
        destination: box.querySelector(".destination").value,
      });
    });
    return found;
  }

  function restore(node, draft, open) {
    node.querySelector(".notes").value = draft.notes;
    if (draft.open) {
      open();
      const box = node.querySelector(".evacuate");
      box.querySelector(".people").value = draft.people;
      box.querySelector(".placement").value = draft.where;
      box.querySelector(".destination").value = draft.destination;
      box.querySelector(".destination").hidden = draft.where !== "other";
    }
    if (draft.active) {
      const again = node.querySelector("." + draft.active.split(" ")[0]);
      if (again) again.focus();
    }
  }

  function card(entry, state, handlers, draft) {
    const visit = entry.visit;
    const tasks = [visit, ...entry.others];
    const ids = new Set(tasks.map((t) => t.id));
    const queued = state.outbox.filter((item) => item.kind === "outcome" && ids.has(item.task_id));
    const problem = queued.find((item) => item.problem);
    const node = document.getElementById("visit-template").content.firstElementChild.cloneNode(true);
    node.dataset.id = visit.id;
    node.dataset.household = visit.household_code;
    node.querySelector(".name").textContent = visit.head_name + "（" + visit.household_code + "）";
    const pills = node.querySelector(".pills");
    for (const flag of visit.vulnerability) pills.append(el("span", "pill vulnerable", LABELS[flag] || flag), " ");
    if (visit.exercise) pills.append(el("span", "pill drill-pill", T.drill));
    if (visit.due_at && visit.state === "open") node.querySelector(".due").textContent = T.due.replace("{t}", time(visit.due_at));
    else if (visit.started_at && visit.state === "in_progress") node.querySelector(".due").textContent = T.started + " " + time(visit.started_at);
    node.querySelector(".address").textContent = visit.address;
    for (const phone of visit.phones) node.querySelector(".phones").append(link("tel:" + phone, phone), " ");
    node.querySelector(".maps").append(maps(visit));
    node.querySelector(".reason").textContent = visit.outcome === "not_home" ? T.not_home
      : (visit.reason === "vulnerable" ? T.vulnerable : T.escalation);
    if (entry.others.length) {
      const also = node.querySelector(".also");
      also.hidden = false;
      also.textContent = T.also + entry.others.map((o) => (o.exercise ? T.drill : "") + o.alert_headline).join("；");
    }
    if (visit.flagged) node.classList.add("flagged");
    const result = node.querySelector(".result");
    const closedByOther = visit.done_by_name && (visit.state === "done" || visit.state === "unable");
    const finished = queued.length || state.done.has(visit.id) || closedByOther;
    if (finished) {
      node.classList.add("done");
      node.querySelectorAll(".outcomes button, .notes").forEach((b) => { b.disabled = true; });
      result.hidden = false;
      result.textContent = queued.length ? T.waiting + "：" + said(queued[0])
        : closedByOther ? T.found_by + visit.done_by_name + " · " + (T.outcomes[visit.outcome] || "")
          : T.recorded;
    }
    if (problem) {
      node.classList.add("refused");
      const box = node.querySelector(".problem");
      box.hidden = false;
      box.querySelector(".problem-text").textContent = T.refused + problem.problem.text;
      box.querySelector(".retry").addEventListener("click", () => handlers.retry(problem.client_id));
      box.querySelector(".discard").addEventListener("click", () => handlers.discard(problem.client_id));
    }
    const start = node.querySelector(".start");
    const starting = state.outbox.some((item) => item.kind === "start" && item.task_id === visit.id);
    if (visit.state === "open" && !finished && !starting) {
      start.hidden = false;
      start.addEventListener("click", () => handlers.start(visit));
    }
    node.querySelectorAll("button[data-outcome]").forEach((button) => {
      button.addEventListener("click", () => {
        if (button.dataset.outcome === "evacuated") { evacuation(node, tasks, state, handlers); return; }
        handlers.record(tasks, button.dataset.outcome, node.querySelector(".notes").value);
      });
    });
    if (draft && !finished) restore(node, draft, () => evacuation(node, tasks, state, handlers));
    return node;
  }

  // "已转移": how many people, and where to (a shelter of the list kept on the phone, to
  // relatives, or elsewhere in words); recorded only once the count and the place are given.
  function evacuation(node, tasks, state, handlers) {
    const box = node.querySelector(".evacuate");
    const select = box.querySelector(".placement");
    const destination = box.querySelector(".destination");
    const problem = box.querySelector(".evac-error");
    select.textContent = "";
    const option = (value, text) => { const o = el("option", "", text); o.value = value; select.append(o); };
    option("", T.choose);
    for (const s of state.shelters) {
      option("shelter:" + s.id, T.shelter + "：" + s.name + "（" + (s.free > 0 ? T.free.replace("{n}", s.free) : T.full) + "）");
    }
    option("relatives", T.relatives);
    option("other", T.other);
    select.onchange = () => { destination.hidden = select.value !== "other"; };
    box.hidden = false;
    if (!box.contains(document.activeElement)) box.querySelector(".people").focus();
    box.querySelector(".evac-cancel").onclick = () => { box.hidden = true; };
    box.querySelector(".evac-ok").onclick = () => {
      const people = Number(box.querySelector(".people").value);
      const where = select.value;
      let text = "";
      if (!Number.isInteger(people) || people < 1 || people > 100) text = T.people_needed;
      else if (!where) text = T.placement_needed;
      else if (where === "other" && !destination.value.trim()) text = T.destination_needed;
      problem.hidden = !text;
      problem.textContent = text;
      if (text) return;
      const moved = { people_moved: people, placement: where.startsWith("shelter:") ? "shelter" : where };
      if (where.startsWith("shelter:")) {
        moved.shelter_id = Number(where.slice(8));
        moved.where = state.shelters.find((s) => s.id === moved.shelter_id).name;
      } else if (where === "other") {
        moved.destination = destination.value.trim();
        moved.where = moved.destination;
      } else moved.where = T.relatives;
      handlers.record(tasks, "evacuated", node.querySelector(".notes").value, moved);
    };
  }

  // What a queued or sent outcome says on its card: 已转移 · 3 人 → 一村小学
  function said(item) {
    const text = T.outcomes[item.outcome] || item.outcome;
    const moved = item.evacuation;
    return moved ? text + " · " + T.people.replace("{n}", moved.people_moved) + " → " + moved.where : text;
  }

  function group(entryGroup, state, handlers, kept) {
    const visit = entryGroup.visit;
    const node = document.getElementById("group-template").content.firstElementChild.cloneNode(true);
    node.classList.add("level-" + visit.level);
    if (visit.exercise) {
      node.classList.add("exercise");
      const mark = node.querySelector(".drill-mark");
      mark.hidden = false;
      mark.textContent = T.drill;
    }
    node.querySelector(".headline").textContent = visit.alert_headline;
    const issued = visit.alert_issued_at ? " · " + T.issued + " " + time(visit.alert_issued_at) : "";
    node.querySelector(".groupmeta").textContent = (T.levels[visit.level] || visit.level) + issued +
      " · " + entryGroup.entries.length + " " + T.households;
    for (const entry of entryGroup.entries) {
      node.append(card(entry, state, handlers, kept.get(String(entry.visit.id))));
    }
    return node;
  }

  function notices(state) {
    const box = document.getElementById("notices");
    box.textContent = "";
    if (state.loginExpired) {
      const p = el("p", "error");
      p.append(T.login + " ", link("/login?next=/field/", "→"));
      box.append(p);
    }
    if (!state.sent.length) return;
    box.append(el("h2", "sent-title", T.sent_title));
    const list = el("ul", "sent");
    for (const note of state.sent.slice(0, 8)) {
      list.append(el("li", note.bad ? "bad" : "", time(note.at) + " " + note.text));
    }
    box.append(list);
  }

  window.FieldView = {
    T,
    said,
    draw(state, handlers) {
      const kept = drafts();
      notices(state);
      const rootList = document.getElementById("visits");
      rootList.textContent = "";
      if (!state.visits.length) { rootList.append(el("p", "meta", T.none)); return; }
      for (const entryGroup of groups(households(state.visits))) {
        rootList.append(group(entryGroup, state, handlers, kept));
      }
    },
  };
})();
