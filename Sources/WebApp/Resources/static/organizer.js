// The organizer's desk: their events (edit, publish, cancel, on to each performance's sales), new
// venues with a seat map checked and previewed before it is saved, new events and performances.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t;
  var venues = [], events = [];

  var fail = D.pageFailure(root, document.getElementById("desk-error"));

  async function load() {
    try {
      var answers = await Promise.all([D.api("GET", "/v1/organizers/me/venues"), D.api("GET", "/v1/organizers/me/events")]);
      venues = answers[0].items; events = answers[1].items;
    } catch (problem) { fail(problem); return; }
    document.querySelectorAll("select.venue-select").forEach(function (select) {
      var chosen = select.value;
      select.textContent = "";
      venues.forEach(function (venue) {
        select.appendChild(D.element("option", { value: venue.id }, venue.name + " (" + venue.seatCount + " " + t("seats") + ")"));
      });
      if (chosen) select.value = chosen;
    });
    var eventSelect = document.getElementById("performance-event"), chosenEvent = eventSelect.value;
    eventSelect.textContent = "";
    events.filter(function (event) { return event.status !== "cancelled"; }).forEach(function (event) {
      eventSelect.appendChild(D.element("option", { value: event.id }, event.title + " · " + t(event.status)));
    });
    if (chosenEvent) eventSelect.value = chosenEvent;
    drawEvents();
    pricesFor();
  }

  function drawEvents() {
    var list = document.getElementById("events");
    list.textContent = "";
    document.getElementById("events-empty").hidden = events.length > 0;
    events.forEach(function (event) {
      var card = D.element("article", { "class": "desk-event", "data-event": event.id });
      var heading = D.element("h3", {}, event.title + " ");
      heading.appendChild(D.element("span", { "class": "badge " + (event.status === "published" ? "on" : "out") }, t(event.status)));
      card.appendChild(heading);
      card.appendChild(D.element("p", { "class": "meta" }, event.artist));
      var items = D.element("ul");
      (event.performances || []).forEach(function (performance) {
        var item = D.element("li");
        item.appendChild(D.element("span", {}, D.when(performance.startsAt)));
        if (performance.status === "cancelled") item.appendChild(D.element("span", { "class": "badge out" }, t("cancelled")));
        var sales = D.element("a", { href: "/organizer/performances/" + encodeURIComponent(performance.id), "class": "button secondary" }, t("sales"));
        item.appendChild(sales);
        if (performance.status !== "cancelled" && event.status !== "cancelled") {
          var stop = D.element("button", { type: "button", "class": "secondary" }, t("cancelPerformance"));
          stop.addEventListener("click", function () { cancel([performance.id], "/v1/performances/" + encodeURIComponent(performance.id) + "/cancel"); });
          item.appendChild(stop);
        }
        items.appendChild(item);
      });
      card.appendChild(items);
      var actions = D.element("div", { "class": "actions" });
      if (event.status === "draft") {
        var publish = D.element("button", { type: "button" }, t("publish"));
        publish.addEventListener("click", async function () {
          if (!window.confirm(t("confirmPublish"))) return;
          publish.disabled = true;
          try { await D.api("POST", "/v1/events/" + encodeURIComponent(event.id) + "/publish"); await load(); }
          catch (problem) { publish.disabled = false; fail(problem); }
        });
        actions.appendChild(publish);
      }
      if (event.status !== "cancelled") {
        var edit = D.element("button", { type: "button", "class": "secondary", "aria-expanded": "false", "data-edit": event.id }, t("editEvent"));
        edit.addEventListener("click", function () {
          var open = card.querySelector("form.event-edit");
          if (open) { open.remove(); edit.setAttribute("aria-expanded", "false"); return; }
          var form = eventEditForm(event);
          card.appendChild(form);
          edit.setAttribute("aria-expanded", "true");
          form.querySelector("input").focus();
        });
        actions.appendChild(edit);
        var stopAll = D.element("button", { type: "button", "class": "secondary" }, t("cancelEvent"));
        stopAll.addEventListener("click", function () {
          cancel((event.performances || []).map(function (p) { return p.id; }), "/v1/events/" + encodeURIComponent(event.id) + "/cancel");
        });
        actions.appendChild(stopAll);
      }
      card.appendChild(actions);
      list.appendChild(card);
    });
  }

  // An event's details, changed in place (PATCH /v1/events/{id}); its performances change on
  // their sales pages.
  function eventEditForm(event) {
    var form = D.element("form", { "class": "panel event-edit", novalidate: "" });
    form.appendChild(D.element("p", { "class": "form-error", role: "alert", hidden: "" }));
    function field(label, control, value) {
      var wrapper = D.element("label", {}, label);
      control.value = value || "";
      wrapper.appendChild(control);
      form.appendChild(wrapper);
      return control;
    }
    var title = field(t("title"), D.element("input", { type: "text", name: "title", required: "", maxlength: "200" }), event.title);
    var artist = field(t("artist"), D.element("input", { type: "text", name: "artist", required: "", maxlength: "200" }), event.artist);
    var category = field(t("category"), document.querySelector("#event-form select[name=category]").cloneNode(true), event.category);
    var description = field(t("description"), D.element("textarea", { name: "description", rows: "3", maxlength: "5000" }), event.description);
    var save = D.element("button", { type: "submit" }, t("save"));
    form.appendChild(save);
    form.addEventListener("submit", async function (submitted) {
      submitted.preventDefault();
      D.clearProblem(form);
      save.disabled = true;
      try {
        await D.api("PATCH", "/v1/events/" + encodeURIComponent(event.id), {
          title: title.value, artist: artist.value, category: category.value, description: description.value,
        });
        await load();
      } catch (problem) {
        save.disabled = false;
        if (problem.status === 401) fail(problem); else D.showProblem(form, problem);
      }
    });
    return form;
  }

  // Before cancelling, spell out what goes back: every paid order, refunded in full.
  async function cancel(performanceIDs, path) {
    var orders = 0, amount = 0;
    try {
      var figures = await Promise.all(performanceIDs.map(function (id) { return D.api("GET", "/v1/performances/" + encodeURIComponent(id) + "/sales"); }));
      figures.forEach(function (sales) { orders += sales.paidOrders; amount += sales.net.amount; });
    } catch (problem) { fail(problem); return; }
    if (!window.confirm(t("confirmCancel").replace("%d", String(orders)).replace("%s", D.money(amount)))) return;
    try { await D.api("POST", path); await load(); } catch (problem) { fail(problem); }
  }

  document.getElementById("venue-form").addEventListener("submit", async function (submitted) {
    submitted.preventDefault();
    var form = submitted.target;
    D.clearProblem(form);
    try {
      var venue = await D.api("POST", "/v1/venues", { name: form.elements.name.value, address: form.address.value });
      form.reset();
      await load();
      document.querySelectorAll("select.venue-select").forEach(function (select) { select.value = venue.id; });
    } catch (problem) { if (problem.status === 401) fail(problem); else D.showProblem(form, problem); }
  });

  // The seat map: read the file (or the pasted text), let the server check it without saving,
  // list every bad line, draw what it read; saving is offered only after a clean check.
  var seatForm = document.getElementById("seatmap-form"), saveButton = document.getElementById("seatmap-save");
  var checkedCSV = null;
  seatForm.file.addEventListener("change", function () {
    var file = seatForm.file.files[0];
    if (!file) return;
    file.text().then(function (text) { seatForm.csv.value = text; saveButton.disabled = true; });
  });
  seatForm.csv.addEventListener("input", function () { saveButton.disabled = true; });
  async function upload(dryRun) {
    D.clearProblem(seatForm);
    var list = document.getElementById("bad-lines"), status = document.getElementById("seatmap-status");
    list.textContent = ""; list.hidden = true; status.textContent = "";
    var csv = seatForm.csv.value, venue = seatForm.venue.value;
    try {
      var answer = await D.api("PUT", "/v1/venues/" + encodeURIComponent(venue) + "/seatmap?dryRun=" + dryRun, csv, "text/csv");
      if (dryRun) {
        checkedCSV = csv;
        saveButton.disabled = false;
        status.textContent = t("checkedOk").replace("%d", String(answer.seatCount));
        D.drawSeats(document.getElementById("seatmap-preview"), answer.seats, function () { return "available"; });
      } else {
        saveButton.disabled = true;
        status.textContent = t("savedMap").replace("%d", String(answer.seatCount));
        await load();
      }
    } catch (problem) {
      saveButton.disabled = true;
      document.getElementById("seatmap-preview").hidden = true;
      if (problem.status === 422 && problem.errors && problem.errors.length) {
        status.textContent = t("badLines");
        problem.errors.forEach(function (error) { list.appendChild(D.element("li", {}, error.field + ": " + error.message)); });
        list.hidden = false;
      } else if (problem.status === 401) fail(problem);
      else D.showProblem(seatForm, problem);
    }
  }
  seatForm.addEventListener("submit", function (submitted) { submitted.preventDefault(); upload(true); });
  saveButton.addEventListener("click", function () { if (checkedCSV === seatForm.csv.value) upload(false); });

  document.getElementById("event-form").addEventListener("submit", async function (submitted) {
    submitted.preventDefault();
    var form = submitted.target;
    D.clearProblem(form);
    try {
      var event = await D.api("POST", "/v1/events", {
        title: form.elements.title.value, artist: form.artist.value, category: form.category.value,
        venueId: form.venueId.value, description: form.description.value,
      });
      form.reset();
      await load();
      document.getElementById("performance-event").value = event.id;
      pricesFor();
    } catch (problem) { if (problem.status === 401) fail(problem); else D.showProblem(form, problem); }
  });

  // One price field per tier of the chosen event's venue map.
  var pricedVenue = null;
  async function pricesFor() {
    var event = events.find(function (e) { return e.id === document.getElementById("performance-event").value; });
    var box = document.getElementById("prices");
    if (!event || event.venueId === pricedVenue) return;
    pricedVenue = event.venueId;
    var seats = (await D.api("GET", "/v1/venues/" + encodeURIComponent(event.venueId) + "/seatmap").catch(function () { return { seats: [] }; })).seats;
    var tiers = Array.from(new Set(seats.map(function (s) { return s.tier; }))).sort();
    while (box.children.length > 1) box.removeChild(box.lastChild);
    if (!tiers.length) { box.appendChild(D.element("p", { "class": "meta" }, t("pickVenueFirst"))); return; }
    tiers.forEach(function (tier) {
      var label = D.element("label", {}, tier);
      label.appendChild(D.element("input", { type: "number", min: "0", step: "1000", required: "", "data-tier": tier, name: "price-" + tier.replace(/[^A-Za-z0-9_]/g, "") }));
      box.appendChild(label);
    });
  }
  document.getElementById("performance-event").addEventListener("change", pricesFor);
  (function defaults() {
    var form = document.getElementById("performance-form"), now = new Date();
    form.startsAt.value = D.koreaLocal(new Date(now.getTime() + 30 * 86400000)).slice(0, 11) + "19:00";
    form.onSaleFrom.value = D.koreaLocal(new Date(now.getTime() + 60000));
    form.onSaleUntil.value = D.koreaLocal(new Date(now.getTime() + 29 * 86400000)).slice(0, 11) + "23:00";
  })();
  document.getElementById("performance-form").addEventListener("submit", async function (submitted) {
    submitted.preventDefault();
    var form = submitted.target;
    D.clearProblem(form);
    var prices = Array.from(form.querySelectorAll("input[data-tier]")).map(function (input) {
      return { tier: input.getAttribute("data-tier"), price: { amount: Number(input.value || 0), currency: "KRW" } };
    });
    try {
      await D.api("POST", "/v1/events/" + encodeURIComponent(form.event.value) + "/performances", {
        startsAt: D.koreaISO(form.startsAt.value), onSaleFrom: D.koreaISO(form.onSaleFrom.value),
        onSaleUntil: D.koreaISO(form.onSaleUntil.value), prices: prices,
        holdMinutes: Number(form.holdMinutes.value), maxSeatsPerOrder: Number(form.maxSeatsPerOrder.value),
      });
      await load();
    } catch (problem) { if (problem.status === 401) fail(problem); else D.showProblem(form, problem); }
  });

  load();
})();
