// The wallet: its balance and its ledger, newest first, from the JSON API; a top-up by card
// through the gateway's page, followed here until the gateway has confirmed it.
(function () {
  "use strict";
  var root = document.getElementById("wallet");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage;
  function t(name) { return root.getAttribute("data-t-" + name) || name; }
  var note = document.getElementById("topup-note");
  function signedOut(problem) { if (problem && problem.status === 401) window.location.assign(root.getAttribute("data-signin")); }

  async function show() {
    var answers = await Promise.all([D.api("GET", "/v1/wallet"), D.api("GET", "/v1/wallet/ledger?limit=50")]);
    document.getElementById("balance").textContent = D.money(answers[0].balance.amount);
    var rows = document.getElementById("ledger"), entries = answers[1].items || [];
    rows.textContent = "";
    entries.forEach(function (entry) {
      var row = document.createElement("tr");
      var when = D.element("td", { "class": "when" }, D.when(entry.createdAt, true));
      var what = D.element("th", { scope: "row" }, t(entry.reason));
      var amount = D.element("td", { "class": "num" + (entry.amount.amount > 0 ? " plus" : "") }, D.money(entry.amount.amount));
      var after = D.element("td", { "class": "num meta" }, D.money(entry.balanceAfter.amount));
      [when, what, amount, after].forEach(function (cell) { row.appendChild(cell); });
      rows.appendChild(row);
    });
    var status = document.getElementById("ledgerstatus");
    status.textContent = entries.length ? "" : t("none");
    status.hidden = !status.textContent;
  }
  function say(text) { note.textContent = text; note.hidden = !text; if (text) note.focus(); }

  // No form where the pages cannot take a card payment (see WebApp.cardPayments).
  var form = document.getElementById("topup");
  if (form) form.addEventListener("submit", async function (event) {
    event.preventDefault();
    D.clearProblem(form);
    var amount = parseInt(form.amount.value, 10);
    var button = form.querySelector("button");
    button.disabled = true;
    try {
      // One key per attempt, kept in the form: pressing again after an error repeats the same top-up.
      form.dataset.key = form.dataset.key || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      var started = await D.api("POST", "/v1/wallet/topups", { amount: amount }, undefined, { "Idempotency-Key": form.dataset.key + ":" + amount });
      var intent = started.paymentIntent;
      if (!intent) { delete form.dataset.key; await show(); say(D.t("toppedUp").replace("%s", D.money(amount))); return; }
      if (intent.provider !== "sandbox") throw { title: D.t("error") };
      var back = "/wallet?topup=" + encodeURIComponent(started.payment.id);
      window.location.assign("/sandbox/payments/" + encodeURIComponent(intent.paymentId) + "?return=" + encodeURIComponent(back));
    } catch (problem) {
      signedOut(problem);
      D.showProblem(form, problem);
    } finally { button.disabled = false; }
  });

  // Back from the gateway: the points arrive once its confirmation has.
  async function follow(paymentID) {
    say(D.t("topUpWaiting"));
    for (var attempt = 0; attempt < 60; attempt++) {
      var payment = await D.api("GET", "/v1/payments/" + encodeURIComponent(paymentID));
      if (payment.status === "paid") { await show(); say(D.t("toppedUp").replace("%s", D.money(payment.amount))); return; }
      if (payment.status === "failed") { say(D.t("topUpFailed")); return; }
      await new Promise(function (resolve) { setTimeout(resolve, 1000); });
    }
    say(D.t("stillWaiting"));
  }

  var awaited = new URLSearchParams(window.location.search).get("topup");
  show().then(function () { if (awaited) return follow(awaited); }).catch(signedOut);
})();
