// What the pages that work on the JSON API share: their words (the #page-text block), calls with
// the session cookie and its CSRF token, problems shown where they belong, money, times in Korea.
(function () {
  "use strict";
  var block = document.getElementById("page-text");
  var words = block ? JSON.parse(block.textContent) : {};
  var language = document.documentElement.lang || "ko";
  function t(key) { return words[key] || key; }
  function csrf() { return decodeURIComponent((document.cookie.match(/(?:^|; )bo_csrf=([^;]*)/) || [])[1] || ""); }
  // Resolves with the parsed JSON (or null); rejects with the problem (status, title, detail, errors).
  async function api(method, path, body, type, extraHeaders) {
    var headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    var init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = type || "application/json";
      init.body = type ? body : JSON.stringify(body);
    }
    var response;
    try { response = await fetch(path, init); } catch (error) { throw { status: 0, title: t("error") }; }
    var text = await response.text();
    var answer = null;
    try { answer = text ? JSON.parse(text) : null; } catch (error) { answer = null; }
    if (!response.ok) throw Object.assign({ status: response.status, title: t("error") }, answer || {});
    return answer;
  }
  // A problem in a form: each field error beside its field, the rest in the form's banner.
  function showProblem(form, problem) {
    var banner = form.querySelector(".form-error");
    form.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var unplaced = [];
    (problem.errors || []).forEach(function (error) {
      var field = form.querySelector("[name='" + String(error.field || "").replace(/[^A-Za-z0-9_]/g, "") + "']");
      if (!field) { unplaced.push((error.field ? error.field + ": " : "") + error.message); return; }
      field.setAttribute("aria-invalid", "true");
      var note = document.createElement("span");
      note.className = "field-error";
      note.textContent = error.message;
      field.insertAdjacentElement("afterend", note);
    });
    if (!banner) return;
    banner.textContent = [problem.title, problem.detail].concat(unplaced).filter(Boolean).join(" ");
    banner.hidden = false;
  }
  function clearProblem(form) {
    var banner = form.querySelector(".form-error");
    if (banner) banner.hidden = true;
    form.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
  }
  // A page-level problem: signed out goes to sign-in (data-signin on `root`), the rest in `banner`.
  function pageFailure(root, banner) {
    return function (problem) {
      if (problem.status === 401) { window.location.assign(root.getAttribute("data-signin")); return; }
      banner.textContent = problem.status === 403 ? t("forbidden") : [problem.title, problem.detail].filter(Boolean).join(" ");
      banner.hidden = false;
    };
  }
  function money(value) {
    var amount = value && typeof value === "object" ? value.amount : value;
    var digits = Math.abs(amount || 0).toLocaleString("en-US");
    return (amount < 0 ? "−" : "") + (language === "ko" ? digits + "원" : "₩" + digits);
  }
  // A time in the venues' zone; `brief` leaves the year out (lists of recent things).
  function when(iso, brief) {
    var parts = { timeZone: "Asia/Seoul", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    if (!brief) parts.year = "numeric";
    return new Date(iso).toLocaleString(language === "ko" ? "ko-KR" : "en-GB", parts);
  }
  // <input type=datetime-local> says a wall-clock time; the venues are in Korea (UTC+9, no DST).
  function koreaISO(local) { return local ? local + (local.length === 16 ? ":00" : "") + "+09:00" : ""; }
  function koreaLocal(date) {
    var shifted = new Date(date.getTime() + 9 * 3600 * 1000);
    return shifted.toISOString().slice(0, 16);
  }
  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // Seats as dots, fitted to the box; `stateOf(seat)` names each dot's class.
  function drawSeats(svg, seats, stateOf) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!seats.length) { svg.hidden = true; return; }
    svg.hidden = false;
    var xs = seats.map(function (s) { return Number(s.x); }), ys = seats.map(function (s) { return Number(s.y); });
    var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs), minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
    // A small map keeps seat-sized dots: the box is never narrower than 24 seats nor lower than 6 rows.
    var width = Math.max(maxX - minX + 2, 24), height = Math.max(maxY - minY + 2, 6);
    svg.setAttribute("viewBox", ((minX + maxX - width) / 2) + " " + ((minY + maxY - height) / 2) + " " + width + " " + height);
    var ns = "http://www.w3.org/2000/svg";
    seats.forEach(function (seat) {
      var dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", seat.x); dot.setAttribute("cy", seat.y); dot.setAttribute("r", "0.4");
      dot.setAttribute("class", stateOf(seat));
      var title = document.createElementNS(ns, "title");
      title.textContent = (seat.label || [seat.section, seat.row, seat.seat].join("-")) + " · " + seat.tier;
      dot.appendChild(title);
      svg.appendChild(dot);
    });
  }
  // What a performance is (its event's title, its start), asked once per page. Public lookups
  // go without the session cookie, so they do not count against the fan's own request rate; a
  // 429 is waited out once.
  var shows = {};
  async function publicJSON(path) {
    var options = { credentials: "omit", headers: { "Accept": "application/json" } };
    var response = await fetch(path, options);
    if (response.status === 429) {
      await new Promise(function (resolve) { setTimeout(resolve, 1000 * (parseInt(response.headers.get("Retry-After"), 10) || 1)); });
      response = await fetch(path, options);
    }
    if (!response.ok) throw new Error("status " + response.status);
    return response.json();
  }
  function showOf(performanceID) {
    if (!shows[performanceID]) {
      shows[performanceID] = (async function () {
        var performance = await publicJSON("/v1/performances/" + encodeURIComponent(performanceID));
        var event = await publicJSON("/v1/events/" + encodeURIComponent(performance.eventId));
        return { title: event.title, startsAt: performance.startsAt, eventId: performance.eventId };
      })().catch(function () { return { title: "", startsAt: "", eventId: "" }; });
    }
    return shows[performanceID];
  }
  window.BoxofficePage = { showOf: showOf, t: t, api: api, showProblem: showProblem, clearProblem: clearProblem, pageFailure: pageFailure, money: money, when: when,
    koreaISO: koreaISO, koreaLocal: koreaLocal, element: element, drawSeats: drawSeats, language: language };
})();
