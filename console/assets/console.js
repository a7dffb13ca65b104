// Hookpost console: copy buttons and the auto-refresh of lists. Served from the binary
// (script-src 'self'); the pages work without it.
"use strict";

(function () {
  // Copy buttons: hidden until this script runs, since they need it.
  function setUpCopy(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var target = document.getElementById(button.dataset.copy);
        if (!target) return;
        var text = target.textContent;
        var label = button.textContent;
        var done = function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(done, function () { select(target); });
        } else {
          select(target);
        }
      });
    });
  }

  // Without clipboard access, select the text so Ctrl+C copies it.
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // A list is refreshed in place only while the operator is not working in it: no box ticked,
  // no field typed in, no focus inside, the tab visible. Scroll and selection are kept.
  function busy(element) {
    if (document.hidden) return true;
    if (element.contains(document.activeElement) && document.activeElement !== document.body) return true;
    var fields = element.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if ((f.type === "checkbox" || f.type === "radio") && f.checked !== f.defaultChecked) return true;
      if (f.type !== "hidden" && f.value !== f.defaultValue) return true;
    }
    var selection = window.getSelection();
    return selection && !selection.isCollapsed && element.contains(selection.anchorNode);
  }

  // Each `data-refresh` element is fetched again every so many seconds, from this page's URL or
  // from its `data-refresh-from` path (same origin only), and its children replaced.
  function setUpRefresh() {
    document.querySelectorAll("[data-refresh][id]").forEach(function (element) {
      var seconds = parseInt(element.dataset.refresh, 10);
      if (!(seconds >= 5)) return;
      var from = element.dataset.refreshFrom;
      if (from && !/^\/[a-z0-9\/-]*$/.test(from)) return;
      var timer = setInterval(function () {
        if (busy(element)) return;
        fetch(from || window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
          .then(function (response) {
            if (!response.ok) throw new Error(String(response.status));
            return response.text();
          })
          .then(function (html) {
            if (busy(element)) return;
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(element.id);
            if (!fresh) return;
            element.replaceChildren.apply(element, Array.prototype.map.call(fresh.childNodes, function (n) {
              return document.importNode(n, true);
            }));
            setUpCopy(element);
          })
          .catch(function () { clearInterval(timer); });
      }, seconds * 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopy(document);
    setUpRefresh();
  });
})();
