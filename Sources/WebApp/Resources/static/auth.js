// Sign-in and sign-up pages over the JSON API: cookie sessions (POST /v1/auth/browser-session),
// the proof-of-work check solved in a worker, readable messages for every problem.
(function () {
  "use strict";
  function safeNext(form) {
    var next = form.getAttribute("data-next") || "/";
    return next.charAt(0) === "/" && next.charAt(1) !== "/" && next.indexOf("\\") < 0 ? next : "/";
  }
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var banner = form.querySelector(".form-error");
    banner.hidden = true;
    banner.textContent = "";
  }
  // A problem+json answer, shown where it belongs: field errors beside their fields, the rest on top.
  function showProblem(form, problem) {
    var banner = form.querySelector(".form-error");
    var unplaced = [];
    (problem.errors || []).forEach(function (error) {
      var input = form.querySelector("[name='" + String(error.field).replace(/[^a-zA-Z]/g, "") + "']");
      if (!input) { unplaced.push(error.message); return; }
      input.setAttribute("aria-invalid", "true");
      var note = document.createElement("span");
      note.className = "field-error";
      note.textContent = error.message;
      input.insertAdjacentElement("afterend", note);
    });
    banner.textContent = [problem.title, problem.errors && problem.errors.length ? "" : problem.detail].concat(unplaced)
      .filter(Boolean).join(" ");
    banner.hidden = false;
    banner.focus && banner.setAttribute("tabindex", "-1");
  }
  async function post(path, body) {
    var response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(body)
    });
    var data = {};
    try { data = await response.json(); } catch (ignored) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }
  function networkProblem() {
    return { title: document.documentElement.lang === "ko" ? "연결할 수 없습니다. 잠시 후 다시 시도해 주세요." : "Could not reach the server. Try again in a moment." };
  }
  async function signIn(form, email, password, rememberMe) {
    var answer = await post("/v1/auth/browser-session", { email: email, password: password, rememberMe: rememberMe });
    if (!answer.ok) { showProblem(form, answer.data); return false; }
    window.location.assign(safeNext(form));
    return true;
  }

  var signin = document.getElementById("signin");
  if (signin) {
    signin.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(signin);
      var button = signin.querySelector("button");
      button.disabled = true;
      try {
        await signIn(signin, signin.email.value.trim(), signin.password.value, signin.rememberMe.checked);
      } catch (error) { showProblem(signin, networkProblem()); }
      button.disabled = false;
    });
    // One button per configured OAuth provider.
    fetch("/v1/auth/oauth/providers", { headers: { "Accept": "application/json" } }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        var providers = data && (data.providers || data.items) || [];
        if (!providers.length) return;
        var box = document.getElementById("oauth"), list = box.querySelector(".oauth-buttons");
        providers.forEach(function (provider) {
          var name = typeof provider === "string" ? provider : provider.name || provider.id;
          var link = document.createElement("a");
          link.className = "button";
          link.href = "/v1/auth/oauth/" + encodeURIComponent(name) + "/start?returnTo=" + encodeURIComponent(safeNext(box));
          link.textContent = (provider.displayName || name);
          list.appendChild(link);
        });
        box.hidden = false;
      }).catch(function () {});
  }

  var signup = document.getElementById("signup");
  if (signup) {
    var progress = signup.querySelector(".check-progress"), bar = progress.querySelector("progress"), label = progress.querySelector("span");
    function solve(challenge) {
      return new Promise(function (resolve, reject) {
        var worker = new Worker(document.querySelector("script[data-pow-worker]").getAttribute("data-pow-worker"));
        worker.onmessage = function (message) {
          if (message.data.nonce !== undefined) { worker.terminate(); resolve(message.data.nonce); return; }
          bar.value = Math.round(message.data.progress * 100);
        };
        worker.onerror = function (error) { worker.terminate(); reject(error); };
        worker.postMessage({ challenge: challenge.challenge, difficulty: challenge.difficulty });
      });
    }
    signup.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(signup);
      var button = signup.querySelector("button");
      button.disabled = true;
      try {
        // Mail to this account is written in the language of the page it signed up on.
        var body = { name: signup.name.value.trim(), email: signup.email.value.trim(), password: signup.password.value,
          language: document.documentElement.lang === "en" ? "en" : "ko" };
        var challenge = await post("/v1/auth/challenge", {});
        if (challenge.ok && challenge.data.challenge) {
          progress.hidden = false;
          bar.value = 0;
          label.textContent = label.getAttribute("data-working");
          body.humanCheck = { challenge: challenge.data.challenge, nonce: await solve(challenge.data) };
          bar.value = 100;
          label.textContent = label.getAttribute("data-done");
        }
        var created = await post("/v1/auth/signup", body);
        if (!created.ok) { showProblem(signup, created.data); progress.hidden = true; }
        else { await signIn(signup, body.email, body.password, false); }
      } catch (error) { showProblem(signup, networkProblem()); }
      button.disabled = false;
    });
  }
})();
