// hostmatch pages: small additions on top of pages that work without JavaScript.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    // An error summary takes the focus, so a screen reader announces it and the keyboard starts there.
    var summary = document.querySelector("[data-focus]");
    if (summary) summary.focus();

    // The print button exists only when there is script to press it.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });

    // A running call's page asks for its status instead of reloading itself.
    var call = document.querySelector("[data-call-status]");
    if (call) followCall(call);
  });

  function followCall(element) {
    var url = element.dataset.callStatus;
    var bar = element.querySelector("progress");
    var text = element.querySelector("[data-call-text]");
    var refresh = document.querySelector("meta[http-equiv=refresh]");
    if (refresh) refresh.remove();
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (status) {
          bar.value = status.percent || 0;
          bar.textContent = Math.round(status.percent || 0) + "%";
          if (text && status.text) text.textContent = status.text;
          if (status.finished) window.location.reload();
          else window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }
})();
