// The waiting room: joins the performance's queue (the place is the fan's, so a reload or a
// second tab keeps it), shows position, people ahead and the wait live over SSE (polling if the
// stream fails), and moves on to the seat map by itself when admitted.
(function () {
  "use strict";
  var root = document.getElementById("queue");
  if (!root) return;
  var performance = root.getAttribute("data-performance"), key = "boxoffice.queue." + performance;
  function t(name) { return root.getAttribute("data-t-" + name) || ""; }
  var banner = root.querySelector(".form-error");
  function csrf() { return decodeURIComponent((document.cookie.match(/(?:^|; )bo_csrf=([^;]*)/) || [])[1] || ""); }
  function saved() { try { return JSON.parse(localStorage.getItem(key) || "{}"); } catch (ignored) { return {}; } }
  function save(value) { localStorage.setItem(key, JSON.stringify(Object.assign(saved(), value))); }
  function show(status) {
    document.getElementById("position").textContent = status.position != null ? status.position.toLocaleString() : "–";
    document.getElementById("ahead").textContent = status.ahead != null ? status.ahead.toLocaleString() : "–";
    var eta = status.etaSeconds;
    document.getElementById("eta").textContent = eta == null ? "–" : eta < 60 ? t("soon") : t("minutes").replace("{n}", Math.round(eta / 60));
    document.getElementById("queuestate").textContent = t(status.state) || status.state;
    if (status.state === "admitted" && status.accessToken) {
      save({ accessToken: status.accessToken });
      window.location.assign("/performances/" + encodeURIComponent(performance));
    }
  }
  async function post(path, body) {
    var response = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify(body || {}) });
    return { ok: response.ok, status: response.status, data: await response.json().catch(function () { return {}; }) };
  }
  function solve(challenge) {
    return new Promise(function (resolve, reject) {
      var worker = new Worker(document.querySelector("script[data-pow-worker]").getAttribute("data-pow-worker"));
      worker.onmessage = function (message) { if (message.data.nonce !== undefined) { worker.terminate(); resolve(message.data.nonce); } };
      worker.onerror = function (error) { worker.terminate(); reject(error); };
      worker.postMessage({ challenge: challenge.challenge, difficulty: challenge.difficulty });
    });
  }
  async function join() {
    var answer = await post("/v1/performances/" + encodeURIComponent(performance) + "/queue/join", {});
    if (answer.status === 422 && /human-check/.test(answer.data.type || "")) {
      var challenge = await post("/v1/auth/challenge", {});
      if (challenge.ok) answer = await post("/v1/performances/" + encodeURIComponent(performance) + "/queue/join",
        { humanCheck: { challenge: challenge.data.challenge, nonce: await solve(challenge.data) } });
    }
    if (answer.status === 401) { window.location.assign(root.getAttribute("data-signin")); return null; }
    if (!answer.ok) { banner.textContent = [answer.data.title, answer.data.detail].filter(Boolean).join(" ") || t("error"); banner.hidden = false; return null; }
    save({ ticket: answer.data.queueTicket });
    return answer.data;
  }
  function poll(ticket) {
    fetch("/v1/performances/" + encodeURIComponent(performance) + "/queue/status", { headers: { "Queue-Ticket": ticket, "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) { if (status) show(status); if (!status || status.state === "waiting") setTimeout(function () { poll(ticket); }, 2000); })
      .catch(function () { setTimeout(function () { poll(ticket); }, 4000); });
  }
  function follow(ticket) {
    if (!window.EventSource) { poll(ticket); return; }
    var stream = new EventSource("/v1/performances/" + encodeURIComponent(performance) + "/queue/events?ticket=" + encodeURIComponent(ticket));
    var heard = false;
    stream.addEventListener("status", function (message) {
      heard = true;
      var status = JSON.parse(message.data);
      show(status);
      if (status.state !== "waiting") stream.close();
    });
    stream.onerror = function () { stream.close(); poll(ticket); };
    setTimeout(function () { if (!heard) { stream.close(); poll(ticket); } }, 5000);
  }
  (async function start() {
    // Joining again is idempotent for the fan: a reload or a second tab gets the same place.
    var joined = await join();
    if (!joined) return;
    show(joined);
    if (joined.state === "waiting") follow(joined.queueTicket);
  })();
})();
