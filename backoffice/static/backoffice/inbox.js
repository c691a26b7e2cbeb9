// The live inbox: a client of the dashboard API (/api/v1/) and the events websocket (/ws/events/).
// Replies go through the API (conversation_reply: queued, bot paused); every change arrives as an event.
// Templates (approved ones, variables filled, previewed by the API's renderer) go through the same messages
// endpoint: allowed outside the 24-hour window, where free text is refused.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("inbox-config").textContent);
  const rid = cfg.restaurant_id;
  const base = `${cfg.api}restaurants/${rid}/`;
  let access = cfg.access;
  let refresh = cfg.refresh;
  let filter = "all";
  let current = cfg.conversation_id || null;
  let conversation = null;
  const orders = new Map(); // id -> order, for the open conversation
  const $ = (id) => document.getElementById(id);

  const FILTERS = {
    all: "",
    unread: "unread=true",
    mine: "assignee=me",
    waiting: "bot_paused=true&status=open",
    resolved: "status=resolved",
  };
  const STATUS_WORDS = {
    DRAFT: "Cart", CONFIRMED: "Confirmed", PREPARING: "Preparing", OUT_FOR_DELIVERY: "Out for delivery",
    DELIVERED: "Delivered", RATED: "Rated", CANCELLED: "Cancelled",
  };

  async function refreshToken() {
    const response = await fetch(`${cfg.api}auth/token/refresh/`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh }),
    });
    if (!response.ok) { location.reload(); return; } // the session page issues a fresh pair
    const body = await response.json();
    access = body.access;
    refresh = body.refresh || refresh;
  }

  async function api(path, options = {}, retried = false) {
    const headers = Object.assign({ Authorization: `Bearer ${access}` }, options.headers || {});
    if (typeof options.body === "string") headers["Content-Type"] = "application/json"; // FormData sets its own
    const response = await fetch(path.startsWith("/") ? path : base + path, Object.assign({}, options, { headers }));
    if (response.status === 401 && !retried) { await refreshToken(); return api(path, options, true); }
    const body = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = new Error((body && body.error && body.error.message) || response.statusText);
      error.body = body;
      throw error;
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function when(iso) {
    // The restaurant's clock, whatever the browser's timezone.
    return iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short", timeZone: cfg.timezone }) : "";
  }

  // --- the list --------------------------------------------------------------------------------------
  async function loadList() {
    const page = await api(`conversations/?${FILTERS[filter]}`);
    const list = $("inbox-list");
    list.replaceChildren(...page.results.map((c) => {
      const li = el("li", { "data-id": c.id, class: c.id === current ? "active" : "" },
        c.unread_count ? el("span", { class: "badge", title: "unread" }, String(c.unread_count)) : null,
        el("div", { class: "name", dir: "auto" }, c.customer_name || c.customer_phone),
        el("div", { class: "preview", dir: "auto" }, c.last_message ? c.last_message.preview : ""),
        el("div", { class: "quiet" }, `${c.bot_paused ? "with staff" : "bot"} · ${c.status} · ${when(c.last_activity_at)}`));
      li.addEventListener("click", () => open(c.id));
      return li;
    }));
    if (!page.results.length) list.append(el("li", { class: "quiet" }, "No conversations here."));
  }

  // --- one conversation -----------------------------------------------------------------------------
  function renderHead() {
    const c = conversation;
    $("thread-name").textContent = c.customer_name || c.customer_phone;
    $("thread-phone").textContent = c.customer_phone;
    $("thread-state").textContent = [
      c.status === "resolved" ? "resolved" : "open",
      c.bot_paused ? "bot paused" : "bot answering",
      c.assignee ? `assigned to ${c.assignee.name}` : "unassigned",
    ].join(" · ");
    $("btn-resume").disabled = !c.bot_paused;
    $("btn-assign").disabled = !!(c.assignee && c.assignee.id === cfg.user_id);
    $("btn-resolve").hidden = c.status === "resolved";
    $("btn-reopen").hidden = c.status !== "resolved";
    // Outside the window only a template reaches the customer: say so, and open the template box.
    const closed = !c.service_window_open;
    $("template-window").textContent = closed
      ? "· the 24-hour window is closed: only an approved template can be sent"
      : c.service_window_closes_at ? `· free text allowed until ${when(c.service_window_closes_at)}` : "";
    $("reply-body").placeholder = closed
      ? "The customer last wrote over 24 hours ago: send a template below."
      : "Write a reply… (the bot pauses for this customer)";
    if (closed) $("template-box").open = true;
  }

  function messageItem(m) {
    const staff = m.sent_by || (m.sent_by_id ? { name: "staff" } : null);
    const li = el("li", { class: `${m.direction}${staff ? " staff" : ""}`, "data-id": m.id, dir: "auto" }, m.body || `[${m.kind}]`);
    const content = m.content || {};
    const options = (content.buttons || []).map((b) => b.title)
      .concat(...(content.sections || []).map((s) => (s.rows || []).map((r) => r.title)));
    if (options.length) {
      li.append(el("div", { class: "sufrah-buttons" }, ...options.map((title) => el("span", { class: "sufrah-chip", dir: "auto" }, title))));
    }
    for (const file of m.files || []) li.append(fileItem(file));
    const who = m.direction === "in" ? "customer" : staff ? staff.name : "bot";
    li.append(el("span", { class: "meta" }, `${who} · ${when(m.created_at)}${m.direction === "out" ? ` · ${m.status}` : ""}`));
    return li;
  }

  // Files are served to staff with the same token as the API: fetched as blobs, never from a public URL.
  const blobs = new Map();
  async function fileBlob(url, retried = false) {
    if (blobs.has(url)) return blobs.get(url);
    const response = await fetch(url, { headers: { Authorization: `Bearer ${access}` } });
    if (response.status === 401 && !retried) { await refreshToken(); return fileBlob(url, true); }
    if (!response.ok) throw new Error(response.statusText);
    const blobUrl = URL.createObjectURL(await response.blob());
    blobs.set(url, blobUrl);
    return blobUrl;
  }

  function fileItem(file) {
    const box = el("div", { class: "inbox-file", "data-file": file.id });
    if (file.status !== "stored") {
      box.append(`${file.kind}: ${file.status === "pending" ? "fetching…" : `not available (${file.error_code || "failed"})`}`);
      return box;
    }
    if (file.kind === "image" || file.kind === "sticker") {
      const img = el("img", { alt: file.filename || file.kind });
      fileBlob(file.download_url).then((src) => { img.src = src; }).catch(() => img.replaceWith(`${file.kind}: not loaded`));
      box.append(img);
    } else {
      const link = el("a", { role: "button", download: file.filename || "file" }, `📎 ${file.filename || file.kind} (${Math.ceil((file.size || 0) / 1024)} KB)`);
      link.addEventListener("click", async (event) => {
        if (link.href) return;
        event.preventDefault();
        link.href = await fileBlob(file.download_url);
        link.click();
      });
      box.append(link);
    }
    return box;
  }

  async function loadMessages() {
    const page = await api(`conversations/${current}/messages/`);
    const box = $("thread-messages");
    box.replaceChildren(...page.results.slice().reverse().map(messageItem)); // oldest at the top, like a chat
    box.scrollTop = box.scrollHeight;
  }

  function renderOrders() {
    const mine = [...orders.values()].filter((o) => o.conversation_id === current).sort((a, b) => b.id - a.id).slice(0, 4);
    $("thread-orders").replaceChildren(...mine.map((o) =>
      el("a", { class: "order", href: `/admin/orders/order/${o.id}/change/`, "data-order": o.id, target: "_blank" },
        `#${o.number} · `, el("b", { class: "order-status" }, STATUS_WORDS[o.status] || o.status), ` · ${o.total} ${o.currency}`)));
  }

  async function loadOrders() {
    const page = await api("orders/");
    orders.clear();
    for (const o of page.results) orders.set(o.id, o);
    renderOrders();
  }

  async function open(id) {
    current = id;
    history.replaceState(null, "", `?restaurant=${rid}&conversation=${id}`);
    $("inbox-thread").hidden = false;
    $("inbox-empty").hidden = true;
    conversation = await api(`conversations/${id}/`);
    renderHead();
    await Promise.all([loadMessages(), loadOrders()]);
    if (conversation.unread_count) conversation = await api(`conversations/${id}/`, { method: "PATCH", body: JSON.stringify({ mark_read: true }) });
    loadList();
  }

  async function update(fields) {
    conversation = await api(`conversations/${current}/`, { method: "PATCH", body: JSON.stringify(fields) });
    renderHead();
    loadList();
  }

  $("btn-assign").addEventListener("click", () => update({ assignee: cfg.user_id }));
  $("btn-resume").addEventListener("click", () => update({ bot_paused: false }));
  $("btn-resolve").addEventListener("click", () => update({ status: "resolved" }));
  $("btn-reopen").addEventListener("click", () => update({ status: "open" }));
  for (const button of document.querySelectorAll(".inbox-tabs button")) {
    button.addEventListener("click", () => {
      filter = button.dataset.filter;
      document.querySelectorAll(".inbox-tabs button").forEach((b) => b.classList.toggle("active", b === button));
      loadList();
    });
  }

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = $("reply-body").value.trim();
    const file = $("reply-file").files[0];
    const url = $("reply-url").value.trim();
    if ((!body && !file && !url) || !current) return;
    $("reply-send").disabled = true;
    $("reply-error").hidden = true;
    try {
      // One key per typed reply: a double click or a retried request sends it once.
      const key = $("reply-form").dataset.key || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      $("reply-form").dataset.key = key;
      let payload;
      if (file) {
        payload = new FormData(); // an image or document, with the text as its caption
        payload.append("file", file);
        if (body) payload.append("body", body);
      } else {
        payload = JSON.stringify(url ? Object.assign({ media_url: url }, body ? { body } : {}) : { body });
      }
      await api(`conversations/${current}/messages/`, { method: "POST", headers: { "Idempotency-Key": key }, body: payload });
      $("reply-body").value = "";
      $("reply-file").value = "";
      $("reply-url").value = "";
      delete $("reply-form").dataset.key;
      await Promise.all([loadMessages(), api(`conversations/${current}/`).then((c) => { conversation = c; renderHead(); })]);
    } catch (error) {
      $("reply-error").textContent = `Not sent: ${error.message}`;
      $("reply-error").hidden = false;
    } finally {
      $("reply-send").disabled = false;
    }
  });

  // --- templates ------------------------------------------------------------------------------------
  let templates = [];
  let previewTimer = null;

  function chosenTemplate() {
    return templates.find((t) => String(t.id) === $("template-pick").value) || null;
  }

  function templateValues() {
    const values = {};
    for (const input of $("template-vars").querySelectorAll("input")) values[input.dataset.name] = input.value;
    return values;
  }

  function templateError(error) {
    const details = (error && error.body && error.body.error && error.body.error.details) || {};
    const lines = Object.entries(details).map(([field, problems]) => `${field}: ${[].concat(problems).join(" ")}`);
    $("template-error").textContent = `${error.message}${lines.length ? ` — ${lines.join("; ")}` : ""}`;
    $("template-error").hidden = false;
  }

  async function loadTemplates() {
    const page = await api("templates/?status=approved&page_size=100");
    templates = page.results;
    $("template-pick").replaceChildren(
      el("option", { value: "" }, templates.length ? "Pick an approved template…" : "No approved templates yet"),
      ...templates.map((t) => el("option", { value: t.id }, `${t.name} (${t.language})`)));
    renderTemplateVars();
  }

  function renderTemplateVars() {
    const t = chosenTemplate();
    $("template-vars").replaceChildren(...(t ? t.variables : []).map((name) => {
      const input = el("input", { type: "text", "data-name": name, dir: "auto", maxlength: "1024",
        placeholder: (t.examples || {})[name] || "" });
      input.addEventListener("input", () => { clearTimeout(previewTimer); previewTimer = setTimeout(previewTemplate, 250); });
      return el("label", {}, name, input);
    }));
    previewTemplate();
  }

  async function previewTemplate() {
    const t = chosenTemplate();
    $("template-error").hidden = true;
    $("template-preview").textContent = "";
    const values = templateValues();
    const missing = t ? t.variables.filter((name) => !values[name].trim()) : [];
    $("template-send").disabled = !t || missing.length > 0;
    if (!t) return;
    if (missing.length) { $("template-preview").textContent = `Fill in: ${missing.join(", ")}`; return; }
    try {
      // The API's renderer: the text exactly as the customer will read it.
      const rendered = await api("templates/preview/", { method: "POST", body: JSON.stringify({ template: t.id, variables: values }) });
      if (chosenTemplate() === t) $("template-preview").textContent = [rendered.header, rendered.text, rendered.footer].filter(Boolean).join("\n\n");
    } catch (error) {
      $("template-send").disabled = true;
      templateError(error);
    }
  }

  $("template-pick").addEventListener("change", renderTemplateVars);
  $("template-send").addEventListener("click", async () => {
    const t = chosenTemplate();
    if (!t || !current) return;
    $("template-send").disabled = true;
    $("template-error").hidden = true;
    const box = $("template-box");
    try {
      const key = box.dataset.key || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      box.dataset.key = key;
      await api(`conversations/${current}/messages/`, {
        method: "POST", headers: { "Idempotency-Key": key }, body: JSON.stringify({ template: t.id, variables: templateValues() }),
      });
      delete box.dataset.key;
      $("template-pick").value = "";
      renderTemplateVars();
      await Promise.all([loadMessages(), api(`conversations/${current}/`).then((c) => { conversation = c; renderHead(); })]);
    } catch (error) {
      templateError(error);
      $("template-send").disabled = false;
    }
  });

  // --- live events ----------------------------------------------------------------------------------
  let backoff = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${cfg.ws}?restaurant=${rid}`, ["sufrah.jwt", access]);
    const live = $("inbox-live");
    socket.addEventListener("message", (frame) => {
      const event = JSON.parse(frame.data);
      if (event.type === "subscribed") { live.dataset.state = "live"; live.textContent = "live"; backoff = 1000; return; }
      if (event.type && event.type.startsWith("message.")) {
        if (current && event.message.conversation_id === current) {
          loadMessages();
          // Staff are looking at it: a message arriving in the open thread is read.
          if (event.type === "message.received") api(`conversations/${current}/`, { method: "PATCH", body: JSON.stringify({ mark_read: true }) });
        }
        loadList();
      } else if (event.type === "conversation.updated") {
        if (current && event.conversation.id === current) api(`conversations/${current}/`).then((c) => { conversation = c; renderHead(); });
        loadList();
      } else if (event.type === "template.updated") {
        loadTemplates(); // approved (or paused) at the provider: the pick list follows
      } else if (event.type === "order.created" || event.type === "order.updated") {
        orders.set(event.order.id, event.order);
        renderOrders();
      }
    });
    socket.addEventListener("close", async (event) => {
      live.dataset.state = "offline";
      live.textContent = "reconnecting…";
      if (event.code === 4403) { live.textContent = "not allowed"; return; }
      if (event.code === 4401) await refreshToken();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  loadList();
  loadTemplates();
  if (current) open(current);
  connect();
})();
