// Inside the embedded list: tell the host page (embed.js) how tall the list is.
(function () {
  "use strict";
  function report() {
    if (window.parent !== window) {
      window.parent.postMessage({ broadcasterHeight: document.body.scrollHeight + 8 }, "*");
    }
  }
  window.addEventListener("load", report);
  window.addEventListener("resize", report);
})();
