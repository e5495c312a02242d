/* Switchboard dashboard behaviour: charts from JSON endpoints, the SMS part counter,
   the connect form's credential fields, copy buttons. No framework beyond htmx. */
(function () {
  "use strict";

  // --- SMS length: GSM 03.38 (extension characters count twice) or UCS-2 --------------
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXT = "^{}\\[~]|€\f";

  function smsInfo(text) {
    var gsm = true, units = 0;
    for (var ch of text) {
      if (GSM.indexOf(ch) >= 0) units += 1;
      else if (GSM_EXT.indexOf(ch) >= 0) units += 2;
      else { gsm = false; break; }
    }
    if (!gsm) {
      units = 0;
      for (var c of text) units += c.codePointAt(0) > 0xffff ? 2 : 1; // UTF-16 code units
    }
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var parts = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    var room = parts <= 1 ? single - units : parts * multi - units;
    return { encoding: gsm ? "GSM-7" : "UCS-2", chars: units, parts: parts, left: room };
  }
  window.smsInfo = smsInfo;

  function bindCounter(textarea, out) {
    function update() {
      var info = smsInfo(textarea.value);
      out.textContent = info.chars + " characters · " + info.parts + " part" + (info.parts === 1 ? "" : "s") +
        " · " + info.encoding + (info.parts ? " · " + info.left + " left in this part" : "");
      out.dataset.parts = info.parts;
    }
    textarea.addEventListener("input", update);
    update();
  }

  function initCounters(root) {
    root.querySelectorAll("[data-counter-for]").forEach(function (out) {
      var ta = document.getElementById(out.dataset.counterFor);
      if (ta && !ta.dataset.counterBound) { ta.dataset.counterBound = "1"; bindCounter(ta, out); }
    });
    root.querySelectorAll("textarea[data-sms-counter]").forEach(function (ta) {
      if (ta.dataset.counterBound) return;
      var out = document.createElement("div");
      out.className = "counter"; out.setAttribute("aria-live", "polite");
      ta.insertAdjacentElement("afterend", out);
      ta.dataset.counterBound = "1";
      bindCounter(ta, out);
    });
  }

  // --- charts ------------------------------------------------------------------------------
  var PALETTE = ["#3157d5", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085"];

  function initCharts(root) {
    root.querySelectorAll("canvas[data-chart-url]").forEach(function (canvas) {
      if (canvas.dataset.chartBound || typeof Chart === "undefined") return;
      canvas.dataset.chartBound = "1";
      fetch(canvas.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          var type = canvas.dataset.chartType || "bar";
          var stacked = !!canvas.dataset.stacked;
          new Chart(canvas, {
            type: type,
            data: {
              labels: data.labels,
              datasets: data.datasets.map(function (d, i) {
                return {
                  label: d.label, data: d.data.map(Number),
                  backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length],
                  borderWidth: type === "line" ? 2 : 0, pointRadius: 0, tension: 0.2,
                };
              }),
            },
            options: {
              responsive: true, maintainAspectRatio: false, animation: false,
              interaction: { mode: "index", intersect: false },
              scales: { x: { stacked: stacked, ticks: { maxTicksLimit: 10 } }, y: { stacked: stacked, beginAtZero: type !== "line" } },
              plugins: { legend: { position: "bottom" } },
            },
          });
          canvas.dataset.chartReady = "1";
        })
        .catch(function () {
          var note = document.createElement("p");
          note.className = "error"; note.textContent = "Could not load the chart.";
          canvas.replaceWith(note);
        });
    });
  }

  // --- connect form: show the credential fields of the chosen provider --------------------
  function initConnect(root) {
    var form = root.querySelector("#connect-form");
    var spec = root.querySelector("#provider-credentials");
    if (!form || !spec) return;
    var keys = JSON.parse(spec.textContent);
    var select = form.querySelector("select[name=provider]");
    function update() {
      var wanted = keys[select.value] || [];
      form.querySelectorAll(".field.credential").forEach(function (f) {
        f.hidden = wanted.indexOf(f.dataset.field) < 0;
      });
    }
    select.addEventListener("change", update);
    update();
  }

  // --- copy buttons --------------------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var input = document.querySelector(btn.dataset.copy);
    if (!input) return;
    input.select();
    (navigator.clipboard ? navigator.clipboard.writeText(input.value) : Promise.reject())
      .catch(function () { document.execCommand("copy"); })
      .finally(function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); });
  });

  // --- behaviour declared in markup: no inline handlers anywhere (Content-Security-Policy) --
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!el.matches) return;
    if (el.matches("select[data-autosubmit]") && el.form) el.form.submit();
    else if (el.matches("select[data-navigate]") && el.value) window.location.href = el.value;
  });
  document.addEventListener("submit", function (e) {
    var form = e.target.closest && e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-print]")) window.print();
  });

  function init(root) { initCounters(root); initCharts(root); initConnect(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
})();
