// Duty console: live counts over server-sent events, section refresh, API actions, compose.
"use strict";
(function () {
  const textBlock = document.getElementById("console-text");  // JSON, not script: strict CSP
  const T = textBlock ? JSON.parse(textBlock.textContent) : {};
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // The JSON API with the session cookie: writes carry the session's CSRF token.
  async function api(method, url, body, headers) {
    const options = {
      method: method, credentials: "same-origin",
      headers: Object.assign({ "X-CSRF-Token": csrf, "Accept": "application/json" }, headers || {})
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : null;
    return { ok: response.ok, status: response.status, data: data, response: response };
  }
  const problem = (result) =>
    (result.data && result.data.message) || (T.failed + " (" + result.status + ")");

  // ---- sections of a page that are fetched again when the event stream says they changed
  const expanded = new Set();

  async function refresh(name) {
    const box = $('[data-fragment="' + name + '"]');
    if (!box) return;
    const typing = box.contains(document.activeElement) &&
      ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (typing) {  // never wipe what the officer is typing: refresh when they leave the field
      document.activeElement.addEventListener("blur", () => refresh(name), { once: true });
      return;
    }
    const response = await fetch(box.dataset.src, { credentials: "same-origin" });
    if (response.redirected && response.url.includes("/login")) { location.reload(); return; }
    if (!response.ok) return;
    box.innerHTML = await response.text();
    if (name === "coverage") {
      for (const zone of Array.from(expanded)) {
        const button = $('tr[data-zone="' + zone + '"] button.expand', box);
        expanded.delete(zone);
        if (button) toggleGrids(button);
      }
    }
  }

  async function toggleGrids(button) {
    const row = button.closest("tr");
    const zone = row.dataset.zone;
    if (button.getAttribute("aria-expanded") === "true") {
      $$('tr[data-parent="' + zone + '"]', row.parentNode).forEach((r) => r.remove());
      button.setAttribute("aria-expanded", "false");
      button.textContent = "▸";
      expanded.delete(zone);
      return;
    }
    const response = await fetch(button.dataset.grids, { credentials: "same-origin" });
    if (!response.ok) return;
    row.insertAdjacentHTML("afterend", await response.text());
    button.setAttribute("aria-expanded", "true");
    button.textContent = "▾";
    expanded.add(zone);
  }

  function updateFunnel(id, f) {
    $$('[data-funnel="' + id + '"]').forEach((box) => {
      $$("[data-key]", box).forEach((el) => {
        const key = el.dataset.key;
        const value = key === "percent" ? Number(f.percent).toFixed(1)
          : Number(f[key]).toLocaleString("en-US");
        if (el.textContent !== value) {
          el.textContent = value;
          el.classList.remove("changed");
          void el.offsetWidth;  // restart the highlight
          el.classList.add("changed");
        }
      });
      $$("[data-seg]", box).forEach((el) => {
        el.style.width = (f.targeted ? 100 * f[el.dataset.seg] / f.targeted : 0) + "%";
      });
      box.classList.toggle("complete", !!f.complete);
    });
  }

  function live() {
    const root = $("[data-events]");
    if (!root || !window.EventSource) return;
    const status = $("#live-status");
    let versions = null, coverageSeen = "", coverageAt = 0, coverageTimer = null;
    const coverageBox = $('[data-fragment="coverage"]');

    function coverageFollows(alerts) {
      if (!coverageBox) return;
      const table = $("table.coverage", coverageBox);
      const id = table ? table.dataset.alert : null;
      const key = id && alerts[id] ? JSON.stringify(alerts[id]) : "";
      if (!key || key === coverageSeen) return;
      if (!coverageSeen) { coverageSeen = key; return; }
      coverageSeen = key;
      const wait = Math.max(0, 5000 - (Date.now() - coverageAt));
      clearTimeout(coverageTimer);
      coverageTimer = setTimeout(() => { coverageAt = Date.now(); refresh("coverage"); }, wait);
    }

    function connect() {
      const source = new EventSource(root.dataset.events);
      source.addEventListener("counts", (event) => {
        const data = JSON.parse(event.data);
        status.textContent = T.live + " " + new Date().toLocaleTimeString("zh-CN", { timeZone: T.time_zone || "Asia/Shanghai", hour12: false });
        status.className = "live";
        for (const [id, f] of Object.entries(data.alerts)) updateFunnel(id, f);
        if (versions) {
          for (const key of Object.keys(data.versions)) {
            if (data.versions[key] !== versions[key]) refresh(key);
          }
        }
        versions = data.versions;
        coverageFollows(data.alerts);
      });
      source.onerror = () => {
        status.textContent = T.offline;
        status.className = "live down";
        if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
      };
    }
    connect();
  }

  // ---- buttons and small forms that call the JSON API
  document.addEventListener("click", async (event) => {
    const expand = event.target.closest("button.expand[data-grids]");
    if (expand) { toggleGrids(expand); return; }
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.confirm && !window.confirm(T[button.dataset.confirm])) return;
    let body;
    if (button.dataset.reason) {
      const reason = window.prompt(T.reason, "");
      if (reason === null) return;
      body = { reason: reason };
    }
    button.disabled = true;
    const result = await api("POST", button.dataset.action, body);
    button.disabled = false;
    if (!result.ok) { window.alert(problem(result)); return; }
    if (button.dataset.refresh) refresh(button.dataset.refresh); else location.reload();
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    const body = Object.fromEntries(new FormData(form).entries());
    const submit = $("button[type=submit]", form);
    if (submit) submit.disabled = true;
    const result = await api("POST", form.dataset.api, body);
    if (submit) submit.disabled = false;
    if (!result.ok) { window.alert(problem(result)); return; }
    if (form.dataset.show) {  // e.g. a new API key, shown once and never again
      $("output", form).textContent = result.data[form.dataset.show];
      return;
    }
    if (form.dataset.refresh) refresh(form.dataset.refresh); else location.reload();
  });

  // ---- compose: suggested texts, zone picker, channels, live preview, audio, send
  function compose() {
    const form = $("#compose");
    if (!form) return;
    const data = JSON.parse($("#compose-data").textContent);
    const words = data.suggestions || {};
    const key = form.dataset.idempotencyKey;
    const field = (name) => form.elements[name];
    const level = () => $("input[name=level]:checked", form).value;
    const zones = () => $$("input[name=zone]:checked", form);
    const exercise = $("#exercise");
    let lastTemplate = { headline: "", body: "", instruction: "" };
    let lastPreview = null, previewSeq = 0, timer = null, expiresAt = null;

    function areaName() {
      const chosen = zones();
      if (!chosen.length) return words.area || "";
      const names = chosen.slice(0, 3).map((box) => box.dataset.name);
      return names.join(words.joiner || ", ") + (chosen.length > 3 ? (words.more || "") : "");
    }

    function applyTemplate(force) {
      const texts = (words[field("hazard").value] || {})[level()];
      if (!texts) return;
      for (const name of ["headline", "body", "instruction"]) {
        const text = (texts[name] || "").split("{area}").join(areaName());
        const box = field(name);
        if (force || box.value === "" || box.value === lastTemplate[name]) box.value = text;
        lastTemplate[name] = text;
      }
      lengths();
    }

    function lengths() {
      $$("[data-len]", form).forEach((span) => {
        const box = field(span.dataset.len);
        span.textContent = box.value.length + " / " + box.maxLength;
      });
    }

    function syncChannels() {
      const usePolicy = $("#policy-channels").checked;
      const defaults = data.defaults[level()] || [];
      $$("input[name=channel]", form).forEach((box) => {
        box.disabled = usePolicy;
        if (usePolicy) box.checked = defaults.includes(box.value);
      });
      $("#held-note").hidden = !data.held[level()];
      $("#send").textContent = data.held[level()] ? T.submit : T.send;
    }

    function syncZones() {
      const chosen = zones();
      const sum = chosen.reduce((n, box) => n + Number(box.dataset.households || 0), 0);
      $("#zones-chosen").textContent = chosen.length ?
        chosen.map((box) => box.dataset.name).slice(0, 4).join("、") + (chosen.length > 4 ? "…" : "") +
        " (≤ " + sum.toLocaleString("en-US") + " " + T.households + ")" : "";
    }

    function body() {
      const hours = Number(field("expires").value || 0);
      if (!hours) expiresAt = null;
      else if (!expiresAt || expiresAt.hours !== hours) {
        expiresAt = { hours: hours, at: new Date(Date.now() + hours * 3600e3).toISOString() };
      }
      const request = {
        hazard: field("hazard").value, level: level(),
        headline: field("headline").value.trim(), body: field("body").value.trim(),
        instruction: field("instruction").value.trim(),
        zones: zones().map((box) => box.value),
        status: exercise.checked ? "exercise" : "actual"
      };
      if (!$("#policy-channels").checked) {
        request.channels = $$("input[name=channel]:checked", form).map((box) => box.value);
      }
      if (expiresAt) request.expires_at = expiresAt.at;
      return request;
    }

    function showError(text) {
      const box = $("#pv-error");
      box.hidden = !text;
      box.textContent = text || "";
    }

    async function preview() {
      const request = body();
      const seq = ++previewSeq;
      if (!request.zones.length || !request.headline || !request.body) {
        lastPreview = null;
        showError(T.preview_needed);
        return null;
      }
      const result = await api("POST", "/api/v1/alerts/preview", request);
      if (seq !== previewSeq) return lastPreview;  // a newer preview is on its way
      if (!result.ok) { lastPreview = null; showError(problem(result)); return null; }
      const p = result.data;
      showError("");
      $("#pv-households").textContent = p.households.toLocaleString("en-US");
      $("#pv-channels").textContent = p.channels.map((c) => data.channels[c] || c).join(" · ");
      $("#pv-sms").textContent = p.sms.text;
      $("#pv-sms-figures").textContent = p.sms.length + " " + T.chars + " · " +
        p.sms.segments + " " + T.segments + " · " + p.sms.encoding;
      $("#pv-voice").textContent = p.voice;
      $("#pv-wecom").textContent = p.wecom_group;
      $("#pv-loudspeaker").textContent = p.loudspeaker;
      const approved = $("#pv-templates");  // what template-only providers send, exactly
      approved.replaceChildren(...(p.templates || []).flatMap((t) => {
        const head = document.createElement("dt");
        head.textContent = (data.channels[t.medium] || t.medium) + " · " + t.provider + " ";
        const figures = document.createElement("span");
        figures.className = "figures";
        figures.textContent = t.code + " · " + t.length + " " + T.chars + " · " +
          t.segments + " " + T.segments;
        head.append(figures);
        const text = document.createElement("dd");
        text.className = "preview-box";
        text.textContent = t.text;
        return [head, text];
      }));
      lastPreview = p;
      return p;
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(preview, 400);
    }

    form.addEventListener("input", (event) => {
      const name = event.target.name;
      if (name === "zone") { syncZones(); applyTemplate(false); }
      if (name === "hazard" || name === "level") { applyTemplate(false); syncChannels(); }
      if (event.target.id === "policy-channels") syncChannels();
      if (event.target === exercise) form.classList.toggle("drill-on", exercise.checked);
      lengths();
      later();
    });
    $("#use-template").addEventListener("click", () => { applyTemplate(true); later(); });
    $$("details[data-grids]", form).forEach((details) => {
      details.addEventListener("toggle", async () => {
        const list = $("ul.grids", details);
        if (!details.open || list.dataset.loaded) return;
        list.dataset.loaded = "1";
        list.textContent = T.loading;
        const response = await fetch(details.dataset.grids, { credentials: "same-origin" });
        list.innerHTML = response.ok ? await response.text() : "";
      });
    });

    $("#pv-audio").addEventListener("click", async () => {
      const button = $("#pv-audio"), player = $("#pv-player");
      const request = body();
      if (!request.headline || !request.body) { showError(T.preview_needed); return; }
      button.disabled = true;
      button.textContent = T.rendering;
      const response = await fetch("/console/compose/audio", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(request),
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }
      });
      button.disabled = false;
      button.textContent = button.dataset.label;
      if (!response.ok) { showError(T.failed + " (" + response.status + ")"); return; }
      if (player.src) URL.revokeObjectURL(player.src);
      player.src = URL.createObjectURL(await response.blob());
      player.hidden = false;
    });
    $("#pv-audio").dataset.label = $("#pv-audio").textContent;

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearTimeout(timer);
      const p = await preview();
      if (!p) return;
      const request = body();
      const question = (request.status === "actual" ? T.confirm_real : T.confirm_drill)
        .replace("{n}", p.households.toLocaleString("en-US"));
      if (!window.confirm(question)) return;
      const send = $("#send"), status = $("#send-status");
      send.disabled = true;
      status.textContent = T.loading;
      const result = await api("POST", "/api/v1/alerts", request, { "Idempotency-Key": key });
      if (result.ok) {
        status.textContent = result.data.state === "pending_approval" ? T.pending_approval : T.sent;
        window.location.href = "/console/alerts/" + result.data.id + "?sent=1";
        return;
      }
      send.disabled = false;
      status.textContent = "";
      if (result.status === 409 && result.data && result.data.alert_id) {
        status.innerHTML = "";
        status.append(T.conflict + " ");
        const link = document.createElement("a");
        link.href = "/console/alerts/" + result.data.alert_id;
        link.textContent = "#" + result.data.alert_id;
        status.append(link);
        return;
      }
      showError(problem(result));
    });

    syncChannels();
    applyTemplate(false);
    lengths();
  }

  // sections loaded when first opened (they cost a query the page itself does not need)
  $$("details[data-lazy]").forEach((details) => {
    details.addEventListener("toggle", async () => {
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "1";
      const response = await fetch(details.dataset.lazy, { credentials: "same-origin" });
      if (response.ok) $(".lazy-body", details).innerHTML = await response.text();
    });
  });

  // ---- an alert's changes (update, evacuation order, all-clear, cancel): preview, then apply
  function changePanel() {
    const form = $("form[data-change]");
    if (!form) return;
    const L = JSON.parse(form.dataset.labels);
    const box = $(".change-preview", form);
    const apply = $("[data-change-apply]", form);
    const kind = () => $("input[name=kind]:checked", form).value;
    const closing = () => ["all-clear", "cancel"].includes(kind());

    function sync() {
      $(".for-update", form).hidden = closing();
      $(".for-close", form).hidden = !closing();
      apply.disabled = true;
      box.replaceChildren();
    }
    function request() {
      const base = form.dataset.change;
      if (closing()) {
        const note = form.elements.note.value.trim();
        return { url: base + "/" + kind(), body: note ? { note: note } : {} };
      }
      const zones = form.elements.zones.value.split(/[,，、\s]+/).filter((z) => z);
      const body = {
        level: form.elements.level.value,
        headline: form.elements.headline.value.trim(),
        body: form.elements.body.value.trim(),
        instruction: form.elements.instruction.value.trim(),
        zones: zones
      };
      if (kind() === "evacuate") body.evacuate = true;
      return { url: base + "/update", body: body };
    }
    function line(text) {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }
    function show(out) {
      const list = document.createElement("ul");
      for (const key of ["asked", "notified", "added", "released", "withdrawn", "tasks"]) {
        const n = { asked: out.households_asked, notified: out.households_notified,
          added: out.households_added, released: out.households_released,
          withdrawn: out.withdrawn, tasks: out.tasks_closed }[key];
        if (n) list.append(line(n + " " + L[key]));
      }
      list.append(line(L.targeted + " " + out.households_targeted));
      const sent = Object.entries(out.deliveries || {});
      if (!sent.length) list.append(line(L.nothing));
      for (const [channel, n] of sent) {
        list.append(line((L.channels[channel] || channel) + " · " + n + " " + L.deliveries));
      }
      box.replaceChildren(list);
      for (const [channel, text] of Object.entries(out.texts || {})) {
        const title = document.createElement("h3");
        title.textContent = L.channels[channel] || channel;
        const body = document.createElement("pre");
        body.textContent = text;
        box.append(title, body);
      }
      for (const t of out.templates || []) {  // what template-only providers send, exactly
        const title = document.createElement("h3");
        title.textContent = (L.channels[t.medium] || t.medium) + " · " + t.provider +
          (t.refused ? "" : " · " + t.code + " · " + t.length + " " + T.chars + " · " +
            t.segments + " " + T.segments);
        const body = document.createElement(t.refused ? "p" : "pre");
        if (t.refused) body.className = "error";
        body.textContent = t.refused || t.text;
        box.append(title, body);
      }
    }

    $$("input[name=kind]", form).forEach((radio) => radio.addEventListener("change", sync));
    form.addEventListener("input", () => { apply.disabled = true; });
    $("[data-change-preview]", form).addEventListener("click", async () => {
      const asked = request();
      box.textContent = T.loading;
      const result = await api("POST", asked.url + "/preview", asked.body);
      if (!result.ok) { box.textContent = problem(result); return; }
      show(result.data);
      apply.disabled = false;
    });
    apply.addEventListener("click", async () => {
      if (!window.confirm(L.confirm)) return;
      const asked = request();
      apply.disabled = true;
      const result = await api("POST", asked.url, asked.body);
      if (!result.ok) { window.alert(problem(result)); apply.disabled = false; return; }
      box.textContent = L.done;
      location.reload();
    });
    sync();
  }

  window.Console = { api: api, problem: problem, refresh: refresh, text: T, $: $, $$: $$ };
  live();
  compose();
  changePanel();
})();
