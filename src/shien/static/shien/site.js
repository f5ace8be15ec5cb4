// After htmx replaces a step of the 診断, move keyboard focus to its first field (or its first error),
// so keyboard and screen-reader users continue where the new content begins. When a swap removed the
// element that had focus (e.g. 「既読にする」 replaces its own item), focus the new content's first link
// or button instead of leaving it on the page's body.
document.addEventListener("htmx:afterSettle", function (event) {
  var root = event.detail.elt;
  if (!root || !root.querySelector) { return; }
  var target = root.querySelector("[aria-invalid=true], .error-summary a, fieldset input:not([type=hidden]), fieldset select");
  if (target) { target.focus(); return; }
  var active = document.activeElement;
  if ((!active || active === document.body) && document.body.contains(root)) {
    var next = root.matches("a[href], button") ? root : root.querySelector("a[href], button:not([disabled])");
    if (next) { next.focus(); }
  }
});

// htmx restores a search page from its history cache with the fields as the HTML first had them, not
// as typed: after 戻る, set a search form's fields from the address bar so they match the results shown.
document.addEventListener("htmx:historyRestore", function () {
  var params = new URLSearchParams(window.location.search);
  document.querySelectorAll("form[role=search][hx-push-url], form.filters[hx-push-url]").forEach(function (form) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "hidden" || el.type === "submit" || el.type === "button") { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = params.getAll(el.name).indexOf(el.value) !== -1;
      } else {
        el.value = params.get(el.name) || "";
      }
    });
  });
});

// On narrow screens wide tables scroll sideways inside themselves (site.css): a table that scrolls and
// has nothing focusable in it gets tabindex=0, so keyboard users can scroll it too (WCAG 2.1.1).
(function () {
  function scrollers() {
    document.querySelectorAll("main table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      var marked = table.hasAttribute("data-scroll-focus");
      if (scrolls && !marked && !table.hasAttribute("tabindex") && !table.querySelector("a[href], button, input, select, textarea")) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("data-scroll-focus", "1");
      } else if (!scrolls && marked) {
        table.removeAttribute("tabindex");
        table.removeAttribute("data-scroll-focus");
      }
    });
  }
  var pending = null;
  function later() {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(scrollers, 150);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", scrollers); } else { scrollers(); }
  window.addEventListener("resize", later);
  document.addEventListener("htmx:afterSettle", later);
})();

// a refused form: focus its error summary, so the list of what to fix is read out and in view (phones)
(function () {
  function focusSummary() {
    var summary = document.querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", focusSummary); } else { focusSummary(); }
})();

// a step shown in answer to a form (a confirmation): its history entry becomes a plain GET of the same
// address, so Back or reload later asks the server for the current state instead of re-sending the form
(function () {
  if (document.querySelector("[data-history-get]") && window.history.replaceState) {
    window.history.replaceState(window.history.state, "", window.location.href);
  }
})();
