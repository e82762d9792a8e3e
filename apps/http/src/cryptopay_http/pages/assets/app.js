// cryptopay pages: small enhancements; every page works without them.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-countdown"), 10);
      var end = Date.now() + left * 1000;
      function tick() {
        var s = Math.max(0, Math.round((end - Date.now()) / 1000));
        el.textContent = Math.floor(s / 60) + ":" + pad(s % 60);
        if (s > 0) { setTimeout(tick, 1000); }
      }
      tick();
    });
  }
  function copyButtons() {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var label = button.textContent;
      button.classList.add("ready");
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        var text = button.getAttribute("data-value") || (source ? source.textContent.trim() : "");
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = button.getAttribute("data-done") || "\u2713";
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }
  function resetToken() {
    // The reset link carries its token in the fragment (never sent to a server): put it in the form, hide the field.
    var field = document.querySelector("input[data-fragment-token]");
    var found = /[#&]token=([^&]+)/.exec(window.location.hash);
    if (!field || !found) { return; }
    field.value = decodeURIComponent(found[1]);
    var row = document.getElementById(field.getAttribute("data-fragment-token"));
    if (row) { row.hidden = true; }
    history.replaceState(null, "", window.location.pathname);
  }
  function installable() {
    // The shell's service worker (/sw.js): caches styles, scripts, icons and the offline page, never money data.
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("/sw.js").catch(function () {});
    }
  }
  document.addEventListener("DOMContentLoaded", function () { countdowns(); copyButtons(); resetToken(); installable(); });
})();
