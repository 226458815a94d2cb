// The shipping desk: shipments waiting to be packed (each with its packing list and address),
// sent with a carrier and tracking number, then marked delivered. The packing lists print.
(function () {
  "use strict";
  var root = document.getElementById("shipments");
  if (!root || !window.BoxofficePage) return;
  var D = window.BoxofficePage, t = D.t, el = D.element;
  var banner = document.getElementById("shipments-error");
  var carriers = ["CJ대한통운", "롯데택배", "한진택배", "우체국택배", "로젠택배"];

  function fail(problem) {
    if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
    banner.textContent = problem.status === 403 ? t("staffOnlyShipments") : [problem.title, problem.detail].filter(Boolean).join(" ");
    banner.hidden = false;
  }

  function card(shipment) {
    var item = el("li", { "class": "shipment-card", "data-shipment": shipment.id });
    var address = shipment.address;
    item.appendChild(el("h3", {}, address.recipient + " · " + address.phone));
    item.appendChild(el("p", {}, address.postcode + " " + address.address1 + (address.address2 ? " " + address.address2 : "")));
    if (address.note) item.appendChild(el("p", { "class": "meta" }, address.note));
    item.appendChild(el("p", { "class": "meta" }, t("ordersLabel") + ": " + shipment.orderIds.join(", ")));
    var table = el("table", { "class": "tiers packing" });
    table.appendChild(el("caption", {}, t("packingList")));
    var body = el("tbody");
    shipment.packingList.forEach(function (line) {
      var row = el("tr");
      row.appendChild(el("td", {}, line.name));
      row.appendChild(el("td", {}, line.optionName));
      row.appendChild(el("td", { "class": "num" }, "× " + line.quantity));
      body.appendChild(row);
    });
    table.appendChild(body);
    item.appendChild(table);
    var note = el("p", { "class": "order-note", role: "status", tabindex: "-1" });
    note.hidden = true;
    var form = el("form", { novalidate: "" });
    if (shipment.status === "preparing") {
      var carrier = el("select", { name: "carrier" });
      carriers.forEach(function (name) { carrier.appendChild(el("option", { value: name }, name)); });
      var carrierLabel = el("label", {}, t("carrier"));
      carrierLabel.appendChild(carrier);
      var tracking = el("input", { name: "trackingNumber", inputmode: "numeric", maxlength: "50" });
      var trackingLabel = el("label", {}, t("trackingNumber"));
      trackingLabel.appendChild(tracking);
      form.appendChild(carrierLabel);
      form.appendChild(trackingLabel);
      form.appendChild(el("button", { type: "submit" }, t("markShipped")));
    } else {
      item.appendChild(el("p", {}, shipment.carrier + " · " + shipment.trackingNumber));
      form.appendChild(el("button", { type: "submit", "class": "secondary" }, t("markDelivered")));
    }
    var error = el("p", { "class": "form-error", role: "alert" });
    error.hidden = true;
    form.appendChild(error);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      D.clearProblem(form);
      var change = shipment.status === "preparing"
        ? { status: "shipped", carrier: form.querySelector("[name=carrier]").value, trackingNumber: form.querySelector("[name=trackingNumber]").value }
        : { status: "delivered" };
      try {
        await D.api("POST", "/v1/shipments/" + encodeURIComponent(shipment.id) + "/status", change);
        note.textContent = t(change.status === "shipped" ? "shippedNow" : "deliveredNow");
        note.hidden = false;
        form.hidden = true;
        note.focus();
        setTimeout(load, 1500);
      } catch (problem) {
        if (problem.status === 401 || problem.status === 403) { fail(problem); return; }
        D.showProblem(form, problem);
      }
    });
    item.appendChild(form);
    item.appendChild(note);
    return item;
  }

  async function fill(status, list) {
    var page = await D.api("GET", "/v1/shipments?status=" + status + "&limit=100");
    list.textContent = "";
    page.items.forEach(function (shipment) { list.appendChild(card(shipment)); });
    return page.items.length;
  }

  async function load() {
    try {
      var waiting = await fill("preparing", document.getElementById("preparing-list"));
      var status = document.getElementById("preparing-status");
      status.textContent = waiting ? "" : t("nothingToShip");
      status.hidden = waiting > 0;
      await fill("shipped", document.getElementById("shipped"));
    } catch (problem) { fail(problem); }
  }
  document.getElementById("print-packing").addEventListener("click", function () { window.print(); });
  load();
})();
