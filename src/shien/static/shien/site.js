// After htmx replaces a step of the 診断, move keyboard focus to its first field (or its first error),
// so keyboard and screen-reader users continue where the new content begins.
document.addEventListener("htmx:afterSettle", function (event) {
  var root = event.detail.elt;
  if (!root || !root.querySelector) { return; }
  var target = root.querySelector("[aria-invalid=true], .error-summary a, fieldset input:not([type=hidden]), fieldset select");
  if (target) { target.focus(); }
});
