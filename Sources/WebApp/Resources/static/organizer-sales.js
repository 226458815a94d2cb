// A performance's sales for its organizer: seats per tier and money (refreshed every few
// seconds), the live seat map, changing the performance itself, the waiting room's console
// (settings, pause/resume/close, live figures over SSE), and the orders with search, detail
// and CSV export.
(function () {
  "use strict";
  var root = document.getElementById("sales");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t;
  var id = root.getAttribute("data-performance"), base = "/v1/performances/" + encodeURIComponent(id);

  var fail = D.pageFailure(root, document.getElementById("sales-error"));

  async function figures() {
    try {
      var answers = await Promise.all([D.api("GET", base + "/sales"), D.api("GET", base + "/availability")]);
      var sales = answers[0], availability = answers[1];
      document.getElementById("paid-orders").textContent = sales.paidOrders;
      document.getElementById("tickets-sold").textContent = sales.ticketsSold;
      document.getElementById("goods-sold").textContent = D.money(sales.goods);
      document.getElementById("net").textContent = D.money(sales.net);
      document.getElementById("gross-refunded").textContent = D.money(sales.gross) + " / " + D.money(sales.refunded);
      var revenue = {};
      sales.tiers.forEach(function (tier) { revenue[tier.tier] = tier.revenue; });
      var rows = document.getElementById("tier-rows");
      rows.textContent = "";
      (availability.tiers || []).forEach(function (tier) {
        var row = D.element("tr", { "data-tier": tier.tier });
        row.appendChild(D.element("th", { scope: "row" }, tier.tier + " · " + D.money(tier.price)));
        [tier.available, tier.held, tier.sold].forEach(function (n) { row.appendChild(D.element("td", { "class": "num" }, String(n))); });
        row.appendChild(D.element("td", { "class": "num" }, D.money(revenue[tier.tier] || 0)));
        rows.appendChild(row);
      });
      D.drawSeats(document.getElementById("live-map"), availability.seats || [], function (seat) { return seat.state; });
    } catch (problem) { fail(problem); }
  }
  figures();
  setInterval(figures, 3000);

  // Changing the performance: the form shows it as it is; once its sale has opened, prices
  // are fixed (the server says so too) and only the other fields are sent.
  var editForm = document.getElementById("performance-edit"), pricesOpen = true;
  function fillEdit(performance) {
    ["startsAt", "onSaleFrom", "onSaleUntil"].forEach(function (name) { editForm[name].value = D.koreaLocal(new Date(performance[name])); });
    ["holdMinutes", "maxSeatsPerOrder", "maxSeatsPerFan", "refundCutoffHours", "cancellationFeePercent"].forEach(function (name) {
      editForm[name].value = performance[name];
    });
    pricesOpen = new Date(performance.onSaleFrom).getTime() > Date.now();
    document.getElementById("prices-fixed").hidden = pricesOpen;
    var box = document.getElementById("edit-prices");
    while (box.children.length > 1) box.removeChild(box.lastChild);
    (performance.tiers || []).forEach(function (tier) {
      var label = D.element("label", {}, tier.tier);
      var input = D.element("input", { type: "number", min: "0", step: "1000", required: "", "data-tier": tier.tier, name: "price-" + tier.tier.replace(/[^A-Za-z0-9_]/g, "") });
      input.value = tier.price.amount;
      input.disabled = !pricesOpen;
      label.appendChild(input);
      box.appendChild(label);
    });
  }
  async function loadEdit() {
    try { fillEdit(await D.api("GET", base)); } catch (problem) { fail(problem); }
  }
  loadEdit();
  editForm.addEventListener("submit", async function (submitted) {
    submitted.preventDefault();
    D.clearProblem(editForm);
    var status = document.getElementById("edit-status");
    status.textContent = "";
    var changes = {
      startsAt: D.koreaISO(editForm.startsAt.value), onSaleFrom: D.koreaISO(editForm.onSaleFrom.value),
      onSaleUntil: D.koreaISO(editForm.onSaleUntil.value),
    };
    ["holdMinutes", "maxSeatsPerOrder", "maxSeatsPerFan", "refundCutoffHours", "cancellationFeePercent"].forEach(function (name) {
      changes[name] = Number(editForm[name].value);
    });
    if (pricesOpen) {
      changes.prices = Array.from(editForm.querySelectorAll("input[data-tier]")).map(function (input) {
        return { tier: input.getAttribute("data-tier"), price: { amount: Number(input.value || 0), currency: "KRW" } };
      });
    }
    var button = editForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      fillEdit(await D.api("PATCH", base, changes));
      status.textContent = t("savedPerformance");
      figures();
    } catch (problem) {
      if (problem.status === 401) fail(problem); else D.showProblem(editForm, problem);
    } finally { button.disabled = false; }
  });

  // The waiting room: live figures over SSE (polling if the stream cannot be opened).
  function showStats(stats) {
    document.getElementById("q-state").textContent = t("q_" + stats.state);
    document.getElementById("q-waiting").textContent = stats.waiting == null ? "–" : stats.waiting;
    document.getElementById("q-admitted").textContent = stats.admittedThrough == null ? "–" : stats.admittedThrough;
    document.getElementById("q-active").textContent = stats.active == null ? "–" : stats.active;
    document.getElementById("q-rate").textContent = stats.admittedLastMinute == null ? "–" : stats.admittedLastMinute;
    document.getElementById("q-eta").textContent = stats.etaSecondsForLast == null ? "–" : Math.ceil(stats.etaSecondsForLast / 60) + " " + t("minutes");
  }
  var stream = null, hasRoom = false;
  function watchQueue() {
    if (stream) stream.close();
    if (!hasRoom) return;
    if (window.EventSource) {
      stream = new EventSource(base + "/queue/stats", { withCredentials: true });
      stream.addEventListener("stats", function (message) { showStats(JSON.parse(message.data)); });
      stream.onerror = function () { stream.close(); stream = null; setTimeout(pollQueue, 3000); };
    } else pollQueue();
  }
  function pollQueue() { if (hasRoom) D.api("GET", base + "/queue/stats").then(showStats).catch(function () {}); }

  // The console starts from the settings in force; a performance without a room gets defaults.
  var queueForm = document.getElementById("queue-form");
  function fill(settings) {
    queueForm.enabled.checked = settings.enabled;
    queueForm.opensAt.value = D.koreaLocal(new Date(settings.opensAt));
    ["prequeueMinutes", "admitPerMinute", "maxActiveShoppers", "sessionMinutes", "keepAliveSeconds"].forEach(function (name) {
      queueForm.elements[name].value = settings[name];
    });
    queueForm.querySelector("[data-control=pause]").hidden = settings.paused || settings.closed;
    queueForm.querySelector("[data-control=resume]").hidden = !settings.paused || settings.closed;
    queueForm.querySelector("[data-control=close]").hidden = settings.closed;
  }
  D.api("GET", base + "/queue").then(function (settings) {
    hasRoom = true;
    fill(settings);
    pollQueue();
    watchQueue();
  }).catch(function (problem) {
    if (problem.status !== 404) { fail(problem); return; }
    queueForm.opensAt.value = D.koreaLocal(new Date(Date.now() + 10 * 60000));
    queueForm.querySelectorAll("[data-control]").forEach(function (button) { button.hidden = true; });
    document.getElementById("q-state").textContent = t("q_none");
    document.getElementById("queue-status").textContent = t("queueNone");
  });
  function queueSaved(settings) {
    hasRoom = true;
    fill(settings);
    document.getElementById("queue-status").textContent = t("savedQueue") + (settings.paused ? " · " + t("q_paused") : "") + (settings.closed ? " · " + t("q_closed") : "");
    pollQueue();
    watchQueue();
  }
  queueForm.addEventListener("submit", async function (submitted) {
    submitted.preventDefault();
    D.clearProblem(queueForm);
    var number = function (name) { return Number(queueForm.elements[name].value); };
    try {
      queueSaved(await D.api("PUT", base + "/queue", {
        enabled: queueForm.enabled.checked, opensAt: D.koreaISO(queueForm.opensAt.value), prequeueMinutes: number("prequeueMinutes"),
        admitPerMinute: number("admitPerMinute"), maxActiveShoppers: number("maxActiveShoppers"),
        sessionMinutes: number("sessionMinutes"), keepAliveSeconds: number("keepAliveSeconds"),
      }));
    } catch (problem) { if (problem.status === 401) fail(problem); else D.showProblem(queueForm, problem); }
  });
  queueForm.querySelectorAll("[data-control]").forEach(function (button) {
    button.addEventListener("click", async function () {
      D.clearProblem(queueForm);
      try { queueSaved(await D.api("POST", base + "/queue/" + button.getAttribute("data-control"))); }
      catch (problem) { D.showProblem(queueForm, problem); }
    });
  });

  // Orders: newest first, searched by order ID, seat or email; a row opens its detail.
  var cursor = null, query = "";
  async function orders(more) {
    try {
      var page = await D.api("GET", base + "/orders?limit=20" + query + (more && cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      var rows = document.getElementById("order-rows");
      if (!more) rows.textContent = "";
      page.items.forEach(function (order) {
        var row = D.element("tr", { "data-order": order.id, tabindex: "0" });
        row.appendChild(D.element("td", { "data-label": t("when") }, D.when(order.createdAt)));
        row.appendChild(D.element("td", { "data-label": t("fan") }, order.fan ? order.fan.name + " <" + order.fan.email + ">" : "–"));
        row.appendChild(D.element("td", { "data-label": t("seatsColumn") }, order.seats.join(", ")));
        row.appendChild(D.element("td", { "data-label": t("status") }, t(order.status)));
        row.appendChild(D.element("td", { "class": "num", "data-label": t("total") }, D.money(order.total)));
        row.addEventListener("click", function () { detail(order.id); });
        row.addEventListener("keydown", function (key) { if (key.key === "Enter") detail(order.id); });
        rows.appendChild(row);
      });
      cursor = page.nextCursor;
      document.getElementById("orders-more").hidden = !cursor;
      document.getElementById("orders-empty").hidden = rows.children.length > 0;
    } catch (problem) { fail(problem); }
  }
  async function detail(orderID) {
    var box = document.getElementById("order-detail");
    try {
      var order = await D.api("GET", "/v1/orders/" + encodeURIComponent(orderID));
      box.textContent = "";
      box.appendChild(D.element("h3", {}, t("order") + " " + order.id + " · " + t(order.status)));
      box.appendChild(D.element("p", {}, order.items.map(function (item) { return (item.label || item.tier) + " " + D.money(item.price) + (item.status === "cancelled" ? " (" + t("cancelled") + ")" : ""); }).join(", ")));
      box.appendChild(D.element("p", { "class": "meta" }, t("total") + " " + D.money(order.total) + " · " + t("refunded") + " " + D.money(order.refunded)));
      box.appendChild(D.element("h4", {}, t("history")));
      var list = D.element("ol");
      order.history.forEach(function (entry) { list.appendChild(D.element("li", {}, D.when(entry.at) + " · " + t(entry.status) + (entry.note ? " · " + entry.note : ""))); });
      box.appendChild(list);
      box.hidden = false;
      box.focus();
    } catch (problem) { fail(problem); }
  }
  document.getElementById("order-search").addEventListener("submit", function (submitted) {
    submitted.preventDefault();
    var form = submitted.target;
    document.getElementById("order-detail").hidden = true;
    query = (form.q.value.trim() ? "&q=" + encodeURIComponent(form.q.value.trim()) : "") + (form.status.value ? "&status=" + form.status.value : "");
    cursor = null;
    orders(false);
  });
  document.getElementById("orders-more").addEventListener("click", function () { orders(true); });
  orders(false);
  // New orders show up without a reload while nobody is paging or searching.
  setInterval(function () { if (!cursor && !query) orders(false); }, 5000);
})();
