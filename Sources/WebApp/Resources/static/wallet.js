// The wallet: its balance and its ledger, newest first, from the JSON API.
(function () {
  "use strict";
  var root = document.getElementById("wallet");
  if (!root) return;
  var language = root.getAttribute("data-language");
  function t(name) { return root.getAttribute("data-t-" + name) || name; }
  function money(amount) { var digits = Math.abs(amount).toLocaleString("en-US"); return (amount < 0 ? "−" : "") + (language === "ko" ? digits + "원" : "₩" + digits); }
  async function json(path) {
    var response = await fetch(path, { credentials: "same-origin", headers: { "Accept": "application/json" } });
    if (response.status === 401) { window.location.assign(root.getAttribute("data-signin")); throw new Error("signed out"); }
    return response.json();
  }
  Promise.all([json("/v1/wallet"), json("/v1/wallet/ledger?limit=50")]).then(function (answers) {
    document.getElementById("balance").textContent = money(answers[0].balance.amount);
    var rows = document.getElementById("ledger"), entries = answers[1].items || [];
    entries.forEach(function (entry) {
      var row = document.createElement("tr");
      var when = document.createElement("td");
      when.textContent = new Date(entry.createdAt).toLocaleString(language === "ko" ? "ko-KR" : "en-GB", { timeZone: "Asia/Seoul", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
      var what = document.createElement("th"); what.scope = "row"; what.textContent = t(entry.reason);
      var amount = document.createElement("td"); amount.className = "num" + (entry.amount.amount > 0 ? " plus" : ""); amount.textContent = money(entry.amount.amount);
      var after = document.createElement("td"); after.className = "num meta"; after.textContent = money(entry.balanceAfter.amount);
      [when, what, amount, after].forEach(function (cell) { row.appendChild(cell); });
      rows.appendChild(row);
    });
    var status = document.getElementById("ledgerstatus");
    status.textContent = entries.length ? "" : t("none");
    status.hidden = !status.textContent;
  }).catch(function () {});
})();
