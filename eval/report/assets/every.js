// The "Every image" table of report.html: sorting, filters and lazily
// shown rows. Only the rows in view (and a margin) are in the document, so
// that 20,000 images open and sort at once; their thumbnails load when they
// come into view.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("every-data").textContent);
  var models = data.models, rows = data.rows, thumbs = data.thumbs;
  var M = models.length, N = rows.length;
  var table = document.getElementById("every");
  var tbody = table.tBodies[0];
  var scroller = document.getElementById("every-scroll");
  var filter = document.getElementById("every-filter");
  var minInput = document.getElementById("every-min");
  var count = document.getElementById("every-count");
  var cols = table.tHead.rows[0].cells.length;

  // Column values as numbers (NaN where a model has no score).
  var exp = new Float64Array(N), spread = new Float64Array(N);
  var score = [], err = [], lower = new Array(N), i, m;
  for (m = 0; m < M; m++) { score.push(new Float64Array(N)); err.push(new Float64Array(N)); }
  var maxErr = 0;
  for (i = 0; i < N; i++) {
    var r = rows[i], lo = Infinity, hi = -Infinity, k = 0;
    exp[i] = r[1];
    for (m = 0; m < M; m++) {
      var s = r[2][m];
      if (s === null) { score[m][i] = NaN; err[m][i] = NaN; continue; }
      score[m][i] = s; err[m][i] = Math.abs(s - r[1]);
      if (err[m][i] > maxErr) maxErr = err[m][i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
      k++;
    }
    spread[i] = k >= 2 ? hi - lo : NaN;
    lower[i] = r[0].toLowerCase();
  }
  var keys = { exp: exp, d: spread };
  for (m = 0; m < M; m++) { keys["s" + m] = score[m]; keys["e" + m] = err[m]; }

  var sortKey = "d", sortDir = -1; // most disputed first
  var view = [];
  var rowH = 44, shownFirst = -1, shownLast = -1;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function num(x) {
    if (x !== x) return '<td class="na">–</td>';
    return "<td>" + (Math.round(x * 100) / 100) + "</td>";
  }
  function heat(x) {
    if (x !== x) return '<td class="na">–</td>';
    var a = maxErr > 0 ? Math.min(x / maxErr, 1) * 0.75 : 0;
    return '<td style="background:rgba(248,105,107,' + a.toFixed(2) + ')">' + x.toFixed(2) + "</td>";
  }
  function thumb(t) {
    if (t === null || t === undefined || t === "") return "";
    var src = typeof t === "number" ? thumbs[t] : t;
    return '<img loading="lazy" decoding="async" alt="" src="' + esc(src) + '">';
  }

  function compare(a, b) {
    var x, y;
    if (sortKey === "id") {
      x = rows[a][0]; y = rows[b][0];
      return x < y ? -sortDir : x > y ? sortDir : a - b;
    }
    var K = keys[sortKey];
    x = K[a]; y = K[b];
    if (x !== x || y !== y) { // no value: always last
      if (x !== x && y !== y) return a - b;
      return x !== x ? 1 : -1;
    }
    return x < y ? -sortDir : x > y ? sortDir : a - b;
  }

  function apply() {
    var q = filter.value.trim().toLowerCase();
    var min = parseFloat(minInput.value), useMin = minInput.value !== "" && !isNaN(min);
    var out = [];
    for (var j = 0; j < N; j++) {
      if (q && lower[j].indexOf(q) < 0) continue;
      if (useMin && !(spread[j] >= min)) continue;
      out.push(j);
    }
    out.sort(compare);
    view = out;
    count.textContent = view.length + " of " + N + " images";
    var ths = table.tHead.rows[0].cells;
    for (var c = 0; c < ths.length; c++) {
      var key = ths[c].getAttribute("data-key");
      ths[c].classList.toggle("asc", key === sortKey && sortDir > 0);
      ths[c].classList.toggle("desc", key === sortKey && sortDir < 0);
    }
    scroller.scrollTop = 0;
    render(true);
  }

  function pad(h) {
    return '<tr class="pad"><td colspan="' + cols + '" style="height:' + h + 'px"></td></tr>';
  }

  function render(force) {
    // The box grows with its rows up to its maximum height, so draw what
    // the window could show.
    var top = scroller.scrollTop, h = Math.max(scroller.clientHeight, window.innerHeight || 0, 600);
    var first = Math.max(0, Math.floor(top / rowH) - 10);
    var last = Math.min(view.length, Math.ceil((top + h) / rowH) + 10);
    if (!force && first === shownFirst && last === shownLast) return;
    shownFirst = first; shownLast = last;
    var html = [pad(first * rowH)];
    for (var j = first; j < last; j++) {
      var i = view[j], r = rows[i];
      html.push('<tr data-id="', esc(r[0]), '"><td class="thumb">', thumb(r[3]), '</td><td class="id" title="',
        esc(r[0]), '">', esc(r[0]), "</td>", num(exp[i]));
      for (var m = 0; m < M; m++) html.push(num(score[m][i]), heat(err[m][i]));
      html.push(heat(spread[i]), "</tr>");
    }
    html.push(pad((view.length - last) * rowH));
    tbody.innerHTML = html.join("");
    // The rows' height as laid out, so that the scroll bar fits the rows.
    var tr = tbody.rows[1];
    if (tr && tr.className !== "pad") {
      var got = tr.getBoundingClientRect().height;
      if (got > 0 && Math.abs(got - rowH) > 0.5) { rowH = got; render(true); }
    }
  }

  table.tHead.addEventListener("click", function (e) {
    var th = e.target.closest("th[data-key]");
    if (!th) return;
    var key = th.getAttribute("data-key");
    if (key === sortKey) sortDir = -sortDir;
    else { sortKey = key; sortDir = key === "id" ? 1 : -1; }
    apply();
  });
  tbody.addEventListener("error", function (e) {
    if (e.target.tagName === "IMG") e.target.style.visibility = "hidden";
  }, true);
  filter.addEventListener("input", apply);
  minInput.addEventListener("input", apply);
  window.addEventListener("resize", function () { render(false); });
  var pending = false;
  scroller.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; render(false); });
  });
  apply();
  table.setAttribute("data-ready", Math.round(performance.now()));
})();
