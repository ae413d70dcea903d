/* crmsync dashboard: draws the server-built plotly figures, switches the report's tabs and
   watches /api/version for new data (docs/dashboard.md). Figures are never computed here. */
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof window.Plotly === "undefined") { return; }
    var specs = (root || document).querySelectorAll('script[type="application/json"][data-chart]');
    specs.forEach(function (spec) {
      if (spec.dataset.drawn) { return; }
      var target = document.getElementById(spec.dataset.chart);
      if (!target || target.offsetParent === null) { return; }  // hidden tab: drawn when shown
      spec.dataset.drawn = "1";
      var fig = JSON.parse(spec.textContent);
      window.Plotly.newPlot(target, fig.data, fig.layout, fig.config);
    });
  }

  function showTab() {
    var tabs = document.querySelectorAll("section.tab");
    if (!tabs.length) { return; }
    var wanted = decodeURIComponent((location.hash || "").slice(1));
    var found = false;
    tabs.forEach(function (tab) { if (tab.id === wanted) { found = true; } });
    if (!found) { wanted = tabs[0].id; }
    tabs.forEach(function (tab) { tab.hidden = tab.id !== wanted; });
    document.querySelectorAll("nav.pages a").forEach(function (a) {
      var current = a.getAttribute("href") === "#" + wanted;
      if (current) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
    });
    drawCharts(document.getElementById(wanted));
  }

  function loadPackedPlotly(done) {
    var packed = document.getElementById("plotly-packed");
    if (!packed || typeof window.Plotly !== "undefined") { done(); return; }
    var bytes = Uint8Array.from(atob(packed.textContent.trim()), function (c) { return c.charCodeAt(0); });
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    new Response(stream).text().then(function (source) {
      (0, eval)(source);  // the report's own inlined plotly.min.js; no request is made
      done();
    });
  }

  function watchVersion() {
    var url = document.body.dataset.versionUrl;
    if (!url) { return; }
    var token = document.body.dataset.token;
    var banner = document.getElementById("new-data");
    setInterval(function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (v) {
          if (!v) { return; }
          if (v.token !== token && banner) { banner.hidden = false; }
          [["synced-at", v.synced_at], ["computed-at", v.computed_at]].forEach(function (pair) {
            var el = document.getElementById(pair[0]);
            if (!el) { return; }
            el.setAttribute("datetime", pair[1] || "");
            el.textContent = pair[1] ? pair[1].slice(0, 16).replace("T", " ") : "never";
          });
        })
        .catch(function () { /* server gone: keep the page as it is */ });
    }, 5000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("details.filter-box");
    if (box && window.matchMedia("(max-width: 600px)").matches) { box.open = false; }
    var reload = document.getElementById("reload");
    if (reload) { reload.addEventListener("click", function () { location.reload(); }); }
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    loadPackedPlotly(function () {
      if (document.querySelector("section.tab")) {
        window.addEventListener("hashchange", showTab);
        showTab();
      } else {
        drawCharts(document);
      }
    });
    watchVersion();
  });
})();
