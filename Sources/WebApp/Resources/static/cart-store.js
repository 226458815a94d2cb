// The cart, kept in this browser (localStorage) until checkout: lines of { productId, optionId, quantity }.
// Stock is not taken until the fan pays; the checkout answers what has gone.
(function () {
  "use strict";
  var key = "boxoffice-cart";
  function read() {
    try {
      var lines = JSON.parse(window.localStorage.getItem(key) || "[]");
      return Array.isArray(lines) ? lines.filter(function (line) { return line && line.optionId && line.quantity > 0; }) : [];
    } catch (ignored) { return []; }
  }
  function write(lines) { window.localStorage.setItem(key, JSON.stringify(lines)); }
  window.BoxofficeCart = {
    lines: read,
    add: function (productId, optionId, quantity) {
      var lines = read();
      var line = lines.find(function (candidate) { return candidate.optionId === optionId; });
      if (line) line.quantity += quantity; else lines.push({ productId: productId, optionId: optionId, quantity: quantity });
      write(lines);
    },
    set: function (optionId, quantity) {
      write(read().map(function (line) { return line.optionId === optionId ? Object.assign(line, { quantity: quantity }) : line; })
        .filter(function (line) { return line.quantity > 0; }));
    },
    clear: function () { write([]); }
  };

  // Coupons in the fan's words, and what one takes off: the server's rule (10% of the goods it
  // covers, rounded down; an amount, at most their total), for showing before paying. The
  // checkout's answer is what counts.
  function money(amount) {
    var digits = Math.abs(amount || 0).toLocaleString("en-US");
    return (document.documentElement.lang === "ko" ? digits + "원" : "₩" + digits);
  }
  var words = {};
  try { words = JSON.parse((document.getElementById("page-text") || {}).textContent || "{}"); } catch (ignored) { words = {}; }
  function t(key) { return words[key] || key; }
  window.BoxofficeCoupons = {
    // `showLeft`: how many are still to be had (when claiming, not once held).
    describe: function (coupon, showLeft) {
      var off = coupon.discount.percent ? t("couponPercent").replace("%d", String(coupon.discount.percent))
        : t("couponOff").replace("%s", money(coupon.discount.amount));
      var parts = [off];
      if (coupon.minimumOrder && coupon.minimumOrder.amount > 0) parts.push(t("minimumNote").replace("%s", money(coupon.minimumOrder.amount)));
      if (showLeft && coupon.totalIssuable - coupon.issued > 0) parts.push(t("couponLeft").replace("%d", String(coupon.totalIssuable - coupon.issued)));
      return parts.join(" · ");
    },
    // lines: [{ productId, eventId, total }]
    discount: function (coupon, lines) {
      var covered = lines.filter(function (line) {
        if (coupon.productIds && coupon.productIds.length) return coupon.productIds.indexOf(line.productId) >= 0;
        return !coupon.eventId || coupon.eventId === line.eventId;
      });
      var subtotal = covered.reduce(function (sum, line) { return sum + line.total; }, 0);
      if (!subtotal) return { off: 0, reason: "couponNotApplicable" };
      if (subtotal < ((coupon.minimumOrder || {}).amount || 0)) return { off: 0, reason: "couponMinimum" };
      return { off: coupon.discount.percent ? Math.floor(subtotal * coupon.discount.percent / 100) : Math.min(coupon.discount.amount, subtotal) };
    }
  };
})();
