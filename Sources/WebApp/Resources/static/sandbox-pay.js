// The sandbox gateway's pay page: shows what is being paid, pays (or declines, to try the
// failure path), then goes back to where the fan came from, which waits for the confirmation.
(function () {
  "use strict";
  var root = document.getElementById("sandbox-pay");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t;
  var payment = root.getAttribute("data-payment"), back = root.getAttribute("data-return");
  var pay = document.getElementById("pay-now"), decline = document.getElementById("pay-decline");
  var banner = document.getElementById("pay-error");
  var path = "/v1/sandbox/payments/" + encodeURIComponent(payment);
  function problem(text) { banner.textContent = text; banner.hidden = false; }
  async function settle(outcome) {
    pay.disabled = decline.disabled = true;
    try {
      await D.api("POST", path + "/pay", { outcome: outcome });
      window.location.assign(back);
    } catch (failure) {
      problem(failure.status === 409 ? t("paymentDone") : [t("error"), failure.title, failure.detail].filter(Boolean).join(" "));
    }
  }
  pay.addEventListener("click", function () { settle("paid"); });
  decline.addEventListener("click", function () { settle("failed"); });
  D.api("GET", path).then(function (details) {
    document.getElementById("pay-for").textContent = details.orderName;
    document.getElementById("pay-amount").textContent = D.money(details.amount);
    pay.textContent = t("payNow").replace("%s", D.money(details.amount));
    if (details.status !== "READY") { problem(t("paymentDone")); return; }
    pay.disabled = decline.disabled = false;
    pay.focus();
  }).catch(function (failure) { problem(failure.status === 404 ? t("noPayment") : t("error")); });
})();
