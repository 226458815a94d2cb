// The cart: its lines at today's prices and stock, changed or removed in place, and paid for in
// one checkout (one order), with points or by card on the gateway's page. Goods that have gone
// are marked where they are.
(function () {
  "use strict";
  var root = document.getElementById("cart");
  if (!root || !window.BoxofficePage || !window.BoxofficeCart) return;
  var D = window.BoxofficePage, t = D.t, el = D.element, Cart = window.BoxofficeCart;
  var form = document.getElementById("cart-form"), status = document.getElementById("cart-status");
  var body = document.getElementById("cart-lines"), totalNode = document.getElementById("cart-total");
  var pay = document.getElementById("cart-pay"), done = document.getElementById("cart-done");
  var payCard = document.getElementById("cart-paycard");
  var products = {};
  var couponSelect = document.getElementById("coupon"), couponChoice = document.getElementById("coupon-choice");
  var heldCoupons = {};
  var addressSelect = document.getElementById("address"), shipTo = document.getElementById("ship-to");
  var FEE = 3000;
  function delivering() { var box = form.querySelector("input[name=delivery]:checked"); return box && box.value === "ship"; }
  // One key per attempt: a retried click after a lost answer is the same payment, not a second one.
  var attemptKey = null;

  function option(line) {
    var product = products[line.productId];
    return product && product.options.find(function (candidate) { return candidate.id === line.optionId; });
  }

  function render(shortIds) {
    var lines = Cart.lines().filter(function (line) { return option(line); });
    body.textContent = "";
    if (!lines.length) { form.hidden = true; status.textContent = t("cartEmpty"); status.hidden = false; return; }
    var total = 0;
    lines.forEach(function (line) {
      var product = products[line.productId], choice = option(line);
      var short = (shortIds || []).indexOf(line.optionId) >= 0 || choice.stock < line.quantity;
      var row = el("li", { "class": "cart-line" + (short ? " short" : "") });
      var name = el("div");
      name.appendChild(el("a", { href: "/products/" + encodeURIComponent(product.id) }, product.name));
      name.appendChild(el("div", { "class": "meta" }, choice.name + " · " + D.money(choice.price)));
      if (short) name.appendChild(el("div", { "class": "field-error" }, t("goneNow")));
      row.appendChild(name);
      var controls = el("div", { "class": "qty" });
      var input = el("input", { type: "number", min: "0", inputmode: "numeric", value: String(line.quantity), "aria-label": t("quantity") + " · " + product.name + " " + choice.name });
      input.addEventListener("change", function () { Cart.set(line.optionId, Math.max(parseInt(input.value, 10) || 0, 0)); attemptKey = null; render(); });
      controls.appendChild(input);
      var remove = el("button", { type: "button", "class": "secondary", "aria-label": t("remove") + " · " + product.name + " " + choice.name }, t("remove"));
      remove.addEventListener("click", function () { Cart.set(line.optionId, 0); attemptKey = null; render(); });
      controls.appendChild(remove);
      controls.appendChild(el("span", { "class": "num" }, D.money(choice.price.amount * line.quantity)));
      row.appendChild(controls);
      body.appendChild(row);
      total += choice.price.amount * line.quantity;
    });
    // The chosen coupon's discount, as the server will work it out.
    var coupon = heldCoupons[couponSelect.value], off = 0, discountLine = document.getElementById("discount-line");
    if (coupon) {
      var estimate = window.BoxofficeCoupons.discount(coupon, lines.map(function (line) {
        var product = products[line.productId];
        return { productId: product.id, eventId: product.eventId, total: option(line).price.amount * line.quantity };
      }));
      off = estimate.off;
      document.getElementById("cart-discount").textContent = off ? "−" + D.money(off) : t(estimate.reason);
    }
    discountLine.hidden = !coupon;
    var fee = delivering() ? FEE : 0;
    document.getElementById("fee-line").hidden = !fee;
    document.getElementById("cart-fee").textContent = D.money(fee);
    shipTo.hidden = !delivering();
    totalNode.textContent = D.money(total - off + fee);
    pay.textContent = t("payGoodsPoints").replace("%s", D.money(total - off + fee));
    if (payCard) payCard.textContent = t("payGoodsCard").replace("%s", D.money(total - off + fee));
    status.hidden = true;
    form.hidden = false;
  }

  // One checkout of the cart: with points the order is paid at once; by card the gateway's page
  // takes the payment and My orders follows the order until the gateway confirms it.
  async function checkout(method) {
    D.clearProblem(form);
    var items = Cart.lines().map(function (line) { return { optionId: line.optionId, quantity: line.quantity }; });
    if (!items.length) return;
    attemptKey = attemptKey || (window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now()) + Math.random());
    var body = { items: items, method: method };
    if (couponSelect.value) body.couponId = couponSelect.value;
    if (delivering()) {
      if (!addressSelect.value) { D.showProblem(form, { title: t("chooseAddress") }); return; }
      body.addressId = addressSelect.value;
    }
    pay.disabled = true;
    if (payCard) payCard.disabled = true;
    try {
      var answer = await D.api("POST", "/v1/checkout", body, undefined, { "Idempotency-Key": attemptKey + (method === "gateway" ? ":card" : "") });
      Cart.clear();
      attemptKey = null;
      if (method === "gateway") {
        var intent = answer.paymentIntent || {}, order = answer.order || {};
        if (intent.provider !== "sandbox") { D.showProblem(form, { title: t("error") }); return; }
        var back = "/orders?order=" + encodeURIComponent(order.id);
        window.location.assign("/sandbox/payments/" + encodeURIComponent(intent.paymentId) + "?return=" + encodeURIComponent(back));
        return;
      }
      form.hidden = true;
      done.hidden = false;
      done.focus();
    } catch (problem) {
      if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
      attemptKey = null;
      var slug = String(problem.type || "").replace("/problems/", "");
      if (slug === "sold-out") { await refresh(); render(problem.soldOutOptionIds || []); }
      var words = { "sold-out": "goneNow", "not-on-sale": "notOnSaleNow", "limit-reached": "limitReached", "insufficient-funds": "notEnoughPoints",
        "coupon-not-applicable": "couponNotApplicable", "coupon-minimum-not-met": "couponMinimum", "coupon-not-held": "couponUsed" };
      D.showProblem(form, words[slug] ? { title: t(words[slug]) } : problem);
    } finally {
      pay.disabled = false;
      if (payCard) payCard.disabled = false;
    }
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); checkout("wallet"); });
  if (payCard) payCard.addEventListener("click", function () { checkout("gateway"); });

  async function refresh() {
    var ids = Array.from(new Set(Cart.lines().map(function (line) { return line.productId; })));
    await Promise.all(ids.map(async function (id) {
      try { products[id] = await D.api("GET", "/v1/products/" + encodeURIComponent(id)); } catch (ignored) { delete products[id]; }
    }));
  }

  // The fan's unused coupons (signed out: none; the checkout asks to sign in).
  async function loadCoupons() {
    try {
      var mine = await D.api("GET", "/v1/me/coupons");
      mine.items.filter(function (held) { return held.status === "issued"; }).forEach(function (held) {
        heldCoupons[held.couponId] = held.coupon;
        couponSelect.appendChild(el("option", { value: held.couponId }, held.coupon.name + " · " + window.BoxofficeCoupons.describe(held.coupon)));
      });
      couponChoice.hidden = couponSelect.options.length < 2;
    } catch (ignored) { couponChoice.hidden = true; }
  }
  couponSelect.addEventListener("change", function () { attemptKey = null; render(); });
  form.querySelectorAll("input[name=delivery]").forEach(function (box) { box.addEventListener("change", function () { attemptKey = null; render(); }); });
  addressSelect.addEventListener("change", function () { attemptKey = null; });
  document.getElementById("deliver-label").textContent = t("deliverTo").replace("%s", D.money(FEE));

  // The fan's addresses; a new one is saved here and chosen.
  function addressLabel(address) {
    return address.recipient + " · " + address.postcode + " " + address.address1 + (address.address2 ? " " + address.address2 : "");
  }
  async function loadAddresses(choose) {
    try {
      var mine = await D.api("GET", "/v1/me/addresses");
      addressSelect.textContent = "";
      mine.items.forEach(function (address) { addressSelect.appendChild(el("option", { value: address.id }, addressLabel(address))); });
      if (choose) addressSelect.value = choose;
      document.getElementById("new-address").open = !mine.items.length;
    } catch (ignored) { /* signed out: the checkout asks to sign in */ }
  }
  document.getElementById("save-address").addEventListener("click", async function () {
    D.clearProblem(form);
    var fields = {};
    ["recipient", "phone", "postcode", "address1", "address2", "note"].forEach(function (name) {
      fields[name] = form.querySelector("[name=" + name + "]").value;
    });
    try {
      var saved = await D.api("POST", "/v1/me/addresses", fields);
      await loadAddresses(saved.id);
      document.getElementById("new-address").open = false;
    } catch (problem) {
      if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
      D.showProblem(form, problem);
    }
  });

  (async function () { await Promise.all([refresh(), loadCoupons(), loadAddresses()]); render(); })();
})();
