// Small progressive enhancements for every page; the pages work without it.
(function () {
  "use strict";
  // Times are rendered in the venue's zone by the server; a <time> element also says how far
  // away it is in the fan's own words, refreshed each minute.
  var language = document.documentElement.lang || "ko";
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(language, { numeric: "auto" }) : null;
  function describe() {
    if (!relative) return;
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (node) {
      var at = Date.parse(node.getAttribute("datetime"));
      if (isNaN(at)) return;
      var minutes = Math.round((at - now) / 60000);
      var text = Math.abs(minutes) < 60 ? relative.format(minutes, "minute")
        : Math.abs(minutes) < 48 * 60 ? relative.format(Math.round(minutes / 60), "hour")
        : relative.format(Math.round(minutes / 1440), "day");
      node.setAttribute("title", text);
      var hint = node.nextElementSibling;
      if (hint && hint.classList.contains("relative")) hint.textContent = "(" + text + ")";
    });
  }
  describe();
  setInterval(describe, 60000);
})();
// Who is signed in (the session cookie is HttpOnly; /v1/me answers for it), with sign-out.
(function () {
  "use strict";
  var account = document.getElementById("account");
  if (!account) return;
  fetch("/v1/me", { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (me) {
      if (!me) return;
      var user = me.user || me;
      account.textContent = "";
      var name = document.createElement("span");
      name.textContent = user.name || user.email;
      name.setAttribute("data-user", user.email || "");
      var out = document.createElement("button");
      out.type = "button";
      out.textContent = account.getAttribute("data-signout");
      out.addEventListener("click", function () {
        var csrf = (document.cookie.match(/(?:^|; )bo_csrf=([^;]*)/) || [])[1] || "";
        fetch("/v1/auth/browser-session", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": decodeURIComponent(csrf) } })
          .then(function () { window.location.assign("/"); });
      });
      var tickets = document.createElement("a");
      tickets.href = "/tickets";
      tickets.textContent = account.getAttribute("data-tickets");
      var wallet = document.createElement("a");
      wallet.href = "/wallet";
      wallet.textContent = account.getAttribute("data-wallet");
      if ((user.roles || []).some(function (role) { return role === "organizer" || role === "admin"; })) {
        var desk = document.createElement("a");
        desk.href = "/organizer";
        desk.textContent = account.getAttribute("data-desk");
        account.appendChild(desk);
      }
      if ((user.roles || []).some(function (role) { return role === "staff" || role === "admin"; })) {
        var shipping = document.createElement("a");
        shipping.href = "/staff/shipments";
        shipping.textContent = account.getAttribute("data-shipments");
        account.appendChild(shipping);
      }
      account.appendChild(tickets);
      account.appendChild(wallet);
      account.appendChild(name);
      account.appendChild(out);
    }).catch(function () {});
})();
