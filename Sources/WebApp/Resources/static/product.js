// One product: pick an option (what is left of each is shown), a number, and put it in the cart.
(function () {
  "use strict";
  var root = document.getElementById("product");
  if (!root || !window.BoxofficePage || !window.BoxofficeCart) return;
  var D = window.BoxofficePage, t = D.t, el = D.element;
  var form = document.getElementById("product-form"), status = document.getElementById("product-status");
  var options = document.getElementById("product-options"), quantity = document.getElementById("quantity");
  var limitNote = document.getElementById("product-limit"), added = document.getElementById("added");
  var product = null;

  function chosen() {
    var box = options.querySelector("input[name=option]:checked");
    return box && product.options.find(function (option) { return option.id === box.value; });
  }
  // The most one may put in: what is left of the option, and the product's per-fan limit.
  function most() {
    var option = chosen();
    var left = option ? option.stock : 0;
    return product.maxPerFan ? Math.min(left, product.maxPerFan) : left;
  }
  function keepQuantityInRange() {
    var top = Math.max(most(), 1);
    quantity.max = String(top);
    var value = parseInt(quantity.value, 10) || 1;
    quantity.value = String(Math.min(Math.max(value, 1), top));
    document.getElementById("add-to-cart").disabled = most() < 1;
  }

  function render() {
    document.getElementById("product-name").textContent = product.name;
    document.title = product.name + " · Boxoffice";
    var description = document.getElementById("product-description");
    description.textContent = product.description;
    description.hidden = !product.description;
    var first = null;
    product.options.forEach(function (option) {
      var label = el("label", { "class": "ga-tier" + (option.stock > 0 ? "" : " taken") });
      var box = el("input", { type: "radio", name: "option", value: option.id });
      if (option.stock < 1) box.disabled = true; else if (!first) first = box;
      label.appendChild(box);
      label.appendChild(el("span", { "class": "ga-name" }, option.name));
      label.appendChild(el("span", { "class": "num" }, D.money(option.price)));
      label.appendChild(el("span", { "class": "meta ga-left" }, option.stock > 0 ? t("left").replace("%d", String(option.stock)) : t("soldOut")));
      box.addEventListener("change", keepQuantityInRange);
      options.appendChild(label);
    });
    if (first) first.checked = true;
    if (product.maxPerFan) { limitNote.textContent = t("perFan").replace("%d", String(product.maxPerFan)); limitNote.hidden = false; }
    status.hidden = true;
    form.hidden = false;
    keepQuantityInRange();
  }

  form.querySelectorAll("[data-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      quantity.value = String((parseInt(quantity.value, 10) || 1) + Number(button.getAttribute("data-step")));
      keepQuantityInRange();
    });
  });
  quantity.addEventListener("change", keepQuantityInRange);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var option = chosen();
    if (!option || most() < 1) return;
    window.BoxofficeCart.add(product.id, option.id, parseInt(quantity.value, 10) || 1);
    added.hidden = false;
    added.focus();
  });

  // The coupons that cover this product: claimed here, used in the cart.
  async function showCoupons() {
    var box = document.getElementById("product-coupons"), list = box.querySelector(".coupon-list");
    var found;
    try { found = await D.api("GET", "/v1/products/" + encodeURIComponent(product.id) + "/coupons"); } catch (ignored) { return; }
    found.items.forEach(function (coupon) {
      var item = el("li");
      var words = window.BoxofficeCoupons.describe(coupon, true);
      item.appendChild(el("span", {}, coupon.name + " · " + words));
      var button = el("button", { type: "button", "class": "secondary" }, t("getCoupon"));
      var note = el("span", { "class": "meta", role: "status" });
      button.addEventListener("click", async function () {
        button.disabled = true;
        try {
          await D.api("POST", "/v1/coupons/" + encodeURIComponent(coupon.id) + "/claim");
          note.textContent = t("gotCoupon");
          button.hidden = true;
        } catch (problem) {
          if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
          var slug = String(problem.type || "").replace("/problems/", "");
          note.textContent = slug === "coupon-already-claimed" ? t("alreadyHave") : slug === "coupons-gone" ? t("couponsGone")
            : [problem.title, problem.detail].filter(Boolean).join(" ");
          button.disabled = slug !== "coupon-already-claimed" && slug !== "coupons-gone" ? false : true;
        }
      });
      item.appendChild(button);
      item.appendChild(note);
      list.appendChild(item);
    });
    box.hidden = !found.items.length;
  }

  (async function () {
    try {
      product = await D.api("GET", "/v1/products/" + encodeURIComponent(root.getAttribute("data-product")));
      if (product.status !== "active") { status.textContent = t("notOnSaleNow"); return; }
      render();
      showCoupons();
    } catch (problem) {
      status.textContent = problem.status === 404 ? t("noSuchProduct") : [problem.title, problem.detail].filter(Boolean).join(" ");
    }
  })();
})();
