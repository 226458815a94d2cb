// Keeps the tickets page usable with no network (door networks fail): the page, its assets and
// the last answers of the APIs it reads are kept; the network is tried first, the copy after.
"use strict";
var CACHE = "boxoffice-tickets-v1";
var ASSETS = self.BOXOFFICE_ASSETS || [];
self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(["/tickets"].concat(ASSETS)); }).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  var wanted = url.pathname === "/tickets" || url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/v1/tickets") === 0 ||
    url.pathname.indexOf("/v1/performances/") === 0 || url.pathname.indexOf("/v1/events/") === 0;
  if (!wanted) return;
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(event.request, copy); }));
    }
    return response;
  }).catch(function () {
    return caches.match(event.request, { ignoreSearch: url.pathname === "/tickets" }).then(function (cached) {
      if (!cached) return Response.error();
      // Said to the page, which tells the fan the list may be out of date.
      var headers = new Headers(cached.headers);
      headers.set("X-Served-From", "offline-copy");
      return cached.blob().then(function (body) { return new Response(body, { status: cached.status, headers: headers }); });
    });
  }));
});
