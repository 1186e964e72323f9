// One-tap copy of the relay text: the Clipboard API where allowed, else select + execCommand.
(function () {
  "use strict";
  function fallback(source) {
    source.focus();
    source.select();
    source.setSelectionRange(0, source.value.length);
    try { return document.execCommand("copy"); } catch (err) { return false; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    function show(ok) { button.textContent = button.getAttribute(ok ? "data-done" : "data-fail"); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(
        function () { show(true); },
        function () { show(fallback(source)); }
      );
    } else {
      show(fallback(source));
    }
  });
})();
