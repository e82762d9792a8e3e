// cryptopay service worker: keeps the app shell (styles, scripts, icons, the offline page) for when the network
// is gone. It never stores a page or an API answer: balances, invoices and payments are always fetched live.
"use strict";
var VERSION = "__VERSION__";
var SHELL = __SHELL__;
var CACHE = "cryptopay-shell-" + VERSION;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("cryptopay-shell-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    // Pages always come from the network; only when it fails, the offline page (which holds no data).
    event.respondWith(fetch(request).catch(function () { return caches.match("/offline"); }));
  } else if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  }
});
