// My orders: each with its tickets, money and history; tickets cancelled within the refund
// policy, after the page has shown what comes back (the API's dryRun quote) and the fan agreed.
(function () {
  "use strict";
  var root = document.getElementById("orders");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t, el = D.element;
  var list = root.querySelector(".orderlist"), status = document.getElementById("orders-status");
  var more = document.getElementById("orders-more"), banner = document.getElementById("orders-error");
  var fail = D.pageFailure(root, banner);
  var cursor = null;
  var cancellable = { paid: true, partially_cancelled: true, preparing: true };

  // A problem of one order's cancellation, in the fan's words where we know it.
  function cancelProblem(problem) {
    if (problem.text) return problem.text;
    var slug = String(problem.type || "").replace("/problems/", "");
    if (slug === "refund-window-closed") return t("windowClosed").replace("%s", problem.deadline ? D.when(problem.deadline) : "");
    if (slug === "ticket-transferred") return t("ticketTransferred");
    if (slug === "ticket-used") return t("ticketUsed");
    if (slug === "order-cancelled") return t("nothingLeft");
    if (problem.status === 0) return t("offline");
    return [problem.title, problem.detail].filter(Boolean).join(" ") || t("error");
  }

  // What a cancellation names: only the lists that have something (an empty list is refused).
  function chosenBody(ticketIds, goodsIds) {
    var body = {};
    if (ticketIds && ticketIds.length) body.ticketIds = ticketIds;
    if (goodsIds && goodsIds.length) body.goodsIds = goodsIds;
    return body;
  }

  function goodsLabel(line) { return line.name + " (" + line.optionName + ") × " + line.quantity; }

  function row(label, value, strong) {
    var line = el("div");
    line.appendChild(el("dt", {}, label));
    line.appendChild(el("dd", strong ? { "class": "strong" } : {}, value));
    return line;
  }

  // The quote, with the choice to go on or keep the tickets.
  function showQuote(card, order, quote) {
    var box = card.querySelector(".quote");
    box.textContent = "";
    box.hidden = false;
    box.appendChild(el("h3", {}, t("quoteTitle")));
    var figures = el("dl", { "class": "quote-lines" });
    var labels = quote.ticketIds.map(function (id) {
      var item = order.items.find(function (candidate) { return candidate.ticketId === id; });
      return item ? (item.label || item.tier) : id;
    });
    (quote.goodsIds || []).forEach(function (id) {
      var line = (order.goods || []).find(function (candidate) { return candidate.id === id; });
      labels.push(line ? goodsLabel(line) : id);
    });
    figures.appendChild(row(t("quoteTickets"), labels.join(", ")));
    figures.appendChild(row(t("quoteGross"), D.money(quote.gross)));
    var ticketsToo = quote.ticketIds.length > 0;
    if (ticketsToo) figures.appendChild(row(t("quoteFee").replace("%d", String(quote.feePercent)), "−" + D.money(quote.fee)));
    figures.appendChild(row(t("quoteRefund"), D.money(quote.refund), true));
    box.appendChild(figures);
    box.appendChild(el("p", { "class": "meta" }, quote.method === "gateway" ? t("quoteGateway") : t("quoteWallet")));
    if (ticketsToo) box.appendChild(el("p", { "class": "meta" }, quote.deadline ? t("quoteDeadline").replace("%s", D.when(quote.deadline)) : t("quoteFull")));
    if ((quote.goodsIds || []).length) box.appendChild(el("p", { "class": "meta" }, t("goodsFull")));
    var actions = el("div", { "class": "actions" });
    var confirm = el("button", { type: "button", "class": "danger" }, t("confirmCancel"));
    var keep = el("button", { type: "button", "class": "secondary" }, t("keep"));
    actions.appendChild(confirm);
    actions.appendChild(keep);
    box.appendChild(actions);
    confirm.focus();
    keep.addEventListener("click", function () { box.hidden = true; card.querySelector(".cancel-start").focus(); });
    confirm.addEventListener("click", async function () {
      confirm.disabled = keep.disabled = true;
      try {
        var updated = await D.api("POST", "/v1/orders/" + encodeURIComponent(order.id) + "/cancel", chosenBody(quote.ticketIds, quote.goodsIds));
        var fresh = await render(updated);
        card.replaceWith(fresh);
        var done = fresh.querySelector(".order-note");
        done.textContent = t("cancelledNow").replace("%s", D.money(quote.refund));
        done.hidden = false;
        done.focus();
      } catch (problem) {
        if (problem.status === 401) { fail(problem); return; }
        confirm.disabled = keep.disabled = false;
        showCardProblem(card, problem);
      }
    });
  }

  function showCardProblem(card, problem) {
    var note = card.querySelector(".card-error");
    note.textContent = cancelProblem(problem);
    note.hidden = false;
  }

  async function render(order) {
    var show = order.performanceId ? await D.showOf(order.performanceId) : { title: t("goodsOrder") };
    var card = el("li", { "class": "order-card", "data-order": order.id });
    var head = el("div", { "class": "order-head" });
    var title = el("h2", {}, show.title || t("order"));
    head.appendChild(title);
    head.appendChild(el("span", { "class": "badge " + (cancellable[order.status] ? "on" : "out") }, t(order.status)));
    card.appendChild(head);
    card.appendChild(el("p", { "class": "meta" }, (show.startsAt ? D.when(show.startsAt) + " · " : "") + t("order") + " " + order.id));
    var money = el("p", {}, t("total") + " " + D.money(order.total) + " · " + t(order.method));
    if (order.refunded && order.refunded.amount > 0) money.appendChild(el("span", { "class": "meta" }, " · " + t("refunded") + " " + D.money(order.refunded)));
    card.appendChild(money);
    var note = el("p", { "class": "order-note", tabindex: "-1", role: "status" });
    note.hidden = true;
    card.appendChild(note);

    // Tickets: the ones still valid can be chosen for cancellation.
    var canCancel = !!cancellable[order.status];
    var items = el("fieldset", { "class": "order-items" });
    items.appendChild(el("legend", {}, t("tickets")));
    if (!order.items.length) items.hidden = true;
    order.items.forEach(function (item) {
      var line = el("label", { "class": "check" });
      var box = el("input", { type: "checkbox", name: "ticket", value: item.ticketId });
      // A ticket given to someone else is theirs to cancel, not the buyer's.
      var givenAway = item.status === "active" && held !== null && !held.has(item.ticketId);
      if (!canCancel || item.status !== "active" || givenAway) box.disabled = true;
      line.appendChild(box);
      line.appendChild(el("span", {}, (item.label || item.tier) + " · " + item.tier + " · " + D.money(item.price)));
      line.appendChild(el("span", { "class": "badge " + (item.status === "active" && !givenAway ? "on" : "out") },
        givenAway ? t("givenAway") : t(item.status)));
      items.appendChild(line);
    });
    card.appendChild(items);
    // Goods: each line can be cancelled in full until it ships.
    var goods = el("fieldset", { "class": "order-items" });
    goods.appendChild(el("legend", {}, t("goods")));
    (order.goods || []).forEach(function (line) {
      var label = el("label", { "class": "check" });
      var box = el("input", { type: "checkbox", name: "goods", value: line.id });
      if (!canCancel || line.status !== "active") box.disabled = true;
      label.appendChild(box);
      label.appendChild(el("span", {}, goodsLabel(line) + " · " + D.money(line.total)));
      label.appendChild(el("span", { "class": "badge " + (line.status === "active" ? "on" : "out") }, t(line.status === "active" ? "bought" : line.status)));
      goods.appendChild(label);
    });
    if ((order.goods || []).length) {
      card.appendChild(goods);
      // Where the goods are: their shipment (perhaps with the fan's other orders), or the venue.
      var where = el("p", { "class": "meta shipment-line" });
      if (order.shipment) {
        var parts = [t("shipment") + ": " + t(order.shipment.status)];
        if (order.shipment.trackingNumber) parts.push(t("tracking").replace("%s", order.shipment.carrier || "").replace("%s", order.shipment.trackingNumber));
        parts.push(order.shipment.postcode + " " + order.shipment.address);
        if (order.shipment.orderIds.length > 1) parts.push(t("shipsWith").replace("%d", String(order.shipment.orderIds.length - 1)));
        where.textContent = parts.join(" · ");
      } else {
        where.textContent = order.addressId ? t("shipment") + ": " + t("preparing") : t("pickupAtVenue");
      }
      card.appendChild(where);
    }
    var error = el("p", { "class": "card-error", role: "alert" });
    error.hidden = true;
    card.appendChild(error);
    if (canCancel) {
      // Named after what the order holds: a goods-only order has no tickets to cancel.
      var hasTickets = (order.items || []).length > 0, hasGoods = (order.goods || []).length > 0;
      var start = el("button", { type: "button", "class": "secondary cancel-start" },
        t(hasTickets && hasGoods ? "cancelSelectedItems" : hasGoods ? "cancelSelectedGoods" : "cancelSelected"));
      card.appendChild(start);
      var quoteBox = el("section", { "class": "quote", "aria-live": "polite" });
      quoteBox.hidden = true;
      card.appendChild(quoteBox);
      start.addEventListener("click", async function () {
        error.hidden = true;
        var chosen = Array.from(items.querySelectorAll("input[name=ticket]:checked")).map(function (box) { return box.value; });
        var chosenGoods = Array.from(goods.querySelectorAll("input[name=goods]:checked")).map(function (box) { return box.value; });
        if (!chosen.length && !chosenGoods.length) { error.textContent = t("chooseTickets"); error.hidden = false; return; }
        start.disabled = true;
        try {
          var quote = await D.api("POST", "/v1/orders/" + encodeURIComponent(order.id) + "/cancel?dryRun=true", chosenBody(chosen, chosenGoods));
          showQuote(card, order, quote);
        } catch (problem) {
          if (problem.status === 401) { fail(problem); return; }
          showCardProblem(card, problem);
        } finally { start.disabled = false; }
      });
    }

    var history = el("details", { "class": "history" });
    history.appendChild(el("summary", {}, t("history")));
    var entries = el("ol");
    order.history.forEach(function (entry) {
      // The notes are the server's, in English: shown on the English page only.
      var text = D.when(entry.at) + " · " + t(entry.status) + (D.language === "en" && entry.note ? " · " + entry.note : "");
      entries.appendChild(el("li", {}, text));
    });
    history.appendChild(entries);
    card.appendChild(history);
    if (order.status === "payment_failed" && order.method === "gateway") offerRetry(card, order);
    return card;
  }

  // The tickets the fan holds now (null when there are too many to say).
  var held = null;
  async function loadHeld() {
    try {
      var page = await D.api("GET", "/v1/tickets?limit=100");
      held = page.nextCursor ? null : new Set(page.items.map(function (ticket) { return ticket.id; }));
    } catch (ignored) { held = null; }
  }

  async function load() {
    more.hidden = true;
    try {
      if (!cursor) await loadHeld();
      var page = await D.api("GET", "/v1/orders?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      for (var index = 0; index < page.items.length; index++) list.appendChild(await render(page.items[index]));
      cursor = page.nextCursor || null;
      more.hidden = !cursor;
      status.textContent = list.children.length ? "" : t("noOrders");
      status.hidden = !status.textContent;
    } catch (problem) {
      status.hidden = true;
      fail(problem);
    }
  }
  // A card payment, started from the seat map or again from here: the gateway's page takes it
  // and sends the fan back to this page, which follows the order.
  // Paying needs the waiting room's admission too, when the performance has one (queue.js keeps it).
  function checkoutHeaders(order, key) {
    var headers = { "Idempotency-Key": key };
    try {
      var admission = JSON.parse(localStorage.getItem("boxoffice.queue." + order.performanceId) || "{}").accessToken;
      if (admission) headers["Queue-Access"] = admission;
    } catch (ignored) { /* no admission kept */ }
    return headers;
  }
  async function payByCard(order, key) {
    var started = await D.api("POST", "/v1/checkout", { holdId: order.holdId, method: "gateway" }, undefined, checkoutHeaders(order, key));
    var intent = started.paymentIntent || {};
    if (intent.provider !== "sandbox") throw { status: 501, title: t("error") };
    var back = "/orders?order=" + encodeURIComponent(started.order.id);
    window.location.assign("/sandbox/payments/" + encodeURIComponent(intent.paymentId) + "?return=" + encodeURIComponent(back));
  }

  // A failed card payment whose hold still runs can be paid again, by card or with points.
  async function offerRetry(card, order) {
    var hold;
    try { hold = await D.api("GET", "/v1/holds/" + encodeURIComponent(order.holdId)); } catch (ignored) { return; }
    if (hold.status !== "active" || hold.remainingSeconds <= 0) return;
    var actions = el("div", { "class": "actions" });
    var key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    var byCard = el("button", { type: "button" }, t("payAgainCard"));
    var byPoints = el("button", { type: "button", "class": "secondary" }, t("payAgainPoints"));
    // Card payment in the page needs the sandbox gateway's page (see WebApp.cardPayments).
    if (root.getAttribute("data-card-payments") !== "false") actions.appendChild(byCard);
    actions.appendChild(byPoints);
    card.querySelector(".card-error").insertAdjacentElement("afterend", actions);
    byCard.addEventListener("click", function () {
      byCard.disabled = byPoints.disabled = true;
      payByCard(order, key + ":card").catch(function (problem) { byCard.disabled = byPoints.disabled = false; showCardProblem(card, problem); });
    });
    byPoints.addEventListener("click", async function () {
      byCard.disabled = byPoints.disabled = true;
      try {
        var paid = await D.api("POST", "/v1/checkout", { holdId: order.holdId, method: "wallet" }, undefined, checkoutHeaders(order, key + ":wallet"));
        var fresh = await render(paid.order);
        list.insertBefore(fresh, list.firstChild);
        announce(fresh, t("paidNow"), true);
        card.remove();
      } catch (problem) {
        byCard.disabled = byPoints.disabled = false;
        showCardProblem(card, problem);
      }
    });
  }

  function announce(card, text, ticketsLink) {
    var note = card.querySelector(".order-note");
    note.textContent = text;
    if (ticketsLink) { note.appendChild(document.createTextNode(" ")); note.appendChild(el("a", { href: "/tickets" }, t("seeTickets"))); }
    note.hidden = false;
    note.focus();
  }

  // Back from the gateway: the order is paid once the gateway's confirmation has arrived.
  async function follow(orderID) {
    var order;
    for (var attempt = 0; attempt < 60; attempt++) {
      order = await D.api("GET", "/v1/orders/" + encodeURIComponent(orderID));
      var waiting = list.querySelector(".order-card[data-order='" + CSS.escape(orderID) + "']");
      if (order.status !== "pending_payment" || attempt === 0) {
        var fresh = await render(order);
        if (waiting) waiting.replaceWith(fresh); else list.insertBefore(fresh, list.firstChild);
        waiting = fresh;
      }
      if (order.status === "pending_payment") {
        if (attempt === 0) announce(waiting, t("awaitingGateway"), false);
        await new Promise(function (resolve) { setTimeout(resolve, 1000); });
        continue;
      }
      if (order.status === "paid") {
        var withTickets = (order.items || []).length > 0;
        announce(waiting, t(withTickets ? "paidNow" : "paidGoodsNow"), withTickets);
      }
      else if (order.status === "payment_failed") showCardProblem(waiting, { text: t("failedNow") });
      return;
    }
    announce(list.querySelector(".order-card[data-order='" + CSS.escape(orderID) + "']"), t("stillWaiting"), false);
  }

  more.addEventListener("click", load);
  var awaited = new URLSearchParams(window.location.search).get("order");
  load().then(function () { if (awaited) return follow(awaited); }).catch(fail);
})();
