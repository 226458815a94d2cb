// My tickets: each with its seat and a QR code of its signed code, drawn in the page (qr.js).
// The service worker keeps this page and the last answer, so it opens at a door with no network.
(function () {
  "use strict";
  var root = document.getElementById("tickets");
  if (!root || !window.BoxofficePage) return;
  function t(name) { return root.getAttribute("data-t-" + name) || ""; }
  var status = document.getElementById("ticketstatus"), list = root.querySelector(".ticketlist");
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/tickets-sw.js", { scope: "/tickets" }).catch(function () {});
  var D = window.BoxofficePage;
  async function json(path) {
    var options = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    var response = await fetch(path, options);
    if (response.status === 429) {
      await new Promise(function (resolve) { setTimeout(resolve, 1000 * (parseInt(response.headers.get("Retry-After"), 10) || 1)); });
      response = await fetch(path, options);
    }
    if (response.status === 401) { window.location.assign(root.getAttribute("data-signin")); throw new Error("signed out"); }
    if (!response.ok) throw new Error("status " + response.status);
    return { data: await response.json(), offline: response.headers.get("X-Served-From") === "offline-copy" };
  }
  // Giving a ticket away: an email, a confirmation that says the code changes, then the API.
  function transferForm(ticket, item) {
    var details = D.element("details", { "class": "give" });
    details.appendChild(D.element("summary", {}, D.t("give")));
    var form = D.element("form", { "class": "panel", novalidate: "" });
    var label = D.element("label", {}, D.t("giveEmail"));
    var input = D.element("input", { type: "email", name: "email", required: "", autocomplete: "email" });
    label.appendChild(input);
    var banner = D.element("p", { "class": "form-error", role: "alert" });
    banner.hidden = true;
    form.appendChild(label);
    form.appendChild(banner);
    form.appendChild(D.element("button", { type: "submit" }, D.t("giveSend")));
    details.appendChild(form);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      D.clearProblem(form);
      var email = input.value.trim();
      if (!email) { input.focus(); return; }
      if (!window.confirm(D.t("giveConfirm").replace("%s", email))) return;
      try {
        await D.api("POST", "/v1/tickets/" + encodeURIComponent(ticket.id) + "/transfer", { email: email });
        item.remove();
        status.textContent = D.t("given").replace("%s", email);
        status.hidden = false;
      } catch (problem) {
        if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
        var unknown = (problem.errors || []).some(function (error) { return error.field === "email" && /no Boxoffice account/.test(error.message); });
        if (unknown) problem = { errors: [{ field: "email", message: D.t("noAccount") }] };
        else if (problem.status === 0) problem = { title: D.t("offline") };
        D.showProblem(form, problem);
      }
    });
    return details;
  }
  async function load() {
    var answer = await json("/v1/tickets?limit=100");
    var tickets = answer.data.items || [];
    // What each performance is, asked once per performance.
    var shows = {};
    await Promise.all(Array.from(new Set(tickets.map(function (ticket) { return ticket.performanceId; }))).map(async function (id) {
      shows[id] = await D.showOf(id);
    }));
    list.textContent = "";
    tickets.forEach(function (ticket) {
      var show = shows[ticket.performanceId] || {};
      var item = document.createElement("li");
      item.className = "ticket";
      item.setAttribute("data-ticket", ticket.id);
      var title = document.createElement("h2"); title.textContent = show.title || ticket.performanceId;
      var time = document.createElement("p"); time.className = "meta"; time.textContent = show.startsAt ? D.when(show.startsAt) : "";
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
      if (ticket.status === "valid" && !ticket.firstScannedAt) item.appendChild(transferForm(ticket, item));
      list.appendChild(item);
    });
    status.textContent = tickets.length ? (answer.offline ? t("offline") : "") : t("none");
    status.hidden = !status.textContent;
  }
  load().catch(function () { status.textContent = t("offline"); });
})();
