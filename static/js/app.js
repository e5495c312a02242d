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
          var css = window.getComputedStyle(document.documentElement);
          Chart.defaults.color = css.getPropertyValue("--muted").trim() || "#667085";
          Chart.defaults.borderColor = css.getPropertyValue("--border").trim() || "#e4e7ec";
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
              scales: {
                x: { stacked: stacked, ticks: { maxTicksLimit: 10 } },
                // Counts are whole numbers; amounts (cost, balance) keep their decimals.
                y: { stacked: stacked, beginAtZero: type !== "line", ticks: data.metric === "count" ? { precision: 0 } : {} },
              },
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
    if (!form || !spec || form.dataset.bound) return;
    form.dataset.bound = "1";
    var keys = JSON.parse(spec.textContent);
    var labelSpec = root.querySelector("#credential-labels");
    var labels = labelSpec ? JSON.parse(labelSpec.textContent) : {};
    var select = form.querySelector("select[name=provider]");
    function update() {
      Object.keys(labels).forEach(function (field) {
        var label = form.querySelector("label[for=id_" + field + "]");
        var text = labels[field][select.value];
        if (label && text) label.textContent = text + ":";
      });
      var wanted = keys[select.value] || [];
      form.querySelectorAll(".field.credential").forEach(function (f) {
        f.hidden = wanted.indexOf(f.dataset.field) < 0;
      });
      form.querySelectorAll("[data-hint-for]").forEach(function (h) {
        h.hidden = h.dataset.hintFor !== select.value;
      });
      // The provider's credentials in its own order (e.g. Callr: API key, then login and password).
      var anchor = form.querySelector("[data-hint-for]");
      wanted.forEach(function (key) {
        var f = form.querySelector(".field.credential[data-field=" + key + "]");
        if (f && anchor) anchor.parentNode.insertBefore(f, anchor);
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

  // --- navigation menu (small screens) and theme toggle -----------------------------------------
  function initChrome() {
    var toggle = document.querySelector("[data-menu-toggle]");
    var bar = document.querySelector(".topbar");
    if (toggle && bar) {
      toggle.addEventListener("click", function () {
        var open = !bar.classList.contains("menu-open");
        bar.classList.toggle("menu-open", open);
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    var themeBtn = document.querySelector("[data-theme-toggle]");
    if (themeBtn) {
      var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
      var current = function () {
        return document.documentElement.dataset.theme || (media && media.matches ? "dark" : "light");
      };
      var label = function () {
        var dark = current() === "dark";
        themeBtn.setAttribute("aria-pressed", dark ? "true" : "false");
        themeBtn.querySelector(".theme-label").textContent = dark ? "Light theme" : "Dark theme";
      };
      themeBtn.addEventListener("click", function () {
        var next = current() === "dark" ? "light" : "dark";
        document.documentElement.dataset.theme = next;
        try { window.localStorage.setItem("theme", next); } catch (e) { /* not persisted */ }
        label();
        document.dispatchEvent(new CustomEvent("sb:theme"));
      });
      if (media && media.addEventListener) media.addEventListener("change", label);
      label();
    }
  }

  // --- small behaviours declared in markup (no inline script: the CSP forbids it) ---------------
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.matches && el.matches("select[data-navigate]") && el.value) {
      window.location.assign(el.value);
    } else if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { e.preventDefault(); return; }
    // One click, one request: a second click while the page loads does nothing.
    if (form.method && form.method.toLowerCase() === "post" && !form.hasAttribute("hx-post")) {
      if (form.dataset.submitting) { e.preventDefault(); return; }
      form.dataset.submitting = "1";
    }
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (f) { delete f.dataset.submitting; });
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) window.print();
  });

  // --- live fragments: mark what changed since the last poll -------------------------------------
  // A polled fragment carries data-version; when a swap brings a different one the fragment
  // gets .just-updated and data-updated, and its live note says when. Rows (data-row-id,
  // data-row-version) that are new or changed flash on their own.
  var before = {};
  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = e.detail.target;
    if (!el || !el.id || el.dataset.version === undefined) return;
    var rows = {};
    el.querySelectorAll("[data-row-id]").forEach(function (r) { rows[r.dataset.rowId] = r.dataset.rowVersion || ""; });
    before[el.id] = {
      version: el.dataset.version, rows: rows, hadRows: Object.keys(rows).length > 0,
      scrollTop: el.scrollTop, atBottom: el.scrollHeight - el.scrollTop - el.clientHeight < 8,
    };
  });
  // After settling: htmx keeps the old attributes on a swapped element with the same id until
  // then (to animate), so only now does the new data-version show.
  document.addEventListener("htmx:afterSettle", function (e) {
    var id = e.detail.target && e.detail.target.id;
    var el = id ? document.getElementById(id) : null;
    var old = id ? before[id] : null;
    if (!el || !old || el.dataset.version === undefined) return;
    delete before[id];
    // A swapped scroll box (the conversation) starts at the top: put it back where it was,
    // or at the newest message if that is where the reader was.
    if (el.classList.contains("chat")) el.scrollTop = old.atBottom ? el.scrollHeight : old.scrollTop;
    if (old.version === el.dataset.version) return;
    el.classList.add("just-updated");
    el.dataset.updated = String(Date.now());
    var stamp = "Updated at " + new Date().toLocaleTimeString();
    var note = el.querySelector("[data-updated-at]") || document.querySelector("h1 [data-updated-at], .page-head [data-updated-at]");
    if (note) note.textContent = stamp;
    if (old.hadRows) {
      el.querySelectorAll("[data-row-id]").forEach(function (r) {
        if (old.rows[r.dataset.rowId] !== (r.dataset.rowVersion || "")) r.classList.add("just-updated");
      });
    }
  });

  function init(root) { initCounters(root); initCharts(root); initConnect(root); }
  document.addEventListener("DOMContentLoaded", function () {
    initChrome();
    init(document);
    var chat = document.getElementById("chat");
    if (chat) chat.scrollTop = chat.scrollHeight;  // a conversation opens at its newest message
  });
  // An outerHTML swap fires on the element it replaced: look at the whole document (every
  // init is idempotent).
  document.addEventListener("htmx:afterSettle", function () { init(document); });
})();
