// The door: a ticket's code checked against the API (POST /v1/scans), typed or read by the
// camera where the browser has BarcodeDetector; a big answer — valid, already used (when, at
// which gate) or invalid — and the gate and performance remembered on this device.
(function () {
  "use strict";
  var root = document.getElementById("scan");
  if (!root) return;
  function t(name) { return root.getAttribute("data-t-" + name) || ""; }
  var form = document.getElementById("scanform"), verdict = document.getElementById("verdict");
  var remembered = { gate: localStorage.getItem("boxoffice.gate"), performance: localStorage.getItem("boxoffice.performance") };
  if (remembered.gate) form.gate.value = remembered.gate;
  if (remembered.performance && form.performance.querySelector("option[value='" + CSS.escape(remembered.performance) + "']")) form.performance.value = remembered.performance;
  function csrf() { return decodeURIComponent((document.cookie.match(/(?:^|; )bo_csrf=([^;]*)/) || [])[1] || ""); }
  function show(kind, word, detail) {
    verdict.className = "verdict " + kind;
    verdict.querySelector(".word").textContent = word;
    verdict.querySelector(".detail").textContent = detail || "";
    verdict.hidden = false;
    if (navigator.vibrate) navigator.vibrate(kind === "valid" ? 80 : [200, 80, 200]);
  }
  function when(iso) {
    var date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString(root.getAttribute("data-language") === "ko" ? "ko-KR" : "en-GB", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", second: "2-digit", month: "short", day: "numeric" });
  }
  async function check(code) {
    var gate = form.gate.value.trim(), performance = form.performance.value;
    localStorage.setItem("boxoffice.gate", gate);
    localStorage.setItem("boxoffice.performance", performance);
    var response, data = {};
    try {
      response = await fetch("/v1/scans", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ code: code, gate: gate, performanceId: performance })
      });
      data = await response.json().catch(function () { return {}; });
    } catch (error) { show("invalid", t("error"), ""); return; }
    if (response.status === 401) { show("invalid", t("signin"), ""); return; }
    if (response.status === 403) { show("invalid", t("forbidden"), data.detail || ""); return; }
    if (!response.ok) { show("invalid", t("invalid"), [data.title, data.detail].filter(Boolean).join(" ")); return; }
    var seat = data.ticket && (data.ticket.seat ? data.ticket.seat.label : data.ticket.tier) || "";
    if (data.result === "valid") show("valid", t("valid"), seat);
    else if (data.result === "already_used") show("used", t("used"), t("at") + " " + when(data.firstScannedAt) + " · " + t("gate") + " " + (data.firstGate || "?") + (seat ? " · " + seat : ""));
    else show("invalid", t("invalid"), data.reason || "");
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = form.code.value.trim();
    if (!code || !form.gate.value.trim()) { form.reportValidity && form.reportValidity(); return; }
    check(code).then(function () { form.code.value = ""; form.code.focus(); });
  });
  // The camera, where the browser can read QR codes itself.
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    var button = document.getElementById("camera"), video = document.getElementById("viewfinder");
    button.hidden = false;
    button.addEventListener("click", async function () {
      try {
        var detector = new BarcodeDetector({ formats: ["qr_code"] });
        var stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        video.srcObject = stream; video.hidden = false; await video.play();
        var last = "", lastAt = 0;
        (async function look() {
          if (video.hidden) return;
          try {
            var codes = await detector.detect(video);
            var now = Date.now();
            if (codes.length && (codes[0].rawValue !== last || now - lastAt > 3000)) {
              last = codes[0].rawValue; lastAt = now;
              await check(last);
            }
          } catch (ignored) {}
          setTimeout(look, 250);
        })();
      } catch (error) { show("invalid", t("nocamera"), ""); }
    });
  }
})();
