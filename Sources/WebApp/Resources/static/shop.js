// The shop: goods on sale (newest first, searchable), each with its lowest price and whether any is left.
(function () {
  "use strict";
  var root = document.getElementById("shop");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t, el = D.element;
  var list = document.getElementById("products"), status = document.getElementById("shop-status");
  var more = document.getElementById("shop-more"), banner = document.getElementById("shop-error");
  var query = new URLSearchParams(window.location.search);
  var cursor = null;

  function card(product) {
    var item = el("li", { "class": "card" });
    item.appendChild(el("a", { "class": "title", href: "/products/" + encodeURIComponent(product.id) }, product.name));
    var prices = product.options.map(function (option) { return option.price.amount; });
    var left = product.options.reduce(function (sum, option) { return sum + option.stock; }, 0);
    item.appendChild(el("p", { "class": "price" }, t("fromPrice").replace("%s", D.money(Math.min.apply(null, prices)))));
    item.appendChild(el("p", { "class": "meta" }, product.options.map(function (option) { return option.name; }).join(" · ")));
    item.appendChild(el("span", { "class": "badge " + (left > 0 ? "on" : "out") }, left > 0 ? t("left").replace("%d", String(left)) : t("soldOut")));
    return item;
  }

  async function load() {
    var path = "/v1/products?limit=24";
    if (query.get("q")) path += "&q=" + encodeURIComponent(query.get("q"));
    if (root.getAttribute("data-event")) path += "&eventId=" + encodeURIComponent(root.getAttribute("data-event"));
    if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
    try {
      var page = await D.api("GET", path);
      page.items.forEach(function (product) { list.appendChild(card(product)); });
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.textContent = list.children.length ? "" : t("noProducts");
      status.hidden = list.children.length > 0;
    } catch (problem) {
      status.hidden = true;
      banner.textContent = [problem.title, problem.detail].filter(Boolean).join(" ");
      banner.hidden = false;
    }
  }
  // What sold most over the last three days (the server works it out every ten minutes).
  async function loadPopular() {
    try {
      var popular = await D.api("GET", "/v1/products/popular");
      var box = document.getElementById("popular"), ranked = box.querySelector(".popular-list");
      popular.items.forEach(function (entry) {
        var item = el("li");
        item.appendChild(el("a", { href: "/products/" + encodeURIComponent(entry.product.id) }, entry.product.name));
        item.appendChild(el("span", { "class": "meta" }, " · " + t("soldRecently").replace("%d", String(entry.unitsSold))));
        ranked.appendChild(item);
      });
      box.hidden = !popular.items.length || !!query.get("q");
    } catch (ignored) { /* the list below is what matters */ }
  }
  more.addEventListener("click", load);
  load();
  loadPopular();
})();
