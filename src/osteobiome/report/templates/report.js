// Sortable and searchable tables, and a copy button for the Methods paragraph. No dependencies, no network.
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "") { return { n: parseFloat(v) }; }
    if (v === "") { return { missing: true }; }
    return { s: cell.textContent.toLowerCase() };
  }
  function compare(a, b) {
    if (a.missing || b.missing) { return (a.missing ? 1 : 0) - (b.missing ? 1 : 0); }
    if (a.n !== undefined && b.n !== undefined) { return a.n - b.n; }
    return String(a.s !== undefined ? a.s : a.n).localeCompare(String(b.s !== undefined ? b.s : b.n));
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, col) {
      th.addEventListener("click", function () {
        var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = key(r1.cells[col]), b = key(r2.cells[col]);
          if (a.missing || b.missing) { return compare(a, b); }
          return dir === "asc" ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("input.table-search").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    var counter = document.getElementById(input.getAttribute("data-table") + "-count");
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var ok = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (counter) { counter.textContent = shown + " rows shown"; }
    });
  });
  // Click a figure to see it full size; click again or press Esc to close.
  var box = document.getElementById("lightbox");
  if (box) {
    var big = document.createElement("img");
    box.insertBefore(big, box.firstChild);
    document.querySelectorAll("figure img").forEach(function (img) {
      img.setAttribute("title", "click to enlarge");
      img.addEventListener("click", function () {
        big.src = img.src;
        big.alt = img.alt;
        box.hidden = false;
      });
    });
    box.addEventListener("click", function () { box.hidden = true; });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") { box.hidden = true; } });
  }
  var copy = document.getElementById("copy-methods");
  if (copy) {
    copy.addEventListener("click", function () {
      var text = document.getElementById("methods-text").textContent.trim();
      if (navigator.clipboard) { navigator.clipboard.writeText(text); }
      copy.textContent = "copied";
    });
  }
})();
