// Draft backup: the application form's values are kept in this browser's localStorage on every input,
// keyed by application id + the version the form was loaded at + this page's own id (two tabs never
// overwrite each other's backup), so nothing typed is lost when an autosave fails (network down, session
// expired, another tab saved first: 409). A failed save says so; when the page is opened again with a
// backup that differs from the server's copy, 「端末に残っている入力を復元」 offers it. A backup typed on an
// older version (the other tab's save came in between) is offered too, saying so and naming the fields it
// would overwrite; the user decides. Restoring applies what was typed in that tab (the fields it changed
// from what it had loaded) and saves it. A successful save clears this page's own backups only.
(function () {
  "use strict";
  var FAILED = "保存できませんでした。入力内容はこの端末に一時保存されています";
  var STALE = "別の画面で新しい内容が保存されています。この画面を読み込み直すと、この端末に残っている入力を復元するかどうか選べます。";
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
    var page = Date.now().toString(36) + Math.random().toString(36).slice(2, 10); // this page's backups
    var status = document.getElementById("backup-status");
    var restoreBox = document.getElementById("draft-restore");
    var sent = null; // the form's state when the pending autosave was sent

    function version() {
      var input = document.getElementById("version");
      return input ? input.value : "0";
    }
    function key() { return prefix + version() + ":" + page; }

    function fields() {
      var out = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || !el.id || el.type === "hidden" || el.type === "file" || el.type === "submit" || el.type === "button") { return; }
        out[el.id] = (el.type === "checkbox" || el.type === "radio") ? { checked: el.checked } : { value: el.value };
      });
      return out;
    }
    function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
    var base = fields(); // what the server has, as far as this page knows: as loaded, then as last saved

    function backup() {
      try {
        store.setItem(key(), JSON.stringify({
          savedAt: new Date().toISOString(), version: version(), base: base, fields: fields()
        }));
      } catch (e) { /* storage full: nothing more to do */ }
    }
    function clearMine() { // another tab's backups are that tab's to clear
      for (var i = store.length - 1; i >= 0; i--) {
        var k = store.key(i);
        if (k && k.indexOf(prefix) === 0 && k.slice(-page.length - 1) === ":" + page) { store.removeItem(k); }
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
        } else if (code === 409) {
          show(FAILED + "。" + STALE);
        } else if (code >= 400 && code < 500) {
          show(FAILED + "。上の表示に従って入力内容を確かめてください。");
        } else {
          show(FAILED + "。通信が回復すると、次の入力で自動的に保存します。");
        }
        return;
      }
      hide();
      clearMine();
      if (sent) { base = sent; } // the server now has what was sent
      if (sent && !same(sent, fields())) { backup(); } // typed while the save was on its way
      sent = null;
    });
    document.body.addEventListener("htmx:sendError", function (event) {
      if (!isOurs(event)) { return; }
      backup();
      show(FAILED + "。通信が回復すると、次の入力で自動的に保存します。");
    });

    // backups left by earlier pages (this tab before a reload, a closed tab, a tab that lost to another
    // tab's save) that would change what the server shows: offer them, the newest first
    var current = parseInt(version(), 10);
    var offers = [];
    for (var i = store.length - 1; i >= 0; i--) {
      var k = store.key(i);
      if (!k || k.indexOf(prefix) !== 0) { continue; }
      var saved = null;
      try { saved = JSON.parse(store.getItem(k)); } catch (e) { saved = null; }
      if (!saved || !saved.fields) { store.removeItem(k); continue; }
      var typed = edits(saved);
      if (!Object.keys(typed).length) { store.removeItem(k); continue; } // nothing it would change
      var at = parseInt(String(saved.version || k.slice(prefix.length).split(":")[0]), 10);
      offers.push({ key: k, saved: saved, typed: typed, stale: !isNaN(at) && !isNaN(current) && at < current });
    }
    offers.sort(function (a, b) { return String(b.saved.savedAt || "").localeCompare(String(a.saved.savedAt || "")); });
    if (!restoreBox) { return; }

    // what restoring would put in the form: the fields that page changed from what it had loaded (all
    // of them for a backup without that), where the form shows something else now
    function edits(saved) {
      var now = fields();
      var out = {};
      Object.keys(saved.fields).forEach(function (id) {
        if (!Object.prototype.hasOwnProperty.call(now, id)) { return; } // a field the form no longer has
        if (saved.base && same(saved.fields[id], saved.base[id])) { return; } // not typed in that page
        if (!same(saved.fields[id], now[id])) { out[id] = saved.fields[id]; }
      });
      return out;
    }
    function labelOf(id) {
      var el = document.getElementById(id);
      if (!el) { return id; }
      var fieldset = el.type === "radio" && el.closest("fieldset");
      var legend = fieldset && fieldset.querySelector("legend");
      if (legend) { return legend.textContent.trim(); }
      var label = form.querySelector('label[for="' + id + '"]');
      return label ? label.textContent.trim() : id;
    }

    var shown = null;
    var when = document.getElementById("draft-restore-time");
    var staleBox = document.getElementById("draft-restore-stale");
    var fieldsBox = document.getElementById("draft-restore-fields");
    var fieldList = document.getElementById("draft-restore-field-list");
    function offerNext() {
      shown = offers.shift() || null;
      if (!shown) { restoreBox.hidden = true; return; }
      if (when) { when.textContent = shown.saved.savedAt ? new Date(shown.saved.savedAt).toLocaleString("ja-JP") : ""; }
      if (staleBox) { staleBox.hidden = !shown.stale; }
      if (fieldsBox && fieldList) {
        var names = [];
        Object.keys(shown.typed).forEach(function (id) {
          var name = labelOf(id);
          if (names.indexOf(name) === -1) { names.push(name); }
        });
        fieldList.textContent = names.join("、");
        fieldsBox.hidden = !shown.stale || !names.length;
      }
      restoreBox.hidden = false;
    }
    document.getElementById("draft-restore-button").addEventListener("click", function () {
      if (!shown) { return; }
      var target = null;
      Object.keys(shown.typed).forEach(function (id) {
        var el = document.getElementById(id);
        if (!el || el.form !== form) { return; }
        if ("checked" in shown.typed[id]) { el.checked = shown.typed[id].checked; } else { el.value = shown.typed[id].value; }
        target = target || el;
      });
      store.removeItem(shown.key);
      shown = null;
      offers = []; // one at a time: any other backup stays stored and is offered when the page is next opened
      restoreBox.hidden = true;
      backup(); // kept under this page until the save below succeeds
      if (target) { target.dispatchEvent(new Event("change", { bubbles: true })); } // autosave now
    });
    document.getElementById("draft-discard-button").addEventListener("click", function () {
      if (shown) { store.removeItem(shown.key); }
      offerNext();
    });
    offerNext();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
