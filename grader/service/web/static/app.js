// grader's pages: live status, keyboard navigation, evidence highlighting.
// Loaded from /static with script-src 'self'; the pages contain no inline script.
(function () {
  "use strict";

  // --- A submission's status, polled until it changes, then the page reloads. ---------
  function pollStatus() {
    var el = document.getElementById("status");
    if (!el || !el.dataset.poll) return;
    var url = el.dataset.poll;
    var shown = el.dataset.status;
    var delay = 1000;
    function later() {
      delay = Math.min(delay * 1.5, 15000);
      window.setTimeout(tick, delay);
    }
    function tick() {
      if (document.hidden) { later(); return; }
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.status === 401 || r.status === 404) return null; // signed out or gone: stop
          if (!r.ok) { later(); return null; }
          return r.json().then(function (data) {
            if (data.status !== shown) {
              el.textContent = data.label;
              el.dataset.status = data.status;
              window.location.reload();
            } else {
              later();
            }
          });
        })
        .catch(later);
    }
    window.setTimeout(tick, delay);
  }

  // --- Keyboard: j/k through the queue, n/p (or j/k) between submissions. --------------
  function typing(e) {
    var t = e.target;
    if (!t || !t.tagName) return false;
    var tag = t.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
  }

  function keys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
    var current = -1;
    function select(i) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, k) { r.classList.toggle("is-current", k === current); });
      var link = rows[current].querySelector("a.row-link");
      if (link) link.focus();
    }
    function follow(rel) {
      var a = document.querySelector('a[rel="' + rel + '"]');
      if (a) window.location.href = a.href;
    }
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey || typing(e)) return;
      if (rows.length) {
        if (e.key === "j") { select(current + 1); e.preventDefault(); }
        else if (e.key === "k") { select(current - 1); e.preventDefault(); }
        else if (e.key === "o" && current >= 0) {
          var link = rows[current].querySelector("a.row-link");
          if (link) window.location.href = link.href;
        }
        return;
      }
      if (e.key === "n" || e.key === "j") follow("next");
      else if (e.key === "p" || e.key === "k") follow("prev");
      else if (e.key === "c") {
        var confirm = document.getElementById("confirm");
        if (confirm) { confirm.click(); e.preventDefault(); }
      }
    });
  }

  // --- Evidence: show one criterion's highlights, or all. ------------------------------
  function legend() {
    var answer = document.getElementById("answer");
    var buttons = Array.prototype.slice.call(document.querySelectorAll(".hl-pick"));
    if (!answer || !buttons.length) return;
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        var which = b.dataset.hl;
        buttons.forEach(function (o) { o.classList.toggle("is-on", o === b); });
        answer.querySelectorAll("mark.ev").forEach(function (m) {
          m.classList.toggle("dim", which !== "all" && !m.classList.contains("ev-" + which));
        });
      });
    });
  }

  function start() {
    pollStatus();
    keys();
    legend();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
