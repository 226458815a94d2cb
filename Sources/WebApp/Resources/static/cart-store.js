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
})();
