// The seat map page over the JSON API: draws the map from availability as SVG, keeps it live
// (polled every two seconds), lets the fan pick up to the per-order limit by pointer or
// keyboard, holds the seats, counts the hold down, releases it or pays from the wallet.
// A standing (general-admission) performance has no map: the fan picks a tier and how many,
// with what is left kept live the same way.
(function () {
  "use strict";
  var root = document.getElementById("buy");
  if (!root) return;
  var performance = root.getAttribute("data-performance"), max = parseInt(root.getAttribute("data-max"), 10) || 4;
  var language = root.getAttribute("data-language"), standing = root.getAttribute("data-ga") === "true";
  function t(name) { return root.getAttribute("data-t-" + name) || ""; }
  var tiers = {};
  root.querySelectorAll(".legend li[data-tier], .ga-tier[data-tier]").forEach(function (item) {
    tiers[item.getAttribute("data-tier")] = { index: item.getAttribute("data-index"), price: item.getAttribute("data-price"),
      amount: parseInt(item.getAttribute("data-amount"), 10), node: item, left: null };
  });
  var quantityBox = document.getElementById("quantity");
  var mapBox = document.getElementById("seatmap"), selection = document.getElementById("selection");
  var holdButton = document.getElementById("hold"), banner = root.querySelector(".selection .form-error");
  var seats = {}, order = [], selected = [], svg = null, view = null, full = null, hold = null, timer = null;
  var SVG = "http://www.w3.org/2000/svg";

  function csrf() { return decodeURIComponent((document.cookie.match(/(?:^|; )bo_csrf=([^;]*)/) || [])[1] || ""); }
  async function call(method, path, body, extra) {
    var headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf() }, extra || {});
    // The waiting room's admission, when this performance sells through one (queue.js keeps it).
    try {
      var admission = JSON.parse(localStorage.getItem("boxoffice.queue." + performance) || "{}").accessToken;
      if (admission) headers["Queue-Access"] = admission;
    } catch (ignored) {}
    if (body) headers["Content-Type"] = "application/json";
    var response = await fetch(path, { method: method, credentials: "same-origin", headers: headers, body: body ? JSON.stringify(body) : undefined });
    var data = {};
    try { data = await response.json(); } catch (ignored) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }
  function say(message) { banner.textContent = message; banner.hidden = !message; }
  function problemText(answer) {
    if (answer.status === 401) return t("signin");
    if (answer.data && answer.data.type && /queue-access/.test(answer.data.type)) return t("queue");
    return [answer.data.title, answer.data.detail].filter(Boolean).join(" ") || t("error");
  }
  function describe(seat) {
    var tier = tiers[seat.tier] || {};
    return [t("section") + " " + seat.section, t("row") + " " + seat.row, t("seat") + " " + seat.label.split("-").pop(), seat.tier, tier.price,
      seat.state === "available" ? t("available") : t("unavailable")].join(", ");
  }
  function paint(seat) {
    var node = seat.node, circle = node.firstChild;
    var free = seat.state === "available" || selected.indexOf(seat.id) >= 0 || (hold && hold.seats.indexOf(seat.id) >= 0);
    circle.setAttribute("class", free ? "tier-" + ((tiers[seat.tier] || {}).index || 0) : "taken");
    node.classList.toggle("taken", !free);
    node.classList.toggle("selected", selected.indexOf(seat.id) >= 0);
    node.setAttribute("aria-pressed", selected.indexOf(seat.id) >= 0 ? "true" : "false");
    node.setAttribute("aria-label", describe(seat));
  }
  function draw(list) {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    list.forEach(function (s) { minX = Math.min(minX, s.x); minY = Math.min(minY, s.y); maxX = Math.max(maxX, s.x); maxY = Math.max(maxY, s.y); });
    full = { x: minX - 1, y: minY - 1, w: maxX - minX + 2, h: maxY - minY + 2 };
    view = Object.assign({}, full);
    svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", [full.x, full.y, full.w, full.h].join(" "));
    svg.setAttribute("role", "group");
    list.forEach(function (s) {
      var node = document.createElementNS(SVG, "g"), circle = document.createElementNS(SVG, "circle");
      node.setAttribute("class", "seat");
      node.setAttribute("role", "button");
      node.setAttribute("tabindex", "-1");
      node.setAttribute("data-seat", s.id);
      circle.setAttribute("cx", s.x); circle.setAttribute("cy", s.y); circle.setAttribute("r", "0.42");
      node.appendChild(circle);
      svg.appendChild(node);
      seats[s.id] = Object.assign({ node: node }, s);
    });
    order = list.slice().sort(function (a, b) { return a.y - b.y || a.x - b.x; }).map(function (s) { return s.id; });
    if (order.length) seats[order[0]].node.setAttribute("tabindex", "0");
    mapBox.textContent = "";
    mapBox.appendChild(svg);
    Object.keys(seats).forEach(function (id) { paint(seats[id]); });
  }
  function update(list) {
    list.forEach(function (s) { var seat = seats[s.id]; if (seat && seat.state !== s.state) { seat.state = s.state; paint(seat); } });
    // A seat someone else took a moment ago leaves the selection, and the fan is told.
    var lost = selected.filter(function (id) { return seats[id].state !== "available"; });
    if (lost.length) {
      selected = selected.filter(function (id) { return lost.indexOf(id) < 0; });
      lost.forEach(function (id) { paint(seats[id]); });
      say(t("taken"));
      summarize();
    }
  }
  async function load() {
    var response = await fetch("/v1/performances/" + encodeURIComponent(performance) + "/availability", { headers: { "Accept": "application/json" } });
    if (!response.ok) return;
    var data = await response.json();
    if (standing) { updateStanding(data.tiers || []); return; }
    if (!svg) draw(data.seats); else update(data.seats);
  }

  // Standing tiers: what is left, live; a tier with none left cannot be chosen.
  function chosenTier() {
    var checked = root.querySelector(".ga-tier input:checked");
    return checked ? checked.value : null;
  }
  function quantity() { return Math.max(1, Math.min(max, parseInt(quantityBox.value, 10) || 1)); }
  function updateStanding(list) {
    list.forEach(function (entry) {
      var tier = tiers[entry.tier];
      if (!tier) return;
      tier.left = entry.available;
      var leftNode = tier.node.querySelector(".ga-left"), input = tier.node.querySelector("input");
      leftNode.textContent = entry.available + " " + leftNode.getAttribute("data-left-label");
      input.disabled = entry.available === 0 && !input.checked;
      tier.node.classList.toggle("taken", entry.available === 0);
    });
    summarize();
  }
  function summarizeStanding() {
    var tier = chosenTier();
    if (!tier) { selection.textContent = t("none"); holdButton.disabled = true; return; }
    var count = quantity(), left = tiers[tier].left;
    selection.textContent = t("selected") + " " + tier + " × " + count + " · " + money(tiers[tier].amount * count);
    var tooMany = left !== null && count > left;
    if (tooMany) say(t("few")); else if (banner.textContent === t("few")) say("");
    holdButton.disabled = !!hold || tooMany;
  }
  if (standing) {
    root.querySelectorAll(".ga-tier input").forEach(function (input) { input.addEventListener("change", function () { say(""); summarize(); }); });
    quantityBox.addEventListener("input", summarize);
    quantityBox.addEventListener("change", function () { quantityBox.value = quantity(); summarize(); });
    root.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        quantityBox.value = Math.max(1, Math.min(max, quantity() + parseInt(button.getAttribute("data-step"), 10)));
        summarize();
      });
    });
  }

  function summarize() {
    if (standing) { summarizeStanding(); return; }
    if (!selected.length) { selection.textContent = t("none"); holdButton.disabled = true; return; }
    var total = selected.reduce(function (sum, id) { return sum + ((tiers[seats[id].tier] || {}).amount || 0); }, 0);
    selection.textContent = t("selected") + " " + selected.map(function (id) { return seats[id].label; }).join(", ") + " · " + money(total);
    holdButton.disabled = !!hold;
  }
  function money(amount) {
    var digits = amount.toLocaleString("en-US");
    return language === "ko" ? digits + "원" : "₩" + digits;
  }
  function toggle(id) {
    var seat = seats[id];
    if (!seat || hold) return;
    var at = selected.indexOf(id);
    if (at >= 0) selected.splice(at, 1);
    else if (seat.state !== "available") { say(t("taken")); return; }
    else if (selected.length >= max) { say(t("max").replace("{max}", max)); return; }
    else selected.push(id);
    say("");
    paint(seat);
    summarize();
  }
  if (mapBox) mapBox.addEventListener("click", function (event) {
    var node = event.target.closest && event.target.closest("[data-seat]");
    if (node) toggle(node.getAttribute("data-seat"));
  });
  // Keyboard: arrows move between seats (left/right along the row, up/down to the nearest seat
  // of the next row), Enter or Space picks.
  if (mapBox) mapBox.addEventListener("keydown", function (event) {
    var node = event.target.closest && event.target.closest("[data-seat]");
    if (!node) return;
    var current = seats[node.getAttribute("data-seat")], next = null;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(current.id); return; }
    var index = order.indexOf(current.id);
    if (event.key === "ArrowRight") next = order[index + 1];
    else if (event.key === "ArrowLeft") next = order[index - 1];
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var down = event.key === "ArrowDown", best = null;
      order.forEach(function (id) {
        var s = seats[id];
        if (down ? s.y <= current.y : s.y >= current.y) return;
        var score = Math.abs(s.y - current.y) * 1000 + Math.abs(s.x - current.x);
        if (!best || score < best.score) best = { id: id, score: score };
      });
      next = best && best.id;
    } else return;
    event.preventDefault();
    if (!next) return;
    node.setAttribute("tabindex", "-1");
    seats[next].node.setAttribute("tabindex", "0");
    seats[next].node.focus();
  });
  // Zoom with the buttons, pan by dragging (touch or mouse).
  function setView() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  root.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!svg) return;
      var factor = button.getAttribute("data-zoom") === "in" ? 0.7 : 1 / 0.7;
      var w = Math.min(full.w, Math.max(full.w / 8, view.w * factor)), h = w * full.h / full.w;
      view = { x: view.x + (view.w - w) / 2, y: view.y + (view.h - h) / 2, w: w, h: h };
      setView();
    });
  });
  var drag = null;
  if (mapBox) mapBox.addEventListener("pointerdown", function (event) { if (svg && view.w < full.w) drag = { x: event.clientX, y: event.clientY, view: Object.assign({}, view) }; });
  window.addEventListener("pointerup", function () { drag = null; });
  if (mapBox) mapBox.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var scale = view.w / mapBox.clientWidth;
    view.x = drag.view.x - (event.clientX - drag.x) * scale;
    view.y = drag.view.y - (event.clientY - drag.y) * scale;
    setView();
  });

  // Holding, the countdown, releasing, paying.
  var holdPanel = document.getElementById("holdpanel"), countdown = document.getElementById("countdown");
  function showHold() {
    holdPanel.hidden = !hold;
    if (!hold) { clearInterval(timer); return; }
    document.getElementById("heldseats").textContent = t("held") + " " + hold.labels.join(", ");
    document.getElementById("total").textContent = money(hold.total);
    offerCart();
    clearInterval(timer);
    function tick() {
      var left = Math.max(0, Math.round((hold.expiresAt - Date.now()) / 1000));
      countdown.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left === 0) { clearInterval(timer); hold = null; selected = []; showHold(); summarize(); say(t("expired")); load(); }
    }
    tick();
    timer = setInterval(tick, 1000);
  }
  // Goods in the cart can be paid for in the same order as the seats: one order, one payment.
  var withCart = document.getElementById("withcart"), withCartBox = document.getElementById("withcart-box");
  var cartLines = [];
  async function offerCart() {
    cartLines = window.BoxofficeCart ? window.BoxofficeCart.lines() : [];
    if (!withCart || !cartLines.length) { if (withCart) withCart.hidden = true; cartLines = []; return; }
    var ids = Array.from(new Set(cartLines.map(function (line) { return line.productId; })));
    var products = {};
    await Promise.all(ids.map(async function (id) {
      var response = await fetch("/v1/products/" + encodeURIComponent(id), { credentials: "omit", headers: { "Accept": "application/json" } });
      if (response.ok) products[id] = await response.json();
    }));
    var total = 0, names = [];
    cartLines = cartLines.filter(function (line) {
      var option = products[line.productId] && products[line.productId].options.find(function (o) { return o.id === line.optionId; });
      if (!option) return false;
      total += option.price.amount * line.quantity;
      names.push(products[line.productId].name + " (" + option.name + ") × " + line.quantity);
      return true;
    });
    if (!cartLines.length) { withCart.hidden = true; return; }
    document.getElementById("withcart-text").textContent = t("withcart").replace("%s", names.join(", ") + " · " + money(total));
    withCart.hidden = false;
  }
  // What a checkout of the hold sends: the hold, and the cart's goods when the fan keeps them in.
  function checkoutBody(method) {
    var body = { holdId: hold.id, method: method };
    var key = hold.key + (method === "gateway" ? ":card" : "");
    if (cartLines.length && withCartBox && withCartBox.checked) {
      body.items = cartLines.map(function (line) { return { optionId: line.optionId, quantity: line.quantity }; });
      key += ":with-cart";
    }
    return { body: body, key: key };
  }
  function cartPaidFor(request) {
    if (request.body.items && window.BoxofficeCart) { window.BoxofficeCart.clear(); cartLines = []; if (withCart) withCart.hidden = true; }
  }

  holdButton.addEventListener("click", async function () {
    holdButton.disabled = true;
    var wanted = standing ? { tier: chosenTier(), quantity: quantity() } : { seatIds: selected.slice() };
    var answer = await call("POST", "/v1/performances/" + encodeURIComponent(performance) + "/holds", wanted);
    if (!answer.ok) {
      if (answer.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
      if (answer.status === 403 && /queue-access/.test(answer.data.type || "")) {
        window.location.assign("/performances/" + encodeURIComponent(performance) + "/queue");
        return;
      }
      if (answer.data.takenSeatIds) {
        answer.data.takenSeatIds.forEach(function (id) { if (seats[id]) { seats[id].state = "held"; } });
        selected = selected.filter(function (id) { return answer.data.takenSeatIds.indexOf(id) < 0; });
        Object.keys(seats).forEach(function (id) { paint(seats[id]); });
        say(t("taken"));
      } else say(problemText(answer));
      summarize();
      return;
    }
    var held = answer.data;
    hold = { id: held.id, seats: (held.seats || []).map(function (s) { return s.id; }),
      labels: standing ? [wanted.tier + " × " + wanted.quantity] : (held.seats || []).map(function (s) { return s.label; }),
      expiresAt: Date.parse(held.expiresAt),
      total: standing ? tiers[wanted.tier].amount * wanted.quantity
        : selected.reduce(function (sum, id) { return sum + ((tiers[seats[id].tier] || {}).amount || 0); }, 0),
      key: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()) };
    // The seats are the hold's now: the selection is empty, so the map's next refresh, which
    // sees them held, does not report them as taken by someone else.
    selected = [];
    say("");
    showHold();
    summarize();
  });
  document.getElementById("release").addEventListener("click", async function () {
    if (!hold) return;
    await call("DELETE", "/v1/holds/" + encodeURIComponent(hold.id));
    hold = null; selected = [];
    showHold(); summarize(); load();
    Object.keys(seats).forEach(function (id) { paint(seats[id]); });
  });
  document.getElementById("pay").addEventListener("click", async function () {
    if (!hold) return;
    var pay = document.getElementById("pay");
    pay.disabled = true;
    // The same Idempotency-Key on every retry of this hold's payment: a retry never pays twice.
    var request = checkoutBody("wallet");
    var answer = await call("POST", "/v1/checkout", request.body, { "Idempotency-Key": request.key });
    pay.disabled = false;
    if (!answer.ok) { say(problemText(answer)); return; }
    cartPaidFor(request);
    var tickets = answer.data.tickets || [];
    clearInterval(timer);
    holdPanel.hidden = true;
    var done = document.getElementById("donepanel");
    done.hidden = false;
    document.getElementById("done").textContent = t("paid").replace("{count}", tickets.length) + " " +
      tickets.map(function (ticket) { return ticket.seat ? ticket.seat.label : ticket.tier; }).join(", ");
    done.setAttribute("data-order", answer.data.order && answer.data.order.id || "");
    hold = null; selected = [];
    summarize(); load();
  });

  // By card: the gateway's page takes the payment, and My orders waits for its confirmation.
  // The hold's own key again on a retry, so the same payment comes back rather than a second one.
  var payCard = document.getElementById("paycard");
  if (payCard) payCard.addEventListener("click", async function () {
    if (!hold) return;
    var button = document.getElementById("paycard");
    button.disabled = true;
    var request = checkoutBody("gateway");
    var answer = await call("POST", "/v1/checkout", request.body, { "Idempotency-Key": request.key });
    button.disabled = false;
    if (!answer.ok) { say(problemText(answer)); return; }
    cartPaidFor(request);
    var intent = answer.data.paymentIntent || {}, order = answer.data.order || {};
    if (intent.provider !== "sandbox") { say(t("error")); return; }
    var back = "/orders?order=" + encodeURIComponent(order.id);
    window.location.assign("/sandbox/payments/" + encodeURIComponent(intent.paymentId) + "?return=" + encodeURIComponent(back));
  });

  load();
  setInterval(load, 2000);
})();
