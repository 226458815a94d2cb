// My tickets: each with its seat and a QR code of its signed code, drawn in the page (qr.js).
// The service worker keeps this page and the last answer, so it opens at a door with no network.
(function () {
  "use strict";
  var root = document.getElementById("tickets");
  if (!root) return;
  function t(name) { return root.getAttribute("data-t-" + name) || ""; }
  var status = document.getElementById("ticketstatus"), list = root.querySelector(".ticketlist");
  var language = root.getAttribute("data-language");
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/tickets-sw.js", { scope: "/tickets" }).catch(function () {});
  function when(iso) {
    var date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleString(language === "ko" ? "ko-KR" : "en-GB",
      { timeZone: "Asia/Seoul", year: "numeric", month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" });
  }
  // Public lookups go without the session cookie, so they do not count against the fan's own
  // request rate; a 429 is waited out once.
  async function json(path, anonymous) {
    var options = { credentials: anonymous ? "omit" : "same-origin", headers: { "Accept": "application/json" } };
    var response = await fetch(path, options);
    if (response.status === 429) {
      await new Promise(function (resolve) { setTimeout(resolve, 1000 * (parseInt(response.headers.get("Retry-After"), 10) || 1)); });
      response = await fetch(path, options);
    }
    if (response.status === 401) { window.location.assign(root.getAttribute("data-signin")); throw new Error("signed out"); }
    if (!response.ok) throw new Error("status " + response.status);
    return { data: await response.json(), offline: response.headers.get("X-Served-From") === "offline-copy" };
  }
  async function load() {
    var answer = await json("/v1/tickets?limit=100");
    var tickets = answer.data.items || [];
    // What each performance is, asked once per performance.
    var shows = {};
    await Promise.all(Array.from(new Set(tickets.map(function (ticket) { return ticket.performanceId; }))).map(async function (id) {
      try {
        var performance = (await json("/v1/performances/" + encodeURIComponent(id), true)).data;
        var event = (await json("/v1/events/" + encodeURIComponent(performance.eventId), true)).data;
        shows[id] = { title: event.title, startsAt: performance.startsAt };
      } catch (ignored) { shows[id] = { title: "", startsAt: "" }; }
    }));
    list.textContent = "";
    tickets.forEach(function (ticket) {
      var show = shows[ticket.performanceId] || {};
      var item = document.createElement("li");
      item.className = "ticket";
      item.setAttribute("data-ticket", ticket.id);
      var title = document.createElement("h2"); title.textContent = show.title || ticket.performanceId;
      var time = document.createElement("p"); time.className = "meta"; time.textContent = when(show.startsAt);
      var seat = document.createElement("p");
      var strong = document.createElement("strong");
      strong.textContent = ticket.seat ? ticket.seat.label : ticket.tier;
      seat.appendChild(strong);
      var state = document.createElement("span");
      state.className = "badge " + (ticket.status !== "valid" ? "out" : ticket.firstScannedAt ? "soon" : "on");
      state.textContent = ticket.status !== "valid" ? t("cancelled") : ticket.firstScannedAt ? t("used") : t("valid");
      var qr = document.createElement("div");
      qr.className = "qr";
      if (ticket.status === "valid") {
        var drawn = window.BoxofficeQR.svg(ticket.code);
        drawn.setAttribute("role", "img");
        drawn.setAttribute("aria-label", "QR " + (ticket.seat ? ticket.seat.label : ticket.tier));
        qr.appendChild(drawn);
      }
      var code = document.createElement("code"); code.textContent = ticket.code;
      [title, time, seat, state, qr, code].forEach(function (node) { item.appendChild(node); });
      list.appendChild(item);
    });
    status.textContent = tickets.length ? (answer.offline ? t("offline") : "") : t("none");
    status.hidden = !status.textContent;
  }
  load().catch(function () { status.textContent = t("offline"); });
})();
