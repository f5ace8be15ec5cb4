// Draft backup: the application form's values are kept in this browser's localStorage on every input,
// keyed by application id + version, so nothing typed is lost when an autosave fails (network down,
// session expired). A failed save says so; when the page is opened again with a backup newer than the
// server's copy, 「端末に残っている入力を復元」 refills the form and saves it. A successful save clears it.
(function () {
  "use strict";
  var FAILED = "保存できませんでした。入力内容はこの端末に一時保存されています";
  var EXPIRED = "ログインの有効期限が切れました。もう一度ログインしてからこの画面を開くと、入力を復元できます。";

  function storage() {
    try {
      var probe = "shien:probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null; // private mode, disabled storage: the page still works, without a backup
    }
  }

  function init() {
    var form = document.querySelector("form[data-draft-key]");
    var store = storage();
    if (!form || !store) { return; }
    var appId = form.getAttribute("data-draft-key");
    var prefix = "shien:draft:" + appId + ":";
    var status = document.getElementById("backup-status");
    var restoreBox = document.getElementById("draft-restore");
    var sent = null; // the form's state when the pending autosave was sent

    function version() {
      var input = document.getElementById("version");
      return input ? input.value : "0";
    }
    function key() { return prefix + version(); }

    function fields() {
      var out = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || !el.id || el.type === "hidden" || el.type === "file" || el.type === "submit" || el.type === "button") { return; }
        out[el.id] = (el.type === "checkbox" || el.type === "radio") ? { checked: el.checked } : { value: el.value };
      });
      return out;
    }
    function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

    function backup() {
      try {
        store.setItem(key(), JSON.stringify({ savedAt: new Date().toISOString(), fields: fields() }));
      } catch (e) { /* storage full: nothing more to do */ }
    }
    function clearAll() {
      for (var i = store.length - 1; i >= 0; i--) {
        var k = store.key(i);
        if (k && k.indexOf(prefix) === 0) { store.removeItem(k); }
      }
    }
    function show(message) {
      if (!status) { return; }
      status.textContent = message;
      status.hidden = false;
    }
    function hide() {
      if (!status) { return; }
      status.textContent = "";
      status.hidden = true;
    }

    // htmx fires beforeSwap on the swap target (#save-live, inside the form) and the request events
    // on the form itself: the request's own element is the reliable test, the event's element the fallback
    function isOurs(event) {
      var detail = event.detail || {};
      var elt = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
      return !!elt && (elt === form || form.contains(elt));
    }
    function toLogin(xhr) {
      return xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login") !== -1;
    }

    form.addEventListener("input", backup);
    form.addEventListener("change", backup);

    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (isOurs(event)) { sent = fields(); }
    });
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (!isOurs(event)) { return; }
      var xhr = event.detail.xhr;
      if (toLogin(xhr)) {
        event.detail.shouldSwap = false; // never put the login page into the status line
      } else if (xhr.status === 400 || xhr.status === 409 || xhr.status === 422) {
        event.detail.shouldSwap = true; // the server's Japanese message replaces the status line
        event.detail.isError = false;
      }
    });
    // the fields the server refused (data-field in the status line) get aria-invalid and their message
    // right below them; fields that are fine again lose both
    function markInvalid() {
      var messages = {};
      Array.prototype.forEach.call(document.querySelectorAll("#save-status [data-field]"), function (span) {
        messages[span.getAttribute("data-field")] = span.textContent;
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-draft-error]"), function (p) {
        p.parentNode.removeChild(p);
      });
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || !el.id || el.type === "hidden") { return; }
        var mine = el.id + "-draft-error";
        var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
          return id && id !== mine;
        });
        if (Object.prototype.hasOwnProperty.call(messages, el.name)) {
          var p = document.createElement("p");
          p.className = "error";
          p.id = mine;
          p.setAttribute("data-draft-error", "1");
          p.textContent = messages[el.name];
          el.insertAdjacentElement("afterend", p);
          described.push(mine);
          el.setAttribute("aria-describedby", described.join(" "));
          el.setAttribute("aria-invalid", "true");
          el.setAttribute("data-draft-invalid", "1");
        } else if (el.hasAttribute("data-draft-invalid")) {
          if (described.length) { el.setAttribute("aria-describedby", described.join(" ")); } else { el.removeAttribute("aria-describedby"); }
          el.removeAttribute("aria-invalid");
          el.removeAttribute("data-draft-invalid");
        }
      });
    }
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (isOurs(event)) { markInvalid(); }
    });

    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!isOurs(event)) { return; }
      var xhr = event.detail.xhr;
      // a refusal (4xx, swapped in above as a normal answer) saved nothing: keep the backup
      var failed = !event.detail.successful || toLogin(xhr) || !xhr || xhr.status >= 400;
      if (failed) {
        backup();
        var code = xhr ? xhr.status : 0;
        if (code === 401 || code === 403 || toLogin(xhr)) {
          show(FAILED + "。" + EXPIRED);
        } else if (code >= 400 && code < 500) {
          show(FAILED + "。上の表示に従って入力内容を確かめてください。");
        } else {
          show(FAILED + "。通信が回復すると、次の入力で自動的に保存します。");
        }
        return;
      }
      hide();
      clearAll();
      if (sent && !same(sent, fields())) { backup(); } // typed while the save was on its way
      sent = null;
    });
    document.body.addEventListener("htmx:sendError", function (event) {
      if (!isOurs(event)) { return; }
      backup();
      show(FAILED + "。通信が回復すると、次の入力で自動的に保存します。");
    });

    // a backup of this version that differs from what the server shows: offer to restore it
    var raw = store.getItem(key());
    for (var i = store.length - 1; i >= 0; i--) { // backups of older versions can no longer be applied
      var k = store.key(i);
      if (k && k.indexOf(prefix) === 0 && k !== key()) { store.removeItem(k); }
    }
    if (!raw || !restoreBox) { return; }
    var saved;
    try { saved = JSON.parse(raw); } catch (e) { store.removeItem(key()); return; }
    if (!saved || !saved.fields || same(saved.fields, fields())) { store.removeItem(key()); return; }
    var when = document.getElementById("draft-restore-time");
    if (when && saved.savedAt) { when.textContent = new Date(saved.savedAt).toLocaleString("ja-JP"); }
    restoreBox.hidden = false;
    document.getElementById("draft-restore-button").addEventListener("click", function () {
      var target = null;
      Object.keys(saved.fields).forEach(function (id) {
        var el = document.getElementById(id);
        if (!el || el.form !== form) { return; }
        if ("checked" in saved.fields[id]) { el.checked = saved.fields[id].checked; } else { el.value = saved.fields[id].value; }
        target = target || el;
      });
      restoreBox.hidden = true;
      if (target) { target.dispatchEvent(new Event("change", { bubbles: true })); } // autosave now
    });
    document.getElementById("draft-discard-button").addEventListener("click", function () {
      store.removeItem(key());
      restoreBox.hidden = true;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
