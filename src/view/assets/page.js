// fhirdl view: the filter box, expand/collapse all, and printing every row. The page is
// complete without this script; it only adds these conveniences. No network access.
(function () {
  "use strict";
  var bar = document.getElementById("filter-bar");
  var box = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  if (!bar || !box) { return; }
  bar.hidden = false;
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section[data-section]"));
  var texts = null;
  var timer = 0;
  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }
  function apply() {
    var q = box.value.trim().toLowerCase();
    if (texts === null) { texts = rows.map(function (r) { return r.textContent.toLowerCase(); }); }
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = q === "" || texts[i].indexOf(q) >= 0;
      rows[i].hidden = !hit;
      if (hit) { shown++; }
    }
    sections.forEach(function (s) {
      var any = s.querySelector("[data-row]:not([hidden])") !== null;
      s.hidden = q !== "" && !any;
      if (q !== "" && any) {
        Array.prototype.forEach.call(s.querySelectorAll("details"), function (d) {
          if (d.querySelector("[data-row]:not([hidden])")) { d.open = true; }
        });
      }
    });
    count.textContent = q === "" ? "" : shown + " of " + rows.length + " rows match";
  }
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, rows.length > 5000 ? 250 : 60);
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    each("details", function (d) { d.open = true; });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    each("section > details", function (d) { d.open = false; });
  });
  var before = [];
  window.addEventListener("beforeprint", function () {
    before = [];
    each("details", function (d) { before.push([d, d.open]); d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    before.forEach(function (p) { p[0].open = p[1]; });
  });
})();
